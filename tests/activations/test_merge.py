"""Shards (--shard i/n) and merge_shards (HDF5 virtual datasets)."""
from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.activations import ActivationStore, extract_activations, merge_shards


def _extract(checkpoint, faces, out, **kw):
    kw = {"layers": ["conv1", "conv3"], "batch_size": 8, "progress": False, **kw}
    return extract_activations(checkpoint, faces, out, **kw)


def test_merged_shards_equal_single_file(checkpoint, faces, tmp_path, monkeypatch):
    single = _extract(checkpoint, faces, tmp_path / "single.h5", splits="train,test", compression="gzip")
    d = tmp_path / "shards"
    shards = [_extract(checkpoint, faces, d / f"part{i}.h5", splits="train,test", compression="gzip", shard=(i, 3))
              for i in range(3)]
    sizes = []
    for p in shards:
        with h5py.File(p, "r") as f:
            sizes.append(int(f.attrs["n_rows"]))
            assert int(f.attrs["shard_count"]) == 3
    assert sum(sizes) == len(faces.rows_of(["train", "test"])) and max(sizes) - min(sizes) <= 1
    merged = merge_shards(shards[::-1], tmp_path / "merged.h5")
    with h5py.File(merged, "r") as f:
        assert f["layers/conv1/activations"].is_virtual and f["labels"].is_virtual
    monkeypatch.chdir(d)  # shards are referenced relative to the merged file, not the cwd
    with ActivationStore(merged) as m, ActivationStore(single) as s:
        assert m.layers == s.layers and len(m) == len(s)
        for name in ("index", "split", "member", "labels", "logits"):
            assert np.array_equal(getattr(m, name), getattr(s, name)), name
        for layer in s.layers:
            assert np.array_equal(m[layer][:], s[layer][:])
            assert np.array_equal(m.features(layer, rows=[9, 0, 3]), s.features(layer, rows=[9, 0, 3]))
            assert m.layer_attrs(layer) == s.layer_attrs(layer)
        assert m.attribute_names == s.attribute_names and m.attrs["data"] == s.attrs["data"]
        assert m.attrs["checkpoint_sha256"] == s.attrs["checkpoint_sha256"]


def test_moving_merged_with_shards_keeps_working(checkpoint, faces, tmp_path):
    d = tmp_path / "a"
    shards = [_extract(checkpoint, faces, d / f"p{i}.h5", shard=(i, 2)) for i in range(2)]
    merge_shards(shards, d / "m.h5")
    moved = tmp_path / "b"
    os.rename(d, moved)
    with ActivationStore(moved / "m.h5") as m:
        assert len(m) == len(faces) and np.isfinite(m.features("conv3")).all()
    (moved / "p1.h5").unlink()
    with pytest.raises(XaiprobeError, match="shard.*missing"):
        ActivationStore(moved / "m.h5")


def test_generated_shards_share_latents(checkpoint, tmp_path):
    full = extract_activations(checkpoint, None, tmp_path / "g.h5", layers="conv2", pooling="mean", generated=10,
                               seed=5, batch_size=4, progress=False)
    parts = [extract_activations(checkpoint, None, tmp_path / f"g{i}.h5", layers="conv2", pooling="mean",
                                 generated=10, seed=5, batch_size=3, shard=(i, 2), progress=False) for i in range(2)]
    m = merge_shards(parts, tmp_path / "gm.h5")
    with ActivationStore(m) as a, ActivationStore(full) as b:
        assert np.array_equal(a.latents, b.latents) and np.array_equal(a.index, b.index)
        np.testing.assert_allclose(a.features("conv2"), b.features("conv2"), rtol=1e-3)


def test_merge_refuses_bad_sets(checkpoint, faces, tmp_path, monkeypatch):
    p = [_extract(checkpoint, faces, tmp_path / f"p{i}.h5", shard=(i, 3)) for i in range(3)]
    with pytest.raises(XaiprobeError, match="missing"):
        merge_shards([p[0], p[2]], tmp_path / "m.h5")
    with pytest.raises(XaiprobeError, match="overlaps"):
        merge_shards([p[0], p[1], p[1], p[2]], tmp_path / "m.h5")
    other = _extract(checkpoint, faces, tmp_path / "other.h5", layers=["conv2"], shard=(1, 3))
    with pytest.raises(XaiprobeError, match="differs.*layers"):
        merge_shards([p[0], other, p[2]], tmp_path / "m.h5")
    with h5py.File(p[1], "r+") as f:
        f.attrs["complete"] = False
    with pytest.raises(XaiprobeError, match="incomplete"):
        merge_shards(p, tmp_path / "m.h5")
    with pytest.raises(XaiprobeError, match="no shard files"):
        merge_shards([], tmp_path / "m.h5")
    assert not (tmp_path / "m.h5").exists() and not (tmp_path / "m.h5.partial").exists()


def test_merge_refuses_while_another_run_writes_the_output(checkpoint, faces, tmp_path):
    from xaiprobe._utils.outputs import exclusive

    parts = [extract_activations(checkpoint, faces, tmp_path / f"p{i}.h5", layers="conv1", pooling="mean",
                                 shard=(i, 2), progress=False) for i in range(2)]
    out = tmp_path / "m.h5"
    with exclusive(out, "extraction"):
        with pytest.raises(XaiprobeError, match=r"another extraction \(pid \d+\) is writing this output"):
            merge_shards(parts, out)
    assert not out.exists() and not out.with_name(out.name + ".partial").exists()
    merge_shards(parts, out)
    with ActivationStore(out) as m:
        assert len(m) == len(faces)
