"""Editing figures; each function returns (fig, ax) on a bare Figure drawn in the house style and
leaves saving to ``xaiprobe._utils.figures.savefig``."""
from __future__ import annotations

import matplotlib
import numpy as np
import torch

from .._utils.figures import color_for, styled, subplots


@styled
def plot_edit_grid(images: torch.Tensor, alphas, title: str = "", padding: int = 2):
    """Rows of latents, columns of α.

    Parameters
    ----------
    images : tensor (n, k, 3, H, W) in [-1, 1]
    alphas : array (k,)
    """
    from torchvision.utils import make_grid

    n, k = images.shape[:2]
    grid = make_grid(images.reshape(n * k, *images.shape[2:]).float().clamp(-1, 1), nrow=k, padding=padding,
                     normalize=True, value_range=(-1, 1), pad_value=1.0)
    H, W = images.shape[-2:]
    fig, ax = subplots(figsize=(max(1.0 * k, 3), max(1.0 * n, 2) + 0.5))
    ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.set_xticks([padding + j * (W + padding) + W / 2 for j in range(k)])
    ax.set_xticklabels([f"{a:+.2g}" for a in np.asarray(alphas, float)])
    ax.set_yticks([])
    ax.set_xlabel("α")
    ax.grid(False)
    for s in ax.spines.values():
        s.set_visible(False)
    if title:
        ax.set_title(title)
    return fig, ax


@styled
def plot_entanglement(matrix, attribute_names, title: str = ""):
    """Heat map of an A×A entanglement matrix (row: edited attribute; column: measured)."""
    M = np.asarray(matrix, float)
    A = len(attribute_names)
    fig, ax = subplots(figsize=(1.0 * A + 2, 0.8 * A + 1.2))
    lim = max(1.0, float(np.nanmax(np.abs(M)))) if np.isfinite(M).any() else 1.0
    im = ax.imshow(M, cmap="RdBu_r", vmin=-lim, vmax=lim)
    for i in range(A):
        for j in range(A):
            if np.isfinite(M[i, j]):
                ax.text(j, i, f"{M[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if abs(M[i, j]) > 0.6 * lim else "black")
    ax.set_xticks(range(A))
    ax.set_xticklabels(attribute_names, rotation=45, ha="right")
    ax.set_yticks(range(A))
    ax.set_yticklabels(attribute_names)
    ax.set_xlabel("measured attribute (logit slope / |edited attribute slope|)")
    ax.set_ylabel("edited attribute")
    ax.grid(False)
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title(title or "entanglement")
    return fig, ax


@styled
def plot_method_comparison(result: dict, metric: str = "slope"):
    """Grouped bars: ``metric`` per attribute (groups) and direction method (bars)."""
    rows = result["rows"]
    methods = list(dict.fromkeys(r["method"] for r in rows))
    attrs = list(dict.fromkeys(r["attribute"] for r in rows))
    fig, ax = subplots(figsize=(1.4 * len(attrs) + 2, 3.2))
    w = 0.8 / max(len(methods), 1)
    cmap = matplotlib.colormaps["tab10"]
    for i, m in enumerate(methods):
        vals = [next((r[metric] for r in rows if r["method"] == m and r["attribute"] == a), np.nan) for a in attrs]
        ax.bar(np.arange(len(attrs)) + (i - (len(methods) - 1) / 2) * w, vals, w, label=m, color=cmap(i))
    ax.set_xticks(range(len(attrs)))
    ax.set_xticklabels(attrs)
    ax.set_ylabel(metric.replace("_", " "))
    ax.axhline(0, color="k", lw=0.8)
    ax.legend(ncol=min(len(methods), 5), fontsize=8)
    ax.set_title(f"edit {metric.replace('_', ' ')} by direction method")
    return fig, ax


@styled
def plot_logit_paths(result: dict, method: str = "lstsq"):
    """Mean classifier logit of each attribute against α when editing it (target only)."""
    alphas = np.asarray(result["alphas"], float)
    names = result["attribute_names"]
    fig, ax = subplots(figsize=(5, 3.4))
    for at, L in result["mean_logits"].get(method, {}).items():
        ax.plot(alphas, np.asarray(L)[:, names.index(at)], "o-", color=color_for(at), label=at)
    ax.set_xlabel("α")
    ax.set_ylabel("classifier logit of the edited attribute")
    ax.legend(fontsize=8)
    ax.set_title(f"{method} edits: target logit vs α")
    return fig, ax


@styled
def plot_concept_curves(curves: dict, attribute: str):
    """D's decoded probability of concept ``attribute`` against α, one line per layer.

    ``curves`` is the output of :func:`xaiprobe.editing.quality.concept_curves`.
    """
    alphas = np.asarray(curves["alphas"], float)
    per_layer = curves["curves"].get(attribute, {})
    fig, ax = subplots(figsize=(5, 3.4))
    cmap = matplotlib.colormaps["viridis"]
    for i, (layer, concepts) in enumerate(per_layer.items()):
        if attribute in concepts:
            ax.plot(alphas, concepts[attribute], "o-", color=cmap(i / max(len(per_layer) - 1, 1)), label=layer)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"α along the {curves.get('method', '')} {attribute} direction")
    ax.set_ylabel(f"D's decoded P({attribute})")
    ax.legend(title="layer", fontsize=8)
    ax.set_title(f"does D's {attribute} follow the edit?")
    return fig, ax
