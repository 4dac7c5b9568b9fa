"""Probe every layer × attribute of an activations file, with controls: :func:`probe_store`.

Writes into ``out_dir`` (default ``RUN/probes`` beside the activations file): ``results.json``
and ``results.csv`` (the tidy table), ``probe_<layer>.pt`` and the plots, all staged in a
temporary directory and moved in together at the end (a run that stops on bad input leaves
``out_dir`` as it was); the random-init control's activations are cached in ``out_dir/controls``.
"""
from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._utils.errors import XaiprobeError
from .._utils.figures import write_json
from .._utils.io import ensure_writable_dir
from .._utils.outputs import exclusive, staged_dir
from . import _metrics as M
from ._controls import pixel_control, random_init_store, shuffle_within_splits
from ._features import ChunkedFeatures, NonFiniteFeatures
from ._io import write_csv
from .linear import DEFAULT_CS, LinearProbe

__all__ = ["ProbeReport", "probe_store", "COLUMNS", "CONTROLS", "open_store", "check_labels", "check_layers",
           "rows_by_split", "fill_row", "derive"]

log = logging.getLogger(__name__)

#: the random-init control's D is seeded with this + seed (unlike a checkpoint's own init seed)
RANDOM_INIT_SEED = 10_000

CONTROLS = ("random_init", "pixels", "shuffled")
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
    notes : list of str
        Attributes probed with a caveat (one class in the val split: C chosen by log-loss).
    figures : list of xaiprobe.report.Figure
        The plots written into ``out_dir``.
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
    notes: list = field(default_factory=list)
    figures: list = field(default_factory=list)

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
                "controls": self.controls, "confusion": self.confusion, "notes": self.notes}

    def save(self, out_dir) -> Path:
        """Write results.json and results.csv into ``out_dir``."""
        out_dir = ensure_writable_dir(out_dir)
        write_json(out_dir / "results.json", self.to_json())
        write_csv(out_dir / "results.csv", self.rows, COLUMNS)
        return out_dir

    @classmethod
    def load(cls, path) -> "ProbeReport":
        """Read ``results.json`` (or a directory holding it)."""
        import json

        p = Path(path)
        p = p / "results.json" if p.is_dir() else p
        if not p.is_file():
            raise XaiprobeError(f"probe results {p}: no such file; run `xaiprobe probe --activations FILE --out RUN` "
                                "first (its results are in RUN/probes)")
        try:
            with open(p) as f:
                d = json.load(f)
        except (OSError, ValueError) as exc:
            raise XaiprobeError(f"probe results {p}: unreadable ({exc}); run `xaiprobe probe` again") from None
        rows = [{k: (float("nan") if v is None else v) for k, v in r.items()} for r in d["rows"]]
        return cls(rows, d["layers"], d["attribute_names"], d.get("concept_type", "multilabel"), d.get("skipped", []),
                   d.get("controls", {}), d.get("confusion", {}), d.get("source_file", ""), p.parent,
                   d.get("notes", []))


# --------------------------------------------------------------------------------- helpers
def open_store(path_or_store):
    """(ActivationStore, whether this call opened it) of a path or an open store."""
    from ..activations import ActivationStore

    if isinstance(path_or_store, (str, os.PathLike)):
        p = Path(path_or_store)
        if not p.exists() and not Path(str(p) + ".partial").exists():
            raise XaiprobeError(f"activations {p}: no such file; write one with `xaiprobe extract`")
        return ActivationStore(p), True
    return path_or_store, False


def check_labels(store, attributes):
    """(names, label columns) of the attributes to probe (None: all); one-line errors."""
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


def check_layers(store, layers):
    """The store's names of the layers to probe (None or "all": every layer); one-line errors."""
    if layers is None or layers == "all":
        chosen = list(store.layers)
    else:
        if isinstance(layers, str):
            layers = [x.strip() for x in layers.split(",") if x.strip()]
        chosen = []
        for layer in layers:
            if layer not in store:
                raise XaiprobeError(f"layer {layer!r}: not in {Path(store.path).name}; it has "
                                    f"{', '.join(store.layers) or 'no layers'} (extract it with `xaiprobe extract --layers {layer}`)")
            chosen.append(store.layer_name(layer))
    if not chosen:
        raise XaiprobeError(f"activations {store.path}: no layers; extract some with `xaiprobe extract --layers NAME`")
    return chosen


def rows_by_split(split):
    """Row numbers of the train, val and test splits (train and test must have rows)."""
    rows = {s: np.flatnonzero(split == c) for s, c in (("train", 0), ("val", 1), ("test", 2))}
    if rows["train"].size == 0 or rows["test"].size == 0:
        raise XaiprobeError(f"activations: the file has {rows['train'].size} train and {rows['test'].size} test rows; "
                            "probes need both splits (extract with --split all)")
    return rows


def _active_pairs(labels, rows, names, layer_note="every layer"):
    """Attributes with both classes in train and test (others are skipped with a warning), and
    notes on those with one class in a non-empty val split (probed, C chosen by the log-loss)."""
    ok, skipped, notes = [], [], []
    for a, name in enumerate(names):
        bad = [s for s in ("train", "test") if not M.two_classes(labels[rows[s], a])]
        if bad:
            reason = f"one class only in the {' and '.join(bad)} split"
            warnings.warn(f"attribute {name}: {reason}; skipped for {layer_note}", stacklevel=3)
            skipped.append({"attribute": name, "reason": reason})
            continue
        ok.append(a)
        if rows["val"].size and not M.two_classes(labels[rows["val"], a]):
            note = (f"attribute {name}: one class only in the val split; its probes' C is chosen by the validation "
                    "log-loss, not the AUC")
            warnings.warn(note, stacklevel=3)
            notes.append(note)
    return ok, skipped, notes


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


