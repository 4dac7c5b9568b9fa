"""The report's Activations section and its robustness to partial runs; the Run overview."""
import logging
import re
import shutil

import pytest

from xaiprobe.report.html import build_report
from xaiprobe.report.style import write_json


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory):
    """A complete activation file of a tiny DCGAN on 20 SynthFaces (every alias, avg2 pooling)."""
    from xaiprobe.activations.extract import extract_activations
    from xaiprobe.testing.data import tiny_faces
    from xaiprobe.testing.models import tiny_checkpoint

    root = tmp_path_factory.mktemp("acts")
    data = tiny_faces(20)
    ck = tiny_checkpoint(root / "tiny.pt", data, seed=0)
    path = extract_activations(ck, data, out=root / "activations.h5", layers="all", pooling="avg2",
                               command="xaiprobe extract --data synthfaces:20 --all-layers", progress=False)
    return path


def _run_with_stage(tmp_path):
    run = tmp_path / "run"
    write_json(run / "probes" / "summary.json", {"findings": ["probes found something"], "command": "xaiprobe probe"})
    return run


def _section(text, sid):
    m = re.search(rf'<section id="{sid}">(.*?)</section>', text, flags=re.S)
    return m.group(1) if m else None


def test_activations_section_lists_every_layer(tiny_store, tmp_path):
    from xaiprobe.activations.store import ActivationStore

    run = _run_with_stage(tmp_path)
    shutil.copyfile(tiny_store, run / "activations.h5")
    text = build_report(run).read_text()
    sec = _section(text, "activations")
    assert sec is not None and '<a href="#activations">' in text
    ids = re.findall(r'<section id="([^"]+)">', text)
    assert ids.index("activations") < ids.index("probes")  # data-flow order
    with ActivationStore(tiny_store) as store:
        layers = [(a, store.layer_attrs(a), store[a].shape) for a in store.layers]
        names = store.attribute_names
    assert len(layers) == 5
    for alias, attrs, shape in layers:
        row = re.search(rf"<tr><td>{alias}</td><td>{re.escape(attrs['module_path'])}</td>"
                        rf"<td>{'×'.join(map(str, shape[1:]))}</td><td>{'×'.join(map(str, attrs['full_shape']))}</td>"
                        r"<td>avg2</td><td>float16</td>", sec)
        assert row, alias
    assert "<td>images</td><td>20</td>" in sec and ", ".join(names) in sec
    assert "xaiprobe extract --data synthfaces:20 --all-layers" in sec
    assert "train 16 · val 2 · test 2" in sec


def test_truncated_or_partial_activations_do_not_stop_the_report(tiny_store, tmp_path, caplog):
    run = _run_with_stage(tmp_path)
    raw = tiny_store.read_bytes()
    (run / "activations.h5").write_bytes(raw[: len(raw) // 3])
    with caplog.at_level(logging.WARNING, logger="xaiprobe.report"):
        text = build_report(run).read_text()
    assert _section(text, "activations") is None and _section(text, "probes") is not None
    assert "skipping the Activations section" in caplog.text
    caplog.clear()
    (run / "activations.h5").unlink()
    (run / "activations.h5.partial").write_bytes(raw[:1000])
    with caplog.at_level(logging.WARNING, logger="xaiprobe.report"):
        text = build_report(run).read_text()
    assert _section(text, "activations") is None and "did not finish" in caplog.text


def test_overview_renders_the_stages_as_a_table(tmp_path):
    run = _run_with_stage(tmp_path)
    write_json(run / "config.json", {
        "command": "xaiprobe demo --out runs/demo", "checkpoint": "runs/demo/checkpoints/last.pt", "seconds": 12.5,
        "arch": {"nz": 8, "ndf": 4}, "layers": ["conv1", "conv2"],
        "stages": [{"stage": "extract", "command": "xaiprobe extract --out a.h5 <x>", "seconds": 4.0, "exit_code": 0},
                   {"stage": "probe", "command": "xaiprobe probe --activations a.h5", "seconds": 6.5, "exit_code": 0}]})
    text = build_report(run).read_text()
    sec = _section(text, "overview")
    assert "[{" not in text and "{&quot;" not in sec
    assert "<h3>Stages</h3>" in sec
    assert '<tr><td>extract</td><td>4</td><td class="cmd"><code>xaiprobe extract --out a.h5 &lt;x&gt;</code></td></tr>' in sec
    assert "<th>stages</th><th>10.5</th>" in sec and "<th>total</th><th>12.5</th>" in sec
    assert "<td>arch.nz</td><td>8</td>" in sec and "<td>layers</td><td>conv1, conv2</td>" in sec
    assert "<pre>xaiprobe demo --out runs/demo</pre>" in sec


def test_partial_stage_files_are_skipped_not_fatal(tmp_path, caplog):
    run = _run_with_stage(tmp_path)
    (run / "config.json").write_text('{"command": "xaiprobe demo", "stag')  # cut off mid-write
    (run / "mia").mkdir()
    (run / "mia" / "figures.json").write_text('{"file": "roc.png"}')  # not a list
    (run / "editing").mkdir()
    (run / "editing" / "big.png").write_bytes(b"\x89PNG" + b"\0" * 400_000)  # truncated grid image
    (run / "editing" / "figures.json").write_text('[{"file": "big.png", "title": "grid"}, "junk"]')
    with caplog.at_level(logging.WARNING, logger="xaiprobe.report"):
        text = build_report(run).read_text()
    assert _section(text, "probes") is not None and _section(text, "overview") is None
    assert "<img" not in text and "unreadable figure" in caplog.text
