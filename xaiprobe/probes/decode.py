"""Concept-decoder pipelines behind ``xaiprobe decode``.

* :func:`train_decoders` — one :class:`ConceptDecoder` per layer of an activations file,
  early-stopped on val, evaluated on test; writes ``DIR/decoder_<layer>.pt``,
  ``decoders.json``, ``metrics.json/.csv``, ``summary.json`` and a plot.
* :func:`apply_decoders` — decoders applied to a data spec, ``folder:DIR`` or ``generated:N``
  (the checkpoint's G): per-image concept probabilities (CSV) and, for generated images, the
  concept distribution of generated against real images read by the same decoders (table +
  bar plot), with the real images' true label rates beside them.

Both write a report stage: ``summary.json`` (findings, tables, the command) and ``figures.json``.
"""
from __future__ import annotations

import csv
import logging
import math
import os
import warnings
from pathlib import Path

import numpy as np

from .._utils.errors import XaiprobeError
from .._utils.io import atomic_path, ensure_writable_dir
from .._utils.numeric import finite
from . import metrics as M
from .decoders import ConceptDecoder, decode_images, decoder_filename, load_decoders
from .decode_summaries import (decode_apply_command, decoded_tables, decoder_findings, decoder_tables, distribution_findings,
                        distribution_tables, rate_gap_ci)

log = logging.getLogger(__name__)


def _probe_means(store, names) -> dict | None:
    """Layer -> mean test AUC of the linear probes over ``names``, when RUN/probes beside the
    activations file holds probes of this same file (else None)."""
    from .run import ProbeReport

    p = Path(store.path).parent / "probes" / "results.json"
    if not p.is_file():
        return None
    try:
        rep = ProbeReport.load(p)
        if Path(rep.source_file).resolve() != Path(store.path).resolve():
            return None
    except (XaiprobeError, OSError, ValueError, KeyError):
        return None
    out = {}
    for layer in rep.layers:
        v = [r["auc"] for r in rep.table("trained", layer) if r["attribute"] in names and finite(r["auc"])]
        if v:
            out[layer] = float(np.mean(v))
    return out or None


def _write_csv(path: Path, rows: list, columns: list) -> Path:
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
            w.writeheader()
            for r in rows:
                w.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()})
    return path


