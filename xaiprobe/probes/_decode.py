"""The ``decode`` stage: an MLP concept decoder per layer of an activations file.

``xaiprobe decode --activations RUN/activations.h5 --out RUN`` fits one :class:`ConceptDecoder`
per layer (sigmoid + BCE for attributes, softmax + CE for single-label classes), early-stopped on
val and evaluated on test with bootstrap CIs. It writes RUN/decoders/ (``decoder_<layer>.pt``,
``decoders.json``, ``metrics.json``, ``metrics.csv``, a plot) and the report's *Concept decoders*
section; with ``--probes RUN/probes`` the section compares each layer's decoder with its linear
probes. ``xaiprobe concepts`` applies the decoders to images.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._layout import stage_dir
from .._utils.errors import XaiprobeError
from .._utils.figures import write_json
from .._utils.io import ensure_writable_dir
from .._utils.numeric import finite, fmt, fmt_interval
from .._utils.outputs import exclusive, staged_dir
from ..config import StageConfig, param
from ..report import Section, Table
from . import _metrics as M
from ._io import write_csv
from ._run import ProbeReport, check_labels, check_layers, open_store, rows_by_split
from ._stage import MAX_LISTED, cell
from .decoders import ConceptDecoder, decoder_filename

log = logging.getLogger(__name__)

NAME = "decoders"
TITLE = "Concept decoders"
ORDER = 40
HELP = "train an MLP concept decoder per layer of an activations file (RUN/decoders)"

#: an MLP decoder whose mean AUC beats the linear probe of its layer by more than this reads
#: something non-linear
NONLINEAR_GAIN = 0.02
METRIC_COLUMNS = ["layer", "concept", "auc", "auc_lo", "auc_hi", "acc", "acc_lo", "acc_hi", "bacc", "bacc_lo",
                  "bacc_hi", "top1", "top1_lo", "top1_hi", "n", "pos_rate"]


@dataclass
class DecoderRun:
    """What :func:`train_decoders` measured: test metrics per layer × concept, and per layer."""

    rows: list
    index: list
    layers: list
    concepts: list
    single: bool
    probe_means: dict | None = None
    figures: list = field(default_factory=list)
    out_dir: Path | None = None


def probe_means(probes, activations, names) -> dict | None:
    """Layer -> mean test AUC over ``names`` of the linear probes in ``probes`` (a probe results
    file or directory, ``xaiprobe probe``); None without probes. Probes of another activations
    file are an error."""
    if probes is None:
        return None
    rep = ProbeReport.load(probes)
    if rep.source_file and Path(rep.source_file).resolve() != Path(activations).resolve():
        raise XaiprobeError(f"--probes {probes}: probes of {rep.source_file}, not of {activations}; pass the probes "
                            "of the same activations file")
    out = {}
    for layer in rep.layers:
        v = [r["auc"] for r in rep.table("trained", layer) if r["attribute"] in names and finite(r["auc"])]
        if v:
            out[layer] = float(np.mean(v))
    return out or None


def train_decoders(path_or_store, out_dir, layers=None, attributes=None, hidden: int = 256, dropout: float = 0.2,
                   max_epochs: int = 200, patience: int = 15, lr: float = 1e-3, batch_size: int = 128, seed: int = 0,
                   n_boot: int = 200, max_memory_mb: float = 4096.0, device=None, plots: bool = True,
                   progress: bool = False, probes=None) -> list[dict]:
    """Train one concept decoder per layer of an activations file and save them in ``out_dir``.

    Parameters
    ----------
    path_or_store : path or ActivationStore
        Labeled activations with train/val/test splits.
    out_dir : path
        Decoders dir: ``decoder_<layer>.pt``, ``decoders.json``, ``metrics.json``, ``metrics.csv``
        (written only when every layer was trained).
    layers, attributes : optional
        Subsets (multilabel attributes only; single-label data keeps every class).
    hidden, dropout, max_epochs, patience, lr, batch_size, seed :
        :class:`ConceptDecoder` settings.
    max_memory_mb : float
        A layer's features must fit in this (decoders train in memory); else extract with pooling.
    probes : path, optional
        Linear probes of the same activations (``xaiprobe probe``), compared in the findings.

    Returns
    -------
    list of dict
        Test metrics per layer × concept (``layer, concept, auc, auc_lo, auc_hi, acc, bacc, top1``,
        and ``top1_lo, top1_hi`` for single-label data).
    """
    return fit_decoders(path_or_store, out_dir, layers, attributes, hidden, dropout, max_epochs, patience, lr,
                        batch_size, seed, n_boot, max_memory_mb, device, plots, progress, probes).rows


def fit_decoders(path_or_store, out_dir, layers=None, attributes=None, hidden=256, dropout=0.2, max_epochs=200,
                 patience=15, lr=1e-3, batch_size=128, seed=0, n_boot=200, max_memory_mb=4096.0, device=None,
                 plots=True, progress=False, probes=None) -> DecoderRun:
    """:func:`train_decoders`, returning everything it measured (a :class:`DecoderRun`)."""
    store, owned = open_store(path_or_store)
    try:
        out_dir = Path(out_dir)
        ensure_writable_dir(out_dir.parent)
        with exclusive(out_dir, "decoder training"), staged_dir(out_dir) as tmp:
            result = _fit(store, tmp, layers, attributes, hidden, dropout, max_epochs, patience, lr, batch_size,
                          seed, n_boot, max_memory_mb, device, plots, progress, probes)
        result.out_dir = out_dir
        return result
    finally:
        if owned:
            store.close()


def _fit(store, out_dir, layers, attributes, hidden, dropout, max_epochs, patience, lr, batch_size, seed, n_boot,
         max_memory_mb, device, plots, progress, probes) -> DecoderRun:
    from tqdm.auto import tqdm

    concept_type = store.concept_type
    single = concept_type == "single"
    names, cols = check_labels(store, attributes if not single else None)
    layer_list = check_layers(store, layers)
    rows = rows_by_split(store.split)
    means = probe_means(probes, store.path, names)
    Y = store.labels[:, cols]
    for a, name in enumerate(names):
        if not single and not M.two_classes(Y[rows["train"], a]):
            warnings.warn(f"attribute {name}: one class only in the train split; its decoder output is not "
                          "informative and its metrics are NaN", stacklevel=2)
    attrs = store.attrs
    index, metric_rows = [], []
    for layer in tqdm(layer_list, desc="decoders", disable=not progress or None):
        la = store.layer_attrs(layer)
        d = store.feature_dim(layer)
        if len(store) * d * 4 > max_memory_mb * 2 ** 20:
            raise XaiprobeError(f"layer {layer}: {len(store)}×{d} features exceed --max-memory-mb {max_memory_mb:g}; "
                                "decoders train in memory: extract with --pooling mean or avgK, or raise the limit")
        X = {s: store.features(layer, r) for s, r in rows.items()}
        bad = sum(int((~np.isfinite(x)).sum()) for x in X.values())
        if bad:
            raise XaiprobeError(f"layer {layer}: {bad} NaN/infinite feature values in {Path(store.path).name}; "
                                "re-extract with --dtype float32 or drop the layer")
        dec = ConceptDecoder(hidden=hidden, dropout=dropout, concept_type=concept_type, lr=lr,
                             batch_size=batch_size, max_epochs=max_epochs, patience=patience,
                             random_state=seed, device=device)
        has_val = rows["val"].size > 0
        dec.fit(X["train"], Y[rows["train"]], X["val"] if has_val else None, Y[rows["val"]] if has_val else None,
                concept_names=names, layer=layer, pooling=la.get("pooling", "none"),
                module_path=la.get("module_path", ""))
        P = dec.predict_proba(X["test"])
        Yt = Y[rows["test"]]
        per = M.probe_metrics(Yt, P, names, n_boot=n_boot, seed=seed)
        top1 = M.top1_accuracy(Yt, P) if single else float("nan")
        top1_ci = M.bootstrap_top1(Yt, P, n_boot=n_boot, seed=seed) if single else (float("nan"), float("nan"))
        for r in per:
            r["concept"] = r.pop("attribute")
            r.update(layer=layer, top1=top1, top1_lo=top1_ci[0], top1_hi=top1_ci[1])
            metric_rows.append(r)
        summary = {"mean_auc": float(np.nanmean([r["auc"] for r in per])) if per else float("nan"), "top1": top1}
        if single:
            summary["confusion"] = M.confusion(Yt, P).tolist()
        fname = decoder_filename(layer)
        dec.save(out_dir / fname)
        index.append({"layer": layer, "file": fname, "pooling": la.get("pooling", "none"),
                      "module_path": la.get("module_path", ""), "best_epoch": dec.best_epoch_, **summary})
        log.info("decoder %s: mean test AUC %.3f", layer, summary["mean_auc"])
    write_json(out_dir / "decoders.json", {
        "format": "xaiprobe.decoders", "activations": str(store.path), "data": attrs.get("data"),
        "arch": attrs.get("arch"), "checkpoint_sha256": attrs.get("checkpoint_sha256"),
        "concept_type": concept_type, "concept_names": names, "decoders": index})
    write_json(out_dir / "metrics.json", {"columns": METRIC_COLUMNS, "rows": metric_rows})
    write_csv(out_dir / "metrics.csv", metric_rows, METRIC_COLUMNS)
    result = DecoderRun(metric_rows, index, layer_list, names, single, means)
    if plots and index:
        from ._plots import plot_metric_by_layer, save_figure

        rep = ProbeReport([dict(r, attribute=r["concept"], source="trained") for r in metric_rows], layer_list,
                          names, concept_type)
        metric = "top1" if single else "auc"
        fig, _ = plot_metric_by_layer(rep, metric, attributes=names[:1] if metric == "top1" else None,
                                      title="Concept decoders (MLP) per layer")
        result.figures.append(save_figure(fig, out_dir, f"decoder_{metric}_by_layer", "Concept decoders per layer",
                                          "Test metric of the MLP concept decoder of each layer (95% bootstrap "
                                          "band)."))
    return result


# ------------------------------------------------------------------------------- the stage
@dataclass
class Config(StageConfig):
    """Which decoders to train, and how."""

    stage = "decode"
    activations: str = param(help="activations file written by `xaiprobe extract` on labeled data "
                                  "(RUN/activations.h5)", required=True, path=True)
    probes: str | None = param(None, "linear probes of the same activations file (`xaiprobe probe`: RUN/probes or "
                                     "its results.json), compared with the decoders in the findings", path=True)
    layers: tuple[str, ...] = param((), "layers to decode (none: every layer in the file)")
    attributes: tuple[str, ...] = param((), "attributes to decode (none: all; single-label data keeps every class)")
    hidden: int = param(256, "hidden units of each decoder", low=1)
    dropout: float = param(0.2, "dropout after the hidden layer", low=0, high=1, high_open=True)
    epochs: int = param(200, "maximum training epochs", low=1)
    patience: int = param(15, "early stopping: epochs without a better validation loss", low=1)
    lr: float = param(1e-3, "AdamW learning rate", low=0, low_open=True)
    bootstrap: int = param(200, "bootstrap resamples for the confidence intervals", low=0)
    max_memory_mb: float = param(4096.0, "a layer's features must fit in this (decoders train in memory)", low=0,
                                 low_open=True)
    plots: bool = param(True, "draw the figure (else tables only)")
    seed: int = param(0, "seed of the initialization, the shuffling and the bootstrap", low=0)
    device: str | None = param(None, "cpu, cuda or cuda:N (none: cuda when present)")


@dataclass
class Result:
    config: Config
    run: DecoderRun


def run(config: Config, run_dir) -> Result:
    """Train the decoders into RUN/decoders/."""
    res = fit_decoders(config.activations, stage_dir(run_dir, NAME), layers=list(config.layers) or None,
                       attributes=list(config.attributes) or None, hidden=config.hidden, dropout=config.dropout,
                       max_epochs=config.epochs, patience=config.patience, lr=config.lr, seed=config.seed,
                       n_boot=config.bootstrap, max_memory_mb=config.max_memory_mb, device=config.device,
                       plots=config.plots, progress=True, probes=config.probes)
    return Result(config, res)


def section(result: Result) -> Section:
    """The Concept decoders section: the best layer, the best layer per concept, the linear probes."""
    r = result.run
    findings = decoder_findings(r.rows, r.index, r.single, r.probe_means)
    best = _best(r.index, r.single)
    numbers = {"best_layer": best["layer"] if best else None,
               "per_layer": {e["layer"]: {"mean_auc": e["mean_auc"], "top1": e["top1"], "best_epoch": e["best_epoch"]}
                             for e in r.index},
               "auc": {f"{row['layer']}/{row['concept']}": row["auc"] for row in r.rows}}
    if r.probe_means:
        numbers["probe_mean_auc"] = dict(r.probe_means)
        numbers["probe_comparison"] = probe_comparison(r.index, r.probe_means)
    return Section(stage=NAME, title=TITLE, order=ORDER, headline=findings[0] if findings else "", findings=findings,
                   tables=decoder_tables(r.rows, r.layers, r.concepts, r.index, r.single), figures=list(r.figures),
                   command=[result.config.command()], numbers=numbers)


def _best(index: list, single: bool):
    key = "top1" if single else "mean_auc"
    ranked = [e for e in index if finite(e.get(key))]
    return max(ranked, key=lambda e: e[key]) if ranked else None


def decoder_tables(metric_rows: list, layers: list, names: list, index: list, single: bool) -> list[Table]:
    """Layer × concept test AUC (plus mean, top-1 for single-label data, best epoch)."""
    by = {(r["layer"], r["concept"]): r for r in metric_rows}
    info = {e["layer"]: e for e in index}
    cols = ["layer"] + (["top-1 [95% CI]"] if single else []) + ["mean AUC"] + list(names) + ["best epoch"]
    rows = []
    for layer in layers:
        if layer not in info:
            continue
        e = info[layer]
        row = [layer]
        if single:
            r0 = by.get((layer, names[0]), {})
            row.append(cell(e.get("top1"), r0.get("top1_lo"), r0.get("top1_hi")))
        row.append(fmt(e.get("mean_auc")))
        row += [fmt(by.get((layer, c), {}).get("auc")) for c in names]
        row.append(e.get("best_epoch", "—"))
        rows.append(row)
    what = "class (one vs rest)" if single else "concept"
    return [Table(f"Concept decoders (MLP): test AUC per layer and {what}", cols, rows)]


def probe_comparison(index: list, probe_means: dict | None) -> dict | None:
    """Decoder minus linear-probe mean AUC over the layers both have: smallest and largest
    difference, the layer of the largest absolute one, and whether the MLP reads something
    non-linear (the largest difference exceeds :data:`NONLINEAR_GAIN`); None without probes."""
    if not probe_means:
        return None
    pairs = [(e["layer"], e["mean_auc"], probe_means[e["layer"]]) for e in index
             if e["layer"] in probe_means and finite(probe_means[e["layer"]]) and finite(e.get("mean_auc"))]
    if not pairs:
        return None
    diff = [d - p for _, d, p in pairs]
    layer, d, p = pairs[int(np.argmax(np.abs(diff)))]
    return {"min_diff": float(min(diff)), "max_diff": float(max(diff)), "largest_layer": layer,
            "largest_decoder_auc": float(d), "largest_probe_auc": float(p), "nonlinear": max(diff) > NONLINEAR_GAIN}


def decoder_findings(metric_rows: list, index: list, single: bool, probe_means: dict | None = None) -> list[str]:
    """Best decoder layer (and the weakest), best layer per concept, and the linear probes of
    the same layers when ``probe_means`` (layer -> mean probe AUC) is given."""
    out = []
    key = "top1" if single else "mean_auc"
    ok = [e for e in index if finite(e.get(key))]
    if not ok:
        return out
    b = max(ok, key=lambda e: e[key])
    names = list(dict.fromkeys(r["concept"] for r in metric_rows))
    if single:
        r0 = next((r for r in metric_rows if r["layer"] == b["layer"]), {})
        line = (f"Best decoder layer {b['layer']}: top-1 {fmt_interval(b['top1'], r0.get('top1_lo'), r0.get('top1_hi'))} "
                f"over {len(names)} classes (chance {fmt(1 / max(len(names), 1))}), mean one-vs-rest AUC "
                f"{fmt(b['mean_auc'])}")
    else:
        line = f"Best decoder layer {b['layer']}: mean test AUC {fmt(b['mean_auc'])} over {len(names)} concepts"
    if len(ok) > 1:
        w = min(ok, key=lambda e: e[key])
        line += f"; weakest {w['layer']} ({fmt(w[key])})"
    out.append(line + ".")
    per = []
    for c in names:
        rows = [r for r in metric_rows if r["concept"] == c and finite(r["auc"])]
        if rows:
            per.append((c, max(rows, key=lambda r: r["auc"])))
    if per and len(per) <= MAX_LISTED:
        out.append("Best layer per concept: " + "; ".join(
            f"{c} {r['layer']} {fmt_interval(r['auc'], r['auc_lo'], r['auc_hi'])}" for c, r in per) + ".")
    elif per:
        counts: dict = {}
        for _, r in per:
            counts[r["layer"]] = counts.get(r["layer"], 0) + 1
        out.append("Best layer per class: " + ", ".join(f"{layer} for {n}" for layer, n in
                                                         sorted(counts.items(), key=lambda t: -t[1])) + ".")
    cmp = probe_comparison(index, probe_means)
    if cmp:
        verdict = ("the MLP reads more than a linear probe: part of what the layers hold about the concepts is "
                   "non-linear" if cmp["nonlinear"] else "the MLP reads no more than a linear probe: what the layers "
                   "hold about the concepts is linearly readable")
        out.append(f"Against the linear probes of the same layers, mean AUC differs by {fmt(cmp['min_diff'], sign=True)} "
                   f"to {fmt(cmp['max_diff'], sign=True)} (largest at {cmp['largest_layer']}: "
                   f"{fmt(cmp['largest_decoder_auc'])} vs {fmt(cmp['largest_probe_auc'])}); {verdict}.")
    return out
