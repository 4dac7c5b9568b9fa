"""Sampling a generator: seeded latents, images in [-1, 1], sample grids as PNG."""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from .._utils.device import resolve_device
from .._utils.errors import XaiprobeError
from .._utils.io import atomic_path


def _unwrap(model: nn.Module) -> nn.Module:
    """The plain module inside a DistributedDataParallel / DataParallel wrapper."""
    return getattr(model, "module", model)


def latent_size(G: nn.Module) -> int:
    """The generator's latent size ``nz`` (from its config, else its first layer)."""
    G = _unwrap(G)
    cfg = getattr(G, "config", None)
    if cfg is not None and hasattr(cfg, "nz"):
        return int(cfg.nz)
    for m in G.modules():
        if isinstance(m, (nn.ConvTranspose2d, nn.Linear)):
            return int(m.in_channels if isinstance(m, nn.ConvTranspose2d) else m.in_features)
    raise XaiprobeError("generator: cannot tell its latent size; give it a .config with nz")


def sample_latents(n: int, nz: int, seed: int = 0) -> torch.Tensor:
    """Standard normal latents (n, nz), float32 on CPU, a function of ``seed`` only."""
    if int(n) < 0:
        raise XaiprobeError(f"sample count {n}: must be >= 0")
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randn(int(n), int(nz), generator=gen)


@torch.no_grad()
def sample_images(G: nn.Module, n: int, seed: int = 0, device=None, batch_size: int = 256,
                  z: torch.Tensor | None = None, labels=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``n`` images from generator ``G``.

    G runs in eval mode (batch-norm running statistics) and is put back in its previous
    mode afterwards; its weights and buffers are not changed.

    Parameters
    ----------
    G : nn.Module
        Maps z (n, nz) to images (n, 3, 64, 64) in [-1, 1].
    n : int
        Number of images.
    seed : int
        Seed of the latents; the same seed gives the same z on every machine.
    device : str or torch.device, optional
        Where G runs; default: the device of G's parameters.
    batch_size : int
        Images per forward pass.
    z : Tensor (n, nz), optional
        Latents to use instead of seeded ones.
    labels : array-like (n, A) or (A,), optional
        Label rows for a conditional generator (the AE-ACGAN's); one row (A,) is used for
        every image. Default: the generator's own ``default_labels``. An unconditional
        generator refuses labels.

    Returns
    -------
    z : Tensor (n, nz), float32, CPU
    images : Tensor (n, 3, 64, 64), float32 in [-1, 1], CPU
    """
    base = _unwrap(G)
    if z is None:
        z = sample_latents(n, latent_size(base), seed)
    z = torch.as_tensor(z, dtype=torch.float32).cpu()
    if batch_size < 1:
        raise XaiprobeError(f"batch size {batch_size}: must be >= 1")
    if device is None:
        p = next(base.parameters(), None)
        dev = p.device if p is not None else torch.device("cpu")
    else:
        dev = resolve_device(device)
    labels = _label_rows(base, labels, z.shape[0])
    was_training = base.training
    base.eval()
    try:
        if labels is None:
            outs = [base(z[i:i + batch_size].to(dev)).float().cpu() for i in range(0, z.shape[0], batch_size)]
        else:
            outs = [base(z[i:i + batch_size].to(dev), labels[i:i + batch_size].to(dev)).float().cpu()
                    for i in range(0, z.shape[0], batch_size)]
    finally:
        base.train(was_training)
    images = torch.cat(outs) if outs else torch.empty((0, 3, 64, 64))
    return z, images


def _label_rows(G: nn.Module, labels, n: int) -> torch.Tensor | None:
    """Labels (n, A) float32 for a conditional generator, or None."""
    if labels is None:
        return None
    if not getattr(G, "conditional", False):
        raise XaiprobeError(f"labels: {type(G).__name__} is an unconditional generator; sample it without labels")
    labels = torch.as_tensor(labels, dtype=torch.float32).cpu()
    a = int(G.config.n_attributes)
    if labels.dim() == 1:
        labels = labels.reshape(1, -1).expand(n, -1)
    if labels.shape != (n, a):
        raise XaiprobeError(f"labels: shape {tuple(labels.shape)}; pass ({n}, {a}) label rows or one row of {a}")
    return labels


def save_image_grid(images: torch.Tensor, path: str | os.PathLike, nrow: int = 8) -> Path:
    """Write images (n, 3, H, W) in [-1, 1] as one PNG grid, atomically."""
    from torchvision.utils import make_grid, save_image

    grid = make_grid(images.detach().float().cpu(), nrow=nrow, padding=2, normalize=True, value_range=(-1, 1))
    path = Path(path)
    with atomic_path(path) as tmp:
        save_image(grid, tmp, format="PNG")
    return path


def save_sample_grid(G: nn.Module, path: str | os.PathLike, n: int = 64, seed: int = 0, nrow: int = 8,
                     device=None, z: torch.Tensor | None = None, labels=None) -> Path:
    """Sample ``n`` images from ``G`` with latents from ``seed`` (or ``z``) and save a PNG grid.

    ``labels`` (conditional generators only): see :func:`sample_images`. Returns the path written.
    """
    _, images = sample_images(G, n, seed=seed, device=device, z=z, labels=labels)
    return save_image_grid(images, path, nrow=nrow)
