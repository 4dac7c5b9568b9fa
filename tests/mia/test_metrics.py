"""Metrics of the membership attack on hand-made and synthetic scores."""
import warnings

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve as sk_roc_curve

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.mia import (MeasurabilityWarning, attack_metrics, best_threshold, logan_precision,
                                  roc_auc, roc_curve, threshold_metrics, tpr_at_fpr)


def _scores(shift, n=2000, seed=0, rounding=None):
    rng = np.random.default_rng(seed)
    sm, sn = rng.normal(shift, 1, n), rng.normal(0, 1, n)
    if rounding is not None:
        sm, sn = sm.round(rounding), sn.round(rounding)
    return sm, sn


@pytest.mark.parametrize("rounding", [None, 1])
def test_auc_and_roc_match_sklearn_with_and_without_ties(rounding):
    sm, sn = _scores(0.4, n=500, seed=1, rounding=rounding)
    y = np.r_[np.ones(sm.size), np.zeros(sn.size)]
    s = np.r_[sm, sn]
    assert roc_auc(sm, sn) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    fpr, tpr, thr = roc_curve(sm, sn)
    f2, t2, _ = sk_roc_curve(y, s, drop_intermediate=False)
    assert np.allclose(fpr, f2) and np.allclose(tpr, t2)
    assert thr[0] == np.inf and np.all(np.diff(thr[1:]) < 0)


def test_tpr_at_fpr_reads_the_roc_and_interpolates_ties():
    # members 200, 150 above all 100 non-members (0..99), 50.5 above 49 of them
    sm = np.array([200.0, 150.0, 50.5, 40.5])
    sn = np.arange(100.0)
    assert tpr_at_fpr(sm, sn, 0.01) == pytest.approx(0.5)
    assert tpr_at_fpr(sm, sn, 0.49) == pytest.approx(0.75)  # top of the vertical segment at 0.49
    # a tie of 2 members and 4 non-members is a straight segment from (0, 1/3) to (0.04, 1)
    sm = np.array([10.0, 3.0, 3.0])
    sn = np.r_[np.full(4, 3.0), np.zeros(96)]
    assert tpr_at_fpr(sm, sn, 0.01) == pytest.approx(1 / 3 + (2 / 3) * 0.25)
    assert tpr_at_fpr(sm, sn, 0.04) == pytest.approx(1.0)


def test_tpr_at_fpr_with_too_few_nonmembers_warns_and_returns_none():
    sm, sn = _scores(1.0, n=50)
    with pytest.warns(MeasurabilityWarning, match="cannot be measured with 50"):
        assert tpr_at_fpr(sm, sn, 0.01) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tpr_at_fpr(sm, sn, 0.02) is not None  # 50 * 0.02 = 1: measurable
    with pytest.warns(MeasurabilityWarning):
        metrics, ci = attack_metrics(sm, sn, 0.5, n_bootstrap=50)
    assert metrics["tpr@0.01fpr"] is None and ci["tpr@0.01fpr"] is None
    assert metrics["tpr@0.001fpr"] is None
    assert metrics["min_measurable_fpr"] == pytest.approx(1 / 50)


def test_logan_precision_hand_made():
    # ranking: m(9) n(8) m(7) n(6) m(5) n(1): top-3 = m, n, m -> 2/3
    assert logan_precision([9, 7, 5], [8, 6, 1]) == pytest.approx(2 / 3)
    # all members on top
    assert logan_precision([9, 8], [1, 2, 3]) == pytest.approx(1.0)
    # k = 2 members; top-2 = n(10), m(9) -> 1/2
    assert logan_precision([9, 0], [10, 1, 2]) == pytest.approx(0.5)
    # a tie across the boundary: scores m 5, n 5 share the 1 remaining slot -> 1 + 0.5 of 2 slots
    assert logan_precision([9, 5], [5, 1]) == pytest.approx(0.75)


def test_best_threshold_maximizes_balanced_accuracy():
    sm = np.array([1.0, 2.0, 3.0, 10.0])
    sn = np.array([0.0, 0.5, 1.5, 2.5, 2.6, 2.7, 2.8, 2.9])
    t, bacc = best_threshold(sm, sn)
    m = threshold_metrics(sm, sn, t)
    assert m["balanced_accuracy"] == pytest.approx(bacc)
    grid = np.linspace(-1, 11, 2001)
    assert bacc >= max(threshold_metrics(sm, sn, g)["balanced_accuracy"] for g in grid) - 1e-12


def test_planted_shift_gives_high_auc_and_tpr_at_low_fpr():
    sm, sn = _scores(4.0, n=2000)
    metrics, ci = attack_metrics(sm, sn, 2.0, n_bootstrap=200)
    assert metrics["auc"] > 0.99
    assert metrics["tpr@0.01fpr"] > 0.8
    assert metrics["tpr@0.001fpr"] > 0.5
    assert metrics["logan_precision"] > 0.95
    assert ci["auc"][0] > 0.98


def test_identical_distributions_are_at_chance_within_the_interval():
    sm, sn = _scores(0.0, n=1500, seed=3)
    metrics, ci = attack_metrics(sm, sn, 0.0, n_bootstrap=500, seed=1)
    assert ci["auc"][0] <= 0.5 <= ci["auc"][1]
    assert abs(metrics["auc"] - 0.5) < 0.04
    assert abs(metrics["balanced_accuracy"] - 0.5) < 0.04
    assert ci["balanced_accuracy"][0] <= 0.5 <= ci["balanced_accuracy"][1]
    assert metrics["tpr@0.01fpr"] < 0.05


def test_bootstrap_is_seeded_and_brackets_the_point_estimate():
    sm, sn = _scores(0.3, n=300)
    a = attack_metrics(sm, sn, 0.1, n_bootstrap=300, seed=5, fprs=(0.01,))
    b = attack_metrics(sm, sn, 0.1, n_bootstrap=300, seed=5, fprs=(0.01,))
    assert a == b
    metrics, ci = a
    for k in ("auc", "accuracy", "balanced_accuracy", "logan_precision"):
        assert ci[k][0] <= metrics[k] <= ci[k][1]


def test_bad_scores_raise():
    with pytest.raises(XaiprobeError, match="NaN"):
        roc_auc([1.0, np.nan], [0.0])
    with pytest.raises(XaiprobeError, match="no scores"):
        roc_auc([], [0.0])
    with pytest.raises(XaiprobeError, match="between 0 and 1"):
        tpr_at_fpr([1.0], [0.0], 1.5)


def test_auc_is_the_shared_roc_auc_and_the_bootstrap_code_agrees_with_it():
    """The point AUC is xaiprobe._utils.numeric.roc_auc; the weighted ROC code of the bootstrap
    replicates gives the same value on unit weights (ties included)."""
    from xaiprobe._utils.numeric import roc_auc as shared
    from xaiprobe.mia._metrics import _auc_from_roc, _grouped, _roc_from_groups

    rng = np.random.default_rng(3)
    sm, sn = np.round(rng.normal(0.3, 1, 57), 1), np.round(rng.normal(0, 1, 41), 1)
    want = shared(np.r_[np.ones(57), np.zeros(41)], np.r_[sm, sn])
    metrics, _ = attack_metrics(sm, sn, threshold=0.0, n_bootstrap=0, fprs=(0.1,))
    assert metrics["auc"] == want and roc_auc(sm, sn) == want
    fpr, tpr = _roc_from_groups(*_grouped(sm, sn, np.ones((1, 57)), np.ones((1, 41))))
    assert _auc_from_roc(fpr, tpr)[0] == pytest.approx(want, abs=1e-12)
