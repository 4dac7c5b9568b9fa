"""Audit metrics, measured with an attribute classifier (the oracle), as the paper defines them.

For a direction k of a GAN, ``Δ_k`` (n, A) is the oracle's logit change G(z + αd_k) − G(z)
over n latents (the authors' evaluator uses unedited − edited; every metric here uses |Δ| or
a cosine of two changes with one convention, so the sign does not matter).

- **MRR** (missing / novel): for each excluded attribute, rank the A attributes by
  |mean_z Δ_k| along each unique direction; its best reciprocal rank over the directions;
  mean over the excluded attributes (authors' ``evaluate``).
- **alignment**: cosine of the two GANs' mean changes along a common direction pair, averaged
  over the pairs (authors' ``overlap_direction_scores_cos``).
- **entropy**: per latent the entropy of softmax(|Δ_kn|) over attributes, averaged over latents
  and directions; lower = more disentangled. Reported divided by log A (1 = uniform) so oracles
  of different sizes compare; the authors' value, the mean of −p log p over attributes, is
  entropy / A.
- **deviation**: the mean over attributes of the standard deviation across directions of the
  latent-averaged softmax(|Δ_k|); higher = more diverse directions (authors' ``diversity``).
- **chance MRR**: the expected best reciprocal rank of u directions that rank the target
  uniformly at random among A attributes (exact).
"""
from __future__ import annotations

import numpy as np
import torch

from .._utils.coerce import evaluating
from .._utils.numeric import bootstrap_interval

__all__ = ["oracle_logits", "direction_changes", "reciprocal_rank", "mrr", "mrr_interval", "chance_mrr", "alignment",
           "entropy", "deviation", "greedy_selection", "top_changes"]


