"""What the filters and generator stages' numbers say: findings and tables of their sections.

Every value is computed from the results passed in (DissectionResult, MaximizationResult,
TopActivations, LatentRanking, Divergence); tables hold numbers, formatted by the report.
"""
from __future__ import annotations

import numpy as np

from .._utils.numeric import finite, fmt
from ..report import Table


def _label(res, layer: str, channel: int) -> str:
    if res is None or layer not in res.layers:
        return fmt(None)
    lab = res.labels[layer][channel]
    iou = res.iou[layer][channel]
    return f"{lab} (IoU {fmt(iou.max())})" if lab else f"none (best {res.concepts[int(iou.argmax())]} {fmt(iou.max())})"


# ---- filters ---------------------------------------------------------------------------------

def dissection_table(res) -> Table:
    """Layer × concept: units labeled with each concept, selective units out of all, best unit."""
    cols = ["layer", "units"] + list(res.concepts) + ["selective", "selective (%)", "best unit: concept (IoU)"]
    rows = []
    for layer in res.layers:
        n = res.iou[layer].shape[0]
        sel = sum(res.counts[layer].values())
        c, concept, v = res.top_units(layer, 1)[0]
        rows.append([layer, n] + [res.counts[layer].get(k, 0) for k in res.concepts]
                    + [sel, 100 * sel / n, f"ch {c}: {concept} ({fmt(v)})"])
    return Table(f"Network dissection on {res.n_images} images: units per concept (IoU > {res.iou_threshold:g} and "
                 f"≥ {res.min_lift:g}× a random region of the same size; top {100 * (1 - res.quantile):.3g}% "
                 "activations)", cols, rows)


def top_units_table(res, k: int = 3) -> Table:
    """The ``k`` channels per layer with the highest best-concept IoU, beside their chance IoU."""
    rows = []
    for layer in res.layers:
        for c, concept, v in res.top_units(layer, k):
            ch = float(res.chance[layer][c, res.concepts.index(concept)]) if res.chance else float("nan")
            rows.append([layer, c, concept, float(v), ch, v / ch if ch > 0 else float("nan"),
                         "yes" if res.labels[layer][c] == concept else "no"])
    return Table(f"Top {k} units per layer by IoU with their best concept",
                 ["layer", "channel", "best concept", "IoU", "chance IoU", "IoU ÷ chance (×)", "labeled"], rows)


def channel_table(mx, top, res=None) -> Table:
    """Per channel of the maximization layer: objective start → end, top-k activations, label."""
    rows = []
    vals = dict(zip(top.channels, np.asarray(top.values))) if top is not None and top.layer == mx.layer else {}
    for j, c in enumerate(mx.channels):
        v = vals.get(c)
        rows.append([c, float(mx.trace[0, j]), float(mx.trace[-1, j]), float(mx.final[j]),
                     f"{fmt(float(v[0]))} … {fmt(float(v[-1]))}" if v is not None else fmt(None),
                     _label(res, mx.layer, c)])
    k = len(next(iter(vals.values()))) if vals else 0
    return Table(f"{mx.layer} channels: activation-maximization objective (mean activation) at the first and "
                 f"last of {mx.trace.shape[0]} steps and on the final image; the data set's top-{k} activations",
                 ["channel", "objective, step 1", f"objective, step {mx.trace.shape[0]}", "final image",
                  f"top-{k} data activation (1st … {k}th)", "dissection label"], rows)


def filters_findings(mx, top, res=None) -> list[str]:
    """Selective units per layer (and their main concept), the best unit, maximization progress."""
    out = []
    if res is not None:
        for layer in res.layers:
            n = res.iou[layer].shape[0]
            counts = sorted(((v, k) for k, v in res.counts[layer].items() if v), reverse=True)
            sel = sum(v for v, _ in counts)
            if not sel:
                out.append(f"{layer}: none of its {n} units is concept-selective.")
                continue
            what = f"mostly {counts[0][1]} ({counts[0][0]})"
            if len(counts) > 1:
                what += ", then " + ", ".join(f"{k} ({v})" for v, k in counts[1:3])
            out.append(f"{layer}: {sel} of {n} units are concept-selective ({100 * sel / n:.0f}%), {what}.")
        best = max(((layer, *res.top_units(layer, 1)[0]) for layer in res.layers), key=lambda t: t[3])
        layer, c, concept, v = best
        ch = float(res.chance[layer][c, res.concepts.index(concept)]) if res.chance else 0.0
        share = {layer_: sum(res.counts[layer_].values()) / res.iou[layer_].shape[0] for layer_ in res.layers}
        most = max(share, key=share.get)
        out.append(f"The most selective unit is {layer} channel {c} ({concept}, IoU {v:.3f}"
                   + (f", {v / ch:.1f}× chance" if ch > 0 else "") + f"); {most} has the largest share of "
                   f"selective units ({100 * share[most]:.0f}%).")
    start, final = mx.trace[0], np.asarray(mx.final)
    rose = final > start
    line = (f"Activation maximization of {mx.layer} channels {_span(mx.channels)}: the mean objective went from "
            f"{start.mean():.3g} at step 1 to {final.mean():.3g} on the final images ({mx.trace.shape[0]} steps)")
    if rose.all():
        line += f"; every channel rose (final {final.min():.3g} … {final.max():.3g})."
    else:
        flat = [c for c, r in zip(mx.channels, rose) if not r]
        line += f"; channel{'s' if len(flat) > 1 else ''} {', '.join(map(str, flat))} did not rise (try more --steps)."
    out.append(line)
    if top is not None:
        vals = np.asarray(top.values)
        j = int(np.argmax(vals[:, 0]))
        size = f"{top.field.size}×{top.field.size}"
        out.append(f"{top.layer} units see {size} px of the image (stride {top.field.stride}); channel "
                   f"{top.channels[j]} fires most strongly on the data ({vals[j, 0]:.3g}).")
    return out


