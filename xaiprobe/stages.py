"""The stage registry: every stage that follows the contract, registered by one line.

A stage is a module or package that exposes

* ``NAME`` (CLI subcommand and directory under the run), ``TITLE``, ``ORDER`` (position in the
  report), ``HELP`` (one line for ``xaiprobe --help``),
* ``Config`` — a :class:`xaiprobe.config.StageConfig` dataclass holding every parameter once,
* ``run(config, run_dir) -> Result`` — the work (no argparse, no printing beyond logging/tqdm),
* ``section(result) -> xaiprobe.report.Section`` — its findings, tables, figures and command.

The CLI builds ``xaiprobe NAME`` from ``Config``; :func:`execute` runs a stage and saves its
section where the report reads it. To add a stage, write its package and add one line to
``STAGES`` (or call :func:`register` from your own code).
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path

from ._utils.errors import XaiprobeError

__all__ = ["STAGES", "register", "load_stage", "execute", "check_stage"]

#: CLI name -> module path, in help order
STAGES: dict[str, str] = {
    "train": "xaiprobe.gan._train_stage",
    "extract": "xaiprobe.activations",
    "merge": "xaiprobe.activations._merge",
    "probe": "xaiprobe.probes",
    "dynamics": "xaiprobe.probes._dynamics",
    "decode": "xaiprobe.probes._decode",
    "concepts": "xaiprobe.probes._concepts",
    "attribute": "xaiprobe.attribution._attribute_stage",
    "filters": "xaiprobe.attribution._filters_stage",
    "generator": "xaiprobe.attribution._generator_stage",
    "mia": "xaiprobe.mia",
    "directions": "xaiprobe.editing._directions_stage",
    "edit": "xaiprobe.editing._edit_stage",
    "quality": "xaiprobe.gan.quality",
    "aeacgan": "xaiprobe.conditional",
    "audit": "xaiprobe.audit",
}


def register(name: str, module: str) -> None:
    """Register the stage in ``module`` under the subcommand ``name``."""
    STAGES[name] = module


def load_stage(name: str):
    """The stage module registered as ``name`` (checked against the contract)."""
    if name not in STAGES:
        raise XaiprobeError(f"stage {name!r}: unknown; stages are {', '.join(STAGES)}")
    mod = importlib.import_module(STAGES[name])
    check_stage(mod)
    return mod


def check_stage(mod) -> None:
    """Raise TypeError naming what a module lacks to be a stage."""
    from .config import StageConfig

    missing = [a for a in ("NAME", "TITLE", "ORDER", "HELP", "Config", "run", "section") if not hasattr(mod, a)]
    if missing:
        raise TypeError(f"stage module {mod.__name__}: lacks {', '.join(missing)}")
    if not (isinstance(mod.Config, type) and issubclass(mod.Config, StageConfig)):
        raise TypeError(f"stage module {mod.__name__}: Config is not a StageConfig dataclass")


def execute(mod, config, run_dir: str | os.PathLike):
    """Run a stage and save its section as ``RUN/<NAME>/section.json``; return ``(result, section)``."""
    from ._layout import stage_dir
    from ._utils.io import ensure_writable_dir

    run_dir = Path(run_dir)
    result = mod.run(config, run_dir)
    sec = mod.section(result)
    ensure_writable_dir(stage_dir(run_dir, mod.NAME))
    sec.save(stage_dir(run_dir, mod.NAME))
    return result, sec
