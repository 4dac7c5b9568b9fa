"""``xaiprobe layers``: every layer worth probing, with what each alias records.

A listing, not a stage (it writes nothing): alias, module path, type, what the output is
("block output after LeakyReLU", "Conv2d output, before BatchNorm2d → LeakyReLU"), output
shape for one image and parameter count. Aliases and module paths are what ``--layers`` takes.
"""
from __future__ import annotations

from dataclasses import dataclass

from .._utils.errors import XaiprobeError
from ..config import param
from .hooks import LayerInfo, describe_layers
from .plugin import ModelOptions

__all__ = ["LayersConfig", "list_layers", "layers_table"]

COLUMNS = ("alias", "module path", "type", "records", "output shape", "params")


@dataclass
class LayersConfig(ModelOptions):
    """The discriminator whose layers to list."""

    stage = "layers"
    image_shape: str | None = param(None, "C,H,W of the input images (none: from the checkpoint or the model, "
                                          "else 3,64,64)")

    def check(self) -> None:
        super().check()
        if self.image_shape is not None:
            parse_image_shape(self.image_shape)


def parse_image_shape(text: str) -> tuple[int, int, int]:
    try:
        shape = tuple(int(x) for x in str(text).replace("x", ",").split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise XaiprobeError(f"--image-shape {text!r}: expected C,H,W, e.g. 3,64,64")
    return shape


def list_layers(config: LayersConfig) -> tuple[str, tuple, list[LayerInfo]]:
    """(model source, input shape, one LayerInfo per layer) of the model ``config`` names."""
    lm = config.load_model()
    shape = parse_image_shape(config.image_shape) if config.image_shape else (lm.image_shape or (3, 64, 64))
    try:
        infos = describe_layers(lm.discriminator, shape)
    except RuntimeError as exc:
        first = (str(exc).strip().splitlines() or ["error"])[0]
        raise XaiprobeError(f"model: a forward pass on images of shape {shape} failed ({first[:160]}); "
                            "pass the model's input size with --image-shape C,H,W") from None
    return lm.source, shape, infos


def layers_table(source: str, shape, infos: list[LayerInfo]) -> str:
    """The plain-text listing printed by ``xaiprobe layers``."""
    rows = [(i.alias or "-", i.module_path, i.module_type, i.records, "x".join(map(str, i.output_shape)) or "-",
             f"{i.n_params:,}") for i in infos]
    widths = [max(len(str(r[k])) for r in [COLUMNS, *rows]) for k in range(len(COLUMNS))]
    lines = ["  ".join(str(c).ljust(w) if k < len(COLUMNS) - 1 else str(c).rjust(w)
                       for k, (c, w) in enumerate(zip(r, widths))) for r in [COLUMNS, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    note = ("an alias records a block's output after its activation (see `records`); pass an alias or a module "
            "path to --layers")
    return "\n".join([f"# {source}: input {'x'.join(map(str, shape))}; {note}", *lines])
