import csv
import json
import warnings

import numpy as np
import pytest

from xaiprobe.probes.decode import apply_decoders, train_decoders


@pytest.fixture(scope="module")
def decoders_dir(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("decoders")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train_decoders(tiny_run["activations"], out, layers=["conv2", "conv4"], hidden=16, max_epochs=5, n_boot=20,
                       plots=False)
    return out


def _columns(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0] if "/" in k}


def test_train_summary_has_layer_by_concept_table_findings_and_command(tiny_run, decoders_dir):
    s = json.loads((decoders_dir / "summary.json").read_text())
    index = json.loads((decoders_dir / "decoders.json").read_text())["decoders"]
    (table,) = s["tables"]
    names = tiny_run["data"].attribute_names
    assert table["columns"] == ["layer", "mean AUC"] + names + ["best epoch"]
    assert [r[0] for r in table["rows"]] == ["conv2", "conv4"]
    metrics = json.loads((decoders_dir / "metrics.json").read_text())["rows"]
    auc = {(r["layer"], r["concept"]): r["auc"] for r in metrics}
    assert table["rows"][1][2 + names.index("Male")] == f"{auc[('conv4', 'Male')]:.3f}"
    best = max(index, key=lambda e: e["mean_auc"])
    assert s["best_layer"] == best["layer"]
    assert s["findings"][0].startswith(f"Best decoder layer {best['layer']}: mean test AUC {best['mean_auc']:.3f}")
    assert s["command"] == (f"xaiprobe decode --activations {tiny_run['activations']} --out {decoders_dir} "
                            "--layer conv2,conv4 --hidden 16 --epochs 5 --bootstrap 20 --no-plots")


def test_apply_summary_rates_match_the_csvs(tiny_run, decoders_dir, tmp_path):
    out = tmp_path / "concepts"
    res = apply_decoders(decoders_dir, tiny_run["checkpoint"], "generated:40", out, max_real=30)
    s = json.loads((out / "summary.json").read_text())
    layer = s["best_layer"]
    assert s["real"] == tiny_run["data"].spec and res["best_layer"] == layer
    gen, real = _columns(out / "concepts.csv"), _columns(out / "concepts_real.csv")
    assert len(gen[f"{layer}/Smiling"]) == 40 and len(real[f"{layer}/Smiling"]) == len(tiny_run["data"].rows_of("test"))
    table = s["tables"][0]
    col = {c: i for i, c in enumerate(table["columns"])}
    test_labels = tiny_run["data"].labels[tiny_run["data"].rows_of("test")]
    for row, c in zip(table["rows"], tiny_run["data"].attribute_names):
        assert row[col["concept"]] == c
        assert float(row[col["generated: decoded"]]) == pytest.approx((gen[f"{layer}/{c}"] >= 0.5).mean(), abs=6e-4)
        assert float(row[col["real: decoded"]]) == pytest.approx((real[f"{layer}/{c}"] >= 0.5).mean(), abs=6e-4)
        assert float(row[col["generated: mean prob."]]) == pytest.approx(gen[f"{layer}/{c}"].mean(), abs=6e-4)
        k = tiny_run["data"].attribute_names.index(c)
        assert float(row[col["real: true labels"]]) == pytest.approx(test_labels[:, k].mean(), abs=6e-4)
    for r in s["distribution"]:
        assert r["gap"] == pytest.approx(r["generated_rate"] - r["real_rate"])
        assert r["gap_lo"] <= r["gap"] <= r["gap_hi"]
    assert s["findings"] and any("decoder" in f for f in s["findings"])
    assert s["command"] == (f"xaiprobe decode --decoders {decoders_dir} --checkpoint {tiny_run['checkpoint']} "
                            f"--images generated:40 --max-real 30 --out {out}")
    figures = json.loads((out / "figures.json").read_text())
    assert [f["file"] for f in figures] == ["concept_distribution.png"]


def test_apply_to_labeled_images_compares_with_their_labels(tiny_run, decoders_dir, tmp_path):
    out = tmp_path / "real"
    apply_decoders(decoders_dir, tiny_run["checkpoint"], tiny_run["data"].spec, out, plots=False)
    s = json.loads((out / "summary.json").read_text())
    probs = _columns(out / "concepts.csv")
    (table,) = s["tables"]
    assert table["columns"] == ["concept", "decoded", "true labels", "decoded − true"]
    k = tiny_run["data"].attribute_names.index(table["rows"][0][0])
    assert float(table["rows"][0][1]) == pytest.approx((probs[f"{s['best_layer']}/{table['rows'][0][0]}"] >= 0.5).mean(),
                                                       abs=6e-4)
    assert float(table["rows"][0][2]) == pytest.approx(tiny_run["data"].labels[:, k].mean(), abs=6e-4)
    assert s["findings"][0].startswith(f"Decoded {len(tiny_run['data'])} images")
