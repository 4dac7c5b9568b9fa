"""Latent editing: an attribute classifier, latent directions (lstsq, SVM, conditional, SeFa,
GANSpace), edits z + αd, their quality, and the discriminator's concepts along the edits.

Two stages live here, each a ``Config``, ``run(config, run_dir)`` and ``section(result)``:
``xaiprobe directions`` (:mod:`._directions_stage`) and ``xaiprobe edit`` (:mod:`._edit_stage`,
report section ``editing``). Implementation modules are private; this namespace is the public API.
"""
from . import _directions_stage as directions_stage
from . import _edit_stage as edit_stage
from ._directions import (METHODS, Directions, assign_components, conditional_directions, fit_directions,
                          ganspace_components, lstsq_directions, parse_methods, sample_latents, score_latents,
                          sefa_components, svm_directions)
from ._edit_stage import run_edit, run_editing
from ._edits import edit_images, edit_latents, parse_alphas
from ._plots import plot_concept_curves, plot_edit_grid, plot_entanglement, plot_logit_paths, plot_method_comparison
from ._quality import concept_curves, edit_quality, format_quality_table, mean_region_masks, path_metrics, write_quality
from .classifier import (AttributeClassifier, classification_metrics, evaluate_classifier, format_metrics_table,
                         load_classifier, save_classifier, train_classifier)

__all__ = [
    "AttributeClassifier", "train_classifier", "evaluate_classifier", "classification_metrics",
    "format_metrics_table", "save_classifier", "load_classifier",
    "METHODS", "Directions", "fit_directions", "sample_latents", "score_latents", "lstsq_directions",
    "svm_directions", "conditional_directions", "sefa_components", "ganspace_components", "assign_components",
    "parse_methods", "parse_alphas", "edit_latents", "edit_images", "run_edit", "run_editing",
    "directions_stage", "edit_stage",
    "edit_quality", "path_metrics", "format_quality_table", "write_quality", "mean_region_masks", "concept_curves",
    "plot_edit_grid", "plot_entanglement", "plot_method_comparison", "plot_logit_paths", "plot_concept_curves",
]
