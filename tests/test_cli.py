"""The command line entry point: help, and one-line user errors with exit status 2."""

import subprocess
import sys

import pytest

from latentclass.cli import main


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("figures", "sweep", "solve", "check", "train"):
        assert cmd in out


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "COMMAND" in capsys.readouterr().out


def test_unknown_command_is_a_one_line_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "invalid choice" in err[0]


def test_console_script_runs():
    out = subprocess.run(
        [sys.executable, "-m", "latentclass", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "latentclass" in out.stdout
