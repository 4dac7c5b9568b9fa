"""`xaiprobe attribute / filters / generator` end to end on a tiny checkpoint, through the CLI
generated from their Configs."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from xaiprobe.cli.main import main
from xaiprobe.report import Section


def _probe(ck, tmp_path):
    """probe_conv3.pt of a linear probe trained on the tiny D's conv3 (mean-pooled)."""
    from xaiprobe.activations.hooks import run_with_cache
    from xaiprobe.data import load_dataset
    from xaiprobe.gan.checkpoint import load_checkpoint
    from xaiprobe.probes import LinearProbe

    data = load_dataset("synthfaces:40:0")
    _, cache = run_with_cache(load_checkpoint(ck).discriminator, data.images(), ["conv3"], pooling="mean")
    probe = LinearProbe(C=1.0, max_iter=30).fit(cache["conv3"].numpy(), data.labels,
                                                attribute_names=data.attribute_names)
    probe.save(tmp_path / "probe_conv3.pt", layer="conv3", attribute_names=data.attribute_names, pooling="mean")
    return tmp_path


def test_attribute_cli_writes_maps_figures_and_section(tiny_run, tmp_path):
    ck = tiny_run / "checkpoints" / "last.pt"
    rc = main(["attribute", "--checkpoint", str(ck), "--images", "synthfaces:40:0", "--n", "4",
               "--methods", "saliency,gradcam", "--sanity-n", "2", "--localization-n", "3", "--split", "all",
               "--out", str(tmp_path)])
    assert rc == 0
    stage = tmp_path / "attribution"
    assert (stage / "attr_saliency_logit.png").exists() and (stage / "attr_gradcam_logit.svg").exists()
    with h5py.File(stage / "maps_logit.h5") as f:
        assert f["maps/saliency"].shape == (4, 64, 64) and f["maps/saliency"].dtype == np.float32
        assert f["maps/gradcam"].attrs["target"] == "logit"
        assert f["index"].shape == (4,) and f.attrs["format"] == "xaiprobe.attribution"
    sec = Section.load(stage)
    assert (sec.stage, sec.order) == ("attribution", 50)
    entry = json.loads((stage / "targets.json").read_text())["targets"]["logit"]
    assert entry["sanity"]["steps"] == ["conv5", "conv4", "conv3", "conv2", "conv1"]
    for m in ("saliency", "gradcam"):  # the numbers are the measured ones
        assert sec.numbers[f"sanity/logit/{m}/rho"] == pytest.approx(
            entry["sanity"]["spearman"][entry["sanity"]["methods"].index(m)][-1])
        assert sec.numbers[f"sanity/logit/{m}/flagged"] is (sec.numbers[f"sanity/logit/{m}/rho"] > 0.5)
    assert {k.split("/")[3] for k in sec.numbers if k.startswith("localization/logit/")} == {"saliency", "gradcam"}
    files = {f.file for f in sec.figures}
    assert {"attr_saliency_logit.png", "sanity_logit.png", "localization_logit.png"} <= files
    assert all(f.caption and (stage / f.file).is_file() for f in sec.figures)
    assert sec.command == [f"xaiprobe attribute --checkpoint {ck} --images synthfaces:40:0 --n 4 --split all "
                           "--methods saliency,gradcam --sanity-n 2 --localization-n 3"]


def test_attribute_cli_concept_target_with_probe(tiny_run, tmp_path):
    ck = tiny_run / "checkpoints" / "last.pt"
    probes = _probe(ck, tmp_path)
    rc = main(["attribute", "--checkpoint", str(ck), "--images", "synthfaces:40:0", "--n", "3", "--methods", "ig",
               "--steps", "4", "--target", "concept:Smiling@conv3", "--probes", str(probes), "--no-sanity",
               "--localization-n", "2", "--split", "all", "--out", str(tmp_path / "run")])
    assert rc == 0
    sec = Section.load(tmp_path / "run" / "attribution")
    concepts = {k.split("/")[2] for k in sec.numbers if k.startswith("localization/")}
    assert concepts and concepts <= {"Smiling", "Eyeglasses", "Blond_Hair"}
    assert not any(k.startswith("sanity/") for k in sec.numbers)
    assert "--no-sanity" in sec.command[0] and "--target concept:Smiling@conv3" in sec.command[0]


