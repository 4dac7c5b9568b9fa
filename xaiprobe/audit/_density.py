"""Density-ratio models (KLIEP) in a feature space: is a sample out of distribution for a GAN?

``r(x) = softplus(MLP(standardize(f(x))))`` with a 2-layer MLP, trained on features of samples
of an *inlier* GAN p and an *outlier* GAN q with the KLIEP loss
``−mean log r(x_p) + mean r(x_q)``, whose minimizer is r = p / q. A low r(x) says x is much
likelier under q than under p: out of distribution for p. The audit trains two (each GAN as
inlier once), freezes them, and uses them (a) to push each GAN's unique directions out of the
other GAN's distribution and (b) to score directions: the median over latents of ``−log r_other(edited) − (−log
r_other(unedited))`` in nats, how much an edit leaves the other GAN's distribution; a
direction is flagged above a threshold calibrated on null audits (:func:`null_threshold`).
"""
from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._utils.numeric import roc_auc

log = logging.getLogger(__name__)

__all__ = ["DensityRatio", "kliep_loss", "fit_density_ratio", "ood_score", "null_threshold"]


class DensityRatio(nn.Module):
    """r(features) > 0: a 2-layer MLP with softplus output on standardized features.

    The MLP reads the leading ``components`` principal components of the standardized features
    (fitted on the training features; a few hundred samples per GAN cannot fit thousands of
    inputs). The authors' MLP reads the features themselves, with 2F hidden units.

    Parameters
    ----------
    dim : int
        Feature size F.
    hidden : int
        Hidden units.
    components : int
        Principal components the MLP reads (all when F is smaller).
    """

    def __init__(self, dim: int, hidden: int = 128, components: int = 64):
        super().__init__()
        p = min(int(components), int(dim))
        self.mlp = nn.Sequential(nn.Linear(p, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))
        self.register_buffer("basis", torch.eye(dim)[:, :p].contiguous())

    def logits(self, feats: torch.Tensor) -> torch.Tensor:
        """The MLP's output (N,), clamped to [-50, 50] (as the authors)."""
        return self.mlp(((feats - self.mean) / self.scale) @ self.basis).squeeze(1).clamp(-50, 50)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """r (N,) of features (N, F)."""
        return F.softplus(self.logits(feats))

    def log_ratio(self, feats: torch.Tensor) -> torch.Tensor:
        """log r (N,), stable where r is tiny (log softplus(t) ≈ t for t << 0)."""
        t = self.logits(feats)
        return torch.where(t < -15, t, torch.log(F.softplus(t.clamp_min(-15))))


def kliep_loss(log_r_inlier: torch.Tensor, r_outlier: torch.Tensor) -> torch.Tensor:
    """KLIEP: −mean log r(inliers) + mean r(outliers) (minimized by r = p_in / p_out)."""
    return -log_r_inlier.mean() + r_outlier.mean()


def fit_density_ratio(inlier: torch.Tensor, outlier: torch.Tensor, steps: int = 300, hidden: int = 128,
                      components: int = 64, lr: float = 1e-3, weight_decay: float = 1e-4, batch_size: int = 64,
                      holdout: float = 0.25,
                      seed: int = 0) -> DensityRatio:
    """Train a :class:`DensityRatio` r ≈ p_inlier / p_outlier on features (N, F) of each GAN.

    A ``holdout`` share of each set is kept out of training; ``model.auc_`` is the ROC-AUC of
    −log r separating held-out outlier from inlier features (0.5: the GANs look alike in this
    feature space; 1: always told apart), ``model.loss_history_`` the loss per step. The
    returned model is frozen (eval mode, no gradients for its parameters).
    """
    gen = torch.Generator().manual_seed(int(seed))
    inlier, outlier = inlier.detach().float().cpu(), outlier.detach().float().cpu()
    pi, po = torch.randperm(len(inlier), generator=gen), torch.randperm(len(outlier), generator=gen)
    ni, no = int(len(inlier) * holdout), int(len(outlier) * holdout)
    tr_i, te_i = inlier[pi[ni:]], inlier[pi[:ni]]
    tr_o, te_o = outlier[po[no:]], outlier[po[:no]]
    with torch.random.fork_rng():
        torch.manual_seed(int(seed))
        model = DensityRatio(inlier.shape[1], hidden, components)
    both = torch.cat([tr_i, tr_o])
    model.mean.copy_(both.mean(0))
    model.scale.copy_(both.std(0).clamp_min(1e-6))
    p = model.basis.shape[1]
    if p < both.shape[1]:  # the leading principal components of the standardized training features
        _, _, v = torch.linalg.svd((both - model.mean) / model.scale, full_matrices=False)
        k = min(p, v.shape[0])
        model.basis.zero_()
        model.basis[:, :k] = v[:k].T
    from ._train import Adam

    params = list(model.mlp.parameters())
    opt = Adam(params, lr=lr, weight_decay=weight_decay)
    history = []
    bs = max(2, min(int(batch_size), len(tr_i), len(tr_o)))
    for _ in range(int(steps)):
        bi = tr_i[torch.randint(len(tr_i), (bs,), generator=gen)]
        bo = tr_o[torch.randint(len(tr_o), (bs,), generator=gen)]
        loss = kliep_loss(model.log_ratio(bi), model(bo))
        opt.step(torch.autograd.grad(loss, params))
        history.append(float(loss.detach()))
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    model.loss_history_ = history
    with torch.no_grad():
        if ni and no:
            s = torch.cat([-model.log_ratio(te_i), -model.log_ratio(te_o)]).numpy()
            y = np.r_[np.zeros(ni), np.ones(no)]
            model.auc_ = roc_auc(y, s)
        else:
            model.auc_ = float("nan")
    return model


def ood_score(model: DensityRatio, edited: torch.Tensor, base: torch.Tensor) -> tuple[float, np.ndarray]:
    """How far edits leave the inlier GAN's distribution, in nats.

    Parameters
    ----------
    model : DensityRatio
        r ≈ p_other / p_own (the *other* GAN is its inlier).
    edited, base : Tensor (n, F)
        Features of the edited and unedited images of the same latents.

    Returns
    -------
    (score, per_latent): the per-latent changes of −log r, log r(base) − log r(edited) (n,), and
    their median (robust to the heavy tails of log-ratios far from the data).
    """
    with torch.no_grad():
        d = (model.log_ratio(base.float()) - model.log_ratio(edited.float())).cpu().numpy()
    return float(np.median(d)), d


def null_threshold(scores, n_tests: int, alpha: float = 0.05) -> float:
    """The score above which a direction is flagged, from null-audit direction scores.

    The upper ``1 − alpha / n_tests`` prediction bound of one more null score under a normal
    model of the J null scores: mean + t_{J−1} · sd · sqrt(1 + 1/J) (Bonferroni over the
    ``n_tests`` unique directions of an audit). NaN with fewer than 3 scores.
    """
    from scipy.stats import t as student_t

    s = np.asarray([v for v in scores if np.isfinite(v)], float)
    if s.size < 3:
        return float("nan")
    q = 1 - alpha / max(int(n_tests), 1)
    return float(s.mean() + student_t.ppf(q, s.size - 1) * s.std(ddof=1) * np.sqrt(1 + 1 / s.size))
