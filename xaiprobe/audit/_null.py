"""Density-ratio scoring of directions and the null audits that calibrate its threshold.

Each audit fits two pairs of density-ratio models (:func:`dre_pair`): one pair enters the
training objective, the other, fitted on other samples, scores the directions, so a direction
cannot score high by exploiting the noise of the model it was trained against. A direction's
score is the larger over the two signs ±alpha of the median change of −log r_other.

A null audit learns directions for the reference against itself (or against a second training
seed) with the same settings; the scores of all its directions calibrate the threshold
(:func:`~xaiprobe.audit._density.null_threshold`), and the number of its unique directions
above the threshold is reported (the first null audit is its own calibration; any other one is
held out from it).
"""
from __future__ import annotations

import logging

import torch

from .._utils.coerce import evaluating
from ._density import fit_density_ratio, null_threshold, ood_score
from ._methods import train_set
from ._metrics import direction_changes
from ._train import make_pool, phase

log = logging.getLogger(__name__)

__all__ = ["dre_pair", "direction_scores", "null_scores", "run_null_audits"]


def dre_pair(cfg, pool_ref, pool_client, seed):
    """Density-ratio models for the reference's directions (r ≈ p_client/p_ref) and the client's
    (r ≈ p_ref/p_client): ``train`` ones, fitted on the first half of each pool and used in the
    objective, and independent ``score`` ones, fitted on the second half and used to score
    directions (a direction cannot exploit the noise of a model it was not trained against)."""
    out = {}
    for part, sl in (("train", slice(0, len(pool_ref.z) // 2)), ("score", slice(len(pool_ref.z) // 2, None))):
        fr, fc = pool_ref.features[sl], pool_client.features[sl]
        out[part] = [fit_density_ratio(fc, fr, cfg.dre_steps, seed=seed + (0 if part == "train" else 10)),
                     fit_density_ratio(fr, fc, cfg.dre_steps, seed=seed + (1 if part == "train" else 11))]
    return out


def direction_scores(cfg, G, dirs, z, base_feats, model, space, feats_plus=None):
    """Density-ratio score of every direction: the larger over the two signs (±alpha) of the median
    change of −log r_other; [(score, sign)]. ``feats_plus``: edited features at +alpha, if at hand."""
    if feats_plus is None:
        feats_plus = direction_changes(G, dirs, z, None, None, space)[1]
    feats_minus = direction_changes(G, dirs, z, None, None, space, alpha=-cfg.alpha)[1]
    out = []
    for k in range(cfg.k):
        sp, sm = ood_score(model, feats_plus[k], base_feats)[0], ood_score(model, feats_minus[k], base_feats)[0]
        out.append((sp, 1) if sp >= sm else (sm, -1))
    return out


def null_scores(cfg, ref, other, space, pool_ref, z_eval, base_feats_ref, seed_offset):
    """One null audit: directions learned on (reference, other) with their own density ratios,
    and the density-ratio score of every direction: [(side, k, score)]."""
    nz = ref.nz
    pool_o = make_pool(other.module, space, cfg.dre_samples, nz, cfg.seed + 5000 + seed_offset,
                       device=z_eval["reference"].device)
    dens = dre_pair(cfg, pool_ref, pool_o, cfg.seed + 6000 + seed_offset)
    dirs, hist = train_set(cfg, [ref, other], space, [pool_ref, pool_o], density=dens["train"],
                            dre_lambda=cfg.dre_lambda, seed_offset=seed_offset)
    z_o = z_eval["client_null"]
    with torch.no_grad(), evaluating(other.module):
        base_o = torch.cat([space(other.module(z_o[i:i + 64])).float() for i in range(0, len(z_o), 64)])
    scores = []
    for side, (gen, d, z, base) in enumerate([(ref, dirs[0], z_eval["reference"], base_feats_ref),
                                              (other, dirs[1], z_o, base_o)]):
        scores += [(side, k, sc) for k, (sc, _) in
                   enumerate(direction_scores(cfg, gen.module, d, z, base, dens["score"][side], space))]
    return {"scores": scores, "auc": [m.auc_ for m in dens["score"]], "seconds": hist.seconds}


def run_null_audits(cfg, ref, null_gen, space, pool_ref, z_eval, base_feats_ref, cost) -> dict:
    """The null audits of ``cfg`` (reference vs itself; vs ``null_gen``): threshold and flag counts."""
    null = {"threshold": float("nan"), "audits": [], "alpha": 0.05}
    if not (cfg.null_audit or null_gen is not None):
        return null
    with phase(cost, "null audits"):
        runs = [("reference vs itself", ref)] if cfg.null_audit else []
        if null_gen is not None:
            runs.append((f"reference vs {null_gen.label}", null_gen))
        results = [(label, null_scores(cfg, ref, g, space, pool_ref, z_eval, base_feats_ref, 31 * (i + 1)))
                   for i, (label, g) in enumerate(runs)]
        n_tests = 2 * (cfg.k - cfg.k_common)
        null["threshold"] = null_threshold([s for _, _, s in results[0][1]["scores"]], n_tests, null["alpha"])
        for i, (label, r) in enumerate(results):
            uniq = [s for _, k, s in r["scores"] if k >= cfg.k_common]
            null["audits"].append({"label": label, "unique": len(uniq), "calibration": i == 0,
                                   "flagged": int(sum(s > null["threshold"] for s in uniq)),
                                   "max_unique_score": float(max(uniq)) if uniq else float("nan"),
                                   "scores": r["scores"], "auc": r["auc"], "seconds": r["seconds"]})
    return null