@pytest.mark.parametrize("argv, match", [
    (["--methods", "deconv-magic"], "--methods 'deconv-magic': not a valid choice; use one of ig, saliency"),
    (["--target", "concept:Smiling@conv3"], "run `xaiprobe probe --activations FILE` first"),
    (["--target", "Smiling"], "valid targets are logit, concept:NAME@LAYER"),
    (["--target", "aux:Smiling"], "has no auxiliary attribute head"),
    (["--n", "0"], "--n 0: out of range; must be ≥ 1"),
    (["--localization", "sometimes"], "--localization 'sometimes': not a valid choice"),
])
def test_attribute_cli_bad_input_is_one_line_and_writes_nothing(tiny_run, tmp_path, capsys, argv, match):
    ck = str(tiny_run / "checkpoints" / "last.pt")
    assert main(["attribute", "--checkpoint", ck, "--images", "synthfaces:40:0", *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1
    assert not (tmp_path / "attribution").exists()


def test_filters_cli(tiny_run, tmp_path):
    ck = tiny_run / "checkpoints" / "last.pt"
    rc = main(["filters", "--checkpoint", str(ck), "--data", "synthfaces:40:0", "--layer", "conv2", "--channels", "0:2",
               "--k", "2", "--n", "40", "--steps", "5", "--out", str(tmp_path)])
    assert rc == 0
    stage = tmp_path / "filters"
    sec = Section.load(stage)
    assert all((stage / f.file).is_file() for f in sec.figures)
    assert {f.file for f in sec.figures} == {"conv1_filters.png", "maximization_conv2.png",
                                             "maximization_trace_conv2.png", "topk_conv2.png", "dissection.png"}
    assert sec.numbers["topk/receptive_field"] == 10
    assert [k for k in sec.numbers if k.endswith("/units")] == [f"dissection/conv{i}/units" for i in range(1, 5)]
    assert main(["filters", "--checkpoint", str(ck), "--quantile", "1", "--out", str(tmp_path / "q")]) == 2
    assert main(["filters", "--checkpoint", str(ck), "--channels", "a:b", "--out", str(tmp_path / "q")]) == 2
    assert not (tmp_path / "q" / "filters").exists()


def test_generator_cli(tiny_run, tmp_path, capsys):
    ck = tiny_run / "checkpoints" / "last.pt"
    rc = main(["generator", "--checkpoint", str(ck), "--dims", "2", "--latents", "2", "--pairs", "2",
               "--out", str(tmp_path)])
    assert rc == 0
    stage = tmp_path / "generator"
    sec = Section.load(stage)
    assert {f.file for f in sec.figures} == {"latent_ranking.png", "latent_sweep.png", "generator_features.png",
                                             "counterfactual_divergence.png"}
    assert len([k for k in sec.numbers if k.startswith("ranking/pixel_change/")]) == 8  # tiny latent size
    results = json.loads((stage / "results.json").read_text())
    assert results["divergence"]["layers"][0] == "pixels"
    assert sec.numbers["ranking/top_pixel_change"] == max(results["ranking"]["pixel_change"].values())
    capsys.readouterr()
    assert main(["generator", "--checkpoint", str(ck), "--pairs", "-1", "--out", str(tmp_path)]) == 2
    assert "--pairs -1: out of range; must be ≥ 0" in capsys.readouterr().err


def test_generator_takes_the_classifier_as_a_file_or_an_object(tiny_run, tmp_path):
    import torch

    from xaiprobe.attribution import run_generator
    from xaiprobe.data import DEFAULT_ATTRIBUTES
    from xaiprobe.editing import AttributeClassifier, save_classifier

    torch.manual_seed(0)
    clf = AttributeClassifier(DEFAULT_ATTRIBUTES, width=4).eval()
    path = save_classifier(tmp_path / "clf.pt", clf, metrics={})
    ck = tiny_run / "checkpoints" / "last.pt"
    assert main(["generator", "--checkpoint", str(ck), "--dims", "2", "--latents", "2", "--pairs", "0",
                 "--classifier", str(path), "--out", str(tmp_path / "a")]) == 0
    by_file = Section.load(tmp_path / "a" / "generator")
    run_generator(tmp_path / "b", checkpoint=ck, dims=2, latents=2, pairs=0, classifier_model=clf)
    by_object = Section.load(tmp_path / "b" / "generator")
    for a in DEFAULT_ATTRIBUTES:
        assert by_file.numbers[f"ranking/{a}/change"] == pytest.approx(by_object.numbers[f"ranking/{a}/change"])
    assert "--classifier" in by_file.command[0] and by_object.command == []  # an object has no command line
