import numpy as np

from xaiprobe.probes._plots import (embed_umap, plot_concept_distribution, plot_confusion, plot_layer_epoch_heatmap,
                                   plot_metric_by_layer)
from xaiprobe.probes._run import COLUMNS, ProbeReport
from xaiprobe._utils.figures import savefig


def _report():
    rows = []
    for src, base in (("trained", 0.8), ("random_init", 0.6), ("shuffled", 0.5)):
        for i, layer in enumerate(["conv1", "conv2"]):
            for a in ("Smiling", "Male"):
                rows.append({c: float("nan") for c in COLUMNS} | {"layer": layer, "attribute": a, "source": src,
                            "auc": base + 0.05 * i, "auc_lo": base - 0.05, "auc_hi": base + 0.1})
    for a in ("Smiling", "Male"):
        rows.append({c: float("nan") for c in COLUMNS} | {"layer": "pixels", "attribute": a, "source": "pixels",
                    "auc": 0.7, "auc_lo": 0.65, "auc_hi": 0.75})
    return ProbeReport(rows, ["conv1", "conv2"], ["Smiling", "Male"])


def test_plots_return_fig_ax_and_save(tmp_path):
    fig, axes = plot_metric_by_layer(_report())
    assert axes.size >= 2 and axes.ravel()[0].get_title() == "Smiling"
    labels = axes.ravel()[0].get_legend_handles_labels()[1]
    assert {"trained D", "random-init D", "8×8 pixels", "shuffled labels"} <= set(labels)
    paths = savefig(fig, tmp_path / "m")
    assert all(p.is_file() for p in paths)
    fig, ax = plot_confusion(np.array([[3, 1], [0, 4]]), ["a", "b"], "cm")
    assert ax.get_xlabel() == "predicted"
    fig, ax = plot_layer_epoch_heatmap(np.random.rand(3, 4), ["c1", "c2", "c3"], [0, 1, 2, 3], "Smiling")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["c1", "c2", "c3"]
    fig, ax = plot_concept_distribution([{"concept": "Smiling", "generated_rate": 0.3, "real_rate": 0.5,
                                          "true_rate": 0.5}], "conv3")
    assert "conv3" in ax.get_title()


def test_umap_embedding_separates_planted_clusters():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (40, 10)), rng.normal(6, 1, (40, 10))]).astype(np.float32)
    emb = embed_umap(X, seed=0)
    assert emb.shape == (80, 2)
    gap = np.linalg.norm(emb[:40].mean(0) - emb[40:].mean(0))
    spread = emb[:40].std(0).mean() + emb[40:].std(0).mean()
    assert gap > 2 * spread
    assert embed_umap(X[:, :1]).shape == (80, 2)  # one feature: shown as is


def test_plotting_leaves_the_callers_matplotlib_settings_alone():
    import matplotlib

    before, backend = dict(matplotlib.rcParams), matplotlib.get_backend()
    fig, _ = plot_metric_by_layer(_report())
    assert fig.axes[0].xaxis._major_tick_kw.get("gridOn", True)  # drawn in the house style (grid on)
    assert dict(matplotlib.rcParams) == before and matplotlib.get_backend() == backend