def _probe_one(X, Y, rows, names, params, n_boot, seed, concept_type, meta):
    """Fit on train (C on val), evaluate on test. Returns (probe, metric rows, confusion).

    One class in the val split is reported once per run (see :func:`_active_pairs`), not per probe."""
    yv = Y[rows["val"]] if rows["val"].size else None
    xv = X["val"] if rows["val"].size else None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*one class in the validation rows.*")
        probe = LinearProbe(**params).fit(X["train"], Y[rows["train"]], xv, yv, attribute_names=names, **meta)
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


def fill_row(row):
    """A results row with every column of :data:`COLUMNS` (NaN where missing)."""
    return {c: row.get(c, float("nan")) for c in COLUMNS}


# ------------------------------------------------------------------------------ main entry
def probe_store(path_or_store, layers=None, attributes=None, controls=True, out_dir=None, Cs=DEFAULT_CS,
                max_iter: int = 1000, n_boot: int = 200, seed: int = 0, data=None, max_memory_mb: float = 1024.0,
                chunk_size: int = 4096, device=None, plots: bool = True, umap: bool = True,
                save: bool = True, progress: bool = False) -> ProbeReport:
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
        Default RUN/probes beside the activations file. Written only when everything worked.
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

    Returns
    -------
    ProbeReport
    """
    store, owned = open_store(path_or_store)
    try:
        out_dir = Path(out_dir) if out_dir is not None else Path(store.path).parent / "probes"
        if not save:
            return _probe_store(store, layers, attributes, controls, None, None, Cs, max_iter, n_boot, seed, data,
                                max_memory_mb, chunk_size, device, plots, umap, progress)
        ensure_writable_dir(out_dir.parent)
        with exclusive(out_dir, "probe run"), staged_dir(out_dir) as tmp:
            report = _probe_store(store, layers, attributes, controls, tmp, out_dir, Cs, max_iter, n_boot, seed,
                                  data, max_memory_mb, chunk_size, device, plots, umap, progress)
        report.out_dir = out_dir
        return report
    finally:
        if owned:
            store.close()


def _check_controls(controls) -> list:
    if controls is True:
        return list(CONTROLS)
    controls = [c for c in (controls or []) if c]
    unknown = [c for c in controls if c not in CONTROLS]
    if unknown:
        raise XaiprobeError(f"control {unknown[0]!r}: unknown; use {', '.join(CONTROLS)}")
    return controls


def _probe_store(store, layers, attributes, controls, tmp, out_dir, Cs, max_iter, n_boot, seed, data, max_memory_mb,
                 chunk_size, device, plots, umap, progress) -> ProbeReport:
    """The work of :func:`probe_store`: files go to ``tmp`` (None: nothing is written), the
    random-init control's cache to ``out_dir/controls``."""
    from tqdm.auto import tqdm

    names, cols = check_labels(store, attributes)
    layer_list = check_layers(store, layers)
    controls = _check_controls(controls)
    concept_type = store.concept_type
    labels_all = store.labels[:, cols]
    split = store.split
    rows = rows_by_split(split)
    ok, skipped, notes = _active_pairs(labels_all, rows, names)
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
                         str(store.path), None, notes)

    def run(source, layer, X, meta=None):
        probe, out, cm = _probe_one(X, Y if source != "shuffled" else Yshuf, rows, act_names, params, n_boot,
                                    seed, ctype, meta or {})
        for r in out:
            report.rows.append(fill_row({"layer": layer, "source": source, **r}))
        if cm is not None:
            report.confusion.setdefault(layer, {})[source] = cm
        return probe

    def features(st, layer):
        return _Features(st, layer, rows, max_memory_mb, chunk_size).X

    def fit_checked(source, layer, X, meta=None):
        try:
            return run(source, layer, X, meta)
        except NonFiniteFeatures as exc:
            what = "rows" if "rows" in str(exc) else "feature values"
            raise XaiprobeError(f"layer {layer}: {exc.count} NaN/infinite {what} in {Path(store.path).name}; "
                                "re-extract with --dtype float32 (float16 overflows) or drop the layer") from None

    for layer in tqdm(layer_list, desc="probe layers", disable=not progress or None):
        X = features(store, layer)
        la = store.layer_attrs(layer)
        meta = {"layer": layer, "pooling": la.get("pooling", ""), "module_path": la.get("module_path", "")}
        probe = fit_checked("trained", layer, X, meta)
        if tmp is not None:
            probe.save(tmp / f"probe_{layer}.pt")
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
                 if out_dir is not None else None)
        if not paths:
            report.controls["random_init"] = ("skipped: needs save=True (it extracts into OUT/controls)"
                                              if out_dir is None else "skipped: see the warning for how to enable it")
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

    derive(report)
    if tmp is not None:
        report.save(tmp)
        if plots:
            from ._plots import save_probe_plots

            report.figures = save_probe_plots(report, tmp, store=store if umap else None, seed=seed)
    return report


def derive(report: ProbeReport) -> None:
    """Fill selectivity (vs shuffled) and the gains over the random-init and pixel controls."""
    for r in report.table("trained"):
        r["selectivity"] = r["auc"] - report.value(r["layer"], r["attribute"], "shuffled")
        r["delta_random"] = r["auc"] - report.value(r["layer"], r["attribute"], "random_init")
        r["delta_pixels"] = r["auc"] - report.value(r["layer"], r["attribute"], "pixels")
