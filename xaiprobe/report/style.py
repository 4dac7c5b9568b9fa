"""Shared plot style: one color per attribute, PNG+SVG saving."""
from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ATTRIBUTE_COLORS = {
    "Smiling": "#d62728",
    "Eyeglasses": "#1f77b4",
    "Young": "#2ca02c",
    "Male": "#9467bd",
    "Blond_Hair": "#e8a317",
}
_PALETTE = plt.get_cmap("tab10").colors


def color_for(name: str) -> str:
    """The color of attribute ``name`` (stable across every figure)."""
    if name in ATTRIBUTE_COLORS:
        return ATTRIBUTE_COLORS[name]
    h = sum(ord(c) * (i + 1) for i, c in enumerate(str(name)))
    return matplotlib.colors.to_hex(_PALETTE[h % len(_PALETTE)])


def apply_style() -> None:
    plt.rcParams.update({
        "figure.dpi": 100, "savefig.bbox": "tight", "axes.spines.top": False,
        "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3, "font.size": 10,
        "axes.titlesize": 11, "legend.fontsize": 9, "svg.fonttype": "none",
    })


apply_style()


def savefig(fig, path_stem: str | os.PathLike, formats=("png", "svg"), dpi: int = 120) -> list[Path]:
    """Save ``fig`` as PATH_STEM.png and PATH_STEM.svg, close it, return the paths."""
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for ext in formats:
        p = stem.with_suffix(f".{ext}") if stem.suffix in ("", ".png", ".svg") else Path(f"{stem}.{ext}")
        fig.savefig(p, dpi=dpi)
        out.append(p)
    plt.close(fig)
    return out


def reset_figures(stage_dir: str | os.PathLike) -> None:
    """Forget the figures an earlier run listed in STAGE_DIR/figures.json (a stage that rewrites
    its results calls this first, so the report shows only this run's figures)."""
    (Path(stage_dir) / "figures.json").unlink(missing_ok=True)


def add_figure_entry(stage_dir: str | os.PathLike, file: str, caption: str, title: str = "") -> None:
    """Append ``{"file", "caption", "title"}`` to STAGE_DIR/figures.json (the report reads it)."""
    stage_dir = Path(stage_dir)
    index = stage_dir / "figures.json"
    entries = []
    if index.exists():
        with open(index) as f:
            entries = json.load(f)
    entries = [e for e in entries if e.get("file") != file]
    entries.append({"file": file, "caption": caption, "title": title or Path(file).stem.replace("_", " ")})
    with open(index, "w") as f:
        json.dump(entries, f, indent=1)


def write_json(path: str | os.PathLike, obj) -> Path:
    """Write JSON (numpy scalars and arrays converted) atomically."""
    import numpy as np

    from .._utils.io import atomic_path

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
