"""Subcommands built from a stage's Config: one flag per parameter, validation by the Config."""
from __future__ import annotations

from ..config import add_arguments, from_namespace


class StageCommand:
    """``add_parser``/``run`` pair for a contract stage, like the hand-written cmd_* modules."""

    def __init__(self, name: str, module):
        self.name = name
        self.module = module

    def add_parser(self, sub):
        mod = self.module
        p = sub.add_parser(self.name, help=mod.HELP, description=(mod.__doc__ or mod.HELP).strip().split("\n\n")[0])
        add_arguments(p, mod.Config)
        p.add_argument("--out", required=True, metavar="RUN",
                       help=f"run directory; the stage writes RUN/{mod.NAME}/ (section.json, figures, tables)")

        def error(message):  # argparse's own errors on one line too (exit 2)
            p.exit(2, f"{p.prog}: error: {message}; see {p.prog} --help\n")
        p.error = error
        return p

    def run(self, args) -> int:
        from .._layout import stage_dir
        from ..stages import execute

        cfg = from_namespace(self.module.Config, args)
        _, sec = execute(self.module, cfg, args.out)
        if sec.headline:
            print(sec.headline)
        for line in sec.findings:
            if line != sec.headline:
                print(f"  - {line}")
        print(f"wrote {stage_dir(args.out, self.module.NAME)}/")
        return 0
