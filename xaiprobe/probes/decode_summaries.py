"""What the concept-decoder stages' numbers say: the report tables, one-line findings and the
command for the ``summary.json`` of decoder training and of decoding images (generated vs real
concept rates). Numbers are formatted as in :mod:`xaiprobe.probes.summaries`.
"""
from __future__ import annotations

import math

import numpy as np

from .._utils.command import command_line
from .._utils.numeric import finite
from .summaries import MAX_LISTED, NAN, WEAK_AUC, _listing, ci_cell, f3, pct, signed, with_ci

#: on real images, decoded concept rates further than this from the true label rates are
#: reported as a biased decoder
DECODER_BIAS = 0.05
#: an MLP decoder whose mean AUC beats the linear probe of its layer by more than this reads
#: something non-linear
NONLINEAR_GAIN = 0.02
#: two-sided 95% normal quantile
Z95 = 1.959964


# ------------------------------------------------------------------------ concept decoders
def decoder_tables(metric_rows: list, layers: list, names: list, index: list, single: bool) -> list[dict]:
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
            row.append(ci_cell(e.get("top1"), r0.get("top1_lo"), r0.get("top1_hi")))
        row.append(f3(e.get("mean_auc")))
        row += [f3(by.get((layer, c), {}).get("auc")) for c in names]
        row.append(e.get("best_epoch", "—"))
        rows.append(row)
    what = "class (one vs rest)" if single else "concept"
    return [{"title": f"Concept decoders (MLP): test AUC per layer and {what}", "columns": cols, "rows": rows}]


def decoder_findings(metric_rows: list, index: list, single: bool, probe_means: dict | None = None) -> list[str]:
    """Best decoder layer (and the weakest), best layer per concept, and the linear probes of
    the same layers when ``probe_means`` (layer -> mean probe AUC) is given."""
    out = []
    if not index:
        return out
    key = "top1" if single else "mean_auc"
    ok = [e for e in index if finite(e.get(key))]
    if not ok:
        return out
    b = max(ok, key=lambda e: e[key])
    names = list(dict.fromkeys(r["concept"] for r in metric_rows))
    if single:
        r0 = next((r for r in metric_rows if r["layer"] == b["layer"]), {})
        line = (f"Best decoder layer {b['layer']}: top-1 {with_ci(b['top1'], r0.get('top1_lo'), r0.get('top1_hi'))} "
                f"over {len(names)} classes (chance {1 / max(len(names), 1):.3f}), mean one-vs-rest AUC {f3(b['mean_auc'])}")
    else:
        line = f"Best decoder layer {b['layer']}: mean test AUC {f3(b['mean_auc'])} over {len(names)} concepts"
    if len(ok) > 1:
        w = min(ok, key=lambda e: e[key])
        line += f"; weakest {w['layer']} ({f3(w[key])})"
    out.append(line + ".")
    per = []
    for c in names:
        rows = [r for r in metric_rows if r["concept"] == c and finite(r["auc"])]
        if rows:
            r = max(rows, key=lambda r: r["auc"])
            per.append((c, r))
    if per and len(per) <= MAX_LISTED:
        out.append("Best layer per concept: " + "; ".join(
            f"{c} {r['layer']} {with_ci(r['auc'], r['auc_lo'], r['auc_hi'])}" for c, r in per) + ".")
    elif per:
        counts: dict = {}
        for _, r in per:
            counts[r["layer"]] = counts.get(r["layer"], 0) + 1
        out.append("Best layer per class: " + ", ".join(f"{layer} for {n}" for layer, n in
                                                         sorted(counts.items(), key=lambda t: -t[1])) + ".")
    if probe_means:
        pairs = [(e["layer"], e["mean_auc"], probe_means[e["layer"]]) for e in ok
                 if e["layer"] in probe_means and finite(probe_means[e["layer"]]) and finite(e["mean_auc"])]
        if pairs:
            diff = [d - p for _, d, p in pairs]
            i = int(np.argmax(np.abs(diff)))
            layer, d, p = pairs[i]
            verdict = ("the MLP reads more than a linear probe: part of what the layers hold about the concepts is "
                       "non-linear" if max(diff) > NONLINEAR_GAIN else "the MLP reads no more than a linear probe: what "
                       "the layers hold about the concepts is linearly readable")
            out.append(f"Against the linear probes of the same layers, mean AUC differs by {min(diff):+.3f} to "
                       f"{max(diff):+.3f} (largest at {layer}: {d:.3f} vs {p:.3f}); {verdict}.")
    return out


