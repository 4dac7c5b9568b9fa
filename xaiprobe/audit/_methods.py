"""The methods an audit compares: xGA and the baselines, trained or built on the same GANs.

- ``xga``: directions trained with the contrastive loss and the density-ratio term.
- ``xga_nodre``: the same without the density-ratio term (λ = 0).
- ``latentclr_gs``: LatentCLR on each GAN alone (the contrastive loss within one GAN), then
  greedy post-hoc pairing with the oracle ("+ G.S.").
- ``sefa_gs``: the top-K SeFa components of each GAN's first layer (closed form,
  :func:`xaiprobe.editing.sefa_components`), then greedy pairing.
- ``random``: K random unit directions per GAN, paired by index (a chance reference).

Common/unique roles: trained methods by construction (the first ``k_common`` directions are
common); "+ G.S." methods by the greedy pairing (the directions left unpaired are unique).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from .._utils.errors import XaiprobeError
from ._directions import LatentDirections, direction_classes
from ._metrics import (alignment, best_ranks, deviation, direction_changes, entropy, greedy_selection, mrr,
                       mrr_interval)
from ._train import phase, train_directions

log = logging.getLogger(__name__)

__all__ = ["METHODS", "MethodResult", "train_set", "evaluate_method", "run_baselines"]

#: method keys in table order, with their labels
METHODS = {"xga": "xGA", "xga_nodre": "xGA without density ratio (λ = 0)", "latentclr_gs": "LatentCLR + G.S.",
           "sefa_gs": "SeFa + G.S.", "random": "random directions"}


@dataclass
class MethodResult:
    """One method's directions on both GANs and its metrics."""

    name: str
    pairs: list                # [(ref index, client index, cosine)]
    ref_unique: list
    client_unique: list
    metrics: dict
    ranks: dict = field(default_factory=dict)   # {"missing": [(attr, rank, direction)], "novel": [...]}


def train_set(cfg, gens, space, pools, *, joint=True, density=None, dre_lambda=0.0, seed_offset=0):
    k, kc = cfg.k, cfg.k_common
    dirs = [LatentDirections(k, g.nz, cfg.direction_model, cfg.alpha, seed=cfg.seed + 101 * i + seed_offset).to(
        pools[i].z.device) for i, g in enumerate(gens)]
    classes = direction_classes(k, kc, len(gens)) if joint else [torch.arange(k) for _ in gens]
    unique = [torch.arange(k) >= kc for _ in gens]
    hist = train_directions([g.module for g in gens], space, pools, dirs, classes, iterations=cfg.iterations,
                            batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay,
                            temperature=cfg.temperature, cross_weight=cfg.cross_weight, joint=joint, density=density,
                            unique=unique, dre_lambda=dre_lambda, seed=cfg.seed + seed_offset)
    return dirs, hist


def evaluate_method(name, changes_ref, changes_client, k_common, gs: bool, names, missing, novel, seed) -> MethodResult:
    """Metrics of one method from its oracle changes (k, n, A) on each GAN."""
    mr, mc = changes_ref.mean(1), changes_client.mean(1)
    if gs:
        pairs, ru, cu = greedy_selection(mr, mc, k_common)
    else:
        pairs = [(i, i, 0.0) for i in range(k_common)]
        ru, cu = list(range(k_common, len(mr))), list(range(k_common, len(mc)))
    al, per = alignment(changes_ref[[p[0] for p in pairs]], changes_client[[p[1] for p in pairs]]) if pairs else (
        float("nan"), [])
    pairs = [(i, j, c) for (i, j, _), c in zip(pairs, per)]
    m_idx = [names.index(a) for a in missing]
    n_idx = [names.index(a) for a in novel]
    both = np.concatenate([changes_ref, changes_client])
    metrics = {"alignment": al, "entropy": entropy(both), "deviation": deviation(both),
               "missing_mrr": mrr(changes_ref[ru], m_idx) if ru else float("nan"),
               "novel_mrr": mrr(changes_client[cu], n_idx) if cu else float("nan")}
    metrics["missing_lo"], metrics["missing_hi"] = mrr_interval(changes_ref[ru], m_idx, seed=seed) if ru else (
        float("nan"), float("nan"))
    metrics["novel_lo"], metrics["novel_hi"] = mrr_interval(changes_client[cu], n_idx, seed=seed) if cu else (
        float("nan"), float("nan"))
    ranks = {"missing": [(a, r, ru[j]) for a, (r, j) in zip(missing, best_ranks(changes_ref[ru], m_idx))] if ru else [],
             "novel": [(a, r, cu[j]) for a, (r, j) in zip(novel, best_ranks(changes_client[cu], n_idx))] if cu else []}
    return MethodResult(name, pairs, ru, cu, metrics, ranks)


def _sefa_vectors(G, k: int):
    from ..editing import sefa_components

    comps, _ = sefa_components(G)
    return comps[:k]


def _random_vectors(k: int, nz: int, seed: int):
    g = torch.Generator().manual_seed(int(seed))
    return torch.randn(k, nz, generator=g).numpy()


def run_baselines(cfg, ref, client, space, pools, z_eval, base, oracle, names, missing, novel, cost):
    """Train and build the baselines, evaluate them on the same latents; (methods, loss histories)."""
    nz = ref.nz
    device = z_eval["reference"].device
    methods, histories = {}, {}
    with phase(cost, "baseline directions"):
        d0, h0 = train_set(cfg, [ref, client], space, pools, density=None, dre_lambda=0.0)
        histories["xga_nodre"] = h0.contrastive
        d1, h1 = train_set(cfg, [ref, client], space, pools, joint=False, seed_offset=17)
        histories["latentclr_gs"] = h1.contrastive
    with phase(cost, "baseline evaluation"):
        fixed = {}
        try:
            fixed["sefa_gs"] = [LatentDirections(cfg.k, nz, alpha=cfg.alpha, vectors=_sefa_vectors(g.module, cfg.k))
                                for g in (ref, client)]
        except XaiprobeError as exc:
            log.warning("SeFa baseline skipped: %s", exc)
        fixed["random"] = [LatentDirections(cfg.k, nz, alpha=cfg.alpha,
                                            vectors=_random_vectors(cfg.k, nz, cfg.seed + i)) for i in range(2)]
        for name, (dr, dc), gs in (("xga_nodre", d0, False), ("latentclr_gs", d1, True),
                                   *((n, v, n != "random") for n, v in fixed.items())):
            cr = direction_changes(ref.module, dr.to(device), z_eval["reference"], oracle, base["reference"][0])[0]
            cc = direction_changes(client.module, dc.to(device), z_eval["client"], oracle, base["client"][0])[0]
            methods[name] = evaluate_method(name, cr.numpy(), cc.numpy(), cfg.k_common, gs, names, missing, novel,
                                            cfg.seed)
    return methods, histories
