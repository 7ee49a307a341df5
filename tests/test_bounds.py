"""Tests for latentclass.bounds: collision/coverage probabilities and the published bounds.

Every library number is compared with an independent computation written here: exact
rationals (fractions / sympy), brute-force enumeration of class sequences, explicit
binomial sums, adaptive quadrature, a Markov-chain recursion, or Monte Carlo from the
model's own sampler with a 5-standard-error bound.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
import sympy
from scipy import integrate

from latentclass.bounds import (
    BoundValues,
    IllConditionedBoundError,
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
from latentclass.model import LatentClassModel

RATIONAL_RHO = [Fraction(1, 2), Fraction(1, 4), Fraction(1, 8), Fraction(1, 8)]
RATIONAL_RHO6 = [
    Fraction(3, 10),
    Fraction(1, 5),
    Fraction(3, 20),
    Fraction(3, 20),
    Fraction(1, 10),
    Fraction(1, 10),
]


def _floats(fr):
    return np.array([float(x) for x in fr])


# --------------------------------------------------------------------------- independent references
def _coverage_brute(rho, n):
    """Sum the probabilities of all m^n class sequences that contain every class."""
    m = len(rho)
    total = Fraction(0)
    for seq in itertools.product(range(m), repeat=n):
        if len(set(seq)) == m:
            p = Fraction(1)
            for c in seq:
                p *= rho[c]
            total += p
    return total


def _coverage_ie_exact(rho, n):
    """Inclusion-exclusion in exact rational arithmetic."""
    m = len(rho)
    total = Fraction(0)
    for size in range(m + 1):
        for S in itertools.combinations(range(m), size):
            total += (-1) ** size * (1 - sum((rho[c] for c in S), Fraction(0))) ** n
    return total


def _coverage_uniform_stirling(C, n):
    """C! S(n, C) / C^n with sympy's exact Stirling numbers of the second kind."""
    from sympy.functions.combinatorial.numbers import stirling

    return sympy.Rational(sympy.factorial(C) * stirling(n, C), sympy.Integer(C) ** n)


def _coverage_uniform_chain(C, n):
    """Distribution of the number of distinct classes seen after each draw (positive terms)."""
    p = np.zeros(C + 1)
    p[0] = 1.0
    j = np.arange(C + 1)
    for _ in range(n):  # test-only recursion over draws
        stay = p * j / C
        move = np.zeros_like(p)
        move[1:] = p[:-1] * (C - j[:-1]) / C
        p = stay + move
    return p[C]


def _coll_exact_sum(rho, k):
    """Σ_c ρ_c Σ_j C(k,j) ρ_c^j (1-ρ_c)^{k-j} log(1+j), rational weights."""
    return math.fsum(
        float(r * math.comb(k, j) * r**j * (1 - r) ** (k - j)) * math.log1p(j)
        for r in rho
        for j in range(k + 1)
    )


# --------------------------------------------------------------------------- harmonic numbers
@pytest.mark.parametrize("n", [0, 1, 2, 7, 37, 500])
def test_harmonic_number_exact(n):
    exact = sum((Fraction(1, i) for i in range(1, n + 1)), Fraction(0))
    assert harmonic_number(n) == pytest.approx(float(exact), rel=2e-16, abs=0)


def test_harmonic_number_euler_maclaurin_branch_is_continuous():
    # above 10^6 the Euler-Maclaurin branch is used; H_{n+1} - H_n = 1/(n+1) across the switch
    n = 1_000_000
    assert harmonic_number(n + 1) - harmonic_number(n) == pytest.approx(1.0 / (n + 1), rel=1e-8)
    assert harmonic_number(n + 1) == pytest.approx(
        math.fsum(1.0 / np.arange(1, n + 2, dtype=float)), rel=1e-15
    )


def test_harmonic_number_exact_rational_above_switch():
    n = 1_000_003
    exact = sum((Fraction(1, i) for i in range(n - 2, n + 1)), Fraction(0))  # H_n - H_{n-3}
    head = math.fsum(1.0 / np.arange(1, n - 2, dtype=float))  # H_{n-3}, below the switch
    assert harmonic_number(n) == pytest.approx(head + float(exact), rel=2e-16)


