"""The ``dynamics`` stage: probe every epoch's discriminator and draw layer × epoch heat maps.

``xaiprobe dynamics --checkpoints RUN/checkpoints --out RUN`` extracts (mean-pooled, into a
temporary directory) and probes every ``epoch_NNN.pt``, showing when each attribute becomes
linearly readable in each layer. It writes RUN/dynamics/ (``dynamics.json``, ``dynamics.csv``,
the heat maps) and the report's *Training dynamics* section.
"""
from __future__ import annotations

import logging
import re
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._layout import stage_dir
from .._utils.errors import XaiprobeError
from .._utils.figures import write_json
from .._utils.io import ensure_writable_dir
from .._utils.numeric import fmt
from .._utils.outputs import exclusive, staged_dir
from ..config import StageConfig, param
from ..report import Section, Table
from ._io import write_csv
from .linear import DEFAULT_CS

log = logging.getLogger(__name__)

NAME = "dynamics"
TITLE = "Training dynamics"
ORDER = 35
HELP = "probe the discriminator of every training epoch: when each attribute becomes linearly readable, per layer"

#: an attribute is decodable once some layer's AUC (its lower 95% bound when bootstrapped)
#: reaches this
DECODABLE_AUC = 0.7
NAN = float("nan")

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
    figures : list of xaiprobe.report.Figure
        The heat maps written into ``out_dir``.
    """

    epochs: list
    layers: list
    attribute_names: list
    values: dict
    metric: str = "auc"
    rows: list = field(default_factory=list)
    out_dir: Path | None = None
    figures: list = field(default_factory=list)


def find_epoch_checkpoints(directory) -> list[tuple[int, Path]]:
    """(epoch, path) of every ``epoch_NNN.pt`` in ``directory``, by epoch."""
    d = Path(directory)
    if not d.is_dir():
        raise XaiprobeError(f"--checkpoints {d}: no such directory; pass a run's checkpoints/ directory")
    found = sorted((int(m.group(1)), p) for p in d.iterdir() if (m := EPOCH_RE.match(p.name)))
    if not found:
        have = ", ".join(sorted(p.name for p in d.iterdir())[:10]) or "nothing"
        raise XaiprobeError(f"--checkpoints {d}: no epoch_NNN.pt files (it has {have}); train with `xaiprobe train`, "
                            "which writes one per epoch")
    return found


def probe_checkpoints(checkpoints, data=None, layers=None, attributes=None, pooling: str = "mean",
                      out_dir=None, Cs=DEFAULT_CS, n_boot: int = 100, metric: str = "auc", batch_size: int = 256,
                      seed: int = 0, device=None, plots: bool = True, progress: bool = False) -> Dynamics:
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
        Default ``RUN/dynamics`` (RUN = the checkpoints dir's parent). Written only when every
        epoch was probed.
    metric : {"auc", "acc", "bacc"}

    Returns
    -------
    Dynamics
    """
    from tqdm.auto import tqdm

    from ..activations import extract_activations
    from ..data import load_dataset
    from ..gan.checkpoint import load_checkpoint
    from ._run import probe_store

    found = find_epoch_checkpoints(checkpoints)
    if data is None:
        data = (load_checkpoint(found[0][1]).data or {}).get("spec")
        if not data:
            raise XaiprobeError(f"--checkpoints {checkpoints}: the checkpoints record no data spec; pass --data SPEC")
    if isinstance(data, str):
        data = load_dataset(data)
    out_dir = Path(out_dir) if out_dir is not None else Path(checkpoints).resolve().parent / "dynamics"
    ensure_writable_dir(out_dir.parent)
    epochs, rows, reports = [], [], []
    with tempfile.TemporaryDirectory(prefix="xaiprobe-dynamics-") as tmp:
        for epoch, path in tqdm(found, desc="epochs", disable=not progress or None):
            act = Path(tmp) / f"epoch_{epoch:03d}.h5"
            extract_activations(path, data, act, layers=layers, pooling=pooling, dtype="float32",
                                batch_size=batch_size, device=device, progress=False,
                                command=f"xaiprobe dynamics --checkpoints {checkpoints} (epoch {epoch})")
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
    with exclusive(out_dir, "dynamics run"), staged_dir(out_dir) as tmp:
        _save(dyn, tmp, plots, checkpoints)
    return dyn


