"""The concepts stage: decoders applied to generated, labeled and folder images."""
import csv
import json
import warnings

import numpy as np
import pytest

from xaiprobe.probes._concepts import (Config, Result, apply_decoders, gap_verdicts, rate_gap_ci, section)
from xaiprobe.probes._decode import train_decoders


@pytest.fixture(scope="module")
def decoders_dir(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("decoders") / "decoders"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train_decoders(tiny_run["activations"], out, layers=["conv2", "conv4"], hidden=16, max_epochs=5, n_boot=20,
                       plots=False)
    return out


def _columns(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0] if "/" in k}


def test_generated_vs_real_rates_match_the_csvs(tiny_run, decoders_dir, tmp_path):
    out = tmp_path / "concepts"
    res = apply_decoders(decoders_dir, tiny_run["checkpoint"], "generated:40", out, max_real=30)
    cfg = Config(decoders=str(decoders_dir), checkpoint=str(tiny_run["checkpoint"]), images="generated:40", max_real=30)
    sec = section(Result(cfg, res))
    layer = sec.numbers["best_layer"]
    assert sec.numbers["real"] == tiny_run["data"].spec and res["best_layer"] == layer
    gen, real = _columns(out / "concepts.csv"), _columns(out / "concepts_real.csv")
    assert len(gen[f"{layer}/Smiling"]) == 40 and len(real[f"{layer}/Smiling"]) == len(tiny_run["data"].rows_of("test"))
    test_labels = tiny_run["data"].labels[tiny_run["data"].rows_of("test")]
    for k, c in enumerate(tiny_run["data"].attribute_names):
        r = sec.numbers["rates"][f"{layer}/{c}"]
        assert r["generated_rate"] == pytest.approx((gen[f"{layer}/{c}"] >= 0.5).mean(), abs=1e-4)
        assert r["real_rate"] == pytest.approx((real[f"{layer}/{c}"] >= 0.5).mean(), abs=1e-4)
        assert r["true_rate"] == pytest.approx(test_labels[:, k].mean())
        assert r["gap"] == pytest.approx(r["generated_rate"] - r["real_rate"]) and r["gap_lo"] <= r["gap"] <= r["gap_hi"]
    table = sec.tables[0]
    assert [row[0] for row in table.rows] == tiny_run["data"].attribute_names
    assert sorted(sec.numbers["under"] + sec.numbers["over"] + sec.numbers["same"]) == \
        sorted(tiny_run["data"].attribute_names)
    assert sec.command == [f"xaiprobe concepts --checkpoint {tiny_run['checkpoint']} --decoders {decoders_dir} "
                           "--images generated:40 --max-real 30"]
    assert [f.file for f in sec.figures] == ["concept_distribution.png"] and (out / "concept_distribution.svg").is_file()
    dist = json.loads((out / "concept_distribution.json").read_text())
    assert dist["real"] == tiny_run["data"].spec and len(dist["rows"]) == 2 * len(tiny_run["data"].attribute_names)


def test_labeled_images_compare_with_their_labels(tiny_run, decoders_dir, tmp_path):
    out = tmp_path / "real"
    res = apply_decoders(decoders_dir, tiny_run["checkpoint"], tiny_run["data"].spec, out, plots=False)
    sec = section(Result(Config(decoders=str(decoders_dir), checkpoint="c.pt", images=tiny_run["data"].spec), res))
    probs = _columns(out / "concepts.csv")
    (table,) = sec.tables
    assert table.columns == ["concept", "decoded", "true labels", "decoded − true"]
    for k, c in enumerate(tiny_run["data"].attribute_names):
        r = sec.numbers["rates"][c]
        assert r["decoded_rate"] == pytest.approx((probs[f"{sec.numbers['best_layer']}/{c}"] >= 0.5).mean(), abs=1e-4)
        assert r["true_rate"] == pytest.approx(tiny_run["data"].labels[:, k].mean())
    assert sec.numbers["n_images"] == len(tiny_run["data"])


def test_folder_images_are_named_by_their_files(tiny_run, decoders_dir, tmp_path):
    from PIL import Image

    folder = tmp_path / "imgs"
    (folder / "sub").mkdir(parents=True)
    u8 = tiny_run["data"].pixels[:3]
    for name, img in zip(["b.png", "a.png", "sub/c.png"], u8):
        Image.fromarray(np.asarray(img).transpose(1, 2, 0)).save(folder / name)
    out = tmp_path / "folder"
    apply_decoders(decoders_dir, tiny_run["checkpoint"], f"folder:{folder}", out, plots=False)
    with open(out / "concepts.csv", newline="") as f:
        names = [r["image"] for r in csv.DictReader(f)]
    assert names == ["a.png", "b.png", "sub/c.png"]


def test_gap_verdicts_use_the_interval_of_the_difference():
    def row(layer, c, g, r, true):
        lo, hi = rate_gap_ci(g, 1000, r, 300)
        return {"layer": layer, "concept": c, "generated_rate": g, "real_rate": r, "true_rate": true, "gap": g - r,
                "gap_lo": lo, "gap_hi": hi, "n_generated": 1000, "n_real": 300}

    rows = [row("c4", "Eyeglasses", 0.04, 0.12, 0.11), row("c4", "Smiling", 0.52, 0.50, 0.49),
            row("c4", "Male", 0.7, 0.5, 0.5), row("c3", "Eyeglasses", 0.05, 0.10, 0.11)]
    v = gap_verdicts(rows, "c4")
    assert (v["under"], v["over"], v["same"]) == (["Eyeglasses"], ["Male"], ["Smiling"])
    assert v["max_bias"] == pytest.approx(0.01) and v["max_bias_concept"] in ("Eyeglasses", "Smiling")
    lo, hi = rate_gap_ci(0.5, 100, 0.5, 100)
    assert lo == pytest.approx(-hi) and hi == pytest.approx(1.96 * np.sqrt(0.005), rel=1e-3)


def test_config_rejects_a_bad_generated_count():
    from xaiprobe import XaiprobeError

    with pytest.raises(XaiprobeError, match="generated:N"):
        Config(decoders="d", checkpoint="c.pt", images="generated:x")
    with pytest.raises(XaiprobeError, match="exactly one of --checkpoint"):
        Config(decoders="d", images="generated:4")
