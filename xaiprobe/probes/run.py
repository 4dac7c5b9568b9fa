"""Probe every layer × attribute of an activations file, with controls: :func:`probe_store`.

Writes into ``out_dir`` (default ``RUN/probes`` beside the activations file): ``results.json``
and ``results.csv`` (the tidy table), ``probe_<layer>.pt``, ``summary.json``, ``figures.json``
and the plots.
"""
from __future__ import annotations

import csv
import logging
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._utils.errors import XaiprobeError
from .._utils.io import atomic_path, ensure_writable_dir
from . import metrics as M
from .controls import pixel_control, random_init_store, shuffle_within_splits
from .linear import DEFAULT_CS, ChunkedFeatures, LinearProbe, NonFiniteFeatures

log = logging.getLogger(__name__)

#: the random-init control's D is seeded with this + seed (unlike a checkpoint's own init seed)
RANDOM_INIT_SEED = 10_000

COLUMNS = ["layer", "attribute", "source", "auc", "auc_lo", "auc_hi", "acc", "acc_lo", "acc_hi", "bacc", "bacc_lo",
           "bacc_hi", "C", "selectivity", "delta_random", "delta_pixels", "train_auc", "top1", "top1_lo", "top1_hi",
           "n_train", "n_test", "pos_rate"]


@dataclass
class ProbeReport:
    """The result of :func:`probe_store`: one row per layer × attribute × source.

    Attributes
    ----------
    rows : list of dict
        Columns :data:`COLUMNS`; ``source`` is trained, random_init, pixels (layer "pixels")
        or shuffled. ``selectivity`` (trained rows) = AUC − shuffled-label AUC;
        ``delta_random``/``delta_pixels`` = AUC − the random-init / pixel AUC.
    layers, attribute_names : list of str
    concept_type : str
    skipped : list of dict
        ``{layer, attribute, source, reason}`` of pairs that could not be probed.
    controls : dict
        Control name -> "done" or the reason it was skipped.
    confusion : dict
        Single-label only: ``{layer: {source: (K, K) list}}`` on the test split.
    out_dir : Path or None
    """

    rows: list
    layers: list
    attribute_names: list
    concept_type: str = "multilabel"
    skipped: list = field(default_factory=list)
    controls: dict = field(default_factory=dict)
    confusion: dict = field(default_factory=dict)
    source_file: str = ""
    out_dir: Path | None = None

    def table(self, source: str | None = None, layer: str | None = None, attribute: str | None = None) -> list:
        """Rows filtered by source / layer / attribute."""
        return [r for r in self.rows if (source is None or r["source"] == source)
                and (layer is None or r["layer"] == layer) and (attribute is None or r["attribute"] == attribute)]

    def value(self, layer: str, attribute: str, source: str = "trained", metric: str = "auc") -> float:
        rows = self.table(source, layer if source != "pixels" else "pixels", attribute)
        return float(rows[0][metric]) if rows else float("nan")

    def pivot(self, metric: str = "auc", source: str = "trained") -> np.ndarray:
        """ndarray (len(layers), len(attribute_names)) of ``metric`` (NaN where missing)."""
        return np.array([[self.value(layer, a, source, metric) for a in self.attribute_names] for layer in self.layers])

    def format_table(self, metric: str = "auc") -> str:
        """A plain-text per-layer table: trained [CI], random-init, pixels, selectivity."""
        head = f"{'layer':<10} {'attribute':<14} {'trained':>8} {'95% CI':>13} {'random':>7} {'pixels':>7} {'shuffled':>8} {'select.':>7}"
        lines = [head, "-" * len(head)]
        for layer in self.layers:
            for a in self.attribute_names:
                t = self.table("trained", layer, a)
                if not t:
                    continue
                t = t[0]
                ci = f"[{t[metric + '_lo']:.3f},{t[metric + '_hi']:.3f}]" if metric + "_lo" in t else ""
                lines.append(f"{layer:<10} {a:<14} {t[metric]:>8.3f} {ci:>13} {self.value(layer, a, 'random_init', metric):>7.3f} "
                             f"{self.value(layer, a, 'pixels', metric):>7.3f} {self.value(layer, a, 'shuffled', metric):>8.3f} "
                             f"{t['selectivity']:>7.3f}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format_table()

    def to_json(self) -> dict:
        return {"source_file": self.source_file, "layers": self.layers, "attribute_names": self.attribute_names,
                "concept_type": self.concept_type, "columns": COLUMNS, "rows": self.rows, "skipped": self.skipped,
                "controls": self.controls, "confusion": self.confusion}

    def save(self, out_dir) -> Path:
        """Write results.json and results.csv into ``out_dir``."""
        from ..report.style import write_json

        out_dir = ensure_writable_dir(out_dir)
        write_json(out_dir / "results.json", self.to_json())
        with atomic_path(out_dir / "results.csv") as tmp:
            with open(tmp, "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
                w.writeheader()
                for r in self.rows:
                    w.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()})
        return out_dir

    @classmethod
    def load(cls, path) -> "ProbeReport":
        """Read ``results.json`` (or a directory holding it)."""
        import json

        p = Path(path)
        p = p / "results.json" if p.is_dir() else p
        if not p.is_file():
            raise XaiprobeError(f"probe results {p}: no such file; run `xaiprobe probe --activations FILE` first")
        with open(p) as f:
            d = json.load(f)
        rows = [{k: (float("nan") if v is None else v) for k, v in r.items()} for r in d["rows"]]
        return cls(rows, d["layers"], d["attribute_names"], d.get("concept_type", "multilabel"), d.get("skipped", []),
                   d.get("controls", {}), d.get("confusion", {}), d.get("source_file", ""), p.parent)


