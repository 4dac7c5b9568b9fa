"""Fixtures for the editing tests: a planted linear generator/classifier pair and tiny artifacts."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

NZ = 16
NAMES = ["Smiling", "Eyeglasses", "Young"]


class PlantedG(nn.Module):
    """z (n, 16) -> 'images' (n, 3, 64, 64) whose first 16 pixels are z/10 (the rest fixed noise)."""

    def __init__(self, nz=NZ):
        super().__init__()
        self.config = SimpleNamespace(nz=nz)
        self.fc = nn.Linear(nz, 3 * 64 * 64, bias=False)
        with torch.no_grad():
            self.fc.weight.zero_()
            self.fc.weight[:nz] = torch.eye(nz) / 10

    def forward(self, z):
        return self.fc(z.flatten(1)).reshape(-1, 3, 64, 64)


class PlantedClassifier(nn.Module):
    """logit_a = 3 tanh(p_a · z): monotonic in z along the planted unit direction p_a."""

    def __init__(self, P, names=NAMES):
        super().__init__()
        self.attribute_names = list(names)
        self.P = nn.Parameter(torch.as_tensor(P, dtype=torch.float32), requires_grad=False)

    def forward(self, x):
        z = x.flatten(1)[:, :self.P.shape[1]] * 10
        return 3 * torch.tanh(z @ self.P.T / 2)


def unit_rows(M):
    M = np.asarray(M, np.float64)
    return M / np.linalg.norm(M, axis=1, keepdims=True)


@pytest.fixture
def planted_random():
    """Random (correlated) planted directions (3, 16)."""
    P = unit_rows(np.random.default_rng(0).standard_normal((3, NZ)))
    return PlantedG(), PlantedClassifier(P), P


@pytest.fixture
def planted_orthogonal():
    """Orthogonal planted directions (3, 16)."""
    q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((NZ, 3)))
    P = q.T
    return PlantedG(), PlantedClassifier(P), P


@pytest.fixture(scope="module")
def tiny_artifacts(tmp_path_factory):
    """A tiny DCGAN checkpoint, an untrained width-4 classifier and directions fitted with them."""
    from xaiprobe.data.synthfaces import DEFAULT_ATTRIBUTES as ATTRIBUTES
    from xaiprobe.editing.classifier import AttributeClassifier, save_classifier
    from xaiprobe.editing import fit_directions
    from xaiprobe.gan.checkpoint import load_checkpoint
    from xaiprobe.testing.data import tiny_faces
    from xaiprobe.testing.models import tiny_checkpoint

    root = tmp_path_factory.mktemp("editing")
    data = tiny_faces(10)
    ck_path = tiny_checkpoint(root / "tiny.pt", data, seed=0)
    torch.manual_seed(0)
    clf = AttributeClassifier(ATTRIBUTES, width=4).eval()
    clf_path = save_classifier(root / "clf.pt", clf, metrics={})
    ck = load_checkpoint(ck_path)
    dirs = fit_directions(ck.generator, clf, n=200, methods="lstsq,svm,conditional,sefa,ganspace",
                          generator_sha256=ck.sha256, device="cpu")
    dirs_path = dirs.save(root / "directions.pt")
    return SimpleNamespace(root=root, checkpoint=ck_path, classifier=clf_path, directions=dirs_path, data=data)
