"""The membership-inference stage (``xaiprobe mia``): the score-based attack on D's logits, the
calibrated attack with a reference GAN, the positive control and the attack by epoch.

Writes RUN/mia/: ``results.json`` (every attack's metrics, intervals and provenance), ``scores.npz``
(every attack's member and non-member scores), ROC curves, score histograms, the attacks side by
side, the AUC by epoch, ``control/`` (the positive control's GAN) and ``section.json``.
"""
from __future__ import annotations

import logging
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._layout import stage_dir
from .._utils.coerce import resolve_device
from .._utils.errors import XaiprobeError
from .._utils.figures import PNG_SVG, savefig, write_json
from .._utils.io import atomic_path
from ..config import StageConfig, param
from ..gan.checkpoint import load_checkpoint
from ..report import Figure, Section
from ..report._section import SECTION_FILE
from ..stages import execute
from ._control import CONTROL_BATCH_SIZE, CONTROL_EPOCHS, CONTROL_MEMBERS, ControlResult, positive_control
from ._epochs import EpochCurve, attack_by_epoch, epoch_checkpoints
from ._inference import load_data, membership_attack
from ._plots import plot_attack_comparison, plot_auc_by_epoch, plot_roc, plot_score_histograms
from ._samples import load_index_file
from ._section import attack_table, epoch_table, findings, headline, numbers

__all__ = ["NAME", "TITLE", "ORDER", "HELP", "Config", "Result", "run", "section", "run_mia", "FORMAT", "VERSION"]

log = logging.getLogger(__name__)

NAME = "mia"
TITLE = "Membership inference"
ORDER = 80
HELP = "membership inference: does D remember its training images? (+ positive control)"

FORMAT = "xaiprobe.mia"
VERSION = 1


@dataclass
class Config(StageConfig):
    """Parameters of ``xaiprobe mia``."""

    stage = "mia"
    checkpoint: str | None = param(None, "checkpoint of the attacked GAN; unset: last.pt (else the last epoch) of "
                                         "--checkpoints", path=True)
    checkpoints: str | None = param(None, "directory of epoch_NNN.pt: adds the attack's AUC per epoch", path=True)
    data: str | None = param(None, "data set with members and non-members; unset: the checkpoint's (for SynthFaces a "
                                   "larger synthfaces:N with the same seed adds fresh non-members)")
    reference: str | None = param(None, "reference GAN checkpoint trained on disjoint data: adds the calibrated "
                                        "score (target logit - reference logit)", path=True)
    members: str | None = param(None, "FILE.npy of the training images' data-set indices (for checkpoints that "
                                      "record none)", path=True)
    nonmembers: str | None = param(None, "FILE.npy of non-member data-set indices; unset: every other image",
                                   path=True)
    n_max: int | None = param(None, "at most this many images per class (after balancing)", low=2)
    calibration_fraction: float = param(0.5, "share of each class used to choose the threshold", low=0, high=1,
                                        low_open=True, high_open=True)
    bootstrap: int = param(1000, "bootstrap replicates for the intervals", low=0)
    seed: int = param(0, "seed of subsampling, split and bootstrap", low=0)
    control: bool = param(False, "also train and attack a positive control: the same architecture trained on a "
                                 "tiny member set until it memorizes")
    control_members: int = param(CONTROL_MEMBERS, "positive control: training-set size", low=4)
    control_epochs: int = param(CONTROL_EPOCHS, "positive control: training epochs", low=1)
    control_batch_size: int = param(CONTROL_BATCH_SIZE, "positive control: batch size", low=1)
    batch_size: int = param(256, "scoring batch size", low=1)
    device: str | None = param(None, "cpu, cuda or cuda:N; unset: cuda when present")

    def check(self) -> None:
        if self.checkpoint is None and self.checkpoints is None:
            raise XaiprobeError("--checkpoint: required (or --checkpoints DIR, whose last.pt is attacked)")
        changed = [f for f, v, d in (("--control-members", self.control_members, CONTROL_MEMBERS),
                                     ("--control-epochs", self.control_epochs, CONTROL_EPOCHS),
                                     ("--control-batch-size", self.control_batch_size, CONTROL_BATCH_SIZE)) if v != d]
        if changed and not self.control:
            raise XaiprobeError(f"{'/'.join(changed)}: only with --control; add --control or leave them out")


@dataclass
class Result:
    """The attacks of one stage run.

    Attributes
    ----------
    attacks : dict of str -> MIAResult
        ``"logit"``, ``"calibrated"`` (with a reference) and ``"control"`` (with the control).
    control : ControlResult or None
    curve : EpochCurve or None
    figures : list of Figure
    warnings : list of str
        What could not be measured (e.g. TPR at an FPR below 1/non-members), logged as warnings.
    """

    config: Config
    stage_dir: Path
    attacks: dict
    control: ControlResult | None = None
    curve: EpochCurve | None = None
    figures: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


def _attacked_checkpoint(config: Config) -> Path:
    if config.checkpoint is not None:
        return Path(config.checkpoint)
    d = Path(config.checkpoints)
    return d / "last.pt" if (d / "last.pt").is_file() else epoch_checkpoints(d)[-1][1]