# --------------------------------------------------------------------------------- helpers
def _open(path_or_store):
    from ..activations import ActivationStore

    if isinstance(path_or_store, (str, os.PathLike)):
        p = Path(path_or_store)
        if not p.exists() and not Path(str(p) + ".partial").exists():
            raise XaiprobeError(f"activations {p}: no such file; write one with `xaiprobe extract`")
        return ActivationStore(p), True
    return path_or_store, False


def _check_labels(store, attributes):
    names = list(store.attribute_names)
    if store.labels is None or store.labels.shape[1] == 0 or not names:
        raise XaiprobeError(f"activations {store.path}: no labels (0 attribute columns); probes need labeled images, "
                            "extract from a labeled data set (synthfaces, celeba:DIR, digits), not generated or folder images")
    if attributes is None:
        return names, list(range(len(names)))
    if isinstance(attributes, str):
        attributes = [a.strip() for a in attributes.split(",") if a.strip()]
    unknown = [a for a in attributes if a not in names]
    if unknown:
        raise XaiprobeError(f"attribute {unknown[0]!r}: not in {Path(store.path).name}; it has {', '.join(names)}")
    return list(attributes), [names.index(a) for a in attributes]


def _check_layers(store, layers):
    if layers is None or layers == "all":
        chosen = list(store.layers)
    else:
        if isinstance(layers, str):
            layers = [x.strip() for x in layers.split(",") if x.strip()]
        chosen = []
        for layer in layers:
            if layer not in store:
                raise XaiprobeError(f"layer {layer!r}: not in {Path(store.path).name}; it has "
                                    f"{', '.join(store.layers) or 'no layers'} (extract it with `xaiprobe extract --layer {layer}`)")
            chosen.append(store._layer_name(layer))
    if not chosen:
        raise XaiprobeError(f"activations {store.path}: no layers; extract some with `xaiprobe extract --layer NAME`")
    return chosen


def _rows_by_split(split):
    rows = {s: np.flatnonzero(split == c) for s, c in (("train", 0), ("val", 1), ("test", 2))}
    if rows["train"].size == 0 or rows["test"].size == 0:
        raise XaiprobeError(f"activations: the file has {rows['train'].size} train and {rows['test'].size} test rows; "
                            "probes need both splits (extract with --split all)")
    return rows


def _active_pairs(labels, rows, names, layer_note="every layer"):
    """Attributes with both classes in train and test (others are skipped with a warning)."""
    ok, skipped = [], []
    for a, name in enumerate(names):
        bad = [s for s in ("train", "test") if not M.two_classes(labels[rows[s], a])]
        if bad:
            reason = f"one class only in the {' and '.join(bad)} split"
            warnings.warn(f"attribute {name}: {reason}; skipped for {layer_note}", stacklevel=3)
            skipped.append({"attribute": name, "reason": reason})
        else:
            ok.append(a)
    return ok, skipped


