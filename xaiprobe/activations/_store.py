"""Reading activation files: ``ActivationStore``, lazy per-layer views, schema checks.

The file layout (written by :func:`xaiprobe.activations.extract_activations`)::

    /                      attrs: format="xaiprobe.activations", version, xaiprobe_version, created,
                                  checkpoint_sha256, arch (json), data (json), command, complete,
                                  rows_done, layers (json), pooling, dtype, source, ...
    /index      (N,)       int64    row of each sample in its dataset
    /split      (N,)       uint8
    /member     (N,)       bool     sample was in the GAN's training set
    /labels     (N, A)     int8     attrs: names, concept_type
    /logits     (N,)       float32  discriminator output
    /latents    (N, nz)    float32  only for generated images
    /layers/<alias>/activations  (N, ...)  attrs: module_path, pooling, full_shape, records (what the
                                  layer's output is, e.g. "block output after LeakyReLU")
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .._utils.errors import XaiprobeError

FORMAT = "xaiprobe.activations"
VERSION = 1
JSON_ATTRS = ("arch", "data", "layers", "shards")
SPLIT_CODES = {"train": 0, "val": 1, "test": 2}


def _attr_value(v):
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, np.ndarray):
        v = [_attr_value(x) for x in v.tolist()] if v.dtype.kind in "OSU" else v.tolist()
    return v


def read_attrs(obj) -> dict:
    """h5py attrs -> plain dict, with json attributes (arch, data, layers, shards) parsed."""
    out = {}
    for k, v in obj.attrs.items():
        v = _attr_value(v)
        if k in JSON_ATTRS and isinstance(v, str):
            try:
                v = json.loads(v)
            except ValueError:
                pass
        out[k] = v
    return out


def open_h5(path: str | os.PathLike, mode: str = "r", **kwargs):
    """``h5py.File(path, mode)`` that turns "not an HDF5 file" into one XaiprobeError line, and
    checks the root ``format`` attribute."""
    import h5py

    path = Path(path)
    if not path.exists():
        raise XaiprobeError(f"activations {path}: no such file; create it with `xaiprobe extract`")
    try:
        f = h5py.File(path, mode, **kwargs)
    except OSError as exc:
        first = (str(exc).strip().splitlines() or ["unreadable"])[0]
        raise XaiprobeError(f"activations {path}: not a readable HDF5 file ({first[:120]}); it may be truncated; "
                            "extract again with --overwrite") from None
    fmt = _attr_value(f.attrs.get("format", ""))
    if fmt != FORMAT:
        f.close()
        raise XaiprobeError(f"activations {path}: not an xaiprobe activations file (format={fmt!r}); "
                            "create it with `xaiprobe extract`")
    if int(_attr_value(f.attrs.get("version", 0)) or 0) > VERSION:
        f.close()
        raise XaiprobeError(f"activations {path}: version {f.attrs.get('version')} is newer than this xaiprobe reads; upgrade xaiprobe")
    return f


def _normalize_rows(rows, n: int) -> np.ndarray:
    if rows is None:
        return np.arange(n, dtype=np.int64)
    if isinstance(rows, slice):
        return np.arange(n, dtype=np.int64)[rows]
    rows = np.asarray(rows)
    if rows.dtype == bool:
        if rows.shape != (n,):
            raise XaiprobeError(f"rows: boolean mask has shape {rows.shape}, expected ({n},)")
        return np.flatnonzero(rows).astype(np.int64)
    rows = rows.astype(np.int64).reshape(-1)
    if rows.size and (rows.min() < -n or rows.max() >= n):
        raise XaiprobeError(f"rows: indices out of range for {n} rows")
    return np.where(rows < 0, rows + n, rows)


def read_rows(ds, rows: np.ndarray, block_rows: int = 4096) -> np.ndarray:
    """``ds[rows]`` for any int rows (unsorted, repeated), reading contiguous blocks so that
    chunked/compressed data is decoded once per chunk."""
    rows = np.asarray(rows, dtype=np.int64)
    out = np.empty((rows.size, *ds.shape[1:]), dtype=ds.dtype)
    if rows.size == 0:
        return out
    order = np.argsort(rows, kind="stable")
    srt = rows[order]
    if srt[-1] - srt[0] + 1 == srt.size and np.all(np.diff(srt) == 1):
        out[order] = ds[int(srt[0]):int(srt[-1]) + 1]
        return out
    i = 0
    while i < srt.size:
        lo = srt[i]
        j = int(np.searchsorted(srt, lo + block_rows, side="left"))
        hi = int(srt[j - 1]) + 1
        block = ds[int(lo):hi]
        out[order[i:j]] = block[srt[i:j] - lo]
        i = j
    return out


class LayerView:
    """A lazy, sliceable view of one layer's activations (numpy out).

    ``view[10:20]``, ``view[[5, 1, 3]]``, ``view[mask]`` read only those rows; ``.shape``,
    ``.dtype``, ``len(view)`` and ``np.asarray(view)`` work as for an array.
    """

    def __init__(self, dataset, name: str):
        self._ds = dataset
        self.name = name

    @property
    def shape(self) -> tuple:
        return tuple(self._ds.shape)

    @property
    def dtype(self):
        return self._ds.dtype

    @property
    def nbytes_on_disk(self) -> int:
        """Bytes the layer's dataset takes in the file (after compression)."""
        return int(self._ds.id.get_storage_size())

    @property
    def ndim(self) -> int:
        return len(self._ds.shape)

    @property
    def attrs(self) -> dict:
        return read_attrs(self._ds)

    def __len__(self) -> int:
        return int(self._ds.shape[0])

    def __getitem__(self, key):
        rest = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        if isinstance(key, (int, np.integer, slice)) or key is Ellipsis:
            return self._ds[(key, *rest)] if rest else self._ds[key]
        block = read_rows(self._ds, _normalize_rows(key, len(self)))
        return block[(slice(None), *rest)] if rest else block

    def __array__(self, dtype=None, copy=None):
        arr = self._ds[()]
        return arr.astype(dtype) if dtype is not None else arr

    def __repr__(self) -> str:
        return f"<LayerView {self.name!r} shape={self.shape} dtype={self.dtype}>"


