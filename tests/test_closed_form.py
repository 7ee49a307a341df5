"""Tests of latentclass.closed_form: the regular simplex and its loss (SPEC §5).

Independent references: exact rational binomial weights (``fractions``/``math.comb``) for
the full sum at small k; adaptive quadrature (``scipy.integrate.quad``) of the Frullani
form of SPEC §3 specialised to the two atoms of the simplex (weights 1/m at a = 1 and
1 − 1/m at a = q) for every k up to 1e9; the exact engine ``population_loss`` of the
class-level uniform model at F = simplex(m).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import integrate, stats

from latentclass.closed_form import simplex, simplex_gram, simplex_loss, simplex_window
from latentclass.model import LatentClassModel


# ----------------------------------------------------------------------------- simplex
@pytest.mark.parametrize("m", [2, 3, 5, 8, 50, 200])
def test_simplex_geometry(m):
    F = simplex(m)
    assert F.shape == (m, m - 1)
    G = F @ F.T
    target = np.full((m, m), -1.0 / (m - 1))
    np.fill_diagonal(target, 1.0)
    assert np.max(np.abs(G - target)) <= 1e-15
    assert np.max(np.abs(F.sum(axis=0))) <= 1e-13  # centred: vertices sum to zero
    assert np.linalg.matrix_rank(F) == m - 1
    np.testing.assert_array_equal(simplex_gram(m), target)
    assert not F.flags.writeable


def test_simplex_bad_input():
    with pytest.raises(ValueError, match="m"):
        simplex(1)
    with pytest.raises(TypeError, match="m"):
        simplex("3")
    with pytest.raises(ValueError, match="m"):
        simplex(2.5)


# ----------------------------------------------------------------------------- references
def _q(m, tau):
    return math.exp(-m / ((m - 1) * tau))


def _exact_full_sum(m, k, tau):
    """Full (k+1)-term sum with exact rational binomial weights."""
    q = _q(m, tau)
    total = []
    for j in range(k + 1):  # reference only, small k
        w = Fraction(math.comb(k, j) * (m - 1) ** (k - j), m**k)
        total.append(float(w) * math.log1p(j + (k - j) * q))
    return math.fsum(total)


def _frullani_two_atoms(m, k, tau):
    """I_k = ∫ e^{-t} (1 − φ(t)^k) dt/t, φ(t) = e^{-t}/m + (1 − 1/m) e^{-tq}, with t = e^u."""
    q, p = _q(m, tau), 1.0 / m

    def f(u):
        t = math.exp(u)
        phim1 = p * math.expm1(-t) + (1 - p) * math.expm1(-t * q)
        if phim1 <= -1.0:
            return math.exp(-t)
        return math.exp(-t) * -math.expm1(k * math.log1p(phim1))

    lo = math.log(1e-25 / k) - 5.0
    edges = np.linspace(lo, 5.0, 150)
    parts = [
        integrate.quad(f, a, b, epsabs=0.0, epsrel=1e-13, limit=200)[0]
        for a, b in zip(edges[:-1], edges[1:])
    ]
    return math.fsum(parts)


# ----------------------------------------------------------------------------- simplex_loss
@pytest.mark.parametrize(
    "m,k,tau", [(2, 1, 1.0), (3, 4, 0.3), (5, 17, 1.0), (8, 60, 0.3), (4, 200, 2.0), (50, 100, 0.1)]
)
def test_simplex_loss_full_sum(m, k, tau):
    assert simplex_loss(m, k, tau) == pytest.approx(_exact_full_sum(m, k, tau), rel=1e-14, abs=0)


@pytest.mark.parametrize(
    "m,k,tau",
    [
        (2, 1, 1.0),
        (3, 10, 0.3),
        (5, 1000, 1.0),
        (8, 10**6, 0.3),
        (2, 10**9, 1.0),
        (8, 10**9, 0.3),
        (200, 10**9, 1.0),
        (1000, 10**6, 0.05),
        (3, 12345678, 5.0),
    ],
)
def test_simplex_loss_quadrature(m, k, tau):
    assert simplex_loss(m, k, tau) == pytest.approx(
        _frullani_two_atoms(m, k, tau), rel=1e-12, abs=0
    )


@pytest.mark.parametrize("m", [2, 3, 8])
def test_simplex_loss_limit(m):
    """k = inf is lim (L_k − log k); the error is O(1/k)."""
    lim = simplex_loss(m, math.inf, 0.5)
    q = _q(m, 0.5)
    assert lim == pytest.approx(math.log((1 + (m - 1) * q) / m), rel=1e-15)
    errs = [abs(simplex_loss(m, k, 0.5) - math.log(k) - lim) for k in (10**3, 10**5, 10**7)]
    assert errs[2] < 1e-5 and errs[1] < errs[0] / 50 and errs[2] < errs[1] / 50


def test_simplex_loss_matches_exact_engine():
    """Two-atom case of the exact engine: population_loss at F = simplex(m), k = 1..1e9."""
    from latentclass.population import population_loss, population_loss_limit

    for m in (2, 3, 7):
        model = LatentClassModel.one_point_per_class(np.full(m, 1.0 / m))
        F = simplex(m)
        for k in (1, 2, 5, 100, 10**4, 10**6, 10**9):
            for tau in (1.0, 0.3):
                ref = population_loss(model, F, k, tau)
                assert simplex_loss(m, k, tau) == pytest.approx(ref, rel=1e-11, abs=0), (m, k, tau)
        lim = population_loss_limit(model, F, tau=0.7)
        assert simplex_loss(m, math.inf, 0.7) == pytest.approx(lim, rel=1e-11, abs=1e-13)


@pytest.mark.parametrize("k,p", [(50, 0.5), (1000, 0.1), (10**5, 0.01), (10**6, 0.3), (37, 0.9)])
def test_window_tail_bound(k, p):
    """Neglected tails (exact binomial cdf/sf) are below the δ the window promises."""
    for log_delta in (-20.0, -45.0):
        lo, hi = simplex_window(k, p, log_delta)
        assert 0 <= lo <= k * p <= hi <= k
        delta = math.exp(log_delta)
        lower_tail = stats.binom.cdf(lo - 1, k, p) if lo > 0 else 0.0
        upper_tail = stats.binom.sf(hi, k, p)
        assert lower_tail <= delta and upper_tail <= delta
        # and the window is not absurdly wide: a few tens of standard deviations at most
        assert hi - lo <= 2 * (12 * math.sqrt(k * p * (1 - p)) + 12 * -log_delta) + 2


def test_simplex_loss_properties():
    # k = 1 closed form by hand: (1/m) log 2 + (1 − 1/m) log(1 + q)
    m, tau = 6, 0.4
    q = _q(m, tau)
    assert simplex_loss(m, 1, tau) == pytest.approx(
        math.log(2) / m + (1 - 1 / m) * math.log1p(q), rel=1e-15
    )
    # integral-float k accepted
    assert simplex_loss(4, 1e6, 1.0) == simplex_loss(4, 10**6, 1.0)


def test_simplex_loss_independent_of_scipy_stats(monkeypatch):
    """No scipy.stats pmf (old scipy's binom.pmf gave 20.157047119 at m = 2, k = 1e9)."""
    import scipy.stats

    class Broken:
        def __getattr__(self, name):
            raise AssertionError("scipy.stats.binom used")

    monkeypatch.setattr(scipy.stats, "binom", Broken())
    assert simplex_loss(2, 10**9, 1.0) == pytest.approx(20.157046668901019669, rel=1e-14)
    assert simplex_loss(5, 17, 1.0) == pytest.approx(_exact_full_sum(5, 17, 1.0), rel=1e-14)


@pytest.mark.parametrize("m,tau", [(2, 1.0), (3, 0.1), (8, 5.0), (100, 0.5)])
def test_simplex_loss_both_methods_across_the_switch(m, tau):
    """Window sum (variance < 1000) and moment expansion (>= 1000) against quadrature on both sides."""
    p = 1.0 / m
    for var in (990.0, 1000.0, 1010.0, 3000.0):
        k = int(var / (p * (1 - p)))
        assert simplex_loss(m, k, tau) == pytest.approx(
            _frullani_two_atoms(m, k, tau), rel=1e-12, abs=0
        ), (m, k, tau)


def test_simplex_loss_bad_input():
    with pytest.raises(ValueError, match="k"):
        simplex_loss(3, 0)
    with pytest.raises(ValueError, match="k"):
        simplex_loss(3, 2.5)
    with pytest.raises(ValueError, match="tau"):
        simplex_loss(3, 4, tau=0.0)
    with pytest.raises(ValueError, match="m"):
        simplex_loss(1, 4)
    with pytest.raises(TypeError, match="k"):
        simplex_loss(3, True)
    with pytest.raises(ValueError, match="k must be at most"):
        simplex_loss(3, 10**400)
    with pytest.raises(ValueError, match="tau"):
        simplex_loss(3, 4, tau=10**400)
