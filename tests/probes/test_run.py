import json
import warnings

import h5py
import numpy as np
import pytest

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.probes import Config, Result, section
from xaiprobe.probes._run import ProbeReport, probe_store
from xaiprobe.probes.linear import LinearProbe


def test_end_to_end_all_sources_and_plots(tiny_run, tmp_path):
    out = tmp_path / "probes"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = probe_store(tiny_run["activations"], layers=["conv2", "conv4"], out_dir=out, n_boot=50)
    sources = {r["source"] for r in rep.rows}
    assert sources == {"trained", "random_init", "pixels", "shuffled"}
    assert rep.controls == {"random_init": "done", "pixels": "done", "shuffled": "done"}
    for f in ("results.json", "results.csv", "probe_conv2.pt", "probe_conv4.pt",
              "auc_by_layer.png", "auc_by_layer.svg", "umap_conv2.png", "umap_conv4.svg"):
        assert (out / f).is_file(), f
    assert not list(out.parent.glob(".probes*"))  # no staging directory or lock left behind
    saved = json.loads((out / "results.json").read_text())
    assert {r["source"] for r in saved["rows"]} == sources
    trained = rep.table("trained")
    assert len(trained) == 2 * len(rep.attribute_names)
    for r in trained:
        assert 0 <= r["auc"] <= 1 and r["auc_lo"] <= r["auc"] <= r["auc_hi"]
        assert r["selectivity"] == pytest.approx(r["auc"] - rep.value(r["layer"], r["attribute"], "shuffled"))
    # the pixel control is a single pseudo-layer
    assert {r["layer"] for r in rep.table("pixels")} == {"pixels"}
    back = ProbeReport.load(out)
    assert len(back.rows) == len(rep.rows) and back.layers == ["conv2", "conv4"]
    assert {"auc_by_layer.png", "umap_conv2.png"} <= {f.file for f in rep.figures}
    probe = LinearProbe.load(out / "probe_conv2.pt")
    assert (probe.layer_, probe.pooling_, probe.attribute_names_) == ("conv2", "mean", rep.attribute_names)
    # the random-init activations are cached for the next run
    assert list((out / "controls").glob("random_init_*.h5"))


def test_planted_signal_in_store_found_and_streaming_agrees(tiny_run, tmp_path):
    """Blond hair is a large bright region: even the mean-pooled first layer reads it."""
    act = tiny_run["activations"]
    mem = probe_store(act, layers=["conv1"], attributes=["Blond_Hair"], controls=False, save=False, n_boot=20)
    stream = probe_store(act, layers=["conv1"], attributes=["Blond_Hair"], controls=False, save=False, n_boot=20,
                         max_memory_mb=1e-4, chunk_size=7)
    a, b = mem.table("trained")[0], stream.table("trained")[0]
    assert a["auc"] > 0.8
    assert abs(a["auc"] - b["auc"]) < 0.005 and a["C"] == b["C"]


def test_one_class_split_skipped_with_warning(tiny_run, tmp_path):
    from xaiprobe.activations import extract_activations

    data = tiny_run["data"]
    k = data.attribute_index("Eyeglasses")
    data.labels = data.labels.copy()
    saved = data.labels[:, k].copy()
    data.labels[data.split == 2, k] = 0
    try:
        act = extract_activations(tiny_run["checkpoint"], data, tmp_path / "a.h5", layers=["conv3"], pooling="mean",
                                  progress=False)
    finally:
        data.labels[:, k] = saved
    with pytest.warns(UserWarning, match="Eyeglasses: one class only in the test split"):
        rep = probe_store(act, controls=["shuffled"], out_dir=tmp_path / "p", n_boot=20, plots=False)
    assert "Eyeglasses" not in rep.attribute_names
    assert {r["attribute"] for r in rep.rows} == set(rep.attribute_names)
    assert rep.skipped[0]["attribute"] == "Eyeglasses"


