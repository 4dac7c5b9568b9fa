"""The AE-ACGAN stage's report section: numbers first, then findings and tables computed from them."""
from __future__ import annotations

import numpy as np

from .._utils.numeric import finite, fmt, fmt_interval
from ..report import Section, Table
from ._probes import MIN_CLASS, SOURCES

__all__ = ["numbers_of", "findings_of", "tables_of", "headline_of", "build_section", "SET_KEYS"]

#: quality set name -> key suffix in ``numbers``
SET_KEYS = {"AE-ACGAN": "aeacgan", "ablation (no auto-encoder)": "ablation", "DCGAN": "dcgan", "real vs real": "real"}
#: a gap in balanced accuracy worth naming
GAP = 0.1


def _put(numbers: dict, key: str, v, lo=None, hi=None) -> None:
    numbers[key] = v
    if lo is not None:
        numbers[f"{key}_lo"], numbers[f"{key}_hi"] = lo, hi


def numbers_of(result) -> dict:
    """Every key number of the stage by name (what tests and scripts read)."""
    r, names = result, result.names
    n = {"n_attributes": len(names), "n_generated": r.info["n_generated"], "n_real": r.info["n_real"],
         "n_probe_test": r.grid.n_test, "n_quality": r.info["n_quality"], "seconds": r.seconds}
    for key, s in (("cond_clf_bacc", r.conditional.classifier), ("cond_aux_bacc", r.conditional.aux),
                   ("cond_shuffled_bacc", r.conditional.shuffled), ("real_clf_bacc", r.real["classifier"]),
                   ("real_aux_bacc", r.real["aux"]), ("real_random_aux_bacc", r.real.get("random_aux"))):
        if s is None:
            continue
        _put(n, key, s.mean, s.mean_lo, s.mean_hi)
        for i, a in enumerate(names):
            _put(n, f"{key}_{a}", s.bacc[i], s.lo[i], s.hi[i])
    n["n_cond_honored"] = int(sum(finite(v) and v > 0.5 for v in r.conditional.classifier.lo))
    for model, rec in r.reconstruction.items():
        if model == "images":
            continue
        sfx = "" if model == "aeacgan" else f"_{model}"
        for k, name in (("mae", "recon_mae"), ("shuffled", "recon_shuffled_mae"),
                        ("mean_image", "recon_mean_image_mae")):
            if k in rec:
                _put(n, name + sfx, rec[k]["mean"], rec[k]["lo"], rec[k]["hi"])
    for set_name, q in r.sets.items():
        sfx = SET_KEYS.get(set_name, set_name)
        for m in ("fd", "precision", "recall", "diversity"):
            _put(n, f"{m}_{sfx}", q[m], q[f"{m}_lo"], q[f"{m}_hi"])
    for s in r.readable:
        a = s["attribute"]
        for src in SOURCES:
            n[f"probe_best_{src}_{a}"] = s[src]
        for g in ("gain_dcgan", "gain_random"):
            _put(n, f"probe_{g}_{a}", s[g], s[f"{g}_lo"], s[f"{g}_hi"])
        n[f"probe_readable_{a}"] = int(s["readable"])
    n["n_readable"] = int(sum(s["readable"] for s in r.readable))
    for g in ("gain_dcgan", "gain_random"):
        v = [s[g] for s in r.readable if finite(s[g])]
        n[f"probe_{g}_mean"] = float(np.mean(v)) if v else float("nan")
    for row, (src, layer) in enumerate(r.grid.rows):
        n[f"probe_mean_auc_{src}_{layer}"] = float(np.nanmean(r.grid.auc[row])) if np.isfinite(r.grid.auc[row]).any() \
            else float("nan")
    if r.ablation is not None:
        n["ablation_matched"] = int(r.ablation["matched"])
    return n


def _ci(n: dict, key: str, digits: int = 3) -> str:
    return fmt_interval(n.get(key), n.get(f"{key}_lo"), n.get(f"{key}_hi"), digits)


def headline_of(result, n: dict) -> str:
    aux = f"; the auxiliary head's own view {fmt(n['cond_aux_bacc'])}" if "cond_aux_bacc" in n else ""
    return (f"Conditional generation: an independent classifier finds the requested labels in G(z, y) at mean balanced "
            f"accuracy {_ci(n, 'cond_clf_bacc')} over {n['n_attributes']} attributes (chance 0.5, shuffled-request "
            f"control {fmt(n['cond_shuffled_bacc'])}{aux}); {n['n_readable']} attribute(s) become linearly readable "
            f"in D because of the labels")


