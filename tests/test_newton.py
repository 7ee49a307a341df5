"""Tests of the Gram-space Newton fast path of ``optimal_representation`` (latentclass._solvers.gram_newton).

Independent references: central finite differences of the objective's gradient (Hessian in
the off-diagonal entries), CVXPY + Clarabel on the same convex program (latentclass.conic),
and the general factorised solver (L-BFGS + lifted-sphere Newton, reached with
``init="random"``, which the fast path never takes).
"""

from __future__ import annotations

import numpy as np
import pytest

import latentclass._solvers.gram_newton as newton
from latentclass._solvers.gram_newton import kkt_newton, offdiag_hessian
from latentclass._solvers.starts import _centred_start
from latentclass.conic import conic_optimum
from latentclass.model import LatentClassModel
from latentclass.optimize import certify, optimal_representation
from latentclass.population import NCEObjective


def _zipf(m, s=1.0):
    p = 1.0 / np.arange(1, m + 1) ** s
    return p / p.sum()


def _assert_feasible(G):
    assert np.allclose(G, G.T, atol=1e-14, rtol=0)
    assert np.linalg.eigvalsh(G)[0] >= -1e-8
    assert np.max(np.diag(G)) <= 1 + 1e-8


# shared point strictly inside the ball at the optimum (multiplier 0: diag(G) < 1)
INTERIOR = LatentClassModel([0.5, 0.5], [[0.45, 0.0, 0.55], [0.0, 0.45, 0.55]])
# disjoint supports: the optimum collapses each class, rank m − 1 = 2 < n − 1 = 8
COLLAPSE = LatentClassModel.disjoint(
    [0.5, 0.3, 0.2], [3, 2, 4], within=[[0.6, 0.3, 0.1], [0.8, 0.2], [0.1, 0.2, 0.3, 0.4]]
)


def test_offdiag_hessian_matches_finite_differences():
    """``offdiag_hessian`` against central differences of ``∂L/∂x_p = 2 ∇L(G)_ij``, including
    a model with a zero-mass point (rows without pairs) and τ ≠ 1."""
    rng = np.random.default_rng(4)
    models = [
        (LatentClassModel.one_point_per_class([0.5, 0.3, 0.2]), 3, 0.5),
        (LatentClassModel([0.6, 0.4], [[0.5, 0.3, 0.2, 0.0], [0.0, 0.0, 0.1, 0.9]]), 3, 1.0),
        (LatentClassModel([0.6, 0.4], [[0.5, 0.5, 0.0, 0.0], [0.0, 0.5, 0.5, 0.0]]), 2, 0.7),
    ]
    for model, k, tau in models:
        n = model.n_points
        obj = NCEObjective(model, k, tau)
        iu, ju = np.triu_indices(n, 1)
        V = rng.standard_normal((n, n))
        V /= np.linalg.norm(V, axis=1)[:, None]
        G = V @ V.T
        G = 0.5 * (G + G.T)
        _, M, anchors, blocks = obj.second_order(G)
        H = offdiag_hessian(anchors, blocks, n)
        assert np.array_equal(H, H.T) or np.max(np.abs(H - H.T)) <= 1e-15 * np.max(np.abs(H))

        def grad_x(x):
            Gx = G.copy()
            Gx[iu, ju] = x
            Gx[ju, iu] = x
            return 2.0 * obj.grad(Gx)[iu, ju]

        x0 = G[iu, ju]
        for _ in range(3):
            e = rng.standard_normal(iu.size)
            h = 1e-4
            fd = (
                -grad_x(x0 + 2 * h * e)
                + 8 * grad_x(x0 + h * e)
                - 8 * grad_x(x0 - h * e)
                + grad_x(x0 - 2 * h * e)
            ) / (12 * h)
            assert np.max(np.abs(H @ e - fd)) <= 1e-8 * np.max(np.abs(fd))


CASES = [
    (_zipf(8), 3, 1.0),
    (_zipf(10), 2, 1.0),
    (_zipf(5, 2.0), 2, 0.5),
    ([0.7, 0.2, 0.1], 4, 0.3),
]


