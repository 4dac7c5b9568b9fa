"""Safe file writing: write under a temporary name, rename when complete."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .errors import XaiprobeError


def ensure_writable_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` (a directory) if needed and check it can be written to."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise XaiprobeError(f"output directory {p}: cannot be created ({exc.strerror}); choose a writable location") from None
    if not os.access(p, os.W_OK):
        raise XaiprobeError(f"output directory {p}: not writable; choose a writable location")
    return p


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike, suffix: str = ""):
    """Yield a temporary path beside ``final``; rename it to ``final`` only on success.

    On any exception the temporary file is removed and ``final`` is untouched.
    """
    final = Path(final)
    ensure_writable_dir(final.parent if str(final.parent) else ".")
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=suffix + ".part", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp)
    with contextlib.suppress(OSError):  # mkstemp makes 0600; give the file the usual umask permissions
        os.chmod(tmp, 0o666 & ~_umask())
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def safe_torch_load(path: str | os.PathLike, what: str, missing: str, unreadable: str):
    """``torch.load(path, weights_only=True)`` on CPU, with one-line errors.

    ``what`` names the file's role ("checkpoint", "classifier" ...); ``missing`` and
    ``unreadable`` say what to do when the file is absent or cannot be loaded safely
    (truncated, not a torch file, or holding pickled code).
    """
    import pickle
    import zipfile

    import torch

    path = Path(path)
    if not path.is_file():
        raise XaiprobeError(f"{what} {path}: no such file; {missing}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise XaiprobeError(f"{what} {path}: cannot be loaded safely ({first[:160]}); {unreadable}") from None
