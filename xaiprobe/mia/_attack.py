"""The score-based membership-inference attack.

A higher score means "more likely a training image". Members and non-members are split
(stratified, seeded) into a calibration part, where the decision threshold is chosen (best
balanced accuracy), and a test part, where every metric is reported with bootstrap intervals.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from .._utils.errors import XaiprobeError
from .._utils.numeric import fmt
from ._metrics import (DEFAULT_FPRS, MeasurabilityWarning, as_scores, attack_metrics, best_threshold, fpr_key,
                       roc_auc, roc_curve)


@dataclass
class MIAResult:
    """The outcome of one membership-inference attack.

    Attributes
    ----------
    name : str
        Which score was attacked (``"logit"``, ``"calibrated"``, ``"control"`` ...).
    metrics : dict
        Test-set metrics: ``auc``, ``accuracy``, ``balanced_accuracy`` (at the calibrated
        threshold), ``tpr_at_threshold``, ``tnr_at_threshold``, ``tpr@0.01fpr``,
        ``tpr@0.001fpr`` (None when not measurable), ``logan_precision``,
        ``min_measurable_fpr``, ``n_members``, ``n_nonmembers``.
    ci : dict
        ``metric -> [low, high]`` bootstrap interval (None when not measurable).
    threshold : float
        Decision threshold chosen on the calibration part ("member if score >= threshold").
    calibration : dict
        ``auc`` and ``balanced_accuracy`` on the calibration part, ``n_members``, ``n_nonmembers``.
    scores_members : ndarray of float64, shape (m,)
    scores_nonmembers : ndarray of float64, shape (k,)
    calibration_members : ndarray of bool, shape (m,)
        True where the member was used for calibration (False: test).
    calibration_nonmembers : ndarray of bool, shape (k,)
    index_members, index_nonmembers : ndarray of int64 or None
        Data-set ``index`` of each scored image, when known.
    info : dict
        Settings and provenance (seed, calibration fraction, bootstrap, data, checkpoint ...).
    warnings : list of str
    baseline : MIAResult or None
        For a calibrated attack, the raw-logit attack on the same samples and split.
    """

    name: str
    metrics: dict
    ci: dict
    threshold: float
    calibration: dict
    scores_members: np.ndarray
    scores_nonmembers: np.ndarray
    calibration_members: np.ndarray
    calibration_nonmembers: np.ndarray
    index_members: np.ndarray | None = None
    index_nonmembers: np.ndarray | None = None
    info: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    baseline: "MIAResult | None" = None

    @property
    def auc(self) -> float:
        """Test ROC-AUC."""
        return self.metrics["auc"]

    def test_scores(self) -> tuple[np.ndarray, np.ndarray]:
        """(member scores, non-member scores) of the test part."""
        return self.scores_members[~self.calibration_members], self.scores_nonmembers[~self.calibration_nonmembers]

    def calibration_scores(self) -> tuple[np.ndarray, np.ndarray]:
        """(member scores, non-member scores) of the calibration part."""
        return self.scores_members[self.calibration_members], self.scores_nonmembers[self.calibration_nonmembers]

    def roc(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Test ROC curve: (fpr, tpr, thresholds), see :func:`xaiprobe.mia.metrics.roc_curve`."""
        return roc_curve(*self.test_scores())

    def summary(self) -> dict:
        """The headline numbers (JSON-ready)."""
        out = {k: v for k, v in self.metrics.items()}
        out.update({f"{k}_ci": v for k, v in self.ci.items() if k in ("auc", "balanced_accuracy", "accuracy",
                                                                       "logan_precision") or k.startswith("tpr@")})
        out["threshold"] = self.threshold
        out["calibration_auc"] = self.calibration.get("auc")
        return out

    def to_dict(self, include_scores: bool = False) -> dict:
        """Everything as JSON-ready primitives (scores only when ``include_scores``)."""
        out = {"name": self.name, "metrics": dict(self.metrics), "ci": dict(self.ci),
               "threshold": self.threshold, "calibration": dict(self.calibration),
               "info": dict(self.info), "warnings": list(self.warnings)}
        if include_scores:
            out.update(scores_members=self.scores_members.tolist(), scores_nonmembers=self.scores_nonmembers.tolist(),
                       calibration_members=self.calibration_members.tolist(),
                       calibration_nonmembers=self.calibration_nonmembers.tolist())
        if self.baseline is not None:
            out["baseline"] = self.baseline.to_dict(include_scores=False)
        return out

    def __str__(self) -> str:
        m, ci = self.metrics, self.ci
        auc_ci = ci.get("auc")
        ci_txt = f" [{auc_ci[0]:.3f}, {auc_ci[1]:.3f}]" if auc_ci else ""
        parts = [f"{self.name}: AUC {m['auc']:.4f}{ci_txt}", f"acc {m['accuracy']:.4f}",
                 f"bal.acc {m['balanced_accuracy']:.4f}"]
        for k, v in m.items():
            if k.startswith("tpr@"):
                parts.append(f"{k.replace('tpr@', 'TPR@').replace('fpr', 'FPR')} "
                             + fmt(v, 4))
        parts.append(f"LOGAN prec {m['logan_precision']:.4f}")
        parts.append(f"(test {m['n_members']}+{m['n_nonmembers']})")
        return ", ".join(parts)


