"""Positive control: a GAN that surely memorizes, attacked the same way.

A DCGAN of the attacked model's architecture is trained on a tiny member set (default 64
images, 80 epochs in batches of 8), so its discriminator memorizes them; the same attack on it
should give a clearly high AUC. That shows the attack can see memorization when it exists, so a
near-chance answer on the real model means something.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .._utils.errors import XaiprobeError
from ..data.base import ImageSet
from ..gan.checkpoint import read_checkpoint_dict
from ..gan.train import train_gan
from ._attack import MIAResult
from ._inference import load_data, membership_attack
from ._metrics import DEFAULT_FPRS

logger = logging.getLogger(__name__)

#: defaults measured on SynthFaces (see the README): AUC >= 0.9 within a few CPU minutes
CONTROL_MEMBERS = 64
CONTROL_EPOCHS = 80
CONTROL_BATCH_SIZE = 8
_COMMAND = "xaiprobe.mia.positive_control"
_CHUNK = 10  # epochs trained between deletions of the per-epoch checkpoints


@dataclass
class ControlResult:
    """A positive control run.

    Attributes
    ----------
    result : MIAResult
        The attack on the control GAN.
    checkpoint : Path
        The control GAN's ``last.pt``.
    seconds : float
        Training time of the control GAN as recorded in its checkpoint (also when reused).
    trained : bool
        False when a matching control checkpoint was found and reused.
    settings : dict
        n_members, epochs, batch_size, seed, arch.
    """

    result: MIAResult
    checkpoint: Path
    seconds: float
    trained: bool
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"checkpoint": str(self.checkpoint), "seconds": self.seconds, "trained": self.trained,
                "settings": dict(self.settings), "result": self.result.to_dict()}


def _trained_epochs(last: Path, spec: str, n_members: int, arch: dict | None, batch_size: int,
                    seed: int) -> int | None:
    """Epochs of an existing control ``last.pt`` trained with these settings, else None."""
    if not last.is_file():
        return None
    try:
        raw = read_checkpoint_dict(last)
    except XaiprobeError:
        return None
    data = raw.get("data") or {}
    members = raw.get("members")
    n = int(members.numel()) if hasattr(members, "numel") else len(members or [])
    same_arch = arch is None or all(raw.get("arch", {}).get(k) == v for k, v in arch.items())
    extra = raw.get("extra") or {}
    same_recipe = ((extra.get("hyperparameters") or {}).get("batch_size") == int(batch_size)
                   and extra.get("seed") == int(seed))
    if data.get("spec") == spec and n == int(n_members) and same_arch and same_recipe:
        return int(raw.get("epoch", -1))
    return None


def _recorded_seconds(last: Path, default: float) -> float:
    """Total training time recorded in the checkpoint (over resumed chunks)."""
    try:
        return float((read_checkpoint_dict(last).get("extra") or {}).get("time_s", default))
    except (XaiprobeError, TypeError, ValueError):
        return default


def _is_control_run(out_dir: Path) -> bool:
    try:
        cfg = json.loads((out_dir / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return str(cfg.get("command", "")).startswith(_COMMAND)


def positive_control(data: ImageSet | str, out_dir: str | os.PathLike, n_members: int = CONTROL_MEMBERS,
                     epochs: int = CONTROL_EPOCHS, batch_size: int = CONTROL_BATCH_SIZE, config=None,
                     seed: int = 0, device=None, reuse: bool = True, progress: bool = True,
                     calibration_fraction: float = 0.5, fprs=DEFAULT_FPRS, n_bootstrap: int = 1000,
                     n_max: int | None = None) -> ControlResult:
    """Train a GAN on ``n_members`` images for ``epochs`` epochs and attack it.

    Parameters
    ----------
    data : ImageSet or str
        The attacked model's data set (the control trains on the first ``n_members`` rows of
        its train split; every other image is a candidate non-member).
    out_dir : path
        Run directory of the control GAN (e.g. RUN/mia/control).
    n_members : int
        Size of the control's training set.
    epochs, batch_size : int
        Training length; many small batches make the discriminator memorize.
    config : DCGANConfig or dict, optional
        Architecture (pass the attacked model's ``checkpoint.arch``); default DCGAN widths.
    seed : int
    device : str or torch.device, optional
    reuse : bool
        Reuse ``out_dir/checkpoints/last.pt`` when it was trained with the same data, member
        count, architecture, batch size and seed (resuming it when it has fewer epochs).
    progress : bool
    calibration_fraction, fprs, n_bootstrap, n_max : attack options, see :func:`membership_attack`.

    Returns
    -------
    ControlResult
    """
    if int(n_members) < 4:
        raise XaiprobeError(f"control members {n_members}: must be at least 4 (2 per part and class)")
    if int(epochs) < 1:
        raise XaiprobeError(f"control epochs {epochs}: must be at least 1")
    if data is None:
        raise XaiprobeError("control: no data set; pass the attacked model's data (a spec or an ImageSet)")
    if not isinstance(data, ImageSet):
        data = load_data(data, None)
    n_train = data.rows_of("train").size
    if n_train < n_members:
        raise XaiprobeError(f"control: data set {data.spec} has {n_train} training images, fewer than the "
                            f"{n_members} control members; pass --control-members <= {n_train}")
    if len(data) - n_members < 2:
        raise XaiprobeError(f"control: data set {data.spec} leaves no non-members beside the {n_members} control "
                            "members; use a larger data set or fewer --control-members")
    arch = config.to_dict() if hasattr(config, "to_dict") else (dict(config) if config else None)
    out_dir = Path(out_dir)
    last = out_dir / "checkpoints" / "last.pt"
    settings = {"n_members": int(n_members), "epochs": int(epochs), "batch_size": int(batch_size),
                "seed": int(seed), "arch": arch, "data": data.spec}
    trained, seconds = False, 0.0
    have = _trained_epochs(last, data.spec, n_members, arch, batch_size, seed) if reuse else None
    if have is not None and have > int(epochs):
        have = None
    if have == int(epochs):
        logger.info("positive control: reusing %s", last)
    else:
        old = sorted((out_dir / "checkpoints").glob("*.pt")) if (out_dir / "checkpoints").is_dir() else []
        if old and not _is_control_run(out_dir):
            raise XaiprobeError(f"control directory {out_dir}: holds checkpoints of another run; "
                                "choose another directory for the positive control")
        if have is None:  # other settings: start over (a shorter run with the same settings is resumed)
            for p in old:
                p.unlink()
        t0 = time.perf_counter()
        done = have or 0
        while done < int(epochs):  # in chunks, deleting per-epoch checkpoints: only last.pt is needed
            done = min(done + _CHUNK, int(epochs))
            last = train_gan(data, out_dir, epochs=done, batch_size=int(batch_size), seed=seed, config=arch,
                             device=device, max_images=int(n_members), progress=progress, sample_count=16,
                             resume=True, command=f"{_COMMAND}(n_members={n_members}, epochs={epochs})")
            for p in (out_dir / "checkpoints").glob("epoch_*.pt"):
                p.unlink()
        seconds = time.perf_counter() - t0
        trained = True
        logger.info("positive control: trained epochs %d-%d on %d images in %.1f s", (have or 0) + 1, epochs,
                    n_members, seconds)
    seconds = _recorded_seconds(last, seconds)
    res = membership_attack(last, data=data, calibration_fraction=calibration_fraction, seed=seed, n_max=n_max,
                            fprs=fprs, n_bootstrap=n_bootstrap, device=device, name="control")
    res.info.update(control=settings, train_seconds=seconds)
    return ControlResult(res, Path(last), seconds, trained, settings)