def findings_of(result, n: dict) -> list[str]:
    r, names = result, result.names
    out = []
    c = r.conditional.classifier
    order = [i for i in np.argsort(-np.nan_to_num(c.bacc, nan=-1)) if np.isfinite(c.bacc[i])]
    best = ", ".join(f"{names[i]} {fmt(c.bacc[i], 2)}" for i in order[:3])
    worst = ", ".join(f"{names[i]} {fmt(c.bacc[i], 2)}" for i in order[::-1][:3])
    out.append(f"The classifier finds the requested value in G(z, y) for {n['n_cond_honored']} of {len(names)} "
               f"attributes (interval above 0.5); mean {_ci(n, 'cond_clf_bacc')} vs {_ci(n, 'cond_shuffled_bacc')} "
               f"against shuffled requests. Best: {best}; worst: {worst}.")
    if r.conditional.aux is not None:
        gap = r.conditional.aux.bacc - c.bacc
        only = [names[i] for i in np.flatnonzero(np.nan_to_num(gap) > GAP)]
        out.append(f"The auxiliary head reads the requests on the same images at {_ci(n, 'cond_aux_bacc')} "
                   f"({fmt(n['cond_aux_bacc'] - n['cond_clf_bacc'], sign=True)} vs the classifier)"
                   + (f"; it sees far more than the classifier in {', '.join(only)}: G satisfies D's head there "
                      "without drawing what an independent reader recognizes." if only else "."))
    ra, rc = r.real["aux"], r.real["classifier"]
    gap = rc.bacc - ra.bacc
    weak = [names[i] for i in np.flatnonzero(np.nan_to_num(gap) > GAP)]
    rnd = f" (random-init head {fmt(n['real_random_aux_bacc'])})" if "real_random_aux_bacc" in n else ""
    out.append(f"On real test images the auxiliary head's balanced accuracy is {_ci(n, 'real_aux_bacc')} vs the "
               f"classifier's {_ci(n, 'real_clf_bacc')}{rnd}"
               + (f"; it trails by more than {GAP:g} in {', '.join(weak)}." if weak else "."))
    mae, sh, mi = n["recon_mae"], n["recon_shuffled_mae"], n["recon_mean_image_mae"]
    specific = finite(n.get("recon_mae_hi")) and finite(n.get("recon_shuffled_mae_lo")) and \
        n["recon_mae_hi"] < n["recon_shuffled_mae_lo"]
    out.append(f"Auto-encoder reconstruction error {_ci(n, 'recon_mae')} (mean absolute error, [-1, 1] pixels) vs "
               f"{fmt(sh)} from another image's code and {fmt(mi)} for the mean image: "
               + ("the code carries what is specific to each image." if specific else
                  "no closer than another image's code — the code does not carry the image.")
               + (f" The ablation's untrained encoder: {fmt(n['recon_mae_ablation'])}." if "recon_mae_ablation" in n
                  else ""))
    q = (f"Sample quality in the classifier's features: FD {_ci(n, 'fd_aeacgan')}, "
         f"precision {fmt(n['precision_aeacgan'])}, recall {fmt(n['recall_aeacgan'])}")
    if "fd_dcgan" in n:
        q += (f"; the DCGAN's FD {_ci(n, 'fd_dcgan')}, precision {fmt(n['precision_dcgan'])}, "
              f"recall {fmt(n['recall_dcgan'])}")
    out.append(q + f" (real-vs-real floor FD {fmt(n['fd_real'])}, recall {fmt(n['recall_real'])}).")
    if "diversity_ablation" in n:
        more = finite(n["diversity_aeacgan_lo"]) and n["diversity_aeacgan_lo"] > n["diversity_ablation_hi"]
        less = finite(n["diversity_aeacgan_hi"]) and n["diversity_aeacgan_hi"] < n["diversity_ablation_lo"]
        verdict = ("the auto-encoder step keeps the samples more diverse" if more else
                   "the ablation's samples are more diverse" if less else "no difference in diversity is resolved")
        line = (f"Mode collapse: diversity {_ci(n, 'diversity_aeacgan')} with the auto-encoder vs "
                f"{_ci(n, 'diversity_ablation')} without (real {fmt(n['diversity_real'])}); recall "
                f"{fmt(n['recall_aeacgan'])} vs {fmt(n['recall_ablation'])}: {verdict}.")
        if not n.get("ablation_matched", 1):
            m, a = r.ablation["main"], r.ablation["ablation"]
            line += (f" Not a controlled ablation: seed {m['seed']} vs {a['seed']}, updates {m['updates']} vs "
                     f"{a['updates']}, epochs {m['epochs']} vs {a['epochs']}.")
        out.append(line)
    else:
        out.append(f"Mode collapse: diversity {_ci(n, 'diversity_aeacgan')} (real {fmt(n['diversity_real'])}); pass "
                   "--ablation (the recipe trained with --no-autoencoder) for the comparison the auto-encoder is for.")
    readable = [s for s in r.readable if s["readable"]]
    vs = "the DCGAN's D and a random-init D" if "probe_gain_dcgan_mean" in n and finite(n["probe_gain_dcgan_mean"]) \
        else "a random-init D (pass --dcgan for the unlabeled comparison)"
    if readable:
        lst = ", ".join(f"{s['attribute']} at {s['aeacgan_layer']} ({fmt(s['aeacgan'], 2)}, "
                        f"{fmt(s['gain_dcgan'], 2, sign=True) if finite(s['gain_dcgan']) else '—'} over the DCGAN)"
                        for s in readable)
        out.append(f"Linearly readable because of the labels (best AE-ACGAN layer above {vs}, intervals above 0): "
                   f"{lst}.")
    else:
        out.append(f"No attribute is more linearly readable in the AE-ACGAN's D than in {vs} with intervals above 0.")
    few = [s["attribute"] for s in r.readable if not s["enough"]]
    if few:
        out.append(f"Too few held-out images of one class to call readability (fewer than {MIN_CLASS}): "
                   f"{', '.join(few)}; raise --probe-n.")
    out.append(f"Mean probe AUC gain of the AE-ACGAN D's best layer: {fmt(n['probe_gain_dcgan_mean'], sign=True)} over "
               f"the DCGAN's D, {fmt(n['probe_gain_random_mean'], sign=True)} over the random-init AE-ACGAN D.")
    return out


