"""The research scripts in examples/: each runs with --quick and uses only ``import xaiprobe as xp``.

Each script runs in a subprocess (as a user would run it) with a time limit, so the whole
file stays under two minutes on 2 CPU cores.
"""
import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import xaiprobe

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))
TIME_LIMIT_S = 100

pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason="examples/ is not in this checkout")


def _run(script: str, *args, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(EXAMPLES / script), *map(str, args)], capture_output=True,
                          text=True, timeout=TIME_LIMIT_S, cwd=EXAMPLES.parent)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _float(pattern: str, text: str) -> tuple:
    m = re.search(pattern, text)
    assert m, f"{pattern!r} not in the output:\n{text}"
    return tuple(float(g) if re.fullmatch(r"[-\d.]+", g) else g for g in m.groups())


@pytest.mark.examples
def test_probe_custom_discriminator(tmp_path):
    out = _run("probe_custom_discriminator.py", "--quick", "--out", tmp_path).stdout
    assert re.search(r"conv1: \(16, 32, 32\), conv2: \(32, 16, 16\), conv3: \(64, 8, 8\)", out)  # generic aliases
    rand, _, trained, _ = _float(r"best Male AUC: random ([\d.]+) \((conv\d)\) -> trained ([\d.]+) \((conv\d)\)", out)
    assert trained > rand  # training on the planted attributes makes them easier to read out
    r3, t3 = _float(r"conv3 mean AUC over attributes: random ([\d.]+) -> trained ([\d.]+)", out)
    assert t3 > r3 + 0.01
    saved = json.loads((tmp_path / "probe_aucs.json").read_text())
    assert set(saved["aucs"]) == {"random", "trained"}
    assert list(saved["aucs"]["trained"]) == ["conv1", "conv2", "conv3"]
    assert saved["aucs"]["trained"]["conv3"]["Blond_Hair"] > 0.9  # a colour attribute: linear at any depth
    assert (tmp_path / "activations_random.h5").is_file() and (tmp_path / "activations_trained.h5").is_file()


@pytest.mark.examples
def test_attack_user_checkpoint(tmp_path):
    out = _run("attack_user_checkpoint.py", "--quick", "--out", tmp_path).stdout
    for name in ("logit", "mirror-averaged logit"):
        auc, lo, hi = _float(rf"AUC {name}: ([\d.]+) \[([\d.]+), ([\d.]+)\]", out)
        assert 0 <= lo <= auc <= hi <= 1
    for f in ("metrics.json", "scores.npz", "roc.png", "user_scores.npz"):
        assert (tmp_path / f).is_file(), f
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert set(metrics) == {"logit", "mirror-averaged logit"} and metrics["logit"]["n_members"] == 75
    with np.load(tmp_path / "user_scores.npz") as z:
        assert z["members"].shape == z["nonmembers"].shape == (150,)
    bad = tmp_path / "bad.npz"
    np.savez(bad, scores=np.zeros(3))
    proc = _run("attack_user_checkpoint.py", "--quick", "--out", tmp_path, "--scores", bad, check=False)
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(err) == 1 and "needs arrays 'members' and 'nonmembers'" in err[0]


@pytest.mark.examples
def test_edit_latents(tmp_path):
    from PIL import Image

    out = _run("edit_latents.py", "--quick", "--out", tmp_path, "--rows", "3").stdout
    png = tmp_path / "edit_Blond_Hair.png"
    with Image.open(png) as im:
        assert im.size == (2 + 5 * 66, 2 + 3 * 66)  # 5 α columns, 3 latent rows of 64 px with 2 px gaps
    assert f"{2 + 5 * 66}x{2 + 3 * 66} px" in out
    q = json.loads((tmp_path / "quality.json").read_text())
    assert [r["method"] for r in q["rows"]] == ["lstsq", "conditional"]
    assert all(r["attribute"] == "Blond_Hair" for r in q["rows"])


def _xp_names(tree) -> set:
    return {n.attr for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "xp"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_examples_use_only_the_public_api(script):
    text = script.read_text()
    code_lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    code = "\n".join(code_lines)
    private = re.findall(r"^\s*(?:from\s+xaiprobe[.\w]*\s+import|import\s+xaiprobe\.[\w.]+).*$", code, flags=re.M)
    assert not private, f"{script.name}: imports beyond `import xaiprobe as xp`: {private}"
    assert not re.findall(r"\bxaiprobe\.[a-z_]+\.", code), f"{script.name}: reaches into a xaiprobe submodule"
    tree = ast.parse(text)
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    for node in imports:
        if isinstance(node, ast.ImportFrom):
            assert not (node.module or "").startswith("xaiprobe"), f"{script.name}: from {node.module} import ..."
        else:
            for alias in node.names:
                if alias.name.startswith("xaiprobe"):
                    assert alias.name == "xaiprobe" and alias.asname == "xp", f"{script.name}: import {alias.name}"
    used = _xp_names(tree)
    assert used, f"{script.name}: does not use xaiprobe"
    unknown = sorted(used - set(xaiprobe.__all__))
    assert not unknown, f"{script.name}: uses xp.{', xp.'.join(unknown)}, not in xaiprobe.__all__"


def test_every_example_is_tested():
    tested = set(re.findall(r'_run\("(\w+\.py)"', Path(__file__).read_text()))
    assert {p.name for p in SCRIPTS} <= tested
