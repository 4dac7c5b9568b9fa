"""Digits: scikit-learn's bundled 8x8 handwritten digits upscaled to 64x64 RGB, classes 0-9."""
from __future__ import annotations

import numpy as np

from .base import ImageSet
from .registry import register_spec

CLASSES = [str(d) for d in range(10)]


def stratified_split(y: np.ndarray, seed: int = 0, fractions=(0.8, 0.1)) -> np.ndarray:
    """Deterministic per-class 80/10/10 split (0 train, 1 val, 2 test) of class labels ``y``."""
    split = np.full(y.shape[0], 2, np.uint8)
    rng = np.random.default_rng(seed)
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        rows = rows[rng.permutation(rows.size)]
        n_tr = int(round(fractions[0] * rows.size))
        n_va = int(round(fractions[1] * rows.size))
        split[rows[:n_tr]] = 0
        split[rows[n_tr:n_tr + n_va]] = 1
    return split


def load_digits():
    """The 1797 scikit-learn digits as an ImageSet.

    Each 8x8 image (values 0..16) is upscaled bilinearly to 64x64, scaled to 0..255 and
    repeated over 3 channels. Labels are one-hot int8 (N, 10) with names "0".."9",
    ``concept_type="single"``; the split is a deterministic stratified 80/10/10.

    Returns
    -------
    ImageSet
    """
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits as _sk_digits

    d = _sk_digits()
    x = torch.from_numpy(d.images.astype(np.float32) / 16.0)[:, None]
    up = F.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False).clamp_(0, 1)
    pixels = (up * 255).round().to(torch.uint8).repeat(1, 3, 1, 1).numpy()
    y = d.target.astype(np.int64)
    labels = np.eye(10, dtype=np.int8)[y]
    return ImageSet(pixels, labels, list(CLASSES), stratified_split(y), "digits", "single",
                    np.arange(y.size, dtype=np.int64), None, {"source": "sklearn.datasets.load_digits"})


register_spec("digits", lambda spec: spec == "digits", lambda spec, cache_dir=None: load_digits())
