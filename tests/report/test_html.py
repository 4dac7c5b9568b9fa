"""The HTML report: self-contained, every section filled, every image loads in a browser."""
import json
import re
import shutil
import subprocess

import pytest

from xaiprobe._utils.errors import XaiprobeError
from xaiprobe.report.html import build_report


def _sections(html_text):
    return re.findall(r'<section id="([^"]+)">(.*?)</section>', html_text, flags=re.S)


def test_report_inlines_figures_and_tables_in_section_order(tmp_path, make_stage):
    run = tmp_path / "run"
    for stage, order in [("mia", 80), ("custom_stage", 500), ("probes", 30)]:
        make_stage(run, stage, order=order, n_fig=2)
    (run / "editing").mkdir()  # empty stage: no section
    path = build_report(run)
    text = path.read_text()
    ids = [s for s, _ in _sections(text)]
    assert ids == ["summary", "probes", "mia", "custom_stage"]
    brief = dict(_sections(text))["summary"]
    assert brief.count("<li>") == 3 and '<a href="#probes">' in brief and "0.91 [0.88, 0.94]" in brief
    assert text.count("data:image/png;base64,") == 6
    assert "http://" not in text and "https://" not in text  # no network
    assert "xaiprobe probes --out x" in text and "probes found something" in text
    assert "<td>0.61</td>" in text and "<td>—</td>" in text


def test_report_of_empty_run_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(XaiprobeError, match="no stage results"):
        build_report(tmp_path / "empty")


def test_missing_figure_is_skipped_not_fatal(tmp_path, make_stage):
    run = tmp_path / "run"
    make_stage(run, "probes")
    d = json.loads((run / "probes" / "section.json").read_text())
    d["figures"].append({"file": "gone.png", "caption": "x", "title": "gone"})
    (run / "probes" / "section.json").write_text(json.dumps(d))
    text = build_report(run).read_text()
    assert text.count("<img") == 1


def test_cli_report_bad_run_exits_2(tmp_path, capsys):
    from xaiprobe.cli.main import main

    assert main(["report", "--run", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed")
def test_report_renders_in_headless_chromium(tmp_path, make_stage):
    run = tmp_path / "run"
    for stage in ["probes", "attribution", "mia"]:
        make_stage(run, stage, n_fig=2)
    path = build_report(run)
    # A script checks, inside the browser, that every image decoded and no section is empty.
    check = ("<script>window.addEventListener('load',()=>{const imgs=[...document.images];"
             "const bad=imgs.filter(i=>!(i.complete&&i.naturalWidth>0)).length;"
             "const empty=[...document.querySelectorAll('section')].filter(s=>s.innerText.trim().length<20).length;"
             "document.title='CHECK imgs='+imgs.length+' bad='+bad+' empty='+empty;});</script>")
    probe = tmp_path / "probe.html"
    probe.write_text(path.read_text().replace("</body>", check + "</body>"))
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120)
    m = re.search(r"CHECK imgs=(\d+) bad=(\d+) empty=(\d+)", out.stdout)
    assert m, out.stderr[-2000:]
    assert int(m.group(1)) == 6 and int(m.group(2)) == 0 and int(m.group(3)) == 0
