"""Membership inference on your own GAN checkpoint: does its discriminator remember its training images?

Two attacks, both thresholded on a calibration half and measured on the other half:

1. ``xp.membership_attack(checkpoint)``: the discriminator's raw logit on the checkpoint's
   recorded training images (members) against images of the same distribution it never saw;
2. ``xp.attack_scores(members, non_members)``: the same metrics for scores you computed
   yourself. Pass them with ``--scores FILE.npz`` (arrays ``members`` and ``nonmembers``,
   higher = more likely a member); without it the script makes an example score, the logit
   averaged over each image and its mirror image, and saves it in that format.

Writes OUT/metrics.json, OUT/scores.npz (the attacked scores of both attacks) and OUT/roc.png.

Usage::

    python examples/attack_user_checkpoint.py --out /tmp/mia                      # the shipped DCGAN
    python examples/attack_user_checkpoint.py runs/x/checkpoints/last.pt --out /tmp/mia
    python examples/attack_user_checkpoint.py --out /tmp/mia --quick              # 150 + 150 images
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import torch

import xaiprobe as xp


def attacked_images(ck, n_per_class: int | None, seed: int):
    """The data to attack on: the checkpoint's data set, or with ``n_per_class`` only that many
    SynthFaces members and non-members, rendered on their own (no full data set needed)."""
    spec = str((ck.data or {}).get("spec", ""))
    if n_per_class is None or not spec.startswith("synthfaces"):
        return xp.load_dataset(spec) if spec else None
    parts = spec.split(":")
    n_total = int(parts[1]) if len(parts) > 1 and parts[1] else 8000
    seed_data = int(parts[2]) if len(parts) > 2 else 0
    rng = np.random.default_rng(seed)
    members = np.asarray(ck.members, dtype=np.int64)
    others = np.setdiff1d(np.arange(n_total, dtype=np.int64), members)
    if others.size == 0:  # trained on every image: fresh faces beyond the data set are non-members
        others = np.arange(n_total, n_total + n_per_class, dtype=np.int64)
    idx = np.sort(np.concatenate([rng.choice(members, min(n_per_class, members.size), replace=False),
                                  rng.choice(others, min(n_per_class, others.size), replace=False)]))
    pixels, labels, _ = xp.render_synthfaces(idx, seed=seed_data, masks=False)
    return xp.ImageSet(pixels, labels, list(xp.ATTRIBUTES), np.zeros(idx.size, np.uint8), spec, index=idx)


def mirror_scores(D, data, index) -> np.ndarray:
    """An example user score: D's logit averaged over each image and its left-right mirror."""
    row_of = {int(i): r for r, i in enumerate(data.index)}
    rows = np.asarray([row_of[int(i)] for i in index], dtype=np.int64)
    out = []
    with torch.no_grad():
        for start in range(0, rows.size, 128):
            x = data.images(rows[start:start + 128])
            both = D(torch.cat([x, x.flip(-1)])).reshape(2 * len(x), -1)[:, 0]
            out.append(((both[:len(x)] + both[len(x):]) / 2).numpy())
    return np.concatenate(out) if out else np.empty(0)


def read_user_scores(path) -> tuple[np.ndarray, np.ndarray]:
    """(member scores, non-member scores) from an .npz with arrays ``members`` and ``nonmembers``."""
    try:
        with np.load(path, allow_pickle=False) as z:
            files = list(z.files)
            if {"members", "nonmembers"} <= set(files):
                return np.asarray(z["members"], np.float64), np.asarray(z["nonmembers"], np.float64)
    except (OSError, ValueError, AttributeError):
        raise xp.XaiprobeError(f"--scores {path}: not a readable .npz file; save your scores with "
                               "np.savez(FILE, members=..., nonmembers=...)") from None
    raise xp.XaiprobeError(f"--scores {path}: needs arrays 'members' and 'nonmembers' "
                           f"(it has {', '.join(files) or 'none'}); save them with np.savez")


def plot_roc(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4))
    for name, r in results.items():
        fpr, tpr, _ = r.roc()
        ax.plot(fpr, tpr, label=f"{name} (AUC {r.auc:.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", nargs="?", default=None,
                    help="xaiprobe GAN checkpoint (.pt) [the SynthFaces DCGAN shipped with xaiprobe]")
    ap.add_argument("--out", default="mia_example", help="output directory [mia_example]")
    ap.add_argument("--scores", default=None, help="your own scores: .npz with arrays members and nonmembers")
    ap.add_argument("--quick", action="store_true", help="150 members + 150 non-members, 200 bootstrap replicates")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        torch.set_num_threads(1)  # tiny batches: more threads only wait
        # 75 test non-members cannot measure TPR at 1% or 0.1% FPR; those are reported as n/a
        warnings.filterwarnings("ignore", message=".*cannot be measured with")
    user = read_user_scores(args.scores) if args.scores else None  # bad input fails before the work
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    with resources.as_file(resources.files("xaiprobe") / "assets" / "dcgan_synthfaces.pt") as shipped:
        ck = xp.load_checkpoint(args.checkpoint or shipped, device="cpu")
    print(f"checkpoint {args.checkpoint or 'shipped dcgan_synthfaces.pt'}: epoch {ck.epoch}, "
          f"{len(ck.members)} recorded training images of {ck.data.get('spec', '?')}")
    data = attacked_images(ck, 150 if args.quick else None, args.seed)
    n_boot = 200 if args.quick else 1000

    members = np.intersect1d(ck.members, data.index) if data is not None else None  # those in the attacked images
    results = {"logit": xp.membership_attack(ck, data=data, members=members, n_bootstrap=n_boot, seed=args.seed)}
    if user is not None:
        (sm, sn), name = user, Path(args.scores).stem
    else:
        r = results["logit"]
        D = ck.discriminator.eval()
        sm, sn = mirror_scores(D, data, r.index_members), mirror_scores(D, data, r.index_nonmembers)
        np.savez(out / "user_scores.npz", members=sm, nonmembers=sn)
        name = "mirror-averaged logit"
    results[name] = xp.attack_scores(sm, sn, name=name, n_bootstrap=n_boot, seed=args.seed)

    for r in results.values():
        print(r)
    np.savez(out / "scores.npz", **{f"{k}/{part}": v for k, r in results.items()
                                    for part, v in (("members", r.scores_members), ("nonmembers", r.scores_nonmembers))})
    with open(out / "metrics.json", "w") as f:
        json.dump({k: r.summary() for k, r in results.items()}, f, indent=1, default=float)
    plot_roc(results, out / "roc.png")
    for k, r in results.items():
        lo, hi = r.ci.get("auc", (float("nan"), float("nan")))
        print(f"AUC {k}: {r.auc:.3f} [{lo:.3f}, {hi:.3f}]")
    print(f"wrote {out / 'metrics.json'}, {out / 'scores.npz'}, {out / 'roc.png'} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except xp.XaiprobeError as exc:  # bad input: one line, no traceback
        raise SystemExit(f"{Path(__file__).name}: error: {exc}") from None
