"""Digits: shape, one-hot labels, deterministic stratified split; tiny test sets."""
import numpy as np

from xaiprobe.data import load_dataset, load_digits
from xaiprobe.testing.data import tiny_digits, tiny_faces


def test_digits_shape_labels_split():
    d = load_digits()
    assert len(d) == 1797 and d.image_shape == (3, 64, 64) and d.spec == "digits"
    assert d.concept_type == "single" and d.attribute_names == [str(i) for i in range(10)]
    assert d.labels.dtype == np.int8 and (d.labels.sum(1) == 1).all()
    x = d.images([0, 1])
    assert x.shape == (2, 3, 64, 64) and x.min() >= -1 and x.max() <= 1
    assert float(x.max()) > 0.9 and float(x.min()) == -1.0
    assert (d.pixels[:, 0] == d.pixels[:, 1]).all()
    counts = np.bincount(d.split, minlength=3) / len(d)
    np.testing.assert_allclose(counts, [0.8, 0.1, 0.1], atol=0.01)
    for s in range(3):  # stratified: every class in every split
        assert (d.labels[d.split == s].sum(0) > 0).all()
    np.testing.assert_array_equal(load_dataset("digits").split, d.split)


def test_digit_looks_like_its_class():
    """Upscaling keeps the digits recognizable: nearest class mean on 8x8 pooled pixels."""
    d = load_digits()
    x = np.asarray(d.pixels[:, 0], float).reshape(len(d), 8, 8, 8, 8).mean((2, 4)).reshape(len(d), -1)
    y = d.labels.argmax(1)
    tr, te = d.split == 0, d.split == 2
    means = np.stack([x[tr & (y == c)].mean(0) for c in range(10)])
    pred = ((x[te][:, None] - means[None]) ** 2).sum(-1).argmin(1)
    assert (pred == y[te]).mean() > 0.8


def test_tiny_sets_have_all_splits():
    f = tiny_faces()
    assert len(f) == 64 and f.spec == "synthfaces:64:0"
    assert all(len(f.rows_of(s)) > 0 for s in ("train", "val", "test"))
    assert f.masks([0, 1])["face"].shape == (2, 64, 64)
    g = tiny_digits()
    assert len(g) == 100 and g.concept_type == "single"
    assert [len(g.rows_of(s)) for s in ("train", "val", "test")] == [80, 10, 10]
    assert (g.labels.sum(0) > 0).all()
