"""Model and image coercion, one home: never moves, mutates or copies a caller's module silently.

* :func:`as_images` turns arrays/tensors into float (N, 3, H, W) tensors with a one-line error.
* :func:`module_device` tells where a module's parameters live.
* :func:`evaluating` is a context manager that puts a module in eval mode on a device for the
  duration of a computation and restores its previous mode and device afterwards (the caller's
  module is the same object before and after; nothing is copied).
* :func:`private_copy` is the one place a module is copied (e.g. to randomize its weights for a
  sanity check); callers say so in their docstrings.
"""
from __future__ import annotations

import contextlib
import copy

from .errors import XaiprobeError

__all__ = ["as_images", "module_device", "evaluating", "private_copy", "resolve_device"]


def resolve_device(device=None):
    """``torch.device``: the given one, else CUDA when present, else CPU."""
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError):
        raise XaiprobeError(f"device {device!r}: not a torch device; use cpu, cuda or cuda:N") from None


def as_images(x, what: str = "images", size: int | None = None, channels: int | None = 3):
    """A float32 tensor (N, C, H, W) from a tensor, array or list; one-line error otherwise."""
    import numpy as np
    import torch

    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    elif not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(np.asarray(x))
        except (TypeError, ValueError):
            raise XaiprobeError(f"{what}: not an image array ({type(x).__name__}); pass a tensor (N, 3, H, W)") from None
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise XaiprobeError(f"{what}: shape {tuple(x.shape)} is not (N, C, H, W); pass a batch of images")
    if channels is not None and x.shape[1] != channels:
        raise XaiprobeError(f"{what}: {x.shape[1]} channels, expected {channels}; pass RGB images (N, 3, H, W)")
    if size is not None and tuple(x.shape[-2:]) != (size, size):
        raise XaiprobeError(f"{what}: {x.shape[-2]}x{x.shape[-1]} pixels, expected {size}x{size}; resize them first")
    if not x.is_floating_point():
        x = x.float()
    return x.float() if x.dtype != torch.float32 else x


def module_device(module):
    """The device of a module's first parameter or buffer (CPU for a module without any)."""
    import torch

    for t in (*module.parameters(), *module.buffers()):
        return t.device
    return torch.device("cpu")


@contextlib.contextmanager
def evaluating(module, device=None):
    """Use ``module`` in eval mode on ``device`` inside the block; restore mode and device after.

    The module object itself is used (no copy); its parameters are moved to ``device`` for the
    block when they live elsewhere and moved back at the end, also on an exception.
    """
    dev = resolve_device(device) if device is not None else module_device(module)
    was_training = module.training
    old = module_device(module)
    moved = old != dev
    if moved:
        module.to(dev)
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)
        if moved:
            module.to(old)


def private_copy(module):
    """A deep copy of ``module`` (the only place xaiprobe copies a caller's module)."""
    return copy.deepcopy(module)
