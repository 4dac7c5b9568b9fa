"""One on-disk render cache of SynthFaces per (seed, renderer version), shared by every size.

Face i is the same face for every N (it is drawn from (seed, i)), so the cache file
``synthfaces_v{RENDER_VERSION}_s{seed}.npz`` holds the first M faces rendered so far with all
their labels: a request for N <= M slices it, N > M renders only faces M..N-1 and rewrites the
file atomically (temporary name, then rename). An unreadable file is rendered again, with a warning.
"""
from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import numpy as np

from .._utils.errors import XaiprobeError

log = logging.getLogger(__name__)


def cache_file(cache_dir, seed: int) -> Path:
    from .synthfaces import RENDER_VERSION

    return Path(cache_dir) / f"synthfaces_v{RENDER_VERSION}_s{int(seed)}.npz"


def _read(path: Path):
    """(pixels, labels) of a cache file, or None when it is missing; raises ValueError when unreadable."""
    from .synthfaces import ATTRIBUTES

    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            pixels, labels = z["pixels"], z["labels"]
            names = [str(a) for a in z["attributes"]]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(str(exc) or type(exc).__name__) from None
    m = len(pixels)
    if (m < 1 or pixels.dtype != np.uint8 or pixels.shape[1:] != (3, 64, 64) or labels.shape != (m, len(ATTRIBUTES))
            or names != list(ATTRIBUTES)):
        raise ValueError(f"unexpected contents (pixels {pixels.shape}, labels {labels.shape})")
    return pixels, labels


def _cached_count(path: Path) -> int:
    try:
        with np.load(path, allow_pickle=False) as z:
            return len(z["labels"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return 0


def cached_faces(n: int, seed: int, cache_dir=None):
    """Pixels uint8 (n, 3, 64, 64) and labels int8 (n, len(ATTRIBUTES)) of faces 0..n-1, via the cache."""
    from .._utils.io import atomic_path
    from .registry import default_cache_dir
    from .store import default_mode
    from .synthfaces import ATTRIBUTES, render_synthfaces

    n, seed = int(n), int(seed)
    path = cache_file(cache_dir or default_cache_dir(), seed)
    try:
        have = _read(path)
    except ValueError as exc:
        log.warning("SynthFaces cache %s is unreadable (%s); rendering again", path, exc)
        have = None
    if have is not None and len(have[0]) >= n:
        return have[0][:n], have[1][:n]
    m = 0 if have is None else len(have[0])
    log.info("rendering SynthFaces %d..%d (seed %d)", m, n - 1, seed)
    pix, lab, _ = render_synthfaces(np.arange(m, n), seed=seed, masks=False)
    if have is not None:
        pix, lab = np.concatenate([have[0], pix]), np.concatenate([have[1], lab])
    if _cached_count(path) < n:  # another process may have written a larger cache meanwhile
        try:
            with atomic_path(path, suffix=".npz") as tmp:
                with open(tmp, "wb") as fh:
                    np.savez(fh, pixels=pix, labels=lab, attributes=np.array(ATTRIBUTES))
                default_mode(tmp)
        except (OSError, XaiprobeError) as exc:
            log.warning("could not cache SynthFaces to %s (%s)", path, exc)
    return pix, lab