def _save(dyn: Dynamics, out_dir: Path, plots: bool, checkpoints) -> None:
    write_json(out_dir / "dynamics.json", {"checkpoints": str(checkpoints), "metric": dyn.metric, "epochs": dyn.epochs,
                                           "layers": dyn.layers, "attributes": dyn.attribute_names, "rows": dyn.rows})
    write_csv(out_dir / "dynamics.csv", dyn.rows, ["epoch", "layer", "attribute", "auc", "auc_lo", "auc_hi", "acc",
                                                   "bacc", "C"])
    if plots:
        from ._plots import plot_layer_epoch_heatmap, save_figure

        for a, v in dyn.values.items():
            fig, _ = plot_layer_epoch_heatmap(v, dyn.layers, dyn.epochs, a, dyn.metric)
            stem = "heatmap_" + "".join(c if c.isalnum() or c in "-_" else "_" for c in a)
            dyn.figures.append(save_figure(
                fig, out_dir, stem, f"{a}: probe {dyn.metric} by layer and epoch",
                f"Test {dyn.metric.upper()} of a linear probe for {a}, per layer (rows) and training epoch (columns): "
                "when the discriminator learns to encode it."))


# ------------------------------------------------------------------------------- the stage
@dataclass
class Config(StageConfig):
    """Which checkpoints to probe, on which images."""

    stage = "dynamics"
    checkpoints: str = param(help="a run's checkpoints directory (RUN/checkpoints): every epoch_NNN.pt in it is "
                                  "probed", required=True, path=True)
    data: str | None = param(None, "data spec of labeled images with train/val/test splits (none: the one recorded "
                                   "in the checkpoints)")
    layers: tuple[str, ...] = param((), "layers to probe (none: every aliased layer)")
    attributes: tuple[str, ...] = param((), "attributes to probe (none: every attribute)")
    pooling: str = param("mean", "pooling of the per-epoch activations: none, mean, max or avgK")
    cs: tuple[float, ...] = param(DEFAULT_CS, "grid of the inverse regularization strength C, chosen per "
                                              "attribute on the val split", low=0, low_open=True)
    bootstrap: int = param(200, "bootstrap resamples for the confidence intervals", low=0)
    plots: bool = param(True, "draw the heat maps (else tables only)")
    seed: int = param(0, "seed of the bootstrap", low=0)
    device: str | None = param(None, "cpu, cuda or cuda:N (none: cuda when present)")

    def check(self) -> None:
        from ..activations import hooks

        hooks.check_pooling(self.pooling)
        if not self.cs:
            raise XaiprobeError("--cs: empty; pass positive values, e.g. --cs 0.001,0.01,0.1,1")


@dataclass
class Result:
    config: Config
    dynamics: Dynamics


def run(config: Config, run_dir) -> Result:
    """Probe every epoch checkpoint into RUN/dynamics/."""
    dyn = probe_checkpoints(config.checkpoints, data=config.data, layers=list(config.layers) or None,
                            attributes=list(config.attributes) or None, pooling=config.pooling,
                            out_dir=stage_dir(run_dir, NAME), Cs=config.cs, n_boot=config.bootstrap,
                            seed=config.seed, device=config.device, plots=config.plots, progress=True)
    return Result(config, dyn)


def section(result: Result) -> Section:
    """The Training dynamics section: when each attribute becomes decodable, layer × epoch tables."""
    dyn = result.dynamics
    findings = dynamics_findings(dyn)
    return Section(stage=NAME, title=TITLE, order=ORDER, headline=findings[0] if findings else "",
                   findings=findings, tables=dynamics_tables(dyn), figures=list(dyn.figures),
                   command=[result.config.command()], numbers=dynamics_numbers(dyn))


def _best_layer_per_epoch(dyn, attribute: str):
    """(values (E,), lower bounds (E,), best layer per epoch) of one attribute."""
    v = np.asarray(dyn.values[attribute], dtype=float)  # (L, E)
    lo = np.full_like(v, np.nan)
    li = {layer: i for i, layer in enumerate(dyn.layers)}
    ei = {e: j for j, e in enumerate(dyn.epochs)}
    for r in dyn.rows:
        if r["attribute"] == attribute and r["layer"] in li and r["epoch"] in ei:
            lo[li[r["layer"]], ei[r["epoch"]]] = r.get(dyn.metric + "_lo", NAN)
    lo = np.where(np.isfinite(lo), lo, v)
    filled = np.where(np.isfinite(v), v, -np.inf)
    idx = filled.argmax(0)
    cols = np.arange(v.shape[1])
    return v[idx, cols], lo[idx, cols], [dyn.layers[i] for i in idx]