def decode_train_command(path, out_dir, layers, attributes, hidden, dropout, max_epochs, patience, lr, seed,
                         n_boot, plots) -> str:
    """The ``xaiprobe decode --activations`` command line equivalent to a train_decoders call."""
    return command_line("decode", [
        ("--activations", str(path)), ("--out", str(out_dir)), ("--layer", layers),
        ("--attribute", attributes), ("--hidden", None if hidden == 256 else hidden),
        ("--dropout", None if dropout == 0.2 else dropout), ("--epochs", None if max_epochs == 200 else max_epochs),
        ("--patience", None if patience == 15 else patience), ("--lr", None if lr == 1e-3 else lr),
        ("--bootstrap", None if n_boot == 200 else n_boot), ("--seed", seed or None), ("--no-plots", not plots)])


# ------------------------------------------------------------- decoded concepts (apply)
def rate_gap_ci(g: float, ng: int, r: float, nr: int) -> tuple[float, float]:
    """95% normal interval of the difference of two independent proportions ``g - r``."""
    se = math.sqrt(max(g * (1 - g), 0) / max(ng, 1) + max(r * (1 - r), 0) / max(nr, 1))
    d = g - r
    return d - Z95 * se, d + Z95 * se


def distribution_tables(rows: list, layer: str, real: str) -> list[dict]:
    """Concept rates at ``layer`` (true, decoded real, decoded generated, difference with its
    interval), and the generated − real difference at every layer."""
    at = [r for r in rows if r["layer"] == layer]
    cols = ["concept", "real: true labels", "real: decoded", "generated: decoded", "generated − real [95% CI]",
            "real: mean prob.", "generated: mean prob."]
    t_rows = []
    for r in at:
        lo, hi = r.get("gap_lo", NAN), r.get("gap_hi", NAN)
        t_rows.append([r["concept"], f3(r["true_rate"]), f3(r["real_rate"]), f3(r["generated_rate"]),
                       (f"{r['gap']:+.3f}\u00a0[{lo:+.3f},\u00a0{hi:+.3f}]" if finite(lo) and finite(hi)
                        else signed(r["gap"])),
                       f3(r["real_mean_prob"]), f3(r["generated_mean_prob"])])
    n_g = at[0]["n_generated"] if at else 0
    n_r = at[0]["n_real"] if at else 0
    t1 = {"title": f"Share of images with each concept as the {layer} decoder reads them: {n_g} generated vs "
                   f"{n_r} real ({real}) images", "columns": cols, "rows": t_rows}
    layers = list(dict.fromkeys(r["layer"] for r in rows))
    concepts = list(dict.fromkeys(r["concept"] for r in rows))
    by = {(r["layer"], r["concept"]): r for r in rows}
    t2 = {"title": "Generated − real decoded rate, per decoder layer (a consistent sign across layers is a "
                   "robust reading)", "columns": ["layer"] + concepts,
          "rows": [[la] + [signed(by.get((la, c), {}).get("gap")) for c in concepts] for la in layers]}
    return [t1, t2]


