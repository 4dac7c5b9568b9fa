"""Generator analysis: latent sweeps, latent dimension ranking, feature maps, and where in the
discriminator a counterfactual change (the same face with and without an attribute) shows up.
"""
from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .._utils.coerce import evaluating, module_device
from .._utils.errors import XaiprobeError
from ..activations.hooks import alias_table, resolve_layers, run_with_cache
from ..data.base import to_float_images
from ..data.synthfaces import DEFAULT_ATTRIBUTES, render_counterfactual, render_synthfaces
from ..gan.sampling import latent_size

log = logging.getLogger(__name__)


def _latent_size(G: nn.Module) -> int:
    return latent_size(G)


def _dims(dims, nz: int) -> list[int]:
    if dims is None:
        return list(range(nz))
    if isinstance(dims, int):
        return list(range(min(dims, nz)))
    out = [int(d) for d in dims]
    bad = [d for d in out if not 0 <= d < nz]
    if bad:
        raise XaiprobeError(f"latent dims {bad}: the generator's latent has dims 0..{nz - 1}; pick dims in that range")
    return out


@torch.no_grad()
def _generate(G: nn.Module, z: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    dev = module_device(G)
    return torch.cat([G(z[i:i + batch_size].to(dev)).float().cpu() for i in range(0, len(z), batch_size)])


@dataclass
class LatentSweep:
    """Images of one latent with one dimension at a time set to each value.

    ``images`` (n_dims, n_values, C, H, W) in [-1, 1]; ``z`` (nz,) the base latent.
    """

    dims: list
    values: np.ndarray
    images: torch.Tensor
    z: torch.Tensor


def latent_sweep(G: nn.Module, dims=8, values=None, z=None, seed: int = 0, device=None) -> LatentSweep:
    """Sweep each of ``dims`` over ``values`` (default -3..3, 7 steps), the other dims fixed.

    Parameters
    ----------
    G : nn.Module
        The generator (used in eval mode on ``device``, restored afterwards).
    dims : int or list of int
        An int ``k`` means the first ``k`` dims.
    values : sequence of float, optional
    z : Tensor (nz,), optional
        Base latent; default a standard normal draw from ``seed``.

    Returns
    -------
    LatentSweep
    """
    with evaluating(G, device) as Gc:
        nz = _latent_size(Gc)
        dims = _dims(dims, nz)
        values = np.linspace(-3, 3, 7) if values is None else np.asarray(values, dtype=np.float64)
        if z is None:
            z = torch.randn(nz, generator=torch.Generator().manual_seed(seed))
        z = torch.as_tensor(z, dtype=torch.float32).reshape(-1)
        if z.numel() != nz:
            raise XaiprobeError(f"latent: has {z.numel()} values but the generator takes {nz}; pass a latent of size {nz}")
        zs = z.repeat(len(dims), len(values), 1)
        for i, d in enumerate(dims):
            zs[i, :, d] = torch.as_tensor(values, dtype=torch.float32)
        imgs = _generate(Gc, zs.reshape(-1, nz))
        return LatentSweep(dims, values, imgs.reshape(len(dims), len(values), *imgs.shape[1:]), z)


@dataclass
class LatentRanking:
    """How much each latent dimension changes the image (and the classifier's outputs).

    Attributes
    ----------
    dims : list of int
        Dimensions measured.
    pixel_change : ndarray (n_dims,)
        Mean |G(z, z_d=+a) - G(z, z_d=-a)| over pixels and base latents.
    order : ndarray of int
        ``dims`` sorted by pixel change, largest first.
    classifier_change : ndarray (n_dims, A) or None
        Mean |logit(+a) - logit(-a)| per attribute.
    attribute_names : list of str
    """

    dims: list
    pixel_change: np.ndarray
    order: np.ndarray
    amplitude: float
    classifier_change: np.ndarray | None = None
    attribute_names: list = field(default_factory=list)

    def top_dims(self, k: int = 5, attribute: str | None = None) -> list[tuple[int, float]]:
        """(dim, change) of the ``k`` dims that change the image (or ``attribute``'s logit) most."""
        if attribute is None:
            return [(int(self.dims[i]), float(self.pixel_change[i])) for i in np.argsort(-self.pixel_change)[:k]]
        if self.classifier_change is None or attribute not in self.attribute_names:
            raise XaiprobeError(f"attribute {attribute!r}: no classifier output for it; it has {', '.join(self.attribute_names) or 'none'}")
        col = self.classifier_change[:, self.attribute_names.index(attribute)]
        return [(int(self.dims[i]), float(col[i])) for i in np.argsort(-col)[:k]]

    def to_dict(self) -> dict:
        out = {"amplitude": self.amplitude, "top_pixel": self.top_dims(10),
               "pixel_change": dict(zip(map(str, self.dims), self.pixel_change.tolist()))}
        if self.classifier_change is not None:
            out["top_by_attribute"] = {a: self.top_dims(5, a) for a in self.attribute_names}
        return out


def rank_latent_dims(G: nn.Module, dims=None, n_latents: int = 8, amplitude: float = 2.0, classifier=None,
                     attribute_names=None, seed: int = 0, device=None, batch_size: int = 64,
                     progress: bool = False) -> LatentRanking:
    """Rank latent dims by the change they cause: each dim is set to -a and +a in ``n_latents``
    base latents (others fixed).

    Parameters
    ----------
    G : nn.Module
    dims : int, list or None
        Dims to measure (None: all).
    classifier : callable, optional
        images (n, 3, H, W) -> logits (n, A), e.g. an ``AttributeClassifier``; its change is
        measured too.
    attribute_names : list of str, optional
        Names of the classifier's outputs (default: ``classifier.attribute_names``).

    Returns
    -------
    LatentRanking
    """
    from tqdm.auto import tqdm

    clf_mode = evaluating(classifier) if isinstance(classifier, nn.Module) else contextlib.nullcontext()
    with evaluating(G, device) as Gc, clf_mode:
        nz = _latent_size(Gc)
        dims = _dims(dims, nz)
        base = torch.randn(n_latents, nz, generator=torch.Generator().manual_seed(seed))
        pix = np.zeros(len(dims))
        clf_change = None
        if classifier is not None:
            attribute_names = list(attribute_names or getattr(classifier, "attribute_names", []))
        for i, d in enumerate(tqdm(dims, desc="latent dims", disable=not progress)):
            lo, hi = base.clone(), base.clone()
            lo[:, d], hi[:, d] = -amplitude, amplitude
            imgs = _generate(Gc, torch.cat([lo, hi]), batch_size)
            a, b = imgs[:n_latents], imgs[n_latents:]
            pix[i] = float((a - b).abs().mean())
            if classifier is not None:
                with torch.no_grad():
                    s = classifier(imgs.to(module_device(classifier) if isinstance(classifier, nn.Module) else "cpu"))
                s = torch.as_tensor(s).float().cpu()
                if s.dim() == 1:
                    s = s[:, None]
                if clf_change is None:
                    clf_change = np.zeros((len(dims), s.shape[1]))
                    if len(attribute_names) != s.shape[1]:
                        attribute_names = [str(j) for j in range(s.shape[1])]
                clf_change[i] = (s[:n_latents] - s[n_latents:]).abs().mean(0).numpy()
        order = np.asarray(dims)[np.argsort(-pix)]
        return LatentRanking(dims, pix, order, float(amplitude), clf_change, list(attribute_names or []))


def generator_features(G: nn.Module, z=None, layers=None, seed: int = 0, device=None) -> dict[str, torch.Tensor]:
    """Feature maps of the generator for one latent, layer by layer.

    Parameters
    ----------
    G : nn.Module
    z : Tensor (nz,), optional
    layers : list of str, optional
        Default: the generator's aliases (block1..block4, image for the DCGAN).

    Returns
    -------
    dict
        layer -> Tensor (C, h, w), in forward order.
    """
    with evaluating(G, device) as Gc:
        nz = _latent_size(Gc)
        if z is None:
            z = torch.randn(nz, generator=torch.Generator().manual_seed(seed))
        z = torch.as_tensor(z, dtype=torch.float32).reshape(1, -1)
        layers = list(alias_table(Gc)) if layers is None else layers
        _, cache = run_with_cache(Gc, z.to(module_device(Gc)), layers)
        return {k: v[0].float().cpu() for k, v in cache.items()}


@dataclass
class Divergence:
    """Where D's activations of counterfactual pairs diverge.

    Attributes
    ----------
    layers : list of str
        ``pixels``, D's layers in order (the last one is the logit).
    attributes : list of str
    distance : dict
        attribute -> ndarray (n_layers,), mean over pairs of ||a - b|| / (||a|| + ||b||).
    spread : dict
        attribute -> ndarray (n_layers,), standard deviation over pairs.
    baseline : ndarray (n_layers,)
        The same for pairs of *different* faces (scale reference).
    n_pairs : int
    scalar : list of str
        Layers with one number per image (D's logit): their normalized distance is
        |a - b| / (|a| + |b|), on another scale than a feature map's.
    """

    layers: list
    attributes: list
    distance: dict
    spread: dict
    baseline: np.ndarray
    n_pairs: int
    scalar: list = field(default_factory=list)

    def relative(self) -> dict:
        """attribute -> distance / baseline per layer."""
        return {a: self.distance[a] / np.where(self.baseline > 0, self.baseline, np.nan) for a in self.attributes}

    def to_dict(self) -> dict:
        return {"layers": self.layers, "n_pairs": self.n_pairs, "baseline": self.baseline,
                "distance": self.distance, "relative": self.relative(), "scalar_layers": self.scalar}


def normalized_distance(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """||a - b|| / (||a|| + ||b||) per row of (n, ...) tensors (0 when both are zero)."""
    a, b = a.flatten(1).double(), b.flatten(1).double()
    den = a.norm(dim=1) + b.norm(dim=1)
    return torch.where(den > 0, (a - b).norm(dim=1) / den.clamp(min=1e-30), torch.zeros_like(den)).numpy()


def counterfactual_divergence(D: nn.Module, attributes=None, n_pairs: int = 32, start_index: int = 1_000_000,
                              seed: int = 0, layers=None, device=None, render=None,
                              progress: bool = False) -> Divergence:
    """Distance between D's activations of the same SynthFaces face with and without an attribute.

    Faces ``start_index .. start_index + n_pairs - 1`` are rendered twice per attribute with the
    attribute forced to 0 and to 1 (``render_counterfactual``); the default start index lies far
    beyond any training set size, so the faces are new to D. The baseline pairs face ``i`` with
    face ``i + n_pairs`` (different faces).

    Parameters
    ----------
    D : nn.Module
        The discriminator (used in eval mode on ``device``, restored afterwards).
    attributes : list of str, optional
        Default: all SynthFaces attributes.
    layers : list of str, optional
        Default: D's aliases.
    render : callable, optional
        ``render(index, attribute, value) -> uint8 (1, 3, H, W)``; default SynthFaces'.

    Returns
    -------
    Divergence
    """
    from tqdm.auto import tqdm

    if render is None:
        def render(i, a, v):
            return render_counterfactual(i, a, v, seed=seed)
        attributes = list(DEFAULT_ATTRIBUTES) if attributes is None else list(attributes)
    elif attributes is None:
        raise XaiprobeError("counterfactual divergence: pass attributes= with a custom render function")
    if n_pairs < 1:
        raise XaiprobeError(f"pairs {n_pairs}: must be at least 1")
    with evaluating(D, device) as Dc:
        dev = module_device(Dc)
        layers = list(alias_table(Dc)) if layers is None else list(layers)

        names = ["pixels"] + [r[0] for r in resolve_layers(Dc, layers)]

        def acts(x: torch.Tensor) -> list[torch.Tensor]:
            _, cache = run_with_cache(Dc, x.to(dev), layers)
            return [x] + [cache[k].cpu() for k in names[1:]]

        idx = [start_index + i for i in range(n_pairs)]
        distance, spread = {}, {}
        for attr in tqdm(attributes, desc="counterfactual pairs", disable=not progress):
            a = to_float_images(np.concatenate([render(i, attr, 0) for i in idx]))
            b = to_float_images(np.concatenate([render(i, attr, 1) for i in idx]))
            d = np.stack([normalized_distance(u, v) for u, v in zip(acts(a), acts(b))])  # (L, n)
            distance[attr], spread[attr] = d.mean(1), d.std(1)
        same = to_float_images(render_synthfaces(idx, seed=seed, masks=False)[0])
        other = to_float_images(render_synthfaces([i + n_pairs for i in idx], seed=seed, masks=False)[0])
        same_acts = acts(same)
        scalar = [n for n, a in zip(names, same_acts) if a[0].numel() == 1]
        baseline = np.stack([normalized_distance(u, v) for u, v in zip(same_acts, acts(other))]).mean(1)
        return Divergence(names, attributes, distance, spread, baseline, int(n_pairs), scalar)
