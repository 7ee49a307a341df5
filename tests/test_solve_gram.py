"""The objective protocol (SPEC §4): a user-written convex objective, written from the
protocol's documentation only (latentclass/objective.py), is solved by ``lc.solve_gram``
and certified by ``lc.certify``; its optimum matches CVXPY + Clarabel."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

import latentclass as lc


class L1:
    """``L_1(G) = Σ_x ρ_x Σ_y ρ_y log(1 + exp((G_xy − G_xx)/τ))``: the k = 1 loss of a
    class-level model, written independently of the library's engines."""

    convex = True

    def __init__(self, rho, tau=1.0):
        self.rho, self.tau, self.n = np.asarray(rho, dtype=float), tau, len(rho)

    def value_and_grad(self, G):
        G = np.asarray(G, dtype=float)
        S = (G - np.diag(G)[:, None]) / self.tau
        w = self.rho[:, None] * self.rho[None, :]
        value = float(np.sum(w * np.logaddexp(0.0, S)))
        s = w * expit(S) / self.tau
        D = s.copy()
        D[np.diag_indices(self.n)] -= s.sum(axis=1)
        return value, 0.5 * (D + D.T)


@pytest.mark.parametrize("rho,tau", [([0.5, 0.3, 0.2], 1.0), ([0.4, 0.3, 0.2, 0.1], 0.5)])
def test_user_objective_is_solved_certified_and_matches_clarabel(rho, tau):
    from latentclass.conic import conic_optimum

    obj = L1(rho, tau)
    assert isinstance(obj, lc.GramObjective)
    res = lc.solve_gram(obj)
    assert res.certified and res.duality_gap <= 1e-7
    assert res.solver.startswith("lifted-lbfgs")
    cert = lc.certify(obj, res.gram)
    assert cert.certified and "trusted" in cert.assumptions
    model = lc.LatentClassModel.one_point_per_class(rho)
    ref = conic_optimum(model, 1, tau, tol=1e-10)
    assert ref.feasibility_residual <= 1e-8
    assert res.loss == pytest.approx(ref.loss, abs=1e-7)
    # and the library's own NCE objective agrees at the user's optimum
    assert lc.NCEObjective(model, 1, tau).value(res.gram) == pytest.approx(res.loss, abs=1e-13)


def test_undeclared_convexity_is_not_certified():
    class NoClaim(L1):
        convex = None

    res = lc.solve_gram(NoClaim([0.5, 0.3, 0.2]))
    assert not res.certified and res.duality_gap <= 1e-7  # the bound is there, not the claim


def test_rank_constrained_user_objective():
    res = lc.solve_gram(L1([0.5, 0.3, 0.2]), dim=1, rng=0)
    assert res.F.shape == (3, 1)
    assert not res.certified or res.duality_gap <= 1e-7


@pytest.mark.parametrize(
    "bad,exc,words",
    [
        (object(), TypeError, "GramObjective protocol"),
        (
            type("N", (), {"n": -1, "value_and_grad": lambda self, G: (0.0, G)})(),
            TypeError,
            "n must be",
        ),
    ],
)
def test_protocol_checked_at_the_door(bad, exc, words):
    with pytest.raises(exc, match=words):
        lc.solve_gram(bad)


def test_nce_objective_speaks_the_protocol():
    model = lc.LatentClassModel.one_point_per_class([0.5, 0.3, 0.2])
    obj = lc.NCEObjective(model, 3)
    assert isinstance(obj, lc.GramObjective) and obj.n == 3 and obj.convex is True
    a = lc.solve_gram(obj)
    b = lc.optimal_representation(model, 3, init="random")
    assert a.certified and b.certified
    assert a.loss == pytest.approx(b.loss, abs=1e-9)
