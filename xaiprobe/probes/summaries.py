"""What the probe stages' numbers say: the report tables, one-line findings and the command
that reproduces them, for the ``summary.json`` of linear probes and training dynamics (the
concept decoders' are in :mod:`xaiprobe.probes.decode_summaries`), and the formatting helpers
both share.

Every reading is computed from the measured numbers; the thresholds it uses are the constants
below. Tables follow the report format ``{"title", "columns", "rows"}`` with numbers already
formatted to 3 decimals (strings), so a cell can hold a value and its interval.
"""
from __future__ import annotations

import numpy as np

from .._utils.command import command_line
from .._utils.numeric import finite

#: a best-layer AUC below this reads an attribute only weakly, even when it beats the baselines
WEAK_AUC = 0.7
#: shuffled-label AUCs whose mean is further than this from 0.5 are reported as off chance
CHANCE_TOLERANCE = 0.05
#: training dynamics: an attribute is decodable once some layer's AUC (its lower 95% bound when
#: bootstrapped) reaches this
DECODABLE_AUC = 0.7
#: lists longer than this are summarized by counts in a finding
MAX_LISTED = 6

CONTROL_NAMES = {"random_init": "random-init D", "pixels": "8×8 pixels", "shuffled": "shuffled labels"}
NAN = float("nan")


# ----------------------------------------------------------------------------- formatting
def _r3(x) -> float:
    return round(float(x), 3) + 0.0  # + 0.0 turns -0.0 into 0.0


def f3(x) -> str:
    """``x`` with 3 decimals, or an em dash when missing."""
    return f"{_r3(x):.3f}" if finite(x) else "—"


def signed(x) -> str:
    """``x`` with sign and 3 decimals (``+0.091``), or an em dash when missing."""
    return f"{_r3(x):+.3f}" if finite(x) else "—"


def with_ci(v, lo, hi) -> str:
    """``"0.930 [0.901, 0.960]"``; just the value when the interval is missing."""
    if not finite(v):
        return "—"
    if not (finite(lo) and finite(hi)):
        return f3(v)
    return f"{v:.3f} [{lo:.3f}, {hi:.3f}]"


def ci_cell(v, lo, hi) -> str:
    """:func:`with_ci` for a table cell: non-breaking spaces keep value and interval on one line."""
    return with_ci(v, lo, hi).replace(" ", "\u00a0")


def pct(x) -> str:
    """A rate as a percentage with one decimal (``4.1%``)."""
    return f"{100 * float(x):.1f}%" if finite(x) else "—"


def mean(values) -> float:
    """Mean of the finite values (NaN when there are none)."""
    v = [float(x) for x in values if finite(x)]
    return float(np.mean(v)) if v else NAN


def _listing(items: list, what: str) -> str:
    """Items joined with commas; more than MAX_LISTED become "N {what}" with the first few named."""
    if len(items) <= MAX_LISTED:
        return ", ".join(items)
    return f"{len(items)} {what} ({', '.join(items[:3])}, …)"


# --------------------------------------------------------------------------- linear probes
def _controls_done(report) -> list:
    return [c for c in ("random_init", "pixels", "shuffled") if report.controls.get(c) == "done"
            and report.table(c)]


def _baselines(report, layer: str, attribute: str, metric: str = "auc") -> dict:
    """Random-init and pixel values of one pair (only those that were measured)."""
    out = {}
    for src in ("random_init", "pixels"):
        v = report.value(layer, attribute, src, metric)
        if finite(v):
            out[src] = v
    return out


def _lower(row, metric: str = "auc") -> float:
    lo = row.get(metric + "_lo", NAN)
    return lo if finite(lo) else row.get(metric, NAN)


def best_rows(report) -> dict:
    """Attribute -> its trained row with the highest test AUC (ties to the earlier layer)."""
    out = {}
    for a in report.attribute_names:
        rows = [r for r in report.table("trained", attribute=a) if finite(r["auc"])]
        if rows:
            out[a] = max(rows, key=lambda r: r["auc"])
    return out


def beyond_baselines(report, row) -> bool | None:
    """True when a trained row's AUC lower 95% bound is above both the random-init and the
    pixel AUC of the same layer and attribute; None when neither control was measured."""
    base = _baselines(report, row["layer"], row["attribute"])
    if not base:
        return None
    return bool(_lower(row) > max(base.values()))


