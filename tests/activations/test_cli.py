"""`xaiprobe layers`, `xaiprobe extract`, `xaiprobe merge` through xaiprobe.cli.main.main."""
from __future__ import annotations

import numpy as np
import pytest

from xaiprobe.activations.store import ActivationStore
from xaiprobe.cli.main import main


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XAIPROBE_CACHE", str(tmp_path / "cache"))


def _one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_layers_table(checkpoint, capsys):
    assert main(["layers", "--checkpoint", str(checkpoint)]) == 0
    out = capsys.readouterr().out
    for word in ("alias", "module path", "conv3", "main.7", "LeakyReLU", "16x8x8", "BatchNorm2d"):
        assert word in out


def test_layers_of_plugin_model(tmp_path, capsys):
    path = tmp_path / "d.py"
    path.write_text("from torch import nn\n"
                    "def make():\n    return nn.Sequential(nn.Conv2d(3, 2, 4, 2, 1), nn.Flatten(), nn.Linear(2*16*16, 1))\n")
    assert main(["layers", "--model", f"{path}:make", "--image-shape", "3,32,32"]) == 0
    out = capsys.readouterr().out
    assert "conv1" in out and "2x16x16" in out and "513" in out


def test_extract_and_merge(checkpoint, faces, tmp_path, capsys):
    out = tmp_path / "acts.h5"
    assert main(["extract", "--checkpoint", str(checkpoint), "--layer", "conv2", "--layer", "main.7", "--out", str(out),
                 "--pooling", "mean", "--batch-size", "16", "--split", "train,val"]) == 0  # data: the checkpoint's spec
    assert "wrote" in capsys.readouterr().out
    with ActivationStore(out) as s:
        assert s.layers == ["conv2", "conv3"] and set(s.split.tolist()) == {0, 1}
        assert s.attrs["command"].startswith("xaiprobe extract --checkpoint") and s.attrs["data"]["spec"] == faces.spec
        ref = s.features("conv3")
    parts = []
    for i in range(2):
        parts.append(str(tmp_path / f"p{i}.h5"))
        assert main(["extract", "--checkpoint", str(checkpoint), "--all-layers", "--out", parts[-1], "--pooling", "mean",
                     "--split", "train,val", "--shard", f"{i}/2", "--dtype", "float32"]) == 0
    assert main(["merge", *parts, "--out", str(tmp_path / "m.h5")]) == 0
    with ActivationStore(tmp_path / "m.h5") as m:
        assert m.layers == ["conv1", "conv2", "conv3", "conv4", "conv5"]
        np.testing.assert_allclose(m.features("conv3"), ref, rtol=2e-3, atol=1e-3)
    assert main(["extract", "--checkpoint", str(checkpoint), "--layer", "conv1", "--out", str(tmp_path / "g.h5"),
                 "--generated", "6", "--random-init"]) == 0
    with ActivationStore(tmp_path / "g.h5") as g:
        assert g.latents.shape == (6, 8) and g.attrs["random_init"]


@pytest.mark.parametrize("argv_tail,match", [
    (["--layer", "conv9"], "valid layers are conv1"),
    ([], "--layer NAME"),
    (["--layer", "conv1", "--shard", "3/2"], "--shard"),
    (["--layer", "conv1", "--pooling", "median"], "pooling"),
    (["--layer", "conv1", "--data", "nosuchdata:xyz"], ""),
    (["--layer", "conv1", "--dtype", "int4"], "invalid choice"),
])
def test_extract_bad_input_exit_2_one_line(checkpoint, tmp_path, capsys, argv_tail, match):
    try:
        code = main(["extract", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "x.h5"), *argv_tail])
    except SystemExit as e:  # argparse's own errors
        code = e.code
    assert code == 2
    line = _one_error_line(capsys)
    assert line.startswith("xaiprobe extract") and match in line
    assert not (tmp_path / "x.h5").exists()


def test_argparse_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        main(["extract", "--layer", "conv1"])
    assert e.value.code == 2
    assert "--out" in _one_error_line(capsys)


def test_model_and_existing_output_errors(checkpoint, tmp_path, capsys):
    assert main(["layers"]) == 2
    assert "--checkpoint" in _one_error_line(capsys)
    assert main(["layers", "--checkpoint", str(tmp_path / "none.pt")]) == 2
    assert "no such file" in _one_error_line(capsys)
    out = tmp_path / "a.h5"
    base = ["extract", "--checkpoint", str(checkpoint), "--layer", "conv1", "--pooling", "mean", "--out", str(out)]
    assert main(base) == 0
    capsys.readouterr()
    assert main(base) == 2
    assert "--overwrite" in _one_error_line(capsys)
    assert main(base + ["--overwrite"]) == 0
    capsys.readouterr()
    assert main(["merge", str(out), str(out), "--out", str(tmp_path / "m.h5")]) == 2
    assert "overlaps" in _one_error_line(capsys)
