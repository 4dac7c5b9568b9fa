"""The flat public API: every name in __all__ resolves, unknown names fail normally."""
import pytest

import xaiprobe


def test_every_public_name_resolves():
    for name in xaiprobe.__all__:
        assert getattr(xaiprobe, name) is not None, name


def test_unknown_name_is_attribute_error():
    with pytest.raises(AttributeError):
        xaiprobe.no_such_thing  # noqa: B018


def test_cli_lists_every_subcommand(capsys):
    from xaiprobe.cli.main import COMMANDS, main

    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_cli_without_command_exits_2(capsys):
    from xaiprobe.cli.main import main

    assert main([]) == 2