class ActivationStore:
    """Read an activation file written by ``xaiprobe extract``.

    Parameters
    ----------
    path : path
        An HDF5 file with ``format="xaiprobe.activations"``, marked complete.

    Examples
    --------
    >>> with ActivationStore("runs/x/activations.h5") as store:
    ...     X = store.features("conv3", rows=store.rows_of("train"))  # float32 (n, D)
    ...     y = store.labels[store.rows_of("train")]                   # int8 (n, A)
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        partial = self.path.with_name(self.path.name + ".partial")
        if not self.path.exists() and partial.exists():
            raise XaiprobeError(f"activations {self.path}: extraction did not finish ({partial.name} exists); "
                                "rerun the same `xaiprobe extract` command with --resume")
        self._f = open_h5(self.path, "r", rdcc_nbytes=32 * 1024 * 1024)
        attrs = read_attrs(self._f)
        if not attrs.get("complete", False):
            self._f.close()
            raise XaiprobeError(f"activations {self.path}: incomplete ({attrs.get('rows_done', 0)} of "
                                f"{attrs.get('n_rows', '?')} rows); rerun the same `xaiprobe extract` command with --resume")
        self._attrs = attrs
        for shard in attrs.get("shards") or []:
            src = Path(shard) if os.path.isabs(shard) else self.path.parent / shard
            if not src.exists():
                self._f.close()
                raise XaiprobeError(f"activations {self.path}: merged file whose shard {src} is missing; "
                                    "keep the shard files next to the merged file or merge again")
        names = [x[0] if isinstance(x, (list, tuple)) else x for x in attrs.get("layers") or []]
        have = list(self._f["layers"].keys()) if "layers" in self._f else []
        self.layers: list[str] = [n for n in names if n in have] + [n for n in have if n not in names]
        self._cache: dict = {}

    # -- metadata ---------------------------------------------------------------------------
    @property
    def attrs(self) -> dict:
        """Root attributes (arch, data, layers parsed from json)."""
        return dict(self._attrs)

    def __len__(self) -> int:
        return int(self._f["index"].shape[0])

    @property
    def n_rows(self) -> int:
        return len(self)

    def _meta(self, name: str):
        if name not in self._cache:
            self._cache[name] = self._f[name][()] if name in self._f else None
        return self._cache[name]

    @property
    def index(self) -> np.ndarray:
        """int64 (N,): row of each sample in its data set (latent row for generated images)."""
        return self._meta("index")

    @property
    def split(self) -> np.ndarray:
        """uint8 (N,): 0 train, 1 val, 2 test."""
        return self._meta("split")

    @property
    def member(self) -> np.ndarray:
        """bool (N,): the sample was in the GAN's training set."""
        return self._meta("member")

    @property
    def labels(self) -> np.ndarray:
        """int8 (N, A) in {0, 1}; (N, 0) for generated images."""
        return self._meta("labels")

    @property
    def logits(self) -> np.ndarray:
        """float32 (N,): the discriminator's logit."""
        return self._meta("logits")

    @property
    def latents(self) -> np.ndarray | None:
        """float32 (N, nz) for generated images, else None."""
        return self._meta("latents")

    @property
    def attribute_names(self) -> list[str]:
        names = _attr_value(self._f["labels"].attrs.get("names", []))
        if isinstance(names, str):
            names = json.loads(names) if names.startswith("[") else [names]
        return [str(n) for n in names]

    @property
    def concept_type(self) -> str:
        return str(_attr_value(self._f["labels"].attrs.get("concept_type", "multilabel")))

    def rows_of(self, split: str | int | Sequence | None) -> np.ndarray:
        """Row numbers of a split name/code (``"train"``), a list of them, or all for None/"all"."""
        if split is None or split == "all":
            return np.arange(len(self), dtype=np.int64)
        if isinstance(split, str) and "," in split:
            split = [s.strip() for s in split.split(",") if s.strip()]
        names = [split] if isinstance(split, (str, int, np.integer)) else list(split)
        codes = []
        for s in names:
            if isinstance(s, str):
                if s not in SPLIT_CODES:
                    raise XaiprobeError(f"split {s!r}: unknown; use one of train, val, test, all")
                codes.append(SPLIT_CODES[s])
            else:
                codes.append(int(s))
        return np.flatnonzero(np.isin(self.split, codes)).astype(np.int64)

    # -- layers -----------------------------------------------------------------------------
    def layer_name(self, layer) -> str:
        """The stored name (alias) of ``layer``, given by that name or by its module path."""
        name = str(layer)
        if name in self.layers:
            return name
        for alias in self.layers:
            if read_attrs(self._f["layers"][alias]["activations"]).get("module_path") == name:
                return alias
        raise XaiprobeError(f"layer {name!r}: not in {self.path.name}; it has {', '.join(self.layers) or 'no layers'}"
                            " (extract it with `xaiprobe extract --layers NAME`)")

    def __getitem__(self, layer) -> LayerView:
        name = self.layer_name(layer)
        return LayerView(self._f["layers"][name]["activations"], name)

    def __contains__(self, layer) -> bool:
        try:
            self.layer_name(layer)
        except XaiprobeError:
            return False
        return True

    def layer_attrs(self, layer) -> dict:
        """``module_path``, ``pooling``, ``full_shape`` (unpooled per-image shape) and, in files written
        since it was recorded, ``records`` (what the layer's output is) of a layer."""
        name = self.layer_name(layer)
        a = read_attrs(self._f["layers"][name]["activations"])
        a["full_shape"] = tuple(a.get("full_shape", ()))
        return a

    def feature_dim(self, layer) -> int:
        return int(np.prod(self[layer].shape[1:], dtype=np.int64))

    def features(self, layer, rows=None) -> np.ndarray:
        """float32 (n, D): the layer's activations for ``rows`` (all when None), flattened."""
        view = self[layer]
        idx = _normalize_rows(rows, len(view))
        out = np.empty((idx.size, int(np.prod(view.shape[1:], dtype=np.int64))), dtype=np.float32)
        pos = 0
        for _, block in self.iter_chunks(layer, idx):
            out[pos:pos + len(block)] = block
            pos += len(block)
        return out

    def iter_chunks(self, layer, rows=None, chunk_size: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(rows, float32 (n, D))`` blocks in the order of ``rows``.

        ``chunk_size`` defaults to about 64 MB of float32 per block.
        """
        view = self[layer]
        idx = _normalize_rows(rows, len(view))
        d = int(np.prod(view.shape[1:], dtype=np.int64))
        if chunk_size is None:
            chunk_size = max(1, (64 << 20) // max(1, 4 * d))
        chunk_size = int(chunk_size)
        if chunk_size < 1:
            raise XaiprobeError(f"chunk_size {chunk_size}: must be at least 1")
        for start in range(0, idx.size, chunk_size):
            r = idx[start:start + chunk_size]
            block = read_rows(view._ds, r)
            yield r, block.reshape(len(r), d).astype(np.float32, copy=False)

    # -- lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        f = getattr(self, "_f", None)
        if f is not None and f.id.valid:
            f.close()

    def __enter__(self) -> "ActivationStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self._f.id.valid else "closed"
        return f"<ActivationStore {str(self.path)!r} rows={len(self) if state == 'open' else '?'} layers={self.layers} ({state})>"

