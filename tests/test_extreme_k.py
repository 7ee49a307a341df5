"""Huge numbers of negatives: ``simplex_loss`` and every quantity of ``latentclass.bounds``
for ``k`` from 1 to the float range ``1.8e308``, against independent mpmath computations.

References (all in mpmath at 20–60 significant digits, never the library's own methods):

- the Laplace / Frullani integral of SPEC §3, ``E log(1 + S) = ∫_0^∞ e^{-t} (1 - φ(t)^k) dt/t``
  with ``φ`` the Laplace transform of one negative's score weight, by ``mpmath.quad`` (valid
  for every ``k``: a genuinely different method from the library's binomial window sums and
  moment expansions);
- for ``k <= 10^6``, the exact binomial sum over ``mean ± 45 sd`` with mpmath binomials;
- inclusion–exclusion for the coverage probability, with enough digits for its cancellation;
- ``mpmath.harmonic`` for harmonic numbers.

The work the library does is bounded by construction (window sums of at most ~1000 terms,
expansions of order <= 13): the tests check the counts reported by
``latentclass._engines.binomial.expected_log1p_affine`` instead of timing anything.
"""

from __future__ import annotations

import functools
import itertools
import math
import sys
import warnings

import mpmath as mp
import numpy as np
import pytest

from latentclass._engines import binomial as _binomial
from latentclass.bounds import (
    ash_bound,
    bao_bound,
    bao_lower_bound,
    collision_probability,
    coverage_probability,
    expected_log_collisions,
    harmonic_number,
    nozawa_sato_bound,
    published_bounds,
    saunshi_bound,
)
from latentclass.closed_form import simplex_loss

MAX_K = int(sys.float_info.max)
HUGE = 10**400
#: ρ with classes of mass ~1/k at k = 10^18 (coverage and no-collision probabilities are O(1)).
RHO_TINY = [0.7, 0.3 - 3e-18, 2e-18, 1e-18]
RHO_EXTREME = [1e-300, 1 - 1e-300]


def rel(a, b):
    return float(abs(mp.mpf(a) - b) / abs(b))


# ----------------------------------------------------------------------------- references
def _points(u0):
    """Break points in u = log t around the transition u0 = -log(k E a) and around t ~ 1."""
    lower = min(u0, mp.mpf(-6)) - 100
    around = [u0 + d for d in (-40, -20, -10, -5, -2, 0, 2, 5, 10, 20)]
    inner = sorted(x for x in around if lower < x < -6)
    return [lower, *inner, -6, -3, -1, 0, 1, 2, 3, 4, 6]


@functools.cache
def laplace_log1p(k, p, q, dps=25):
    """E log(1 + J + (k - J) q), J ~ Bin(k, p), p and q mpmath strings, by the Laplace integral.

    One negative has weight a = 1 with probability p and a = q otherwise:
    φ(t) = p e^{-t} + (1 - p) e^{-tq}; t = e^u, so the integrand is e^{-t} (1 - φ^k), bounded by 1.
    """
    with mp.workdps(dps):
        p, q, kk = mp.mpf(p), mp.mpf(q), mp.mpf(k)

        def f(u):
            t = mp.exp(u)
            phim1 = p * mp.expm1(-t) + (1 - p) * mp.expm1(-t * q)
            return mp.exp(-t) * -mp.expm1(kk * mp.log1p(phim1))

        return +mp.quad(f, _points(-mp.log(kk * (p + (1 - p) * q))))


def simplex_reference(m, k, tau):
    with mp.workdps(40):
        q = mp.exp(-mp.mpf(m) / ((m - 1) * mp.mpf(tau)))
        return laplace_log1p(k, mp.nstr(mp.mpf(1) / m, 40), mp.nstr(q, 40))


def coll_reference_one(p, k):
    """E log(1 + J), J ~ Bin(k, p): the Laplace integral with q = 0 (a = 1 or 0)."""
    return laplace_log1p(k, p, "0")


def exact_window_sum(m, k, tau, dps=30, width=45):
    """Σ_j C(k,j) p^j (1-p)^{k-j} log(1 + j + (k-j) q) over mean ± width sd, mpmath binomials."""
    with mp.workdps(dps):
        p = mp.mpf(1) / m
        q = mp.exp(-mp.mpf(m) / ((m - 1) * mp.mpf(tau)))
        mean, sd = k * p, mp.sqrt(k * p * (1 - p))
        lo = max(0, int(mp.floor(mean - width * sd - 60)))
        hi = min(k, int(mp.ceil(mean + width * sd + 60)))
        w = mp.binomial(k, lo) * p**lo * (1 - p) ** (k - lo)
        total = mp.mpf(0)
        for j in range(lo, hi + 1):  # reference only
            total += w * mp.log(1 + j + (k - j) * q)
            w *= mp.mpf(k - j) / (j + 1) * p / (1 - p)
        return total