def calibration_split(n_members: int, n_nonmembers: int, fraction: float = 0.5,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stratified calibration/test split.

    Returns
    -------
    cal_members : ndarray of bool, shape (n_members,)
    cal_nonmembers : ndarray of bool, shape (n_nonmembers,)
        True for the samples used to choose the threshold; each class keeps at least one
        sample on each side.
    """
    if not 0 < float(fraction) < 1:
        raise XaiprobeError(f"calibration fraction {fraction!r}: must be between 0 and 1 (exclusive), e.g. 0.5")
    for n, what in ((n_members, "members"), (n_nonmembers, "non-members")):
        if n < 2:
            raise XaiprobeError(f"{what}: {n} sample(s); the attack needs at least 2 per class "
                                "(one for calibration, one for test); pass more images")
    rng = np.random.default_rng(seed)
    masks = []
    for n in (n_members, n_nonmembers):
        k = int(min(max(round(fraction * n), 1), n - 1))
        mask = np.zeros(n, dtype=bool)
        mask[rng.permutation(n)[:k]] = True
        masks.append(mask)
    return masks[0], masks[1]


def _measurability_messages(n_test_nonmembers: int, fprs) -> list[str]:
    return [f"TPR at FPR {f:g} cannot be measured with {n_test_nonmembers} test non-members (smallest "
            f"measurable FPR is {1 / n_test_nonmembers:.3g}); reported as None. Use at least "
            f"{int(np.ceil(1 / f))} test non-members (more data, or a smaller calibration fraction)."
            for f in fprs if n_test_nonmembers * f < 1]


def _index(a, n: int):
    if a is None:
        return None
    a = np.asarray(a, dtype=np.int64).reshape(-1)
    if a.size != n:
        raise XaiprobeError(f"index array: {a.size} entries for {n} scores; pass one index per score")
    return a


def attack_scores(scores_members, scores_nonmembers, calibration_fraction: float = 0.5, seed: int = 0,
                  fprs=DEFAULT_FPRS, n_bootstrap: int = 1000, confidence: float = 0.95,
                  name: str = "score", index_members=None, index_nonmembers=None,
                  info: dict | None = None, warn: bool = True) -> MIAResult:
    """Attack with precomputed scores (higher = more likely a member).

    Parameters
    ----------
    scores_members : array-like, shape (m,)
        Scores of images known to be in the training set.
    scores_nonmembers : array-like, shape (k,)
        Scores of images known not to be.
    calibration_fraction : float
        Share of each class used to choose the threshold; the rest is the test part.
    seed : int
        Seeds the calibration split and the bootstrap.
    fprs : sequence of float
        FPRs for the reported TPR@FPR (default 1% and 0.1%).
    n_bootstrap : int
        Bootstrap replicates for the intervals (0: none).
    confidence : float
        Interval coverage.
    name : str
        Label of this attack in reports.
    index_members, index_nonmembers : array-like of int, optional
        Data-set indices of the scored images (kept in the result).
    info : dict, optional
        Extra provenance stored in ``result.info``.
    warn : bool
        Issue :class:`MeasurabilityWarning` for unmeasurable TPR@FPR points.

    Returns
    -------
    MIAResult
    """
    sm = as_scores(scores_members, "members")
    sn = as_scores(scores_nonmembers, "non-members")
    index_members, index_nonmembers = _index(index_members, sm.size), _index(index_nonmembers, sn.size)
    cal_m, cal_n = calibration_split(sm.size, sn.size, calibration_fraction, seed)
    threshold, cal_bacc = best_threshold(sm[cal_m], sn[cal_n])
    test_m, test_n = sm[~cal_m], sn[~cal_n]
    msgs = _measurability_messages(test_n.size, fprs)
    if warn:
        for msg in msgs:
            warnings.warn(f"{name}: {msg}", MeasurabilityWarning, stacklevel=2)
    metrics, ci = attack_metrics(test_m, test_n, threshold, fprs=fprs, n_bootstrap=n_bootstrap,
                                 confidence=confidence, seed=seed + 1, warn=False)
    calibration = {"auc": roc_auc(sm[cal_m], sn[cal_n]), "balanced_accuracy": cal_bacc,
                   "n_members": int(cal_m.sum()), "n_nonmembers": int(cal_n.sum())}
    meta = {"calibration_fraction": float(calibration_fraction), "seed": int(seed),
            "n_bootstrap": int(n_bootstrap), "confidence": float(confidence),
            "fprs": [float(f) for f in fprs], "tpr_keys": [fpr_key(f) for f in fprs]}
    meta.update(info or {})

    return MIAResult(name=name, metrics=metrics, ci=ci, threshold=threshold, calibration=calibration,
                     scores_members=sm, scores_nonmembers=sn, calibration_members=cal_m,
                     calibration_nonmembers=cal_n, index_members=index_members,
                     index_nonmembers=index_nonmembers, info=meta, warnings=msgs)
