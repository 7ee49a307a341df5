"""Warm starts: ``optimal_representation(..., init=<Gram matrix>)`` and a sweep's ``warm_start``.

A warm start changes only where the solver starts: every result is judged by the same
certificate, so the checks here are (i) the warm-started optimum agrees with an independent
cold solve within the two certified gaps (weak duality both ways), (ii) it is certified from
scratch by :func:`latentclass.certify`, (iii) it takes fewer solver steps where the start is
close, (iv) bad starts are refused by name, and (v) a warm-started sweep is a deterministic
function of its inputs: every row equals ``optimal_representation(model, k, init=<L_∞
optimum>)`` bit for bit, whatever executes it.
"""

from __future__ import annotations

import concurrent.futures
import math

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import latentclass as lc
from latentclass.model import LatentClassModel
from latentclass.population import NCEObjective


def _zipf(m: int, s: float = 1.1) -> np.ndarray:
    rho = np.arange(1, m + 1, dtype=float) ** -s
    return rho / rho.sum()


@pytest.fixture(scope="module")
def zipf30():
    model = LatentClassModel.one_point_per_class(_zipf(30))
    return model, lc.optimal_representation(model, math.inf, 1.0)


def _agree(a, b) -> None:
    """Two certified solves of the same convex problem: each loss is within the other's gap."""
    assert a.certified and b.certified
    assert a.loss <= b.loss + b.duality_gap + 1e-15
    assert b.loss <= a.loss + a.duality_gap + 1e-15


@pytest.mark.parametrize("k", [64, 1000, 10**6])
def test_warm_start_from_the_limit_optimum_agrees_and_saves_steps(zipf30, k):
    model, inf = zipf30
    cold = lc.optimal_representation(model, k, 1.0)
    warm = lc.optimal_representation(model, k, 1.0, init=inf)  # the result object
    warm_g = lc.optimal_representation(model, k, 1.0, init=inf.gram)  # its Gram matrix
    _agree(cold, warm)
    assert warm_g.loss == warm.loss and warm_g.n_iter == warm.n_iter
    assert warm.n_iter < cold.n_iter  # the L_∞ optimum is within O(1/k) of the L_k one
    again = lc.certify(NCEObjective(model, k, 1.0), warm.gram)  # from scratch
    assert again.certified and again.gap <= 1e-7
    assert NCEObjective(model, k, 1.0).value(warm.gram) == warm.loss


def test_warm_start_at_the_optimum_takes_no_newton_step():
    """The dense Gram Newton path (exact Hessian) started at its own optimum stops at once."""
    model = LatentClassModel.one_point_per_class(_zipf(8))
    cold = lc.optimal_representation(model, 3, 1.0)
    warm = lc.optimal_representation(model, 3, 1.0, init=cold.gram)
    _agree(cold, warm)
    assert cold.solver == warm.solver == "gram-newton"
    assert warm.n_iter == 0 < cold.n_iter


def test_warm_start_general_solver_and_rank_constrained(zipf30):
    model, inf = zipf30
    cold = lc.optimal_representation(model, 16, 1.0, method="numerical", init="random", rng=1)
    small = LatentClassModel.one_point_per_class(_zipf(6))
    s_inf = lc.optimal_representation(small, math.inf, 1.0)
    low_cold = lc.optimal_representation(small, 16, 1.0, dim=2, n_restarts=3)
    low_warm = lc.optimal_representation(small, 16, 1.0, dim=2, n_restarts=3, init=s_inf)
    assert low_warm.F.shape == (6, 2)
    assert np.allclose(np.einsum("ij,ij->i", low_warm.F, low_warm.F), 1.0, atol=1e-9)
    # both are local optima of a non-convex problem; both above the certified convex optimum
    assert low_warm.loss >= low_warm.lower_bound - 1e-12
    assert low_cold.loss >= low_warm.lower_bound - 1e-12
    warm = lc.optimal_representation(model, 16, 1.0, init=inf, loss="decoupled")
    assert warm.certified
    assert cold.certified


def test_warm_start_point_level_lift():
    rho = _zipf(5)
    model = LatentClassModel.disjoint(rho, [3] * 5)
    cold = lc.optimal_representation(model, 16, 1.0)
    warm = lc.optimal_representation(model, 16, 1.0, init=cold.gram)
    _agree(cold, warm)
    assert warm.solver.startswith("class-lift/") and warm.n_iter <= 1


def test_warm_start_rows_are_rescaled_to_the_sphere(zipf30):
    """A start with non-unit diagonal (e.g. a Gram matrix of raw embeddings) is scaled."""
    model, inf = zipf30
    s = np.linspace(0.5, 2.0, 30)
    scaled = inf.gram * s[:, None] * s[None, :]
    a = lc.optimal_representation(model, 1000, 1.0, init=scaled)
    b = lc.optimal_representation(model, 1000, 1.0, init=inf)
    assert a.certified and b.certified
    assert abs(a.loss - b.loss) <= a.duality_gap + b.duality_gap