# --------------------------------------------------------------------------- collision probability
@pytest.mark.parametrize("k", [1, 3, 10])
def test_collision_probability_rational(k):
    exact = sum(r * (1 - (1 - r) ** k) for r in RATIONAL_RHO)
    assert collision_probability(_floats(RATIONAL_RHO), k) == pytest.approx(float(exact), rel=1e-15)


def test_collision_probability_uniform_int_and_inf():
    C, k = 7, 5
    assert collision_probability(C, k) == pytest.approx(1 - (1 - 1 / C) ** k, rel=1e-15)
    assert collision_probability(C, math.inf) == 1.0


@pytest.mark.parametrize(
    "rho,k",
    [
        ([0.5, 0.3, 0.2], 1),
        ([0.5, 0.3, 0.2], 4),
        (list(np.full(10, 0.1)), 12),
        ([0.9, 0.05, 0.05], 2),
    ],
)
def test_collision_probability_monte_carlo(rho, k):
    model = LatentClassModel.one_point_per_class(rho)
    s = model.sample(200_000, k, rng=1234)
    hits = np.any(s.negative_classes == s.classes[:, None], axis=1)
    mean = hits.mean()
    se = hits.std(ddof=1) / math.sqrt(hits.size)
    assert abs(collision_probability(rho, k) - mean) <= 5 * se


# --------------------------------------------------------------------------- Coll_k
@pytest.mark.parametrize(
    "rho,k", [([Fraction(1, 10)] * 10, 5), (RATIONAL_RHO, 7), ([Fraction(1, 3)] * 3, 40)]
)
def test_expected_log_collisions_explicit_sum(rho, k):
    assert expected_log_collisions(_floats(rho), k) == pytest.approx(
        _coll_exact_sum(rho, k), rel=1e-14
    )


def test_expected_log_collisions_dominant_class_mirror_image():
    """ρ_c > 1/2 is summed as E log1p(k - N'), N' ~ Bin(k, Σ of the others): same value."""
    rho = [Fraction(9, 10), Fraction(3, 40), Fraction(1, 40)]
    for k in (1, 2, 7, 60):
        assert expected_log_collisions(_floats(rho), k) == pytest.approx(
            _coll_exact_sum(rho, k), rel=1e-14
        )


def test_expected_log_collisions_independent_of_scipy_stats(monkeypatch):
    """No scipy.stats pmf anywhere (old scipy's binom.pmf is inaccurate)."""
    import scipy.stats

    class Broken:
        def __getattr__(self, name):
            raise AssertionError("scipy.stats.binom used")

    monkeypatch.setattr(scipy.stats, "binom", Broken())
    from latentclass.bounds import _coll_cached

    _coll_cached.cache_clear()
    rho = [Fraction(1, 3)] * 3
    assert expected_log_collisions(_floats(rho), 40) == pytest.approx(
        _coll_exact_sum(rho, 40), rel=1e-14
    )
    assert expected_log_collisions(3, 10**9) > 0


def test_expected_log_collisions_frullani_quadrature_large_k():
    # E log(1+N) = ∫_0^∞ e^{-t} (1 - (1 - p + p e^{-t})^k) dt / t  (SPEC §3 Frullani form)
    rho, k = np.array([0.6, 0.3, 0.1]), 100_000

    def one(p):
        # t = e^u: ∫ e^{-t} (1 - (1 + p expm1(-t))^k) du
        f = lambda u: (
            math.exp(-math.exp(u)) * -math.expm1(k * math.log1p(p * math.expm1(-math.exp(u))))
        )
        val, err = integrate.quad(
            f, -60, 5, points=[-math.log(k * p)], limit=400, epsabs=0, epsrel=1e-13
        )
        return val

    ref = math.fsum(p * one(p) for p in rho)
    assert expected_log_collisions(rho, k) == pytest.approx(ref, rel=1e-11)


