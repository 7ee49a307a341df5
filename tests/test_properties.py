"""Property-based checks (hypothesis) over random small models: the exact population loss against
brute-force enumeration, invariants of the sampled loss and of the sampler, and the collision
probability against exact rational arithmetic."""

import math
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import brute_force_loss_tuples

import latentclass as lc

SETTINGS = settings(max_examples=25, deadline=None)


@st.composite
def small_models(draw):
    """A finite model with m ≤ 3 classes and n ≤ 4 points, disjoint or overlapping."""
    m = draw(st.integers(2, 3))
    n = draw(st.integers(m, 4))
    weights = st.floats(0.05, 1.0)
    rho = np.array([draw(weights) for _ in range(m)])
    rho /= rho.sum()
    cond = np.array([[draw(st.floats(0.0, 1.0)) for _ in range(n)] for _ in range(m)])
    cond[np.arange(m), np.arange(m)] += 0.1  # every class has some mass
    cond /= cond.sum(axis=1, keepdims=True)
    return lc.LatentClassModel(rho, cond)


def unit_ball_rows(draw, n, d):
    F = np.array([[draw(st.floats(-1.0, 1.0)) for _ in range(d)] for _ in range(n)])
    norms = np.linalg.norm(F, axis=1, keepdims=True)
    return F / np.maximum(norms, 1.0)


def brute_force_loss(model, F, k, tau):
    """Ordered tuples of negatives (the other enumeration of tests/oracles.py)."""
    return brute_force_loss_tuples(model, np.asarray(F) @ np.asarray(F).T, k, tau)


@SETTINGS
@given(data=st.data(), k=st.integers(1, 3), tau=st.sampled_from([0.3, 1.0, 2.5]))
def test_population_loss_equals_brute_force(data, k, tau):
    model = data.draw(small_models())
    F = unit_ball_rows(data.draw, model.n_points, 2)
    exact = brute_force_loss(model, F, k, tau)
    for method in ("auto", "laplace"):
        got = lc.population_loss(model, F, k, tau, method=method)
        assert abs(got - exact) <= 1e-12 * abs(exact), (method, got, exact)


@SETTINGS
@given(data=st.data(), k=st.integers(1, 5), tau=st.floats(0.05, 5.0))
def test_sampled_loss_obeys_logsumexp_bounds(data, k, tau):
    """max(0, z_max) <= ℓ <= max(0, z_max) + log(k + 1) for every example."""
    model = data.draw(small_models())
    F = unit_ball_rows(data.draw, model.n_points, 3)
    s = model.sample(64, k, rng=data.draw(st.integers(0, 2**32 - 1)))
    G = F @ F.T
    z = (G[s.anchors[:, None], s.negatives] - G[s.anchors, s.positives][:, None]) / tau
    top = np.maximum(z.max(axis=1), 0.0)
    losses = lc.nce.per_example_nce_loss(F, s, tau)
    assert np.all(losses >= top - 1e-12) and np.all(losses <= top + math.log(k + 1) + 1e-12)


@SETTINGS
@given(data=st.data(), k=st.integers(1, 6))
def test_sampler_stays_in_the_supports(data, k):
    model = data.draw(small_models())
    s = model.sample(200, k, rng=data.draw(st.integers(0, 2**32 - 1)))
    C = model.class_conditionals
    assert np.all(C[s.classes, s.anchors] > 0) and np.all(C[s.classes, s.positives] > 0)
    assert np.all(C[s.negative_classes, s.negatives] > 0)


@SETTINGS
@given(counts=st.lists(st.integers(1, 9), min_size=2, max_size=6), k=st.integers(1, 40))
def test_collision_probability_matches_exact_rationals(counts, k):
    rho = [Fraction(c, sum(counts)) for c in counts]
    exact = sum(r * (1 - (1 - r) ** k) for r in rho)
    got = lc.collision_probability(np.array([float(r) for r in rho]), k)
    assert abs(got - float(exact)) <= 1e-14
