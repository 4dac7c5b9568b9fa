"""What the editing stage's numbers say: the tables, findings, headline and numbers of its section.

Everything here reads the measurements of :func:`xaiprobe.editing.run` (the quality rows, the
per-method means, D's concept curves, the classifier's metrics) and turns them into the
section's tables and one-line findings.
"""
from __future__ import annotations

import numpy as np

from .._utils.numeric import finite, fmt
from ..report import Table

#: a concept decoder "follows" an edit when its probability rises by at least this much from
#: the lowest to the highest α at some layer
FOLLOW_DELTA = 0.2
#: ... and "opposes" it when it falls by at least this much at some layer while following nowhere
OPPOSE_DELTA = 0.2

#: a classifier attribute below this balanced accuracy is too weak to measure its edit
WEAK_CLASSIFIER = 0.65
#: quality-row key -> column title in the report tables
QUALITY_COLUMNS = [("slope", "slope (logit/α)"), ("spearman", "spearman ρ"), ("monotonic_frac", "monotonic"),
                   ("leakage", "leakage"), ("pixel_change", "pixel Δ/α"), ("outside_change", "outside Δ/α"),
                   ("outside_ratio", "outside ratio"), ("cosine_to_lstsq", "cos to lstsq")]


def _value(v) -> float:
    """A measured value as a float (NaN when missing)."""
    return float(v) if finite(v) else float("nan")


def quality_tables(rows: list, by_method: dict) -> list[Table]:
    """Report tables of the edit quality: one row per method × attribute, then the per-method means."""
    keys = [k for k, _ in QUALITY_COLUMNS]
    heads = [h for _, h in QUALITY_COLUMNS]
    per = Table("Edit quality per direction method × attribute (classifier logits of the edited images)",
                ["method", "attribute", *heads],
                [[r["method"], r["attribute"], *[_value(r.get(k)) for k in keys]] for r in rows])
    means = Table("Per-method means over the edited attributes", ["method", *heads],
                  [[m, *[_value(s.get(k)) for k in keys]] for m, s in by_method.items()])
    return [per, means]


def _ends(alphas) -> tuple[int, int]:
    """Indices of the lowest and the highest α."""
    a = np.asarray(alphas, np.float64)
    return int(np.argmin(a)), int(np.argmax(a))


def concept_changes(cc: dict) -> dict:
    """attribute -> {layer: (start, end)} of D's decoded probability of the edited attribute.

    Start is at the lowest α, end at the highest; layers whose decoders lack the attribute
    are left out.
    """
    lo, hi = _ends(cc["alphas"])
    out = {}
    for at, layers in cc.get("curves", {}).items():
        ends = {layer: (float(np.asarray(c[at])[lo]), float(np.asarray(c[at])[hi]))
                for layer, c in layers.items() if at in c}
        if ends:
            out[at] = ends
    return out


def concept_table(cc: dict) -> Table | None:
    """Report table of D's decoded concept along each edit: start → end probability per layer."""
    changes = concept_changes(cc)
    if not changes:
        return None
    layers = list(dict.fromkeys(layer for ends in changes.values() for layer in ends))
    a = np.asarray(cc["alphas"], np.float64)
    rows = []
    for at, ends in changes.items():
        best = max(ends, key=lambda la: ends[la][1] - ends[la][0])
        delta = ends[best][1] - ends[best][0]
        cells = [f"{fmt(ends[la][0], 2)} → {fmt(ends[la][1], 2)}" if la in ends else fmt(None) for la in layers]
        rows.append([at, *cells, f"{best} ({delta:+.2f})"])
    return Table(f"D's decoded P(attribute) along the {cc.get('method', '')} edit of that attribute: "
                 f"α = {a.min():g} → {a.max():g} (mean over {cc.get('n', '?')} latents)",
                 ["edited attribute", *layers, "largest rise"], rows)