@pytest.mark.parametrize(
    "rho,k,tau", CASES + [(np.random.default_rng(1).dirichlet(np.ones(7)), 3, 1.0)]
)
def test_fast_path_matches_clarabel_and_general_solver(rho, k, tau):
    model = LatentClassModel.one_point_per_class(rho)
    res = optimal_representation(model, k, tau)
    assert res.solver == "gram-newton" and res.certified and res.duality_gap <= 1e-9
    ref = conic_optimum(model, k, tau, tol=1e-11)
    assert ref.feasibility_residual <= 1e-8  # judged by values, not the status string
    assert res.loss == pytest.approx(ref.loss, abs=1e-7)
    assert res.loss - res.duality_gap <= ref.loss + 1e-9  # the bound brackets Clarabel's optimum
    general = optimal_representation(model, k, tau, init="random", rng=1)
    assert general.solver != "gram-newton" and general.certified
    assert res.loss == pytest.approx(general.loss, abs=1e-9)
    assert np.max(np.abs(res.gram - general.gram)) <= 1e-5
    # the reported numbers belong to the reported Gram matrix
    obj = NCEObjective(model, k, tau)
    assert res.loss == obj.value(res.gram)
    assert certify(obj, res.gram).gap == res.duality_gap
    np.testing.assert_allclose(res.F @ res.F.T, res.gram, atol=1e-15)
    _assert_feasible(res.gram)
    assert res.n_iter >= 1 and res.F.shape == (model.n_points, model.n_points)


def test_uniform_numerical_fast_path_is_simplex():
    """Uniform ρ: the optimum (regular simplex) has corank one too; the fast path keeps it."""
    from latentclass.closed_form import simplex_gram, simplex_loss

    model = LatentClassModel.one_point_per_class(np.full(5, 0.2))
    res = optimal_representation(model, 3, 0.5, method="numerical")
    assert res.solver == "gram-newton" and res.certified
    assert res.loss == pytest.approx(simplex_loss(5, 3, 0.5), abs=1e-12)
    assert np.max(np.abs(res.gram - simplex_gram(5))) <= 1e-12


@pytest.mark.parametrize("model,k", [(INTERIOR, 3), (COLLAPSE, 2)])
def test_falls_back_where_the_structure_does_not_hold(model, k):
    """A point inside the ball (negative multiplier on the unit sphere) or an optimum of
    corank > 1: the fast path declines and the general solver reaches the true optimum."""
    obj = NCEObjective(model, k)
    assert newton._gram_newton(model, obj, 1e-10) is None
    res = optimal_representation(model, k)
    assert res.solver != "gram-newton" and res.certified
    if model is INTERIOR:
        ref = conic_optimum(model, k, tol=1e-11)
        assert res.gram[2, 2] < 0.5
    else:  # the collapsed optimum is the class-level one (a program Clarabel solves accurately)
        ref = conic_optimum(LatentClassModel.one_point_per_class(model.class_probs), k, tol=1e-11)
    assert ref.feasibility_residual <= 1e-8  # judged by values, not the status string
    assert res.loss == pytest.approx(ref.loss, abs=1e-7)


def test_class_level_optimum_of_corank_two_is_caught_by_the_certificate():
    """Two tiny classes: the optimum has corank 2, outside the fast path's assumption.  Newton
    still converges — to an indefinite solution of the corank-one equations; its feasible
    projection is truly suboptimal, the certificate rejects it and the general solver answers."""
    model = LatentClassModel.one_point_per_class([0.325, 0.0072, 0.0084, 0.6594])
    obj = NCEObjective(model, 1)
    ref = conic_optimum(model, 1, tol=1e-11)
    assert ref.feasibility_residual <= 1e-8  # judged by values, not the status string
    assert np.sum(np.linalg.eigvalsh(ref.gram) < 1e-6) >= 2  # corank >= 2 (independent solver)
    out = kkt_newton(obj.second_order, _centred_start(model))
    if out is not None:
        w, U = np.linalg.eigh(out[0])
        F = U * np.sqrt(np.maximum(w, 0.0))
        F /= np.linalg.norm(F, axis=1)[:, None]
        G = 0.5 * (F @ F.T + (F @ F.T).T)
        assert obj.value(G) > ref.loss + 1e-7  # truly suboptimal ...
        assert certify(obj, G).gap > 1e-7  # ... and not certified
    assert newton._gram_newton(model, obj, 1e-10) is None
    res = optimal_representation(model, 1)
    assert res.solver != "gram-newton" and res.certified
    assert res.loss == pytest.approx(ref.loss, abs=1e-7)


