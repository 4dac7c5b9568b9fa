"""The attribution section: findings, tables, figures and numbers over every target of the stage.

Everything is computed from the JSON form of each target's results (the entries of
RUN/attribution/targets.json), so a run directory that accumulates several targets gets one
section for all of them.
"""
from __future__ import annotations

import numpy as np

from .._utils.numeric import finite, fmt
from ..report import Figure, Table

__all__ = ["section_parts", "headline", "sanity_table", "sanity_findings", "localization_table", "localization_findings",
           "target_numbers"]


def _names(items) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _final_rho(sanity: dict) -> dict:
    """method -> mean Spearman ρ after full randomization."""
    return {m: float(np.asarray(sanity["spearman"][i], dtype=float)[-1]) for i, m in enumerate(sanity["methods"])}


def _final_std(sanity: dict) -> dict:
    std = sanity.get("spearman_std")
    if std is None:
        return dict.fromkeys(sanity["methods"], float("nan"))
    return {m: float(np.asarray(std[i], dtype=float)[-1]) for i, m in enumerate(sanity["methods"])}


def sanity_table(sanity: dict, target: str) -> Table:
    """Method × randomization step: mean Spearman ρ (± std over images) and the flag."""
    steps = list(sanity["steps"])
    cols = ["method"] + [f"re-init. down to {s}" + (" (all)" if k == len(steps) - 1 else "")
                         for k, s in enumerate(steps)] + [f"flagged (ρ > {sanity['threshold']:g} at the end)"]
    rho = np.asarray(sanity["spearman"], dtype=float).reshape(len(sanity["methods"]), len(steps))
    std = sanity.get("spearman_std")
    std = np.full_like(rho, np.nan) if std is None else np.asarray(std, dtype=float).reshape(rho.shape)

    def cell(v, s):
        return fmt(v, 2) + (f" ± {fmt(s, 2)}" if finite(v) and finite(s) else "")

    rows = [[m] + [cell(float(v), float(s)) for v, s in zip(rho[i], std[i])]
            + ["yes" if sanity["flagged"][m] else "no"] for i, m in enumerate(sanity["methods"])]
    n = sanity.get("n_images")
    return Table(f"Sanity check — {target}: Spearman ρ of |map| between the trained D and D re-initialized "
                 f"top-down ({steps[0]} first)" + (f", mean ± std over {n} images" if n else ""), cols, rows)


def sanity_findings(sanity: dict, target: str) -> list[str]:
    """Which methods pass the cascading randomization check, with ρ after full randomization."""
    final = _final_rho(sanity)
    thr = sanity["threshold"]
    passed = [m for m in sanity["methods"] if not sanity["flagged"][m]]
    steps = list(sanity["steps"])
    span = steps[0] if len(steps) == 1 else f"{steps[0]} … {steps[-1]}"
    verb = "is" if len(steps) == 1 else "are"
    out = []
    if passed:
        rhos = ", ".join(f"{fmt(final[m], 2)} ({m})" for m in passed)
        out.append(f"Sanity check ({target}): {_names(passed)} pass{'es' if len(passed) == 1 else ''} — once {span} "
                   f"{verb} re-initialized, the maps' rank correlation with the trained model's falls to ρ = {rhos}, "
                   f"at most {thr:g}: they depend on what D learned.")
    for m in sanity["methods"]:
        if not sanity["flagged"][m]:
            continue
        if finite(final[m]):
            out.append(f"Sanity check ({target}): {m} is flagged — its maps keep ρ = {fmt(final[m], 2)} > {thr:g} of "
                       f"their rank order once {span} {verb} re-initialized: they show the input more than what D "
                       "learned.")
        else:
            out.append(f"Sanity check ({target}): {m} is flagged — its maps are constant, so they carry no rank "
                       "order that could depend on the model.")
    return out


def _best_row(rows: list) -> dict | None:
    ok = [r for r in rows if finite(r.get("ratio"))]
    return max(ok, key=lambda r: r["ratio"]) if ok else None


def localization_table(localization: dict, target: str) -> Table:
    """Concept (region) × method: share in region ÷ area and pointing-game hits beside chance."""
    rows = localization["rows"]
    logit = all(not str(r.get("target", "")).startswith("concept:") for r in rows)
    what = ("D's logit, on images with the concept" if logit
            else "each concept's own probe target (concept:NAME@layer), on images with the concept")
    cols = ["concept (region)", "method", "images", "share in region (%)", "region area (%)", "share ÷ area (×)",
            "median ÷ area (×)", f"pointing hits (±{localization.get('tolerance', 0)} px, %)", "pointing chance (%)"]
    out = [[f"{r['concept']} ({r['region']})", r["method"], r["n"], 100 * r["share"], 100 * r["area"], r["ratio"],
            r.get("ratio_median", float("nan")), 100 * r["pointing"], 100 * r["chance"]] for r in rows]
    return Table(f"Localization — {target}: attribution of {what}; share ÷ area 1× = a uniform map", cols, out)


def _pct(v) -> str:
    return f"{fmt(100 * v, 1)}%" if finite(v) else fmt(v)


