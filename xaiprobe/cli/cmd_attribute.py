"""`xaiprobe attribute`: Captum attribution maps of D's logit or of a concept, with checks."""
from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser(
        "attribute", help="attribution maps (IG, saliency, Grad-CAM, ...) of D's logit or a concept",
        description="Explain single decisions of the discriminator with Captum: which pixels raise D's real/fake "
                    "logit (--target logit) or make D 'see' a concept at a layer (--target concept:Smiling@conv3, "
                    "needs the probes of `xaiprobe probe`). Writes overlay grids, the raw maps (HDF5), a cascading "
                    "randomization sanity check, and localization scores on SynthFaces region masks.")
    p.add_argument("--checkpoint", required=True, help="xaiprobe checkpoint (.pt) of the GAN")
    p.add_argument("--images", default=None,
                   help="images: data spec (synthfaces:N, folder:DIR, STORE.h5, ...) or generated:N "
                        "[the checkpoint's training data]")
    p.add_argument("--n", type=int, default=16, help="images to attribute [16]")
    p.add_argument("--split", default="test", help="split the images are drawn from: train, val, test, all [test]")
    p.add_argument("--method", action="append", default=None,
                   help="ig, saliency, gradshap, smoothgrad, gradcam, occlusion or all; repeat or comma-separate [ig]")
    p.add_argument("--target", default="logit", help="logit or concept:NAME@LAYER (e.g. concept:Smiling@conv3) [logit]")
    p.add_argument("--probes", default=None, help="directory of `xaiprobe probe` (probe_<layer>.pt) or `xaiprobe decode` output")
    p.add_argument("--layer", default=None, help="Grad-CAM layer (alias or module path) [concept layer, else conv3]")
    p.add_argument("--steps", type=int, default=50, help="integrated-gradients steps [50]")
    p.add_argument("--no-sanity", dest="sanity", action="store_false", help="skip the randomization sanity check")
    p.add_argument("--sanity-n", type=int, default=8, help="images used by the sanity check [8]")
    p.add_argument("--localization", choices=("auto", "on", "off"), default="auto",
                   help="localization on region masks: auto = when the images have masks [auto]")
    p.add_argument("--localization-n", type=int, default=32, help="images per concept for localization [32]")
    p.add_argument("--batch-size", type=int, default=16, help="images per Captum call [16]")
    p.add_argument("--seed", type=int, default=0, help="seed of image choice, noise baselines, randomization [0]")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N [cuda when present]")
    p.add_argument("--out", default=None, help="output directory [RUN/attribution next to the checkpoint]")
    p.set_defaults(run=run)
    return p


def run(args) -> int:
    import sys

    from .._utils.errors import XaiprobeError

    for name in ("n", "sanity_n", "localization_n", "batch_size", "steps"):
        if getattr(args, name) < 1:
            raise XaiprobeError(f"--{name.replace('_', '-')} {getattr(args, name)}: must be >= 1")
    from ..attribution.run import parse_methods, run_attribution

    methods = parse_methods(args.method or ["ig"])
    kw = {m: {"n_steps": args.steps} for m in ("ig",) if m in methods}
    loc = {"auto": None, "on": True, "off": False}[args.localization]
    entry = run_attribution(args.checkpoint, args.images, args.out, methods, args.target, args.probes, n=args.n,
                            split=args.split, layer=args.layer, sanity=args.sanity, sanity_n=args.sanity_n,
                            localization=loc, localization_n=args.localization_n, device=args.device, seed=args.seed,
                            batch_size=args.batch_size, method_kwargs=kw, progress=sys.stderr.isatty())
    from ..attribution.run import default_stage_dir
    out = args.out or default_stage_dir(args.checkpoint, "attribution")
    print(f"attribution: {entry['n_images']} images, target {entry['target']}, methods {', '.join(entry['methods'])}")
    for m, s in entry["seconds_per_image"].items():
        print(f"  {m}: {s:.3f} s/image")
    if "sanity" in entry:
        print("sanity check (Spearman rho of |maps|, trained vs randomized top-down):")
        print(entry["sanity"]["markdown"])
    if "localization" in entry:
        print("localization:")
        print(entry["localization"]["markdown"])
    from ..attribution.summary import attribution_summary

    for line in attribution_summary({entry["target"]: entry})["findings"]:
        print(f"  {line}")
    print(f"wrote {out}/ (maps: {entry['maps_file']})")
    return 0