@pytest.mark.parametrize(
    "bad, exc, match",
    [
        (np.eye(3), ValueError, r"init must be a Gram matrix of shape \(30, 30\)"),
        (np.full((30, 30), np.nan), ValueError, "init must be finite"),
        (-np.eye(30), ValueError, "init must have a positive diagonal"),
        (np.triu(np.ones((30, 30))), ValueError, "init must be symmetric"),
        (np.eye(30) + 2 * np.eye(30, k=1) + 2 * np.eye(30, k=-1), ValueError, "semidefinite"),
        ("simplex", ValueError, "init must be one of"),
        (object(), TypeError, "init must be 'structured', 'random' or a Gram matrix"),
    ],
)
def test_bad_starts_are_refused_by_name(zipf30, bad, exc, match):
    model, _ = zipf30
    with pytest.raises(exc, match=match):
        lc.optimal_representation(model, 16, 1.0, init=bad)


def _bits(res) -> list:
    def key(v):
        return v.hex() if isinstance(v, float) else repr(v)

    return [{c: key(v) for c, v in r.items() if c != "seconds"} for r in res.rows]


def test_sweep_warm_start_rows_are_warm_started_solves_bit_for_bit():
    model = LatentClassModel.one_point_per_class(_zipf(12))
    ks = (1, 16, 1000, 10**4, 10**5, 10**6, math.inf)
    res = lc.sweep_negatives(model, ks, progress=False)
    with threadpool_limits(limits=1):  # the sweep computes with one BLAS thread
        inf = lc.optimal_representation(model, math.inf, 1.0, rng=0)
    for row in res.rows:
        k = row["k"]
        init = inf.gram if (k != math.inf and k >= 256) else "structured"
        with threadpool_limits(limits=1):
            ref = lc.optimal_representation(model, k, 1.0, rng=0, init=init)
        value = row["loss_limit"] if k == math.inf else row["loss"]
        assert value == ref.loss and row["n_iter"] == ref.n_iter and row["certified"]
    cold = lc.sweep_negatives(model, ks, progress=False, warm_start=False)
    for w, c in zip(res.rows, cold.rows):
        if w["k"] == math.inf:
            continue
        assert abs(w["loss"] - c["loss"]) <= w["duality_gap"] + c["duality_gap"]
    saved = sum(c["n_iter"] - w["n_iter"] for w, c in zip(res.rows, cold.rows))
    assert saved > 0
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        threaded = lc.sweep_negatives(model, ks, progress=False, executor=ex)
    assert _bits(threaded) == _bits(res)


def test_sweep_warm_start_is_part_of_the_checkpoint_identity(tmp_path):
    model = LatentClassModel.one_point_per_class(_zipf(6))
    path = tmp_path / "run.jsonl"
    lc.sweep_negatives(model, (1000, 10**4, 10**5, 10**6), progress=False, checkpoint=path)
    with pytest.raises(ValueError, match="checkpoint"):
        lc.sweep_negatives(
            model, (1000, 10**4, 10**5, 10**6), progress=False, checkpoint=path, warm_start=False
        )
    with pytest.raises(TypeError, match="warm_start must be True or False"):
        lc.sweep_negatives(model, (1000, 10**4, 10**5, 10**6), progress=False, warm_start="yes")


def test_cli_sweep_warm_start_flag(tmp_path):
    """``--no-warm-start`` gives the rows of independent solves; the default the warm ones."""
    import json

    from latentclass.cli import main
    from latentclass.families import parse_class_probs

    model = LatentClassModel.one_point_per_class(parse_class_probs("zipf:6:1"))
    with threadpool_limits(limits=1):  # as the sweep computes (the same bits)
        inf = lc.optimal_representation(model, math.inf, 1.0, rng=0)
    for flag, init in (("--no-warm-start", "structured"), ("--warm-start", inf.gram)):
        out = tmp_path / f"{flag}.json"
        args = [
            "sweep",
            "--class-probs",
            "zipf:6:1",
            "-k",
            "16,1000,10000,100000,1000000",
            flag,
            "--out",
            str(out),
        ]
        assert main(args) == 0
        rows = json.loads(out.read_text(encoding="utf-8"))["rows"]
        for row in rows:
            start = init if row["k"] >= 256 else "structured"
            with threadpool_limits(limits=1):
                ref = lc.optimal_representation(model, row["k"], 1.0, rng=0, init=start)
            assert row["loss"] == ref.loss and row["n_iter"] == ref.n_iter
