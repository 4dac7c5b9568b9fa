"""The editing stage (``xaiprobe edit``, report section ``editing``): image grids of G(z + αd) along
the fitted latent directions; with the attribute classifier the edit-quality table; with D's
concept decoders the decoded concepts along the edits.

Writes RUN/editing/: ``edit_<method>_<attribute>.png/.svg`` grids (rows of latents, columns of α),
``quality.json`` / ``quality.csv``, ``entanglement_<method>``, ``edit_slope``, ``edit_leakage``,
``edit_outside_ratio``, ``logit_paths`` and ``concept_<attribute>`` figures, ``results.json`` (the
measurements) and ``section.json``. Its inputs are explicit: ``--directions`` (``xaiprobe
directions``), ``--classifier`` (``xaiprobe classifier train``), ``--decoders`` (``xaiprobe decode``).
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._layout import stage_dir
from .._utils.coerce import evaluating, resolve_device
from .._utils.errors import XaiprobeError
from .._utils.figures import PNG_SVG, savefig, write_json
from ..config import StageConfig, param
from ..data import load_dataset
from ..gan.checkpoint import load_checkpoint
from ..gan.sampling import latent_size
from ..report import Figure, Section
from ..report._section import SECTION_FILE
from ..stages import execute
from . import _directions_stage
from . import _plots as plots
from ._directions import METHODS, Directions, sample_latents
from ._edit_section import editing_findings, editing_headline, editing_numbers, editing_tables
from ._edits import edit_images, parse_alphas, select_names
from ._quality import concept_curves, edit_quality, format_quality_table, mean_region_masks, write_quality
from .classifier import load_classifier

__all__ = ["NAME", "TITLE", "ORDER", "HELP", "Config", "Result", "run", "section", "run_edit", "run_editing"]

log = logging.getLogger(__name__)

NAME = "editing"
TITLE = "Latent editing"
ORDER = 90
HELP = "edit generated images along latent directions (grids, edit quality, D's concepts along the edits)"



@dataclass
class Config(StageConfig):
    """Parameters of ``xaiprobe edit``."""

    stage = "edit"
    checkpoint: str | None = param(None, "GAN checkpoint (.pt) the directions were fitted on", path=True)
    directions: str | None = param(None, "directions file of `xaiprobe directions` (RUN/directions/directions.pt)",
                                   path=True)
    attributes: tuple[str, ...] = param((), "attributes to edit (all: every one); unset: every attribute of the "
                                            "directions")
    alphas: str = param("-3:3:7", "edit strengths α: start:stop:count (inclusive) or a list -2,0,2; write "
                                  "--alphas=-3:3:7 when the value starts with a minus")
    methods: tuple[str, ...] = param(("lstsq",), "direction methods drawn as grids (all: every one in the file)",
                                     choices=(*METHODS, "all"))
    n: int = param(8, "latents (grid rows)", low=1)
    seed: int = param(0, "seed of the latents", low=0)
    classifier: str | None = param(None, "attribute classifier of `xaiprobe classifier train` that scores the "
                                         "edit-quality table; unset: the shipped SynthFaces classifier", path=True)
    quality_methods: tuple[str, ...] = param((), "direction methods compared in the quality table (all: every one); "
                                                 "unset: every method in the directions file",
                                             choices=(*METHODS, "all"))
    n_quality: int = param(32, "latents per edit path for the quality table", low=1)
    decoders: str | None = param(None, "concept decoders of `xaiprobe decode`: adds D's concepts along the edits",
                                 path=True)
    device: str | None = param(None, "cpu, cuda or cuda:N; unset: cuda when present")
    region_masks: object = param(None, "attribute -> bool (H, W) regions for outside_change; unset: the average "
                                       "masks of the checkpoint's SynthFaces data", cli=False)

    def check(self) -> None:
        if self.checkpoint is None:
            raise XaiprobeError("--checkpoint: required; pass the GAN checkpoint (.pt) the directions were fitted on")
        if self.directions is None:
            raise XaiprobeError("--directions: required; fit them with `xaiprobe directions` and pass "
                                "RUN/directions/directions.pt")
        try:
            parse_alphas(self.alphas)
        except XaiprobeError as exc:
            raise XaiprobeError(f"--alphas {self.alphas!r}: {str(exc).split(': ', 1)[-1]}") from None


@dataclass
class Result:
    """The measurements (``summary``: grids, quality rows and means, concept curves), the
    classifier's own metrics (the yardstick of every slope) and the figures."""

    config: Config
    stage_dir: Path
    summary: dict
    classifier_metrics: dict | None
    figures: list


