"""The ``concepts`` stage: concept decoders applied to images — a data set, a folder or generated ones.

``xaiprobe concepts --decoders RUN/decoders --checkpoint C --images generated:1000 --out RUN``
reads every image through the discriminator the decoders were trained on and writes
RUN/concepts/: ``concepts.csv`` (per image, named by its file for ``folder:DIR``: one probability
per layer/concept) and, for ``generated:N``, the concept distribution of generated against real
images read by the same decoders (``concepts_real.csv``, ``concept_distribution.json/.csv/.png``),
with the real images' true label rates beside them; and the report's *Decoded concepts* section.
"""
from __future__ import annotations

import csv
import logging
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._layout import stage_dir
from .._utils.errors import XaiprobeError
from .._utils.figures import write_json
from .._utils.io import atomic_path, ensure_writable_dir
from .._utils.numeric import finite, fmt
from .._utils.outputs import exclusive, staged_dir
from ..activations import LoadedModel, ModelOptions, as_loaded
from ..config import param
from ..report import Section, Table
from ._io import write_csv
from ._stage import MAX_LISTED, WEAK_AUC, listing, percent
from .decoders import decode_images, decoder_index, load_decoders

log = logging.getLogger(__name__)

NAME = "concepts"
TITLE = "Decoded concepts"
ORDER = 45
HELP = "apply concept decoders to a data set, a folder of images or generated:N (generated vs real concept rates)"

#: on real images, decoded concept rates further than this from the true labels are reported as
#: a biased decoder
DECODER_BIAS = 0.05
#: two-sided 95% normal quantile
Z95 = 1.959964
NAN = float("nan")
DISTRIBUTION_COLUMNS = ["layer", "concept", "generated_rate", "real_rate", "true_rate", "gap", "gap_lo", "gap_hi",
                        "generated_mean_prob", "real_mean_prob", "n_generated", "n_real"]


def _load_images(spec: str, model, seed: int, batch_size: int, device):
    """(kind, images (ImageSet or uint8 array), index array, labels or None, names, file names or None)."""
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
        return "generated", u8, np.arange(len(u8)), None, [], None
    data = load_dataset(spec)
    files = (data.info or {}).get("files")
    files = list(files) if files is not None and len(files) == len(data) else None
    return ("data", data, data.index, data.labels if data.labels.shape[1] else None, list(data.attribute_names),
            files)


def rates(probs: np.ndarray, single: bool) -> tuple[np.ndarray, np.ndarray]:
    """(share predicted positive / predicted as the class, mean probability) per concept."""
    if single:
        pred = np.eye(probs.shape[1])[probs.argmax(1)] if len(probs) else np.zeros((0, probs.shape[1]))
    else:
        pred = probs >= 0.5
    return pred.mean(0), probs.mean(0)


