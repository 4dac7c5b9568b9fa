"""`xaiprobe mia`: outputs, and one-line errors with exit code 2."""
import json

import numpy as np
import pytest

from xaiprobe.cli.main import main


def test_cli_writes_results_summary_figures(tiny_ckpt, tmp_path, monkeypatch):
    monkeypatch.setenv("XAIPROBE_CACHE", str(tmp_path / "cache"))  # the checkpoint's data spec is loaded for real
    out = tmp_path / "mia"
    rc = main(["mia", "--checkpoint", str(tiny_ckpt), "--bootstrap", "50", "--out", str(out)])
    assert rc == 0
    results = json.loads((out / "results.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    figures = json.loads((out / "figures.json").read_text())
    assert results["format"] == "xaiprobe.mia" and "logit" in results["attacks"]
    assert 0 <= summary["attacks"]["logit"]["auc"] <= 1
    assert summary["findings"] and summary["tables"][0]["rows"][0][0] == "logit"
    assert summary["command"].startswith("xaiprobe mia --checkpoint")
    files = {f["file"] for f in figures}
    assert {"roc.png", "roc_log.png", "scores_logit.png"} <= files
    for f in files:
        assert (out / f).is_file() and (out / f).with_suffix(".svg").is_file()
    with np.load(out / "scores.npz") as z:
        assert z["logit/index_members"].size == z["logit/scores_members"].size


def test_cli_by_epoch(faces, tmp_path, monkeypatch):
    from xaiprobe.mia import inference
    from xaiprobe.testing.models import tiny_checkpoint

    monkeypatch.setattr(inference, "_load_data", lambda data, ckpt, cache_dir=None: faces)
    ckdir = tmp_path / "run" / "checkpoints"
    for e in (1, 2):
        tiny_checkpoint(ckdir / f"epoch_{e:03d}.pt", faces, seed=e)
    rc = main(["mia", "--checkpoints", str(ckdir), "--bootstrap", "20"])
    assert rc == 0
    out = tmp_path / "run" / "mia"  # default: next to checkpoints/
    summary = json.loads((out / "summary.json").read_text())
    assert summary["by_epoch"]["epochs"] == [1, 2]
    assert (out / "auc_by_epoch.png").is_file()


@pytest.mark.parametrize("argv, match", [
    (["--checkpoint", "/nonexistent/x.pt", "--out", "{tmp}"], "no such file"),
    (["--checkpoint", "{ckpt}", "--calibration-fraction", "1.5", "--out", "{tmp}"], "--calibration-fraction"),
    (["--checkpoint", "{ckpt}", "--members", "/nonexistent/m.npy", "--out", "{tmp}"], "members file"),
    (["--checkpoint", "{nomembers}", "--out", "{tmp}"], "--members FILE.npy"),
    (["--out", "{tmp}"], "--checkpoint"),
    (["--checkpoint", "{ckpt}", "--control-epochs", "3", "--out", "{tmp}"], "only with --control"),
])
def test_cli_bad_input_is_one_line_exit_2(argv, match, tiny_ckpt, no_members_ckpt, faces, tmp_path, capsys,
                                          monkeypatch):
    from xaiprobe.mia import inference

    monkeypatch.setattr(inference, "_load_data", lambda data, ckpt, cache_dir=None: faces)
    argv = [a.format(tmp=tmp_path / "o", ckpt=tiny_ckpt, nomembers=no_members_ckpt) for a in argv]
    rc = main(["mia", *argv])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith("xaiprobe mia: error:") and match in err
