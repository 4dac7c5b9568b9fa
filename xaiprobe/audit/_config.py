"""The audit stage's parameters, each declared once."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._utils.errors import XaiprobeError
from ..config import StageConfig, param
from ._directions import DIRECTION_MODELS
from ._features import FEATURES

NAME = "audit"

__all__ = ["Config", "NAME"]


@dataclass
class Config(StageConfig):
    """Cross-GAN audit: common, novel and missing attributes of a client GAN against a reference."""

    stage = NAME
    reference: str = param(None, "reference generator: an xaiprobe checkpoint (.pt) or pkg.module:factory "
                               "(or path/to/file.py:factory) returning a generator module", path=True,
                           metavar="CK")
    client: str = param(None, "client generator audited against the reference: a checkpoint or pkg.module:factory",
                        path=True, metavar="CK")
    null: str = param(None, "a second training seed of the reference: also audited against the reference as a "
                          "null control (optional)", path=True, metavar="CK")
    classifier: str = param(None, "attribute classifier (the oracle of the metrics); default the shipped SynthFaces "
                                "classifier", path=True)
    features: str = param("disc", "feature space in which directions are learned: disc (the reference "
                                  "discriminator), random (random CNN), selfsup (SimCLR on unlabeled SynthFaces), "
                                  "oracle (the classifier: marked as using the oracle)", choices=FEATURES)
    selfsup_weights: str = param(None, "encoder file for --features selfsup (from xaiprobe.audit."
                                       "train_selfsup_encoder(out=FILE)); default the shipped one, else trained once "
                                       "and cached", path=True)
    standardize: bool = param(True, "standardize every feature by its spread over both GANs' samples before "
                                    "comparing changes (off: raw features, as the authors)")
    missing: tuple[str, ...] = param((), "attributes the client lacks (ground truth of the missing MRR); default "
                                         "the exclusion recorded in the client checkpoint")
    novel: tuple[str, ...] = param((), "attributes only the client has (ground truth of the novel MRR); default "
                                       "the exclusion recorded in the reference checkpoint")
    k: int = param(8, "directions per GAN", low=2)
    k_common: int = param(6, "of them common to both GANs (the rest: missing for the reference, novel for the "
                             "client)", low=0)
    direction_model: str = param("linear", "linear: d(z) = normalize(W z + b) (linear conditional); global: one "
                                           "vector per direction", choices=DIRECTION_MODELS)
    alpha: float = param(3.0, "edit strength: an edit is z + alpha·d(z)", low=0, low_open=True)
    iterations: int = param(40, "training iterations of each direction set (xGA, baselines, null audits)", low=1)
    batch_size: int = param(2, "latents per direction per iteration", low=2)
    lr: float = param(0.02, "Adam learning rate of the directions", low=0, low_open=True)
    weight_decay: float = param(1e-3, "Adam weight decay of the directions", low=0)
    temperature: float = param(0.5, "contrastive temperature (similarities are cos / temperature)", low=0,
                               low_open=True)
    cross_weight: float = param(0.1, "weight of the cross-GAN positive pairs of common directions", low=0)
    dre_lambda: float = param(1.0, "weight of the density-ratio term that pushes unique directions out of the "
                                   "other GAN's distribution", low=0)
    dre_samples: int = param(384, "samples per GAN for the density-ratio models (a quarter held out)", low=8)
    dre_steps: int = param(300, "training steps of each density-ratio model", low=1)
    eval_samples: int = param(24, "latents per direction for the oracle metrics and density-ratio scores", low=2)
    strip_samples: int = param(2, "latents per direction in the image strips", low=1, high=8)
    baselines: bool = param(True, "also run the baselines on the same GANs: SeFa + G.S., LatentCLR + G.S., "
                                  "xGA without the density-ratio term, random directions")
    null_audit: bool = param(True, "also audit the reference against itself (the null control that calibrates "
                                   "the density-ratio threshold)")
    seed: int = param(0, "random seed", low=0)
    device: str = param("auto", "cpu, cuda, cuda:N or auto")
    # API-only objects
    reference_model: Any = param(None, "reference generator module", cli=False)
    client_model: Any = param(None, "client generator module", cli=False)
    null_model: Any = param(None, "second-seed reference generator module", cli=False)
    classifier_model: Any = param(None, "oracle classifier module (with attribute_names)", cli=False)
    features_model: Any = param(None, "a custom feature-space module images -> (N, F)", cli=False)
    discriminator_model: Any = param(None, "discriminator for --features disc when the reference is a module",
                                     cli=False)

    def check(self) -> None:
        if not self.reference and self.reference_model is None:
            raise XaiprobeError("--reference: required; pass the reference generator's checkpoint (.pt)")
        if not self.client and self.client_model is None:
            raise XaiprobeError("--client: required; pass the client generator's checkpoint (.pt)")
        if self.k_common > self.k:
            raise XaiprobeError(f"--k-common {self.k_common}: more than the {self.k} directions per GAN (--k); "
                                f"use at most {self.k}")
        overlap = sorted(set(self.missing) & set(self.novel))
        if overlap:
            raise XaiprobeError(f"--missing/--novel: {', '.join(overlap)} given as both; an attribute is missing "
                                "from the client or novel to it, not both")