# --------------------------------------------------------------------------- coverage probability
@pytest.mark.parametrize("n", [0, 2, 4, 5, 6, 8])
def test_coverage_brute_force_sequences(n):
    rho = RATIONAL_RHO
    ref = float(_coverage_brute(rho, n))
    for method in ("auto", "saddlepoint", "inclusion-exclusion"):
        got = coverage_probability(_floats(rho), n, method=method)
        if ref == 0.0:
            assert got == pytest.approx(0.0, abs=1e-15)
        else:
            assert got == pytest.approx(ref, rel=1e-12), method


@pytest.mark.parametrize("n", [3, 4, 7])
def test_coverage_brute_force_three_classes(n):
    rho = [Fraction(2, 3), Fraction(1, 4), Fraction(1, 12)]
    ref = float(_coverage_brute(rho, n))
    assert coverage_probability(_floats(rho), n) == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("n", [6, 7, 10, 25, 60, 200])
def test_coverage_exact_rational_inclusion_exclusion(n):
    ref = float(_coverage_ie_exact(RATIONAL_RHO6, n))
    assert coverage_probability(_floats(RATIONAL_RHO6), n, method="saddlepoint") == pytest.approx(
        ref, rel=1e-11
    )
    assert coverage_probability(_floats(RATIONAL_RHO6), n) == pytest.approx(ref, rel=1e-11)


@pytest.mark.parametrize(
    "C,n",
    [
        (2, 2),
        (2, 9),
        (5, 5),
        (5, 6),
        (5, 11),
        (10, 10),
        (10, 23),
        (10, 100),
        (30, 40),
        (30, 150),
        (30, 600),
    ],
)
def test_coverage_uniform_stirling_closed_form(C, n):
    ref = float(_coverage_uniform_stirling(C, n))
    assert coverage_probability(C, n) == pytest.approx(ref, rel=1e-11)
    assert coverage_probability(np.full(C, 1.0 / C), n, method="saddlepoint") == pytest.approx(
        ref, rel=1e-11
    )


