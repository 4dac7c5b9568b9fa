"""Figures of the AE-ACGAN stage (bare matplotlib Figures in the house style; no pyplot state)."""
from __future__ import annotations

import numpy as np
import torch

from .._utils.figures import styled, subplots
from ._probes import SOURCES

__all__ = ["plot_accuracy", "plot_probe_grid", "plot_quality", "plot_image_rows", "CLASSIFIER_COLOR", "AUX_COLOR"]

CLASSIFIER_COLOR, AUX_COLOR, CONTROL_COLOR = "#1f77b4", "#d62728", "#7f7f7f"


def _err(v, lo, hi) -> np.ndarray:
    v, lo, hi = (np.asarray(x, dtype=np.float64) for x in (v, lo, hi))
    e = np.array([np.where(np.isfinite(lo), v - lo, 0.0), np.where(np.isfinite(hi), hi - v, 0.0)])
    return np.nan_to_num(np.clip(e, 0, None))


def _cell(v: float) -> str:
    """An AUC in a heatmap cell: '.87', '1.0', '—'."""
    if not np.isfinite(v):
        return "—"
    s = f"{v:.2f}"
    return "1.0" if s == "1.00" else s.replace("0.", ".", 1)


def _bars(ax, names, series, title):
    """Grouped bars: ``series`` = [(label, AttributeScores, color)]."""
    x = np.arange(len(names))
    w = 0.8 / max(len(series), 1)
    for i, (label, s, color) in enumerate(series):
        ax.bar(x + (i - (len(series) - 1) / 2) * w, np.nan_to_num(s.bacc), w, yerr=_err(s.bacc, s.lo, s.hi),
               color=color, capsize=2, label=f"{label} (mean {s.mean:.2f})", error_kw={"elinewidth": 0.8})
    ax.axhline(0.5, color="black", lw=0.8, ls="--")
    ax.text(len(names) - 0.5, 0.51, "chance", ha="right", va="bottom", fontsize=8)
    ax.set_xticks(x, names, rotation=45, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("balanced accuracy")
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize=8)


@styled
def plot_accuracy(conditional, real):
    """Two panels: on G(z, y) the classifier's and the auxiliary head's balanced accuracy for the
    requested labels (with the shuffled-label control); on real images the same two readers
    (with the random-init auxiliary head)."""
    names = conditional.classifier.names
    fig, axes = subplots(2, 1, figsize=(max(7, 0.55 * len(names) + 2), 7.5), layout="constrained")
    gen = [("classifier", conditional.classifier, CLASSIFIER_COLOR)]
    if conditional.aux is not None:
        gen.append(("auxiliary head", conditional.aux, AUX_COLOR))
    gen.append(("classifier vs shuffled requests", conditional.shuffled, CONTROL_COLOR))
    _bars(axes[0], names, gen, "Generated G(z, y): is the requested y there?")
    rl = [("classifier", real["classifier"], CLASSIFIER_COLOR), ("auxiliary head", real["aux"], AUX_COLOR)]
    if "random_aux" in real:
        rl.append(("random-init auxiliary head", real["random_aux"], CONTROL_COLOR))
    _bars(axes[1], names, rl, "Real test images: true labels")
    return fig


