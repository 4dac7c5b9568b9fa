"""Linear-probe speed: xaiprobe's LinearProbe vs a loop of scikit-learn LogisticRegression.

One run probes all layers x attributes of one activations file both ways, on the same
standardized features and the same train/val/test splits, choosing C per attribute on val from
the same grid (val ROC-AUC), and prints the time ratio (goal >= 10x) and the largest test-AUC
difference (goal <= 0.005).

    .venv/bin/python bench/probe_speed.py                      # makes its own file (3000 SynthFaces,
                                                               # default-width random-init D, avg2)
    .venv/bin/python bench/probe_speed.py --activations runs/x/activations.h5

Without --activations the file is extracted once into --work (default a temp dir).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def make_activations(work: Path, n: int, pooling: str, seed: int) -> Path:
    from xaiprobe.activations import extract_activations
    from xaiprobe.data import load_dataset
    from xaiprobe.gan.dcgan import DCGANConfig, build_dcgan

    out = work / f"bench_synthfaces{n}_{pooling}.h5"
    if out.exists():
        return out
    data = load_dataset(f"synthfaces:{n}")
    _, D = build_dcgan(DCGANConfig(), seed=seed)
    t = time.perf_counter()
    extract_activations(D, data, out, layers="all", pooling=pooling, dtype="float32", progress=False,
                        command="bench/probe_speed.py")
    print(f"extracted {out.name} in {time.perf_counter() - t:.1f}s", flush=True)
    return out


def sklearn_loop(Xtr, Ytr, Xva, Yva, Xte, Cs, max_iter, tol):
    """One LogisticRegression per attribute x C; C chosen by val AUC (ties: smaller C).
    Returns (test scores (n_test, A), chosen C (A,), {C: test scores} per attribute)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    A = Ytr.shape[1]
    best_scores, best_C, per_C = np.zeros((len(Xte), A)), np.zeros(A), [dict() for _ in range(A)]
    for a in range(A):
        best = -np.inf
        for C in sorted(Cs):
            m = LogisticRegression(C=C, solver="lbfgs", max_iter=max_iter, tol=tol).fit(Xtr, Ytr[:, a])
            v = roc_auc_score(Yva[:, a], m.decision_function(Xva)) if len(np.unique(Yva[:, a])) == 2 else \
                -m.score(Xva, Yva[:, a])
            s = m.decision_function(Xte)
            per_C[a][C] = s
            if v > best + 1e-12:
                best, best_C[a], best_scores[:, a] = v, C, s
    return best_scores, best_C, per_C


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--activations", help="activations file (labeled, with train/val/test splits)")
    p.add_argument("--n", type=int, default=3000, help="SynthFaces images when making the file [3000]")
    p.add_argument("--pooling", default="avg2", help="pooling when making the file [avg2]")
    p.add_argument("--work", default=None, help="where to write the generated file [a temp dir]")
    p.add_argument("--cs", default="1e-4,1e-3,1e-2,0.1,1,10", help="C grid [1e-4,1e-3,1e-2,0.1,1,10]")
    p.add_argument("--sk-max-iter", type=int, default=1000, help="LogisticRegression max_iter [1000]")
    p.add_argument("--sk-tol", type=float, default=1e-5,
                   help="LogisticRegression tol [1e-5: LinearProbe's own stopping rule, max |gradient| of the "
                        "mean objective; sklearn's default 1e-4 stops early on nearly separable layers]")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"), help="LinearProbe dtype [float32]")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler

    from xaiprobe.activations import ActivationStore
    from xaiprobe.probes import LinearProbe

    Cs = tuple(float(c) for c in args.cs.split(","))
    tmp = None
    if args.activations:
        path = Path(args.activations)
    else:
        work = Path(args.work) if args.work else Path(tmp := tempfile.mkdtemp(prefix="xaiprobe-bench-"))
        work.mkdir(parents=True, exist_ok=True)
        path = make_activations(work, args.n, args.pooling, args.seed)

    rows, t_ours, t_sk = [], 0.0, 0.0
    with ActivationStore(path) as store:
        split = store.split
        tr, va, te = (np.flatnonzero(split == s) for s in (0, 1, 2))
        names = store.attribute_names
        Y = store.labels
        ok = [a for a in range(Y.shape[1]) if all(len(np.unique(Y[r, a])) == 2 for r in (tr, va, te))]
        Y = Y[:, ok]
        names = [names[a] for a in ok]
        import torch

        print(f"xaiprobe LinearProbe dtype {args.dtype}; torch threads {torch.get_num_threads()} (one thread "
              f"for fits under 2**20 values, and under 2**24 while other tasks run); sklearn {__import__('sklearn').__version__} lbfgs, max_iter "
              f"{args.sk_max_iter}, tol {args.sk_tol:g}", flush=True)
        print(f"file {path} : {len(store)} rows (train {tr.size}, val {va.size}, test {te.size}), "
              f"{len(store.layers)} layers x {len(names)} attributes, C grid {Cs}", flush=True)
        print(f"{'layer':<8} {'D':>6} {'xaiprobe s':>10} {'sklearn s':>10} {'ratio':>7} {'max|dAUC|':>10} "
              f"{'same-C max|dAUC|':>17} {'same C':>7}", flush=True)
        for layer in store.layers:
            X = {k: store.features(layer, r) for k, r in (("tr", tr), ("va", va), ("te", te))}
            # xaiprobe: standardization, all attributes at once, C per attribute on val, test scores
            t0 = time.perf_counter()
            probe = LinearProbe(Cs=Cs, dtype=args.dtype).fit(X["tr"], Y[tr], X["va"], Y[va], attribute_names=names)
            ours = probe.decision_function(X["te"])
            dt_ours = time.perf_counter() - t0
            # scikit-learn: the same standardization, one fit per attribute x C
            t0 = time.perf_counter()
            sc = StandardScaler().fit(X["tr"])
            Xs = {k: sc.transform(v) for k, v in X.items()}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                sk, sk_C, per_C = sklearn_loop(Xs["tr"], Y[tr], Xs["va"], Y[va], Xs["te"], Cs, args.sk_max_iter,
                                               args.sk_tol)
            dt_sk = time.perf_counter() - t0
            t_ours += dt_ours
            t_sk += dt_sk
            d_own, d_same = [], []
            for a in range(len(names)):
                auc_o = roc_auc_score(Y[te, a], ours[:, a])
                d_own.append(abs(auc_o - roc_auc_score(Y[te, a], sk[:, a])))
                # the same C for both: our solution at sklearn's C vs sklearn's
                fixed = LinearProbe(C=sk_C[a], dtype=args.dtype).fit(X["tr"], Y[tr][:, [a]]).decision_function(X["te"])[:, 0]
                d_same.append(abs(roc_auc_score(Y[te, a], fixed) - roc_auc_score(Y[te, a], per_C[a][sk_C[a]])))
            same = int((probe.C_ == sk_C).sum())
            rows.append((layer, dt_ours, dt_sk, max(d_own), max(d_same), same))
            print(f"{layer:<8} {X['tr'].shape[1]:>6} {dt_ours:>10.2f} {dt_sk:>10.2f} {dt_sk / dt_ours:>6.1f}x "
                  f"{max(d_own):>10.4f} {max(d_same):>17.4f} {same:>3}/{len(names)}", flush=True)
    worst = max(r[3] for r in rows)
    worst_same = max(r[4] for r in rows)
    ratio = t_sk / t_ours
    print(f"{'total':<8} {'':>6} {t_ours:>10.2f} {t_sk:>10.2f} {ratio:>6.1f}x {worst:>10.4f} {worst_same:>17.4f}")
    print(f"time ratio sklearn/xaiprobe: {ratio:.1f}x (goal >= 10x) | largest test-AUC difference: {worst:.4f} "
          f"(goal <= 0.005; {worst_same:.4f} at the same C)")
    if tmp:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
