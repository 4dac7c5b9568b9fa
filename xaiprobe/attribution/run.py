"""The attribution stage end to end: maps, overlays, HDF5, sanity check, localization.

``run_attribution`` is what ``xaiprobe attribute`` calls. It writes into ``out``
(default ``RUN/attribution``): ``attr_<method>_<target>.png/.svg`` overlay grids,
``maps_<target>.h5`` raw maps, ``sanity_<target>.png`` and ``localization_<target>.png``,
and the stage's ``summary.json`` (every target run into ``out``, with the report's findings,
tables and reproducing commands over all of them) and ``figures.json``.
"""
from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import numpy as np
import torch

from .._utils.errors import XaiprobeError
from .._utils.io import atomic_path, ensure_writable_dir
from .methods import METHODS, attribute, get_method, method_name
from .targets import build_target, load_concept_head, parse_target, prepare_model

log = logging.getLogger(__name__)

MAPS_FORMAT = "xaiprobe.attribution"


def slug(text: str) -> str:
    """File-name-safe form of a target string: ``concept:Smiling@conv3`` -> ``concept-Smiling-conv3``."""
    return re.sub(r"[^A-Za-z0-9_.]+", "-", str(text)).strip("-") or "target"


def parse_methods(methods) -> list[str]:
    """``"ig,saliency"``, ``["ig", "gradcam"]`` or ``"all"`` -> validated method names."""
    if methods is None:
        return ["ig"]
    if isinstance(methods, str):
        methods = [methods]
    out: list[str] = []
    for m in methods:
        for part in (str(m).split(",") if isinstance(m, str) else [m]):
            if isinstance(part, str) and part.strip() == "all":
                out += list(METHODS)
            elif not (isinstance(part, str) and not part.strip()):
                out.append(method_name(get_method(part.strip() if isinstance(part, str) else part)))
    return list(dict.fromkeys(out))


def default_stage_dir(checkpoint, stage: str) -> Path:
    """RUN/<stage> for a checkpoint at RUN/checkpoints/X.pt."""
    p = Path(checkpoint)
    if p.parent.name == "checkpoints":
        return p.parent.parent / stage
    raise XaiprobeError(f"--out: not given and {p} is not inside RUN/checkpoints/; pass --out DIR")


def load_models(checkpoint, device=None):
    """(G, D, data spec) from a checkpoint path."""
    from .._utils.device import resolve_device
    from ..gan.checkpoint import load_checkpoint

    ck = load_checkpoint(checkpoint, resolve_device(device))
    return ck.generator, ck.discriminator, ck.data.get("spec", ""), ck


def resolve_images(images, G=None, n: int = 16, split="test", seed: int = 0):
    """(float images (n, C, H, W), data ImageSet or None, data rows or None, spec string).

    ``images`` is a data spec (``synthfaces:2000``, ``folder:DIR``, ``store.h5``),
    ``generated:N`` (samples of G), an ImageSet, or a float tensor.
    """
    if torch.is_tensor(images):
        return images[:n].float(), None, None, "tensor"
    if isinstance(images, str) and images.startswith("generated"):
        if G is None:
            raise XaiprobeError("images generated:N: needs a generator; pass --checkpoint")
        from ..gan.sampling import sample_images
        try:
            count = int(images.split(":", 1)[1]) if ":" in images else n
        except ValueError:
            raise XaiprobeError(f"images {images!r}: write generated:N with N a number") from None
        _, x = sample_images(G, min(count, n), seed=seed)
        return x.float(), None, None, images
    if isinstance(images, str):
        from ..data import load_dataset
        data = load_dataset(images)
    else:
        data = images
    rows = data.rows_of(split)
    if rows.size == 0:
        rows = data.rows_of(None)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.permutation(rows)[:n])
    return data.images(rows), data, rows, data.spec


