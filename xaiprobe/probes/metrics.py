"""Probe metrics: accuracy, balanced accuracy and ROC-AUC with bootstrap confidence intervals;
top-1 accuracy and confusion matrix for single-label concepts.

Point estimates come from :mod:`sklearn.metrics`; the bootstrap is vectorized over resamples
(one rank computation for all of them) and seeded, so the same inputs give the same intervals.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from sklearn import metrics as skm

from .._utils.errors import XaiprobeError

#: the per-pair metrics of a binary probe, in table order
BINARY_METRICS = ("auc", "acc", "bacc")


def _check_binary(y, score) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).reshape(-1)
    score = np.asarray(score, dtype=np.float64).reshape(-1)
    if y.shape != score.shape:
        raise XaiprobeError(f"metrics: {y.size} labels but {score.size} scores; pass one score per label")
    keep = y >= 0  # -1 marks a missing label
    return y[keep].astype(np.int8), score[keep]


def two_classes(y) -> bool:
    """True when ``y`` (ignoring -1 = missing) holds both 0 and 1."""
    y = np.asarray(y).reshape(-1)
    y = y[y >= 0]
    return bool(y.size) and bool((y == 1).any()) and bool((y == 0).any())


def roc_auc(y, score) -> float:
    """ROC-AUC of ``score`` (n,) for binary labels ``y`` (n,); NaN with one class only.

    Computed from average ranks (Mann-Whitney U), which equals
    ``sklearn.metrics.roc_auc_score`` without its per-call validation cost (used inside the
    C search); :func:`binary_metrics` reports sklearn's value.
    """
    y, score = _check_binary(y, score)
    if not two_classes(y):
        return float("nan")
    return float(_auc_rows(y[None, :].astype(np.float64), score[None, :])[0])


def roc_auc_columns(y, S) -> np.ndarray:
    """ROC-AUC of every column of scores ``S`` (n, k) against one label vector ``y`` (n,)
    (-1 = missing, dropped); NaN with one class only."""
    y = np.asarray(y).reshape(-1)
    keep = y >= 0
    y, S = y[keep].astype(np.float64), np.asarray(S, dtype=np.float64)[keep]
    if not two_classes(y):
        return np.full(S.shape[1], np.nan)
    return _auc_rows(np.broadcast_to(y, (S.shape[1], y.size)), S.T)


def binary_metrics(y, prob, threshold: float = 0.5) -> dict:
    """``{"auc", "acc", "bacc", "n", "pos_rate"}`` for labels ``y`` (n,) and probabilities ``prob`` (n,).

    Accuracy and balanced accuracy threshold ``prob`` at ``threshold``. AUC is NaN when ``y``
    has one class only.
    """
    y, prob = _check_binary(y, prob)
    pred = (prob >= threshold).astype(np.int8)
    auc = float(skm.roc_auc_score(y, prob)) if two_classes(y) else float("nan")
    out = {"auc": auc, "acc": float((pred == y).mean()) if y.size else float("nan")}
    if two_classes(y):
        out["bacc"] = float(skm.balanced_accuracy_score(y, pred))
    else:
        out["bacc"] = float("nan")
    out["n"] = int(y.size)
    out["pos_rate"] = float(y.mean()) if y.size else float("nan")
    return out


def _auc_rows(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """AUC of every row of (B, n) labels/scores (Mann-Whitney with average ranks)."""
    r = rankdata(s, axis=1)
    n1 = y.sum(axis=1).astype(np.float64)
    n0 = y.shape[1] - n1
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = ((r * y).sum(axis=1) - n1 * (n1 + 1) / 2) / (n1 * n0)
    auc[(n1 == 0) | (n0 == 0)] = np.nan
    return auc


def bootstrap_ci(y, prob, n_boot: int = 200, alpha: float = 0.05, seed: int = 0,
                 threshold: float = 0.5) -> dict:
    """Percentile bootstrap intervals of AUC, accuracy and balanced accuracy.

    Parameters
    ----------
    y : array of int, shape (n,)
        Binary labels (-1 = missing, ignored).
    prob : array of float, shape (n,)
        Predicted probabilities (or any monotone score for AUC; accuracy thresholds at ``threshold``).
    n_boot : int
        Number of resamples (all drawn at once from ``numpy.random.default_rng(seed)``).
    alpha : float
        1 - coverage; the interval is the [alpha/2, 1-alpha/2] quantile range.

    Returns
    -------
    dict
        ``{"auc_lo", "auc_hi", "acc_lo", "acc_hi", "bacc_lo", "bacc_hi"}`` (NaN when undefined).
    """
    y, prob = _check_binary(y, prob)
    keys = [f"{m}_{e}" for m in BINARY_METRICS for e in ("lo", "hi")]
    if y.size == 0 or n_boot <= 0:
        return dict.fromkeys(keys, float("nan"))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, y.size, size=(n_boot, y.size))
    yb, sb = y[idx].astype(np.float64), prob[idx]
    pred = (sb >= threshold)
    pos = yb == 1
    acc = (pred == pos).mean(axis=1)
    n1 = pos.sum(axis=1)
    n0 = y.size - n1
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = (pred & pos).sum(axis=1) / n1
        tnr = (~pred & ~pos).sum(axis=1) / n0
    bacc = np.where((n1 > 0) & (n0 > 0), (tpr + tnr) / 2, np.nan)
    auc = _auc_rows(yb, sb)
    out = {}
    for name, vals in (("auc", auc), ("acc", acc), ("bacc", bacc)):
        vals = vals[np.isfinite(vals)]
        if vals.size < max(10, n_boot // 4):
            out[f"{name}_lo"] = out[f"{name}_hi"] = float("nan")
        else:
            lo, hi = np.quantile(vals, [alpha / 2, 1 - alpha / 2])
            out[f"{name}_lo"], out[f"{name}_hi"] = float(lo), float(hi)
    return out


def probe_metrics(Y, P, names, n_boot: int = 200, seed: int = 0) -> list[dict]:
    """Per-attribute metrics with bootstrap intervals.

    Parameters
    ----------
    Y : array of int, shape (n, A)
        Binary labels (-1 = missing).
    P : array of float, shape (n, A)
        Predicted probabilities.
    names : list of str, length A

    Returns
    -------
    list of dict
        One dict per attribute: ``attribute, auc, auc_lo, auc_hi, acc, acc_lo, acc_hi, bacc, ...``.
    """
    Y = np.asarray(Y).reshape(len(Y), -1)
    P = np.asarray(P, dtype=np.float64).reshape(len(P), -1)
    if Y.shape != P.shape or Y.shape[1] != len(names):
        raise XaiprobeError(f"metrics: labels {Y.shape}, probabilities {P.shape} and {len(names)} names do not match")
    rows = []
    for a, name in enumerate(names):
        m = binary_metrics(Y[:, a], P[:, a])
        m.update(bootstrap_ci(Y[:, a], P[:, a], n_boot=n_boot, seed=seed + a))
        rows.append({"attribute": str(name), **m})
    return rows


def top1_accuracy(Y, P) -> float:
    """Top-1 accuracy of scores ``P`` (n, K) against one-hot ``Y`` (n, K) or class indices (n,)."""
    true = _class_index(Y)
    P = np.asarray(P)
    if P.ndim != 2 or P.shape[0] != true.size:
        raise XaiprobeError(f"top-1 accuracy: scores {P.shape} do not match {true.size} labels")
    return float((P.argmax(axis=1) == true).mean()) if true.size else float("nan")


def confusion(Y, P, n_classes: int | None = None) -> np.ndarray:
    """Confusion matrix (K, K): rows true class, columns the arg-max of ``P`` (n, K)."""
    true = _class_index(Y)
    P = np.asarray(P)
    k = n_classes or P.shape[1]
    return skm.confusion_matrix(true, P.argmax(axis=1), labels=np.arange(k))


def bootstrap_top1(Y, P, n_boot: int = 200, alpha: float = 0.05, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval (lo, hi) of top-1 accuracy."""
    hit = (np.asarray(P).argmax(axis=1) == _class_index(Y)).astype(np.float64)
    if hit.size == 0 or n_boot <= 0:
        return float("nan"), float("nan")
    idx = np.random.default_rng(seed).integers(0, hit.size, size=(n_boot, hit.size))
    lo, hi = np.quantile(hit[idx].mean(axis=1), [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def _class_index(Y) -> np.ndarray:
    Y = np.asarray(Y)
    if Y.ndim == 2:
        return Y.argmax(axis=1)
    return Y.astype(np.int64).reshape(-1)
