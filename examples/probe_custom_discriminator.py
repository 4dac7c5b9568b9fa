"""Probe a discriminator that xaiprobe did not define: what do its layers know, before and after training?

A small 3-conv CNN on 64×64 images stands in for your own discriminator (one real-vs-fake logit
per image, plus an auxiliary attribute head as in AC-GAN). It is probed twice: randomly
initialized, and after a few hundred steps of training on real SynthFaces (whose attributes are
planted by the renderer, so the right answer is known) against fakes of the shipped DCGAN:

1. ``xp.run_with_cache`` shows the generic aliases conv1..conv3 xaiprobe gives any
   ``nn.Module`` (its Conv2d layers, in order) and their output shapes;
2. ``xp.extract_activations`` streams those layers to OUT/activations_{random,trained}.h5;
3. ``xp.LinearProbe`` is fitted per layer on the train split and scored (ROC-AUC) on the
   held-out val + test rows, printed as a layer × attribute table.

Random convolutions already separate colour attributes (Blond_Hair) and, pooled to 4×4, much of
Male; training adds most at the deepest layer. The full run (600 steps of 64 images) lifts conv3's
held-out Smiling AUC (a mouth curve a few pixels tall) from chance to about 0.85; the --quick run
trains too briefly for Smiling and shows the gain on Male and on conv3's mean.

Usage::

    python examples/probe_custom_discriminator.py --out /tmp/custom_d          # about a CPU minute
    python examples/probe_custom_discriminator.py --out /tmp/custom_d --quick  # tiny sizes
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

import xaiprobe as xp


class SmallD(nn.Module):
    """Three stride-2 convolutions and a linear head: (n, 3, 64, 64) -> one logit per image.

    The head's other outputs are the auxiliary attribute logits (``attributes``).
    """

    def __init__(self, n_attributes: int, width: int = 16):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 4 * width, 4, 2, 1), nn.BatchNorm2d(4 * width), nn.LeakyReLU(0.2),
            nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.head = nn.Linear(4 * width * 16, 1 + n_attributes)

    def outputs(self, x):
        return self.head(self.body(x))

    def forward(self, x):
        return self.outputs(x)[:, 0]

    def attributes(self, x):
        return self.outputs(x)[:, 1:]


def shipped_fakes(n: int, seed: int) -> torch.Tensor:
    """``n`` images (n, 3, 64, 64) of the SynthFaces DCGAN shipped with xaiprobe."""
    from importlib import resources

    with resources.as_file(resources.files("xaiprobe") / "assets" / "dcgan_synthfaces.pt") as path:
        ck = xp.load_checkpoint(path)
    _, images = xp.sample_images(ck.generator, n, seed=seed)
    return images.cpu()


def train_d(model: SmallD, data, fakes: torch.Tensor, steps: int, batch_size: int, seed: int) -> list[float]:
    """Real-vs-fake BCE plus the attribute BCE on the real images; the loss every 25 steps."""
    rng = np.random.default_rng(seed)
    rows = data.rows_of("train")
    labels = torch.as_tensor(data.labels, dtype=torch.float32)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, betas=(0.5, 0.999))
    bce = nn.functional.binary_cross_entropy_with_logits
    losses = []
    model.train()
    for step in range(steps):
        batch = rng.choice(rows, size=min(batch_size, rows.size), replace=False)
        fake = fakes[rng.choice(len(fakes), size=len(batch), replace=False)]
        out = model.outputs(torch.cat([data.images(batch), fake]))
        real_fake = torch.cat([torch.ones(len(batch)), torch.zeros(len(fake))])
        loss = bce(out[:, 0], real_fake) + bce(out[:len(batch), 1:], labels[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 25 == 0 or step == steps - 1:
            losses.append(round(float(loss.detach()), 4))
    return losses


def probe_aucs(path, names) -> dict:
    """layer -> {attribute: held-out ROC-AUC} of a linear probe fitted on the train rows."""
    out = {}
    with xp.ActivationStore(path) as store:
        train = store.rows_of("train")
        held = store.rows_of(["val", "test"])
        y = store.labels
        for layer in store.layers:
            X = store.features(layer)
            probe = xp.LinearProbe(Cs=(1e-3, 1e-2, 1e-1)).fit(X[train], y[train], attribute_names=names)
            p = probe.predict_proba(X[held])
            out[layer] = {a: (float(roc_auc_score(y[held, j], p[:, j])) if 0 < y[held, j].sum() < held.size
                              else float("nan")) for j, a in enumerate(names)}
    return out


def print_table(results: dict, names) -> None:
    print(f"{'layer':<7} {'model':<8} " + " ".join(f"{a[:10]:>10}" for a in names) + f" {'mean':>6}")
    layers = list(next(iter(results.values())))
    for layer in layers:
        for which, aucs in results.items():
            v = [aucs[layer][a] for a in names]
            print(f"{layer:<7} {which:<8} " + " ".join(f"{x:>10.3f}" for x in v) + f" {np.nanmean(v):>6.3f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="custom_d", help="output directory [custom_d]")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run, well under a minute)")
    ap.add_argument("--attribute", default="Male", help="attribute compared at the end [Male]")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads [1 with --quick: for tiny models more threads only wait; else torch's default]")
    args = ap.parse_args(argv)
    n_images, steps, batch = (800, 200, 32) if args.quick else (3000, 600, 64)
    if args.threads or args.quick:
        torch.set_num_threads(args.threads or 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    data = xp.load_dataset(f"synthfaces:{n_images}")
    names = list(data.attribute_names)
    if args.attribute not in names:
        raise xp.XaiprobeError(f"--attribute {args.attribute}: not a SynthFaces attribute; use one of {', '.join(names)}")
    torch.manual_seed(args.seed)
    model = SmallD(len(names)).eval()
    fakes = shipped_fakes(256 if args.quick else 1000, args.seed)

    _, cache = xp.run_with_cache(model, data.images(range(4)))  # every alias: conv1..conv3
    print("layers xaiprobe found (alias: output shape):",
          ", ".join(f"{k}: {tuple(v.shape[1:])}" for k, v in cache.items()))

    results = {}
    paths = {}
    for which in ("random", "trained"):
        if which == "trained":
            losses = train_d(model, data, fakes, steps, batch, args.seed)
            model.eval()
            print(f"trained {steps} steps of batch {batch}: loss {losses[0]:.3f} -> {losses[-1]:.3f}")
        paths[which] = xp.extract_activations(model, data, out=out / f"activations_{which}.h5", layers="all",
                                              pooling="avg4", overwrite=True, progress=False,
                                              command=f"examples/probe_custom_discriminator.py ({which})")
        results[which] = probe_aucs(paths[which], names)

    print(f"\nheld-out probe ROC-AUC per layer ({n_images} SynthFaces images, linear probes on the train split)")
    print_table(results, names)
    best = {w: max(((layer, r[args.attribute]) for layer, r in res.items()), key=lambda t: np.nan_to_num(t[1]))
            for w, res in results.items()}
    with open(out / "probe_aucs.json", "w") as f:
        json.dump({"n_images": n_images, "steps": steps, "aucs": results}, f, indent=1)
    print(f"\nbest {args.attribute} AUC: random {best['random'][1]:.3f} ({best['random'][0]}) -> "
          f"trained {best['trained'][1]:.3f} ({best['trained'][0]})")
    last = list(results["random"])[-1]
    means = {w: float(np.nanmean(list(res[last].values()))) for w, res in results.items()}
    print(f"{last} mean AUC over attributes: random {means['random']:.3f} -> trained {means['trained']:.3f}")
    print(f"wrote {', '.join(str(p) for p in paths.values())} and {out / 'probe_aucs.json'} "
          f"in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except xp.XaiprobeError as exc:  # bad input: one line, no traceback
        raise SystemExit(f"{Path(__file__).name}: error: {exc}") from None