def run(config: Config, run_dir) -> Result:
    """The attacks, the positive control and the curve by epoch into RUN/mia."""
    members = load_index_file(config.members, "members") if config.members else None
    nonmembers = load_index_file(config.nonmembers, "non-members") if config.nonmembers else None
    device = resolve_device(config.device)
    ckpt = load_checkpoint(_attacked_checkpoint(config), device=device)
    data = load_data(config.data, ckpt)
    out = stage_dir(run_dir, NAME)
    opts = dict(calibration_fraction=config.calibration_fraction, seed=config.seed, n_max=config.n_max,
                n_bootstrap=config.bootstrap, batch_size=config.batch_size, device=device)
    progress = sys.stderr.isatty()
    attacks, control, curve = {}, None, None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = membership_attack(ckpt, data=data, reference=config.reference, members=members, nonmembers=nonmembers,
                                progress=progress, **opts)
        out.mkdir(parents=True, exist_ok=True)
        (out / SECTION_FILE).unlink(missing_ok=True)  # an interrupted run must not look complete
        if res.baseline is not None:
            attacks["logit"], attacks["calibrated"] = res.baseline, res
        else:
            attacks["logit"] = res
        if config.control:
            control = positive_control(data, out / "control", n_members=config.control_members,
                                       epochs=config.control_epochs, batch_size=config.control_batch_size,
                                       config=ckpt.arch, seed=config.seed, device=device, progress=progress,
                                       calibration_fraction=config.calibration_fraction,
                                       n_bootstrap=config.bootstrap)
            attacks["control"] = control.result
        if config.checkpoints:
            curve = attack_by_epoch(config.checkpoints, data=data, members=members, nonmembers=nonmembers,
                                    calibration_fraction=config.calibration_fraction, seed=config.seed,
                                    n_max=config.n_max, n_bootstrap=min(config.bootstrap, 500),
                                    batch_size=config.batch_size, device=device, progress=progress)
    said = list(dict.fromkeys(str(w.message) for w in caught))
    for msg in said:
        log.warning("%s", msg)
    result = Result(config, out, attacks, control, curve, warnings=said)
    _write_artifacts(result, ckpt, data)
    return result


def _write_artifacts(result: Result, checkpoint, data) -> None:
    """RUN/mia/results.json, scores.npz and the figures (listed in ``result.figures``)."""
    out, attacks, control, curve = result.stage_dir, result.attacks, result.control, result.curve
    results = {"format": FORMAT, "version": VERSION, "command": result.config.command(),
               "attacks": {k: r.to_dict() for k, r in attacks.items()}, "warnings": result.warnings,
               "checkpoint": str(checkpoint.path), "checkpoint_sha256": checkpoint.sha256, "epoch": checkpoint.epoch,
               "arch": checkpoint.arch, "data": data.spec}
    if control is not None:
        results["control"] = {k: v for k, v in control.to_dict().items() if k != "result"}
    if curve is not None:
        results["by_epoch"] = curve.to_dict()
    write_json(out / "results.json", results)
    arrays = {}
    for k, r in attacks.items():
        arrays.update({f"{k}/scores_members": r.scores_members, f"{k}/scores_nonmembers": r.scores_nonmembers,
                       f"{k}/calibration_members": r.calibration_members,
                       f"{k}/calibration_nonmembers": r.calibration_nonmembers})
        if r.index_members is not None:
            arrays.update({f"{k}/index_members": r.index_members, f"{k}/index_nonmembers": r.index_nonmembers})
    with atomic_path(out / "scores.npz") as tmp:
        with open(tmp, "wb") as f:  # a file object: numpy would append .npz to the temporary name
            np.savez_compressed(f, **arrays)

    found = findings(attacks, control, curve)
    figs = result.figures
    fig, _ = plot_roc(attacks)
    savefig(fig, out / "roc", formats=PNG_SVG)
    figs.append(Figure("roc.png", "ROC of the attacks", f"Test ROC curves (diagonal = chance). {found[0] if found else ''}"))
    fig, _ = plot_roc(attacks, scale="log")
    savefig(fig, out / "roc_log", formats=PNG_SVG)
    figs.append(Figure("roc_log.png", "ROC, log scale", "The same ROC on log axes: the low-FPR regime (Carlini et al. "
                       "2022); an attack on the diagonal finds members only at the rate it accuses non-members."))
    for k, r in attacks.items():
        fig, _ = plot_score_histograms(r)
        savefig(fig, out / f"scores_{k}", formats=PNG_SVG)
        overlap = "overlap almost completely" if abs(r.metrics["auc"] - 0.5) < 0.05 else "are shifted apart"
        figs.append(Figure(f"scores_{k}.png", f"Score distributions ({k})",
                           f"{k}: member and non-member scores {overlap} (AUC {r.metrics['auc']:.3f}); dashed line: "
                           "calibrated threshold."))
    if len(attacks) > 1:
        fig, _ = plot_attack_comparison(attacks)
        savefig(fig, out / "attacks", formats=PNG_SVG)
        figs.append(Figure("attacks.png", "Attacks side by side", "Attacks side by side: AUC with 95% interval and "
                           "TPR at 1% FPR" + ("; the positive control shows what memorization looks like."
                                              if "control" in attacks else ".")))
    if curve is not None:
        fig, _ = plot_auc_by_epoch(curve)
        savefig(fig, out / "auc_by_epoch", formats=PNG_SVG)
        figs.append(Figure("auc_by_epoch.png", "Attack AUC by epoch", found[-1]))


def section(result: Result) -> Section:
    """The verdict of each attack (AUC with its interval), the control, the curve by epoch."""
    tables = [attack_table(result.attacks)]
    if result.curve is not None:
        tables.append(epoch_table(result.curve))
    return Section(stage=NAME, title=TITLE, order=ORDER, headline=headline(result.attacks),
                   findings=findings(result.attacks, result.control, result.curve), tables=tables,
                   figures=result.figures, command=[result.config.command()],
                   numbers=numbers(result.attacks, result.control, result.curve))


def run_mia(run_dir, **params) -> Result:
    """Run the stage into the run directory RUN (writes RUN/mia/ with its section.json).

    ``params`` are :class:`Config` fields.
    """
    return execute(sys.modules[__name__], Config(**params), run_dir)[0]