def apply_decoders(decoders, model, images: str, out_dir, real: str | None = None, max_real: int = 2000,
                   batch_size: int = 256, seed: int = 0, device=None, plots: bool = True) -> dict:
    """Apply saved decoders to images and write per-image concept probabilities.

    Parameters
    ----------
    decoders : path or dict
        A decoders dir (``xaiprobe decode``: RUN/decoders) or a dict layer -> ConceptDecoder.
    model : LoadedModel, checkpoint path, or nn.Module
        The discriminator whose activations the decoders read (and G for ``generated:N``).
    images : str
        A data spec (``synthfaces:2000``, ``celeba:DIR``, ``x.h5``), ``folder:DIR`` or ``generated:N``.
    out_dir : path
        Written only when everything worked: ``concepts.csv`` (per image: its name, its index and
        one column per layer/concept) and, for generated images, ``concepts_real.csv`` (the same
        for the real images compared with them) and ``concept_distribution.json/.csv/.png``.
    real : str, optional
        Data spec of the real images compared with generated ones (default: the data the
        decoders were trained on, else the checkpoint's). The real images are read by the same
        decoders through the same D, so both rates are measured alike; their true label rate
        is reported beside them.
    max_real : int
        Real images used (seeded sample of the test split, or of all rows without splits).

    Returns
    -------
    dict
        ``{"concepts_csv", "n_images", "kind", "images", "layers", "concepts", "best_layer",
        "scores", "distribution": rows or None, "real", "rates": rows or None, "figures", "files"}``.
    """
    index_info = decoder_index(decoders) if isinstance(decoders, (str, os.PathLike)) else {}
    decs = load_decoders(decoders, device=device) if not isinstance(decoders, dict) else decoders
    lm = model if isinstance(model, LoadedModel) else as_loaded(model)
    out_dir = Path(out_dir)
    ensure_writable_dir(out_dir.parent)
    scores = decoder_scores(decs, index_info)
    kind, imgs, index, labels, label_names, files = _load_images(str(images), lm, seed, batch_size, device)
    probs = decode_images(decs, lm.discriminator, imgs, batch_size=batch_size, device=device)
    layers = list(decs)
    first = decs[layers[0]]
    best = best_decoder_layer(decs, scores)
    result = {"n_images": int(len(index)), "kind": kind, "images": str(images), "layers": layers,
              "concepts": list(first.concept_names_), "best_layer": best, "scores": scores, "distribution": None,
              "real": None, "rates": None, "figures": [], "files": []}
    with exclusive(out_dir, "concepts run"), staged_dir(out_dir) as tmp:
        written = [_write_probs_csv(tmp / "concepts.csv", decs, probs, index, files)]
        if kind == "generated":
            spec = real or _real_spec(index_info, lm)
            if spec is None:
                warnings.warn("generated vs real distribution skipped: no real data spec known; pass --real SPEC",
                              stacklevel=2)
            else:
                real_set, real_probs = _decode_real(decs, lm, spec, max_real, batch_size, seed, device)
                rows = _distribution_rows(decs, probs, real_set, real_probs)
                result.update(distribution=rows, real=spec)
                written.append(_write_probs_csv(tmp / "concepts_real.csv", decs, real_probs, real_set.index))
                written.append(write_json(tmp / "concept_distribution.json", {
                    "real": spec, "generated": str(images), "best_layer": best, "columns": DISTRIBUTION_COLUMNS,
                    "rows": rows}))
                written.append(write_csv(tmp / "concept_distribution.csv", rows, DISTRIBUTION_COLUMNS))
                if plots:
                    result["figures"].append(_distribution_plot(rows, best, tmp, spec))
                    written.append(tmp / "concept_distribution.png")
        else:
            result["rates"] = _decoded_rates(probs[best], decs[best], labels, label_names)
    result["files"] = [str(out_dir / Path(p).name) for p in written]
    result["concepts_csv"] = str(out_dir / "concepts.csv")
    return result


def decoder_scores(decs: dict, index_info: dict | None = None) -> dict:
    """Layer -> the decoder's test score recorded in ``decoders.json`` (top-1 for single-label
    decoders, else mean AUC; NaN when unknown)."""
    saved = {e.get("layer"): e for e in (index_info or {}).get("decoders", []) if isinstance(e, dict)}
    out = {}
    for layer, dec in decs.items():
        t = saved.get(layer, {})
        v = t.get("mean_auc") if dec.multilabel_ else t.get("top1")
        out[layer] = float(v) if finite(v) else NAN
    return out


def best_decoder_layer(decs: dict, scores: dict) -> str:
    """The layer whose decoder scored best on its test split; the first layer when no scores are known."""
    return max(decs, key=lambda layer: scores[layer] if finite(scores[layer]) else -1)


def _decoded_rates(probs, dec, labels, label_names) -> list[dict]:
    """Per concept of one decoder: decoded rate and, when the images are labeled, the true rate."""
    rate, _ = rates(probs, not dec.multilabel_)
    out = []
    for k, c in enumerate(dec.concept_names_):
        true = (float(labels[:, label_names.index(c)].mean()) if labels is not None and c in label_names
                else NAN)
        out.append({"concept": c, "decoded_rate": float(rate[k]), "true_rate": true})
    return out