@torch.no_grad()
def oracle_logits(oracle, images: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
    """Oracle logits (N, A) of images, batch by batch, in eval mode."""
    with evaluating(oracle):
        return torch.cat([oracle(images[i:i + batch_size]).float() for i in range(0, len(images), batch_size)])


@torch.no_grad()
def direction_changes(G, directions, z: torch.Tensor, oracle, base_logits: torch.Tensor, space=None,
                      alpha: float | None = None, batch_size: int = 128):
    """Oracle logit changes (k, n, A) and, with ``space``, edited features (k, n, F), of every direction.

    One G pass per edited image serves both (the images are not kept).
    """
    zk = directions(z, alpha)
    k, n, nz = zk.shape
    flat = zk.reshape(k * n, nz)
    logits, feats = [], []
    with evaluating(G):
        for i in range(0, len(flat), batch_size):
            x = G(flat[i:i + batch_size])
            logits.append(oracle(x).float() if oracle is not None else torch.zeros(len(x), 0))
            if space is not None:
                feats.append(space(x).float())
    changes = torch.cat(logits).reshape(k, n, -1) - (base_logits[None] if oracle is not None else 0)
    return changes, (torch.cat(feats).reshape(k, n, -1) if space is not None else None)


def reciprocal_rank(mean_change: np.ndarray, target: int) -> float:
    """1 / rank of attribute ``target`` when attributes are sorted by |mean change| (ties: worst rank)."""
    a = np.abs(np.asarray(mean_change, float))
    return 1.0 / float((a >= a[target]).sum())


def mrr(unique_changes: np.ndarray, targets) -> float:
    """Mean over ``targets`` of the best reciprocal rank over the unique directions.

    Parameters
    ----------
    unique_changes : array (u, n, A) or (u, A)
        Changes (or their means over latents) of the u unique directions.
    targets : list of int
        Attribute indices of the excluded attributes.
    """
    c = np.asarray(unique_changes, float)
    means = c.mean(1) if c.ndim == 3 else c
    if len(targets) == 0 or len(means) == 0:
        return float("nan")
    return float(np.mean([max(reciprocal_rank(m, t) for m in means) for t in targets]))


def best_ranks(unique_changes: np.ndarray, targets) -> list[tuple[int, int]]:
    """Per target: (best rank, index of the direction that reaches it)."""
    c = np.asarray(unique_changes, float)
    means = c.mean(1) if c.ndim == 3 else c
    out = []
    for t in targets:
        rr = [reciprocal_rank(m, t) for m in means]
        j = int(np.argmax(rr))
        out.append((int(round(1 / rr[j])), j))
    return out


def mrr_interval(unique_changes: np.ndarray, targets, n_boot: int = 200, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of :func:`mrr` over the latents (u, n, A)."""
    c = np.asarray(unique_changes, float)
    if c.ndim != 3 or c.shape[0] == 0 or len(targets) == 0:
        return float("nan"), float("nan")
    return bootstrap_interval(lambda x: mrr(np.swapaxes(x, 0, 1), targets), np.swapaxes(c, 0, 1), n_boot=n_boot,
                              seed=seed)


def chance_mrr(u: int, n_attributes: int) -> float:
    """E[max over u directions of 1/rank] when each rank is uniform on 1..A (independent): exact."""
    A, u = int(n_attributes), int(u)
    if u < 1 or A < 1:
        return float("nan")
    r = np.arange(1, A + 1, dtype=float)
    at_least = ((A - r + 1) / A) ** u                  # P(min rank >= r)
    exactly = at_least - np.r_[at_least[1:], 0.0]      # P(min rank == r)
    return float((exactly / r).sum())


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else 0.0


def alignment(ref_changes: np.ndarray, client_changes: np.ndarray) -> tuple[float, list[float]]:
    """Mean and per-pair cosine of the two GANs' mean changes along common direction pairs (c, n, A)."""
    r = np.asarray(ref_changes, float)
    c = np.asarray(client_changes, float)
    r, c = (r.mean(1) if r.ndim == 3 else r), (c.mean(1) if c.ndim == 3 else c)
    per = [_cos(a, b) for a, b in zip(r, c)]
    return (float(np.mean(per)) if per else float("nan")), per


def _softmax_abs(changes: np.ndarray) -> np.ndarray:
    a = np.abs(np.asarray(changes, float))
    e = np.exp(a - a.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def entropy(changes: np.ndarray) -> float:
    """Mean normalized entropy (0..1) of softmax(|Δ|) per latent, over latents and directions (k, n, A)."""
    p = _softmax_abs(changes)
    A = p.shape[-1]
    if A < 2:
        return float("nan")
    h = -(p * np.log(np.clip(p, 1e-12, None))).sum(-1) / np.log(A)
    return float(h.mean())


def deviation(changes: np.ndarray) -> float:
    """Mean over attributes of the std across directions of the mean softmax(|Δ|) (k, n, A)."""
    p = _softmax_abs(changes).mean(1)
    if p.shape[0] < 2:
        return float("nan")
    return float(p.std(0, ddof=1).mean())


def greedy_selection(ref_means: np.ndarray, client_means: np.ndarray, k_common: int):
    """Greedy post-hoc pairing ("+ G.S."): repeatedly take the unpaired (reference, client)
    directions whose mean oracle changes have the highest cosine, ``k_common`` times.

    Returns
    -------
    pairs : list of (i, j, cosine)
    ref_unique, client_unique : list of int (the directions left unpaired)
    """
    R, C = np.asarray(ref_means, float), np.asarray(client_means, float)
    cos = np.array([[_cos(a, b) for b in C] for a in R]) if len(R) and len(C) else np.zeros((len(R), len(C)))
    free_r, free_c, pairs = set(range(len(R))), set(range(len(C))), []
    for _ in range(min(int(k_common), len(R), len(C))):
        i, j = max(((i, j) for i in free_r for j in free_c), key=lambda ij: cos[ij])
        pairs.append((i, j, float(cos[i, j])))
        free_r.discard(i)
        free_c.discard(j)
    return pairs, sorted(free_r), sorted(free_c)


def top_changes(mean_change: np.ndarray, names, n: int = 3) -> list[tuple[str, float]]:
    """The ``n`` attributes with the largest |mean change|, as (name, signed change)."""
    m = np.asarray(mean_change, float)
    order = np.argsort(-np.abs(m), kind="stable")[:n]
    return [(str(names[i]), float(m[i])) for i in order]
