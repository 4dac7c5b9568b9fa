"""Do attributions land on the concept? Localization scores against SynthFaces region masks.

For an image where a concept is present (e.g. Smiling) and its region mask (mouth):

* **share / area ratio** -- the share of the *positive* attribution inside the region,
  divided by the region's share of the image. 1 = no better than spreading attribution
  uniformly; > 1 = localized on the region.
* **pointing game** -- whether the map's maximum falls inside the region dilated by
  ``tolerance`` pixels (Zhang et al. 2016). Chance = the dilated region's share of the image.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from .._utils.coerce import evaluating
from .._utils.errors import XaiprobeError
from ..data.synthfaces import CONCEPT_REGIONS
from ._methods import attribute, get_method, method_name
from ._targets import build_target, load_concept_head

log = logging.getLogger(__name__)


def concept_regions() -> dict[str, str]:
    """Concept -> region mask name (the SynthFaces ``CONCEPT_REGIONS``)."""
    return dict(CONCEPT_REGIONS)


def dilate(masks: np.ndarray | torch.Tensor, pixels: int) -> torch.Tensor:
    """Binary dilation of (n, H, W) masks by a square of radius ``pixels``."""
    m = torch.as_tensor(np.asarray(masks)).float()[:, None]
    if pixels > 0:
        m = F.max_pool2d(m, 2 * pixels + 1, stride=1, padding=pixels)
    return m[:, 0] > 0.5


def localization_scores(maps, masks, tolerance: int = 3) -> dict[str, np.ndarray]:
    """Per-image localization of attribution maps in region masks.

    Parameters
    ----------
    maps : array, shape (n, H, W)
        Signed attribution maps.
    masks : array of bool, shape (n, H, W)
    tolerance : int
        Dilation (pixels) of the mask for the pointing game.

    Returns
    -------
    dict
        ``share`` (n,): positive attribution inside / total positive (nan if no positive);
        ``area`` (n,): mask share of the image; ``ratio`` (n,) = share / area;
        ``hit`` (n,): pointing-game hit of the map's (positive) maximum (1.0 / 0.0; nan when the
        map has no positive value);
        ``chance`` (n,): dilated mask share.
    """
    a = torch.as_tensor(np.asarray(maps, dtype=np.float32))
    m = torch.as_tensor(np.asarray(masks, dtype=bool))
    if a.shape != m.shape:
        raise XaiprobeError(f"localization: maps {tuple(a.shape)} and masks {tuple(m.shape)} differ in shape; "
                            "attribute the same images the masks belong to")
    pos = a.clamp(min=0).flatten(1)
    mf = m.flatten(1)
    total = pos.sum(1)
    inside = (pos * mf).sum(1)
    share = torch.where(total > 0, inside / total.clamp(min=1e-30), torch.full_like(total, float("nan")))
    area = mf.float().mean(1)
    ratio = torch.where(area > 0, share / area.clamp(min=1e-12), torch.full_like(share, float("nan")))
    dil = dilate(m, tolerance).flatten(1)
    flat = a.flatten(1)
    top = flat.argmax(1)
    hit = dil.gather(1, top[:, None])[:, 0].float()
    # no positive evidence (a constant or all-negative map) points nowhere
    hit[(flat.amax(1) <= 0) | ((flat.amax(1) - flat.amin(1)) <= 0)] = float("nan")
    return {"share": share.numpy(), "area": area.numpy(), "ratio": ratio.numpy(),
            "hit": hit.numpy(), "chance": dil.float().mean(1).numpy()}


@dataclass
class LocalizationResult:
    """Localization table: one row per (concept, method).

    ``rows``: dicts with concept, region, method, target, n, share, area, ratio (= share / area),
    ratio_median (per image), pointing (hit rate), chance (pointing-game chance).
    """

    rows: list
    tolerance: int

    def to_markdown(self) -> str:
        lines = ["| concept (region) | method | target | n | share in region | region area | ratio | pointing | chance |",
                 "|---|---|---|---|---|---|---|---|---|"]
        for r in self.rows:
            lines.append(f"| {r['concept']} ({r['region']}) | {r['method']} | {r['target']} | {r['n']} | "
                         f"{r['share']:.3f} | {r['area']:.3f} | {r['ratio']:.2f} | {r['pointing']:.2f} | {r['chance']:.2f} |")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"tolerance": self.tolerance, "rows": self.rows}


def _summary(scores: dict) -> dict:
    share, area = scores["share"], scores["area"]
    ok = np.isfinite(share)
    mean_share = float(np.mean(share[ok])) if ok.any() else float("nan")
    mean_area = float(np.mean(area[ok])) if ok.any() else float("nan")
    r = scores["ratio"][np.isfinite(scores["ratio"])]
    return {"share": mean_share, "area": mean_area,
            "ratio": mean_share / mean_area if ok.any() and mean_area > 0 else float("nan"),
            "ratio_median": float(np.median(r)) if r.size else float("nan"),
            "pointing": float(np.nanmean(scores["hit"])) if np.isfinite(scores["hit"]).any() else float("nan"),
            "chance": float(np.mean(scores["chance"]))}


def localize(model, data, methods=("ig", "saliency", "gradcam", "occlusion"), concepts=None, n: int = 32,
             split="test", target="concept", probes=None, layer=None, tolerance: int = 3, batch_size: int = 16,
             device=None, method_kwargs: dict | None = None, seed: int = 0) -> LocalizationResult:
    """Localization of each method's maps in each concept's region, on images with the concept.

    Parameters
    ----------
    model : nn.Module
        The discriminator (used in eval mode on ``device``, restored afterwards).
    data : ImageSet
        With ``masks`` (SynthFaces).
    methods : sequence of str
    concepts : dict concept -> region, optional
        Default: SynthFaces' CONCEPT_REGIONS.
    n : int
        Images per concept (the first ``n`` of ``split`` where the concept is present).
    target : {"concept", "logit"}
        ``concept`` explains ``concept:NAME@LAYER`` (needs ``probes`` and ``layer``);
        ``logit`` explains D's real/fake logit on those images.
    probes : directory or dict, optional
    layer : str, optional
        The probe layer for concept targets (also Grad-CAM's layer).
    tolerance : int
        Pointing-game tolerance in pixels.

    Returns
    -------
    LocalizationResult
    """
    if getattr(data, "masks", None) is None:
        raise XaiprobeError(f"localization: data set {getattr(data, 'spec', '?')} has no region masks; "
                            "use SynthFaces (e.g. --images synthfaces:2000)")
    if target not in ("concept", "logit"):
        raise XaiprobeError(f"localization target {target!r}: unknown; use concept or logit")
    if target == "concept" and (probes is None or layer is None):
        raise XaiprobeError("localization: concept targets need probes and a layer; run `xaiprobe probe --activations FILE` "
                            "first and pass --probes DIR and --layer, or use the logit target")
    if not concepts:  # every concept of the data that has a region
        concepts = {c: r for c, r in concept_regions().items() if c in data.attribute_names}
    method_kwargs = method_kwargs or {}
    with evaluating(model, device) as base:
        if target == "concept":
            probes = {layer: load_concept_head(probes, layer, base)}
        rows_all = data.rows_of(split)
        rng = np.random.default_rng(seed)
        out = []
        for concept, region in concepts.items():
            if concept not in data.attribute_names:
                log.warning("localization: %s is not an attribute of %s; skipped", concept, data.spec)
                continue
            col = data.attribute_index(concept)
            present = rows_all[data.labels[rows_all, col] == 1]
            if present.size == 0:
                log.warning("localization: no image with %s in split %s; skipped", concept, split)
                continue
            rows = np.sort(rng.permutation(present)[:n])
            mask_dict = data.masks(rows)
            if region not in mask_dict:
                raise XaiprobeError(f"localization: region {region!r} not among the data's masks ({', '.join(mask_dict)}); "
                                    "pass concepts={concept: region} with a region the data provides")
            mask = np.asarray(mask_dict[region], dtype=bool)
            keep = mask.reshape(len(rows), -1).any(1)
            if not keep.all():
                log.info("localization: %d %s images have an empty %s mask; dropped", int((~keep).sum()), concept, region)
            rows, mask = rows[keep], mask[keep]
            if rows.size == 0:
                continue
            images = data.images(rows)
            tgt = f"concept:{concept}@{layer}" if target == "concept" else "logit"
            forward = build_target(base, tgt, probes=probes)
            for m in methods:
                name = method_name(get_method(m))
                maps = attribute(base, images, m, target=forward, layer=layer if name == "gradcam" else None,
                                 batch_size=batch_size, **method_kwargs.get(name, {}))
                s = localization_scores(maps, mask, tolerance)
                out.append({"concept": concept, "region": region, "method": name, "target": tgt,
                            "n": int(rows.size), **_summary(s)})
        if not out:
            raise XaiprobeError(f"localization: none of the concepts {', '.join(concepts)} is labeled and present in "
                                f"{getattr(data, 'spec', 'the data')}; use SynthFaces images")
        return LocalizationResult(out, int(tolerance))
