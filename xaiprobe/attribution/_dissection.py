"""Network Dissection (Bau et al. 2017) on concept masks: which units detect which region?

For each channel of a layer, its activation maps over the data set are thresholded at the
channel's top quantile (default 0.95: its top 5% of activations over all images and
positions), upsampled (bilinear) to the image size, and compared with each concept mask
(SynthFaces: mouth, glasses, hair, face, eyes) by the data-set-wide intersection over union
IoU = sum|A & M| / sum|A | M|. A channel is labeled with its best concept when that IoU
exceeds ``iou_threshold`` (0.04, Bau et al.'s cut-off) *and* is at least ``min_lift`` (2) times
the IoU a spatially random region of the same size would reach (``a m / (a + m - a m)`` for
coverages a, m).

Why not Bau et al.'s top 0.5%: SynthFaces regions are present in every image and cover 2-29%
of it, so a region holding 0.5% of the pixels caps the IoU with the hair mask (about 25% of
the image) at 0.02, below the 0.04 cut, whatever the unit does. With 5%, a random unit reaches
IoU ~0.04 with hair by chance -- hence the chance criterion.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional as F

from .._utils.errors import XaiprobeError
from ..activations.hooks import ActivationRecorder, describe_layers, resolve_layers
from .._utils.coerce import evaluating, module_device

log = logging.getLogger(__name__)

#: Bau et al.'s IoU cut-off for calling a unit a concept detector
IOU_THRESHOLD = 0.04
#: default activation quantile (see the module docstring for why not 0.995)
QUANTILE = 0.95
#: a label also needs IoU >= MIN_LIFT x the IoU of a random region of the same size
MIN_LIFT = 2.0


@dataclass
class DissectionResult:
    """Per-layer, per-channel IoU with each concept.

    Attributes
    ----------
    layers : list of str
    concepts : list of str
        Mask regions.
    iou : dict
        layer -> ndarray (n_channels, n_concepts).
    thresholds : dict
        layer -> ndarray (n_channels,) activation thresholds.
    chance : dict
        layer -> ndarray (n_channels, n_concepts), IoU of a random region of the same size.
    labels : dict
        layer -> list (n_channels) of the best qualifying concept, or None.
    counts : dict
        layer -> {concept: number of units labeled with it}.
    quantile, iou_threshold : float
    n_images : int
    """

    layers: list
    concepts: list
    iou: dict
    thresholds: dict
    labels: dict
    counts: dict
    quantile: float
    iou_threshold: float
    n_images: int
    chance: dict = field(default_factory=dict)
    min_lift: float = MIN_LIFT

    def top_units(self, layer: str, k: int = 5) -> list[tuple[int, str, float]]:
        """(channel, concept, IoU) of the ``k`` channels with the highest best-concept IoU."""
        iou = self.iou[layer]
        best = iou.max(1)
        order = np.argsort(-best)[:k]
        return [(int(c), self.concepts[int(iou[c].argmax())], float(best[c])) for c in order]

    def to_markdown(self) -> str:
        lines = ["| layer | units | " + " | ".join(self.concepts) + " | selective | best unit (IoU) |",
                 "|---" * (len(self.concepts) + 4) + "|"]
        for layer in self.layers:
            n = self.iou[layer].shape[0]
            sel = sum(self.counts[layer].values())
            c, concept, v = self.top_units(layer, 1)[0]
            cells = " | ".join(str(self.counts[layer].get(k, 0)) for k in self.concepts)
            lines.append(f"| {layer} | {n} | {cells} | {sel} | {c}: {concept} ({v:.3f}) |")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"layers": self.layers, "concepts": self.concepts, "quantile": self.quantile,
                "iou_threshold": self.iou_threshold, "min_lift": self.min_lift, "n_images": self.n_images,
                "counts": self.counts,
                "top_units": {layer: self.top_units(layer, 5) for layer in self.layers},
                "selective_units": {layer: int(sum(self.counts[layer].values())) for layer in self.layers}}


def default_dissection_layers(model, image_shape=(3, 64, 64)) -> list[str]:
    """Aliased layers with conv maps of at least 2x2 (all but the final logit conv)."""
    return [i.alias for i in describe_layers(model, tuple(image_shape))
            if i.alias and len(i.output_shape) == 3 and min(i.output_shape[1:]) >= 2]


def dissect(model, data, layers=None, rows=None, quantile: float = QUANTILE, iou_threshold: float = IOU_THRESHOLD,
            min_lift: float = MIN_LIFT, batch_size: int = 32, samples_per_channel: int = 200_000, device=None, seed: int = 0,
            progress: bool = False) -> DissectionResult:
    """Network-Dissection IoU of every channel of ``layers`` with every mask region of ``data``.

    Parameters
    ----------
    model : nn.Module
        The discriminator (used in eval mode on ``device``, restored afterwards).
    data : ImageSet
        With ``masks`` (SynthFaces).
    layers : str or list, optional
        Default: :func:`default_dissection_layers`.
    rows : array of int, optional
        Rows to use (default all).
    quantile : float
        Per-channel activation quantile used as threshold.
    iou_threshold : float
    min_lift : float
        Minimum ratio of IoU to the chance IoU of a random region of the same size.
    samples_per_channel : int
        The quantile is estimated on a uniform random sample of this many activations per
        channel (memory stays bounded for large data sets).

    Returns
    -------
    DissectionResult
    """
    from tqdm.auto import tqdm

    if getattr(data, "masks", None) is None:
        raise XaiprobeError(f"dissection: data set {getattr(data, 'spec', '?')} has no region masks; use SynthFaces (e.g. synthfaces:2000)")
    if not 0 < quantile < 1:
        raise XaiprobeError(f"quantile {quantile}: must be between 0 and 1 (e.g. 0.995)")
    with evaluating(model, device) as base:
        dev = module_device(base)
        layers = default_dissection_layers(base, data.image_shape) if layers is None else layers
        resolved = resolve_layers(base, layers)
        names = [r[0] for r in resolved]
        rows = np.arange(len(data)) if rows is None else np.asarray(rows, dtype=np.int64)
        n_batches = -(-rows.size // batch_size)
        per_batch = max(1, samples_per_channel // max(n_batches, 1))
        gen = torch.Generator().manual_seed(seed)

        def activations(x):
            with torch.no_grad(), ActivationRecorder(base, [r[1] for r in resolved]) as rec:
                base(x.to(dev))
            return [rec.cache[n].float() for n in names]

        # pass 1: per-channel thresholds from a random sample of activations
        samples: dict[str, list] = {n: [] for n in names}
        for _, x in tqdm(data.batches(rows, batch_size), total=n_batches, desc="dissect: thresholds", disable=not progress):
            for n, a in zip(names, activations(x)):
                if a.dim() != 4:
                    raise XaiprobeError(f"dissection: layer {n} has output shape {tuple(a.shape[1:])}, not a conv map; pick conv layers")
                flat = a.transpose(0, 1).flatten(1)
                idx = torch.randint(0, flat.shape[1], (min(per_batch, flat.shape[1]),), generator=gen).to(flat.device)
                samples[n].append(flat[:, idx].cpu())
        thresholds = {n: torch.quantile(torch.cat(samples[n], 1), quantile, dim=1) for n in names}
        del samples

        # pass 2: IoU of thresholded, upsampled maps with each mask
        concepts: list[str] | None = None
        inter: dict[str, torch.Tensor] = {}
        act_sum: dict[str, torch.Tensor] = {}
        mask_sum = None
        size = tuple(data.image_shape[-2:])
        for r, x in tqdm(data.batches(rows, batch_size), total=n_batches, desc="dissect: IoU", disable=not progress):
            masks = data.masks(r)
            if concepts is None:
                concepts = list(masks)
                if not concepts:
                    raise XaiprobeError("dissection: the data set's masks are empty; use SynthFaces images")
                mask_sum = torch.zeros(len(concepts), dtype=torch.float64)
            m = torch.stack([torch.as_tensor(np.asarray(masks[c], dtype=bool)) for c in concepts], -1)  # (b, H, W, K)
            m = m.flatten(1, 2).float().to(dev)  # (b, HW, K)
            mask_sum += m.sum((0, 1)).double().cpu()
            for n, a in zip(names, activations(x)):
                thr = thresholds[n].to(dev)
                if n not in inter:
                    inter[n] = torch.zeros(a.shape[1], len(concepts), dtype=torch.float64)
                    act_sum[n] = torch.zeros(a.shape[1], dtype=torch.float64)
                for c0 in range(0, a.shape[1], 64):
                    up = F.interpolate(a[:, c0:c0 + 64], size=size, mode="bilinear", align_corners=False)
                    on = (up > thr[c0:c0 + 64, None, None]).flatten(2).float()  # (b, c, HW)
                    inter[n][c0:c0 + 64] += torch.bmm(on, m).sum(0).double().cpu()
                    act_sum[n][c0:c0 + 64] += on.sum((0, 2)).double().cpu()
        iou, chance, labels, counts = {}, {}, {}, {}
        total = float(rows.size * size[0] * size[1])
        for n in names:
            union = act_sum[n][:, None] + mask_sum[None, :] - inter[n]
            v = torch.where(union > 0, inter[n] / union.clamp(min=1), torch.zeros_like(union)).numpy()
            a, m = (act_sum[n] / total).numpy()[:, None], (mask_sum / total).numpy()[None, :]
            ch = np.where(a + m > 0, a * m / np.maximum(a + m - a * m, 1e-12), 0.0)
            iou[n], chance[n] = v, ch
            ok = (v > iou_threshold) & (v >= min_lift * ch)
            masked = np.where(ok, v, -1.0)
            labels[n] = [concepts[int(masked[c].argmax())] if ok[c].any() else None for c in range(v.shape[0])]
            counts[n] = {k: int(sum(1 for lab in labels[n] if lab == k)) for k in concepts}
        return DissectionResult(names, concepts or [], iou, {n: t.numpy() for n, t in thresholds.items()}, labels, counts,
                                float(quantile), float(iou_threshold), int(rows.size), chance, float(min_lift))
