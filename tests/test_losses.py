"""The loss family of issue 14 (SPEC §8): loss objects, exact population forms, gradients,
certified optima, the averaging property."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from loss_oracles import brute_force_population, cvxpy_class_level, scalar_loss

import latentclass as lc
from latentclass.losses import (
    Debiased,
    Decoupled,
    HardNegative,
    Hinge,
    Logistic,
    LossObjective,
    check_averaging_property,
    hinge_dual_bound,
)

LOSSES = [
    ("hinge", Hinge(), {}),
    ("hinge", Hinge(0.3), {"margin": 0.3}),
    ("decoupled", Decoupled(), {}),
    ("debiased", Debiased(0.2), {"tau_plus": 0.2}),
    ("hard_negative", HardNegative(1.0, 0.1), {"beta": 1.0, "tau_plus": 0.1}),
    ("hard_negative", HardNegative(2.5), {"beta": 2.5}),
    ("logistic", Logistic(), {}),
]


def _models():
    return [
        lc.LatentClassModel.one_point_per_class([0.5, 0.3, 0.2]),
        lc.LatentClassModel.disjoint(
            [0.6, 0.4], [2, 1], within=[np.array([0.3, 0.7]), np.array([1.0])]
        ),
        lc.LatentClassModel(np.array([0.5, 0.5]), np.array([[0.5, 0.5, 0.0], [0.0, 0.3, 0.7]])),
    ]


def _gram(n, rng, shrink=1.1):
    F = rng.standard_normal((n, 3))
    F /= np.linalg.norm(F, axis=1)[:, None] * shrink
    return F @ F.T, F


# --------------------------------------------------------------------------- loss objects
@pytest.mark.parametrize("name,loss,kw", LOSSES)
def test_loss_objects_match_the_formulas(name, loss, kw):
    rng = np.random.default_rng(0)
    tau = 0.7
    pos = rng.uniform(-1 / tau, 1 / tau, 40)
    neg = rng.uniform(-1 / tau, 1 / tau, (40, 5))
    got = loss(pos, neg, tau=tau)
    want = [scalar_loss(name, p, list(q), tau, **kw) for p, q in zip(pos, neg)]
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)
    assert loss.name == name
    assert loss.convex == (name in ("logistic", "hinge", "decoupled"))
    assert loss.strictly_convex == (name == "logistic")


def test_debiased_with_zero_prior_is_logistic():
    rng = np.random.default_rng(1)
    pos = rng.uniform(-1, 1, 30)
    neg = rng.uniform(-1, 1, (30, 4))
    ref = Logistic()(pos, neg)
    np.testing.assert_allclose(Debiased(0.0)(pos, neg), ref, rtol=1e-14)
    np.testing.assert_allclose(HardNegative(0.0)(pos, neg), ref, rtol=1e-14)
    # a different prior changes the value: the comparison can fail
    assert np.max(np.abs(Debiased(0.3)(pos, neg) - ref)) > 1e-3


@pytest.mark.parametrize("name,loss,kw", LOSSES)
def test_score_gradients_against_differences(name, loss, kw):
    rng = np.random.default_rng(2)
    pos = rng.uniform(-1, 1, 20)
    neg = rng.uniform(-1, 1, (20, 4))
    _, gp, gn = loss.value_and_grad(pos, neg, tau=0.8)
    h = 1e-6
    fd_p = (loss(pos + h, neg, tau=0.8) - loss(pos - h, neg, tau=0.8)) / (2 * h)
    np.testing.assert_allclose(gp, fd_p, atol=1e-7)
    for i in range(4):
        E = np.zeros_like(neg)
        E[:, i] = h
        fd = (loss(pos, neg + E, tau=0.8) - loss(pos, neg - E, tau=0.8)) / (2 * h)
        np.testing.assert_allclose(gn[:, i], fd, atol=1e-7)


def test_loss_validation():
    with pytest.raises(ValueError, match="tau_plus"):
        Debiased(1.0)
    with pytest.raises(ValueError, match="beta"):
        HardNegative(-1.0)
    with pytest.raises(ValueError, match="margin"):
        Hinge(-0.5)
    with pytest.raises(ValueError, match="loss must be one of"):
        lc.population_loss(_models()[0], lc.simplex(3), 2, loss="squared")
    with pytest.raises(TypeError, match="loss must be a name"):
        lc.population_loss(_models()[0], lc.simplex(3), 2, loss=3)
    with pytest.raises(ValueError, match="neg must be"):
        Hinge()(np.zeros(3), np.zeros((2, 2)))


# --------------------------------------------------------------------------- population
@pytest.mark.parametrize("model_index", [0, 1, 2])
@pytest.mark.parametrize("name,loss,kw", LOSSES[:-1])
def test_population_equals_brute_force(model_index, name, loss, kw):
    model = _models()[model_index]
    rng = np.random.default_rng(10 + model_index)
    G, F = _gram(model.n_points, rng)
    for k in (1, 2, 3, 5) if model_index == 0 else (1, 2, 4):
        for tau in (1.0, 0.5):
            want = brute_force_population(model, G, k, tau, name, **kw)
            got = lc.population_loss(model, F, k, tau, loss=loss)
            assert abs(got - want) <= 1e-12 * max(1.0, abs(want)), (k, tau, got, want)
            enum = LossObjective(model, k, tau, loss, method="enumerate").value(G)
            assert abs(enum - want) <= 1e-12 * max(1.0, abs(want))


def test_population_k6_brute_force():
    model = _models()[0]
    G, F = _gram(3, np.random.default_rng(3))
    for name, loss, kw in LOSSES[:-1]:
        want = brute_force_population(model, G, 6, 0.8, name, **kw)
        assert abs(lc.population_loss(model, F, 6, 0.8, loss=loss) - want) <= 1e-12 * abs(want)


def test_decoupled_engines_agree():
    model = _models()[2]
    G, _ = _gram(3, np.random.default_rng(4))
    for k in (2, 5, 9):
        a = LossObjective(model, k, 0.6, "decoupled", method="laplace").value(G)
        b = LossObjective(model, k, 0.6, "decoupled", method="multiset").value(G)
        c = LossObjective(model, k, 0.6, "decoupled", method="enumerate").value(G)
        assert abs(a - c) < 1e-12 and abs(b - c) < 1e-12


@pytest.mark.parametrize("name", ["logistic", "hinge", "decoupled", "debiased", "hard_negative"])
def test_monte_carlo_within_five_standard_errors(name):
    model = _models()[1]
    G, F = _gram(model.n_points, np.random.default_rng(5))
    sample = model.sample(40_000, 4, rng=7)
    est = lc.nce_loss(F, sample, 0.7, loss=name)
    exact = lc.population_loss(model, F, 4, 0.7, loss=name)
    assert abs(est.z_score(exact)) < 5
    # a wrong value (shifted by 20 standard errors) is rejected
    assert abs(est.z_score(exact + 20 * est.stderr)) > 5


def test_logistic_default_unchanged():
    model = _models()[1]
    G, F = _gram(model.n_points, np.random.default_rng(6))
    for k in (1, 3, 100):
        a = lc.population_loss(model, F, k, 0.7)
        assert lc.population_loss(model, F, k, 0.7, loss="logistic") == a
        assert lc.population_loss(model, F, k, 0.7, loss=Logistic()) == a
    ob = lc.NCEObjective(model, 3, 0.7, loss=None)
    assert type(ob) is lc.NCEObjective
    sample = model.sample(500, 3, rng=1)
    assert lc.nce_loss(F, sample, 0.7) == lc.nce_loss(F, sample, 0.7, loss="logistic")
    other = lc.NCEObjective(model, 3, 0.7, loss="hinge")
    assert isinstance(other, LossObjective) and other.convex


# --------------------------------------------------------------------------- large k
def _mp_hinge(model, G, k, tau, margin):
    """``E max(0, margin + max_i u_{Y_i} − s⁺)`` from ``P(max <= u) = F(u)^k`` in mpmath."""
    mpmath.mp.dps = 50
    D = [mpmath.mpf(float(d)) for d in model.marginal]
    P = np.asarray(model.pair_probs)
    total = mpmath.mpf(0)
    for x, xp in zip(*np.nonzero(P > 0)):
        u = [mpmath.mpf(float(G[x, y])) / tau for y in range(model.n_points)]
        pos = mpmath.mpf(float(G[x, xp])) / tau
        vals = sorted({u[y] for y in range(model.n_points) if D[y] > 0})
        acc, prev = mpmath.mpf(0), mpmath.mpf(0)
        for v in vals:
            Fv = sum(D[y] for y in range(model.n_points) if D[y] > 0 and u[y] <= v)
            acc += (Fv**k - prev**k) * max(mpmath.mpf(0), margin + v - pos)
            prev = Fv
        total += mpmath.mpf(float(P[x, xp])) * acc
    return float(total)


def test_hinge_large_k_against_mpmath():
    model = _models()[1]
    G, F = _gram(model.n_points, np.random.default_rng(8))
    for k in (7, 1000, 10**6, 10**9):
        got = lc.population_loss(model, F, k, 0.5, loss="hinge")
        assert abs(got - _mp_hinge(model, G, k, 0.5, 1.0)) < 1e-10
    # the limit k = inf: the largest support score
    lim = lc.population_loss_limit(model, F, 0.5, loss="hinge")
    assert abs(lim - _mp_hinge(model, G, 10**40, 0.5, 1.0)) < 1e-10


def _mp_decoupled(model, G, k, tau):
    """``Σ P (−s⁺) + Σ_x A(x) E log Σ_i e^{u_{Y_i}}`` with the Frullani integral
    ``E log S = ∫_0^∞ (e^{−t} − φ(t)^k) dt/t``, ``φ(t) = Σ D(y) e^{−t e^{u_y}}`` (mpmath quad)."""
    mpmath.mp.dps = 30
    P = np.asarray(model.pair_probs)
    D = np.asarray(model.marginal)
    total = mpmath.mpf(0)
    for x, xp in zip(*np.nonzero(P > 0)):
        total -= mpmath.mpf(float(P[x, xp])) * mpmath.mpf(float(G[x, xp])) / tau
    A = P.sum(axis=1)
    for x in np.flatnonzero(A > 0):
        a = [
            (mpmath.mpf(float(D[y])), mpmath.exp(mpmath.mpf(float(G[x, y])) / tau))
            for y in np.flatnonzero(D > 0)
        ]

        def f(t, a=a):
            phi = sum(d * mpmath.exp(-t * ay) for d, ay in a)
            return (mpmath.exp(-t) - phi**k) / t

        pts = [
            0,
            mpmath.mpf(1) / (100 * k),
            mpmath.mpf(1) / k,
            mpmath.mpf(10) / k,
            1,
            10,
            mpmath.inf,
        ]
        total += mpmath.mpf(float(A[x])) * mpmath.quad(f, pts)
    return float(total)


def test_decoupled_large_k_against_quadrature():
    model = _models()[0]
    G, F = _gram(3, np.random.default_rng(9))
    for k in (3, 1000, 10**6):
        got = lc.population_loss(model, F, k, 0.8, loss="decoupled")
        assert abs(got - _mp_decoupled(model, G, k, 0.8)) < 1e-10, k
    # L^dec_k − log k → L_∞ (the logistic limit)
    lim = lc.population_loss_limit(model, F, 0.8, loss="decoupled")
    assert lim == pytest.approx(lc.population_loss_limit(model, F, 0.8), abs=1e-14)
    d = lc.population_loss(model, F, 10**7, 0.8, loss="decoupled") - math.log(10**7) - lim
    assert abs(d) < 1e-5


def _mp_binomial(loss_name, kw, k, p, v_top, v_bot, pos, tau):
    mpmath.mp.dps = 30
    total = mpmath.mpf(0)
    for j in range(k + 1):
        w = mpmath.binomial(k, j) * mpmath.mpf(p) ** j * (1 - mpmath.mpf(p)) ** (k - j)
        if w < mpmath.mpf(10) ** -40:
            continue
        tp = kw.get("tau_plus", 0.0)
        et, eb = mpmath.exp(v_top), mpmath.exp(v_bot)
        if loss_name == "debiased":
            R = j * et + (k - j) * eb
        else:
            b = kw["beta"]
            R = (
                k
                * (j * mpmath.exp((1 + b) * v_top) + (k - j) * mpmath.exp((1 + b) * v_bot))
                / (j * mpmath.exp(b * v_top) + (k - j) * mpmath.exp(b * v_bot))
            )
        Ng = max((R - tp * k * mpmath.exp(pos)) / (1 - tp), k * mpmath.exp(-1 / mpmath.mpf(tau)))
        total += w * mpmath.log(1 + Ng * mpmath.exp(-pos))
    return float(total)


@pytest.mark.parametrize(
    "name,loss,kw",
    [
        ("debiased", Debiased(0.2), {"tau_plus": 0.2}),
        ("hard_negative", HardNegative(1.0, 0.1), {"beta": 1.0, "tau_plus": 0.1}),
    ],
)
def test_binomial_engine_at_the_simplex_large_k(name, loss, kw):
    m, tau = 4, 0.5
    model = lc.LatentClassModel.one_point_per_class([0.25] * 4)
    F = lc.simplex(m)
    G = lc.simplex_gram(m)
    for k in (50, 3000):
        ob = LossObjective(model, k, tau, loss)
        assert ob.engine == "binomial" or k == 50
        got = LossObjective(model, k, tau, loss, method="binomial").value(G)
        s_off = float(G[0, 1]) / tau
        want = _mp_binomial(
            name, kw, k, 0.25, float(G[0, 0]) / tau, s_off, float(G[0, 0]) / tau, tau
        )
        assert abs(got - want) < 1e-10 * max(1.0, abs(want))
    assert LossObjective(model, 50, tau, loss, method="enumerate").value(G) == pytest.approx(
        LossObjective(model, 50, tau, loss, method="binomial").value(G), abs=1e-12
    )
    v = lc.population_loss(model, F, 10**6, tau, loss=loss)
    assert math.isfinite(v)


def test_no_exact_engine_is_refused_with_monte_carlo_hint():
    model = lc.LatentClassModel.one_point_per_class([0.2, 0.3, 0.5])
    G, F = _gram(3, np.random.default_rng(11))
    with pytest.raises(ValueError, match="Monte-Carlo"):
        lc.population_loss(model, F, 10**5, loss="hard_negative")
    # the debiased loss has the moment engine (tests/test_loss_moments.py); where the clamp is
    # within reach of the negatives' mean it refuses the same way
    with pytest.raises(ValueError, match="Monte-Carlo"):
        LossObjective(model, 150, 1.0, "debiased", method="moments").value(G)


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("name,loss,kw", LOSSES[:-1])
def test_population_gradients_against_differences(name, loss, kw):
    model = _models()[2]
    rng = np.random.default_rng(12)
    G, _ = _gram(3, rng)
    for k in (1, 3, 200):
        if name in ("debiased", "hard_negative") and k == 200:
            continue
        ob = LossObjective(model, k, 0.7, loss)
        _, g = ob.value_and_grad(G)
        assert np.allclose(g, g.T)
        for _ in range(2):
            E = rng.standard_normal((3, 3))
            E = 0.5 * (E + E.T)
            h = 1e-5
            fd = (ob.value(G + h * E) - ob.value(G - h * E)) / (2 * h)
            assert abs(fd - float(np.sum(g * E))) < 1e-7 * (1 + abs(fd)), (k, fd)


def test_hinge_subgradient_inequality():
    rng = np.random.default_rng(13)
    model = _models()[1]
    for k in (1, 4, 10**4, math.inf):
        ob = LossObjective(model, k, 0.6, Hinge(0.7))
        for _ in range(20):
            G, _ = _gram(model.n_points, rng)
            G2, _ = _gram(model.n_points, rng)
            v, g = ob.value_and_grad(G)
            assert ob.value(G2) >= v + float(np.sum(g * (G2 - G))) - 1e-12
    # at a tie (the simplex) the subgradient is still valid
    m4 = lc.LatentClassModel.one_point_per_class([0.25] * 4)
    S = lc.simplex_gram(4)
    ob = LossObjective(m4, 5, 2.0, "hinge")
    v, g = ob.value_and_grad(S)
    for _ in range(30):
        G2, _ = _gram(4, rng)
        assert ob.value(G2) >= v + float(np.sum(g * (G2 - S))) - 1e-12


# --------------------------------------------------------------------------- averaging
def test_averaging_property_checker():
    for loss in (Logistic(), Hinge(), Decoupled()):
        res = check_averaging_property(loss, 6, rng=0, n_trials=3000, n_polish=3)
        assert res.holds, res
    bad = check_averaging_property(HardNegative(1.0), 6, rng=0, n_trials=3000, n_polish=3)
    assert not bad.holds and bad.worst < -1e-3
    # the reported violation is an explicit example: recompute it from the formula
    S = list(bad.worst_subset)
    neg = list(bad.worst_neg)
    base = scalar_loss("hard_negative", bad.worst_pos, neg, 1.0, beta=1.0)
    reps = []
    for j in S:
        q = [neg[j] if i in S else neg[i] for i in range(6)]
        reps.append(scalar_loss("hard_negative", bad.worst_pos, q, 1.0, beta=1.0))
    assert base - sum(reps) / len(reps) == pytest.approx(bad.worst, abs=1e-12)
    assert "holds=False" in repr(bad)


# --------------------------------------------------------------------------- optima
def test_convex_optima_agree_with_cvxpy():
    pytest.importorskip("cvxpy")
    rho = [0.5, 0.3, 0.2]
    model = lc.LatentClassModel.one_point_per_class(rho)
    for name, k, tau in [
        ("decoupled", 3, 1.0),
        ("decoupled", 2, 0.5),
        ("hinge", 3, 1.0),
        ("hinge", 2, 0.4),
        ("hinge", 2, 3.0),
    ]:
        res = lc.optimal_representation(model, k, tau, loss=name)
        ref, _ = cvxpy_class_level(rho, k, tau, name)
        if res.certified:
            assert abs(res.loss - ref) < 1e-7, (name, k, tau, res.loss, ref)
        # a certified lower bound never exceeds the true optimum
        assert res.loss - res.duality_gap <= ref + 1e-7
    # uniform rho: the simplex, certified, equals the conic optimum
    model = lc.LatentClassModel.one_point_per_class([0.25] * 4)
    for name, tau in [("hinge", 2.0), ("decoupled", 1.0)]:
        res = lc.optimal_representation(model, 2, tau, loss=name)
        ref, _ = cvxpy_class_level([0.25] * 4, 2, tau, name)
        assert res.certified and abs(res.loss - ref) < 1e-7


def test_non_convex_losses_never_certified():
    model = lc.LatentClassModel.one_point_per_class([0.25] * 4)
    for loss in ("debiased", HardNegative(1.0)):
        res = lc.optimal_representation(model, 3, loss=loss, n_restarts=2)
        assert not res.certified and res.duality_gap is None
        assert "not convex" in res.message


def test_hinge_optimum_is_not_unique():
    """τ·margin < m/(m−1): every G(s) = (1−s)I + s11ᵀ with 1 − s >= τ·margin is a certified
    optimum (gap 0 up to rounding), with different downstream losses."""
    m, k, tau = 4, 5, 0.5
    model = lc.LatentClassModel.one_point_per_class([0.25] * m)
    losses = []
    for s in (-1 / 3, -0.2, 0.0, 0.3, 0.5):
        G = (1 - s) * np.eye(m) + s * np.ones((m, m))
        b = hinge_dual_bound(model, G, k, tau)
        assert b.gap < 1e-12
        w, U = np.linalg.eigh(G)
        F = U * np.sqrt(np.maximum(w, 0))
        losses.append(lc.mean_classifier_loss(model, F, tau))
    assert max(losses) - min(losses) > 0.1
    # beyond the threshold (1 − s < τ·margin) the bound is not tight: no false certificate
    G = 0.3 * np.eye(m) + 0.7 * np.ones((m, m))
    assert hinge_dual_bound(model, G, k, tau).gap > 1e-3


def test_hinge_dual_bound_refuses_infeasible():
    model = lc.LatentClassModel.one_point_per_class([0.25] * 4)
    b = hinge_dual_bound(model, 2 * lc.simplex_gram(4), 3, 2.0)
    assert not b.feasible and b.gap == math.inf


def test_simplex_not_optimal_for_hard_negative():
    """Uniform ρ, m = 3, k = 4, τ = 0.5, β = 1: an explicit feasible G with a lower exact
    hard-negative loss than the simplex, re-evaluated by brute force over ordered tuples; the
    gradient at the simplex is αI + β11ᵀ with β < 0, so the simplex is not even a KKT point."""
    m, k, tau = 3, 4, 0.5
    model = lc.LatentClassModel.one_point_per_class([1 / m] * m)
    loss = HardNegative(1.0)
    res = lc.optimal_representation(model, k, tau, loss=loss, n_restarts=3, rng=1)
    G = np.asarray(res.gram)
    kw = {"beta": 1.0}
    simplex_value = brute_force_population(model, lc.simplex_gram(m), k, tau, "hard_negative", **kw)
    found = brute_force_population(model, G, k, tau, "hard_negative", **kw)
    assert found < simplex_value - 1e-3
    assert np.max(np.diag(G)) <= 1 + 1e-12 and np.linalg.eigvalsh(G)[0] > -1e-12
    ob = LossObjective(model, k, tau, loss)
    S = lc.simplex_gram(m)
    g = ob.grad(S)
    assert g[0, 1] < 0
    # proofs/loss_family.md §7: along G_t = (1 − t)G* + t 11ᵀ the slope is β m²
    t = 1e-6
    slope = (ob.value((1 - t) * S + t * np.ones((m, m))) - ob.value(S)) / t
    assert slope == pytest.approx(g[0, 1] * m * m, rel=1e-4)
    # the debiased loss at the same point: the simplex is the best found
    res = lc.optimal_representation(model, k, tau, loss=Debiased(0.1), n_restarts=3, rng=1)
    assert res.loss >= LossObjective(model, k, tau, Debiased(0.1)).value(lc.simplex_gram(m)) - 1e-9


# --------------------------------------------------------------------------- training
@pytest.mark.parametrize("name", ["hinge", "decoupled", "debiased", "hard_negative"])
@pytest.mark.parametrize("route", ["gram", "rows"])
def test_sampled_table_gradient_per_loss(name, route):
    from latentclass.losses import resolve_loss
    from latentclass.training.sampled_gradients import _table_loss_and_grad

    model = _models()[1]
    rng = np.random.default_rng(14)
    _, F = _gram(model.n_points, rng, shrink=1.5)
    batch = model.sample(64, 3, rng=3)
    lo = resolve_loss(name)
    args = (batch.anchors, batch.positives, batch.negatives, 0.7)
    v, g = _table_loss_and_grad(F, *args, route=route, loss=lo)
    assert v == pytest.approx(lc.nce_loss(F, batch, 0.7, loss=lo).mean, rel=1e-13)
    E = rng.standard_normal(F.shape)
    h = 1e-6
    fd = (
        _table_loss_and_grad(F + h * E, *args, route=route, loss=lo)[0]
        - _table_loss_and_grad(F - h * E, *args, route=route, loss=lo)[0]
    ) / (2 * h)
    assert abs(fd - float(np.sum(g * E))) < 1e-6


def test_train_decoupled_approaches_certified_optimum():
    model = lc.LatentClassModel.one_point_per_class([0.5, 0.3, 0.2])
    res = lc.train(model, 4, 1.0, steps=600, batch_size=256, rng=0, loss="decoupled")
    assert res.optimum_certified
    assert -1e-7 <= res.gap < 5e-3
    ref = lc.train(model, 4, 1.0, steps=5, batch_size=16, rng=0)
    again = lc.train(model, 4, 1.0, steps=5, batch_size=16, rng=0, loss="logistic")
    assert np.array_equal(ref.F, again.F)  # the default is unchanged, bit for bit


# --------------------------------------------------------------------------- CLI
def test_cli_solve_loss(capsys):
    import json

    from latentclass.cli import main

    assert (
        main(["solve", "--class-probs", "0.25,0.25,0.25,0.25", "-k", "4", "--loss", "hinge"]) == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["loss_function"] == "hinge" and out["certified"]
    ref = lc.population_loss(
        lc.LatentClassModel.one_point_per_class([0.25] * 4), lc.simplex(4), 4, loss="hinge"
    )
    assert out["loss"] == pytest.approx(ref, abs=1e-12)
    assert (
        main(["solve", "--class-probs", "0.5,0.3,0.2", "-k", "100000", "--loss", "debiased"]) == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--loss debiased" in err


def test_sweep_negatives_loss(tmp_path):
    model = lc.LatentClassModel.one_point_per_class([0.25] * 4)
    res = lc.sweep_negatives(model, [1, 4, math.inf], 1.0, loss="hinge")
    want = [lc.population_loss(model, lc.simplex(4), k, loss="hinge") for k in (1, 4)]
    assert [r["certified"] for r in res.rows] == [True] * 3
    assert [r["loss"] for r in res.rows[:2]] == pytest.approx(want, abs=1e-12)
    base = lc.sweep_negatives(model, [2], 1.0)
    assert (
        base.rows[0]["loss"] == lc.sweep_negatives(model, [2], 1.0, loss="logistic").rows[0]["loss"]
    )
    # a checkpoint of the logistic sweep is not reused for another loss
    ck = tmp_path / "s.jsonl"
    lc.sweep_negatives(model, [2], 1.0, checkpoint=ck)
    with pytest.raises(ValueError, match="checkpoint"):
        lc.sweep_negatives(model, [2], 1.0, checkpoint=ck, loss="decoupled")


def test_point_level_simplex_certified_per_convex_loss():
    """Disjoint supports, uniform ρ, unequal within-class weights: every point on its class
    vertex is certified for the hinge (dual bound) and the decoupled loss (certify), any k."""
    model = lc.LatentClassModel.disjoint(
        [1 / 3] * 3, [2, 1, 2], within=[np.array([0.3, 0.7]), np.array([1.0]), np.array([0.5, 0.5])]
    )
    for name in ("hinge", "decoupled"):
        for k in (1, 3, 10**6):
            for tau in (0.5, 2.0):
                res = lc.optimal_representation(model, k, tau, loss=name)
                assert res.certified and res.duality_gap < 1e-10, (name, k, tau)
    # the certified value is the exact population loss there (brute force at k = 3)
    res = lc.optimal_representation(model, 3, 0.5, loss="hinge")
    assert res.loss == pytest.approx(
        brute_force_population(model, np.asarray(res.gram), 3, 0.5, "hinge"), abs=1e-12
    )


@pytest.mark.parametrize("loss", [Debiased(0.1), HardNegative(1.0), HardNegative(2.0, 0.2)])
def test_nonconvex_large_k_limit(loss):
    """``L_k − log k → L_∞`` (law of large numbers, proofs/loss_family.md §1.5) at rate 1/k at
    the simplex (exact binomial values), and the limit's gradient against differences."""
    model = lc.LatentClassModel.one_point_per_class([0.25] * 4)
    S = lc.simplex_gram(4)
    lim = LossObjective(model, math.inf, 0.5, loss).value(S)
    d = [LossObjective(model, k, 0.5, loss).value(S) - math.log(k) - lim for k in (10**3, 10**5)]
    assert 0 < d[1] < 1e-4 and d[0] / d[1] == pytest.approx(100, rel=0.05)
    rng = np.random.default_rng(15)
    G, F = _gram(4, rng)
    ob = LossObjective(model, math.inf, 0.7, loss)
    _, g = ob.value_and_grad(G)
    E = rng.standard_normal((4, 4))
    E = 0.5 * (E + E.T)
    h = 1e-6
    fd = (ob.value(G + h * E) - ob.value(G - h * E)) / (2 * h)
    assert abs(fd - float(np.sum(g * E))) < 1e-7
    assert lc.population_loss_limit(model, F, 0.7, loss=loss) == pytest.approx(
        ob.value(G), abs=1e-14
    )