def test_one_class_val_split_warns_naming_attribute_and_split(tiny_run, tmp_path):
    """C is then chosen by the validation log-loss: the run says so once, and still probes it."""
    from xaiprobe.activations import extract_activations

    data = tiny_run["data"]
    k = data.attribute_index("Male")
    data.labels = data.labels.copy()
    saved = data.labels[:, k].copy()
    data.labels[data.split == 1, k] = 1
    try:
        act = extract_activations(tiny_run["checkpoint"], data, tmp_path / "a.h5", layers=["conv3"], pooling="mean",
                                  progress=False)
    finally:
        data.labels[:, k] = saved
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rep = probe_store(act, controls=False, out_dir=tmp_path / "p", n_boot=20, plots=False)
    said = [str(w.message) for w in caught if "Male" in str(w.message)]
    assert len(said) == 1 and "val split" in said[0]  # once per run, naming the attribute and the split
    assert "Male" in rep.attribute_names and said[0] in rep.notes and not rep.skipped
    assert np.isfinite(rep.value("conv3", "Male"))  # still probed


def test_nan_features_error_names_layer_and_count(tiny_run, tmp_path):
    import shutil

    act = tmp_path / "nan.h5"
    shutil.copy(tiny_run["activations"], act)
    with h5py.File(act, "r+") as f:
        ds = f["layers/conv3/activations"]
        x = ds[:5]
        x[0, 0], x[2, 1], x[4, 3] = np.nan, np.inf, np.nan
        ds[:5] = x
    with pytest.raises(XaiprobeError, match=r"layer conv3: 3 NaN/infinite"):
        probe_store(act, layers=["conv3"], controls=False, save=False)
    with pytest.raises(XaiprobeError, match=r"layer conv3: 3 NaN/infinite"):
        probe_store(act, layers=["conv3"], controls=False, save=False, max_memory_mb=1e-4)
    out = tmp_path / "probes"
    with pytest.raises(XaiprobeError, match=r"layer conv3: 3 NaN/infinite"):  # after conv1 and conv2 were probed
        probe_store(act, layers=["conv1", "conv2", "conv3"], controls=False, out_dir=out, n_boot=10)
    assert not out.exists() and not list(tmp_path.glob(".probes*"))  # no probe_conv1.pt, no staging left


def test_a_second_probe_run_into_the_same_directory_is_refused(tiny_run, tmp_path):
    from xaiprobe._utils.outputs import exclusive

    out = tmp_path / "probes"
    with exclusive(out, "probe run"):
        with pytest.raises(XaiprobeError, match=r"another probe run \(pid \d+\) is writing this output"):
            probe_store(tiny_run["activations"], layers=["conv1"], controls=False, out_dir=out, n_boot=10)
    assert not out.exists()


def test_bad_layer_attribute_and_unlabeled_file(tiny_run, tmp_path):
    from xaiprobe.activations import extract_activations

    act = tiny_run["activations"]
    with pytest.raises(XaiprobeError, match="layer 'conv9': not in .*it has conv1, conv2"):
        probe_store(act, layers=["conv9"], save=False)
    with pytest.raises(XaiprobeError, match="attribute 'Bald': not in .*it has Smiling"):
        probe_store(act, attributes=["Bald"], save=False)
    gen = extract_activations(tiny_run["checkpoint"], None, tmp_path / "gen.h5", layers=["conv2"], pooling="mean",
                              generated=16, progress=False)
    with pytest.raises(XaiprobeError, match="no labels"):
        probe_store(gen, save=False)
    with pytest.raises(XaiprobeError, match="no such file"):
        probe_store(tmp_path / "missing.h5")