class _Features:
    """Train/val/test features of one layer (arrays, or row chunks when too big)."""

    def __init__(self, store, layer, rows, max_memory_mb, chunk_size):
        self.layer = layer
        d = store.feature_dim(layer)
        n = sum(r.size for r in rows.values())
        self.streaming = n * d * 4 > max_memory_mb * 2 ** 20
        if self.streaming:
            self.X = {s: ChunkedFeatures.from_store(store, layer, r, chunk_size) for s, r in rows.items()}
        else:
            self.X = {s: store.features(layer, r) for s, r in rows.items()}
            bad = sum(int((~np.isfinite(x)).sum()) for x in self.X.values())
            if bad:
                raise XaiprobeError(f"layer {layer}: {bad} NaN/infinite feature values in {Path(store.path).name}; "
                                    "re-extract with --dtype float32 (float16 overflows) or drop the layer")


def _probe_one(X, Y, rows, names, params, n_boot, seed, concept_type):
    """Fit on train (C on val), evaluate on test. Returns (probe, metric rows, confusion)."""
    yv = Y[rows["val"]] if rows["val"].size else None
    xv = X["val"] if rows["val"].size else None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*one class in the validation rows.*")
        probe = LinearProbe(**params).fit(X["train"], Y[rows["train"]], xv, yv, attribute_names=names)
    P = probe.predict_proba(X["test"])
    Ptr = probe.predict_proba(X["train"])
    bad = int((~np.isfinite(P).all(axis=1)).sum())
    if bad:
        raise NonFiniteFeatures(f"{bad} test rows with NaN/infinite features", bad)
    out = M.probe_metrics(Y[rows["test"]], P, names, n_boot=n_boot, seed=seed)
    for a, r in enumerate(out):
        r["C"] = float(probe.C_[a])
        r["train_auc"] = M.roc_auc(Y[rows["train"], a], Ptr[:, a])
        r["n_train"] = int((Y[rows["train"], a] >= 0).sum())
        r["n_test"] = r.pop("n")
    cm = None
    if concept_type == "single":
        top1 = M.top1_accuracy(Y[rows["test"]], P)
        lo, hi = M.bootstrap_top1(Y[rows["test"]], P, n_boot=n_boot, seed=seed)
        for r in out:
            r.update(top1=top1, top1_lo=lo, top1_hi=hi)
        cm = M.confusion(Y[rows["test"]], P).tolist()
    return probe, out, cm


def _fill(row):
    return {c: row.get(c, float("nan")) for c in COLUMNS}


# ------------------------------------------------------------------------------ main entry
def probe_store(path_or_store, layers=None, attributes=None, controls=True, out_dir=None, Cs=DEFAULT_CS,
                max_iter: int = 1000, n_boot: int = 200, seed: int = 0, data=None, max_memory_mb: float = 1024.0,
                chunk_size: int = 4096, device=None, plots: bool = True, umap: bool = True,
                save: bool = True, progress: bool = False, command: str | None = None) -> ProbeReport:
    """Linear probes for every layer × attribute of an activations file, with controls.

    Parameters
    ----------
    path_or_store : path or ActivationStore
        Written by ``xaiprobe extract`` on a labeled data set with train/val/test splits.
    layers : None, str or list of str
        Layers to probe (None: all in the file). Comma-separated strings are split.
    attributes : None, str or list of str
        Attributes to probe (None: all).
    controls : bool or list of str
        True: random_init, pixels and shuffled. A list picks some. False: none.
    out_dir : path, optional
        Default RUN/probes beside the activations file.
    Cs : sequence of float
        Grid for the strength, chosen per attribute on the val split (AUC).
    n_boot : int
        Bootstrap resamples for the confidence intervals (test split).
    data : ImageSet or str, optional
        The images the file was extracted from (default: its recorded data spec); used by the
        random_init and pixels controls.
    max_memory_mb : float
        Layers whose features exceed this are streamed from the file in chunks.
    plots, umap : bool
        Draw the metric-vs-layer plot (and confusion matrices for single-label data), and the
        UMAP views of each layer (layers with fewer than 3 feature dimensions get none).
    save : bool
        Write the files; False returns the report only.
    command : str, optional
        The command line recorded in summary.json (default: the ``xaiprobe probe`` command
        equivalent to this call).

    Returns
    -------
    ProbeReport
    """
    if command is None and save:
        from .summaries import probe_command

        path = path_or_store if isinstance(path_or_store, (str, os.PathLike)) else getattr(path_or_store, "path", "")
        command = probe_command(path, layers, attributes, controls, out_dir, Cs, n_boot, seed, data, max_memory_mb,
                                umap, plots)
    store, owned = _open(path_or_store)
    try:
        return _probe_store(store, layers, attributes, controls, out_dir, Cs, max_iter, n_boot, seed, data,
                            max_memory_mb, chunk_size, device, plots, umap, save, progress, command)
    finally:
        if owned:
            store.close()


