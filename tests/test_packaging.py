"""Packaging: typed, licensed, versioned; the sdist carries what its tests need."""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import pathlib
import sys

import pytest

import latentclass

ROOT = pathlib.Path(__file__).resolve().parents[1]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_py_typed_ships_with_the_package():
    assert (importlib.resources.files("latentclass") / "py.typed").is_file()


def test_license_is_mit_and_declared_as_spdx():
    assert _pyproject()["project"]["license"] == "MIT"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "WITHOUT WARRANTY" in text


def test_version_has_one_source():
    assert latentclass.__version__ == importlib.metadata.version("latentclass")
    assert latentclass.__version__ == _pyproject()["project"]["version"]


def test_sdist_manifest_covers_tests_examples_docs_proofs():
    manifest = (ROOT / "MANIFEST.in").read_text(encoding="utf-8")
    for folder in ("tests", "examples", "docs", "proofs", "benchmarks"):
        assert f"recursive-include {folder} " in manifest, folder
    assert "include .ci/run .ci/constraints-min.txt" in manifest


def test_minimum_constraints_pin_every_floor():
    """.ci/constraints-min.txt pins each dependency of pyproject.toml at its floor."""
    pins = {}
    for line in (ROOT / ".ci" / "constraints-min.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    project = _pyproject()["project"]
    reqs = list(project["dependencies"]) + list(project["optional-dependencies"]["test"])
    for req in reqs:
        req = req.split(";")[0].split("#")[0].strip()
        name, floor = req.split(">=")
        name = name.split("[")[0].strip().lower()
        assert name in pins, f"{name} has no pin in .ci/constraints-min.txt"
        assert tuple(int(p) for p in pins[name].split(".")[: len(floor.split("."))]) == tuple(
            int(p) for p in floor.strip().split(".")
        ), f"{name}: pinned {pins[name]} but the floor is {floor}"