def _mean_of(rec: dict, key: str) -> float:
    return rec[key]["mean"] if key in rec else float("nan")


def tables_of(result) -> list[Table]:
    r, names = result, result.names
    c, aux, sh = r.conditional.classifier, r.conditional.aux, r.conditional.shuffled
    rows = []
    for i, a in enumerate(names):
        row = [a, int(c.n_pos[i]), int(c.n[i]), c.bacc[i], c.lo[i], c.hi[i]]
        row += [aux.bacc[i], aux.lo[i], aux.hi[i]] if aux is not None else [float("nan")] * 3
        rows.append(row + [sh.bacc[i]])
    tables = [Table(f"Conditional generation: balanced accuracy on G(z, y) for the requested labels "
                    f"({r.info['n_generated']} images; rare attributes with extra rows requesting their rarer value)",
                    ["attribute", "requested 1", "images", "classifier", "lo", "hi", "aux head", "lo", "hi",
                     "shuffled control"], rows)]
    rc, ra, rr = r.real["classifier"], r.real["aux"], r.real.get("random_aux")
    tables.append(Table(f"Real images ({r.info['n_real']}, {r.config.split} split): balanced accuracy for the true "
                        "labels",
                        ["attribute", "positives", "classifier", "lo", "hi", "aux head", "lo", "hi", "random-init aux"],
                        [[a, int(rc.n_pos[i]), rc.bacc[i], rc.lo[i], rc.hi[i], ra.bacc[i], ra.lo[i], ra.hi[i],
                          rr.bacc[i] if rr is not None else float("nan")] for i, a in enumerate(names)]))
    tables.append(Table(f"Reconstruction error of {r.info['n_recon']} held-out images (mean absolute error, [-1, 1] "
                        "pixels)",
                        ["model", "MAE", "lo", "hi", "other image's code", "mean image"],
                        [[k, v["mae"]["mean"], v["mae"]["lo"], v["mae"]["hi"], _mean_of(v, "shuffled"),
                          _mean_of(v, "mean_image")] for k, v in r.reconstruction.items() if k != "images"]))
    tables.append(Table(f"Quality and diversity ({r.info['n_quality']} images per set, classifier features, k=3)",
                        ["set", "FD", "FD lo", "FD hi", "precision", "recall", "diversity", "div. lo", "div. hi"],
                        [[k, q["fd"], q["fd_lo"], q["fd_hi"], q["precision"], q["recall"], q["diversity"],
                          q["diversity_lo"], q["diversity_hi"]] for k, q in r.sets.items()]))
    g = r.grid
    tables.append(Table(f"Linear-probe ROC-AUC per layer and attribute ({g.n_train} train / {g.n_test} test real "
                        "images)",
                        ["source", "layer", *names],
                        [[SOURCES.get(s, s), layer, *g.auc[i]] for i, (s, layer) in enumerate(g.rows)]))
    tables.append(Table("What the labels add: the AE-ACGAN D's best layer vs the other discriminators' best",
                        ["attribute", "AE-ACGAN layer", "AE-ACGAN AUC", "aux head AUC", "DCGAN AUC",
                         "random AE-ACGAN", "random DCGAN", "pixels", "gain vs DCGAN", "lo", "hi", "gain vs random",
                         "lo", "hi", "readable"],
                        [[s["attribute"], s["aeacgan_layer"], s["aeacgan"], s["aeacgan_aux"], s["dcgan"],
                          s["aeacgan_random"], s["dcgan_random"], s["pixels"], s["gain_dcgan"], s["gain_dcgan_lo"],
                          s["gain_dcgan_hi"], s["gain_random"], s["gain_random_lo"], s["gain_random_hi"],
                          "yes" if s["readable"] else "no" if s["enough"] else f"too few ({s['n_pos']} positives)"]
                         for s in r.readable]))
    return tables


def build_section(result, stage: str, title: str, order: int) -> Section:
    n = numbers_of(result)
    return Section(stage=stage, title=title, order=order, headline=headline_of(result, n),
                   findings=findings_of(result, n), tables=tables_of(result), figures=list(result.figures),
                   command=[result.config.command()], numbers=n)
