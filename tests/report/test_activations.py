"""The report's robustness to partial runs; the Run overview."""
import json
import logging
import re


from xaiprobe.report.html import build_report
from xaiprobe._utils.figures import write_json


def _run_with_stage(tmp_path, make_stage):
    run = tmp_path / "run"
    make_stage(run, "probes", n_fig=0)
    return run


def _section(text, sid):
    m = re.search(rf'<section id="{sid}">(.*?)</section>', text, flags=re.S)
    return m.group(1) if m else None


def test_overview_renders_the_stages_as_a_table(tmp_path, make_stage):
    run = _run_with_stage(tmp_path, make_stage)
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


def test_partial_stage_files_are_skipped_not_fatal(tmp_path, caplog, make_stage):
    run = _run_with_stage(tmp_path, make_stage)
    (run / "config.json").write_text('{"command": "xaiprobe demo", "stag')  # cut off mid-write
    (run / "mia").mkdir()
    (run / "mia" / "section.json").write_text('{"format": "xaiprobe.section", "stage": "mia", "tit')  # cut off
    make_stage(run, "editing", n_fig=0)
    (run / "editing" / "big.png").write_bytes(b"\x89PNG" + b"\0" * 400_000)  # truncated grid image
    d = json.loads((run / "editing" / "section.json").read_text())
    d["figures"] = [{"file": "big.png", "title": "grid", "caption": "x"}]
    (run / "editing" / "section.json").write_text(json.dumps(d))
    with caplog.at_level(logging.WARNING, logger="xaiprobe.report"):
        text = build_report(run).read_text()
    assert _section(text, "probes") is not None and _section(text, "overview") is None
    assert _section(text, "mia") is None and _section(text, "editing") is not None
    assert "<img" not in text and "unreadable figure" in caplog.text