def _real_spec(index_info: dict, lm):
    data = index_info.get("data") or {}
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
        single = not dec.multilabel_
        g_rate, g_mean = rates(gen_probs[layer], single)
        r_rate, r_mean = rates(real_probs[layer], single)
        for k, c in enumerate(dec.concept_names_):
            true = float(real.labels[:, real.attribute_names.index(c)].mean()) if c in real.attribute_names else float("nan")
            lo, hi = rate_gap_ci(float(g_rate[k]), len(gen_probs[layer]), float(r_rate[k]), len(real))
            out.append({"layer": layer, "concept": c, "generated_rate": float(g_rate[k]), "real_rate": float(r_rate[k]),
                        "true_rate": true, "gap": float(g_rate[k] - r_rate[k]), "gap_lo": lo, "gap_hi": hi,
                        "generated_mean_prob": float(g_mean[k]), "real_mean_prob": float(r_mean[k]),
                        "n_generated": int(len(gen_probs[layer])), "n_real": int(len(real))})
    return out


def _write_probs_csv(path: Path, decs: dict, probs: dict, index, names=None) -> Path:
    """Per image: its name (the file of a folder image, else its row), its index and one
    probability column per layer/concept."""
    layers = list(decs)
    cols = ["image", "index"] + [f"{layer}/{c}" for layer in layers for c in decs[layer].concept_names_]
    table = np.concatenate([probs[layer] for layer in layers], axis=1) if layers else np.zeros((len(index), 0))
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(cols)
            for i in range(len(index)):
                w.writerow([names[i] if names is not None else i, int(index[i])] + [f"{v:.5f}" for v in table[i]])
    return path


def _distribution_plot(rows, layer, out_dir, spec):
    from ._plots import plot_concept_distribution, save_figure

    fig, _ = plot_concept_distribution([r for r in rows if r["layer"] == layer], layer, spec)
    return save_figure(fig, out_dir, "concept_distribution", "Concepts: generated vs real",
                       f"How often each concept appears in generated images vs real {spec} images, both read by the "
                       f"{layer} decoder (the best on its test split), beside the true rate in the real data; bars: "
                       "95% intervals. A lower generated bar means the GAN under-covers the concept.")


# ------------------------------------------------------------------------------- the stage
@dataclass
class Config(ModelOptions):
    """The decoders, the discriminator they read, and the images to decode."""

    stage = "concepts"
    decoders: str = param(help="decoders directory written by `xaiprobe decode` (RUN/decoders)", required=True,
                          path=True)
    images: str = param(help="images to decode: a data spec (synthfaces:N, celeba:DIR, STORE.h5, digits), "
                             "folder:DIR or generated:N (the checkpoint's generator)", required=True)
    real: str | None = param(None, "data spec of the real images compared with generated:N (none: the decoders' "
                                   "training data)")
    max_real: int = param(2000, "real images used for the comparison", low=1)
    batch_size: int = param(256, "images per forward pass", low=1)
    plots: bool = param(True, "draw the figure (else tables only)")
    seed: int = param(0, "seed of the generated latents and of the real-image sample", low=0)
    device: str | None = param(None, "cpu, cuda or cuda:N (none: cuda when present)")

    def check(self) -> None:
        super().check()
        if self.images.startswith("generated:"):
            n = self.images.split(":", 1)[1]
            if not n.isdigit() or int(n) < 1:
                raise XaiprobeError(f"--images {self.images!r}: use generated:N with N a positive number of images")


@dataclass
class Result:
    config: Config
    applied: dict


def run(config: Config, run_dir) -> Result:
    """Decode the images into RUN/concepts/."""
    from .._utils.device import resolve_device

    device = resolve_device(config.device)
    lm = config.load_model(device=device)
    res = apply_decoders(config.decoders, lm, config.images, stage_dir(run_dir, NAME),
                         real=config.real, max_real=config.max_real, batch_size=config.batch_size, seed=config.seed,
                         device=device, plots=config.plots)
    return Result(config, res)


def section(result: Result) -> Section:
    """The Decoded concepts section: generated vs real concept rates, or decoded vs true rates."""
    res = result.applied
    best, n = res["best_layer"], res["n_images"]
    numbers = {"n_images": n, "best_layer": best, "kind": res["kind"]}
    if res["distribution"] is not None:
        rows = res["distribution"]
        findings = distribution_findings(rows, best, res["scores"])
        tables = distribution_tables(rows, best, res["real"])
        numbers["real"] = res["real"]
        numbers.update(gap_verdicts(rows, best))
        numbers["rates"] = {f"{r['layer']}/{r['concept']}": {k: r[k] for k in ("generated_rate", "real_rate",
                                                                              "true_rate", "gap", "gap_lo", "gap_hi")}
                            for r in rows}
    elif res["kind"] == "generated":
        findings = [f"Decoded {n} generated images; no real data to compare with (pass --real SPEC)."]
        tables = []
    else:
        findings = decoded_findings(res["rates"], best, res["images"], n)
        tables = decoded_tables(res["rates"], best, res["images"])
        numbers["rates"] = {r["concept"]: {"decoded_rate": r["decoded_rate"], "true_rate": r["true_rate"]}
                            for r in res["rates"]}
    return Section(stage=NAME, title=TITLE, order=ORDER, headline=findings[0] if findings else "", findings=findings,
                   tables=tables, figures=list(res["figures"]), command=[result.config.command()], numbers=numbers)