def _region_masks(data, names) -> dict:
    """Average attribute regions of real images (for ``outside_change``); {} when unavailable.

    ``data`` is an ImageSet or a data spec; a spec is only loaded when it is SynthFaces
    (the only data with masks), so no other data set is read just for this.
    """
    try:
        if isinstance(data, str):
            if not data.startswith("synthfaces"):
                return {}
            data = load_dataset(data)
        return mean_region_masks(data, names)
    except (XaiprobeError, OSError) as exc:
        log.warning("editing: attribute regions unavailable (%s); outside_change is NaN", exc)
        return {}


def _quality_figures(q: dict, out: Path, names: list) -> list:
    figures = []
    for m in q["methods"]:
        fig, _ = plots.plot_entanglement(q["entanglement"][m], names, f"entanglement ({m})")
        savefig(fig, out / f"entanglement_{m}", formats=PNG_SVG)
        figures.append(Figure(f"entanglement_{m}.png", f"entanglement ({m})", f"{m} edits: per-unit-α change of every "
                              "attribute's logit relative to the edited one (off-diagonal = entanglement)"))
    for metric in ("slope", "leakage", "outside_ratio"):
        if all(np.isnan(r[metric]) for r in q["rows"]):
            continue
        fig, _ = plots.plot_method_comparison(q, metric)
        savefig(fig, out / f"edit_{metric}", formats=PNG_SVG)
        what = metric.replace("_", " ")
        figures.append(Figure(f"edit_{metric}.png", f"edit {what} by method",
                              f"edit {what} per attribute and direction method"))
    m0 = "lstsq" if "lstsq" in q["methods"] else q["methods"][0]
    fig, _ = plots.plot_logit_paths(q, m0)
    savefig(fig, out / "logit_paths", formats=PNG_SVG)
    figures.append(Figure("logit_paths.png", "target logit vs α",
                          f"classifier logit of the edited attribute vs α ({m0} directions)"))
    return figures


def run(config: Config, run_dir) -> Result:
    """Edit grids; with a classifier the quality table; with decoders D's concept curves."""
    dev = resolve_device(config.device)
    alphas = parse_alphas(config.alphas)
    dirs = Directions.load(config.directions)
    ck = load_checkpoint(config.checkpoint, dev)
    G, D, spec = ck.generator, ck.discriminator, (ck.data or {}).get("spec", "")
    dirs.check_generator(latent_size(G), ck.sha256)
    attributes = select_names(config.attributes, dirs.attribute_names, "--attributes")
    methods = select_names(config.methods, dirs.methods, "--methods")
    quality_methods = select_names(config.quality_methods, dirs.methods, "--quality-methods")
    for m in dict.fromkeys(methods + quality_methods):
        for at in attributes:
            dirs.get(m, at)
    clf = load_classifier(config.classifier, dev)  # unset: the shipped classifier
    decoders = None
    if config.decoders is not None:
        from ..probes import load_decoders  # the probes stage's public API, read only for --decoders

        decoders = load_decoders(config.decoders)
    out = stage_dir(run_dir, NAME)
    out.mkdir(parents=True, exist_ok=True)
    (out / SECTION_FILE).unlink(missing_ok=True)  # an interrupted run must not look complete
    progress = sys.stderr.isatty()
    figures = []
    summary = {"alphas": alphas, "attributes": attributes, "methods": methods, "n": config.n, "seed": config.seed,
               "generator_sha256": ck.sha256, "grids": []}
    z = sample_latents(config.n, dirs.nz, config.seed)
    with evaluating(G):
        for m in methods:
            for at in attributes:
                imgs = edit_images(G, z, dirs.get(m, at), alphas)
                fig, _ = plots.plot_edit_grid(imgs, alphas, title=f"{at} ({m})")
                stem = f"edit_{m}_{at}"
                savefig(fig, out / stem, formats=PNG_SVG)
                figures.append(Figure(f"{stem}.png", f"edit {at} ({m})",
                                      f"{at} edited along the {m} direction: rows are latents, columns α"))
                summary["grids"].append(f"{stem}.png")
        if clf is not None:
            regions = config.region_masks
            if regions is None:
                regions = _region_masks(spec, dirs.attribute_names)
            q = edit_quality(G, clf, dirs, methods=quality_methods, attributes=attributes, alphas=alphas,
                             n=config.n_quality, region_masks=regions, progress=progress)
            write_quality(q, out)
            figures += _quality_figures(q, out, dirs.attribute_names)
            summary["quality"] = {"rows": q["rows"], "by_method": q["summary"], "n": config.n_quality,
                                  "regions": sorted(regions or {})}
            summary["quality_table"] = format_quality_table(q)
        if decoders is not None:
            m0 = "lstsq" if "lstsq" in methods else methods[0]
            cc = concept_curves(D, decoders, G, dirs, attributes=attributes, method=m0, alphas=alphas,
                                n=max(config.n, 16))
            summary["concept_curves"] = cc
            for at in attributes:
                fig, _ = plots.plot_concept_curves(cc, at)
                savefig(fig, out / f"concept_{at}", formats=PNG_SVG)
                figures.append(Figure(f"concept_{at}.png", f"D's {at} along the edit",
                                      f"D's decoded probability of {at} per layer along the {m0} {at} edit"))
    metrics = getattr(clf, "metrics_", None) if clf is not None else None
    if clf is not None:
        summary["classifier"] = {"file": str(config.classifier), "metrics": metrics or {}}
    summary["directions"] = {"file": str(config.directions), "methods": dirs.methods, "info": dirs.info}
    write_json(out / "results.json", summary)
    return Result(config, out, summary, metrics, figures)


