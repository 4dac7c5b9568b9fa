"""Activations: hook a discriminator, stream its layer activations to RUN/activations.h5, read them back.

Public names: ``extract_activations``, ``ActivationStore``, ``merge_shards``,
``run_with_cache``, ``ActivationRecorder``, ``describe_layers``, ``resolve_layer(s)``,
``alias_table``, ``pool_activation``, ``logits_of``, ``load_discriminator``. Aliases mean the
same for every model: a block's output after its activation (see :mod:`xaiprobe.activations.hooks`).

The package is also the ``extract`` stage (``NAME``, ``Config``, ``run``, ``section``): it writes
RUN/activations.h5 and the report's *Activations* section; ``merge`` is
:mod:`xaiprobe.activations._merge`; ``xaiprobe layers`` lists layers with :class:`LayersConfig`.
"""
from ._extract import extract_activations
from ._layers import LayersConfig, layers_table, list_layers
from ._merge import merge_shards
from ._stage import HELP, NAME, ORDER, TITLE, Config, Result, describe_store, run, section
from ._store import ActivationStore, LayerView
from .hooks import (ActivationRecorder, LayerInfo, alias_table, describe_layers, layer_names, logits_of,
                    pool_activation, records, resolve_layer, resolve_layers, run_with_cache)
from .plugin import LoadedModel, ModelOptions, as_loaded, load_discriminator

__all__ = [
    "ActivationRecorder", "ActivationStore", "LayerInfo", "LayerView", "LayersConfig", "LoadedModel", "ModelOptions",
    "alias_table", "as_loaded", "describe_layers", "describe_store", "extract_activations", "layer_names",
    "layers_table", "list_layers", "load_discriminator", "logits_of", "merge_shards", "pool_activation", "records",
    "resolve_layer", "resolve_layers", "run_with_cache",
    # the extract stage
    "NAME", "TITLE", "ORDER", "HELP", "Config", "Result", "run", "section",
]
