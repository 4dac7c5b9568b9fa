"""The report's unit: a typed, versioned record of one stage's findings.

A stage's ``section(result)`` returns a :class:`Section`; the stage (or the CLI) saves it as
``RUN/<stage>/section.json`` and the report reads every section of a run, orders them by
``order`` and renders them. The report never computes: everything it shows is in a section.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .._utils.errors import XaiprobeError

__all__ = ["Section", "Table", "Figure", "SECTION_FILE", "SECTION_FORMAT", "SECTION_VERSION"]

SECTION_FILE = "section.json"
SECTION_FORMAT = "xaiprobe.section"
SECTION_VERSION = 1


@dataclass
class Table:
    """A table of measured numbers: ``rows`` are lists aligned with ``columns``."""

    title: str
    columns: list
    rows: list

    def __post_init__(self):
        self.columns = [str(c) for c in self.columns]
        self.rows = [[_plain(v) for v in r] for r in self.rows]
        for r in self.rows:
            if len(r) != len(self.columns):
                raise ValueError(f"table {self.title!r}: a row has {len(r)} cells for {len(self.columns)} columns")


@dataclass
class Figure:
    """An image file (relative to the stage directory) with a title and a one-line reading."""

    file: str
    title: str
    caption: str


@dataclass
class Section:
    """One stage's findings, tables, figures and reproducing command.

    Parameters
    ----------
    stage : str
        The stage's name and directory under the run (``audit`` -> ``RUN/audit/``).
    title : str
        Section heading.
    order : int
        Position in the report (the data flow: training 10, activations 20, ... audit 120).
    headline : str
        The one finding that matters, with its interval (the report's summary line).
    findings : list of str
        One-line readings computed from the numbers.
    tables : list of Table
    figures : list of Figure
    command : list of str
        The xaiprobe command line(s) that reproduce the section.
    numbers : dict
        The key measured numbers by name (what tests and scripts read; never parsed from text).
    """

    stage: str
    title: str
    order: int
    headline: str = ""
    findings: list = field(default_factory=list)
    tables: list = field(default_factory=list)
    figures: list = field(default_factory=list)
    command: list = field(default_factory=list)
    numbers: dict = field(default_factory=dict)
    version: int = SECTION_VERSION

    def __post_init__(self):
        if isinstance(self.command, str):
            self.command = [self.command]
        self.tables = [t if isinstance(t, Table) else Table(**t) for t in self.tables]
        self.figures = [f if isinstance(f, Figure) else Figure(**f) for f in self.figures]
        self.numbers = {str(k): _plain(v) for k, v in self.numbers.items()}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["format"] = SECTION_FORMAT
        return d

    def save(self, stage_dir: str | os.PathLike) -> Path:
        """Write ``STAGE_DIR/section.json`` atomically and return its path."""
        from .._utils.io import atomic_path

        path = Path(stage_dir) / SECTION_FILE
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=True), encoding="utf-8")
        return path

    @classmethod
    def load(cls, stage_dir: str | os.PathLike) -> "Section":
        """Read ``STAGE_DIR/section.json``; a file of another format or a newer version is an error."""
        path = Path(stage_dir) / SECTION_FILE
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise XaiprobeError(f"section {path}: no such file; run the stage first") from None
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise XaiprobeError(f"section {path}: unreadable ({exc}); run the stage again") from None
        if not isinstance(d, dict) or d.get("format") != SECTION_FORMAT:
            raise XaiprobeError(f"section {path}: not an xaiprobe section; run the stage again")
        if int(d.get("version", 0)) > SECTION_VERSION:
            raise XaiprobeError(f"section {path}: version {d.get('version')} is newer than this xaiprobe reads "
                                f"({SECTION_VERSION}); upgrade xaiprobe")
        d.pop("format", None)
        known = {"stage", "title", "order", "headline", "findings", "tables", "figures", "command", "numbers",
                 "version"}
        return cls(**{k: v for k, v in d.items() if k in known})


def _plain(v):
    """JSON-able scalars: numpy scalars to Python, non-finite floats kept (rendered as a dash)."""
    try:
        import numpy as np

        if isinstance(v, np.generic):
            v = v.item()
        elif isinstance(v, np.ndarray):
            v = v.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(v, float) and math.isnan(v):
        return float("nan")
    if isinstance(v, Path):
        return str(v)
    return v