def _span(channels) -> str:
    ch = list(channels)
    return f"{ch[0]}–{ch[-1]}" if ch == list(range(ch[0], ch[-1] + 1)) and len(ch) > 2 else ", ".join(map(str, ch))


# ---- generator -------------------------------------------------------------------------------

def ranking_table(rank, k: int = 8, n_latents: int | None = None) -> Table:
    """The ``k`` latent dims that change the image most, with the classifier's change per attribute."""
    med = float(np.median(rank.pixel_change))
    attrs = list(rank.attribute_names) if rank.classifier_change is not None else []
    cols = ["rank", "latent dim", "mean |Δ pixel|", "÷ median dim (×)"] + [f"|Δ {a} logit|" for a in attrs]
    rows = []
    for r, i in enumerate(np.argsort(-rank.pixel_change)[:k], 1):
        v = float(rank.pixel_change[i])
        rows.append([r, f"z{rank.dims[i]}", v, v / med if med > 0 else float("nan")]
                    + [float(rank.classifier_change[i, j]) for j in range(len(attrs))])
    base = f", {n_latents} base latents" if n_latents else ""
    return Table(f"Latent dims ranked by mean pixel change between −{rank.amplitude:g} and +{rank.amplitude:g} "
                 f"(top {min(k, len(rank.dims))} of {len(rank.dims)}{base})", cols, rows)


def divergence_peak(div, attr: str) -> tuple[int, float]:
    """Index (into ``div.layers``) and value of the largest relative divergence in D's feature
    layers (not the pixels, and not one-number layers such as the logit unless D has no other)."""
    rel = np.asarray(div.relative()[attr], dtype=float)
    scalar = set(getattr(div, "scalar", []) or [])
    cand = [i for i in range(1, len(div.layers)) if div.layers[i] not in scalar] or list(range(1, len(div.layers)))
    i = max(cand, key=lambda j: rel[j] if np.isfinite(rel[j]) else -np.inf)
    return i, float(rel[i])


def divergence_tables(div) -> list[Table]:
    """Attribute × layer: the pairs' normalized distance (with the different-faces row), and its
    ratio to the different-faces distance with the layer where it peaks."""
    layers = list(div.layers)
    names = [f"{x} (logit)" if x in (getattr(div, "scalar", []) or []) else x for x in layers]
    dist = [[a] + [float(v) for v in div.distance[a]] for a in div.attributes]
    dist.append(["different faces (reference)"] + [float(v) for v in div.baseline])
    rel = div.relative()
    ratio = [[a] + [float(v) for v in rel[a]] + [layers[divergence_peak(div, a)[0]]] for a in div.attributes]
    return [
        Table(f"Counterfactual divergence in D: ||a − b|| / (||a|| + ||b||) for the same face without (a) and "
              f"with (b) the attribute, mean over {div.n_pairs} pairs", ["attribute"] + names, dist),
        Table("Counterfactual divergence ÷ the divergence of different faces (1× = the attribute changes D's "
              "layer as much as swapping the face)", ["attribute"] + [f"{x} (×)" for x in names]
              + ["largest in a D feature layer"], ratio),
    ]


