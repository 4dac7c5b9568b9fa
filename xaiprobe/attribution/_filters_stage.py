"""The filters stage (``xaiprobe filters``): what single units of the discriminator respond to.

Writes RUN/filters/: the conv1 filter grid, activation-maximization images and traces, top-k
receptive-field crops, network dissection (on data with masks), ``results.json`` (the
measurements) and ``section.json``.
"""
from __future__ import annotations

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
from ..report import Figure, Section
from ..report._section import SECTION_FILE
from ..stages import execute
from . import _plots as plots
from ._dissection import DissectionResult, dissect
from ._filters import TopActivations, filter_grid, first_conv_weights, parse_channels, top_activating
from ._maximization import MaximizationResult, maximize_activation
from ._units_section import (channel_table, dissection_table, filters_findings, filters_headline, filters_numbers,
                             top_units_table)

__all__ = ["NAME", "TITLE", "ORDER", "HELP", "Config", "Result", "run", "section", "run_filters"]

NAME = "filters"
TITLE = "Filters and units"
ORDER = 60
HELP = "filter grid, activation maximization, top-k crops and network dissection of D's units"



@dataclass
class Config(StageConfig):
    """Parameters of ``xaiprobe filters``."""

    stage = "filters"
    checkpoint: str | None = param(None, "xaiprobe checkpoint (.pt) of the GAN", path=True)
    data: str | None = param(None, "data spec scanned for top-k crops and dissection; unset: the checkpoint's "
                                   "training data")
    layer: str = param("conv3", "layer for activation maximization and top-k crops")
    channels: str = param("0:16", "channels: a range A:B or a list 1,5,9")
    k: int = param(8, "top-k images per channel", low=1)
    n: int = param(2000, "data set images scanned", low=1)
    steps: int = param(200, "activation-maximization steps", low=1)
    quantile: float = param(0.95, "dissection: per-unit activation quantile", low=0, high=1, low_open=True,
                            high_open=True)
    dissection: bool = param(True, "network dissection (on data with region masks)")
    seed: int = param(0, "seed", low=0)
    device: str | None = param(None, "cpu, cuda or cuda:N; unset: cuda when present")
    model: object = param(None, "the discriminator (instead of --checkpoint)", cli=False)
    image_data: object = param(None, "an ImageSet to scan (instead of --data)", cli=False)

    def check(self) -> None:
        if self.checkpoint is None and self.model is None:
            raise XaiprobeError("--checkpoint: required; pass the xaiprobe checkpoint (.pt) whose discriminator "
                                "is analysed")
        try:
            parse_channels(self.channels, 1 << 30)
        except XaiprobeError:
            raise XaiprobeError(f"--channels {self.channels!r}: not a range or list; write A:B (e.g. 0:16) or "
                                "a list 0,3,7") from None


@dataclass
class Result:
    """What the stage measured (see the attributes' own types)."""

    config: Config
    stage_dir: Path
    data: str
    n_images: int
    maximization: MaximizationResult
    top: TopActivations
    dissection: DissectionResult | None
    figures: list


