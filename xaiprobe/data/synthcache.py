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
from .._utils.io import atomic_path
from .base import ImageSet
from .registry import DEFAULT_SYNTHFACES, VALID_FORMS, default_cache_dir, parse_int, register_spec, spec_head
from .store import default_mode
from .synthfaces import (ATTRIBUTES, DEFAULT_ATTRIBUTES, RENDER_VERSION, render_synthfaces, select_attributes,
                         synth_split)

log = logging.getLogger(__name__)


def cache_file(cache_dir, seed: int) -> Path:
    return Path(cache_dir) / f"synthfaces_v{RENDER_VERSION}_s{int(seed)}.npz"


def _read(path: Path):
    """(pixels, labels) of a cache file, or None when it is missing; raises ValueError when unreadable."""
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


def load_synthfaces(n: int = 8000, seed: int = 0, cache_dir=None, spec: str | None = None, cache: bool = True,
                    attrs=None):
    """SynthFaces as an ImageSet, rendered once and cached on disk.

    Parameters
    ----------
    n : int
        Number of faces (indices 0..n-1).
    seed : int
    cache_dir : str or Path, optional
        Default: env ``XAIPROBE_CACHE`` or ``~/.cache/xaiprobe``. One cache file per (seed,
        renderer version) holds the first M faces rendered so far; see :mod:`.synthcache`.
    cache : bool
        False renders in memory without touching the disk.
    attrs : None, "all", or list of str
        Label columns: None the five ``DEFAULT_ATTRIBUTES``, "all" every one of ``ATTRIBUTES``.

    Returns
    -------
    ImageSet
        pixels uint8 (n, 3, 64, 64), labels int8 (n, len(attrs)), split 80/10/10 by position,
        masks rendered on demand.
    """
    if int(n) < 1:
        raise XaiprobeError(f"SynthFaces size {n}: must be at least 1")
    n, seed = int(n), int(seed)
    names = select_attributes(attrs)
    if spec is None:
        spec = f"synthfaces:{n}:{seed}" + ("" if names == DEFAULT_ATTRIBUTES else
                                           ":attrs=" + ("all" if names == ATTRIBUTES else ",".join(names)))
    if cache:
        pixels, labels = cached_faces(n, seed, cache_dir)
    else:
        pixels, labels, _ = render_synthfaces(n, seed=seed, masks=False)
    labels = labels[:, [ATTRIBUTES.index(a) for a in names]]
    index = np.arange(n, dtype=np.int64)

    def masks(rows, _index=index, _seed=seed):
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        return render_synthfaces(_index[rows], seed=_seed, masks=True)[2]

    return ImageSet(pixels, labels, names, synth_split(n), spec, "multilabel", index, masks,
                    {"source": "synthfaces", "n": n, "seed": seed, "render_version": RENDER_VERSION})


def _load_spec(spec: str, cache_dir=None):
    """``synthfaces[:N[:SEED]][:attrs=all|A,B]``."""
    rest = spec.partition(":")[2]
    parts = rest.split(":") if rest else []
    attrs = None
    if parts and parts[-1].startswith("attrs="):
        attrs = parts.pop()[len("attrs="):]
    if any("=" in p for p in parts):
        raise XaiprobeError(f"data spec {spec!r}: unknown option; synthfaces takes attrs=all or attrs=A,B")
    if len(parts) > 2:
        raise XaiprobeError(f"data spec {spec!r}: too many fields; valid forms: {VALID_FORMS}")
    n = parse_int(parts[0], "size", spec) if parts else DEFAULT_SYNTHFACES
    seed = parse_int(parts[1], "seed", spec) if len(parts) > 1 else 0
    if n < 1 or seed < 0:
        raise XaiprobeError(f"data spec {spec!r}: size must be >= 1 and seed >= 0")
    return load_synthfaces(n, seed, cache_dir=cache_dir, spec=spec, attrs=attrs)


register_spec("synthfaces", lambda spec: spec_head(spec) == "synthfaces", _load_spec)