@pytest.mark.parametrize("C,n", [(200, 400), (200, 1500), (500, 6000)])
def test_coverage_uniform_large_m_markov_chain(C, n):
    ref = _coverage_uniform_chain(C, n)
    assert coverage_probability(C, n) == pytest.approx(ref, rel=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_coverage_methods_agree(seed):
    rho = np.random.default_rng(seed).dirichlet(np.full(10, 2.0))
    for n in (15, 40, 120):
        a = coverage_probability(rho, n, method="inclusion-exclusion")
        b = coverage_probability(rho, n, method="saddlepoint")
        # inclusion-exclusion loses ~2^m·eps absolutely to cancellation
        assert abs(a - b) <= 1e-11


def test_coverage_bonferroni_shortcut_matches_saddlepoint():
    rho = np.random.default_rng(5).dirichlet(np.full(20, 3.0))
    s1 = lambda n: float(np.sum((1 - rho) ** n))
    n = next(n for n in range(20, 100_000) if s1(n) <= 1e-8)  # first n on the shortcut
    for draws in (n - 1, n, n + 50):
        assert coverage_probability(rho, draws) == pytest.approx(
            coverage_probability(rho, draws, method="saddlepoint"), rel=1e-14
        )


@pytest.mark.parametrize(
    "rho,n",
    [
        ([0.5, 0.3, 0.2 - 1e-4, 1e-4], 20_000),
        ([0.4, 0.3, 0.2, 0.1 - 3e-4, 1e-4, 2e-4], 30_000),
        ([0.6, 0.2, 0.2 - 1e-3, 1e-3], 3_000),
    ],
)
def test_coverage_split_method_matches_saddlepoint(rho, n):
    """The common/rare split of "auto" against the plain saddle-point method (both exact)."""
    from latentclass.bounds import _complements, _coverage_split

    rho = np.array(rho)
    assert _coverage_split(rho, _complements(rho)[1], n) is not None  # the split path runs
    assert coverage_probability(rho, n) == pytest.approx(
        coverage_probability(rho, n, method="saddlepoint"), rel=1e-13
    )


def test_coverage_split_exact_rational():
    rho = [Fraction(1, 2), Fraction(1, 4), Fraction(1, 4) - Fraction(1, 1024), Fraction(1, 1024)]
    n = 10_000
    ref = float(_coverage_ie_exact(rho, n))
    assert coverage_probability(_floats(rho), n) == pytest.approx(ref, rel=1e-14)


def test_coverage_edge_cases():
    rho = _floats(RATIONAL_RHO)
    assert coverage_probability(rho, 3) == 0.0
    assert coverage_probability(rho, 4) == pytest.approx(24 * float(np.prod(rho)), rel=1e-15)
    with pytest.raises(ValueError, match="method"):
        coverage_probability(rho, 4, method="fft")
    with pytest.raises(ValueError, match="draws"):
        coverage_probability(rho, -1)
    with pytest.raises(ValueError, match="inclusion-exclusion"):
        coverage_probability(40, 50, method="inclusion-exclusion")


# --------------------------------------------------------------------------- the bounds, by hand
def _hand_uniform(C, k, R, tau):
    """Straightforward evaluation in exact rationals where possible."""
    p = Fraction(1, C)
    coll = math.fsum(
        float(math.comb(k, j) * p**j * (1 - p) ** (k - j)) * math.log(1 + j) for j in range(k + 1)
    )
    tau_k = 1 - (1 - p) ** k
    ups = float(_coverage_ie_exact([p] * C, k + 1))
    H = float(sum((Fraction(1, i) for i in range(1, C)), Fraction(0)))
    b2 = 1.0 / tau
    return {
        "saunshi": (R - coll) / (float(1 - tau_k) * ups),
        "ash": 2 * max(1.0, 2 * (C - 1) * H / k) / float(1 - tau_k) * (R - coll),
        "nozawa_sato": (2 * R - coll) / ups,
        "bao": R + math.log((1 / C) * C**2 * math.cosh(b2) ** 2 / k),
        "bao_lower": R
        + math.log(C)
        + math.log(k)
        - 2 * math.log(1 + k)
        - 2 * math.log(math.cosh(b2)),
    }


@pytest.mark.parametrize("C,k,R,tau", [(3, 4, 1.3, 1.0), (5, 9, 2.1, 0.5)])
def test_bounds_hand_computation_uniform(C, k, R, tau):
    hand = _hand_uniform(C, k, R, tau)
    assert saunshi_bound(C, k, R) == pytest.approx(hand["saunshi"], rel=1e-12)
    assert ash_bound(C, k, R) == pytest.approx(hand["ash"], rel=1e-12)
    assert nozawa_sato_bound(C, k, R) == pytest.approx(hand["nozawa_sato"], rel=1e-12)
    assert bao_bound(C, k, R, tau) == pytest.approx(hand["bao"], rel=1e-14)
    assert bao_lower_bound(C, k, R, tau) == pytest.approx(hand["bao_lower"], rel=1e-14)
    # an int C and the uniform vector give the same bounds
    rho = np.full(C, 1.0 / C)
    assert saunshi_bound(rho, k, R) == pytest.approx(saunshi_bound(C, k, R), rel=1e-13)
    pb = published_bounds(C, k, R, tau)
    assert isinstance(pb, BoundValues) and pb.notes == ()
    assert pb.ash == pytest.approx(hand["ash"], rel=1e-12)


@pytest.mark.parametrize("k,R,tau", [(4, 1.7, 1.0), (11, 2.4, 0.25)])
def test_bounds_hand_computation_nonuniform(k, R, tau):
    rho = RATIONAL_RHO
    coll = _coll_exact_sum(rho, k)
    no_coll = float(sum(r * (1 - r) ** k for r in rho))
    ups = float(_coverage_ie_exact(rho, k + 1))
    H = -math.fsum(float(r) * math.log(float(r)) for r in rho)
    b2 = 1.0 / tau
    x = _floats(rho)
    assert saunshi_bound(x, k, R) == pytest.approx((R - coll) / (no_coll * ups), rel=1e-12)
    assert nozawa_sato_bound(x, k, R) == pytest.approx((2 * R - coll) / ups, rel=1e-12)
    assert bao_bound(x, k, R, tau) == pytest.approx(
        R + math.log(0.5 * 16 * math.cosh(b2) ** 2 / k), rel=1e-14
    )
    assert bao_lower_bound(x, k, R, tau) == pytest.approx(
        R + H + math.log(k) - 2 * math.log(1 + k) - 2 * math.log(math.cosh(b2)), rel=1e-14
    )
    with pytest.raises(ValueError, match="uniform"):
        ash_bound(x, k, R)
    pb = published_bounds(x, k, R, tau)
    assert pb.ash is None and any("uniform" in s for s in pb.notes)


def test_bounds_vacuous_below_coverage_and_large_temperature_scores():
    # υ_{k+1} = 0 when k + 1 < C: the Saunshi and Nozawa-Sato bounds are +inf
    assert saunshi_bound(10, 5, 2.0) == math.inf
    assert nozawa_sato_bound(10, 5, 2.0) == math.inf
    # b² = 1/τ = 2000: log cosh must not overflow (log cosh x = x - log 2 + log1p(e^{-2x}))
    assert bao_bound(4, 3, 1.0, tau=5e-4) == pytest.approx(
        1.0 + math.log(4 / 3) + 2 * (2000 - math.log(2)), rel=1e-15
    )


def test_bounds_ill_conditioned_refused():
    # C = 2, k = 64: 1/(1-τ_k) = 2^64, so rounding of R - Coll_k would dominate
    coll = expected_log_collisions(2, 64)
    with pytest.raises(IllConditionedBoundError, match="R - Coll_k"):
        saunshi_bound(2, 64, coll * (1 + 1e-15))
    pb = published_bounds(2, 64, coll * (1 + 1e-15), 0.05)
    assert pb.saunshi is None and pb.ash is None and len(pb.notes) == 2
    # well-separated R is fine even with the huge coefficient
    assert saunshi_bound(2, 64, coll + 1.0) > 1e18


def test_bounds_refuse_R_below_the_least_contrastive_loss():
    """R = L_k(F) >= Coll_k >= 0 for every representation: a smaller R is not a loss value."""
    C, k = 3, 16
    coll = expected_log_collisions(C, k)
    for R in (-1.0, 0.0, 0.5 * coll, coll - 1e-9):
        for fn in (saunshi_bound, ash_bound, nozawa_sato_bound, bao_bound, bao_lower_bound):
            with pytest.raises(ValueError, match="Coll_k"):
                fn(C, k, R)
        with pytest.raises(ValueError, match="Coll_k"):
            published_bounds(C, k, R)
    # within rounding of Coll_k: not refused as "too small" (ill-conditioned instead)
    with pytest.raises(IllConditionedBoundError):
        saunshi_bound(2, 64, expected_log_collisions(2, 64) * (1 - 2e-16))
    # R = Coll_k exactly is the least loss: every bound is defined
    pb = published_bounds(C, k, coll + 1e-3)
    assert pb.saunshi > 0 and pb.ash > 0 and pb.nozawa_sato > 0


def test_ash_bound_uses_exact_harmonic_not_the_code_approximation():
    """Bao et al.'s code: harmonic(c - 1) = log(c - 1) + 0.577; here H_{C-1} exactly (C = 2: 1)."""
    C, k, R = 2, 1, 2.0
    coll = math.log(2) / 2  # E log(1 + Bin(1, 1/2))
    exact = 2 * max(1.0, 2 * (C - 1) * 1.0 / k) / 0.5 * (R - coll)
    code = 2 * max(1.0, 2 * (C - 1) * (math.log(C - 1) + 0.577) / k) / 0.5 * (R - coll)
    assert ash_bound(C, k, R) == pytest.approx(exact, rel=1e-14)
    assert abs(ash_bound(C, k, R) - code) > 0.1 * exact


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: collision_probability([0.5, 0.6], 2), "class_probs"),
        (lambda: collision_probability(3, 0), "k"),
        (lambda: collision_probability(3, 2.5), "k"),
        (lambda: saunshi_bound(1, 2, 1.0), "class_probs"),
        (lambda: saunshi_bound(3, 2, math.nan), "R"),
        (lambda: bao_bound(3, 2, 1.0, tau=0), "tau"),
        (lambda: bao_bound(3, 2, "1.0"), "R"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# --------------------------------------------------------------------------- bounds vs the truth (docs/bounds.md)
def _simplex_loss(C, k, tau):
    """L_k* of SPEC §5: Σ_j Bin(j; k, 1/C) log(1 + j + (k-j) q), q = exp(-C/((C-1)τ))."""
    q = math.exp(-C / ((C - 1) * tau))
    return math.fsum(
        math.comb(k, j) * (1 / C) ** j * (1 - 1 / C) ** (k - j) * math.log(1 + j + (k - j) * q)
        for j in range(k + 1)
    )


def _simplex_excess(C, k, tau):
    """R - Coll_k at the simplex, without cancellation: Σ_j Bin(j) log1p((k-j) q / (1+j))."""
    q = math.exp(-C / ((C - 1) * tau))
    return math.fsum(
        math.comb(k, j) * (1 / C) ** j * (1 - 1 / C) ** (k - j) * math.log1p((k - j) * q / (1 + j))
        for j in range(k + 1)
    )


GRID_C = [2, 3, 5, 10, 30, 100]
GRID_K = [1, 2, 4, 8, 16, 64, 256, 1024]
GRID_TAU = [0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 20.0]


def test_bounds_against_true_downstream_loss_at_uniform_simplex():
    """The grid reported in docs/bounds.md.

    Truth: full C-way mean-classifier loss at the simplex, log(1 + (C-1) q).  Finding: on
    the whole grid every upper bound is >= the truth and the Bao et al. lower companion is
    <= it.  Where the library refuses a Saunshi/Ash value (ill-conditioned), the bound is
    re-evaluated with the cancellation-free excess and must hold too.  The ratio of the
    Saunshi bound to the truth is >= 2 and of Ash's >= 4 (both attained at C = 2, k = 1).
    """
    refused = 0
    min_ratio = {"saunshi": math.inf, "ash": math.inf}
    for C, k, tau in itertools.product(GRID_C, GRID_K, GRID_TAU):
        truth = math.log1p((C - 1) * math.exp(-C / ((C - 1) * tau)))
        R = _simplex_loss(C, k, tau)
        pb = published_bounds(C, k, R, tau)
        slack = 8 * np.finfo(float).eps * max(1.0, R)  # rounding of R itself
        assert pb.nozawa_sato >= truth - slack, (C, k, tau)
        assert pb.bao >= truth - slack, (C, k, tau)
        assert pb.bao_lower <= truth + slack, (C, k, tau)
        ups = coverage_probability(C, k + 1)
        excess = _simplex_excess(C, k, tau)
        no_coll = (1 - 1 / C) ** k
        H = float(sum((Fraction(1, i) for i in range(1, C)), Fraction(0)))
        stable = {
            "saunshi": math.inf if ups == 0 else excess / (no_coll * ups),
            "ash": 2 * max(1.0, 2 * (C - 1) * H / k) / no_coll * excess,
        }
        for name in ("saunshi", "ash"):
            value = getattr(pb, name)
            if value is None:
                refused += 1
            else:
                # library value agrees with the stable one up to its own rounding noise
                assert value >= truth - 1e-6 * max(1.0, abs(value)), (name, C, k, tau)
            assert stable[name] >= truth, (name, C, k, tau)
            min_ratio[name] = min(min_ratio[name], stable[name] / truth)
    assert min_ratio["saunshi"] == pytest.approx(2.0, rel=1e-12)
    assert min_ratio["ash"] == pytest.approx(4.0, rel=1e-12)
    assert refused > 0  # the ill-conditioned corner (C <= 10, τ <= 0.1, large k) is exercised
