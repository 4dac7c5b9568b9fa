"""`xaiprobe filters`: conv1 filters, activation maximization, top-k crops, network dissection."""
from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser(
        "filters", help="filter grid, activation maximization, top-k crops and dissection of D's units",
        description="What single units of the discriminator respond to: the first-layer filters as RGB patches, "
                    "images optimized to excite each channel, the data set crops that excite it most (receptive "
                    "field), and Network-Dissection IoU with SynthFaces region masks.")
    p.add_argument("--checkpoint", required=True, help="xaiprobe checkpoint (.pt) of the GAN")
    p.add_argument("--data", default=None, help="data spec for top-k and dissection [the checkpoint's training data]")
    p.add_argument("--layer", default="conv3", help="layer for maximization and top-k [conv3]")
    p.add_argument("--channels", default="0:16", help="channels A:B or a list 1,5,9 [0:16]")
    p.add_argument("--k", type=int, default=8, help="top-k images per channel [8]")
    p.add_argument("--n", type=int, default=2000, help="data set images scanned [2000]")
    p.add_argument("--steps", type=int, default=200, help="activation maximization steps [200]")
    p.add_argument("--quantile", type=float, default=0.95, help="dissection: per-unit activation quantile [0.95]")
    p.add_argument("--no-dissection", dest="dissection", action="store_false", help="skip network dissection")
    p.add_argument("--seed", type=int, default=0, help="seed [0]")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N [cuda when present]")
    p.add_argument("--out", default=None, help="output directory [RUN/filters next to the checkpoint]")
    p.set_defaults(run=run)
    return p


def run(args) -> int:
    import sys

    from .._utils.errors import XaiprobeError

    for name in ("k", "n", "steps"):
        if getattr(args, name) < 1:
            raise XaiprobeError(f"--{name} {getattr(args, name)}: must be >= 1")
    from ..attribution.units import run_filters

    s = run_filters(args.checkpoint, args.data, args.out, layer=args.layer, channels=args.channels, k=args.k, n=args.n,
                    steps=args.steps, dissect_layers="auto" if args.dissection else None, quantile=args.quantile,
                    device=args.device, seed=args.seed, progress=sys.stderr.isatty())
    mx = s["maximization"]
    print(f"filters: {s['n_images']} images of {s['data']}; layer {mx['layer']}, channels {mx['channels'][0]}..{mx['channels'][-1]}")
    print(f"  activation maximization objective {mx['objective_first']:.4g} -> {mx['objective_last']:.4g} over {mx['steps']} steps")
    print(f"  receptive field of {s['topk']['layer']}: {s['topk']['receptive_field']} px (stride {s['topk']['stride']})")
    if "dissection" in s:
        d = s["dissection"]
        print(f"dissection (units per concept: IoU > {d['iou_threshold']:g} and >= {d['min_lift']:g}x chance; "
              f"top {100 * (1 - d['quantile']):.3g}% activations):")
        print(s["dissection"]["markdown"])
    for line in s["findings"]:
        print(f"  {line}")
    return 0
