"""Benchmark: the cost of one xGA training iteration, and how it grows with K and the batch.

One iteration edits ``batch`` latents of each of two GANs along all K directions, runs the
K·batch edited latents of each GAN through G and the feature space with gradients, and takes
one Adam step on the directions. The baseline, measured in the same run on the same machine,
is the irreducible part: G alone, forward and backward to z, on the same 2·K·batch latents.
The script prints, per (K, batch): seconds per iteration (wall and CPU), the ratio to the
baseline, the ratio to the default setting (K = 8, batch = 2), and what the default audit
(xGA + xGA λ=0 + LatentCLR + the null audit: 4 direction sets) spends training at that setting.

The generators are the shipped SynthFaces DCGAN (G ≈ 3.8M parameters, 64x64), used as both
reference and client (the cost does not depend on what they learned).

Usage::

    python bench/audit_cost.py [--features disc] [--repeats 3] [--threads 2] [--iterations 40]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch


def _timed(fn, repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``fn()`` over ``repeats`` calls (after one warm-up call)."""
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", default="disc", choices=("disc", "random", "selfsup"))
    ap.add_argument("--repeats", type=int, default=3, help="timed iterations per setting")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=40, help="iterations per direction set of the audit")
    ap.add_argument("--checkpoint", default=None, help="generator checkpoint (default the shipped DCGAN)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    from importlib import resources

    from xaiprobe.audit import (LatentDirections, build_feature_space, direction_classes, load_generator,
                                make_pool, train_directions)

    ck = args.checkpoint or str(resources.files("xaiprobe") / "assets" / "dcgan_synthfaces.pt")
    ref = load_generator(ck, "reference")
    G = ref.module
    for p in G.parameters():
        p.requires_grad_(False)
    space = build_feature_space(args.features, ref)
    pool = make_pool(G, space, 32, ref.nz, 0)

    def iteration(k, b):
        dirs = [LatentDirections(k, ref.nz, seed=0), LatentDirections(k, ref.nz, seed=1)]
        return lambda: train_directions([G, G], space, [pool, pool], dirs, direction_classes(k, max(k - 2, 0)),
                                        iterations=1, batch_size=b)

    def bare(k, b):
        z = torch.randn(2 * k * b, ref.nz, requires_grad=True)

        def run():
            torch.autograd.grad(G(z).sum(), z)
        return run

    settings = [(8, 2), (4, 2), (16, 2), (8, 4), (8, 8)]
    rows, default = [], None
    print(f"features={args.features} threads={args.threads} G parameters="
          f"{sum(p.numel() for p in G.parameters()):,} image={ref.image_shape}")
    for k, b in settings:
        w, c = _timed(iteration(k, b), args.repeats)
        bw, bc = _timed(bare(k, b), args.repeats)
        rows.append((k, b, w, c, bw, bc))
        if (k, b) == (8, 2):
            default = (w, c)
    print(f"{'K':>3} {'batch':>5} {'s/iter':>8} {'CPU s/iter':>10} {'vs bare G':>9} {'vs K8 b2':>9} "
          f"{'4 sets x ' + str(args.iterations) + ' it (s)':>22}")
    for k, b, w, c, bw, bc in rows:
        print(f"{k:>3} {b:>5} {w:>8.3f} {c:>10.3f} {w / bw:>9.2f} {w / default[0]:>9.2f} "
              f"{4 * args.iterations * w:>22.1f}")
    print("scaling: cost is ~linear in K·batch (the edited images); 'vs bare G' is the overhead of the "
          "feature space, the loss and the update over G's own forward and backward")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
