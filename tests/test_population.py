"""Exact population NCE loss (SPEC §3): against independent oracles.

Oracles used here, each written independently of ``latentclass._engines.laplace``:
- brute-force enumeration of the multisets of negatives (compositions by recursion, exact
  integer multinomial coefficients, ``math.log`` per term);
- ``scipy.integrate.quad`` of the Frullani integral in ``t`` with breakpoints;
- central finite differences of ``value`` along random symmetric directions;
- the sampled loss ``latentclass.nce.nce_loss`` (z-score).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from oracles import (
    assert_directional_derivatives,
    brute_force_loss,
    random_representation,
    random_symmetric,
)
from scipy import integrate

from latentclass.model import LatentClassModel
from latentclass.population import (
    NCEObjective,
    expected_log1p_sum,
    population_loss,
    population_loss_limit,
)


# --------------------------------------------------------------------------- helpers
def class_level(m, rng):
    return LatentClassModel.one_point_per_class(rng.dirichlet(np.ones(m)))


def point_level_disjoint(rng):
    rho = rng.dirichlet(np.ones(2))
    return LatentClassModel.disjoint(
        rho, [2, 2], within=[rng.uniform(0.2, 1, 2), rng.uniform(0.2, 1, 2)]
    )


def point_level_overlapping(rng):
    return LatentClassModel(rng.dirichlet(np.ones(3)), rng.dirichlet(np.ones(4), size=3))


MODELS = {
    "class": lambda rng: class_level(4, rng),
    "disjoint": point_level_disjoint,
    "overlapping": point_level_overlapping,
}


def quad_pair_integral(la, D, k):
    """I_k(a) = ∫ e^{-e^u}(1 − φ(e^u)^k) du  (t = e^u) by scipy.integrate.quad, split at breakpoints.

    Breakpoints: a grid of step 1 in u plus the transition points −log(k a_y), −log(a_y), so
    every piece is smooth and quad converges to full precision.  Below
    u_lo = log(1e-18 / (k max a + 1)) the integrand is < 1e-18 · k ā t and is dropped; above
    log(60) only e^{-t} remains (∫_60^∞ e^{-t}/t dt < 1e-27).
    """
    a = np.exp(la)

    def integrand(u):
        t = math.exp(u)
        pm1 = float(np.dot(D, np.expm1(-t * a)))  # φ − 1, relatively accurate
        if pm1 > -0.5:
            one_minus = -math.expm1(k * math.log1p(pm1))
        else:
            one_minus = 1.0 - float(np.dot(D, np.exp(-t * a))) ** k
        return math.exp(-t) * one_minus

    u_lo = math.log(1e-18 / (k * a.max() + 1.0))
    u_hi = math.log(60.0)
    marks = np.concatenate([-np.log(k * a), -np.log(a), np.arange(math.floor(u_lo), u_hi, 1.0)])
    edges = np.unique(np.concatenate([[u_lo, u_hi], marks[(marks > u_lo) & (marks < u_hi)]]))
    pieces = [
        integrate.quad(integrand, lo, hi, epsabs=0.0, epsrel=2e-14, limit=100)[0]
        for lo, hi in zip(edges[:-1], edges[1:])
    ]
    return math.fsum(pieces)


def quad_population_loss(model, F, k, tau):
    G = F @ F.T
    Pm = model.pair_probs
    D = model.marginal
    xs, ps = np.nonzero(Pm > 0)
    return math.fsum(
        Pm[x, p] * quad_pair_integral((G[x] - G[x, p]) / tau, D, k) for x, p in zip(xs, ps)
    )


# --------------------------------------------------------------------------- enumeration
@pytest.mark.parametrize("kind", sorted(MODELS))
@pytest.mark.parametrize("tau", [1.0, 0.25])
def test_matches_brute_force_enumeration(kind, tau):
    rng = np.random.default_rng([1, len(kind), int(tau * 4)])
    model = MODELS[kind](rng)
    F = random_representation(model.n_points, 3, rng)
    for k in range(1, 7):
        exact = brute_force_loss(model, F, k, tau)
        got = population_loss(model, F, k, tau)
        assert abs(got - exact) <= 1e-12 * abs(exact), (k, got, exact)


def test_enumerate_method_matches_brute_force():
    rng = np.random.default_rng(5)
    model = point_level_overlapping(rng)
    F = random_representation(model.n_points, 2, rng)
    for k in (1, 3, 5):
        exact = brute_force_loss(model, F, k, 0.5)
        assert population_loss(model, F, k, 0.5, method="enumerate") == pytest.approx(
            exact, rel=1e-13
        )


# --------------------------------------------------------------------------- gradient
@pytest.mark.parametrize("k", [1, 7, 10**5, math.inf])
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_gradient_matches_finite_differences(k, kind):
    rng = np.random.default_rng([2, len(kind)])
    model = MODELS[kind](rng)
    F = random_representation(model.n_points, 3, rng)
    G = F @ F.T
    obj = NCEObjective(model, k, tau=0.5)
    value, M = obj.value_and_grad(G)
    assert value == obj.value(G)
    np.testing.assert_array_equal(M, obj.grad(G))
    np.testing.assert_array_equal(M, M.T)
    assert_directional_derivatives(obj, G, M, rng)


# --------------------------------------------------------------------------- quadrature
@pytest.mark.parametrize("k", [10**2, 10**6, 10**9])
@pytest.mark.parametrize("kind", ["class", "overlapping"])
@pytest.mark.parametrize("tau", [1.0, 0.25])
def test_matches_quad_for_large_k(k, kind, tau):
    rng = np.random.default_rng([3, len(kind), int(4 * tau)])
    model = MODELS[kind](rng)
    F = random_representation(model.n_points, 3, rng)
    ref = quad_population_loss(model, F, k, tau)
    got = population_loss(model, F, k, tau)
    assert abs(got - ref) <= 1e-10 * ref, (got, ref)


def test_point_level_disjoint_matches_quad_per_pair_sum():
    rng = np.random.default_rng(11)
    model = LatentClassModel.disjoint([0.2, 0.5, 0.3], [3, 2, 4])
    F = random_representation(model.n_points, 4, rng)
    for k in (3, 10**4):
        ref = quad_population_loss(model, F, k, 0.5)
        assert population_loss(model, F, k, 0.5) == pytest.approx(ref, rel=1e-10, abs=0)


# --------------------------------------------------------------------------- k -> infinity
def test_limit_matches_closed_form_definition():
    rng = np.random.default_rng(4)
    model = point_level_overlapping(rng)
    F = random_representation(model.n_points, 3, rng)
    G = F @ F.T
    D, Pm = model.marginal, model.pair_probs
    ref = math.fsum(
        Pm[x, p]
        * math.log(
            math.fsum(D[y] * math.exp((G[x, y] - G[x, p]) / 0.7) for y in range(model.n_points))
        )
        for x in range(model.n_points)
        for p in range(model.n_points)
    )
    assert population_loss_limit(model, F, 0.7) == pytest.approx(ref, rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("kind", ["class", "overlapping"])
def test_large_k_gap_decays_like_one_over_k(kind):
    rng = np.random.default_rng([6, len(kind)])
    model = MODELS[kind](rng)
    F = random_representation(model.n_points, 3, rng)
    tau = 0.5
    limit = population_loss_limit(model, F, tau)
    ks = np.logspace(2, 6, 9)
    gaps = np.array([population_loss(model, F, int(k), tau) - math.log(int(k)) - limit for k in ks])
    assert np.all(gaps > 0) or np.all(gaps < 0)
    slope = np.polyfit(np.log(ks), np.log(np.abs(gaps)), 1)[0]
    assert abs(slope + 1.0) < 0.02, slope
    # k·gap converges (to the first-order coefficient of proofs/large_k_limit.md)
    kg = np.abs(gaps) * ks
    assert abs(kg[-1] - kg[-2]) < 1e-3 * kg[-1]


# --------------------------------------------------------------------------- Monte-Carlo
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_sampled_loss(seed):
    nce = pytest.importorskip("latentclass.nce")
    rng = np.random.default_rng([7, seed])
    model = [class_level(5, rng), point_level_disjoint(rng), point_level_overlapping(rng)][seed]
    F = random_representation(model.n_points, 3, rng)
    k, tau = [4, 16, 64][seed], [1.0, 0.5, 0.25][seed]
    exact = population_loss(model, F, k, tau)
    est = nce.nce_loss(F, model.sample(40_000, k, rng=seed), tau)
    assert abs(est.z_score(exact)) < 5
    assert abs(est.z_score(exact * (1 + 30 * est.stderr / exact))) > 5  # the check has power


# --------------------------------------------------------------------------- extremes
@pytest.mark.parametrize("tau", [0.01, 100.0])
@pytest.mark.parametrize("k", [1, 2, 10**3, 10**9])
def test_extreme_temperatures_against_quad(tau, k):
    rng = np.random.default_rng([8, k % 1000, int(tau)])
    model = class_level(4, rng)
    F = random_representation(4, 3, rng)
    got = population_loss(model, F, k, tau)
    assert math.isfinite(got)
    ref = quad_population_loss(model, F, k, tau)
    assert abs(got - ref) <= 1e-10 * ref
    G = F @ F.T
    v, M = NCEObjective(model, k, tau).value_and_grad(G)
    assert v == got and np.all(np.isfinite(M))


@pytest.mark.parametrize("k", [1, 5, 10**6, 10**9])
def test_tiny_class_probability(k):
    rho = np.array([1e-12, 0.3, 0.7 - 1e-12])
    model = LatentClassModel.one_point_per_class(rho)
    rng = np.random.default_rng(9)
    F = random_representation(3, 2, rng)
    for tau in (1.0, 0.01):
        got = population_loss(model, F, k, tau)
        ref = quad_population_loss(model, F, k, tau)
        assert abs(got - ref) <= 1e-10 * ref
        M = NCEObjective(model, k, tau).grad(F @ F.T)
        assert np.all(np.isfinite(M))


@pytest.mark.parametrize("k", [1, 3, 10**9])
def test_two_classes(k):
    model = LatentClassModel.one_point_per_class([0.25, 0.75])
    F = np.array([[1.0, 0.0], [-1.0, 0.0]])
    for tau in (0.01, 1.0, 100.0):
        got = population_loss(model, F, k, tau)
        ref = quad_population_loss(model, F, k, tau)
        assert abs(got - ref) <= 1e-10 * ref
    # antipodal, tau = 0.01: a_other = e^{-200}; L_k = Σ_c ρ_c E log(1 + #collisions) + O(k e^{-200})
    exact = (
        sum(
            rc
            * sum(
                math.comb(k, j) * rc**j * (1 - rc) ** (k - j) * math.log1p(j) for j in range(k + 1)
            )
            for rc in (0.25, 0.75)
        )
        if k <= 3
        else None
    )
    if exact is not None:
        assert population_loss(model, F, k, 0.01) == pytest.approx(exact, rel=1e-13)


@pytest.mark.parametrize("k", [1, 10**3, 10**9])
def test_five_hundred_classes(k):
    rng = np.random.default_rng(10)
    m = 500
    model = class_level(m, rng)
    F = random_representation(m, 8, rng)
    G = F @ F.T
    tau = 0.1
    value, M = NCEObjective(model, k, tau).value_and_grad(G)
    assert math.isfinite(value) and np.all(np.isfinite(M))
    # rows of the loss: L = Σ_x ρ_x I_k(a^x); check 6 rows against quad and the total's consistency
    rows = (G - np.diag(G)[:, None]) / tau
    vals = expected_log1p_sum(rows, model.marginal, k)
    assert value == pytest.approx(float(model.class_probs @ vals), rel=1e-13)
    for x in rng.choice(m, 6, replace=False):
        ref = quad_pair_integral(rows[x], model.marginal, k)
        assert abs(vals[x] - ref) <= 1e-10 * ref


# --------------------------------------------------------------------------- low-level function
def test_expected_log1p_sum_gradient_and_shapes():
    rng = np.random.default_rng(12)
    D = rng.dirichlet(np.ones(5))
    la = rng.normal(size=(3, 5))
    for k in (1, 4, 10**5):
        v, g = expected_log1p_sum(la, D, k, grad=True)
        assert v.shape == (3,) and g.shape == (3, 5)
        for i in range(3):
            assert v[i] == pytest.approx(quad_pair_integral(la[i], D, k), rel=1e-12)
            e = rng.normal(size=5)
            h = 1e-4
            fd = (
                -expected_log1p_sum(la[i] + 2 * h * e, D, k)
                + 8 * expected_log1p_sum(la[i] + h * e, D, k)
                - 8 * expected_log1p_sum(la[i] - h * e, D, k)
                + expected_log1p_sum(la[i] - 2 * h * e, D, k)
            ) / (12 * h)
            assert abs(g[i] @ e - fd) <= 1e-7 * abs(fd)
        assert expected_log1p_sum(la[0], D, k) == pytest.approx(v[0], rel=1e-14)


# --------------------------------------------------------------------------- bad input
GOOD_MODEL = LatentClassModel.one_point_per_class([0.5, 0.3, 0.2])
GOOD_F = np.eye(3)


@pytest.mark.parametrize(
    "k, exc, match",
    [
        (0, ValueError, "k must be an integer >= 1"),
        (-3, ValueError, "k must be an integer >= 1"),
        (2.5, ValueError, "k must be an integer"),
        (math.inf, ValueError, r"k must be an integer >= 1 here.*population_loss_limit"),
        (math.nan, ValueError, "k must be an integer >= 1"),
        (True, TypeError, "k must be an integer"),
        ("3", TypeError, "k must be an integer"),
    ],
)
def test_bad_k(k, exc, match):
    with pytest.raises(exc, match=match):
        population_loss(GOOD_MODEL, GOOD_F, k)


@pytest.mark.parametrize("k", [0, 1.5, -math.inf, math.nan, -2])
def test_bad_k_objective(k):
    with pytest.raises(ValueError, match="k must be an integer"):
        NCEObjective(GOOD_MODEL, k)


@pytest.mark.parametrize(
    "F, match",
    [
        (np.ones(3), "F must be 2-D"),
        (np.eye(4), "F must have one row per point"),
        (2 * np.eye(3), "F rows must have norm <= 1"),
        (np.full((3, 2), np.nan), "F must be finite"),
    ],
)
def test_bad_representation(F, match):
    with pytest.raises(ValueError, match=match):
        population_loss(GOOD_MODEL, F, 3)
    with pytest.raises(ValueError, match=match):
        population_loss_limit(GOOD_MODEL, F)


@pytest.mark.parametrize(
    "G, match",
    [
        (np.eye(3)[:2], "G must be a square matrix"),
        (np.eye(4), r"G must be \(3, 3\) for this model"),
        (np.eye(3) + 1e-9 * np.triu(np.ones((3, 3)), 1), "G must be symmetric"),
        (np.full((3, 3), np.inf), "G must be finite"),
    ],
)
@pytest.mark.parametrize("k", [2, math.inf])
def test_bad_gram(G, match, k):
    obj = NCEObjective(GOOD_MODEL, k)
    for fn in (obj.value, obj.grad, obj.value_and_grad):
        with pytest.raises(ValueError, match=match):
            fn(G)


def test_symmetry_tolerance_is_relative_1e_12():
    obj = NCEObjective(GOOD_MODEL, 2)
    G = np.eye(3)
    G[0, 1] += 0.5e-12  # within tolerance
    assert math.isfinite(obj.value(G))


@pytest.mark.parametrize(
    "tau, exc",
    [
        (0.0, ValueError),
        (-1.0, ValueError),
        (math.inf, ValueError),
        (math.nan, ValueError),
        ("1", TypeError),
    ],
)
def test_bad_tau(tau, exc):
    with pytest.raises(exc, match="tau must be"):
        population_loss(GOOD_MODEL, GOOD_F, 2, tau)
    with pytest.raises(exc, match="tau must be"):
        NCEObjective(GOOD_MODEL, 2, tau)


def test_bad_model_and_method():
    with pytest.raises(TypeError, match="model must be a LatentClassModel"):
        population_loss("model", GOOD_F, 2)
    with pytest.raises(ValueError, match="method must be one of"):
        population_loss(GOOD_MODEL, GOOD_F, 2, method="quad")
    with pytest.raises(ValueError, match="method='enumerate' needs a finite k"):
        NCEObjective(GOOD_MODEL, math.inf, method="enumerate")
    with pytest.raises(ValueError, match="method='enumerate' needs"):
        population_loss(GOOD_MODEL, GOOD_F, 10**6, method="enumerate")


# --------------------------------------------------------------------------- harder cases
@pytest.mark.parametrize("tau", [0.01, 100.0])
@pytest.mark.parametrize("k", [2, 10**3, 10**9])
def test_gradient_at_extreme_temperatures(tau, k):
    rng = np.random.default_rng([13, k % 997, int(tau)])
    model = LatentClassModel.one_point_per_class(np.array([1e-12, 0.2, 0.3, 0.5 - 1e-12]))
    # scores (G[x,y] − G[x,x⁺])/τ of order 1, so the loss is not saturated at τ = 0.01
    F = np.array([1.0, 0.0, 0.0]) + min(tau, 1.0) * rng.standard_normal((4, 3))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    G = F @ F.T
    obj = NCEObjective(model, k, tau)
    value, M = obj.value_and_grad(G)
    assert_directional_derivatives(obj, G, M, rng, n_dirs=2, h=1e-4 * tau)  # scores move by h/τ


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
def test_random_score_rows_against_quad():
    """Adversarial rows: scores spread over up to e^{±200}, tiny and zero probabilities, many k."""
    rng = np.random.default_rng(14)
    for _ in range(24):
        n = int(rng.integers(2, 9))
        D = rng.dirichlet(np.full(n, rng.choice([0.1, 1.0, 5.0])))
        if rng.random() < 0.3:
            D[rng.integers(n)] = 1e-12
        if rng.random() < 0.3 and n > 2:
            D[rng.integers(n)] = 0.0
        D /= D.sum()
        la = rng.normal(size=n) * rng.choice([0.01, 1.0, 10.0, 100.0])
        k = int(rng.choice([2, 3, 17, 10**3, 10**6, 10**9]))
        got = expected_log1p_sum(la, D, k)
        ref = quad_pair_integral(la, D, k)
        assert abs(got - ref) <= 1e-12 * ref, (n, k, got, ref)


def test_scores_beyond_double_range_are_rejected():
    with pytest.raises(ValueError, match="scores too large"):
        expected_log1p_sum(np.array([0.0, 800.0]), np.array([0.5, 0.5]), 5)
    obj = NCEObjective(LatentClassModel.one_point_per_class([0.5, 0.5]), 3, tau=1e-3)
    with pytest.raises(ValueError, match="scores too large"):
        obj.value(np.array([[0.0, 1.0], [1.0, 0.0]]))  # (G[0,1] − G[0,0]) / τ = 1000 > 650


def test_point_level_collapsed_equals_class_level():
    """n = 2000 points in 20 classes, collapsed representation: L_k equals the class-level loss,
    the class-level gradient is the block sum of the point-level one, memory stays bounded."""
    import tracemalloc

    rng = np.random.default_rng(15)
    m, per = 20, 100
    rho = rng.dirichlet(np.ones(m))
    point = LatentClassModel.disjoint(
        rho, [per] * m, within=[rng.uniform(0.5, 1, per) for _ in range(m)]
    )
    cls = LatentClassModel.one_point_per_class(rho)
    V = random_representation(m, 6, rng, low=0.8)
    Fp = V[point.point_classes]
    for k, tau in ((10**6, 0.5), (4, 1.0)):
        tracemalloc.start()
        value, Mp = NCEObjective(point, k, tau).value_and_grad(Fp @ Fp.T)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 256 * 2**20 + 2 * Mp.nbytes  # temporaries beyond the (n, n) input/output
        vc, Mc = NCEObjective(cls, k, tau).value_and_grad(V @ V.T)
        assert value == pytest.approx(vc, rel=1e-12)
        # chain rule: G_point = S G_class Sᵀ with S the class indicator  =>  ∇_class = Sᵀ ∇_point S
        S = np.eye(m)[point.point_classes]
        np.testing.assert_allclose(S.T @ Mp @ S, Mc, rtol=1e-10, atol=1e-12 * np.abs(Mc).max())


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
def test_trapezoid_error_follows_the_strip_bound():
    """The error analysis of latentclass._engines.laplace: trapezoid error ≈ C e^{-π²/h} (analytic strip
    |Im u| < π/2).  Coarse steps must show that decay, and the default step h = log(2)/3 (every
    third node doubles t: the squaring chains of the engine) and h = 0.25 must sit at rounding
    level (the bound e^{-π²/h} there is 3e-19 and 7e-18)."""
    from latentclass._engines.laplace import STEP, family_loss

    rng = np.random.default_rng(16)
    cases = []
    for k in (2, 5, 100, 10**6):
        D = rng.dirichlet(np.ones(6))
        la = rng.normal(size=6) * 2.0
        cases.append((la, D, k, quad_pair_integral(la, D, k)))

    def worst(h):
        return max(
            abs(
                family_loss(
                    la[None],
                    D,
                    k,
                    np.zeros(1, int),
                    np.zeros(1),
                    np.ones(1),
                    need_grad=False,
                    step=h,
                )[0][0]
                - ref
            )
            / ref
            for la, D, k, ref in cases
        )

    for h in (0.4, 0.5, 0.6):
        bound = math.exp(-(math.pi**2) / h)
        assert worst(h) <= 5 * bound
    assert worst(0.6) > 100 * worst(0.4)  # the error really is governed by h (the check has power)
    assert math.isclose(STEP, math.log(2) / 3, rel_tol=0, abs_tol=0)
    assert worst(STEP) <= 2e-15 and worst(0.25) <= 2e-15


@pytest.mark.parametrize("kind", ["class", "overlapping"])
def test_large_k_first_order_coefficient(kind):
    """proofs/large_k_limit.md: k (L_k − log k − L_∞) = c_1 + O(1/k) with
    c_1 = Σ P(x,x⁺) (1/m − v/(2 m²)), m, v the mean and variance of a_Y under D;
    and |L_k − log k − L_∞| <= (1/k) Σ P max(1/m, v / (2 α² m²))."""
    rng = np.random.default_rng([17, len(kind)])
    model = MODELS[kind](rng)
    F = random_representation(model.n_points, 3, rng)
    tau = 0.5
    G = F @ F.T
    D, Pm = model.marginal, model.pair_probs
    c1 = bound = 0.0
    for x, xp in zip(*np.nonzero(Pm > 0)):
        a = np.exp((G[x] - G[x, xp]) / tau)
        mean = float(D @ a)
        var = float(D @ a**2) - mean**2
        alpha = a[D > 0].min() / mean
        c1 += Pm[x, xp] * (1 / mean - var / (2 * mean**2))
        bound += Pm[x, xp] * max(1 / mean, var / (2 * alpha**2 * mean**2))
    limit = population_loss_limit(model, F, tau)
    ks = [10**3, 10**4, 10**5, 10**6]
    gaps = [population_loss(model, F, k, tau) - math.log(k) - limit for k in ks]
    assert all(abs(g) <= bound / k for g, k in zip(gaps, ks))
    rem = [k * g - c1 for g, k in zip(gaps, ks)]
    assert abs(rem[-1]) < 1e-4 * max(1.0, abs(c1))
    # the remainder is the O(1/k) second-order term: it shrinks tenfold per decade
    for r0, r1 in zip(rem[:-2], rem[1:-1]):
        assert 5 < abs(r0 / r1) < 20, rem


@pytest.mark.parametrize("m", [3, 10])
@pytest.mark.parametrize("tau", [1.0, 0.3])
def test_regular_simplex_closed_form(m, tau):
    """SPEC §5: at the regular simplex of the uniform class-level model the loss is the binomial
    sum Σ_j C(k,j) m^{-j} (1 − 1/m)^{k−j} log(1 + j + (k − j) q), q = e^{−m/((m−1)τ)}
    (evaluated here with exact integer binomial weights, correctly rounded, and math.fsum)."""
    model = LatentClassModel.one_point_per_class(np.full(m, 1.0 / m))
    G = m / (m - 1) * (np.eye(m) - np.full((m, m), 1.0 / m))
    q = math.exp(-m / ((m - 1) * tau))
    obj = NCEObjective(model, 1, tau)
    for k in (1, 7, 100, 1000):
        weights = [math.comb(k, j) * (m - 1) ** (k - j) / m**k for j in range(k + 1)]
        exact = math.fsum(w * math.log1p(j + (k - j) * q) for j, w in enumerate(weights))
        obj = NCEObjective(model, k, tau)
        assert obj.value(G) == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize("k", [1, 3, 10**4, math.inf])
def test_points_without_mass_do_not_matter(k):
    """A point that no class uses (zero column) changes nothing: the loss equals that of the model
    without the point, whatever its representation, and its gradient row/column is zero."""
    rng = np.random.default_rng(18)
    cond = rng.dirichlet(np.ones(4), size=3)
    big = LatentClassModel([0.2, 0.3, 0.5], np.insert(cond, 2, 0.0, axis=1))  # point 2 unused
    small = LatentClassModel([0.2, 0.3, 0.5], cond)
    F = random_representation(5, 3, rng)
    F[2] = F[0]  # the unused point even scores highest for anchor 0
    G = F @ F.T
    keep = [0, 1, 3, 4]
    vb, Mb = NCEObjective(big, k, 0.5).value_and_grad(G)
    vs, Ms = NCEObjective(small, k, 0.5).value_and_grad(G[np.ix_(keep, keep)])
    assert vb == pytest.approx(vs, rel=1e-13)
    np.testing.assert_allclose(Mb[np.ix_(keep, keep)], Ms, rtol=1e-11, atol=1e-14)
    assert np.all(Mb[2] == 0) and np.all(Mb[:, 2] == 0)


# --------------------------------------------------------------------------- engines of method="auto"
@pytest.mark.parametrize("kind", sorted(MODELS))
@pytest.mark.parametrize("tau", [1.0, 0.25])
def test_laplace_engine_matches_brute_force_enumeration(kind, tau):
    """The quadrature engine itself: ``method="auto"`` now takes the multiset sum for these sizes,
    so the Laplace path is checked explicitly against the same brute-force oracle."""
    rng = np.random.default_rng([1, len(kind), int(tau * 4)])
    model = MODELS[kind](rng)
    F = random_representation(model.n_points, 3, rng)
    for k in range(1, 7):
        exact = brute_force_loss(model, F, k, tau)
        got = population_loss(model, F, k, tau, method="laplace")
        assert abs(got - exact) <= 1e-12 * abs(exact), (k, got, exact)


@pytest.mark.parametrize("k", [1, 7])
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_laplace_engine_gradient_matches_finite_differences(k, kind):
    rng = np.random.default_rng([2, len(kind)])
    model = MODELS[kind](rng)
    F = random_representation(model.n_points, 3, rng)
    G = F @ F.T
    obj = NCEObjective(model, k, tau=0.5, method="laplace")
    assert obj.engine == "laplace"
    value, M = obj.value_and_grad(G)
    assert_directional_derivatives(obj, G, M, rng)


@pytest.mark.parametrize("kind", sorted(MODELS) + ["zero-mass"])
def test_multiset_engine_agrees_with_laplace_and_enumeration(kind):
    """``method="auto"`` on small cases uses the dense multiset sum (``engine == "multiset"``); its
    value and gradient agree with the Laplace quadrature and with the pair-by-pair enumeration to
    1e-12 (relative; gradient relative to its largest entry)."""
    rng = np.random.default_rng([19, len(kind)])
    if kind == "zero-mass":
        model = LatentClassModel(
            [0.2, 0.3, 0.5], np.insert(rng.dirichlet(np.ones(4), size=3), 2, 0.0, axis=1)
        )
    else:
        model = MODELS[kind](rng)
    F = random_representation(model.n_points, 3, rng)
    G = F @ F.T
    for k in (1, 2, 3, 5, 8):
        for tau in (1.0, 0.25):
            auto = NCEObjective(model, k, tau)
            assert auto.engine == "multiset"
            va, Ma = auto.value_and_grad(G)
            assert va == auto.value(G)
            np.testing.assert_array_equal(Ma, auto.grad(G))
            np.testing.assert_array_equal(Ma, Ma.T)
            for method in ("laplace", "enumerate"):
                ref = NCEObjective(model, k, tau, method=method)
                assert ref.engine == method
                vr, Mr = ref.value_and_grad(G)
                assert abs(va - vr) <= 1e-12 * abs(vr), (k, tau, method, va, vr)
                assert np.max(np.abs(Ma - Mr)) <= 1e-12 * np.max(np.abs(Mr)), (k, tau, method)


def test_auto_engine_choice():
    rng = np.random.default_rng(20)
    small = class_level(8, rng)
    assert NCEObjective(small, 3).engine == "multiset"
    assert NCEObjective(small, 10**6).engine == "laplace"  # C(k + 7, 7) multisets: far too many
    assert NCEObjective(small, math.inf).engine == "limit"
    assert NCEObjective(small, 3, method="laplace").engine == "laplace"
    big = class_level(200, rng)
    assert NCEObjective(big, 2).engine == "laplace"  # 200 pairs × 20 100 multisets


@pytest.mark.parametrize("kind", sorted(MODELS) + ["zero-mass"])
@pytest.mark.parametrize("k, tau", [(1, 1.0), (3, 0.5), (6, 0.25)])
def test_multiset_engine_hessian_matches_finite_differences(kind, k, tau):
    """The entry-wise Hessian of the multiset engine (used by the optimiser's Newton steps):
    ``d/dε ∇L(G + εE) = sym(row-wise blocks · E)`` against 4th-order central differences of the
    gradient."""
    rng = np.random.default_rng([21, len(kind), k])
    if kind == "zero-mass":
        model = LatentClassModel(
            [0.2, 0.3, 0.5], np.insert(rng.dirichlet(np.ones(4), size=3), 2, 0.0, axis=1)
        )
    else:
        model = MODELS[kind](rng)
    n = model.n_points
    F = random_representation(n, 3, rng)
    G = F @ F.T
    G = 0.5 * (G + G.T)
    obj = NCEObjective(model, k, tau)
    value, M, anchors, blocks = obj.second_order(G)
    assert value == obj.value(G)
    np.testing.assert_array_equal(M, obj.grad(G))
    for _ in range(2):
        E = random_symmetric(n, rng)
        dDg = np.zeros((n, n))
        for i, x in enumerate(anchors):
            dDg[x] = blocks[i] @ E[x]
        action = 0.5 * (dDg + dDg.T)
        h = 1e-4
        fd = (
            -obj.grad(G + 2 * h * E)
            + 8 * obj.grad(G + h * E)
            - 8 * obj.grad(G - h * E)
            + obj.grad(G - 2 * h * E)
        ) / (12 * h)
        assert np.max(np.abs(action - fd)) <= 1e-7 * np.max(np.abs(fd))