def localization_findings(localization: dict) -> list[str]:
    """The best-localizing (concept, method) overall, then the best method per concept, vs chance."""
    rows = localization["rows"]
    concepts = list(dict.fromkeys(r["concept"] for r in rows))
    best = {c: _best_row([r for r in rows if r["concept"] == c]) for c in concepts}
    out = []
    ranked = sorted((b for b in best.values() if b is not None), key=lambda r: -r["ratio"])
    if len(ranked) > 1:
        top, low = ranked[0], ranked[-1]
        out.append(f"{top['concept']} localizes best, with {top['method']}: {fmt(top['ratio'], 2)}× the share a "
                   f"uniform map puts on the {top['region']}, pointing game {_pct(top['pointing'])} vs "
                   f"{_pct(top['chance'])} chance; {low['concept']} least (best: {low['method']} "
                   f"{fmt(low['ratio'], 2)}×).")
    for c in concepts:
        b = best[c]
        if b is None:
            out.append(f"{c}: no method has positive attribution to localize.")
            continue
        region = b["region"]
        if b["ratio"] <= 1:
            out.append(f"{c} ({region}): no method puts more positive attribution on the {region} than a uniform map "
                       f"would (best {b['method']} {fmt(b['ratio'], 2)}×).")
            continue
        line = (f"{c} ({region}): best {b['method']}, {fmt(b['ratio'], 2)}× uniform; pointing game "
                f"{_pct(b['pointing'])} vs {_pct(b['chance'])} chance")
        if finite(b["pointing"]) and b["pointing"] <= b["chance"]:
            line += " (its peak lands on the region no more often than chance)"
        others = [r for r in rows if r["concept"] == c and r is not b and finite(r["ratio"])]
        if others:
            line += "; " + ", ".join(f"{r['method']} {fmt(r['ratio'], 2)}×" for r in others)
        out.append(line + ".")
    return out


def target_numbers(entry: dict) -> dict:
    """The measured numbers of one target, keyed ``<kind>/<target>/...``."""
    t = entry["target"]
    out = {f"seconds_per_image/{t}/{m}": v for m, v in entry.get("seconds_per_image", {}).items()}
    if "sanity" in entry:
        s = entry["sanity"]
        std = _final_std(s)
        for m, v in _final_rho(s).items():
            out[f"sanity/{t}/{m}/rho"] = v
            out[f"sanity/{t}/{m}/rho_std"] = std[m]
            out[f"sanity/{t}/{m}/flagged"] = bool(s["flagged"][m])
    for r in (entry.get("localization") or {}).get("rows", []):
        for k in ("ratio", "pointing", "chance", "share", "area"):
            out[f"localization/{t}/{r['concept']}/{r['method']}/{k}"] = r[k]
    return out


def headline(entry: dict) -> str:
    """The one line of the report's summary: the sanity check of the target, its best localization."""
    t = entry["target"]
    parts = []
    if "sanity" in entry:
        s = entry["sanity"]
        rho, std = _final_rho(s), _final_std(s)
        ok = [m for m in s["methods"] if not s["flagged"][m]]
        m = ok[0] if ok else s["methods"][0]
        parts.append(f"{t}: {len(ok)} of {len(s['methods'])} methods pass the sanity check ({m}: ρ "
                     f"{fmt(rho[m], 2)}" + (f" ± {fmt(std[m], 2)}" if finite(std[m]) else "")
                     + " after full randomization)")
    best = _best_row((entry.get("localization") or {}).get("rows", []))
    if best is not None:
        parts.append(f"best localization {best['concept']} with {best['method']}, {fmt(best['ratio'], 2)}× uniform")
    if not parts:
        parts.append(f"{t}: maps of {entry['n_images']} images by {', '.join(entry['methods'])}")
    return "; ".join(parts)


def section_parts(targets: dict, last: str) -> dict:
    """``headline``, ``findings``, ``tables``, ``figures``, ``command`` and ``numbers`` of the section
    over every target entry (in run order; ``last`` is the one just run)."""
    findings, tables, figures, commands, numbers = [], [], [], [], {}
    several = len(targets) > 1
    for entry in targets.values():
        t = entry["target"]
        lines = []
        if "sanity" in entry:
            lines += sanity_findings(entry["sanity"], t)
            tables.append(sanity_table(entry["sanity"], t))
        if (entry.get("localization") or {}).get("rows"):
            loc = localization_findings(entry["localization"])
            lines += [f"{t}: {x}" for x in loc] if several else loc
            tables.append(localization_table(entry["localization"], t))
        if not lines:
            secs = ", ".join(f"{m} {fmt(s, 3)}" for m, s in entry.get("seconds_per_image", {}).items())
            lines.append(f"{t}: maps of {entry['n_images']} images ({secs} s/image); sanity check and localization "
                         "were not run.")
        findings += lines
        figures += [Figure(**f) for f in entry.get("figures", [])]
        if entry.get("command"):
            commands.append(entry["command"])
        numbers.update(target_numbers(entry))
    return {"headline": headline(targets[last]), "findings": findings, "tables": tables, "figures": figures,
            "command": commands, "numbers": numbers}