def train_decoders(path_or_store, out_dir, layers=None, attributes=None, hidden: int = 256, dropout: float = 0.2,
                   max_epochs: int = 200, patience: int = 15, lr: float = 1e-3, batch_size: int = 128, seed: int = 0,
                   n_boot: int = 200, max_memory_mb: float = 4096.0, device=None, plots: bool = True,
                   progress: bool = False, command: str | None = None) -> list[dict]:
    """Train one concept decoder per layer of an activations file and save them in ``out_dir``.

    Parameters
    ----------
    path_or_store : path or ActivationStore
        Labeled activations with train/val/test splits.
    out_dir : path
        Decoders dir: ``decoder_<layer>.pt``, ``decoders.json``, ``metrics.json``, ``metrics.csv``.
    layers, attributes : optional
        Subsets (multilabel attributes only; single-label data keeps every class).
    hidden, dropout, max_epochs, patience, lr, batch_size, seed :
        :class:`ConceptDecoder` settings.
    max_memory_mb : float
        A layer's features must fit in this (decoders train in memory); else extract with pooling.
    command : str, optional
        The command line recorded in summary.json (default: the equivalent ``xaiprobe decode``).

    Returns
    -------
    list of dict
        Test metrics per layer × concept (``layer, concept, auc, auc_lo, auc_hi, acc, bacc, top1``,
        and ``top1_lo, top1_hi`` for single-label data).
    """
    from tqdm.auto import tqdm

    from ..report.style import add_figure_entry, reset_figures, savefig, write_json
    from .run import _check_labels, _check_layers, _open, _rows_by_split

    if command is None:
        from .decode_summaries import decode_train_command

        path = path_or_store if isinstance(path_or_store, (str, os.PathLike)) else getattr(path_or_store, "path", "")
        command = decode_train_command(path, out_dir, layers, attributes, hidden, dropout, max_epochs, patience, lr,
                                       seed, n_boot, plots)
    store, owned = _open(path_or_store)
    try:
        out_dir = ensure_writable_dir(out_dir)
        concept_type = store.concept_type
        names, cols = _check_labels(store, attributes if concept_type != "single" else None)
        layer_list = _check_layers(store, layers)
        rows = _rows_by_split(store.split)
        Y = store.labels[:, cols]
        for a, name in enumerate(names):
            if concept_type != "single" and not M.two_classes(Y[rows["train"], a]):
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
            dec.fit(X["train"], Y[rows["train"]], X["val"] if has_val else None,
                    Y[rows["val"]] if has_val else None, concept_names=names)
            P = dec.predict_proba(X["test"])
            Yt = Y[rows["test"]]
            per = M.probe_metrics(Yt, P, names, n_boot=n_boot, seed=seed)
            top1 = M.top1_accuracy(Yt, P) if concept_type == "single" else float("nan")
            top1_ci = (M.bootstrap_top1(Yt, P, n_boot=n_boot, seed=seed) if concept_type == "single"
                       else (float("nan"), float("nan")))
            for r in per:
                r["concept"] = r.pop("attribute")
                r.update(layer=layer, top1=top1, top1_lo=top1_ci[0], top1_hi=top1_ci[1])
                metric_rows.append(r)
            summary = {"mean_auc": float(np.nanmean([r["auc"] for r in per])) if per else float("nan"), "top1": top1}
            if concept_type == "single":
                summary["confusion"] = M.confusion(Yt, P).tolist()
            fname = decoder_filename(layer)
            dec.save(out_dir / fname, layer=layer, concept_names=names, pooling=la.get("pooling", "none"),
                     module_path=la.get("module_path", ""),
                     extra={"activations": str(store.path), "data": attrs.get("data"), "arch": attrs.get("arch"),
                            "concept_type": concept_type, "test": summary})
            index.append({"layer": layer, "file": fname, "pooling": la.get("pooling", "none"),
                          "module_path": la.get("module_path", ""), "best_epoch": dec.best_epoch_, **summary})
            log.info("decoder %s: mean test AUC %.3f", layer, summary["mean_auc"])
        write_json(out_dir / "decoders.json", {
            "format": "xaiprobe.decoders", "activations": str(store.path), "data": attrs.get("data"),
            "arch": attrs.get("arch"), "checkpoint_sha256": attrs.get("checkpoint_sha256"),
            "concept_type": concept_type, "concept_names": names, "decoders": index})
        cols_out = ["layer", "concept", "auc", "auc_lo", "auc_hi", "acc", "acc_lo", "acc_hi", "bacc", "bacc_lo",
                    "bacc_hi", "top1", "top1_lo", "top1_hi", "n", "pos_rate"]
        write_json(out_dir / "metrics.json", {"columns": cols_out, "rows": metric_rows})
        _write_csv(out_dir / "metrics.csv", metric_rows, cols_out)
        single = concept_type == "single"
        ranked = [e for e in index if finite(e["top1"] if single else e["mean_auc"])]
        best = max(ranked, key=lambda e: e["top1"] if single else e["mean_auc"]) if ranked else None
        write_json(out_dir / "summary.json", {
            "stage": "decoders",
            "findings": decoder_findings(metric_rows, index, single, _probe_means(store, names)),
            "tables": decoder_tables(metric_rows, layer_list, names, index, single), "command": command,
            "activations": str(store.path), "concept_type": concept_type, "concepts": names,
            "per_layer": {e["layer"]: {"mean_auc": e["mean_auc"] if finite(e["mean_auc"]) else None,
                                       "top1": e["top1"] if finite(e["top1"]) else None,
                                       "best_epoch": e["best_epoch"]} for e in index},
            "best_layer": best["layer"] if best else None})
        reset_figures(out_dir)
        if plots and index:
            from .plots import plot_metric_by_layer
            from .run import ProbeReport

            rep = ProbeReport([dict(r, attribute=r["concept"], source="trained") for r in metric_rows], layer_list,
                              names, concept_type)
            metric = "top1" if concept_type == "single" else "auc"
            fig, _ = plot_metric_by_layer(rep, metric, attributes=names[:1] if metric == "top1" else None,
                                          title="Concept decoders (MLP) per layer")
            savefig(fig, out_dir / f"decoder_{metric}_by_layer")
            add_figure_entry(out_dir, f"decoder_{metric}_by_layer.png",
                             "Test metric of the MLP concept decoder of each layer (95% bootstrap band).",
                             "Concept decoders per layer")
        return metric_rows
    finally:
        if owned:
            store.close()


