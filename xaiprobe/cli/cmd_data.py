"""`xaiprobe data`: write SynthFaces in CelebA's layout, pack CelebA into an image store, inspect a spec."""
from __future__ import annotations


def add_parser(subparsers):
    p = subparsers.add_parser("data", help="data sets: export SynthFaces, pack CelebA, inspect a data spec",
                              description="Data set tools. Data specs: synthfaces[:N[:SEED]], digits, "
                                          "celeba:DIR[:crop=center|box][:attrs=A,B], PATH.h5, folder:DIR.")
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    s = sub.add_parser("synth", help="write SynthFaces in CelebA's directory layout")
    s.add_argument("--n", type=int, required=True, help="number of faces")
    s.add_argument("--out", required=True, help="output directory (gets img_align_celeba/, list_*.txt)")
    s.add_argument("--seed", type=int, default=0, help="SynthFaces seed (default 0)")
    k = sub.add_parser("pack", help="decode a CelebA directory once into an HDF5 image store")
    k.add_argument("--celeba", required=True, metavar="DIR", help="directory in CelebA's layout")
    k.add_argument("--out", required=True, help="image store to write (.h5)")
    k.add_argument("--crop", choices=["center", "box"], default="center",
                   help="center: center crop 178x178 then resize 64 (default); box: x=24,y=59,128x128 then 64")
    k.add_argument("--attrs", nargs="+", default=None, metavar="ATTR",
                   help="attributes to keep (default Smiling Eyeglasses Young Male Blond_Hair); "
                        "comma- or space-separated")
    i = sub.add_parser("info", help="load a data spec and print its size, attributes and splits")
    i.add_argument("spec", help="data spec, e.g. synthfaces:2000 or store.h5")
    i.add_argument("--cache-dir", default=None, help="cache directory (default $XAIPROBE_CACHE or ~/.cache/xaiprobe)")
    p.set_defaults(run=run, _data_parser=p)


def run(args) -> int:
    from .._utils.errors import XaiprobeError

    action = getattr(args, "data_command", None)
    if action is None:
        args._data_parser.print_help()
        return 2
    if action == "synth":
        from ..data.celeba import export_celeba_layout

        root = export_celeba_layout(args.out, args.n, seed=args.seed)
        print(f"wrote {args.n} SynthFaces (seed {args.seed}) in CelebA's layout to {root}")
        return 0
    if action == "pack":
        from ..data.celeba import pack_celeba

        attrs = None
        if args.attrs:
            attrs = [a for item in args.attrs for a in item.split(",") if a]
        out = pack_celeba(args.celeba, args.out, attrs=attrs, crop=args.crop)
        print(f"packed {args.celeba} into {out}; use it as --data {out}")
        return 0
    if action == "info":
        import numpy as np

        from ..data.registry import load_dataset

        d = load_dataset(args.spec, cache_dir=args.cache_dir)
        print(f"spec: {d.spec}")
        print(f"images: {len(d)} x {tuple(d.image_shape)} uint8, concept type {d.concept_type}")
        counts = np.bincount(d.split, minlength=3)
        print(f"split: train {counts[0]}, val {counts[1]}, test {counts[2]}")
        for j, name in enumerate(d.attribute_names):
            print(f"  {name:<20s} {d.labels[:, j].mean():.3f}")
        return 0
    raise XaiprobeError(f"data action {action!r}: unknown; use synth, pack or info")
