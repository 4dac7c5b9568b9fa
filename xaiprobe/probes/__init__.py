"""Probes: what each discriminator layer knows, beside controls that say how much is real.

* :class:`LinearProbe` — multi-output L2 logistic regression in torch (a scikit-learn
  estimator), C chosen per attribute on val, streaming from HDF5 when features do not fit in memory.
* :class:`ConceptDecoder` — an MLP per layer (sigmoid+BCE multilabel, softmax+CE single-label);
  :func:`load_decoders`, :func:`decode_images`, :func:`train_decoders`, :func:`apply_decoders`.
* :func:`probe_store` -> :class:`ProbeReport` — every layer × attribute of an activations file
  with random-init, pixel and shuffled-label controls; :func:`probe_checkpoints` per epoch.
* metrics (AUC, accuracy, balanced accuracy with bootstrap CIs; top-1, confusion) and plots.

The package is the ``probe`` stage (``NAME``, ``Config``, ``run``, ``section``: RUN/probes and the
report's *Linear probes* section). The other stages of the package are modules of their own:
``dynamics`` (:mod:`xaiprobe.probes._dynamics`), ``decode`` (:mod:`xaiprobe.probes._decode`) and
``concepts`` (:mod:`xaiprobe.probes._concepts`).
"""
from ._concepts import apply_decoders, concept_distribution
from ._controls import pixel_features, shuffle_within_splits
from ._decode import train_decoders
from ._dynamics import Dynamics, probe_checkpoints
from ._metrics import binary_metrics, bootstrap_ci, confusion, probe_metrics, roc_auc, top1_accuracy
from ._plots import (embed_umap, plot_concept_distribution, plot_confusion, plot_layer_epoch_heatmap,
                     plot_metric_by_layer, plot_umap)
from ._run import ProbeReport, probe_store
from ._stage import HELP, NAME, ORDER, TITLE, Config, Result, run, section
from .decoders import ConceptDecoder, decode_images, load_decoders
from .linear import ChunkedFeatures, LinearProbe

__all__ = [
    "ChunkedFeatures", "ConceptDecoder", "Dynamics", "LinearProbe", "ProbeReport", "apply_decoders",
    "binary_metrics", "bootstrap_ci", "concept_distribution", "confusion", "decode_images", "embed_umap",
    "load_decoders", "pixel_features", "plot_concept_distribution", "plot_confusion", "plot_layer_epoch_heatmap",
    "plot_metric_by_layer", "plot_umap", "probe_checkpoints", "probe_metrics", "probe_store", "roc_auc",
    "shuffle_within_splits", "top1_accuracy", "train_decoders",
    # the probe stage
    "NAME", "TITLE", "ORDER", "HELP", "Config", "Result", "run", "section",
]
