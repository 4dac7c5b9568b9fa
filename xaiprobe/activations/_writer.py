"""Writing activation files: create the datasets, stream row blocks from a background thread.

Used by extraction and merging (:mod:`xaiprobe.activations`); the
layout is documented in :mod:`xaiprobe.activations._store`.
"""
from __future__ import annotations

import errno
import json
import queue
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from .._utils.errors import XaiprobeError
from ._store import open_h5, read_attrs

#: largest HDF5 chunk of a layer dataset; chunks hold batch_size rows unless that is bigger
MAX_CHUNK_BYTES = 8 << 20


def is_disk_full(exc: BaseException) -> bool:
    """True for an OSError meaning "no space left on device" (also as h5py reports it)."""
    return isinstance(exc, OSError) and (getattr(exc, "errno", None) == errno.ENOSPC or "No space left" in str(exc))


def write_root_attrs(f, attrs: dict) -> None:
    for k, v in attrs.items():
        f.attrs[k] = json.dumps(v) if isinstance(v, (dict, list, tuple)) else ("" if v is None else v)


def create_activation_file(path: Path, attrs: dict, n: int, layer_specs: list, dtype: str, compression,
                           batch_size: int, n_attr: int, names, concept_type: str, nz: int | None):
    """Create the file with every dataset allocated (N rows), chunked along N; return it open.

    ``layer_specs`` is a list of (alias, module_path, pooled_shape, full_shape, pooling, records), ``records``
    saying what the layer's output is (:func:`xaiprobe.activations.hooks.records`).
    """
    import h5py

    f = h5py.File(path, "w")
    try:
        write_root_attrs(f, attrs)
        # chunk boundaries fall on batch boundaries: a block write only ever fills chunks of its own,
        # so a run killed mid-write cannot damage (or make HDF5 reuse the space of) a chunk that
        # holds rows before ``rows_done``, and a resumed run reads them back intact
        meta_rows = _aligned_rows(n, batch_size, batch_size)
        kw = dict(compression=compression, shuffle=True) if compression else {}
        f.create_dataset("index", (n,), np.int64, chunks=(meta_rows,), **kw)
        f.create_dataset("split", (n,), np.uint8, chunks=(meta_rows,), **kw)
        f.create_dataset("member", (n,), bool, chunks=(meta_rows,), **kw)
        lab = f.create_dataset("labels", (n, n_attr), np.int8, chunks=(meta_rows, n_attr) if n_attr else None)
        lab.attrs["names"] = np.array([str(s) for s in names], dtype=h5py.string_dtype())
        lab.attrs["concept_type"] = concept_type
        f.create_dataset("logits", (n,), np.float32, chunks=(meta_rows,), **kw)
        if nz is not None:
            f.create_dataset("latents", (n, nz), np.float32, chunks=(meta_rows, nz), **kw)
        g = f.create_group("layers")
        itemsize = np.dtype(dtype).itemsize
        for alias, module_path, pooled, full, pooling, what in layer_specs:
            row_bytes = itemsize * max(1, int(np.prod(pooled, dtype=np.int64)))
            rows = _aligned_rows(n, batch_size, MAX_CHUNK_BYTES // row_bytes)
            ds = g.create_group(alias).create_dataset("activations", (n, *pooled), dtype, chunks=(rows, *pooled), **kw)
            ds.attrs["module_path"] = module_path
            ds.attrs["pooling"] = pooling
            ds.attrs["full_shape"] = np.asarray(full, dtype=np.int64)
            ds.attrs["records"] = what
        f.flush()
    except BaseException:
        f.close()
        raise
    return f


def _aligned_rows(n: int, batch_size: int, limit: int) -> int:
    """Chunk rows: a divisor of ``batch_size`` of at most ``limit`` rows (and at most ``n``)."""
    b = max(1, int(batch_size))
    parts = -(-b // max(1, min(int(limit), b)))  # ceil(b / limit)
    while b % parts:
        parts += 1
    return max(1, min(n, b // parts))


def check_written_rows(f, rows_done: int, path: Path) -> None:
    """Read back the last written row of every dataset; a damaged partial file is one clear error."""
    if rows_done <= 0:
        return
    names = []
    f.visititems(lambda name, obj: names.append(name) if hasattr(obj, "shape") and obj.shape else None)
    for name in names:
        ds = f[name]
        if ds.shape[0] < rows_done:
            continue
        try:
            ds[rows_done - 1]
        except OSError as exc:
            raise XaiprobeError(f"--resume: {path.name} is damaged ({name} before row {rows_done} cannot be read: "
                                f"{str(exc).splitlines()[0][:80]}); rerun with --overwrite to start over") from None


def verify_complete(path: Path, n: int, out: Path) -> None:
    """Check a finished file before it takes its final name: marked complete with ``n`` rows, every
    dataset ``n`` rows long, the last row of each readable. Raises one XaiprobeError line (the file
    keeps its temporary name)."""
    try:
        with open_h5(path, "r") as f:
            attrs = read_attrs(f)
            if not attrs.get("complete") or int(attrs.get("rows_done", 0) or 0) != n:
                raise XaiprobeError(f"marked {'complete' if attrs.get('complete') else 'incomplete'} with "
                                    f"{attrs.get('rows_done')} of {n} rows")
            names = []
            f.visititems(lambda name, obj: names.append(name) if hasattr(obj, "shape") and obj.shape else None)
            for name in names:
                if f[name].shape[0] != n:
                    raise XaiprobeError(f"{name} has {f[name].shape[0]} rows")
                if n:
                    f[name][n - 1]
    except (XaiprobeError, OSError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise XaiprobeError(f"--out {out}: the written file failed verification ({first}); it is kept as "
                            f"{path.name}, not {out.name}; rerun with --overwrite") from None


def open_for_resume(path: Path, attrs: dict, identity: Sequence[str]):
    """Open a partial file ``r+`` after checking it was started with the same ``identity`` attrs."""
    f = open_h5(path, "r+")
    old = read_attrs(f)
    for k in identity:
        want = json.loads(json.dumps(attrs.get(k)))
        have = old.get(k)
        if want is None and have == "":
            continue
        if have != want:
            f.close()
            raise XaiprobeError(f"--resume: {path.name} was started with a different {k} ({str(have)[:80]!r} vs now "
                                f"{str(want)[:80]!r}); rerun with the original options, or --overwrite to start over")
    if old.get("complete"):
        f.close()
        raise XaiprobeError(f"--resume: {path.name} is already marked complete; rename it to the output name")
    try:
        check_written_rows(f, int(old.get("rows_done", 0) or 0), path)
    except XaiprobeError:
        f.close()
        raise
    return f


class ChunkWriter:
    """Writes row blocks to an open HDF5 file in a background thread through a bounded queue.

    After each block the data is flushed, then the root attribute ``rows_done`` is set and
    flushed, so a resumed run restarts after the last block that is fully on disk.
    """

    def __init__(self, f, depth: int = 2):
        self.f = f
        self.q: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.rows_done = int(f.attrs.get("rows_done", 0))
        self.thread = threading.Thread(target=self._run, name="xaiprobe-h5-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            item = self.q.get()
            if item is None:
                return
            if self.error is not None:
                continue
            lo, hi, arrays = item
            try:
                self.write_block(lo, hi, arrays)
                self.rows_done = hi
            except BaseException as exc:  # re-raised in the calling thread
                self.error = exc

    def write_block(self, lo: int, hi: int, arrays: dict) -> None:
        """Write rows [lo, hi) of every dataset, flush, then record ``rows_done = hi``."""
        for name, arr in arrays.items():
            self.f[name][lo:hi] = arr
        self.f.flush()
        self.f.attrs["rows_done"] = hi
        self.f.flush()

    def put(self, lo: int, hi: int, arrays: dict) -> None:
        """Queue rows [lo, hi) (blocks while ``depth`` blocks are pending)."""
        if self.error is not None:
            raise self.error
        self.q.put((lo, hi, arrays))

    def close(self) -> None:
        """Write what is queued and stop the thread; re-raise a write error."""
        if self.thread.is_alive():
            self.q.put(None)
            self.thread.join()
        if self.error is not None:
            err, self.error = self.error, None
            raise err
