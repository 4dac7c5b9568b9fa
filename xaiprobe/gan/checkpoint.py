"""Checkpoints: plain tensors and primitives, always loaded with ``weights_only=True``.

Format::

    {"format": "xaiprobe.checkpoint", "version": 1, "arch": {...}, "generator": state_dict,
     "discriminator": state_dict, "epoch": int, "data": {dataset spec}, "members": int64 indices,
     "optimizers": {...}, "extra": {...}}
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
from .dcgan import DCGANConfig, Discriminator, Generator

FORMAT = "xaiprobe.checkpoint"
VERSION = 1


@dataclass
class Checkpoint:
    """A loaded checkpoint with its models built and weights in place."""

    path: Path | None
    arch: dict
    generator: Generator
    discriminator: Discriminator
    epoch: int
    data: dict
    members: np.ndarray
    raw: dict = field(repr=False, default_factory=dict)

    @property
    def config(self) -> DCGANConfig:
        return DCGANConfig.from_dict(self.arch)

    @property
    def sha256(self) -> str:
        return file_sha256(self.path) if self.path is not None else ""


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_checkpoint(path: str | os.PathLike, *, arch: dict, generator: dict, discriminator: dict,
                    epoch: int, data: dict, members, optimizers: dict | None = None,
                    extra: dict | None = None) -> Path:
    """Write a checkpoint atomically (a half-written file never has the final name)."""
    obj = {
        "format": FORMAT, "version": VERSION, "arch": dict(arch),
        "generator": {k: v.detach().cpu() for k, v in generator.items()},
        "discriminator": {k: v.detach().cpu() for k, v in discriminator.items()},
        "epoch": int(epoch), "data": dict(data),
        "members": torch.as_tensor(np.asarray(members, dtype=np.int64)),
        "optimizers": optimizers or {}, "extra": extra or {},
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


def read_checkpoint_dict(path: str | os.PathLike) -> dict:
    """The raw checkpoint dict, loaded safely; bad files get one clear error."""
    return safe_torch_load(path, "checkpoint", "pass a .pt file written by `xaiprobe train`",
                           "it may be truncated or contain pickled code; re-save it as plain tensors")


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> Checkpoint:
    """Load an xaiprobe checkpoint and build G and D in eval mode on ``device``."""
    obj = read_checkpoint_dict(path)
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise XaiprobeError(f"checkpoint {path}: not an xaiprobe checkpoint (no format={FORMAT!r}); "
                            "for a plain state_dict use --model pkg.module:factory --weights FILE")
    if obj.get("version", 0) > VERSION:
        raise XaiprobeError(f"checkpoint {path}: version {obj.get('version')} is newer than this xaiprobe reads ({VERSION}); upgrade xaiprobe")
    cfg = DCGANConfig.from_dict(obj["arch"])
    G, D = Generator(cfg), Discriminator(cfg)
    load_state_dict_checked(G, obj["generator"], f"checkpoint {path} (generator)")
    load_state_dict_checked(D, obj["discriminator"], f"checkpoint {path} (discriminator)")
    members = obj.get("members")
    members = np.asarray(members.numpy() if torch.is_tensor(members) else (members if members is not None else []), dtype=np.int64)
    return Checkpoint(Path(path), dict(obj["arch"]), G.to(device).eval(), D.to(device).eval(),
                      int(obj.get("epoch", 0)), dict(obj.get("data", {})), members, obj)


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
