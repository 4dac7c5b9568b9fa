"""Membership-inference plots; every function returns (fig, ax) on a bare Figure drawn in the
house style. Save with ``xaiprobe._utils.figures.savefig(fig, path_without_ext)``.
"""
from __future__ import annotations

import matplotlib
import numpy as np

from .._utils.figures import styled, subplots
from ._attack import MIAResult

_COLORS = {"logit": "#1f77b4", "calibrated": "#2ca02c", "control": "#d62728"}


def _color(name: str, i: int) -> str:
    for key, c in _COLORS.items():
        if name.startswith(key):
            return c
    return matplotlib.colormaps["tab10"].colors[(i + 3) % 10]


def _as_dict(results) -> dict:
    if isinstance(results, MIAResult):
        return {results.name: results}
    if isinstance(results, dict):
        return dict(results)
    return {r.name: r for r in results}


def _label(name: str, r: MIAResult) -> str:
    ci = r.ci.get("auc")
    ci_txt = f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""
    return f"{name}: AUC {r.metrics['auc']:.3f}{ci_txt}"


@styled
def plot_roc(results, scale: str = "linear", ax=None):
    """Test ROC curves of one or more attacks.

    Parameters
    ----------
    results : MIAResult, list of MIAResult or dict of label -> MIAResult
    scale : {"linear", "log"}
        ``"log"``: both axes logarithmic, to read the TPR at low FPR (Carlini et al. 2022).
    ax : matplotlib Axes, optional

    Returns
    -------
    fig, ax
    """
    results = _as_dict(results)
    fig, ax = (subplots(figsize=(4.6, 4.2)) if ax is None else (ax.figure, ax))
    floor = 1.0
    for i, (name, r) in enumerate(results.items()):
        fpr, tpr, _ = r.roc()
        ax.plot(fpr, tpr, color=_color(name, i), lw=1.6, label=_label(name, r), drawstyle="default")
        floor = min(floor, r.metrics["min_measurable_fpr"])
    if scale == "log":
        lo = max(floor / 2, 1e-5)
        grid = np.logspace(np.log10(lo), 0, 50)
        ax.plot(grid, grid, ls="--", color="0.5", lw=1, label="chance")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, 1)
        ax.set_ylim(lo, 1.02)
        ax.axvline(floor, color="0.7", lw=0.8, ls=":")
        ax.set_title("ROC (log scale; dotted: smallest measurable FPR)")
    else:
        ax.plot([0, 1], [0, 1], ls="--", color="0.5", lw=1, label="chance")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.set_title("ROC of the membership attack (test part)")
    ax.set_xlabel("false-positive rate (non-members called members)")
    ax.set_ylabel("true-positive rate (members found)")
    ax.legend(loc="lower right", fontsize=8)
    return fig, ax


@styled
def plot_score_histograms(result: MIAResult, ax=None, bins: int = 40):
    """Member and non-member score distributions (test part) with the calibrated threshold.

    Returns
    -------
    fig, ax
    """
    fig, ax = (subplots(figsize=(5.2, 3.6)) if ax is None else (ax.figure, ax))
    sm, sn = result.test_scores()
    both = np.concatenate([sm, sn])
    lo, hi = float(both.min()), float(both.max())
    edges = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
    ax.hist(sn, bins=edges, alpha=0.55, color="#7f7f7f", label=f"non-members (n={sn.size})", density=True)
    ax.hist(sm, bins=edges, alpha=0.55, color="#d62728", label=f"members (n={sm.size})", density=True)
    ax.axvline(result.threshold, color="k", lw=1, ls="--", label=f"threshold {result.threshold:.3g}")
    xlabel = {"logit": "discriminator logit", "calibrated": "target logit - reference logit",
              "control": "discriminator logit (positive-control GAN)"}
    ax.set_xlabel(xlabel.get(result.name, f"score ({result.name})"))
    ax.set_ylabel("density")
    ax.set_title(f"{result.name}: AUC {result.metrics['auc']:.3f}, balanced acc. "
                 f"{result.metrics['balanced_accuracy']:.3f}")
    ax.legend(fontsize=8)
    return fig, ax


@styled
def plot_auc_by_epoch(curve, ax=None):
    """Attack AUC against training epoch with its bootstrap band.

    Parameters
    ----------
    curve : EpochCurve

    Returns
    -------
    fig, ax
    """
    fig, ax = (subplots(figsize=(5.2, 3.6)) if ax is None else (ax.figure, ax))
    ax.fill_between(curve.epochs, curve.auc_low, curve.auc_high, color="#1f77b4", alpha=0.2, label="95% bootstrap CI")
    ax.plot(curve.epochs, curve.auc, marker="o", color="#1f77b4", label="attack AUC (raw logit)")
    ax.axhline(0.5, color="0.5", ls="--", lw=1, label="chance")
    ax.set_xlabel("epoch")
    ax.set_ylabel("ROC-AUC (test part)")
    ax.set_title("Membership signal during training")
    lo = min(0.4, float(np.nanmin(curve.auc_low)) - 0.02) if len(curve.auc_low) else 0.4
    ax.set_ylim(lo, max(0.7, float(np.nanmax(curve.auc_high)) + 0.02) if len(curve.auc_high) else 1)
    ax.legend(fontsize=8)
    return fig, ax


@styled
def plot_attack_comparison(results, ax=None):
    """Bar chart of test AUC (with interval) and TPR at 1% FPR for several attacks, side by side.

    Returns
    -------
    fig, ax
    """
    results = _as_dict(results)
    fig, ax = (subplots(figsize=(5.2, 3.6)) if ax is None else (ax.figure, ax))
    names = list(results)
    x = np.arange(len(names))
    auc = np.array([results[n].metrics["auc"] for n in names])
    ci = [results[n].ci.get("auc") or [a, a] for n, a in zip(names, auc)]
    err = np.array([[a - c[0], c[1] - a] for a, c in zip(auc, ci)]).T
    ax.bar(x - 0.2, auc, 0.4, yerr=err, capsize=3, color=[_color(n, i) for i, n in enumerate(names)],
           label="ROC-AUC")
    tpr = [results[n].metrics.get("tpr@0.01fpr") for n in names]
    ax.bar(x + 0.2, [np.nan if t is None else t for t in tpr], 0.4, color="0.6", label="TPR @ 1% FPR")
    for xi, t in zip(x, tpr):
        if t is None:
            ax.text(xi + 0.2, 0.02, "n/a", ha="center", fontsize=8)
    ax.axhline(0.5, color="0.5", ls="--", lw=1)
    ax.set_xticks(x)
    ax.set_xticklabels(names)
    ax.set_ylim(0, 1.05)
    ax.set_title("Membership attacks side by side")
    ax.legend(fontsize=8, loc="upper left")
    return fig, ax
