"""The decode stage: decoders per layer, their files, the section's numbers and the probe comparison."""
import json
import warnings

import pytest

from xaiprobe.probes._decode import Config, Result, fit_decoders, probe_comparison, section, train_decoders
from xaiprobe.probes.decoders import ConceptDecoder


@pytest.fixture(scope="module")
def decoders_dir(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("decoders") / "decoders"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train_decoders(tiny_run["activations"], out, layers=["conv2", "conv4"], hidden=16, max_epochs=5, n_boot=20,
                       plots=False)
    return out


def test_files_and_index(tiny_run, decoders_dir):
    index = json.loads((decoders_dir / "decoders.json").read_text())
    assert [d["layer"] for d in index["decoders"]] == ["conv2", "conv4"]
    assert index["data"]["spec"] == tiny_run["data"].spec
    dec = ConceptDecoder.load(decoders_dir / "decoder_conv4.pt")
    assert (dec.layer_, dec.pooling_, dec.concept_names_) == ("conv4", "mean", tiny_run["data"].attribute_names)
    assert (decoders_dir / "metrics.csv").is_file() and not list(decoders_dir.parent.glob(".decoders*"))


def test_section_numbers_table_and_command(tiny_run, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = Config(activations=str(tiny_run["activations"]), layers="conv2,conv4", hidden=16, epochs=5,
                     bootstrap=20, plots=False)
        res = fit_decoders(tiny_run["activations"], tmp_path / "decoders", layers=["conv2", "conv4"], hidden=16,
                           max_epochs=5, n_boot=20, plots=False)
    sec = section(Result(cfg, res))
    names = tiny_run["data"].attribute_names
    (table,) = sec.tables
    assert table.columns == ["layer", "mean AUC"] + names + ["best epoch"]
    assert [r[0] for r in table.rows] == ["conv2", "conv4"]
    metrics = json.loads((tmp_path / "decoders" / "metrics.json").read_text())["rows"]
    auc = {(r["layer"], r["concept"]): r["auc"] for r in metrics}
    assert table.rows[1][2 + names.index("Male")] == f"{auc[('conv4', 'Male')]:.3f}"
    assert sec.numbers["auc"]["conv4/Male"] == pytest.approx(auc[("conv4", "Male")])
    best = max(res.index, key=lambda e: e["mean_auc"])
    assert sec.numbers["best_layer"] == best["layer"]
    assert sec.numbers["per_layer"][best["layer"]]["mean_auc"] == pytest.approx(best["mean_auc"])
    assert sec.command == [f"xaiprobe decode --activations {tiny_run['activations']} --layers conv2,conv4 --hidden 16 "
                           "--epochs 5 --bootstrap 20 --no-plots"]


def test_probe_comparison_reads_the_differences():
    index = [{"layer": "c1", "mean_auc": 0.75}, {"layer": "c2", "mean_auc": 0.925}]
    cmp = probe_comparison(index, {"c1": 0.76, "c2": 0.85})
    assert cmp["min_diff"] == pytest.approx(-0.01) and cmp["max_diff"] == pytest.approx(0.075)
    assert cmp["largest_layer"] == "c2" and cmp["nonlinear"]
    assert not probe_comparison(index, {"c1": 0.75, "c2": 0.93})["nonlinear"]
    assert probe_comparison(index, None) is None and probe_comparison(index, {"c9": 0.8}) is None


def test_probes_are_passed_explicitly_and_must_match_the_activations(tiny_run, tmp_path):
    from xaiprobe import XaiprobeError
    from xaiprobe.probes import probe_store

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        probe_store(tiny_run["activations"], layers=["conv2"], controls=False, out_dir=tmp_path / "probes", n_boot=10,
                    plots=False)
        res = fit_decoders(tiny_run["activations"], tmp_path / "decoders", layers=["conv2"], hidden=8, max_epochs=3,
                           n_boot=10, plots=False, probes=tmp_path / "probes")
        assert set(res.probe_means) == {"conv2"}
        other = tmp_path / "other.h5"
        other.write_bytes(tiny_run["activations"].read_bytes())
        with pytest.raises(XaiprobeError, match="--probes .*not of"):
            fit_decoders(other, tmp_path / "d2", layers=["conv2"], hidden=8, max_epochs=3, n_boot=10, plots=False,
                         probes=tmp_path / "probes" / "results.json")
    sec = section(Result(Config(activations=str(tiny_run["activations"])), res))
    assert sec.numbers["probe_comparison"]["largest_layer"] == "conv2"