def _probe_store(store, layers, attributes, controls, out_dir, Cs, max_iter, n_boot, seed, data, max_memory_mb,
                 chunk_size, device, plots, umap, save, progress, command):
    from tqdm.auto import tqdm

    names, cols = _check_labels(store, attributes)
    layer_list = _check_layers(store, layers)
    if controls is True:
        controls = ["random_init", "pixels", "shuffled"]
    controls = [c for c in (controls or []) if c]
    unknown = [c for c in controls if c not in ("random_init", "pixels", "shuffled")]
    if unknown:
        raise XaiprobeError(f"control {unknown[0]!r}: unknown; use random_init, pixels, shuffled")
    out_dir = Path(out_dir) if out_dir is not None else Path(store.path).parent / "probes"
    if save:
        ensure_writable_dir(out_dir)
    concept_type = store.concept_type
    labels_all = store.labels[:, cols]
    split = store.split
    rows = _rows_by_split(split)
    ok, skipped = _active_pairs(labels_all, rows, names)
    skipped = [dict(s, layer="*", source="*") for s in skipped]
    if not ok:
        raise XaiprobeError("probes: every attribute has one class only in the train or test split; "
                            "use a bigger data set or other splits")
    act_names = [names[a] for a in ok]
    Y = labels_all[:, ok]
    Yshuf = shuffle_within_splits(Y, split, seed=seed) if "shuffled" in controls else None
    # top-1 / confusion only make sense over all classes of single-label data
    ctype = concept_type if len(ok) == len(store.attribute_names) else "multilabel"
    params = dict(Cs=tuple(Cs), max_iter=max_iter, max_memory_mb=max_memory_mb, chunk_size=chunk_size,
                  device=device, random_state=seed)
    report = ProbeReport([], list(layer_list), act_names, concept_type, skipped, {c: "done" for c in controls}, {},
                         str(store.path), out_dir if save else None)

    def run(source, layer, X):
        probe, out, cm = _probe_one(X, Y if source != "shuffled" else Yshuf, rows, act_names, params, n_boot,
                                    seed, ctype)
        for r in out:
            report.rows.append(_fill({"layer": layer, "source": source, **r}))
        if cm is not None:
            report.confusion.setdefault(layer, {})[source] = cm
        return probe

    def features(st, layer):
        return _Features(st, layer, rows, max_memory_mb, chunk_size).X

    def fit_checked(source, layer, X):
        try:
            return run(source, layer, X)
        except NonFiniteFeatures as exc:
            what = "rows" if "rows" in str(exc) else "feature values"
            raise XaiprobeError(f"layer {layer}: {exc.count} NaN/infinite {what} in {Path(store.path).name}; "
                                "re-extract with --dtype float32 (float16 overflows) or drop the layer") from None

    for layer in tqdm(layer_list, desc="probe layers", disable=not progress or None):
        X = features(store, layer)
        probe = fit_checked("trained", layer, X)
        if save:
            la = store.layer_attrs(layer)
            probe.save(out_dir / f"probe_{layer}.pt", layer=layer, attribute_names=act_names,
                       pooling=la.get("pooling", ""), module_path=la.get("module_path", ""),
                       extra={"activations": str(store.path)})
        if Yshuf is not None:
            fit_checked("shuffled", layer, X)
        log.info("probed layer %s", layer)

    if "pixels" in controls:
        P = pixel_control(store, data)
        if P is None:
            report.controls["pixels"] = "skipped: the data set could not be re-read (see the warning)"
        else:
            run("pixels", "pixels", {s: P[r] for s, r in rows.items()})
    if "random_init" in controls:
        paths = (random_init_store(store, out_dir, data=data, seed=RANDOM_INIT_SEED + seed, progress=progress)
                 if save else None)
        if not paths:
            report.controls["random_init"] = ("skipped: needs save=True (it extracts into OUT/controls)" if not save
                                              else "skipped: see the warning for how to enable it")
        else:
            from ..activations import ActivationStore

            rstores = [ActivationStore(p) for p in paths]
            try:
                for layer in layer_list:
                    mp = store.layer_attrs(layer).get("module_path") or layer
                    rs = next((s for s in rstores if layer in s or mp in s), None)
                    if rs is None:
                        continue
                    run("random_init", layer, features(rs, layer if layer in rs else mp))
            finally:
                for s in rstores:
                    s.close()

    _derive(report)
    if save:
        report.save(out_dir)
        from ..report.style import reset_figures

        write_summary(report, out_dir, command=command)
        reset_figures(out_dir)
        if plots:
            from .plots import save_probe_plots

            save_probe_plots(report, out_dir, store=store if umap else None, seed=seed)
    return report


