"""folder:DIR: unlabeled images (png/jpg) center-cropped and resized to 64x64."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._utils.errors import XaiprobeError
from .base import ImageSet
from .celeba import center_crop
from .registry import register_spec, spec_head

EXTENSIONS = (".png", ".jpg", ".jpeg")


def load_image_file(path, size: int = 64) -> np.ndarray:
    """One image file -> uint8 (3, size, size): RGB, center crop to a square, resize."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise XaiprobeError(f"image {path}: cannot be decoded ({exc}); remove or replace the file") from None
    im = center_crop(im, min(im.size)).resize((size, size), Image.BILINEAR)
    return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1).copy()


def load_folder(directory, size: int = 64):
    """Unlabeled images of ``directory`` (recursive, sorted by path) as an ImageSet.

    Labels have shape (N, 0); every image is in the test split (2).
    """
    root = Path(directory).expanduser()
    if not root.is_dir():
        raise XaiprobeError(f"image folder {root}: not a directory; use folder:DIR with a directory of png/jpg images")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file())
    if not files:
        raise XaiprobeError(f"image folder {root}: no .png/.jpg/.jpeg images found; point folder: at a directory of images")
    pixels = np.stack([load_image_file(p, size) for p in files])
    n = len(files)
    return ImageSet(pixels, np.zeros((n, 0), np.int8), [], np.full(n, 2, np.uint8),
                    f"folder:{os.fspath(root.resolve())}", "multilabel", np.arange(n, dtype=np.int64), None,
                    {"source": "folder", "files": [os.fspath(p.relative_to(root)) for p in files]})


def _load_spec(spec: str, cache_dir=None):
    """``folder:DIR``."""
    rest = spec.partition(":")[2]
    if not rest:
        raise XaiprobeError(f"data spec {spec!r}: no directory; use folder:DIR")
    return load_folder(rest)


register_spec("folder", lambda spec: spec_head(spec) == "folder", _load_spec)
