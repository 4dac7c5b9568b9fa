"""Choosing the images of an attack: members (the GAN's recorded training images) and
disjoint non-members of the same distribution, balanced in number."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._utils.errors import XaiprobeError
from ..data.base import SPLIT_NAMES, ImageSet

logger = logging.getLogger(__name__)

MEMBERS_HINT = ("pass the training images' data-set indices: --members FILE.npy (CLI) or "
                "members=array (Python), an int array of the `index` values the GAN was trained on")


@dataclass
class SampleSplit:
    """Rows of a data set chosen for an attack.

    Attributes
    ----------
    member_rows, nonmember_rows : ndarray of int64, shape (n,), (k,)
        Row numbers in the data set (sorted).
    member_index, nonmember_index : ndarray of int64
        The data-set ``index`` values of those rows.
    info : dict
        Counts available and used, and where the non-members come from.
    """

    member_rows: np.ndarray
    nonmember_rows: np.ndarray
    member_index: np.ndarray
    nonmember_index: np.ndarray
    info: dict = field(default_factory=dict)


def index_space(spec: str) -> str:
    """A key naming the space of data-set ``index`` values of ``spec``.

    Two data sets with the same key give the same image for the same index: every
    ``synthfaces[:N[:SEED]]`` with the same seed (SynthFaces renders image i from
    (seed, i)); otherwise the spec string itself.
    """
    s = str(spec or "").strip()
    head, _, rest = s.partition(":")
    if head.lower() == "synthfaces":
        parts = [p for p in rest.split(":") if p != ""] if rest else []
        seed = parts[1] if len(parts) > 1 else "0"
        return f"synthfaces:seed={int(seed) if seed.lstrip('-').isdigit() else seed}"
    return s


def load_index_file(path: str | os.PathLike, what: str = "members") -> np.ndarray:
    """Data-set indices from a .npy file (or a text file with one integer per line)."""
    p = Path(path)
    if not p.is_file():
        raise XaiprobeError(f"{what} file {p}: no such file; pass a .npy array of data-set indices")
    try:
        if p.suffix == ".npy":
            arr = np.load(p, allow_pickle=False)
        else:
            arr = np.loadtxt(p, dtype=np.int64, ndmin=1)
    except (ValueError, OSError) as exc:
        raise XaiprobeError(f"{what} file {p}: cannot be read ({str(exc).splitlines()[0][:120]}); "
                            "save it with numpy.save(path, int_array)") from None
    arr = np.asarray(arr)
    if arr.ndim != 1 or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        if arr.ndim == 1 and np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise XaiprobeError(f"{what} file {p}: expected a 1-D integer array of data-set indices, "
                                f"got dtype {arr.dtype} shape {arr.shape}")
    return arr.astype(np.int64)


def _rows_for(data: ImageSet, wanted: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.isin(data.index, wanted)).astype(np.int64)


def select_samples(data: ImageSet, members, nonmembers=None, exclude=None, n_max: int | None = None,
                   seed: int = 0, balance: bool = True) -> SampleSplit:
    """Members and non-members of ``data`` for an attack.

    Parameters
    ----------
    data : ImageSet
        The data set the GAN was trained on (or a larger one in the same index space).
    members : array-like of int, shape (m,)
        Data-set ``index`` values of the training images.
    nonmembers : array-like of int, optional
        Data-set indices of non-members; default every row of ``data`` whose index is not a
        member (held-out splits, unused training rows, fresh SynthFaces indices).
    exclude : array-like of int, optional
        Indices kept out of the non-members (e.g. a reference model's training images).
    n_max : int, optional
        At most this many of each class.
    seed : int
        Seeds the subsampling.
    balance : bool
        Subsample the larger class to the size of the smaller.

    Returns
    -------
    SampleSplit
    """
    members = np.unique(np.asarray([] if members is None else members, dtype=np.int64).reshape(-1))
    if members.size == 0:
        raise XaiprobeError(f"members: the checkpoint records no training images; {MEMBERS_HINT}")
    m_rows = _rows_for(data, members)
    if m_rows.size == 0:
        raise XaiprobeError(f"members: none of the {members.size} member indices is in data set {data.spec} "
                            f"(its indices run {int(data.index.min()) if len(data) else 0}.."
                            f"{int(data.index.max()) if len(data) else 0}); pass the data set the GAN was "
                            "trained on with --data")
    missing = members.size - np.unique(data.index[m_rows]).size
    info = {"data": data.spec, "n_members_recorded": int(members.size)}
    if missing:
        logger.warning("members: %d of %d member indices are not in data set %s; attacking the %d found",
                       missing, members.size, data.spec, members.size - missing)
        info["n_members_missing"] = int(missing)

    if nonmembers is not None:
        nonmembers = np.unique(np.asarray(nonmembers, dtype=np.int64).reshape(-1))
        overlap = np.intersect1d(members, nonmembers)
        if overlap.size:
            raise XaiprobeError(f"non-members: {overlap.size} of them are also members (e.g. index "
                                f"{int(overlap[0])}); members and non-members must be disjoint images")
        n_rows = _rows_for(data, nonmembers)
        if n_rows.size < nonmembers.size:
            raise XaiprobeError(f"non-members: {nonmembers.size - np.unique(data.index[n_rows]).size} of the "
                                f"{nonmembers.size} indices are not in data set {data.spec}; pass indices of that data set")
        info["nonmembers_from"] = "given"
    else:
        pool = ~np.isin(data.index, members)
        if exclude is not None and np.size(exclude):
            ex = np.isin(data.index, np.asarray(exclude, dtype=np.int64))
            info["n_excluded"] = int((pool & ex).sum())
            pool &= ~ex
        n_rows = np.flatnonzero(pool).astype(np.int64)
        if n_rows.size == 0:
            raise XaiprobeError(f"non-members: every image of data set {data.spec} is a member (or excluded); "
                                "pass a larger data set of the same distribution with --data "
                                "(e.g. synthfaces:16000 for fresh SynthFaces) or --nonmembers FILE.npy")
        info["nonmembers_from"] = {SPLIT_NAMES.get(int(k), str(k)): int(v)
                                   for k, v in zip(*np.unique(data.split[n_rows], return_counts=True))}
    # an image present twice in the data set under both labels would make the classes overlap
    shared = np.intersect1d(data.index[m_rows], data.index[n_rows])
    if shared.size:
        raise XaiprobeError(f"non-members: {shared.size} images are also members (e.g. index {int(shared[0])}); "
                            "members and non-members must be disjoint images")
    info.update(n_members_available=int(m_rows.size), n_nonmembers_available=int(n_rows.size))

    rng = np.random.default_rng(seed)
    n_m, n_n = m_rows.size, n_rows.size
    if balance:
        n_m = n_n = min(n_m, n_n)
    if n_max is not None:
        if int(n_max) < 2:
            raise XaiprobeError(f"n_max {n_max}: must be at least 2 (per class)")
        n_m, n_n = min(n_m, int(n_max)), min(n_n, int(n_max))
    if n_m < m_rows.size:
        m_rows = np.sort(rng.choice(m_rows, n_m, replace=False))
    if n_n < n_rows.size:
        n_rows = np.sort(rng.choice(n_rows, n_n, replace=False))
    info.update(n_members=int(m_rows.size), n_nonmembers=int(n_rows.size))
    return SampleSplit(m_rows, n_rows, data.index[m_rows], data.index[n_rows], info)