def _load_images(spec: str, model, seed: int, batch_size: int, device):
    """(kind, images (ImageSet or uint8 array), index array, labels or None, names)."""
    from ..data import load_dataset

    if spec.startswith("generated:"):
        n_txt = spec.split(":", 1)[1]
        if not n_txt.isdigit() or int(n_txt) < 1:
            raise XaiprobeError(f"--images {spec!r}: use generated:N with N a positive number of images")
        if model.generator is None:
            raise XaiprobeError(f"--images {spec}: needs a generator; pass --checkpoint C (an xaiprobe checkpoint holds G)")
        from ..data.base import to_uint8_images
        from ..gan.sampling import sample_images

        _, x = sample_images(model.generator, int(n_txt), seed=seed, device=device, batch_size=batch_size)
        u8 = to_uint8_images(x)
        return "generated", u8, np.arange(len(u8)), None, []
    data = load_dataset(spec)
    return "data", data, data.index, data.labels if data.labels.shape[1] else None, list(data.attribute_names)


def _rates(probs: np.ndarray, single: bool) -> tuple[np.ndarray, np.ndarray]:
    """(share predicted positive / predicted as the class, mean probability) per concept."""
    if single:
        pred = np.eye(probs.shape[1])[probs.argmax(1)] if len(probs) else np.zeros((0, probs.shape[1]))
    else:
        pred = probs >= 0.5
    return pred.mean(0), probs.mean(0)


