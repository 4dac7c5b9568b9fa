"""Package hygiene: no import cycles, no import side effects, the public API matches the README."""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import xaiprobe

ROOT = Path(xaiprobe.__file__).parent


def _module_graph() -> dict[str, set[str]]:
    """xaiprobe module -> xaiprobe modules it imports (at any level, functions included)."""
    mods = {}
    for p in ROOT.rglob("*.py"):
        rel = p.relative_to(ROOT.parent).with_suffix("")
        name = ".".join(rel.parts)
        mods[name[:-9] if name.endswith(".__init__") else name] = p
    graph = {m: set() for m in mods}
    for m, p in mods.items():
        pkg = m if p.name == "__init__.py" else m.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(p.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom):
                base = pkg
                for _ in range(node.level - 1):
                    base = base.rsplit(".", 1)[0]
                mod = (base + ("." + node.module if node.module else "")) if node.level else node.module
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in mods else mod for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            graph[m] |= {t for t in targets if t in mods and t != m and not m.startswith(t + ".")}
    return graph


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    assert _cycles(_module_graph()) == []


def test_cycle_finder_finds_a_planted_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_importing_every_subpackage_changes_no_matplotlib_state():
    subpackages = sorted({".".join(p.relative_to(ROOT.parent).parts[:-1]) for p in ROOT.rglob("__init__.py")})
    code = f"""
import matplotlib
before_backend = matplotlib.rcParams._get_backend_or_none() if hasattr(matplotlib.rcParams, '_get_backend_or_none') else None
before = {{k: str(matplotlib.rcParams[k]) for k in list(matplotlib.rcParams.keys()) if k != 'backend'}}
import importlib
for name in {subpackages!r}:
    importlib.import_module(name)
after_backend = matplotlib.rcParams._get_backend_or_none() if hasattr(matplotlib.rcParams, '_get_backend_or_none') else None
assert before_backend == after_backend, (before_backend, after_backend)
changed = [k for k in before if str(matplotlib.rcParams[k]) != before[k]]
assert not changed, changed
print('ok', len({subpackages!r}))
"""
    env = {**os.environ, "MPLBACKEND": ""}
    env.pop("MPLBACKEND")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-2000:]


def test_all_matches_the_readme_api_list():
    """The README's "Public names" list is exactly xaiprobe.__all__."""
    readme = (ROOT.parent / "README.md").read_text()
    m = re.search(r"<!-- public-api -->(.*?)<!-- /public-api -->", readme, re.S)
    assert m, "README.md lacks the <!-- public-api --> list"
    listed = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", m.group(1)))
    assert listed == set(xaiprobe.__all__) - {"__version__"}


def test_every_public_name_resolves_to_its_documented_kind():
    import inspect

    for name in xaiprobe.__all__:
        obj = getattr(xaiprobe, name)
        if name == "__version__":
            assert re.fullmatch(r"\d+\.\d+\.\d+", obj)
            continue
        assert inspect.isclass(obj) or callable(obj) or isinstance(obj, (list, dict, tuple)), name
        if callable(obj) and not inspect.isclass(obj):
            assert (obj.__doc__ or "").strip(), f"{name} has no docstring"
