"""Edits z + αd: alpha parsing, grid shapes, the `xaiprobe edit` / `directions` commands and bad input."""
import json

import numpy as np
import pytest
import torch

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.cli.main import main
from xaiprobe.editing.directions import Directions
from xaiprobe.editing.edits import edit_images, edit_latents, parse_alphas, run_edit
from xaiprobe.editing.plots import plot_edit_grid
from xaiprobe.testing.models import tiny_dcgan


def test_parse_alphas():
    np.testing.assert_allclose(parse_alphas("-3:3:7"), [-3, -2, -1, 0, 1, 2, 3])
    np.testing.assert_allclose(parse_alphas("-2, 0.5,4"), [-2, 0.5, 4])
    np.testing.assert_allclose(parse_alphas([1, 2]), [1, 2])
    for bad in ["a:b:c", "-3:3:x", "-3:3:2.5", "1:2", "one,two", "", "nan", "1,inf"]:
        with pytest.raises(XaiprobeError, match="alphas"):
            parse_alphas(bad)


def test_edit_latents_and_grid_shape():
    z = torch.randn(4, 8)
    d = torch.zeros(8)
    d[2] = 1
    zz = edit_latents(z, d, [-1, 0, 2])
    assert zz.shape == (4, 3, 8)
    torch.testing.assert_close(zz[:, 2, 2] - zz[:, 1, 2], torch.full((4,), 2.0))
    torch.testing.assert_close(zz[:, :, 0], z[:, None, 0].expand(4, 3))
    with pytest.raises(XaiprobeError, match="dimensions"):
        edit_latents(z, torch.zeros(5), [1])
    G, _ = tiny_dcgan(0)
    imgs = edit_images(G.eval(), z, d, [-1, 0, 2])
    assert imgs.shape == (4, 3, 3, 64, 64)
    fig, ax = plot_edit_grid(imgs, [-1, 0, 2], title="x")
    assert len(ax.get_xticklabels()) == 3
    H, W = ax.images[0].get_array().shape[:2]
    assert (H, W) == (2 + 4 * 66, 2 + 3 * 66)


def test_edit_command_writes_grids(tiny_artifacts, tmp_path, capsys):
    out = tmp_path / "edit"
    rc = main(["edit", "--checkpoint", str(tiny_artifacts.checkpoint), "--directions", str(tiny_artifacts.directions),
               "--attr", "Smiling", "--alphas", "-2:2:5", "--method", "lstsq,sefa", "--n", "3", "--out", str(out)])
    assert rc == 0
    assert (out / "edit_lstsq_Smiling.png").is_file() and (out / "edit_sefa_Smiling.svg").is_file()
    figs = json.loads((out / "figures.json").read_text())
    assert {f["file"] for f in figs} == {"edit_lstsq_Smiling.png", "edit_sefa_Smiling.png"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["alphas"] == [-2, -1, 0, 1, 2] and summary["n"] == 3


def test_edit_with_classifier_writes_quality(tiny_artifacts, tmp_path, monkeypatch):
    monkeypatch.setenv("XAIPROBE_CACHE", str(tmp_path / "cache"))
    s = run_edit(tiny_artifacts.checkpoint, tiny_artifacts.directions, tmp_path, attributes="Young,Male",
                 methods="lstsq", quality_methods="lstsq,ganspace", alphas="-1:1:3", n=2,
                 classifier=tiny_artifacts.classifier, n_quality=4, progress=False)
    assert len(s["quality"]["rows"]) == 4 and s["grids"] == ["edit_lstsq_Young.png", "edit_lstsq_Male.png"]
    assert (tmp_path / "quality.csv").read_text().splitlines()[0].startswith("method,attribute,slope")
    assert (tmp_path / "entanglement_ganspace.png").is_file()


def _err(capsys):
    return capsys.readouterr().err.strip().splitlines()


def test_edit_bad_input_exit_2(tiny_artifacts, tmp_path, capsys):
    base = ["edit", "--checkpoint", str(tiny_artifacts.checkpoint), "--directions", str(tiny_artifacts.directions),
            "--out", str(tmp_path / "o")]
    assert main(base + ["--attr", "Bald"]) == 2
    err = _err(capsys)
    assert len(err) == 1 and "'Bald'" in err[0] and "Smiling, Eyeglasses, Young, Male, Blond_Hair" in err[0]
    assert main(base + ["--alphas", "-3:3:many"]) == 2
    assert "alphas" in _err(capsys)[0]
    assert main(base + ["--method", "pca"]) == 2
    err = _err(capsys)
    assert len(err) == 1 and "'pca'" in err[0] and "it has lstsq, svm" in err[0]


def test_direction_file_from_another_generator(tiny_artifacts, tmp_path, capsys, caplog):
    other = Directions({"lstsq": torch.eye(5, 16)}, ["Smiling", "Eyeglasses", "Young", "Male", "Blond_Hair"], 16, "")
    path = other.save(tmp_path / "nz16.pt")
    rc = main(["edit", "--checkpoint", str(tiny_artifacts.checkpoint), "--directions", str(path),
               "--out", str(tmp_path / "o")])
    assert rc == 2
    err = _err(capsys)
    assert len(err) == 1 and "latent size 16" in err[0] and "nz=8" in err[0]
    same = Directions({"lstsq": torch.eye(5, 8)}, other.attribute_names, 8, "0" * 64)
    run_edit(tiny_artifacts.checkpoint, same, tmp_path / "w", attributes="Young", n=1, alphas="0,1")
    assert "fitted on generator" in caplog.text


def test_directions_command(tiny_artifacts, tmp_path, capsys):
    out = tmp_path / "d.pt"
    rc = main(["directions", "--checkpoint", str(tiny_artifacts.checkpoint), "--classifier",
               str(tiny_artifacts.classifier), "--out", str(out), "--n", "100", "--methods", "lstsq,sefa"])
    assert rc == 0
    d = Directions.load(out)
    assert d.methods == ["lstsq", "sefa"] and d.nz == 8
    assert "held-out R2" in capsys.readouterr().out
    assert main(["directions", "--checkpoint", str(tiny_artifacts.checkpoint), "--classifier",
                 str(tiny_artifacts.classifier), "--out", str(out), "--methods", "lstsq,umap"]) == 2
    assert "umap" in _err(capsys)[0]
    assert main(["directions", "--checkpoint", str(tmp_path / "nope.pt"), "--classifier",
                 str(tiny_artifacts.classifier), "--out", str(out)]) == 2


def test_run_editing_writes_the_stage(tiny_artifacts, tmp_path, monkeypatch):
    from xaiprobe.editing.edits import run_editing

    monkeypatch.setenv("XAIPROBE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "editing"
    s = run_editing(tiny_artifacts.checkpoint, tiny_artifacts.classifier, out, n=100, methods="lstsq,sefa",
                    alphas="-1:1:3", n_grid=2, n_quality=3, progress=False)
    assert (out / "directions.pt").is_file() and (out / "quality.csv").is_file()
    saved = json.loads((out / "summary.json").read_text())
    assert saved["directions"]["methods"] == ["lstsq", "sefa"]
    assert {r["method"] for r in saved["quality"]["rows"]} == {"lstsq", "sefa"}
    assert saved["grids"] == [f"edit_lstsq_{a}.png" for a in s["attributes"]]
    assert "Smiling" in saved["quality"]["regions"]  # average SynthFaces mouth mask
    files = {f["file"] for f in json.loads((out / "figures.json").read_text())}
    assert {"edit_lstsq_Young.png", "entanglement_sefa.png", "edit_slope.png", "logit_paths.png"} <= files
    assert all((out / f).is_file() for f in files)