def _method_findings(rows: list, by_method: dict, balanced: dict) -> tuple[list[str], list[str]]:
    """(headline findings, secondary findings) of the quality table."""
    head, more = [], []
    means = {m: s for m, s in by_method.items() if finite(s.get("leakage"))}
    if len(means) > 1:
        least = min(means, key=lambda m: means[m]["leakage"])
        ref = "lstsq" if "lstsq" in means and least != "lstsq" else max(
            (m for m in means if m != least), key=lambda m: means[m]["slope"])
        s0, s1 = _value(means[ref]["slope"]), _value(means[least]["slope"])
        cost = (f"its mean slope is {s1:.3f} vs {s0:.3f} logit/α ({100 * (s1 - s0) / abs(s0):+.0f}%)"
                if abs(s0) > 1e-12 else f"its mean slope is {s1:.3f} logit/α")
        head.append(f"Least leakage: {least} directions (mean leakage {means[least]['leakage']:.3f} vs "
                    f"{means[ref]['leakage']:.3f} for {ref}); {cost}.")
        worst = max(means, key=lambda m: means[m]["leakage"])
        if worst not in (least, ref):
            more.append(f"Most leakage: {worst} directions (mean {means[worst]['leakage']:.3f}; spearman "
                        f"{fmt(_value(means[worst]['spearman']), 2)} vs {fmt(_value(means[ref]['spearman']), 2)} for "
                        f"{ref}).")
    m0 = "lstsq" if any(r["method"] == "lstsq" for r in rows) else (rows[0]["method"] if rows else None)
    rs = [r for r in rows if r["method"] == m0 and finite(r["slope"])]
    if len(rs) > 1:
        strong = max(rs, key=lambda r: r["slope"])
        weak = min(rs, key=lambda r: r["slope"])
        line = (f"{m0} edits: strongest {strong['attribute']} (slope {strong['slope']:.3f} logit/α, spearman "
                f"{fmt(_value(strong['spearman']), 2)}), weakest {weak['attribute']} (slope {weak['slope']:.3f}")
        if _value(weak["leakage"]) > 1:
            line += f", leakage {weak['leakage']:.2f}: it moves the other attributes more than its own"
        if balanced.get(weak["attribute"], 1.0) < WEAK_CLASSIFIER:
            line += f"; the classifier detects it at balanced accuracy {balanced[weak['attribute']]:.2f} only"
        more.insert(0, line + ").")
    local = [r for r in rs if finite(r.get("outside_ratio"))]
    if local:
        best = min(local, key=lambda r: r["outside_ratio"])
        ratio = best["outside_ratio"]
        more.insert(1, f"Most local {m0} edit: {best['attribute']} (outside ratio {ratio:.2f}: pixels outside its "
                       f"region change {ratio:.2f}× as much as the whole image"
                       + ("; no edit is local" if ratio >= 0.9 else "") + ").")
    return head, more


def _concept_findings(cc: dict, slopes: dict) -> list[str]:
    changes = concept_changes(cc)
    if not changes:
        return []
    follow, oppose, flat = [], [], []
    for at, ends in changes.items():
        deltas = {la: e - s for la, (s, e) in ends.items()}
        best = max(deltas, key=deltas.get)
        if deltas[best] >= FOLLOW_DELTA:
            follow.append(f"{at} (at {best}: {ends[best][0]:.2f} → {ends[best][1]:.2f})")
            continue
        low = min(deltas, key=deltas.get)
        why = ""
        if at in slopes and finite(slopes[at]) and slopes[at] < 0.1:
            why = f", though the edit itself barely moves it: classifier slope {slopes[at]:.3f}"
        if deltas[low] <= -OPPOSE_DELTA:
            oppose.append(f"{at} (falls at {low}: {ends[low][0]:.2f} → {ends[low][1]:.2f}{why})")
        else:
            flat.append(f"{at} (largest rise {deltas[best]:+.2f} at {best}{why})")
    method = cc.get("method", "")
    out = []
    if follow:
        out.append(f"D's concept decoders follow the {method} edit for {', '.join(follow)}.")
    if oppose or flat:
        parts = ([f"go against it for {', '.join(oppose)}"] if oppose else []) + (
            [f"do not follow it for {', '.join(flat)}"] if flat else [])
        out.append(f"D's decoders {' and '.join(parts)}.")
    return out