def apply_decoders(decoders, model, images: str, out_dir, real: str | None = None, max_real: int = 2000,
                   batch_size: int = 256, seed: int = 0, device=None, plots: bool = True,
                   command: str | None = None) -> dict:
    """Apply saved decoders to images and write per-image concept probabilities.

    Parameters
    ----------
    decoders : path or dict
        A decoders dir (``load_decoders``) or a dict layer -> ConceptDecoder.
    model : LoadedModel, checkpoint path, or nn.Module
        The discriminator whose activations the decoders read (and G for ``generated:N``).
    images : str
        A data spec (``synthfaces:2000``, ``celeba:DIR``, ``x.h5``), ``folder:DIR`` or ``generated:N``.
    out_dir : path
        A report stage directory: ``concepts.csv`` (per image: one column per layer/concept),
        ``summary.json`` (findings, tables, command), ``figures.json`` and, for generated
        images, ``concepts_real.csv`` (the same for the real images compared with them) and
        ``concept_distribution.json/.csv/.png``.
    real : str, optional
        Data spec of the real images compared with generated ones (default: the data the
        decoders were trained on, else the checkpoint's). The real images are read by the same
        decoders through the same D, so both rates are measured alike; their true label rate
        is reported beside them.
    max_real : int
        Real images used (seeded sample of the test split, or of all rows without splits).
    command : str, optional
        The command line recorded in summary.json (default: the equivalent ``xaiprobe decode``;
        the checkpoint appears in it only when ``model`` is a path).

    Returns
    -------
    dict
        ``{"concepts_csv", "n_images", "kind", "distribution": rows or None, "best_layer",
        "summary", "files": [...]}``.
    """
    from ..activations.plugin import LoadedModel, as_loaded
    from ..report.style import reset_figures, write_json

    if command is None:
        ck = model if isinstance(model, (str, os.PathLike)) else None
        command = decode_apply_command(decoders if isinstance(decoders, (str, os.PathLike)) else None, ck, images,
                                       out_dir, real, max_real, batch_size, seed, plots)
    decs = load_decoders(decoders, device=device) if not isinstance(decoders, dict) else decoders
    lm = model if isinstance(model, LoadedModel) else as_loaded(model)
    out_dir = ensure_writable_dir(out_dir)
    reset_figures(out_dir)
    kind, imgs, index, labels, label_names = _load_images(str(images), lm, seed, batch_size, device)
    probs = decode_images(decs, lm.discriminator, imgs, batch_size=batch_size, device=device)
    layers = list(decs)
    first = decs[layers[0]]
    names = list(first.concept_names_)
    best = best_decoder_layer(decs)
    csv_path = _write_probs_csv(out_dir / "concepts.csv", decs, probs, index)
    result = {"concepts_csv": str(csv_path), "n_images": int(len(index)), "kind": kind, "distribution": None,
              "best_layer": best, "files": [str(csv_path)]}
    summary = {"stage": "decode", "findings": [], "tables": [], "command": command, "images": str(images),
               "n_images": int(len(index)), "layers": layers, "concepts": names, "best_layer": best}
    if kind == "generated":
        spec = real or _real_spec(first, lm)
        if spec is None:
            warnings.warn("generated vs real distribution skipped: no real data spec known; pass --real SPEC", stacklevel=2)
            summary["findings"] = [f"Decoded {len(index)} generated images; no real data to compare with "
                                   "(pass --real SPEC)."]
        else:
            real_set, real_probs = _decode_real(decs, lm, spec, max_real, batch_size, seed, device)
            rows = _distribution_rows(decs, probs, real_set, real_probs)
            result["distribution"] = rows
            real_csv = _write_probs_csv(out_dir / "concepts_real.csv", decs, real_probs, real_set.index)
            cols_d = ["layer", "concept", "generated_rate", "real_rate", "true_rate", "gap", "gap_lo", "gap_hi",
                      "generated_mean_prob", "real_mean_prob", "n_generated", "n_real"]
            write_json(out_dir / "concept_distribution.json", {"real": spec, "generated": str(images),
                                                               "best_layer": best, "columns": cols_d, "rows": rows})
            _write_csv(out_dir / "concept_distribution.csv", rows, cols_d)
            result["files"] += [str(real_csv), str(out_dir / "concept_distribution.json"),
                                str(out_dir / "concept_distribution.csv")]
            summary.update(real=spec, findings=distribution_findings(rows, best, decoder_scores(decs)),
                           tables=distribution_tables(rows, best, spec))
            if plots:
                result["files"] += _distribution_plot(rows, best, out_dir, spec)
    else:
        rates = _decoded_rates(probs[best], decs[best], labels, label_names)
        summary["tables"] = decoded_tables(rates, best, str(images))
        summary["findings"] = _decoded_findings(rates, best, str(images), len(index))
    summary["distribution"] = result["distribution"]
    write_json(out_dir / "summary.json", summary)
    result["summary"] = summary
    return result


def decoder_scores(decs: dict) -> dict:
    """Layer -> the decoder's test score saved with it (top-1 for single-label decoders, else
    mean AUC; NaN when unknown)."""
    out = {}
    for layer, dec in decs.items():
        t = (getattr(dec, "extra_", {}) or {}).get("test") or {}
        v = t.get("top1") if dec.concept_type == "single" else t.get("mean_auc")
        out[layer] = float(v) if finite(v) else float("nan")
    return out


def best_decoder_layer(decs: dict) -> str:
    """The layer whose decoder scored best on its test split (:func:`decoder_scores`); the
    first layer when no scores are known."""
    scores = decoder_scores(decs)
    return max(decs, key=lambda layer: scores[layer] if finite(scores[layer]) else -1)


def _decoded_rates(probs, dec, labels, label_names) -> list[dict]:
    """Per concept of one decoder: decoded rate and, when the images are labeled, the true rate."""
    rate, _ = _rates(probs, dec.concept_type == "single")
    out = []
    for k, c in enumerate(dec.concept_names_):
        true = (float(labels[:, label_names.index(c)].mean()) if labels is not None and c in label_names
                else float("nan"))
        out.append({"concept": c, "decoded_rate": float(rate[k]), "true_rate": true})
    return out


def _decoded_findings(rates: list, layer: str, images: str, n: int) -> list[str]:
    labeled = [r for r in rates if finite(r["true_rate"])]
    line = f"Decoded {n} images of {images} with the {layer} decoder (the best on its test split)"
    if not labeled:
        return [line + "; they carry no labels to compare with."]
    d = max(labeled, key=lambda r: abs(r["decoded_rate"] - r["true_rate"]))
    return [line + f": decoded concept rates are within {100 * abs(d['decoded_rate'] - d['true_rate']):.1f} points "
            f"of the true labels (largest: {d['concept']} {100 * d['decoded_rate']:.1f}% decoded vs "
            f"{100 * d['true_rate']:.1f}% true)."]


