"""The filters and generator sections: tables and numbers from the measurements."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from xaiprobe.attribution import DissectionResult, Divergence, LatentRanking, MaximizationResult
from xaiprobe.attribution._units_section import (channel_table, dissection_table, divergence_peak, divergence_tables,
                                                 filters_findings, filters_numbers, generator_findings,
                                                 generator_numbers, ranking_table, top_units_table)


def _dissection():
    concepts = ["eyes", "hair"]
    iou = {"conv1": np.array([[0.10, 0.01], [0.02, 0.03], [0.01, 0.02], [0.04, 0.01]]),
           "conv2": np.array([[0.05, 0.20], [0.12, 0.02], [0.08, 0.01], [0.01, 0.01]])}
    chance = {k: np.full_like(v, 0.02) for k, v in iou.items()}
    labels = {"conv1": ["eyes", None, None, None], "conv2": ["hair", "eyes", "eyes", None]}
    counts = {k: {c: sum(lab == c for lab in v) for c in concepts} for k, v in labels.items()}
    return DissectionResult(["conv1", "conv2"], concepts, iou, {k: np.zeros(4) for k in iou}, labels, counts,
                            0.95, 0.04, 50, chance, 2.0)


def _maximization(rising=True):
    trace = np.array([[0.1, 0.2], [1.0, 3.0]], dtype=np.float32)  # the last step is jittered: noisy
    return MaximizationResult("conv2", [0, 1], torch.zeros(2, 3, 8, 8), trace, np.array([1.5, 3.5 if rising else 0.1]))


def test_dissection_table_and_numbers_count_selective_units():
    res = _dissection()
    t = dissection_table(res)
    assert [r[0] for r in t.rows] == ["conv1", "conv2"]
    conv2 = dict(zip(t.columns, t.rows[1]))
    assert (conv2["eyes"], conv2["hair"], conv2["selective"], conv2["selective (%)"]) == (2, 1, 3, 75.0)
    top = top_units_table(res, k=2)
    assert [r[:3] for r in top.rows] == [["conv1", 0, "eyes"], ["conv1", 3, "eyes"], ["conv2", 0, "hair"],
                                         ["conv2", 1, "eyes"]]
    assert [r[-1] for r in top.rows] == ["yes", "no", "yes", "yes"]
    assert top.rows[2][5] == pytest.approx(10.0)  # IoU 0.2 at 0.02 chance
    num = filters_numbers(_maximization(), None, res)
    assert (num["dissection/conv1/selective"], num["dissection/conv2/selective"]) == (1, 3)
    assert (num["dissection/conv2/eyes"], num["dissection/conv2/hair"]) == (2, 1)
    assert num["dissection/conv2/best_iou"] == pytest.approx(0.2)
    assert len(filters_findings(_maximization(), None, res)) == 4  # one per layer, the best unit, maximization


def test_maximization_table_and_a_channel_that_does_not_rise():
    t = channel_table(_maximization(rising=False), None, _dissection())
    assert [r[0] for r in t.rows] == [0, 1]
    assert t.rows[0][1:4] == pytest.approx([0.1, 1.0, 1.5]) and t.rows[1][1:4] == pytest.approx([0.2, 3.0, 0.1])
    assert t.rows[1][-1].startswith("eyes")
    assert filters_numbers(_maximization(rising=False), None, None)["maximization/channels_rising"] == 1
    assert filters_numbers(_maximization(), None, None)["maximization/channels_rising"] == 2


def _divergence():
    layers = ["pixels", "conv1", "conv2", "conv3"]
    base = np.array([0.5, 0.5, 0.4, 0.2])
    dist = {"Smiling": np.array([0.05, 0.05, 0.2, 0.02]), "Eyeglasses": np.array([0.1, 0.3, 0.1, 0.15])}
    spread = {k: np.zeros(4) for k in dist}
    return Divergence(layers, list(dist), dist, spread, base, 8)


def test_divergence_tables_and_numbers_find_the_peak_layer():
    div = _divergence()
    dist, rel = divergence_tables(div)
    assert dist.columns == ["attribute", "pixels", "conv1", "conv2", "conv3"]
    assert [r[0] for r in dist.rows] == ["Smiling", "Eyeglasses", "different faces (reference)"]
    assert [r[-1] for r in rel.rows] == ["conv2", "conv3"]  # 0.5x and 0.75x of different faces
    num = generator_numbers(_ranking(), div)
    assert (num["divergence/Smiling/peak_layer"], num["divergence/Smiling/peak"]) == ("conv2", pytest.approx(0.5))
    assert (num["divergence/Eyeglasses/peak_layer"], num["divergence/Eyeglasses/peak"]) == ("conv3",
                                                                                            pytest.approx(0.75))
    # a one-number layer (the logit) is on another scale: reported beside, never the peak
    div.scalar = ["conv3"]
    assert [r[-1] for r in divergence_tables(div)[1].rows] == ["conv2", "conv1"]
    assert divergence_tables(div)[0].columns[-1] == "conv3 (logit)"
    assert divergence_peak(div, "Eyeglasses") == (1, pytest.approx(0.6))
    assert len(generator_findings(_ranking(), div)) == 2 + len(div.attributes)


def _ranking(classifier=False):
    pix = np.array([0.1, 0.4, 0.2, 0.05, 0.3, 0.1, 0.1, 0.1, 0.1, 0.1])
    clf = np.tile(np.arange(10.0)[:, None], (1, 2)) if classifier else None
    return LatentRanking(list(range(10)), pix, np.argsort(-pix), 2.0, clf, ["Smiling", "Male"] if classifier else [])


def test_ranking_table_and_numbers_list_the_top_dims_in_order():
    t = ranking_table(_ranking(), k=8, n_latents=4)
    assert len(t.rows) == 8
    assert [r[1] for r in t.rows[:3]] == ["z1", "z4", "z2"]
    assert t.rows[0][2:] == pytest.approx([0.4, 4.0])  # median of the dims is 0.1
    num = generator_numbers(_ranking())
    assert (num["ranking/top_dim"], num["ranking/top_pixel_change"], num["ranking/median_pixel_change"]) == (
        1, pytest.approx(0.4), pytest.approx(0.1))
    t = ranking_table(_ranking(classifier=True))
    assert t.columns[-2:] == ["|Δ Smiling logit|", "|Δ Male logit|"]
    num = generator_numbers(_ranking(classifier=True))
    assert (num["ranking/Smiling/top_dim"], num["ranking/Smiling/change"]) == (9, pytest.approx(9.0))
