import numpy as np
import pytest

from xaiprobe.activations import ActivationStore
from xaiprobe.probes._controls import pixel_control, random_init_store, shuffle_within_splits


def test_shuffle_keeps_class_counts_per_split_and_breaks_link():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (300, 3)).astype(np.int8)
    split = np.repeat([0, 1, 2], 100)
    s = shuffle_within_splits(y, split, seed=1)
    for k in range(3):
        np.testing.assert_array_equal(y[split == k].sum(0), s[split == k].sum(0))
    assert (s != y).any()
    np.testing.assert_array_equal(s, shuffle_within_splits(y, split, seed=1))


def test_pixel_and_random_init_controls_align_with_store(tiny_run, tmp_path):
    with ActivationStore(tiny_run["activations"]) as store:
        px = pixel_control(store)
        assert px.shape == (len(store), 3 * 8 * 8)
        # pixel rows follow the store's rows
        data = tiny_run["data"]
        first = data.images([int(np.flatnonzero(data.index == store.index[0])[0])])
        assert px[0, 0] == pytest.approx(float(first[0, 0, :8, :8].mean()), abs=1e-5)
        paths = random_init_store(store, tmp_path, seed=10_000)
        with ActivationStore(paths[0]) as rs:
            assert rs.layers == store.layers
            np.testing.assert_array_equal(rs.index, store.index)
            assert rs.layer_attrs("conv3")["pooling"] == "mean"
            assert not np.allclose(rs.features("conv3"), store.features("conv3"))
        mtime = paths[0].stat().st_mtime
        assert random_init_store(store, tmp_path, seed=10_000) == paths  # reused
        assert paths[0].stat().st_mtime == mtime


def test_random_init_skipped_with_how_to_enable(tiny_run, tmp_path):
    from xaiprobe.activations import extract_activations
    from xaiprobe.testing.models import tiny_dcgan

    _, D = tiny_dcgan(0)
    D.config = None  # an nn.Module whose architecture is not recorded
    act = extract_activations(D, tiny_run["data"], tmp_path / "a.h5", layers=["conv2"], pooling="mean", progress=False)
    with ActivationStore(act) as store:
        with pytest.warns(UserWarning, match="random_init control skipped: .*cannot be rebuilt.*--controls none"):
            assert random_init_store(store, tmp_path) is None