def layer_means(report) -> list[dict]:
    """Per layer: mean AUC over attributes for each source, mean selectivity, the number of
    attributes beyond both baselines and (single-label data) the top-1 accuracies."""
    out = []
    first = report.attribute_names[0] if report.attribute_names else ""
    for layer in report.layers:
        rows = [r for r in report.table("trained", layer) if finite(r["auc"])]
        if not rows:
            continue
        e = {"layer": layer, "n": len(rows), "trained": mean(r["auc"] for r in rows),
             "selectivity": mean(r["selectivity"] for r in rows)}
        for src in ("random_init", "pixels", "shuffled"):
            e[src] = mean(report.value(layer, r["attribute"], src) for r in rows)
        verdicts = [beyond_baselines(report, r) for r in rows]
        e["beyond"] = None if all(v is None for v in verdicts) else sum(bool(v) for v in verdicts)
        if report.concept_type == "single":
            for src in ("trained", "random_init", "pixels", "shuffled"):
                e["top1_" + src] = report.value(layer, first, src, "top1")
            e["top1_lo"] = report.value(layer, first, "trained", "top1_lo")
            e["top1_hi"] = report.value(layer, first, "trained", "top1_hi")
        out.append(e)
    return out


def probe_tables(report) -> list[dict]:
    """The per-layer means table and the per layer × attribute table of a ProbeReport."""
    done = _controls_done(report)
    single = report.concept_type == "single"
    what = "class" if single else "attribute"
    cols = ["layer", "trained D"] + [CONTROL_NAMES[c] for c in done]
    if "shuffled" in done:
        cols.append("selectivity")
    n_base = sum(c in done for c in ("random_init", "pixels"))
    has_base = n_base > 0
    if has_base:
        cols.append(f"{'classes' if single else 'attributes'} beyond {'both baselines' if n_base > 1 else 'the baseline'}"
                    " (AUC)")
    if single:
        cols += ["top-1 trained [95% CI]"] + [f"top-1 {CONTROL_NAMES[c]}" for c in done]
    rows = []
    for e in layer_means(report):
        row = [e["layer"], f3(e["trained"])] + [f3(e[c]) for c in done]
        if "shuffled" in done:
            row.append(f3(e["selectivity"]))
        if has_base:
            row.append("—" if e["beyond"] is None else f"{e['beyond']} of {e['n']}")
        if single:
            row += [ci_cell(e["top1_trained"], e["top1_lo"], e["top1_hi"])] + [f3(e["top1_" + c]) for c in done]
        rows.append(row)
    means = {"title": f"Mean test AUC over {what}{'es' if single else 's'} per layer (8×8 pixels: one probe on "
                      "raw pixels, the same for every layer)", "columns": cols, "rows": rows}

    cols = ["layer", what, "trained AUC [95% CI]"] + [f"{CONTROL_NAMES[c]} AUC" for c in done]
    if "shuffled" in done:
        cols.append("selectivity")
    cols += [f"Δ vs {CONTROL_NAMES[c]}" for c in ("random_init", "pixels") if c in done]
    cols.append("balanced acc. [95% CI]")
    rows = []
    for layer in report.layers:
        for a in report.attribute_names:
            t = report.table("trained", layer, a)
            if not t:
                continue
            t = t[0]
            row = [layer, a, ci_cell(t["auc"], t["auc_lo"], t["auc_hi"])]
            row += [f3(report.value(layer, a, c)) for c in done]
            if "shuffled" in done:
                row.append(f3(t["selectivity"]))
            row += [signed(t["delta_" + ("random" if c == "random_init" else c)]) for c in ("random_init", "pixels")
                    if c in done]
            row.append(ci_cell(t["bacc"], t["bacc_lo"], t["bacc_hi"]))
            rows.append(row)
    detail = {"title": f"Linear probes per layer and {what} (test split; selectivity = AUC − shuffled-label AUC, "
                       "Δ = AUC − control AUC)", "columns": cols, "rows": rows}
    return [means, detail]


