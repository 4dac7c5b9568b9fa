"""Edit quality: does z + αd change the target attribute, only it, and only where it lives?

For each direction method and attribute, ``n`` latents are moved along the direction over
the α grid and every image is scored by the attribute classifier. Measured:

- ``slope`` — change of the target attribute's logit per unit α (mean over latents of the
  per-latent least-squares slope); positive means the edit raises the attribute.
- ``spearman`` — Spearman correlation of the mean target logit with α (1 = monotonic);
  ``monotonic_frac`` — fraction of latents whose target logit never decreases along α.
- ``entanglement`` — an A×A matrix per method: row a holds the slopes of every attribute's
  logit when editing a, divided by |slope of a| (diagonal = ±1); ``leakage`` is the mean
  |off-diagonal| of the row (0 = disentangled).
- ``pixel_change`` — mean |Δpixel| (images in [-1, 1]) per unit α over the whole image, and
  ``outside_change`` the same outside the attribute's region. Generated images have no
  masks, so the region is the *average* mask of the attribute over real SynthFaces images
  (faces are aligned), given as ``region_masks``; attributes without a region (Young, Male)
  get NaN. ``outside_ratio`` = outside_change / pixel_change (lower = more local edit).

``concept_curves`` sends the same edit paths through the discriminator's concept decoders
(``xaiprobe decode``) and returns the decoded concept probabilities against α.
"""
from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np
import torch

from .._utils.coerce import evaluating, module_device
from .._utils.errors import XaiprobeError
from .._utils.figures import write_json
from .._utils.io import atomic_path
from ..data.synthfaces import CONCEPT_REGIONS
from .._utils.numeric import spearman
from ._directions import Directions, sample_latents
from ._edits import edit_images

log = logging.getLogger(__name__)

COLUMNS = ["method", "attribute", "slope", "spearman", "monotonic_frac", "leakage", "pixel_change",
           "outside_change", "outside_ratio", "cosine_to_lstsq"]


def default_alphas() -> np.ndarray:
    return np.linspace(-3.0, 3.0, 7)


def path_metrics(alphas, logits, target: int, images=None, region=None) -> dict:
    """Metrics of one edit path.

    Parameters
    ----------
    alphas : array (k,)
    logits : array (n, k, A)
        Classifier logits of the edited images.
    target : int
        Column of the edited attribute.
    images : tensor (n, k, 3, H, W), optional
    region : bool array (H, W), optional
        Where the attribute lives (its average mask).

    Returns
    -------
    dict with slope, spearman, monotonic_frac, slopes (A,), pixel_change, outside_change
    """
    a = np.asarray(alphas, np.float64)
    L = np.asarray(logits, np.float64)
    ac = a - a.mean()
    slopes_per = np.einsum("k,nkA->nA", ac, L - L.mean(1, keepdims=True)) / (ac @ ac)  # (n, A)
    slopes = slopes_per.mean(0)
    mean_t = L[:, :, target].mean(0)
    rho = spearman(a, mean_t)
    order = np.argsort(a)
    steps = np.diff(L[:, order, target], axis=1)
    tol = 1e-4 * max(float(np.abs(L[:, :, target]).max()), 1.0)
    out = {"slope": float(slopes[target]), "spearman": rho,
           "monotonic_frac": float((steps >= -tol).all(1).mean()), "slopes": slopes,
           "mean_logits": L.mean(0), "pixel_change": float("nan"), "outside_change": float("nan")}
    if images is not None:
        lo, hi = int(order[0]), int(order[-1])
        diff = (images[:, hi] - images[:, lo]).abs().mean(1).double().numpy() / max(a[hi] - a[lo], 1e-12)  # (n, H, W)
        out["pixel_change"] = float(diff.mean())
        if region is not None:
            outside = ~np.asarray(region, bool)
            if outside.any():
                out["outside_change"] = float(diff[:, outside].mean())
    return out


