"""Writing outputs safely: one writer per output, outputs staged under a temporary name.

* :func:`exclusive` — before anything is opened for writing, a stage takes the lock of its output
  ``OUT``: a lock file ``.OUT.lock`` beside it, created with ``O_CREAT`` and locked with ``flock``
  (released by the kernel when the process dies, so a killed run leaves no stale lock). A second
  writer of the same ``OUT`` — another process or the same one — is refused with one line
  instead of truncating the first one's files.
* :func:`staged_dir` — a stage writing several files into a directory writes them into a
  temporary directory beside it and moves them in only when all of them are complete; a run
  that stops half-way leaves the directory as it was.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from .errors import XaiprobeError

__all__ = ["exclusive", "lock_path", "staged_dir"]

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: the lock file's existence is the lock
    fcntl = None


def lock_path(out: str | os.PathLike) -> Path:
    """The lock file of output ``out``: ``.NAME.lock`` in the same directory."""
    out = Path(out)
    return out.with_name(f".{out.name}.lock")


@contextlib.contextmanager
def exclusive(out: str | os.PathLike, who: str = "run"):
    """Hold the one-writer lock of ``out`` for the duration of the block.

    Parameters
    ----------
    out : path
        The final output path (a file or a directory).
    who : str
        What writes it, for the message (``"extraction"``, ``"probe run"``).

    Raises
    ------
    XaiprobeError
        When another writer holds it, naming that writer: ``"OUT: another extraction (pid 123) is
        writing this output ..."``.
    """
    out = Path(out)
    path = lock_path(out)
    for _attempt in range(8):
        if fcntl is None:
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                raise _busy(out, path, who) from None
            break
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise _busy(out, path, who) from None
        try:  # the holder before us may have removed the file between our open and our lock
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    else:  # pragma: no cover - a lock file replaced eight times in a row
        raise _busy(out, path, who)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {who}\n".encode())
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)


def _busy(out: Path, path: Path, who: str) -> XaiprobeError:
    holder = who
    with contextlib.suppress(OSError, ValueError):
        pid, _, text = path.read_text().strip().partition(" ")
        holder = f"{text or who} (pid {int(pid)})"
    return XaiprobeError(f"{out}: another {holder} is writing this output (lock {path.name} is held); wait for it "
                         "to finish or choose another output")


@contextlib.contextmanager
def staged_dir(out: str | os.PathLike):
    """Yield a fresh temporary directory beside ``out``; on success move everything in it into
    ``out`` (created if needed; files of the same name are replaced, others kept), else delete it.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent))
    try:
        yield tmp
        out.mkdir(parents=True, exist_ok=True)
        for src in sorted(tmp.rglob("*")):
            if src.is_dir():
                continue
            dst = out / src.relative_to(tmp)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