def probe_findings(report) -> list[str]:
    """2–4 one-line readings of a ProbeReport: the best layer against the controls, which
    attributes the trained D reads beyond both baselines and which not (for single-label data:
    whether its top-1 accuracy is), and whether the shuffled-label control sits at chance."""
    out = []
    single = report.concept_type == "single"
    means = layer_means(report)
    if not means:
        return out
    k = len(report.attribute_names)
    if single:
        key = [e for e in means if finite(e["top1_trained"])]
        if key:
            b = max(key, key=lambda e: e["top1_trained"])
            ctl = [f"{f3(b['top1_' + c])} for a {CONTROL_NAMES[c]}" if c == "random_init" else
                   f"{f3(b['top1_' + c])} from {CONTROL_NAMES[c]}" for c in ("random_init", "pixels")
                   if finite(b["top1_" + c])]
            out.append(f"Best layer {b['layer']}: top-1 accuracy {with_ci(b['top1_trained'], b['top1_lo'], b['top1_hi'])}"
                       f" over {k} classes" + (f" vs {' and '.join(ctl)}" if ctl else "")
                       + f" (chance {1 / max(k, 1):.3f}).")
            base = {c: b["top1_" + c] for c in ("random_init", "pixels") if finite(b["top1_" + c])}
            if base:
                lo = b["top1_lo"] if finite(b["top1_lo"]) else b["top1_trained"]
                names = " and ".join(CONTROL_NAMES[c] for c in base)
                top = max(base, key=base.get)
                verdict = ("beyond " + ("both baselines" if len(base) > 1 else f"the {names} baseline")
                           if lo > base[top] else f"not beyond the {CONTROL_NAMES[top]} baseline")
                out.append(f"The trained D's class knowledge is {verdict}: the lower 95% bound of its best top-1 "
                           f"({lo:.3f}) vs {names} {' / '.join(f3(x) for x in base.values())} at {b['layer']}.")
    else:
        b = max(means, key=lambda e: e["trained"])
        ctl = [f"{f3(b[c])} for a {CONTROL_NAMES[c]}" if c == "random_init" else f"{f3(b[c])} from {CONTROL_NAMES[c]}"
               for c in ("random_init", "pixels") if finite(b[c])]
        line = (f"Best layer {b['layer']}: mean AUC {f3(b['trained'])} over {k} attributes"
                + (f" vs {' and '.join(ctl)}" if ctl else ""))
        if len(means) > 1:
            w = min(means, key=lambda e: e["trained"])
            line += f"; weakest layer {w['layer']} ({f3(w['trained'])})"
        out.append(line + ".")

    best = best_rows(report) if not single else {}  # single-label data: judged by top-1 above
    known, unknown, weak = [], [], False
    measured = [c for c in ("random_init", "pixels") if c in _controls_done(report)]
    for a, r in best.items():
        v = beyond_baselines(report, r)
        if v is None:
            continue
        base = _baselines(report, r["layer"], a)
        text = a
        if len(best) <= MAX_LISTED:
            text = f"{a} {r['layer']} {with_ci(r['auc'], r['auc_lo'], r['auc_hi'])} vs {' / '.join(f3(x) for x in base.values())}"
        if v and r["auc"] < WEAK_AUC:
            text, weak = text + " (weak)", True
        (known if v else unknown).append(text)
    what = "classes" if single else "attributes"
    names = " / ".join(CONTROL_NAMES[c] for c in measured)
    rule = f"the best layer's AUC [95% CI] vs {names}; the lower bound must exceed {'both' if len(measured) > 1 else 'it'}"
    if known:
        out.append(f"The trained D reads {len(known)} of {len(best)} {what} beyond "
                   f"{'both baselines' if len(measured) > 1 else 'the ' + names + ' baseline'} ({rule}): "
                   f"{_listing(known, what) if len(best) > MAX_LISTED else '; '.join(known)}"
                   + (f"; weak = AUC below {WEAK_AUC:g}." if weak else "."))
    if unknown:
        them = "them" if len(unknown) > 1 else "it"
        out.append(f"Not beyond the baselines (an untrained D or raw pixels read {them} as well): "
                   f"{_listing(unknown, what) if len(best) > MAX_LISTED else '; '.join(unknown)}.")

    shuf = [r["auc"] for r in report.table("shuffled") if finite(r["auc"])]
    if shuf:
        m, lo, hi = float(np.mean(shuf)), float(np.min(shuf)), float(np.max(shuf))
        n_test = mean(r["n_test"] for r in report.table("shuffled"))
        at = abs(m - 0.5) <= CHANCE_TOLERANCE
        line = (f"Shuffled-label controls {'sit at chance' if at else 'are off chance (check the splits for leaks)'}: "
                f"mean AUC {m:.3f}, range {lo:.3f}–{hi:.3f} over {len(shuf)} probes"
                + (f" ({n_test:.0f} test images each)" if finite(n_test) else ""))
        if single:
            t1 = [report.value(layer, report.attribute_names[0], "shuffled", "top1") for layer in report.layers]
            t1 = [x for x in t1 if finite(x)]
            if t1:
                line += f"; top-1 {np.mean(t1):.3f} (chance {1 / max(k, 1):.3f})"
        out.append(line + ".")
    return out


