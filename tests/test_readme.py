"""The README agrees with the code: its command table, the flags in its examples, the scripts it names."""
from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

#: tokens that end one shell command and start another
SEPARATORS = {";", "&", "&&", "|", "||", "(", ")", "do", "then", "done", "fi"}


@pytest.fixture(scope="module")
def readme() -> str:
    return README.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def commands() -> dict:
    """Subcommand -> its argparse parser (with the parsers of its own actions, e.g. ``data pack``)."""
    from xaiprobe.cli.main import build_parser

    return _subparsers(build_parser())


def _subparsers(parser: argparse.ArgumentParser) -> dict:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _flags(parser: argparse.ArgumentParser) -> set:
    return {o for a in parser._actions for o in a.option_strings}


def _table_commands(text: str) -> list[str]:
    """First word after ``xaiprobe`` in the first cell of each row of the command-line reference table."""
    m = re.search(r"^## Command-line reference\n(.*?)(?=^## )", text, re.S | re.M)
    assert m, "README.md lacks the '## Command-line reference' section"
    rows = [line for line in m.group(1).splitlines() if line.startswith("| `xaiprobe ")]
    assert rows, "the command-line reference has no table of `xaiprobe COMMAND` rows"
    return [re.match(r"\| `xaiprobe ([a-z][a-z0-9_-]*)", row).group(1) for row in rows]


def _bash_lines(text: str) -> list[str]:
    """Logical lines (backslash continuations joined) of the fenced bash blocks."""
    out = []
    for block in re.findall(r"^\s*```bash\n(.*?)^\s*```", text, re.S | re.M):
        out += [line for line in re.sub(r"\\\n\s*", " ", block).splitlines() if line.strip()]
    return out


def _tokens(line: str) -> list[str]:
    lex = shlex.shlex(line, posix=True, punctuation_chars=";&|()")
    lex.whitespace_split = True
    lex.commenters = "#"
    return list(lex)


def _invocations(line: str) -> list[tuple[str, str | None, list[str]]]:
    """(subcommand, action or None, flags) of every ``xaiprobe SUBCOMMAND ...`` on a shell line."""
    tokens = _tokens(line)
    found = []
    for i, tok in enumerate(tokens):
        if tok.rsplit("/", 1)[-1] != "xaiprobe":
            continue
        rest = []
        for t in tokens[i + 1:]:
            if t in SEPARATORS:
                break
            if t.strip("[]"):
                rest.append(t.strip("[]"))  # optional parts written [--flag VALUE]
        words = [t for t in rest if not t.startswith("-")]
        if not rest or not words:
            continue
        sub = words[0]
        after = rest[rest.index(sub) + 1:]
        action = after[0] if after and not after[0].startswith("-") else None
        flags = [t.split("=", 1)[0] for t in after if t.startswith("--")]
        found.append((sub, action, flags))
    return found


def test_the_command_table_lists_exactly_the_parser_subcommands(readme, commands):
    listed = _table_commands(readme)
    assert len(listed) == len(set(listed)), f"a command is listed twice: {listed}"
    assert set(listed) - set(commands) == set(), "the README lists commands the CLI lacks"
    assert set(commands) - set(listed) == set(), "the CLI has commands the README's table lacks"


def test_every_flag_in_the_bash_examples_exists(readme, commands):
    checked, problems = 0, []
    for line in _bash_lines(readme):
        if "..." in line or "…" in line:
            continue
        for sub, action, flags in _invocations(line):
            if sub not in commands:
                problems.append(f"unknown command {sub!r} in: {line}")
                continue
            parser = commands[sub]
            actions = _subparsers(parser)
            if actions and action in actions:
                parser = actions[action]
            known = _flags(parser)
            problems += [f"xaiprobe {sub}{' ' + action if action in actions else ''}: no flag {f} in: {line}"
                         for f in flags if f not in known]
            checked += 1
    assert checked >= 20, f"only {checked} xaiprobe commands found in the README's bash blocks"
    assert not problems, "\n".join(problems)


def test_every_bench_and_example_script_named_exists(readme):
    named = set(re.findall(r"\b((?:bench|examples)/[A-Za-z0-9_]+\.py)\b", readme))
    assert named, "the README names no bench/ or examples/ script"
    missing = sorted(p for p in named if not (ROOT / p).is_file())
    assert not missing, f"the README names scripts that do not exist: {missing}"


def test_the_shell_line_parser():
    line = "CUDA_VISIBLE_DEVICES=$i xaiprobe extract --layers all --shard $i/4 --out runs/big & # note --nothing"
    assert _invocations(line) == [("extract", None, ["--layers", "--shard", "--out"])]
    assert _invocations("torchrun -m xaiprobe train --data x --out r; xaiprobe data pack --crop=box") == [
        ("train", None, ["--data", "--out"]), ("data", "pack", ["--crop"])]
    assert _invocations("xaiprobe --debug probe [--no-umap]") == [("probe", None, ["--no-umap"])]
