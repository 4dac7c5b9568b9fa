"""Edits z + αd: alpha parsing, grid shapes, the `xaiprobe edit` / `directions` commands and bad input."""
import json

import numpy as np
import pytest
import torch

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.cli.main import main
from xaiprobe.editing import (Directions, edit_images, edit_latents, parse_alphas, plot_edit_grid, run_edit,
                              run_editing)
from xaiprobe.report import Section
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


def test_edit_command_writes_grids(tiny_artifacts, tmp_path):
    rc = main(["edit", "--checkpoint", str(tiny_artifacts.checkpoint), "--directions", str(tiny_artifacts.directions),
               "--attributes", "Smiling", "--alphas=-2:2:5", "--methods", "lstsq,sefa", "--n", "3",
               "--out", str(tmp_path)])
    assert rc == 0
    out = tmp_path / "editing"
    assert (out / "edit_lstsq_Smiling.png").is_file() and (out / "edit_sefa_Smiling.svg").is_file()
    sec = Section.load(out)
    assert {"edit_lstsq_Smiling.png", "edit_sefa_Smiling.png"} <= {f.file for f in sec.figures}
    assert sec.numbers["grids"] == 2 and sec.tables  # no --classifier: the shipped one scores the edits
    results = json.loads((out / "results.json").read_text())
    assert results["alphas"] == [-2, -1, 0, 1, 2] and results["n"] == 3


def test_edit_with_classifier_writes_quality(tiny_artifacts, tmp_path, monkeypatch):
    monkeypatch.setenv("XAIPROBE_CACHE", str(tmp_path / "cache"))
    res = run_edit(tmp_path, checkpoint=tiny_artifacts.checkpoint, directions=tiny_artifacts.directions,
                   attributes="Young,Male", methods="lstsq", quality_methods="lstsq,ganspace", alphas="-1:1:3", n=2,
                   classifier=tiny_artifacts.classifier, n_quality=4)
    s, out = res.summary, tmp_path / "editing"
    assert len(s["quality"]["rows"]) == 4 and s["grids"] == ["edit_lstsq_Young.png", "edit_lstsq_Male.png"]
    assert (out / "quality.csv").read_text().splitlines()[0].startswith("method,attribute,slope")
    assert (out / "entanglement_ganspace.png").is_file()


def _err(capsys):
    return capsys.readouterr().err.strip().splitlines()


def test_edit_bad_input_exit_2(tiny_artifacts, tmp_path, capsys):
    base = ["edit", "--checkpoint", str(tiny_artifacts.checkpoint), "--directions", str(tiny_artifacts.directions),
            "--out", str(tmp_path / "o")]
    assert main(base + ["--attributes", "Bald"]) == 2
    err = _err(capsys)
    assert len(err) == 1 and "'Bald'" in err[0] and "Smiling, Eyeglasses, Young, Male, Blond_Hair" in err[0]
    assert main(base + ["--alphas", "3:3:many"]) == 2
    assert "--alphas '3:3:many'" in _err(capsys)[0]
    assert main(base + ["--methods", "pca"]) == 2
    err = _err(capsys)
    assert len(err) == 1 and "--methods 'pca': not a valid choice" in err[0]
    assert main(base + ["--n", "0"]) == 2
    assert "--n 0: out of range" in _err(capsys)[0]
    assert not (tmp_path / "o" / "editing").exists()


def test_direction_file_from_another_generator(tiny_artifacts, tmp_path, capsys, caplog):
    other = Directions({"lstsq": torch.eye(5, 16)}, ["Smiling", "Eyeglasses", "Young", "Male", "Blond_Hair"], 16, "")
    path = other.save(tmp_path / "nz16.pt")
    rc = main(["edit", "--checkpoint", str(tiny_artifacts.checkpoint), "--directions", str(path),
               "--out", str(tmp_path / "o")])
    assert rc == 2
    err = _err(capsys)
    assert len(err) == 1 and "latent size 16" in err[0] and "nz=8" in err[0]
    same = Directions({"lstsq": torch.eye(5, 8)}, other.attribute_names, 8, "0" * 64).save(tmp_path / "nz8.pt")
    run_edit(tmp_path / "w", checkpoint=tiny_artifacts.checkpoint, directions=same, attributes="Young", n=1,
             alphas="0,1")
    assert "fitted on generator" in caplog.text


def test_directions_command(tiny_artifacts, tmp_path, capsys):
    rc = main(["directions", "--checkpoint", str(tiny_artifacts.checkpoint), "--classifier",
               str(tiny_artifacts.classifier), "--out", str(tmp_path), "--n", "100", "--methods", "lstsq,sefa"])
    assert rc == 0
    d = Directions.load(tmp_path / "directions" / "directions.pt")
    assert d.methods == ["lstsq", "sefa"] and d.nz == 8
    sec = Section.load(tmp_path / "directions")
    assert {k for k in sec.numbers if k.startswith("r2/")} == {f"r2/{a}" for a in d.attribute_names}
    assert sec.numbers["r2/Young"] == d.info["lstsq_r2"]["Young"]
    assert sec.numbers["cosine/sefa/Male"] == d.info["cosine_to_lstsq"]["sefa"]["Male"]
    capsys.readouterr()
    assert main(["directions", "--checkpoint", str(tiny_artifacts.checkpoint), "--classifier",
                 str(tiny_artifacts.classifier), "--out", str(tmp_path), "--methods", "lstsq,umap"]) == 2
    assert "umap" in _err(capsys)[0]
    assert main(["directions", "--checkpoint", str(tmp_path / "nope.pt"), "--classifier",
                 str(tiny_artifacts.classifier), "--out", str(tmp_path)]) == 2
    assert "nope.pt: no such file" in _err(capsys)[0]
    # without --classifier the shipped SynthFaces classifier scores G(z)
    assert main(["directions", "--checkpoint", str(tiny_artifacts.checkpoint), "--n", "40", "--methods", "lstsq",
                 "--out", str(tmp_path / "shipped")]) == 0
    assert "Pale_Skin" in Directions.load(tmp_path / "shipped" / "directions" / "directions.pt").attribute_names


def test_run_editing_writes_both_stages(tiny_artifacts, tmp_path, monkeypatch):
    monkeypatch.setenv("XAIPROBE_CACHE", str(tmp_path / "cache"))
    res = run_editing(tmp_path, tiny_artifacts.checkpoint, tiny_artifacts.classifier, n=100, methods="lstsq,sefa",
                      alphas="-1:1:3", n_grid=2, n_quality=3)
    out = tmp_path / "editing"
    assert (tmp_path / "directions" / "directions.pt").is_file() and (out / "quality.csv").is_file()
    saved = json.loads((out / "results.json").read_text())
    assert saved["directions"]["methods"] == ["lstsq", "sefa"]
    assert {r["method"] for r in saved["quality"]["rows"]} == {"lstsq", "sefa"}
    assert saved["grids"] == [f"edit_lstsq_{a}.png" for a in res.summary["attributes"]]
    assert "Smiling" in saved["quality"]["regions"]  # average SynthFaces mouth mask
    sec = Section.load(out)
    files = {f.file for f in sec.figures}
    assert {"edit_lstsq_Young.png", "entanglement_sefa.png", "edit_slope.png", "logit_paths.png"} <= files
    assert all((out / f).is_file() for f in files)
    for m in ("lstsq", "sefa"):
        assert sec.numbers[f"quality/{m}/mean/leakage"] == pytest.approx(
            np.mean([r["leakage"] for r in saved["quality"]["rows"] if r["method"] == m]))
    assert Section.load(tmp_path / "directions").stage == "directions"