@styled
def plot_probe_grid(grid, summary):
    """Left: probe ROC-AUC per source/layer row x attribute. Right: per attribute, the best
    AE-ACGAN layer's gain over the best DCGAN layer and over the best random-init AE-ACGAN layer."""
    names = grid.names
    labels = [f"{SOURCES.get(s, s)} · {layer}" if s != "pixels" else SOURCES[s] for s, layer in grid.rows]
    A, R = len(names), len(grid.rows)
    fig, (ax, bx) = subplots(1, 2, figsize=(0.5 * A + 9, max(4.5, 0.36 * R + 2)), layout="constrained",
                             gridspec_kw={"width_ratios": [max(A, 3), 5]})
    im = ax.imshow(np.nan_to_num(grid.auc, nan=0.5), vmin=0.5, vmax=1.0, cmap="viridis", aspect="auto")
    for r in range(R):
        for a in range(A):
            v = grid.auc[r, a]
            ax.text(a, r, _cell(v), ha="center", va="center", fontsize=6.5,
                    color="white" if np.isfinite(v) and v < 0.8 else "black")
    ax.set_xticks(range(A), names, rotation=45, ha="right")
    ax.set_yticks(range(R), labels, fontsize=8)
    src = [s for s, _ in grid.rows]
    for r in range(1, R):
        if src[r] != src[r - 1]:
            ax.axhline(r - 0.5, color="white", lw=2)
    ax.grid(False)
    ax.set_title(f"Linear-probe ROC-AUC on {grid.n_test} held-out real images")
    fig.colorbar(im, ax=ax, shrink=0.6, label="ROC-AUC")
    y = np.arange(A)
    series = [("gain_dcgan", "over the DCGAN's D", "#9467bd"), ("gain_random", "over the random-init AE-ACGAN D",
                                                                    CONTROL_COLOR)]
    h = 0.38
    for i, (key, label, color) in enumerate(series):
        v = np.array([s[key] for s in summary], dtype=np.float64)
        if not np.isfinite(v).any():
            continue
        lo = np.array([s[f"{key}_lo"] for s in summary], dtype=np.float64)
        hi = np.array([s[f"{key}_hi"] for s in summary], dtype=np.float64)
        bx.barh(y + (i - 0.5) * h, np.nan_to_num(v), h, xerr=_err(v, lo, hi), color=color, label=label, capsize=2,
                error_kw={"elinewidth": 0.8})
    bx.axvline(0, color="black", lw=0.8)
    bx.set_yticks(y, [f"{s['attribute']} ({s['aeacgan_layer']})" for s in summary], fontsize=8)
    bx.invert_yaxis()
    bx.set_xlabel("AUC gain of the AE-ACGAN D's best layer")
    bx.set_title("What the labels add")
    bx.legend(fontsize=8, loc="lower right")
    return fig


@styled
def plot_quality(sets: dict):
    """Fréchet distance, precision, recall and diversity of each image set (bars: 95% intervals)."""
    names = list(sets)
    fig, axes = subplots(1, 4, figsize=(12, 3.2), layout="constrained")
    colors = {"AE-ACGAN": AUX_COLOR, "ablation (no auto-encoder)": "#ff7f0e", "DCGAN": "#9467bd",
              "real vs real": CONTROL_COLOR}
    for ax, (metric, title) in zip(axes, (("fd", "Fréchet distance (lower is better)"),
                                          ("precision", "precision (fidelity)"), ("recall", "recall (coverage)"),
                                          ("diversity", "diversity (mean feature distance)"))):
        v = [sets[s][metric] for s in names]
        lo = [sets[s][f"{metric}_lo"] for s in names]
        hi = [sets[s][f"{metric}_hi"] for s in names]
        ax.bar(range(len(names)), np.nan_to_num(v), yerr=_err(v, lo, hi), capsize=3,
               color=[colors.get(s, CLASSIFIER_COLOR) for s in names])
        ax.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=8)
        ax.set_title(title)
        if metric in ("precision", "recall"):
            ax.set_ylim(0, 1.05)
    return fig


@styled
def plot_image_rows(rows, row_labels, title: str, col_labels=None, pair: bool = False):
    """Image rows (each a tensor (C, 3, 64, 64) in [-1, 1]) as one grid with a label per row.

    ``pair``: columns come in (off, on) pairs, marked above the first row."""
    from torchvision.utils import make_grid

    ncol = max(len(r) for r in rows)
    x = torch.cat([r.float().cpu() for r in rows])
    grid = make_grid(x, nrow=ncol, padding=2, normalize=True, value_range=(-1, 1), pad_value=1.0)
    img = grid.permute(1, 2, 0).numpy()
    fig, ax = subplots(1, 1, figsize=(1.0 + 0.75 * ncol, 0.5 + 0.75 * len(rows)), layout="constrained")
    ax.imshow(img, interpolation="nearest")
    ax.grid(False)
    step = 66
    ax.set_yticks([2 + 32 + i * step for i in range(len(rows))], row_labels, fontsize=8)
    if col_labels is not None:
        ax.set_xticks([2 + 32 + j * step for j in range(ncol)], col_labels, fontsize=7)
        ax.xaxis.tick_top()
    else:
        ax.set_xticks([])
    if pair:
        for j in range(2, ncol, 2):
            ax.axvline(j * step + 1, color="black", lw=1.2)
    for s in ax.spines.values():
        s.set_visible(False)
    ax.set_title(title, fontsize=10)
    return fig

