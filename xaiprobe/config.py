"""Stage configuration: every parameter of a stage once, with its default, help, range and choices.

A stage's ``Config`` is a dataclass whose fields are declared with :func:`param`. The same
declaration gives

* validation (``Config(...)`` raises :class:`~xaiprobe.XaiprobeError` with one line naming the
  parameter, what is wrong and what to do),
* the command-line flags of ``xaiprobe NAME`` (built by :func:`add_arguments`: one flag per
  field, the default and range shown in the help text, lists spelled as comma-separated values),
* the reproducing command line (:meth:`StageConfig.command`: only the values that differ from
  the defaults, in field order).

Example
-------
>>> from dataclasses import dataclass
>>> from xaiprobe.config import StageConfig, param
>>> @dataclass
... class Config(StageConfig):
...     stage = "toy"
...     n: int = param(10, "number of things", low=1)
...     method: str = param("a", "how", choices=("a", "b"))
>>> Config(n=3).command()
'xaiprobe toy --n 3'
"""
from __future__ import annotations

import dataclasses
import math
import os
import shlex
import typing
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar

from ._utils.errors import XaiprobeError

__all__ = ["param", "StageConfig", "add_arguments", "from_namespace", "describe"]

_META = "xaiprobe"


def param(default: Any = MISSING, help: str = "", *, choices=None, low=None, high=None,
          low_open: bool = False, high_open: bool = False, required: bool = False,
          flag: str | None = None, metavar: str | None = None, cli: bool = True,
          path: bool = False) -> Any:
    """Declare a stage parameter.

    Parameters
    ----------
    default : object
        Default value (lists are given as tuples; they are immutable and safe as defaults).
    help : str
        One line of help text. The default and the valid range are appended by the CLI.
    choices : sequence, optional
        Valid values (for a list parameter: valid items).
    low, high : float, optional
        Inclusive bounds (exclusive with ``low_open`` / ``high_open``).
    required : bool
        The parameter has no usable default (the CLI marks the flag required).
    flag : str, optional
        The flag's spelling; default ``--field-name``.
    metavar : str, optional
        Placeholder in the help text.
    cli : bool
        False keeps the parameter out of the command line (API-only, e.g. an nn.Module).
    path : bool
        The value is a file or directory path.
    """
    meta = {"help": help, "choices": tuple(choices) if choices is not None else None, "low": low, "high": high,
            "low_open": low_open, "high_open": high_open, "required": required, "flag": flag,
            "metavar": metavar, "cli": cli, "path": path}
    if default is MISSING and not required:
        raise TypeError("param(): give a default or required=True")
    return field(default=None if default is MISSING else default, metadata={_META: meta})


def _meta(f: dataclasses.Field) -> dict:
    return f.metadata.get(_META, {"help": "", "choices": None, "low": None, "high": None, "low_open": False,
                                  "high_open": False, "required": False, "flag": None, "metavar": None,
                                  "cli": False, "path": False})


def _flag(f: dataclasses.Field) -> str:
    return _meta(f)["flag"] or "--" + f.name.replace("_", "-")


def _kind(cls, f: dataclasses.Field):
    """(base type, is_list) of a field from its annotation."""
    hints = typing.get_type_hints(cls)
    t = hints.get(f.name, str)
    origin = typing.get_origin(t)
    args = [a for a in typing.get_args(t) if a is not type(None)]
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        t = args[0] if args else str
        origin = typing.get_origin(t)
        args = list(typing.get_args(t))
    if origin in (list, tuple):
        return (args[0] if args and args[0] is not Ellipsis else str), True
    return t, False


def _bound_text(m: dict) -> str:
    lo, hi = m["low"], m["high"]
    if lo is not None and hi is not None:
        return f"{'(' if m['low_open'] else '['}{lo:g}, {hi:g}{')' if m['high_open'] else ']'}"
    if lo is not None:
        return f"{'>' if m['low_open'] else '≥'} {lo:g}"
    if hi is not None:
        return f"{'<' if m['high_open'] else '≤'} {hi:g}"
    return ""


