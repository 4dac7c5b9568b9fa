"""`xaiprobe demo`: every stage on the shipped models, one HTML report.

The demo is a sequence of ordinary xaiprobe commands, printed as it goes and recorded in the
report with their wall time and the process's peak memory, so every figure can be reproduced one
stage at a time. It analyses the shipped SynthFaces DCGAN (extraction, probes and decoders with
their controls, attributions, filters, generator analysis, membership inference with its positive
control, latent editing with the shipped attribute classifier, sample quality), the shipped
AE-ACGAN beside it (what a discriminator knows with and without labels), and audits the shipped
no-Eyeglasses client against the reference with its null audit.
"""
from __future__ import annotations

import json
import resource
import shlex
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .._assets import shipped
from .._layout import activations_path, checkpoints_dir, config_path, stage_dir
from .._utils.errors import XaiprobeError
from .._utils.figures import write_json
from .._utils.io import ensure_writable_dir
from ..config import StageConfig, add_arguments, from_namespace, param

#: the demo's steps, in the order it runs them
STEPS = ("train", "extract", "probe", "decode", "concepts", "attribute", "filters", "generator", "mia",
         "directions", "edit", "quality", "aeacgan", "audit")


@dataclass
class DemoConfig(StageConfig):
    stage = "demo"
    out: str = param("runs/demo", "run directory", path=True)
    n_images: int = param(3000, "SynthFaces images for activations, probes, attributions and filters", low=200)
    skip: tuple[str, ...] = param((), "steps to leave out", choices=STEPS)
    checkpoint: str = param(None, "analyse this DCGAN checkpoint instead of the shipped one", path=True)
    from_scratch: bool = param(False, "train the DCGAN first (xaiprobe train) instead of using the shipped one")
    epochs: int = param(5, "epochs for --from-scratch", low=1)
    train_control: bool = param(False, "train the membership attack's positive control anew instead of using the "
                                       "shipped one (always trained with --from-scratch or --checkpoint)")
    device: str = param(None, "cpu, cuda or cuda:N (CUDA when present)")


def add_parser(sub):
    p = sub.add_parser("demo", help="run every stage on the shipped models and write RUN/report/index.html",
                       description=__doc__.strip().split("\n\n")[1])
    add_arguments(p, DemoConfig)
    return p


def _rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _step(name: str, argv: list[str], log: list) -> None:
    from .main import main

    line = "xaiprobe " + " ".join(shlex.quote(a) for a in argv)
    print(f"\n[demo] {name}: {line}", flush=True)
    t0 = time.perf_counter()
    rc = main(argv)
    dt = time.perf_counter() - t0
    log.append({"stage": name, "command": line, "seconds": round(dt, 1), "peak_rss_mb": round(_rss_mb()),
                "exit_code": rc})
    if rc != 0:
        raise XaiprobeError(f"demo step {name!r} failed (exit code {rc}) — see the line above; rerun it alone with "
                            f"`{line}` or leave it out with --skip {name}")
    print(f"[demo] {name} done in {dt:.0f} s", flush=True)


