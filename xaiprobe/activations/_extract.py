"""Extract discriminator activations to an HDF5 file, streaming, resumable, shardable.

One forward pass per batch records every requested layer. Activations are pooled and cast
on the compute side; a background thread writes each batch to HDF5 while the next batch
computes (a bounded queue, so memory does not grow with N). The file is written as
``OUT.partial``; the root attribute ``rows_done`` is updated after each flushed batch, so an
interrupted run continues with ``resume=True``; only at the end is it marked
``complete=True`` and renamed to ``OUT``.
"""
from __future__ import annotations

import hashlib
import logging
import os
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import torch

from .._utils.coerce import evaluating
from .._utils.device import resolve_device
from .._utils.errors import XaiprobeError
from .._utils.io import ensure_writable_dir
from .._utils.outputs import exclusive
from ..data.base import to_float_images
from .hooks import ActivationRecorder, check_pooling, pool_activation, records, resolve_layer, resolve_layers
from .plugin import as_loaded
from ._store import FORMAT, VERSION
from ._writer import ChunkWriter, create_activation_file, is_disk_full, open_for_resume, verify_complete

log = logging.getLogger(__name__)

DTYPES = {"float16": torch.float16, "float32": torch.float32}
COMPRESSIONS = (None, "gzip", "lzf")
#: attributes that must agree for ``resume`` to continue a partial file
IDENTITY_ATTRS = ("checkpoint_sha256", "layers", "data", "pooling", "dtype", "compression", "source",
                  "logit_layer", "random_init", "shard_index", "shard_count", "n_rows", "arch")


def partial_path(out: str | os.PathLike) -> Path:
    """Where an unfinished extraction to ``out`` is written: ``OUT.partial``."""
    out = Path(out)
    return out.with_name(out.name + ".partial")


def select_block(total: int, shard) -> tuple[int, int]:
    """Rows [start, stop) of contiguous block ``i`` of ``n`` (all rows without a shard)."""
    if shard is None:
        return 0, total
    i, n = shard
    return (i * total) // n, ((i + 1) * total) // n


def check_image_shape(expected, actual, what: str) -> None:
    if expected is not None and tuple(expected) != tuple(actual):
        raise XaiprobeError(f"{what}: images are {tuple(actual)} (C, H, W) but the model expects {tuple(expected)}; "
                            "use data of the model's image size or a model built for this size")


class DataSource:
    """Rows of an ImageSet, with their index, split, member flag and labels."""

    kind = "data"
    nz = None

    def __init__(self, data, rows: np.ndarray, members, device):
        self.data, self.all_rows, self.device = data, np.asarray(rows, dtype=np.int64), device
        self.members = None if members is None else np.unique(np.asarray(members, dtype=np.int64))
        self.n = int(self.all_rows.size)
        self.rows = self.all_rows
        self.image_shape = tuple(data.image_shape)
        self.n_attributes = len(data.attribute_names)
        self.attribute_names = [str(a) for a in data.attribute_names]
        self.concept_type = data.concept_type

    def set_block(self, start: int, stop: int) -> None:
        self.rows = self.all_rows[start:stop]

    def describe(self) -> str:
        return f"data {self.data.spec}"

    def data_json(self, splits) -> dict:
        h = hashlib.sha256(np.ascontiguousarray(self.data.index[self.all_rows]).tobytes()).hexdigest()
        return {"spec": self.data.spec, "splits": _normalize_splits(splits) or "all", "n_rows": self.n,
                "rows_sha256": h, "concept_type": self.concept_type}

    def first_image(self) -> torch.Tensor:
        return self.data.images(self.rows[:1]).to(self.device)

    def batch(self, lo: int, hi: int) -> dict:
        r = self.rows[lo:hi]
        span = int(r.max()) - int(r.min()) + 1 if r.size else 0
        if r.size and span == r.size and np.all(np.diff(r) == 1):
            images = self.data.images(slice(int(r[0]), int(r[-1]) + 1))
        elif r.size and span <= 4 * r.size and np.all(np.diff(r) > 0):
            # a few gaps (e.g. one split of interleaved splits): one block read beats a fancy h5py read
            block = np.asarray(self.data.pixels[int(r[0]):int(r[-1]) + 1])
            images = to_float_images(block[r - int(r[0])])
        else:
            images = self.data.images(r)
        index = self.data.index[r]
        member = (np.isin(index, self.members, assume_unique=False) if self.members is not None
                  else np.zeros(r.size, dtype=bool))
        return {"images": images.to(self.device, non_blocking=True), "index": index, "split": self.data.split[r],
                "member": member, "labels": self.data.labels[r]}


