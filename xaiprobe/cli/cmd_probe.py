"""`xaiprobe probe --activations FILE`: linear probes per layer × attribute, with controls;
`xaiprobe probe --checkpoints DIR --data SPEC`: probes of every epoch (layer × epoch heat maps)."""
from __future__ import annotations


def add_parser(sub):
    from ..activations.plugin import one_line_errors

    p = sub.add_parser(
        "probe", help="linear probes per layer and attribute, beside random-init, pixel and shuffled-label controls",
        description="For every layer x attribute of an activations file: L2 logistic regression on standardized "
                    "features (all attributes of a layer at once), strength chosen on the val split, reported on "
                    "test with bootstrap CIs, next to the same probe on a random-init D, on 8x8 pixels and on "
                    "shuffled labels. Writes OUT/results.json, results.csv, probe_<layer>.pt, summary.json and plots. "
                    "With --checkpoints DIR it probes every epoch_NNN.pt and draws layer x epoch heat maps.")
    src = p.add_argument_group("input (one of)")
    src.add_argument("--activations", metavar="FILE", help="activations file from `xaiprobe extract` (labeled data)")
    src.add_argument("--checkpoints", metavar="DIR", help="a run's checkpoints/ dir: probe every epoch_NNN.pt")
    p.add_argument("--data", help="data spec of the images (default: the one recorded in the file or checkpoint)")
    p.add_argument("--layer", action="append", default=None, metavar="NAME",
                   help="layer to probe (repeatable or comma list) [all in the file]")
    p.add_argument("--attribute", action="append", default=None, metavar="NAME",
                   help="attribute to probe (repeatable or comma list) [all]")
    p.add_argument("--out", default=None, help="output dir [RUN/probes, or RUN/dynamics with --checkpoints]")
    p.add_argument("--no-controls", action="store_true", help="skip the random-init, pixel and shuffled-label controls")
    p.add_argument("--controls", default=None, help="comma list of controls: random_init,pixels,shuffled [all]")
    p.add_argument("--cs", default=None, help="comma list of C values searched on val [1e-4,1e-3,1e-2,0.1,1,10]")
    p.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples for the CIs [200]")
    p.add_argument("--max-memory-mb", type=float, default=1024.0,
                   help="layers bigger than this are streamed from the file in chunks [1024]")
    p.add_argument("--pooling", default="mean", help="pooling of the per-epoch extraction (--checkpoints) [mean]")
    p.add_argument("--no-umap", action="store_true", help="skip the UMAP plots (they take a while)")
    p.add_argument("--no-plots", action="store_true", help="write the tables only")
    p.add_argument("--seed", type=int, default=0, help="seed of bootstrap, shuffles and the random-init D [0]")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N [cuda when present]")
    p.set_defaults(run=run)
    one_line_errors(p)
    return p


def _list(values):
    if not values:
        return None
    return [x.strip() for v in values for x in v.split(",") if x.strip()]


def _cs(text):
    from .._utils.errors import XaiprobeError
    from ..probes.linear import DEFAULT_CS

    if not text:
        return DEFAULT_CS
    try:
        cs = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise XaiprobeError(f"--cs {text!r}: not a comma list of numbers; e.g. --cs 0.001,0.01,0.1,1") from None
    if not cs or min(cs) <= 0:
        raise XaiprobeError(f"--cs {text!r}: pass positive values, e.g. --cs 0.001,0.01,0.1,1")
    return cs


def run(args) -> int:
    from .._utils.errors import XaiprobeError

    if (args.activations is None) == (args.checkpoints is None):
        raise XaiprobeError("input: pass exactly one of --activations FILE or --checkpoints DIR")
    if args.bootstrap < 0:
        raise XaiprobeError(f"--bootstrap {args.bootstrap}: must be >= 0")
    cs = _cs(args.cs)
    layers, attributes = _list(args.layer), _list(args.attribute)
    if args.checkpoints is not None:
        from ..activations.hooks import check_pooling
        from ..probes.dynamics import probe_checkpoints

        check_pooling(args.pooling)
        dyn = probe_checkpoints(args.checkpoints, data=args.data, layers=layers, attributes=attributes,
                                pooling=args.pooling, out_dir=args.out, Cs=cs, n_boot=args.bootstrap, seed=args.seed,
                                device=args.device, plots=not args.no_plots, progress=True)
        print(f"probed {len(dyn.epochs)} epochs x {len(dyn.layers)} layers x {len(dyn.attribute_names)} attributes")
        for a, v in dyn.values.items():
            print(f"{a}: test {dyn.metric} by layer (rows {', '.join(dyn.layers)}) at epochs {dyn.epochs[0]}..{dyn.epochs[-1]}")
            for layer, row in zip(dyn.layers, v):
                print(f"  {layer:<8} " + " ".join(f"{x:.2f}" for x in row))
        print(f"wrote {dyn.out_dir}")
        return 0

    from ..probes.run import probe_store

    if args.no_controls and args.controls:
        raise XaiprobeError("--no-controls and --controls: pass one of them")
    controls = False if args.no_controls else (_list([args.controls]) if args.controls else True)
    rep = probe_store(args.activations, layers=layers, attributes=attributes, controls=controls, out_dir=args.out,
                      Cs=cs, n_boot=args.bootstrap, seed=args.seed, data=args.data,
                      max_memory_mb=args.max_memory_mb, device=args.device, plots=not args.no_plots,
                      umap=not args.no_umap, progress=True)
    print(rep.format_table())
    import json

    for f in json.loads((rep.out_dir / "summary.json").read_text()).get("findings", []):
        print(f"probe: {f}")
    skipped = {k: v for k, v in rep.controls.items() if v != "done"}
    for k, v in skipped.items():
        print(f"control {k}: {v}")
    print(f"wrote {rep.out_dir}/results.json, results.csv, summary.json and plots")
    return 0
