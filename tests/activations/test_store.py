"""ActivationStore: lazy views, features, chunked iteration, bad files."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.activations import extract_activations
from xaiprobe.activations import ActivationStore


@pytest.fixture(scope="module")
def store_path(checkpoint, faces, tmp_path_factory):
    out = tmp_path_factory.mktemp("store") / "acts.h5"
    return extract_activations(checkpoint, faces, out, layers=["conv2", "conv3"], batch_size=16,
                               dtype="float32", progress=False)


def test_lazy_views_and_module_paths(store_path):
    with ActivationStore(store_path) as s:
        v = s["conv3"]
        assert v.shape == (len(s), 16, 8, 8) and len(v) == len(s) and v.dtype == np.float32
        full = np.asarray(v)
        rows = [7, 2, 2, 30]
        assert np.array_equal(v[rows], full[rows])  # unsorted, repeated rows
        assert np.array_equal(v[3:9], full[3:9]) and np.array_equal(v[5], full[5])
        mask = np.zeros(len(s), bool)
        mask[[1, 4]] = True
        assert np.array_equal(v[mask], full[mask])
        assert np.array_equal(v[rows, 0], full[rows, 0])
        assert np.array_equal(s["main.7"][:2], full[:2])  # module path resolves to the alias
        assert "conv2" in s and "conv5" not in s
        assert s.layer_attrs("main.4")["module_path"] == "main.4"


def test_features_and_iter_chunks(store_path):
    with ActivationStore(store_path) as s:
        full = s["conv2"][:].reshape(len(s), -1)
        train = s.rows_of("train")
        X = s.features("conv2", rows=train)
        assert X.dtype == np.float32 and X.shape == (len(train), 8 * 16 * 16)
        assert np.array_equal(X, full[train])
        blocks = list(s.iter_chunks("conv2", rows=train[::-1], chunk_size=5))
        assert all(len(r) <= 5 for r, _ in blocks)
        assert np.array_equal(np.concatenate([r for r, _ in blocks]), train[::-1])
        assert np.array_equal(np.concatenate([b for _, b in blocks]), full[train[::-1]])
        assert np.array_equal(s.rows_of(["val", "test"]), np.flatnonzero(s.split > 0))
        assert np.array_equal(s.rows_of("val,test"), s.rows_of(["val", "test"]))
        with pytest.raises(XaiprobeError, match="split"):
            s.rows_of("holdout")


def test_unknown_layer_lists_layers(store_path):
    with ActivationStore(store_path) as s:
        with pytest.raises(XaiprobeError, match="it has conv2, conv3"):
            s["conv4"]


def test_context_manager_and_plain_use(store_path):
    s = ActivationStore(store_path)
    assert s.labels.dtype == np.int8 and s.logits.dtype == np.float32
    s.close()
    with ActivationStore(store_path) as s2:
        pass
    assert not s2._f.id.valid


def test_non_xaiprobe_and_missing_files(tmp_path):
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(XaiprobeError, match="not an xaiprobe activations file"):
        ActivationStore(plain)
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(XaiprobeError, match="not a readable HDF5"):
        ActivationStore(junk)
    with pytest.raises(XaiprobeError, match="no such file"):
        ActivationStore(tmp_path / "nothing.h5")


def test_incomplete_file_says_resume(store_path, tmp_path):
    import shutil

    copy = tmp_path / "copy.h5"
    shutil.copy(store_path, copy)
    with h5py.File(copy, "r+") as f:
        f.attrs["complete"] = False
    with pytest.raises(XaiprobeError, match="incomplete.*--resume"):
        ActivationStore(copy)
