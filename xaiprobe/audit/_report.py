"""The audit's outputs: image strips, loss curves, the directions file, numbers and the section."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .._utils.coerce import evaluating
from .._utils.figures import savefig, styled, subplots, write_json
from .._utils.numeric import finite, fmt, fmt_interval
from ..report import Figure, Section, Table
from ._methods import METHODS

__all__ = ["compute_numbers", "write_outputs", "section"]

TITLE = "Cross-GAN audit"
ORDER = 100
STRIP_STEPS = 7


def _nan(v) -> float:
    return float(v) if finite(v) else float("nan")


def compute_numbers(result) -> dict:
    """The measured numbers of an audit, flat (``method.metric`` for every method)."""
    cfg = result.config
    x = result.methods["xga"].metrics
    n = {"missing_mrr": _nan(x["missing_mrr"]), "missing_mrr_lo": _nan(x["missing_lo"]),
         "missing_mrr_hi": _nan(x["missing_hi"]), "missing_chance": _nan(result.chance.get("missing")),
         "novel_mrr": _nan(x["novel_mrr"]), "novel_mrr_lo": _nan(x["novel_lo"]), "novel_mrr_hi": _nan(x["novel_hi"]),
         "novel_chance": _nan(result.chance.get("novel")), "alignment": _nan(x["alignment"]),
         "entropy": _nan(x["entropy"]), "deviation": _nan(x["deviation"]), "k": cfg.k, "k_common": cfg.k_common,
         "n_attributes": len(result.attribute_names), "uses_oracle": bool(result.uses_oracle),
         "is_null": bool(result.is_null), "threshold": _nan(result.null.get("threshold"))}
    for name, m in result.methods.items():
        for key in ("missing_mrr", "novel_mrr", "alignment", "entropy", "deviation"):
            n[f"{name}.{key}"] = _nan(m.metrics[key])
    uniq = [r for r in result.records if r["role"] != "common"]
    n["flagged_missing"] = sum(1 for r in uniq if r["role"] == "missing" and r["flagged"])
    n["flagged_novel"] = sum(1 for r in uniq if r["role"] == "novel" and r["flagged"])
    n["unique_per_gan"] = cfg.k - cfg.k_common
    audits = result.null.get("audits", [])
    n["null_unique"] = sum(a["unique"] for a in audits)
    n["null_flagged"] = sum(a["flagged"] for a in audits)
    for i, a in enumerate(audits):
        n[f"null{i}.flagged"], n[f"null{i}.unique"] = a["flagged"], a["unique"]
    first, last = _drop(result.history.get("xga", []))
    n["loss_first"], n["loss_last"] = first, last
    n["dre_auc_reference_dirs"] = _nan(result.dre.get("auc_reference_dirs"))
    n["dre_auc_client_dirs"] = _nan(result.dre.get("auc_client_dirs"))
    n["seconds_per_iteration"] = _nan(result.history.get("seconds_per_iteration"))
    n["seconds_total"] = _nan(result.cost.get("total", (float("nan"),))[0])
    n["cpu_seconds_total"] = _nan(result.cost.get("total", (0, float("nan")))[1])
    names = list(result.attribute_names)
    for a in [*result.missing, *result.novel]:
        if result.rates:
            n[f"rate_reference.{a}"] = result.rates["reference"][names.index(a)]
            n[f"rate_client.{a}"] = result.rates["client"][names.index(a)]
    for a, r, k in result.methods["xga"].ranks.get("missing", []):
        n[f"missing_rank.{a}"] = r
    for a, r, k in result.methods["xga"].ranks.get("novel", []):
        n[f"novel_rank.{a}"] = r
    return n


def _drop(values, frac: float = 0.2):
    c = np.asarray(values, float)
    if c.size == 0:
        return float("nan"), float("nan")
    m = max(1, int(round(c.size * frac)))
    return float(c[:m].mean()), float(c[-m:].mean())


# -- figures ---------------------------------------------------------------------------------
@torch.no_grad()
def _strip(G, dirs, k: int, z: torch.Tensor, alpha: float) -> np.ndarray:
    """uint8 (rows, H, W·steps, 3): each latent edited from −alpha to +alpha along d_k(z)."""
    d = dirs.directions(z)[k]
    ts = torch.linspace(-alpha, alpha, STRIP_STEPS, device=z.device)
    zz = (z[:, None, :] + ts[None, :, None] * d[:, None, :]).reshape(-1, z.shape[1])
    with evaluating(G):
        x = G(zz).float().clamp(-1, 1).cpu()
    x = ((x + 1) * 127.5).round().to(torch.uint8)
    n, c, h, w = x.shape
    x = x.reshape(len(z), STRIP_STEPS, c, h, w).permute(0, 3, 1, 4, 2).reshape(len(z), h, STRIP_STEPS * w, c)
    out = x.numpy()
    return np.repeat(out, 3, axis=-1) if c == 1 else out[..., :3]


def _label(rec, names_side: str) -> str:
    top = ", ".join(f"{a} {v:+.2f}" for a, v in rec["top"][:2])
    flag = "" if rec["flagged"] is None else (" · out of distribution" if rec["flagged"] else "")
    return f"{names_side} d{rec['index']}: {top}\nDR {rec['dr_score']:+.2f}{flag}"


@styled
def _plot_strips(rows, labels, alpha: float, title: str):
    gap = 4
    h = rows[0].shape[1]
    w = rows[0].shape[2]
    n = sum(r.shape[0] for r in rows)
    canvas = np.full((n * h + gap * (len(rows) - 1), w, 3), 255, np.uint8)
    centers, y = [], 0
    for block in rows:
        top = y
        for r in block:
            canvas[y:y + h] = r
            y += h
        centers.append((top + y) / 2)
        y += gap
    scale = max(1.0, 64 / h)                            # small images are shown larger
    fig, ax = subplots(figsize=(3.2 + scale * w / 90, 0.9 + scale * canvas.shape[0] / 90), layout="constrained")
    ax.imshow(canvas, interpolation="nearest")
    ax.set_yticks(centers, labels, fontsize=7)
    step = w / STRIP_STEPS
    ax.set_xticks([step * (i + 0.5) for i in range(STRIP_STEPS)],
                  [f"{a:+.1f}" for a in np.linspace(-alpha, alpha, STRIP_STEPS)], fontsize=7)
    ax.set_xlabel("α")
    ax.grid(False)
    ax.set_title(title)
    return fig


@styled
def _plot_loss(history: dict):
    fig, ax = subplots(figsize=(6, 3.2), layout="constrained")
    labels = {"xga": "xGA", "xga_nodre": "xGA, λ = 0", "latentclr_gs": "LatentCLR (each GAN)"}
    for key, label in labels.items():
        v = np.asarray(history.get(key, []), float)
        if v.size:
            ax.plot(np.arange(1, v.size + 1), v, label=label, lw=1.2)
    ax.set_xlabel("iteration")
    ax.set_ylabel("contrastive loss")
    ax.legend()
    return fig


def write_outputs(result, out_dir: Path, G_ref, G_client, z_eval) -> list:
    """Write the figures, ``directions.pt`` and ``audit.json`` into ``out_dir``; return the Figures."""
    cfg = result.config
    out_dir = Path(out_dir)
    figures = []
    gens = {"reference": (G_ref, result.directions["reference"]), "client": (G_client, result.directions["client"])}
    ns = cfg.strip_samples
    by_key = {(r["side"], r["index"]): r for r in result.records}

    def strip(side, k):
        G, d = gens[side]
        return _strip(G, d, k, z_eval[side][:ns], cfg.alpha)

    common = [k for k in range(cfg.k_common)]
    if common:
        rows, labels = [], []
        for k in common:
            for side, short in (("reference", "ref"), ("client", "client")):
                rows.append(strip(side, k))
                labels.append(_label(by_key[(side, k)], short))
        savefig(_plot_strips(rows, labels, cfg.alpha, "common directions (reference row, then client row)"),
                out_dir / "common.png")
        al = result.methods["xga"].metrics["alignment"]
        figures.append(Figure("common.png", "Common directions",
                              f"Each common direction edits both GANs; mean oracle alignment {fmt(al, 2)}."))
    for role, side, short in (("missing", "reference", "ref"), ("novel", "client", "client")):
        ks = [r["index"] for r in result.records if r["role"] == role]
        if not ks:
            continue
        rows = [strip(side, k) for k in ks]
        labels = [_label(by_key[(side, k)], short) for k in ks]
        savefig(_plot_strips(rows, labels, cfg.alpha, f"{role} directions ({side} only)"), out_dir / f"{role}.png")
        flagged = sum(1 for k in ks if by_key[(side, k)]["flagged"])
        figures.append(Figure(f"{role}.png", f"{role.capitalize()} directions",
                              f"{flagged}/{len(ks)} of the {side}'s unique directions leave the other GAN's "
                              f"distribution beyond the null threshold."))
    savefig(_plot_loss(result.history), out_dir / "loss.png")
    first, last = _drop(result.history.get("xga", []))
    figures.append(Figure("loss.png", "Training", f"xGA contrastive loss {fmt(first, 2)} -> {fmt(last, 2)} "
                                                  f"over {cfg.iterations} iterations."))
    state = {side: {k: v.detach().cpu() for k, v in d.state_dict().items()}
             for side, d in result.directions.items()}
    from .._utils.io import atomic_path

    with atomic_path(out_dir / "directions.pt") as tmp:
        torch.save({"format": "xaiprobe.audit_directions", "version": 1, "k": cfg.k, "k_common": cfg.k_common,
                    "model": cfg.direction_model, "alpha": cfg.alpha, "directions": state}, tmp)
    write_json(out_dir / "audit.json", {"records": result.records, "null": result.null, "cost": result.cost,
                                        "numbers": result.numbers,
                                        "methods": {k: {"pairs": m.pairs, "reference_unique": m.ref_unique,
                                                        "client_unique": m.client_unique, "metrics": m.metrics,
                                                        "ranks": m.ranks} for k, m in result.methods.items()}})
    return figures


# -- the section ------------------------------------------------------------------------------
def _headline(result, n) -> str:
    parts = []
    for role, key in (("missing", "missing"), ("novel", "novel")):
        attrs = getattr(result, role)
        if not attrs:
            continue
        ranks = {a: r for a, r, _ in result.methods["xga"].ranks.get(role, [])}
        found = [a for a in attrs if ranks.get(a) == 1]
        what = ", ".join(attrs)
        verdict = ("found" if len(found) == len(attrs) else
                   (f"{len(found)}/{len(attrs)} found" if found else "not found"))
        mrr_text = fmt_interval(n[f"{key}_mrr"], n[f"{key}_mrr_lo"], n[f"{key}_mrr_hi"], 2)
        parts.append(f"{role}: {what} {verdict} (MRR {mrr_text}, chance {fmt(n[f'{key}_chance'], 2)})")
    if not parts:
        parts.append(f"{n['flagged_missing']}/{n['unique_per_gan']} missing and {n['flagged_novel']}/"
                     f"{n['unique_per_gan']} novel directions out of the other GAN's distribution")
    if n["null_unique"]:
        parts.append(f"{n['null_flagged']}/{n['null_unique']} null directions flagged")
    head = "; ".join(parts)
    if result.uses_oracle:
        head += " [oracle feature space]"
    if result.is_null:
        head = "null audit (client = reference): " + head
    return head


def _findings(result, n) -> list:
    out = []
    x = result.methods
    for role, lacks, has in (("missing", "client", "reference"), ("novel", "reference", "client")):
        for a in getattr(result, role):
            rl, rh = n.get(f"rate_{lacks}.{a}"), n.get(f"rate_{has}.{a}")
            if not (finite(rl) and finite(rh)):
                continue
            line = f"the oracle sees {a} in {rl:.0%} of the {lacks}'s samples and {rh:.0%} of the {has}'s"
            if rl >= 0.5 * rh:
                line += (f": the {lacks} still makes {a} (at least half the {has}'s rate), so it is not expected "
                         f"to be found as {role}")
            out.append(line)
    for role in ("missing", "novel"):
        for a, r, k in x["xga"].ranks.get(role, []):
            side = "reference" if role == "missing" else "client"
            out.append(f"{role} attribute {a}: rank {r} of {n['n_attributes']} on the {side}'s unique direction d{k}")
    for key, label in (("missing_mrr", "missing MRR"), ("novel_mrr", "novel MRR"), ("alignment", "alignment")):
        if not finite(n.get(key)):
            continue
        others = {m: n[f"{m}.{key}"] for m in x if m != "xga" and finite(n.get(f"{m}.{key}"))}
        if others:
            best = max(others, key=others.get)
            rel = "above" if n[key] > others[best] else ("equal to" if n[key] == others[best] else "below")
            out.append(f"{label} {fmt(n[key], 2)}: {rel} the best baseline "
                       f"({_label_method(best)} {fmt(others[best], 2)})")
    if finite(n["threshold"]):
        out.append(f"density-ratio threshold {fmt(n['threshold'], 2)} nats (upper {1 - result.null['alpha']:.0%} "
                   f"prediction bound of the null-audit direction scores, Bonferroni over {2 * n['unique_per_gan']} "
                   f"directions); {n['flagged_missing']}/{n['unique_per_gan']} missing and {n['flagged_novel']}/"
                   f"{n['unique_per_gan']} novel directions exceed it")
        for a in result.null.get("audits", []):
            where = "its own calibration" if a["calibration"] else "held out from the calibration"
            out.append(f"null audit {a['label']}: {a['flagged']}/{a['unique']} unique directions flagged ({where})")
    else:
        out.append("no null audit: the density-ratio scores are not calibrated (run with --null-audit)")
    out.append(f"density-ratio models tell the GANs apart with AUC {fmt(n['dre_auc_reference_dirs'], 2)} / "
               f"{fmt(n['dre_auc_client_dirs'], 2)} (0.5: indistinguishable in this feature space)")
    if finite(n["loss_first"]):
        out.append(f"xGA contrastive loss {fmt(n['loss_first'], 3)} -> {fmt(n['loss_last'], 3)} "
                   f"({fmt(n['seconds_per_iteration'], 3)} s per iteration)")
    if result.uses_oracle:
        out.append("the feature space is the oracle's own: metrics measured with the same classifier are optimistic")
    return out


def _label_method(key: str) -> str:
    return METHODS.get(key, key)


def section(result) -> Section:
    """The report section of an audit."""
    from ._config import NAME

    n = result.numbers
    cfg = result.config
    rows = []
    for key, m in result.methods.items():
        mm = m.metrics
        rows.append([METHODS.get(key, key), fmt_interval(mm["missing_mrr"], mm["missing_lo"], mm["missing_hi"], 3),
                     fmt_interval(mm["novel_mrr"], mm["novel_lo"], mm["novel_hi"], 3), _nan(mm["alignment"]),
                     _nan(mm["entropy"]), _nan(mm["deviation"])])
    rows.append(["chance", fmt(n["missing_chance"], 3), fmt(n["novel_chance"], 3), float("nan"), float("nan"),
                 float("nan")])
    metrics = Table(f"Metrics (oracle: {len(result.attribute_names)} attributes; missing = "
                    f"{', '.join(result.missing) or '—'}, novel = {', '.join(result.novel) or '—'})",
                    ["method", "missing MRR", "novel MRR", "alignment", "entropy (norm.)", "deviation"], rows)
    drows = [[r["role"], r["side"], f"d{r['index']}", ", ".join(f"{a} {v:+.2f}" for a, v in r["top"]),
              r["dr_score"], "—" if r["flagged"] is None else ("yes" if r["flagged"] else "no")]
             for r in result.records]
    directions = Table(f"xGA directions (top oracle changes at α = +{cfg.alpha:g}; density-ratio score in nats)",
                       ["role", "GAN", "direction", "top attribute changes", "DR score", "flagged"], drows)
    nrows = [[a["label"] + (" (calibration)" if a["calibration"] else ""), a["unique"], a["flagged"],
              a["max_unique_score"], n["threshold"]] for a in result.null.get("audits", [])]
    tables = [metrics, directions]
    if nrows:
        tables.append(Table("Null audits", ["audit", "unique directions", "flagged", "max unique score", "threshold"],
                            nrows))
    if result.rates:
        tables.append(Table("Oracle positive rates (share of samples with logit > 0)", ["attribute", "reference",
                                                                                        "client"],
                            [[a, r, c] for a, r, c in zip(result.attribute_names, result.rates["reference"],
                                                          result.rates["client"])]))
    tables.append(Table("Cost", ["phase", "wall seconds", "CPU seconds (all threads)"],
                        [[k, w, c] for k, (w, c) in result.cost.items()]))
    return Section(stage=NAME, title=TITLE, order=ORDER, headline=_headline(result, n), findings=_findings(result, n),
                   tables=tables, figures=list(result.figures), command=[cfg.command()], numbers=n)