def edit_quality(G, classifier, directions: Directions, methods=None, attributes=None, alphas=None, n: int = 32,
                 seed: int = 1234, region_masks: dict | None = None, batch_size: int = 256, progress: bool = True) -> dict:
    """Measure every (method, attribute) edit; see the module docstring for the metrics.

    Parameters
    ----------
    G : nn.Module
        The generator the directions were fitted on.
    classifier : AttributeClassifier
        Scores the edited images; it must have every one of ``directions.attribute_names`` (its
        other outputs are ignored).
    methods, attributes : list of str, optional
        Defaults: every method in ``directions`` and every attribute.
    alphas : array (k,), optional
        Default -3..3 in 7 steps.
    n : int
        Latents per path (seeded with ``seed``, different from the fitting latents).
    region_masks : dict attribute -> bool (H, W), optional
        For ``outside_change``.

    Returns
    -------
    dict
        ``{"alphas", "attribute_names", "rows": [table rows], "entanglement": {method: (A, A)},
        "mean_logits": {method: {attribute: (k, A)}}}``
    """
    from tqdm.auto import tqdm

    names = list(directions.attribute_names)
    clf_names = list(getattr(classifier, "attribute_names", names))
    missing = [a for a in names if a not in clf_names]
    if missing:
        raise XaiprobeError(f"edit quality: the classifier has no {', '.join(missing)} (it has {', '.join(clf_names)}); "
                            "pass a --classifier with every attribute of the directions")
    cols = [clf_names.index(a) for a in names]  # the classifier's outputs in the directions' order
    methods = list(directions.methods) if methods is None else list(methods)
    attributes = names if attributes is None else list(attributes)
    for m in methods:
        for at in attributes:
            directions.get(m, at)
    alphas = default_alphas() if alphas is None else np.asarray(alphas, np.float64)
    if alphas.size < 2 or np.ptp(alphas) == 0:
        raise XaiprobeError("alphas: need at least two different values to measure an edit (e.g. -3:3:7)")
    region_masks = region_masks or {}
    z = sample_latents(n, directions.nz, seed)
    with evaluating(G), evaluating(classifier):  # eval mode for the measurement, restored after
        dev = module_device(classifier)
        rows, ent, means = [], {}, {}
        cos = directions.info.get("cosine_to_lstsq", {})
        jobs = [(m, at) for m in methods for at in attributes]
        for m, at in tqdm(jobs, desc="edit quality", disable=None if progress else True, leave=False):
            a = names.index(at)
            imgs = edit_images(G, z, directions.get(m, at), alphas, batch_size)
            nn_, k = imgs.shape[:2]
            with torch.no_grad():
                flat = imgs.reshape(nn_ * k, *imgs.shape[2:])
                logits = torch.cat([classifier(flat[i:i + batch_size].to(dev)).float().cpu()
                                    for i in range(0, len(flat), batch_size)])[:, cols].reshape(nn_, k, -1).numpy()
            pm = path_metrics(alphas, logits, a, imgs, region_masks.get(at))
            denom = abs(pm["slope"]) if abs(pm["slope"]) > 1e-12 else 1e-12
            row_ent = pm["slopes"] / denom
            ent.setdefault(m, np.full((len(names), len(names)), np.nan))[a] = row_ent
            means.setdefault(m, {})[at] = pm["mean_logits"]
            leak = float(np.mean(np.abs(np.delete(row_ent, a)))) if len(names) > 1 else 0.0
            ratio = pm["outside_change"] / pm["pixel_change"] if pm["pixel_change"] > 0 else float("nan")
            rows.append({"method": m, "attribute": at, "slope": pm["slope"], "spearman": pm["spearman"],
                         "monotonic_frac": pm["monotonic_frac"], "leakage": leak, "pixel_change": pm["pixel_change"],
                         "outside_change": pm["outside_change"], "outside_ratio": ratio,
                         "cosine_to_lstsq": cos.get(m, {}).get(at, float("nan"))})
    return {"alphas": alphas, "attribute_names": names, "methods": methods, "attributes": attributes, "n": int(n),
            "rows": rows, "entanglement": ent, "mean_logits": means, "summary": summarize_methods(rows)}


def summarize_methods(rows) -> dict:
    """Per method: the mean of each metric over attributes (the one-line comparison)."""
    out = {}
    for m in dict.fromkeys(r["method"] for r in rows):
        rs = [r for r in rows if r["method"] == m]
        out[m] = {c: float(np.nanmean([r[c] for r in rs])) if not all(np.isnan(r[c]) for r in rs) else float("nan")
                  for c in COLUMNS[2:]}
    return out


