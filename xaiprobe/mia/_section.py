"""What the membership-inference numbers say: findings, tables, the headline and the numbers of the
stage's report section, all computed from the attacks' results."""
from __future__ import annotations

import numpy as np

from .._utils.numeric import finite, fmt, fmt_interval
from ..report import Table
from ._attack import MIAResult

__all__ = ["findings", "attack_table", "epoch_table", "headline", "numbers"]

#: metrics of an attack reported in the section's numbers (with their intervals)
_METRICS = ("auc", "accuracy", "balanced_accuracy", "tpr@0.01fpr", "tpr@0.001fpr", "logan_precision")


def _verdict(r: MIAResult) -> str:
    auc, ci = r.metrics["auc"], r.ci.get("auc")
    if ci is None:
        return f"AUC {fmt(auc)}"
    txt = f"AUC {fmt_interval(auc, *ci)}"
    if ci[0] <= 0.5 <= ci[1]:
        return txt + ": the interval includes chance (0.5), no detectable membership signal"
    if ci[0] > 0.5:
        strength = "a weak" if auc < 0.6 else ("a clear" if auc < 0.9 else "a strong")
        return txt + f": {strength} membership signal (members score higher)"
    return txt + ": below chance (members score lower than non-members; check the member list)"


def findings(attacks: dict, control=None, curve=None) -> list[str]:
    """One-line readings of the results, most important first."""
    out = []
    labels = {"logit": "Raw-logit attack (the seed's)", "calibrated": "Calibrated attack (target - reference logit)"}
    for name, r in attacks.items():
        if name == "control":
            continue
        line = f"{labels.get(name, name)}: {_verdict(r)}."
        t1 = r.metrics.get("tpr@0.01fpr")
        if t1 is not None:
            line += f" At 1% FPR it finds {100 * t1:.1f}% of members (chance 1%)."
        out.append(line)
    if control is not None:
        r = control.result
        s = control.settings
        how = f"{s['n_members']} images, {s['epochs']} epochs, {control.seconds:.0f} s of training"
        if r.metrics["auc"] >= 0.9:
            out.append(f"Positive control ({how}): {_verdict(r)}; the attack sees memorization when it exists, "
                       "so a near-chance answer on the model means it did not memorize.")
        else:
            out.append(f"Positive control ({how}) reached only AUC {fmt(r.metrics['auc'])} (< 0.9): the control did "
                       "not memorize enough to validate the attack; train it longer (--control-epochs).")
    if curve is not None and len(curve.epochs):
        best = int(np.nanargmax(curve.auc))
        out.append(f"By epoch: AUC {fmt(curve.auc[0])} at epoch {curve.epochs[0]} -> {fmt(curve.auc[-1])} at epoch "
                   f"{curve.epochs[-1]} (max {fmt(curve.auc[best])} at epoch {curve.epochs[best]}).")
    return out


def _cell(metrics: dict, ci: dict, key: str) -> str:
    return fmt_interval(metrics.get(key), *(ci.get(key) or (None, None)))


def attack_table(attacks: dict) -> Table:
    """The side-by-side table of attacks."""
    cols = ["attack", "ROC-AUC [95% CI]", "accuracy", "balanced acc.", "TPR @ 1% FPR", "TPR @ 0.1% FPR",
            "LOGAN precision", "threshold", "test members + non-members", "calibration AUC"]
    rows = []
    for name, r in attacks.items():
        m, ci = r.metrics, r.ci
        rows.append([name, _cell(m, ci, "auc"), _cell(m, ci, "accuracy"), _cell(m, ci, "balanced_accuracy"),
                     _cell(m, ci, "tpr@0.01fpr"), _cell(m, ci, "tpr@0.001fpr"), _cell(m, ci, "logan_precision"),
                     float(r.threshold), f"{m['n_members']} + {m['n_nonmembers']}", r.calibration.get("auc")])
    return Table("Membership attacks (test part; threshold chosen on the calibration part)", cols, rows)


def epoch_table(curve) -> Table:
    """The raw-logit attack's AUC (with its interval) per epoch."""
    return Table("Raw-logit attack by epoch", ["epoch", "ROC-AUC", "95% CI low", "95% CI high"],
                 [[int(e), float(a), float(lo), float(hi)]
                  for e, a, lo, hi in zip(curve.epochs, curve.auc, curve.auc_low, curve.auc_high)])


def _main(attacks: dict) -> str:
    return "calibrated" if "calibrated" in attacks else next(k for k in attacks if k != "control")


def headline(attacks: dict) -> str:
    """The attack on the model (calibrated when there is a reference): AUC with its interval and verdict."""
    name = _main(attacks)
    return f"{name} attack: {_verdict(attacks[name])}"


def numbers(attacks: dict, control=None, curve=None) -> dict:
    """``<attack>/<metric>`` (with ``_lo`` / ``_hi`` interval ends), control and by-epoch numbers."""
    out = {}
    for name, r in attacks.items():
        for k in _METRICS:
            v = r.metrics.get(k)
            out[f"{name}/{k}"] = float("nan") if v is None else float(v)
            ci = r.ci.get(k)
            out[f"{name}/{k}_lo"], out[f"{name}/{k}_hi"] = (float(ci[0]), float(ci[1])) if ci else (float("nan"),) * 2
        out[f"{name}/threshold"] = float(r.threshold)
        out[f"{name}/calibration_auc"] = float(r.calibration.get("auc", float("nan")))
        out[f"{name}/n_members"] = int(r.metrics["n_members"])
        out[f"{name}/n_nonmembers"] = int(r.metrics["n_nonmembers"])
    if control is not None:
        out.update({"control/seconds": float(control.seconds), "control/trained": bool(control.trained),
                    "control/n_members": int(control.settings["n_members"]),
                    "control/epochs": int(control.settings["epochs"])})
    if curve is not None:
        for e, a in zip(curve.epochs, curve.auc):
            out[f"by_epoch/{int(e)}/auc"] = float(a) if finite(float(a)) else float("nan")
    return out
