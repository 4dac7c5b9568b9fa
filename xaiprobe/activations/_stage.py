"""The ``extract`` stage: a discriminator's layer activations over a data set, in RUN/activations.h5.

``xaiprobe extract --checkpoint C --layers all --pooling avg2 --out RUN`` writes
``RUN/activations.h5`` (``--shard i/n``: ``RUN/activations.shard-i-of-n.h5``, joined by
``xaiprobe merge``) and the report's *Activations* section: what the file holds, layer by layer.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._layout import activations_path, activations_shard_path
from .._utils.errors import XaiprobeError
from .._utils.numeric import fmt
from ..config import param
from ..report import Section, Table
from ._extract import parse_shard
from .plugin import ModelOptions

NAME = "activations"
TITLE = "Activations"
ORDER = 20
HELP = "run the discriminator over a data set and write layer activations to RUN/activations.h5"

SPLITS = ("train", "val", "test")
LAYER_COLUMNS = ["layer", "module path", "records", "stored shape", "full shape", "pooling", "dtype", "features",
                 "MB on disk"]


@dataclass
class Config(ModelOptions):
    """What to extract: one forward pass per batch records every requested layer; rows stream to
    RUN/activations.h5.partial (memory does not grow with the data set), renamed when complete."""

    stage = "extract"
    data: str | None = param(None, "data spec: synthfaces[:N[:SEED]], digits, celeba:DIR, STORE.h5 or folder:DIR "
                                   "(none: the data recorded in the checkpoint)")
    layers: tuple[str, ...] = param(help="layers to record: aliases (conv3), module paths (main.7), or all "
                                         "(see `xaiprobe layers`)", required=True)
    pooling: str = param("none", "none, mean, max or avgK (adaptive K×K average, e.g. avg2)")
    dtype: str = param("float16", "stored dtype", choices=("float16", "float32"))
    compression: str = param("none", "HDF5 compression", choices=("none", "gzip", "lzf"))
    batch_size: int = param(256, "images per forward pass and per write", low=1)
    split: tuple[str, ...] = param(("all",), "splits to extract", choices=("train", "val", "test", "all"))
    generated: int | None = param(None, "extract on N generator images (seeded latents stored in /latents) instead "
                                        "of data", low=1)
    seed: int = param(0, "seed of the --generated latents and of --random-init", low=0)
    random_init: bool = param(False, "use a freshly initialized D of the same architecture (seeded): the probes' "
                                     "control")
    shard: str | None = param(None, "i/n: write only contiguous block i of n of the rows, to "
                                    "RUN/activations.shard-i-of-n.h5 (join the n files with `xaiprobe merge`)")
    resume: bool = param(False, "continue an interrupted extraction (its .partial file)")
    overwrite: bool = param(False, "replace an existing activations file (or its .partial file)")
    device: str | None = param(None, "cpu, cuda or cuda:N (none: cuda when present)")

    def check(self) -> None:
        from .hooks import check_pooling

        super().check()
        check_pooling(self.pooling)
        if self.shard is not None:
            parse_shard(self.shard)
        if self.generated is not None and self.data is not None:
            raise XaiprobeError("--generated: extracts on generated images only; drop --data")

    def shard_index(self) -> tuple[int, int] | None:
        return parse_shard(self.shard) if self.shard is not None else None


@dataclass
class Result:
    """What an extraction (or a merge) wrote: the file and its description."""

    config: object
    path: Path
    description: dict


def run(config: Config, run_dir) -> Result:
    """Extract the layers named by ``config`` into RUN/activations.h5 (or the shard's file)."""
    from .._utils.device import resolve_device
    from ._extract import extract_activations

    device = resolve_device(config.device)
    lm = config.load_model(device=device, random_init=config.random_init, seed=config.seed)
    data = None
    if config.generated is None:
        spec = config.data or lm.data_spec
        if not spec:
            raise XaiprobeError("--data: required with --model (no checkpoint records a data spec); pass --data SPEC, "
                                "e.g. --data synthfaces")
        from ..data import load_dataset

        data = load_dataset(spec)
    shard = config.shard_index()
    out = activations_path(run_dir) if shard is None else activations_shard_path(run_dir, *shard)
    layers = "all" if "all" in config.layers else list(config.layers)
    splits = None if "all" in config.split else list(config.split)
    path = extract_activations(lm, data, out, layers=layers, pooling=config.pooling, dtype=config.dtype,
                               compression=config.compression, batch_size=config.batch_size, device=device,
                               splits=splits, generated=config.generated, resume=config.resume,
                               overwrite=config.overwrite, shard=shard, command=config.command(), seed=config.seed)
    return Result(config, path, describe_store(path))


def section(result: Result) -> Section:
    """The Activations section: what the file holds, layer by layer."""
    return store_section(result.description, [result.config.command()])


# ------------------------------------------------------------------------------ description
def _shape(shape) -> str:
    return "×".join(str(int(s)) for s in shape) if len(shape) else "scalar"


def _mb(nbytes) -> float:
    return round(float(nbytes) / 1e6, 2)


def describe_store(path) -> dict:
    """Plain description of an activation file.

    Returns
    -------
    dict
        ``{"quantities": dict, "layers": list of dict, "command": str}``.
    """
    from ._store import ActivationStore

    path = Path(path)
    with ActivationStore(path) as store:
        attrs = store.attrs
        n = len(store)
        split = np.asarray(store.split)
        counts = np.bincount(split.astype(np.int64), minlength=3) if split.size else np.zeros(3, np.int64)
        splits = " · ".join(f"{name} {int(c)}" for name, c in zip(SPLITS, counts[:3]) if c)
        if len(counts) > 3 and counts[3:].any():
            splits += f" · other {int(counts[3:].sum())}"
        member = store.member
        names = store.attribute_names
        data = attrs.get("data") if isinstance(attrs.get("data"), dict) else {}
        q = {"file": path.name, "file size (MB)": _mb(os.path.getsize(path)), "images": n, "splits": splits or "—",
             "GAN training members": int(np.asarray(member).sum()) if member is not None else None,
             "source": attrs.get("source"), "data": data.get("spec", attrs.get("data")),
             "labels": f"{len(names)}: {', '.join(names)} ({store.concept_type})" if names else "none",
             "latents stored": store.latents is not None, "pooling": attrs.get("pooling"),
             "dtype": attrs.get("dtype"), "compression": attrs.get("compression"),
             "checkpoint sha256": str(attrs.get("checkpoint_sha256", ""))[:16] or None,
             "created": attrs.get("created"), "xaiprobe version": attrs.get("xaiprobe_version")}
        layers = []
        for alias in store.layers:
            view = store[alias]
            la = store.layer_attrs(alias)
            layers.append({"layer": alias, "module path": la.get("module_path", ""), "records": la.get("records") or "—",
                           "stored shape": _shape(view.shape[1:]), "full shape": _shape(la.get("full_shape", ())),
                           "pooling": la.get("pooling", attrs.get("pooling", "")), "dtype": str(view.dtype),
                           "features": int(np.prod(view.shape[1:], dtype=np.int64)),
                           "MB on disk": _mb(view.nbytes_on_disk)})
        command = str(attrs.get("command") or "")
    return {"quantities": {k: v for k, v in q.items() if v is not None}, "layers": layers, "command": command}


def store_finding(desc: dict) -> str:
    """One line on a described activation file (see :func:`describe_store`)."""
    layers, q = desc["layers"], desc["quantities"]
    mb = sum(r["MB on disk"] for r in layers)
    return (f"{q['images']} images × {len(layers)} layers ({', '.join(r['layer'] for r in layers)}), "
            f"pooling {q.get('pooling', '—')}, {q.get('dtype', '—')}: {fmt(mb, 1)} MB of activations.")


def store_section(desc: dict, command: list) -> Section:
    """The Activations section of a described file (shared by ``extract`` and ``merge``)."""
    layers, q = desc["layers"], desc["quantities"]
    finding = store_finding(desc)
    return Section(
        stage=NAME, title=TITLE, order=ORDER, headline=finding, findings=[finding],
        tables=[Table("What the file holds", ["quantity", "value"], [[k, v] for k, v in q.items()]),
                Table("Layers (shapes per image)", LAYER_COLUMNS, [[r[c] for c in LAYER_COLUMNS] for r in layers])],
        command=list(command),
        numbers={"images": q["images"], "layers": len(layers), "megabytes": round(sum(r["MB on disk"] for r in layers), 2),
                 "features": {r["layer"]: r["features"] for r in layers}})
