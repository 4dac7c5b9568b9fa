"""The measurements of the AE-ACGAN stage, each with a bootstrap interval and its control.

* :func:`draw_label_rows` — label rows for G(z, y) from the data's joint label distribution,
  with extra rows for rare attributes so both classes are requested.
* :func:`conditional_accuracy` — an independent classifier's balanced accuracy on G(z, y) for
  the requested y, per attribute, beside the auxiliary head's own view and a shuffled-label
  control.
* :func:`real_accuracy` — the auxiliary head's and the classifier's balanced accuracy on real
  images (control: a random-init auxiliary head).
* :func:`reconstruction_error` — the auto-encoder's mean absolute error in [-1, 1] pixel units
  beside reconstructing from another image's code and predicting the mean image.
* :func:`diversity` — mean distance of each generated image to the others in a feature space.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np
import torch

from .._utils.errors import XaiprobeError
from .._utils.numeric import bootstrap_interval

__all__ = ["LabelRows", "draw_label_rows", "balanced_accuracy", "attribute_columns", "classifier_logits",
           "aux_logits", "classifier_features", "AttributeScores", "score_attributes", "ConditionalResult",
           "conditional_accuracy", "real_accuracy", "reconstruction_error", "diversity", "MIN_SHARE"]

#: an attribute whose rarer value is requested in under this share of the drawn rows gets extra rows
MIN_SHARE = 0.1


@dataclass
class LabelRows:
    """Label rows for a conditional generator.

    Attributes
    ----------
    labels : ndarray float32 (M, A)
        Requested labels: ``n`` rows drawn from the joint distribution, then the extra rows.
    mask : ndarray bool (M, A)
        Which rows count for which attribute: the drawn rows for every attribute, an extra row
        only for the attribute it was drawn for.
    n_base : int
        The first ``n_base`` rows are the plain draws (used for quality and diversity).
    extra : dict of str -> int
        Attribute -> the value its extra rows request (its rarer value).
    """

    labels: np.ndarray
    mask: np.ndarray
    n_base: int
    names: list
    extra: dict = field(default_factory=dict)


def draw_label_rows(train_labels, n: int, names, seed: int = 0, min_share: float = MIN_SHARE,
                    group: int | None = None) -> LabelRows:
    """``n`` rows of ``train_labels`` (the data's joint distribution) and, for every attribute whose
    rarer value is under ``min_share`` of them, ``group`` more rows (default n/8, at least 8)
    drawn from the training rows that have the rarer value (forced to it when none has it), so
    that both classes are requested. Each extra row counts only for its attribute."""
    Y = np.asarray(train_labels, dtype=np.float32)
    if Y.ndim != 2 or len(Y) == 0:
        raise XaiprobeError("label rows: no training labels to draw from; use a labeled data set")
    rng = np.random.default_rng(seed)
    base = Y[rng.integers(0, len(Y), int(n))]
    A = Y.shape[1]
    rows, masks, extra = [base], [np.ones((len(base), A), bool)], {}
    share = base.mean(axis=0) if len(base) else np.zeros(A)
    g = int(group) if group is not None else max(8, int(n) // 8)
    for a in range(A):
        if min(share[a], 1 - share[a]) >= min_share:
            continue
        value = 1.0 if share[a] < 0.5 else 0.0
        have = np.flatnonzero(Y[:, a] == value)
        pick = Y[have[rng.integers(0, len(have), g)]] if len(have) else Y[rng.integers(0, len(Y), g)].copy()
        pick[:, a] = value
        m = np.zeros((g, A), bool)
        m[:, a] = True
        rows.append(pick)
        masks.append(m)
        extra[str(names[a])] = int(value)
    return LabelRows(np.concatenate(rows).astype(np.float32), np.concatenate(masks), len(base), list(map(str, names)),
                     extra)


def balanced_accuracy(y, pred) -> float:
    """Mean of the true-positive and true-negative rates of 0/1 predictions; NaN with one class."""
    y, pred = np.asarray(y).astype(bool), np.asarray(pred).astype(bool)
    if not (y.any() and (~y).any()):
        return float("nan")
    return float(((pred & y).sum() / y.sum() + (~pred & ~y).sum() / (~y).sum()) / 2)


def attribute_columns(model_names, names, what: str, fix: str) -> list[int]:
    """Columns of ``names`` in ``model_names``; one line naming the missing ones otherwise."""
    model_names = [str(a) for a in model_names]
    missing = [a for a in names if a not in model_names]
    if missing:
        raise XaiprobeError(f"{what}: lacks attribute{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                            f"(it has {', '.join(model_names) or 'none'}); {fix}")
    return [model_names.index(a) for a in names]


@contextlib.contextmanager
def one_thread():
    """Run the block on one torch intra-op thread (restored after)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _device(module) -> torch.device:
    p = next(iter(module.parameters()), None) if hasattr(module, "parameters") else None
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def _batched(fn, module, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    dev = _device(module)
    was = getattr(module, "training", False)
    if hasattr(module, "eval"):
        module.eval()
    try:
        out = [fn(images[i:i + batch_size].to(dev, torch.float32)).float().cpu()
               for i in range(0, len(images), batch_size)]
    finally:
        if hasattr(module, "train"):
            module.train(was)
    return torch.cat(out) if out else torch.empty(0)


def classifier_logits(classifier, images: torch.Tensor, columns, batch_size: int = 128) -> np.ndarray:
    """The classifier's logits (N, len(columns)) of images, in eval mode, batch by batch."""
    return _batched(classifier, classifier, images, batch_size)[:, columns].numpy()


def classifier_features(classifier, images: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
    """The classifier's penultimate features (N, D) (its ``features`` method), float64."""
    return _batched(classifier.features, classifier, images, batch_size).reshape(len(images), -1).double()


def aux_logits(discriminator, images: torch.Tensor, batch_size: int = 128) -> np.ndarray:
    """The auxiliary head's attribute logits (N, A)."""
    return _batched(discriminator.aux_logits, discriminator, images, batch_size).numpy()


@dataclass
class AttributeScores:
    """Balanced accuracy per attribute with 95% bootstrap intervals, and their mean over attributes."""

    names: list
    bacc: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    n_pos: np.ndarray
    n: np.ndarray
    mean: float
    mean_lo: float
    mean_hi: float

    def to_dict(self) -> dict:
        return {"mean": self.mean, "mean_interval": [self.mean_lo, self.mean_hi],
                "attributes": {a: {"bacc": float(self.bacc[i]), "lo": float(self.lo[i]), "hi": float(self.hi[i]),
                                   "n_pos": int(self.n_pos[i]), "n": int(self.n[i])} for i, a in enumerate(self.names)}}


def _mean_bacc(Y: np.ndarray, pred: np.ndarray, M: np.ndarray) -> float:
    """Mean over attributes (with both classes) of the balanced accuracy on the rows of ``M``."""
    pos, neg = (Y > 0.5) & M, (Y <= 0.5) & M
    n1, n0 = pos.sum(0), neg.sum(0)
    ok = (n1 > 0) & (n0 > 0)
    if not ok.any():
        return float("nan")
    tpr = (pred & pos).sum(0)[ok] / n1[ok]
    tnr = (~pred & neg).sum(0)[ok] / n0[ok]
    return float(np.mean((tpr + tnr) / 2))


def score_attributes(Y, logits, names, mask=None, n_boot: int = 200, seed: int = 0) -> AttributeScores:
    """Balanced accuracy of ``logits > 0`` against labels ``Y`` (N, A) per attribute (on the rows of
    ``mask``), with percentile bootstrap intervals, and the mean over attributes (its interval
    resamples the rows, every attribute at once)."""
    Y = np.asarray(Y) > 0.5
    logits = np.asarray(logits, dtype=np.float64)
    M = np.ones(Y.shape, bool) if mask is None else np.asarray(mask, bool)
    A = Y.shape[1]
    bacc, lo, hi = np.full(A, np.nan), np.full(A, np.nan), np.full(A, np.nan)
    for a in range(A):
        rows = M[:, a]
        y, pred_a = Y[rows, a], logits[rows, a] > 0
        bacc[a] = balanced_accuracy(y, pred_a)
        if np.isfinite(bacc[a]) and n_boot > 0:
            lo[a], hi[a] = bootstrap_interval(balanced_accuracy, y, pred_a, n_boot=n_boot, seed=seed + a)
    pred = logits > 0
    mean = _mean_bacc(Y, pred, M)
    mlo, mhi = (bootstrap_interval(_mean_bacc, Y, pred, M, n_boot=n_boot, seed=seed)
                if np.isfinite(mean) and n_boot > 0 else (float("nan"), float("nan")))
    return AttributeScores(list(names), bacc, lo, hi, (Y & M).sum(0), M.sum(0), mean, mlo, mhi)


@dataclass
class ConditionalResult:
    """Conditional generation: what an independent classifier and the auxiliary head read in G(z, y)."""

    rows: LabelRows
    images: torch.Tensor
    classifier: AttributeScores
    aux: AttributeScores | None
    shuffled: AttributeScores


def conditional_accuracy(generator, classifier, rows: LabelRows, columns=None, discriminator=None, seed: int = 0,
                         n_boot: int = 200, batch_size: int = 128, images: torch.Tensor | None = None
                         ) -> ConditionalResult:
    """Balanced accuracy of an independent ``classifier`` on G(z, y) for the requested y.

    Parameters
    ----------
    generator : nn.Module
        A conditional generator ``G(z, labels)`` (``conditional = True``, ``config.nz``,
        ``config.n_attributes``), sampled with :func:`xaiprobe.gan.sampling.sample_images`.
    classifier : nn.Module
        Images (N, 3, 64, 64) -> attribute logits; ``columns`` picks the requested attributes'
        columns (default: all, in order).
    rows : LabelRows
        The requested labels (:func:`draw_label_rows`).
    discriminator : nn.Module, optional
        With ``aux_logits``: adds the auxiliary head's view of the same images.
    images : Tensor, optional
        Images already generated for ``rows`` (skips sampling).

    Returns
    -------
    ConditionalResult
        ``shuffled``: the classifier's predictions against row-permuted requests of the drawn rows
        (the control: the link between image and request broken, about 0.5).
    """
    from ..gan.sampling import sample_images

    if images is None:
        _, images = sample_images(generator, len(rows.labels), seed=seed, labels=torch.from_numpy(rows.labels),
                                  batch_size=batch_size)
    cols = list(range(rows.labels.shape[1])) if columns is None else list(columns)
    logits = classifier_logits(classifier, images, cols, batch_size)
    clf = score_attributes(rows.labels, logits, rows.names, rows.mask, n_boot, seed)
    aux = None
    if discriminator is not None:
        aux = score_attributes(rows.labels, aux_logits(discriminator, images, batch_size), rows.names, rows.mask,
                               n_boot, seed)
    b = rows.n_base
    perm = np.random.default_rng(seed + 7).permutation(b)
    shuffled = score_attributes(rows.labels[:b][perm], logits[:b], rows.names, None, n_boot, seed)
    return ConditionalResult(rows, images, clf, aux, shuffled)


def real_accuracy(labels, names, classifier_logits_, aux_logits_, random_aux_logits_=None, n_boot: int = 200,
                  seed: int = 0) -> dict:
    """Balanced accuracy on real images: ``{"classifier", "aux", "random_aux"}`` -> AttributeScores."""
    out = {"classifier": score_attributes(labels, classifier_logits_, names, None, n_boot, seed),
           "aux": score_attributes(labels, aux_logits_, names, None, n_boot, seed)}
    if random_aux_logits_ is not None:
        out["random_aux"] = score_attributes(labels, random_aux_logits_, names, None, n_boot, seed)
    return out


def _mean_ci(values: np.ndarray, n_boot: int, seed: int) -> dict:
    values = np.asarray(values, dtype=np.float64)
    lo, hi = bootstrap_interval(np.mean, values, n_boot=n_boot, seed=seed) if n_boot > 0 else (np.nan, np.nan)
    return {"mean": float(values.mean()) if values.size else float("nan"), "lo": lo, "hi": hi}


@torch.no_grad()
def reconstruction_error(encoder, generator, images: torch.Tensor, mean_image: torch.Tensor | None = None,
                         seed: int = 0, n_boot: int = 200, batch_size: int = 128, controls: bool = True) -> dict:
    """Mean absolute error (in [-1, 1] pixel units) of encoder -> G reconstructions of ``images``.

    Returns ``{"mae", "shuffled", "mean_image"}`` each ``{"mean", "lo", "hi"}`` (per-image errors,
    bootstrap over images), and ``"recon"`` / ``"recon_shuffled"`` images. The controls: the same
    G fed another image's code (labels and latent of a derangement of the images), and the mean
    image (``mean_image``, default the images' own mean) as the reconstruction of every image.
    ``controls=False`` leaves both controls out (``{"mae", "recon"}`` only).
    """
    from ..gan.sampling import sample_images

    x = images.float()
    def code(b):
        label_logits, latent = encoder(b)
        return torch.cat([torch.sigmoid(label_logits), latent], 1)

    enc = _batched(code, encoder, x, batch_size)
    a = generator.config.n_attributes
    labels, z = enc[:, :a], enc[:, a:]
    _, recon = sample_images(generator, len(x), z=z, labels=labels, batch_size=batch_size)
    err = lambda r: (r - x).abs().flatten(1).mean(1).numpy()  # noqa: E731
    if not controls:
        return {"mae": _mean_ci(err(recon), n_boot, seed), "recon": recon}
    n = len(x)
    perm = np.random.default_rng(seed).permutation(n)
    other = np.roll(perm, 1)  # image perm[i] gets the code of perm[i-1]: never its own (n > 1)
    src = np.empty(n, dtype=np.int64)
    src[perm] = other
    _, shuffled = sample_images(generator, n, z=z[src], labels=labels[src], batch_size=batch_size)
    mean_image = x.mean(0) if mean_image is None else mean_image.float()
    return {"mae": _mean_ci(err(recon), n_boot, seed), "shuffled": _mean_ci(err(shuffled), n_boot, seed),
            "mean_image": _mean_ci(err(mean_image.expand_as(x)), n_boot, seed), "recon": recon,
            "recon_shuffled": shuffled}


def diversity(features: torch.Tensor, n_boot: int = 200, seed: int = 0) -> dict:
    """Mean Euclidean distance of every row of ``features`` (N, D) to the other rows, averaged:
    ``{"mean", "lo", "hi"}`` (interval: bootstrap over the per-image mean distances). A collapsed
    generator (the same image for every latent) scores 0."""
    f = torch.as_tensor(features, dtype=torch.float64)
    n = len(f)
    if n < 2:
        return {"mean": float("nan"), "lo": float("nan"), "hi": float("nan")}
    d = torch.cdist(f, f).sum(1) / (n - 1)
    return _mean_ci(d.numpy(), n_boot, seed)
