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


def test_version(capsys):
    import latentclass

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"latentclass {latentclass.__version__}"
    out = subprocess.run(
        [sys.executable, "-m", "latentclass", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.strip() == f"latentclass {latentclass.__version__}"


def test_importing_main_module_does_not_run_the_cli():
    out = subprocess.run(
        [sys.executable, "-c", "import latentclass.__main__; print('imported')"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and out.stdout.strip() == "imported" and out.stderr == ""


def test_solve_records_versions(capsys):
    import json

    import numpy
    import scipy

    assert main(["solve", "--class-probs", "0.5,0.3,0.2", "--negatives", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["certified"] is True
    assert out["versions"]["numpy"] == numpy.__version__
    assert out["versions"]["scipy"] == scipy.__version__
