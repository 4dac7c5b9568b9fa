"""xaiprobe: show what a GAN's discriminator knows.

The public API is flat: everything a research script needs is importable from ``xaiprobe``.
Subpackages (``xaiprobe.data``, ``xaiprobe.gan``, ``xaiprobe.activations``, ``xaiprobe.probes``,
``xaiprobe.attribution``, ``xaiprobe.mia``, ``xaiprobe.editing``, ``xaiprobe.report``) hold the
rest. Heavy submodules are imported on first use.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "._utils.errors": ["XaiprobeError"],
    ".data": ["ImageSet", "load_dataset", "render_synthfaces", "render_counterfactual", "ATTRIBUTES",
              "CONCEPT_REGIONS", "read_celeba", "pack_celeba", "load_image_store", "load_digits"],
    ".gan": ["DCGANConfig", "Generator", "Discriminator", "build_dcgan", "count_parameters", "train_gan",
             "sample_images", "save_sample_grid", "export_checkpoint", "load_checkpoint", "save_checkpoint",
             "Checkpoint"],
    ".activations": ["extract_activations", "ActivationStore", "merge_shards", "run_with_cache", "ActivationRecorder",
                     "describe_layers", "alias_table", "resolve_layers", "load_discriminator"],
    ".probes": ["LinearProbe", "ConceptDecoder", "probe_store", "train_decoders", "load_decoders", "decode_images",
                "probe_checkpoints", "ProbeReport"],
    ".attribution": ["attribute", "run_attribution", "sanity_check", "localization_scores", "build_target",
                     "maximize_activation", "dissect", "top_activating", "latent_sweep", "counterfactual_divergence",
                     "run_filters", "run_generator"],
    ".mia": ["membership_attack", "attack_scores", "positive_control", "attack_by_epoch", "MembershipInference",
             "MIAResult"],
    ".editing": ["AttributeClassifier", "train_classifier", "load_classifier", "fit_directions", "edit_images",
                 "edit_quality", "run_editing"],
    ".audit": ["audit", "AuditResult"],
    ".report.html": ["build_report"],
}
_WHERE = {name: mod for mod, names in _EXPORTS.items() for name in names}

__all__ = ["__version__", *_WHERE]


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'xaiprobe' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
