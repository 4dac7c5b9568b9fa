"""`xaiprobe mia`: outputs and section numbers, and one-line errors with exit code 2."""
import json

import numpy as np
import pytest

from xaiprobe.cli.main import main
from xaiprobe.report import Section


@pytest.fixture
def no_data_loading(monkeypatch, faces):
    """The checkpoints' data spec is the session's tiny faces (no rendering)."""
    from xaiprobe.mia import _stage

    monkeypatch.setattr(_stage, "load_data", lambda data, ckpt, cache_dir=None: faces)


def test_cli_writes_results_scores_figures_and_section(tiny_ckpt, tmp_path, no_data_loading):
    assert main(["mia", "--checkpoint", str(tiny_ckpt), "--bootstrap", "50", "--out", str(tmp_path)]) == 0
    out = tmp_path / "mia"
    results = json.loads((out / "results.json").read_text())
    sec = Section.load(out)
    assert results["format"] == "xaiprobe.mia" and "logit" in results["attacks"]
    logit = results["attacks"]["logit"]
    assert sec.numbers["logit/auc"] == logit["metrics"]["auc"] and 0 <= sec.numbers["logit/auc"] <= 1
    assert [sec.numbers["logit/auc_lo"], sec.numbers["logit/auc_hi"]] == logit["ci"]["auc"]
    assert sec.tables[0].rows[0][0] == "logit"
    assert sec.command == [f"xaiprobe mia --checkpoint {tiny_ckpt} --bootstrap 50"]
    files = {f.file for f in sec.figures}
    assert {"roc.png", "roc_log.png", "scores_logit.png"} <= files
    for f in files:
        assert (out / f).is_file() and (out / f).with_suffix(".svg").is_file()
    with np.load(out / "scores.npz") as z:
        assert z["logit/index_members"].size == z["logit/scores_members"].size


def test_cli_by_epoch(faces, tmp_path, no_data_loading):
    from xaiprobe.testing.models import tiny_checkpoint

    ckdir = tmp_path / "run" / "checkpoints"
    for e in (1, 2):
        tiny_checkpoint(ckdir / f"epoch_{e:03d}.pt", faces, seed=e)
    assert main(["mia", "--checkpoints", str(ckdir), "--bootstrap", "20", "--out", str(tmp_path / "run")]) == 0
    out = tmp_path / "run" / "mia"
    sec = Section.load(out)
    assert [k for k in sec.numbers if k.startswith("by_epoch/")] == ["by_epoch/1/auc", "by_epoch/2/auc"]
    assert (out / "auc_by_epoch.png").is_file()


@pytest.mark.parametrize("argv, match", [
    (["--checkpoint", "/nonexistent/x.pt"], "no such file"),
    (["--checkpoint", "{ckpt}", "--calibration-fraction", "1.5"], "--calibration-fraction 1.5: out of range"),
    (["--checkpoint", "{ckpt}", "--members", "/nonexistent/m.npy"], "members file"),
    (["--checkpoint", "{nomembers}"], "--members FILE.npy"),
    ([], "--checkpoint: required"),
    (["--checkpoint", "{ckpt}", "--control-epochs", "3"], "only with --control"),
    (["--checkpoint", "{ckpt}", "--bootstrap", "-1"], "--bootstrap -1: out of range"),
])
def test_cli_bad_input_is_one_line_exit_2(argv, match, tiny_ckpt, no_members_ckpt, tmp_path, capsys,
                                          no_data_loading):
    argv = [a.format(ckpt=tiny_ckpt, nomembers=no_members_ckpt) for a in argv]
    rc = main(["mia", *argv, "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith("xaiprobe mia: error:") and match in err
    assert not (tmp_path / "mia").exists()
