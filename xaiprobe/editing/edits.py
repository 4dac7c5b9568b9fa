"""Edits z + αd as image grids, and the editing stage of a run (``run_edit``, ``run_editing``).

Layout written under OUT_DIR (RUN/editing for the demo)::

    directions.pt                      (run_editing only)
    edit_<method>_<attribute>.png/svg  grid: rows of latents, columns of α
    quality.json, quality.csv          with a classifier: the edit-quality table
    entanglement_<method>.png, edit_slope.png, edit_leakage.png, logit_paths.png
    concept_<attribute>.png            with decoders: D's concept probability vs α
    summary.json, figures.json         for the report: findings, tables and the commands
                                       (see :mod:`xaiprobe.editing.report`)
"""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import numpy as np
import torch

from .._utils.device import resolve_device
from .._utils.errors import XaiprobeError
from .._utils.io import ensure_writable_dir
from ..gan.sampling import latent_size
from .directions import Directions, fit_directions, sample_latents

log = logging.getLogger(__name__)


def parse_alphas(spec) -> np.ndarray:
    """α values from ``"start:stop:count"`` (inclusive, like linspace), ``"a,b,c"`` or a sequence.

    Anything that is not a finite number raises XaiprobeError.
    """
    if not isinstance(spec, str):
        try:
            a = np.asarray(spec, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            raise XaiprobeError(f"alphas {spec!r}: not numbers; use start:stop:count (e.g. -3:3:7) or a comma list") from None
    else:
        text = spec.strip()
        try:
            if ":" in text:
                parts = text.split(":")
                if len(parts) != 3:
                    raise ValueError
                start, stop, count = float(parts[0]), float(parts[1]), parts[2].strip()
                if not re.fullmatch(r"\d+", count) or int(count) < 1:
                    raise ValueError
                a = np.linspace(start, stop, int(count))
            else:
                a = np.asarray([float(p) for p in text.split(",") if p.strip()], dtype=np.float64)
        except ValueError:
            raise XaiprobeError(f"alphas {spec!r}: not numbers; use start:stop:count with an integer count "
                                "(e.g. -3:3:7) or a comma list (e.g. -2,0,2)") from None
    if a.size == 0 or not np.isfinite(a).all():
        raise XaiprobeError(f"alphas {spec!r}: need at least one finite number; use e.g. -3:3:7")
    return a


def edit_latents(z: torch.Tensor, direction: torch.Tensor, alphas) -> torch.Tensor:
    """Edited latents z + α d, shape (n, k, nz) for z (n, nz), d (nz,), alphas (k,)."""
    z = torch.as_tensor(z, dtype=torch.float32)
    d = torch.as_tensor(direction, dtype=torch.float32).reshape(1, 1, -1)
    if d.shape[-1] != z.shape[-1]:
        raise XaiprobeError(f"edit: direction has {d.shape[-1]} dimensions but the latents have {z.shape[-1]}; "
                            "fit directions for this generator")
    a = torch.as_tensor(np.asarray(alphas, np.float64), dtype=torch.float32).reshape(1, -1, 1)
    return z[:, None, :] + a * d


def edit_images(G, z: torch.Tensor, direction: torch.Tensor, alphas, batch_size: int = 256) -> torch.Tensor:
    """Images (n, k, 3, H, W) of G(z + α d)."""
    from .quality import edit_path_images

    return edit_path_images(G, z, direction, alphas, batch_size)


def _names(arg, valid: list, what: str) -> list:
    if arg is None or arg == "all":
        return list(valid)
    names = [s.strip() for s in (arg.split(",") if isinstance(arg, str) else arg) if str(s).strip()]
    if not names:
        raise XaiprobeError(f"{what}: none given; use one of {', '.join(valid)} or all")
    return names


def _load_generator(checkpoint, device):
    """(G, D, sha256, data spec) from a checkpoint path or a loaded Checkpoint."""
    from ..gan.checkpoint import Checkpoint, load_checkpoint

    ck = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint, device)
    return ck.generator.to(device).eval(), ck.discriminator.to(device).eval(), ck.sha256, ck.data.get("spec", "")


