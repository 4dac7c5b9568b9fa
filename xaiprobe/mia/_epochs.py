"""The attack on every epoch's checkpoint: does memorization grow with training?"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._utils.coerce import resolve_device
from .._utils.errors import XaiprobeError
from ..gan.checkpoint import load_checkpoint
from ._attack import MIAResult, attack_scores
from ._inference import load_data, prepare_samples, rows_logits
from ._metrics import DEFAULT_FPRS

logger = logging.getLogger(__name__)

_EPOCH_RE = re.compile(r"^epoch_(\d+)\.pt$")


def epoch_checkpoints(directory: str | os.PathLike) -> list[tuple[int, Path]]:
    """``[(epoch, path)]`` of DIR/epoch_NNN.pt, by epoch."""
    d = Path(directory)
    if not d.is_dir():
        raise XaiprobeError(f"checkpoints directory {d}: no such directory; pass RUN/checkpoints of a `xaiprobe train` run")
    found = sorted((int(m.group(1)), p) for p in d.iterdir() if (m := _EPOCH_RE.match(p.name)))
    if not found:
        raise XaiprobeError(f"checkpoints directory {d}: no epoch_NNN.pt files; pass RUN/checkpoints of a "
                            "`xaiprobe train` run")
    return found


@dataclass
class EpochCurve:
    """The attack per epoch.

    Attributes
    ----------
    epochs : ndarray of int, shape (E,)
    auc : ndarray of float, shape (E,)
    auc_low, auc_high : ndarray of float, shape (E,)
        Bootstrap interval of the AUC.
    results : list of MIAResult, length E
    info : dict
    """

    epochs: np.ndarray
    auc: np.ndarray
    auc_low: np.ndarray
    auc_high: np.ndarray
    results: list[MIAResult]
    info: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"epochs": self.epochs.tolist(), "auc": self.auc.tolist(), "auc_low": self.auc_low.tolist(),
                "auc_high": self.auc_high.tolist(),
                "metrics": [r.summary() for r in self.results], "info": dict(self.info)}


def attack_by_epoch(checkpoints_dir: str | os.PathLike, data=None, members=None, nonmembers=None,
                    calibration_fraction: float = 0.5, seed: int = 0, n_max: int | None = None,
                    fprs=DEFAULT_FPRS, n_bootstrap: int = 500, batch_size: int = 256, device=None,
                    progress: bool = False) -> EpochCurve:
    """The raw-logit attack on each DIR/epoch_NNN.pt, on one fixed choice of images and split.

    Members are the last epoch's recorded training images (all epochs of one run share
    them); the same members, non-members and calibration split are used for every epoch so
    the curve reflects only the model. Parameters as in :func:`membership_attack`.

    Returns
    -------
    EpochCurve
    """
    from tqdm.auto import tqdm

    dev = resolve_device(device)
    found = epoch_checkpoints(checkpoints_dir)
    last = load_checkpoint(found[-1][1], device=dev)
    data = load_data(data, last)
    sel = prepare_samples(last, data, members, nonmembers, None, n_max, seed)
    rows = np.concatenate([sel.member_rows, sel.nonmember_rows])
    nm = sel.member_rows.size
    results = []
    for epoch, path in tqdm(found, desc="epochs", unit="ckpt", disable=True if not progress else None):
        ckpt = last if path == found[-1][1] else load_checkpoint(path, device=dev)
        if members is None and not np.array_equal(np.sort(ckpt.members), np.sort(last.members)):
            logger.warning("%s: its recorded members differ from the last epoch's; using the last epoch's", path)
        logits = rows_logits(ckpt.discriminator, data, rows, batch_size, dev)
        res = attack_scores(logits[:nm], logits[nm:], calibration_fraction=calibration_fraction, seed=seed,
                            fprs=fprs, n_bootstrap=n_bootstrap, name=f"epoch {epoch}",
                            index_members=sel.member_index, index_nonmembers=sel.nonmember_index,
                            info={"checkpoint": str(path), "epoch": epoch}, warn=epoch == found[0][0])
        results.append(res)
    ci = [r.ci.get("auc") or [np.nan, np.nan] for r in results]
    return EpochCurve(np.array([e for e, _ in found]), np.array([r.metrics["auc"] for r in results]),
                      np.array([c[0] for c in ci]), np.array([c[1] for c in ci]), results,
                      {"checkpoints_dir": str(checkpoints_dir), **sel.info})

