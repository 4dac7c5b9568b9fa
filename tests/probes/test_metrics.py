import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.probes import _metrics as metrics


def test_binary_metrics_and_ci_cover_point():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    p = np.clip(y * 0.3 + rng.random(300) * 0.7, 0, 1)
    m = metrics.binary_metrics(y, p)
    assert m["auc"] == pytest.approx(roc_auc_score(y, p))
    ci = metrics.bootstrap_ci(y, p, n_boot=200, seed=1)
    for k in ("auc", "acc", "bacc"):
        assert ci[f"{k}_lo"] <= m[k] <= ci[f"{k}_hi"]
    assert ci == metrics.bootstrap_ci(y, p, n_boot=200, seed=1)  # seeded


def test_vectorized_auc_matches_sklearn_with_ties():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, (5, 50))
    s = rng.integers(0, 4, (5, 50)).astype(float)  # many ties
    from xaiprobe._utils.numeric import auc_rows

    got = auc_rows(y.astype(float), s)
    want = [roc_auc_score(y[i], s[i]) for i in range(5)]
    np.testing.assert_allclose(got, want)


def test_one_class_gives_nan_and_missing_labels_ignored():
    assert np.isnan(metrics.roc_auc([1, 1, 1], [0.1, 0.2, 0.3]))
    assert metrics.roc_auc([1, 0, -1, -1], [0.9, 0.1, 0.0, 1.0]) == 1.0


def test_top1_and_confusion():
    Y = np.eye(3, dtype=np.int8)[[0, 1, 2, 2]]
    P = np.array([[0.9, 0.1, 0], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.6, 0.3, 0.1]])
    assert metrics.top1_accuracy(Y, P) == 0.75
    cm = metrics.confusion(Y, P)
    assert cm.tolist() == [[1, 0, 0], [0, 1, 0], [1, 0, 1]]
    lo, hi = metrics.bootstrap_top1(Y, P, n_boot=50)
    assert 0 <= lo <= hi <= 1


def test_shape_mismatch_raises():
    with pytest.raises(XaiprobeError, match="labels"):
        metrics.probe_metrics(np.zeros((3, 2)), np.zeros((3, 1)), ["a", "b"])
