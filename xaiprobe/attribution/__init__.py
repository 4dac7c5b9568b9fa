"""Attribution: Captum maps of D's logit, of a concept it sees or of an auxiliary attribute head,
sanity checks, localization, filter and unit views, and generator analysis.

Three stages live here, each a ``Config``, ``run(config, run_dir)`` and ``section(result)``:
``xaiprobe attribute`` (:mod:`._attribute_stage`, report section ``attribution``),
``xaiprobe filters`` (:mod:`._filters_stage`) and ``xaiprobe generator`` (:mod:`._generator_stage`).
Implementation modules are private; this namespace is the public API.
"""
from . import _attribute_stage as attribute_stage
from . import _filters_stage as filters_stage
from . import _generator_stage as generator_stage
from ._attribute_stage import run_attribution
from ._dissection import DissectionResult, dissect
from ._filters import (ReceptiveField, TopActivations, filter_grid, first_conv_weights, parse_channels,
                       receptive_field, receptive_fields, top_activating)
from ._filters_stage import run_filters
from ._generator import (Divergence, LatentRanking, LatentSweep, counterfactual_divergence, generator_features,
                         latent_sweep, rank_latent_dims)
from ._generator_stage import run_generator
from ._localization import LocalizationResult, concept_regions, localization_scores, localize
from ._maps import load_maps, save_maps
from ._maximization import MaximizationResult, maximize_activation
from ._methods import (METHODS, AttributionMethod, GradCamMethod, GradientShapMethod, IntegratedGradientsMethod,
                       OcclusionMethod, SaliencyMethod, SmoothGradMethod, attribute, get_method)
from ._sanity import SANITY_THRESHOLD, SanityResult, randomization_cascade, randomize, sanity_check
from ._targets import (AuxTarget, ConceptTarget, LayerOutput, LogitTarget, TargetSpec, build_target,
                       load_concept_head, parse_target)

__all__ = [
    "METHODS", "SANITY_THRESHOLD", "AttributionMethod", "AuxTarget", "ConceptTarget", "DissectionResult",
    "Divergence", "GradCamMethod", "GradientShapMethod", "IntegratedGradientsMethod", "LatentRanking", "LatentSweep",
    "LayerOutput", "LocalizationResult", "LogitTarget", "MaximizationResult", "OcclusionMethod", "ReceptiveField",
    "SaliencyMethod", "SanityResult", "SmoothGradMethod", "TargetSpec", "TopActivations", "attribute",
    "attribute_stage", "build_target", "concept_regions", "counterfactual_divergence", "dissect", "filter_grid",
    "filters_stage", "first_conv_weights", "generator_features", "generator_stage", "get_method", "latent_sweep",
    "load_concept_head", "load_maps", "localization_scores", "localize", "maximize_activation", "parse_channels",
    "parse_target", "randomization_cascade", "randomize", "rank_latent_dims", "receptive_field", "receptive_fields",
    "run_attribution", "run_filters", "run_generator", "sanity_check", "save_maps", "top_activating",
]
