"""Load the discriminator to analyse: an xaiprobe checkpoint or any nn.Module.

``--checkpoint C`` gives D, G, the training members and the data spec recorded at training
time. ``--model pkg.module:factory`` (or ``path/to/file.py:factory``) plus ``--weights W`` (a
plain state_dict, loaded with ``weights_only=True``) plugs in a discriminator xaiprobe did not
define; its layers get the aliases conv1..convK by the order of its Conv2d modules.
"""
from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._utils.errors import XaiprobeError
from .._utils.io import safe_torch_load
from ..config import StageConfig, param
from .hooks import resolve_layer

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    """A discriminator ready for extraction, with what is known about where it came from.

    Attributes
    ----------
    discriminator : nn.Module
        In eval mode.
    generator : nn.Module or None
        Present for xaiprobe checkpoints (needed for ``generated=N``).
    members : ndarray of int64 or None
        Dataset ``index`` values of the GAN's training images.
    data_spec : str or None
        The data spec recorded in the checkpoint.
    sha256 : str
        Of the checkpoint or weights file ("" when built in memory).
    arch : dict
        Architecture description (json-serializable).
    logit_layer : str or None
        Layer whose output is the logit (for models ending in a sigmoid).
    image_shape : tuple or None
        (C, H, W) the model expects, when known.
    random_init : bool
        True when the weights are a fresh seeded initialization (the probes' control).
    """

    discriminator: nn.Module
    generator: nn.Module | None = None
    members: np.ndarray | None = None
    data_spec: str | None = None
    sha256: str = ""
    arch: dict = field(default_factory=dict)
    source: str = ""
    logit_layer: str | None = None
    image_shape: tuple | None = None
    random_init: bool = False


def import_factory(spec: str):
    """The callable named by ``pkg.module:factory`` or ``path/to/file.py:factory``."""
    if not isinstance(spec, str) or ":" not in spec:
        raise XaiprobeError(f"--model {spec!r}: expected pkg.module:factory or path/to/file.py:factory")
    modname, _, attr = spec.rpartition(":")
    if not attr or not modname:
        raise XaiprobeError(f"--model {spec!r}: expected pkg.module:factory or path/to/file.py:factory")
    if modname.endswith(".py") or os.sep in modname or "/" in modname:
        path = Path(modname)
        if not path.is_file():
            raise XaiprobeError(f"--model {spec!r}: file {path} does not exist; pass an existing .py file")
        name = f"xaiprobe_plugin_{abs(hash(str(path.resolve())))}"
        mod_spec = importlib.util.spec_from_file_location(name, path)
        if mod_spec is None or mod_spec.loader is None:
            raise XaiprobeError(f"--model {spec!r}: {path} cannot be imported as a Python module")
        module = importlib.util.module_from_spec(mod_spec)
        sys.modules[name] = module
        try:
            mod_spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(name, None)
            raise XaiprobeError(f"--model {spec!r}: importing {path} failed ({type(exc).__name__}: {exc}); fix the file") from None
    else:
        try:
            module = importlib.import_module(modname)
        except ImportError as exc:
            raise XaiprobeError(f"--model {spec!r}: cannot import {modname} ({exc}); check PYTHONPATH or pass a file path") from None
    factory = getattr(module, attr, None)
    if factory is None or not callable(factory):
        names = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))]
        raise XaiprobeError(f"--model {spec!r}: {modname} has no callable {attr!r}; it has {', '.join(names[:20]) or 'none'}")
    return factory