def save_maps(path, maps: dict, images: torch.Tensor, target: str, index=None, extra: dict | None = None) -> Path:
    """Write maps to HDF5 atomically.

    Layout: ``/maps/<method>`` (n, H, W) float32 (attrs method, target), ``/index`` (n,) int64
    data set index of each image (-1 when unknown), ``/images`` (n, C, H, W) uint8; root attrs
    format, version, target, methods, and ``extra`` (json).
    """
    import json

    import h5py

    from .. import __version__
    from ..data.base import to_uint8_images

    path = Path(path)
    index = np.full(len(images), -1, dtype=np.int64) if index is None else np.asarray(index, dtype=np.int64)
    with atomic_path(path, suffix=".h5") as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs.update({"format": MAPS_FORMAT, "version": 1, "xaiprobe_version": __version__,
                            "target": str(target), "methods": json.dumps(list(maps)),
                            "extra": json.dumps(extra or {}, default=str)})
            f.create_dataset("index", data=index)
            f.create_dataset("images", data=to_uint8_images(images), compression="gzip")
            g = f.create_group("maps")
            for m, a in maps.items():
                ds = g.create_dataset(m, data=np.asarray(a, dtype=np.float32), compression="gzip")
                ds.attrs.update({"method": m, "target": str(target)})
    return path


def load_maps(path) -> dict:
    """Read a maps file: {"maps": {method: (n, H, W)}, "index", "images", "target"}."""
    import h5py

    p = Path(path)
    if not p.is_file():
        raise XaiprobeError(f"maps {p}: no such file; write it with `xaiprobe attribute`")
    with h5py.File(p, "r") as f:
        if f.attrs.get("format") != MAPS_FORMAT:
            raise XaiprobeError(f"maps {p}: not an xaiprobe attribution file; write it with `xaiprobe attribute`")
        return {"maps": {k: f["maps"][k][()] for k in f["maps"]}, "index": f["index"][()],
                "images": f["images"][()], "target": str(f.attrs["target"])}


def _merge_summary(out: Path, key: str, entry: dict) -> None:
    import json

    from ..report.style import write_json

    path = out / "summary.json"
    summary = {}
    if path.exists():
        try:
            with open(path) as f:
                summary = json.load(f)
        except (OSError, ValueError):
            summary = {}
    from .summary import attribution_summary

    summary.setdefault("stage", out.name)
    summary.setdefault("targets", {})[key] = entry
    summary["last"] = key
    summary.update(attribution_summary(summary["targets"]))
    write_json(path, summary)


