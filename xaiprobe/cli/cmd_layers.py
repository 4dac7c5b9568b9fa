"""`xaiprobe layers --checkpoint C | --model M --weights W`: list the hookable layers."""
from __future__ import annotations


def add_parser(sub):
    from ..activations.plugin import add_model_arguments, one_line_errors

    p = sub.add_parser(
        "layers", help="list a discriminator's layers: alias, module path, type, output shape, parameters",
        description="Every layer worth probing, with the alias (conv1..) and module path either can be "
                    "passed to `xaiprobe extract --layer`, its type, its output shape for one image and "
                    "its parameter count.")
    add_model_arguments(p)
    p.add_argument("--image-shape", default=None,
                   help="C,H,W of the input images (default: from the checkpoint or the model, else 3,64,64)")
    p.set_defaults(run=run)
    one_line_errors(p)
    return p


def _parse_shape(text):
    from .._utils.errors import XaiprobeError

    try:
        shape = tuple(int(x) for x in str(text).replace("x", ",").split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise XaiprobeError(f"--image-shape {text!r}: expected C,H,W, e.g. 3,64,64")
    return shape


def format_table(rows, header) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) if i < len(header) - 1 else str(c).rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths))) for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run(args) -> int:
    from ..activations.hooks import describe_layers
    from ..activations.plugin import model_from_args

    lm = model_from_args(args)
    shape = _parse_shape(args.image_shape) if args.image_shape else (lm.image_shape or (3, 64, 64))
    from .._utils.errors import XaiprobeError

    try:
        infos = describe_layers(lm.discriminator, shape)
    except RuntimeError as exc:
        first = (str(exc).strip().splitlines() or ["error"])[0]
        raise XaiprobeError(f"model: a forward pass on images of shape {shape} failed ({first[:160]}); "
                            "pass the model's input size with --image-shape C,H,W") from None
    rows = [(i.alias or "-", i.module_path, i.module_type, "x".join(map(str, i.output_shape)) or "-", f"{i.n_params:,}")
            for i in infos]
    print(f"# {lm.source}: input {'x'.join(map(str, shape))}; pass an alias or a module path to --layer")
    print(format_table(rows, ("alias", "module path", "type", "output shape", "params")))
    return 0
