"""Feature plumbing of the probes: row chunks from HDF5, standardized feeds, statistics, threads."""
from __future__ import annotations

import contextlib
import os
from typing import Callable, Iterator

import numpy as np
import torch

from sklearn.utils.validation import validate_data

from .._utils.device import resolve_device
from .._utils.errors import XaiprobeError


#: below this many feature values (64 MB of float32) a CPU fit on a busy machine runs on one
#: intra-op thread (see ``n_threads``): every parallel region waits for a descheduled worker
#: (measured 5-50x slower on 2 shared cores)
SMALL_PROBLEM = 1 << 24
#: below this many feature values (4 MB of float32) a CPU fit always runs on one thread: its
#: matmuls are too small for threads to pay for their start-up
TINY_PROBLEM = 1 << 20


@contextlib.contextmanager
def limit_threads(n: int | None):
    """Run the block with ``n`` torch intra-op threads, restoring the previous number after.

    Small matmuls gain nothing from threads, and on a busy machine each parallel region
    waits for a descheduled worker: a fit can become 50x slower. ``None`` changes nothing.
    """
    if n is None or n <= 0 or n == torch.get_num_threads():
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def auto_threads(n_threads: int | None, n_values: int, device=None) -> int | None:
    """``n_threads`` when given, else 1 for CPU problems that threads would not speed up, else None.

    One thread for tiny problems, and for small ones while the machine is busy (see
    :func:`_machine_busy`); otherwise torch's own thread count is left unchanged.
    """
    if n_threads is not None:
        return int(n_threads)
    if device is not None and resolve_device(device).type != "cpu":
        return None
    if n_values < TINY_PROBLEM or (n_values < SMALL_PROBLEM and _machine_busy()):
        return 1
    return None


