"""Attribution: Captum maps of D's logit or of a concept it sees, sanity checks, localization,
filter and unit views, and generator analysis.

Implementation modules are private in spirit; this namespace is the public API.
"""
from .dissection import DissectionResult, dissect
from .filters import (ReceptiveField, TopActivations, filter_grid, first_conv_weights, receptive_field,
                      receptive_fields, top_activating)
from .generator import (Divergence, LatentRanking, LatentSweep, counterfactual_divergence, generator_features,
                        latent_sweep, rank_latent_dims)
from .localization import LocalizationResult, localization_scores, localize
from .maximization import MaximizationResult, maximize_activation
from .methods import (METHODS, AttributionMethod, GradCamMethod, GradientShapMethod, IntegratedGradientsMethod,
                      OcclusionMethod, SaliencyMethod, SmoothGradMethod, attribute, get_method)
from .run import load_maps, run_attribution, save_maps
from .sanity import SANITY_THRESHOLD, SanityResult, randomization_cascade, sanity_check
from .targets import (ConceptTarget, LayerOutput, LogitTarget, build_target, load_concept_head, parse_target,
                      prepare_model)
from .units import run_filters, run_generator

__all__ = [
    "METHODS", "SANITY_THRESHOLD", "AttributionMethod", "ConceptTarget", "DissectionResult", "Divergence",
    "GradCamMethod", "GradientShapMethod", "IntegratedGradientsMethod", "LatentRanking", "LatentSweep", "LayerOutput",
    "LocalizationResult", "LogitTarget", "MaximizationResult", "OcclusionMethod", "ReceptiveField", "SaliencyMethod",
    "SanityResult", "SmoothGradMethod", "TopActivations", "attribute", "build_target", "counterfactual_divergence",
    "dissect", "filter_grid", "first_conv_weights", "generator_features", "get_method", "latent_sweep",
    "load_concept_head", "load_maps", "localization_scores", "localize", "maximize_activation", "parse_target",
    "prepare_model", "randomization_cascade", "rank_latent_dims", "receptive_field", "receptive_fields",
    "run_attribution", "run_filters", "run_generator", "sanity_check", "save_maps", "top_activating",
]
