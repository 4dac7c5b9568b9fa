"""The filter/unit and generator stages end to end (``xaiprobe filters``, ``xaiprobe generator``).

``run_filters`` writes into ``RUN/filters``: the conv1 filter grid, activation-maximization
images and traces, top-k receptive-field crops, and (on data with masks) network dissection.
``run_generator`` writes into ``RUN/generator``: latent sweeps, the latent-dimension ranking,
generator feature maps, and the counterfactual divergence in D's layers. Both write the
stage's ``summary.json`` (measurements, and the report's findings, tables and command; see
``summary_units``) and ``figures.json``.
"""
from __future__ import annotations

import logging

import numpy as np

from .._utils.errors import XaiprobeError
from .._utils.io import ensure_writable_dir
from .run import default_stage_dir, load_models

log = logging.getLogger(__name__)


def run_filters(checkpoint=None, data=None, out=None, layer="conv3", channels="0:16", k: int = 8, n: int = 2000,
                steps: int = 200, dissect_layers="auto", quantile: float = 0.95, device=None, seed: int = 0,
                model=None, progress: bool = False, command: str | None = None) -> dict:
    """Filter grid, activation maximization, top-k crops and dissection for one discriminator.

    Parameters
    ----------
    checkpoint : path, optional
        Or pass ``model`` (the discriminator).
    data : str or ImageSet, optional
        Data to scan (default: the checkpoint's data spec); ``n`` rows of it are used.
    out : path, optional
        Stage directory (default RUN/filters).
    layer : str
        Layer for maximization and top-k.
    channels : str or list
        ``"0:16"``, ``"1,5,9"`` or a list.
    dissect_layers : "auto", list, or None
        "auto": every conv layer when the data has masks; None: skip.
    command : str, optional
        The command recorded as reproducing the stage (default: the equivalent
        ``xaiprobe filters`` line, when the arguments can be written as one).

    Returns
    -------
    dict
        The summary written to ``summary.json``: the measurements (``maximization``, ``topk``,
        ``dissection``) and the report's ``findings``, ``tables`` and ``command``.
    """
    from ..report.style import add_figure_entry, savefig, write_json
    from . import plots
    from .dissection import dissect
    from .filters import filter_grid, first_conv_weights, top_activating
    from .maximization import maximize_activation
    from .summary_units import channel_table, dissection_table, filters_command, filters_findings, top_units_table

    spec = ""
    D = model
    if checkpoint is not None:
        _, D, spec, _ = load_models(checkpoint, device)
    if D is None:
        raise XaiprobeError("filters: no model; pass --checkpoint FILE")
    out = ensure_writable_dir(out if out is not None else default_stage_dir(checkpoint, "filters"))
    given_data = data
    if data is None:
        data = spec or None
    if data is None:
        raise XaiprobeError("filters: no data; pass --data SPEC (e.g. synthfaces:2000)")
    if isinstance(data, str):
        from ..data import load_dataset
        data = load_dataset(data)
    rows = np.arange(min(n, len(data)))
    summary: dict = {"stage": "filters", "data": data.spec, "n_images": int(rows.size), "layer": layer}

    w = first_conv_weights(D)
    fig, _ = plots.plot_filter_grid(filter_grid(w))
    savefig(fig, out / "conv1_filters")
    add_figure_entry(out, "conv1_filters.png", f"The {w.shape[0]} first-layer filters as RGB patches "
                     "(gray = 0, bright = positive weight on that color).", "conv1 filters")

    mx = maximize_activation(D, layer, channels, steps=steps, seed=seed, device=device, progress=progress)
    fig, _ = plots.plot_image_grid(mx.images, f"Activation maximization, {mx.layer}",
                                   ncols=min(8, len(mx.channels)))
    savefig(fig, out / f"maximization_{mx.layer}")
    add_figure_entry(out, f"maximization_{mx.layer}.png", f"Images optimized to excite channels {mx.channels[0]}.."
                     f"{mx.channels[-1]} of {mx.layer} (jitter, total variation, blur).", f"Activation maximization — {mx.layer}")
    fig, _ = plots.plot_maximization_traces(mx)
    savefig(fig, out / f"maximization_trace_{mx.layer}")
    add_figure_entry(out, f"maximization_trace_{mx.layer}.png", f"Objective per step: mean over channels "
                     f"{mx.trace[0].mean():.3g} → {mx.trace[-1].mean():.3g}.", f"Maximization objective — {mx.layer}")
    summary["maximization"] = {"layer": mx.layer, "channels": mx.channels, "steps": steps,
                               "objective_first": float(mx.trace[0].mean()), "objective_last": float(mx.trace[-1].mean()),
                               "objective_start": mx.trace[0], "objective_end": mx.trace[-1], "final": mx.final}

    top = top_activating(D, data, layer, channels, k=k, rows=rows, device=device, progress=progress)
    fig, _ = plots.plot_image_grid(top.crops, f"Top-{k} receptive-field crops ({top.field.size}px), {top.layer}",
                                   row_labels=[f"ch {c}" for c in top.channels])
    savefig(fig, out / f"topk_{top.layer}")
    add_figure_entry(out, f"topk_{top.layer}.png", f"For each channel of {top.layer} (rows), the {k} data set crops "
                     f"({top.field.size}×{top.field.size} px receptive field) where it fires most.", f"Top activating crops — {top.layer}")
    summary["topk"] = {"layer": top.layer, "receptive_field": top.field.size, "stride": top.field.stride,
                       "rows": top.rows, "values": top.values}

    if dissect_layers is not None and getattr(data, "masks", None) is not None:
        res = dissect(D, data, None if dissect_layers == "auto" else dissect_layers, rows=rows, quantile=quantile,
                      device=device, seed=seed, progress=progress)
        fig, _ = plots.plot_dissection(res)
        savefig(fig, out / "dissection")
        sel = {layer_: sum(res.counts[layer_].values()) for layer_ in res.layers}
        add_figure_entry(out, "dissection.png", "Concept-selective units per layer (IoU of the top-activation region "
                         f"with a mask > {res.iou_threshold:g} and >= {res.min_lift:g}x chance): " + ", ".join(f"{k_} {v}" for k_, v in sel.items()) + ".",
                         "Network dissection")
        summary["dissection"] = {**res.to_dict(), "markdown": res.to_markdown()}
    else:
        res = None
    if command is None:
        command = filters_command(checkpoint, given_data, out, layer, mx.channels, k, n, steps, dissect_layers,
                                  quantile, seed, device)
    summary["findings"] = filters_findings(mx, top, res)
    summary["tables"] = ([dissection_table(res), top_units_table(res)] if res is not None else []) + [
        channel_table(mx, top, res)]
    if command:
        summary["command"] = command
    write_json(out / "summary.json", summary)
    return summary


