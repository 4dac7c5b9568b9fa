"""`xaiprobe mia --checkpoint C --out DIR`: membership inference from discriminator logits."""
from __future__ import annotations

import sys

def add_parser(sub):
    p = sub.add_parser(
        "mia", help="membership inference: does D remember its training images? (+ positive control)",
        description="Score-based membership-inference attack on the discriminator's logits. Members are the "
                    "checkpoint's recorded training images, non-members disjoint images of the same data set; "
                    "the threshold is chosen on a calibration part and everything is reported on the test part "
                    "(ROC-AUC, accuracy, balanced accuracy, TPR at 1%% and 0.1%% FPR, LOGAN precision, "
                    "bootstrap intervals). Writes OUT/results.json, summary.json, figures.json, scores.npz "
                    "and plots.")
    p.add_argument("--checkpoint", default=None, help="checkpoint of the attacked GAN (default: DIR/last.pt of --checkpoints)")
    p.add_argument("--data", default=None,
                   help="data set with members and non-members [the checkpoint's]; for SynthFaces a larger "
                        "synthfaces:N with the same seed adds fresh non-members")
    p.add_argument("--reference", default=None,
                   help="reference GAN checkpoint trained on disjoint data: adds the calibrated score "
                        "(target logit - reference logit)")
    p.add_argument("--members", default=None, help="FILE.npy of the training images' data-set indices "
                                                   "(for checkpoints that record none)")
    p.add_argument("--nonmembers", default=None, help="FILE.npy of non-member data-set indices [all other images]")
    p.add_argument("--n-max", type=int, default=None, help="at most N images per class (after balancing)")
    p.add_argument("--calibration-fraction", type=float, default=0.5,
                   help="share of each class used to choose the threshold [0.5]")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates for the intervals [1000]")
    p.add_argument("--seed", type=int, default=0, help="seed of subsampling, split and bootstrap [0]")
    p.add_argument("--control", action="store_true",
                   help="also train and attack a positive control: the same architecture trained on a tiny "
                        "member set until it memorizes")
    p.add_argument("--control-members", type=int, default=None, help="control training-set size [64]")
    p.add_argument("--control-epochs", type=int, default=None, help="control training epochs [80]")
    p.add_argument("--control-batch-size", type=int, default=None, help="control batch size [8]")
    p.add_argument("--checkpoints", default=None, help="directory of epoch_NNN.pt: also the attack's AUC per epoch")
    p.add_argument("--batch-size", type=int, default=256, help="scoring batch size [256]")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N [cuda when present]")
    p.add_argument("--out", default=None, help="output directory [RUN/mia for RUN/checkpoints/*.pt]")
    p.set_defaults(run=run)
    return p


_OPTIONS = ("checkpoint", "data", "reference", "members", "nonmembers", "n_max", "calibration_fraction", "bootstrap",
            "seed", "control", "control_members", "control_epochs", "control_batch_size", "checkpoints",
            "batch_size", "device", "out")


def _command_line(args) -> str:
    """The equivalent `xaiprobe mia ...` command (recorded in summary.json)."""
    import shlex

    parts = ["xaiprobe", "mia"]
    for name in _OPTIONS:
        v = getattr(args, name, None)
        if v is None or v is False:
            continue
        parts.append(f"--{name.replace('_', '-')}" + ("" if v is True else f" {shlex.quote(str(v))}"))
    return " ".join(parts)


def _default_out(checkpoint, checkpoints_dir):
    from pathlib import Path

    from .._utils.errors import XaiprobeError

    for p in (checkpoint, checkpoints_dir):
        if p is None:
            continue
        p = Path(p)
        d = p if p.is_dir() else p.parent
        if d.name == "checkpoints":
            return d.parent / "mia"
    raise XaiprobeError("--out: required when the checkpoint is not in RUN/checkpoints/; pass --out DIR")


