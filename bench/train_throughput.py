"""Training throughput: xaiprobe's `train_step` vs a plain inline pytorch/examples loop.

Both train the default-width seed DCGAN (same initialization, same batch size) on CPU in the
same process. Measurements are interleaved in rounds (A, B, C, D, A, B, ...) so that load
from other processes hits every variant alike; the reported ratio is the median over rounds
of (variant images/s) / (inline images/s) from the same round.

    .venv/bin/python bench/train_throughput.py            # ~1-2 minutes on 2 cores
    .venv/bin/python bench/train_throughput.py --rounds 2 --no-variants   # quicker, noisier
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from xaiprobe.gan.dcgan import DCGANConfig, build_dcgan
from xaiprobe.gan.train import make_optimizers, train_step


def inline_variant(batch_size: int, nz: int, seed: int):
    """The reference loop, written inline as in pytorch/examples/dcgan/main.py."""
    netG, netD = build_dcgan(DCGANConfig(nz=nz), seed=seed)
    netG.train()
    netD.train()
    criterion = nn.BCEWithLogitsLoss()
    optimizerD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real_label, fake_label = 1.0, 0.0

    def step(real_cpu):
        # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
        netD.zero_grad()
        b_size = real_cpu.size(0)
        label = torch.full((b_size,), real_label, dtype=real_cpu.dtype)
        output = netD(real_cpu).view(-1)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.sigmoid().mean().item()
        noise = torch.randn(b_size, nz, 1, 1)
        fake = netG(noise)
        label.fill_(fake_label)
        output = netD(fake.detach()).view(-1)
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.sigmoid().mean().item()
        errD = errD_real + errD_fake
        optimizerD.step()
        # (2) Update G network: maximize log(D(G(z)))
        netG.zero_grad()
        label.fill_(real_label)
        output = netD(fake).view(-1)
        errG = criterion(output, label)
        errG.backward()
        D_G_z2 = output.sigmoid().mean().item()
        optimizerG.step()
        return errD.item(), errG.item(), D_x, D_G_z1, D_G_z2

    return step


def xaiprobe_variant(batch_size: int, nz: int, seed: int, channels_last=False, bf16=False):
    G, D = build_dcgan(DCGANConfig(nz=nz), seed=seed)
    G.train()
    D.train()
    if channels_last:
        G.to(memory_format=torch.channels_last)
        D.to(memory_format=torch.channels_last)
    opt_g, opt_d = make_optimizers(G, D)
    gen = torch.Generator().manual_seed(seed)

    def step(real):
        if channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        noise = torch.randn(real.shape[0], nz, 1, 1, generator=gen)
        return train_step(G, D, opt_g, opt_d, real, noise, autocast_bf16=bf16)

    return step


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=4, help="interleaved measurement rounds")
    ap.add_argument("--iters", type=int, default=1, help="timed steps per variant per round")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps per variant first")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    ap.add_argument("--no-variants", action="store_true", help="skip the channels_last / bf16 variants")
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    bs, nz = args.batch_size, 128
    torch.manual_seed(0)
    real = torch.rand(bs, 3, 64, 64) * 2 - 1
    variants = {"inline": inline_variant(bs, nz, 0), "xaiprobe": xaiprobe_variant(bs, nz, 0)}
    if not args.no_variants:
        variants["xaiprobe+channels_last"] = xaiprobe_variant(bs, nz, 0, channels_last=True)
        variants["xaiprobe+bf16"] = xaiprobe_variant(bs, nz, 0, bf16=True)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, default widths "
          f"(nz=128, ngf=ndf=64), batch {bs}, {args.rounds} rounds x {args.iters} steps")
    for step in variants.values():
        for _ in range(args.warmup):
            step(real)
    rates = {k: [] for k in variants}
    for _ in range(args.rounds):
        for name, step in variants.items():
            t = time.perf_counter()
            for _ in range(args.iters):
                step(real)
            rates[name].append(bs * args.iters / (time.perf_counter() - t))
    base = rates["inline"]
    for name, r in rates.items():
        ratio = statistics.median(a / b for a, b in zip(r, base))
        print(f"{name:24s} {statistics.median(r):7.1f} images/s   ratio vs inline {ratio:.2f}")


if __name__ == "__main__":
    main()