def _machine_busy() -> bool:
    """True when other work already runs on the cores a multi-threaded fit would use.

    Reads the number of runnable tasks right now (Linux ``/proc/loadavg``, this process
    included): with as many as there are cores, a parallel region would wait for a descheduled
    worker. Elsewhere the 1-minute load average is compared with the core count; with neither,
    the machine counts as busy (one thread, the safe choice).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        with open("/proc/loadavg") as f:
            runnable = int(f.read().split()[3].split("/")[0])
        return runnable >= cores
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.getloadavg()[0] >= cores
    except (AttributeError, OSError):
        return True


class NonFiniteFeatures(XaiprobeError):
    """Features hold NaN or infinite values (``count`` of them)."""

    def __init__(self, message: str, count: int):
        super().__init__(message)
        self.count = int(count)


class ChunkedFeatures:
    """A (n, D) feature matrix read in row chunks, never all in memory.

    Parameters
    ----------
    chunks : callable
        ``chunks() -> iterator of float32 arrays (n_c, D)``, the rows in a fixed order; called
        once per pass over the data.
    shape : tuple (n, D)
    """

    def __init__(self, chunks: Callable[[], Iterator[np.ndarray]], shape: tuple[int, int]):
        self._chunks = chunks
        self.shape = (int(shape[0]), int(shape[1]))

    def __len__(self) -> int:
        return self.shape[0]

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self._chunks())

    @property
    def nbytes(self) -> int:
        return self.shape[0] * self.shape[1] * 4

    def to_numpy(self) -> np.ndarray:
        """All rows as one float32 array (n, D)."""
        parts = [np.asarray(c, dtype=np.float32).reshape(-1, self.shape[1]) for c in self]
        return np.concatenate(parts) if parts else np.empty((0, self.shape[1]), np.float32)

    @classmethod
    def from_array(cls, X, chunk_size: int = 4096) -> "ChunkedFeatures":
        """Chunks of an in-memory or h5py array (rows flattened to D features)."""
        n = len(X)
        d = int(np.prod(X.shape[1:])) if len(X.shape) > 1 else 1

        def chunks():
            for s in range(0, n, chunk_size):
                yield np.asarray(X[s:s + chunk_size], dtype=np.float32).reshape(-1, d)
        return cls(chunks, (n, d))

    @classmethod
    def from_store(cls, store, layer: str, rows=None, chunk_size: int = 4096) -> "ChunkedFeatures":
        """Chunks of one layer of an :class:`~xaiprobe.activations.ActivationStore` over ``rows``."""
        rows = np.arange(len(store[layer]), dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
        d = int(np.prod(store[layer].shape[1:]))

        def chunks():
            for _r, x in store.iter_chunks(layer, rows=rows, chunk_size=chunk_size):
                yield np.asarray(x, dtype=np.float32).reshape(-1, d)
        return cls(chunks, (rows.size, d))


def n_features(X) -> int:
    """Features per row of an array (n, ...) or ChunkedFeatures (rows flattened)."""
    return int(np.prod(X.shape[1:])) if len(X.shape) > 1 else 1


class Feed:
    """Standardized (X, Y, mask) chunks as torch tensors, cached when they fit in memory."""

    def __init__(self, X, Y, mean, scale, device, dtype, max_bytes, chunk_size):
        self.device, self.dtype = device, dtype
        self.mean = torch.as_tensor(mean, dtype=dtype, device=device)
        self.scale = torch.as_tensor(scale, dtype=dtype, device=device)
        Y = np.asarray(Y)
        self.n = len(Y)
        self.Y = torch.as_tensor(np.clip(Y, 0, 1), dtype=dtype, device=device) if Y is not None else None
        self.M = torch.as_tensor(Y >= 0, dtype=dtype, device=device) if Y is not None else None
        d = n_features(X)
        nbytes = self.n * d * torch.finfo(dtype).bits // 8
        self.source = X if isinstance(X, ChunkedFeatures) else None
        self.cached = None
        if self.source is None and nbytes <= max_bytes:
            self.cached = [self._prep(np.asarray(X).reshape(self.n, d))]
        elif self.source is None:
            self.source = ChunkedFeatures.from_array(X, chunk_size)
        elif nbytes <= max_bytes:
            self.cached = [self._prep(self.source.to_numpy())]
        self.streaming = self.cached is None

    def _prep(self, x: np.ndarray) -> torch.Tensor:
        t = torch.as_tensor(np.asarray(x), device=self.device).to(self.dtype)
        return (t - self.mean) / self.scale

    def __iter__(self):
        """Yield (rows slice, standardized X chunk)."""
        if self.cached is not None:
            yield slice(0, self.n), self.cached[0]
            return
        start = 0
        for x in self.source:
            stop = start + len(x)
            yield slice(start, stop), self._prep(x)
            start = stop


def feature_stats(X, chunk_size: int = 4096) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean (D,), standard deviation (D,) (ddof 0, zeros where constant) and the number of
    non-finite values of ``X`` (array or :class:`ChunkedFeatures`), merged chunk by chunk."""
    src = X if isinstance(X, ChunkedFeatures) else ChunkedFeatures.from_array(X, chunk_size)
    d = src.shape[1]
    n, mean, m2, bad = 0, np.zeros(d), np.zeros(d), 0
    for x in src:
        x = np.asarray(x, dtype=np.float64)
        finite = np.isfinite(x)
        if not finite.all():
            bad += int((~finite).sum())
            continue
        k = len(x)
        if k == 0:
            continue
        cm = x.mean(axis=0)
        cm2 = ((x - cm) ** 2).sum(axis=0)
        delta = cm - mean
        tot = n + k
        mean = mean + delta * (k / tot)
        m2 = m2 + cm2 + delta ** 2 * (n * k / tot)
        n = tot
    std = np.sqrt(m2 / max(n, 1))
    return mean, std, bad


def check_finite_array(X, what: str = "features") -> None:
    """Raise :class:`NonFiniteFeatures` (counting them) when ``X`` holds NaN or infinite values."""
    bad = int((~np.isfinite(X)).sum()) if X.size else 0
    if bad:
        raise NonFiniteFeatures(f"{what}: {bad} NaN/infinite values; re-extract the activations (float32) or drop "
                                "that layer", bad)


def check_features(est, X, reset: bool):
    """``X`` validated for ``est``: a float array (n, D) checked by scikit-learn (shape, sparse,
    complex, feature count; an array (n, ...) of more axes is flattened per row first), or a
    :class:`ChunkedFeatures` left as it is. Errors are one-line XaiprobeErrors (still ValueErrors)."""
    if isinstance(X, ChunkedFeatures):
        if reset:
            est.n_features_in_ = X.shape[1]
        elif X.shape[1] != est.n_features_in_:
            raise XaiprobeError(f"X has {X.shape[1]} features, but {type(est).__name__} is expecting "
                                f"{est.n_features_in_} features as input; use features of the same layer and pooling")
        return X
    if getattr(X, "ndim", 2) > 2:
        X = np.asarray(X)
        X = X.reshape(len(X), -1)
    try:
        X = validate_data(est, X, reset=reset, dtype=[np.float64, np.float32], ensure_all_finite=False,
                          ensure_min_samples=1)
    except ValueError as exc:
        text = " ".join(str(exc).split()).rstrip(".")
        if "features as input" in text:
            text += "; use features of the same layer and pooling"
        raise XaiprobeError(text) from None
    return X
