"""The ``merge`` stage: join shard files (``extract --shard i/n``) into one activation file of HDF5
virtual datasets.

``xaiprobe merge --shards RUN/activations.shard-0-of-2.h5,RUN/activations.shard-1-of-2.h5 --out RUN``
writes ``RUN/activations.h5`` and the report's *Activations* section.

The merged file holds no copies: every dataset is a virtual dataset mapping row blocks to
the shards, referenced by paths relative to the merged file, so keep the shards beside it
(move them together). Shards must come from the same extraction (checkpoint, layers,
pooling, dtype, data) and tile the rows exactly: no overlap, nothing missing.
"""
from __future__ import annotations

import datetime
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .._layout import activations_path
from .._utils.errors import XaiprobeError
from .._utils.io import ensure_writable_dir
from .._utils.outputs import exclusive
from ..config import StageConfig, param
from ._store import FORMAT, VERSION, open_h5, read_attrs
from ._writer import verify_complete, write_root_attrs

log = logging.getLogger(__name__)

NAME = "activations"
TITLE = "Activations"
ORDER = 20
HELP = "join extraction shards into one activation file, RUN/activations.h5 (HDF5 virtual datasets)"

#: root attributes every shard of one extraction shares
SAME = ("checkpoint_sha256", "arch", "data", "layers", "pooling", "dtype", "source", "logit_layer",
        "random_init", "total_rows", "seed")


def _datasets(f) -> list[str]:
    names = [n for n in ("index", "split", "member", "labels", "logits", "latents") if n in f]
    names += [f"layers/{a}/activations" for a in f["layers"]]
    return names


def merge_shards(paths: Sequence[str | os.PathLike], out: str | os.PathLike, overwrite: bool = False,
                 command: str = "") -> Path:
    """Write ``out``: one activation file whose datasets are virtual views of the shards.

    Parameters
    ----------
    paths : list of path
        Complete shard files from ``extract_activations(..., shard=(i, n))``, any order.
    out : path
        The merged file (written as ``OUT.partial`` and renamed when complete).
    overwrite : bool
        Replace an existing ``out``.

    Returns
    -------
    Path of the merged file.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise XaiprobeError("merge: no shard files given; pass the files written by `xaiprobe extract --shard i/n`")
    out = Path(out)
    if out.exists() and not overwrite:
        raise XaiprobeError(f"--out {out}: already exists; pass --overwrite to replace it or choose another name")
    if any(p.resolve() == out.resolve() for p in paths):
        raise XaiprobeError(f"--out {out}: is one of the shards; choose another name")
    ensure_writable_dir(out.parent if str(out.parent) else ".")

    shards = []
    for p in paths:
        with open_h5(p, "r") as f:
            a = read_attrs(f)
            if not a.get("complete"):
                raise XaiprobeError(f"merge: shard {p} is incomplete ({a.get('rows_done', 0)} of {a.get('n_rows', '?')} rows); "
                                    "finish it with `xaiprobe extract ... --resume` first")
            if a.get("shards"):
                raise XaiprobeError(f"merge: {p} is itself a merged file; merge the original shards")
            shapes = {name: (f[name].shape, f[name].dtype) for name in _datasets(f)}
            dattrs = {name: dict(f[name].attrs) for name in shapes}
        shards.append((p, a, shapes, dattrs))
    first = shards[0][1]
    for p, a, shapes, _ in shards[1:]:
        for k in SAME:
            if a.get(k) != first.get(k):
                raise XaiprobeError(f"merge: shard {p} differs from {shards[0][0]} in {k} "
                                    f"({str(a.get(k))[:60]!r} vs {str(first.get(k))[:60]!r}); merge shards of one extraction only")
        if set(shapes) != set(shards[0][2]):
            raise XaiprobeError(f"merge: shard {p} has datasets {sorted(shapes)} but {shards[0][0]} has {sorted(shards[0][2])}")
    shards.sort(key=lambda s: int(s[1].get("row_start", 0)))
    total = int(first.get("total_rows", 0))
    pos = 0
    for p, a, _, _ in shards:
        start, stop = int(a.get("row_start", 0)), int(a.get("row_stop", 0))
        if start < pos:
            raise XaiprobeError(f"merge: shard {p} (rows {start}..{stop}) overlaps the previous shard (rows ..{pos}); "
                                "pass each shard once")
        if start > pos:
            raise XaiprobeError(f"merge: rows {pos}..{start} are missing (no shard covers them); run the missing "
                                f"shard(s) of --shard i/{a.get('shard_count')}")
        pos = stop
    if pos != total:
        raise XaiprobeError(f"merge: rows {pos}..{total} are missing (no shard covers them); run the missing "
                            f"shard(s) of --shard i/{first.get('shard_count')}")

    with exclusive(out, "merge"):
        if out.exists() and not overwrite:
            raise XaiprobeError(f"--out {out}: already exists; pass --overwrite to replace it or choose another name")
        _write(out, shards, first, total, command)
    log.info("merged %d shards (%d rows) into %s", len(shards), total, out)
    return out


def _write(out: Path, shards: list, first: dict, total: int, command: str) -> None:
    """Write OUT.partial (virtual datasets over the shards), verify it, rename it to OUT."""
    import h5py

    part = out.with_name(out.name + ".partial")
    if part.exists():
        part.unlink()
    rel = [os.path.relpath(p.resolve(), out.resolve().parent) for p, _, _, _ in shards]
    try:
        with h5py.File(part, "w") as f:
            attrs = {k: v for k, v in first.items()}
            attrs.update({"created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                          "command": command or first.get("command", ""), "complete": False, "rows_done": total,
                          "n_rows": total, "row_start": 0, "row_stop": total, "shard_index": 0, "shard_count": 1,
                          "shards": rel, "format": FORMAT, "version": VERSION})
            write_root_attrs(f, attrs)
            for name, (shape, dtype) in shards[0][2].items():
                full = (total, *shape[1:])
                if 0 in shape[1:]:
                    ds = f.create_dataset(name, full, dtype)
                else:
                    layout = h5py.VirtualLayout(shape=full, dtype=dtype)
                    for (p, a, shapes, _), r in zip(shards, rel):
                        start, stop = int(a["row_start"]), int(a["row_stop"])
                        layout[start:stop] = h5py.VirtualSource(r, name, shape=shapes[name][0])
                    ds = f.create_virtual_dataset(name, layout)
                for k, v in shards[0][3][name].items():
                    ds.attrs[k] = v
            f.attrs["complete"] = True
        verify_complete(part, total, out)
        os.replace(part, out)
    except BaseException:
        if part.exists():
            part.unlink()
        raise


@dataclass
class Config(StageConfig):
    """Shards to join. The merged file references them (virtual datasets, no copy): keep them
    beside it."""

    stage = "merge"
    shards: tuple[str, ...] = param(help="shard files written by `xaiprobe extract --shard i/n` (any order)",
                                    required=True, path=True)
    overwrite: bool = param(False, "replace an existing RUN/activations.h5")


def run(config: Config, run_dir):
    """Merge the shards into RUN/activations.h5."""
    from ._stage import Result, describe_store

    path = merge_shards(config.shards, activations_path(run_dir), overwrite=config.overwrite,
                        command=config.command())
    return Result(config, path, describe_store(path))


def section(result):
    """The Activations section of the merged file."""
    from ._stage import store_section

    return store_section(result.description, [result.config.command()])
