"""`xaiprobe decode --activations FILE --out DIR`: train an MLP concept decoder per layer;
`xaiprobe decode --decoders DIR --checkpoint C --images SPEC`: apply them to images."""
from __future__ import annotations


def add_parser(sub):
    from ..activations.plugin import add_model_arguments, one_line_errors

    p = sub.add_parser(
        "decode", help="train concept decoders per layer, or apply them to data, folders or generated images",
        description="Train: `--activations FILE --out DIR` fits one MLP per layer (sigmoid+BCE for attributes, "
                    "softmax+CE for single-label classes) with early stopping on val and writes "
                    "DIR/decoder_<layer>.pt, decoders.json and test metrics. Apply: `--decoders DIR --checkpoint C "
                    "--images SPEC` (a data spec, folder:DIR or generated:N) writes per-image concept "
                    "probabilities (concepts.csv) and, for generated:N, the concept distribution of generated vs "
                    "real images (table and bar plot).")
    p.add_argument("--activations", metavar="FILE", help="train: activations file from `xaiprobe extract`")
    p.add_argument("--decoders", metavar="DIR", help="apply: a decoders dir written by `xaiprobe decode --activations`")
    p.add_argument("--out", default=None, help="train: the decoders dir (required); apply: output dir [DIR/applied]")
    add_model_arguments(p)
    p.add_argument("--images", default=None,
                   help="apply: data spec (synthfaces:N, celeba:DIR, STORE.h5, digits), folder:DIR or generated:N")
    p.add_argument("--real", default=None,
                   help="apply: data spec of the real images compared with generated:N [the decoders' training data]")
    p.add_argument("--max-real", type=int, default=2000, help="apply: real images used for the comparison [2000]")
    p.add_argument("--layer", action="append", default=None, metavar="NAME", help="train: layer (repeatable) [all]")
    p.add_argument("--attribute", action="append", default=None, metavar="NAME",
                   help="train: attribute (repeatable; multilabel data only) [all]")
    p.add_argument("--hidden", type=int, default=256, help="train: hidden units [256]")
    p.add_argument("--dropout", type=float, default=0.2, help="train: dropout [0.2]")
    p.add_argument("--epochs", type=int, default=200, help="train: maximum epochs [200]")
    p.add_argument("--patience", type=int, default=15, help="train: early-stopping patience in epochs [15]")
    p.add_argument("--lr", type=float, default=1e-3, help="train: AdamW learning rate [1e-3]")
    p.add_argument("--bootstrap", type=int, default=200, help="train: bootstrap resamples for the CIs [200]")
    p.add_argument("--batch-size", type=int, default=256, help="apply: images per forward pass [256]")
    p.add_argument("--seed", type=int, default=0, help="seed of training, generated latents and sampling [0]")
    p.add_argument("--no-plots", action="store_true", help="write tables only")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N [cuda when present]")
    p.set_defaults(run=run)
    one_line_errors(p)
    return p


def run(args) -> int:
    from pathlib import Path

    from .._utils.errors import XaiprobeError

    if (args.activations is None) == (args.decoders is None):
        raise XaiprobeError("decode: pass --activations FILE --out DIR (train) or --decoders DIR --checkpoint C "
                            "--images SPEC (apply)")
    if args.activations is not None:
        if args.out is None:
            raise XaiprobeError("--out: required when training decoders; e.g. --out runs/NAME/decoders")
        if args.images is not None or args.checkpoint is not None or args.model is not None:
            raise XaiprobeError("--images/--checkpoint: only used when applying decoders (--decoders DIR)")
        if args.hidden < 1 or args.epochs < 1 or args.patience < 1 or not 0 <= args.dropout < 1:
            raise XaiprobeError("--hidden, --epochs, --patience must be >= 1 and --dropout in [0, 1)")
        from ..probes.decode import train_decoders

        attrs = [x.strip() for v in (args.attribute or []) for x in v.split(",") if x.strip()] or None
        layers = [x.strip() for v in (args.layer or []) for x in v.split(",") if x.strip()] or None
        rows = train_decoders(args.activations, args.out, layers=layers, attributes=attrs, hidden=args.hidden,
                              dropout=args.dropout, max_epochs=args.epochs, patience=args.patience, lr=args.lr,
                              seed=args.seed, n_boot=args.bootstrap, device=args.device, plots=not args.no_plots,
                              progress=True)
        single = any(r["top1"] == r["top1"] for r in rows)  # top-1 is NaN for multilabel data
        print(f"{'layer':<10} {'concept':<14} {'auc':>6} {'95% CI':>15}" + (f" {'top1':>6}" if single else ""))
        for r in rows:
            print(f"{r['layer']:<10} {r['concept']:<14} {r['auc']:>6.3f} [{r['auc_lo']:.3f},{r['auc_hi']:.3f}]"
                  + (f" {r['top1']:>6.3f}" if single else ""))
        import json

        for f in json.loads((Path(args.out) / "summary.json").read_text()).get("findings", []):
            print(f"decode: {f}")
        print(f"wrote {args.out}/decoders.json, decoder_<layer>.pt, metrics.csv, summary.json")
        return 0

    if args.images is None:
        raise XaiprobeError("--images: required with --decoders; a data spec, folder:DIR or generated:N")
    if args.checkpoint is None and args.model is None:
        raise XaiprobeError("model: pass --checkpoint C (the discriminator the decoders read; its G for generated:N)")
    if args.max_real < 1 or args.batch_size < 1:
        raise XaiprobeError("--max-real and --batch-size must be >= 1")
    from .._utils.device import resolve_device
    from ..activations.plugin import model_from_args
    from ..probes.decode import apply_decoders
    from ..probes.decoders import load_decoders

    device = resolve_device(args.device)
    decs = load_decoders(args.decoders, device=device)
    lm = model_from_args(args, device=device)
    out = Path(args.out) if args.out else Path(args.decoders) / "applied"
    res = apply_decoders(decs, lm, args.images, out, real=args.real, max_real=args.max_real,
                         batch_size=args.batch_size, seed=args.seed, device=device, plots=not args.no_plots,
                         command=_apply_command(args, out))
    print(f"decoded {res['n_images']} images with {len(decs)} decoders -> {res['concepts_csv']}")
    if res["distribution"]:
        print(f"{'layer':<10} {'concept':<14} {'generated':>9} {'real':>6} {'true':>6}")
        for r in res["distribution"]:
            print(f"{r['layer']:<10} {r['concept']:<14} {r['generated_rate']:>9.3f} {r['real_rate']:>6.3f} "
                  f"{r['true_rate']:>6.3f}")
        print(f"wrote {out}/concept_distribution.json, .csv, .png")
    for f in res["summary"]["findings"]:
        print(f"decode: {f}")
    print(f"wrote {out}/summary.json")
    return 0


def _apply_command(args, out) -> str:
    """The `xaiprobe decode --decoders ...` command of these arguments (recorded in summary.json)."""
    from .._utils.command import command_line

    return command_line("decode", [
        ("--decoders", args.decoders), ("--checkpoint", args.checkpoint), ("--model", args.model),
        ("--weights", args.weights), ("--logit-layer", args.logit_layer), ("--images", args.images),
        ("--real", args.real), ("--max-real", None if args.max_real == 2000 else args.max_real),
        ("--batch-size", None if args.batch_size == 256 else args.batch_size), ("--seed", args.seed or None),
        ("--out", str(out)), ("--no-plots", args.no_plots)])
