"""The attribution stage (``xaiprobe attribute``): Captum maps of D's logit, of a concept it sees at a
layer, or of an auxiliary attribute head, with the cascading randomization sanity check and
localization on region masks.

Writes RUN/attribution/: ``attr_<method>_<target>.png/.svg`` overlay grids, ``maps_<target>.h5``
raw maps, ``sanity_<target>.png``, ``localization_<target>.png``, ``targets.json`` (every target run
into this run directory, in order; the section covers all of them) and ``section.json``.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._layout import stage_dir
from .._utils.coerce import evaluating, resolve_device
from .._utils.errors import XaiprobeError
from .._utils.figures import PNG_SVG, savefig, write_json
from ..config import StageConfig, param
from ..gan.checkpoint import load_checkpoint
from ..report import Section
from ..report._section import SECTION_FILE
from ..stages import execute
from . import _plots as plots
from ._attribute_section import section_parts
from ._localization import concept_regions, localize
from ._maps import resolve_images, save_maps, slug
from ._methods import METHODS, attribute
from ._sanity import sanity_check
from ._targets import build_target, load_concept_head, parse_target

__all__ = ["NAME", "TITLE", "ORDER", "HELP", "Config", "Result", "run", "section", "run_attribution", "TARGETS_FILE"]

log = logging.getLogger(__name__)

NAME = "attribution"
TITLE = "Attributions"
ORDER = 50
HELP = "attribution maps (IG, saliency, Grad-CAM, ...) of D's logit, a concept or an auxiliary attribute"

#: every target run into RUN/attribution, in order (the section covers them all)
TARGETS_FILE = "targets.json"
#: figure file formats


@dataclass
class Config(StageConfig):
    """Parameters of ``xaiprobe attribute``."""

    stage = "attribute"
    checkpoint: str | None = param(None, "xaiprobe checkpoint (.pt) of the GAN", path=True)
    images: str | None = param(None, "images: a data spec (synthfaces:N, folder:DIR, STORE.h5, ...) or generated:N; "
                                     "unset: the checkpoint's training data")
    n: int = param(16, "images to attribute", low=1)
    split: str = param("test", "split the images are drawn from", choices=("train", "val", "test", "all"))
    methods: tuple[str, ...] = param(("ig",), "attribution methods (all: every one)", choices=(*METHODS, "all"))
    target: str = param("logit", "what is explained: logit, concept:NAME@LAYER (needs --probes) or aux:NAME "
                                 "(a discriminator with an auxiliary attribute head)")
    probes: str | None = param(None, "directory of `xaiprobe probe` (probe_<layer>.pt) or `xaiprobe decode` output",
                               path=True)
    layer: str | None = param(None, "Grad-CAM layer (alias or module path); unset: the concept's layer, else the "
                                    "deepest layer of at least 8x8")
    steps: int = param(50, "integrated-gradients steps", low=1)
    sanity: bool = param(True, "run the cascading randomization sanity check")
    sanity_n: int = param(8, "images used by the sanity check", low=1)
    localization: str = param("auto", "localization on region masks (auto: when the images have masks)",
                              choices=("auto", "on", "off"))
    localization_n: int = param(32, "images per concept for localization", low=1)
    batch_size: int = param(16, "images per Captum call", low=1)
    seed: int = param(0, "seed of the image choice, noise baselines and randomization", low=0)
    device: str | None = param(None, "cpu, cuda or cuda:N; unset: cuda when present")
    model: object = param(None, "the discriminator (instead of --checkpoint)", cli=False)
    generator: object = param(None, "the generator, for generated:N images", cli=False)
    image_data: object = param(None, "images as a float tensor (n, C, H, W) or an ImageSet", cli=False)
    method_kwargs: object = param(None, "method -> Captum keyword arguments, e.g. {'ig': {'n_steps': 32}}", cli=False)

    def check(self) -> None:
        if self.checkpoint is None and self.model is None:
            raise XaiprobeError("--checkpoint: required; pass the xaiprobe checkpoint (.pt) whose discriminator "
                                "is explained")
        parse_target(self.target)
        self.methods = tuple(dict.fromkeys(m for x in self.methods for m in (METHODS if x == "all" else (x,))))
        if not self.methods:
            raise XaiprobeError(f"--methods: none given; use any of {', '.join(METHODS)} or all")

    def captum_options(self) -> dict:
        """method -> Captum keyword arguments: ``--steps`` for IG, then the API's ``method_kwargs``."""
        out = {"ig": {"n_steps": self.steps}} if "ig" in self.methods else {}
        for m, kw in (self.method_kwargs or {}).items():
            out[m] = {**out.get(m, {}), **kw}
        return out


