"""`xaiprobe demo` argument checks and its shipped models (the full demo is exercised by `make demo`)."""
import pytest

from xaiprobe._assets import SHIPPED, shipped
from xaiprobe.cli.main import main


def test_unknown_step_to_skip_exits_2(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "d"), "--skip", "probe,nosuch"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nosuch" in err[0] and "audit" in err[0]
    assert not (tmp_path / "d").exists()


def test_too_few_images_exits_2(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "d"), "--n-images", "10"]) == 2
    assert "≥ 200" in capsys.readouterr().err


def test_shipped_checkpoint_loads_safely():
    from xaiprobe.gan.checkpoint import load_checkpoint
    from xaiprobe.gan.dcgan import count_parameters

    ck = load_checkpoint(shipped("dcgan"))
    assert count_parameters(ck.generator) == 3_806_080 and count_parameters(ck.discriminator) == 2_765_568
    assert ck.data["spec"].startswith("synthfaces") and len(ck.members) == 8000
    assert ck.data.get("render_version") == 3


def test_unknown_role_is_an_error():
    from xaiprobe import XaiprobeError

    with pytest.raises(XaiprobeError, match="roles are"):
        shipped("nosuch")
    assert set(SHIPPED) >= {"dcgan", "classifier", "mia_control"}


def test_shipped_control_is_reused_by_the_attack_settings_of_the_demo(tmp_path):
    """The shipped positive control matches what `mia --control` would train for the shipped model."""
    from xaiprobe.cli.cmd_demo import _install_shipped_control, _remove_shipped_control
    from xaiprobe.gan.checkpoint import load_checkpoint
    from xaiprobe.mia._control import CONTROL_BATCH_SIZE, CONTROL_EPOCHS, CONTROL_MEMBERS, _trained_epochs

    main_ck = load_checkpoint(shipped("dcgan"))
    control_dir = tmp_path / "mia" / "control"
    _install_shipped_control(control_dir)
    last = control_dir / "checkpoints" / "last.pt"
    assert _trained_epochs(last, main_ck.data["spec"], CONTROL_MEMBERS, main_ck.arch, CONTROL_BATCH_SIZE,
                           0) == CONTROL_EPOCHS
    ctl = load_checkpoint(last)
    assert len(ctl.members) == CONTROL_MEMBERS and ctl.arch == main_ck.arch
    _remove_shipped_control(control_dir)
    assert not last.exists()


def test_config_command_reproduces_the_options():
    from xaiprobe.cli.cmd_demo import DemoConfig

    cfg = DemoConfig(out="runs/my demo", from_scratch=True, epochs=2, skip="mia")
    assert cfg.command() == "xaiprobe demo --out 'runs/my demo' --skip mia --from-scratch --epochs 2"