def _derive(report: ProbeReport) -> None:
    """Fill selectivity (vs shuffled) and the gains over the random-init and pixel controls."""
    for r in report.table("trained"):
        r["selectivity"] = r["auc"] - report.value(r["layer"], r["attribute"], "shuffled")
        r["delta_random"] = r["auc"] - report.value(r["layer"], r["attribute"], "random_init")
        r["delta_pixels"] = r["auc"] - report.value(r["layer"], r["attribute"], "pixels")


def write_summary(report: ProbeReport, out_dir, command: str | None = None) -> dict:
    """Write summary.json and return it.

    It holds the report's ``findings`` (one-line readings), ``tables`` (mean AUC per layer,
    and layer × attribute with CIs and controls) and the ``command`` that reproduces it, and,
    for other readers, per attribute the best layer and its AUC beside the controls
    (``best_layer``), the mean AUC per layer and source (``mean_auc_by_layer``) and, for
    single-label data, the top-1 accuracy per layer and source (``top1_by_layer``).
    """
    from ..report.style import write_json
    from .summaries import probe_findings, probe_tables

    def nz(x):
        return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 4)

    best = {}
    for a in report.attribute_names:
        rows = [r for r in report.table("trained", attribute=a) if not math.isnan(r["auc"])]
        if not rows:
            continue
        b = max(rows, key=lambda r: r["auc"])
        best[a] = {"layer": b["layer"], "auc": nz(b["auc"]), "auc_ci": [nz(b["auc_lo"]), nz(b["auc_hi"])],
                   "random_init_auc": nz(report.value(b["layer"], a, "random_init")),
                   "pixels_auc": nz(report.value(b["layer"], a, "pixels")),
                   "shuffled_auc": nz(report.value(b["layer"], a, "shuffled")), "selectivity": nz(b["selectivity"])}
    mean_auc = {}
    for src in ("trained", "random_init", "pixels", "shuffled"):
        per_layer = {}
        for layer in (report.layers if src != "pixels" else ["pixels"]):
            v = [r["auc"] for r in report.table(src, layer) if not math.isnan(r["auc"])]
            if v:
                per_layer[layer] = nz(np.mean(v))
        if per_layer:
            mean_auc[src] = per_layer
    summary = {"stage": "probes", "findings": probe_findings(report), "tables": probe_tables(report),
               "command": command or "", "activations": report.source_file, "concept_type": report.concept_type,
               "layers": report.layers, "attributes": report.attribute_names, "best_layer": best,
               "mean_auc_by_layer": mean_auc, "controls": report.controls, "skipped": report.skipped}
    if report.concept_type == "single":
        summary["top1_by_layer"] = {src: {r["layer"]: nz(r["top1"]) for r in report.table(src)}
                                    for src in ("trained", "random_init", "pixels", "shuffled") if report.table(src)}
    write_json(Path(out_dir) / "summary.json", summary)
    return summary
