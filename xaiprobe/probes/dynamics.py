"""Training dynamics: probe every epoch's discriminator and draw layer × epoch heat maps.

``xaiprobe probe --checkpoints runs/X/checkpoints/ --data SPEC`` extracts (mean-pooled, into a
temporary directory) and probes every ``epoch_NNN.pt``, showing when each attribute becomes
linearly readable in each layer. The results form the report stage ``RUN/dynamics``:
``dynamics.json/.csv``, the heat maps, ``figures.json`` and ``summary.json`` (findings, the
layer × epoch tables and the command).
"""
from __future__ import annotations

import logging
import math
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._utils.errors import XaiprobeError
from .._utils.io import ensure_writable_dir
from .linear import DEFAULT_CS

log = logging.getLogger(__name__)

EPOCH_RE = re.compile(r"^epoch_(\d+)\.pt$")


@dataclass
class Dynamics:
    """Probe metrics of every epoch.

    Attributes
    ----------
    epochs : list of int
    layers, attribute_names : list of str
    values : dict attribute -> ndarray (len(layers), len(epochs))
        The test metric (``metric``) of the linear probe.
    rows : list of dict
        ``epoch, layer, attribute, auc, auc_lo, auc_hi, acc, bacc, C``.
    """

    epochs: list
    layers: list
    attribute_names: list
    values: dict
    metric: str = "auc"
    rows: list = field(default_factory=list)
    out_dir: Path | None = None


def find_epoch_checkpoints(directory) -> list[tuple[int, Path]]:
    """(epoch, path) of every ``epoch_NNN.pt`` in ``directory``, by epoch."""
    d = Path(directory)
    if not d.is_dir():
        raise XaiprobeError(f"--checkpoints {d}: no such directory; pass a run's checkpoints/ directory")
    found = sorted((int(m.group(1)), p) for p in d.iterdir() if (m := EPOCH_RE.match(p.name)))
    if not found:
        have = ", ".join(sorted(p.name for p in d.iterdir())[:10]) or "nothing"
        raise XaiprobeError(f"--checkpoints {d}: no epoch_NNN.pt files (it has {have}); train with `xaiprobe train`")
    return found