def probe_command(path, layers, attributes, controls, out_dir, Cs, n_boot, seed, data, max_memory_mb, umap,
                  plots) -> str:
    """The ``xaiprobe probe`` command line equivalent to a :func:`~xaiprobe.probes.run.probe_store` call."""
    from .linear import DEFAULT_CS

    ctl = None
    if controls is not True and controls:
        ctl = ",".join(controls)
    spec = getattr(data, "spec", data)
    return command_line("probe", [
        ("--activations", str(path)), ("--data", spec), ("--layer", layers),
        ("--attribute", attributes), ("--out", None if out_dir is None else str(out_dir)),
        ("--no-controls", not controls), ("--controls", ctl),
        ("--cs", None if tuple(Cs) == tuple(DEFAULT_CS) else list(Cs)),
        ("--bootstrap", None if n_boot == 200 else n_boot), ("--max-memory-mb", None if max_memory_mb == 1024 else max_memory_mb),
        ("--no-umap", plots and not umap), ("--no-plots", not plots), ("--seed", seed or None)])


# ------------------------------------------------------------------------ training dynamics
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


def dynamics_tables(dyn) -> list[dict]:
    """Layer × epoch of the mean test metric over attributes, and attribute × epoch at the best layer."""
    M = np.array([dyn.values[a] for a in dyn.attribute_names], dtype=float)  # (A, L, E)
    with np.errstate(all="ignore"):
        layer_epoch = np.nanmean(M, axis=0) if len(M) else np.zeros((len(dyn.layers), len(dyn.epochs)))
    ep_cols = [f"epoch {e}" for e in dyn.epochs]
    metric = dyn.metric.upper()
    t1 = {"title": f"Mean test {metric} over {len(dyn.attribute_names)} attributes, by layer and epoch",
          "columns": ["layer"] + ep_cols,
          "rows": [[layer] + [f3(x) for x in layer_epoch[i]] for i, layer in enumerate(dyn.layers)]}
    rows = []
    for a in dyn.attribute_names:
        v, _, where = _best_layer_per_epoch(dyn, a)
        rows.append([a] + [f"{f3(x)} ({w})" for x, w in zip(v, where)])
    t2 = {"title": f"Test {metric} of the best layer per attribute and epoch (the layer in brackets)",
          "columns": ["attribute"] + ep_cols, "rows": rows}
    return [t1, t2]


def dynamics_findings(dyn) -> list[str]:
    """When each attribute becomes decodable, and how the best layer's mean metric moves."""
    out = []
    if not dyn.epochs or not dyn.attribute_names:
        return out
    reached, never = [], []
    for a in dyn.attribute_names:
        v, lo, where = _best_layer_per_epoch(dyn, a)
        hit = np.flatnonzero(np.isfinite(lo) & (lo >= DECODABLE_AUC))
        if hit.size:
            j = int(hit[0])
            reached.append((dyn.epochs[j], f"{a} at epoch {dyn.epochs[j]} ({where[j]} {f3(v[j])})"))
        else:
            never.append(f"{a} (best {f3(np.nanmax(v)) if np.isfinite(v).any() else '—'})")
    rule = f"{dyn.metric.upper()} lower 95% bound ≥ {DECODABLE_AUC:g} at some layer"
    if reached:
        reached.sort(key=lambda t: t[0])
        out.append(f"Decodable ({rule}) from: " + "; ".join(s for _, s in reached) + ".")
    if never:
        out.append(f"Not decodable by epoch {dyn.epochs[-1]} (the bound never reaches {DECODABLE_AUC:g}): "
                   f"{', '.join(never)}.")
    M = np.array([dyn.values[a] for a in dyn.attribute_names], dtype=float)
    with np.errstate(all="ignore"):
        le = np.nanmean(M, axis=0)  # (L, E)
    if np.isfinite(le).any(axis=0).all() and len(dyn.epochs) > 1:
        f = np.where(np.isfinite(le), le, -np.inf)
        i0, i1 = int(f[:, 0].argmax()), int(f[:, -1].argmax())
        out.append(f"Mean {dyn.metric.upper()} of the best layer: {f3(le[i0, 0])} ({dyn.layers[i0]}) at epoch "
                   f"{dyn.epochs[0]} → {f3(le[i1, -1])} ({dyn.layers[i1]}) at epoch {dyn.epochs[-1]}.")
    return out