@dataclass
class StageConfig:
    """Base class of every stage's ``Config``: validation and the reproducing command line.

    Subclasses set the class attribute ``stage`` (the CLI subcommand, e.g. ``"audit"``) and may
    override :meth:`check` for rules that involve several parameters.
    """

    stage: ClassVar[str] = ""

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            base, is_list = _kind(type(self), f)
            m = _meta(f)
            if value is None:
                if m["required"]:
                    raise XaiprobeError(f"{_flag(f)}: required; {m['help'] or 'give a value'}")
                continue
            if is_list:
                if isinstance(value, str):
                    value = [v.strip() for v in value.split(",") if v.strip()]
                value = tuple(_coerce(f, base, v) for v in value)
                items = value
            else:
                value = _coerce(f, base, value)
                items = (value,)
            for v in items:
                _check_value(f, m, v)
            object.__setattr__(self, f.name, value)
        self.check()

    def check(self) -> None:
        """Cross-parameter rules; raise XaiprobeError with one line. Default: none."""

    # -- the command line -------------------------------------------------------------------
    def cli_options(self) -> list[tuple[str, Any]]:
        """``(flag, value)`` for every CLI parameter whose value differs from its default."""
        out = []
        for f in fields(self):
            m = _meta(f)
            if not m["cli"]:
                continue
            v = getattr(self, f.name)
            d = f.default if f.default is not MISSING else None
            if isinstance(d, list):
                d = tuple(d)
            if v == d and not m["required"]:
                continue
            out.append((_flag(f), v))
        return out

    def command(self, extra: list[tuple[str, Any]] | None = None) -> str:
        """The ``xaiprobe STAGE ...`` line that reproduces this configuration."""
        parts = ["xaiprobe", *self.stage.split()]
        own = self.cli_options()
        for flag, value in [*own, *(extra or [])]:
            if value is False and any(f == flag for f, _ in own):  # a switch that is on by default, turned off
                parts.append("--no-" + flag[2:])
                continue
            if value is None or value is False:
                continue
            if value is True:
                parts.append(flag)
                continue
            text = ",".join(_text(v) for v in value) if isinstance(value, (list, tuple)) else _text(value)
            parts += [shlex.quote(f"{flag}={text}")] if text.startswith("-") else [flag, shlex.quote(text)]
        return " ".join(parts)

    def to_dict(self) -> dict:
        """JSON-able parameters (tuples as lists, paths as strings; API-only objects by type name)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, os.PathLike):
                v = os.fspath(v)
            elif not isinstance(v, (int, float, str, bool, list, dict)) and v is not None:
                v = type(v).__name__
            out[f.name] = v
        return out


def _text(value) -> str:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _coerce(f, base, v):
    if base is bool:
        if isinstance(v, str) and v.lower() in ("1", "true", "yes", "0", "false", "no"):
            return v.lower() in ("1", "true", "yes")
        if isinstance(v, (bool, int)):
            return bool(v)
        raise XaiprobeError(f"{_flag(f)} {v!r}: not a yes/no value; use true or false")
    if base in (int, float):
        if isinstance(v, bool):
            raise XaiprobeError(f"{_flag(f)} {v!r}: not a number; give a {base.__name__}")
        try:
            out = base(v)
        except (TypeError, ValueError):
            raise XaiprobeError(f"{_flag(f)} {v!r}: not a{'n integer' if base is int else ' number'}; "
                                f"give a {base.__name__}") from None
        if base is int and isinstance(v, float) and v != out:
            raise XaiprobeError(f"{_flag(f)} {v!r}: not an integer; give a whole number")
        if base is float and not math.isfinite(out):
            raise XaiprobeError(f"{_flag(f)} {v!r}: not a finite number; give a finite value")
        return out
    if base is str:
        return os.fspath(v) if isinstance(v, os.PathLike) else (v if isinstance(v, str) else str(v))
    return v


def _check_value(f, m, v):
    if m["choices"] is not None and v not in m["choices"]:
        raise XaiprobeError(f"{_flag(f)} {v!r}: not a valid choice; use one of {', '.join(map(str, m['choices']))}")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        lo, hi = m["low"], m["high"]
        bad = (lo is not None and (v <= lo if m["low_open"] else v < lo)) or \
              (hi is not None and (v >= hi if m["high_open"] else v > hi))
        if bad:
            raise XaiprobeError(f"{_flag(f)} {_text(v)}: out of range; must be {_bound_text(m)}")


# -- argparse ------------------------------------------------------------------------------
def describe(cls) -> list[dict]:
    """One record per CLI parameter: name, flag, type, list, default, help, range, choices."""
    out = []
    for f in fields(cls):
        m = _meta(f)
        if not m["cli"]:
            continue
        base, is_list = _kind(cls, f)
        out.append({"name": f.name, "flag": _flag(f), "type": base, "list": is_list,
                    "default": None if f.default is MISSING else f.default, "help": m["help"],
                    "range": _bound_text(m), "choices": m["choices"], "required": m["required"]})
    return out


def add_arguments(parser, cls) -> None:
    """Add one flag per CLI parameter of ``cls`` to an argparse parser.

    Values are parsed as strings and converted and checked by ``cls`` itself (so the CLI and the
    Python API reject the same values with the same message). Lists are comma-separated.
    """
    for d in describe(cls):
        help_text = d["help"]
        extras = []
        if d["choices"] is not None:
            extras.append(("items: " if d["list"] else "") + "|".join(map(str, d["choices"])))
        if d["range"]:
            extras.append(d["range"])
        if d["default"] not in (None, (), False) and not d["required"]:
            dv = d["default"]
            extras.append("default " + (",".join(map(str, dv)) if isinstance(dv, tuple) else _text(dv)))
        if d["list"]:
            extras.append("comma-separated")
        if extras:
            help_text = f"{help_text} [{'; '.join(extras)}]"
        help_text = help_text.replace("%", "%%")
        if d["type"] is bool and not d["list"]:
            parser.add_argument(d["flag"], dest=d["name"], action="store_true", default=None, help=help_text)
            if d["default"] is True:
                parser.add_argument("--no-" + d["flag"][2:], dest=d["name"], action="store_false",
                                    help=f"turn off {d['flag']}")
            continue
        parser.add_argument(d["flag"], dest=d["name"], default=None, required=d["required"],
                            metavar=_meta_var(d), help=help_text)


def _meta_var(d) -> str:
    return d["name"].upper()


def from_namespace(cls, ns, **overrides):
    """Build ``cls`` from parsed arguments: flags left unset take the Config's defaults."""
    kwargs = {}
    for d in describe(cls):
        v = getattr(ns, d["name"], None)
        if v is not None:
            kwargs[d["name"]] = v
    kwargs.update(overrides)
    return cls(**kwargs)