def _check_args(args):
    from .._utils.errors import XaiprobeError

    for name in ("n_max", "bootstrap", "batch_size", "control_members", "control_epochs", "control_batch_size"):
        v = getattr(args, name)
        low = 0 if name == "bootstrap" else (2 if name == "n_max" else 1)
        if v is not None and v < low:
            raise XaiprobeError(f"--{name.replace('_', '-')} {v}: must be >= {low}")
    if not 0 < args.calibration_fraction < 1:
        raise XaiprobeError(f"--calibration-fraction {args.calibration_fraction}: must be between 0 and 1, e.g. 0.5")
    if args.checkpoint is None and args.checkpoints is None:
        raise XaiprobeError("--checkpoint: required (or --checkpoints DIR, whose last.pt is attacked)")
    if not args.control and any(getattr(args, n) is not None for n in ("control_members", "control_epochs",
                                                                         "control_batch_size")):
        raise XaiprobeError("--control-members/--control-epochs/--control-batch-size: only with --control")


def run(args) -> int:
    import logging
    import warnings
    from pathlib import Path

    from .._utils.io import ensure_writable_dir
    from ..gan.checkpoint import load_checkpoint
    from ..mia.control import CONTROL_BATCH_SIZE, CONTROL_EPOCHS, CONTROL_MEMBERS, positive_control
    from ..mia.epochs import attack_by_epoch, epoch_checkpoints
    from ..mia.inference import _load_data, membership_attack
    from ..mia.report import write_outputs
    from ..mia.samples import load_index_file
    from .._utils.device import resolve_device

    _check_args(args)
    log = logging.getLogger("xaiprobe.mia")
    ckpt_path = args.checkpoint
    if ckpt_path is None:
        d = Path(args.checkpoints)
        ckpt_path = d / "last.pt" if (d / "last.pt").is_file() else epoch_checkpoints(d)[-1][1]
    out = Path(args.out) if args.out else _default_out(ckpt_path, args.checkpoints)
    ensure_writable_dir(out)
    members = load_index_file(args.members, "members") if args.members else None
    nonmembers = load_index_file(args.nonmembers, "non-members") if args.nonmembers else None
    device = resolve_device(args.device)
    ckpt = load_checkpoint(ckpt_path, device=device)
    data = _load_data(args.data, ckpt)
    opts = dict(calibration_fraction=args.calibration_fraction, seed=args.seed, n_max=args.n_max,
                n_bootstrap=args.bootstrap, batch_size=args.batch_size, device=device)
    attacks, control, curve = {}, None, None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = membership_attack(ckpt, data=data, reference=args.reference, members=members,
                                nonmembers=nonmembers, progress=True, **opts)
        if res.baseline is not None:
            attacks["logit"], attacks["calibrated"] = res.baseline, res
        else:
            attacks["logit"] = res
        if args.control:
            control = positive_control(
                data, out / "control", n_members=args.control_members or CONTROL_MEMBERS,
                epochs=args.control_epochs or CONTROL_EPOCHS,
                batch_size=args.control_batch_size or CONTROL_BATCH_SIZE, config=ckpt.arch, seed=args.seed,
                device=device, calibration_fraction=args.calibration_fraction, n_bootstrap=args.bootstrap)
            attacks["control"] = control.result
        if args.checkpoints:
            curve = attack_by_epoch(args.checkpoints, data=data, members=members, nonmembers=nonmembers,
                                    calibration_fraction=args.calibration_fraction, seed=args.seed, n_max=args.n_max,
                                    n_bootstrap=min(args.bootstrap, 500), batch_size=args.batch_size, device=device,
                                    progress=True)
    seen = set()
    for w in caught:
        msg = str(w.message)
        if msg not in seen:
            seen.add(msg)
            print(f"xaiprobe mia: warning: {msg}", file=sys.stderr)
    for w_name, r in attacks.items():
        log.debug("%s: %s", w_name, r)
    summary = write_outputs(out, attacks, control=control, curve=curve, checkpoint=ckpt, data=data,
                            command=_command_line(args))
    for r in attacks.values():
        print(f"mia: {r}")
    if control is not None:
        print(f"mia: positive control trained {control.settings['epochs']} epochs on {control.settings['n_members']} "
              f"images in {control.seconds:.0f} s" + ("" if control.trained else f" (reused {control.checkpoint})"))
    if curve is not None:
        print("mia: AUC by epoch " + ", ".join(f"{e}: {a:.3f}" for e, a in zip(curve.epochs, curve.auc)))
    for f in summary["findings"]:
        print(f"mia: {f}")
    print(f"mia: results in {out}/results.json")
    return 0
