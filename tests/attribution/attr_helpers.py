"""Helpers for the attribution tests: planted-signal models and hand-built data."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from xaiprobe.data.base import ImageSet


class QuadrantD(nn.Module):
    """A hand-built "discriminator" whose logit is the mean of the top-left quadrant's red channel.

    conv1 copies the red channel into channel 0 (3x3 kernel, center tap 1; other channels 0),
    an in-place LeakyReLU follows, and conv2 (a kernel as large as the image) averages channel 0
    over the top-left quadrant.
    """

    def __init__(self, size: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.act = nn.LeakyReLU(0.2, inplace=True)
        self.conv2 = nn.Conv2d(4, 1, size, bias=False)
        with torch.no_grad():
            self.conv1.weight.zero_()
            self.conv1.weight[0, 0, 1, 1] = 1.0
            self.conv2.weight.zero_()
            q = size // 2
            self.conv2.weight[0, 0, :q, :q] = 1.0 / (q * q)

    def forward(self, x):
        return self.conv2(self.act(self.conv1(x))).flatten(1)[:, 0]


class FailingD(QuadrantD):
    """QuadrantD that raises in a forward with gradients when ``fail`` is set (hook-cleanup tests)."""

    fail = False

    def forward(self, x):
        h = self.act(self.conv1(x))
        if self.fail and torch.is_grad_enabled():
            raise RuntimeError("planted failure")
        return self.conv2(h).flatten(1)[:, 0]


def quadrant_mask(n: int, size: int = 64) -> np.ndarray:
    m = np.zeros((n, size, size), dtype=bool)
    m[:, : size // 2, : size // 2] = True
    return m


def count_hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


def box_imageset(n: int = 24, seed: int = 0) -> ImageSet:
    """Images with a bright red box (the "box" concept region) at a random place on a dim
    background; "Smiling" = 1 on every image; masks {"box": the box, "corner": a fixed corner}."""
    rng = np.random.default_rng(seed)
    px = rng.integers(0, 160, size=(n, 3, 64, 64)).astype(np.uint8)
    boxes = np.zeros((n, 64, 64), dtype=bool)
    for i in range(n):
        y, x = rng.integers(0, 44, size=2)
        boxes[i, y:y + 20, x:x + 20] = True
        px[i, 0][boxes[i]] = 250
    corner = np.zeros((n, 64, 64), dtype=bool)
    corner[:, :10, :10] = True
    labels = np.ones((n, 1), dtype=np.int8)
    masks = lambda rows: {"box": boxes[np.asarray(rows)], "corner": corner[np.asarray(rows)]}  # noqa: E731
    return ImageSet(px, labels, ["Smiling"], np.full(n, 2, dtype=np.uint8), f"boxes:{n}", masks=masks)
