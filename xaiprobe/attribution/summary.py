"""What the attribution stage's numbers say: findings, tables and the reproducing command.

The functions read the JSON form of a target's results (the entries of
``RUN/attribution/summary.json["targets"]``), so a directory that accumulates several targets
over several runs gets findings and tables for all of them. Tables follow the report format
``{"title", "columns", "rows"}``.
"""
from __future__ import annotations

import numpy as np

from .._utils.command import command_line, is_path_like
from .._utils.numeric import finite

#: `xaiprobe attribute` defaults (options equal to them are left out of the command line)
_CLI_DEFAULTS = {"n": 16, "split": "test", "sanity_n": 8, "localization_n": 32, "batch_size": 16, "seed": 0,
                 "steps": 50}


def _rho(v, std=None) -> str:
    if not finite(v):
        return "n/a (constant map)"
    return f"{v:.2f}" + (f" ± {std:.2f}" if finite(std) else "")


def _pct(v, digits: int = 0) -> str:
    return f"{100 * v:.{digits}f}%" if finite(v) else "n/a"


def _times(v) -> str:
    return f"{v:.2f}×" if finite(v) else "n/a"


def _names(items) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def sanity_table(sanity: dict, target: str) -> dict:
    """Method × randomization step: mean Spearman ρ (± std over images) and the flag.

    Parameters
    ----------
    sanity : dict
        ``SanityResult.to_dict()`` (as read back from JSON), with ``n_images``.
    target : str

    Returns
    -------
    dict
        One row per method.
    """
    steps = list(sanity["steps"])
    cols = ["method"] + [f"re-init. down to {s}" + (" (all)" if k == len(steps) - 1 else "")
                         for k, s in enumerate(steps)] + [f"flagged (ρ > {sanity['threshold']:g} at the end)"]
    rho = np.asarray(sanity["spearman"], dtype=float).reshape(len(sanity["methods"]), len(steps))
    std = sanity.get("spearman_std")
    std = np.full_like(rho, np.nan) if std is None else np.asarray(std, dtype=float).reshape(rho.shape)
    rows = [[m] + [_rho(float(v), float(s)) for v, s in zip(rho[i], std[i])]
            + ["yes" if sanity["flagged"][m] else "no"] for i, m in enumerate(sanity["methods"])]
    n = sanity.get("n_images")
    return {"title": f"Sanity check — {target}: Spearman ρ of |map| between the trained D and D re-initialized "
                     f"top-down ({steps[0]} first)" + (f", mean ± std over {n} images" if n else ""),
            "columns": cols, "rows": rows}


def sanity_findings(sanity: dict, target: str) -> list[str]:
    """Which methods pass the cascading randomization check, with ρ after full randomization."""
    final = {m: float(np.asarray(sanity["spearman"][i], dtype=float)[-1]) for i, m in enumerate(sanity["methods"])}
    thr = sanity["threshold"]
    passed = [m for m in sanity["methods"] if not sanity["flagged"][m]]
    steps = list(sanity["steps"])
    span = steps[0] if len(steps) == 1 else f"{steps[0]} … {steps[-1]}"
    out = []
    if passed:
        rhos = ", ".join(f"{final[m]:.2f} ({m})" for m in passed)
        out.append(f"Sanity check ({target}): {_names(passed)} pass{'es' if len(passed) == 1 else ''} — once {span} "
                   f"{'is' if len(steps) == 1 else 'are'} re-initialized, the maps' rank correlation with the trained "
                   f"model's falls to ρ = {rhos}, at most {thr:g}: they depend on what D learned.")
    for m in sanity["methods"]:
        if not sanity["flagged"][m]:
            continue
        if finite(final[m]):
            out.append(f"Sanity check ({target}): {m} is flagged — its maps keep ρ = {final[m]:.2f} > {thr:g} of "
                       f"their rank order once {span} {'is' if len(steps) == 1 else 'are'} re-initialized: they show the "
                       "input more than what D learned.")
        else:
            out.append(f"Sanity check ({target}): {m} is flagged — its maps are constant, so they carry no rank "
                       "order that could depend on the model.")
    return out


def _best_row(rows: list) -> dict | None:
    ok = [r for r in rows if finite(r.get("ratio"))]
    return max(ok, key=lambda r: r["ratio"]) if ok else None


def localization_table(localization: dict, target: str) -> dict:
    """Concept (region) × method: share in region ÷ area and pointing-game hits beside chance."""
    rows = localization["rows"]
    logit = all(r.get("target") == "logit" for r in rows)
    what = ("D's logit, on images with the concept" if logit
            else "each concept's own probe target (concept:NAME@layer), on images with the concept")
    cols = ["concept (region)", "method", "images", "share in region", "region area", "share ÷ area",
            "median ÷ area", f"pointing hits (±{localization.get('tolerance', 0)} px)", "pointing chance"]
    out = [[f"{r['concept']} ({r['region']})", r["method"], r["n"], _pct(r["share"], 1), _pct(r["area"], 1),
            _times(r["ratio"]), _times(r.get("ratio_median")), _pct(r["pointing"]), _pct(r["chance"])] for r in rows]
    return {"title": f"Localization — {target}: attribution of {what}; share ÷ area 1× = a uniform map",
            "columns": cols, "rows": out}


