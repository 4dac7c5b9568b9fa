"""Probe metrics: accuracy, balanced accuracy and ROC-AUC with bootstrap confidence intervals;
top-1 accuracy and confusion matrix for single-label concepts.

ROC-AUC and the bootstrap intervals come from :mod:`xaiprobe._utils.numeric` (vectorized over
resamples and seeded, so the same inputs give the same intervals); balanced accuracy and the
confusion matrix from :mod:`sklearn.metrics`.
"""
from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from .._utils.errors import XaiprobeError
from .._utils.numeric import bootstrap_binary, roc_auc, two_classes

__all__ = ["binary_metrics", "bootstrap_ci", "probe_metrics", "top1_accuracy", "confusion", "bootstrap_top1",
           "roc_auc", "two_classes"]


def _check_binary(y, score) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).reshape(-1)
    score = np.asarray(score, dtype=np.float64).reshape(-1)
    if y.shape != score.shape:
        raise XaiprobeError(f"metrics: {y.size} labels but {score.size} scores; pass one score per label")
    keep = y >= 0  # -1 marks a missing label
    return y[keep].astype(np.int8), score[keep]


def binary_metrics(y, prob, threshold: float = 0.5) -> dict:
    """``{"auc", "acc", "bacc", "n", "pos_rate"}`` for labels ``y`` (n,) and probabilities ``prob`` (n,).

    Accuracy and balanced accuracy threshold ``prob`` at ``threshold``. AUC is NaN when ``y``
    has one class only.
    """
    y, prob = _check_binary(y, prob)
    pred = (prob >= threshold).astype(np.int8)
    auc = roc_auc(y, prob)
    out = {"auc": auc, "acc": float((pred == y).mean()) if y.size else float("nan")}
    if two_classes(y):
        out["bacc"] = float(skm.balanced_accuracy_score(y, pred))
    else:
        out["bacc"] = float("nan")
    out["n"] = int(y.size)
    out["pos_rate"] = float(y.mean()) if y.size else float("nan")
    return out


def bootstrap_ci(y, prob, n_boot: int = 200, alpha: float = 0.05, seed: int = 0,
                 threshold: float = 0.5) -> dict:
    """Bootstrap intervals of AUC, accuracy and balanced accuracy (see :func:`xaiprobe._utils.numeric.bootstrap_binary`)."""
    y, prob = _check_binary(y, prob)
    return bootstrap_binary(y, prob, n_boot=n_boot, alpha=alpha, seed=seed, threshold=threshold)


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