def _build(factory, spec: str, seed: int | None) -> nn.Module:
    with torch.random.fork_rng(enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        try:
            model = factory()
        except Exception as exc:
            raise XaiprobeError(f"--model {spec!r}: calling the factory failed ({type(exc).__name__}: {exc}); "
                                "it must take no arguments and return an nn.Module") from None
    if not isinstance(model, nn.Module):
        raise XaiprobeError(f"--model {spec!r}: the factory returned {type(model).__name__}, not an nn.Module")
    return model


def load_weights(path: str | os.PathLike) -> dict:
    """A plain state_dict from ``path`` (``weights_only=True``); accepts a dict holding one
    under "state_dict" or "discriminator", and strips a DataParallel "module." prefix."""
    path = Path(path)
    obj = safe_torch_load(path, "--weights", "pass a state_dict saved with torch.save",
                          "save a plain state_dict (tensors only) with torch.save(model.state_dict(), path)")
    if isinstance(obj, dict):
        for key in ("discriminator", "state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(torch.is_tensor(v) for v in obj.values()):
        raise XaiprobeError(f"--weights {path}: not a state_dict (a dict of tensors); save model.state_dict()")
    if obj and all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def _expected_image_shape(model: nn.Module) -> tuple | None:
    for attr in ("image_shape", "input_shape"):
        shape = getattr(model, attr, None)
        if isinstance(shape, (tuple, list)) and len(shape) == 3:
            return tuple(int(s) for s in shape)
    cfg = getattr(model, "config", None)
    if cfg is not None and hasattr(cfg, "image_size") and hasattr(cfg, "nc"):
        return (int(cfg.nc), int(cfg.image_size), int(cfg.image_size))
    return None


def load_discriminator(checkpoint: str | os.PathLike | None = None, model: str | None = None,
                       weights: str | os.PathLike | None = None, logit_layer: str | None = None,
                       random_init: bool = False, seed: int = 0, device: str | torch.device = "cpu") -> LoadedModel:
    """Load a discriminator from an xaiprobe checkpoint or a ``--model`` factory (+ weights).

    Parameters
    ----------
    checkpoint : path, optional
        xaiprobe checkpoint; gives D, G, members and the data spec.
    model : str, optional
        ``pkg.module:factory`` or ``path/to/file.py:factory`` returning an nn.Module.
    weights : path, optional
        Plain state_dict for ``model``; a mismatch names the keys or shapes that differ.
    logit_layer : str, optional
        Layer whose output is the logit, for models ending in a sigmoid.
    random_init : bool
        Use a freshly initialized D of the same architecture (seeded by ``seed``).
    """
    from ..gan.checkpoint import file_sha256, load_checkpoint, load_state_dict_checked

    if (checkpoint is None) == (model is None):
        raise XaiprobeError("model: pass exactly one of --checkpoint C or --model pkg.module:factory (with --weights W)")
    if checkpoint is not None:
        if weights is not None:
            raise XaiprobeError("--weights: only used with --model; a checkpoint already holds its weights")
        ck = load_checkpoint(checkpoint, device="cpu")
        D = ck.discriminator
        if random_init:
            from ..gan.arch import build_models
            D = build_models(ck.arch, seed=seed)["discriminator"]
        cfg = ck.config
        loaded = LoadedModel(D, ck.generator, ck.members, (ck.data or {}).get("spec"), ck.sha256, dict(ck.arch),
                             str(checkpoint), logit_layer, (cfg.nc, cfg.image_size, cfg.image_size), random_init)
    else:
        factory = import_factory(model)
        D = _build(factory, model, seed if (random_init or weights is None) else None)
        sha = ""
        if weights is not None:
            sha = file_sha256(weights)
            if not random_init:
                load_state_dict_checked(D, load_weights(weights), f"--weights {weights}")
        elif not random_init:
            log.warning("--model %s without --weights: using the factory's own initialization", model)
        arch = {"name": "plugin", "model": str(model), "class": type(D).__name__,
                "weights": str(weights) if weights is not None else None}
        loaded = LoadedModel(D, None, None, None, sha, arch, str(model), logit_layer, _expected_image_shape(D), random_init)
    loaded.discriminator = loaded.discriminator.to(device).eval()
    if loaded.generator is not None:
        loaded.generator = loaded.generator.to(device).eval()
    if logit_layer is not None:
        resolve_layer(loaded.discriminator, logit_layer)
    else:
        leaves = [m for m in loaded.discriminator.modules() if not list(m.children())]
        if leaves and isinstance(leaves[-1], nn.Sigmoid):
            log.warning("the discriminator ends in a Sigmoid: its output is a probability, not a logit; "
                        "pass --logit-layer with the layer before it")
    return loaded


def as_loaded(model_or_checkpoint, logit_layer: str | None = None, members=None, device="cpu") -> LoadedModel:
    """Normalize what ``extract_activations`` accepts: a LoadedModel, a checkpoint path, an
    xaiprobe ``Checkpoint`` object, or an nn.Module."""
    from ..gan.checkpoint import Checkpoint

    if isinstance(model_or_checkpoint, LoadedModel):
        lm = dataclasses.replace(model_or_checkpoint)  # a copy: overrides below leave the caller's alone
    elif isinstance(model_or_checkpoint, (str, os.PathLike)):
        lm = load_discriminator(checkpoint=model_or_checkpoint, logit_layer=logit_layer, device=device)
    elif isinstance(model_or_checkpoint, Checkpoint):
        ck = model_or_checkpoint
        cfg = ck.config
        lm = LoadedModel(ck.discriminator, ck.generator, ck.members, (ck.data or {}).get("spec"), ck.sha256,
                         dict(ck.arch), str(ck.path), logit_layer, (cfg.nc, cfg.image_size, cfg.image_size))
    elif isinstance(model_or_checkpoint, nn.Module):
        D = model_or_checkpoint
        cfg = getattr(D, "config", None)
        arch = cfg.to_dict() if hasattr(cfg, "to_dict") else {"name": "module", "class": type(D).__name__}
        lm = LoadedModel(D, None, None, None, "", arch, type(D).__name__, logit_layer, _expected_image_shape(D))
    else:
        raise XaiprobeError(f"model: expected an nn.Module, a checkpoint path or a loaded checkpoint, "
                            f"got {type(model_or_checkpoint).__name__}")
    if logit_layer is not None:
        lm.logit_layer = logit_layer
    if members is not None:
        lm.members = np.asarray(members, dtype=np.int64)
    return lm


def build_module(spec: str, seed: int | None = None) -> nn.Module:
    """The nn.Module returned by the factory named by ``spec`` (``pkg.module:factory`` or
    ``path/to/file.py:factory``), built under ``torch.manual_seed(seed)`` when a seed is given."""
    return _build(import_factory(spec), spec, seed)


@dataclass
class ModelOptions(StageConfig):
    """The discriminator a stage analyses, as stage parameters (``--checkpoint`` or ``--model``
    with ``--weights``); a stage's ``Config`` inherits them."""

    checkpoint: str | None = param(None, "xaiprobe checkpoint (.pt): D, G, members and data spec", path=True)
    model: str | None = param(None, "any discriminator: pkg.module:factory or path/to/file.py:factory (a "
                                    "no-argument callable returning an nn.Module)")
    weights: str | None = param(None, "plain state_dict for --model (loaded with weights_only=True)", path=True)
    logit_layer: str | None = param(None, "layer whose output is the logit, for models that end in a sigmoid")

    def check(self) -> None:
        if (self.checkpoint is None) == (self.model is None):
            raise XaiprobeError("model: pass exactly one of --checkpoint C (xaiprobe checkpoint) or --model "
                                "pkg.module:factory (with --weights W)")
        if self.weights is not None and self.model is None:
            raise XaiprobeError("--weights: only used with --model; a checkpoint already holds its weights")

    def load_model(self, device="cpu", random_init: bool = False, seed: int = 0) -> LoadedModel:
        """The discriminator these options name (see :func:`load_discriminator`)."""
        return load_discriminator(checkpoint=self.checkpoint, model=self.model, weights=self.weights,
                                  logit_layer=self.logit_layer, random_init=random_init, seed=seed, device=device)
