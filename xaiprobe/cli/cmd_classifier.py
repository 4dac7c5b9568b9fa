"""`xaiprobe classifier train|eval|export`: the attribute classifier of latent editing and sample quality."""
from __future__ import annotations

DEFAULT_DATA = "synthfaces:20000"


def add_parser(sub):
    p = sub.add_parser(
        "classifier", help="train, evaluate or export the attribute classifier (editing, generator analysis, quality)",
        description="A compact CNN for 64x64 images with one logit per attribute, trained from scratch on the "
                    "train split (the val split picks the best epoch). Editing, generator analysis and sample "
                    "quality use the shipped SynthFaces classifier unless given --classifier FILE.")
    csub = p.add_subparsers(dest="action", metavar="ACTION")
    t = csub.add_parser("train", help="train a classifier and save it")
    t.add_argument("--data", default=DEFAULT_DATA,
                   help=f"labeled data spec: synthfaces[:N[:SEED]], celeba:DIR, digits, STORE.h5 [{DEFAULT_DATA}]")
    t.add_argument("--attributes", default="all",
                   help="attributes to learn, comma list or all (SynthFaces: every attribute it renders) [all]")
    t.add_argument("--out", required=True, help="classifier file to write, e.g. runs/NAME/classifier.pt")
    t.add_argument("--epochs", type=int, default=8, help="training epochs [8]")
    t.add_argument("--batch-size", type=int, default=64, help="images per step [64]")
    t.add_argument("--arch", default="convnet", choices=("convnet", "resnet18"),
                   help="layout: compact 8-conv CNN or ResNet-18 [convnet]")
    t.add_argument("--width", type=int, default=32, help="base channels (features: 8 x width) [32]")
    t.add_argument("--stem-stride", type=int, default=2, choices=(1, 2), help="stride of the 3x3 stem (1 = 4x compute) [2]")
    t.add_argument("--lr", type=float, default=3e-3, help="peak AdamW learning rate (one-cycle, cosine) [3e-3]")
    t.add_argument("--shift", type=int, default=3, help="random translation of up to this many pixels [3]")
    t.add_argument("--seed", type=int, default=0, help="seed of initialization and shuffling [0]")
    t.add_argument("--device", default=None, help="cpu, cuda, cuda:N [cuda when present]")
    t.add_argument("--max-images", type=int, default=None, help="train on only the first N train images")
    t.set_defaults(run=run)
    e = csub.add_parser("eval", help="per-attribute accuracy of a classifier on two splits")
    e.add_argument("--classifier", default=None, help="classifier file [the shipped SynthFaces classifier]")
    e.add_argument("--data", default=None, help="labeled data spec [the data the classifier was trained on]")
    e.add_argument("--split", default="val,test", help="one or two splits: train, val, test, all [val,test]")
    e.add_argument("--device", default=None, help="cpu, cuda, cuda:N [cuda when present]")
    e.add_argument("--max-images", type=int, default=None, help="evaluate only the first N images of each split")
    e.add_argument("--json", default=None, help="also write the metrics to this JSON file")
    e.set_defaults(run=run)
    x = csub.add_parser("export", help="rewrite a classifier file with float16 weights (for shipping)")
    x.add_argument("--classifier", required=True, help="classifier file from `xaiprobe classifier train`")
    x.add_argument("--out", required=True, help="file to write")
    x.set_defaults(run=run)
    p.set_defaults(run=run, action=None)
    return p


def run(args) -> int:
    import sys

    from .._utils.errors import XaiprobeError

    if args.action is None:
        raise XaiprobeError("classifier: no action; use `xaiprobe classifier train --out FILE`, "
                            "`xaiprobe classifier eval` or `xaiprobe classifier export --classifier FILE --out FILE`")
    from ..editing.classifier import (evaluate_classifier, export_classifier, format_metrics_table, labeled_data,
                                      load_classifier, save_classifier, train_classifier)

    for name in ("epochs", "batch_size", "width", "max_images"):
        v = getattr(args, name, None)
        if v is not None and v < 1:
            raise XaiprobeError(f"--{name.replace('_', '-')} {v}: must be >= 1")
    if args.action == "export":
        path = export_classifier(args.classifier, args.out)
        print(f"classifier: {path} ({path.stat().st_size / 1e6:.1f} MB, float16 weights)")
        return 0
    if args.action == "train":
        if not args.lr > 0:
            raise XaiprobeError(f"--lr {args.lr}: must be > 0")
        if args.shift < 0:
            raise XaiprobeError(f"--shift {args.shift}: must be >= 0")
        data = labeled_data(args.data, args.attributes)
        clf = train_classifier(data, epochs=args.epochs, batch_size=args.batch_size, width=args.width,
                               stem_stride=args.stem_stride, lr=args.lr, device=args.device, shift=args.shift,
                               arch=args.arch, max_images=args.max_images, seed=args.seed,
                               progress=sys.stderr.isatty())
        path = save_classifier(args.out, clf)
        m = clf.metrics_
        print(f"classifier: {path} ({clf.arch_name} width {clf.width}, {sum(p.numel() for p in clf.parameters()):,} "
              f"parameters, {clf.train_config_['n_train']} train images of {data.spec}, {args.epochs} epochs, "
              f"{clf.train_seconds_:.0f} s)")
        print(f"{m['split']} metrics{' (last column: test balanced accuracy)' if clf.test_metrics_ else ''}:")
        print(format_metrics_table(m, clf.test_metrics_))
        return 0
    splits = [s.strip() for s in str(args.split).split(",") if s.strip()]
    if not 1 <= len(splits) <= 2:
        raise XaiprobeError(f"--split {args.split}: give one or two splits, e.g. val,test")
    clf = load_classifier(args.classifier, args.device)
    spec = args.data or clf.data_spec_
    if not spec:
        raise XaiprobeError("classifier eval: the classifier file records no data spec; pass --data SPEC")
    data = labeled_data(spec, "all" if "attrs=" in spec else clf.attribute_names)
    ms = [evaluate_classifier(clf, data, s, max_images=args.max_images) for s in splits]
    where = args.classifier or "(shipped)"
    n = "/".join(str(next(iter(m["attributes"].values()))["n"]) for m in ms)
    print(f"classifier {where} on {data.spec} ({', '.join(splits)}: {n} images):")
    if len(ms) == 2:
        print(f"columns: {splits[0]} accuracy, {splits[0]} balanced accuracy, positive rate, {splits[1]} balanced accuracy")
    print(format_metrics_table(ms[0], ms[1] if len(ms) == 2 else None))
    if args.json:
        from .._utils.figures import write_json
        write_json(args.json, {s: m for s, m in zip(splits, ms)})
    return 0