def localization_findings(localization: dict) -> list[str]:
    """The best-localizing (concept, method) overall, then the best method per concept, vs chance."""
    rows = localization["rows"]
    concepts = list(dict.fromkeys(r["concept"] for r in rows))
    best = {c: _best_row([r for r in rows if r["concept"] == c]) for c in concepts}
    out = []
    ranked = sorted((b for b in best.values() if b is not None), key=lambda r: -r["ratio"])
    if len(ranked) > 1:
        top, low = ranked[0], ranked[-1]
        out.append(f"{top['concept']} localizes best, with {top['method']}: {top['ratio']:.2f}× the share a uniform "
                   f"map puts on the {top['region']}, pointing game {_pct(top['pointing'])} vs {_pct(top['chance'])} "
                   f"chance; {low['concept']} least (best: {low['method']} {low['ratio']:.2f}×).")
    for c in concepts:
        b = best[c]
        if b is None:
            out.append(f"{c}: no method has positive attribution to localize.")
            continue
        region = b["region"]
        if b["ratio"] <= 1:
            out.append(f"{c} ({region}): no method puts more positive attribution on the {region} than a uniform map "
                       f"would (best {b['method']} {b['ratio']:.2f}×).")
            continue
        line = (f"{c} ({region}): best {b['method']}, {b['ratio']:.2f}× uniform; pointing game "
                f"{_pct(b['pointing'])} vs {_pct(b['chance'])} chance")
        if finite(b["pointing"]) and b["pointing"] <= b["chance"]:
            line += " (its peak lands on the region no more often than chance)"
        others = [r for r in rows if r["concept"] == c and r is not b and finite(r["ratio"])]
        if others:
            line += "; " + ", ".join(f"{r['method']} {r['ratio']:.2f}×" for r in others)
        out.append(line + ".")
    return out


def attribution_summary(targets: dict) -> dict:
    """``findings``, ``tables`` and ``command`` over every target entry of the stage.

    Parameters
    ----------
    targets : dict
        target key -> entry (as written by ``run_attribution``), in the order they were run.

    Returns
    -------
    dict
    """
    findings, tables, commands = [], [], []
    several = len(targets) > 1
    for entry in targets.values():
        t = entry["target"]
        lines = []
        if "sanity" in entry:
            lines += sanity_findings(entry["sanity"], t)
            tables.append(sanity_table(entry["sanity"], t))
        if "localization" in entry and entry["localization"].get("rows"):
            loc = localization_findings(entry["localization"])
            lines += [f"{t}: {x}" for x in loc] if several else loc
            tables.append(localization_table(entry["localization"], t))
        if not lines:
            secs = ", ".join(f"{m} {s:.3f}" for m, s in entry.get("seconds_per_image", {}).items())
            lines.append(f"{t}: maps of {entry['n_images']} images ({secs} s/image); sanity check and localization "
                         "were not run.")
        findings += lines
        if entry.get("command"):
            commands.append(entry["command"])
    return {"findings": findings, "tables": tables, "command": commands}


def attribute_command(checkpoint, images, out, methods, target, probes, n, split, layer, sanity, sanity_n,
                      localization, localization_n, batch_size, seed, device, method_kwargs) -> str | None:
    """The `xaiprobe attribute` line equivalent to a ``run_attribution`` call.

    Returns
    -------
    str or None
        None when the call used something a command line cannot name (a model object instead
        of a checkpoint, in-memory images or probes, Captum options other than IG's steps).
    """
    kwargs = {m: kw for m, kw in (method_kwargs or {}).items() if m in methods and kw}
    steps = kwargs.pop("ig", {}).copy() if "ig" in kwargs else {}
    n_steps = steps.pop("n_steps", None)
    if kwargs or steps or not is_path_like(checkpoint):
        return None
    if images is not None and not isinstance(images, str):
        return None
    if (probes is not None and not is_path_like(probes)) or (layer is not None and not isinstance(layer, str)):
        return None
    d = _CLI_DEFAULTS

    def opt(name, v):
        return None if v == d[name] else v

    return command_line("attribute", [
        ("--checkpoint", checkpoint), ("--images", images), ("--n", opt("n", n)), ("--split", opt("split", split)),
        ("--method", ",".join(methods)), ("--steps", None if n_steps is None else opt("steps", n_steps)),
        ("--target", None if str(target) == "logit" else str(target)), ("--probes", probes), ("--layer", layer),
        ("--no-sanity", not sanity), ("--sanity-n", opt("sanity_n", sanity_n) if sanity else None),
        ("--localization", None if localization is None else ("on" if localization else "off")),
        ("--localization-n", opt("localization_n", localization_n) if localization is None or localization else None),
        ("--batch-size", opt("batch_size", batch_size)), ("--seed", opt("seed", seed)), ("--device", device),
        ("--out", out)])
