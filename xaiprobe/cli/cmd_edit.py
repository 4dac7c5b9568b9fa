"""`xaiprobe edit`: image grids of z + αd (rows of latents, columns of α), optionally measured."""
from __future__ import annotations

import re


def add_parser(sub):
    p = sub.add_parser(
        "edit", help="edit generated images along latent directions (grids, quality table, D's concepts)",
        description="Write OUT/edit_<method>_<attr>.png grids of G(z + αd). With --classifier also the "
                    "edit-quality table (quality.json/csv: slope, monotonicity, entanglement, pixel change); "
                    "with --decoders the discriminator's decoded concept probability against α.")
    p.add_argument("--checkpoint", required=True, help="GAN checkpoint (.pt) the directions were fitted on")
    p.add_argument("--directions", required=True, help="directions file from `xaiprobe directions`")
    p.add_argument("--attr", default="all", help="attribute(s) to edit, comma list or all [all]")
    p.add_argument("--alphas", default="-3:3:7", help="start:stop:count or comma list of α [-3:3:7]")
    p.add_argument("--method", default="lstsq", help="direction method(s), comma list or all [lstsq]")
    p.add_argument("--n", type=int, default=8, help="latents (grid rows) [8]")
    p.add_argument("--seed", type=int, default=0, help="seed of the latents [0]")
    p.add_argument("--out", required=True, help="output directory, e.g. runs/NAME/editing")
    p.add_argument("--classifier", default=None, help="classifier file: adds the edit-quality table")
    p.add_argument("--quality-methods", default="all",
                   help="direction methods compared in the quality table, comma list or all [all in the file]")
    p.add_argument("--n-quality", type=int, default=32, help="latents per path for the quality table [32]")
    p.add_argument("--decoders", default=None, help="concept decoders dir from `xaiprobe decode`: adds D's concepts vs α")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N [cuda when present]")
    # let `--alphas -3:3:7` / `--alphas -2,0,2` through: argparse otherwise takes a value that
    # starts with "-" and is not a plain negative number for an option
    p._negative_number_matcher = re.compile(r"^-\d*\.?\d+([eE][-+]?\d+)?([:,].*)?$")
    p.set_defaults(run=run)
    return p


def run(args) -> int:
    import sys

    from .._utils.errors import XaiprobeError
    from ..editing.edits import parse_alphas, run_edit

    alphas = parse_alphas(args.alphas)
    for name in ("n", "n_quality"):
        if getattr(args, name) < 1:
            raise XaiprobeError(f"--{name.replace('_', '-')} {getattr(args, name)}: must be >= 1")
    s = run_edit(args.checkpoint, args.directions, args.out, attributes=args.attr, methods=args.method,
                 alphas=alphas, n=args.n, seed=args.seed, classifier=args.classifier, decoders=args.decoders,
                 quality_methods=args.quality_methods, n_quality=args.n_quality, device=args.device, progress=sys.stderr.isatty())
    print(f"edit: {len(s['grids'])} grid(s) in {args.out}: {', '.join(s['grids'])}")
    if "quality_table" in s:
        print(s["quality_table"])
    if "concept_curves" in s:
        cc = s["concept_curves"]
        for at, layers in cc["curves"].items():
            for layer, concepts in layers.items():
                if at in concepts:
                    v = concepts[at]
                    print(f"D {layer} P({at}): {v[0]:.2f} at α={cc['alphas'][0]:+g} -> {v[-1]:.2f} at α={cc['alphas'][-1]:+g}")
    for line in s.get("findings", []):
        print(f"- {line}")
    return 0