def _balanced(metrics: dict) -> dict:
    per = (metrics or {}).get("attributes") or {}
    bal = {a: m.get("balanced_accuracy") for a, m in per.items() if isinstance(m, dict)}
    return {a: float(v) for a, v in bal.items() if finite(v)}


def classifier_finding(metrics: dict) -> str | None:
    """One line on the classifier that scores the edits (the yardstick of every slope)."""
    bal = _balanced(metrics)
    if not bal:
        return None
    worst = min(bal, key=bal.get)
    line = (f"The attribute classifier that scores the edits: mean balanced accuracy "
            f"{np.mean(list(bal.values())):.3f} on {metrics.get('split', 'val')} (lowest {worst} {bal[worst]:.3f})")
    weak = [a for a, v in bal.items() if v < WEAK_CLASSIFIER]
    if weak:
        line += (f"; {', '.join(weak)} near chance, so {'its' if len(weak) == 1 else 'their'} directions and slopes "
                 "measure little: train the classifier longer (xaiprobe classifier train --epochs 10)")
    return line + "."


def editing_findings(summary: dict, classifier_metrics: dict | None = None) -> list[str]:
    """One-line readings of an editing summary, most important first."""
    q = summary.get("quality") or {}
    rows, by_method = q.get("rows") or [], q.get("by_method") or {}
    head, more = _method_findings(rows, by_method, _balanced(classifier_metrics)) if rows else ([], [])
    m0 = (summary.get("concept_curves") or {}).get("method", "lstsq")
    slopes = {r["attribute"]: _value(r["slope"]) for r in rows if r["method"] == m0}
    concepts = _concept_findings(summary["concept_curves"], slopes) if summary.get("concept_curves") else []
    out = head + concepts + more
    line = classifier_finding(classifier_metrics or {})
    if line:
        out.append(line)
    if not out:
        out.append(f"{len(summary.get('grids', []))} edit grid(s); pass a classifier (--classifier) for the "
                   "edit-quality table and concept decoders (--decoders) for D's concepts along the edits.")
    return out


def editing_tables(summary: dict) -> list[Table]:
    """The report tables of an editing summary (quality, means, D's concepts) that it has data for."""
    q = summary.get("quality") or {}
    tables = quality_tables(q["rows"], q.get("by_method") or {}) if q.get("rows") else []
    if summary.get("concept_curves"):
        t = concept_table(summary["concept_curves"])
        if t:
            tables.append(t)
    return tables


def editing_numbers(summary: dict) -> dict:
    """``quality/<method>/<attribute>/<metric>``, ``quality/<method>/mean/<metric>`` and
    ``concepts/<attribute>/<layer>/start|end`` (D's decoded probability at the lowest and highest α)."""
    out = {"grids": len(summary.get("grids", []))}
    q = summary.get("quality") or {}
    keys = [k for k, _ in QUALITY_COLUMNS]
    for r in q.get("rows") or []:
        for k in keys:
            out[f"quality/{r['method']}/{r['attribute']}/{k}"] = _value(r.get(k))
    for m, s in (q.get("by_method") or {}).items():
        for k in keys:
            out[f"quality/{m}/mean/{k}"] = _value(s.get(k))
    for at, ends in concept_changes(summary["concept_curves"]).items() if summary.get("concept_curves") else ():
        for layer, (start, end) in ends.items():
            out[f"concepts/{at}/{layer}/start"], out[f"concepts/{at}/{layer}/end"] = start, end
    return out


def editing_headline(summary: dict) -> str:
    """The least leaky direction method (with the reference's leakage), else the grids drawn."""
    by_method = (summary.get("quality") or {}).get("by_method") or {}
    means = {m: s for m, s in by_method.items() if finite(s.get("leakage"))}
    if means:
        least = min(means, key=lambda m: means[m]["leakage"])
        line = f"least leakage: {least} directions (mean {fmt(means[least]['leakage'])}"
        if "lstsq" in means and least != "lstsq":
            line += f" vs {fmt(means['lstsq']['leakage'])} for lstsq"
        return line + f"; mean slope {fmt(_value(means[least].get('slope')))} logit/α)"
    return f"{len(summary.get('grids', []))} edit grid(s) along the latent directions"
