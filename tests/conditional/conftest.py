"""Fixtures for the AE-ACGAN stage: tiny AE-ACGAN / ablation / DCGAN checkpoints, a tiny classifier,
and planted conditional generators with a classifier that reads their colour."""
from __future__ import annotations

import contextlib
import os
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

SPEC = "synthfaces:64:attrs=all"


@contextlib.contextmanager
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    """A private SynthFaces cache (64 faces render in a moment; the user's cache may be large)."""
    old = os.environ.get("XAIPROBE_CACHE")
    os.environ["XAIPROBE_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield os.environ["XAIPROBE_CACHE"]
    if old is None:
        os.environ.pop("XAIPROBE_CACHE", None)
    else:
        os.environ["XAIPROBE_CACHE"] = old


def _save_aeacgan(path, data, autoencoder: bool, seed: int = 0):
    from xaiprobe.gan.aeacgan import build_aeacgan
    from xaiprobe.gan.checkpoint import save_checkpoint

    m = build_aeacgan(len(data.attribute_names), 16, width=0.125, seed=seed)
    info = {"spec": data.spec, "split": "train", "max_images": None, "exclude": [],
            "attributes": list(data.attribute_names)}
    return save_checkpoint(path, arch=m.config.to_dict(), generator=m.generator.state_dict(),
                           discriminator=m.discriminator.state_dict(), encoder=m.encoder.state_dict(), epoch=1,
                           data=info, members=data.index[data.rows_of("train")],
                           extra={"seed": seed, "history": [{"epoch": 1, "images": 48}],
                                  "hyperparameters": {"batch_size": 16, "autoencoder": autoencoder}})


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory, cache_dir):
    """Untrained AE-ACGAN (A=15, nz=16, width 0.125), its --no-autoencoder twin, a tiny DCGAN, a
    briefly trained AE-ACGAN, a width-4 classifier with every attribute and one with five."""
    from xaiprobe.data import load_dataset
    from xaiprobe.data.synthfaces import DEFAULT_ATTRIBUTES
    from xaiprobe.editing.classifier import AttributeClassifier, save_classifier
    from xaiprobe.gan.train import train_gan
    from xaiprobe.testing.models import tiny_checkpoint

    root = tmp_path_factory.mktemp("aeacgan")
    data = load_dataset(SPEC)
    torch.manual_seed(0)
    clf = AttributeClassifier(list(data.attribute_names), width=4).eval()
    with one_thread():
        trained = train_gan(data, root / "trained", epochs=1, batch_size=16, seed=0, arch="aeacgan",
                            config={"width": 0.125, "nz": 16}, device="cpu", progress=False, sample_count=8,
                            command="tests")
    return SimpleNamespace(
        data=data, root=root, classifier_model=clf, trained=trained,
        main=_save_aeacgan(root / "main.pt", data, True), ablation=_save_aeacgan(root / "noae.pt", data, False),
        same=_save_aeacgan(root / "same.pt", data, True, seed=1),
        dcgan=tiny_checkpoint(root / "dcgan.pt", data, seed=0),
        classifier=save_classifier(root / "clf.pt", clf, metrics={}),
        classifier5=save_classifier(root / "clf5.pt", AttributeClassifier(DEFAULT_ATTRIBUTES, width=4).eval(),
                                    metrics={}))


# -- planted conditional generators -------------------------------------------------------------
NAMES = ["Red", "Blue"]


class PaintG(nn.Module):
    """G(z, y): latent texture in the green channel; the red channel at +0.8 when y_Red = 1 (else
    -0.8), the blue channel likewise for y_Blue. ``follow=False`` ignores y (a random colour per z)."""

    conditional = True

    def __init__(self, follow: bool = True, nz: int = 8):
        super().__init__()
        self.follow = follow
        self.config = SimpleNamespace(nz=nz, n_attributes=len(NAMES))
        self.texture = nn.Linear(nz, 64 * 64, bias=False)
        torch.nn.init.normal_(self.texture.weight, std=0.3, generator=torch.Generator().manual_seed(0))

    def forward(self, z, labels):
        n = z.shape[0]
        y = labels if self.follow else (z[:, :2] > 0).float()  # ignoring y: the colour follows z
        x = torch.empty(n, 3, 64, 64)
        x[:, 1] = torch.tanh(self.texture(z)).view(n, 64, 64)
        x[:, 0] = (y[:, 0] * 1.6 - 0.8).view(n, 1, 1)
        x[:, 2] = (y[:, 1] * 1.6 - 0.8).view(n, 1, 1)
        return x


class ColourClassifier(nn.Module):
    """Logits (N, 2): the red and blue channel means; features: the three channel means."""

    attribute_names = NAMES

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(10.0), requires_grad=False)

    def features(self, x):
        return x.mean(dim=(2, 3))

    def forward(self, x):
        return self.scale * self.features(x)[:, [0, 2]]


def planted_labels(n: int = 400, seed: int = 0) -> np.ndarray:
    """Joint labels: Red half the time, Blue rare (3%)."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.random(n) < 0.5, rng.random(n) < 0.03], 1).astype(np.int8)
