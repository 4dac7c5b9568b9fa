"""Activation maximization: the objective rises; regularizers behave."""
from __future__ import annotations

import pytest
import torch

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.attribution import maximize_activation
from xaiprobe.attribution._maximization import gaussian_blur, total_variation

from .attr_helpers import QuadrantD


def test_objective_rises_on_dcgan(tiny_d):
    res = maximize_activation(tiny_d, "conv2", "0:4", steps=30, lr=0.05, seed=0)
    assert res.images.shape == (4, 3, 64, 64)
    assert res.images.min() >= -1 and res.images.max() <= 1
    assert res.trace.shape == (30, 4)
    first, last = res.trace[:3].mean(0), res.trace[-3:].mean(0)
    assert (last > first).all(), (first, last)


def test_planted_red_channel_turns_image_red():
    res = maximize_activation(QuadrantD(), "conv1", [0], steps=60, lr=0.1, jitter=2, tv_weight=0.0)
    red, rest = res.images[0, 0].mean(), res.images[0, 1:].mean()
    assert red > 0.8 and red > rest + 0.5
    assert res.final[0] > res.trace[0, 0]


def test_regularizers():
    x = torch.randn(2, 3, 16, 16)
    assert (total_variation(gaussian_blur(x, 1.0)) < total_variation(x)).all()
    assert torch.equal(gaussian_blur(x, 0), x)
    assert total_variation(torch.ones(1, 3, 8, 8)).item() == 0


def test_bad_layer_and_steps(tiny_d):
    with pytest.raises(XaiprobeError, match="valid layers are conv1"):
        maximize_activation(tiny_d, "conv7", steps=2)
    with pytest.raises(XaiprobeError, match="steps 0"):
        maximize_activation(tiny_d, "conv2", steps=0)


def test_the_callers_model_keeps_its_mode_and_gets_no_gradients(tiny_d):
    D = tiny_d.train()
    before = {k: v.clone() for k, v in D.state_dict().items()}
    maximize_activation(D, "conv2", "0:2", steps=3, seed=0)
    assert D.training and all(p.grad is None and p.requires_grad for p in D.parameters())
    assert all(torch.equal(before[k], v) for k, v in D.state_dict().items())
