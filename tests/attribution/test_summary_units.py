"""The filters and generator stages' findings, tables and commands, from the measured numbers."""
from __future__ import annotations

import json
import shlex

import numpy as np
import torch

from xaiprobe.attribution import DissectionResult, Divergence, LatentRanking, MaximizationResult
from xaiprobe.attribution.summary_units import (channel_table, dissection_table, divergence_tables, filters_findings,
                                                generator_findings, ranking_table, top_units_table)
from xaiprobe.cli.main import build_parser


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


def test_dissection_table_and_findings_count_selective_units():
    res = _dissection()
    t = dissection_table(res)
    assert [r[0] for r in t["rows"]] == ["conv1", "conv2"]
    conv2 = dict(zip(t["columns"], t["rows"][1]))
    assert (conv2["eyes"], conv2["hair"], conv2["selective (of all)"]) == (2, 1, "3 / 4 (75%)")
    assert conv2["best unit: concept (IoU)"] == "ch 0: hair (0.200)"
    top = top_units_table(res, k=2)
    assert [r[:3] for r in top["rows"]] == [["conv1", 0, "eyes"], ["conv1", 3, "eyes"], ["conv2", 0, "hair"],
                                            ["conv2", 1, "eyes"]]
    assert [r[-1] for r in top["rows"]] == ["yes", "no", "yes", "yes"]
    lines = filters_findings(_maximization(), None, res)
    assert lines[0] == "conv1: 1 of 4 units are concept-selective (25%), mostly eyes (1)."
    assert lines[1] == "conv2: 3 of 4 units are concept-selective (75%), mostly eyes (2), then hair (1)."
    assert "conv2 channel 0 (hair, IoU 0.200, 10.0× chance)" in lines[2] and "conv2 has the largest share" in lines[2]


def test_maximization_table_and_a_channel_that_does_not_rise():
    res = _dissection()
    t = channel_table(_maximization(rising=False), None, res)
    assert [r[0] for r in t["rows"]] == [0, 1]
    assert t["rows"][0][1:4] == ["0.1", "1", "1.5"] and t["rows"][1][-1] == "eyes (IoU 0.120)"
    assert t["rows"][1][1:4] == ["0.2", "3", "0.1"]
    lines = filters_findings(_maximization(rising=False), None, None)
    assert "channel 1 did not rise" in lines[0]
    assert "every channel rose" in filters_findings(_maximization(), None, None)[0]


def _divergence():
    layers = ["pixels", "conv1", "conv2", "conv3"]
    base = np.array([0.5, 0.5, 0.4, 0.2])
    dist = {"Smiling": np.array([0.05, 0.05, 0.2, 0.02]), "Eyeglasses": np.array([0.1, 0.3, 0.1, 0.15])}
    spread = {k: np.zeros(4) for k in dist}
    return Divergence(layers, list(dist), dist, spread, base, 8)


def test_divergence_tables_and_findings_find_the_peak_layer():
    div = _divergence()
    dist, rel = divergence_tables(div)
    assert dist["columns"] == ["attribute", "pixels", "conv1", "conv2", "conv3"]
    assert [r[0] for r in dist["rows"]] == ["Smiling", "Eyeglasses", "different faces (reference)"]
    assert [r[-1] for r in rel["rows"]] == ["conv2", "conv3"]  # 0.5x and 0.75x of different faces
    lines = generator_findings(_ranking(), div)
    assert lines[1].startswith("Of the attributes, Eyeglasses changes D's features most (0.750× different faces at "
                               "conv3)")
    assert "Smiling least (0.500× at conv2)" in lines[1]
    assert lines[2] == ("Smiling: D separates the pairs most at conv2, 0.500× as far as different faces — 5.0× "
                        "their relative distance in pixels (0.100×).")
    # a one-number layer (the logit) is on another scale: reported beside, never the peak
    div.scalar = ["conv3"]
    assert [r[-1] for r in divergence_tables(div)[1]["rows"]] == ["conv2", "conv1"]
    assert divergence_tables(div)[0]["columns"][-1] == "conv3 (logit)"
    assert generator_findings(_ranking(), div)[3] == ("Eyeglasses: D separates the pairs most at conv1, 0.600× as far "
                                                      "as different faces — 3.0× their relative distance in pixels "
                                                      "(0.200×); conv3 (logit) 0.750×.")


def _ranking(classifier=False):
    pix = np.array([0.1, 0.4, 0.2, 0.05, 0.3, 0.1, 0.1, 0.1, 0.1, 0.1])
    clf = np.tile(np.arange(10.0)[:, None], (1, 2)) if classifier else None
    return LatentRanking(list(range(10)), pix, np.argsort(-pix), 2.0, clf, ["Smiling", "Male"] if classifier else [])


def test_ranking_table_lists_the_top_dims_in_order():
    t = ranking_table(_ranking(), k=8, n_latents=4)
    assert len(t["rows"]) == 8
    assert [r[1] for r in t["rows"][:3]] == ["z1", "z4", "z2"]
    assert t["rows"][0][2:] == ["0.4000", "4.00×"]  # median of the dims is 0.1
    line = generator_findings(_ranking())[0]
    assert line.startswith("z1 changes the image most") and "4.0× the median dim" in line and "next z4, z2" in line
    t = ranking_table(_ranking(classifier=True))
    assert t["columns"][-2:] == ["|Δ Smiling logit|", "|Δ Male logit|"]
    assert "Smiling z9 (9.00)" in generator_findings(_ranking(classifier=True))[1]


def test_filters_and_generator_summaries_hold_findings_tables_and_a_runnable_command(tiny_run, tmp_path):
    from xaiprobe.attribution import run_filters, run_generator

    ck = tiny_run / "checkpoints" / "last.pt"
    s = run_filters(ck, "synthfaces:40:0", tmp_path / "filters", layer="conv2", channels="0:2", k=2, n=40, steps=5)
    saved = json.loads((tmp_path / "filters" / "summary.json").read_text())
    assert saved["findings"] == s["findings"] and len(saved["tables"]) == 3
    counts = saved["dissection"]["counts"]
    assert [r[0] for r in saved["tables"][0]["rows"]] == list(counts)
    for layer, c in counts.items():
        n = 4 * 2 ** (int(layer[-1]) - 1)  # tiny D: ndf 4, doubling per layer
        sel = sum(c.values())
        assert any(x.startswith(f"{layer}: {sel} of {n} units") or x.startswith(f"{layer}: none of its {n}")
                   for x in saved["findings"])
    assert [r[0] for r in saved["tables"][2]["rows"]] == [0, 1]
    args = build_parser().parse_args(shlex.split(saved["command"])[1:])
    assert (args.command, args.checkpoint, args.data, args.layer, args.channels, args.k, args.n, args.steps) == (
        "filters", str(ck), "synthfaces:40:0", "conv2", "0:2", 2, 40, 5)
    assert args.dissection and args.out == str(tmp_path / "filters")

    g = run_generator(ck, tmp_path / "generator", dims=2, pairs=2, n_latents=2)
    assert len(g["tables"]) == 3 and len(g["tables"][0]["rows"]) == 8  # tiny latent size 8
    rel = g["tables"][2]
    assert [r[0] for r in rel["rows"]] == list(g["divergence"]["distance"])
    top = g["ranking"]["top_pixel"][0][0]
    assert g["findings"][0].startswith(f"z{top} changes the image most")
    args = build_parser().parse_args(shlex.split(g["command"])[1:])
    assert (args.command, args.dims, args.pairs, args.latents, args.out) == (
        "generator", 2, 2, 2, str(tmp_path / "generator"))