def distribution_findings(rows: list, layer: str, layer_scores: dict | None = None, good: float = WEAK_AUC) -> list[str]:
    """Which concepts the GAN under- and over-produces (the 95% interval of the difference
    excludes 0), which match, whether the other good decoders (``layer_scores``: layer -> test
    mean AUC or top-1, at least ``good``) see the same direction, and whether the decoder reads
    the real images' true rates."""
    at = [r for r in rows if r["layer"] == layer]
    if not at:
        return []
    n_g, n_r = at[0]["n_generated"], at[0]["n_real"]
    under = sorted([r for r in at if finite(r.get("gap_hi")) and r["gap_hi"] < 0], key=lambda r: r["gap"])
    over = sorted([r for r in at if finite(r.get("gap_lo")) and r["gap_lo"] > 0], key=lambda r: -r["gap"])
    same = [r for r in at if r not in under and r not in over]

    def one(r):
        return (f"{r['concept']} in {pct(r['generated_rate'])} of samples vs {pct(r['real_rate'])} of real images "
                f"(difference {100 * r['gap']:+.1f} points, 95% CI {100 * r['gap_lo']:+.1f} to {100 * r['gap_hi']:+.1f})")

    out = []
    lens = f"as D's {layer} decoder sees them, {n_g} generated vs {n_r} real images"
    if under:
        out.append(f"The GAN under-produces ({lens}): " + "; ".join(one(r) for r in under[:MAX_LISTED]) + ".")
    if over:
        out.append(f"The GAN over-produces ({lens}): " + "; ".join(one(r) for r in over[:MAX_LISTED]) + ".")
    if same:
        items = [f"{r['concept']} {pct(r['generated_rate'])} vs {pct(r['real_rate'])}" for r in same]
        out.append(f"Generated and real rates agree within noise (95% CI of the difference includes 0): "
                   f"{_listing(items, 'concepts')}.")
    others = [la for la, v in (layer_scores or {}).items() if la != layer and finite(v) and v >= good]
    if others and (under or over):
        by = {(r["layer"], r["concept"]): r for r in rows}
        agree = []
        for r in under + over:
            signs = [np.sign(by[(la, r["concept"])]["gap"]) for la in others if (la, r["concept"]) in by]
            agree.append(f"{r['concept']} {sum(int(x == np.sign(r['gap'])) for x in signs)} of {len(signs)}")
        out.append(f"Other decoders (test score ≥ {good:g}: {', '.join(others)}) that see the same direction: "
                   + ", ".join(agree) + "; generated images are new inputs to the decoders, so trust a direction "
                   "most where the layers agree.")
    bias = [(abs(r["real_rate"] - r["true_rate"]), r) for r in at if finite(r["true_rate"])]
    if bias:
        d, r = max(bias, key=lambda t: t[0])
        if d <= DECODER_BIAS:
            out.append(f"On the real images the {layer} decoder's rates are within {100 * d:.1f} points of the true "
                       f"labels (largest: {r['concept']} {pct(r['real_rate'])} decoded vs {pct(r['true_rate'])} true), "
                       "so both sides are read through the same, faithful lens.")
        else:
            out.append(f"On the real images the {layer} decoder's rates differ from the true labels by up to "
                       f"{100 * d:.1f} points ({r['concept']} {pct(r['real_rate'])} decoded vs {pct(r['true_rate'])} "
                       "true): compare generated with decoded real rates, not with the labels.")
    return out


def decoded_tables(rates: list, layer: str, images: str) -> list[dict]:
    """Decoded vs true rate per concept of a labeled (non-generated) image set."""
    return [{"title": f"Share of {images} images with each concept, decoded at {layer} vs the true labels",
             "columns": ["concept", "decoded", "true labels", "decoded − true"],
             "rows": [[r["concept"], f3(r["decoded_rate"]), f3(r["true_rate"]),
                       signed(r["decoded_rate"] - r["true_rate"]) if finite(r["true_rate"]) else "—"] for r in rates]}]


def decode_apply_command(decoders, checkpoint, images, out_dir, real, max_real, batch_size, seed, plots) -> str:
    """The ``xaiprobe decode --decoders`` command line of an apply_decoders call."""
    return command_line("decode", [
        ("--decoders", None if decoders is None else str(decoders)),
        ("--checkpoint", None if checkpoint is None else str(checkpoint)), ("--images", str(images)),
        ("--real", real), ("--max-real", None if max_real == 2000 else max_real),
        ("--batch-size", None if batch_size == 256 else batch_size), ("--seed", seed or None),
        ("--out", str(out_dir)), ("--no-plots", not plots)])
