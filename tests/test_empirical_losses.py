"""``empirical_optimum(loss=...)`` for every loss of ``latentclass.losses`` (SPEC §9.3).

Independent references: CVXPY + Clarabel programs written here with one term per *drawn
example* (no aggregation); the loss objects called directly on the sampled scores and summed
with ``math.fsum``; central finite differences.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import latentclass as lc
from latentclass.empirical import HINGE_ETAS, EmpiricalObjective, empirical_optimum
from latentclass.losses import Debiased, Decoupled, HardNegative, Hinge, Logistic

MODELS = [
    (lc.LatentClassModel.one_point_per_class([0.5, 0.3, 0.2]), 2, 1.0),
    (lc.LatentClassModel.disjoint([0.6, 0.4], [2, 1]), 3, 0.8),
    (lc.LatentClassModel.one_point_per_class([0.4, 0.3, 0.2, 0.1]), 3, 2.0),
]
ALL_LOSSES = [
    Logistic(),
    Hinge(),
    Hinge(margin=0.3),
    Decoupled(),
    Debiased(0.2),
    HardNegative(1.5, 0.1),
]


def cvxpy_empirical(sample, tau, loss):
    """min_G (1/M) Σ_i ℓ_i(G) s.t. G ⪰ 0, diag G ≤ 1, one term per drawn example."""
    cp = pytest.importorskip("cvxpy")
    n = sample.n_points
    G = cp.Variable((n, n), symmetric=True)
    terms = []
    for x, xp, negs in zip(sample.anchors, sample.positives, sample.negatives):
        s = cp.hstack([(G[int(x), int(y)] - G[int(x), int(xp)]) / tau for y in negs])
        if loss.name == "decoupled":
            terms.append(cp.log_sum_exp(s))
        else:  # hinge
            terms.append(cp.pos(loss.margin + cp.max(s)))
    prob = cp.Problem(
        cp.Minimize(cp.sum(cp.hstack(terms)) / sample.size), [G >> 0, cp.diag(G) <= 1]
    )
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11)
    return prob.value


def direct_loss(F, sample, tau, loss):
    """(1/M) Σ_i ℓ(s⁺_i, s_i): the loss object on the sampled scores, no aggregation."""
    G = F @ F.T
    a, p, neg = sample.anchors, sample.positives, sample.negatives
    pos = G[a, p] / tau
    negs = G[a[:, None], neg] / tau
    return math.fsum(loss(pos, negs, tau)) / sample.size


@pytest.mark.parametrize(("model", "k", "tau"), MODELS)
@pytest.mark.parametrize("loss", [Decoupled(), Hinge(), Hinge(margin=0.3)], ids=repr)
def test_convex_losses_match_clarabel(model, k, tau, loss):
    sample = model.sample(120, k, rng=7)
    res = empirical_optimum(sample, tau, model=model, loss=loss)
    assert res.certified and res.duality_gap <= 1e-7, res.message
    assert res.loss == loss.name
    ref = cvxpy_empirical(sample, tau, loss)
    assert res.empirical_loss == pytest.approx(ref, abs=1e-7)
    # the reported value is the loss of the reported F, recomputed per example
    assert res.empirical_loss == pytest.approx(direct_loss(res.F, sample, tau, loss), abs=1e-12)
    # the certified lower bound lies below the external optimum
    assert res.empirical_loss - res.duality_gap <= ref + 1e-9
    pop = lc.losses.LossObjective(model, k, tau, loss).value(res.gram)
    assert res.population_loss == pytest.approx(pop, abs=1e-13)


@pytest.mark.parametrize(("model", "k", "tau"), MODELS)
@pytest.mark.parametrize("loss", ALL_LOSSES, ids=repr)
def test_aggregation_equals_per_example_sum(model, k, tau, loss):
    sample = model.sample(3000, k, rng=3)
    obj = EmpiricalObjective(sample, tau, loss=loss)
    assert obj.n_unique < sample.size
    rng = np.random.default_rng(1)
    F = rng.normal(size=(model.n_points, 3))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    F *= rng.uniform(0.3, 1.0, size=(model.n_points, 1))
    G = F @ F.T
    direct = direct_loss(F, sample, tau, loss)
    assert abs(obj.value(G) - direct) <= 1e-12
    value, grad = obj.value_and_grad(G)
    assert abs(value - direct) <= 1e-12
    assert np.array_equal(grad, grad.T)
    # gradient vs central differences (the hinge: G generic, no ties, piecewise linear)
    for _ in range(3):
        E = rng.normal(size=G.shape)
        E = E + E.T
        h = 1e-6 if loss.name == "hinge" else 1e-5
        fd = (obj.value(G + h * E) - obj.value(G - h * E)) / (2 * h)
        assert fd == pytest.approx(float(np.sum(grad * E)), abs=1e-8)


def test_smoothed_hinge_sandwich_and_hessian():
    model, k, tau = MODELS[1]
    sample = model.sample(500, k, rng=2)
    hinge = EmpiricalObjective(sample, tau, loss="hinge")
    rng = np.random.default_rng(4)
    F = rng.normal(size=(3, 3))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    G = F @ F.T
    for eta in (1e-1, 1e-3, 1e-6):
        sm = hinge.smoothed_hinge(eta)
        lo, hi = hinge.value(G), sm.value(G)
        assert lo <= hi + 1e-15 and hi <= lo + eta * math.log(1 + k) + 1e-15
    sm = hinge.smoothed_hinge(0.5)
    value, M, anchors, blocks = sm.second_order(G)
    assert value == pytest.approx(sm.value(G), abs=1e-14)
    assert np.allclose(M, sm.value_and_grad(G)[1], atol=1e-15)
    E = rng.normal(size=G.shape)
    E = E + E.T
    fd = (sm.value(G + 1e-5 * E) - sm.value(G - 1e-5 * E)) / 2e-5
    assert fd == pytest.approx(float(np.sum(M * E)), abs=1e-8)
    h = 1e-4
    for i, x in enumerate(anchors):
        u, v = rng.normal(size=3), rng.normal(size=3)

        def f(a, b):
            Gm = G.copy()
            Gm[x] += a * u + b * v
            return sm.value(Gm)

        mixed = (f(h, h) - f(h, -h) - f(-h, h) + f(-h, -h)) / (4 * h * h)
        assert mixed == pytest.approx(float(u @ blocks[i] @ v), abs=1e-6)


@pytest.mark.parametrize("loss", ["decoupled", "hinge"])
def test_perturbed_point_not_certified(loss):
    model, k, tau = MODELS[2]
    sample = model.sample(300, k, rng=5)
    res = empirical_optimum(sample, tau, loss=loss)
    assert res.certified
    obj = EmpiricalObjective(sample, tau, loss=loss)
    for t in (0.05, 0.3):
        G = (1 - t) * res.gram + t * np.eye(model.n_points)
        excess = obj.value(G) - res.empirical_loss
        assert excess > 1e-6
        if loss == "hinge":
            value, gap, _ = obj.piece_weight_bound(G, HINGE_ETAS[-1])
            assert value == pytest.approx(obj.value(G), abs=1e-15)
        else:
            cert = lc.certify(obj, G)
            assert not cert.certified
            gap = cert.gap
        assert gap > 1e-7 and gap >= excess - 1e-9


@pytest.mark.parametrize("loss", [Debiased(0.1), HardNegative(1.0)], ids=repr)
def test_nonconvex_losses_best_found_not_certified(loss):
    model, k, tau = MODELS[0]
    sample = model.sample(200, k, rng=1)
    res = empirical_optimum(sample, tau, model=model, loss=loss, n_restarts=3)
    assert not res.certified and res.duality_gap is None
    assert "not convex" in res.message and "best found" in res.message
    assert res.empirical_loss == pytest.approx(direct_loss(res.F, sample, tau, loss), abs=1e-12)
    # at least as good as the certified logistic ERM evaluated under this loss
    obj = EmpiricalObjective(sample, tau, loss=loss)
    logistic = empirical_optimum(sample, tau)
    assert res.empirical_loss <= obj.value(logistic.gram) + 1e-12
    again = empirical_optimum(sample, tau, model=model, loss=loss, n_restarts=3)
    assert np.array_equal(res.F, again.F)


def test_loss_errors():
    model, k, _ = MODELS[0]
    sample = model.sample(20, k, rng=0)
    with pytest.raises(TypeError, match="loss"):
        empirical_optimum(sample, loss=3)
    with pytest.raises(ValueError, match="loss"):
        empirical_optimum(sample, loss="squared")
    with pytest.raises(ValueError, match="n_restarts"):
        empirical_optimum(sample, loss="debiased", n_restarts=0)
    with pytest.raises(ValueError, match="hinge"):
        EmpiricalObjective(sample, 1.0).smoothed_hinge(0.1)
    with pytest.raises(ValueError, match="eta"):
        EmpiricalObjective(sample, 1.0, loss="hinge").smoothed_hinge(0.0)


@pytest.mark.parametrize(
    ("n", "k"),
    [(10, 16), (12, 20), (30, 8)],  # float-key path, int64-key path, lexicographic sort path
)
def test_aggregation_paths_equal_counter(n, k):
    """The distinct (anchor, positive, negative multiset) keys and their counts, against a
    ``collections.Counter`` of sorted tuples; invalid negatives are refused on every path."""
    from collections import Counter

    from latentclass.empirical import _aggregate

    model = lc.LatentClassModel.one_point_per_class(np.full(n, 1 / n))
    sample = model.sample(4000, k, rng=11)
    x, p, counts, N = _aggregate(sample, n)
    N = N.toarray() if hasattr(N, "toarray") else np.asarray(N)
    ref = Counter(
        (int(a), int(b), tuple(np.bincount(neg, minlength=n)))
        for a, b, neg in zip(sample.anchors, sample.positives, sample.negatives)
    )
    got = {(int(a), int(b), tuple(int(v) for v in row)): c for a, b, row, c in zip(x, p, N, counts)}
    assert len(got) == len(ref) == x.size
    assert all(got[key] == c for key, c in ref.items())
    assert np.all(np.diff(x) >= 0)  # sorted by anchor
    for bad in (-1, -n - 1, n):
        neg = np.array(sample.negatives)
        neg[17, k - 1] = bad
        broken = dataclasses.replace(sample, negatives=neg)
        with pytest.raises(ValueError, match="negatives"):
            _aggregate(broken, n)


def test_hinge_low_rank_and_feasible_factor():
    from latentclass.certificate import feasibility
    from latentclass.empirical import _feasible_factor

    model, k, tau = MODELS[2]
    sample = model.sample(150, k, rng=9)
    ref = cvxpy_empirical(sample, tau, Hinge())
    res = empirical_optimum(sample, tau, loss="hinge", dim=2)
    assert res.F.shape == (4, 2)
    assert res.empirical_loss >= ref - 1e-9  # rank 2 cannot beat the convex optimum
    assert res.representation.lower_bound <= ref + 1e-9
    # the convex relaxation's certified value is a lower bound of the rank-2 problem too
    assert res.representation.lower_bound >= ref - 1e-7
    if res.certified:
        assert res.empirical_loss <= ref + 1e-7
    assert res.empirical_loss == pytest.approx(direct_loss(res.F, sample, tau, Hinge()), abs=1e-12)
    rng = np.random.default_rng(3)
    A = rng.normal(size=(4, 4))
    F, G = _feasible_factor(A + A.T, 2)  # indefinite input: a feasible rank-2 point
    assert F.shape == (4, 2) and feasibility(G).feasible
    assert np.linalg.matrix_rank(G, tol=1e-10) <= 2