def normalised(rho):
    """ρ as exact mpf, the largest class replaced by 1 - Σ others (total mass exactly 1).

    The library's convention: small class probabilities are exact and 1 - ρ_c is taken as
    exact (Σ of the others for a class above 1/2).
    """
    r = [mp.mpf(float(x)) for x in rho]
    big = max(range(len(r)), key=lambda c: r[c])
    r[big] = 1 - mp.fsum(r[c] for c in range(len(r)) if c != big)
    return r


def digits_for(rho):
    return 60 + int(-math.log10(min(rho)))


def coverage_reference(rho, n):
    """Σ_S (-1)^{|S|} (1 - ρ(S))^n with enough digits to absorb the cancellation."""
    with mp.workdps(digits_for(rho)):
        r = normalised(rho)
        total = mp.mpf(0)
        for size in range(len(r) + 1):
            for S in itertools.combinations(range(len(r)), size):
                mass = 1 - mp.fsum(r[c] for c in S)
                if mass > 0:
                    total += (-1) ** size * mp.exp(n * mp.log(mass))
        return +total


def collision_reference(rho, k):
    with mp.workdps(digits_for(rho)):
        r = normalised(rho)
        return mp.fsum(x * -mp.expm1(k * mp.log1p(-x)) for x in r)


def no_collision_reference(rho, k):
    """1 - τ_k = Σ ρ_c (1 - ρ_c)^k."""
    with mp.workdps(digits_for(rho)):
        r = normalised(rho)
        return mp.fsum(x * mp.exp(k * mp.log1p(-x)) for x in r)


def coll_reference(rho, k):
    """Coll_k = Σ_c ρ_c E log(1 + N_c): one Laplace integral per distinct class probability."""
    with mp.workdps(digits_for(rho)):
        r = normalised(rho)
        return mp.fsum(x * coll_reference_one(mp.nstr(x, 40), k) for x in r)


# ----------------------------------------------------------------------------- simplex_loss
def test_simplex_loss_must_show_k_1e9():
    """The value old scipy got wrong (binom.pmf: 20.157047119)."""
    assert rel(simplex_loss(2, 10**9, tau=1.0), mp.mpf("20.157046668901019669")) <= 1e-13


@pytest.mark.parametrize(
    "m,k,tau",
    [
        (2, 10**9, 1.0),
        (4, 10**18, 1.0),
        (4, 10**6, 0.5),
        (3, 10**12, 0.1),
        (10, 10**18, 0.05),
        (1000, 10**18, 20.0),
        (2, 10**100, 1.0),
        (7, 10**300, 0.3),
        (3, MAX_K, 1.0),
        (10**6, 10**9, 1.0),  # variance ~1000: the window/expansion switch
        (50, 1000, 0.2),
        (2, 1, 1.0),
    ],
)
def test_simplex_loss_against_laplace_integral(m, k, tau):
    assert rel(simplex_loss(m, k, tau), simplex_reference(m, k, tau)) <= 1e-14


@pytest.mark.parametrize(
    "m,k,tau",
    [(2, 3999, 1.0), (2, 4001, 0.05), (3, 10**4, 0.3), (10, 10**6, 1.0), (5, 777, 5.0)],
)
def test_simplex_loss_against_exact_binomial_sum(m, k, tau):
    """Both methods near their switch (variance 1000) and beyond, against the explicit sum."""
    assert rel(simplex_loss(m, k, tau), exact_window_sum(m, k, tau)) <= 1e-14


def test_simplex_loss_work_is_bounded_for_every_k():
    """O(1) work: at most ~1100 binomial terms, or an expansion of order <= 13, for all k."""
    ks = sorted({int(10 ** (e / 4)) for e in range(4 * 308)} | {1, 2, 3, MAX_K})
    for m in (2, 10, 10**9):
        for k in ks:
            q = math.exp(-m / ((m - 1) * 0.5))
            e = _binomial.expected_log1p_affine(
                k, 1, m, float(k) * q, -math.expm1(-m / (m - 1) / 0.5)
            )
            if e.method == "window":
                assert e.terms <= 1100, (m, k, e)
            else:
                assert e.method == "expansion" and e.terms <= 13, (m, k, e)
            assert 0.0 <= e.error_bound <= 1e-17 * e.value, (m, k, e)
    e = _binomial.expected_log1p_affine(10**18, 1, 4, 0.0, 1.0)
    assert (e.method, e.terms) == ("expansion", 3)


def test_simplex_loss_limit_still_works():
    assert simplex_loss(4, math.inf, 0.5) == pytest.approx(
        math.log((1 + 3 * math.exp(-4 / 1.5)) / 4), rel=1e-15
    )
    # and L_k - log k approaches it: at k = 10^18 within O(1/k)
    assert (
        abs(simplex_loss(4, 10**18, 0.5) - math.log(1e18) - simplex_loss(4, math.inf, 0.5)) < 1e-14
    )


