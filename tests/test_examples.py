"""Every script in examples/ runs in quick mode and its own assertions hold."""

import importlib.util
import math
import pathlib

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
NAMES = (
    "quickstart",
    "uniform_simplex",
    "nonuniform_sweep",
    "point_collapse",
    "bounds_vs_truth",
    "custom_objective",
    "loss_family",
)
_RESULTS = {}


def _run(name):
    """Import ``examples/<name>.py`` by path and run ``main(quick=True)`` (once per session)."""
    if name not in _RESULTS:
        spec = importlib.util.spec_from_file_location(
            f"latentclass_example_{name}", EXAMPLES / f"{name}.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert module.__doc__ and "Run:" in module.__doc__
        _RESULTS[name] = module.main(quick=True)  # the example asserts its own claim
    return _RESULTS[name]


def test_every_example_is_listed():
    found = {p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith("_")}
    assert found == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_example_runs_and_returns_its_numbers(name):
    out = _run(name)
    assert isinstance(out, dict) and out


def test_quickstart_numbers_are_consistent():
    out = _run("quickstart")
    assert out["certified"] and abs(out["loss"] - out["closed_form"]) <= 1e-9
    assert abs(out["mc_mean"] - out["closed_form"]) <= 5 * out["mc_stderr"]


def test_uniform_simplex_downstream_is_the_same_for_every_k():
    rows = _run("uniform_simplex")["rows"]
    assert any(r["k"] == math.inf for r in rows) and any(
        r["k"] != math.inf and r["k"] >= 10**6 for r in rows
    )
    losses = [r["downstream_loss"] for r in rows]
    assert max(losses) - min(losses) <= 1e-9


def test_point_collapse_matches_the_class_level_optimum():
    for r in _run("point_collapse")["rows"]:
        assert r["collapse_error"] <= 1e-6
        assert abs(r["loss_point_level"] - r["loss_class_level"]) <= 2e-7