def format_quality_table(result: dict) -> str:
    """The per-method, per-attribute table as aligned text (plus the per-method means)."""
    head = f"{'method':<12} {'attribute':<12} {'slope':>7} {'spear':>6} {'mono':>5} {'leak':>6} {'pix':>7} {'outside':>7} {'cos':>6}"
    lines = [head]

    def fmt(r, label):
        return (f"{r.get('method', ''):<12} {label:<12} {r['slope']:>7.3f} {r['spearman']:>6.2f} {r['monotonic_frac']:>5.2f} "
                f"{r['leakage']:>6.3f} {r['pixel_change']:>7.4f} {r['outside_change']:>7.4f} {r['cosine_to_lstsq']:>6.2f}")
    for r in result["rows"]:
        lines.append(fmt(r, r["attribute"]))
    lines.append("")
    for m, s in result.get("summary", {}).items():
        lines.append(fmt({**s, "method": m}, "(mean)"))
    return "\n".join(lines)


def write_quality(result: dict, out_dir) -> list[Path]:
    """Write OUT_DIR/quality.json (everything) and quality.csv (the table rows)."""
    out_dir = Path(out_dir)
    js = write_json(out_dir / "quality.json", {
        **{k: v for k, v in result.items() if k not in ("entanglement", "mean_logits")},
        "entanglement": {m: np.asarray(e) for m, e in result["entanglement"].items()},
        "mean_logits": {m: {a: np.asarray(v) for a, v in d.items()} for m, d in result["mean_logits"].items()}})
    with atomic_path(out_dir / "quality.csv") as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS)
            w.writeheader()
            for r in result["rows"]:
                w.writerow({c: (f"{r[c]:.6g}" if isinstance(r[c], float) else r[c]) for c in COLUMNS})
    return [js, out_dir / "quality.csv"]


def mean_region_masks(data, attributes, n: int = 500, threshold: float = 0.1) -> dict:
    """Average concept-region masks of real images: attribute -> bool (H, W).

    A pixel is in the region when the attribute's mask covers it in at least ``threshold`` of
    the images that have the attribute. Uses the data set's ``masks`` and the SynthFaces
    ``CONCEPT_REGIONS`` map; attributes without a region are left out.
    """
    if getattr(data, "masks", None) is None:
        return {}
    rows = np.arange(min(len(data), int(n)))
    masks = data.masks(rows)
    out = {}
    for at in attributes:
        region = CONCEPT_REGIONS.get(at)
        if region is None or region not in masks or at not in data.attribute_names:
            continue
        has = data.labels[rows, data.attribute_names.index(at)] == 1
        if has.any():
            out[at] = np.asarray(masks[region])[has].mean(0) >= threshold
    return out


def concept_curves(D, decoders: dict, G, directions: Directions, attributes=None, method: str = "lstsq", alphas=None,
                   n: int = 16, seed: int = 1234, batch_size: int = 128) -> dict:
    """The discriminator's decoded concepts along each edit path.

    Parameters
    ----------
    D : nn.Module
        The discriminator of the checkpoint.
    decoders : dict layer -> ConceptDecoder
        From ``xaiprobe.probes.load_decoders(DIR)`` (``xaiprobe decode``); applied with
        ``xaiprobe.probes.decoders.decode_images``.
    attributes : list of str, optional
        Edited attributes (default all of ``directions``).

    Returns
    -------
    dict
        ``{"alphas": (k,), "method", "n", "curves": {attribute: {layer: {concept: (k,) mean probability}}}}``
    """
    from ..probes import decode_images  # the probes stage's public API, loaded only for concept curves

    if not decoders:
        raise XaiprobeError("concept curves: no concept decoders given; train them with `xaiprobe decode` and pass --decoders DIR")
    alphas = default_alphas() if alphas is None else np.asarray(alphas, np.float64)
    attributes = list(directions.attribute_names) if attributes is None else list(attributes)
    z = sample_latents(n, directions.nz, seed)
    dev = module_device(D)
    out = {}
    for at in attributes:
        imgs = edit_images(G, z, directions.get(method, at), alphas, batch_size)
        nn_, k = imgs.shape[:2]
        probs = decode_images(decoders, D, imgs.reshape(nn_ * k, *imgs.shape[2:]), batch_size=batch_size, device=dev)
        out[at] = {str(layer): {str(c): p[:, j].reshape(nn_, k).mean(0) for j, c in enumerate(decoders[layer].concept_names_)}
                   for layer, p in probs.items()}
    return {"alphas": alphas, "method": method, "n": int(n), "curves": out}
