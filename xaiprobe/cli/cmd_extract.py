"""`xaiprobe extract --checkpoint C --layer conv3 --out FILE`: dump layer activations to HDF5."""
from __future__ import annotations

_OPTIONS = ("checkpoint", "model", "weights", "logit_layer", "data", "layer", "all_layers", "out", "pooling",
            "dtype", "compression", "batch_size", "device", "split", "generated", "seed", "random_init",
            "shard", "resume", "overwrite")


def add_parser(sub):
    from ..activations.plugin import add_model_arguments, one_line_errors

    p = sub.add_parser(
        "extract", help="run the discriminator over a data set and write layer activations to HDF5",
        description="One forward pass per batch records every requested layer; rows stream to OUT.partial "
                    "(memory does not grow with the data set), which is renamed to OUT when complete. "
                    "The file also holds labels, split, member flags, logits and provenance.")
    add_model_arguments(p)
    p.add_argument("--data", help="data spec (synthfaces[:N[:SEED]], digits, celeba:DIR, STORE.h5, folder:DIR) "
                                  "[the checkpoint's data]")
    p.add_argument("--layer", action="append", default=None, metavar="NAME",
                   help="alias (conv3) or module path (main.7); repeat for several layers")
    p.add_argument("--all-layers", action="store_true", help="every aliased layer (conv1..convK)")
    p.add_argument("--out", required=True, help="output file, e.g. runs/NAME/activations.h5")
    p.add_argument("--pooling", default="none", help="none, mean, max or avgK (adaptive KxK average) [none]")
    p.add_argument("--dtype", default="float16", choices=("float16", "float32"), help="stored dtype [float16]")
    p.add_argument("--compression", default="none", choices=("none", "gzip", "lzf"), help="HDF5 compression [none]")
    p.add_argument("--batch-size", type=int, default=256, help="images per forward pass and per write [256]")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N [cuda when present]")
    p.add_argument("--split", default="all", help="train, val, test, a comma list, or all [all]")
    p.add_argument("--generated", type=int, default=None, metavar="N",
                   help="extract on N generator images (seeded latents stored in /latents) instead of data")
    p.add_argument("--seed", type=int, default=0, help="seed of --generated latents and --random-init [0]")
    p.add_argument("--random-init", action="store_true",
                   help="use a freshly initialized D of the same architecture (seeded): the probes' control")
    p.add_argument("--shard", default=None, metavar="i/n",
                   help="write only contiguous block i of n of the rows; join the n files with `xaiprobe merge`")
    p.add_argument("--resume", action="store_true", help="continue an interrupted extraction (OUT.partial)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT (or OUT.partial)")
    p.set_defaults(run=run)
    one_line_errors(p)
    return p


def command_line(args) -> str:
    """The equivalent `xaiprobe extract ...` command, recorded in the file."""
    import shlex

    parts = ["xaiprobe", "extract"]
    for name in _OPTIONS:
        v = getattr(args, name, None)
        if v is None or v is False:
            continue
        flag = f"--{name.replace('_', '-')}"
        if v is True:
            parts.append(flag)
        elif isinstance(v, list):
            for x in v:
                parts += [flag, str(x)]
        else:
            parts += [flag, str(v)]
    return shlex.join(parts)


def run(args) -> int:
    from .._utils.device import resolve_device
    from .._utils.errors import XaiprobeError
    from ..activations.extract import extract_activations, parse_shard
    from ..activations.hooks import check_pooling
    from ..activations.plugin import model_from_args
    from ..activations.store import ActivationStore

    if args.layer and args.all_layers:
        raise XaiprobeError("--layer and --all-layers: pass one of them, not both")
    if not args.layer and not args.all_layers:
        raise XaiprobeError("layers: none chosen; pass --layer NAME (repeatable) or --all-layers "
                            "(see `xaiprobe layers` for the names)")
    if args.batch_size < 1:
        raise XaiprobeError(f"--batch-size {args.batch_size}: must be >= 1")
    if args.generated is not None and args.generated < 1:
        raise XaiprobeError(f"--generated {args.generated}: must be >= 1")
    if args.generated is not None and args.data is not None:
        raise XaiprobeError("--generated: extracts on generated images only; drop --data")
    check_pooling(args.pooling)
    shard = parse_shard(args.shard) if args.shard else None
    device = resolve_device(args.device)
    lm = model_from_args(args, device=device, random_init=args.random_init, seed=args.seed)
    data = None
    if args.generated is None:
        spec = args.data or lm.data_spec
        if not spec:
            raise XaiprobeError("--data: required with --model (no checkpoint records a data spec); "
                                "pass --data SPEC, e.g. --data synthfaces")
        from ..data import load_dataset

        data = load_dataset(spec)
    out = extract_activations(
        lm, data, args.out, layers="all" if args.all_layers else args.layer, pooling=args.pooling,
        dtype=args.dtype, compression=args.compression, batch_size=args.batch_size, device=device,
        splits=args.split, generated=args.generated, resume=args.resume, overwrite=args.overwrite,
        shard=shard, logit_layer=args.logit_layer, command=command_line(args), seed=args.seed)
    with ActivationStore(out) as store:
        shapes = ", ".join(f"{name} {tuple(store[name].shape[1:])}" for name in store.layers)
        print(f"wrote {out}: {len(store)} rows; {shapes}")
    return 0
