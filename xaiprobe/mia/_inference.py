"""Attacking a discriminator: scores from D's logits (raw, or calibrated by a reference D)."""
from __future__ import annotations

import hashlib
import logging
import os
import warnings

import numpy as np
import torch
from torch import nn

from .._utils.coerce import as_images, evaluating, resolve_device
from .._utils.errors import XaiprobeError
from ..activations.hooks import logits_of
from ..data import load_dataset
from ..data.base import ImageSet, to_float_images
from ..gan.checkpoint import Checkpoint, load_checkpoint
from ._attack import MIAResult, attack_scores
from ._metrics import DEFAULT_FPRS
from ._samples import SampleSplit, index_space, select_samples

logger = logging.getLogger(__name__)


def _as_model(model, device, what: str = "model") -> tuple[nn.Module, object]:
    """(discriminator, checkpoint or None) from an nn.Module, a Checkpoint or a checkpoint path.

    A module (or a given Checkpoint's discriminator) is the caller's: it is not moved here;
    :func:`discriminator_logits` uses it on the device for each call and moves it back.
    """
    if isinstance(model, (str, os.PathLike)):
        model = load_checkpoint(model, device=device)
    if isinstance(model, Checkpoint):
        return model.discriminator, model
    if isinstance(model, nn.Module):
        return model, None
    raise XaiprobeError(f"{what}: expected a discriminator nn.Module, an xaiprobe Checkpoint or a checkpoint "
                        f"path, got {type(model).__name__}")


def _as_images(images, what: str) -> torch.Tensor:
    """Float images (N, C, H, W) in [-1, 1] from a tensor/array (float, or uint8 rescaled) or an ImageSet."""
    if isinstance(images, ImageSet):
        return images.images()
    if (isinstance(images, np.ndarray) and images.dtype == np.uint8) or \
            (isinstance(images, torch.Tensor) and images.dtype == torch.uint8):
        images = to_float_images(images)
    return as_images(images, what, channels=None)


def _image_hashes(x: torch.Tensor) -> np.ndarray:
    u8 = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()
    return np.array([hashlib.blake2b(im.tobytes(), digest_size=16).hexdigest() for im in u8])


