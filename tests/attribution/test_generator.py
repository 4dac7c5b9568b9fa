"""Generator analysis: sweeps, ranking finds a planted latent dim, features, divergence."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.attribution import counterfactual_divergence, generator_features, latent_sweep, rank_latent_dims
from xaiprobe.attribution._generator import normalized_distance


class PlantedG(nn.Module):
    """Only latent dim 2 changes the image (a flat color); dim 2 also drives red most."""

    aliases = {"block1": "lin", "image": "out"}

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3, bias=False)
        with torch.no_grad():
            self.lin.weight.zero_()
            self.lin.weight[:, 2] = torch.tensor([1.0, 0.3, 0.3])
        self.up = nn.Upsample(scale_factor=64)
        self.out = nn.Tanh()

    def forward(self, z):
        return self.out(self.up(self.lin(z.flatten(1))[:, :, None, None]))


def test_ranking_finds_planted_dim_and_classifier_change():
    def redness(images):
        return images[:, 0].mean((1, 2))[:, None]

    r = rank_latent_dims(PlantedG(), n_latents=3, classifier=redness, attribute_names=["red"])
    assert r.order[0] == 2
    assert r.pixel_change[2] > 0.1 and np.allclose(np.delete(r.pixel_change, 2), 0)
    assert r.classifier_change.shape == (4, 1)
    assert r.top_dims(1, "red")[0][0] == 2
    with pytest.raises(XaiprobeError, match="it has red"):
        r.top_dims(1, "Smiling")


def test_latent_sweep_shapes_and_effect():
    sw = latent_sweep(PlantedG(), dims=[1, 2], values=[-2, 0, 2])
    assert sw.images.shape == (2, 3, 3, 64, 64)
    assert torch.allclose(sw.images[0, 0], sw.images[0, 2])  # dim 1 does nothing
    assert not torch.allclose(sw.images[1, 0], sw.images[1, 2])
    with pytest.raises(XaiprobeError, match="dims 0..3"):
        latent_sweep(PlantedG(), dims=[7])


def test_generator_features_dcgan():
    from xaiprobe.testing.models import tiny_dcgan

    G, _ = tiny_dcgan(0)
    f = generator_features(G)
    assert list(f) == ["block1", "block2", "block3", "block4", "image"]
    assert f["block1"].shape == (32, 4, 4) and f["image"].shape == (3, 64, 64)
    assert G.training  # the caller's G is untouched


def test_normalized_distance():
    a = torch.ones(2, 5)
    np.testing.assert_allclose(normalized_distance(a, a), 0)
    np.testing.assert_allclose(normalized_distance(a, -a), 1)
    np.testing.assert_allclose(normalized_distance(torch.zeros(1, 3), torch.zeros(1, 3)), 0)


def test_counterfactual_divergence_on_synthfaces(tiny_d):
    div = counterfactual_divergence(tiny_d, attributes=["Smiling", "Eyeglasses"], n_pairs=3)
    assert div.layers == ["pixels", "conv1", "conv2", "conv3", "conv4", "conv5"]
    for a in ("Smiling", "Eyeglasses"):
        d = div.distance[a]
        assert d.shape == (6,) and np.all(d >= 0) and d[0] > 0
        # a one-attribute change is smaller in pixels than a change of face
        assert d[0] < div.baseline[0]
    with pytest.raises(XaiprobeError, match="not a SynthFaces attribute"):
        counterfactual_divergence(tiny_d, attributes=["Bald"], n_pairs=1)
