"""Probe plots: metric vs layer with control bands, UMAP views, confusion matrices,
layer × epoch heat maps, concept distributions. Every function returns (fig, ax) on a bare
matplotlib Figure (pyplot never sees it) drawn in the house style (:mod:`xaiprobe._utils.figures`);
:func:`save_figure` writes PNG + SVG and returns the report's :class:`~xaiprobe.report.Figure`.
"""
from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path

import numpy as np

from .._utils.figures import color_for, savefig, styled, subplots
from ..report import Figure

log = logging.getLogger(__name__)

METRIC_LABELS = {"auc": "ROC-AUC (test)", "acc": "accuracy (test)", "bacc": "balanced accuracy (test)",
                 "top1": "top-1 accuracy (test)", "selectivity": "selectivity (AUC − shuffled)"}
#: layers with fewer feature dimensions get no UMAP view (a 1-D layer, e.g. the logit, is a line)
UMAP_MIN_DIMS = 3
CONTROL_STYLE = {"random_init": ("#555555", "--", "random-init D"), "pixels": ("#8c564b", ":", "8×8 pixels"),
                 "shuffled": ("#999999", "-.", "shuffled labels")}


def _grid(n: int, per_row: int = 3, size=(4.2, 3.2)):
    ncol = min(per_row, max(n, 1))
    nrow = int(math.ceil(n / ncol)) if n else 1
    fig, axes = subplots(nrow, ncol, figsize=(size[0] * ncol, size[1] * nrow), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes


@styled
def plot_metric_by_layer(report, metric: str = "auc", attributes=None, title: str | None = None):
    """One panel per attribute: the trained probe's ``metric`` per layer (line + 95% CI band),
    the random-init D (dashed, band), the 8×8-pixel probe (dotted horizontal band) and the
    shuffled-label control (dash-dot). ``metric="top1"`` (single-label) draws one panel for
    all classes. Returns (fig, axes)."""
    attributes = list(attributes or report.attribute_names)
    if metric == "top1":
        attributes = attributes[:1]
    layers = list(report.layers)
    x = np.arange(len(layers))
    fig, axes = _grid(len(attributes))
    has_ci = metric in ("auc", "acc", "bacc", "top1")
    for ax, a in zip(axes.ravel(), attributes):
        def series(src):
            v = np.array([report.value(layer, a, src, metric) for layer in layers])
            if has_ci:
                lo = np.array([report.value(layer, a, src, metric + "_lo") for layer in layers])
                hi = np.array([report.value(layer, a, src, metric + "_hi") for layer in layers])
                return v, lo, hi
            return v, None, None

        for src in ("random_init", "shuffled"):
            v, lo, hi = series(src)
            if np.isfinite(v).any():
                c, ls, lab = CONTROL_STYLE[src]
                ax.plot(x, v, ls, color=c, lw=1.3, label=lab)
                if lo is not None and src == "random_init":
                    ax.fill_between(x, lo, hi, color=c, alpha=0.12, lw=0)
        pv = report.value("pixels", a, "pixels", metric)
        if np.isfinite(pv):
            c, ls, lab = CONTROL_STYLE["pixels"]
            ax.axhline(pv, color=c, ls=ls, lw=1.3, label=lab)
            if has_ci:
                lo, hi = report.value("pixels", a, "pixels", metric + "_lo"), report.value("pixels", a, "pixels", metric + "_hi")
                if np.isfinite(lo) and np.isfinite(hi):
                    ax.axhspan(lo, hi, color=c, alpha=0.12, lw=0)
        v, lo, hi = series("trained")
        col = color_for(a) if metric != "top1" else "#1f3b73"
        ax.plot(x, v, "o-", color=col, lw=2, label="trained D")
        if lo is not None:
            ax.fill_between(x, lo, hi, color=col, alpha=0.2, lw=0)
        if metric in ("auc", "bacc"):
            ax.axhline(0.5, color="black", lw=0.6, alpha=0.5, label="chance")
            ax.set_ylim(0.0, 1.02)
        if metric == "top1":
            ax.axhline(1.0 / max(len(report.attribute_names), 1), color="black", lw=0.6, alpha=0.5, label="chance")
            ax.set_ylim(0.0, 1.02)
        ax.set_xticks(x)
        ax.set_xticklabels(layers, rotation=30 if len(layers) > 6 else 0)
        ax.set_title(a if metric != "top1" else f"all {len(report.attribute_names)} classes")
        ax.set_xlabel("layer")
        ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=len(handles), frameon=False, bbox_to_anchor=(0.5, -0.02))
    fig.suptitle(title or f"Linear probes: {METRIC_LABELS.get(metric, metric)} per layer, with controls", y=1.0)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig, axes


