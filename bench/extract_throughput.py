"""Benchmark: activation extraction vs a plain D(x) loop, peak memory, file sizes.

One run prints ratios measured against a baseline taken in the same run (no absolute goals):

* throughput: images/s of ``extract_activations`` divided by images/s of ``D(x)`` under
  ``torch.no_grad()`` on the same batches of the same image store (goals: >= 0.9 for one
  pooled layer, >= 0.75 for all layers at full resolution in float16);
* peak RSS of an extraction of N and of 10·N images, each in a fresh subprocess (goal: within 20%);
* bytes per image per layer, uncompressed, lzf and gzip.

Usage::

    python bench/extract_throughput.py [--n 2000] [--batch-size 256] [--rss-n 400] [--device cpu]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch


def make_store(path: Path, n: int, seed: int = 0) -> Path:
    """A lazy uint8 image store of n synthetic 64x64 images (smooth noise), written in blocks."""
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("pixels", (n, 3, 64, 64), np.uint8, chunks=(64, 3, 64, 64))
        for lo in range(0, n, 512):
            hi = min(n, lo + 512)
            small = rng.integers(0, 256, (hi - lo, 3, 8, 8)).astype(np.float32)
            ds[lo:hi] = np.repeat(np.repeat(small, 8, axis=2), 8, axis=3).astype(np.uint8)
    return path


def open_set(path: Path):
    from xaiprobe.data.base import ImageSet

    f = h5py.File(path, "r")
    px = f["pixels"]
    n = px.shape[0]
    split = (np.arange(n) % 10 >= 8).astype(np.uint8)
    labels = (np.arange(n)[:, None] >> np.arange(5)[None, :] & 1).astype(np.int8)
    return ImageSet(px, labels, ["A", "B", "C", "D", "E"], split, f"bench:{path.name}")


def model(device):
    from xaiprobe.gan.dcgan import DCGANConfig, build_dcgan

    _, D = build_dcgan(DCGANConfig(), seed=0)
    return D.to(device).eval()


def plain_loop(D, data, batch_size, device) -> float:
    """The baseline: read the same contiguous batches the extraction reads, run D(x), nothing else."""
    t = time.perf_counter()
    with torch.no_grad():
        for lo in range(0, len(data), batch_size):
            D(data.images(slice(lo, lo + batch_size)).to(device))
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t


def extract_once(D, data, out, batch_size, device, **kw) -> float:
    from xaiprobe.activations import extract_activations

    t = time.perf_counter()
    extract_activations(D, data, out, batch_size=batch_size, device=device, overwrite=True, progress=False, **kw)
    return time.perf_counter() - t


def rss_child(store: str, out: str, batch_size: int) -> None:
    """Run in a subprocess: extract all layers at full resolution, print peak RSS (MB)."""
    from xaiprobe.activations import extract_activations

    data = open_set(Path(store))
    D = model(torch.device("cpu"))
    extract_activations(D, data, out, layers="all", dtype="float16", batch_size=batch_size, overwrite=True,
                        progress=False)
    print(json.dumps({"maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="images for throughput and file sizes [2000]")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--rss-n", type=int, default=400, help="N of the peak-RSS comparison (N vs 10N) [400]")
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats of each loop (alternating); the best is kept [3]")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--parts", default="throughput,sizes,rss", help="which parts to run [throughput,sizes,rss]")
    ap.add_argument("--child", nargs=2, metavar=("STORE", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        rss_child(*args.child, args.batch_size)
        return 0

    device = torch.device(args.device)
    tmp = Path(tempfile.mkdtemp(prefix="xaiprobe-bench-"))
    try:
        data = open_set(make_store(tmp / "images.h5", args.n))
        D = model(device)
        print(f"# DCGAN D (ndf=64, {sum(p.numel() for p in D.parameters()):,} params, random init), {args.n} synthetic "
              f"64x64 images in an HDF5 store, batch {args.batch_size}, device {device}, torch threads "
              f"{torch.get_num_threads()}")
        parts = set(args.parts.split(","))
        plain_loop(D, data, args.batch_size, device)  # warm-up
        configs = [("1 layer, conv3, mean-pooled, float16", dict(layers=["conv3"], pooling="mean")),
                   ("all 5 layers, full resolution, float16", dict(layers="all", pooling="none", dtype="float16"))]
        rows = []
        for name, kw in (configs if "throughput" in parts else []):
            base, ext = [], []
            for _ in range(args.repeats):
                base.append(plain_loop(D, data, args.batch_size, device))
                ext.append(extract_once(D, data, tmp / "acts.h5", args.batch_size, device, **kw))
            b, e = min(base), min(ext)
            rows.append((name, args.n / b, args.n / e, b / e))
        goals = [0.9, 0.75]
        print("\n## Throughput (best of %d, images/s)" % args.repeats)
        print(f"{'configuration':42s} {'D(x) img/s':>11s} {'extract img/s':>14s} {'ratio':>6s} {'goal':>6s}")
        for (name, bi, ei, r), g in zip(rows, goals):
            print(f"{name:42s} {bi:11.1f} {ei:14.1f} {r:6.3f} {'>=' + str(g):>6s} {'ok' if r >= g else 'MISSED'}")

        if "sizes" in parts:
            print_sizes(D, data, tmp, args, device)
        if "rss" in parts:
            print_rss(tmp, args)
    finally:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def print_sizes(D, data, tmp, args, device):
    """Bytes per image per layer without compression, with lzf and with gzip."""
    print("\n## File size per image per layer (all layers, full resolution, float16)")
    sizes = {}
    nsz = min(args.n, 500)
    sub = data.subset(np.arange(nsz))
    for comp in (None, "lzf", "gzip"):
        out = tmp / f"size_{comp}.h5"
        extract_once(D, sub, out, args.batch_size, device, layers="all", dtype="float16", compression=comp)
        with h5py.File(out, "r") as f:
            for layer in f["layers"]:
                ds = f["layers"][layer]["activations"]
                sizes.setdefault(layer, {"shape": ds.shape[1:]})[comp or "none"] = ds.id.get_storage_size() / nsz
        sizes["(whole file)"] = sizes.get("(whole file)", {"shape": ""})
        sizes["(whole file)"][comp or "none"] = out.stat().st_size / nsz
    print(f"{'layer':13s} {'shape':>12s} {'none B/img':>11s} {'lzf B/img':>10s} {'gzip B/img':>11s} {'gzip ratio':>10s}")
    for layer, s in sizes.items():
        shape = "x".join(map(str, s["shape"])) if s["shape"] != "" else ""
        print(f"{layer:13s} {shape:>12s} {s['none']:11.0f} {s['lzf']:10.0f} {s['gzip']:11.0f} {s['gzip'] / s['none']:10.2f}")
    print(f"(sizes over {nsz} random-init activations of smooth-noise images; trained models compress differently)")


def print_rss(tmp, args):
    """Peak RSS of extracting N and 10·N images, each in a fresh subprocess."""
    print(f"\n## Peak RSS (fresh subprocess each, all layers full resolution float16, batch {args.batch_size})")
    res = {}
    for n in (args.rss_n, 10 * args.rss_n):
        store = make_store(tmp / f"rss_{n}.h5", n, seed=1)
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, __file__, "--batch-size", str(args.batch_size), "--child",
                               str(store), str(tmp / f"rss_out_{n}.h5")], capture_output=True, text=True, check=True)
        res[n] = (json.loads(proc.stdout.strip().splitlines()[-1])["maxrss_mb"], time.perf_counter() - t)
        (tmp / f"rss_out_{n}.h5").unlink()
    (n1, (r1, t1)), (n2, (r2, t2)) = res.items()
    print(f"{'images':>8s} {'peak RSS MB':>12s} {'wall s':>8s}")
    print(f"{n1:8d} {r1:12.0f} {t1:8.1f}")
    print(f"{n2:8d} {r2:12.0f} {t2:8.1f}")
    print(f"ratio RSS(10N)/RSS(N) = {r2 / r1:.3f} (goal within 1.20) {'ok' if r2 / r1 <= 1.2 else 'MISSED'}")


if __name__ == "__main__":
    sys.exit(main())
