"""Cross-GAN auditing (xGA): which attributes a client GAN shares with a reference GAN, which
are novel to it and which it misses.

Each GAN gets K latent directions (``k_common`` of them shared). Directions are learned in a
frozen feature space: the feature changes of all edits are compared by cosine similarity in a
contrastive loss whose positives are edits along the same direction — within a GAN, and across
the two GANs for common directions. Two density-ratio models (KLIEP) score how far an image is
out of each GAN's distribution; the unique directions of each GAN are pushed out of the other's
distribution. An attribute classifier (the oracle) measures the result: missing/novel MRR,
alignment, entropy, deviation, beside baselines (SeFa + G.S., LatentCLR + G.S., xGA without
the density-ratio term, random directions), chance, and null audits (the reference against
itself, and against a second training seed) that calibrate the density-ratio threshold.

Python::

    result = xaiprobe.audit("reference.pt", "client.pt", classifier="classifier.pt", run_dir="runs/audit")
    result.numbers["missing_mrr"], result.records

Command line::

    xaiprobe audit --reference reference.pt --client client.pt --out RUN

``xaiprobe.audit`` is this package and is itself callable as the function :func:`audit`.
"""
from __future__ import annotations

import sys
import types

from ._audit import AuditResult, MethodResult, load_oracle, run
from ._audit import audit as _audit
from ._config import NAME, Config
from ._density import DensityRatio, fit_density_ratio, kliep_loss, ood_score
from ._directions import DIRECTION_MODELS, LatentDirections, contrastive_loss, direction_classes
from ._features import FEATURES, FeatureSpace, SmallCNN, build_feature_space, classifier_features
from ._generators import AuditGenerator, check_pair, fixed_label_generator, load_generator, recorded_exclusions
from ._metrics import alignment, chance_mrr, deviation, entropy, greedy_selection, mrr, reciprocal_rank
from ._report import ORDER, TITLE, section
from ._selfsup import selfsup_encoder, train_selfsup_encoder
from ._train import TrainHistory, make_pool, train_directions

HELP = "audit a client GAN against a reference GAN: common, novel and missing attributes"

__all__ = ["NAME", "TITLE", "ORDER", "HELP", "Config", "run", "section", "audit", "AuditResult", "MethodResult",
           "load_oracle", "DensityRatio", "fit_density_ratio", "kliep_loss", "ood_score", "DIRECTION_MODELS",
           "LatentDirections", "contrastive_loss", "direction_classes", "FEATURES", "FeatureSpace", "SmallCNN",
           "build_feature_space", "classifier_features", "AuditGenerator", "check_pair", "fixed_label_generator",
           "load_generator", "recorded_exclusions", "alignment", "chance_mrr", "deviation", "entropy",
           "greedy_selection", "mrr", "reciprocal_rank", "selfsup_encoder", "train_selfsup_encoder", "TrainHistory",
           "make_pool", "train_directions"]


class _CallablePackage(types.ModuleType):
    """``xaiprobe.audit(...)`` works whether the name resolves to this package or the function."""

    def __call__(self, reference, client, run_dir=None, **options) -> AuditResult:
        return _audit(reference, client, run_dir, **options)

    __call__.__doc__ = _audit.__doc__


sys.modules[__name__].__class__ = _CallablePackage
#: ``xaiprobe.audit.audit`` (and the flat ``xaiprobe.audit``) is this callable package
audit = sys.modules[__name__]
audit.__signature__ = __import__("inspect").signature(_audit)
