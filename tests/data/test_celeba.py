"""CelebA layout: SynthFaces export -> reader round trip, packer -> store, and every bad input."""
import numpy as np
import pytest

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.cli.main import main
from xaiprobe.data import (ATTRIBUTES, CELEBA_ATTRIBUTES, load_dataset, load_image_store,
                           read_celeba, render_synthfaces)

N = 40


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    out = tmp_path_factory.mktemp("celeba")
    assert main(["data", "synth", "--n", str(N), "--out", str(out), "--seed", "1"]) == 0
    return out


def test_export_has_celebas_exact_layout(export):
    from PIL import Image

    lines = (export / "list_attr_celeba.txt").read_text().splitlines()
    assert lines[0] == str(N)
    assert lines[1].split() == CELEBA_ATTRIBUTES and len(CELEBA_ATTRIBUTES) == 40
    first = lines[2].split()
    assert first[0] == "000001.jpg" and len(first) == 41 and set(first[1:]) <= {"-1", "1"}
    part = (export / "list_eval_partition.txt").read_text().splitlines()
    assert part[0] == "000001.jpg 0" and len(part) == N
    with Image.open(export / "img_align_celeba" / f"{N:06d}.jpg") as im:
        assert im.size == (178, 218)
    unused = [c + 1 for c, a in enumerate(CELEBA_ATTRIBUTES) if a not in ATTRIBUTES]
    rows = np.array([ln.split()[1:] for ln in lines[2:]], int)
    assert (rows[:, [u - 1 for u in unused]] == -1).all()
    labels = render_synthfaces(N, seed=1, masks=False)[1]
    used = [CELEBA_ATTRIBUTES.index(a) for a in ATTRIBUTES]
    np.testing.assert_array_equal(rows[:, used], np.where(labels > 0, 1, -1))  # real values, 1/-1


def test_read_back_round_trip(export):
    d = read_celeba(export, progress=False)
    pixels, labels, _ = render_synthfaces(N, seed=1, masks=False)
    assert d.attribute_names == ATTRIBUTES[:5]  # the reader's default: the five
    np.testing.assert_array_equal(d.labels, labels[:, :5])
    full = read_celeba(export, attrs=ATTRIBUTES, progress=False)
    assert full.attribute_names == ATTRIBUTES  # every SynthFaces attribute round-trips
    np.testing.assert_array_equal(full.labels, labels)
    err = np.abs(d.pixels.astype(float) - pixels).mean()
    assert err < 6, err  # JPEG + resize, but the same faces
    assert np.abs(d.pixels.astype(float) - pixels[::-1]).mean() > 4 * err
    assert list(np.bincount(d.split, minlength=3)) == [32, 4, 4]
    assert d.spec.startswith("celeba:") and d.image_shape == (3, 64, 64)


def test_attribute_subset_and_box_crop(export):
    d = read_celeba(export, attrs=["Male", "Bald"], crop="box", progress=False)
    assert d.attribute_names == ["Male", "Bald"]
    assert (d.labels[:, 1] == 0).all()
    assert d.spec.endswith(":crop=box:attrs=Male,Bald")
    center = read_celeba(export, progress=False)
    assert np.abs(d.pixels.astype(float) - center.pixels).mean() > 5  # a different crop


def test_pack_store_round_trip(export, tmp_path):
    out = tmp_path / "store.h5"
    assert main(["data", "pack", "--celeba", str(export), "--out", str(out), "--attrs", "Smiling,Male"]) == 0
    ref = read_celeba(export, attrs=["Smiling", "Male"], progress=False)
    d = load_dataset(str(out))
    assert d.attribute_names == ["Smiling", "Male"] and len(d) == N
    np.testing.assert_array_equal(np.asarray(d.pixels[:]), ref.pixels)
    np.testing.assert_array_equal(d.labels, ref.labels)
    np.testing.assert_array_equal(d.split, ref.split)
    rows = np.array([7, 2, 7, 30])
    np.testing.assert_allclose(d.images(rows).numpy(), ref.images(rows).numpy())
    assert d.spec == str(out.resolve()) and d.info["source_spec"] == ref.spec
    assert [p.name for p in tmp_path.iterdir()] == ["store.h5"]  # no temporary left
    d.info["h5file"].close()


