"""Latent editing with the public API: attribute classifier -> latent directions -> edits z + αd.

1. ``xp.train_classifier`` learns the SynthFaces attributes from real images (the yardstick);
2. ``xp.fit_directions`` scores G(z) for many latents with it and fits one direction per
   attribute and method (lstsq regression, InterFaceGAN's SVM normal, conditional lstsq with the
   other attributes projected out, ...);
3. ``xp.edit_images`` renders G(z + αd) and ``xp.edit_quality`` measures each edit: slope of the
   edited attribute's logit per unit α, monotonicity, and leakage into the other attributes.

Writes OUT/edit_<attribute>.png, a grid with one row per latent and one column per α
(64×64 images with 2-pixel gaps), and OUT/quality.json.

Usage::

    python examples/edit_latents.py --out /tmp/edits                 # about 3 CPU minutes
    python examples/edit_latents.py --out /tmp/edits --quick         # tiny classifier, 300 latents
    python examples/edit_latents.py --out /tmp/edits --attribute Male --checkpoint runs/x/checkpoints/last.pt
"""
from __future__ import annotations

import argparse
import json
import time
from importlib import resources
from pathlib import Path

import numpy as np
import torch

import xaiprobe as xp

GAP = 2


def grid_png(images: torch.Tensor, path: Path) -> tuple[int, int]:
    """Save images (n, k, 3, H, W) in [-1, 1] as one grid (rows n, columns k); returns (width, height)."""
    from PIL import Image

    n, k, _, h, w = images.shape
    canvas = np.full((GAP + n * (h + GAP), GAP + k * (w + GAP), 3), 255, np.uint8)
    u8 = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 1, 3, 4, 2).numpy()
    for i in range(n):
        for j in range(k):
            y, x = GAP + i * (h + GAP), GAP + j * (w + GAP)
            canvas[y:y + h, x:x + w] = u8[i, j]
    Image.fromarray(canvas).save(path)
    return canvas.shape[1], canvas.shape[0]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="edits", help="output directory [edits]")
    ap.add_argument("--checkpoint", default=None, help="GAN checkpoint [the SynthFaces DCGAN shipped with xaiprobe]")
    ap.add_argument("--attribute", default="Blond_Hair", help="attribute to edit [Blond_Hair]")
    ap.add_argument("--alphas", default="-3,-1.5,0,1.5,3", help="comma list of α [-3,-1.5,0,1.5,3]")
    ap.add_argument("--rows", type=int, default=4, help="latents (grid rows) [4]")
    ap.add_argument("--quick", action="store_true", help="tiny classifier and few latents (a smoke run)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    alphas = np.asarray([float(a) for a in args.alphas.split(",") if a.strip()], np.float64)
    if args.quick:
        torch.set_num_threads(1)  # tiny batches: more threads only wait
    n_images, epochs, width, n_latents = (600, 3, 8, 300) if args.quick else (3000, 4, 16, 3000)
    methods = ["lstsq", "conditional"] if args.quick else ["lstsq", "svm", "conditional", "sefa", "ganspace"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    with resources.as_file(resources.files("xaiprobe") / "assets" / "dcgan_synthfaces.pt") as shipped:
        ck = xp.load_checkpoint(args.checkpoint or shipped, device="cpu")
    G = ck.generator.eval()

    data = xp.load_dataset(f"synthfaces:{n_images}")
    if args.attribute not in data.attribute_names:
        raise xp.XaiprobeError(f"--attribute {args.attribute}: unknown; use one of {', '.join(data.attribute_names)}")
    clf = xp.train_classifier(data, epochs=epochs, width=width, seed=args.seed, device="cpu", progress=False)
    bal = {a: m["balanced_accuracy"] for a, m in clf.metrics_["attributes"].items()}
    print("classifier balanced accuracy (val): " + ", ".join(f"{a} {v:.2f}" for a, v in bal.items()))

    dirs = xp.fit_directions(G, clf, n=n_latents, methods=methods, seed=args.seed,
                             generator_sha256=ck.sha256, device="cpu")
    r2 = dirs.info["lstsq_r2"][args.attribute]
    print(f"directions ({', '.join(dirs.methods)}) from {n_latents} latents; held-out R² of the "
          f"{args.attribute} logit on z: {r2:.2f}")

    z = torch.randn(args.rows, dirs.nz, generator=torch.Generator().manual_seed(args.seed + 1))
    images = xp.edit_images(G, z, dirs.get("lstsq", args.attribute), alphas)
    size = grid_png(images, out / f"edit_{args.attribute}.png")
    print(f"grid {out / f'edit_{args.attribute}.png'}: {size[0]}x{size[1]} px, {args.rows} latents x {alphas.size} α")

    q = xp.edit_quality(G, clf, dirs, attributes=[args.attribute], alphas=alphas, n=8 if args.quick else 32,
                        progress=False)
    print(f"{'method':<12} {'slope':>7} {'spearman':>9} {'leakage':>8}")
    for row in q["rows"]:
        print(f"{row['method']:<12} {row['slope']:>7.3f} {row['spearman']:>9.2f} {row['leakage']:>8.3f}")
    with open(out / "quality.json", "w") as f:
        json.dump({"attribute": args.attribute, "alphas": alphas.tolist(), "rows": q["rows"],
                   "classifier_balanced_accuracy": bal}, f, indent=1, default=float)
    print(f"wrote {out / 'quality.json'} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except xp.XaiprobeError as exc:  # bad input: one line, no traceback
        raise SystemExit(f"{Path(__file__).name}: error: {exc}") from None
