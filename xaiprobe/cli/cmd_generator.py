"""`xaiprobe generator`: latent sweeps and ranking, feature maps, counterfactual divergence in D."""
from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser(
        "generator", help="latent sweeps, latent-dim ranking, G feature maps, counterfactual divergence in D",
        description="Analyse the generator: sweep one latent dimension at a time, rank dimensions by how much they "
                    "change the image (and an attribute classifier's outputs), show G's feature maps layer by layer, "
                    "and measure where in D's layers the same SynthFaces face with and without an attribute diverges.")
    p.add_argument("--checkpoint", required=True, help="xaiprobe checkpoint (.pt) of the GAN")
    p.add_argument("--dims", type=int, default=16, help="latent dims shown in the sweep grid (most influential first) [16]")
    p.add_argument("--latents", type=int, default=8, help="base latents for ranking the dims [8]")
    p.add_argument("--pairs", type=int, default=32, help="counterfactual pairs per attribute, 0 = skip [32]")
    p.add_argument("--classifier", default=None, help="attribute classifier from `xaiprobe classifier train` (optional)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latents [0]")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N [cuda when present]")
    p.add_argument("--out", default=None, help="output directory [RUN/generator next to the checkpoint]")
    p.set_defaults(run=run)
    return p


def run(args) -> int:
    import sys

    from .._utils.errors import XaiprobeError

    for name in ("dims", "latents"):
        if getattr(args, name) < 1:
            raise XaiprobeError(f"--{name} {getattr(args, name)}: must be >= 1")
    if args.pairs < 0:
        raise XaiprobeError(f"--pairs {args.pairs}: must be >= 0")
    from ..attribution.units import run_generator

    s = run_generator(args.checkpoint, args.out, dims=args.dims, pairs=args.pairs, classifier=args.classifier,
                      n_latents=args.latents, device=args.device, seed=args.seed, progress=sys.stderr.isatty())
    top = ", ".join(f"z{d} {v:.3f}" for d, v in s["ranking"]["top_pixel"][:5])
    print(f"generator: latent dims with the largest image change: {top}")
    for a, tops in s["ranking"].get("top_by_attribute", {}).items():
        print(f"  {a}: " + ", ".join(f"z{d} {v:.2f}" for d, v in tops[:3]))
    if "divergence" in s:
        d = s["divergence"]
        print(f"counterfactual divergence ({d['n_pairs']} pairs), ||a-b||/(||a||+||b||) per layer:")
        print("  layer      " + " ".join(f"{x:>8}" for x in d["layers"]))
        for a, v in d["distance"].items():
            print(f"  {a:<10} " + " ".join(f"{x:8.4f}" for x in v))
        print(f"  {'(other)':<10} " + " ".join(f"{x:8.4f}" for x in d["baseline"]))
    for line in s["findings"]:
        print(f"  {line}")
    return 0
