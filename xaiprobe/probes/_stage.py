"""The ``probe`` stage: linear probes per layer × attribute, beside controls that say how much is real.

``xaiprobe probe --activations RUN/activations.h5 --out RUN`` fits, for every layer × attribute
of the file, L2 logistic regression on standardized features (all attributes of a layer at once),
its strength chosen on the val split, reported on test with bootstrap CIs, next to the same probe
on a random-init D, on 8×8 pixels and on shuffled labels. It writes RUN/probes/ (results.json,
results.csv, probe_<layer>.pt, the plots) and the report's *Linear probes* section.

Every reading in the section is computed from the measured numbers; the thresholds it uses are
the constants below. Table cells hold numbers formatted to 3 decimals (strings), so a cell can
hold a value and its interval.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._layout import stage_dir
from .._utils.errors import XaiprobeError
from .._utils.numeric import finite, fmt, fmt_interval
from ..config import StageConfig, param
from ..report import Section, Table
from ._run import CONTROLS, ProbeReport, probe_store
from .linear import DEFAULT_CS

NAME = "probes"
TITLE = "Linear probes"
ORDER = 30
HELP = "linear probes per layer and attribute, beside random-init, pixel and shuffled-label controls"

#: a best-layer AUC below this reads an attribute only weakly, even when it beats the baselines
WEAK_AUC = 0.7
#: shuffled-label AUCs whose mean is further than this from 0.5 are reported as off chance
CHANCE_TOLERANCE = 0.05
#: lists longer than this are summarized by counts in a finding
MAX_LISTED = 6

CONTROL_NAMES = {"random_init": "random-init D", "pixels": "8×8 pixels", "shuffled": "shuffled labels"}
NAN = float("nan")


@dataclass
class Config(StageConfig):
    """Which probes to fit, and how."""

    stage = "probe"
    activations: str = param(help="activations file written by `xaiprobe extract` on labeled data "
                                  "(RUN/activations.h5)", required=True, path=True)
    data: str | None = param(None, "data spec of the images, for the pixel and random-init controls (none: the "
                                   "one recorded in the file)")
    layers: tuple[str, ...] = param((), "layers to probe (none: every layer in the file)")
    attributes: tuple[str, ...] = param((), "attributes to probe (none: every attribute)")
    controls: tuple[str, ...] = param(CONTROLS, "controls fitted beside the trained D's probes; none for no controls",
                                      choices=(*CONTROLS, "none"))
    cs: tuple[float, ...] = param(DEFAULT_CS, "grid of the inverse regularization strength C, chosen per "
                                              "attribute on the val split", low=0, low_open=True)
    bootstrap: int = param(200, "bootstrap resamples for the confidence intervals", low=0)
    max_memory_mb: float = param(1024.0, "layers bigger than this are streamed from the file in chunks", low=0,
                                 low_open=True)
    umap: bool = param(True, "draw a UMAP view of each layer (takes a while)")
    plots: bool = param(True, "draw the figures (else tables only)")
    seed: int = param(0, "seed of the bootstrap, the shuffled labels and the random-init D", low=0)
    device: str | None = param(None, "cpu, cuda or cuda:N (none: cuda when present)")

    def check(self) -> None:
        if "none" in self.controls and len(self.controls) > 1:
            raise XaiprobeError(f"--controls {','.join(self.controls)}: none cannot be combined with controls; "
                                "pass none alone or a list of controls")
        if not self.cs:
            raise XaiprobeError("--cs: empty; pass positive values, e.g. --cs 0.001,0.01,0.1,1")


@dataclass
class Result:
    config: Config
    report: ProbeReport


def run(config: Config, run_dir) -> Result:
    """Probe the activations file into RUN/probes/."""
    controls = [] if "none" in config.controls else list(config.controls)
    report = probe_store(config.activations, layers=list(config.layers) or None,
                         attributes=list(config.attributes) or None, controls=controls,
                         out_dir=stage_dir(run_dir, NAME), Cs=config.cs, n_boot=config.bootstrap, seed=config.seed,
                         data=config.data, max_memory_mb=config.max_memory_mb, device=config.device,
                         plots=config.plots, umap=config.umap, progress=True)
    return Result(config, report)


def section(result: Result) -> Section:
    """The Linear probes section: findings, the per-layer and per-pair tables, the plots."""
    report = result.report
    findings = probe_findings(report) + list(report.notes)
    findings += [f"Skipped {s['attribute']}: {s['reason']}." for s in report.skipped]
    return Section(stage=NAME, title=TITLE, order=ORDER, headline=findings[0] if findings else "",
                   findings=findings, tables=probe_tables(report), figures=list(report.figures),
                   command=[result.config.command()], numbers=probe_numbers(report))


# ----------------------------------------------------------------------------- formatting
def cell(v, lo, hi) -> str:
    """``0.930 [0.901, 0.960]`` for a table cell (non-breaking spaces keep it on one line)."""
    return fmt_interval(v, lo, hi).replace(" ", "\u00a0")


def percent(x) -> str:
    """A rate as a percentage with one decimal (``4.1%``)."""
    return f"{fmt(100 * float(x), 1)}%" if finite(x) else "—"


def finite_mean(values) -> float:
    """Mean of the finite values (NaN when there are none)."""
    v = [float(x) for x in values if finite(x)]
    return float(np.mean(v)) if v else NAN


def listing(items: list, what: str) -> str:
    """Items joined with commas; more than MAX_LISTED become "N {what}" with the first few named."""
    if len(items) <= MAX_LISTED:
        return ", ".join(items)
    return f"{len(items)} {what} ({', '.join(items[:3])}, …)"


# --------------------------------------------------------------------------- the readings
def _controls_done(report) -> list:
    return [c for c in CONTROLS if report.controls.get(c) == "done" and report.table(c)]


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
        e = {"layer": layer, "n": len(rows), "trained": finite_mean(r["auc"] for r in rows),
             "selectivity": finite_mean(r["selectivity"] for r in rows)}
        for src in ("random_init", "pixels", "shuffled"):
            e[src] = finite_mean(report.value(layer, r["attribute"], src) for r in rows)
        verdicts = [beyond_baselines(report, r) for r in rows]
        e["beyond"] = None if all(v is None for v in verdicts) else sum(bool(v) for v in verdicts)
        if report.concept_type == "single":
            for src in ("trained", "random_init", "pixels", "shuffled"):
                e["top1_" + src] = report.value(layer, first, src, "top1")
            e["top1_lo"] = report.value(layer, first, "trained", "top1_lo")
            e["top1_hi"] = report.value(layer, first, "trained", "top1_hi")
        out.append(e)
    return out


def probe_tables(report) -> list[Table]:
    """The per-layer means table and the per layer × attribute table of a ProbeReport."""
    done = _controls_done(report)
    single = report.concept_type == "single"
    what = "class" if single else "attribute"
    cols = ["layer", "trained D"] + [CONTROL_NAMES[c] for c in done]
    if "shuffled" in done:
        cols.append("selectivity")
    n_base = sum(c in done for c in ("random_init", "pixels"))
    if n_base:
        cols.append(f"{'classes' if single else 'attributes'} beyond {'both baselines' if n_base > 1 else 'the baseline'}"
                    " (AUC)")
    if single:
        cols += ["top-1 trained [95% CI]"] + [f"top-1 {CONTROL_NAMES[c]}" for c in done]
    rows = []
    for e in layer_means(report):
        row = [e["layer"], fmt(e["trained"])] + [fmt(e[c]) for c in done]
        if "shuffled" in done:
            row.append(fmt(e["selectivity"]))
        if n_base:
            row.append("—" if e["beyond"] is None else f"{e['beyond']} of {e['n']}")
        if single:
            row += [cell(e["top1_trained"], e["top1_lo"], e["top1_hi"])] + [fmt(e["top1_" + c]) for c in done]
        rows.append(row)
    means = Table(f"Mean test AUC over {what}{'es' if single else 's'} per layer (8×8 pixels: one probe on raw pixels, "
                  "the same for every layer)", cols, rows)

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
            row = [layer, a, cell(t["auc"], t["auc_lo"], t["auc_hi"])]
            row += [fmt(report.value(layer, a, c)) for c in done]
            if "shuffled" in done:
                row.append(fmt(t["selectivity"]))
            row += [fmt(t["delta_" + ("random" if c == "random_init" else c)], sign=True)
                    for c in ("random_init", "pixels") if c in done]
            row.append(cell(t["bacc"], t["bacc_lo"], t["bacc_hi"]))
            rows.append(row)
    detail = Table(f"Linear probes per layer and {what} (test split; selectivity = AUC − shuffled-label AUC, "
                   "Δ = AUC − control AUC)", cols, rows)
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
            ctl = [f"{fmt(b['top1_' + c])} for a {CONTROL_NAMES[c]}" if c == "random_init" else
                   f"{fmt(b['top1_' + c])} from {CONTROL_NAMES[c]}" for c in ("random_init", "pixels")
                   if finite(b["top1_" + c])]
            out.append(f"Best layer {b['layer']}: top-1 accuracy {fmt_interval(b['top1_trained'], b['top1_lo'], b['top1_hi'])}"
                       f" over {k} classes" + (f" vs {' and '.join(ctl)}" if ctl else "")
                       + f" (chance {fmt(1 / max(k, 1))}).")
            base = {c: b["top1_" + c] for c in ("random_init", "pixels") if finite(b["top1_" + c])}
            if base:
                lo = b["top1_lo"] if finite(b["top1_lo"]) else b["top1_trained"]
                names = " and ".join(CONTROL_NAMES[c] for c in base)
                top = max(base, key=base.get)
                verdict = ("beyond " + ("both baselines" if len(base) > 1 else f"the {names} baseline")
                           if lo > base[top] else f"not beyond the {CONTROL_NAMES[top]} baseline")
                out.append(f"The trained D's class knowledge is {verdict}: the lower 95% bound of its best top-1 "
                           f"({fmt(lo)}) vs {names} {' / '.join(fmt(x) for x in base.values())} at {b['layer']}.")
    else:
        b = max(means, key=lambda e: e["trained"])
        ctl = [f"{fmt(b[c])} for a {CONTROL_NAMES[c]}" if c == "random_init" else f"{fmt(b[c])} from {CONTROL_NAMES[c]}"
               for c in ("random_init", "pixels") if finite(b[c])]
        line = (f"Best layer {b['layer']}: mean AUC {fmt(b['trained'])} over {k} attributes"
                + (f" vs {' and '.join(ctl)}" if ctl else ""))
        if len(means) > 1:
            w = min(means, key=lambda e: e["trained"])
            line += f"; weakest layer {w['layer']} ({fmt(w['trained'])})"
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
            text = (f"{a} {r['layer']} {fmt_interval(r['auc'], r['auc_lo'], r['auc_hi'])} vs "
                    f"{' / '.join(fmt(x) for x in base.values())}")
        if v and r["auc"] < WEAK_AUC:
            text, weak = text + " (weak)", True
        (known if v else unknown).append(text)
    what = "classes" if single else "attributes"
    names = " / ".join(CONTROL_NAMES[c] for c in measured)
    rule = f"the best layer's AUC [95% CI] vs {names}; the lower bound must exceed {'both' if len(measured) > 1 else 'it'}"
    if known:
        out.append(f"The trained D reads {len(known)} of {len(best)} {what} beyond "
                   f"{'both baselines' if len(measured) > 1 else 'the ' + names + ' baseline'} ({rule}): "
                   f"{listing(known, what) if len(best) > MAX_LISTED else '; '.join(known)}"
                   + (f"; weak = AUC below {WEAK_AUC:g}." if weak else "."))
    if unknown:
        them = "them" if len(unknown) > 1 else "it"
        out.append(f"Not beyond the baselines (an untrained D or raw pixels read {them} as well): "
                   f"{listing(unknown, what) if len(best) > MAX_LISTED else '; '.join(unknown)}.")

    shuf = [r["auc"] for r in report.table("shuffled") if finite(r["auc"])]
    if shuf:
        m, lo, hi = float(np.mean(shuf)), float(np.min(shuf)), float(np.max(shuf))
        n_test = finite_mean(r["n_test"] for r in report.table("shuffled"))
        at = abs(m - 0.5) <= CHANCE_TOLERANCE
        line = (f"Shuffled-label controls {'sit at chance' if at else 'are off chance (check the splits for leaks)'}: "
                f"mean AUC {fmt(m)}, range {fmt(lo)}–{fmt(hi)} over {len(shuf)} probes"
                + (f" ({n_test:.0f} test images each)" if finite(n_test) else ""))
        if single:
            t1 = [report.value(layer, report.attribute_names[0], "shuffled", "top1") for layer in report.layers]
            t1 = [x for x in t1 if finite(x)]
            if t1:
                line += f"; top-1 {fmt(float(np.mean(t1)))} (chance {fmt(1 / max(k, 1))})"
        out.append(line + ".")
    return out


def probe_numbers(report) -> dict:
    """The section's numbers: per attribute the best layer and its AUC beside the controls, the
    mean AUC per layer and source, the number of attributes beyond both baselines, the
    shuffled-label mean AUC and, for single-label data, top-1 accuracy per layer and source."""
    def nz(x):
        return float(x) if finite(x) else None

    best = {}
    for a, b in best_rows(report).items():
        best[a] = {"layer": b["layer"], "auc": nz(b["auc"]), "auc_lo": nz(b["auc_lo"]), "auc_hi": nz(b["auc_hi"]),
                   "random_init_auc": nz(report.value(b["layer"], a, "random_init")),
                   "pixels_auc": nz(report.value(b["layer"], a, "pixels")),
                   "shuffled_auc": nz(report.value(b["layer"], a, "shuffled")),
                   "selectivity": nz(b["selectivity"]), "beyond_baselines": beyond_baselines(report, b)}
    mean_auc = {}
    for src in ("trained", "random_init", "pixels", "shuffled"):
        per_layer = {}
        for layer in (report.layers if src != "pixels" else ["pixels"]):
            v = [r["auc"] for r in report.table(src, layer) if finite(r["auc"])]
            if v:
                per_layer[layer] = float(np.mean(v))
        if per_layer:
            mean_auc[src] = per_layer
    shuf = [r["auc"] for r in report.table("shuffled") if finite(r["auc"])]
    out = {"best": best, "mean_auc_by_layer": mean_auc, "controls": dict(report.controls),
           "beyond_baselines": sum(bool(b["beyond_baselines"]) for b in best.values()),
           "attributes": len(report.attribute_names), "shuffled_mean_auc": float(np.mean(shuf)) if shuf else None,
           "skipped": [s["attribute"] for s in report.skipped]}
    trained = mean_auc.get("trained", {})
    if trained:
        layer = max(trained, key=trained.get)
        out.update(best_layer=layer, best_layer_mean_auc=trained[layer])
    if report.concept_type == "single":
        out["top1_by_layer"] = {src: {r["layer"]: nz(r["top1"]) for r in report.table(src)}
                                for src in ("trained", "random_init", "pixels", "shuffled") if report.table(src)}
    return out
