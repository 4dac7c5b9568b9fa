"""`xaiprobe demo`: the whole analysis on the embedded SynthFaces DCGAN, one HTML report.

The demo is a sequence of ordinary xaiprobe commands (printed as it goes and recorded in the
report), so every figure it makes can be reproduced one stage at a time.
"""
from __future__ import annotations

import shlex
import time

STAGES = ["train", "extract", "probe", "decode", "concepts", "attribute", "filters", "generator", "mia", "editing"]


def add_parser(sub):
    p = sub.add_parser(
        "demo", help="run the whole analysis on the shipped SynthFaces DCGAN and write RUN/report/index.html",
        description="Run every stage (extraction, probes and decoders with controls, attributions with the "
                    "sanity check, filters, generator analysis, membership inference with its positive control, "
                    "latent editing) on the pretrained SynthFaces DCGAN shipped with xaiprobe, then write one "
                    "self-contained HTML report.")
    p.add_argument("--out", default="runs/demo", help="run directory [runs/demo]")
    p.add_argument("--from-scratch", action="store_true",
                   help="train the DCGAN first (xaiprobe train) instead of using the shipped one")
    p.add_argument("--epochs", type=int, default=5, help="epochs for --from-scratch [5]")
    p.add_argument("--checkpoint", default=None, help="analyse this checkpoint instead of the shipped one")
    p.add_argument("--train-control", action="store_true",
                   help="train the membership attack's positive control (about 2 CPU minutes) instead of using the "
                        "one shipped with xaiprobe (always trained with --from-scratch or --checkpoint)")
    p.add_argument("--n-images", type=int, default=3000,
                   help="SynthFaces images used for activations, probes, attributions and filters [3000]")
    p.add_argument("--skip", default="", help=f"comma list of stages to skip: {', '.join(STAGES)}")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N [cuda when present]")
    return p


def _step(name: str, argv: list[str], log: list) -> None:
    from .._utils.errors import XaiprobeError
    from .main import main

    line = "xaiprobe " + " ".join(shlex.quote(a) for a in argv)
    print(f"\n[demo] {name}: {line}", flush=True)
    t0 = time.perf_counter()
    rc = main(argv)
    dt = time.perf_counter() - t0
    log.append({"stage": name, "command": line, "seconds": round(dt, 1), "exit_code": rc})
    if rc != 0:
        raise XaiprobeError(f"demo stage {name!r} failed (exit code {rc}) — see the line above; "
                            f"rerun it alone with `{line}` or skip it with --skip {name}")
    print(f"[demo] {name} done in {dt:.0f} s", flush=True)


def run(args) -> int:
    import shutil
    from pathlib import Path

    from .._utils.errors import XaiprobeError
    from .._utils.io import ensure_writable_dir
    from ..gan.checkpoint import load_checkpoint
    from ..report.html import build_report
    from ..report.style import write_json
    from ..gan._train_stage import describe_checkpoint
    from ..gan._train_stage import section as train_section

    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = skip - set(STAGES)
    if unknown:
        raise XaiprobeError(f"--skip {','.join(sorted(unknown))}: unknown stage; stages are {', '.join(STAGES)}")
    if args.n_images < 200:
        raise XaiprobeError(f"--n-images {args.n_images}: too few for train/val/test probes; use at least 200")
    run_dir = ensure_writable_dir(args.out)
    dev = ["--device", args.device] if args.device else []
    log: list[dict] = []
    t_start = time.perf_counter()

    # 1. the model: shipped, given, or trained now
    ckpt_dir = run_dir / "checkpoints"
    if args.from_scratch:
        if (ckpt_dir / "last.pt").exists():
            print(f"[demo] reusing {ckpt_dir / 'last.pt'} (delete {run_dir} to train again)")
        else:
            _step("train", ["train", "--data", "synthfaces:4000", "--epochs", str(args.epochs), "--batch-size", "64",
                            "--out", str(run_dir), *dev], log)
        ckpt = ckpt_dir / "last.pt"
    else:
        src = Path(args.checkpoint) if args.checkpoint else _shipped_checkpoint()
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        ckpt = ckpt_dir / "last.pt"
        if not ckpt.exists() or ckpt.stat().st_size != src.stat().st_size:
            shutil.copyfile(src, ckpt)
    loaded = load_checkpoint(ckpt)
    data_all = loaded.data.get("spec", "synthfaces")
    images = f"synthfaces:{args.n_images}"
    if "train" not in skip:
        train_section(describe_checkpoint(loaded, run_dir / "train", command=log[0]["command"] if log else "")
                      ).save(run_dir / "train")
    c = str(ckpt)
    acts = run_dir / "activations.h5"
    steps = [
        ("extract", ["extract", "--checkpoint", c, "--data", images, "--layers", "all", "--pooling", "avg2",
                     "--split", "all", "--out", str(run_dir), "--overwrite", *dev]),
        ("probe", ["probe", "--activations", str(acts), "--out", str(run_dir),
                   "--cs", "0.001,0.01,0.1", "--bootstrap", "100", *dev]),
        ("decode", ["decode", "--activations", str(acts), "--out", str(run_dir), "--no-plots", *dev,
                    *(["--probes", str(run_dir / "probes")] if "probe" not in skip else [])]),
        ("concepts", ["concepts", "--decoders", str(run_dir / "decoders"), "--checkpoint", c,
                      "--images", "generated:1000", "--real", images, "--out", str(run_dir), *dev]),
        ("attribute", ["attribute", "--checkpoint", c, "--images", images, "--n", "8",
                       "--methods", "ig,saliency,gradcam", "--steps", "20", "--sanity-n", "4",
                       "--localization-n", "16", "--target", "concept:Smiling@conv3",
                       "--probes", str(run_dir / "probes"), "--out", str(run_dir), *dev]),
        ("filters", ["filters", "--checkpoint", c, "--data", images, "--layer", "conv3", "--channels", "0:4",
                     "--n", "600", "--steps", "30", "--out", str(run_dir), *dev]),
        ("generator", ["generator", "--checkpoint", c, "--dims", "8", "--pairs", "16",
                       "--out", str(run_dir), *dev]),
        ("mia", ["mia", "--checkpoint", c, "--data", data_all, "--control", "--out", str(run_dir), *dev]),
    ]
    for name, argv in steps:
        if name in skip:
            continue
        if name == "mia":
            if not args.from_scratch and not args.checkpoint and not args.train_control:
                _install_shipped_control(run_dir / "mia" / "control")
            elif args.train_control:
                _remove_shipped_control(run_dir / "mia" / "control")
        _step(name, argv, log)
    if "editing" not in skip:
        clf = run_dir / "editing" / "classifier.pt"
        _step("classifier", ["classifier", "train", "--data", images, "--epochs", "3", "--width", "16",
                             "--out", str(clf), *dev], log)
        dirs = run_dir / "directions" / "directions.pt"
        _step("directions", ["directions", "--checkpoint", c, "--classifier", str(clf), "--n", "2000",
                             "--out", str(run_dir), *dev], log)
        _step("edit", ["edit", "--checkpoint", c, "--directions", str(dirs), "--classifier", str(clf),
                       "--attributes", "all", "--methods", "lstsq", "--alphas=-3:3:7", "--n", "6",
                       "--decoders", str(run_dir / "decoders"), "--out", str(run_dir), *dev], log)
    total = time.perf_counter() - t_start
    write_json(run_dir / "config.json", {
        "command": _command_line(args), "checkpoint": str(ckpt), "data": data_all, "images": images,
        "seconds": round(total, 1), "stages": log,
    })
    report = build_report(run_dir)
    print(f"\n[demo] finished in {total / 60:.1f} min")
    _print_summary(run_dir)
    print(f"[demo] report: {report.resolve()} ({report.stat().st_size / 1e6:.1f} MB) — open it in a browser")
    return 0


