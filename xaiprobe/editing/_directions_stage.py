"""The directions stage (``xaiprobe directions``): one latent direction per attribute, by several methods.

Samples ``n`` latents, scores G(z) with the attribute classifier (an explicit input: a file of
``xaiprobe classifier train``) and fits unit directions (lstsq, svm, conditional, and the
unsupervised sefa and ganspace components assigned to the attribute they correlate with most).
Writes RUN/directions/: ``directions.pt`` (the input of ``xaiprobe edit --directions``) and
``section.json``.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._layout import stage_dir
from .._utils.coerce import resolve_device
from .._utils.errors import XaiprobeError
from .._utils.numeric import fmt
from ..config import StageConfig, param
from ..gan.checkpoint import load_checkpoint
from ..report import Section, Table
from ..report._section import SECTION_FILE
from ..stages import execute
from ._directions import METHODS, Directions, fit_directions
from .classifier import load_classifier

__all__ = ["NAME", "TITLE", "ORDER", "HELP", "Config", "Result", "run", "section", "fit_directions_stage",
           "DIRECTIONS_FILE"]

NAME = "directions"
TITLE = "Latent directions"
ORDER = 88
HELP = "fit one latent direction per attribute, by several methods"

#: the directions file under RUN/directions
DIRECTIONS_FILE = "directions.pt"


@dataclass
class Config(StageConfig):
    """Parameters of ``xaiprobe directions``."""

    stage = "directions"
    checkpoint: str | None = param(None, "GAN checkpoint (.pt) whose generator is edited", path=True)
    classifier: str | None = param(None, "attribute classifier of `xaiprobe classifier train`; unset: the shipped "
                                         "SynthFaces classifier", path=True)
    n: int = param(5000, "latents sampled to fit the directions", low=10)
    methods: tuple[str, ...] = param(METHODS, "direction methods (all: every one)", choices=(*METHODS, "all"))
    n_components: int = param(20, "sefa and ganspace: each attribute is assigned one of the top K components", low=1)
    seed: int = param(0, "seed of the latents", low=0)
    device: str | None = param(None, "cpu, cuda or cuda:N; unset: cuda when present")
    generator: object = param(None, "the generator (instead of --checkpoint)", cli=False)
    classifier_model: object = param(None, "an attribute classifier module (instead of --classifier)", cli=False)

    def check(self) -> None:
        if self.checkpoint is None and self.generator is None:
            raise XaiprobeError("--checkpoint: required; pass the GAN checkpoint (.pt) whose generator is edited")
        self.methods = tuple(dict.fromkeys(m for x in self.methods for m in (METHODS if x == "all" else (x,))))


@dataclass
class Result:
    """The fitted directions and where they were saved."""

    config: Config
    stage_dir: Path
    directions: Directions
    path: Path


def run(config: Config, run_dir) -> Result:
    """Fit the directions and save RUN/directions/directions.pt."""
    dev = resolve_device(config.device)
    G, sha = config.generator, ""
    if config.checkpoint is not None:
        ck = load_checkpoint(config.checkpoint, dev)
        G, sha = ck.generator, ck.sha256
    clf = config.classifier_model if config.classifier_model is not None else load_classifier(config.classifier, dev)
    dirs = fit_directions(G, clf, n=config.n, methods=list(config.methods), seed=config.seed, generator_sha256=sha,
                          n_components=config.n_components, device=dev)
    out = stage_dir(run_dir, NAME)
    out.mkdir(parents=True, exist_ok=True)
    (out / SECTION_FILE).unlink(missing_ok=True)
    return Result(config, out, dirs, dirs.save(out / DIRECTIONS_FILE))


def section(result: Result) -> Section:
    """How linear each attribute's logit is in z, and how far each method's direction is from lstsq's."""
    d, c = result.directions, result.config
    reproducible = c.checkpoint is not None and c.generator is None and c.classifier_model is None
    r2 = d.info.get("lstsq_r2", {})
    cos = d.info.get("cosine_to_lstsq", {})
    others = [m for m in d.methods if m != "lstsq"]
    rows = [[a, r2.get(a, float("nan")), d.info.get("score_std", {}).get(a, float("nan"))]
            + [cos.get(m, {}).get(a, float("nan")) for m in others] for a in d.attribute_names]
    table = Table(f"Directions fitted on {d.info.get('n', '?')} latents (nz = {d.nz}): held-out R² of the linear fit "
                  "of each classifier logit on z, and the cosine of each method's direction to lstsq's",
                  ["attribute", "held-out R² (lstsq)", "logit std"] + [f"cos {m}" for m in others], rows)
    numbers = {f"r2/{a}": v for a, v in r2.items()}
    numbers.update({f"cosine/{m}/{a}": v for m in others for a, v in cos.get(m, {}).items()})
    findings = []
    ok = {a: v for a, v in r2.items() if np.isfinite(v)}
    head = f"{len(d.methods)} direction method(s) for {len(d.attribute_names)} attributes"
    if ok:
        low = min(ok, key=ok.get)
        head = (f"held-out R² of the linear fit of the classifier's logits on z: mean {fmt(float(np.mean(list(ok.values()))))}, "
                f"lowest {low} {fmt(ok[low])}")
        findings.append(head + " (a low R² means no single direction moves that attribute).")
    for m in others:
        c = {a: v for a, v in cos.get(m, {}).items() if np.isfinite(v)}
        if c:
            far = min(c, key=lambda a: abs(c[a]))
            findings.append(f"{m} directions: mean |cosine| to lstsq {fmt(float(np.mean(np.abs(list(c.values())))))}, "
                            f"farthest for {far} ({fmt(c[far])}).")
    return Section(stage=NAME, title=TITLE, order=ORDER, headline=head, findings=findings, tables=[table],
                   command=[result.config.command()] if reproducible else [],
                   numbers=numbers)


def fit_directions_stage(run_dir, **params) -> Result:
    """Run the stage into the run directory RUN (writes RUN/directions/ with its section.json).

    ``params`` are :class:`Config` fields.
    """
    return execute(sys.modules[__name__], Config(**params), run_dir)[0]