def probe_checkpoints(checkpoints, data=None, layers=None, attributes=None, pooling: str = "mean",
                      out_dir=None, Cs=DEFAULT_CS, n_boot: int = 100, metric: str = "auc", batch_size: int = 256,
                      seed: int = 0, device=None, plots: bool = True, progress: bool = False,
                      command: str | None = None) -> Dynamics:
    """Probe the discriminator of every epoch checkpoint.

    Parameters
    ----------
    checkpoints : path
        A directory of ``epoch_NNN.pt`` files (``runs/X/checkpoints``).
    data : str or ImageSet, optional
        Labeled images with train/val/test splits (default: the data spec of the first
        checkpoint).
    layers, attributes : optional
        Subsets (default: every aliased layer, every attribute).
    pooling : str
        Pooling of the extracted activations (``mean`` keeps it fast).
    out_dir : path, optional
        Default ``RUN/dynamics`` (RUN = the checkpoints dir's parent), the report's "Training
        dynamics" section.
    metric : {"auc", "acc", "bacc"}
    command : str, optional
        The command line recorded in summary.json (default: the equivalent ``xaiprobe probe``).

    Returns
    -------
    Dynamics
    """
    from tqdm.auto import tqdm

    from ..activations import extract_activations
    from ..data import load_dataset
    from ..gan.checkpoint import load_checkpoint
    from .run import probe_store

    if command is None:
        from .._utils.command import command_line

        command = command_line("probe", [
            ("--checkpoints", str(checkpoints)), ("--data", getattr(data, "spec", data)), ("--layer", layers),
            ("--attribute", attributes), ("--pooling", None if pooling == "mean" else pooling),
            ("--out", None if out_dir is None else str(out_dir)),
            ("--cs", None if tuple(Cs) == tuple(DEFAULT_CS) else list(Cs)),
            ("--bootstrap", None if n_boot == 200 else n_boot), ("--seed", seed or None), ("--no-plots", not plots)])
    found = find_epoch_checkpoints(checkpoints)
    if data is None:
        data = (load_checkpoint(found[0][1]).data or {}).get("spec")
        if not data:
            raise XaiprobeError(f"--checkpoints {checkpoints}: the checkpoints record no data spec; pass --data SPEC")
    if isinstance(data, str):
        data = load_dataset(data)
    out_dir = Path(out_dir) if out_dir is not None else Path(checkpoints).resolve().parent / "dynamics"
    ensure_writable_dir(out_dir)
    epochs, rows, reports = [], [], []
    with tempfile.TemporaryDirectory(prefix="xaiprobe-dynamics-") as tmp:
        for epoch, path in tqdm(found, desc="epochs", disable=not progress or None):
            act = Path(tmp) / f"epoch_{epoch:03d}.h5"
            extract_activations(path, data, act, layers=layers, pooling=pooling, dtype="float32",
                                batch_size=batch_size, device=device, progress=False,
                                command=f"xaiprobe probe --checkpoints {checkpoints} (epoch {epoch})")
            rep = probe_store(act, attributes=attributes, controls=False, Cs=Cs, n_boot=n_boot, seed=seed,
                              device=device, save=False, plots=False)
            act.unlink()
            epochs.append(epoch)
            reports.append(rep)
            for r in rep.table("trained"):
                rows.append({"epoch": epoch, **{k: r[k] for k in ("layer", "attribute", "auc", "auc_lo", "auc_hi",
                                                                    "acc", "bacc", "C")}})
            log.info("epoch %d probed", epoch)
    layer_list = reports[0].layers
    names = reports[0].attribute_names
    values = {a: np.array([[rep.value(layer, a, "trained", metric) for rep in reports] for layer in layer_list])
              for a in names}
    dyn = Dynamics(epochs, layer_list, names, values, metric, rows, out_dir)
    _save(dyn, out_dir, plots, checkpoints, command)
    return dyn


def _save(dyn: Dynamics, out_dir: Path, plots: bool, checkpoints, command: str = "") -> None:
    import csv

    from .._utils.io import atomic_path
    from ..report.style import add_figure_entry, reset_figures, savefig, write_json

    write_json(out_dir / "dynamics.json", {"checkpoints": str(checkpoints), "metric": dyn.metric, "epochs": dyn.epochs,
                                           "layers": dyn.layers, "attributes": dyn.attribute_names, "rows": dyn.rows})
    cols = ["epoch", "layer", "attribute", "auc", "auc_lo", "auc_hi", "acc", "bacc", "C"]
    with atomic_path(out_dir / "dynamics.csv") as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            for r in dyn.rows:
                w.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()})
    from .summaries import dynamics_findings, dynamics_tables

    summary = {"stage": "probe_dynamics", "findings": dynamics_findings(dyn), "tables": dynamics_tables(dyn),
               "command": command, "metric": dyn.metric, "epochs": dyn.epochs, "layers": dyn.layers}
    summary["first_epoch"] = {a: dict(zip(dyn.layers, np.round(v[:, 0], 4).tolist())) for a, v in dyn.values.items()}
    summary["last_epoch"] = {a: dict(zip(dyn.layers, np.round(v[:, -1], 4).tolist())) for a, v in dyn.values.items()}
    write_json(out_dir / "summary.json", summary)
    reset_figures(out_dir)
    if plots:
        from .plots import plot_layer_epoch_heatmap

        for a, v in dyn.values.items():
            fig, _ = plot_layer_epoch_heatmap(v, dyn.layers, dyn.epochs, a, dyn.metric)
            stem = "heatmap_" + "".join(c if c.isalnum() or c in "-_" else "_" for c in a)
            savefig(fig, out_dir / stem)
            add_figure_entry(out_dir, f"{stem}.png", f"Test {dyn.metric.upper()} of a linear probe for {a}, per layer "
                             "(rows) and training epoch (columns): when the discriminator learns to encode it.",
                             f"{a}: probe {dyn.metric} by layer and epoch")