def test_single_label_digits_top1_and_confusion(tmp_path):
    from xaiprobe.activations import extract_activations
    from xaiprobe.data.base import ImageSet
    from xaiprobe.data.digits import stratified_split
    from xaiprobe.testing.data import tiny_digits
    from xaiprobe.testing.models import tiny_checkpoint

    d = tiny_digits(300)
    d = ImageSet(d.pixels, d.labels, d.attribute_names, stratified_split(d.labels.argmax(1), fractions=(0.6, 0.2)),
                 d.spec, "single", d.index)
    ck = tiny_checkpoint(tmp_path / "ck.pt", d)
    act = extract_activations(ck, d, tmp_path / "a.h5", layers=["conv1"], pooling="avg4", progress=False)
    rep = probe_store(act, controls=["pixels", "shuffled"], out_dir=tmp_path / "p", n_boot=20, umap=False)
    top1 = rep.table("trained")[0]["top1"]
    assert top1 > 0.3  # chance 0.1
    assert rep.table("shuffled")[0]["top1"] < top1
    cm = np.array(rep.confusion["conv1"]["trained"])
    assert cm.shape == (10, 10) and cm.sum() == (d.split == 2).sum()
    assert (tmp_path / "p" / "confusion.png").is_file() and "confusion.png" in {f.file for f in rep.figures}
    sec = section(Result(Config(activations=str(act)), rep))
    assert sec.numbers["top1_by_layer"]["trained"]["conv1"] == pytest.approx(top1)
    means = sec.tables[0]
    assert means.rows[0][means.columns.index("top-1 trained [95% CI]")].startswith(f"{top1:.3f}")
    assert len(sec.tables[1].rows) == 10  # one row per class


def test_stage_on_planted_store_tables_numbers_command_and_no_umap_for_1d(planted_store, tmp_path, monkeypatch):
    """conv2 holds the labels: the section names it best, has one row per layer × attribute,
    the shuffled controls sit at chance, and the 1-D layer gets no UMAP view."""
    from xaiprobe.probes import _plots
    from xaiprobe.report import Section
    from xaiprobe.stages import execute, load_stage

    embedded = []

    def fake_umap(X, seed=0):
        embedded.append(X.shape[1])
        return X[:, :2]

    monkeypatch.setattr(_plots, "embed_umap", fake_umap)
    run = tmp_path / "run"
    cfg = Config(activations=str(planted_store), controls="shuffled", bootstrap=50, cs="0.01,0.1,1")
    result, sec = execute(load_stage("probe"), cfg, run)
    assert Section.load(run / "probes") == sec
    rep = result.report
    means, detail = sec.tables
    assert [r[0] for r in means.rows] == ["conv1", "conv2", "conv3"]
    assert [(r[0], r[1]) for r in detail.rows] == [(la, a) for la in ("conv1", "conv2", "conv3") for a in "ABC"]
    assert len(detail.rows[0]) == len(detail.columns)
    cell = detail.rows[3][detail.columns.index("trained AUC [95% CI]")]
    lo_hi = [float(x) for x in cell.replace("\u00a0", " ").strip("]").split("[")[1].split(",")]
    t = rep.table("trained", "conv2", "A")[0]
    assert cell.startswith(f"{t['auc']:.3f}") and lo_hi == pytest.approx([t["auc_lo"], t["auc_hi"]], abs=6e-4)
    assert sec.numbers["best_layer"] == "conv2"
    shuffled = [r["auc"] for r in rep.table("shuffled")]
    assert abs(np.mean(shuffled) - 0.5) < 0.05
    assert sec.numbers["shuffled_mean_auc"] == pytest.approx(np.mean(shuffled))
    assert sec.command == [f"xaiprobe probe --activations {planted_store} --controls shuffled --cs 0.01,0.1,1 "
                           "--bootstrap 50"]
    assert sec.numbers["best"]["A"]["layer"] == "conv2" and set(sec.numbers["mean_auc_by_layer"]) == {"trained",
                                                                                                     "shuffled"}
    figures = {f.file for f in sec.figures}
    assert {"umap_conv1.png", "umap_conv2.png"} <= figures and "umap_conv3.png" not in figures
    assert not (run / "probes" / "umap_conv3.png").exists() and embedded == [6, 6]
