"""What a discriminator knows with and without labels: linear-probe ROC-AUC per layer x attribute.

Every discriminator (the AE-ACGAN's, the DCGAN's, a random-init one of each architecture) sees
the same real images; each layer's output is pooled (adaptive average 2x2 by default), a
:class:`~xaiprobe.probes.LinearProbe` is fitted on a train part and scored on the rest, and
8x8-downsampled pixels are probed the same way. The AE-ACGAN's auxiliary head is scored
directly (its logits, no probe) beside them.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from .._utils.numeric import auc_rows, bootstrap_binary, roc_auc

log = logging.getLogger(__name__)

__all__ = ["PROBE_LAYERS", "SOURCES", "layer_features", "pixel_features", "ProbeGrid", "probe_grid", "readability"]

#: the hidden layers probed, shallow to deep, by architecture (the heads are left out)
PROBE_LAYERS = {"aeacgan": ("conv1", "conv2", "conv3", "fc"), "dcgan": ("conv1", "conv2", "conv3", "conv4")}
#: feature sources in table order: key -> label
SOURCES = {"pixels": "pixels 8×8", "aeacgan": "AE-ACGAN D", "aeacgan_aux": "AE-ACGAN D aux head",
           "aeacgan_random": "AE-ACGAN D random init", "dcgan": "DCGAN D", "dcgan_random": "DCGAN D random init"}
PIXEL_SIZE = 8
MAX_ITER = 100
#: test images of each class an attribute needs before it can be called readable
MIN_CLASS = 10


@torch.no_grad()
def layer_features(model, images: torch.Tensor, layers, pooling: str = "avg2", batch_size: int = 128
                   ) -> dict[str, np.ndarray]:
    """``{layer: features (N, D) float32}`` of ``images`` through ``model`` (eval mode, restored),
    each layer's output pooled with ``pooling`` and flattened (``xaiprobe.run_with_cache``)."""
    from .._utils.coerce import evaluating, module_device
    from ..activations import run_with_cache

    out: dict[str, list] = {str(a): [] for a in layers}
    with evaluating(model):
        dev = module_device(model)
        for i in range(0, len(images), batch_size):
            _, cache = run_with_cache(model, images[i:i + batch_size].to(dev, torch.float32), list(layers),
                                      pooling=pooling)
            for a in out:
                out[a].append(cache[a].float().flatten(1).cpu().numpy())
    return {a: np.concatenate(v) if v else np.empty((0, 0), np.float32) for a, v in out.items()}


def pixel_features(images: torch.Tensor) -> np.ndarray:
    """Images average-pooled to 8x8, flattened: (N, 3 * 64) float32."""
    return torch.nn.functional.adaptive_avg_pool2d(images.float(), PIXEL_SIZE).flatten(1).numpy()


@dataclass
class ProbeGrid:
    """Probe ROC-AUC per (source, layer) row x attribute on the test part, with 95% intervals.

    ``scores[(source, layer)]``: test-row scores (n_test, A) (probabilities, or the auxiliary
    head's logits); ``y``: test labels (n_test, A).
    """

    names: list
    rows: list
    auc: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    scores: dict = field(repr=False)
    y: np.ndarray = field(repr=False)
    n_train: int = 0
    n_test: int = 0
    warnings: list = field(default_factory=list)

    def row(self, source: str, layer: str) -> int:
        return self.rows.index((source, layer))

    def layers_of(self, source: str) -> list[str]:
        return [layer for s, layer in self.rows if s == source]