def section(result: Result) -> Section:
    """Which direction method edits with the least leakage, the strongest and most local edits,
    whether D's concept decoders follow the edits, how good the yardstick classifier is."""
    s = result.summary
    return Section(stage=NAME, title=TITLE, order=ORDER, headline=editing_headline(s),
                   findings=editing_findings(s, result.classifier_metrics), tables=editing_tables(s),
                   figures=result.figures, command=[result.config.command()] if result.config.region_masks is None else [],
                   numbers=editing_numbers(s))


def run_edit(run_dir, **params) -> Result:
    """Run the stage into the run directory RUN (writes RUN/editing/ with its section.json).

    ``params`` are :class:`Config` fields.
    """
    return execute(sys.modules[__name__], Config(**params), run_dir)[0]


def run_editing(run_dir, checkpoint, classifier, n: int = 5000, methods=METHODS, alphas: str = "-3:3:7",
                n_grid: int = 8, n_quality: int = 32, grid_methods=("lstsq",), decoders=None, data=None,
                seed: int = 0, device=None) -> Result:
    """The whole editing analysis: fit directions (RUN/directions), then edit grids, the quality table
    over every fitted method and D's concept curves (RUN/editing).

    Parameters
    ----------
    run_dir : path
        The run directory RUN.
    checkpoint, classifier : path
        The GAN and the attribute classifier (``xaiprobe classifier train``).
    n : int
        Latents used to fit the directions.
    methods : sequence of str
        Direction methods fitted and compared in the quality table; grids are drawn for ``grid_methods``.
    decoders : directory, optional
        Concept decoders of D (``xaiprobe decode``) for the concept-vs-α curves.
    data : ImageSet or spec, optional
        Real labeled images for the attribute regions of ``outside_change`` (default: the
        checkpoint's data spec when it is SynthFaces).

    Returns
    -------
    Result
        The editing stage's result.
    """
    fitted = execute(_directions_stage, _directions_stage.Config(
        checkpoint=checkpoint, classifier=classifier, n=n, methods=methods, seed=seed, device=device), run_dir)[0]
    grid = [m for m in grid_methods if m in fitted.directions.methods] or fitted.directions.methods[:1]
    regions = None if data is None else _region_masks(data, fitted.directions.attribute_names)
    return run_edit(run_dir, checkpoint=checkpoint, directions=fitted.path, methods=grid, alphas=alphas, n=n_grid,
                    seed=seed, classifier=classifier, quality_methods=fitted.directions.methods,
                    n_quality=n_quality, decoders=decoders, region_masks=regions, device=device)
