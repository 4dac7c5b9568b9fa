"""Latent directions and the contrastive loss that learns them.

An edit is ``z + α·d_k(z)`` with ``d_k`` a unit vector: a learned vector (``global``) or a
learned affine map of z, normalized (``linear``, the linear-conditional model of xGA and
LatentCLR: ``d_k(z) = (W_k z + b_k) / ||W_k z + b_k||``). The authors' linear model has no
bias; here ``W_k`` starts at zero and ``b_k`` at a random unit vector, so training starts from
global directions and learns how much they depend on z.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._utils.errors import XaiprobeError

__all__ = ["LatentDirections", "contrastive_loss", "direction_classes", "DIRECTION_MODELS"]

DIRECTION_MODELS = ("linear", "global")


class LatentDirections(nn.Module):
    """K edit directions in a latent space of size nz.

    Parameters
    ----------
    k : int
    nz : int
    model : {"linear", "global"}
    alpha : float
        Edit strength: an edit is z + alpha·d_k(z).
    seed : int
        Initialization.
    vectors : array (k, nz), optional
        Fixed global directions (SeFa components, random vectors); they are not trained.
    """

    def __init__(self, k: int, nz: int, model: str = "linear", alpha: float = 3.0, seed: int = 0, vectors=None):
        super().__init__()
        if model not in DIRECTION_MODELS:
            raise XaiprobeError(f"direction model {model!r}: unknown; use one of {', '.join(DIRECTION_MODELS)}")
        self.k, self.nz, self.model, self.alpha = int(k), int(nz), model, float(alpha)
        if vectors is not None:
            v = torch.as_tensor(np.asarray(vectors), dtype=torch.float32).reshape(self.k, self.nz)
            self.register_buffer("fixed", F.normalize(v, dim=1))
            self.model = "global"
            return
        self.fixed = None
        gen = torch.Generator().manual_seed(int(seed))
        self.bias = nn.Parameter(F.normalize(torch.randn(self.k, self.nz, generator=gen), dim=1))
        self.weight = nn.Parameter(torch.zeros(self.k, self.nz, self.nz)) if model == "linear" else None

    @property
    def trainable(self) -> bool:
        return self.fixed is None

    def directions(self, z: torch.Tensor) -> torch.Tensor:
        """Unit directions (k, n, nz) at latents z (n, nz)."""
        if self.fixed is not None:
            return self.fixed[:, None, :].expand(self.k, z.shape[0], self.nz)
        d = self.bias[:, None, :].expand(self.k, z.shape[0], self.nz)
        if self.weight is not None:
            d = d + torch.einsum("kij,nj->kni", self.weight, z)
        return F.normalize(d, dim=2)

    def forward(self, z: torch.Tensor, alpha: float | None = None) -> torch.Tensor:
        """Edited latents (k, n, nz): z + alpha·d_k(z) for every direction."""
        a = self.alpha if alpha is None else float(alpha)
        return z[None] + a * self.directions(z)

    def edit(self, z: torch.Tensor, k: int, alpha: float | None = None) -> torch.Tensor:
        """z + alpha·d_k(z) (n, nz) for one direction."""
        a = self.alpha if alpha is None else float(alpha)
        return z + a * self.directions(z)[int(k)]

    def mean_direction(self, z: torch.Tensor) -> np.ndarray:
        """The directions averaged over latents z and renormalized (k, nz)."""
        with torch.no_grad():
            return F.normalize(self.directions(z).mean(1), dim=1).cpu().numpy()


def direction_classes(k: int, k_common: int, n_gans: int = 2) -> list[torch.Tensor]:
    """Class ids of the directions of each GAN: common direction i of every GAN is class i;
    each unique direction is a class of its own."""
    out, next_id = [], k
    for g in range(n_gans):
        ids = torch.arange(k)
        if g > 0:
            uniq = ids >= k_common
            ids = ids.clone()
            ids[uniq] = torch.arange(next_id, next_id + int(uniq.sum()))
            next_id += int(uniq.sum())
        out.append(ids)
    return out


def contrastive_loss(changes: list[torch.Tensor], classes: list[torch.Tensor], temperature: float = 0.5,
                     cross_weight: float = 0.1, joint: bool = True) -> tuple[torch.Tensor, float]:
    """The xGA / LatentCLR contrastive loss of feature changes.

    Parameters
    ----------
    changes : list of Tensor (k_g, n, F), one per GAN
        Feature changes f(G(z + αd)) - f(G(z)) of each direction (any scale; cosine is used).
    classes : list of LongTensor (k_g,)
        Class of each direction (:func:`direction_classes`); equal classes are positives.
    temperature : float
        Similarities are cos / temperature (the paper's form; the authors' code multiplies
        by its ``temp`` instead).
    cross_weight : float
        Weight of positive pairs across GANs (common directions); the authors' 0.1.
    joint : bool
        False: each GAN alone (LatentCLR on every GAN; no cross-GAN pairs at all).

    Returns
    -------
    (loss, accuracy): loss = Σ_anchors Σ_positives w·(−s_ij + log Σ_negatives exp s_in) divided by
    the number of positive pairs (as the authors); accuracy = share of anchors whose every
    positive beats every negative.
    """
    if not joint:
        parts = [contrastive_loss([c], [k], temperature, 0.0, True) for c, k in zip(changes, classes)]
        return sum(p[0] for p in parts) / len(parts), float(np.mean([p[1] for p in parts]))
    h = torch.cat([F.normalize(c.reshape(-1, c.shape[-1]), dim=1) for c in changes])
    lab = torch.cat([cl.repeat_interleave(c.shape[1]) for c, cl in zip(changes, classes)]).to(h.device)
    gan = torch.cat([torch.full((c.shape[0] * c.shape[1],), g) for g, c in enumerate(changes)]).to(h.device)
    s = h @ h.T / float(temperature)
    same = lab[:, None] == lab[None, :]
    eye = torch.eye(len(lab), dtype=torch.bool, device=h.device)
    pos, neg = same & ~eye, ~same
    w = torch.where(gan[:, None] == gan[None, :], 1.0, float(cross_weight)).to(h.dtype) * pos
    log_neg = torch.logsumexp(s.masked_fill(~neg, float("-inf")), dim=1, keepdim=True)
    n_pos = pos.sum()
    if int(n_pos) == 0 or not bool(neg.any()):
        raise XaiprobeError("contrastive loss: needs at least 2 latents per direction and 2 directions")
    loss = (w * (log_neg - s)).masked_fill(~pos, 0.0).sum() / n_pos
    with torch.no_grad():
        worst_pos = s.masked_fill(~pos, float("inf")).min(1).values
        best_neg = s.masked_fill(~neg, float("-inf")).max(1).values
        acc = float((worst_pos > best_neg).float().mean())
    return loss, acc