class GeneratedSource:
    """``n`` images of a generator from seeded latents; latent row ``r`` depends only on
    (seed, r), so shards and resumed runs see the same latents as one full run."""

    kind = "generated"
    n_attributes = 0
    attribute_names: list = []
    concept_type = "multilabel"
    BLOCK = 1024

    def __init__(self, G, n: int, seed: int, device):
        if G is None:
            raise XaiprobeError("--generated: needs a generator; pass an xaiprobe --checkpoint (it holds G)")
        if int(n) < 1:
            raise XaiprobeError(f"--generated {n}: must be a positive number of images")
        nz = getattr(getattr(G, "config", None), "nz", None) or getattr(G, "nz", None)
        if nz is None:
            raise XaiprobeError("--generated: the generator has no latent size (config.nz or nz); use an xaiprobe checkpoint")
        self.G, self.n, self.seed, self.nz, self.device = G, int(n), int(seed), int(nz), device
        self.offset = 0
        self._block = (None, None)
        with torch.no_grad():
            self.image_shape = tuple(self.G(torch.zeros(1, self.nz, device=device)).shape[1:])

    def set_block(self, start: int, stop: int) -> None:
        self.offset = start

    def describe(self) -> str:
        return "generated images"

    def data_json(self, splits) -> dict:
        return {"spec": "generated", "n": self.n, "seed": self.seed, "nz": self.nz}

    def latents(self, lo: int, hi: int) -> np.ndarray:
        """float32 (hi - lo, nz) latents of global rows [lo, hi)."""
        out = np.empty((hi - lo, self.nz), dtype=np.float32)
        for b in range(lo // self.BLOCK, (hi - 1) // self.BLOCK + 1):
            if self._block[0] != b:
                self._block = (b, np.random.default_rng([self.seed, b]).standard_normal((self.BLOCK, self.nz), dtype=np.float32))
            b_lo, b_hi = max(lo, b * self.BLOCK), min(hi, (b + 1) * self.BLOCK)
            out[b_lo - lo:b_hi - lo] = self._block[1][b_lo - b * self.BLOCK:b_hi - b * self.BLOCK]
        return out

    def first_image(self) -> torch.Tensor:
        return self.batch(0, 1)["images"]

    def batch(self, lo: int, hi: int) -> dict:
        g_lo, g_hi = self.offset + lo, self.offset + hi
        z = self.latents(g_lo, g_hi)
        with torch.no_grad():
            images = self.G(torch.from_numpy(z).to(self.device))
        n = hi - lo
        return {"images": images, "index": np.arange(g_lo, g_hi, dtype=np.int64), "split": np.full(n, 2, np.uint8),
                "member": np.zeros(n, dtype=bool), "labels": np.zeros((n, 0), dtype=np.int8), "latents": z}


def _iter_batches(source, start: int, stop: int, batch_size: int):
    """Yield ``(lo, hi, batch)`` for local rows ``[start, stop)`` in steps of ``batch_size``."""
    for lo in range(start, stop, batch_size):
        hi = min(stop, lo + batch_size)
        yield lo, hi, source.batch(lo, hi)


def _normalize_splits(splits):
    if splits is None or splits == "all":
        return None
    if isinstance(splits, str):
        parts = [s.strip() for s in splits.split(",") if s.strip()]
        return None if "all" in parts else parts
    return list(splits)


def _check_options(pooling, dtype, compression, batch_size, shard):
    pooling = check_pooling(pooling)
    if str(dtype) not in DTYPES:
        raise XaiprobeError(f"dtype {dtype!r}: unknown; use float16 or float32")
    compression = None if compression in (None, "none", "") else compression
    if compression not in COMPRESSIONS:
        raise XaiprobeError(f"compression {compression!r}: unknown; use gzip, lzf or none")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise XaiprobeError(f"batch size {batch_size!r}: must be a positive integer")
    if shard is not None:
        if isinstance(shard, str):
            shard = parse_shard(shard)
        i, n = (int(shard[0]), int(shard[1]))
        if n < 1 or not 0 <= i < n:
            raise XaiprobeError(f"shard {i}/{n}: need 0 <= i < n (e.g. --shard 0/4 ... 3/4)")
        shard = (i, n)
    return pooling, str(dtype), compression, int(batch_size), shard


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` -> (i, n)."""
    try:
        i, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise XaiprobeError(f"--shard {text!r}: expected i/n with integers, e.g. 0/4") from None
    if n < 1 or not 0 <= i < n:
        raise XaiprobeError(f"--shard {text!r}: need 0 <= i < n (shards are numbered 0/4 ... 3/4)")
    return i, n


def _probe_shapes(D, layer_list, logit, x1, pooling):
    """Run one image; return (full shapes, pooled shapes) per layer and check the logit shape."""
    with torch.no_grad(), ActivationRecorder(D, layer_list, pooling=None) as rec:
        try:
            out = D(x1)
        except RuntimeError as exc:
            first = (str(exc).strip().splitlines() or ["error"])[0]
            raise XaiprobeError(f"model: a forward pass on images of shape {tuple(x1.shape[1:])} failed ({first[:160]}); "
                                "check that the data's image size matches the model") from None
        cache = dict(rec.cache)
    missing = [name for name, _, _ in layer_list if name not in cache]
    if missing:
        raise XaiprobeError(f"layer {missing[0]}: not run by the model's forward pass (no tensor output); pick another layer")
    full = {name: tuple(cache[name].shape[1:]) for name, _, _ in layer_list}
    pooled = {name: tuple(pool_activation(cache[name], pooling).shape[1:]) for name, _, _ in layer_list}
    if logit is not None:
        with torch.no_grad(), ActivationRecorder(D, [logit[1]]) as rec:
            D(x1)
        out = next(iter(rec.cache.values()), None)
        what = f"--logit-layer {logit[0]}"
    else:
        what = "the model's output"
    if not torch.is_tensor(out) or out.numel() != x1.shape[0]:
        shape = tuple(out.shape) if torch.is_tensor(out) else type(out).__name__
        raise XaiprobeError(f"model: {what} has shape {shape} for one image, not one logit per image; "
                            "check the image size or name the logit layer with --logit-layer")
    return full, pooled


def extract_activations(model_or_checkpoint, data=None, out="activations.h5", layers=None, pooling="none",
                        dtype="float16", compression=None, batch_size=256, device=None, splits=None,
                        generated: int | None = None, generator=None, resume=False, overwrite=False,
                        shard=None, logit_layer=None, members=None, command="", seed=0,
                        progress=True) -> Path:
    """Run the discriminator over images and write the requested layers to an HDF5 file.

    Parameters
    ----------
    model_or_checkpoint : nn.Module, checkpoint path, Checkpoint or LoadedModel
        The discriminator (with its generator, members and data spec for a checkpoint).
    data : ImageSet or str, optional
        Images (uint8 (N, 3, H, W) store); a data spec string is loaded with ``load_dataset``.
        Defaults to the checkpoint's data spec. Not used with ``generated``.
    out : path
        The output file; written as ``OUT.partial`` and renamed when complete.
    layers : None, "all", str, list or callable
        Aliases (``conv3``), module paths (``main.7``), modules, or a filter; None/"all": every alias.
    pooling : {"none", "mean", "max", "avgK"}
    dtype : {"float16", "float32"}
    compression : {None, "gzip", "lzf"}
    batch_size : int
        Rows per forward pass, per HDF5 write and per resume step.
    splits : None, "all", "train,val" or list
    generated : int, optional
        Extract on ``N`` images of the generator instead; latents (seeded) stored in /latents.
    resume, overwrite : bool
    shard : (i, n) or "i/n", optional
        Write only contiguous block ``i`` of ``n`` of the selected rows (join with ``merge_shards``).
    logit_layer : str, optional
        Layer whose output is the logit (for models ending in a sigmoid).
    members : array of int64, optional
        Dataset ``index`` values of the training set; defaults to the checkpoint's.
    command : str
        Recorded in the file's provenance.
    seed : int
        Seeds the latents of ``generated``.

    Returns
    -------
    Path of the completed file.

    Notes
    -----
    D runs in eval mode (batch-norm running statistics); its mode is restored afterwards.
    Generated-image files hold labels of shape (N, 0), split 2 (test), member False, and
    ``index`` = latent row. Raises XaiprobeError (one line) for bad input; a disk that fills
    up mid-write leaves ``OUT.partial`` (incomplete, resumable) and never ``OUT``.
    """
    from .. import __version__

    pooling, dtype, compression, batch_size, shard = _check_options(pooling, dtype, compression, batch_size, shard)
    dev = resolve_device(device)
    lm = as_loaded(model_or_checkpoint, logit_layer, members, device=dev)
    D = lm.discriminator
    # the caller's modules are used as they are; their mode and device are restored afterwards
    with evaluating(D, dev), ExitStack() as models:
        layer_list = resolve_layers(D, layers)
        if not layer_list:
            raise XaiprobeError("layers: none requested; pass --layers NAME,... or --layers all")
        logit = resolve_layer(D, lm.logit_layer) if lm.logit_layer else None

        if generated is not None:
            if data is not None:
                raise XaiprobeError("--generated: extracts on generated images only; do not pass --data with it")
            G = generator if generator is not None else lm.generator
            if G is not None:
                models.enter_context(evaluating(G, dev))
            source = GeneratedSource(G, int(generated), seed, dev)
        else:
            if data is None:
                if not lm.data_spec:
                    raise XaiprobeError("data: none given and the model records no data spec; pass --data SPEC")
                data = lm.data_spec
            if isinstance(data, (str, os.PathLike)):
                from ..data import load_dataset
                data = load_dataset(str(data))
            source = DataSource(data, data.rows_of(_normalize_splits(splits)), lm.members, dev)
        total = source.n
        if total == 0:
            raise XaiprobeError(f"data: no rows in split(s) {splits!r}; choose another --split")
        row_start, row_stop = select_block(total, shard)
        if row_stop <= row_start:
            raise XaiprobeError(f"--shard {shard[0]}/{shard[1]}: no rows ({total} rows in all); use fewer shards")
        source.set_block(row_start, row_stop)
        n = row_stop - row_start

        check_image_shape(lm.image_shape, source.image_shape, source.describe())
        full, pooled = _probe_shapes(D, layer_list, logit, source.first_image(), pooling)

        out = Path(out)
        part = partial_path(out)
        ensure_writable_dir(out.parent if str(out.parent) else ".")
        if out.is_dir():
            raise XaiprobeError(f"--out {out}: is a directory; pass a file name such as {out / 'activations.h5'}")
        attrs = {
            "format": FORMAT, "version": VERSION, "xaiprobe_version": __version__,
            "created": _now(), "checkpoint_sha256": lm.sha256, "arch": lm.arch, "data": source.data_json(splits),
            "command": command or "", "complete": False, "rows_done": 0, "n_rows": n, "total_rows": total,
            "layers": [[a, p] for a, p, _ in layer_list], "pooling": pooling, "dtype": dtype,
            "compression": compression or "none", "source": source.kind, "logit_layer": lm.logit_layer or "",
            "random_init": bool(lm.random_init), "seed": int(seed),
            "shard_index": shard[0] if shard else 0, "shard_count": shard[1] if shard else 1,
            "row_start": row_start, "row_stop": row_stop,
        }
        attrs["logit_layer"] = attrs["logit_layer"] or None
        with exclusive(out, "extraction"):  # one writer per output: nothing below may race another run
            _write(out, part, attrs, resume, overwrite, D, source, layer_list, logit, pooled, full, pooling, dtype,
                   compression, batch_size, n, progress)
    log.info("wrote %s (%d rows, layers %s)", out, n, ", ".join(a for a, _, _ in layer_list))
    return out


def _write(out, part, attrs, resume, overwrite, D, source, layer_list, logit, pooled, full, pooling, dtype,
           compression, batch_size, n, progress) -> None:
    """Under the output's lock: check what exists, write OUT.partial, verify it, rename it to OUT."""
    if out.exists() and not overwrite and resume:
        raise XaiprobeError(f"--out {out}: already exists and is complete; nothing to resume (pass --overwrite "
                            "to extract again)")
    if out.exists() and not overwrite:
        raise XaiprobeError(f"--out {out}: already exists; pass --overwrite to replace it or choose another name")
    if part.exists() and not (resume or overwrite):
        raise XaiprobeError(f"--out {out}: an interrupted extraction left {part.name}; rerun with --resume to "
                            "continue it or --overwrite to start over")
    f = None
    if resume and part.exists() and not overwrite:
        f = open_for_resume(part, attrs, IDENTITY_ATTRS)
        log.info("resuming %s at row %d of %d", part, int(f.attrs.get("rows_done", 0)), n)
    else:
        if resume:
            log.info("--resume: no %s to continue; starting a new extraction", part.name)
        if part.exists():
            part.unlink()
        layer_specs = [(a, p, pooled[a], full[a], pooling, records(D, p)) for a, p, _ in layer_list]
        try:
            f = create_activation_file(part, attrs, n, layer_specs, dtype, compression, batch_size,
                                       source.n_attributes, source.attribute_names, source.concept_type,
                                       source.nz)
        except OSError as exc:
            if is_disk_full(exc):
                raise XaiprobeError(f"--out {out}: disk full while creating the file; free space and rerun") from None
            raise
    _run(f, D, source, layer_list, logit, pooling, DTYPES[dtype], batch_size, n, part, out, progress)
    verify_complete(part, n, out)
    os.replace(part, out)


def _now() -> str:
    import datetime

    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _run(f, D, source, layer_list, logit, pooling, tdtype, batch_size, n, part, out, progress) -> None:
    """The streaming loop: compute a batch while the previous one is written."""
    from tqdm.auto import tqdm

    start = int(f.attrs.get("rows_done", 0))
    writer = None
    try:
        writer = ChunkWriter(f)
        with ExitStack() as stack:
            stack.enter_context(torch.no_grad())
            rec = stack.enter_context(ActivationRecorder(D, layer_list, pooling=pooling, dtype=tdtype))
            lrec = stack.enter_context(ActivationRecorder(D, [logit[1]], dtype=torch.float32)) if logit else None
            bar = stack.enter_context(tqdm(total=n, initial=start, unit="img", disable=None if progress else True,
                                           desc=f"extract {out.name}"))
            check_overflow = tdtype == torch.float16
            for lo, hi, batch in _iter_batches(source, start, n, batch_size):
                rec.cache.clear()
                y = D(batch["images"])
                if check_overflow:  # first batch only: a full pass over every batch costs ~10% throughput
                    check_overflow = False
                    big = [a for a, _, _ in layer_list if torch.isinf(rec.cache[a]).any()]
                    if big:
                        log.warning("layer(s) %s have values beyond the float16 range (|x| > 65504), stored as inf; "
                                    "extract with --dtype float32", ", ".join(big))
                if lrec is not None:
                    y = next(iter(lrec.cache.values()))
                arrays = {f"layers/{a}/activations": rec.cache[a].cpu().numpy() for a, _, _ in layer_list}
                arrays["logits"] = y.detach().reshape(hi - lo, -1)[:, 0].float().cpu().numpy()
                for k in ("index", "split", "member", "labels", "latents"):
                    if batch.get(k) is not None:
                        arrays[k] = batch[k]
                writer.put(lo, hi, arrays)
                bar.update(hi - lo)
        writer.close()
        f.attrs["rows_done"] = n
        f.attrs["complete"] = True
        f.flush()
    except BaseException as exc:
        if writer is not None:
            try:
                writer.close()
            except BaseException:
                pass
        done = writer.rows_done if writer is not None else start
        if is_disk_full(exc):
            _close_quietly(f)
            raise XaiprobeError(f"--out {out}: disk full after {done} of {n} rows; the unfinished file {part.name} "
                                "is kept (marked incomplete); free space and rerun with --resume") from None
        _close_quietly(f)
        if isinstance(exc, (KeyboardInterrupt, Exception)):
            log.warning("extraction stopped after %d of %d rows; %s kept; rerun with --resume", done, n, part)
        raise
    f.close()


def _close_quietly(f) -> None:
    try:
        f.close()
    except Exception:  # a failing close must not hide the original error
        pass
