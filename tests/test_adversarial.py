"""The adversarial catalogue (issue 12): every case an adversarial user tried, with the
class of outcome it must have — a named error, an exact number, or a documented refusal.
Never a hang, a traceback, a NaN or a silently wrong number."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import latentclass as lc
from latentclass.cli import main

U4 = lc.LatentClassModel.one_point_per_class([0.25] * 4)
EYE4 = np.eye(4)


# ----------------------------------------------------------------------------- API: named errors
NAMED_ERRORS = [
    # (call, exception, the words the message must contain)
    (lambda: lc.population_loss(U4, EYE4 + 0j, 2), TypeError, "F must be real"),
    (lambda: lc.nce_loss(EYE4 + 0j, U4.sample(4, 2, rng=0)), TypeError, "F must be real"),
    (
        lambda: lc.LatentClassModel([0.5 + 0j, 0.5], np.eye(2)),
        TypeError,
        "class_probs must be real",
    ),
    (lambda: lc.population_loss(U4, EYE4, 2, tau=5e-324), ValueError, "tau must be >= 1e-300"),
    (lambda: lc.optimal_representation(U4, 2, tau=1e-310), ValueError, "tau must be >= 1e-300"),
    (lambda: lc.simplex_loss(4, 2, tau=1e-310), ValueError, "tau must be >= 1e-300"),
    (lambda: lc.population_loss(U4, EYE4, 2, tau=10**400), ValueError, "tau must be a finite"),
    (lambda: lc.population_loss(U4, EYE4, 10**400), ValueError, "k must be at most"),
    (lambda: lc.optimal_representation(U4, 10**400), ValueError, "k must be at most"),
    (lambda: lc.simplex_loss(4, 10**400), ValueError, "k must be at most"),
    (lambda: lc.population_loss(U4, EYE4, math.inf), ValueError, "population_loss_limit"),
    (lambda: U4.sample(10**12, k=16), ValueError, "GiB of memory"),
    (
        lambda: lc.LatentClassModel.one_point_per_class(lc.parse_class_probs("uniform:100000")),
        ValueError,
        "GiB of memory",
    ),
    (lambda: lc.certify(lc.NCEObjective(U4, 2), 2 * EYE4 - 0.5), ValueError, "feasible"),
]


@pytest.mark.parametrize("call,exc,words", NAMED_ERRORS)
def test_named_errors(call, exc, words):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning/ComplexWarning on the way
        with pytest.raises(exc, match=words):
            call()


def test_tiny_tau_at_the_limit_is_exact():
    """τ = 1e-300 (the smallest accepted): scores are finite and the loss is the exact
    collision term E log(1 + #{i: c_i = c}) of the orthogonal representation."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = lc.population_loss(U4, EYE4, 2, tau=1e-300)
    # N ~ Bin(2, 1/4) collisions, each contributing a_y = 1; the others e^{-1/τ} = 0
    exact = 2 * 0.25 * 0.75 * math.log(2) + 0.25**2 * math.log(3)
    assert got == pytest.approx(exact, rel=1e-14)


# ----------------------------------------------------------------------------- CLI: one line, exit 2
def _forbid_computation(monkeypatch):
    """Any solve or sweep fails the test: errors must come before computing."""
    import latentclass.experiments as ex
    import latentclass.figures as figs
    import latentclass.optimize as opt

    def boom(*a, **k):
        raise AssertionError("computation started before the error")

    monkeypatch.setattr(ex, "sweep_negatives", boom)
    monkeypatch.setattr(opt, "optimal_representation", boom)
    monkeypatch.setattr(figs, "make_figures", boom)


CLI_ERRORS = [
    (["solve", "--class-probs", "0.5,0.5", "--negatives", "1e400"], "--negatives must be at most"),
    (["solve", "--class-probs", "0.5,0.5", "--negatives", "2.5"], "--negatives must be an integer"),
    (["solve", "--class-probs", "0.5,0.5", "--negatives", "0"], "--negatives must be an integer"),
    (["sweep", "--class-probs", "uniform:100000", "--negatives", "1"], "GiB of memory"),
    (
        ["sweep", "--class-probs", "0.5,0.5", "-k", "1", "--out", "/proc/x.csv"],
        "--out: cannot write",
    ),
    (
        ["sweep", "--class-probs", "0.5,0.5", "-k", "1", "--checkpoint", "/proc/c.jsonl"],
        "--checkpoint: cannot write",
    ),
    (["sweep", "--class-probs", "0.5,0.5", "-k", "1", "--out", "{tmp}"], "is a directory"),
    (
        ["sweep", "--class-probs", "0.5,0.5", "-k", "1", "--out", "{tmp}/x.txt"],
        "must end in .csv or .json",
    ),
    (["sweep", "--class-probs", "0.5,0.5", "-k", "1", "--out", "{tmp}/no/x.csv"], "does not exist"),
    (["figures", "--out", "{tmp}/file"], "exists and is not a directory"),
    (["figures", "--out", "/proc/figs"], "--out: cannot create"),
    (["train", "--out", "/proc/t.json"], "--out: cannot write"),
]


@pytest.mark.parametrize("argv,words", CLI_ERRORS)
def test_cli_errors_are_one_line_exit_2_before_computing(
    argv, words, tmp_path, capsys, monkeypatch
):
    _forbid_computation(monkeypatch)
    (tmp_path / "file").write_text("x")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1, captured.err
    assert err[0].startswith(f"latentclass {argv[0]}: error:") and words in err[0], err[0]
    assert captured.out == ""


@pytest.mark.parametrize("k", [1, 4, 1000])
def test_extreme_class_probs_solve_without_warnings(k):
    """ρ = (1e-300, 1 − 1e-300): one class carries all the mass, so every negative collides
    and the optimum's loss is log(1 + k) exactly; no RuntimeWarning on the way."""
    model = lc.LatentClassModel.one_point_per_class([1e-300, 1 - 1e-300])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = lc.optimal_representation(model, k)
    assert res.certified
    assert res.loss == pytest.approx(math.log1p(k), rel=1e-13)


# ----------------------------------------------------------------------------- huge k: exact, fast
def test_huge_k_sweep_row_and_closed_form_path():
    """k = 10^18: the closed-form optimum and a whole sweep row, no O(sqrt k) work (each call
    returns in milliseconds; a regression would hang this test, not pass it slowly)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt = lc.optimal_representation(U4, 10**18)
        row = lc.sweep_negatives(U4, [10**18], progress=False).rows[0]
    assert opt.certified and opt.method == "closed-form"
    assert row["certified"] and row["loss"] == opt.loss == lc.simplex_loss(4, 10**18)
    assert row["collision_probability"] == 1.0 and row["loss_limit"] is None
    # L_k − log k → L_∞ at rate 1/k: at k = 10^18 equal to double precision
    assert row["loss"] - math.log(10**18) == pytest.approx(lc.simplex_loss(4, math.inf), abs=1e-12)


def test_bounds_refuse_a_loss_below_its_minimum():
    with pytest.raises(ValueError, match="R must be >= Coll_k"):
        lc.published_bounds([0.5, 0.5], 16, R=-1.0)


def test_extreme_class_probs_sweep_without_warnings():
    model = lc.LatentClassModel.one_point_per_class([1e-300, 1 - 1e-300])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = lc.sweep_negatives(model, [1, 4, math.inf], progress=False).rows
    assert all(r["certified"] for r in rows)


def test_cli_solve_at_k_1e18_is_exact(capsys):
    import json

    assert main(["solve", "--class-probs", "0.5,0.5", "--negatives", "1e18"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["k"] == 10**18 and out["certified"] is True
    assert out["loss"] == lc.simplex_loss(2, 10**18)


@pytest.mark.parametrize(
    "text,expected",
    [("1e18", (10**18,)), ("1,2,inf", (1, 2, math.inf)), ("1..3", (1, 2, 3)), ("16", (16,))],
)
def test_one_parser_of_k_for_every_command(text, expected):
    from latentclass.experiments import parse_k, parse_ks

    assert parse_ks(text, "--negatives") == expected
    if "," not in text and ".." not in text:
        assert parse_k(text, "--negatives") == expected[0]


@pytest.mark.parametrize("text", ["1e400", "2.5", "0", "x", "1..1e400", "1..inf"])
def test_the_parser_of_k_refuses_by_name(text):
    from latentclass.experiments import parse_ks

    with pytest.raises(ValueError, match="--negatives"):
        parse_ks(text, "--negatives")