def probe_grid(features: dict, labels: np.ndarray, names, train: np.ndarray, test: np.ndarray,
               direct: dict | None = None, Cs=(0.1,), seed: int = 0, n_boot: int = 200,
               max_iter: int = MAX_ITER) -> ProbeGrid:
    """Fit one multi-attribute probe per feature matrix and score it on the test rows.

    Parameters
    ----------
    features : dict of (source, layer) -> ndarray (N, D)
        Features of the same N images, in row order of ``labels``.
    labels : ndarray (N, A)
    train, test : ndarray of int
        Rows to fit on and to score on.
    direct : dict of (source, layer) -> ndarray (N, A), optional
        Scores used as they are (no probe), e.g. the auxiliary head's logits.
    Cs : sequence of float
        The probe's inverse regularization strength: one value is used as it is; several are a
        grid, chosen per attribute on a held-out part of the train rows (about 3x the time).
    max_iter : int
        L-BFGS iterations per fit (100 reach the held-out AUC of a full fit to 0.001).
    """
    from ..probes import LinearProbe

    Y = np.asarray(labels).astype(np.int8)
    yte = Y[test]
    A = Y.shape[1]
    rows, scores, said = [], {}, []
    for key, X in features.items():
        X = np.asarray(X, dtype=np.float32)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            grid_or_c = {"C": float(Cs[0])} if len(Cs) == 1 else {"Cs": tuple(Cs)}
            probe = LinearProbe(**grid_or_c, max_iter=max_iter, tol=1e-4, random_state=seed)
            probe.fit(X[train], Y[train], attribute_names=names, layer=key[1])
            scores[key] = probe.predict_proba(X[test])
        said += [f"{key[0]} {key[1]}: {w.message}" for w in caught]
        rows.append(key)
    for key, S in (direct or {}).items():
        scores[key] = np.asarray(S, dtype=np.float64)[test]
        rows.append(key)
    order = {s: i for i, s in enumerate(SOURCES)}
    rows.sort(key=lambda k: order.get(k[0], len(order)))  # stable: layers keep their order
    auc, lo, hi = (np.full((len(rows), A), np.nan) for _ in range(3))
    for r, key in enumerate(rows):
        for a in range(A):
            auc[r, a] = roc_auc(yte[:, a], scores[key][:, a])
            if np.isfinite(auc[r, a]) and n_boot > 0:
                ci = bootstrap_binary(yte[:, a], scores[key][:, a], n_boot=n_boot, seed=seed + a)
                lo[r, a], hi[r, a] = ci["auc_lo"], ci["auc_hi"]
    for msg in dict.fromkeys(said):
        log.info("probe: %s", msg)
    return ProbeGrid(list(names), rows, auc, lo, hi, scores, yte, len(train), len(test), list(dict.fromkeys(said)))


def _best(grid: ProbeGrid, source: str, a: int) -> tuple[str | None, float]:
    """(layer, AUC) of the source's best layer for attribute ``a`` (None when it has none)."""
    layers = grid.layers_of(source)
    vals = [grid.auc[grid.row(source, layer), a] for layer in layers]
    if not layers or not np.isfinite(vals).any():
        return (layers[0] if layers else None), float("nan")
    i = int(np.nanargmax(vals))
    return layers[i], float(vals[i])


def _gain_ci(grid: ProbeGrid, a: int, key1, key2, n_boot: int, seed: int, alpha: float = 0.05
             ) -> tuple[float, float]:
    """Percentile interval of AUC(key1) - AUC(key2) for attribute ``a`` over paired resamples of the
    test images (every resample scored at once with :func:`xaiprobe._utils.numeric.auc_rows`)."""
    y = grid.y[:, a]
    if n_boot <= 0 or len(np.unique(y)) < 2:
        return float("nan"), float("nan")
    idx = np.random.default_rng(seed + a).integers(0, len(y), size=(n_boot, len(y)))
    yb = y[idx]
    diff = auc_rows(yb, grid.scores[key1][idx, a]) - auc_rows(yb, grid.scores[key2][idx, a])
    diff = diff[np.isfinite(diff)]
    if diff.size < max(10, n_boot // 4):
        return float("nan"), float("nan")
    lo, hi = np.quantile(diff, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def readability(grid: ProbeGrid, n_boot: int = 200, seed: int = 0, min_class: int = MIN_CLASS) -> list[dict]:
    """Per attribute: the AE-ACGAN D's best layer and AUC, the best of each comparison source, and
    the gains (best AE-ACGAN layer minus best DCGAN layer; minus the best random-init AE-ACGAN
    layer) with paired bootstrap intervals over the test images. ``readable``: both gains' lower
    bounds above 0 (the gain over the DCGAN only when a DCGAN is probed) and at least
    ``min_class`` test images of each class (``enough``; fewer make a best-layer AUC of a rare
    attribute too noisy to call)."""
    out = []
    for a, name in enumerate(grid.names):
        rec = {"attribute": name}
        for src in SOURCES:
            layer, v = _best(grid, src, a)
            rec[f"{src}_layer"], rec[src] = layer, v
        for other, key in (("dcgan", "gain_dcgan"), ("aeacgan_random", "gain_random")):
            if rec.get("aeacgan_layer") is None or rec.get(f"{other}_layer") is None:
                rec[key], rec[f"{key}_lo"], rec[f"{key}_hi"] = (float("nan"),) * 3
                continue
            rec[key] = rec["aeacgan"] - rec[other]
            rec[f"{key}_lo"], rec[f"{key}_hi"] = _gain_ci(grid, a, ("aeacgan", rec["aeacgan_layer"]),
                                                          (other, rec[f"{other}_layer"]), n_boot, seed)
        lows = [rec["gain_random_lo"]] + ([rec["gain_dcgan_lo"]] if rec.get("dcgan_layer") is not None else [])
        y = grid.y[:, a]
        rec["n_pos"], rec["n_neg"] = int((y == 1).sum()), int((y == 0).sum())
        rec["enough"] = min(rec["n_pos"], rec["n_neg"]) >= min_class
        rec["readable"] = bool(rec["enough"] and all(np.isfinite(v) and v > 0 for v in lows))
        out.append(rec)
    return out
