"""`xaiprobe attribute / filters / generator` end to end on a tiny checkpoint."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from xaiprobe.cli.main import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from xaiprobe.testing.data import tiny_faces
    from xaiprobe.testing.models import tiny_checkpoint

    root = tmp_path_factory.mktemp("attr-run")
    mp = pytest.MonkeyPatch()
    mp.setenv("XAIPROBE_CACHE", str(root / "cache"))
    data = tiny_faces(40)
    tiny_checkpoint(root / "run" / "checkpoints" / "last.pt", data)
    yield root / "run"
    mp.undo()


def test_attribute_cli_writes_maps_figures_summary(run_dir, capsys):
    ck = run_dir / "checkpoints" / "last.pt"
    rc = main(["attribute", "--checkpoint", str(ck), "--images", "synthfaces:40:0", "--n", "4",
               "--method", "saliency,gradcam", "--sanity-n", "2", "--localization-n", "3", "--split", "all"])
    out = capsys.readouterr().out
    assert rc == 0, out
    stage = run_dir / "attribution"
    assert (stage / "attr_saliency_logit.png").exists() and (stage / "attr_gradcam_logit.svg").exists()
    with h5py.File(stage / "maps_logit.h5") as f:
        assert f["maps/saliency"].shape == (4, 64, 64) and f["maps/saliency"].dtype == np.float32
        assert f["maps/gradcam"].attrs["target"] == "logit"
        assert f["index"].shape == (4,) and f.attrs["format"] == "xaiprobe.attribution"
    summary = json.loads((stage / "summary.json").read_text())
    entry = summary["targets"]["logit"]
    assert entry["sanity"]["steps"] == ["conv5", "conv4", "conv3", "conv2", "conv1"]
    assert {r["method"] for r in entry["localization"]["rows"]} == {"saliency", "gradcam"}
    figs = json.loads((stage / "figures.json").read_text())
    files = {f["file"] for f in figs}
    assert {"attr_saliency_logit.png", "sanity_logit.png", "localization_logit.png"} <= files
    assert all(f["caption"] for f in figs)
    assert "sanity check" in out and "| saliency |" in out


def test_attribute_cli_concept_target_with_probe(run_dir, tmp_path, capsys):
    from xaiprobe.activations.hooks import run_with_cache
    from xaiprobe.data import load_dataset
    from xaiprobe.gan.checkpoint import load_checkpoint
    from xaiprobe.probes.linear import LinearProbe

    ck = run_dir / "checkpoints" / "last.pt"
    D = load_checkpoint(ck).discriminator
    data = load_dataset("synthfaces:40:0")
    _, cache = run_with_cache(D, data.images(), ["conv3"], pooling="mean")
    probe = LinearProbe(C=1.0, max_iter=30).fit(cache["conv3"].numpy(), data.labels, attribute_names=data.attribute_names)
    probe.save(tmp_path / "probe_conv3.pt", layer="conv3", attribute_names=data.attribute_names, pooling="mean")
    rc = main(["attribute", "--checkpoint", str(ck), "--images", "synthfaces:40:0", "--n", "3", "--method", "ig",
               "--steps", "4", "--target", "concept:Smiling@conv3", "--probes", str(tmp_path), "--no-sanity",
               "--localization-n", "2", "--split", "all", "--out", str(tmp_path / "out")])
    assert rc == 0, capsys.readouterr().err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    entry = summary["targets"]["concept-Smiling-conv3"]
    assert entry["target"] == "concept:Smiling@conv3"
    assert {r["concept"] for r in entry["localization"]["rows"]} <= {"Smiling", "Eyeglasses", "Blond_Hair"}
    assert all(r["target"].startswith("concept:") for r in entry["localization"]["rows"])


def test_attribute_cli_bad_input_is_one_line(run_dir, capsys):
    ck = str(run_dir / "checkpoints" / "last.pt")
    assert main(["attribute", "--checkpoint", ck, "--method", "deconv-magic", "--images", "synthfaces:40:0"]) == 2
    err = capsys.readouterr().err
    assert "valid methods are ig, saliency, gradshap, smoothgrad, gradcam, occlusion" in err
    assert err.count("\n") == 1
    assert main(["attribute", "--checkpoint", ck, "--target", "concept:Smiling@conv3", "--images", "synthfaces:40:0"]) == 2
    assert "run `xaiprobe probe --activations FILE` first" in capsys.readouterr().err
    assert main(["attribute", "--checkpoint", ck, "--target", "Smiling", "--images", "synthfaces:40:0"]) == 2
    assert "valid targets are logit and concept:NAME@LAYER" in capsys.readouterr().err


def test_filters_cli(run_dir, capsys):
    ck = run_dir / "checkpoints" / "last.pt"
    rc = main(["filters", "--checkpoint", str(ck), "--data", "synthfaces:40:0", "--layer", "conv2", "--channels", "0:2",
               "--k", "2", "--n", "40", "--steps", "5"])
    out = capsys.readouterr().out
    assert rc == 0, out
    stage = run_dir / "filters"
    for f in ("conv1_filters.png", "maximization_conv2.png", "maximization_trace_conv2.png", "topk_conv2.png", "dissection.png"):
        assert (stage / f).exists(), f
    summary = json.loads((stage / "summary.json").read_text())
    assert summary["dissection"]["layers"] == ["conv1", "conv2", "conv3", "conv4"]
    assert summary["topk"]["receptive_field"] == 10
    assert "dissection" in out


def test_generator_cli(run_dir, capsys):
    ck = run_dir / "checkpoints" / "last.pt"
    rc = main(["generator", "--checkpoint", str(ck), "--dims", "2", "--latents", "2", "--pairs", "2"])
    out = capsys.readouterr().out
    assert rc == 0, out
    stage = run_dir / "generator"
    for f in ("latent_ranking.png", "latent_sweep.png", "generator_features.png", "counterfactual_divergence.png"):
        assert (stage / f).exists(), f
    s = json.loads((stage / "summary.json").read_text())
    assert len(s["ranking"]["pixel_change"]) == 8  # tiny latent size
    assert s["divergence"]["layers"][0] == "pixels"
    assert "counterfactual divergence" in out
    assert main(["generator", "--checkpoint", str(ck), "--pairs", "-1"]) == 2
