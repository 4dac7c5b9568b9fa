"""Shared numerics, one home each: ROC-AUC, bootstrap intervals, rank correlation, number formatting.

Point estimates agree with scikit-learn (``roc_auc_score``) and scipy (``spearmanr``); the
bootstraps are vectorized over resamples and seeded, so the same inputs give the same intervals.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["finite", "two_classes", "roc_auc", "roc_auc_columns", "auc_rows", "bootstrap_binary",
           "bootstrap_interval", "spearman", "fmt", "fmt_interval", "BINARY_METRICS"]

#: the per-pair metrics of a binary classifier, in table order
BINARY_METRICS = ("auc", "acc", "bacc")


def finite(x) -> bool:
    """True for a real, finite number (not None, not a bool, not NaN or infinite)."""
    return isinstance(x, (int, float, np.floating, np.integer)) and not isinstance(x, bool) and math.isfinite(x)


def two_classes(y) -> bool:
    """True when ``y`` (ignoring -1 = missing) holds both 0 and 1."""
    y = np.asarray(y).reshape(-1)
    y = y[y >= 0]
    return bool(y.size) and bool((y == 1).any()) and bool((y == 0).any())


def auc_rows(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """ROC-AUC of every row of (B, n) binary labels ``y`` and scores ``s`` (Mann-Whitney U with
    average ranks, equal to ``sklearn.metrics.roc_auc_score``); NaN for a row with one class."""
    from scipy.stats import rankdata

    y = np.asarray(y, dtype=np.float64)
    r = rankdata(np.asarray(s, dtype=np.float64), axis=1)
    n1 = y.sum(axis=1)
    n0 = y.shape[1] - n1
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = ((r * y).sum(axis=1) - n1 * (n1 + 1) / 2) / (n1 * n0)
    auc[(n1 == 0) | (n0 == 0)] = np.nan
    return auc


def roc_auc(y, score) -> float:
    """ROC-AUC of ``score`` (n,) for binary labels ``y`` (n,) (-1 = missing, dropped); NaN with one class."""
    y = np.asarray(y).reshape(-1)
    score = np.asarray(score, dtype=np.float64).reshape(-1)
    if y.shape != score.shape:
        from .errors import XaiprobeError

        raise XaiprobeError(f"ROC-AUC: {y.size} labels but {score.size} scores; pass one score per label")
    keep = y >= 0
    y, score = y[keep], score[keep]
    if not two_classes(y):
        return float("nan")
    return float(auc_rows(y[None, :], score[None, :])[0])


def roc_auc_columns(y, S) -> np.ndarray:
    """ROC-AUC of every column of scores ``S`` (n, k) against one label vector ``y`` (n,)."""
    y = np.asarray(y).reshape(-1)
    keep = y >= 0
    y, S = y[keep].astype(np.float64), np.asarray(S, dtype=np.float64)[keep]
    if not two_classes(y):
        return np.full(S.shape[1], np.nan)
    return auc_rows(np.broadcast_to(y, (S.shape[1], y.size)), S.T)


def _quantiles(vals: np.ndarray, alpha: float, min_valid: int) -> tuple[float, float]:
    vals = vals[np.isfinite(vals)]
    if vals.size < min_valid:
        return float("nan"), float("nan")
    lo, hi = np.quantile(vals, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def bootstrap_binary(y, prob, n_boot: int = 200, alpha: float = 0.05, seed: int = 0,
                     threshold: float = 0.5) -> dict:
    """Percentile bootstrap intervals of AUC, accuracy and balanced accuracy of a binary classifier.

    Parameters
    ----------
    y : array of int, shape (n,)
        Binary labels (-1 = missing, ignored).
    prob : array of float, shape (n,)
        Probabilities (any monotone score for AUC; accuracy thresholds at ``threshold``).
    n_boot : int
        Resamples, all drawn at once from ``numpy.random.default_rng(seed)``.
    alpha : float
        1 - coverage.

    Returns
    -------
    dict
        ``{"auc_lo", "auc_hi", "acc_lo", "acc_hi", "bacc_lo", "bacc_hi"}`` (NaN when undefined).
    """
    y = np.asarray(y).reshape(-1)
    prob = np.asarray(prob, dtype=np.float64).reshape(-1)
    keep = y >= 0
    y, prob = y[keep], prob[keep]
    keys = [f"{m}_{e}" for m in BINARY_METRICS for e in ("lo", "hi")]
    if y.size == 0 or n_boot <= 0:
        return dict.fromkeys(keys, float("nan"))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, y.size, size=(n_boot, y.size))
    yb, sb = y[idx].astype(np.float64), prob[idx]
    pred = sb >= threshold
    pos = yb == 1
    acc = (pred == pos).mean(axis=1)
    n1 = pos.sum(axis=1)
    n0 = y.size - n1
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = (pred & pos).sum(axis=1) / n1
        tnr = (~pred & ~pos).sum(axis=1) / n0
    bacc = np.where((n1 > 0) & (n0 > 0), (tpr + tnr) / 2, np.nan)
    auc = auc_rows(yb, sb)
    out = {}
    for name, vals in (("auc", auc), ("acc", acc), ("bacc", bacc)):
        out[f"{name}_lo"], out[f"{name}_hi"] = _quantiles(vals, alpha, max(10, n_boot // 4))
    return out


def bootstrap_interval(statistic, *arrays, n_boot: int = 200, alpha: float = 0.05, seed: int = 0,
                       paired: bool = True) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(*resampled_arrays)``.

    ``paired=True`` resamples the same rows of every array (they share their first axis);
    ``False`` resamples each array on its own (two independent samples, e.g. members and
    non-members). Returns ``(lo, hi)``, NaN when fewer than a quarter of resamples are finite.
    """
    arrays = [np.asarray(a) for a in arrays]
    if not arrays or any(a.shape[0] == 0 for a in arrays) or n_boot <= 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    vals = np.empty(n_boot)
    if paired:
        n = arrays[0].shape[0]
        for b in range(n_boot):
            i = rng.integers(0, n, n)
            vals[b] = statistic(*(a[i] for a in arrays))
    else:
        for b in range(n_boot):
            vals[b] = statistic(*(a[rng.integers(0, a.shape[0], a.shape[0])] for a in arrays))
    return _quantiles(vals, alpha, max(10, n_boot // 4))


def spearman(x, y) -> float:
    """Spearman rank correlation (``scipy.stats.spearmanr``); 0 when either vector is constant."""
    from scipy.stats import spearmanr

    x = np.asarray(x, np.float64).reshape(-1)
    y = np.asarray(y, np.float64).reshape(-1)
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    return float(spearmanr(x, y).statistic)


def fmt(v, digits: int = 3, sign: bool = False) -> str:
    """A number as the report and findings print it: ``—`` for missing/NaN, ``digits`` decimals,
    scientific for very small or large magnitudes, integers as integers; ``sign`` prints a ``+``
    before positive values (a difference: ``+0.091``). A value that rounds to zero prints as 0."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    plus = "+" if sign else ""
    if isinstance(v, (int, np.integer)):
        return f"{int(v):{plus}d}"
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isinf(v):
            return "∞" if v > 0 else "-∞"
        if v != 0 and (abs(v) < 10 ** -digits or abs(v) >= 1e5) and not sign:
            return f"{v:.{max(digits - 1, 1)}e}"
        return f"{round(v, digits) + 0.0:{plus}.{digits}f}"
    return str(v)


def fmt_interval(v, lo, hi, digits: int = 3) -> str:
    """``0.912 [0.887, 0.934]`` (the point alone when the interval is missing)."""
    if not (finite(lo) and finite(hi)):
        return fmt(v, digits)
    return f"{fmt(v, digits)} [{fmt(lo, digits)}, {fmt(hi, digits)}]"
