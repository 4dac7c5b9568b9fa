"""Controls shown beside every probe result.

* ``random_init`` — the same probe on a randomly initialized discriminator of the same
  architecture, over the same images and pooling (what the architecture alone gives);
* ``pixels`` — the same probe on downsampled raw pixels (8×8 average pooling, 192 features:
  what the image gives without any network);
* ``shuffled`` — the same probe trained and tested on labels permuted within each split
  (a control task after Hewitt & Liang 2019; selectivity = task AUC − control AUC).

Every control that cannot be computed is skipped with a warning saying how to enable it.
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np

from .._utils.errors import XaiprobeError

log = logging.getLogger(__name__)

SOURCES = ("trained", "random_init", "pixels", "shuffled")
PIXEL_SIZE = 8


def shuffle_within_splits(labels: np.ndarray, split: np.ndarray, seed: int = 0) -> np.ndarray:
    """``labels`` (n, A) with the rows permuted inside each split (class counts kept per split).

    One permutation per split is shared by all attributes, so their co-occurrence is kept
    while every link to the images is broken.
    """
    labels = np.asarray(labels)
    out = labels.copy()
    rng = np.random.default_rng(seed)
    for s in np.unique(split):
        rows = np.flatnonzero(split == s)
        out[rows] = labels[rng.permutation(rows)]
    return out


def _data_of(store, data=None):
    """(ImageSet, rows in it matching the store's rows) or (None, reason)."""
    attrs = store.attrs
    info = attrs.get("data") or {}
    if attrs.get("source") == "generated" or info.get("spec") == "generated":
        return None, "the activations are of generated images (no data set to re-read)"
    if data is None:
        spec = info.get("spec")
        if not spec:
            return None, "the activations file records no data spec; pass data=ImageSet (or --data SPEC)"
        from ..data import load_dataset

        try:
            data = load_dataset(spec)
        except XaiprobeError as exc:
            return None, f"its data spec {spec!r} cannot be loaded ({exc}); pass --data SPEC"
    elif isinstance(data, str):
        from ..data import load_dataset

        data = load_dataset(data)
    order = np.argsort(data.index, kind="stable")
    idx_sorted = data.index[order]
    pos = np.searchsorted(idx_sorted, store.index)
    pos = np.clip(pos, 0, max(len(idx_sorted) - 1, 0))
    if len(idx_sorted) == 0 or not np.array_equal(idx_sorted[pos], store.index):
        return None, f"data set {data.spec} does not hold every row of the activations file; pass the data used for extraction"
    rows = order[pos]
    labels = store.labels
    if labels.shape[1] and labels.shape == data.labels[rows].shape and not np.array_equal(data.labels[rows], labels):
        return None, f"data set {data.spec} has other labels than the activations file; pass the data used for extraction"
    return (data, rows), ""


def pixel_features(data, rows: np.ndarray, size: int = PIXEL_SIZE, batch_size: int = 512) -> np.ndarray:
    """Average-pooled raw pixels, float32 (n, C·size·size), of ``data`` rows (in [-1, 1])."""
    import torch

    out = []
    for s in range(0, len(rows), batch_size):
        x = data.images(rows[s:s + batch_size])
        out.append(torch.nn.functional.adaptive_avg_pool2d(x, size).reshape(len(x), -1).numpy())
    return np.concatenate(out) if out else np.empty((0, 3 * size * size), np.float32)


def pixel_control(store, data=None, size: int = PIXEL_SIZE):
    """Pixel features (n, D) aligned with the store's rows, or None with a warning."""
    found, why = _data_of(store, data)
    if found is None:
        warnings.warn(f"pixels control skipped: {why}", stacklevel=2)
        return None
    data, rows = found
    return pixel_features(data, rows, size)


def _random_model(arch: dict, seed: int):
    name = (arch or {}).get("name", "dcgan")
    if (name == "dcgan" and "ndf" in (arch or {})) or name == "aeacgan":
        from ..gan.arch import build_models

        return build_models(arch, seed=seed)["discriminator"]
    if name == "plugin" and arch.get("model"):
        from ..activations import load_discriminator

        return load_discriminator(model=arch["model"], random_init=True, seed=seed).discriminator
    return None


def random_init_store(store, out_dir, data=None, seed: int = 0, batch_size: int = 256, progress: bool = False):
    """Path of the activations of a seeded random-init discriminator of the store's architecture
    over the same images, layers and pooling (extracted once into OUT_DIR/controls/ and reused);
    None with a warning when it cannot be computed."""
    from ..activations import ActivationStore, extract_activations

    how = ("probe an activations file written by `xaiprobe extract --checkpoint C` from a data spec "
           "(it records the architecture and data), or pass controls=False / --controls none")
    if store.attrs.get("random_init"):
        warnings.warn("random_init control skipped: the activations are already of a random-init discriminator",
                      stacklevel=2)
        return None
    D = _random_model(store.attrs.get("arch") or {}, seed)
    if D is None:
        warnings.warn(f"random_init control skipped: the file's architecture {store.attrs.get('arch')} cannot be "
                      f"rebuilt; {how}", stacklevel=2)
        return None
    found, why = _data_of(store, data)
    if found is None:
        warnings.warn(f"random_init control skipped: {why}; {how}", stacklevel=2)
        return None
    data, rows = found
    layers = {}
    for layer in store.layers:
        la = store.layer_attrs(layer)
        layers.setdefault(la.get("pooling") or store.attrs.get("pooling") or "none", []).append(
            la.get("module_path") or layer)
    out_dir = Path(out_dir) / "controls"
    out_dir.mkdir(parents=True, exist_ok=True)
    subset = data.subset(rows)
    paths = []
    for pooling, paths_ in layers.items():
        out = out_dir / f"random_init_seed{seed}_{pooling}.h5"
        if out.exists():
            try:
                with ActivationStore(out) as old:
                    if len(old) == len(store) and np.array_equal(old.index, store.index) and all(p in old for p in paths_):
                        paths.append(out)
                        continue
            except XaiprobeError:
                pass
        log.info("extracting random-init activations (%s pooling) into %s", pooling, out)
        extract_activations(D, subset, out, layers=paths_, pooling=pooling, dtype="float32", batch_size=batch_size,
                            overwrite=True, members=np.zeros(0, np.int64), progress=progress,
                            command=f"xaiprobe probe random_init control (seed {seed})")
        paths.append(out)
    return paths