@dataclass
class Result:
    """What the stage measured.

    Attributes
    ----------
    config : Config
    stage_dir : Path
        RUN/attribution.
    targets : dict
        target key -> entry (as stored in ``targets.json``): ``target``, ``methods``, ``n_images``,
        ``data``, ``seconds_per_image``, ``maps_file``, ``figures``, ``command`` (or None for an
        in-memory model), ``sanity`` and ``localization`` when run. Every target run into this
        run directory, in order; the one just run is ``last``.
    last : str
    """

    config: Config
    stage_dir: Path
    targets: dict
    last: str

    @property
    def entry(self) -> dict:
        """The entry of the target just run."""
        return self.targets[self.last]


def _figure(file: str, title: str, caption: str) -> dict:
    return {"file": file, "title": title, "caption": caption}


def run(config: Config, run_dir) -> Result:
    """Maps, overlays, HDF5, sanity check and localization for one target into RUN/attribution."""
    G, D, spec, sha, aux_names = config.generator, config.model, "", "", None
    if config.checkpoint is not None:
        ck = load_checkpoint(config.checkpoint, resolve_device(config.device))
        G, D, spec, sha = ck.generator, ck.discriminator, (ck.data or {}).get("spec", ""), ck.sha256
        aux_names = (ck.data or {}).get("attribute_names")
    names = list(config.methods)
    method_kwargs = config.captum_options()
    tspec = parse_target(config.target)
    tkey = slug(str(tspec))
    source = config.image_data if config.image_data is not None else (config.images or spec or None)
    if source is None:
        raise XaiprobeError("--images: the model records no data set; pass --images SPEC (e.g. synthfaces:2000)")
    x, data, rows, data_spec = resolve_images(source, G, config.n, config.split, config.seed)
    if tspec.kind == "aux" and aux_names is None and data is not None:
        aux_names = list(data.attribute_names)
    has_masks = data is not None and getattr(data, "masks", None) is not None
    localization = {"auto": has_masks, "on": True, "off": False}[config.localization]
    if localization and not has_masks:
        raise XaiprobeError("--localization on: the images have no region masks; use SynthFaces images "
                            "(--images synthfaces:N)")
    with evaluating(D, config.device) as base:
        probes = config.probes
        if tspec.kind == "concept":
            probes = {tspec.layer: load_concept_head(probes, tspec.layer, base)}
        forward = build_target(base, tspec, probes=probes, aux_names=aux_names)
        out = stage_dir(run_dir, NAME)
        out.mkdir(parents=True, exist_ok=True)
        (out / SECTION_FILE).unlink(missing_ok=True)  # an interrupted run must not look complete
        index = data.index[rows] if data is not None else None
        maps, timing, figures = {}, {}, []
        for m in names:
            t0 = time.perf_counter()
            maps[m] = attribute(base, x, m, target=forward, layer=config.layer, batch_size=config.batch_size,
                                **method_kwargs.get(m, {}))
            timing[m] = (time.perf_counter() - t0) / len(x)
            log.info("%s: %.3f s/image", m, timing[m])
            labels = [f"#{i}" for i in index] if index is not None else None
            fig, _ = plots.plot_attribution_grid(x, maps[m], f"{m} → {tspec}", labels=labels)
            savefig(fig, out / f"attr_{m}_{tkey}", formats=PNG_SVG)
            figures.append(_figure(f"attr_{m}_{tkey}.png", f"{m} — {tspec}",
                                   f"{m} attribution of {tspec} on {len(x)} images: rows are the image, the signed map "
                                   "(red raises the score, blue lowers it) and |map| blended over the image."))
        maps_path = save_maps(out / f"maps_{tkey}.h5", {k: v.numpy() for k, v in maps.items()}, x, str(tspec), index,
                              {"data": data_spec, "checkpoint_sha256": sha, "method_kwargs": method_kwargs})
        entry = {"target": str(tspec), "methods": names, "n_images": int(len(x)), "data": data_spec,
                 "seconds_per_image": timing, "maps_file": maps_path.name,
                 "command": config.command() if _reproducible(config) else None}
        if config.sanity:
            res = sanity_check(base, x[:config.sanity_n], names, target=tspec, probes=probes, seed=config.seed,
                               layer=config.layer, batch_size=config.batch_size, method_kwargs=method_kwargs,
                               aux_names=aux_names, progress=sys.stderr.isatty())
            fig, _ = plots.plot_sanity(res)
            savefig(fig, out / f"sanity_{tkey}", formats=PNG_SVG)
            flagged = [m for m, f in res.flagged.items() if f]
            full = ", ".join(f"{m} {res.spearman[i, -1]:.2f}" for i, m in enumerate(res.methods))
            figures.append(_figure(f"sanity_{tkey}.png", f"Sanity check — {tspec}",
                                   f"Cascading randomization: Spearman ρ after all layers are re-initialized — {full}; "
                                   f"flagged (ρ > {res.threshold:g}): {', '.join(flagged) or 'none'}."))
            entry["sanity"] = {**res.to_dict(), "n_images": int(min(config.sanity_n, len(x)))}
        if localization:
            concept = tspec.kind == "concept"
            concepts = None
            if concept:
                head = probes[tspec.layer]
                concepts = {c: r for c, r in concept_regions().items() if c in head.concept_names}
            res = localize(base, data, names, concepts=concepts, n=config.localization_n, split=config.split,
                           target="concept" if concept else "logit", probes=probes,
                           layer=tspec.layer if concept else config.layer, batch_size=config.batch_size,
                           method_kwargs=method_kwargs, seed=config.seed)
            fig, _ = plots.plot_localization(res)
            savefig(fig, out / f"localization_{tkey}", formats=PNG_SVG)
            best = max(res.rows, key=lambda r: r["ratio"] if np.isfinite(r["ratio"]) else -1)
            figures.append(_figure(f"localization_{tkey}.png", f"Localization — {'concept' if concept else 'logit'}",
                                   "Share of positive attribution inside the concept's region over the region's area "
                                   f"(1 = uniform) and pointing-game hits; best: {best['method']} on {best['concept']} "
                                   f"ratio {best['ratio']:.2f}."))
            entry["localization"] = res.to_dict()
    entry["figures"] = figures
    targets = _targets_so_far(out)
    targets.pop(tkey, None)
    targets[tkey] = entry
    write_json(out / TARGETS_FILE, {"targets": targets, "last": tkey})
    stored = json.loads((out / TARGETS_FILE).read_text())
    return Result(config, out, stored["targets"], tkey)


def _reproducible(config: Config) -> bool:
    """True when the command line can name every input (no Python object stands in for one)."""
    return config.checkpoint is not None and all(
        v is None for v in (config.model, config.generator, config.image_data, config.method_kwargs))


def _targets_so_far(out: Path) -> dict:
    """The targets an earlier run wrote into this stage directory (none when unreadable)."""
    try:
        targets = json.loads((out / TARGETS_FILE).read_text()).get("targets")
    except (OSError, ValueError, AttributeError):
        return {}
    return targets if isinstance(targets, dict) else {}


def section(result: Result) -> Section:
    """The report section: findings, tables and figures of every target, their commands and numbers."""
    return Section(stage=NAME, title=TITLE, order=ORDER, **section_parts(result.targets, result.last))


def run_attribution(run_dir, **params) -> Result:
    """Run the stage into the run directory RUN (writes RUN/attribution/ with its section.json).

    ``params`` are :class:`Config` fields (API-only ones included, e.g. ``model=D``).
    """
    return execute(sys.modules[__name__], Config(**params), run_dir)[0]
