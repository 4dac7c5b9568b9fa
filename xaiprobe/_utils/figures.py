"""Figures without side effects: no backend switch, no global rcParams change, no pyplot state.

Figures are ``matplotlib.figure.Figure`` objects made by :func:`subplots` (never registered with
pyplot, so a caller's interactive session is untouched); the house style is applied only inside
:func:`styled` (``matplotlib.rc_context``), which plotting functions use as a decorator.
"""
from __future__ import annotations

import functools
import json
import os
from pathlib import Path

__all__ = ["STYLE", "styled", "subplots", "savefig", "color_for", "ATTRIBUTE_COLORS", "write_json", "PNG_SVG"]

#: raster for the report, vector for papers
PNG_SVG = ("png", "svg")

STYLE = {
    "figure.dpi": 100, "savefig.bbox": "tight", "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3, "font.size": 10,
    "axes.titlesize": 11, "legend.fontsize": 9, "svg.fonttype": "none",
}

ATTRIBUTE_COLORS = {
    "Smiling": "#d62728",
    "Eyeglasses": "#1f77b4",
    "Young": "#2ca02c",
    "Male": "#9467bd",
    "Blond_Hair": "#e8a317",
}


def styled(func):
    """Run ``func`` with the house style in a ``matplotlib.rc_context`` (restored afterwards)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(STYLE):
            return func(*args, **kwargs)
    return wrapper


def subplots(nrows: int = 1, ncols: int = 1, **kwargs):
    """``(fig, axes)`` like ``pyplot.subplots`` but on a bare Figure that pyplot never sees."""
    from matplotlib.figure import Figure

    fkw = {k: kwargs.pop(k) for k in ("figsize", "dpi", "layout", "constrained_layout", "tight_layout")
           if k in kwargs}
    fig = Figure(**fkw)
    axes = fig.subplots(nrows, ncols, **kwargs)
    return fig, axes


def color_for(name: str) -> str:
    """The color of attribute ``name`` (stable across every figure)."""
    if name in ATTRIBUTE_COLORS:
        return ATTRIBUTE_COLORS[name]
    import matplotlib

    palette = matplotlib.colormaps["tab20"].colors
    h = sum(ord(c) * (i + 1) for i, c in enumerate(str(name)))
    return matplotlib.colors.to_hex(palette[h % len(palette)])


def savefig(fig, path_stem: str | os.PathLike, formats=("png",), dpi: int = 120) -> list[Path]:
    """Save ``fig`` as PATH_STEM.<fmt> for each format (atomically, with the house style's save
    settings such as the tight bounding box) and return the paths."""
    import matplotlib

    from .io import atomic_path

    stem = Path(path_stem)
    out = []
    for ext in formats:
        p = stem.with_suffix(f".{ext}") if stem.suffix in ("", ".png", ".svg", ".pdf") else Path(f"{stem}.{ext}")
        with atomic_path(p, suffix=f".{ext}") as tmp, matplotlib.rc_context(STYLE):
            fig.savefig(tmp, dpi=dpi, format=ext)
        out.append(p)
    try:  # a figure made through pyplot is released too
        import sys

        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close(fig)
    except Exception:  # pragma: no cover
        pass
    return out


def write_json(path: str | os.PathLike, obj) -> Path:
    """Write JSON (numpy scalars and arrays converted) atomically."""
    import numpy as np

    from .io import atomic_path

    def default(o):
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, Path):
            return str(o)
        raise TypeError(f"not JSON serializable: {type(o).__name__}")

    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=1, default=default, allow_nan=True)
    return path