def run_generator(checkpoint=None, out=None, dims: int = 16, pairs: int = 32, classifier=None, n_latents: int = 8,
                  device=None, seed: int = 0, generator=None, model=None, progress: bool = False,
                  command: str | None = None) -> dict:
    """Latent sweeps and ranking, feature maps, counterfactual divergence.

    Parameters
    ----------
    checkpoint : path, optional
        Or pass ``generator`` and ``model`` (D).
    out : path, optional
        Stage directory (default RUN/generator).
    dims : int
        Latent dims shown in the sweep grid (the ones that change the image most).
    pairs : int
        Counterfactual SynthFaces pairs per attribute (0 = skip).
    classifier : path or callable, optional
        Attribute classifier (``xaiprobe classifier train``) or a callable images -> logits (n, A).
    n_latents : int
        Base latents for the ranking.
    command : str, optional
        The command recorded as reproducing the stage (default: the equivalent
        ``xaiprobe generator`` line, when the arguments can be written as one).

    Returns
    -------
    dict
        The summary written to ``summary.json``: the measurements (``ranking``, ``features``,
        ``divergence``) and the report's ``findings``, ``tables`` and ``command``.
    """
    from ..report.style import add_figure_entry, savefig, write_json
    from . import plots
    from .generator import counterfactual_divergence, generator_features, latent_sweep, rank_latent_dims
    from .summary_units import divergence_peak, divergence_tables, generator_command, generator_findings, ranking_table

    G, D = generator, model
    if checkpoint is not None:
        G, D, _, _ = load_models(checkpoint, device)
    if G is None:
        raise XaiprobeError("generator: no model; pass --checkpoint FILE")
    out = ensure_writable_dir(out if out is not None else default_stage_dir(checkpoint, "generator"))
    if command is None:
        command = generator_command(checkpoint, out, dims, pairs, classifier, n_latents, seed, device)
    if isinstance(classifier, (str, bytes)) or hasattr(classifier, "__fspath__"):
        from ..editing.classifier import load_classifier
        classifier = load_classifier(classifier, device)
    summary: dict = {"stage": "generator"}

    rank = rank_latent_dims(G, n_latents=n_latents, classifier=classifier, seed=seed, device=device, progress=progress)
    fig, _ = plots.plot_latent_ranking(rank)
    savefig(fig, out / "latent_ranking")
    tops = ", ".join(f"z{d} ({v:.3f})" for d, v in rank.top_dims(3))
    add_figure_entry(out, "latent_ranking.png", f"Latent dims ranked by mean pixel change when set to ±{rank.amplitude:g}; "
                     f"largest: {tops}.", "Latent dimension ranking")
    summary["ranking"] = rank.to_dict()

    show = [d for d, _ in rank.top_dims(dims)]
    sw = latent_sweep(G, show, seed=seed, device=device)
    fig, _ = plots.plot_image_grid(sw.images, "One latent dim at a time (rows), others fixed",
                                   row_labels=[f"z{d}" for d in sw.dims], col_labels=[f"{v:+.1f}" for v in sw.values])
    savefig(fig, out / "latent_sweep")
    add_figure_entry(out, "latent_sweep.png", f"Each row sets one of the {len(show)} most influential latent dims to "
                     f"{sw.values[0]:g}..{sw.values[-1]:g}, all others fixed.", "Latent sweeps")

    feats = generator_features(G, seed=seed, device=device)
    fig, _ = plots.plot_generator_features(feats)
    savefig(fig, out / "generator_features")
    add_figure_entry(out, "generator_features.png", "Generator feature maps for one latent, block by block "
                     "(the 8 strongest channels per layer).", "Generator features")
    summary["features"] = {k: list(v.shape) for k, v in feats.items()}

    if pairs and D is not None:
        div = counterfactual_divergence(D, n_pairs=pairs, seed=0, device=device, progress=progress)
        fig, _ = plots.plot_divergence(div)
        savefig(fig, out / "counterfactual_divergence")
        peak = {a: div.layers[divergence_peak(div, a)[0]] for a in div.attributes}
        add_figure_entry(out, "counterfactual_divergence.png", "Normalized distance of D's activations for the same "
                         "face with and without one attribute, per layer (dashed: different faces); largest divergence "
                         "relative to different faces, among D's feature layers, at " + ", ".join(f"{a} {v}" for a, v in peak.items()) + ".",
                         "Counterfactual divergence in D")
        summary["divergence"] = div.to_dict()
    else:
        div = None
    summary["findings"] = generator_findings(rank, div)
    summary["tables"] = [ranking_table(rank, 8, n_latents)] + (divergence_tables(div) if div is not None else [])
    if command:
        summary["command"] = command
    write_json(out / "summary.json", summary)
    return summary
