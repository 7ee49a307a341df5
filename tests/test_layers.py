"""The architecture as a checked contract: imports flow one way through the layers declared
in pyproject.toml ([tool.importlinter]); a lower layer importing a higher one breaks it."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("importlinter")

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _lint(root: pathlib.Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; "
            "sys.exit(lint_imports_command())",
            "--config",
            str(root / "pyproject.toml"),
            "--no-cache",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _lint_available() -> bool:
    out = subprocess.run(
        [sys.executable, "-c", "import importlinter.cli"], capture_output=True, check=False
    )
    return out.returncode == 0


def test_the_layers_are_kept():
    if not _lint_available():
        pytest.skip("importlinter.cli not importable")
    out = _lint(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 kept, 0 broken" in out.stdout


def test_a_lower_layer_importing_a_higher_one_breaks_the_contract(tmp_path):
    if not _lint_available():
        pytest.skip("importlinter.cli not importable")
    shutil.copytree(
        ROOT / "latentclass", tmp_path / "latentclass", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    model = tmp_path / "latentclass" / "model.py"
    model.write_text(model.read_text() + "\n\nfrom .figures import registry  # deliberate\n")
    out = _lint(tmp_path)
    assert out.returncode != 0
    assert "BROKEN" in out.stdout and "latentclass.model" in out.stdout
