"""The stage end to end through the CLI, and its one-line refusals of bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest

from xaiprobe import XaiprobeError
from xaiprobe.cli.main import main
from xaiprobe.conditional import Config, run, section
from xaiprobe.report import Section

FAST = ["--split", "all", "--n", "32", "--probe-n", "64", "--bootstrap", "20", "--fd-bootstrap", "0",
        "--probe-cs", "0.1"]


def test_cli_runs_end_to_end_and_writes_the_section(artifacts, tmp_path, capsys):
    a = artifacts
    argv = ["aeacgan", "--checkpoint", str(a.main), "--ablation", str(a.ablation), "--dcgan", str(a.dcgan),
            "--classifier", str(a.classifier), *FAST, "--out", str(tmp_path)]
    assert main(argv) == 0
    sec = Section.load(tmp_path / "aeacgan")
    n = sec.numbers
    assert sec.order == 95 and sec.title == "Auto-encoder + auxiliary-classifier GAN"
    assert n["n_attributes"] == 15 and n["n_generated"] >= 32
    for key in ("cond_clf_bacc", "cond_aux_bacc", "real_aux_bacc", "real_clf_bacc", "recon_mae",
                "recon_shuffled_mae", "recon_mean_image_mae", "diversity_aeacgan", "diversity_ablation"):
        assert 0 <= n[key] <= 2, key
    for key in ("fd_aeacgan", "fd_ablation", "fd_dcgan", "fd_real", "recall_aeacgan", "n_readable",
                "probe_gain_dcgan_mean", "probe_gain_random_mean", "recon_mae_ablation", "ablation_matched",
                "probe_best_dcgan_Smiling", "probe_best_pixels_Smiling"):
        assert key in n, key
    assert n["ablation_matched"] == 1
    # untrained networks: conditional accuracy sits at chance with an interval
    assert abs(n["cond_clf_bacc"] - 0.5) < 0.15 and n["cond_clf_bacc_lo"] <= n["cond_clf_bacc_hi"]
    for f in sec.figures:
        assert (tmp_path / "aeacgan" / f.file).is_file(), f.file
    assert {f.file for f in sec.figures} == {"conditional.png", "probes.png", "quality.png", "cond_grid.png",
                                             "reconstructions.png"}
    assert sec.command[0].startswith("xaiprobe aeacgan --checkpoint")
    res = json.loads((tmp_path / "aeacgan" / "results.json").read_text())
    assert res["format"] == "xaiprobe.aeacgan" and len(res["probes"]["rows"]) == 4 + 4 + 4 + 4 + 1 + 1
    out = capsys.readouterr().out
    assert "Conditional generation" in out


def test_trained_checkpoint_through_the_api_with_a_classifier_module(artifacts, tmp_path):
    a = artifacts
    cfg = Config(checkpoint=str(a.trained), classifier_model=a.classifier_model, split="all", n=32, probe_n=48,
                 bootstrap=20, fd_bootstrap=0, probe_cs=(0.1,))
    sec = section(run(cfg, tmp_path))
    n = sec.numbers
    assert np.isfinite(n["cond_clf_bacc"]) and np.isfinite(n["recon_mae"])
    assert "fd_dcgan" not in n and "diversity_ablation" not in n  # optional comparisons left out
    assert "--ablation" in " ".join(sec.findings)
    assert cfg.command().startswith("xaiprobe aeacgan --checkpoint")


def _one_line_exit_2(argv, capsys, *needles):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.mark.parametrize("case", ["dcgan_as_checkpoint", "ablation_of_another_arch", "ablation_with_autoencoder",
                                  "classifier_lacks_attributes"])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(artifacts, tmp_path, capsys, case):
    a = artifacts
    args = {"--checkpoint": a.main, "--classifier": a.classifier}
    needles = {"dcgan_as_checkpoint": ("--checkpoint", "not an AE-ACGAN"),
               "ablation_of_another_arch": ("--ablation", "not an AE-ACGAN"),
               "ablation_with_autoencoder": ("--ablation", "--no-autoencoder"),
               "classifier_lacks_attributes": ("--classifier", "lacks attributes", "Black_Hair")}[case]
    if case == "dcgan_as_checkpoint":
        args["--checkpoint"] = a.dcgan
    elif case == "ablation_of_another_arch":
        args["--ablation"] = a.dcgan
    elif case == "ablation_with_autoencoder":
        args["--ablation"] = a.same
    else:
        args["--classifier"] = a.classifier5
    argv = ["aeacgan", *[s for k, v in args.items() for s in (k, str(v))], *FAST, "--out", str(tmp_path)]
    _one_line_exit_2(argv, capsys, *needles)
    assert not (tmp_path / "aeacgan").exists()


def test_config_refusals():
    with pytest.raises(XaiprobeError, match="--pooling"):
        Config(checkpoint="x.pt", pooling="avgx")
    with pytest.raises(XaiprobeError, match="--n 4: out of range"):
        Config(checkpoint="x.pt", n=4)
    with pytest.raises(XaiprobeError, match="--fd-bootstrap 5: an interval needs at least 10"):
        Config(checkpoint="x.pt", fd_bootstrap=5)
    with pytest.raises(XaiprobeError, match="not both"):
        Config(checkpoint="x.pt", classifier="c.pt", classifier_model=object())
