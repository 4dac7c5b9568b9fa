"""Writing an attack's artifacts: results.json, summary.json (findings + tables for the HTML
report), figures.json, scores.npz and the plots."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .attack import MIAResult

FORMAT = "xaiprobe.mia"
VERSION = 1


def _fmt(v, ci=None) -> str:
    if v is None:
        return "n/a"
    s = f"{v:.3f}"
    if ci:
        s += f" [{ci[0]:.3f}, {ci[1]:.3f}]"
    return s


def _verdict(r: MIAResult) -> str:
    auc, ci = r.metrics["auc"], r.ci.get("auc")
    if ci is None:
        return f"AUC {auc:.3f}"
    txt = f"AUC {_fmt(auc, ci)}"
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
            out.append(f"Positive control ({how}) reached only AUC {r.metrics['auc']:.3f} (< 0.9): the control did "
                       "not memorize enough to validate the attack; train it longer (--control-epochs).")
    if curve is not None and len(curve.epochs):
        out.append(f"By epoch: AUC {curve.auc[0]:.3f} at epoch {curve.epochs[0]} -> {curve.auc[-1]:.3f} at epoch "
                   f"{curve.epochs[-1]} (max {np.nanmax(curve.auc):.3f} at epoch {curve.epochs[int(np.nanargmax(curve.auc))]}).")
    return out


def attack_table(attacks: dict) -> dict:
    """The side-by-side table of attacks (report format: title, columns, rows)."""
    cols = ["attack", "ROC-AUC [95% CI]", "accuracy", "balanced acc.", "TPR @ 1% FPR", "TPR @ 0.1% FPR",
            "LOGAN precision", "threshold", "test members + non-members", "calibration AUC"]
    rows = []
    for name, r in attacks.items():
        m, ci = r.metrics, r.ci
        rows.append([name, _fmt(m["auc"], ci.get("auc")), _fmt(m["accuracy"], ci.get("accuracy")),
                     _fmt(m["balanced_accuracy"], ci.get("balanced_accuracy")),
                     _fmt(m.get("tpr@0.01fpr"), ci.get("tpr@0.01fpr")),
                     _fmt(m.get("tpr@0.001fpr"), ci.get("tpr@0.001fpr")),
                     _fmt(m["logan_precision"], ci.get("logan_precision")), f"{r.threshold:.4g}",
                     f"{m['n_members']} + {m['n_nonmembers']}", _fmt(r.calibration.get("auc"))])
    return {"title": "Membership attacks (test part; threshold chosen on the calibration part)",
            "columns": cols, "rows": rows}


def write_outputs(out: str | os.PathLike, attacks: dict, control=None, curve=None, checkpoint=None,
                  data=None, command: str = "") -> dict:
    """Write OUT/results.json, summary.json, scores.npz, the plots and figures.json.

    Parameters
    ----------
    out : path
        Stage directory (e.g. RUN/mia).
    attacks : dict of str -> MIAResult
        ``"logit"``, optionally ``"calibrated"`` and ``"control"``.
    control : ControlResult, optional
    curve : EpochCurve, optional
    checkpoint : Checkpoint, optional
    data : ImageSet, optional
    command : str
        The command that reproduces these results.

    Returns
    -------
    dict
        The summary written to summary.json.
    """
    from ..report.style import add_figure_entry, reset_figures, savefig, write_json
    from .plots import plot_attack_comparison, plot_auc_by_epoch, plot_roc, plot_score_histograms

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    found = findings(attacks, control, curve)
    tables = [attack_table(attacks)]
    if curve is not None:
        tables.append({"title": "Raw-logit attack by epoch", "columns": ["epoch", "ROC-AUC", "95% CI"],
                       "rows": [[int(e), f"{a:.3f}", f"[{lo:.3f}, {hi:.3f}]"]
                                for e, a, lo, hi in zip(curve.epochs, curve.auc, curve.auc_low, curve.auc_high)]})
    summary = {"findings": found, "tables": tables, "command": command,
               "attacks": {k: r.summary() for k, r in attacks.items()}}
    if control is not None:
        summary["control"] = {"seconds": control.seconds, "trained": control.trained, **control.settings}
    if curve is not None:
        summary["by_epoch"] = {"epochs": curve.epochs.tolist(), "auc": curve.auc.tolist()}
    results = {"format": FORMAT, "version": VERSION, "command": command,
               "attacks": {k: r.to_dict() for k, r in attacks.items()}}
    if checkpoint is not None:
        results.update(checkpoint=str(checkpoint.path), checkpoint_sha256=checkpoint.sha256, epoch=checkpoint.epoch,
                       arch=checkpoint.arch)
    if data is not None:
        results["data"] = data.spec
    if control is not None:
        results["control"] = {k: v for k, v in control.to_dict().items() if k != "result"}
    if curve is not None:
        results["by_epoch"] = curve.to_dict()
    write_json(out / "results.json", results)
    write_json(out / "summary.json", summary)

    arrays = {}
    for k, r in attacks.items():
        arrays.update({f"{k}/scores_members": r.scores_members, f"{k}/scores_nonmembers": r.scores_nonmembers,
                       f"{k}/calibration_members": r.calibration_members,
                       f"{k}/calibration_nonmembers": r.calibration_nonmembers})
        if r.index_members is not None:
            arrays.update({f"{k}/index_members": r.index_members, f"{k}/index_nonmembers": r.index_nonmembers})
    from .._utils.io import atomic_path

    with atomic_path(out / "scores.npz") as tmp:
        with open(tmp, "wb") as f:  # a file object: numpy would append .npz to the temporary name
            np.savez_compressed(f, **arrays)

    entries = []
    fig, _ = plot_roc(attacks)
    savefig(fig, out / "roc")
    entries.append(("roc.png", f"Test ROC curves (diagonal = chance). {found[0] if found else ''}", "ROC of the attacks"))
    fig, _ = plot_roc(attacks, scale="log")
    savefig(fig, out / "roc_log")
    entries.append(("roc_log.png", "The same ROC on log axes: the low-FPR regime (Carlini et al. 2022); an attack "
                                   "on the diagonal finds members only at the rate it accuses non-members.",
                    "ROC, log scale"))
    for k, r in attacks.items():
        fig, _ = plot_score_histograms(r)
        savefig(fig, out / f"scores_{k}")
        overlap = "overlap almost completely" if abs(r.metrics["auc"] - 0.5) < 0.05 else "are shifted apart"
        entries.append((f"scores_{k}.png", f"{k}: member and non-member scores {overlap} "
                                           f"(AUC {r.metrics['auc']:.3f}); dashed line: calibrated threshold.",
                        f"Score distributions ({k})"))
    if len(attacks) > 1:
        fig, _ = plot_attack_comparison(attacks)
        savefig(fig, out / "attacks")
        entries.append(("attacks.png", "Attacks side by side: AUC with 95% interval and TPR at 1% FPR"
                        + ("; the positive control shows what memorization looks like." if "control" in attacks else "."),
                        "Attacks side by side"))
    if curve is not None:
        fig, _ = plot_auc_by_epoch(curve)
        savefig(fig, out / "auc_by_epoch")
        entries.append(("auc_by_epoch.png", found[-1], "Attack AUC by epoch"))
    reset_figures(out)
    for file, caption, title in entries:
        add_figure_entry(out, file, caption, title)
    return summary
