"""Shipping a checkpoint: drop the optimizer state, store the weights as float16."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from .checkpoint import FORMAT, read_checkpoint_dict, save_checkpoint
from .._utils.errors import XaiprobeError


def export_checkpoint(src: str | os.PathLike, dst: str | os.PathLike, half: bool = True,
                      parts: tuple[str, ...] | None = None) -> Path:
    """Rewrite checkpoint ``src`` as ``dst`` for distribution.

    The optimizer state is dropped and, with ``half``, floating-point weights and buffers are
    stored as float16 (about a quarter of a training checkpoint's size). ``load_checkpoint``
    loads the result into float32 models. Architecture, epoch, data spec, members and the
    training history are kept. ``parts`` keeps only those networks (e.g. ``("generator",)`` for an
    audit client that is only sampled from, ``("discriminator",)`` for a membership control that
    is only attacked); using a network the file does not hold is then a one-line error.

    Returns the path written.
    """
    raw = read_checkpoint_dict(src)
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise XaiprobeError(f"checkpoint {src}: not an xaiprobe checkpoint; export only files written by `xaiprobe train`")

    def cast(state: dict) -> dict:
        return {k: (v.half() if half and torch.is_tensor(v) and v.is_floating_point() else v) for k, v in state.items()}

    extra = dict(raw.get("extra") or {})
    roles = [r for r in ("generator", "discriminator", "encoder") if r in raw]
    keep = roles if parts is None else [r for r in roles if r in parts]
    unknown = sorted(set(parts or ()) - set(roles))
    if unknown or not keep:
        raise XaiprobeError(f"export parts {', '.join(parts or ())}: the checkpoint holds {', '.join(roles)}; "
                            "keep at least one of those")
    extra["exported"] = {"half": bool(half), "optimizer_state": False, "parts": keep}
    return save_checkpoint(dst, arch=raw["arch"], epoch=int(raw.get("epoch", 0)), data=raw.get("data", {}),
                           members=raw.get("members", []), optimizers={}, extra=extra,
                           **{r: cast(raw[r]) if r in keep else None for r in ("generator", "discriminator", "encoder")})