def rate_gap_ci(g: float, ng: int, r: float, nr: int) -> tuple[float, float]:
    """95% normal interval of the difference of two independent proportions ``g - r``."""
    se = math.sqrt(max(g * (1 - g), 0) / max(ng, 1) + max(r * (1 - r), 0) / max(nr, 1))
    d = g - r
    return d - Z95 * se, d + Z95 * se


def distribution_tables(rows: list, layer: str, real: str) -> list[Table]:
    """Concept rates at ``layer`` (true, decoded real, decoded generated, difference with its
    interval), and the generated − real difference at every layer."""
    at = [r for r in rows if r["layer"] == layer]
    cols = ["concept", "real: true labels", "real: decoded", "generated: decoded", "generated − real [95% CI]",
            "real: mean prob.", "generated: mean prob."]
    t_rows = []
    for r in at:
        lo, hi = r.get("gap_lo", NAN), r.get("gap_hi", NAN)
        t_rows.append([r["concept"], fmt(r["true_rate"]), fmt(r["real_rate"]), fmt(r["generated_rate"]),
                       (f"{fmt(r['gap'], sign=True)}\u00a0[{fmt(lo, sign=True)},\u00a0{fmt(hi, sign=True)}]"
                        if finite(lo) and finite(hi) else fmt(r["gap"], sign=True)),
                       fmt(r["real_mean_prob"]), fmt(r["generated_mean_prob"])])
    n_g = at[0]["n_generated"] if at else 0
    n_r = at[0]["n_real"] if at else 0
    t1 = Table(f"Share of images with each concept as the {layer} decoder reads them: {n_g} generated vs "
               f"{n_r} real ({real}) images", cols, t_rows)
    layers = list(dict.fromkeys(r["layer"] for r in rows))
    concepts = list(dict.fromkeys(r["concept"] for r in rows))
    by = {(r["layer"], r["concept"]): r for r in rows}
    t2 = Table("Generated − real decoded rate, per decoder layer (a consistent sign across layers is a robust reading)",
               ["layer"] + concepts, [[la] + [fmt(by.get((la, c), {}).get("gap"), sign=True) for c in concepts]
                                      for la in layers])
    return [t1, t2]


def gap_verdicts(rows: list, layer: str) -> dict:
    """The concepts at ``layer`` the GAN under- and over-produces (the 95% interval of the
    generated − real difference excludes 0, largest difference first), those that agree within
    noise, and the largest distance of a decoded real rate from the true label rate."""
    at = [r for r in rows if r["layer"] == layer]
    under = sorted([r for r in at if finite(r.get("gap_hi")) and r["gap_hi"] < 0], key=lambda r: r["gap"])
    over = sorted([r for r in at if finite(r.get("gap_lo")) and r["gap_lo"] > 0], key=lambda r: -r["gap"])
    bias = [(abs(r["real_rate"] - r["true_rate"]), r["concept"]) for r in at if finite(r["true_rate"])]
    d, c = max(bias) if bias else (NAN, None)
    return {"under": [r["concept"] for r in under], "over": [r["concept"] for r in over],
            "same": [r["concept"] for r in at if r not in under and r not in over], "max_bias": d,
            "max_bias_concept": c}


