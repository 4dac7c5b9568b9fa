"""Probes: what each discriminator layer knows, beside controls that say how much is real.

* :class:`LinearProbe` — multi-output L2 logistic regression in torch (scikit-learn estimator),
  C chosen per attribute on val, streaming from HDF5 when features do not fit in memory.
* :class:`ConceptDecoder` — an MLP per layer (sigmoid+BCE multilabel, softmax+CE single-label);
  :func:`load_decoders`, :func:`decode_images`, :func:`train_decoders`, :func:`apply_decoders`.
* :func:`probe_store` -> :class:`ProbeReport` — every layer × attribute of an activations file
  with random-init, pixel and shuffled-label controls; :func:`probe_checkpoints` per epoch.
* metrics (AUC, accuracy, balanced accuracy with bootstrap CIs; top-1, confusion) and plots.
"""
from .controls import pixel_features, shuffle_within_splits
from .decode import apply_decoders, concept_distribution, train_decoders
from .decoders import ConceptDecoder, decode_images, load_decoders
from .dynamics import Dynamics, probe_checkpoints
from .linear import ChunkedFeatures, LinearProbe
from .metrics import binary_metrics, bootstrap_ci, confusion, probe_metrics, roc_auc, top1_accuracy
from .plots import (embed_umap, plot_concept_distribution, plot_confusion, plot_layer_epoch_heatmap,
                    plot_metric_by_layer, plot_umap)
from .run import ProbeReport, probe_store

__all__ = [
    "ChunkedFeatures", "ConceptDecoder", "Dynamics", "LinearProbe", "ProbeReport", "apply_decoders",
    "binary_metrics", "bootstrap_ci", "concept_distribution", "confusion", "decode_images", "embed_umap",
    "load_decoders", "pixel_features", "plot_concept_distribution", "plot_confusion", "plot_layer_epoch_heatmap",
    "plot_metric_by_layer", "plot_umap", "probe_checkpoints", "probe_metrics", "probe_store", "roc_auc",
    "shuffle_within_splits", "top1_accuracy", "train_decoders",
]
