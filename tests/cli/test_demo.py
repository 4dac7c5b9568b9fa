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