def distribution_findings(rows: list, layer: str, layer_scores: dict | None = None, good: float = WEAK_AUC) -> list[str]:
    """Which concepts the GAN under- and over-produces (:func:`gap_verdicts`), which match,
    whether the other good decoders (``layer_scores``: layer -> test mean AUC or top-1, at least
    ``good``) see the same direction, and whether the decoder reads the real images' true rates."""
    by = {(r["layer"], r["concept"]): r for r in rows}
    at = [r for r in rows if r["layer"] == layer]
    if not at:
        return []
    v = gap_verdicts(rows, layer)
    under = [by[(layer, c)] for c in v["under"]]
    over = [by[(layer, c)] for c in v["over"]]
    same = [by[(layer, c)] for c in v["same"]]
    n_g, n_r = at[0]["n_generated"], at[0]["n_real"]

    def one(r):
        return (f"{r['concept']} in {percent(r['generated_rate'])} of samples vs {percent(r['real_rate'])} of real "
                f"images (difference {fmt(100 * r['gap'], 1, sign=True)} points, 95% CI "
                f"{fmt(100 * r['gap_lo'], 1, sign=True)} to {fmt(100 * r['gap_hi'], 1, sign=True)})")

    out = []
    lens = f"as D's {layer} decoder sees them, {n_g} generated vs {n_r} real images"
    if under:
        out.append(f"The GAN under-produces ({lens}): " + "; ".join(one(r) for r in under[:MAX_LISTED]) + ".")
    if over:
        out.append(f"The GAN over-produces ({lens}): " + "; ".join(one(r) for r in over[:MAX_LISTED]) + ".")
    if same:
        items = [f"{r['concept']} {percent(r['generated_rate'])} vs {percent(r['real_rate'])}" for r in same]
        out.append(f"Generated and real rates agree within noise (95% CI of the difference includes 0): "
                   f"{listing(items, 'concepts')}.")
    others = [la for la, x in (layer_scores or {}).items() if la != layer and finite(x) and x >= good]
    if others and (under or over):
        agree = []
        for r in under + over:
            signs = [np.sign(by[(la, r["concept"])]["gap"]) for la in others if (la, r["concept"]) in by]
            agree.append(f"{r['concept']} {sum(int(x == np.sign(r['gap'])) for x in signs)} of {len(signs)}")
        out.append(f"Other decoders (test score ≥ {good:g}: {', '.join(others)}) that see the same direction: "
                   + ", ".join(agree) + "; generated images are new inputs to the decoders, so trust a direction "
                   "most where the layers agree.")
    if v["max_bias_concept"] is not None:
        d, r = v["max_bias"], by[(layer, v["max_bias_concept"])]
        if d <= DECODER_BIAS:
            out.append(f"On the real images the {layer} decoder's rates are within {fmt(100 * d, 1)} points of the true "
                       f"labels (largest: {r['concept']} {percent(r['real_rate'])} decoded vs {percent(r['true_rate'])} "
                       "true), so both sides are read through the same, faithful lens.")
        else:
            out.append(f"On the real images the {layer} decoder's rates differ from the true labels by up to "
                       f"{fmt(100 * d, 1)} points ({r['concept']} {percent(r['real_rate'])} decoded vs "
                       f"{percent(r['true_rate'])} true): compare generated with decoded real rates, not with the labels.")
    return out


def decoded_tables(rates_: list, layer: str, images: str) -> list[Table]:
    """Decoded vs true rate per concept of a labeled (non-generated) image set."""
    return [Table(f"Share of {images} images with each concept, decoded at {layer} vs the true labels",
                  ["concept", "decoded", "true labels", "decoded − true"],
                  [[r["concept"], fmt(r["decoded_rate"]), fmt(r["true_rate"]),
                    fmt(r["decoded_rate"] - r["true_rate"], sign=True) if finite(r["true_rate"]) else "—"]
                   for r in rates_])]


def decoded_findings(rates_: list, layer: str, images: str, n: int) -> list[str]:
    """How far the decoded rates of a labeled image set are from its true labels."""
    labeled = [r for r in rates_ if finite(r["true_rate"])]
    line = f"Decoded {n} images of {images} with the {layer} decoder (the best on its test split)"
    if not labeled:
        return [line + "; they carry no labels to compare with."]
    d = max(labeled, key=lambda r: abs(r["decoded_rate"] - r["true_rate"]))
    return [line + f": decoded concept rates are within {fmt(100 * abs(d['decoded_rate'] - d['true_rate']), 1)} points "
            f"of the true labels (largest: {d['concept']} {percent(d['decoded_rate'])} decoded vs "
            f"{percent(d['true_rate'])} true)."]
