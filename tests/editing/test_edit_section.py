"""The editing section: quality tables, concept table, headline and numbers from the measurements."""
import numpy as np
import pytest

from xaiprobe.editing._edit_section import (concept_changes, concept_table, editing_findings, editing_headline,
                                            editing_numbers, editing_tables, quality_tables)
from xaiprobe.editing._quality import summarize_methods
from xaiprobe.report import Section


def _row(method, attribute, slope, leakage, outside_ratio=float("nan")):
    return {"method": method, "attribute": attribute, "slope": slope, "spearman": 1.0, "monotonic_frac": 0.5,
            "leakage": leakage, "pixel_change": 0.05, "outside_change": 0.05 * outside_ratio,
            "outside_ratio": outside_ratio, "cosine_to_lstsq": 1.0 if method == "lstsq" else 0.5}


def _summary(rows):
    return {"quality": {"rows": rows, "by_method": summarize_methods(rows)}}


def test_run_edit_section_has_one_quality_row_per_method_and_attribute(tiny_artifacts, tmp_path, monkeypatch):
    from xaiprobe.cli.main import main

    monkeypatch.setenv("XAIPROBE_CACHE", str(tmp_path / "cache"))
    assert main(["edit", "--checkpoint", str(tiny_artifacts.checkpoint), "--directions", str(tiny_artifacts.directions),
                 "--attributes", "Young,Male", "--quality-methods", "lstsq,svm,ganspace", "--alphas=-1:1:3",
                 "--n", "2", "--classifier", str(tiny_artifacts.classifier), "--n-quality", "3",
                 "--out", str(tmp_path)]) == 0
    sec = Section.load(tmp_path / "editing")
    per, means = sec.tables[:2]
    assert per.columns[:4] == ["method", "attribute", "slope (logit/α)", "spearman ρ"]
    assert {"monotonic", "leakage", "pixel Δ/α", "outside Δ/α"} <= set(per.columns)
    pairs = sorted((m, a) for m in ("lstsq", "svm", "ganspace") for a in ("Young", "Male"))
    assert sorted((r[0], r[1]) for r in per.rows) == pairs
    assert [r[0] for r in means.rows] == ["lstsq", "svm", "ganspace"]
    for r in per.rows:  # the numbers are the table's cells
        assert sec.numbers[f"quality/{r[0]}/{r[1]}/slope"] == r[2]
    least = min(("lstsq", "svm", "ganspace"), key=lambda m: sec.numbers[f"quality/{m}/mean/leakage"])
    assert sec.headline.startswith(f"least leakage: {least} directions")
    assert sec.command == [f"xaiprobe edit --checkpoint {tiny_artifacts.checkpoint} --directions "
                           f"{tiny_artifacts.directions} --attributes Young,Male --alphas=-1:1:3 --n 2 --classifier "
                           f"{tiny_artifacts.classifier} --quality-methods lstsq,svm,ganspace --n-quality 3"]


def test_numbers_and_means_of_the_quality_rows():
    rows = [_row("lstsq", "Smiling", 1.0, 0.8, 0.9), _row("lstsq", "Male", 2.0, 0.6, float("nan")),
            _row("conditional", "Smiling", 0.5, 0.1, 0.4), _row("conditional", "Male", 1.0, 0.1, float("nan")),
            _row("sefa", "Smiling", 0.2, 3.0), _row("sefa", "Male", 0.4, 2.0)]
    num = editing_numbers(_summary(rows))
    assert num["quality/conditional/mean/leakage"] == pytest.approx(0.1)
    assert num["quality/lstsq/mean/slope"] == pytest.approx(1.5)
    assert num["quality/lstsq/mean/outside_ratio"] == pytest.approx(0.9)  # NaN rows left out of the mean
    assert np.isnan(num["quality/sefa/mean/outside_ratio"])
    assert editing_headline(_summary(rows)).startswith("least leakage: conditional directions")
    assert len(editing_findings(_summary(rows))) == 4  # least and most leakage, strongest/weakest, most local
    per, means = quality_tables(rows, summarize_methods(rows))
    assert [r[0] for r in means.rows] == ["lstsq", "conditional", "sefa"]
    assert means.rows[1][1 + [c for c in means.columns[1:]].index("leakage")] == pytest.approx(0.1)


def test_concept_table_and_numbers_follow_or_not():
    alphas = [-2.0, 0.0, 2.0]
    cc = {"alphas": alphas, "method": "lstsq", "n": 4, "curves": {
        "Blond_Hair": {"conv1": {"Blond_Hair": [0.1, 0.2, 0.3], "Male": [0.5, 0.5, 0.5]},
                       "conv3": {"Blond_Hair": [0.0, 0.5, 0.9]}},
        "Smiling": {"conv1": {"Smiling": [0.6, 0.4, 0.2]}, "conv3": {"Smiling": [0.5, 0.5, 0.55]}},
        "Young": {"conv1": {"Young": [0.4, 0.4, 0.45]}, "conv3": {"Young": [0.5, 0.5, 0.5]}}}}
    t = concept_table(cc)
    assert t.columns == ["edited attribute", "conv1", "conv3", "largest rise"]
    assert t.rows[0] == ["Blond_Hair", "0.10 → 0.30", "0.00 → 0.90", "conv3 (+0.90)"]
    num = editing_numbers({"concept_curves": cc})
    assert (num["concepts/Blond_Hair/conv3/start"], num["concepts/Blond_Hair/conv3/end"]) == (0.0, 0.9)
    assert (num["concepts/Smiling/conv1/start"], num["concepts/Smiling/conv1/end"]) == (0.6, 0.2)
    assert len(editing_findings({"concept_curves": cc})) == 2  # those that follow, those that do not
    # start and end are the lowest and highest α, whatever the order of the grid
    rev = {**cc, "alphas": alphas[::-1]}
    assert concept_table(rev).rows[0][2] == "0.90 → 0.00"
    assert concept_changes(rev)["Blond_Hair"]["conv3"] == (0.9, 0.0)


def test_weak_classifier_attribute_is_called_out():
    rows = [_row("lstsq", "Smiling", 0.05, 7.0), _row("lstsq", "Male", 1.0, 0.5)]
    metrics = {"split": "val", "attributes": {"Smiling": {"balanced_accuracy": 0.52},
                                              "Male": {"balanced_accuracy": 0.9}}}
    plain = editing_findings(_summary(rows))
    found = editing_findings(_summary(rows), metrics)
    assert len(found) == len(plain) + 1  # one more line: the classifier that scores the edits


def test_grids_only_summary_still_has_a_finding_and_no_tables():
    s = {"grids": ["edit_lstsq_Young.png"], "alphas": np.linspace(-1, 1, 3)}
    assert editing_tables(s) == [] and editing_numbers(s) == {"grids": 1}
    assert len(editing_findings(s)) == 1
    assert quality_tables([], {})[0].rows == []
