"""Network dissection finds a planted mask-detector unit."""
from __future__ import annotations

import numpy as np
import pytest

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.attribution import dissect

from .attr_helpers import QuadrantD, box_imageset


def test_planted_unit_detects_its_mask():
    data = box_imageset(24)
    # channel 0 of conv1 copies red; red is high exactly on the box (about 10% of pixels)
    res = dissect(QuadrantD(), data, layers=["conv1"], quantile=0.9, iou_threshold=0.04)
    iou = res.iou["conv1"]
    assert res.concepts == ["box", "corner"]
    assert iou[0, 0] > 0.7, iou
    assert res.labels["conv1"][0] == "box"
    assert (iou[1:] < 0.04).all() and res.labels["conv1"][1:] == [None, None, None]
    assert res.counts["conv1"] == {"box": 1, "corner": 0}
    assert res.top_units("conv1", 1)[0][:2] == (0, "box")
    assert "| conv1 | 4 | 1 | 0 | 1 |" in res.to_markdown()


def test_dissect_dcgan_default_layers(tiny_d):
    res = dissect(tiny_d, box_imageset(8), batch_size=4)
    assert res.layers == ["conv1", "conv2", "conv3", "conv4"]
    assert res.iou["conv3"].shape == (16, 2)
    assert np.all((res.iou["conv2"] >= 0) & (res.iou["conv2"] <= 1))


def test_dissect_needs_masks(tiny_d):
    data = box_imageset(4)
    data.masks = None
    with pytest.raises(XaiprobeError, match="no region masks"):
        dissect(tiny_d, data)


def test_chance_criterion_rejects_large_mask_coincidence():
    """A unit that fires on random 30% of pixels overlaps a 30% mask by chance (IoU ~0.18):
    above 0.04, but not 2x the chance IoU, so it is not labeled."""
    import torch
    from torch import nn

    from xaiprobe.data.base import ImageSet

    n = 16
    rng = np.random.default_rng(0)
    px = rng.integers(0, 255, size=(n, 3, 64, 64)).astype(np.uint8)
    big = np.zeros((n, 64, 64), dtype=bool)
    big[:, :, :20] = True
    data = ImageSet(px, np.ones((n, 1), np.int8), ["A"], np.zeros(n, np.uint8), "noise", masks=lambda r: {"big": big[np.asarray(r)]})

    class NoiseUnit(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 1, 1, bias=False)
            with torch.no_grad():
                self.conv1.weight.fill_(1.0)

        def forward(self, x):
            return self.conv1(x).mean((1, 2, 3))

    res = dissect(NoiseUnit(), data, layers=["conv1"], quantile=0.7)
    assert res.iou["conv1"][0, 0] > 0.04
    assert res.iou["conv1"][0, 0] < 2 * res.chance["conv1"][0, 0]
    assert res.labels["conv1"] == [None]