def _quality_figures(q: dict, out: Path, names: list) -> None:
    from ..report.style import add_figure_entry, savefig
    from . import plots

    for m in q["methods"]:
        fig, _ = plots.plot_entanglement(q["entanglement"][m], names, f"entanglement ({m})")
        savefig(fig, out / f"entanglement_{m}")
        add_figure_entry(out, f"entanglement_{m}.png", f"{m} edits: per-unit-α change of every attribute's logit "
                         "relative to the edited one (off-diagonal = entanglement)", f"entanglement ({m})")
    for metric in ("slope", "leakage", "outside_ratio"):
        if all(np.isnan(r[metric]) for r in q["rows"]):
            continue
        fig, _ = plots.plot_method_comparison(q, metric)
        savefig(fig, out / f"edit_{metric}")
        add_figure_entry(out, f"edit_{metric}.png", f"edit {metric.replace('_', ' ')} per attribute and direction method",
                         f"edit {metric.replace('_', ' ')} by method")
    m0 = "lstsq" if "lstsq" in q["methods"] else q["methods"][0]
    fig, _ = plots.plot_logit_paths(q, m0)
    savefig(fig, out / "logit_paths")
    add_figure_entry(out, "logit_paths.png", f"classifier logit of the edited attribute vs α ({m0} directions)",
                     "target logit vs α")


def _region_masks(data, names) -> dict:
    """Average attribute regions of real images (for ``outside_change``); {} when unavailable.

    ``data`` is an ImageSet or a data spec; a spec is only loaded when it is SynthFaces
    (the only data with masks), so no other data set is read just for this.
    """
    from .quality import mean_region_masks

    try:
        if isinstance(data, str):
            if not data.startswith("synthfaces"):
                return {}
            from ..data import load_dataset
            data = load_dataset(data)
        return mean_region_masks(data, names)
    except (ImportError, XaiprobeError, OSError) as exc:
        log.warning("editing: attribute regions unavailable (%s); outside_change is NaN", exc)
        return {}


def run_edit(checkpoint, directions, out_dir, attributes=None, methods="lstsq", alphas="-3:3:7", n: int = 8,
             seed: int = 0, classifier=None, decoders=None, quality_methods=None, n_quality: int = 32,
             region_masks=None, device=None, progress: bool = True) -> dict:
    """Edit grids for ``attributes`` × ``methods``; with a classifier the quality table, with
    decoders D's concept curves. Writes OUT_DIR (see the module docstring); returns the summary.

    Parameters
    ----------
    checkpoint : path or Checkpoint
    directions : path or Directions
    attributes, methods : str (comma list, or "all") or list of str
    alphas : str or array (k,)
    n : int
        Latents (rows) per grid, drawn with ``seed``.
    classifier : path or AttributeClassifier, optional
        Adds the edit-quality table (quality.json/csv) over ``quality_methods`` (default
        ``methods``) with ``n_quality`` latents per path.
    decoders : directory or dict layer -> ConceptDecoder, optional
        Adds D's concept-vs-α curves along the first method's (lstsq's) edits.
    region_masks : dict attribute -> bool (H, W), optional
        Attribute regions for ``outside_change`` (see :mod:`xaiprobe.editing.quality`);
        default: the average masks of the checkpoint's SynthFaces training data, if any.
    """
    from ..report.style import add_figure_entry, savefig, write_json
    from . import plots
    from .classifier import load_classifier
    from .quality import concept_curves, edit_quality, format_quality_table, write_quality
    from .report import (classifier_command, directions_command, edit_command, editing_findings, editing_tables,
                         path_of)

    dev = resolve_device(device)
    alphas = parse_alphas(alphas)
    dirs = directions if isinstance(directions, Directions) else Directions.load(directions)
    G, D, sha, spec = _load_generator(checkpoint, dev)
    dirs.check_generator(latent_size(G), sha)
    attributes = _names(attributes, dirs.attribute_names, "attribute")
    methods = _names(methods, dirs.methods, "direction method")
    quality_methods = methods if quality_methods is None else _names(quality_methods, dirs.methods, "direction method")
    for m in dict.fromkeys(methods + quality_methods):
        for at in attributes:
            dirs.get(m, at)
    if int(n) < 1:
        raise XaiprobeError(f"edit: --n {n}: need at least one latent")
    out = ensure_writable_dir(out_dir)
    z = sample_latents(n, dirs.nz, seed)
    summary = {"alphas": alphas, "attributes": attributes, "methods": methods, "n": int(n), "seed": int(seed),
               "generator_sha256": sha, "grids": []}
    for m in methods:
        for at in attributes:
            imgs = edit_images(G, z, dirs.get(m, at), alphas)
            fig, _ = plots.plot_edit_grid(imgs, alphas, title=f"{at} ({m})")
            stem = f"edit_{m}_{at}"
            savefig(fig, out / stem)
            add_figure_entry(out, f"{stem}.png", f"{at} edited along the {m} direction: rows are latents, columns α",
                             f"edit {at} ({m})")
            summary["grids"].append(f"{stem}.png")
    if classifier is not None:
        clf = load_classifier(classifier, dev)
        if region_masks is None:
            region_masks = _region_masks(spec, dirs.attribute_names)
        q = edit_quality(G, clf, dirs, methods=quality_methods, attributes=attributes, alphas=alphas, n=n_quality,
                         region_masks=region_masks, progress=progress)
        write_quality(q, out)
        _quality_figures(q, out, dirs.attribute_names)
        summary["quality"] = {"rows": q["rows"], "by_method": q["summary"], "n": int(n_quality),
                              "regions": sorted(region_masks or {})}
        summary["quality_table"] = format_quality_table(q)
    decoders_path = None
    if decoders is not None:
        if not isinstance(decoders, dict):
            from ..probes import load_decoders
            decoders_path = decoders
            decoders = load_decoders(decoders)
        m0 = "lstsq" if "lstsq" in methods else methods[0]
        cc = concept_curves(D, decoders, G, dirs, attributes=attributes, method=m0, alphas=alphas, n=max(int(n), 16))
        summary["concept_curves"] = cc
        for at in attributes:
            fig, _ = plots.plot_concept_curves(cc, at)
            savefig(fig, out / f"concept_{at}")
            add_figure_entry(out, f"concept_{at}.png", f"D's decoded probability of {at} per layer along the {m0} {at} edit",
                             f"D's {at} along the edit")
    ck_path = path_of(checkpoint, "CHECKPOINT.pt")
    dirs_path = path_of(directions, str(out / "directions.pt"))
    clf_path = path_of(classifier, str(out / "classifier.pt")) if classifier is not None else None
    commands = []
    if classifier is not None:
        commands += [classifier_command(clf, clf_path), directions_command(dirs, ck_path, clf_path, dirs_path)]
    commands.append(edit_command(ck_path, dirs_path, out, attributes, methods, alphas, n, seed, clf_path,
                                 quality_methods, n_quality,
                                 None if decoders is None else path_of(decoders_path, "DECODERS_DIR")))
    summary.update(findings=editing_findings(summary, getattr(clf, "metrics_", None) if classifier is not None else None),
                   tables=editing_tables(summary), command=[c for c in commands if c])
    write_json(out / "summary.json", summary)
    return summary


