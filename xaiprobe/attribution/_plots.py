"""Figures of the attribution stage. Every function returns (fig, ax) on a bare Figure drawn in
the house style (:mod:`xaiprobe._utils.figures`); save with ``xaiprobe._utils.figures.savefig``."""
from __future__ import annotations

import matplotlib
import numpy as np
import torch

from .._utils.figures import ATTRIBUTE_COLORS, color_for, styled, subplots
from ._localization import concept_regions


def _rgb(img) -> np.ndarray:
    """(C, H, W) in [-1, 1] -> (H, W, 3) in [0, 1]."""
    a = np.asarray(img.detach().cpu() if torch.is_tensor(img) else img, dtype=np.float32)
    if a.shape[0] == 1:
        a = np.repeat(a, 3, axis=0)
    return np.clip((a.transpose(1, 2, 0) + 1) / 2, 0, 1)


#: colors of regions without an attribute, in order of use (tab10 colors no attribute uses)
_REGION_PALETTE = ("#7f7f7f", "#8c564b", "#17becf", "#e377c2", "#bcbd22", "#ff7f0e")


def region_colors(regions) -> dict:
    """Region -> color: a concept's region takes its attribute's color (mouth = Smiling's),
    the other regions distinct colors not used by any attribute."""
    attr_of: dict = {}
    for c, r in concept_regions().items():  # the first attribute of a region gives its color
        attr_of.setdefault(r, c)
    out = {r: color_for(attr_of[r]) for r in regions if r in attr_of}
    taken = set(out.values()) | set(ATTRIBUTE_COLORS.values())
    free = [c for c in _REGION_PALETTE if c not in taken]
    rest = [r for r in regions if r not in out]
    out.update({r: free[i % len(free)] for i, r in enumerate(rest)})
    return out


