"""`xaiprobe classifier train|eval`: the attribute classifier that latent editing measures with."""
from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser(
        "classifier", help="train or evaluate the attribute classifier used by latent editing",
        description="A ResNet-18-style CNN for 64x64 images with one logit per attribute, trained from scratch "
                    "on the train split (the val split picks the best epoch). Prints per-attribute accuracy "
                    "and balanced accuracy.")
    csub = p.add_subparsers(dest="action", metavar="ACTION")
    t = csub.add_parser("train", help="train a classifier and save it")
    t.add_argument("--data", required=True, help="labeled data spec: synthfaces[:N[:SEED]], celeba:DIR, digits, STORE.h5")
    t.add_argument("--out", required=True, help="classifier file to write, e.g. runs/NAME/classifier.pt")
    t.add_argument("--epochs", type=int, default=10, help="training epochs [10]")
    t.add_argument("--batch-size", type=int, default=128, help="images per step [128]")
    t.add_argument("--width", type=int, default=32, help="base channels (64 = ResNet-18 widths) [32]")
    t.add_argument("--stem-stride", type=int, default=2, choices=(1, 2), help="stride of the 3x3 stem (1 = 4x compute) [2]")
    t.add_argument("--lr", type=float, default=2e-3, help="peak AdamW learning rate (one-cycle) [2e-3]")
    t.add_argument("--seed", type=int, default=0, help="seed of initialization and shuffling [0]")
    t.add_argument("--device", default=None, help="cpu, cuda, cuda:N [cuda when present]")
    t.add_argument("--max-images", type=int, default=None, help="train on only the first N train images")
    t.set_defaults(run=run)
    e = csub.add_parser("eval", help="per-attribute accuracy of a saved classifier")
    e.add_argument("--classifier", required=True, help="classifier file from `xaiprobe classifier train`")
    e.add_argument("--data", required=True, help="labeled data spec with the classifier's attributes")
    e.add_argument("--split", default="val", help="train, val, test or all [val]")
    e.add_argument("--device", default=None, help="cpu, cuda, cuda:N [cuda when present]")
    e.add_argument("--max-images", type=int, default=None, help="evaluate only the first N images of the split")
    e.add_argument("--json", default=None, help="also write the metrics to this JSON file")
    e.set_defaults(run=run)
    p.set_defaults(run=run, action=None)
    return p


def run(args) -> int:
    import sys

    from .._utils.errors import XaiprobeError

    if args.action is None:
        raise XaiprobeError("classifier: no action; use `xaiprobe classifier train --data SPEC --out FILE` "
                            "or `xaiprobe classifier eval --classifier FILE --data SPEC`")
    from ..editing.classifier import (evaluate_classifier, format_metrics_table, load_classifier, save_classifier,
                                      train_classifier)

    for name in ("epochs", "batch_size", "width", "max_images"):
        v = getattr(args, name, None)
        if v is not None and v < 1:
            raise XaiprobeError(f"--{name.replace('_', '-')} {v}: must be >= 1")
    if args.action == "train":
        if not args.lr > 0:
            raise XaiprobeError(f"--lr {args.lr}: must be > 0")
        clf = train_classifier(args.data, epochs=args.epochs, batch_size=args.batch_size, width=args.width,
                               stem_stride=args.stem_stride, lr=args.lr, device=args.device,
                               max_images=args.max_images, seed=args.seed, progress=sys.stderr.isatty())
        path = save_classifier(args.out, clf)
        m = clf.metrics_
        print(f"classifier: {path} (width {clf.width}, {sum(p.numel() for p in clf.parameters()):,} parameters, "
              f"{clf.train_config_['n_train']} train images, {args.epochs} epochs, {clf.train_seconds_:.0f} s)")
        print(f"{m['split']} metrics:")
        print(format_metrics_table(m))
        return 0
    clf = load_classifier(args.classifier, args.device)
    m = evaluate_classifier(clf, args.data, args.split, max_images=args.max_images)
    print(f"classifier {args.classifier} on {args.data} ({args.split}, {next(iter(m['attributes'].values()))['n']} images):")
    print(format_metrics_table(m))
    if args.json:
        from ..report.style import write_json
        write_json(args.json, m)
    return 0
