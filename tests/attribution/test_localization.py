"""Localization: share/area ratio and pointing game, on planted maps and planted models."""
from __future__ import annotations

import numpy as np
import pytest

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.attribution import localization_scores, localize

from .attr_helpers import QuadrantD, box_imageset, quadrant_mask


def test_scores_on_planted_maps():
    m = quadrant_mask(2)
    maps = np.zeros((2, 64, 64), dtype=np.float32)
    maps[0][m[0]] = 1.0  # all positive attribution inside
    maps[1] = 1.0  # uniform
    maps[1, 60, 60] = 5.0  # peak outside
    s = localization_scores(maps, m, tolerance=2)
    np.testing.assert_allclose(s["share"], [1.0, 0.25], atol=1e-3)
    np.testing.assert_allclose(s["area"], [0.25, 0.25])
    np.testing.assert_allclose(s["ratio"], [4.0, 1.0], atol=0.02)
    assert s["hit"].tolist() == [1.0, 0.0]
    assert np.all(s["chance"] > 0.25)  # dilated region


def test_negative_only_or_constant_map_has_no_share_or_hit():
    s = localization_scores(-np.ones((1, 64, 64)), quadrant_mask(1))
    assert np.isnan(s["share"][0]) and np.isnan(s["hit"][0])


def test_localize_planted_quadrant_model():
    data = box_imageset(12)
    # override the masks: the quadrant is where QuadrantD looks
    data.masks = lambda rows: {"quad": quadrant_mask(len(np.asarray(rows)))}
    res = localize(QuadrantD(), data, ["saliency", "ig"], concepts={"Smiling": "quad"}, n=8, target="logit")
    by = {r["method"]: r for r in res.rows}
    assert by["saliency"]["ratio"] > 3 and by["ig"]["ratio"] > 2
    assert by["saliency"]["pointing"] == 1.0
    assert "| Smiling (quad) | saliency |" in res.to_markdown()


def test_localize_needs_masks_and_probes(tiny_d):
    data = box_imageset(4)
    data.masks = None
    with pytest.raises(XaiprobeError, match="no region masks"):
        localize(tiny_d, data, ["saliency"])
    with pytest.raises(XaiprobeError, match="xaiprobe probe --activations FILE"):
        localize(tiny_d, box_imageset(4), ["saliency"], concepts={"Smiling": "box"}, target="concept")


def test_localize_on_synthfaces_runs(tiny_d):
    from xaiprobe.testing.data import tiny_faces

    data = tiny_faces(40)
    res = localize(tiny_d, data, ["saliency"], n=4, split=None, target="logit")
    assert {r["concept"] for r in res.rows} <= {"Smiling", "Eyeglasses", "Blond_Hair"}
    assert all(0 <= r["pointing"] <= 1 for r in res.rows)
