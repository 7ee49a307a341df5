"""The debiased loss at large k (issue 14 (b)): the moment engine's value within its stated
truncation bound of exact enumeration, within 5 standard errors of Monte-Carlo at k = 10⁴,
its gradient against finite differences, and refusals where the clamp is within reach."""

from __future__ import annotations

import math

import numpy as np
import pytest

import latentclass as lc
import latentclass.losses.population as lp
from latentclass.losses import Debiased, HardNegative, LossObjective

MODEL = lc.LatentClassModel.one_point_per_class([0.2, 0.3, 0.5])
#: Rounding of the enumeration at k ~ 10³: its multinomial weights come from lgamma values
#: ~ k log k ≈ 7·10³, so each carries a relative error ~ 7·10³ ε ≈ 1.5e-12.
ENUM_ROUNDING = 1e-11


def _gram(seed):
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(3, 3))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    return F @ F.T, F


def test_mean_moments_against_enumeration():
    X = np.array([[0.5, 1.0, 2.5]])
    Ds = np.array([0.2, 0.3, 0.5])
    k = 5
    _, m = lp._mean_central_moments(X, Ds, float(k), 6)
    import itertools

    mu = float(X[0] @ Ds)
    want = np.zeros(7)
    for tup in itertools.product(range(3), repeat=k):
        p = math.prod(Ds[i] for i in tup)
        z = sum(X[0, i] for i in tup) / k - mu
        want += p * z ** np.arange(7)
    assert np.allclose(m[0], want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("tau", [1.0, 0.5])
@pytest.mark.parametrize("seed", [11, 3])
def test_moments_within_bound_of_enumeration(monkeypatch, tau, seed):
    """Every value, even where the bound is large, is within the bound of the exact value."""
    monkeypatch.setattr(lp, "MOMENT_MAX_BOUND", math.inf)
    G, _ = _gram(seed)
    lo = Debiased(0.1)
    bounds = []
    for k in (20, 150, 400, 1000):
        exact = LossObjective(MODEL, k, tau, lo, method="enumerate").value(G)
        ob = LossObjective(MODEL, k, tau, lo, method="moments")
        v = ob.value(G)
        assert abs(v - exact) <= ob.truncation_bound + ENUM_ROUNDING, (k, v - exact)
        bounds.append(ob.truncation_bound)
    assert bounds[-1] < bounds[0]  # the bound falls with k
    if (seed, tau) == (11, 1.0):
        assert bounds[-1] < 1e-12  # and is below double precision there at k = 1000


def test_moments_default_refuses_loose_bounds_and_auto_uses_it():
    G, F = _gram(11)
    lo = Debiased(0.1)
    with pytest.raises(ValueError, match="Monte-Carlo"):
        LossObjective(MODEL, 150, 1.0, lo, method="moments").value(G)
    ob = LossObjective(MODEL, 10**6, 1.0, lo)  # auto: enumeration too large
    v = ob.value(G)
    assert ob.last_engine == "moments" and ob.truncation_bound < 1e-9
    assert lc.population_loss(MODEL, F, 10**6, 1.0, loss=lo) == pytest.approx(v, abs=1e-12)
    # hard-negative with β = 0 is the debiased loss; β > 0 is still refused
    assert LossObjective(MODEL, 10**6, 1.0, HardNegative(0.0, 0.1)).value(G) == pytest.approx(
        v, abs=1e-12
    )
    with pytest.raises(ValueError, match="Monte-Carlo"):
        LossObjective(MODEL, 10**6, 1.0, HardNegative(1.0)).value(G)


def test_moments_against_monte_carlo_large_k():
    G, F = _gram(11)
    lo = Debiased(0.1)
    k = 10**4
    ob = LossObjective(MODEL, k, 1.0, lo)
    v = ob.value(G)
    est = lc.nce_loss(F, MODEL.sample(400, k, rng=5), 1.0, loss=lo)
    assert est.stderr > 0 and abs(est.mean - v) <= 5 * est.stderr


def test_moments_gradient_against_differences():
    G, _ = _gram(11)
    lo = Debiased(0.1)
    ob = LossObjective(MODEL, 10**5, 1.0, lo)
    _, g = ob.value_and_grad(G)
    assert np.allclose(g, g.T)
    rng = np.random.default_rng(2)
    for _ in range(3):
        E = rng.standard_normal((3, 3))
        E = 0.5 * (E + E.T)
        h = 1e-5
        fd = (ob.value(G + h * E) - ob.value(G - h * E)) / (2 * h)
        assert abs(fd - float(np.sum(g * E))) < 1e-7 * max(1.0, abs(fd))


def _convolution_reference(G, k, tau, tp):
    """``Σ_x ρ_x E φ`` with the law of the counts built by ``k`` convolution steps of the
    one-draw law (no lgamma: relative rounding ~ k ε), summed with ``math.fsum``."""
    D = np.asarray(MODEL.marginal)
    Pm = np.asarray(MODEL.pair_probs)
    P = np.zeros((k + 1, k + 1))
    P[0, 0] = 1.0
    for _ in range(k):
        Q = D[2] * P
        Q[1:, :] += D[0] * P[:-1, :]
        Q[:, 1:] += D[1] * P[:, :-1]
        P = Q
    n0, n1 = np.meshgrid(np.arange(k + 1), np.arange(k + 1), indexing="ij")
    n2 = k - n0 - n1
    mask = n2 >= 0
    total = 0.0
    for x in range(3):
        sp = G[x, x] / tau
        e = np.exp(G[x] / tau)
        R = n0 * e[0] + n1 * e[1] + n2 * e[2]
        Ng = np.maximum((R - tp * k * np.exp(sp)) / (1 - tp), k * math.exp(-1 / tau))
        total += Pm[x, x] * math.fsum((P * np.log1p(Ng * np.exp(-sp)))[mask])
    return total


def test_moments_against_convolution_law():
    """At k = 500 the moment engine is within its bound of the convolution law of the counts
    (at k = 1000 the two agree to 2e-15 while the enumeration engine is off by 3e-12, from
    its lgamma weights; measured, not run here for time)."""
    G, _ = _gram(11)
    ob = LossObjective(MODEL, 500, 1.0, Debiased(0.1), method="moments")
    v = ob.value(G)
    ref = _convolution_reference(G, 500, 1.0, 0.1)
    assert ob.truncation_bound < 1e-9
    assert abs(v - ref) <= ob.truncation_bound + 1e-13