def _layer_epoch(dyn) -> np.ndarray:
    """Mean test metric over attributes, (layers, epochs)."""
    M = np.array([dyn.values[a] for a in dyn.attribute_names], dtype=float)  # (A, L, E)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN layer × epoch cell stays NaN
        return np.nanmean(M, axis=0) if len(M) else np.zeros((len(dyn.layers), len(dyn.epochs)))


def dynamics_tables(dyn) -> list[Table]:
    """Layer × epoch of the mean test metric over attributes, and attribute × epoch at the best layer."""
    layer_epoch = _layer_epoch(dyn)
    ep_cols = [f"epoch {e}" for e in dyn.epochs]
    metric = dyn.metric.upper()
    t1 = Table(f"Mean test {metric} over {len(dyn.attribute_names)} attributes, by layer and epoch", ["layer"] + ep_cols,
               [[layer] + [fmt(x) for x in layer_epoch[i]] for i, layer in enumerate(dyn.layers)])
    rows = []
    for a in dyn.attribute_names:
        v, _, where = _best_layer_per_epoch(dyn, a)
        rows.append([a] + [f"{fmt(x)} ({w})" for x, w in zip(v, where)])
    t2 = Table(f"Test {metric} of the best layer per attribute and epoch (the layer in brackets)",
               ["attribute"] + ep_cols, rows)
    return [t1, t2]


def _first_decodable(dyn) -> dict:
    """Attribute -> (epoch, layer, value) where it first becomes decodable, or None."""
    out = {}
    for a in dyn.attribute_names:
        v, lo, where = _best_layer_per_epoch(dyn, a)
        hit = np.flatnonzero(np.isfinite(lo) & (lo >= DECODABLE_AUC))
        out[a] = (dyn.epochs[int(hit[0])], where[int(hit[0])], float(v[int(hit[0])])) if hit.size else None
    return out


def dynamics_findings(dyn) -> list[str]:
    """When each attribute becomes decodable, and how the best layer's mean metric moves."""
    out = []
    if not dyn.epochs or not dyn.attribute_names:
        return out
    reached, never = [], []
    first = _first_decodable(dyn)
    for a in dyn.attribute_names:
        if first[a] is not None:
            epoch, layer, value = first[a]
            reached.append((epoch, f"{a} at epoch {epoch} ({layer} {fmt(value)})"))
        else:
            v, _, _ = _best_layer_per_epoch(dyn, a)
            never.append(f"{a} (best {fmt(float(np.nanmax(v))) if np.isfinite(v).any() else '—'})")
    rule = f"{dyn.metric.upper()} lower 95% bound ≥ {DECODABLE_AUC:g} at some layer"
    if reached:
        reached.sort(key=lambda t: t[0])
        out.append(f"Decodable ({rule}) from: " + "; ".join(s for _, s in reached) + ".")
    if never:
        out.append(f"Not decodable by epoch {dyn.epochs[-1]} (the bound never reaches {DECODABLE_AUC:g}): "
                   f"{', '.join(never)}.")
    le = _layer_epoch(dyn)
    if np.isfinite(le).any(axis=0).all() and len(dyn.epochs) > 1:
        f = np.where(np.isfinite(le), le, -np.inf)
        i0, i1 = int(f[:, 0].argmax()), int(f[:, -1].argmax())
        out.append(f"Mean {dyn.metric.upper()} of the best layer: {fmt(le[i0, 0])} ({dyn.layers[i0]}) at epoch "
                   f"{dyn.epochs[0]} → {fmt(le[i1, -1])} ({dyn.layers[i1]}) at epoch {dyn.epochs[-1]}.")
    return out


def dynamics_numbers(dyn) -> dict:
    """The section's numbers: epochs, layers, the first decodable epoch per attribute, and the
    test metric per attribute and layer at the first and the last epoch."""
    first = _first_decodable(dyn)
    return {"metric": dyn.metric, "epochs": list(dyn.epochs), "layers": list(dyn.layers),
            "first_decodable_epoch": {a: (f[0] if f else None) for a, f in first.items()},
            "first_epoch": {a: dict(zip(dyn.layers, np.asarray(v)[:, 0].tolist())) for a, v in dyn.values.items()},
            "last_epoch": {a: dict(zip(dyn.layers, np.asarray(v)[:, -1].tolist())) for a, v in dyn.values.items()}}