def run(args) -> int:
    from ..gan._train_stage import describe_checkpoint
    from ..gan._train_stage import section as train_section
    from ..gan.checkpoint import load_checkpoint
    from ..report import Section
    from ..report.html import build_report

    cfg = from_namespace(DemoConfig, args)
    skip = set(cfg.skip)
    run_dir = ensure_writable_dir(cfg.out)
    dev = ["--device", cfg.device] if cfg.device else []
    out = ["--out", str(run_dir)]
    log: list[dict] = []
    t_start = time.perf_counter()

    # the model: shipped, given, or trained now
    ckpt = checkpoints_dir(run_dir) / "last.pt"
    if cfg.from_scratch:
        if ckpt.exists():
            print(f"[demo] reusing {ckpt} (delete {run_dir} to train again)")
        else:
            _step("train", ["train", "--data", "synthfaces:4000", "--epochs", str(cfg.epochs), "--batch-size", "64",
                            *out, *dev], log)
    else:
        src = Path(cfg.checkpoint) if cfg.checkpoint else shipped("dcgan")
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        if not ckpt.exists() or ckpt.stat().st_size != src.stat().st_size:
            shutil.copyfile(src, ckpt)
    own_models = not (cfg.from_scratch or cfg.checkpoint)
    loaded = load_checkpoint(ckpt)
    data_all = loaded.data.get("spec", "synthfaces")
    images = f"synthfaces:{cfg.n_images}"
    if "train" not in skip and not log:
        t0 = time.perf_counter()
        train_section(describe_checkpoint(loaded, stage_dir(run_dir, "train"),
                                          command=(loaded.raw.get("extra") or {}).get("command", ""))
                      ).save(stage_dir(run_dir, "train"))
        log.append({"stage": "train", "command": "(the shipped checkpoint's training history)",
                    "seconds": round(time.perf_counter() - t0, 1), "peak_rss_mb": round(_rss_mb()), "exit_code": 0})
    c = str(ckpt)
    acts = str(activations_path(run_dir))
    probes = stage_dir(run_dir, "probes")
    steps = {
        "extract": ["extract", "--checkpoint", c, "--data", images, "--layers", "all", "--pooling", "avg2",
                    "--split", "all", "--overwrite"],
        "probe": ["probe", "--activations", acts, "--cs", "0.001,0.01,0.1", "--bootstrap", "100"],
        "decode": ["decode", "--activations", acts, "--no-plots",
                   *(["--probes", str(probes)] if "probe" not in skip else [])],
        "concepts": ["concepts", "--decoders", str(stage_dir(run_dir, "decoders")), "--checkpoint", c,
                     "--images", "generated:1000", "--real", images],
        "attribute": ["attribute", "--checkpoint", c, "--images", images, "--n", "8",
                      "--methods", "ig,saliency,gradcam", "--steps", "20", "--sanity-n", "4",
                      "--localization-n", "16", "--target", "concept:Smiling@conv3", "--probes", str(probes)],
        "filters": ["filters", "--checkpoint", c, "--data", images, "--layer", "conv3", "--channels", "0:4",
                    "--n", "600", "--steps", "30"],
        "generator": ["generator", "--checkpoint", c, "--dims", "8", "--pairs", "16"],
        "mia": ["mia", "--checkpoint", c, "--data", data_all, "--control"],
        "directions": ["directions", "--checkpoint", c, "--n", "2000"],
        "edit": ["edit", "--checkpoint", c, "--directions", str(stage_dir(run_dir, "directions") / "directions.pt"),
                 "--attributes", "all", "--methods", "lstsq", "--alphas=-3:3:7", "--n", "6",
                 "--decoders", str(stage_dir(run_dir, "decoders"))],
        "quality": ["quality", "--checkpoint", c, "--data", data_all, "--n", "500"],
    }
    if own_models:
        ae, noae = shipped("aeacgan", required=False), shipped("aeacgan_noae", required=False)
        if ae is not None:
            steps["aeacgan"] = ["aeacgan", "--checkpoint", str(ae), "--dcgan", c,
                                *(["--ablation", str(noae)] if noae is not None else [])]
        client, null = shipped("client_noeyeglasses", required=False), shipped("null_seed1", required=False)
        if client is not None:
            steps["audit"] = ["audit", "--reference", c, "--client", str(client),
                              *(["--null", str(null)] if null is not None else [])]
    for name in STEPS:
        if name in skip or name not in steps:
            if name not in skip and name in ("aeacgan", "audit"):
                print(f"[demo] {name}: skipped (needs the shipped models; it runs on the shipped DCGAN only)")
            continue
        if name == "mia":
            control = stage_dir(run_dir, "mia") / "control"
            if own_models and not cfg.train_control:
                _install_shipped_control(control)
            elif cfg.train_control:
                _remove_shipped_control(control)
        _step(name, [*steps[name], *out, *dev], log)
    total = time.perf_counter() - t_start
    write_json(config_path(run_dir), {
        "command": cfg.command(), "checkpoint": str(ckpt), "data": data_all, "images": images,
        "seconds": round(total, 1), "peak_rss_mb": round(_rss_mb()), "stages": log,
    })
    report = build_report(run_dir)
    print(f"\n[demo] finished in {total / 60:.1f} min (peak memory {_rss_mb():.0f} MB)")
    for d in sorted(p for p in run_dir.iterdir() if (p / "section.json").is_file()):
        try:
            sec = Section.load(d)
        except XaiprobeError:
            continue
        if sec.headline:
            print(f"  {sec.title:<28} {sec.headline}")
    print(f"[demo] report: {report.resolve()} ({report.stat().st_size / 1e6:.1f} MB) — open it in a browser")
    return 0


def _install_shipped_control(control_dir: Path) -> None:
    """Put the shipped positive control where `xaiprobe mia --control` looks for a reusable one.

    It was trained by ``xaiprobe.mia.positive_control`` with the default control settings on the
    shipped model's data (64 members, 80 epochs, batch 8, seed 0); the attack reuses it because
    data, member count, architecture and recipe match, and retrains otherwise.
    """
    ref = shipped("mia_control", required=False)
    last = checkpoints_dir(control_dir) / "last.pt"
    if ref is None or last.exists():
        return
    last.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ref, last)
    (control_dir / "config.json").write_text(json.dumps({
        "command": "xaiprobe.mia.positive_control(n_members=64, epochs=80)", "shipped": str(ref.name)}, indent=1))
    print(f"[demo] positive control: the shipped one ({ref.name}); `xaiprobe demo --train-control` trains it anew")


def _remove_shipped_control(control_dir: Path) -> None:
    """Delete a shipped control installed by an earlier demo run, so that it is trained anew."""
    try:
        was_shipped = bool(json.loads((control_dir / "config.json").read_text()).get("shipped"))
    except (OSError, ValueError, AttributeError):
        return
    if was_shipped:
        (checkpoints_dir(control_dir) / "last.pt").unlink(missing_ok=True)
        (control_dir / "config.json").unlink(missing_ok=True)