@torch.no_grad()
def discriminator_logits(model: nn.Module, images, batch_size: int = 256, device=None,
                         logit_layer: str | None = None, progress: bool = False) -> np.ndarray:
    """The discriminator's logit of every image, in eval mode on ``device`` (mode and device are
    restored after; the module is not copied).

    Parameters
    ----------
    model : nn.Module
        Maps images (n, C, H, W) to logits (n,) or (n, 1).
    images : Tensor (N, C, H, W), ndarray, ImageSet, or an iterable of (rows, Tensor) batches
    batch_size : int
    device : str or torch.device, optional
    logit_layer : str, optional
        Read the logit from this layer (for models ending in a sigmoid).
    progress : bool

    Returns
    -------
    ndarray of float64, shape (N,)
    """
    from tqdm.auto import tqdm

    dev = resolve_device(device)
    with evaluating(model, dev):
        if isinstance(images, ImageSet):
            batches = (x for _, x in images.batches(None, batch_size))
            total = -(-len(images) // batch_size)
        elif isinstance(images, (torch.Tensor, np.ndarray)):
            x_all = _as_images(images, "images")
            batches = (x_all[i:i + batch_size] for i in range(0, x_all.shape[0], batch_size))
            total = -(-x_all.shape[0] // batch_size)
        else:
            batches = (b[1] if isinstance(b, tuple) else b for b in images)
            total = None
        out = []
        for x in tqdm(batches, total=total, desc="D logits", unit="batch", leave=False,
                      disable=True if not progress else None):
            y = logits_of(model, x.to(dev), logit_layer).double().cpu().numpy()
            out.append(y)
        scores = np.concatenate(out) if out else np.zeros(0)
    if not np.all(np.isfinite(scores)):
        raise XaiprobeError(f"discriminator: {int((~np.isfinite(scores)).sum())} logits are NaN or infinite; "
                            "check the weights (a diverged checkpoint?) and the image range [-1, 1]")
    return scores


def rows_logits(model: nn.Module, data: ImageSet, rows, batch_size: int = 256, device=None,
                logit_layer: str | None = None, progress: bool = False) -> np.ndarray:
    """Logits (len(rows),) of ``data``'s images at ``rows``."""
    return discriminator_logits(model, data.batches(np.asarray(rows, dtype=np.int64), batch_size),
                                batch_size, device, logit_layer, progress)


class MembershipInference:
    """Score-based membership inference on a discriminator's logits.

    The constructor takes the model; :meth:`attack` does the work. The score of an image is
    D's logit (members are expected to score higher), or, with a ``reference``
    discriminator trained on disjoint data of the same distribution, the target's logit
    minus the reference's (GAN-Leaks-style calibration: it removes how "easy" an image is).

    Parameters
    ----------
    model : nn.Module, Checkpoint or path
        The attacked discriminator (or an xaiprobe checkpoint holding it).
    reference : nn.Module, Checkpoint or path, optional
        Reference discriminator for the calibrated score.
    batch_size : int
    device : str or torch.device, optional
        Default: CUDA when present.
    logit_layer : str, optional
        Layer whose output is the logit (for models ending in a sigmoid).

    Examples
    --------
    >>> mi = MembershipInference(D)
    >>> result = mi.attack(train_images, heldout_images)
    >>> result.metrics["auc"], result.metrics["tpr@0.01fpr"]
    """

    def __init__(self, model, reference=None, batch_size: int = 256, device=None, logit_layer: str | None = None):
        self.device = resolve_device(device)
        self.model, self.checkpoint = _as_model(model, self.device, "model")
        self.reference, self.reference_checkpoint = (None, None) if reference is None else \
            _as_model(reference, self.device, "reference")
        self.batch_size = int(batch_size)
        self.logit_layer = logit_layer

    def logits(self, images, which: str = "model") -> np.ndarray:
        """Raw logits (N,) of the attacked model (``which="model"``) or the reference."""
        net = self.model if which == "model" else self.reference
        if net is None:
            raise XaiprobeError("reference: none was given; pass reference= to MembershipInference")
        return discriminator_logits(net, images, self.batch_size, self.device, self.logit_layer)

    def scores(self, images) -> np.ndarray:
        """Membership scores (N,): the logit, minus the reference's logit when there is one."""
        s = self.logits(images)
        if self.reference is not None:
            s = s - self.logits(images, "reference")
        return s

    def attack(self, members, nonmembers, calibration_fraction: float = 0.5, seed: int = 0,
               fprs=DEFAULT_FPRS, n_bootstrap: int = 1000, check_overlap: bool = True) -> MIAResult:
        """Attack with known members and non-members.

        Parameters
        ----------
        members : Tensor (m, C, H, W) in [-1, 1], uint8 array, or ImageSet
            Images the model was trained on.
        nonmembers : same, shape (k, C, H, W)
            Images of the same distribution it never saw.
        calibration_fraction, seed, fprs, n_bootstrap : see :func:`attack_scores`
        check_overlap : bool
            Refuse when an image appears in both sets.

        Returns
        -------
        MIAResult
            The calibrated attack when there is a reference (its ``baseline`` is the raw-logit
            attack on the same split), else the raw-logit attack.
        """
        xm, xn = _as_images(members, "members"), _as_images(nonmembers, "non-members")
        if check_overlap:
            shared = np.intersect1d(_image_hashes(xm), _image_hashes(xn))
            if shared.size:
                raise XaiprobeError(f"members and non-members: {shared.size} identical images are in both sets; "
                                    "non-members must be images the model was not trained on")
        lm, ln = self.logits(xm), self.logits(xn)
        kw = dict(calibration_fraction=calibration_fraction, seed=seed, fprs=fprs, n_bootstrap=n_bootstrap)
        raw = attack_scores(lm, ln, name="logit", **kw)
        if self.reference is None:
            return raw
        res = attack_scores(lm - self.logits(xm, "reference"), ln - self.logits(xn, "reference"),
                            name="calibrated", **kw)
        res.baseline = raw
        return res


def load_data(data, checkpoint, cache_dir=None) -> ImageSet:
    """``data`` as an ImageSet: itself, its spec loaded, or the checkpoint's data spec."""
    if isinstance(data, ImageSet):
        return data
    spec = data if data is not None else (checkpoint.data or {}).get("spec")
    if not spec:
        raise XaiprobeError(f"checkpoint {checkpoint.path}: records no data set; pass the data it was trained on "
                            "with --data SPEC (data=... in Python)")
    return load_dataset(spec, cache_dir=cache_dir)


def prepare_samples(checkpoint, data: ImageSet, members=None, nonmembers=None, reference=None,
                    n_max: int | None = None, seed: int = 0) -> SampleSplit:
    """Members/non-members for attacking ``checkpoint`` on ``data`` (see :func:`select_samples`).

    A reference checkpoint's recorded members in the same index space are kept out of the
    non-members (otherwise the calibrated score would detect the reference's own training
    images); a warning is issued when they overlap the target's members.
    """
    target_space = index_space((checkpoint.data or {}).get("spec", data.spec))
    if index_space(data.spec) != target_space:
        logger.warning("data %s is not the data set the checkpoint was trained on (%s); member indices are "
                       "looked up in %s", data.spec, (checkpoint.data or {}).get("spec"), data.spec)
    mem = checkpoint.members if members is None else np.asarray(members, dtype=np.int64).reshape(-1)
    exclude = None
    if reference is not None:
        ref_spec = (reference.data or {}).get("spec", "")
        if reference.members.size == 0:
            warnings.warn(f"reference {reference.path}: records no training images; cannot check it was trained "
                          "on data disjoint from the target's", UserWarning, stacklevel=3)
        elif index_space(ref_spec) == index_space(data.spec):
            both = np.intersect1d(reference.members, mem)
            if both.size:
                warnings.warn(f"reference {reference.path}: {both.size} of its {reference.members.size} training "
                              "images are also the target's members; a reference should be trained on disjoint "
                              "data (the calibrated attack is weakened)", UserWarning, stacklevel=3)
            exclude = reference.members
    return select_samples(data, mem, nonmembers=nonmembers, exclude=exclude, n_max=n_max, seed=seed)


def membership_attack(checkpoint, data=None, reference=None, members=None, nonmembers=None,
                      calibration_fraction: float = 0.5, seed: int = 0, n_max: int | None = None,
                      fprs=DEFAULT_FPRS, n_bootstrap: int = 1000, batch_size: int = 256, device=None,
                      progress: bool = False, name: str | None = None) -> MIAResult:
    """Attack a checkpoint's discriminator with its recorded members against held-out images.

    Parameters
    ----------
    checkpoint : path or Checkpoint
    data : ImageSet or str, optional
        Data set holding members and non-members (default: the checkpoint's data spec). For
        SynthFaces, a larger ``synthfaces:N`` with the same seed gives fresh non-members.
    reference : path or Checkpoint, optional
        Reference GAN trained on disjoint data; the score becomes target minus reference logit.
    members : array-like of int, optional
        Data-set indices of the training images (default: the checkpoint's record).
    nonmembers : array-like of int, optional
        Data-set indices of non-members (default: every other image of ``data``).
    calibration_fraction : float
        Share of each class used to choose the threshold.
    seed : int
        Seeds subsampling, the calibration split and the bootstrap.
    n_max : int, optional
        At most this many images per class.
    fprs, n_bootstrap : see :func:`attack_scores`
    batch_size, device, progress : scoring options

    Returns
    -------
    MIAResult
        Calibrated when ``reference`` is given (``.baseline`` holds the raw-logit attack on
        the same images and split), else the raw-logit attack.
    """
    dev = resolve_device(device)
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint, device=dev)
    ref = None
    if reference is not None:
        ref = reference if isinstance(reference, Checkpoint) else load_checkpoint(reference, device=dev)
    data = load_data(data, ckpt)
    sel = prepare_samples(ckpt, data, members, nonmembers, ref, n_max, seed)
    rows = np.concatenate([sel.member_rows, sel.nonmember_rows])
    opts = dict(batch_size=batch_size, device=dev, progress=progress)
    logits = rows_logits(ckpt.discriminator, data, rows, **opts)
    nm = sel.member_rows.size
    info = {"checkpoint": str(ckpt.path), "epoch": ckpt.epoch, **sel.info}
    kw = dict(calibration_fraction=calibration_fraction, seed=seed, fprs=fprs, n_bootstrap=n_bootstrap,
              index_members=sel.member_index, index_nonmembers=sel.nonmember_index)
    raw = attack_scores(logits[:nm], logits[nm:], name=name or "logit", info=info, **kw)
    if ref is None:
        return raw
    ref_logits = rows_logits(ref.discriminator, data, rows, **opts)
    diff = logits - ref_logits
    res = attack_scores(diff[:nm], diff[nm:], name=name or "calibrated",
                        info={**info, "reference": str(ref.path)}, **kw)
    res.baseline = raw
    return res
