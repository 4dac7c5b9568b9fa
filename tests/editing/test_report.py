"""The editing stage's report entries: quality tables, concept table, findings from numbers, commands."""
import json
import re

import numpy as np

from xaiprobe.editing.edits import run_edit
from xaiprobe.editing.report import concept_table, editing_findings, editing_tables, quality_tables


def _row(method, attribute, slope, leakage, outside_ratio=float("nan")):
    return {"method": method, "attribute": attribute, "slope": slope, "spearman": 1.0, "monotonic_frac": 0.5,
            "leakage": leakage, "pixel_change": 0.05, "outside_change": 0.05 * outside_ratio,
            "outside_ratio": outside_ratio, "cosine_to_lstsq": 1.0 if method == "lstsq" else 0.5}


def _means(rows):
    from xaiprobe.editing.quality import summarize_methods

    return summarize_methods(rows)


def test_run_edit_summary_has_one_quality_row_per_method_and_attribute(tiny_artifacts, tmp_path, monkeypatch):
    monkeypatch.setenv("XAIPROBE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "editing"
    run_edit(tiny_artifacts.checkpoint, tiny_artifacts.directions, out, attributes="Young,Male", methods="lstsq",
             quality_methods="lstsq,svm,ganspace", alphas="-1:1:3", n=2, classifier=tiny_artifacts.classifier,
             n_quality=3, progress=False)
    s = json.loads((out / "summary.json").read_text())
    assert "quality_table" in s and len(s["quality"]["rows"]) == 6  # keys other code reads stay
    per, means = s["tables"][:2]
    assert per["columns"][:4] == ["method", "attribute", "slope (logit/α)", "spearman ρ"]
    assert {"monotonic", "leakage", "pixel Δ/α", "outside Δ/α"} <= set(per["columns"])
    assert sorted((r[0], r[1]) for r in per["rows"]) == sorted(
        (m, a) for m in ("lstsq", "svm", "ganspace") for a in ("Young", "Male"))
    assert [r[0] for r in means["rows"]] == ["lstsq", "svm", "ganspace"]
    assert s["findings"] and all(isinstance(f, str) and "\n" not in f for f in s["findings"])
    assert any(f.startswith("Least leakage: ") for f in s["findings"])
    cmds = s["command"]
    assert cmds[0].startswith("xaiprobe directions ") and "--n 200 " in cmds[0]  # fitted on 200 latents
    assert cmds[-1].startswith("xaiprobe edit ") and "--alphas=-1:1:3" in cmds[-1] and f"--out {out}" in cmds[-1]


def test_edit_command_prints_findings(tiny_artifacts, tmp_path, capsys, monkeypatch):
    from xaiprobe.cli.main import main

    monkeypatch.setenv("XAIPROBE_CACHE", str(tmp_path / "cache"))
    rc = main(["edit", "--checkpoint", str(tiny_artifacts.checkpoint), "--directions", str(tiny_artifacts.directions),
               "--attr", "Young", "--alphas=-1:1:3", "--n", "1", "--classifier", str(tiny_artifacts.classifier),
               "--quality-methods", "lstsq,sefa", "--n-quality", "2", "--out", str(tmp_path / "e")])
    assert rc == 0
    assert "- Least leakage: " in capsys.readouterr().out


def test_findings_name_the_least_leaky_method_and_its_slope_cost():
    rows = [_row("lstsq", "Smiling", 1.0, 0.8, 0.9), _row("lstsq", "Male", 2.0, 0.6, float("nan")),
            _row("conditional", "Smiling", 0.5, 0.1, 0.4), _row("conditional", "Male", 1.0, 0.1, float("nan")),
            _row("sefa", "Smiling", 0.2, 3.0), _row("sefa", "Male", 0.4, 2.0)]
    found = editing_findings({"quality": {"rows": rows, "by_method": _means(rows)}})
    assert found[0] == ("Least leakage: conditional directions (mean leakage 0.100 vs 0.700 for lstsq); "
                        "its mean slope is 0.750 vs 1.500 logit/α (-50%).")
    assert any(f.startswith("Most leakage: sefa") for f in found)
    assert any("strongest Male" in f and "weakest Smiling" in f for f in found)
    assert any(f.startswith("Most local lstsq edit: Smiling (outside ratio 0.90") for f in found)


def test_concept_table_and_findings_follow_or_not():
    alphas = [-2.0, 0.0, 2.0]
    cc = {"alphas": alphas, "method": "lstsq", "n": 4, "curves": {
        "Blond_Hair": {"conv1": {"Blond_Hair": [0.1, 0.2, 0.3], "Male": [0.5, 0.5, 0.5]},
                       "conv3": {"Blond_Hair": [0.0, 0.5, 0.9]}},
        "Smiling": {"conv1": {"Smiling": [0.6, 0.4, 0.2]}, "conv3": {"Smiling": [0.5, 0.5, 0.55]}},
        "Young": {"conv1": {"Young": [0.4, 0.4, 0.45]}, "conv3": {"Young": [0.5, 0.5, 0.5]}}}}
    t = concept_table(cc)
    assert t["columns"] == ["edited attribute", "conv1", "conv3", "largest rise"]
    assert t["rows"][0] == ["Blond_Hair", "0.10 → 0.30", "0.00 → 0.90", "conv3 (+0.90)"]
    found = editing_findings({"concept_curves": cc})
    assert found[0] == "D's concept decoders follow the lstsq edit for Blond_Hair (at conv3: 0.00 → 0.90)."
    assert found[1].startswith("D's decoders go against it for Smiling (falls at conv1: 0.60 → 0.20)")
    assert "do not follow it for Young (largest rise +0.05 at conv1)" in found[1]
    # start and end are the lowest and highest α, whatever the order of the grid
    rev = {**cc, "alphas": alphas[::-1]}
    assert concept_table(rev)["rows"][0][2] == "0.90 → 0.00"


def test_weak_classifier_attribute_is_called_out():
    rows = [_row("lstsq", "Smiling", 0.05, 7.0), _row("lstsq", "Male", 1.0, 0.5)]
    metrics = {"split": "val", "attributes": {"Smiling": {"balanced_accuracy": 0.52},
                                              "Male": {"balanced_accuracy": 0.9}}}
    found = editing_findings({"quality": {"rows": rows, "by_method": _means(rows)}}, metrics)
    weak = next(f for f in found if "weakest Smiling" in f)
    assert "balanced accuracy 0.52 only" in weak
    assert re.search(r"mean balanced accuracy 0\.710 on val \(lowest Smiling 0\.520\); Smiling near chance", found[-1])


def test_grids_only_summary_still_has_a_finding_and_no_tables():
    s = {"grids": ["edit_lstsq_Young.png"], "alphas": np.linspace(-1, 1, 3)}
    assert editing_tables(s) == []
    assert editing_findings(s)[0].startswith("1 edit grid(s); pass a classifier")
    assert quality_tables([], {})[0]["rows"] == []
