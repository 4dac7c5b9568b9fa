"""`xaiprobe layers`, `xaiprobe extract`, `xaiprobe merge` through xaiprobe.cli.main.main."""
from __future__ import annotations

import numpy as np
import pytest

from xaiprobe.activations import ActivationStore
from xaiprobe.cli.main import main
from xaiprobe.report import Section


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XAIPROBE_CACHE", str(tmp_path / "cache"))


def _one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_layers_table_says_what_each_alias_records(checkpoint, capsys):
    assert main(["layers", "--checkpoint", str(checkpoint)]) == 0
    out = capsys.readouterr().out.splitlines()
    header = out[1].split()
    assert header[:4] == ["alias", "module", "path", "type"] and "records" in header
    conv3 = next(line for line in out if line.startswith("conv3 "))
    assert "main.7" in conv3 and "LeakyReLU" in conv3 and "16x8x8" in conv3
    assert "block output after LeakyReLU (Conv2d → BatchNorm2d → LeakyReLU)" in conv3
    main5 = next(line for line in out if " main.5 " in line)
    assert "Conv2d output, before BatchNorm2d → LeakyReLU" in main5


def test_layers_of_plugin_model(tmp_path, capsys):
    path = tmp_path / "d.py"
    path.write_text("from torch import nn\n"
                    "def make():\n    return nn.Sequential(nn.Conv2d(3, 2, 4, 2, 1), nn.Flatten(), nn.Linear(2*16*16, 1))\n")
    assert main(["layers", "--model", f"{path}:make", "--image-shape", "3,32,32"]) == 0
    out = capsys.readouterr().out
    conv1 = next(line for line in out.splitlines() if line.startswith("conv1 "))
    assert "2x16x16" in conv1 and "Conv2d output (no activation module follows it)" in conv1
    assert "513" in out


def test_layers_flags_come_from_its_config():
    from xaiprobe.activations import LayersConfig
    from xaiprobe.cli.main import build_parser
    from xaiprobe.config import describe

    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    p = sub.choices["layers"]
    flags = {s for a in p._actions for s in a.option_strings} - {"-h", "--help"}
    assert flags == {d["flag"] for d in describe(LayersConfig)}


def test_extract_and_merge(checkpoint, faces, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["extract", "--checkpoint", str(checkpoint), "--layers", "conv2,main.7", "--out", str(run),
                 "--pooling", "mean", "--batch-size", "16", "--split", "train,val"]) == 0  # data: the checkpoint's
    assert "wrote" in capsys.readouterr().out
    with ActivationStore(run / "activations.h5") as s:
        assert s.layers == ["conv2", "conv3"] and set(s.split.tolist()) == {0, 1}
        assert s.attrs["command"] == (f"xaiprobe extract --checkpoint {checkpoint} --layers conv2,main.7 --pooling mean "
                                      "--batch-size 16 --split train,val")
        assert s.attrs["data"]["spec"] == faces.spec
        n, ref, cmd = len(s), s.features("conv3"), s.attrs["command"]
    sec = Section.load(run / "activations")
    assert sec.order == 20 and sec.numbers["images"] == n and sec.numbers["layers"] == 2
    assert sec.command == [cmd]  # the section and the file record the same reproducing command
    layers = sec.tables[1]
    assert [r[0] for r in layers.rows] == ["conv2", "conv3"]
    assert layers.rows[1][layers.columns.index("records")].startswith("block output after LeakyReLU")

    sharded = tmp_path / "sharded"
    for i in range(2):
        assert main(["extract", "--checkpoint", str(checkpoint), "--layers", "all", "--out", str(sharded),
                     "--pooling", "mean", "--split", "train,val", "--shard", f"{i}/2", "--dtype", "float32"]) == 0
    parts = [str(sharded / f"activations.shard-{i}-of-2.h5") for i in range(2)]
    assert main(["merge", "--shards", ",".join(parts), "--out", str(sharded)]) == 0
    with ActivationStore(sharded / "activations.h5") as m:
        assert m.layers == ["conv1", "conv2", "conv3", "conv4", "conv5"]
        np.testing.assert_allclose(m.features("conv3"), ref, rtol=2e-3, atol=1e-3)
    assert Section.load(sharded / "activations").numbers["images"] == n

    gen = tmp_path / "gen"
    assert main(["extract", "--checkpoint", str(checkpoint), "--layers", "conv1", "--out", str(gen),
                 "--generated", "6", "--random-init"]) == 0
    with ActivationStore(gen / "activations.h5") as g:
        assert g.latents.shape == (6, 8) and g.attrs["random_init"]


@pytest.mark.parametrize("argv_tail,match", [
    (["--layers", "conv9"], "valid layers are conv1"),
    ([], "--layers"),
    (["--layers", "conv1", "--shard", "3/2"], "--shard"),
    (["--layers", "conv1", "--pooling", "median"], "pooling"),
    (["--layers", "conv1", "--data", "nosuchdata:xyz"], ""),
    (["--layers", "conv1", "--dtype", "int4"], "--dtype 'int4': not a valid choice"),
    (["--layers", "conv1", "--batch-size", "0"], "--batch-size 0: out of range"),
    (["--layers", "conv1", "--generated", "4", "--data", "synthfaces:8"], "--generated"),
])
def test_extract_bad_input_exit_2_one_line(checkpoint, tmp_path, capsys, argv_tail, match):
    try:
        code = main(["extract", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "run"), *argv_tail])
    except SystemExit as e:  # argparse's own errors
        code = e.code
    assert code == 2
    line = _one_error_line(capsys)
    assert line.startswith("xaiprobe extract") and match in line
    assert not (tmp_path / "run" / "activations.h5").exists() and not (tmp_path / "run" / "activations").exists()


def test_argparse_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        main(["extract", "--layers", "conv1"])
    assert e.value.code == 2
    assert "--out" in _one_error_line(capsys)


def test_model_and_existing_output_errors(checkpoint, tmp_path, capsys):
    assert main(["layers"]) == 2
    assert "--checkpoint" in _one_error_line(capsys)
    assert main(["layers", "--checkpoint", str(tmp_path / "none.pt")]) == 2
    assert "no such file" in _one_error_line(capsys)
    run = tmp_path / "run"
    base = ["extract", "--checkpoint", str(checkpoint), "--layers", "conv1", "--pooling", "mean", "--out", str(run)]
    assert main(base) == 0
    capsys.readouterr()
    assert main(base) == 2
    assert "--overwrite" in _one_error_line(capsys)
    assert main(base + ["--overwrite"]) == 0
    capsys.readouterr()
    out = run / "activations.h5"
    assert main(["merge", "--shards", f"{out},{out}", "--out", str(tmp_path / "m")]) == 2
    assert "overlaps" in _one_error_line(capsys)
