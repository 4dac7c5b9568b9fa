"""`xaiprobe demo` argument checks (the full demo is exercised by `make demo`)."""
from xaiprobe.cli.main import main


def test_unknown_stage_to_skip_exits_2(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "d"), "--skip", "probe,nosuch"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nosuch" in err[0] and "stages are" in err[0]


def test_too_few_images_exits_2(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "d"), "--n-images", "10"]) == 2
    assert "at least 200" in capsys.readouterr().err


def test_shipped_checkpoint_loads_safely():
    from xaiprobe.cli.cmd_demo import _shipped_checkpoint
    from xaiprobe.gan.checkpoint import load_checkpoint
    from xaiprobe.gan.dcgan import count_parameters

    ck = load_checkpoint(_shipped_checkpoint())
    assert count_parameters(ck.generator) == 3_806_080 and count_parameters(ck.discriminator) == 2_765_568
    assert ck.data["spec"].startswith("synthfaces") and len(ck.members) == 8000


def test_shipped_control_is_reused_by_the_attack_settings_of_the_demo(tmp_path):
    """The shipped positive control matches what `mia --control` would train for the shipped model."""
    from xaiprobe.cli.cmd_demo import _install_shipped_control, _remove_shipped_control, _shipped_checkpoint
    from xaiprobe.gan.checkpoint import load_checkpoint
    from xaiprobe.mia._control import CONTROL_BATCH_SIZE, CONTROL_EPOCHS, CONTROL_MEMBERS, _trained_epochs

    main_ck = load_checkpoint(_shipped_checkpoint())
    control_dir = tmp_path / "mia" / "control"
    _install_shipped_control(control_dir)
    last = control_dir / "checkpoints" / "last.pt"
    assert _trained_epochs(last, main_ck.data["spec"], CONTROL_MEMBERS, main_ck.arch, CONTROL_BATCH_SIZE,
                           0) == CONTROL_EPOCHS
    ctl = load_checkpoint(last)
    assert len(ctl.members) == CONTROL_MEMBERS and ctl.arch == main_ck.arch
    _remove_shipped_control(control_dir)
    assert not last.exists()


def test_summary_prints_two_findings_per_stage_in_data_flow_order(tmp_path, capsys):
    import json

    from xaiprobe.cli.cmd_demo import _print_summary

    for stage, n in [("editing", 3), ("probes", 3), ("mia", 1), ("zz_extra", 2), ("filters", 0)]:
        (tmp_path / stage).mkdir()
        (tmp_path / stage / "summary.json").write_text(json.dumps({"findings": [f"{stage} {i}" for i in range(n)]}))
    (tmp_path / "attribution").mkdir()
    (tmp_path / "attribution" / "summary.json").write_text("{not json")
    _print_summary(tmp_path)
    lines = [ln.split()[-2:] for ln in capsys.readouterr().out.splitlines()]
    assert lines == [["probes", "0"], ["probes", "1"], ["mia", "0"], ["editing", "0"], ["editing", "1"],
                     ["zz_extra", "0"], ["zz_extra", "1"]]


def test_config_command_reproduces_the_options():
    import argparse

    from xaiprobe.cli.cmd_demo import _command_line, add_parser

    sub = argparse.ArgumentParser().add_subparsers()
    args = add_parser(sub).parse_args(["--out", "runs/my demo", "--from-scratch", "--epochs", "2", "--skip", "mia"])
    assert _command_line(args) == ("xaiprobe demo --out 'runs/my demo' --n-images 3000 --from-scratch --epochs 2 "
                                   "--skip mia")