def test_unit_diagonal_candidate_is_not_certified(monkeypatch):
    """The fast path only produces unit-diagonal Gram matrices.  Where the optimum has a point
    inside the ball, hand it the best such candidate (the optimum with that point pushed to the
    sphere): the certificate must reject it and the general solver must answer."""
    model = LatentClassModel([0.6, 0.4], [[0.45, 0.0, 0.55], [0.0, 0.45, 0.55]])
    k = 3
    ref = conic_optimum(model, k, tol=1e-11)
    assert ref.feasibility_residual <= 1e-8 and ref.gram[2, 2] < 0.5
    general = optimal_representation(model, k, init="random", rng=0)
    V = np.array(general.F)
    V /= np.linalg.norm(V, axis=1)[:, None]
    candidate = 0.5 * (V @ V.T + (V @ V.T).T)
    obj = NCEObjective(model, k)
    assert obj.value(candidate) > ref.loss + 1e-6  # truly suboptimal
    monkeypatch.setattr(newton, "kkt_newton", lambda *a, **kw: (candidate, 1))
    assert newton._gram_newton(model, obj, 1e-10) is None
    res = optimal_representation(model, k)
    assert res.solver != "gram-newton" and res.certified
    assert res.loss == pytest.approx(ref.loss, abs=1e-7) and res.gram[2, 2] < 0.5


@pytest.mark.parametrize("perturb", [1e-3, 1e-6, 1e-9])
def test_fast_path_never_misreports(monkeypatch, perturb):
    """Feed the fast path deliberately wrong Newton results: it must either decline (the general
    solver answers) or report a bound that covers the true suboptimality."""
    model = LatentClassModel.one_point_per_class(_zipf(6))
    k = 2
    ref = conic_optimum(model, k, tol=1e-11)
    exact = optimal_representation(model, k)
    rng = np.random.default_rng(int(1 / perturb) % 1000)
    n = model.n_points
    E = rng.standard_normal((n, n))
    E = 0.5 * (E + E.T)
    np.fill_diagonal(E, 0.0)
    bad = np.array(exact.gram) + perturb * E
    monkeypatch.setattr(newton, "kkt_newton", lambda *a, **kw: (bad, 1))
    res = optimal_representation(model, k)
    assert res.certified
    assert res.loss - res.duality_gap <= ref.loss + 1e-9
    if res.solver == "gram-newton":
        assert res.duality_gap >= res.loss - exact.loss - 1e-13
    else:
        assert res.loss == pytest.approx(ref.loss, abs=1e-7)
    if perturb >= 1e-6:
        assert res.solver != "gram-newton"  # gap bound of order perturb > the target
    # a non-convergent Newton run falls back as well
    monkeypatch.setattr(newton, "kkt_newton", lambda *a, **kw: None)
    res = optimal_representation(model, k)
    assert res.solver != "gram-newton" and res.certified
    assert res.loss == pytest.approx(exact.loss, abs=1e-9)


def test_early_final_step_is_followed_by_the_strict_rule_when_not_enough():
    """``final_step_at``: the last Newton step is taken unevaluated from a larger residual
    (the ERM path uses 1e-5); if the projected point then misses the target, the iteration goes
    on from it with the default rule, so the result is the same certified optimum."""
    model = LatentClassModel.one_point_per_class(_zipf(6, 1.2))
    obj = NCEObjective(model, 3, 1.0)
    target = 1e-10
    strict = newton._gram_newton(model, obj, target)
    early = newton._gram_newton(model, obj, target, final_step_at=1e-5)
    # far too early: one full step from the start, certainly not within the target by itself
    loose = newton._gram_newton(model, obj, target, final_step_at=1e3)
    G0 = _centred_start(model)
    one = kkt_newton(obj.second_order, G0, final_step_at=1e3)
    assert one is not None and one[1] == 1
    assert newton._projected_run(obj, one[0], 1, target) is None  # misses the target alone
    for run in (strict, early, loose):
        assert run is not None and run.certificate.gap <= target
        assert abs(run.loss - strict.loss) <= 2 * target
        _assert_feasible(run.gram)
    assert loose.n_iter > 1 and early.n_iter <= strict.n_iter
