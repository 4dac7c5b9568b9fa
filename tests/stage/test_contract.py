"""The stage contract: a stage is one module plus one registration line."""
from __future__ import annotations

import json

import pytest

import xaiprobe.stages as stages
from xaiprobe import XaiprobeError
from xaiprobe.cli.main import main
from xaiprobe.config import describe
from xaiprobe.report import Section

from . import toy_stage


@pytest.fixture
def toy_registered(monkeypatch):
    monkeypatch.setitem(stages.STAGES, "toy", "tests.stage.toy_stage")   # the one registration line
    yield


def test_config_validates_with_one_line_naming_the_flag():
    with pytest.raises(XaiprobeError, match=r"--n 1: out of range; must be ≥ 3"):
        toy_stage.Config(n=1)
    with pytest.raises(XaiprobeError, match=r"--noise 'x': not a number"):
        toy_stage.Config(noise="x")


def test_command_lists_only_changed_values():
    assert toy_stage.Config().command() == "xaiprobe toy"
    assert toy_stage.Config(n=7, slope=-1.5).command() == "xaiprobe toy --n 7 --slope=-1.5"


def test_cli_runs_the_registered_stage_and_the_report_reads_its_section(toy_registered, tmp_path, capsys):
    assert main(["toy", "--n", "200", "--slope", "3", "--out", str(tmp_path)]) == 0
    sec = Section.load(tmp_path / "toy")
    assert abs(sec.numbers["slope"] - 3) < 0.05
    # the recorded command reproduces the same configuration
    assert sec.command == ["xaiprobe toy --n 200 --slope 3"]
    from xaiprobe.report.html import build_report

    page = build_report(tmp_path).read_text()
    assert 'id="toy"' in page and "In brief" in page


def test_cli_rejects_out_of_range_with_exit_2(toy_registered, tmp_path, capsys):
    assert main(["toy", "--n", "1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--n 1" in err
    assert not (tmp_path / "toy").exists()


def test_cli_flags_agree_with_every_registered_config():
    """Every contract stage's subcommand has exactly its Config's flags, defaults and help."""
    from xaiprobe.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name in stages.STAGES:
        mod = stages.load_stage(name)
        p = sub.choices[name]
        flags = {s for a in p._actions for s in a.option_strings} - {"-h", "--help", "--out"}
        expected = {d["flag"] for d in describe(mod.Config)}
        expected |= {"--no-" + d["flag"][2:] for d in describe(mod.Config) if d["type"] is bool and d["default"] is True}
        assert flags == expected, name
        for d in describe(mod.Config):
            action = next(a for a in p._actions if d["flag"] in a.option_strings)
            assert action.help.startswith(d["help"].replace("%", "%%")), (name, d["flag"])


def test_section_round_trip_and_version_guard(tmp_path):
    sec = toy_stage.section(toy_stage.run(toy_stage.Config(), tmp_path))
    sec.save(tmp_path)
    assert Section.load(tmp_path) == sec
    d = json.loads((tmp_path / "section.json").read_text())
    d["version"] = 99
    (tmp_path / "section.json").write_text(json.dumps(d))
    with pytest.raises(XaiprobeError, match="newer"):
        Section.load(tmp_path)
