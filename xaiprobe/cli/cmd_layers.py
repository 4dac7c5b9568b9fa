"""`xaiprobe layers --checkpoint C | --model M --weights W`: list the hookable layers and what each records.

A listing, not a stage (it writes nothing); its flags come from
:class:`xaiprobe.activations.LayersConfig`.
"""
from __future__ import annotations


def add_parser(sub):
    from ..activations import LayersConfig
    from ..config import add_arguments

    p = sub.add_parser(
        "layers", help="list a discriminator's layers: alias, module path, type, what it records, output shape",
        description="Every layer worth probing, with the alias (conv1..) and module path either can be passed to "
                    "`xaiprobe extract --layers`, its type, what its output is (an alias records a block's output "
                    "after its activation), its output shape for one image and its parameter count.")
    add_arguments(p, LayersConfig)
    return p


def run(args) -> int:
    from ..activations import LayersConfig, layers_table, list_layers
    from ..config import from_namespace

    source, shape, infos = list_layers(from_namespace(LayersConfig, args))
    print(layers_table(source, shape, infos))
    return 0
