"""Data specs: one string names a data set and reproduces it.

``synthfaces`` (8000 faces, seed 0), ``synthfaces:N``, ``synthfaces:N:SEED`` (option ``:attrs=all|A,B``;
default the five ``DEFAULT_ATTRIBUTES``), ``digits``,
``celeba:DIR`` (options ``:crop=center|box``, ``:attrs=A,B``), ``PATH.h5`` (an image store
from ``xaiprobe data pack``), ``folder:DIR`` (unlabeled images).
"""
from __future__ import annotations

import os
from pathlib import Path

from .._utils.errors import XaiprobeError

DEFAULT_SYNTHFACES = 8000
VALID_FORMS = ("synthfaces, synthfaces:N, synthfaces:N:SEED[:attrs=all|A,B], digits, celeba:DIR[:crop=center|box][:attrs=A,B], "
               "PATH.h5 (from `xaiprobe data pack`), folder:DIR")


def default_cache_dir() -> Path:
    """Env ``XAIPROBE_CACHE`` or ``~/.cache/xaiprobe``."""
    env = os.environ.get("XAIPROBE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "xaiprobe"


def _int(part: str, what: str, spec: str) -> int:
    try:
        v = int(part)
    except ValueError:
        raise XaiprobeError(f"data spec {spec!r}: {what} {part!r} is not an integer; valid forms: {VALID_FORMS}") from None
    return v


def parse_celeba_spec(rest: str, spec: str) -> tuple[str, str, list | None]:
    """Split ``DIR[:crop=..][:attrs=..]`` into (dir, crop, attrs); options are peeled off the end."""
    parts = rest.split(":")
    crop, attrs = "center", None
    while len(parts) > 1 and "=" in parts[-1]:
        key, _, val = parts.pop().partition("=")
        if key == "crop":
            if val not in ("center", "box"):
                raise XaiprobeError(f"data spec {spec!r}: crop={val!r} is unknown; use crop=center or crop=box")
            crop = val
        elif key == "attrs":
            attrs = [a for a in val.split(",") if a]
        else:
            raise XaiprobeError(f"data spec {spec!r}: option {key!r} is unknown; celeba takes crop= and attrs=")
    directory = ":".join(parts)
    if not directory:
        raise XaiprobeError(f"data spec {spec!r}: no directory; use celeba:DIR")
    return directory, crop, attrs


def celeba_spec(directory, crop: str = "center", attrs=None) -> str:
    """The canonical spec string of a CelebA directory read."""
    s = f"celeba:{os.fspath(Path(directory).resolve())}"
    if crop != "center":
        s += f":crop={crop}"
    if attrs:
        s += ":attrs=" + ",".join(attrs)
    return s


def load_dataset(spec: str, cache_dir=None):
    """Load a data set from its spec string.

    Parameters
    ----------
    spec : str
        One of ``synthfaces``, ``synthfaces:N``, ``synthfaces:N:SEED`` (each with an optional
        ``:attrs=all`` or ``:attrs=A,B``; default the five SynthFaces ``DEFAULT_ATTRIBUTES``), ``digits``,
        ``celeba:DIR[:crop=center|box][:attrs=A,B]``, ``PATH.h5``, ``folder:DIR``.
    cache_dir : str or Path, optional
        Where rendered/packed data is cached (default env ``XAIPROBE_CACHE`` or
        ``~/.cache/xaiprobe``).

    Returns
    -------
    ImageSet
        Its ``spec`` reproduces it.
    """
    if not isinstance(spec, (str, os.PathLike)):
        raise XaiprobeError(f"data spec {spec!r}: must be a string; valid forms: {VALID_FORMS}")
    spec = os.fspath(spec).strip()
    head, _, rest = spec.partition(":")
    if head == "synthfaces":
        from .synthfaces import load_synthfaces

        parts = rest.split(":") if rest else []
        attrs = None
        if parts and parts[-1].startswith("attrs="):
            attrs = parts.pop()[len("attrs="):]
        if any("=" in p for p in parts):
            raise XaiprobeError(f"data spec {spec!r}: unknown option; synthfaces takes attrs=all or attrs=A,B")
        if len(parts) > 2:
            raise XaiprobeError(f"data spec {spec!r}: too many fields; valid forms: {VALID_FORMS}")
        n = _int(parts[0], "size", spec) if parts else DEFAULT_SYNTHFACES
        seed = _int(parts[1], "seed", spec) if len(parts) > 1 else 0
        if n < 1 or seed < 0:
            raise XaiprobeError(f"data spec {spec!r}: size must be >= 1 and seed >= 0")
        return load_synthfaces(n, seed, cache_dir=cache_dir, spec=spec, attrs=attrs)
    if spec == "digits":
        from .digits import load_digits

        return load_digits()
    if head == "celeba":
        from .celeba import load_celeba_cached

        directory, crop, attrs = parse_celeba_spec(rest, spec)
        return load_celeba_cached(directory, crop=crop, attrs=attrs, cache_dir=cache_dir)
    if head == "folder":
        from .folder import load_folder

        if not rest:
            raise XaiprobeError(f"data spec {spec!r}: no directory; use folder:DIR")
        return load_folder(rest)
    if spec.endswith((".h5", ".hdf5")):
        from .store import load_image_store

        return load_image_store(spec)
    raise XaiprobeError(f"data spec {spec!r}: unknown; valid forms: {VALID_FORMS}")