def run_attribution(checkpoint=None, images=None, out=None, methods=("ig",), target="logit", probes=None, n: int = 16,
                    split="test", layer=None, sanity: bool = True, sanity_n: int = 8, localization=None,
                    localization_n: int = 32, device=None, seed: int = 0, batch_size: int = 16,
                    method_kwargs: dict | None = None, model=None, generator=None, progress: bool = False,
                    command: str | None = None) -> dict:
    """Attribution maps, overlays, HDF5, sanity check and localization for one target.

    Parameters
    ----------
    checkpoint : path, optional
        xaiprobe checkpoint (or pass ``model``/``generator``).
    images : str, ImageSet or Tensor, optional
        Data spec (default: the checkpoint's data), ``generated:N``, an ImageSet or tensor.
    out : path, optional
        Stage directory (default RUN/attribution next to the checkpoint's run).
    methods : str or sequence
        Method names, ``"all"``, or comma lists.
    target : str
        ``logit`` or ``concept:NAME@LAYER`` (needs ``probes``).
    probes : directory, optional
        ``xaiprobe probe`` (or ``decode``) output.
    n : int
        Images to attribute (drawn from ``split``).
    sanity : bool
        Run the cascading randomization check on ``sanity_n`` of the images.
    localization : bool or None
        Localization on region masks (None: when the data has masks).
    method_kwargs : dict, optional
        method -> Captum keyword arguments (e.g. ``{"ig": {"n_steps": 32}}``).
    command : str, optional
        The command recorded as reproducing this target (default: the equivalent
        ``xaiprobe attribute`` line, when the arguments can be written as one).

    Returns
    -------
    dict
        The summary entry written to ``summary.json``. The stage's summary also holds
        ``targets`` (every target run into ``out``), ``last``, and ``findings``, ``tables`` and
        ``command`` over all of them.
    """
    from ..report.style import add_figure_entry, savefig
    from . import plots
    from .localization import localize
    from .sanity import sanity_check
    from .summary import attribute_command

    G, D, spec, sha = generator, model, "", ""
    if checkpoint is not None:
        G, D, spec, ck = load_models(checkpoint, device)
        sha = ck.sha256
    if D is None:
        raise XaiprobeError("attribution: no model; pass --checkpoint FILE")
    out = ensure_writable_dir(out if out is not None else default_stage_dir(checkpoint, "attribution"))
    names = parse_methods(methods)
    method_kwargs = method_kwargs or {}
    tspec = parse_target(target)
    if command is None:
        command = attribute_command(checkpoint, images, out, names, str(tspec), probes, n, split, layer, sanity,
                                    sanity_n, localization, localization_n, batch_size, seed, device, method_kwargs)
    tkey = slug(str(tspec))
    x, data, rows, data_spec = resolve_images(images if images is not None else (spec or None), G, n, split, seed)
    base = prepare_model(D, device)
    if tspec.kind == "concept":
        probes = {tspec.layer: load_concept_head(probes, tspec.layer, base)}
    forward = build_target(base, tspec, probes=probes)
    index = data.index[rows] if data is not None else None
    maps, timing = {}, {}
    for m in names:
        t0 = time.perf_counter()
        maps[m] = attribute(base, x, m, target=forward, layer=layer, batch_size=batch_size, **method_kwargs.get(m, {}))
        timing[m] = (time.perf_counter() - t0) / len(x)
        log.info("%s: %.3f s/image", m, timing[m])
        labels = [f"#{i}" for i in index] if index is not None else None
        fig, _ = plots.plot_attribution_grid(x, maps[m], f"{m} → {tspec}", labels=labels)
        fname = f"attr_{m}_{tkey}"
        savefig(fig, out / fname)
        add_figure_entry(out, f"{fname}.png", f"{m} attribution of {tspec} on {len(x)} images: rows are the image, "
                         "the signed map (red raises the score, blue lowers it) and |map| blended over the image.",
                         f"{m} — {tspec}")
    maps_path = save_maps(out / f"maps_{tkey}.h5", {k: v.numpy() for k, v in maps.items()}, x, str(tspec), index,
                          {"data": data_spec, "checkpoint_sha256": sha, "method_kwargs": method_kwargs})
    entry = {"target": str(tspec), "methods": names, "n_images": int(len(x)), "data": data_spec,
             "seconds_per_image": timing, "maps_file": maps_path.name}
    if command:
        entry["command"] = command
    if sanity:
        res = sanity_check(base, x[:sanity_n], names, target=tspec, probes=probes, seed=seed, layer=layer,
                           batch_size=batch_size, method_kwargs=method_kwargs, progress=progress)
        fig, _ = plots.plot_sanity(res)
        savefig(fig, out / f"sanity_{tkey}")
        flagged = [m for m, f in res.flagged.items() if f]
        full = ", ".join(f"{m} {res.spearman[i, -1]:.2f}" for i, m in enumerate(res.methods))
        add_figure_entry(out, f"sanity_{tkey}.png",
                         f"Cascading randomization: Spearman ρ after all layers are re-initialized — {full}; "
                         f"flagged (ρ > {res.threshold:g}): {', '.join(flagged) or 'none'}.",
                         f"Sanity check — {tspec}")
        entry["sanity"] = {**res.to_dict(), "n_images": int(min(sanity_n, len(x))), "markdown": res.to_markdown()}
    if localization is None:
        localization = data is not None and getattr(data, "masks", None) is not None
    if localization:
        if data is None or getattr(data, "masks", None) is None:
            raise XaiprobeError("localization: the images have no region masks; use SynthFaces images (--images synthfaces:N)")
        loc_target = "concept" if tspec.kind == "concept" else "logit"
        loc_layer = tspec.layer if tspec.kind == "concept" else layer
        concepts = None
        if tspec.kind == "concept":
            from .localization import concept_regions
            regions = concept_regions()
            head = probes[tspec.layer]
            concepts = {c: r for c, r in regions.items() if c in head.concept_names}
        res = localize(base, data, names, concepts=concepts, n=localization_n, split=split, target=loc_target,
                       probes=probes, layer=loc_layer, batch_size=batch_size, device=device,
                       method_kwargs=method_kwargs, seed=seed)
        fig, _ = plots.plot_localization(res)
        savefig(fig, out / f"localization_{tkey}")
        best = max(res.rows, key=lambda r: r["ratio"] if np.isfinite(r["ratio"]) else -1)
        add_figure_entry(out, f"localization_{tkey}.png",
                         f"Share of positive attribution inside the concept's region over the region's area (1 = uniform) "
                         f"and pointing-game hits; best: {best['method']} on {best['concept']} ratio {best['ratio']:.2f}.",
                         f"Localization — {loc_target}")
        entry["localization"] = {**res.to_dict(), "markdown": res.to_markdown()}
    _merge_summary(out, tkey, entry)
    return entry
