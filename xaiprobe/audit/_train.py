"""Learning directions: the xGA objective (and LatentCLR, its one-GAN special case).

Per iteration, for each GAN: ``batch`` latents z are drawn from its pool (whose unedited
features f(G(z)) were computed once), every direction edits them, the edited images go through
G and the frozen feature space, and the changes f(G(z + αd_k)) − f(G(z)) enter the contrastive
loss; with density-ratio models, each unique direction's edited features add
``λ · mean r_other(f(G(z + αd_k)))`` (pushed out of the other GAN's distribution, as the
authors' code). Only the directions are updated (Adam); generators, feature space and
density-ratio models are frozen (gradients are taken with respect to the directions alone).
"""
from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .._utils.coerce import evaluating
from ._directions import contrastive_loss

log = logging.getLogger(__name__)

__all__ = ["Pool", "make_pool", "train_directions", "TrainHistory", "edited_features", "Adam", "phase"]


@contextlib.contextmanager
def phase(cost: dict, name: str):
    """Record ``cost[name] = (wall seconds, CPU seconds)`` of the block and log it."""
    t, c = time.perf_counter(), time.process_time()
    yield
    cost[name] = (time.perf_counter() - t, time.process_time() - c)
    log.info("audit: %s took %.1f s (%.1f s CPU)", name, *cost[name])


class Adam:
    """Adam (Kingma & Ba) with L2 weight decay added to the gradient, as ``torch.optim.Adam``.

    A few lines of tensor arithmetic: constructing ``torch.optim`` optimizers imports
    ``torch._dynamo`` on first use, which costs seconds on a small CPU machine.
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        self.params = list(params)
        self.lr, self.betas, self.eps, self.weight_decay = float(lr), tuple(betas), float(eps), float(weight_decay)
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.t = 0

    @torch.no_grad()
    def step(self, grads) -> None:
        """One update with ``grads`` (one tensor or None per parameter)."""
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            if g is None:
                continue
            if self.weight_decay:
                g = g + self.weight_decay * p
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            p.sub_(self.lr * (m / c1) / ((v / c2).sqrt() + self.eps))


@dataclass
class Pool:
    """Latents (P, nz) of one GAN, the features (P, F) of their unedited images and, when an
    oracle was given, its logits (P, A)."""

    z: torch.Tensor
    features: torch.Tensor
    logits: torch.Tensor | None = None


@torch.no_grad()
def make_pool(G, space, n: int, nz: int, seed: int, batch_size: int = 64, device="cpu", oracle=None) -> Pool:
    """``n`` seeded latents of G and the features (and oracle logits) of their images (computed once)."""
    gen = torch.Generator().manual_seed(int(seed))
    z = torch.randn(int(n), int(nz), generator=gen).to(device)
    feats, logits = [], []
    with evaluating(G):
        for i in range(0, len(z), batch_size):
            x = G(z[i:i + batch_size])
            feats.append(space(x).float())
            if oracle is not None:
                logits.append(oracle(x).float())
    return Pool(z, torch.cat(feats), torch.cat(logits) if logits else None)


def edited_features(G, space, dirs, z: torch.Tensor) -> torch.Tensor:
    """Features (k, n, F) of the images of z + αd_k(z) for every direction (differentiable)."""
    zk = dirs(z)
    k, n, nz = zk.shape
    return space(G(zk.reshape(k * n, nz))).float().reshape(k, n, -1)


@dataclass
class TrainHistory:
    """Per-iteration total loss, contrastive loss, density-ratio term and contrastive accuracy."""

    loss: list = field(default_factory=list)
    contrastive: list = field(default_factory=list)
    density: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def seconds_per_iteration(self) -> float:
        return self.seconds / max(len(self.loss), 1)

    def drop(self, frac: float = 0.2) -> tuple[float, float]:
        """Mean contrastive loss over the first and the last ``frac`` of the iterations."""
        c = np.asarray(self.contrastive, float)
        if c.size == 0:
            return float("nan"), float("nan")
        m = max(1, int(round(c.size * frac)))
        return float(c[:m].mean()), float(c[-m:].mean())


def train_directions(generators, space, pools, directions, classes, *, iterations: int = 60, batch_size: int = 2,
                     lr: float = 1e-2, weight_decay: float = 1e-3, temperature: float = 0.5, cross_weight: float = 0.1,
                     joint: bool = True, density=None, unique=None, dre_lambda: float = 0.0, seed: int = 0,
                     progress: bool = False) -> TrainHistory:
    """Train ``directions`` (one LatentDirections per GAN) in place.

    Parameters
    ----------
    generators : list of nn.Module
        One per GAN (the same module twice for a null audit).
    space : FeatureSpace
    pools : list of Pool
    directions : list of LatentDirections
    classes : list of LongTensor (k,)
        Contrastive classes (:func:`~xaiprobe.audit.direction_classes`).
    joint : bool
        True: the xGA loss over both GANs; False: LatentCLR on each GAN alone.
    density : list of DensityRatio or None
        Per GAN, the model whose inlier is the *other* GAN (r ≈ p_other / p_own).
    unique : list of BoolTensor (k,)
        Per GAN, which directions are unique (pushed out of the other GAN's distribution).
    dre_lambda : float
        Weight λ of the density-ratio term (0: contrastive only).
    """
    from tqdm.auto import tqdm

    params = [p for d in directions for p in d.parameters() if p.requires_grad]
    opt = Adam(params, lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(int(seed) + 7919)
    hist = TrainHistory()
    use_density = density is not None and dre_lambda > 0
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        for G in {id(G): G for G in generators}.values():
            stack.enter_context(evaluating(G))
        for _ in tqdm(range(int(iterations)), desc="directions", leave=False, disable=not progress):
            changes, dre_terms = [], []
            for g, (G, pool, dirs) in enumerate(zip(generators, pools, directions)):
                idx = torch.randint(len(pool.z), (int(batch_size),), generator=gen)
                z, f0 = pool.z[idx], pool.features[idx]
                f = edited_features(G, space, dirs, z)
                changes.append(f - f0[None])
                if use_density and unique is not None and bool(unique[g].any()):
                    u = unique[g].to(f.device)
                    dre_terms.append(density[g](f[u].reshape(-1, f.shape[-1])).mean())
            c_loss, acc = contrastive_loss(changes, classes, temperature, cross_weight, joint)
            d_loss = torch.stack(dre_terms).sum() if dre_terms else torch.zeros((), device=c_loss.device)
            loss = c_loss + dre_lambda * d_loss
            opt.step(torch.autograd.grad(loss, params, allow_unused=True))
            hist.loss.append(float(loss.detach()))
            hist.contrastive.append(float(c_loss.detach()))
            hist.density.append(float(d_loss.detach()))
            hist.accuracy.append(acc)
    hist.seconds = time.perf_counter() - t0
    log.info("directions: %d iterations in %.1f s (%.3f s/iteration), contrastive loss %.3f -> %.3f", iterations,
             hist.seconds, hist.seconds_per_iteration, *hist.drop())
    return hist
