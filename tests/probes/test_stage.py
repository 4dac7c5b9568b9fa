"""The probe stage's section: its numbers and tables follow the measurements and the controls."""
import numpy as np
import pytest

from xaiprobe.probes import Config, Result, section
from xaiprobe.probes._run import ProbeReport, derive, fill_row
from xaiprobe.probes._stage import probe_findings, probe_numbers, probe_tables


def _report(shuffled=0.5):
    """Layer c2 reads Known beyond both baselines, Weak beyond them but weakly; Pixel is read as
    well by raw pixels."""
    rows = []
    trained = {("c1", "Known"): 0.7, ("c2", "Known"): 0.9, ("c1", "Pixel"): 0.9, ("c2", "Pixel"): 0.95,
               ("c1", "Weak"): 0.55, ("c2", "Weak"): 0.65}
    for (layer, a), auc in trained.items():
        rows.append(fill_row({"layer": layer, "attribute": a, "source": "trained", "auc": auc, "auc_lo": auc - 0.04,
                              "auc_hi": auc + 0.04, "bacc": auc - 0.1, "n_test": 100}))
        rows.append(fill_row({"layer": layer, "attribute": a, "source": "random_init",
                              "auc": 0.6 if a != "Weak" else 0.5}))
        rows.append(fill_row({"layer": layer, "attribute": a, "source": "shuffled", "auc": shuffled, "n_test": 100}))
    for a, auc in (("Known", 0.6), ("Pixel", 0.97), ("Weak", 0.52)):
        rows.append(fill_row({"layer": "pixels", "attribute": a, "source": "pixels", "auc": auc}))
    rep = ProbeReport(rows, ["c1", "c2"], ["Known", "Pixel", "Weak"],
                      controls={"random_init": "done", "pixels": "done", "shuffled": "done"})
    derive(rep)
    return rep


def test_numbers_say_what_beats_the_baselines():
    n = probe_numbers(_report())
    assert n["best_layer"] == "c2" and n["best_layer_mean_auc"] == pytest.approx((0.9 + 0.95 + 0.65) / 3)
    assert n["mean_auc_by_layer"]["random_init"]["c2"] == pytest.approx(0.5667, abs=1e-4)
    assert n["mean_auc_by_layer"]["pixels"]["pixels"] == pytest.approx((0.6 + 0.97 + 0.52) / 3)
    assert {a: b["beyond_baselines"] for a, b in n["best"].items()} == {"Known": True, "Pixel": False, "Weak": True}
    assert n["beyond_baselines"] == 2 and n["attributes"] == 3
    assert n["best"]["Known"]["layer"] == "c2" and n["best"]["Known"]["auc_lo"] == pytest.approx(0.86)
    assert n["best"]["Pixel"]["selectivity"] == pytest.approx(0.45)
    assert n["shuffled_mean_auc"] == pytest.approx(0.5)
    assert len(probe_findings(_report())) == 4  # best layer, beyond, not beyond, shuffled at chance
    assert probe_numbers(_report(shuffled=0.62))["shuffled_mean_auc"] == pytest.approx(0.62)


def test_tables_follow_the_controls():
    rep = _report()
    means, detail = probe_tables(rep)
    assert means.columns[:5] == ["layer", "trained D", "random-init D", "8×8 pixels", "shuffled labels"]
    assert means.rows[1][:2] == ["c2", "0.833"] and means.rows[1][-1] == "2 of 3"
    assert len(detail.rows) == 6 and detail.rows[0][:3] == ["c1", "Known", "0.700\u00a0[0.660,\u00a00.740]"]
    delta = detail.columns.index("Δ vs random-init D")
    assert detail.rows[1][delta] == "+0.300"  # c1 Pixel: 0.9 - 0.6
    rep.controls = {"shuffled": "done"}
    rep.rows = [r for r in rep.rows if r["source"] in ("trained", "shuffled")]
    means, detail = probe_tables(rep)
    assert "random-init D" not in means.columns and "Δ vs 8×8 pixels" not in detail.columns
    n = probe_numbers(rep)
    assert n["beyond_baselines"] == 0 and all(b["beyond_baselines"] is None for b in n["best"].values())


def test_section_carries_the_command_figures_and_numbers(tmp_path):
    cfg = Config(activations=str(tmp_path / "a.h5"), controls=("shuffled",), cs=(0.01, 0.1), bootstrap=50)
    sec = section(Result(cfg, _report()))
    assert sec.stage == "probes" and sec.order == 30 and sec.headline == sec.findings[0]
    assert sec.command == [f"xaiprobe probe --activations {tmp_path / 'a.h5'} --controls shuffled --cs 0.01,0.1 "
                           "--bootstrap 50"]
    assert sec.numbers["best_layer"] == "c2" and [t.title for t in sec.tables] == [t.title for t in probe_tables(_report())]


def test_config_checks_ranges_and_choices():
    from xaiprobe import XaiprobeError

    with pytest.raises(XaiprobeError, match=r"--cs 0: out of range"):
        Config(activations="a.h5", cs="0,0.1")
    with pytest.raises(XaiprobeError, match=r"--controls 'pixel': not a valid choice"):
        Config(activations="a.h5", controls="pixel")
    with pytest.raises(XaiprobeError, match=r"none cannot be combined"):
        Config(activations="a.h5", controls="none,pixels")
    with pytest.raises(XaiprobeError, match=r"--bootstrap -1: out of range"):
        Config(activations="a.h5", bootstrap=-1)
    assert Config(activations="a.h5", controls="none").command() == "xaiprobe probe --activations a.h5 --controls none"
    assert np.allclose(Config(activations="a.h5").cs, (1e-4, 1e-3, 1e-2, 0.1, 1, 10))
