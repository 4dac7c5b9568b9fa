"""The DCGAN's training step (the pytorch/examples ``dcgan`` recipe) and its part of ``train_gan``."""
from __future__ import annotations

import contextlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .._utils.errors import XaiprobeError
from .dcgan import DCGANConfig, build_dcgan
from .sampling import sample_latents, save_sample_grid

#: running means kept per epoch (history) and shown in the progress bar
STAT_NAMES = ("loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2")


def train_step(G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
               real: torch.Tensor, noise: torch.Tensor, *, autocast_bf16: bool = False,
               d_plain: nn.Module | None = None, d_no_sync=None) -> torch.Tensor:
    """One DCGAN update of D then G, as in pytorch/examples.

    D's parameters are frozen while G's loss is backpropagated through D, so their unused
    gradients are not computed (the reference computes and then discards them).

    Parameters
    ----------
    G, D : nn.Module
        Generator and discriminator (D returns logits (n,)), in train mode.
    opt_g, opt_d : torch.optim.Optimizer
    real : Tensor (n, 3, 64, 64)
        Real images in [-1, 1] on the models' device.
    noise : Tensor (n, nz, 1, 1) or (n, nz)
    autocast_bf16 : bool
        Run the forward passes under ``torch.autocast(..., dtype=torch.bfloat16)``.
    d_plain, d_no_sync : optional
        Distributed training only: the unwrapped D used for G's loss, and D's ``no_sync``.

    Returns
    -------
    Tensor (5,), detached: loss_d, loss_g, D(x), D(G(z)) before and after D's update
    (the last three as mean sigmoid probabilities).
    """
    amp = (lambda: torch.autocast(real.device.type, dtype=torch.bfloat16)) if autocast_bf16 else contextlib.nullcontext
    d_plain = D if d_plain is None else d_plain
    n = real.shape[0]
    ones = torch.ones(n, device=real.device)
    zeros = torch.zeros(n, device=real.device)

    # (1) D: maximize log D(x) + log(1 - D(G(z)))
    opt_d.zero_grad(set_to_none=True)
    with d_no_sync() if d_no_sync is not None else contextlib.nullcontext():
        with amp():
            out_real = D(real).float()
            loss_real = F.binary_cross_entropy_with_logits(out_real, ones)
        loss_real.backward()
    with amp():
        fake = G(noise)
        out_fake = D(fake.detach()).float()
        loss_fake = F.binary_cross_entropy_with_logits(out_fake, zeros)
    loss_fake.backward()
    opt_d.step()

    # (2) G: maximize log D(G(z)) (non-saturating)
    opt_g.zero_grad(set_to_none=True)
    params_d = [p for p in d_plain.parameters() if p.requires_grad]
    for p in params_d:
        p.requires_grad_(False)
    try:
        with amp():
            out_g = d_plain(fake).float()
            loss_g = F.binary_cross_entropy_with_logits(out_g, ones)
        loss_g.backward()
    finally:
        for p in params_d:
            p.requires_grad_(True)
    opt_g.step()
    with torch.no_grad():
        return torch.stack([loss_real + loss_fake, loss_g, torch.sigmoid(out_real).mean(),
                            torch.sigmoid(out_fake).mean(), torch.sigmoid(out_g).mean()]).detach()


def make_optimizers(G: nn.Module, D: nn.Module, lr: float = 2e-4, betas=(0.5, 0.999)):
    """The seed's Adam optimizers ``(opt_g, opt_d)``."""
    return (torch.optim.Adam(G.parameters(), lr=lr, betas=tuple(betas)),
            torch.optim.Adam(D.parameters(), lr=lr, betas=tuple(betas)))


class DCGANTrainer:
    """The DCGAN's part of ``train_gan``: networks, optimizers, step, epoch stats and samples."""

    kind = "dcgan"

    def __init__(self, config: DCGANConfig, seed: int, lr: float, betas, sample_count: int, sample_seed: int):
        if min(config.nz, config.ngf, config.ndf) < 1:
            raise XaiprobeError(f"architecture nz={config.nz} ngf={config.ngf} ndf={config.ndf}: sizes must be >= 1")
        self.config = config
        self.G, self.D = build_dcgan(config, seed=seed)
        self.modules = {"generator": self.G, "discriminator": self.D}
        opt_g, opt_d = make_optimizers(self.G, self.D, lr, betas)
        self.optimizers = {"generator": opt_g, "discriminator": opt_d}
        self.lrs = {"generator": float(lr), "discriminator": float(lr)}
        self.sample_count, self.sample_seed = int(sample_count), int(sample_seed)
        self.G_run, self.D_run, self.d_no_sync = self.G, self.D, None

    def hparams(self) -> dict:
        return {"loss": "BCEWithLogits, non-saturating G"}

    def prepare(self, device, world: int) -> None:
        if world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP
            ids = [device.index] if device.type == "cuda" else None
            self.G_run, self.D_run = DDP(self.G, device_ids=ids), DDP(self.D, device_ids=ids)
            self.d_no_sync = self.D_run.no_sync

    def step(self, real, labels, noise_gen, autocast_bf16: bool = False) -> torch.Tensor:
        noise = torch.randn(real.shape[0], self.config.nz, 1, 1, generator=noise_gen, device=real.device)
        return train_step(self.G_run, self.D_run, self.optimizers["generator"], self.optimizers["discriminator"],
                          real, noise, autocast_bf16=autocast_bf16, d_plain=self.D, d_no_sync=self.d_no_sync)

    def summarize(self, sums: torch.Tensor, n_batches: int) -> dict:
        return dict(zip(STAT_NAMES, (sums / max(n_batches, 1)).tolist()))

    def write_images(self, sample_dir: Path, epoch: int) -> None:
        save_sample_grid(self.G, sample_dir / f"epoch_{epoch:03d}.png", n=self.sample_count,
                         z=sample_latents(self.sample_count, self.config.nz, self.sample_seed))
