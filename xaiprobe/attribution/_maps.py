"""Images to attribute and the raw maps file (HDF5) of the attribution stage."""
from __future__ import annotations

import json
import re
from pathlib import Path

import h5py
import numpy as np
import torch

from .. import __version__
from .._utils.errors import XaiprobeError
from .._utils.io import atomic_path
from ..data import load_dataset
from ..data.base import to_uint8_images
from ..gan.sampling import sample_images

MAPS_FORMAT = "xaiprobe.attribution"


def slug(text: str) -> str:
    """File-name-safe form of a target string: ``concept:Smiling@conv3`` -> ``concept-Smiling-conv3``."""
    return re.sub(r"[^A-Za-z0-9_.]+", "-", str(text)).strip("-") or "target"


def resolve_images(images, G=None, n: int = 16, split="test", seed: int = 0):
    """(float images (n, C, H, W), data ImageSet or None, data rows or None, spec string).

    ``images`` is a data spec (``synthfaces:2000``, ``folder:DIR``, ``store.h5``),
    ``generated:N`` (samples of G), an ImageSet, or a float tensor.
    """
    if torch.is_tensor(images):
        return images[:n].float(), None, None, "tensor"
    if isinstance(images, str) and images.startswith("generated"):
        if G is None:
            raise XaiprobeError("images generated:N: needs a generator; pass --checkpoint")
        try:
            count = int(images.split(":", 1)[1]) if ":" in images else n
        except ValueError:
            raise XaiprobeError(f"images {images!r}: write generated:N with N a number") from None
        _, x = sample_images(G, min(count, n), seed=seed)
        return x.float(), None, None, images
    if isinstance(images, str):
        data = load_dataset(images)
    else:
        data = images
    rows = data.rows_of(split)
    if rows.size == 0:
        rows = data.rows_of(None)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.permutation(rows)[:n])
    return data.images(rows), data, rows, data.spec


def save_maps(path, maps: dict, images: torch.Tensor, target: str, index=None, extra: dict | None = None) -> Path:
    """Write maps to HDF5 atomically.

    Layout: ``/maps/<method>`` (n, H, W) float32 (attrs method, target), ``/index`` (n,) int64
    data set index of each image (-1 when unknown), ``/images`` (n, C, H, W) uint8; root attrs
    format, version, target, methods, and ``extra`` (json).
    """
    path = Path(path)
    index = np.full(len(images), -1, dtype=np.int64) if index is None else np.asarray(index, dtype=np.int64)
    with atomic_path(path, suffix=".h5") as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs.update({"format": MAPS_FORMAT, "version": 1, "xaiprobe_version": __version__,
                            "target": str(target), "methods": json.dumps(list(maps)),
                            "extra": json.dumps(extra or {}, default=str)})
            f.create_dataset("index", data=index)
            f.create_dataset("images", data=to_uint8_images(images), compression="gzip")
            g = f.create_group("maps")
            for m, a in maps.items():
                ds = g.create_dataset(m, data=np.asarray(a, dtype=np.float32), compression="gzip")
                ds.attrs.update({"method": m, "target": str(target)})
    return path


def load_maps(path) -> dict:
    """Read a maps file: {"maps": {method: (n, H, W)}, "index", "images", "target"}."""
    p = Path(path)
    if not p.is_file():
        raise XaiprobeError(f"maps {p}: no such file; write it with `xaiprobe attribute`")
    with h5py.File(p, "r") as f:
        if f.attrs.get("format") != MAPS_FORMAT:
            raise XaiprobeError(f"maps {p}: not an xaiprobe attribution file; write it with `xaiprobe attribute`")
        return {"maps": {k: f["maps"][k][()] for k in f["maps"]}, "index": f["index"][()],
                "images": f["images"][()], "target": str(f.attrs["target"])}
