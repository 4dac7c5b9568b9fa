"""The report's "Activations" section: what RUN/activations.h5 holds, layer by layer.

A missing, partial or unreadable activation file is not an error for the report: the
section is left out and the reason logged, so a report of a run that stopped early is
still written.
"""
from __future__ import annotations

import html
import logging
from pathlib import Path

import numpy as np

from .._utils.errors import XaiprobeError

log = logging.getLogger(__name__)

_SPLITS = ("train", "val", "test")


def _shape(shape) -> str:
    return "×".join(str(int(s)) for s in shape) if len(shape) else "scalar"


def _mb(nbytes) -> float:
    return round(float(nbytes) / 1e6, 2)


def describe_store(path) -> dict:
    """Plain description of an activation file (for the report).

    Returns
    -------
    dict
        ``{"quantities": dict, "layers": list of dict, "command": str}``; raises
        XaiprobeError (or OSError) when the file is not a complete, readable activation file.
    """
    from ..activations.store import ActivationStore

    path = Path(path)
    with ActivationStore(path) as store:
        attrs = store.attrs
        n = len(store)
        split = np.asarray(store.split)
        counts = np.bincount(split.astype(np.int64), minlength=3) if split.size else np.zeros(3, np.int64)
        splits = " · ".join(f"{name} {int(c)}" for name, c in zip(_SPLITS, counts[:3]) if c)
        if len(counts) > 3 and counts[3:].any():
            splits += f" · other {int(counts[3:].sum())}"
        member = store.member
        names = store.attribute_names
        data = attrs.get("data") if isinstance(attrs.get("data"), dict) else {}
        q = {"file": path.name, "file size (MB)": _mb(path.stat().st_size), "images": n, "splits": splits or "—",
             "GAN training members": int(np.asarray(member).sum()) if member is not None else None,
             "source": attrs.get("source"), "data": data.get("spec", attrs.get("data")),
             "labels": f"{len(names)}: {', '.join(names)} ({store.concept_type})" if names else "none",
             "latents stored": store.latents is not None, "pooling": attrs.get("pooling"),
             "dtype": attrs.get("dtype"), "compression": attrs.get("compression"),
             "checkpoint sha256": str(attrs.get("checkpoint_sha256", ""))[:16] or None,
             "created": attrs.get("created"), "xaiprobe version": attrs.get("xaiprobe_version")}
        layers = []
        for alias in store.layers:
            view = store[alias]
            la = store.layer_attrs(alias)
            layers.append({"layer": alias, "module path": la.get("module_path", ""),
                           "stored shape": _shape(view.shape[1:]), "full shape": _shape(la.get("full_shape", ())),
                           "pooling": la.get("pooling", attrs.get("pooling", "")), "dtype": str(view.dtype),
                           "features": int(np.prod(view.shape[1:], dtype=np.int64)),
                           "MB on disk": _mb(view.nbytes_on_disk)})
        command = str(attrs.get("command") or "")
    return {"quantities": {k: v for k, v in q.items() if v is not None}, "layers": layers, "command": command}


def store_finding(desc: dict) -> str:
    """One line on a described activation file (see :func:`describe_store`)."""
    layers, q = desc["layers"], desc["quantities"]
    mb = sum(r["MB on disk"] for r in layers)
    return (f"{q['images']} images × {len(layers)} layers ({', '.join(r['layer'] for r in layers)}), "
            f"pooling {q.get('pooling', '—')}, {q.get('dtype', '—')}: {mb:.1f} MB of activations.")


def render_activations(path, stage_dir: Path | None = None, title: str = "Activations",
                       anchor: str = "activations") -> str:
    """HTML section for RUN/activations.h5 (plus RUN/activations/ results if any); "" when
    there is nothing readable to show."""
    from .html import _scalars_table, _table, stage_parts

    path = Path(path)
    extra = "".join(stage_parts(stage_dir)) if stage_dir is not None else ""
    body = ""
    if path.is_file():
        try:
            desc = describe_store(path)
        except (XaiprobeError, OSError, KeyError, ValueError, RuntimeError) as exc:
            log.warning("report: skipping the Activations section: %s", str(exc).splitlines()[0] if str(exc) else exc)
            desc = None
        if desc is not None:
            layers = desc["layers"]
            q = desc["quantities"]
            finding = store_finding(desc)
            cols = ["layer", "module path", "stored shape", "full shape", "pooling", "dtype", "features", "MB on disk"]
            body = (f'<ul class="findings"><li>{html.escape(finding)}</li></ul>' + _scalars_table(q)
                    + _table(cols, [[r[c] for c in cols] for r in layers], "Layers (shapes per image)"))
            if desc["command"]:
                body += f"<h3>Reproduce</h3><pre>{html.escape(desc['command'])}</pre>"
    elif path.with_name(path.name + ".partial").exists():
        log.warning("report: skipping the Activations section: %s did not finish (%s.partial exists)", path, path.name)
    if not body and not extra:
        return ""
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>{body}{extra}</section>'
