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
    capsys.readouterr()
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


def _listing(root):
    return sorted((str(p.relative_to(root)), p.stat().st_mtime_ns) for p in root.rglob("*")) if root.exists() else []


@pytest.mark.parametrize("extra, needles", [
    (["--epochs", "0"], ["--epochs 0", "≥ 1"]),
    (["--arch", "gan2"], ["--arch 'gan2'", "dcgan, aeacgan"]),
    (["--arch", "aeacgan", "--ngf", "8"], ["--ngf", "--width"]),
    (["--arch", "dcgan", "--d-noise", "0.1"], ["--d-noise", "--arch aeacgan"]),
    (["--exclude", "Eyeglasses=2"], ["--exclude", "0 or 1"]),
    (["--exclude", "Beard"], ["--exclude Beard", "Smiling"]),
    (["--arch", "aeacgan", "--real-label", "1.5"], ["--real-label"]),
])
def test_bad_input_writes_nothing(tmp_path, capsys, extra, needles):
    out = tmp_path / "r"
    assert main(["train", "--data", "synthfaces:12", "--out", str(out), "--dry-run", "--device", "cpu", *extra]) == 2
    _one_error_line(capsys, *needles)
    assert not out.exists()


def test_aeacgan_cli_run_resume_and_refusals(tmp_path, capsys, monkeypatch):
    from xaiprobe.data import load_synthfaces

    out = tmp_path / "ae"
    base = ["train", "--data", "synthfaces:40", "--out", str(out), "--batch-size", "8", "--device", "cpu",
            "--max-images", "16", "--width", "0.125", "--nz", "8"]
    assert main(base + ["--arch", "aeacgan", "--epochs", "1", "--exclude", "Male=1"]) == 0
    from xaiprobe.report import Section

    sec = Section.load(out / "train")
    assert sec.numbers["epoch"] == 1 and sec.numbers["members"] == 16
    ck = load_checkpoint(out / "checkpoints" / "last.pt")
    data = load_synthfaces(40)
    male = data.labels[:, data.attribute_names.index("Male")]
    assert ck.kind == "aeacgan" and ck.data["exclude"] == ["Male=1"] and (male[ck.members] == 0).all()
    assert ck.arch["n_attributes"] == len(data.attribute_names)
    # --resume without --arch continues the AE-ACGAN run
    assert main(base + ["--epochs", "2", "--exclude", "Male=1", "--resume"]) == 0
    assert load_checkpoint(out / "checkpoints" / "last.pt").epoch == 2
    capsys.readouterr()
    before = _listing(out)
    # an AE-ACGAN run resumed as a DCGAN, or a changed render version: refused, nothing written
    assert main(["train", "--data", "synthfaces:40", "--out", str(out), "--arch", "dcgan", "--resume",
                 "--epochs", "3", "--max-images", "16", "--exclude", "Male=1"]) == 2
    _one_error_line(capsys, "AE-ACGAN run, not a DCGAN run", "--arch aeacgan")
    from xaiprobe.data import synthcache

    monkeypatch.setattr(synthcache, "RENDER_VERSION", 999)
    assert main(base + ["--epochs", "3", "--exclude", "Male=1", "--resume"]) == 2
    _one_error_line(capsys, "render version 999")
    assert _listing(out) == before


def test_dcgan_resumed_as_aeacgan_and_other_attribute_count(tmp_path, capsys, coloured):
    from xaiprobe.data.store import save_image_store

    store = tmp_path / "colour.h5"
    save_image_store(coloured, store)
    out = tmp_path / "d"
    base = ["train", "--data", str(store), "--out", str(out), "--device", "cpu", "--batch-size", "16"]
    assert main(base + ["--dry-run"]) == 0
    capsys.readouterr()
    before = _listing(out)
    assert main(base + ["--resume", "--epochs", "2", "--arch", "aeacgan", "--max-images", "32"]) == 2
    _one_error_line(capsys, "DCGAN run, not an AE-ACGAN run")
    # the same store path with a third attribute
    more = coloured.subset(range(len(coloured)))
    more.labels = __import__("numpy").concatenate([more.labels, more.labels[:, :1]], 1)
    more.attribute_names = ["Red", "Coin", "Red2"]
    save_image_store(more, store)
    assert main(base + ["--resume", "--epochs", "2", "--max-images", "32", "--nz", "16", "--ngf", "8",
                        "--ndf", "8"]) == 2
    _one_error_line(capsys, "3 attributes", "trained on 2")
    assert _listing(out) == before
