"""Data specs: every form loads and its spec reproduces it; bad specs list the valid forms."""
import numpy as np
import pytest

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.cli.main import main
from xaiprobe.data import load_dataset, save_image_store
from xaiprobe.data.registry import parse_celeba_spec
from xaiprobe.testing.data import tiny_faces


def test_synthfaces_specs(tmp_path):
    d = load_dataset("synthfaces:20", cache_dir=tmp_path)
    assert len(d) == 20 and d.spec == "synthfaces:20"
    e = load_dataset("synthfaces:20:0", cache_dir=tmp_path)
    np.testing.assert_array_equal(np.asarray(d.pixels), np.asarray(e.pixels))
    again = load_dataset(d.spec, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.labels, d.labels)


@pytest.mark.parametrize("spec", ["synthface", "synthfaces:abc", "synthfaces:0", "synthfaces:5:1:2",
                                  "celeba:", "folder:", "imagenet", "x.npz"])
def test_bad_specs_list_valid_forms(spec, tmp_path):
    with pytest.raises(XaiprobeError) as exc:
        load_dataset(spec, cache_dir=tmp_path)
    assert spec.split(":")[0] in str(exc.value)


def test_unknown_spec_message_lists_forms():
    with pytest.raises(XaiprobeError, match="synthfaces:N:SEED.*digits.*celeba:DIR.*folder:DIR"):
        load_dataset("mnist")


def test_celeba_spec_parsing():
    assert parse_celeba_spec("/d/x:crop=box:attrs=Male,Young", "s") == ("/d/x", "box", ["Male", "Young"])
    assert parse_celeba_spec("C:/d", "s") == ("C:/d", "center", None)
    with pytest.raises(XaiprobeError, match="crop"):
        parse_celeba_spec("/d:crop=wide", "s")
    with pytest.raises(XaiprobeError, match="option"):
        parse_celeba_spec("/d:size=3", "s")


def test_store_spec_round_trip(tmp_path):
    src = tiny_faces(20, seed=1)
    path = save_image_store(src, tmp_path / "faces.h5")
    d = load_dataset(str(path))
    np.testing.assert_array_equal(d.images(np.array([3, 1])).numpy(), src.images(np.array([3, 1])).numpy())
    np.testing.assert_array_equal(d.labels, src.labels)
    np.testing.assert_array_equal(d.split, src.split)
    assert d.info["source_spec"] == "synthfaces:20:1"
    assert load_dataset(d.spec).labels.shape == (20, 5)


def test_folder_spec(tmp_path, capsys):
    from PIL import Image

    rng = np.random.default_rng(0)
    (tmp_path / "sub").mkdir()
    Image.fromarray(rng.integers(0, 255, (50, 80, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(rng.integers(0, 255, (90, 60, 3), dtype=np.uint8)).save(tmp_path / "sub" / "b.jpg")
    (tmp_path / "notes.txt").write_text("x")
    d = load_dataset(f"folder:{tmp_path}")
    assert len(d) == 2 and d.labels.shape == (2, 0) and (d.split == 2).all()
    assert d.image_shape == (3, 64, 64) and d.spec == f"folder:{tmp_path.resolve()}"
    assert len(load_dataset(d.spec)) == 2
    (tmp_path / "empty").mkdir()
    with pytest.raises(XaiprobeError, match="no .png"):
        load_dataset(f"folder:{tmp_path / 'empty'}")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"nope")
    with pytest.raises(XaiprobeError, match="x.png"):
        load_dataset(f"folder:{tmp_path / 'bad'}")
    assert main(["data", "info", f"folder:{tmp_path / 'empty'}"]) == 2


def test_info_command(tmp_path, capsys):
    assert main(["data", "info", "synthfaces:30", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "train 24, val 3, test 3" in out and "Smiling" in out
    assert main(["data", "info", "nonsense"]) == 2
    assert "valid forms" in capsys.readouterr().err


def test_data_command_bad_arguments(tmp_path, capsys):
    assert main(["data"]) == 2
    assert main(["data", "synth", "--n", "0", "--out", str(tmp_path / "x")]) == 2
    assert "n must be >= 1" in capsys.readouterr().err
    assert main(["data", "pack", "--celeba", str(tmp_path / "nowhere"), "--out", str(tmp_path / "s.h5")]) == 2
    assert "not a directory" in capsys.readouterr().err
