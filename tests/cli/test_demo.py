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
    from xaiprobe.mia.control import CONTROL_BATCH_SIZE, CONTROL_EPOCHS, CONTROL_MEMBERS, _trained_epochs

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
