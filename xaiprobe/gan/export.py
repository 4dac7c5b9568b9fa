"""Shipping a checkpoint: drop the optimizer state, store the weights as float16."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from .checkpoint import FORMAT, read_checkpoint_dict, save_checkpoint
from .._utils.errors import XaiprobeError


def export_checkpoint(src: str | os.PathLike, dst: str | os.PathLike, half: bool = True) -> Path:
    """Rewrite checkpoint ``src`` as ``dst`` for distribution.

    The optimizer state is dropped and, with ``half``, floating-point weights and buffers are
    stored as float16 (about a quarter of a training checkpoint's size). ``load_checkpoint``
    loads the result into float32 models. Architecture, epoch, data spec, members and the
    training history are kept.

    Returns the path written.
    """
    raw = read_checkpoint_dict(src)
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise XaiprobeError(f"checkpoint {src}: not an xaiprobe checkpoint; export only files written by `xaiprobe train`")

    def cast(state: dict) -> dict:
        return {k: (v.half() if half and torch.is_tensor(v) and v.is_floating_point() else v) for k, v in state.items()}

    extra = dict(raw.get("extra") or {})
    extra["exported"] = {"half": bool(half), "optimizer_state": False}
    return save_checkpoint(dst, arch=raw["arch"], generator=cast(raw["generator"]),
                           discriminator=cast(raw["discriminator"]), epoch=int(raw.get("epoch", 0)),
                           data=raw.get("data", {}), members=raw.get("members", []), optimizers={}, extra=extra,
                           encoder=cast(raw["encoder"]) if "encoder" in raw else None)
