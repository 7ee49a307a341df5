"""Hinge certificates in the regime the piece-weight bound could not close (issue 14 (a)):
non-uniform ρ, τ·margin > m/(m−1).  Every value is checked against CVXPY + Clarabel."""

from __future__ import annotations

import math

import numpy as np
import pytest
from loss_oracles import brute_force_population, cvxpy_class_level

import latentclass as lc
from latentclass.certificate import feasibility
from latentclass.losses import hinge_dual_bound, refine_hinge_gram
from latentclass.losses.hinge_dual import _subset_caps

ZIPF5 = [float(v) for v in lc.families.parse_class_probs("zipf:5:1")]
ZIPF6 = [float(v) for v in lc.families.parse_class_probs("zipf:6:1")]

#: (ρ, k, τ) where the simplex is the optimum (CVXPY) but the piece weights left ≈ 1e-2.
SIMPLEX_CASES = [
    ([0.5, 0.3, 0.2], 2, 3.0),
    ([0.5, 0.3, 0.2], 3, 2.0),
    ([0.4, 0.3, 0.2, 0.1], 4, 2.0),
    (ZIPF5, 3, 2.0),
]
#: (ρ, k, τ) where the optimum is not the simplex.
OTHER_CASES = [([0.4, 0.3, 0.2, 0.1], 2, 1.5), (ZIPF6, 2, 1.3)]


def test_subset_caps_are_collision_probabilities():
    D = np.array([0.5, 0.3, 0.2])
    ind, f = _subset_caps(D, 3)
    for row, val in zip(ind, f):
        assert val == pytest.approx(1 - (1 - D @ row) ** 3, abs=1e-15)
    assert np.all(_subset_caps(D, math.inf)[1] == 1.0)


@pytest.mark.parametrize(("rho", "k", "tau"), SIMPLEX_CASES)
def test_polymatroid_weights_close_the_gap_at_the_simplex(rho, k, tau):
    pytest.importorskip("cvxpy")
    m = len(rho)
    assert tau * 1.0 > m / (m - 1)
    model = lc.LatentClassModel.one_point_per_class(rho)
    S = lc.simplex_gram(m)
    before = hinge_dual_bound(model, S, k, tau, polymatroid=False)
    after = hinge_dual_bound(model, S, k, tau)
    assert before.gap > 1e-3  # the regime of the issue
    assert after.gap < 1e-10
    ref, _ = cvxpy_class_level(rho, k, tau, "hinge")
    assert abs(after.value - ref) < 1e-7
    assert after.lower_bound <= ref + 1e-8  # sound
    assert after.value == pytest.approx(
        brute_force_population(model, S, k, tau, "hinge"), abs=1e-12
    )
    res = lc.optimal_representation(model, k, tau, loss="hinge")
    assert res.certified and abs(res.loss - ref) < 1e-7


@pytest.mark.parametrize(("rho", "k", "tau"), OTHER_CASES)
def test_refined_hinge_optimum_is_certified_and_matches_clarabel(rho, k, tau):
    pytest.importorskip("cvxpy")
    m = len(rho)
    model = lc.LatentClassModel.one_point_per_class(rho)
    ref, _ = cvxpy_class_level(rho, k, tau, "hinge")
    start = lc.optimal_representation(model, k, tau, loss="hinge")
    # the default path runs the refinement itself when L-BFGS alone does not certify
    assert start.certified and start.solver.endswith("+hinge-lp")
    assert abs(start.loss - ref) < 1e-7
    assert start.loss - start.duality_gap <= ref + 1e-8  # its lower bound is sound
    out = refine_hinge_gram(model, np.asarray(start.gram), k, tau)
    assert out.value <= start.loss + 1e-15
    assert out.bound.gap <= 1e-7
    assert abs(out.value - ref) < 1e-7
    assert out.bound.lower_bound <= ref + 1e-8
    G = np.asarray(out.gram)
    assert feasibility(G).feasible
    assert np.allclose(np.asarray(out.factor) @ np.asarray(out.factor).T, G, atol=1e-12)
    assert out.value == pytest.approx(lc.population_loss(model, out.factor, k, tau, loss="hinge"))
    assert m == G.shape[0]


def test_bound_is_sound_at_non_optimal_points():
    """At random feasible G and the simplex (not optimal here) the lower bound never exceeds
    the Clarabel optimum and the gap stays large."""
    pytest.importorskip("cvxpy")
    rho, k, tau = [0.4, 0.3, 0.2, 0.1], 2, 1.5
    model = lc.LatentClassModel.one_point_per_class(rho)
    ref, _ = cvxpy_class_level(rho, k, tau, "hinge")
    gen = np.random.default_rng(4)
    for _ in range(6):
        F = gen.normal(size=(4, 4))
        F /= np.linalg.norm(F, axis=1, keepdims=True)
        b = hinge_dual_bound(model, F @ F.T, k, tau)
        assert b.lower_bound <= ref + 1e-9 and b.value >= ref - 1e-9
    b = hinge_dual_bound(model, lc.simplex_gram(4), k, tau)
    assert b.gap > 1e-2 and b.lower_bound <= ref + 1e-9


def test_refine_validates_and_never_worsens():
    model = lc.LatentClassModel.one_point_per_class([0.5, 0.3, 0.2])
    with pytest.raises(TypeError, match="model"):
        refine_hinge_gram("m", np.eye(3), 2)
    with pytest.raises(ValueError, match="Hinge"):
        refine_hinge_gram(model, np.eye(3), 2, loss="logistic")
    with pytest.raises(ValueError, match="target_gap"):
        refine_hinge_gram(model, np.eye(3), 2, target_gap=-1.0)
    G0 = np.eye(3)
    out = refine_hinge_gram(model, G0, 2, 2.0, max_iter=0)
    assert out.n_lp == 0 and out.value == pytest.approx(hinge_dual_bound(model, G0, 2, 2.0).value)
    out = refine_hinge_gram(model, G0, 2, 2.0)
    assert out.value <= hinge_dual_bound(model, G0, 2, 2.0).value
    assert "HingeRefinement(" in repr(out)


def test_point_level_certificate_equals_class_level_clarabel():
    """Disjoint supports with unequal weights within classes, non-uniform ρ, τ·margin > m/(m−1):
    the default path is certified (polymatroid weights over 5 support points) and its value is
    the class-level Clarabel optimum (collapsing a class is optimal for a convex loss)."""
    pytest.importorskip("cvxpy")
    within = [np.array([0.3, 0.7]), np.array([1.0]), np.array([0.5, 0.5])]
    for rho, k, tau in [([0.5, 0.3, 0.2], 2, 2.5), ([0.4, 0.35, 0.25], 3, 1.8)]:
        model = lc.LatentClassModel.disjoint(rho, [2, 1, 2], within=within)
        res = lc.optimal_representation(model, k, tau, loss="hinge")
        before = hinge_dual_bound(model, np.asarray(res.gram), k, tau, polymatroid=False)
        ref, _ = cvxpy_class_level(rho, k, tau, "hinge")
        assert before.gap > 1e-3
        assert res.certified and res.duality_gap < 1e-10
        assert abs(res.loss - ref) < 1e-7
