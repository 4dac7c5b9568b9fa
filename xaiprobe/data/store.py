"""HDF5 uint8 image store: images decoded once, read lazily batch by batch.

Layout::

    /            attrs: format="xaiprobe.images", version, xaiprobe_version, created,
                        spec (data spec of the source), provenance (json), concept_type
    /images      (N, 3, 64, 64) uint8, chunked along N
    /labels      (N, A) int8, attrs: names (json list)
    /split       (N,) uint8
    /index       (N,) int64
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from .._utils.errors import XaiprobeError
from .._utils.io import atomic_path
from .base import ImageSet
from .registry import register_spec

FORMAT = "xaiprobe.images"
VERSION = 1


def default_mode(path) -> None:
    """Give a file made by mkstemp (mode 0600) the usual permissions (0666 minus the umask)."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


class ImageStoreWriter:
    """Write an image store under a temporary name; rename to ``path`` on :meth:`close`.

    Use as a context manager; on an exception nothing is left at ``path``.

    Parameters
    ----------
    path : str or Path
    n : int
        Number of images.
    attribute_names : list of str
    image_shape : tuple, default (3, 64, 64)
    spec : str
        The data spec of the source.
    provenance : dict, optional
    concept_type : {"multilabel", "single"}
    """

    def __init__(self, path, n, attribute_names, image_shape=(3, 64, 64), spec="", provenance=None,
                 concept_type="multilabel"):
        self.path = Path(path)
        self.n = int(n)
        self.names = list(attribute_names)
        self.image_shape = tuple(image_shape)
        self.spec = spec
        self.provenance = provenance or {}
        self.concept_type = concept_type
        self._ctx = None
        self._h5 = None

    def __enter__(self):
        import h5py

        from .. import __version__

        self._ctx = atomic_path(self.path, suffix=".h5")
        self._tmp = tmp = self._ctx.__enter__()
        self._h5 = h5py.File(tmp, "w")
        f = self._h5
        f.attrs.update(format=FORMAT, version=VERSION, xaiprobe_version=str(__version__),
                       created=time.strftime("%Y-%m-%dT%H:%M:%S"), spec=str(self.spec),
                       provenance=json.dumps(self.provenance), concept_type=self.concept_type, complete=False)
        chunk = (max(1, min(self.n, 256)), *self.image_shape)
        self.images = f.create_dataset("images", (self.n, *self.image_shape), np.uint8, chunks=chunk)
        self.labels = f.create_dataset("labels", (self.n, len(self.names)), np.int8)
        self.labels.attrs["names"] = json.dumps(self.names)
        self.split = f.create_dataset("split", (self.n,), np.uint8)
        self.index = f.create_dataset("index", (self.n,), np.int64)
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self._h5.attrs["complete"] = True
        finally:
            self._h5.close()
        if exc_type is None:
            default_mode(self._tmp)
        return self._ctx.__exit__(exc_type, exc, tb)


def save_image_store(data, path, provenance=None, batch_size: int = 1024) -> Path:
    """Write an ImageSet to an image store at ``path`` (atomically). Returns the path."""
    with ImageStoreWriter(path, len(data), data.attribute_names, data.image_shape, data.spec,
                          provenance, data.concept_type) as w:
        for start in range(0, len(data), batch_size):
            sl = slice(start, start + batch_size)
            w.images[sl] = np.asarray(data.pixels[sl], dtype=np.uint8)
        w.labels[:] = data.labels
        w.split[:] = data.split
        w.index[:] = data.index
    return Path(path)


def load_image_store(path, spec: str | None = None):
    """Open an image store as an ImageSet whose pixels are the lazy h5py dataset.

    The file stays open for the life of the ImageSet (``info["h5file"]``).

    Parameters
    ----------
    path : str or Path
    spec : str, optional
        Spec to record (default: the absolute path of the store).

    Returns
    -------
    ImageSet
    """
    import h5py

    p = Path(path)
    if not p.is_file():
        raise XaiprobeError(f"image store {p}: no such file; create it with `xaiprobe data pack`")
    try:
        f = h5py.File(p, "r")
    except OSError as exc:
        raise XaiprobeError(f"image store {p}: not a readable HDF5 file ({exc}); recreate it with `xaiprobe data pack`") from None
    try:
        if f.attrs.get("format") != FORMAT:
            raise XaiprobeError(f"image store {p}: format is {f.attrs.get('format')!r}, not {FORMAT!r}; "
                                "create an image store with `xaiprobe data pack`")
        if int(f.attrs.get("version", 0)) > VERSION:
            raise XaiprobeError(f"image store {p}: version {int(f.attrs['version'])} is newer than this "
                                f"xaiprobe reads ({VERSION}); upgrade xaiprobe")
        if not bool(f.attrs.get("complete", True)):
            raise XaiprobeError(f"image store {p}: incomplete (the writer was interrupted); pack it again")
        for name in ("images", "labels", "split", "index"):
            if name not in f:
                raise XaiprobeError(f"image store {p}: dataset /{name} is missing; pack it again")
        names = json.loads(f["labels"].attrs["names"])
        info = {"source": "store", "path": str(p.resolve()), "source_spec": str(f.attrs.get("spec", "")),
                "provenance": json.loads(f.attrs.get("provenance", "{}")), "h5file": f}
        return ImageSet(f["images"], f["labels"][()], names, f["split"][()],
                        spec or os.fspath(p.resolve()), str(f.attrs.get("concept_type", "multilabel")),
                        f["index"][()], None, info)
    except XaiprobeError:
        f.close()
        raise
    except (KeyError, ValueError, OSError) as exc:
        f.close()
        raise XaiprobeError(f"image store {p}: malformed ({exc}); pack it again") from None


register_spec("store", lambda spec: spec.endswith((".h5", ".hdf5")), lambda spec, cache_dir=None: load_image_store(spec))
