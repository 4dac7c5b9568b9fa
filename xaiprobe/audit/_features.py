"""Feature spaces in which directions are learned and density ratios estimated.

``--features`` chooses one:

- ``disc`` — the reference checkpoint's discriminator, its penultimate features (the input of
  its last layer, average-pooled over space). Trained by the GAN game only, never on labels.
- ``random`` — a randomly initialized 4-layer CNN (seeded): a label-free control.
- ``selfsup`` — the same CNN trained self-supervised (SimCLR) on unlabeled SynthFaces images
  (:func:`xaiprobe.audit.selfsup_encoder`; trained once and cached).
- ``oracle`` — the attribute classifier's penultimate features. The metrics use the same
  classifier, so an audit in this space is marked as using the oracle.

A feature space maps images (N, C, H, W) in [-1, 1] to features (N, F); it is frozen and
differentiable (directions are learned through it).
"""
from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

from .._utils.errors import XaiprobeError
from ._cnn import CNN_SIZE, SmallCNN  # noqa: F401  (re-exported)
from ._selfsup import selfsup_encoder

log = logging.getLogger(__name__)

__all__ = ["FEATURES", "FeatureSpace", "SmallCNN", "penultimate", "build_feature_space", "classifier_features"]

FEATURES = ("disc", "random", "selfsup", "oracle")



def _last_layer(model: nn.Module) -> nn.Module:
    last = None
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            last = m
    if last is None:
        raise XaiprobeError(f"{type(model).__name__}: has no Conv2d/Linear layer; its penultimate features are "
                            "undefined; pass a network that ends in one")
    return last


def penultimate(model: nn.Module, x: torch.Tensor, pool: int = 2) -> torch.Tensor:
    """The input of ``model``'s last Conv2d/Linear layer for images ``x`` (pooled to ``pool``² and
    flattened when it is a feature map). The hook is removed before returning (also on error)."""
    layer = _last_layer(model)
    box = {}

    def hook(_module, inputs):
        box["x"] = inputs[0]

    handle = layer.register_forward_pre_hook(hook)
    try:
        model(x)
    finally:
        handle.remove()
    h = box["x"]
    if h.dim() == 4:
        h = F.adaptive_avg_pool2d(h, pool)
    return h.flatten(1)


def classifier_features(classifier: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The classifier's penultimate features (N, F): its ``features(x)`` when it has one, else the
    input of its last layer (for :class:`~xaiprobe.editing.AttributeClassifier`: the pooled
    last-stage features that its ``fc`` reads)."""
    fn = getattr(classifier, "features", None)
    if callable(fn):
        return fn(x).flatten(1)
    return penultimate(classifier, x)


class FeatureSpace(nn.Module):
    """A frozen, differentiable feature map images -> (N, F).

    Parameters
    ----------
    name : str
        ``disc``, ``random``, ``selfsup``, ``oracle`` or ``custom``.
    network : nn.Module
    mode : {"forward", "penultimate", "classifier"}
        Use ``network(x)``, the input of its last layer, or :func:`classifier_features`.
    uses_oracle : bool
        The features come from the classifier the metrics use.
    """

    def __init__(self, name: str, network: nn.Module, mode: str = "forward", uses_oracle: bool = False,
                 description: str = "", pool: int = 2):
        super().__init__()
        self.name, self.mode, self.uses_oracle, self.pool = name, mode, bool(uses_oracle), int(pool)
        self.description = description or name
        self.network = network
        self.register_buffer("shift", None)
        self.register_buffer("scale", None)
        self.train(network.training)   # switching this wrapper's mode and back leaves the network's as it was

    def fit_scale(self, features: torch.Tensor) -> "FeatureSpace":
        """Standardize every feature by its mean and spread over ``features`` (N, F) from now on,
        so that changes are compared with every feature on one scale (not dominated by the few of
        largest variance). Returns self."""
        f = features.detach().float()
        self.shift = f.mean(0)
        self.scale = f.std(0).clamp_min(1e-6 * float(f.std(0).max().clamp_min(1e-12)))
        return self

    def standardized(self, features: torch.Tensor) -> torch.Tensor:
        """``features`` on the fitted scale (unchanged before :meth:`fit_scale`)."""
        if self.shift is None:
            return features
        return (features - self.shift.to(features.device)) / self.scale.to(features.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "penultimate":
            out = penultimate(self.network, x, self.pool)
        elif self.mode == "classifier":
            out = classifier_features(self.network, x)
        else:
            out = self.network(x).flatten(1)
        return self.standardized(out)


def build_feature_space(kind, reference=None, classifier=None, seed: int = 0, selfsup: dict | None = None,
                        device="cpu") -> FeatureSpace:
    """The feature space ``kind`` (one of :data:`FEATURES`, or an nn.Module used as it is).

    ``reference`` (an AuditGenerator) gives the discriminator for ``disc``; ``classifier`` the
    oracle for ``oracle``; ``selfsup`` holds :func:`~xaiprobe.audit.selfsup_encoder` options.
    """
    if isinstance(kind, FeatureSpace):
        return kind
    if isinstance(kind, nn.Module):
        return FeatureSpace("custom", kind, "forward", False, f"custom ({type(kind).__name__})")
    if kind == "disc":
        D = getattr(reference, "discriminator", None)
        if D is None:
            raise XaiprobeError("--features disc: the reference has no discriminator (it is not an xaiprobe "
                                "checkpoint); pass --reference CHECKPOINT or choose --features selfsup or random")
        return FeatureSpace("disc", D, "penultimate", False,
                            "the reference discriminator's penultimate features", pool=1)
    if kind == "random":
        with torch.random.fork_rng():
            torch.manual_seed(int(seed))
            net = SmallCNN()
        return FeatureSpace("random", net.to(device).eval(), "forward", False, "a randomly initialized CNN")
    if kind == "selfsup":

        net = selfsup_encoder(**(selfsup or {}))
        return FeatureSpace("selfsup", net.to(device).eval(), "forward", False,
                            "a CNN trained self-supervised (SimCLR) on unlabeled SynthFaces images")
    if kind == "oracle":
        if classifier is None:
            raise XaiprobeError("--features oracle: no attribute classifier; pass --classifier PATH")
        return FeatureSpace("oracle", classifier, "classifier", True,
                            "the attribute classifier's penultimate features (the oracle: metrics are optimistic)")
    raise XaiprobeError(f"--features {kind!r}: unknown feature space; use one of {', '.join(FEATURES)}")
