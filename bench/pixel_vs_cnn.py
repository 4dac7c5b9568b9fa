"""SynthFaces is not solvable from raw pixels: a linear probe on downsampled pixels vs a small CNN.

For every SynthFaces attribute: test balanced accuracy and ROC-AUC of an L2 logistic regression on
standardized 8x8 and 16x16 mean-pooled pixels, and of a small CNN (4 stride-2 conv layers, one
logit per attribute, class-balanced BCE, Adam) trained a few epochs, on the same faces (first
--train faces to train, the next --test to test; --seed is the SynthFaces seed). Prints one table.

    OMP_NUM_THREADS=1 .venv/bin/python bench/pixel_vs_cnn.py               # 6000 train / 2000 test, 8 epochs
    OMP_NUM_THREADS=1 .venv/bin/python bench/pixel_vs_cnn.py --train 2000 --test 1000 --epochs 4
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def balanced_accuracy(y, score, thr):
    pred = score > thr
    pos, neg = y == 1, y == 0
    return 0.5 * (pred[pos].mean() + (~pred[neg]).mean())


def pixel_scores(pix, lab, tr, te, k):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    n = len(pix)
    f = 64 // k
    x = (pix.astype(np.float32) / 127.5 - 1).reshape(n, 3, k, f, k, f).mean((3, 5)).reshape(n, -1)
    sc = StandardScaler().fit(x[tr])
    xtr, xte = sc.transform(x[tr]), sc.transform(x[te])
    out = []
    for j in range(lab.shape[1]):
        clf = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit(xtr, lab[tr, j])
        out.append(clf.decision_function(xte))
    return np.stack(out, 1), 0.0


def cnn_scores(pix, lab, tr, te, epochs, seed=0, batch=128):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    w = 32
    net = nn.Sequential(
        nn.Conv2d(3, w, 4, 2, 1), nn.BatchNorm2d(w), nn.ReLU(),
        nn.Conv2d(w, 2 * w, 4, 2, 1), nn.BatchNorm2d(2 * w), nn.ReLU(),
        nn.Conv2d(2 * w, 4 * w, 4, 2, 1), nn.BatchNorm2d(4 * w), nn.ReLU(),
        nn.Conv2d(4 * w, 4 * w, 4, 2, 1), nn.BatchNorm2d(4 * w), nn.ReLU(),
        nn.Flatten(), nn.Linear(4 * w * 16, lab.shape[1]))
    x = torch.as_tensor(pix).float().div_(127.5).sub_(1)
    y = torch.as_tensor(lab).float()
    p = y[tr].mean(0).clamp(0.01, 0.99)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=(1 - p) / p)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    steps = epochs * ((len(tr) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        net.train()
        perm = torch.as_tensor(tr)[torch.randperm(len(tr), generator=g)]
        for s in range(0, len(perm), batch):
            b = perm[s:s + batch]
            xb = x[b]
            flip = torch.rand(len(b), generator=g) < 0.5
            xb[flip] = xb[flip].flip(-1)
            loss = loss_fn(net(xb), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    with torch.no_grad():
        return torch.cat([net(x[te][s:s + 512]) for s in range(0, len(te), 512)]).numpy(), 0.0


def main(argv=None) -> int:
    from sklearn.metrics import roc_auc_score

    from xaiprobe.data.synthfaces import ATTRIBUTES, render_synthfaces

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=6000)
    ap.add_argument("--test", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1, help="SynthFaces seed [1]")
    args = ap.parse_args(argv)
    n = args.train + args.test
    t0 = time.perf_counter()
    pix, lab, _ = render_synthfaces(n, seed=args.seed, masks=False)
    t_render = time.perf_counter() - t0
    tr, te = np.arange(args.train), np.arange(args.train, n)
    rows = {}
    timings = {}
    for name, fn in (("8x8 pixels, logistic", lambda: pixel_scores(pix, lab, tr, te, 8)),
                     ("16x16 pixels, logistic", lambda: pixel_scores(pix, lab, tr, te, 16)),
                     (f"small CNN, {args.epochs} epochs", lambda: cnn_scores(pix, lab, tr, te, args.epochs))):
        t0 = time.perf_counter()
        scores, thr = fn()
        timings[name] = time.perf_counter() - t0
        rows[name] = [(balanced_accuracy(lab[te, j], scores[:, j], thr), roc_auc_score(lab[te, j], scores[:, j]))
                      for j in range(len(ATTRIBUTES))]
    print(f"SynthFaces seed {args.seed}: {args.train} train / {args.test} test faces (rendered in {t_render:.1f} s); "
          "test balanced accuracy (ROC-AUC)")
    names = list(rows)
    print("| attribute | test rate | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for j, a in enumerate(ATTRIBUTES):
        cells = [f"{rows[m][j][0]:.3f} ({rows[m][j][1]:.3f})" for m in names]
        print(f"| {a} | {lab[te, j].mean():.3f} | " + " | ".join(cells) + " |")
    print("seconds: " + ", ".join(f"{m} {t:.0f}" for m, t in timings.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
