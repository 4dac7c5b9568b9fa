"""`xaiprobe merge SHARD... --out FILE`: join `extract --shard i/n` files into one."""
from __future__ import annotations


def add_parser(sub):
    from ..activations.plugin import one_line_errors

    p = sub.add_parser(
        "merge", help="join extraction shards into one activation file (HDF5 virtual datasets)",
        description="Join the files written by `xaiprobe extract --shard i/n` into one activation file. "
                    "The merged file references the shards (virtual datasets, no copy): keep them beside it.")
    p.add_argument("shards", nargs="+", metavar="SHARD", help="shard files (any order)")
    p.add_argument("--out", required=True, help="merged activation file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.set_defaults(run=run)
    one_line_errors(p)
    return p


def run(args) -> int:
    import shlex

    from ..activations.merge import merge_shards
    from ..activations.store import ActivationStore

    command = shlex.join(["xaiprobe", "merge", *map(str, args.shards), "--out", str(args.out)])
    out = merge_shards(args.shards, args.out, overwrite=args.overwrite, command=command)
    with ActivationStore(out) as store:
        print(f"wrote {out}: {len(store)} rows from {len(args.shards)} shards, layers {', '.join(store.layers)}")
    return 0
