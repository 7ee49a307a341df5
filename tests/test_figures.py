"""Theorem-check figures: the quick run writes every figure and a manifest whose checks pass,
and each check is a real check (it fails on wrong data)."""

import copy
import json
import math
import platform
import subprocess
import sys

import numpy as np
import pytest

from latentclass import figures as figs
from latentclass.cli import main
from latentclass.figures import REGISTRY, figure_names, make_figures

EXPECTED = {
    "population_loss",
    "gram_across_k",
    "downstream_uniform",
    "nonuniform_families",
    "large_k_limit",
    "symbolic_certificates",
    "point_collapse",
    "solver_certificates",
    "training",
}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("figures")
    records = make_figures(out, quick=True)
    return out, records


def test_quick_run_writes_every_figure_and_a_passing_manifest(quick_run):
    out, records = quick_run
    document = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    manifest = document["figures"]
    assert manifest == json.loads(json.dumps(records))  # what was returned is what was written
    # provenance: the versions that computed the numbers
    import numpy
    import scipy

    import latentclass

    assert document["versions"]["latentclass"] == latentclass.__version__
    assert document["versions"]["numpy"] == numpy.__version__
    assert document["versions"]["scipy"] == scipy.__version__
    assert document["versions"]["python"] == platform.python_version()
    assert document["quick"] is True and document["format"] == 2
    assert [r["name"] for r in manifest] == figure_names()
    assert set(figure_names()) >= EXPECTED
    for rec in manifest:
        assert set(rec) >= {"name", "files", "claim", "check", "passed", "details"}
        assert rec["claim"] and rec["check"]
        assert sorted(rec["files"]) == [f"{rec['name']}.pdf", f"{rec['name']}.png"], rec
        for f in rec["files"]:
            path = out / f
            assert path.is_file() and path.stat().st_size > 1000, path
        assert (out / f"{rec['name']}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / f"{rec['name']}.pdf").read_bytes()[:5] == b"%PDF-"
        assert rec["passed"] is True, (rec["name"], rec["details"])


def test_manifest_details_carry_the_key_numbers(quick_run):
    _, records = quick_run
    by = {r["name"]: r["details"] for r in records}
    assert by["population_loss"]["max_abs_numerical_minus_closed"] <= figs.POP_TOL_NUMERICAL
    assert by["population_loss"]["max_abs_mc_z"] <= figs.POP_Z_MAX
    assert by["gram_across_k"]["uniform_max_error_vs_simplex"] <= figs.GRAM_TOL
    assert by["downstream_uniform"]["max_abs_loss_minus_closed_form"] <= figs.DOWN_TOL
    assert "bound_below_truth" in by["downstream_uniform"]
    for w in ("class_probs", "balanced"):
        assert "largest_rise" in by["nonuniform_families"][w]
    assert all(abs(s + 1) <= figs.SLOPE_TOL for s in by["large_k_limit"]["slopes"].values())
    assert by["symbolic_certificates"]["not_holding"] == []
    assert by["point_collapse"]["disjoint_max_collapse_error"] <= figs.COLLAPSE_TOL
    assert by["solver_certificates"]["max_duality_gap"] <= figs.GAP_TOL
    assert by["training"]["max_final_gap"] <= figs.TRAIN_GAP_TOL


# ----------------------------------------------------------------------------- checks can fail
def test_population_check_fails_when_monte_carlo_disagrees():
    data = figs.compute_population_loss(quick=True)
    assert figs.check_population_loss(data)[0] is True
    bad = copy.deepcopy(data)
    row = bad["rows"][2]
    row["mc"] = row["closed"] + 6 * row["mc_se"]  # six standard errors off
    passed, details = figs.check_population_loss(bad)
    assert passed is False and details["max_abs_mc_z"] > figs.POP_Z_MAX
    bad = copy.deepcopy(data)
    bad["rows"][0]["numerical"] += 1e-8  # numerical optimum off by 1e-8 > 1e-9
    assert figs.check_population_loss(bad)[0] is False
    bad = copy.deepcopy(data)
    bad["rows"][-1]["certified"] = False
    assert figs.check_population_loss(bad)[0] is False


def test_downstream_check_fails_for_a_k_dependent_loss_and_reports_bound_violations():
    data = figs.compute_downstream_uniform(quick=True)
    assert figs.check_downstream_uniform(data)[0] is True
    bad = copy.deepcopy(data)
    bad["rows"][-1]["loss"] += 1e-6
    assert figs.check_downstream_uniform(bad)[0] is False
    # an upper bound below the truth is recorded, and does not decide the check
    low = copy.deepcopy(data)
    low["rows"][3]["bounds"]["bao"] = low["rows"][3]["loss"] / 2
    passed, details = figs.check_downstream_uniform(low)
    assert passed is True
    assert {"bound": "bao", "k": low["rows"][3]["k"]}.items() <= details["bound_below_truth"][
        0
    ].items()


def test_gram_check_fails_for_a_non_simplex_gram():
    data = figs.compute_gram_across_k(quick=True)
    assert figs.check_gram_across_k(data)[0] is True
    bad = copy.deepcopy(data)
    G = np.array(bad["rows"][1]["uniform"])
    G[0, 1] = G[1, 0] = G[0, 1] + 2e-4
    bad["rows"][1]["uniform"] = G
    passed, details = figs.check_gram_across_k(bad)
    assert passed is False and details["uniform_max_error_vs_simplex"] > figs.GRAM_TOL


def test_slope_check_fails_for_a_wrong_rate():
    data = figs.compute_large_k_limit(quick=True)
    assert figs.check_large_k_limit(data)[0] is True
    bad = copy.deepcopy(data)
    ks = np.asarray(bad["ks"], float)
    bad["series"]["fixed"]["values"] = list(ks**-0.5)  # an O(1/sqrt(k)) error
    passed, details = figs.check_large_k_limit(bad)
    assert passed is False and details["slopes"]["fixed"] == pytest.approx(-0.5)
    bad["series"]["fixed"]["values"][0] = -1.0  # a sign change cannot be fitted: fails too
    assert figs.check_large_k_limit(bad)[0] is False


def test_other_checks_fail_on_wrong_data():
    sym = {"ms": [2, 3], "ks": [1, 2], "holds": [[True, True], [True, None]]}
    passed, details = figs.check_symbolic_certificates(sym)
    assert passed is False and details["not_holding"] == [{"m": 3, "k": 2, "holds": None}]

    row = dict(k=1, collapse=1e-3, certified=True, gap=1e-10, norm_dev=0.0, min_angle=90.0)
    col = {"ks": [1], "models": {"disjoint": [row], "overlapping": [dict(row, collapse=1.0)]}}
    assert figs.check_point_collapse(col)[0] is False
    col["models"]["disjoint"][0]["collapse"] = 1e-9
    assert figs.check_point_collapse(col)[0] is True

    solver = {
        "gaps": [dict(problem="p", k=1, gap=1e-6, certified=True, n_points=3)],
        "timing": [],
        "cvxpy_error": None,
    }
    assert figs.check_solver_certificates(solver)[0] is False
    solver["gaps"][0]["gap"] = 1e-9
    assert figs.check_solver_certificates(solver)[0] is True
    solver["timing"] = [
        dict(
            problem="p",
            k=1,
            ours_loss=1.0,
            ours_gap=1e-9,
            ours_seconds=0.1,
            cvx_loss=1.0 + 1e-6,
            cvx_seconds=0.2,
            cvx_status="optimal",
        )
    ]
    assert figs.check_solver_certificates(solver)[0] is False

    cases = [
        dict(
            name="x",
            weighting="class_probs",
            ks=[1, 2],
            losses=np.array([1.0, 1.1]),
            accuracies=np.ones(2),
            certified=np.array([True, False]),
            gaps=np.zeros(2),
            rise=0.1,
            rise_from=1,
            rise_to=2,
            rho=np.array([0.6, 0.4]),
        )
    ]
    fam = {"ks": [1, 2], "tau": 1.0, "cases": cases, "n_distributions": 1, "max_rise": {}}
    passed, details = figs.check_nonuniform_families(fam)
    assert passed is False and details["class_probs"]["largest_rise"] == pytest.approx(0.1)


def test_a_failing_figure_is_recorded_not_raised(tmp_path, monkeypatch):
    spec = REGISTRY["symbolic_certificates"]

    def boom(quick):
        raise RuntimeError("simulated failure")

    monkeypatch.setitem(
        REGISTRY,
        "symbolic_certificates",
        figs.FigureSpec(spec.name, spec.claim, spec.check, boom, spec.verify, spec.draw),
    )
    records = make_figures(tmp_path, quick=True, only=["symbolic_certificates"])
    assert records[0]["passed"] is False and "simulated failure" in records[0]["details"]["error"]
    assert (
        main(["figures", "--out", str(tmp_path), "--quick", "--only", "symbolic_certificates"]) == 1
    )


# ----------------------------------------------------------------------------- driver and CLI
def test_only_and_bad_names(tmp_path):
    records = make_figures(tmp_path, quick=True, only="symbolic_certificates")
    assert [r["name"] for r in records] == ["symbolic_certificates"]
    assert json.loads((tmp_path / "manifest.json").read_text())["figures"][0]["passed"] is True
    with pytest.raises(ValueError, match="only"):
        make_figures(tmp_path, quick=True, only=["no_such_figure"])
    with pytest.raises(TypeError, match="progress"):
        make_figures(tmp_path, quick=True, only="symbolic_certificates", progress=3)


def test_cli_figures_table_and_exit_codes(tmp_path, capsys):
    assert (
        main(
            [
                "figures",
                "--out",
                str(tmp_path),
                "--quick",
                "--only",
                "symbolic_certificates",
                "large_k_limit",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert (
        "symbolic_certificates" in out and "large_k_limit" in out and "all 2 checks passed" in out
    )
    assert main(["figures", "--out", str(tmp_path), "--only", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--only" in err[0] and "nope" in err[0]
    assert main(["figures", "--list"]) == 0
    assert "population_loss" in capsys.readouterr().out


def test_figures_leave_pyplot_backend_and_rcparams_alone(tmp_path):
    # in a fresh interpreter: importing and drawing must not import pyplot, pick a backend
    # or change the user's rcParams
    code = (
        "import sys, matplotlib\n"
        "before = matplotlib.rcParams.copy()\n"  # copy(): reading 'backend' would resolve it
        "import latentclass.figures as f\n"
        f"f.make_figures({str(tmp_path)!r}, quick=True, only='symbolic_certificates')\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
        "after = matplotlib.rcParams.copy()\n"
        "assert all(after[k] == v for k, v in before.items() if k != 'backend')\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
    from latentclass.figures.style import new_figure, style

    with style():
        fig = new_figure("double", 2.0)
    assert fig.get_size_inches() == pytest.approx([7.0, 2.0])


def test_jsonable_handles_numpy_and_infinities():
    from latentclass.figures.spec import jsonable

    out = jsonable(
        {"a": np.float64(math.inf), "b": np.arange(2), "c": (np.bool_(True), None), 1: -math.inf}
    )
    assert out == {"a": "inf", "b": [0, 1], "c": [True, None], "1": "-inf"}
    json.dumps(out, allow_nan=False)


def test_solver_figure_without_cvxpy_draws_our_side_and_says_so(tmp_path, monkeypatch):
    # cvxpy is a test extra: a plain `pip install -e .` must still produce a passing figure
    monkeypatch.setitem(sys.modules, "cvxpy", None)  # makes `import cvxpy` raise ImportError
    data = figs.compute_solver_certificates(quick=True)
    passed, details = figs.check_solver_certificates(data)
    assert passed is True
    assert details["cvxpy_available"] is False and "cvxpy" in details["cvxpy_error"]
    assert details["n_cvxpy_runs"] == 0 and details["max_abs_loss_diff_vs_cvxpy"] is None
    fig = figs.draw_solver_certificates(data, passed, details)
    files = figs.save_figure(fig, tmp_path, "solver_no_cvxpy")
    assert all((tmp_path / f.split("/")[-1]).stat().st_size > 1000 for f in files)


def test_readme_figure_table_is_the_registry():
    """Each figure's claim is written once (its FigureSpec); README.md carries the table
    generated from the registry, verbatim."""
    import pathlib

    from latentclass.figures import readme_table

    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    assert readme_table() in readme
    for name, spec in REGISTRY.items():
        assert f"| `{name}` |" in readme_table()
        assert " ".join(spec.claim.split()).replace("|", "\\|") in readme_table()
