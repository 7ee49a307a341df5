"""The sampled NCE loss (SPEC §2): against a plain loop, against the exact expectation of a tiny
model (full enumeration of (x, x⁺, negatives) tuples), stability, and validation."""

import itertools
import math

import numpy as np
import pytest
from oracles import random_representation

import latentclass as lc
from latentclass.nce import per_example_nce_loss


def loop_loss(F, s, tau):
    """The definition, one example at a time, with math.exp/math.log."""
    out = []
    for i in range(s.size):
        fx = F[s.anchors[i]]
        pos = float(fx @ F[s.positives[i]])
        total = 1.0
        for y in s.negatives[i]:
            total += math.exp((float(fx @ F[y]) - pos) / tau)
        out.append(math.log(total))
    return np.array(out)


@pytest.mark.parametrize("tau", [1.0, 0.25, 3.0])
def test_matches_plain_loop(tau):
    rng = np.random.default_rng(0)
    m = lc.LatentClassModel([0.3, 0.7], rng.dirichlet(np.ones(6), size=2))
    F = random_representation(6, 3, rng)
    s = m.sample(500, 5, rng=1)
    np.testing.assert_allclose(
        per_example_nce_loss(F, s, tau), loop_loss(F, s, tau), rtol=1e-12, atol=0
    )
    est = lc.nce_loss(F, s, tau)
    ref = loop_loss(F, s, tau)
    assert abs(est.mean - ref.mean()) <= 1e-12 * ref.mean()
    assert abs(est.stderr - ref.std(ddof=1) / math.sqrt(ref.size)) <= 1e-12
    assert est.n == 500


def test_matches_loop_for_an_encoder():
    g = lc.GaussianLatentClassModel([0.5, 0.5], [[0.0, 0.0], [2.0, 1.0]], scale=0.7)
    W = np.array([[0.3, -0.2, 0.9], [0.5, 0.1, -0.4]])

    def enc(X):
        Z = np.tanh(X @ W)
        return Z / np.maximum(1.0, np.linalg.norm(Z, axis=1, keepdims=True))

    s = g.sample(200, 3, rng=2)
    ref = []
    for i in range(s.size):
        fx = enc(s.anchors[i : i + 1])[0]
        pos = fx @ enc(s.positives[i : i + 1])[0]
        negs = enc(s.negatives[i])
        ref.append(math.log(1 + sum(math.exp((fx @ v - pos) / 0.5) for v in negs)))
    np.testing.assert_allclose(per_example_nce_loss(enc, s, 0.5), ref, rtol=1e-12)


def exact_expectation(model, F, k, tau):
    """E ℓ by enumerating every (x, x⁺, y_1..y_k) with probability P(x,x⁺) Π D(y_i)."""
    n = model.n_points
    G = F @ F.T
    total = 0.0
    for x, xp in itertools.product(range(n), repeat=2):
        pxx = model.pair_probs[x, xp]
        for ys in itertools.product(range(n), repeat=k):
            w = pxx * np.prod([model.marginal[y] for y in ys])
            total += w * math.log(1 + sum(math.exp((G[x, y] - G[x, xp]) / tau) for y in ys))
    return total


@pytest.mark.parametrize("tau", [1.0, 0.3])
def test_monte_carlo_mean_agrees_with_exact_expectation(tau):
    rng = np.random.default_rng(3)
    m = lc.LatentClassModel([0.5, 0.5], [[0.6, 0.4, 0.0], [0.0, 0.3, 0.7]])  # n = 3, overlapping
    F = random_representation(3, 2, rng)
    exact = exact_expectation(m, F, 2, tau)
    est = lc.nce_loss(F, m.sample(200_000, 2, rng=4), tau)
    assert abs(est.z_score(exact)) < 5
    # ... and the check has power: a wrong value (1% off) is rejected
    assert abs(est.z_score(1.01 * exact)) > 5


def test_no_overflow_at_tiny_temperature():
    m = lc.LatentClassModel.one_point_per_class([0.5, 0.5])
    F = np.array([[1.0, 0.0], [-1.0, 0.0]])
    s = m.sample(1000, 3, rng=0)
    losses = per_example_nce_loss(F, s, tau=1e-4)  # scores up to 2/τ = 2e4
    assert np.all(np.isfinite(losses))
    # ℓ = log(1 + #collisions + #others·e^{-2/τ}) exactly here (e^{-2/τ} underflows to 0)
    same = (s.negative_classes == s.classes[:, None]).sum(axis=1)
    np.testing.assert_allclose(losses, np.log1p(same), rtol=1e-15, atol=0)


def test_no_overflow_when_negatives_win_by_a_lot():
    # an overlapping model where the positive can be the anti-podal point: scores up to 2/τ
    m = lc.LatentClassModel([0.5, 0.5], [[0.5, 0.5], [0.5, 0.5]])
    F = np.array([[1.0, 0.0], [-1.0, 0.0]])
    s = m.sample(2000, 3, rng=1)
    tau = 1e-3
    losses = per_example_nce_loss(F, s, tau=tau)
    assert np.all(np.isfinite(losses))
    G = F @ F.T
    z = (G[s.anchors[:, None], s.negatives] - G[s.anchors, s.positives][:, None]) / tau
    top = z.max(axis=1)
    ref = np.maximum(top, 0) + np.log(
        np.exp(-np.maximum(top, 0)) + np.exp(z - np.maximum(top, 0)[:, None]).sum(axis=1)
    )
    np.testing.assert_allclose(losses, ref, rtol=1e-14)
    assert losses.max() > 1999  # 2/τ = 2000: a naive log(1 + exp(2000)) would be inf


@pytest.mark.parametrize(
    "F, match",
    [
        (np.ones((3, 2)) * 0.1, "F must have one row per point"),
        (np.ones(2) * 0.1, "F must be 2-D"),
        (np.array([[np.nan, 0.0], [0.0, 0.0]]), "F must be finite"),
        (np.array([[1.0, 0.1], [0.0, 0.0]]), r"F rows must have norm <= 1, row 0"),
    ],
)
def test_bad_representation(F, match):
    m = lc.LatentClassModel.one_point_per_class([0.5, 0.5])
    s = m.sample(10, 2, rng=0)
    with pytest.raises(ValueError, match=match):
        lc.nce_loss(F, s)


@pytest.mark.parametrize("tau", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_tau(tau):
    m = lc.LatentClassModel.one_point_per_class([0.5, 0.5])
    s = m.sample(10, 2, rng=0)
    with pytest.raises(ValueError, match="tau must be a finite number > 0"):
        lc.nce_loss(np.eye(2), s, tau=tau)


def test_bad_sample_and_encoder():
    m = lc.LatentClassModel.one_point_per_class([0.5, 0.5])
    with pytest.raises(TypeError, match="sample must be a ContrastiveSample"):
        lc.nce_loss(np.eye(2), "not a sample")
    with pytest.raises(ValueError, match="sample must have at least 2 examples"):
        lc.nce_loss(np.eye(2), m.sample(1, 2, rng=0))
    g = lc.GaussianLatentClassModel([0.5, 0.5], [[0.0], [1.0]])
    s = g.sample(10, 2, rng=0)
    with pytest.raises(ValueError, match="F outputs must have norm <= 1"):
        lc.nce_loss(lambda X: 10 * X, s)
    with pytest.raises(TypeError, match="F must be a callable encoder"):
        lc.nce_loss(np.eye(2), s)
    with pytest.raises(TypeError, match="F must be an .* array for a sample from a finite model"):
        lc.nce_loss(lambda X: X, m.sample(10, 2, rng=0))
