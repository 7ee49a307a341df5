"""The dual certificate (SPEC §4) is sound for any input: infeasible matrices, wrong
gradients and duck-typed objectives never yield ``certified=True``, and the gap bound is
never below the true suboptimality measured against an independent conic solver."""

from __future__ import annotations

import math

import numpy as np
import pytest

import latentclass as lc
from latentclass.certificate import FEAS_TOL, certify, feasibility
from latentclass.closed_form import simplex, simplex_gram, simplex_loss
from latentclass.conic import conic_optimum
from latentclass.population import NCEObjective

UNIFORM3 = lc.LatentClassModel.one_point_per_class([1 / 3, 1 / 3, 1 / 3])


def _indefinite3() -> np.ndarray:
    """Unit diagonal, off-diagonal −1: eigenvalues (2, 2, −1)."""
    return 2.0 * np.eye(3) - np.ones((3, 3))


def test_indefinite_matrix_is_refused_although_its_gap_bound_is_tiny():
    obj = NCEObjective(UNIFORM3, 4)
    G = _indefinite3()
    assert np.linalg.eigvalsh(G)[0] == pytest.approx(-1.0)
    # why it matters: its loss is below the true optimum (the simplex, SPEC §5) ...
    assert obj.value(G) < simplex_loss(3, 4) - 1e-3
    # ... and the unchecked bound would call it optimal
    from latentclass.certificate import _certificate

    assert _certificate(G, obj.grad(G)).gap < 1e-9
    with pytest.raises(ValueError, match="positive semidefinite"):
        certify(obj, G)
    assert not feasibility(G).feasible


def test_diagonal_above_one_is_refused():
    obj = NCEObjective(UNIFORM3, 4)
    with pytest.raises(ValueError, match=r"diag\(G\) must be <= 1"):
        certify(obj, simplex_gram(3) * (1 + 1e-9))
    with pytest.raises(ValueError, match="feasible"):
        certify(obj, 1.5 * np.eye(3))
    # within the stated tolerance it is accepted
    assert certify(obj, simplex_gram(3) * (1 + 0.5 * FEAS_TOL)).certified


def test_asymmetric_and_complex_matrices_are_refused():
    obj = NCEObjective(UNIFORM3, 4)
    G = np.array(simplex_gram(3))
    G[0, 1] += 1e-6
    with pytest.raises(ValueError, match="symmetric"):
        certify(obj, G)
    with pytest.raises(TypeError, match="complex"):
        certify(obj, simplex_gram(3) + 0j)
    with pytest.raises(ValueError, match="square|for this"):
        certify(obj, np.eye(4))


def test_rounded_gram_matrices_are_accepted():
    """Float Gram matrices F Fᵀ (unit rows) sit within rounding of the feasible set, also
    when very degenerate: all n points on one vector (λ_max = n)."""
    rng = np.random.default_rng(0)
    for n, d in ((200, 1), (60, 7), (5, 3)):
        F = rng.standard_normal((n, d)) if d > 1 else np.ones((n, 1))
        F /= np.linalg.norm(F, axis=1)[:, None]
        f = feasibility(F @ F.T)
        assert f.feasible, f


def test_certificate_unpacks_and_reports():
    obj = NCEObjective(UNIFORM3, 4, 0.5)
    cert = certify(obj, simplex_gram(3))
    gap, lam = cert
    assert gap == cert.gap and lam is cert.multipliers
    assert cert.certified and cert.feasible and "NCEObjective" in cert.assumptions
    assert "certified=True" in repr(cert)
    F = simplex(3) + 1e-3 * np.random.default_rng(1).standard_normal((3, 2))
    F /= np.linalg.norm(F, axis=1)[:, None]
    worse = certify(obj, F @ F.T)
    assert not worse.certified and worse.gap > 1e-7 and ">" in worse.reason


def test_wrong_supplied_gradient_is_refused():
    obj = NCEObjective(UNIFORM3, 4)
    G = simplex_gram(3)
    g = obj.grad(G)
    assert certify(obj, G, grad=g).certified
    with pytest.raises(ValueError, match="grad disagrees"):
        certify(obj, G, grad=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="grad disagrees"):
        certify(obj, G, grad=g * (1 + 1e-6))


class _Wrapped:
    """A duck-typed objective (the GramObjective protocol) wrapping NCEObjective."""

    def __init__(self, inner, convex=None, zero_grad=False):
        self.inner, self.n, self.zero_grad = inner, inner.n_points, zero_grad
        if convex is not None:
            self.convex = convex

    def value_and_grad(self, G):
        f, g = self.inner.value_and_grad(G)
        return f, (np.zeros_like(g) if self.zero_grad else g)


def test_duck_typed_objectives():
    inner = NCEObjective(UNIFORM3, 4)
    G = simplex_gram(3)
    # a gradient that lies is caught by the finite-difference spot check
    with pytest.raises(ValueError, match="finite differences"):
        certify(_Wrapped(inner, convex=True, zero_grad=True), G)
    # a correct gradient without a convexity declaration is not certified
    cert = certify(_Wrapped(inner), G)
    assert not cert.certified and "convex" in cert.reason
    assert cert.gap == certify(inner, G).gap
    # declared convex: certified, and the assumptions say what was trusted
    cert = certify(_Wrapped(inner, convex=True), G)
    assert cert.certified and "trusted" in cert.assumptions
    with pytest.raises(TypeError, match="value_and_grad"):
        certify(object(), G)


def _random_feasible(n, rng, d=None):
    F = rng.standard_normal((n, d or n))
    F /= np.linalg.norm(F, axis=1)[:, None]
    F *= rng.uniform(0.3, 1.0, size=(n, 1))
    return F @ F.T


@pytest.mark.parametrize(
    "rho,k,tau",
    [([0.5, 0.3, 0.2], 3, 1.0), ([0.4, 0.3, 0.2, 0.1], 2, 0.5), ([0.25] * 4, 4, 0.7)],
)
def test_gap_bounds_true_suboptimality_against_clarabel(rho, k, tau):
    """For random feasible G: gap(G) >= L(G) − L*, with L* from CVXPY + Clarabel (an
    independent solver; its value is accurate to ~1e-9, far below the suboptimalities here)."""
    model = lc.LatentClassModel.one_point_per_class(rho)
    obj = NCEObjective(model, k, tau)
    ref = conic_optimum(model, k, tau, tol=1e-10)
    assert ref.feasibility_residual <= 1e-8
    rng = np.random.default_rng(3)
    for _ in range(6):
        G = _random_feasible(len(rho), rng)
        cert = certify(obj, G)
        subopt = obj.value(G) - ref.loss
        assert subopt > 1e-4  # a meaningful test: far from optimal
        assert cert.gap >= subopt - 1e-8
        assert not cert.certified
    # the optimum itself: certified, and the bound brackets Clarabel's optimum
    opt = lc.optimal_representation(model, k, tau)
    assert opt.certified
    assert opt.loss - opt.duality_gap <= ref.loss + 1e-8
    assert math.isclose(opt.loss, ref.loss, abs_tol=1e-7)
