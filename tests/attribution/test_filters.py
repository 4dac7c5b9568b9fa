"""Filter grid, receptive fields and top-k activating crops."""
from __future__ import annotations

import numpy as np
import pytest

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.attribution import filter_grid, first_conv_weights, receptive_field, top_activating
from xaiprobe.attribution import parse_channels

from .attr_helpers import QuadrantD, box_imageset


def test_filter_grid_shape_and_range(tiny_d):
    w = first_conv_weights(tiny_d)
    assert w.shape == (4, 3, 4, 4)
    g = filter_grid(w, upscale=2, pad=1)
    assert g.shape == (2 * 9 + 1, 2 * 9 + 1, 3)
    assert g.min() >= 0 and g.max() <= 1
    # a pure-red filter is red: positive R, neutral G, B
    w = np.zeros((1, 3, 2, 2), dtype=np.float32)
    w[0, 0] = 1.0
    tile = filter_grid(w, pad=0, upscale=1)
    np.testing.assert_allclose(tile[0, 0], [1.0, 0.5, 0.5])


def test_receptive_fields_of_dcgan(tiny_d):
    got = {a: (receptive_field(tiny_d, a).size, receptive_field(tiny_d, a).stride) for a in ("conv1", "conv2", "conv3", "conv4", "conv5")}
    assert got == {"conv1": (4, 2), "conv2": (10, 4), "conv3": (22, 8), "conv4": (46, 16), "conv5": (94, 16)}
    rf = receptive_field(tiny_d, "conv1")
    assert rf.box(0, 0) == (-1, 3, -1, 3)  # 4x4 kernel, stride 2, padding 1
    assert rf.box(0, 0, image_size=64) == (0, 3, 0, 3)


def test_parse_channels():
    assert parse_channels("0:3", 8) == [0, 1, 2]
    assert parse_channels("1,5", 8) == [1, 5]
    assert parse_channels(None, 4) == [0, 1, 2, 3]
    assert parse_channels("6:12", 8) == [6, 7]  # a slice, clipped like Python's
    with pytest.raises(XaiprobeError, match="not a range"):
        parse_channels("6:12x", 8)
    with pytest.raises(XaiprobeError, match="channels 0..7"):
        parse_channels([9], 8)


def test_top_activating_finds_red_boxes():
    data = box_imageset(16)
    top = top_activating(QuadrantD(), data, "conv1", channels=[0], k=4)
    assert top.rows.shape == (1, 4) and top.crops.shape == (1, 4, 3, 3, 3)
    # channel 0 copies the red channel: its maximum sits inside a red box
    boxes = data.masks(np.arange(16))["box"]
    for r, (y, x) in zip(top.rows[0], top.positions[0]):
        assert boxes[r, y, x]
    assert np.all(top.values[0][:-1] >= top.values[0][1:])


def test_top_activating_dcgan_crops(tiny_d):
    data = box_imageset(10)
    top = top_activating(tiny_d, data, "conv3", channels="0:2", k=3)
    assert top.crops.shape == (2, 3, 3, 22, 22)
    assert top.field.size == 22
