"""Shared fixtures: a tiny SynthFaces set, a tiny checkpoint, a generic (non-xaiprobe) D."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from xaiprobe.data.base import ImageSet


class PlainD(nn.Module):
    """A discriminator xaiprobe did not define: no aliases, in-place LeakyReLU after each conv."""

    def __init__(self, width: int = 4):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(width, width * 2, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True),
        )
        self.head = nn.Sequential(nn.Conv2d(width * 2, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True),
                                  nn.Flatten(), nn.Linear(width * 8 * 8, 1))

    def forward(self, x):
        return self.head(self.features(x)).squeeze(1)


class SigmoidD(PlainD):
    """Ends in a sigmoid: the logit is the output of head.3 (the Linear)."""

    def __init__(self):
        super().__init__()
        self.out = nn.Sigmoid()

    def forward(self, x):
        return self.out(super().forward(x))


def count_hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@pytest.fixture(scope="session")
def faces():
    try:
        from xaiprobe.testing.data import tiny_faces
        return tiny_faces(40)
    except ImportError:  # data developer's helper not there: a hand-made set
        rng = np.random.default_rng(0)
        split = np.array([0] * 28 + [1] * 6 + [2] * 6, np.uint8)
        return ImageSet(rng.integers(0, 256, (40, 3, 64, 64), dtype=np.uint8),
                        rng.integers(0, 2, (40, 5)).astype(np.int8), ["A", "B", "C", "D", "E"], split, "hand:40")


@pytest.fixture(scope="session")
def checkpoint(faces, tmp_path_factory):
    from xaiprobe.testing.models import tiny_checkpoint

    return tiny_checkpoint(tmp_path_factory.mktemp("ck") / "tiny.pt", faces, seed=0)


@pytest.fixture
def plain_d():
    torch.manual_seed(0)
    return PlainD().eval()
