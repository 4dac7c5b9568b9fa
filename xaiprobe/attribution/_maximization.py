"""Activation maximization: the image a channel of the discriminator likes most.

Each channel gets its own image, optimized with Adam in pixel space from small noise to
maximize the channel's mean activation, under the usual regularizers (Olah et al. 2017):
random jitter (translations) each step, a total-variation penalty, and a Gaussian blur of
the image every few steps. Pixels are clamped to [-1, 1] after every step.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from .._utils.errors import XaiprobeError
from ..activations.hooks import resolve_layer
from ._filters import layer_output_shape, parse_channels
from .._utils.coerce import evaluating, module_device
from ._targets import LayerOutput

log = logging.getLogger(__name__)


@dataclass
class MaximizationResult:
    """Images and objective traces of activation maximization.

    Attributes
    ----------
    layer : str
    channels : list of int
    images : Tensor, shape (n_channels, C, H, W)
        In [-1, 1].
    trace : ndarray, shape (steps, n_channels)
        Objective (mean activation of the channel, on the jittered image) at each step.
    final : ndarray, shape (n_channels,)
        Objective of the final, un-jittered image.
    """

    layer: str
    channels: list
    images: torch.Tensor
    trace: np.ndarray
    final: np.ndarray


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of neighbouring pixels, per image: (n, C, H, W) -> (n,)."""
    dy = (x[:, :, 1:] - x[:, :, :-1]).abs().flatten(1).mean(1)
    dx = (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().flatten(1).mean(1)
    return dx + dy


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (n, C, H, W) with reflect padding."""
    if sigma <= 0:
        return x
    r = max(1, int(np.ceil(2 * sigma)))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-t ** 2 / (2 * sigma ** 2))
    k = k / k.sum()
    c = x.shape[1]
    x = F.pad(x, (r, r, r, r), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def _objective(act: torch.Tensor, chans: list[int]) -> torch.Tensor:
    idx = torch.as_tensor(chans, device=act.device)
    sel = act[torch.arange(act.shape[0], device=act.device), idx]
    return sel.flatten(1).mean(1)


def maximize_activation(model, layer, channels=None, steps: int = 200, lr: float = 0.05, jitter: int = 4,
                        tv_weight: float = 0.05, blur_every: int = 8, blur_sigma: float = 0.5,
                        image_shape=None, seed: int = 0, device=None, batch_size: int = 32,
                        progress: bool = False) -> MaximizationResult:
    """Optimize one image per channel to maximize the channel's mean activation.

    Parameters
    ----------
    model : nn.Module
        The discriminator (used in eval mode, restored afterwards; its parameters get no gradients).
    layer : str
        Alias or module path.
    channels : see :func:`xaiprobe.attribution.filters.parse_channels`
    steps : int
    lr : float
        Adam step size (pixels in [-1, 1]).
    jitter : int
        Maximum random shift in pixels per step (0 = off).
    tv_weight : float
        Weight of the total-variation penalty (per image, mean |neighbour difference|).
    blur_every, blur_sigma :
        Blur the images every ``blur_every`` steps (0 = never) with this sigma.
    image_shape : tuple, optional
        (C, H, W); default (nc, image_size, image_size) from the model's config, else (3, 64, 64).
    seed : int

    Returns
    -------
    MaximizationResult
    """
    from tqdm.auto import tqdm

    if steps < 1:
        raise XaiprobeError(f"steps {steps}: must be at least 1")
    with evaluating(model, device) as base:
        cfg = getattr(base, "config", None)
        if image_shape is None:
            image_shape = (cfg.nc, cfg.image_size, cfg.image_size) if cfg is not None and hasattr(cfg, "nc") else (3, 64, 64)
        body = LayerOutput(base, layer)
        shape = layer_output_shape(base, layer, image_shape)
        if len(shape) < 2:
            raise XaiprobeError(f"layer {layer}: output shape {shape} has no channels to maximize; pick a conv layer")
        chans = parse_channels(channels, shape[0])
        dev = module_device(base)
        gen = torch.Generator().manual_seed(seed)
        images, traces, finals = [], [], []
        for start in range(0, len(chans), batch_size):
            part = chans[start:start + batch_size]
            x = ((torch.rand((len(part), *image_shape), generator=gen) * 2 - 1) * 0.1).to(dev).requires_grad_(True)
            opt = torch.optim.Adam([x], lr=lr)
            trace = np.zeros((steps, len(part)), dtype=np.float32)
            for step in tqdm(range(steps), desc=f"maximize {layer}", disable=not progress):
                if jitter > 0:
                    dy, dx = (int(v) for v in torch.randint(-jitter, jitter + 1, (2,), generator=gen))
                    xin = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
                else:
                    xin = x
                obj = _objective(body(xin), part)
                loss = -obj.sum() + tv_weight * total_variation(x).sum()
                # gradients of the image only: the model's parameters get no .grad
                (x.grad,) = torch.autograd.grad(loss, [x])
                opt.step()
                with torch.no_grad():
                    if blur_every and (step + 1) % blur_every == 0:
                        x.copy_(gaussian_blur(x, blur_sigma))
                    x.clamp_(-1, 1)
                trace[step] = obj.detach().cpu().numpy()
            with torch.no_grad():
                finals.append(_objective(body(x), part).cpu().numpy())
            images.append(x.detach().cpu())
            traces.append(trace)
        name = resolve_layer(base, layer)[0]
        return MaximizationResult(name, chans, torch.cat(images), np.concatenate(traces, axis=1), np.concatenate(finals))