def _off(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for s in ax.spines.values():
        s.set_visible(False)


@styled
def plot_attribution_grid(images, maps, title: str = "", labels=None, max_cols: int = 16):
    """Rows: image, heat map (signed, blue < 0 < red, scaled per image), blend (|map| over the
    gray image).

    Parameters
    ----------
    images : Tensor (n, C, H, W) in [-1, 1]
    maps : Tensor or ndarray (n, H, W)
    labels : list of str, optional
        Column titles.
    """
    maps = np.asarray(maps.detach().cpu() if torch.is_tensor(maps) else maps, dtype=np.float32)
    n = min(len(maps), max_cols)
    fig, axes = subplots(3, n, figsize=(1.3 * n + 0.6, 4.3), squeeze=False)
    for j in range(n):
        img = _rgb(images[j])
        m = maps[j]
        lim = float(np.percentile(np.abs(m), 99.5)) or 1e-12
        axes[0, j].imshow(img)
        axes[1, j].imshow(m, cmap="bwr", vmin=-lim, vmax=lim)
        gray = img.mean(2, keepdims=True).repeat(3, 2)
        heat = matplotlib.colormaps["inferno"](np.clip(np.abs(m) / lim, 0, 1))[..., :3]
        alpha = np.clip(np.abs(m) / lim, 0, 1)[..., None] * 0.8
        axes[2, j].imshow(gray * (1 - alpha) + heat * alpha)
        if labels is not None:
            axes[0, j].set_title(str(labels[j]), fontsize=7)
        for i in range(3):
            _off(axes[i, j])
    for i, name in enumerate(["image", "map", "blend"]):
        axes[i, 0].set_ylabel(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig, axes


@styled
def plot_sanity(result):
    """Mean Spearman correlation (trained vs randomized maps) against the cascade step."""
    fig, ax = subplots(figsize=(6.2, 3.8))
    x = np.arange(len(result.steps) + 1)
    for i, m in enumerate(result.methods):
        y = np.concatenate([[1.0], result.spearman[i]])
        sd = np.concatenate([[0.0], result.spearman_std[i]])
        line, = ax.plot(x, y, marker="o", label=f"{m}{' (flagged)' if result.flagged[m] else ''}",
                        linestyle="--" if result.flagged[m] else "-")
        ax.fill_between(x, y - sd, y + sd, color=line.get_color(), alpha=0.12)
    ax.axhline(result.threshold, color="gray", linestyle=":", label=f"flag threshold {result.threshold:g}")
    ax.set_xticks(x, ["trained"] + [f"→{s}" for s in result.steps], rotation=0)
    ax.set_xlabel("layers re-initialized, top-down (cascading)")
    ax.set_ylabel("Spearman ρ of |maps| vs trained")
    low = np.nanmin(result.spearman - result.spearman_std) if np.isfinite(result.spearman).any() else 0.0
    ax.set_ylim(min(-0.2, float(low) - 0.05), 1.05)
    ax.set_title(f"Sanity check (Adebayo et al. 2018), target {result.target}")
    ax.legend(fontsize=8, loc="upper right", ncol=2)
    fig.tight_layout()
    return fig, ax


@styled
def plot_localization(result):
    """Bars per concept and method: share/area ratio (left) and pointing-game hit rate (right)."""
    rows = result.rows
    concepts = list(dict.fromkeys(r["concept"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig, axes = subplots(1, 2, figsize=(10, 3.8))
    w = 0.8 / max(len(methods), 1)
    cmap = matplotlib.colormaps["tab10"]
    for j, m in enumerate(methods):
        for k, key in enumerate(("ratio", "pointing")):
            vals = [next((r[key] for r in rows if r["concept"] == c and r["method"] == m), np.nan) for c in concepts]
            axes[k].bar(np.arange(len(concepts)) + (j - (len(methods) - 1) / 2) * w, vals, w, label=m, color=cmap(j))
    chance = [np.nanmean([r["chance"] for r in rows if r["concept"] == c]) for c in concepts]
    axes[0].axhline(1.0, color="gray", linestyle=":", label="uniform (1)")
    axes[1].scatter(np.arange(len(concepts)), chance, marker="_", s=900, color="k", label="chance", zorder=3)
    regions = {r["concept"]: r["region"] for r in rows}
    for ax, lab in zip(axes, ("positive attribution share / region area", "pointing-game hit rate")):
        ax.set_xticks(np.arange(len(concepts)), [f"{c}\n({regions[c]})" for c in concepts])
        ax.set_ylabel(lab)
    axes[1].set_ylim(0, 1.05)
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8)
    fig.suptitle(f"Localization on SynthFaces masks (target {rows[0]['target'].split(':')[0]})", fontsize=10)
    fig.tight_layout()
    return fig, axes


@styled
def plot_image_grid(images, title: str = "", row_labels=None, col_labels=None, ncols: int | None = None):
    """A grid of images: (rows, cols, C, H, W) or (n, C, H, W) wrapped at ``ncols``."""
    imgs = images.detach().cpu().numpy() if torch.is_tensor(images) else np.asarray(images)
    if imgs.ndim == 4:
        n = len(imgs)
        ncols = ncols or int(np.ceil(np.sqrt(n)))
        nrows = int(np.ceil(n / ncols))
        pad = np.zeros((nrows * ncols - n, *imgs.shape[1:]), dtype=imgs.dtype) - 1
        imgs = np.concatenate([imgs, pad]).reshape(nrows, ncols, *imgs.shape[1:])
    nrows, ncols = imgs.shape[:2]
    fig, axes = subplots(nrows, ncols, figsize=(0.95 * ncols + 0.8, 0.95 * nrows + 0.5), squeeze=False)
    for i in range(nrows):
        for j in range(ncols):
            axes[i, j].imshow(_rgb(imgs[i, j]))
            _off(axes[i, j])
            if col_labels is not None and i == 0:
                axes[i, j].set_title(str(col_labels[j]), fontsize=7)
        if row_labels is not None:
            axes[i, 0].set_ylabel(str(row_labels[i]), fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig, axes


@styled
def plot_filter_grid(grid: np.ndarray, title: str = "conv1 filters (RGB, gray = 0)"):
    """Show a tiled filter image from :func:`xaiprobe.attribution.filters.filter_grid`."""
    h, w = grid.shape[:2]
    fig, ax = subplots(figsize=(min(10, 0.04 * w + 1), min(10, 0.04 * h + 1)))
    ax.imshow(grid, interpolation="nearest")
    _off(ax)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig, ax


@styled
def plot_maximization_traces(result):
    """Objective against step for each channel of an activation-maximization run."""
    fig, ax = subplots(figsize=(5.5, 3.4))
    ax.plot(result.trace, alpha=0.6, linewidth=1)
    ax.plot(result.trace.mean(1), color="k", linewidth=2, label="mean over channels")
    ax.set_xlabel("step")
    ax.set_ylabel("mean channel activation")
    ax.set_title(f"Activation maximization, {result.layer}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, ax


@styled
def plot_dissection(result):
    """Stacked bars: concept-selective units per layer (IoU above the threshold), by concept."""
    fig, ax = subplots(figsize=(6, 3.6))
    bottom = np.zeros(len(result.layers))
    colors = region_colors(result.concepts)
    for c in result.concepts:
        v = np.array([result.counts[layer].get(c, 0) for layer in result.layers], dtype=float)
        ax.bar(result.layers, v, bottom=bottom, label=c, color=colors[c])
        bottom += v
    for i, layer in enumerate(result.layers):
        ax.text(i, bottom[i], f"{int(bottom[i])}/{result.iou[layer].shape[0]}", ha="center", va="bottom", fontsize=8)
    ax.set_ylabel(f"units with IoU > {result.iou_threshold:g}, ≥ {result.min_lift:g}× chance")
    ax.set_title(f"Network dissection (top {100 * (1 - result.quantile):.2g}% activations, {result.n_images} images)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, ax


@styled
def plot_latent_ranking(ranking, top: int = 16):
    """Pixel change per latent dim (sorted), and the classifier's change per attribute if any."""
    n = 2 if ranking.classifier_change is not None else 1
    fig, axes = subplots(1, n, figsize=(6 * n, 3.6), squeeze=False)
    order = np.argsort(-ranking.pixel_change)[:top]
    ax = axes[0, 0]
    ax.bar([str(ranking.dims[i]) for i in order], ranking.pixel_change[order], color="#555555")
    ax.set_xlabel("latent dim")
    ax.set_ylabel(f"mean |Δ pixel|, z_d = ±{ranking.amplitude:g}")
    ax.set_title("Latent dims by image change")
    if n == 2:
        ax = axes[0, 1]
        cc = ranking.classifier_change[order]
        im = ax.imshow(cc.T, aspect="auto", cmap="viridis")
        ax.set_yticks(range(len(ranking.attribute_names)), ranking.attribute_names)
        ax.set_xticks(range(len(order)), [str(ranking.dims[i]) for i in order], fontsize=7)
        ax.set_xlabel("latent dim")
        ax.set_title("Classifier |Δ logit| per attribute")
        ax.grid(False)
        fig.colorbar(im, ax=ax)
    fig.tight_layout()
    return fig, axes


@styled
def plot_generator_features(features: dict, k: int = 8):
    """Rows: generator layers; columns: the ``k`` channels with the largest mean |activation|."""
    layers = list(features)
    fig, axes = subplots(len(layers), k, figsize=(1.1 * k + 0.8, 1.15 * len(layers) + 0.4), squeeze=False)
    for i, name in enumerate(layers):
        f = features[name]
        if f.dim() == 3 and f.shape[0] == 3 and name == layers[-1]:
            axes[i, 0].imshow(_rgb(f))
            for j in range(k):
                _off(axes[i, j])
        else:
            f = f.reshape(f.shape[0], *f.shape[-2:]) if f.dim() == 3 else f.reshape(-1, 1, 1)
            top = torch.argsort(f.abs().flatten(1).mean(1), descending=True)[:k]
            for j in range(k):
                _off(axes[i, j])
                if j < len(top):
                    axes[i, j].imshow(f[top[j]].numpy(), cmap="magma")
                    axes[i, j].set_title(f"ch {int(top[j])}", fontsize=6)
        axes[i, 0].set_ylabel(f"{name}\n{tuple(features[name].shape)}", fontsize=7)
    fig.suptitle("Generator feature maps for one latent", fontsize=10)
    fig.tight_layout()
    return fig, axes


@styled
def plot_divergence(div):
    """Normalized activation distance of counterfactual pairs per D layer, one line per attribute."""
    fig, ax = subplots(figsize=(6.2, 3.8))
    x = np.arange(len(div.layers))
    for a in div.attributes:
        ax.plot(x, div.distance[a], marker="o", label=a, color=color_for(a))
    ax.plot(x, div.baseline, color="gray", linestyle="--", marker="x", label="different faces")
    ax.set_xticks(x, div.layers)
    ax.set_xlabel("discriminator layer")
    ax.set_ylabel("||a − b|| / (||a|| + ||b||)")
    ax.set_yscale("log")
    ax.set_title(f"Where counterfactual pairs diverge ({div.n_pairs} pairs per attribute)")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig, ax