def _install_shipped_control(control_dir) -> None:
    """Put the shipped positive control where `xaiprobe mia --control` looks for a reusable one.

    It was trained by ``xaiprobe mia --control`` with the default control settings on the shipped
    model's data (64 members, 80 epochs, batch 8, seed 0); the attack reuses it because data,
    member count, architecture and recipe match, and retrains otherwise.
    """
    import json
    import shutil
    from importlib import resources

    ref = resources.files("xaiprobe") / "assets" / "dcgan_synthfaces_control.pt"
    last = control_dir / "checkpoints" / "last.pt"
    if not ref.is_file() or last.exists():
        return
    last.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ref, last)
    (control_dir / "config.json").write_text(json.dumps({
        "command": "xaiprobe.mia.positive_control(n_members=64, epochs=80)",
        "shipped": "xaiprobe/assets/dcgan_synthfaces_control.pt"}, indent=1))
    print(f"[demo] positive control: the shipped one ({ref.name}); `xaiprobe demo --train-control` trains it anew")


def _remove_shipped_control(control_dir) -> None:
    """Delete a shipped control installed by an earlier demo run, so that it is trained anew."""
    import json

    try:
        shipped = bool(json.loads((control_dir / "config.json").read_text()).get("shipped"))
    except (OSError, ValueError, AttributeError):
        return
    if shipped:
        (control_dir / "checkpoints" / "last.pt").unlink(missing_ok=True)
        (control_dir / "config.json").unlink(missing_ok=True)


def _shipped_checkpoint():
    from importlib import resources

    from .._utils.errors import XaiprobeError

    ref = resources.files("xaiprobe") / "assets" / "dcgan_synthfaces.pt"
    if not ref.is_file():
        raise XaiprobeError("the shipped SynthFaces checkpoint is missing from this installation; "
                            "run `xaiprobe demo --from-scratch` or pass --checkpoint FILE")
    return ref


def _command_line(args) -> str:
    """The `xaiprobe demo ...` command that reproduces this run (recorded in config.json)."""
    from .._utils.command import command_line

    return command_line("demo", [
        ("--out", args.out), ("--n-images", args.n_images), ("--from-scratch", args.from_scratch),
        ("--epochs", args.epochs if args.from_scratch else None), ("--checkpoint", args.checkpoint or None),
        ("--train-control", args.train_control), ("--skip", args.skip or None), ("--device", args.device)])


def _print_summary(run_dir, per_stage: int = 2) -> None:
    """Print up to ``per_stage`` findings of every stage that has them, in the order of the data flow."""
    import json

    from ..report.html import STAGES

    known = [s for s, _ in STAGES]
    extra = sorted(p.name for p in run_dir.iterdir()
                   if p.is_dir() and p.name not in known and p.name != "report"
                   and ((p / "summary.json").exists() or (p / "section.json").exists()))
    for stage in known + extra:
        findings = _section_findings(run_dir / stage)
        if findings is None:
            p = run_dir / stage / "summary.json"
            if not p.exists():
                continue
            try:
                findings = json.loads(p.read_text()).get("findings") or []
            except (OSError, ValueError, AttributeError):
                continue
        for f in findings[:per_stage]:
            print(f"  {stage:<11} {f}")


def _section_findings(stage_dir) -> list | None:
    """The findings of a stage's section.json, or None when it has none."""
    from .._utils.errors import XaiprobeError
    from ..report import Section

    if not (stage_dir / "section.json").is_file():
        return None
    try:
        return list(Section.load(stage_dir).findings)
    except XaiprobeError:
        return None