def run_editing(checkpoint, classifier, out_dir, n: int = 5000, methods=None, alphas="-3:3:7", n_grid: int = 8,
                n_quality: int = 32, grid_methods=("lstsq",), decoders=None, data=None, seed: int = 0,
                device=None, progress: bool = True) -> dict:
    """The whole editing stage: fit directions, edit grids, quality table, D's concept curves.

    Parameters
    ----------
    checkpoint : path or Checkpoint
        The GAN (its generator is edited, its discriminator decoded).
    classifier : path or AttributeClassifier
    out_dir : path
        RUN/editing; directions are saved as OUT_DIR/directions.pt.
    n : int
        Latents used to fit the directions.
    methods : list or comma str, optional
        Direction methods fitted and compared in the quality table (default all five);
        grids are drawn for ``grid_methods``.
    decoders : directory or dict, optional
        Concept decoders of D (``xaiprobe decode``) for the concept-vs-α curves.
    data : ImageSet or spec, optional
        Real labeled images for the attribute regions of ``outside_change`` (default: the
        checkpoint's data spec when it is SynthFaces).

    Returns
    -------
    dict
        The summary written to OUT_DIR/summary.json.
    """
    from ..gan.checkpoint import Checkpoint, load_checkpoint
    from ..report.style import write_json
    from .classifier import load_classifier

    dev = resolve_device(device)
    ck = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint, dev)
    clf = load_classifier(classifier, dev)
    out = ensure_writable_dir(out_dir)
    dirs = fit_directions(ck.generator, clf, n=n, methods=methods, seed=seed, generator_sha256=ck.sha256, device=dev)
    dirs.save(out / "directions.pt")
    regions = _region_masks(data if data is not None else ck.data.get("spec", ""), dirs.attribute_names)
    grid_methods = [m for m in _names(list(grid_methods), dirs.methods, "direction method") if m in dirs.methods] or dirs.methods[:1]
    summary = run_edit(ck, dirs, out, methods=grid_methods, alphas=alphas, n=n_grid, seed=seed,
                       classifier=classifier if isinstance(classifier, (str, os.PathLike)) else clf,
                       decoders=decoders, quality_methods=dirs.methods, n_quality=n_quality, region_masks=regions,
                       device=dev, progress=progress)
    summary.update({"classifier": {"metrics": getattr(clf, "metrics_", {}), "arch": clf.arch},
                    "directions": {"file": "directions.pt", "n": int(n), "methods": dirs.methods, "info": dirs.info}})
    write_json(out / "summary.json", summary)
    return summary