# ----------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: simplex_loss(2, HUGE), "k must be at most"),
        (lambda: simplex_loss(2, MAX_K + 1), "k must be at most"),
        (lambda: collision_probability(3, HUGE), "k must be at most"),
        (lambda: expected_log_collisions(3, HUGE), "k must be at most"),
        (lambda: coverage_probability(3, HUGE), "draws must be at most"),
        (lambda: published_bounds(3, HUGE, 1.0), "k must be at most"),
        (lambda: saunshi_bound(3, HUGE, 1.0), "k must be at most"),
        (lambda: bao_bound(3, HUGE, 1.0), "k must be at most"),
        (lambda: simplex_loss(2, 5, tau=HUGE), "tau"),
        (lambda: bao_bound(3, 16, 5.0, tau=HUGE), "tau"),
        (lambda: published_bounds(3, 16, HUGE), "R"),
    ],
)
def test_beyond_float_range_refused_with_named_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_largest_k_accepted():
    assert math.isfinite(simplex_loss(2, MAX_K))
    assert collision_probability(3, MAX_K) == 1.0
    assert expected_log_collisions(3, MAX_K) == pytest.approx(math.log(MAX_K / 3), rel=1e-15)


# ----------------------------------------------------------------------------- ingredients
@pytest.mark.parametrize("n", [10**6 + 1, 10**7, 12345678901, 10**18, 10**100, 10**300, HUGE])
def test_harmonic_number_euler_maclaurin(n):
    with mp.workdps(40):
        ref = mp.harmonic(n)
    assert rel(harmonic_number(n), ref) <= 2e-16


@pytest.mark.parametrize("rho", [[0.5, 0.3, 0.2], RHO_TINY, RHO_EXTREME])
@pytest.mark.parametrize("k", [10**6, 10**18, 10**100, 10**300])
def test_collision_probability_huge_k(rho, k):
    assert rel(collision_probability(rho, k), collision_reference(rho, k)) <= 1e-15


@pytest.mark.parametrize(
    "rho,n",
    [
        (RHO_TINY, 10**18 + 1),
        ([0.7, 0.3 - 3e-12, 2e-12, 1e-12], 10**12 + 1),
        ([0.5, 0.5 - 3e-6, 1e-6, 2e-6], 10**6 + 1),
        ([0.4, 0.3, 0.2, 0.1 - 2e-100, 1e-100, 1e-100], 10**100 + 1),
        ([0.9, 0.1 - 1e-300, 1e-300], 10**300 + 1),
        (RHO_EXTREME, 17),
        (RHO_EXTREME, 10**18 + 1),
        (RHO_EXTREME, 10**300),
        ([0.1, 0.1, 0.1, 0.7 - 4e-5, 1e-5, 1e-5, 1e-5, 1e-5], 10**4),
        ([0.5, 0.3, 0.2 - 1e-4, 1e-4], 20000),
        ([0.25] * 4, 10**18 + 1),
        ([0.4, 0.3, 0.3 - 5e-99 - 1e-100, 5e-99, 1e-100], 10**100),  # a common class near 1/n
        ([0.5, 0.5 - 4e-19 - 1e-20, 4e-19, 1e-20], 10**20),
    ],
)
def test_coverage_probability_huge_n(rho, n):
    assert rel(coverage_probability(np.array(rho), n), coverage_reference(rho, n)) <= 1e-14


def test_coverage_saddlepoint_refuses_infeasible_work():
    with pytest.raises(ValueError, match="auto"):
        coverage_probability(RHO_TINY, 10**18, method="saddlepoint")


@pytest.mark.parametrize("rho", [[0.1] * 10, RHO_TINY, RHO_EXTREME])
@pytest.mark.parametrize("k", [10**6, 10**18, 10**100])
def test_expected_log_collisions_huge_k(rho, k):
    assert rel(expected_log_collisions(rho, k), coll_reference(rho, k)) <= 1e-14


def test_expected_log_collisions_largest_k():
    assert (
        rel(expected_log_collisions(RHO_TINY, 10**300), coll_reference(RHO_TINY, 10**300)) <= 1e-14
    )


