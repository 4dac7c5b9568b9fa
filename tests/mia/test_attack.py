"""attack_scores: calibration/test split, threshold chosen on calibration only, results."""
import json
import warnings

import numpy as np
import pytest

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.mia import MIAResult, attack_scores, calibration_split
from xaiprobe.mia import MeasurabilityWarning, best_threshold


def _scores(shift, n=1200, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(shift, 1, n), rng.normal(0, 1, n)


def test_calibration_split_is_stratified_and_seeded():
    cm, cn = calibration_split(101, 40, 0.5, seed=3)
    assert cm.sum() == 50 or cm.sum() == 51
    assert cn.sum() == 20
    cm2, cn2 = calibration_split(101, 40, 0.5, seed=3)
    assert np.array_equal(cm, cm2) and np.array_equal(cn, cn2)
    cm3, _ = calibration_split(101, 40, 0.5, seed=4)
    assert not np.array_equal(cm, cm3)
    cm, cn = calibration_split(2, 2, 0.9)
    assert cm.sum() == 1 and cn.sum() == 1  # one sample on each side at least
    with pytest.raises(XaiprobeError, match="at least 2"):
        calibration_split(1, 10)
    with pytest.raises(XaiprobeError, match="between 0 and 1"):
        calibration_split(10, 10, 1.0)


def test_planted_members_are_found():
    sm, sn = _scores(3.0, n=2500)
    res = attack_scores(sm, sn, n_bootstrap=200)
    assert isinstance(res, MIAResult)
    assert res.metrics["auc"] > 0.97
    assert res.metrics["tpr@0.01fpr"] > 0.5
    assert res.metrics["balanced_accuracy"] > 0.9
    assert res.metrics["n_members"] == 1250 and res.metrics["n_nonmembers"] == 1250
    assert res.ci["auc"][0] > 0.95


def test_no_signal_is_at_chance():
    sm, sn = _scores(0.0, n=2000, seed=7)
    res = attack_scores(sm, sn, n_bootstrap=500, fprs=(0.01,))
    lo, hi = res.ci["auc"]
    assert lo <= 0.5 <= hi
    assert abs(res.metrics["balanced_accuracy"] - 0.5) < 0.05
    assert abs(res.metrics["logan_precision"] - 0.5) < 0.05


def test_threshold_is_chosen_on_calibration_only():
    sm, sn = _scores(1.0, n=400, seed=2)
    res = attack_scores(sm, sn, n_bootstrap=0, seed=11, fprs=(0.01,))
    t, bacc = best_threshold(sm[res.calibration_members], sn[res.calibration_nonmembers])
    assert res.threshold == pytest.approx(t)
    assert res.calibration["balanced_accuracy"] == pytest.approx(bacc)
    # wreck the test part: the threshold does not move, the test metrics do
    sm2, sn2 = sm.copy(), sn.copy()
    sm2[~res.calibration_members] -= 5.0
    sn2[~res.calibration_nonmembers] += 5.0
    res2 = attack_scores(sm2, sn2, n_bootstrap=0, seed=11, fprs=(0.01,))
    assert np.array_equal(res2.calibration_members, res.calibration_members)
    assert res2.threshold == res.threshold
    assert res2.metrics["auc"] < 0.1 < 0.6 < res.metrics["auc"]
    # and the reported test scores are exactly the non-calibration ones
    tm, tn = res.test_scores()
    assert tm.size == res.metrics["n_members"] and tn.size == res.metrics["n_nonmembers"]


def test_too_few_test_nonmembers_warns_and_reports_none():
    sm, sn = _scores(2.0, n=120)
    with pytest.warns(MeasurabilityWarning, match="cannot be measured with 60 test non-members"):
        res = attack_scores(sm, sn, n_bootstrap=50)
    assert res.metrics["tpr@0.01fpr"] is None and res.metrics["tpr@0.001fpr"] is None
    assert res.metrics["min_measurable_fpr"] == pytest.approx(1 / 60)
    assert len(res.warnings) == 2
    assert "TPR@0.01FPR —" in str(res)  # not measurable: the shared missing-value mark
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = attack_scores(sm, sn, n_bootstrap=50, fprs=(0.05,))
    assert res.metrics["tpr@0.05fpr"] is not None


def test_result_serializes_to_json():
    sm, sn = _scores(0.5, n=300)
    res = attack_scores(sm, sn, n_bootstrap=20, fprs=(0.01,), index_members=np.arange(300),
                        index_nonmembers=np.arange(300, 600))
    d = res.to_dict(include_scores=True)
    json.dumps(d)
    json.dumps(res.summary())
    assert d["metrics"]["auc"] == res.auc
    fpr, tpr, _ = res.roc()
    assert fpr[0] == 0 and tpr[-1] == 1
    with pytest.raises(XaiprobeError, match="one index per score"):
        attack_scores(sm, sn, n_bootstrap=0, index_members=np.arange(3))