def test_celeba_spec_packs_into_cache(export, tmp_path):
    d = load_dataset(f"celeba:{export}:attrs=Young", cache_dir=tmp_path)
    assert d.attribute_names == ["Young"] and len(d) == N
    assert len(list(tmp_path.glob("celeba_*.h5"))) == 1
    again = load_dataset(d.spec, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.labels, d.labels)
    assert again.spec == d.spec
    for x in (d, again):
        x.info["h5file"].close()


def _copy(export, tmp_path):
    import shutil

    dst = tmp_path / "c"
    shutil.copytree(export, dst)
    return dst


def _edit(path, fn):
    lines = path.read_text().splitlines()
    path.write_text("\n".join(fn(lines)) + "\n")


BAD = {
    "wrong_columns": ("list_attr_celeba.txt", lambda ls: ls[:5] + [ls[5].rsplit(" ", 3)[0]] + ls[6:], "columns"),
    "cut_short": ("list_attr_celeba.txt", lambda ls: ls[:-1] + [ls[-1][:30]], "columns"),
    "count_mismatch": ("list_attr_celeba.txt", lambda ls: ls[:-3], "says 40 images"),
    "bad_count_line": ("list_attr_celeba.txt", lambda ls: ["forty"] + ls[1:], "count"),
    "bad_value": ("list_attr_celeba.txt", lambda ls: ls[:2] + [ls[2].replace("-1", " 0", 1)] + ls[3:], "-1"),
    "partition_missing": ("list_eval_partition.txt", lambda ls: ls[:-1], "disagrees"),
    "partition_extra": ("list_eval_partition.txt", lambda ls: ls + ["999999.jpg 0"], "disagrees"),
    "partition_code": ("list_eval_partition.txt", lambda ls: ["000001.jpg 7"] + ls[1:], "malformed"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_annotation_files_name_the_file(export, tmp_path, case, capsys):
    fname, fn, words = BAD[case]
    root = _copy(export, tmp_path)
    _edit(root / fname, fn)
    with pytest.raises(XaiprobeError, match=words) as exc:
        read_celeba(root, progress=False)
    assert fname in str(exc.value)
    assert main(["data", "pack", "--celeba", str(root), "--out", str(tmp_path / "s.h5")]) == 2
    err = capsys.readouterr().err
    assert fname in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "s.h5").exists()


def test_not_celeba_layout(tmp_path, capsys):
    (tmp_path / "img_align_celeba").mkdir()
    with pytest.raises(XaiprobeError, match="list_attr_celeba.txt"):
        read_celeba(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(XaiprobeError, match="layout"):
        read_celeba(empty)
    assert main(["data", "pack", "--celeba", str(empty), "--out", str(tmp_path / "s.h5")]) == 2
    assert str(empty) in capsys.readouterr().err


def test_missing_images_and_unknown_attribute(export, tmp_path, capsys):
    root = _copy(export, tmp_path)
    (root / "img_align_celeba" / "000003.jpg").unlink()
    with pytest.raises(XaiprobeError, match="000003.jpg"):
        read_celeba(root)
    with pytest.raises(XaiprobeError, match="list_attr_celeba.txt.*Smiley"):
        read_celeba(export, attrs=["Smiley"])
    assert main(["data", "pack", "--celeba", str(export), "--out", str(tmp_path / "s.h5"), "--attrs", "Smiley"]) == 2
    assert "Smiley" in capsys.readouterr().err


def test_bad_store(tmp_path):
    bad = tmp_path / "x.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(XaiprobeError, match="x.h5"):
        load_image_store(bad)
    with pytest.raises(XaiprobeError, match="no such file"):
        load_dataset(str(tmp_path / "missing.h5"))