# ----------------------------------------------------------------------------- the bounds at k = 10^18
def bounds_reference(rho, k, R, tau):
    """Every bound from the mpmath ingredients (natural logs, b² = 1/τ)."""
    with mp.workdps(digits_for(rho)):
        r = normalised(rho)
        C = len(r)
        coll = coll_reference(rho, k)
        ups = coverage_reference(rho, k + 1)
        no_coll = no_collision_reference(rho, k)
        R = mp.mpf(R)
        b2 = 1 / mp.mpf(tau)
        out = {
            "saunshi": (R - coll) / (no_coll * ups),
            "nozawa_sato": (2 * R - coll) / ups,
            "bao": R + mp.log(max(r) * C**2 * mp.cosh(b2) ** 2 / k),
            "bao_lower": R
            + -mp.fsum(x * mp.log(x) for x in r)
            + mp.log(k)
            - 2 * mp.log(1 + k)
            - 2 * mp.log(mp.cosh(b2)),
            "coll": coll,
            "coverage": ups,
            "collision": 1 - no_coll,
        }
        if max(r) - min(r) < mp.mpf("1e-12"):
            H = mp.harmonic(C - 1)
            out["ash"] = 2 * max(1, 2 * (C - 1) * H / k) / no_coll * (R - coll)
        return out


def _float_or_overflow(x):
    """The float a reference value rounds to: +-inf beyond the float range."""
    return float(x) if abs(x) < mp.mpf(sys.float_info.max) else math.copysign(math.inf, x)


@pytest.mark.parametrize(
    "rho,k,tau",
    [
        (RHO_TINY, 10**18, 1.0),
        ([0.1] * 10, 10**18, 0.5),
        (RHO_EXTREME, 10**18, 1.0),
        ([0.7, 0.3 - 3e-12, 2e-12, 1e-12], 10**12, 0.2),
        ([0.1] * 10, 10**6, 1.0),
    ],
)
def test_published_bounds_huge_k_against_mpmath(rho, k, tau):
    coll = expected_log_collisions(rho, k)
    R = coll + 1.5  # a loss value clear of the ill-conditioned corner
    ref = bounds_reference(rho, k, R, tau)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pb = published_bounds(rho, k, R, tau)
    assert rel(pb.coll_k, ref["coll"]) <= 1e-14
    assert rel(pb.coverage, ref["coverage"]) <= 1e-14
    assert rel(pb.collision, ref["collision"]) <= 1e-15
    for name in ("saunshi", "nozawa_sato", "bao", "bao_lower", "ash"):
        got = getattr(pb, name)
        if name not in ref:
            assert got is None and name == "ash"
            continue
        want = _float_or_overflow(ref[name])
        if math.isinf(want):
            assert got == want, name
        else:
            assert rel(got, ref[name]) <= 1e-12, name
    # the single-bound functions give the same numbers
    assert saunshi_bound(rho, k, R) == pb.saunshi
    assert nozawa_sato_bound(rho, k, R) == pb.nozawa_sato
    assert bao_bound(rho, k, R, tau) == pb.bao
    assert bao_lower_bound(rho, k, R, tau) == pb.bao_lower
    if pb.ash is not None:
        assert ash_bound(rho, k, R) == pb.ash


def test_uniform_bounds_overflow_at_huge_k():
    """C = 10, k = 10^18: 1/(1 - τ_k) = 0.9^{-10^18}; Saunshi and Ash are beyond the float range."""
    pb = published_bounds(10, 10**18, 45.0, 1.0)
    with mp.workdps(30):
        log10_coef = -(10**18) * mp.log10(mp.mpf(9) / 10)
    assert log10_coef > 308
    assert pb.saunshi == math.inf and pb.ash == math.inf
    assert math.isfinite(pb.nozawa_sato) and pb.coverage == 1.0


# ----------------------------------------------------------------------------- ρ = (1e-300, 1 - 1e-300)
@pytest.mark.parametrize("k", [1, 2, 16, 10**6, 10**18, 10**300])
def test_extreme_rho_no_warnings_and_exact(k):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # RuntimeWarnings (divide by zero) would be errors
        tau_k = collision_probability(RHO_EXTREME, k)
        ups = coverage_probability(RHO_EXTREME, k + 1)
        coll = expected_log_collisions(RHO_EXTREME, k)
        pb = published_bounds(RHO_EXTREME, k, coll + 1.0, 1.0)
    assert rel(tau_k, collision_reference(RHO_EXTREME, k)) <= 1e-15
    assert rel(ups, coverage_reference(RHO_EXTREME, k + 1)) <= 1e-14
    if k <= 10**6:  # exact sum: ρ_0 E log(1 + Bin(k, 1e-300)) + ρ_1 E log(1 + k - Bin(k, 1e-300))
        with mp.workdps(700):
            p = mp.mpf(1e-300)
            ref = mp.fsum(
                w * mp.binomial(k, j) * p**j * (1 - p) ** (k - j) * mp.log(1 + j_eff)
                for j in range(min(k, 3) + 1)
                for w, j_eff in ((p, j), (1 - p, k - j))
            )
        assert rel(coll, ref) <= 1e-15
    assert pb.coll_k == coll and pb.coverage == ups and pb.collision == tau_k