def embed_umap(X: np.ndarray, seed: int = 0, n_neighbors: int | None = None) -> np.ndarray:
    """2-D UMAP of standardized ``X`` (n, D) (seeded; small ``n_neighbors`` for small n).
    Features with at most two dimensions are returned as they are (padded with zeros)."""
    X = np.asarray(X, dtype=np.float32)
    X = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1)
    if X.shape[1] <= 2:
        return np.pad(X, ((0, 0), (0, 2 - X.shape[1])))
    import umap

    k = int(n_neighbors or min(15, max(2, len(X) // 10)))
    kw = {}
    if len(X) <= 8192:
        # exact neighbors from scikit-learn: skips compiling umap's approximate search (~30 s)
        from sklearn.neighbors import NearestNeighbors

        dist, idx = NearestNeighbors(n_neighbors=k).fit(X).kneighbors(X)
        kw["precomputed_knn"] = (idx, dist, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reducer = umap.UMAP(n_neighbors=k, min_dist=0.1, random_state=seed, n_components=2,
                            init="spectral" if len(X) > k + 2 else "random", **kw)
        return reducer.fit_transform(X)


@styled
def plot_umap(emb: np.ndarray, labels: np.ndarray, names, title: str = "", single: bool = False):
    """Scatter the 2-D embedding ``emb`` (n, 2) once per attribute (colored where it is 1) or,
    for single-label data, one panel colored by class. Returns (fig, axes)."""
    labels = np.asarray(labels)
    if single:
        fig, axes = _grid(1, size=(5.0, 4.2))
        ax = axes[0, 0]
        cls = labels.argmax(1)
        import matplotlib

        cmap = matplotlib.colormaps["tab10"]
        for k, name in enumerate(names):
            m = cls == k
            ax.scatter(emb[m, 0], emb[m, 1], s=8, color=cmap(k % 10), label=str(name), alpha=0.8, lw=0)
        ax.legend(markerscale=2, fontsize=8, ncol=2, frameon=False)
        ax.set_xticks([]), ax.set_yticks([])
    else:
        fig, axes = _grid(len(names), per_row=5, size=(3.0, 3.0))
        for ax, a in zip(axes.ravel(), range(len(names))):
            y = labels[:, a]
            ax.scatter(emb[y == 0, 0], emb[y == 0, 1], s=6, color="#cccccc", lw=0, label="0")
            ax.scatter(emb[y == 1, 0], emb[y == 1, 1], s=6, color=color_for(names[a]), lw=0, label="1")
            ax.set_title(f"{names[a]} (colored = 1)")
            ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle(title)
    fig.tight_layout()
    return fig, axes


@styled
def plot_confusion(cm, class_names, title: str = "", ax=None):
    """Confusion matrix (rows true, columns predicted) normalized per true class, counts
    printed. Returns (fig, ax)."""
    cm = np.asarray(cm, dtype=float)
    fig, ax = (ax.figure, ax) if ax is not None else subplots(figsize=(4.6, 4.0))
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    k = len(class_names)
    ax.set_xticks(range(k), labels=class_names)
    ax.set_yticks(range(k), labels=class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.grid(False)
    if k <= 12:
        for i in range(k):
            for j in range(k):
                if cm[i, j]:
                    ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if norm[i, j] > 0.5 else "black")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of true class")
    return fig, ax


@styled
def plot_confusions(report, source: str = "trained"):
    """One confusion matrix per layer (single-label reports). Returns (fig, axes)."""
    layers = [layer for layer in report.layers if source in report.confusion.get(layer, {})]
    fig, axes = _grid(len(layers), per_row=3, size=(4.6, 4.0))
    for ax, layer in zip(axes.ravel(), layers):
        top1 = report.value(layer, report.attribute_names[0], source, "top1")
        plot_confusion(report.confusion[layer][source], report.attribute_names, f"{layer} (top-1 {top1:.2f})", ax=ax)
    fig.suptitle(f"Linear probe confusion matrices per layer ({source} D, test split)")
    fig.tight_layout()
    return fig, axes


@styled
def plot_layer_epoch_heatmap(values: np.ndarray, layers, epochs, attribute: str, metric: str = "auc", ax=None):
    """Heat map of ``values`` (len(layers), len(epochs)): how knowledge of ``attribute``
    appears during training. Returns (fig, ax)."""
    values = np.asarray(values, dtype=float)
    fig, ax = (ax.figure, ax) if ax is not None else subplots(
        figsize=(max(4.0, 0.55 * len(epochs) + 2.2), max(2.6, 0.45 * len(layers) + 1.4)))
    vmin = 0.5 if metric in ("auc", "bacc") else None
    im = ax.imshow(values, aspect="auto", cmap="viridis", vmin=vmin, vmax=1.0 if vmin is not None else None,
                   origin="upper")
    ax.set_xticks(range(len(epochs)), labels=[str(e) for e in epochs])
    ax.set_yticks(range(len(layers)), labels=list(layers))
    ax.set_xlabel("epoch")
    ax.set_ylabel("layer")
    ax.grid(False)
    if values.size <= 120:
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                if np.isfinite(values[i, j]):
                    ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if values[i, j] < 0.8 else "black")
    ax.set_title(f"{attribute}: {METRIC_LABELS.get(metric, metric)} by layer and epoch")
    fig.colorbar(im, ax=ax, label=METRIC_LABELS.get(metric, metric))
    return fig, ax


@styled
def plot_concept_distribution(rows, layer: str = "", real: str = "real"):
    """Grouped bars per concept: predicted rate on generated images, on real images, and the
    true rate in the real data. ``rows`` are :func:`~xaiprobe.probes.concept_distribution`
    rows of one layer; when they hold ``n_generated`` / ``n_real`` the decoded bars get 95%
    binomial error bars. Returns (fig, ax)."""
    concepts = [r["concept"] for r in rows]
    fig, ax = subplots(figsize=(max(4.5, 1.0 * len(concepts) + 2), 3.6))
    x = np.arange(len(concepts))
    w = 0.27
    gen = np.array([r["generated_rate"] for r in rows], dtype=float)
    rr = np.array([r["real_rate"] for r in rows], dtype=float)
    true = np.array([r["true_rate"] for r in rows], dtype=float)

    def err(p, key):
        n = np.array([r.get(key, 0) or 0 for r in rows], dtype=float)
        if not len(rows) or (n <= 0).any():
            return None
        return 1.959964 * np.sqrt(np.clip(p * (1 - p), 0, None) / n)

    cols = [color_for(c) for c in concepts]
    kw = dict(capsize=2, error_kw={"lw": 0.8, "ecolor": "#333333"})
    ax.bar(x - w, gen, w, color=cols, label="generated (decoded)", yerr=err(gen, "n_generated"), **kw)
    ax.bar(x, rr, w, color=cols, alpha=0.45, label="real (decoded)", yerr=err(rr, "n_real"), **kw)
    if np.isfinite(true).any():
        ax.bar(x + w, true, w, color="white", edgecolor=cols, hatch="//", label="real (true labels)")
    ax.set_xticks(x, labels=concepts, rotation=30 if len(concepts) > 6 else 0)
    ax.set_ylabel("share of images with the concept")
    top = np.nanmax(np.concatenate([gen, rr, true])) if len(rows) else 1.0
    ax.set_ylim(0, min(1.0, 1.15 * top + 0.02) if np.isfinite(top) else 1.0)
    ax.set_title(f"Concepts in generated vs {real} images (decoder {layer})")
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig, ax


@styled  # the house style's savefig settings (tight bounding box, SVG text) apply when saving
def save_figure(fig, out_dir, stem: str, title: str, caption: str) -> Figure:
    """Write ``fig`` as OUT_DIR/STEM.png and .svg; the report's entry for it."""
    savefig(fig, Path(out_dir) / stem, formats=("png", "svg"))
    return Figure(f"{stem}.png", title, caption)


def save_probe_plots(report, out_dir, store=None, seed: int = 0, max_points: int = 1500) -> list[Figure]:
    """Write the probe figures into ``out_dir``; their report entries.

    UMAP views (when ``store`` is given) are drawn for layers with at least
    :data:`UMAP_MIN_DIMS` feature dimensions; the others are skipped with a log line.
    """
    out_dir = Path(out_dir)
    figures = []

    def save(fig, stem, caption, title):
        figures.append(save_figure(fig, out_dir, stem, title, caption))

    metric = "auc"
    fig, _ = plot_metric_by_layer(report, metric)
    save(fig, "auc_by_layer", "Test ROC-AUC of a linear probe per layer and attribute (95% bootstrap band); a layer "
         "knows an attribute beyond the baselines where the colored line is above the dashed random-init D, the "
         "dotted 8×8-pixel band and the shuffled-label control.", "Probe AUC per layer with controls")
    if report.concept_type == "single" and report.confusion:
        fig, _ = plot_confusions(report)
        save(fig, "confusion", "Confusion matrices of the linear probes on the test split, one per layer (rows: "
             "true class).", "Probe confusion matrices")
    if store is not None:
        split = store.split
        rows = np.flatnonzero(split == 2) if (split == 2).sum() >= 50 else np.arange(len(split))
        if rows.size > max_points:
            rows = np.sort(np.random.default_rng(seed).choice(rows, max_points, replace=False))
        if rows.size >= 8:
            names = report.attribute_names
            all_names = list(store.attribute_names)
            labels = store.labels[rows][:, [all_names.index(a) for a in names]]
            for layer in report.layers:
                dims = store.feature_dim(layer)
                if dims < UMAP_MIN_DIMS:
                    log.info("UMAP of layer %s skipped: its features have %d dimension(s), nothing to embed", layer, dims)
                    continue
                try:
                    emb = embed_umap(store.features(layer, rows), seed=seed)
                except Exception as exc:  # umap can fail on degenerate data; the other plots stay
                    log.warning("UMAP of layer %s skipped (%s: %s)", layer, type(exc).__name__, exc)
                    continue
                fig, _ = plot_umap(emb, labels, names, f"UMAP of {layer} activations ({rows.size} images)",
                                   single=report.concept_type == "single")
                save(fig, f"umap_{layer}", f"UMAP of layer {layer}'s activations, colored by each attribute: "
                     "attributes that form their own regions are easy to read from this layer.", f"UMAP {layer}")
    return figures
