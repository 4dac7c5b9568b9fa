"""The seed DCGAN: a 64x64 generator and a strided-conv discriminator ending in one logit.

With the default widths (nz=128, ngf=ndf=64) G has 3,806,080 parameters (plus batch-norm
buffers) and D 2,765,568 — the ~3.8M / ~2.8M of the seed.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .._utils.errors import XaiprobeError


@dataclass(frozen=True)
class DCGANConfig:
    """Architecture of a DCGAN pair.

    Parameters
    ----------
    nz : int
        Latent size.
    ngf, ndf : int
        Base widths of the generator and discriminator.
    nc : int
        Image channels.
    image_size : int
        Side of the square images (64).
    """

    nz: int = 128
    ngf: int = 64
    ndf: int = 64
    nc: int = 3
    image_size: int = 64
    name: str = "dcgan"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DCGANConfig":
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        if known.get("name", "dcgan") != "dcgan":
            raise XaiprobeError(f"architecture {known.get('name')!r}: not a DCGAN config")
        cfg = cls(**known)
        if cfg.image_size != 64:
            raise XaiprobeError(f"architecture: image_size {cfg.image_size} unsupported; the DCGAN is built for 64x64")
        return cfg


class Generator(nn.Module):
    """z (N, nz) or (N, nz, 1, 1) -> images (N, nc, 64, 64) in [-1, 1]."""

    def __init__(self, config: DCGANConfig = DCGANConfig()):
        super().__init__()
        self.config = config
        nz, ngf, nc = config.nz, config.ngf, config.nc
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    #: block outputs of the generator, for layer-by-layer feature views
    aliases = {"block1": "main.2", "block2": "main.5", "block3": "main.8", "block4": "main.11", "image": "main.13"}

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() == 2:
            z = z[:, :, None, None]
        return self.main(z)


class Discriminator(nn.Module):
    """images (N, nc, 64, 64) -> logits (N,) (real = high)."""

    #: alias -> module path; convK is the output of block K (after its activation),
    #: conv5 is the final 4x4 convolution, whose output is the logit.
    aliases = {"conv1": "main.1", "conv2": "main.4", "conv3": "main.7", "conv4": "main.10", "conv5": "main.11"}

    def __init__(self, config: DCGANConfig = DCGANConfig()):
        super().__init__()
        self.config = config
        ndf, nc = config.ndf, config.nc
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).flatten(1).squeeze(1)


def weights_init(m: nn.Module) -> None:
    """DCGAN initialization: conv weights N(0, 0.02), batch-norm weights N(1, 0.02), bias 0."""
    name = m.__class__.__name__
    if "Conv" in name:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif "BatchNorm" in name:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def build_dcgan(config: DCGANConfig | dict | None = None, seed: int | None = None) -> tuple[Generator, Discriminator]:
    """A freshly initialized (G, D) pair; ``seed`` makes the initialization deterministic."""
    if config is None:
        config = DCGANConfig()
    elif isinstance(config, dict):
        config = DCGANConfig.from_dict(config)
    with torch.random.fork_rng(enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        G, D = Generator(config), Discriminator(config)
        G.apply(weights_init)
        D.apply(weights_init)
    return G, D


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
