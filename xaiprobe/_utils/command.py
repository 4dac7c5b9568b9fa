"""The ``xaiprobe ...`` command line that reproduces a stage, recorded in its summary.json."""
from __future__ import annotations

import os
import shlex


def command_line(subcommand: str, options) -> str:
    """A shell-quoted ``xaiprobe SUBCOMMAND --flag value ...`` line.

    Parameters
    ----------
    subcommand : str
        The CLI subcommand (``attribute``, ``filters``, ``classifier train``, ...).
    options : sequence of (str, object)
        ``(flag, value)`` pairs in the order to print them. ``None``, ``False`` and empty lists
        are left out, ``True`` prints the bare flag, a list or tuple is joined with commas, a
        float prints in ``%g`` form, anything else prints ``--flag value`` (or ``--flag=value``
        when the value starts with ``-``, which argparse would read as a flag).

    Returns
    -------
    str
    """
    parts = ["xaiprobe", *subcommand.split()]
    for flag, value in options:
        if value is None or value is False or (isinstance(value, (list, tuple)) and not value):
            continue
        if value is True:
            parts.append(flag)
            continue
        if isinstance(value, (list, tuple)):
            text = ",".join(_text(v) for v in value)
        else:
            text = _text(value)
        if text.startswith("-"):
            parts.append(shlex.quote(f"{flag}={text}"))
        else:
            parts += [flag, shlex.quote(text)]
    return " ".join(parts)


def _text(value) -> str:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def is_path_like(value) -> bool:
    """True for a str or os.PathLike (something a command line can name)."""
    return isinstance(value, (str, os.PathLike))
