"""Network dissection finds a planted mask-detector unit."""
from __future__ import annotations

import numpy as np
import pytest

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.attribution import dissect

from attr_helpers import QuadrantD, box_imageset


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
