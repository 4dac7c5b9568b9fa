"""Sanity check for attribution methods: cascading model-parameter randomization.

After Adebayo et al. (2018), "Sanity Checks for Saliency Maps": the layers of the
discriminator are re-initialized top-down (the last layer first, then the one before it,
...). A method whose maps explain the *model* must change as its weights are destroyed; one
whose maps stay the same shows the input (edges, colors), not what D learned.

Similarity is the Spearman rank correlation of the absolute maps, per image, averaged over
images. A method is flagged when its mean correlation after *all* layers are randomized is
still above ``threshold`` (default 0.5: more than half of the rank order survives
destroying every weight).
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .._utils.errors import XaiprobeError
from .._utils.numeric import spearman
from ..activations.hooks import alias_table, resolve_layer
from ._methods import attribute, check_images, get_method, method_name
from .._utils.coerce import evaluating, private_copy
from ._targets import build_target, load_concept_head, parse_target

log = logging.getLogger(__name__)

#: default flag threshold on the mean Spearman correlation after full randomization
SANITY_THRESHOLD = 0.5

_WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.Linear)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm2d)


def randomization_cascade(model: nn.Module, upto=None) -> list[tuple[str, list[str]]]:
    """Layer groups in top-down order: ``[(name, [module paths]), ...]``.

    A group is one conv/linear module plus the normalization layers that follow it. Groups
    are named by the model's aliases (conv1..convK) when there is one per group.

    Parameters
    ----------
    model : nn.Module
    upto : str, optional
        Only groups at or before this layer (the layers a concept target uses).
    """
    groups: list[list[str]] = []
    stop = resolve_layer(model, upto)[1] if upto is not None else None
    order = [n for n, _ in model.named_modules()]
    for name, m in model.named_modules():
        if isinstance(m, _WEIGHTED):
            groups.append([name])
        elif isinstance(m, _NORMS) and groups:
            groups[-1].append(name)
    if stop is not None:
        limit = order.index(stop)
        groups = [g for g in groups if order.index(g[0]) <= limit]
    if not groups:
        raise XaiprobeError("sanity check: the model has no conv or linear layer to randomize; "
                            "pass a discriminator built from nn.Conv2d / nn.Linear layers")
    aliases = list(alias_table(model))
    named = [(aliases[i] if len(aliases) >= len(groups) else g[0], g) for i, g in enumerate(groups)]
    return list(reversed(named))


def randomize(model: nn.Module, paths, seed: int = 0) -> nn.Module:
    """A private copy of ``model`` (eval mode) whose modules at ``paths`` are re-initialized
    (PyTorch default init).

    This is a copy on purpose: the randomization check destroys weights, which must never happen
    to the caller's model (:func:`xaiprobe._utils.coerce.private_copy`).
    """
    dup = private_copy(model).eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for p in paths:
            m = dup.get_submodule(p)
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
            if hasattr(m, "reset_running_stats"):
                m.reset_running_stats()
    return dup


def spearman_per_image(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> np.ndarray:
    """Spearman rank correlation of |a[i]| with |b[i]| for each image (nan when a map is constant).

    Parameters
    ----------
    a, b : array, shape (n, H, W)

    Returns
    -------
    ndarray, shape (n,)
    """
    a = np.abs(np.asarray(a, dtype=np.float64)).reshape(len(a), -1)
    b = np.abs(np.asarray(b, dtype=np.float64)).reshape(len(b), -1)
    out = np.full(len(a), np.nan)
    for i in range(len(a)):
        if np.ptp(a[i]) > 0 and np.ptp(b[i]) > 0:
            out[i] = spearman(a[i], b[i])
    return out


@dataclass
class SanityResult:
    """Spearman correlations (method x randomization step).

    Attributes
    ----------
    methods : list of str
    steps : list of str
        ``steps[k]`` = the layer down to which the model is randomized at step k (top-down).
    spearman : ndarray, shape (n_methods, n_steps)
        Mean over images.
    spearman_std : ndarray, shape (n_methods, n_steps)
    per_image : ndarray, shape (n_methods, n_steps, n_images)
    threshold : float
    flagged : dict
        method -> True when its maps survive full randomization.
    """

    methods: list
    steps: list
    spearman: np.ndarray
    spearman_std: np.ndarray
    per_image: np.ndarray
    threshold: float
    target: str = "logit"
    flagged: dict = field(default_factory=dict)

    def rows(self) -> list[dict]:
        """One dict per method: {method, <step>: mean rho, ..., flagged}."""
        return [{"method": m, **{s: float(self.spearman[i, j]) for j, s in enumerate(self.steps)},
                 "flagged": bool(self.flagged[m])} for i, m in enumerate(self.methods)]

    def to_markdown(self) -> str:
        head = "| method | " + " | ".join(f"rand. to {s}" for s in self.steps) + " | flagged |"
        sep = "|---" * (len(self.steps) + 2) + "|"
        lines = [head, sep]
        for r in self.rows():
            cells = " | ".join(f"{r[s]:.3f}" for s in self.steps)
            lines.append(f"| {r['method']} | {cells} | {'**yes**' if r['flagged'] else 'no'} |")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"methods": self.methods, "steps": self.steps, "spearman": self.spearman,
                "spearman_std": self.spearman_std, "threshold": self.threshold, "target": self.target,
                "flagged": self.flagged, "table": self.rows()}


def sanity_check(model: nn.Module, images, methods=("ig", "saliency", "gradshap", "smoothgrad", "gradcam", "occlusion"),
                 target="logit", probes=None, threshold: float = SANITY_THRESHOLD, seed: int = 0,
                 device=None, batch_size: int = 16, method_kwargs: dict | None = None,
                 layer=None, progress: bool = False, aux_names=None) -> SanityResult:
    """Cascading randomization test of attribution methods.

    Parameters
    ----------
    model : nn.Module
        The trained discriminator (used in eval mode and restored; the randomized models are
        private copies, see :func:`randomize`).
    images : Tensor, shape (n, C, H, W)
    methods : sequence of str or AttributionMethod subclasses
    target : str
        ``"logit"``, ``"aux:NAME"`` or ``"concept:NAME@LAYER"`` (the probe is kept; only D is
        randomized, and only the layers the concept target uses).
    probes : directory or dict, optional
    threshold : float
        Flag a method whose mean Spearman after full randomization exceeds this.
    seed : int
        Seed of the re-initialization.
    method_kwargs : dict, optional
        method name -> Captum keyword arguments.
    layer : str, optional
        Grad-CAM layer.
    aux_names : list of str, optional
        Column names of the auxiliary head (aux targets).

    Returns
    -------
    SanityResult
    """
    from tqdm.auto import tqdm

    images = check_images(images, model)
    classes = [get_method(m) for m in methods]
    names = [method_name(c) for c in classes]
    method_kwargs = method_kwargs or {}
    with evaluating(model, device) as base:
        spec = parse_target(target) if isinstance(target, str) else target
        upto = None
        if getattr(spec, "kind", "") == "concept":
            head = load_concept_head(probes, spec.layer, base)
            probes = {spec.layer: head}
            upto = spec.layer
        cascade = randomization_cascade(base, upto)

        def maps_for(m: nn.Module) -> list[torch.Tensor]:
            fwd = build_target(m, spec, probes=probes, aux_names=aux_names)
            return [attribute(m, images, c, target=fwd, layer=layer, batch_size=batch_size,
                              **method_kwargs.get(n, {})) for c, n in zip(classes, names)]

        reference = maps_for(base)
        per_image = np.full((len(classes), len(cascade), images.shape[0]), np.nan)
        done: list[str] = []
        for k, (step, paths) in enumerate(tqdm(cascade, desc="sanity", disable=not progress)):
            done += paths
            randomized = randomize(base, done, seed=seed + k)
            for i, maps in enumerate(maps_for(randomized)):
                per_image[i, k] = spearman_per_image(reference[i], maps)
            log.info("sanity: randomized down to %s", step)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(per_image, axis=2)
            std = np.nanstd(per_image, axis=2)
        flagged = {n: bool(not np.isfinite(mean[i, -1]) or mean[i, -1] > threshold) for i, n in enumerate(names)}
        return SanityResult(names, [s for s, _ in cascade], mean, std, per_image, float(threshold), str(spec), flagged)
