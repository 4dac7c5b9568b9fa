"""The data contract every data set in xaiprobe follows.

Images are float tensors (N, 3, 64, 64) in [-1, 1]; they are kept as uint8 (N, 3, H, W)
(in memory or in an HDF5 image store) and converted batch by batch. Labels are int8 (N, A)
with attribute names. Splits are uint8: 0 train, 1 val, 2 test.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np
import torch

from .._utils.errors import XaiprobeError

SPLITS = {"train": 0, "val": 1, "test": 2}
SPLIT_NAMES = {v: k for k, v in SPLITS.items()}


def to_float_images(u8: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, H, W) in [0, 255] -> float32 tensor in [-1, 1]."""
    t = torch.as_tensor(np.asarray(u8))
    return t.float().div_(127.5).sub_(1.0)


def to_uint8_images(x: torch.Tensor) -> np.ndarray:
    """float (N, 3, H, W) in [-1, 1] -> uint8 numpy array."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()


@dataclass
class ImageSet:
    """A labeled image data set following the xaiprobe data contract.

    Parameters
    ----------
    pixels : array-like of uint8, shape (N, 3, H, W)
        numpy array or h5py dataset (read lazily, batch by batch).
    labels : ndarray of int8, shape (N, A)
        Binary attributes in {0, 1}, or for single-label concepts (``concept_type="single"``)
        a one-hot matrix whose column names are the classes.
    attribute_names : list of str, length A
    split : ndarray of uint8, shape (N,)
        0 train, 1 val, 2 test.
    spec : str
        The data spec string that reproduces this set (``synthfaces:2000``, ``digits`` ...).
    concept_type : {"multilabel", "single"}
    index : ndarray of int64, shape (N,), optional
        Row of each sample in its source data set (defaults to arange(N)).
    masks : callable, optional
        ``masks(rows) -> dict[str, ndarray bool (n, H, W)]`` concept region masks (SynthFaces).
    """

    pixels: object
    labels: np.ndarray
    attribute_names: list
    split: np.ndarray
    spec: str
    concept_type: str = "multilabel"
    index: np.ndarray | None = None
    masks: object = None
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        n = len(self.pixels)
        self.labels = np.asarray(self.labels, dtype=np.int8)
        self.split = np.asarray(self.split, dtype=np.uint8)
        if self.index is None:
            self.index = np.arange(n, dtype=np.int64)
        self.index = np.asarray(self.index, dtype=np.int64)
        if self.labels.shape != (n, len(self.attribute_names)):
            raise XaiprobeError(
                f"data set {self.spec}: labels have shape {self.labels.shape} but there are {n} images "
                f"and {len(self.attribute_names)} attribute names; rebuild the data set")
        if self.split.shape != (n,) or self.index.shape != (n,):
            raise XaiprobeError(f"data set {self.spec}: split/index length differs from the {n} images; rebuild the data set")

    def __len__(self) -> int:
        return len(self.pixels)

    @property
    def image_shape(self) -> tuple:
        return tuple(self.pixels.shape[1:])

    def images(self, rows: Sequence[int] | slice | np.ndarray | None = None) -> torch.Tensor:
        """Float images (n, 3, H, W) in [-1, 1] for ``rows`` (all when None)."""
        if rows is None:
            rows = slice(None)
        if isinstance(rows, slice):
            return to_float_images(self.pixels[rows])
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return torch.empty((0, *self.image_shape))
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        uniq, inverse = np.unique(sorted_rows, return_inverse=True)
        block = np.asarray(self.pixels[uniq])  # h5py needs increasing indices
        out = np.empty((rows.size, *block.shape[1:]), dtype=np.uint8)
        out[order] = block[inverse]
        return to_float_images(out)

    def rows_of(self, split: str | int | Sequence | None) -> np.ndarray:
        """Row numbers of one split name/code, a list of them, or all rows for None/"all"."""
        if split is None or split == "all":
            return np.arange(len(self), dtype=np.int64)
        names = [split] if isinstance(split, (str, int)) else list(split)
        codes = []
        for s in names:
            if isinstance(s, str):
                if s not in SPLITS:
                    raise XaiprobeError(f"split {s!r}: unknown; use one of train, val, test, all")
                codes.append(SPLITS[s])
            else:
                codes.append(int(s))
        return np.flatnonzero(np.isin(self.split, codes)).astype(np.int64)

    def batches(self, rows: np.ndarray | None = None, batch_size: int = 256) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
        """Yield (rows, images) batches in order."""
        rows = np.arange(len(self), dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
        for start in range(0, rows.size, batch_size):
            r = rows[start:start + batch_size]
            yield r, self.images(r)

    def subset(self, rows: np.ndarray) -> "ImageSet":
        """A new ImageSet over ``rows`` (pixels materialized in memory)."""
        rows = np.asarray(rows, dtype=np.int64)
        order = np.argsort(rows, kind="stable")
        px = np.empty((rows.size, *self.image_shape), dtype=np.uint8)
        px[order] = np.asarray(self.pixels[np.sort(rows)]) if rows.size else px
        masks = None
        if self.masks is not None:
            parent_masks = self.masks
            masks = lambda r, _rows=rows: parent_masks(_rows[np.asarray(r)])  # noqa: E731
        return ImageSet(px, self.labels[rows], list(self.attribute_names), self.split[rows], self.spec,
                        self.concept_type, self.index[rows], masks, dict(self.info))

    def attribute_index(self, name: str) -> int:
        """Column of attribute ``name``; an unknown name lists the known ones."""
        if name not in self.attribute_names:
            raise XaiprobeError(f"attribute {name!r}: not in data set {self.spec}; it has {', '.join(map(str, self.attribute_names))}")
        return self.attribute_names.index(name)
