"""`xaiprobe` command line: argparse subcommands, one module each, thin over the library.

Each subcommand module defines ``add_parser(subparsers)`` (registering its parser) and
``run(args) -> int``, which main calls for that subcommand. Heavy imports happen inside ``run``.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

#: subcommand module names under xaiprobe.cli, in help order
COMMANDS = ["data", "layers", "classifier", "report", "demo"]


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="xaiprobe", description="Show what a GAN's discriminator knows.")
    parser.add_argument("--version", action="version", version=f"xaiprobe {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.set_defaults(_modules={})
    modules = parser.get_default("_modules")
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f".cmd_{name}", __package__)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.endswith(f"cmd_{name}"):
                continue
            raise
        mod.add_parser(sub)
        modules[name] = mod
    from ..stages import STAGES, load_stage
    from ._stage_command import StageCommand

    for name in STAGES:
        if name in modules:
            continue
        cmd = StageCommand(name, load_stage(name))
        cmd.add_parser(sub)
        modules[name] = cmd
    return parser


def main(argv=None) -> int:
    from .._utils.errors import XaiprobeError

    parser = build_parser()
    args = parser.parse_args(argv)
    mod = args._modules.get(args.command) if args.command else None
    if mod is None:
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(mod.run(args) or 0)
    except XaiprobeError as exc:
        if args.debug:
            raise
        print(f"xaiprobe {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"xaiprobe {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        if args.debug:
            raise
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"xaiprobe {args.command}: error:{where} {exc.strerror or exc}; check the path, free space and permissions "
              "(rerun with --debug for a traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
