"""The generator stage (``xaiprobe generator``): latent sweeps and ranking, G's feature maps, and
where in D's layers counterfactual SynthFaces pairs diverge.

Writes RUN/generator/: ``latent_ranking``, ``latent_sweep``, ``generator_features`` and
``counterfactual_divergence`` figures, ``results.json`` (the measurements) and ``section.json``.
The attribute classifier, when given, is an explicit input: a file of ``xaiprobe classifier
train`` (``--classifier``) or, from Python, any callable images -> logits (``classifier_model``).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from .._layout import stage_dir
from .._utils.coerce import evaluating, resolve_device
from .._utils.errors import XaiprobeError
from .._utils.figures import PNG_SVG, savefig, write_json
from ..config import StageConfig, param
from ..editing import load_classifier
from ..gan.checkpoint import load_checkpoint
from ..report import Figure, Section
from ..report._section import SECTION_FILE
from ..stages import execute
from . import _plots as plots
from ._generator import (Divergence, LatentRanking, counterfactual_divergence, generator_features, latent_sweep,
                         rank_latent_dims)
from ._units_section import (divergence_peak, divergence_tables, generator_findings, generator_headline,
                             generator_numbers, ranking_table)

__all__ = ["NAME", "TITLE", "ORDER", "HELP", "Config", "Result", "run", "section", "run_generator"]

NAME = "generator"
TITLE = "Generator analysis"
ORDER = 70
HELP = "latent sweeps and ranking, G's feature maps, counterfactual divergence in D"



@dataclass
class Config(StageConfig):
    """Parameters of ``xaiprobe generator``."""

    stage = "generator"
    checkpoint: str | None = param(None, "xaiprobe checkpoint (.pt) of the GAN", path=True)
    dims: int = param(16, "latent dims shown in the sweep grid (most influential first)", low=1)
    latents: int = param(8, "base latents for ranking the dims", low=1)
    pairs: int = param(32, "counterfactual pairs per attribute (0: skip the divergence)", low=0)
    classifier: str | None = param(None, "attribute classifier of `xaiprobe classifier train` whose logit change "
                                         "per latent dim is shown; unset: the shipped SynthFaces classifier", path=True)
    seed: int = param(0, "seed of the latents", low=0)
    device: str | None = param(None, "cpu, cuda or cuda:N; unset: cuda when present")
    generator: object = param(None, "the generator (instead of --checkpoint)", cli=False)
    model: object = param(None, "the discriminator, for the counterfactual divergence", cli=False)
    classifier_model: object = param(None, "a callable images -> logits (n, A) (instead of --classifier)", cli=False)

    def check(self) -> None:
        if self.checkpoint is None and self.generator is None:
            raise XaiprobeError("--checkpoint: required; pass the xaiprobe checkpoint (.pt) whose generator is "
                                "analysed")


@dataclass
class Result:
    """What the stage measured."""

    config: Config
    stage_dir: Path
    ranking: LatentRanking
    features: dict
    divergence: Divergence | None
    figures: list


def run(config: Config, run_dir) -> Result:
    """Latent sweeps and ranking, feature maps, counterfactual divergence into RUN/generator."""
    G, D = config.generator, config.model
    dev = resolve_device(config.device)
    if config.checkpoint is not None:
        ck = load_checkpoint(config.checkpoint, dev)
        G, D = ck.generator, ck.discriminator
    clf = config.classifier_model
    if clf is None:  # unset --classifier: the shipped classifier
        clf = load_classifier(config.classifier, dev)
    progress = sys.stderr.isatty()
    with evaluating(G, config.device) as G:
        rank = rank_latent_dims(G, n_latents=config.latents, classifier=clf, seed=config.seed, progress=progress)
        out = stage_dir(run_dir, NAME)
        out.mkdir(parents=True, exist_ok=True)
        (out / SECTION_FILE).unlink(missing_ok=True)  # an interrupted run must not look complete
        figures = []
        fig, _ = plots.plot_latent_ranking(rank)
        savefig(fig, out / "latent_ranking", formats=PNG_SVG)
        tops = ", ".join(f"z{d} ({v:.3f})" for d, v in rank.top_dims(3))
        figures.append(Figure("latent_ranking.png", "Latent dimension ranking",
                              f"Latent dims ranked by mean pixel change when set to ±{rank.amplitude:g}; largest: "
                              f"{tops}."))
        show = [d for d, _ in rank.top_dims(config.dims)]
        sw = latent_sweep(G, show, seed=config.seed)
        fig, _ = plots.plot_image_grid(sw.images, "One latent dim at a time (rows), others fixed",
                                       row_labels=[f"z{d}" for d in sw.dims],
                                       col_labels=[f"{v:+.1f}" for v in sw.values])
        savefig(fig, out / "latent_sweep", formats=PNG_SVG)
        figures.append(Figure("latent_sweep.png", "Latent sweeps",
                              f"Each row sets one of the {len(show)} most influential latent dims to "
                              f"{sw.values[0]:g}..{sw.values[-1]:g}, all others fixed."))
        feats = generator_features(G, seed=config.seed)
        fig, _ = plots.plot_generator_features(feats)
        savefig(fig, out / "generator_features", formats=PNG_SVG)
        figures.append(Figure("generator_features.png", "Generator features", "Generator feature maps for one "
                              "latent, block by block (the 8 strongest channels per layer)."))
    div = None
    if config.pairs and D is not None:
        div = counterfactual_divergence(D, n_pairs=config.pairs, seed=0, device=config.device, progress=progress)
        fig, _ = plots.plot_divergence(div)
        savefig(fig, out / "counterfactual_divergence", formats=PNG_SVG)
        peak = {a: div.layers[divergence_peak(div, a)[0]] for a in div.attributes}
        figures.append(Figure("counterfactual_divergence.png", "Counterfactual divergence in D",
                              "Normalized distance of D's activations for the same face with and without one "
                              "attribute, per layer (dashed: different faces); largest divergence relative to "
                              "different faces, among D's feature layers, at "
                              + ", ".join(f"{a} {v}" for a, v in peak.items()) + "."))
    results = {"ranking": rank.to_dict(), "features": {k: list(v.shape) for k, v in feats.items()}}
    if div is not None:
        results["divergence"] = div.to_dict()
    write_json(out / "results.json", results)
    return Result(config, out, rank, {k: list(v.shape) for k, v in feats.items()}, div, figures)


def _reproducible(config: Config) -> bool:
    """True when the command line can name every input (no Python object stands in for one)."""
    return config.checkpoint is not None and all(
        v is None for v in (config.generator, config.model, config.classifier_model))


def section(result: Result) -> Section:
    """The most influential latent dims, the classifier's most sensitive dims, where D separates the pairs."""
    rank, div = result.ranking, result.divergence
    tables = [ranking_table(rank, 8, result.config.latents)] + (divergence_tables(div) if div is not None else [])
    return Section(stage=NAME, title=TITLE, order=ORDER, headline=generator_headline(rank, div),
                   findings=generator_findings(rank, div), tables=tables, figures=result.figures,
                   command=[result.config.command()] if _reproducible(result.config) else [],
                   numbers=generator_numbers(rank, div))


def run_generator(run_dir, **params) -> Result:
    """Run the stage into the run directory RUN (writes RUN/generator/ with its section.json).

    ``params`` are :class:`Config` fields (API-only ones included, e.g. ``model=D``).
    """
    return execute(sys.modules[__name__], Config(**params), run_dir)[0]
