"""Data specs: one string names a data set and reproduces it.

Each loader module registers the specs it reads with :func:`register_spec` when it is imported
(the package imports every loader), so this module imports none of them.

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

#: (name, matches(spec) -> bool, load(spec, cache_dir) -> ImageSet), in registration order
_LOADERS: list = []


def register_spec(name: str, matches, load) -> None:
    """Register a loader: ``matches(spec)`` says whether it reads ``spec``; ``load(spec, cache_dir)`` reads it."""
    global _LOADERS
    _LOADERS = [entry for entry in _LOADERS if entry[0] != name] + [(name, matches, load)]


def spec_head(spec: str) -> str:
    """The part of a spec before its first colon (``synthfaces`` of ``synthfaces:3000``)."""
    return spec.partition(":")[0]
VALID_FORMS = ("synthfaces, synthfaces:N, synthfaces:N:SEED[:attrs=all|A,B], digits, celeba:DIR[:crop=center|box][:attrs=A,B], "
               "PATH.h5 (from `xaiprobe data pack`), folder:DIR")


def default_cache_dir() -> Path:
    """Env ``XAIPROBE_CACHE`` or ``~/.cache/xaiprobe``."""
    env = os.environ.get("XAIPROBE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "xaiprobe"


def parse_int(part: str, what: str, spec: str) -> int:
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
    for _, matches, load in _LOADERS:
        if matches(spec):
            return load(spec, cache_dir)
    raise XaiprobeError(f"data spec {spec!r}: unknown; valid forms: {VALID_FORMS}")
