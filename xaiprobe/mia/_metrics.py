"""Membership-inference metrics from scores: ROC, AUC, TPR at low FPR, LOGAN precision,
threshold calibration and stratified bootstrap intervals.

Convention: a higher score means "more likely a member". The ROC-AUC point estimate is the
shared :func:`xaiprobe._utils.numeric.roc_auc`; the ROC curve, TPR at low FPR, top-k precision
and every bootstrap replicate are computed from the per-distinct-score counts of members and
non-members (ties are treated as random tie-breaking: half credit in the AUC, a straight ROC
segment, a proportional share in the top-k precision) with integer weights, which gives the
same AUC as the shared function on unit weights (a test checks it). The bootstrap resamples members and non-members separately (stratified),
keeping both counts fixed, and is vectorized over replicates.
"""
from __future__ import annotations

import warnings

import numpy as np

from .._utils.errors import XaiprobeError
from .._utils.numeric import roc_auc as shared_roc_auc

#: false-positive rates at which the TPR is reported by default (Carlini et al. 2022)
DEFAULT_FPRS = (0.01, 0.001)


class MeasurabilityWarning(UserWarning):
    """A requested metric cannot be measured with this many samples (it is reported as None)."""


def fpr_key(fpr: float) -> str:
    """Metric name of the TPR at ``fpr``: ``0.01 -> "tpr@0.01fpr"``."""
    return f"tpr@{fpr:g}fpr"


