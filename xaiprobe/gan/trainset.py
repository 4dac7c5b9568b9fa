"""Which images a GAN trains on, and what a checkpoint records about them.

The training rows are a split's rows, less the images carrying an excluded attribute value
(``exclude``), cut to the first ``max_images``. Their ``index`` values are the GAN's members.
The data record (``checkpoint["data"]``) names the spec, split, max_images, exclusions, the
attribute names and, for rendered data sets (SynthFaces), the renderer version; a resumed run
must match it.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from .._utils.errors import XaiprobeError
from ..data.base import ImageSet
from .arch import arch_kind, with_article as _a

logger = logging.getLogger(__name__)


def parse_exclude(exclude, attribute_names, spec: str = "") -> list[str]:
    """Canonical exclusions ``["Eyeglasses=1", "Male=0", ...]``.

    ``exclude`` is a comma-separated string or a list of items ``ATTR`` (the same as
    ``ATTR=1``: drop the images that have it) or ``ATTR=0`` / ``ATTR=1`` (drop the images
    whose label equals the value: ``Male=1`` drops male faces, keeping only female ones).
    """
    if exclude is None:
        return []
    items = exclude.split(",") if isinstance(exclude, str) else list(exclude)
    out: list[str] = []
    for item in items:
        item = str(item).strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip() if sep else "1"
        if value not in ("0", "1"):
            raise XaiprobeError(f"--exclude {item}: the value must be 0 or 1 (ATTR or ATTR=1 drops the images "
                                f"with the attribute, ATTR=0 those without it)")
        if name not in attribute_names:
            have = ", ".join(map(str, attribute_names)) or "none"
            raise XaiprobeError(f"--exclude {name}: data set {spec} has no attribute {name!r}; its attributes are {have}")
        canon = f"{name}={value}"
        if canon not in out:
            out.append(canon)
    return out


def training_rows(data: ImageSet, split="train", max_images: int | None = None, exclude=None
                  ) -> tuple[np.ndarray, dict]:
    """(rows to train on, the data record for the checkpoint)."""
    rows = data.rows_of(split)
    excluded = parse_exclude(exclude, list(data.attribute_names), data.spec)
    if excluded:
        drop = np.zeros(rows.size, dtype=bool)
        for item in excluded:
            name, value = item.split("=")
            drop |= data.labels[rows, data.attribute_names.index(name)] == int(value)
        rows = rows[~drop]
    if max_images is not None:
        if int(max_images) < 1:
            raise XaiprobeError(f"max_images {max_images}: must be >= 1")
        rows = rows[: int(max_images)]
    if rows.size == 0:
        why = f" after --exclude {','.join(excluded)}" if excluded else ""
        raise XaiprobeError(f"data set {data.spec}: split {split!r} has no images to train on{why}; "
                            "choose another --split, fewer exclusions or a larger data set")
    info = {"spec": data.spec, "split": split, "max_images": None if max_images is None else int(max_images),
            "exclude": excluded, "attributes": [str(a) for a in data.attribute_names]}
    version = (data.info or {}).get("render_version")
    if version is not None:
        info["render_version"] = version
    return rows, info


def check_data(raw: dict, what: str, data_info: dict) -> None:
    """Refuse a checkpoint trained on data with another attribute count or renderer version."""
    old = raw.get("data") or {}
    n_old = len(old["attributes"]) if "attributes" in old else (raw.get("arch") or {}).get("n_attributes")
    n_new = len(data_info["attributes"])
    if n_old is not None and int(n_old) != n_new:
        raise XaiprobeError(f"{what}: data set {data_info['spec']} has {n_new} attributes but the checkpoint was trained "
                            f"on {n_old}; use the data set it was trained on or choose another --out")
    v_old, v_new = old.get("render_version"), data_info.get("render_version")
    if v_old is not None and v_new is not None and v_old != v_new:
        raise XaiprobeError(f"{what}: data set {data_info['spec']} is render version {v_new} but the checkpoint was "
                            f"trained on version {v_old} (the renderer changed); start a new run with another --out")
    if v_old is None and v_new is not None:
        logger.warning("%s: the checkpoint does not record its data's render version; "
                       "cannot tell whether the images changed", what)


def check_kind(raw: dict, path: Path, kind: str) -> None:
    """Refuse to resume a run of one architecture kind as another."""
    old_kind = arch_kind(raw.get("arch") or {})
    if old_kind != kind:
        raise XaiprobeError(f"resume {path}: the checkpoint is {_a(old_kind)} run, not {_a(kind)} run; "
                            f"resume with --arch {old_kind} or choose another --out")


def check_resume(raw: dict, path: Path, arch: dict, data_info: dict, members: np.ndarray) -> None:
    """Refuse to resume ``raw`` with another architecture, data set or training images."""
    check_kind(raw, path, arch_kind(arch))
    check_data(raw, f"resume {path}", data_info)
    if raw.get("arch") != arch:
        diff = sorted(k for k in set(arch) | set(raw.get("arch", {})) if arch.get(k) != raw.get("arch", {}).get(k))
        raise XaiprobeError(f"resume {path}: the architecture differs from the checkpoint's ({', '.join(diff)}); "
                            "resume with the same widths and latent size or choose another --out")
    old = raw.get("data", {})
    for key in ("spec", "split", "max_images", "exclude"):
        if old.get(key, [] if key == "exclude" else None) != data_info.get(key):
            flag = {"spec": "--data", "split": "--split", "max_images": "--max-images", "exclude": "--exclude"}[key]
            raise XaiprobeError(f"resume {path}: data {key} {data_info.get(key)!r} differs from the checkpoint's "
                                f"{old.get(key)!r}; resume with the same {flag} or choose another --out")
    old_members = raw.get("members")
    old_members = np.asarray(old_members.numpy() if torch.is_tensor(old_members) else old_members, dtype=np.int64)
    if not np.array_equal(old_members, members):
        raise XaiprobeError(f"resume {path}: the training images differ from the checkpoint's members "
                            "(the data set changed); choose another --out")
