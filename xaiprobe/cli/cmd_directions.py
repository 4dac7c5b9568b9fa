"""`xaiprobe directions`: fit latent directions per attribute (lstsq, svm, conditional, sefa, ganspace)."""
from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser(
        "directions", help="fit one latent direction per attribute, by several methods",
        description="Sample N latents, score G(z) with the attribute classifier and fit unit directions: "
                    "lstsq (regress the logit on z), svm (InterFaceGAN boundary normal), conditional (lstsq with "
                    "the other attributes projected out), and for comparison the unsupervised sefa and ganspace "
                    "components, each assigned to the attribute it correlates with most.")
    p.add_argument("--checkpoint", required=True, help="GAN checkpoint (.pt) whose generator is edited")
    p.add_argument("--classifier", required=True, help="classifier file from `xaiprobe classifier train`")
    p.add_argument("--out", required=True, help="directions file to write, e.g. runs/NAME/editing/directions.pt")
    p.add_argument("--n", type=int, default=5000, help="latents to sample [5000]")
    p.add_argument("--methods", default="lstsq,svm,conditional,sefa,ganspace",
                   help="comma list of lstsq, svm, conditional, sefa, ganspace [all]")
    p.add_argument("--n-components", type=int, default=20,
                   help="sefa/ganspace: assign each attribute one of the top K components [20]")
    p.add_argument("--seed", type=int, default=0, help="seed of the latents [0]")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N [cuda when present]")
    p.set_defaults(run=run)
    return p


def run(args) -> int:
    from .._utils.device import resolve_device
    from ..editing.classifier import load_classifier
    from ..editing.directions import fit_directions, parse_methods
    from ..gan.checkpoint import load_checkpoint

    from .._utils.errors import XaiprobeError

    methods = parse_methods(args.methods)
    if args.n_components < 1:
        raise XaiprobeError(f"--n-components {args.n_components}: must be >= 1")
    dev = resolve_device(args.device)
    ck = load_checkpoint(args.checkpoint, dev)
    clf = load_classifier(args.classifier, dev)
    dirs = fit_directions(ck.generator, clf, n=args.n, methods=methods, seed=args.seed,
                          generator_sha256=ck.sha256, n_components=args.n_components, device=dev)
    path = dirs.save(args.out)
    print(f"directions: {path} ({', '.join(dirs.methods)}; {len(dirs.attribute_names)} attributes; nz={dirs.nz}; n={args.n})")
    cos = dirs.info["cosine_to_lstsq"]
    print(f"{'attribute':<14} {'held-out R2':>11} " + " ".join(f"{'cos ' + m:>16}" for m in dirs.methods if m != "lstsq"))
    for a in dirs.attribute_names:
        print(f"{a:<14} {dirs.info['lstsq_r2'][a]:>11.3f} "
              + " ".join(f"{cos[m][a]:>16.3f}" for m in dirs.methods if m != "lstsq"))
    return 0