def as_scores(x, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    if a.size == 0:
        raise XaiprobeError(f"{what}: no scores; pass at least one score per class")
    bad = ~np.isfinite(a)
    if bad.any():
        raise XaiprobeError(f"{what}: {int(bad.sum())} of {a.size} scores are NaN or infinite; "
                            "check the model's outputs on these images")
    return a


def _grouped(scores_m: np.ndarray, scores_n: np.ndarray, w_m: np.ndarray, w_n: np.ndarray):
    """Per-distinct-score weighted counts, scores descending.

    Parameters
    ----------
    scores_m, scores_n : ndarray, shape (m,), (k,)
    w_m, w_n : ndarray, shape (B, m), (B, k)
        Multiplicity of each sample in each replicate (all ones for the point estimate).

    Returns
    -------
    P, N : ndarray of float64, shape (B, G)
        Weighted member and non-member counts at each of the G distinct scores.
    """
    s = np.concatenate([scores_m, scores_n])
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
    is_m = np.zeros(s.size, dtype=bool)
    is_m[:scores_m.size] = True
    w = np.concatenate([w_m, w_n], axis=1)[:, order].astype(np.float64)
    m_sorted = is_m[order]
    P = np.add.reduceat(w * m_sorted, starts, axis=1)
    N = np.add.reduceat(w * ~m_sorted, starts, axis=1)
    return P, N


def _roc_from_groups(P: np.ndarray, N: np.ndarray):
    """ROC vertices (B, G+1) starting at (0, 0), from grouped counts."""
    tp = np.cumsum(P, axis=1)
    fp = np.cumsum(N, axis=1)
    zeros = np.zeros((P.shape[0], 1))
    tpr = np.concatenate([zeros, tp / tp[:, -1:]], axis=1)
    fpr = np.concatenate([zeros, fp / fp[:, -1:]], axis=1)
    return fpr, tpr


def _auc_from_roc(fpr: np.ndarray, tpr: np.ndarray) -> np.ndarray:
    return np.sum(np.diff(fpr, axis=1) * (tpr[:, 1:] + tpr[:, :-1]) / 2, axis=1)


def _tpr_at(fpr: np.ndarray, tpr: np.ndarray, alpha: float) -> np.ndarray:
    """The highest TPR at FPR <= ``alpha`` on each linearly interpolated ROC curve (rows)."""
    rows = np.arange(fpr.shape[0])
    # first vertex with fpr >= alpha (every row ends at fpr 1, so it exists for alpha <= 1)
    j = np.minimum((fpr < alpha).sum(axis=1), fpr.shape[1] - 1)
    i = np.maximum(j - 1, 0)
    f0, f1, t0, t1 = fpr[rows, i], fpr[rows, j], tpr[rows, i], tpr[rows, j]
    span = f1 - f0
    frac = np.divide(alpha - f0, span, out=np.ones_like(span), where=span > 0)
    interp = t0 + np.clip(frac, 0, 1) * (t1 - t0)
    # a vertical segment exactly at alpha: take its top
    top = np.where(fpr <= alpha, tpr, -np.inf).max(axis=1)
    return np.maximum(interp, top)


def _topk_precision(P: np.ndarray, N: np.ndarray, k: float) -> np.ndarray:
    """Share of members among the ``k`` highest scores (ties share the boundary slots)."""
    tot = np.cumsum(P + N, axis=1)
    cp = np.cumsum(P, axis=1)
    rows = np.arange(P.shape[0])
    g = np.minimum((tot < k - 1e-9).sum(axis=1), P.shape[1] - 1)
    before_tot = np.where(g > 0, tot[rows, np.maximum(g - 1, 0)], 0.0)
    before_p = np.where(g > 0, cp[rows, np.maximum(g - 1, 0)], 0.0)
    size = P[rows, g] + N[rows, g]
    share = np.divide(P[rows, g], size, out=np.zeros_like(size), where=size > 0)
    return (before_p + (k - before_tot) * share) / k


def roc_curve(scores_members, scores_nonmembers) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve of the rule "member if score >= t".

    Parameters
    ----------
    scores_members : array-like, shape (m,)
    scores_nonmembers : array-like, shape (k,)

    Returns
    -------
    fpr, tpr : ndarray, shape (G+1,)
        Vertices from (0, 0) to (1, 1), one per distinct score.
    thresholds : ndarray, shape (G+1,)
        Threshold of each vertex (``+inf`` for the first).
    """
    sm = as_scores(scores_members, "members")
    sn = as_scores(scores_nonmembers, "non-members")
    P, N = _grouped(sm, sn, np.ones((1, sm.size)), np.ones((1, sn.size)))
    fpr, tpr = _roc_from_groups(P, N)
    thr = np.r_[np.inf, np.unique(np.concatenate([sm, sn]))[::-1]]
    return fpr[0], tpr[0], thr


def roc_auc(scores_members, scores_nonmembers) -> float:
    """ROC-AUC = P(member score > non-member score) + P(tie) / 2 (:func:`xaiprobe._utils.numeric.roc_auc`)."""
    sm = as_scores(scores_members, "members")
    sn = as_scores(scores_nonmembers, "non-members")
    return shared_roc_auc(np.r_[np.ones(sm.size), np.zeros(sn.size)], np.r_[sm, sn])


def tpr_at_fpr(scores_members, scores_nonmembers, fpr: float, warn: bool = True) -> float | None:
    """TPR at false-positive rate ``fpr``, interpolating the ROC curve (Carlini et al. 2022).

    With ``k`` non-members the smallest non-zero FPR that can be observed is ``1/k``; when
    ``fpr < 1/k`` the point cannot be measured: a :class:`MeasurabilityWarning` is issued
    and ``None`` returned.
    """
    sm = as_scores(scores_members, "members")
    sn = as_scores(scores_nonmembers, "non-members")
    if not 0 < fpr < 1:
        raise XaiprobeError(f"fpr {fpr!r}: must be between 0 and 1 (exclusive), e.g. 0.01")
    if sn.size * fpr < 1:
        if warn:
            warnings.warn(f"TPR at FPR {fpr:g} cannot be measured with {sn.size} non-members "
                          f"(smallest measurable FPR is {1 / sn.size:.3g}); reported as None. "
                          f"Use at least {int(np.ceil(1 / fpr))} test non-members.",
                          MeasurabilityWarning, stacklevel=2)
        return None
    f, t, _ = roc_curve(sm, sn)
    return float(_tpr_at(f[None], t[None], fpr)[0])


def logan_precision(scores_members, scores_nonmembers) -> float:
    """LOGAN's attack precision (Hayes et al. 2019): rank all samples by score and report the
    share of members among the top ``k`` where ``k`` is the number of members."""
    sm = as_scores(scores_members, "members")
    sn = as_scores(scores_nonmembers, "non-members")
    P, N = _grouped(sm, sn, np.ones((1, sm.size)), np.ones((1, sn.size)))
    return float(_topk_precision(P, N, float(sm.size))[0])


def _threshold_rates(sm, sn, w_m, w_n, threshold):
    tp = (w_m * (sm >= threshold)).sum(axis=1)
    tn = (w_n * (sn < threshold)).sum(axis=1)
    nm, nn = w_m.sum(axis=1), w_n.sum(axis=1)
    return tp / nm, tn / nn, (tp + tn) / (nm + nn)


def threshold_metrics(scores_members, scores_nonmembers, threshold: float) -> dict:
    """Accuracy, balanced accuracy, TPR and TNR of "member if score >= threshold"."""
    sm = as_scores(scores_members, "members")
    sn = as_scores(scores_nonmembers, "non-members")
    tpr, tnr, acc = _threshold_rates(sm, sn, np.ones((1, sm.size)), np.ones((1, sn.size)), threshold)
    return {"accuracy": float(acc[0]), "balanced_accuracy": float((tpr[0] + tnr[0]) / 2),
            "tpr": float(tpr[0]), "tnr": float(tnr[0])}


def best_threshold(scores_members, scores_nonmembers) -> tuple[float, float]:
    """The threshold with the best balanced accuracy of "member if score >= t".

    Candidates are midpoints between consecutive distinct scores (plus one below the
    smallest and one above the largest). Among equally good thresholds the middle one is
    taken.

    Returns
    -------
    threshold : float
    balanced_accuracy : float
        Its balanced accuracy on these scores.
    """
    sm = as_scores(scores_members, "members")
    sn = as_scores(scores_nonmembers, "non-members")
    u = np.unique(np.concatenate([sm, sn]))
    span = max(float(u[-1] - u[0]), 1.0)
    cands = np.r_[u[0] - span, (u[1:] + u[:-1]) / 2, u[-1] + span]
    sm_sorted, sn_sorted = np.sort(sm), np.sort(sn)
    tpr = 1 - np.searchsorted(sm_sorted, cands, side="left") / sm.size
    tnr = np.searchsorted(sn_sorted, cands, side="left") / sn.size
    bacc = (tpr + tnr) / 2
    best = np.flatnonzero(bacc >= bacc.max() - 1e-12)
    j = best[(best.size - 1) // 2]
    return float(cands[j]), float(bacc[j])


def _resample_counts(rng: np.random.Generator, n: int, b: int) -> np.ndarray:
    idx = rng.integers(0, n, size=(b, n))
    flat = (np.arange(b)[:, None] * n + idx).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n)


def attack_metrics(scores_members, scores_nonmembers, threshold: float, fprs=DEFAULT_FPRS,
                   n_bootstrap: int = 1000, confidence: float = 0.95, seed: int = 0,
                   warn: bool = True) -> tuple[dict, dict]:
    """Every reported metric on one (test) set, with stratified bootstrap intervals.

    Parameters
    ----------
    scores_members : array-like, shape (m,)
    scores_nonmembers : array-like, shape (k,)
    threshold : float
        Decision threshold (chosen elsewhere, on calibration data).
    fprs : sequence of float
        FPRs for the TPR@FPR metrics; unmeasurable ones (``k * fpr < 1``) are None.
    n_bootstrap : int
        Replicates (0 disables the intervals).
    confidence : float
        Coverage of the percentile intervals.
    seed : int

    Returns
    -------
    metrics : dict
        ``auc``, ``accuracy``, ``balanced_accuracy``, ``tpr_at_threshold``,
        ``tnr_at_threshold``, ``tpr@<fpr>fpr`` per FPR, ``logan_precision``,
        ``min_measurable_fpr``, ``n_members``, ``n_nonmembers``.
    ci : dict
        ``name -> [low, high]`` for each numeric metric (None where not measurable).
    """
    sm = as_scores(scores_members, "members")
    sn = as_scores(scores_nonmembers, "non-members")
    if not 0 < confidence < 1:
        raise XaiprobeError(f"confidence {confidence!r}: must be between 0 and 1, e.g. 0.95")
    fprs = [float(f) for f in fprs]
    for f in fprs:
        if not 0 < f < 1:
            raise XaiprobeError(f"fpr {f!r}: must be between 0 and 1 (exclusive), e.g. 0.01")
    measurable = [f for f in fprs if sn.size * f >= 1]
    if warn:
        for f in fprs:
            if f not in measurable:
                warnings.warn(f"TPR at FPR {f:g} cannot be measured with {sn.size} test non-members "
                              f"(smallest measurable FPR is {1 / sn.size:.3g}); reported as None. "
                              f"Use at least {int(np.ceil(1 / f))} test non-members (more data, "
                              "or a smaller calibration fraction).", MeasurabilityWarning, stacklevel=2)

    def compute(w_m, w_n) -> dict:
        P, N = _grouped(sm, sn, w_m, w_n)
        fpr, tpr = _roc_from_groups(P, N)
        tr, nr, acc = _threshold_rates(sm, sn, w_m, w_n, threshold)
        out = {"auc": _auc_from_roc(fpr, tpr), "accuracy": acc, "balanced_accuracy": (tr + nr) / 2,
               "tpr_at_threshold": tr, "tnr_at_threshold": nr,
               "logan_precision": _topk_precision(P, N, float(sm.size))}
        for f in measurable:
            out[fpr_key(f)] = _tpr_at(fpr, tpr, f)
        return out

    point = compute(np.ones((1, sm.size)), np.ones((1, sn.size)))
    metrics = {k: float(v[0]) for k, v in point.items()}
    metrics["auc"] = roc_auc(sm, sn)
    for f in fprs:
        metrics.setdefault(fpr_key(f), None)
    metrics.update(min_measurable_fpr=1.0 / sn.size, n_members=int(sm.size), n_nonmembers=int(sn.size))

    ci: dict = {k: None for k in point}
    ci.update({fpr_key(f): None for f in fprs})
    if n_bootstrap and n_bootstrap > 0:
        rng = np.random.default_rng(seed)
        block = max(1, min(int(n_bootstrap), int(4e6 // (sm.size + sn.size))))
        parts: dict = {k: [] for k in point}
        done = 0
        while done < n_bootstrap:
            b = min(block, n_bootstrap - done)
            res = compute(_resample_counts(rng, sm.size, b), _resample_counts(rng, sn.size, b))
            for k, v in res.items():
                parts[k].append(v)
            done += b
        lo_q, hi_q = (1 - confidence) / 2, 1 - (1 - confidence) / 2
        for k, v in parts.items():
            allv = np.concatenate(v)
            ci[k] = [float(np.quantile(allv, lo_q)), float(np.quantile(allv, hi_q))]
    return metrics, ci
