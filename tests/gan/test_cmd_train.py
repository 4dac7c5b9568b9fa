import json

import pytest

from xaiprobe.cli.main import main
from xaiprobe.gan import load_checkpoint


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XAIPROBE_CACHE", str(tmp_path / "cache"))


def _one_error_line(capsys, *needles):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("xaiprobe train: error:")
    for n in needles:
        assert n in err
    return err


def test_dry_run_then_refuses_existing_run(tmp_path, capsys):
    out = tmp_path / "runs" / "smoke"
    args = ["train", "--data", "synthfaces:40", "--out", str(out), "--dry-run", "--batch-size", "8", "--device", "cpu"]
    assert main(args) == 0
    assert "checkpoint:" in capsys.readouterr().out
    ck = load_checkpoint(out / "checkpoints" / "last.pt")
    assert ck.epoch == 1 and ck.arch["ngf"] == 8 and ck.data["max_images"] == 16 and len(ck.members) == 16
    assert (out / "samples" / "epoch_001.png").is_file()
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["command"].startswith("xaiprobe train --data synthfaces:40")
    assert main(args) == 2
    _one_error_line(capsys, "--resume", "--out")
    # --resume with a different width is refused; with the same settings there is nothing left to do
    assert main(args + ["--resume", "--ngf", "16"]) == 2
    _one_error_line(capsys, "architecture")
    assert main(args + ["--resume"]) == 0


@pytest.mark.parametrize("extra, needle", [
    (["--epochs", "-1"], "--epochs"),
    (["--batch-size", "0"], "--batch-size"),
    (["--lr", "0"], "--lr"),
    (["--device", "tpu:7"], "device"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, extra, needle):
    assert main(["train", "--data", "synthfaces:12", "--out", str(tmp_path / "r"), "--dry-run", *extra]) == 2
    _one_error_line(capsys, needle)


def test_bad_data_spec_exit_2(tmp_path, capsys):
    assert main(["train", "--data", "nosuchdata:3", "--out", str(tmp_path / "r")]) == 2
    _one_error_line(capsys, "nosuchdata")
