"""Checkpoints: plain tensors and primitives, always loaded with ``weights_only=True``.

Format::

    {"format": "xaiprobe.checkpoint", "version": 1, "arch": {...}, "generator": state_dict,
     "discriminator": state_dict, "epoch": int, "data": {dataset spec}, "members": int64 indices,
     "optimizers": {...}, "extra": {...}}

``arch["name"]`` is the kind (``dcgan``, ``aeacgan``); an AE-ACGAN checkpoint also holds
``"encoder": state_dict``.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .._utils.errors import XaiprobeError
from .._utils.io import atomic_path, safe_torch_load
from .arch import arch_kind, build_models, config_from_dict, with_article

FORMAT = "xaiprobe.checkpoint"
VERSION = 1


@dataclass
class Checkpoint:
    """A loaded checkpoint with its models built and weights in place.

    ``encoder`` is the AE-ACGAN's encoder (None for a DCGAN); ``kind`` is ``dcgan`` or ``aeacgan``.
    """

    path: Path | None
    arch: dict
    generator: torch.nn.Module
    discriminator: torch.nn.Module
    epoch: int
    data: dict
    members: np.ndarray
    raw: dict = field(repr=False, default_factory=dict)
    encoder: torch.nn.Module | None = None

    @property
    def config(self):
        """DCGANConfig or AEACGANConfig."""
        return config_from_dict(self.arch)

    @property
    def kind(self) -> str:
        return arch_kind(self.arch)

    @property
    def sha256(self) -> str:
        return file_sha256(self.path) if self.path is not None else ""


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_checkpoint(path: str | os.PathLike, *, arch: dict, generator: dict | None, discriminator: dict | None,
                    epoch: int, data: dict, members, optimizers: dict | None = None,
                    extra: dict | None = None, encoder: dict | None = None) -> Path:
    """Write a checkpoint atomically (a half-written file never has the final name).

    Each network's state_dict is stored when given (``None`` leaves it out: a partial export, see
    ``export_checkpoint(parts=...)``); ``encoder`` is the AE-ACGAN's."""
    obj = {
        "format": FORMAT, "version": VERSION, "arch": dict(arch),
        "epoch": int(epoch), "data": dict(data),
        "members": torch.as_tensor(np.asarray(members, dtype=np.int64)),
        "optimizers": optimizers or {}, "extra": extra or {},
    }
    for role, state in (("generator", generator), ("discriminator", discriminator), ("encoder", encoder)):
        if state is not None:
            obj[role] = {k: v.detach().cpu() for k, v in state.items()}
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


def read_checkpoint_dict(path: str | os.PathLike) -> dict:
    """The raw checkpoint dict, loaded safely; bad files get one clear error."""
    return safe_torch_load(path, "checkpoint", "pass a .pt file written by `xaiprobe train`",
                           "it may be truncated or contain pickled code; re-save it as plain tensors")


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> Checkpoint:
    """Load an xaiprobe checkpoint and build its networks (G, D and, for an AE-ACGAN, the
    encoder) in eval mode on ``device``."""
    obj = read_checkpoint_dict(path)
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise XaiprobeError(f"checkpoint {path}: not an xaiprobe checkpoint (no format={FORMAT!r}); "
                            "for a plain state_dict use --model pkg.module:factory --weights FILE")
    if obj.get("version", 0) > VERSION:
        raise XaiprobeError(f"checkpoint {path}: version {obj.get('version')} is newer than this xaiprobe reads ({VERSION}); upgrade xaiprobe")
    models = build_models(obj["arch"], initialize=False)
    parts = ((obj.get("extra") or {}).get("exported") or {}).get("parts")
    if parts is not None:  # a partial export: the networks it does not hold stand in as one-line errors
        models = {r: m if r in parts else _Absent(f"checkpoint {path}: this export holds only its "
                                                  f"{' and '.join(parts)}; use the training checkpoint it was "
                                                  f"exported from for the {r}")
                  for r, m in models.items()}
    load_weights({r: m for r, m in models.items() if not isinstance(m, _Absent)}, obj, f"checkpoint {path}")
    for module in models.values():
        module.to(device).eval()
    members = obj.get("members")
    members = np.asarray(members.numpy() if torch.is_tensor(members) else (members if members is not None else []), dtype=np.int64)
    return Checkpoint(Path(path), dict(obj["arch"]), models["generator"], models["discriminator"],
                      int(obj.get("epoch", 0)), dict(obj.get("data", {})), members, obj, models.get("encoder"))


class _Absent(torch.nn.Module):
    """Stands in for a network a generator-only export does not hold: using it is a one-line error."""

    def __init__(self, message: str):
        super().__init__()
        self.message = message

    def forward(self, *args, **kwargs):
        raise XaiprobeError(self.message)


def load_weights(models: dict, raw: dict, what: str) -> None:
    """Load a raw checkpoint's weights into ``models`` ({role: module}, roles as stored)."""
    for role, module in models.items():
        if role not in raw:
            raise XaiprobeError(f"{what}: {with_article(arch_kind(raw.get('arch') or {}))} checkpoint without its "
                                f"{role} weights; it is damaged, use another checkpoint of the run")
        load_state_dict_checked(module, raw[role], f"{what} ({role})")


def load_state_dict_checked(module: torch.nn.Module, state: dict, what: str) -> None:
    """``module.load_state_dict(state)`` with one line saying which keys or shapes differ."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own
              if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected keys {', '.join(unexpected[:5])}{' …' if len(unexpected) > 5 else ''}")
        if shapes:
            parts.append(f"shape mismatch {'; '.join(shapes[:3])}{' …' if len(shapes) > 3 else ''}")
        raise XaiprobeError(f"{what}: weights do not fit the model ({'; '.join(parts)}); "
                            "check the architecture (widths, latent size) matches the weights")
    module.load_state_dict(state)
