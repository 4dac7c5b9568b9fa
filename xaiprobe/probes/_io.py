"""Files of the probe stages: estimator files (plain tensors, loaded with ``weights_only=True``)
and CSV tables."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import torch

from .._utils.errors import XaiprobeError
from .._utils.io import atomic_path, safe_torch_load

__all__ = ["load_estimator_dict", "write_csv", "pack_array", "unpack_array"]


def load_estimator_dict(path, fmt: str, what: str) -> dict:
    """The dict saved in an estimator file of format ``fmt``; one-line errors otherwise."""
    path = Path(path)
    obj = safe_torch_load(path, what, "write it with save() or `xaiprobe probe/decode`", "re-create it")
    if not isinstance(obj, dict) or obj.get("format") != fmt:
        raise XaiprobeError(f"{what} {path}: not a {fmt} file; pass a file written by xaiprobe")
    return obj


def pack_array(a) -> dict | None:
    """An array as something ``torch.load(weights_only=True)`` reads back exactly (dtype kept)."""
    if a is None:
        return None
    a = np.asarray(a)
    if a.dtype.kind in "biuf":
        return {"tensor": torch.as_tensor(np.ascontiguousarray(a)), "dtype": a.dtype.str}
    return {"list": [str(x) for x in a.ravel().tolist()], "dtype": a.dtype.str, "shape": list(a.shape)}


def unpack_array(d):
    """The array :func:`pack_array` stored."""
    if d is None:
        return None
    if "tensor" in d:
        return d["tensor"].numpy().astype(np.dtype(d["dtype"]), copy=False)
    return np.asarray(d["list"], dtype=np.dtype(d["dtype"])).reshape(d["shape"])


def write_csv(path, rows: list, columns: list) -> Path:
    """Rows (dicts) as a CSV table with ``columns`` (NaN as an empty cell), written atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
            w.writeheader()
            for r in rows:
                w.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()})
    return path