def generator_findings(rank, div=None) -> list[str]:
    """The most influential latent dims, the classifier's most sensitive dims, where D separates
    each attribute's counterfactual pairs most relative to different faces."""
    out = []
    order = np.argsort(-rank.pixel_change)
    med = float(np.median(rank.pixel_change))
    i0 = order[0]
    nxt = ", ".join(f"z{rank.dims[i]}" for i in order[1:4])
    line = (f"z{rank.dims[i0]} changes the image most: mean |Δ pixel| {rank.pixel_change[i0]:.3f} between "
            f"−{rank.amplitude:g} and +{rank.amplitude:g}")
    if med > 0:
        line += f", {rank.pixel_change[i0] / med:.1f}× the median dim ({med:.3f})"
    out.append(line + (f"; next {nxt}." if nxt else "."))
    if rank.classifier_change is not None and rank.attribute_names:
        parts = [f"{a} z{d} ({v:.2f})" for a in rank.attribute_names for d, v in rank.top_dims(1, a)]
        out.append("The attribute classifier's logits move most with: " + ", ".join(parts) + ".")
    if div is None or not div.attributes:
        return out
    rel = div.relative()
    peaks = {a: divergence_peak(div, a) for a in div.attributes}
    scalar = [i for i, x in enumerate(div.layers) if x in (getattr(div, "scalar", []) or []) and i not in
              {p[0] for p in peaks.values()}]
    if len(peaks) > 1:
        hi = max(peaks, key=lambda a: peaks[a][1])
        lo = min(peaks, key=lambda a: peaks[a][1])
        out.append(f"Of the attributes, {hi} changes D's features most ({peaks[hi][1]:.3f}× different faces at "
                   f"{div.layers[peaks[hi][0]]}) and {lo} least ({peaks[lo][1]:.3f}× at {div.layers[peaks[lo][0]]}).")
    for a in div.attributes:
        i, v = peaks[a]
        px = float(rel[a][0])
        line = f"{a}: D separates the pairs most at {div.layers[i]}, {v:.3f}× as far as different faces"
        if finite(px) and px > 0:
            line += f" — {v / px:.1f}× their relative distance in pixels ({px:.3f}×)"
        if scalar:
            line += "; " + ", ".join(f"{div.layers[j]} (logit) {float(rel[a][j]):.3f}×" for j in scalar)
        out.append(line + ".")
    return out


# ---- numbers and headlines -------------------------------------------------------------------

def filters_numbers(mx, top, res=None) -> dict:
    """The filters stage's measured numbers."""
    out = {"maximization/objective_first": float(np.mean(mx.trace[0])),
           "maximization/objective_last": float(np.mean(mx.trace[-1])),
           "maximization/final": float(np.mean(mx.final)),
           "maximization/channels_rising": int((np.asarray(mx.final) > mx.trace[0]).sum())}
    if top is not None:
        out.update({"topk/receptive_field": int(top.field.size), "topk/stride": int(top.field.stride),
                    "topk/max_activation": float(np.asarray(top.values).max())})
    if res is not None:
        for layer in res.layers:
            n = res.iou[layer].shape[0]
            sel = sum(res.counts[layer].values())
            out[f"dissection/{layer}/units"] = int(n)
            out[f"dissection/{layer}/selective"] = int(sel)
            out[f"dissection/{layer}/best_iou"] = float(res.iou[layer].max())
            for c, v in res.counts[layer].items():
                out[f"dissection/{layer}/{c}"] = int(v)
    return out


def filters_headline(mx, top, res=None) -> str:
    """The share of concept-selective units where it is largest, else the maximization's progress."""
    if res is not None and res.layers:
        share = {layer: sum(res.counts[layer].values()) / res.iou[layer].shape[0] for layer in res.layers}
        most = max(share, key=share.get)
        sel = sum(res.counts[most].values())
        return (f"{most}: {sel} of {res.iou[most].shape[0]} units concept-selective ({fmt(100 * share[most], 1)}%), "
                f"the largest share of the {len(res.layers)} layers dissected")
    return (f"activation maximization of {mx.layer}: mean objective {fmt(float(np.mean(mx.trace[0])))} → "
            f"{fmt(float(np.mean(mx.final)))}")


def generator_numbers(rank, div=None) -> dict:
    """The generator stage's measured numbers."""
    order = np.argsort(-rank.pixel_change)
    out = {"ranking/top_dim": int(rank.dims[order[0]]), "ranking/top_pixel_change": float(rank.pixel_change[order[0]]),
           "ranking/median_pixel_change": float(np.median(rank.pixel_change))}
    for d, v in zip(rank.dims, rank.pixel_change):
        out[f"ranking/pixel_change/z{d}"] = float(v)
    if rank.classifier_change is not None:
        for a in rank.attribute_names:
            d, v = rank.top_dims(1, a)[0]
            out[f"ranking/{a}/top_dim"] = int(d)
            out[f"ranking/{a}/change"] = float(v)
    if div is not None:
        rel = div.relative()
        for a in div.attributes:
            i, v = divergence_peak(div, a)
            out[f"divergence/{a}/peak_layer"] = div.layers[i]
            out[f"divergence/{a}/peak"] = v
            for layer, x in zip(div.layers, rel[a]):
                out[f"divergence/{a}/{layer}"] = float(x)
    return out


def generator_headline(rank, div=None) -> str:
    """The attribute D's features separate most, else the most influential latent dim."""
    if div is not None and div.attributes:
        peaks = {a: divergence_peak(div, a) for a in div.attributes}
        hi = max(peaks, key=lambda a: peaks[a][1])
        return (f"{hi} changes D's features most: {fmt(peaks[hi][1])}× the divergence of different faces at "
                f"{div.layers[peaks[hi][0]]}")
    i0 = int(np.argmax(rank.pixel_change))
    return f"z{rank.dims[i0]} changes the image most (mean |Δ pixel| {fmt(float(rank.pixel_change[i0]))})"
