"""The run directory layout, defined once.

```
RUN/config.json              what produced the run
RUN/checkpoints/epoch_NNN.pt, last.pt
RUN/samples/
RUN/activations.h5           (RUN/activations.shard-I-of-N.h5: the shards `xaiprobe merge` joins)
RUN/<stage>/                 one directory per stage: section.json, figures, tables, artifacts
RUN/report/index.html
```
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["config_path", "checkpoints_dir", "last_checkpoint", "samples_dir", "activations_path",
           "activations_shard_path", "stage_dir", "report_path", "run_of_checkpoint"]


def config_path(run: str | os.PathLike) -> Path:
    return Path(run) / "config.json"


def checkpoints_dir(run: str | os.PathLike) -> Path:
    return Path(run) / "checkpoints"


def last_checkpoint(run: str | os.PathLike) -> Path:
    return checkpoints_dir(run) / "last.pt"


def samples_dir(run: str | os.PathLike) -> Path:
    return Path(run) / "samples"


def activations_path(run: str | os.PathLike) -> Path:
    return Path(run) / "activations.h5"


def activations_shard_path(run: str | os.PathLike, i: int, n: int) -> Path:
    return Path(run) / f"activations.shard-{int(i)}-of-{int(n)}.h5"


def stage_dir(run: str | os.PathLike, stage: str) -> Path:
    return Path(run) / stage


def report_path(run: str | os.PathLike) -> Path:
    return Path(run) / "report" / "index.html"


def run_of_checkpoint(checkpoint: str | os.PathLike) -> Path | None:
    """RUN for RUN/checkpoints/FILE.pt (or RUN/checkpoints), else None."""
    p = Path(checkpoint)
    d = p if p.is_dir() else p.parent
    return d.parent if d.name == "checkpoints" else None
