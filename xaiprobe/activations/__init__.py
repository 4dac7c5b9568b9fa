"""Activations: hook a discriminator, stream its layer activations to HDF5, read them back.

Public names: ``extract_activations``, ``ActivationStore``, ``merge_shards``,
``run_with_cache``, ``ActivationRecorder``, ``describe_layers``, ``resolve_layer(s)``,
``alias_table``, ``pool_activation``, ``logits_of``, ``load_discriminator``.
"""
from .extract import extract_activations
from .hooks import (ActivationRecorder, LayerInfo, alias_table, describe_layers, layer_names, logits_of,
                    pool_activation, resolve_layer, resolve_layers, run_with_cache)
from .merge import merge_shards
from .plugin import LoadedModel, load_discriminator
from .store import ActivationStore, LayerView

__all__ = [
    "ActivationRecorder", "ActivationStore", "LayerInfo", "LayerView", "LoadedModel", "alias_table",
    "describe_layers", "extract_activations", "layer_names", "load_discriminator", "logits_of",
    "merge_shards", "pool_activation", "resolve_layer", "resolve_layers", "run_with_cache",
]
