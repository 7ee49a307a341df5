"""Disjoint supports at point level: solve at class level, lift, certify by the lift (SPEC §5).

The three identities of :mod:`latentclass._solvers.class_lift` are checked against the
point-level engine and the generic certificate at point level (eigenvalues of the ``n × n``
matrix), and the lifted optimum against the point-level solver run directly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import latentclass as lc
from latentclass._solvers.class_lift import (
    class_model,
    lift_gradient,
    lift_gram,
    lift_multipliers,
)
from latentclass.population import NCEObjective

POINTS = (3, 2, 4, 1)


def _model(seed: int) -> lc.LatentClassModel:
    rng = np.random.default_rng(seed)
    rho = rng.dirichlet(np.ones(len(POINTS)))
    within = [rng.dirichlet(np.ones(p)) for p in POINTS]
    return lc.LatentClassModel.disjoint(rho, POINTS, within)


def _class_gram(m: int, rng: np.random.Generator) -> np.ndarray:
    F = rng.standard_normal((m, m))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    F *= rng.uniform(0.6, 1.0, size=(m, 1))
    G = F @ F.T
    return 0.5 * (G + G.T)


@pytest.mark.parametrize("k", [1, 3, 7, 1000, math.inf])
@pytest.mark.parametrize("tau", [0.3, 1.0])
def test_loss_and_gradient_of_a_collapsed_gram_are_the_class_level_ones(k, tau):
    model = _model(1)
    rng = np.random.default_rng(2)
    Gc = _class_gram(model.n_classes, rng)
    G = lift_gram(model, Gc)
    f_point, g_point = NCEObjective(model, k, tau).value_and_grad(G)
    f_class, g_class = NCEObjective(class_model(model), k, tau).value_and_grad(Gc)
    assert f_point == pytest.approx(f_class, rel=1e-13)
    lifted = lift_gradient(model, g_class)
    assert np.max(np.abs(lifted - g_point)) <= 1e-13 * np.max(np.abs(g_point))


@pytest.mark.parametrize("k", [2, 16, math.inf])
def test_lifted_multipliers_make_a_point_level_dual_certificate_with_the_class_gap(k):
    model = _model(3)
    rng = np.random.default_rng(4)
    Gc = _class_gram(model.n_classes, rng)
    cm = class_model(model)
    cert_c = lc.certify(NCEObjective(cm, k, 0.5), Gc)
    lam = lift_multipliers(model, cert_c.multipliers)
    G = lift_gram(model, Gc)
    _, g_point = NCEObjective(model, k, 0.5).value_and_grad(G)
    Z = g_point + np.diag(lam)
    # Z ⪰ 0 up to rounding of the n × n eigenvalue problem (independent of the lift's proof)
    assert np.linalg.eigvalsh(Z)[0] >= -1e-12 * np.abs(Z).max()
    total_point = float(np.sum(g_point * G) + lam.sum())
    _, g_class = NCEObjective(cm, k, 0.5).value_and_grad(Gc)
    total_class = float(np.sum(g_class * Gc) + cert_c.multipliers.sum())
    assert total_point == pytest.approx(total_class, rel=1e-11, abs=1e-14)


@pytest.mark.parametrize("k", [1, 5, 64, math.inf])
def test_disjoint_point_level_optimum_is_solved_by_the_lift_and_matches_the_point_solver(k):
    model = _model(5)
    tau = 0.7
    res = lc.optimal_representation(model, k, tau)
    assert res.solver.startswith("class-lift/")
    assert res.certified
    assert res.F.shape == (model.n_points, model.n_classes)
    # every point on its class vector; gram exactly collapsed and consistent with F
    first = np.cumsum((0,) + POINTS[:-1])
    assert np.array_equal(res.gram, lift_gram(model, res.gram[np.ix_(first, first)]))
    assert np.max(np.abs(res.F @ res.F.T - res.gram)) <= 1e-15 * 8
    obj = NCEObjective(model, k, tau)
    assert res.loss == pytest.approx(obj.value(res.gram), rel=1e-14)
    # independent: the point-level solver on the n-point objective, and its own certificate
    direct = lc.solve_gram(obj)
    assert direct.certified
    assert abs(res.loss - direct.loss) <= res.duality_gap + direct.duality_gap
    assert res.loss - res.duality_gap <= direct.loss + 1e-15
    cert = lc.certify(obj, res.gram)
    assert cert.certified and cert.gap <= 1e-7


def test_uniform_point_level_goes_through_the_class_closed_form():
    model = lc.LatentClassModel.disjoint(np.full(3, 1 / 3), (2, 3, 1))
    res = lc.optimal_representation(model, 8, 1.0)
    assert res.solver == "class-lift/closed-form"
    assert res.method == "closed-form"
    assert res.certified
    assert res.loss == pytest.approx(lc.simplex_loss(3, 8, 1.0), rel=1e-15)


def test_overlapping_supports_keep_the_point_level_solver():
    cond = np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]])
    model = lc.LatentClassModel(np.array([0.4, 0.6]), cond)
    res = lc.optimal_representation(model, 4, 1.0)
    assert not res.solver.startswith("class-lift")


def test_low_dimension_below_m_minus_one_is_not_lifted():
    model = _model(6)
    res = lc.optimal_representation(model, 4, 1.0, dim=2, n_restarts=2)
    assert not res.solver.startswith("class-lift")