def _real_spec(dec, lm):
    data = (getattr(dec, "extra_", {}) or {}).get("data") or {}
    spec = data.get("spec") if isinstance(data, dict) else None
    if spec and spec != "generated":
        return spec
    return lm.data_spec


def concept_distribution(decs, lm, gen_probs, real_spec, max_real=2000, batch_size=256, seed=0, device=None):
    """Rows ``layer, concept, generated_rate, real_rate, true_rate, gap, gap_lo, gap_hi, ...``:
    how often each concept is predicted on generated vs real images (both read by the same
    decoders through the same D), its true rate in the real data, and the difference
    ``gap = generated_rate - real_rate`` with its 95% normal interval."""
    real, real_probs = _decode_real(decs, lm, real_spec, max_real, batch_size, seed, device)
    return _distribution_rows(decs, gen_probs, real, real_probs)


def _decode_real(decs, lm, real_spec, max_real, batch_size, seed, device):
    """(real ImageSet, probabilities per layer) of up to ``max_real`` real images: a seeded
    sample of the test split (rows the decoders were not trained on when the spec is their
    training data), or of all rows when the data has no test split."""
    from ..data import load_dataset

    data = load_dataset(real_spec)
    rows_r = data.rows_of("test")
    if rows_r.size == 0:
        rows_r = np.arange(len(data))
    if rows_r.size > max_real:
        rows_r = np.sort(np.random.default_rng(seed).choice(rows_r, max_real, replace=False))
    real = data.subset(rows_r)
    return real, decode_images(decs, lm.discriminator, real, batch_size=batch_size, device=device)


def _distribution_rows(decs, gen_probs, real, real_probs) -> list[dict]:
    out = []
    for layer, dec in decs.items():
        single = dec.concept_type == "single"
        g_rate, g_mean = _rates(gen_probs[layer], single)
        r_rate, r_mean = _rates(real_probs[layer], single)
        for k, c in enumerate(dec.concept_names_):
            true = float(real.labels[:, real.attribute_names.index(c)].mean()) if c in real.attribute_names else float("nan")
            lo, hi = rate_gap_ci(float(g_rate[k]), len(gen_probs[layer]), float(r_rate[k]), len(real))
            out.append({"layer": layer, "concept": c, "generated_rate": float(g_rate[k]), "real_rate": float(r_rate[k]),
                        "true_rate": true, "gap": float(g_rate[k] - r_rate[k]), "gap_lo": lo, "gap_hi": hi,
                        "generated_mean_prob": float(g_mean[k]), "real_mean_prob": float(r_mean[k]),
                        "n_generated": int(len(gen_probs[layer])), "n_real": int(len(real))})
    return out


def _write_probs_csv(path: Path, decs: dict, probs: dict, index) -> Path:
    """Per image: its row, its index and one probability column per layer/concept."""
    layers = list(decs)
    cols = ["image", "index"] + [f"{layer}/{c}" for layer in layers for c in decs[layer].concept_names_]
    table = np.concatenate([probs[layer] for layer in layers], axis=1) if layers else np.zeros((len(index), 0))
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(cols)
            for i in range(len(index)):
                w.writerow([i, int(index[i])] + [f"{v:.5f}" for v in table[i]])
    return path


def _distribution_plot(rows, layer, out_dir, spec) -> list:
    from ..report.style import add_figure_entry, savefig
    from .plots import plot_concept_distribution

    fig, _ = plot_concept_distribution([r for r in rows if r["layer"] == layer], layer, spec)
    savefig(fig, Path(out_dir) / "concept_distribution")
    add_figure_entry(out_dir, "concept_distribution.png",
                     f"How often each concept appears in generated images vs real {spec} images, both read by the "
                     f"{layer} decoder (the best on its test split), beside the true rate in the real data; bars: 95% "
                     "intervals. A lower generated bar means the GAN under-covers the concept.",
                     "Concepts: generated vs real")
    return [str(Path(out_dir) / "concept_distribution.png")]