def run(config: Config, run_dir) -> Result:
    """Filter grid, activation maximization, top-k crops and dissection into RUN/filters."""
    D, spec = config.model, ""
    if config.checkpoint is not None:
        ck = load_checkpoint(config.checkpoint, resolve_device(config.device))
        D, spec = ck.discriminator, (ck.data or {}).get("spec", "")
    data = config.image_data if config.image_data is not None else (config.data or spec or None)
    if data is None:
        raise XaiprobeError("--data: the model records no data set; pass --data SPEC (e.g. synthfaces:2000)")
    if isinstance(data, str):
        data = load_dataset(data)
    rows = np.arange(min(config.n, len(data)))
    progress = sys.stderr.isatty()
    with evaluating(D, config.device) as D:
        w = first_conv_weights(D)
        mx = maximize_activation(D, config.layer, config.channels, steps=config.steps, seed=config.seed,
                                 progress=progress)
        out = stage_dir(run_dir, NAME)
        out.mkdir(parents=True, exist_ok=True)
        (out / SECTION_FILE).unlink(missing_ok=True)  # an interrupted run must not look complete
        figures = []
        fig, _ = plots.plot_filter_grid(filter_grid(w))
        savefig(fig, out / "conv1_filters", formats=PNG_SVG)
        figures.append(Figure("conv1_filters.png", "conv1 filters", f"The {w.shape[0]} first-layer filters as RGB "
                              "patches (gray = 0, bright = positive weight on that color)."))
        fig, _ = plots.plot_image_grid(mx.images, f"Activation maximization, {mx.layer}", ncols=min(8, len(mx.channels)))
        savefig(fig, out / f"maximization_{mx.layer}", formats=PNG_SVG)
        figures.append(Figure(f"maximization_{mx.layer}.png", f"Activation maximization — {mx.layer}",
                              f"Images optimized to excite channels {mx.channels[0]}..{mx.channels[-1]} of {mx.layer} "
                              "(jitter, total variation, blur)."))
        fig, _ = plots.plot_maximization_traces(mx)
        savefig(fig, out / f"maximization_trace_{mx.layer}", formats=PNG_SVG)
        figures.append(Figure(f"maximization_trace_{mx.layer}.png", f"Maximization objective — {mx.layer}",
                              f"Objective per step: mean over channels {mx.trace[0].mean():.3g} → "
                              f"{mx.trace[-1].mean():.3g}."))

        top = top_activating(D, data, config.layer, config.channels, k=config.k, rows=rows, progress=progress)
        fig, _ = plots.plot_image_grid(top.crops, f"Top-{config.k} receptive-field crops ({top.field.size}px), "
                                       f"{top.layer}", row_labels=[f"ch {c}" for c in top.channels])
        savefig(fig, out / f"topk_{top.layer}", formats=PNG_SVG)
        figures.append(Figure(f"topk_{top.layer}.png", f"Top activating crops — {top.layer}",
                              f"For each channel of {top.layer} (rows), the {config.k} data set crops "
                              f"({top.field.size}×{top.field.size} px receptive field) where it fires most."))

        res = None
        if config.dissection and getattr(data, "masks", None) is not None:
            res = dissect(D, data, None, rows=rows, quantile=config.quantile, seed=config.seed, progress=progress)
            fig, _ = plots.plot_dissection(res)
            savefig(fig, out / "dissection", formats=PNG_SVG)
            sel = {layer: sum(res.counts[layer].values()) for layer in res.layers}
            figures.append(Figure("dissection.png", "Network dissection",
                                  "Concept-selective units per layer (IoU of the top-activation region with a mask > "
                                  f"{res.iou_threshold:g} and >= {res.min_lift:g}x chance): "
                                  + ", ".join(f"{k} {v}" for k, v in sel.items()) + "."))
    results = {"data": data.spec, "n_images": int(rows.size),
               "maximization": {"layer": mx.layer, "channels": mx.channels, "steps": config.steps,
                                "objective_start": mx.trace[0], "objective_end": mx.trace[-1], "final": mx.final},
               "topk": {"layer": top.layer, "receptive_field": top.field.size, "stride": top.field.stride,
                        "rows": top.rows, "values": top.values}}
    if res is not None:
        results["dissection"] = res.to_dict()
    write_json(out / "results.json", results)
    return Result(config, out, data.spec, int(rows.size), mx, top, res, figures)


def _reproducible(config: Config) -> bool:
    """True when the command line can name every input (no Python object stands in for one)."""
    return config.checkpoint is not None and config.model is None and config.image_data is None


def section(result: Result) -> Section:
    """Selective units per layer, the best unit, maximization progress, receptive field."""
    mx, top, res = result.maximization, result.top, result.dissection
    tables = ([dissection_table(res), top_units_table(res)] if res is not None else []) + [channel_table(mx, top, res)]
    return Section(stage=NAME, title=TITLE, order=ORDER, headline=filters_headline(mx, top, res),
                   findings=filters_findings(mx, top, res), tables=tables, figures=result.figures,
                   command=[result.config.command()] if _reproducible(result.config) else [],
                   numbers=filters_numbers(mx, top, res))


def run_filters(run_dir, **params) -> Result:
    """Run the stage into the run directory RUN (writes RUN/filters/ with its section.json).

    ``params`` are :class:`Config` fields (API-only ones included, e.g. ``model=D``).
    """
    return execute(sys.modules[__name__], Config(**params), run_dir)[0]
