"""The editing stage for the HTML report: its tables, findings and reproducing commands.

Everything here reads the summary that :func:`xaiprobe.editing.edits.run_edit` builds (the
quality rows, the per-method means, D's concept curves) and turns numbers into the
``tables`` / ``findings`` / ``command`` entries of RUN/editing/summary.json.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .._utils.command import command_line

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


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def quality_tables(rows: list, by_method: dict) -> list[dict]:
    """Report tables of the edit quality: one row per method × attribute, then the per-method means."""
    keys = [k for k, _ in QUALITY_COLUMNS]
    heads = [h for _, h in QUALITY_COLUMNS]
    per = {"title": "Edit quality per direction method × attribute (classifier logits of the edited images)",
           "columns": ["method", "attribute", *heads],
           "rows": [[r["method"], r["attribute"], *[_num(r.get(k)) for k in keys]] for r in rows]}
    means = {"title": "Per-method means over the edited attributes",
             "columns": ["method", *heads],
             "rows": [[m, *[_num(s.get(k)) for k in keys]] for m, s in by_method.items()]}
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


def concept_table(cc: dict) -> dict | None:
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
        cells = [f"{ends[la][0]:.2f} → {ends[la][1]:.2f}" if la in ends else "—" for la in layers]
        rows.append([at, *cells, f"{best} ({delta:+.2f})"])
    return {"title": f"D's decoded P(attribute) along the {cc.get('method', '')} edit of that attribute: "
                     f"α = {a.min():g} → {a.max():g} (mean over {cc.get('n', '?')} latents)",
            "columns": ["edited attribute", *layers, "largest rise"], "rows": rows}


def _method_findings(rows: list, by_method: dict, balanced: dict) -> tuple[list[str], list[str]]:
    """(headline findings, secondary findings) of the quality table."""
    head, more = [], []
    means = {m: s for m, s in by_method.items() if np.isfinite(_num(s.get("leakage")))}
    if len(means) > 1:
        least = min(means, key=lambda m: means[m]["leakage"])
        ref = "lstsq" if "lstsq" in means and least != "lstsq" else max(
            (m for m in means if m != least), key=lambda m: means[m]["slope"])
        s0, s1 = _num(means[ref]["slope"]), _num(means[least]["slope"])
        cost = (f"its mean slope is {s1:.3f} vs {s0:.3f} logit/α ({100 * (s1 - s0) / abs(s0):+.0f}%)"
                if abs(s0) > 1e-12 else f"its mean slope is {s1:.3f} logit/α")
        head.append(f"Least leakage: {least} directions (mean leakage {means[least]['leakage']:.3f} vs "
                    f"{means[ref]['leakage']:.3f} for {ref}); {cost}.")
        worst = max(means, key=lambda m: means[m]["leakage"])
        if worst not in (least, ref):
            more.append(f"Most leakage: {worst} directions (mean {means[worst]['leakage']:.3f}; spearman "
                        f"{_num(means[worst]['spearman']):.2f} vs {_num(means[ref]['spearman']):.2f} for {ref}).")
    m0 = "lstsq" if any(r["method"] == "lstsq" for r in rows) else (rows[0]["method"] if rows else None)
    rs = [r for r in rows if r["method"] == m0 and np.isfinite(_num(r["slope"]))]
    if len(rs) > 1:
        strong = max(rs, key=lambda r: r["slope"])
        weak = min(rs, key=lambda r: r["slope"])
        line = (f"{m0} edits: strongest {strong['attribute']} (slope {strong['slope']:.3f} logit/α, spearman "
                f"{_num(strong['spearman']):.2f}), weakest {weak['attribute']} (slope {weak['slope']:.3f}")
        if _num(weak["leakage"]) > 1:
            line += f", leakage {weak['leakage']:.2f}: it moves the other attributes more than its own"
        if balanced.get(weak["attribute"], 1.0) < WEAK_CLASSIFIER:
            line += f"; the classifier detects it at balanced accuracy {balanced[weak['attribute']]:.2f} only"
        more.insert(0, line + ").")
    local = [r for r in rs if np.isfinite(_num(r.get("outside_ratio")))]
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
        if at in slopes and np.isfinite(slopes[at]) and slopes[at] < 0.1:
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
    bal = {a: _num(m.get("balanced_accuracy")) for a, m in per.items() if isinstance(m, dict)}
    return {a: v for a, v in bal.items() if np.isfinite(v)}


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
    slopes = {r["attribute"]: _num(r["slope"]) for r in rows if r["method"] == m0}
    concepts = _concept_findings(summary["concept_curves"], slopes) if summary.get("concept_curves") else []
    out = head + concepts + more
    line = classifier_finding(classifier_metrics or {})
    if line:
        out.append(line)
    if not out:
        out.append(f"{len(summary.get('grids', []))} edit grid(s); pass a classifier (--classifier) for the "
                   "edit-quality table and concept decoders (--decoders) for D's concepts along the edits.")
    return out


def editing_tables(summary: dict) -> list[dict]:
    """The report tables of an editing summary (quality, means, D's concepts) that it has data for."""
    q = summary.get("quality") or {}
    tables = quality_tables(q["rows"], q.get("by_method") or {}) if q.get("rows") else []
    if summary.get("concept_curves"):
        t = concept_table(summary["concept_curves"])
        if t:
            tables.append(t)
    return tables


def _alphas_arg(alphas) -> str:
    """``--alphas`` value: ``START:STOP:N`` for an even grid, else the comma list."""
    a = np.asarray(alphas, np.float64)
    if a.size > 2 and np.allclose(a, np.linspace(a[0], a[-1], a.size)):
        return f"{a[0]:g}:{a[-1]:g}:{a.size}"
    return ",".join(f"{v:g}" for v in a)


def classifier_command(classifier, path) -> str:
    """The `xaiprobe classifier train` command equivalent to a saved classifier's training, or ""."""
    cfg = getattr(classifier, "train_config_", None) or {}
    spec = getattr(classifier, "data_spec_", "")
    if not cfg or not spec:
        return ""
    keys = ("epochs", "batch_size", "width", "stem_stride", "lr", "seed", "max_images")
    return command_line("classifier train", [("--data", spec), *((f"--{k.replace('_', '-')}", cfg.get(k)) for k in keys),
                                             ("--out", path)])


def directions_command(directions, checkpoint_path, classifier_path, path) -> str:
    """The `xaiprobe directions` command equivalent to a directions file's fit, or ""."""
    info = getattr(directions, "info", None) or {}
    if "n" not in info:
        return ""
    return command_line("directions", [
        ("--checkpoint", checkpoint_path), ("--classifier", classifier_path), ("--n", info["n"]),
        ("--methods", list(info.get("methods") or directions.methods)), ("--n-components", info.get("n_components", 20)),
        ("--seed", info.get("seed", 0)), ("--out", path)])


def edit_command(checkpoint_path, directions_path, out, attributes, methods, alphas, n, seed,
                 classifier_path=None, quality_methods=None, n_quality=None, decoders_path=None) -> str:
    """The `xaiprobe edit` command equivalent to a :func:`run_edit` call."""
    quality = classifier_path is not None
    return command_line("edit", [
        ("--checkpoint", checkpoint_path), ("--directions", directions_path), ("--attr", list(attributes)),
        ("--method", list(methods)), ("--alphas", _alphas_arg(alphas)), ("--n", n), ("--seed", seed),
        ("--classifier", classifier_path), ("--quality-methods", list(quality_methods or methods) if quality else None),
        ("--n-quality", n_quality if quality else None), ("--decoders", decoders_path), ("--out", out)])


def path_of(obj, default: str) -> str:
    """``obj`` as a path string when it is one (or has ``.path``), else ``default``."""
    if isinstance(obj, (str, Path)):
        return str(obj)
    p = getattr(obj, "path", None)
    return str(p) if p is not None else default
