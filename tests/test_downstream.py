"""Tests for latentclass.downstream: mean-classifier loss and accuracy (SPEC §6).

References used here, all independent of the library: the closed forms at the regular
simplex (SPEC §5), a direct Python loop over tasks, classes and points written below,
exact task-law probabilities, and Monte-Carlo estimates with a 5-standard-error bound.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from oracles import simplex_vertices as regular_simplex

from latentclass.downstream import (
    DownstreamResult,
    _sample_tasks,
    _task_metrics,
    _task_metrics_sparse,
    mean_classifier_accuracy,
    mean_classifier_loss,
    mean_classifier_metrics,
)
from latentclass.model import LatentClassModel


# --------------------------------------------------------------------------- references
def direct(model, F, tau=1.0, t=None, weighting="class_probs"):
    """Plain loops over tasks, labels and points (the definition of SPEC §6, written out)."""
    rho = np.asarray(model.class_probs)
    D = np.asarray(model.class_conditionals)
    m, n = D.shape
    F = np.asarray(F, dtype=float)
    mu = [sum(D[c, x] * F[x] for x in range(n)) for c in range(m)]
    t = m if t is None else t
    tot_w = tot_loss = tot_acc = 0.0
    for T in itertools.combinations(range(m), t):
        wT = math.prod(rho[c] for c in T)
        mass = sum(rho[c] for c in T)
        loss = acc = 0.0
        for c in T:
            wc = rho[c] / mass if weighting == "class_probs" else 1.0 / t
            for x in range(n):
                if D[c, x] == 0:
                    continue
                s = {j: float(np.dot(F[x], mu[j])) / tau for j in T}
                top = max(s.values())
                lse = top + math.log(sum(math.exp(v - top) for v in s.values()))
                loss += wc * D[c, x] * (lse - s[c])
                if all(s[c] > s[j] for j in T if j != c):
                    acc += wc * D[c, x]
        tot_w += wT
        tot_loss += wT * loss
        tot_acc += wT * acc
    return tot_loss / tot_w, tot_acc / tot_w


def random_rep(n, d, seed, min_norm=0.3):
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(n, d))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    return F * rng.uniform(min_norm, 1.0, size=(n, 1))


def disjoint_model(seed=0):
    rng = np.random.default_rng(seed)
    rho = rng.dirichlet(np.full(5, 2.0))
    counts = [2, 3, 1, 2, 3]
    within = [rng.uniform(0.2, 1.0, size=c) for c in counts]
    return LatentClassModel.disjoint(rho, counts, within)


def overlapping_model(seed=1):
    rng = np.random.default_rng(seed)
    rho = rng.dirichlet(np.full(4, 2.0))
    D = rng.uniform(0.0, 1.0, size=(4, 7))
    D[D < 0.35] = 0.0  # some zeros, supports overlap
    D[:, 0] += 0.1
    D /= D.sum(axis=1, keepdims=True)
    return LatentClassModel(rho, D)


# --------------------------------------------------------------------------- closed forms at the simplex
@pytest.mark.parametrize("m", [2, 3, 5, 8])
@pytest.mark.parametrize("tau", [0.01, 0.1, 0.5, 1.0, 3.0])
def test_uniform_simplex_full_task_closed_form(m, tau):
    model = LatentClassModel.one_point_per_class(np.full(m, 1.0 / m))
    F = regular_simplex(m)
    expected = math.log1p((m - 1) * math.exp(-m / ((m - 1) * tau)))
    for weighting in ("class_probs", "balanced"):
        r = mean_classifier_metrics(model, F, tau, weighting=weighting)
        assert r.exact and r.n_tasks == 1 and r.task_size == m
        assert r.loss == pytest.approx(expected, rel=1e-13, abs=1e-15)
        assert r.accuracy == 1.0
    assert mean_classifier_loss(model, F, tau) == pytest.approx(expected, rel=1e-13, abs=1e-15)
    assert mean_classifier_accuracy(model, F) == 1.0


@pytest.mark.parametrize("m,tau", [(4, 0.7), (6, 1.0), (9, 2.5)])
def test_uniform_simplex_t_way_closed_form(m, tau):
    model = LatentClassModel.one_point_per_class(np.full(m, 1.0 / m))
    F = regular_simplex(m)
    q = math.exp(-m / ((m - 1) * tau))
    for t in range(2, m + 1):
        r = mean_classifier_metrics(model, F, tau, task_size=t)
        assert r.exact and r.n_tasks == math.comb(m, t)
        assert r.loss == pytest.approx(math.log1p((t - 1) * q), rel=1e-13)
        assert r.accuracy == 1.0


@pytest.mark.parametrize("k", [1, 8, 1000, math.inf])
def test_optimal_representation_downstream_same_for_every_k(k):
    # the optimum of L_k (closed form, and the certified numerical solve) gives the simplex
    # closed form downstream for every k.  The numerical solve is only as exact as its
    # optimiser: the downstream loss moves by O(‖F - F*‖), hence the 1e-8 there.
    from latentclass.optimize import optimal_representation

    m, tau = 4, 0.7
    model = LatentClassModel.one_point_per_class(np.full(m, 1.0 / m))
    expected = math.log1p((m - 1) * math.exp(-m / ((m - 1) * tau)))
    for method, rel in (("auto", 1e-13), ("numerical", 1e-8)):
        opt = optimal_representation(model, k, tau, method=method)
        assert opt.certified
        r = mean_classifier_metrics(model, opt.F, tau)
        assert r.loss == pytest.approx(expected, rel=rel)
        assert r.accuracy == 1.0


def test_point_level_collapsed_simplex_closed_form():
    # every point of class c carries the simplex vertex v_c: same metrics as class level
    m, tau = 4, 0.8
    V = regular_simplex(m)
    model = LatentClassModel.disjoint(
        np.full(m, 0.25), [3, 1, 2, 4], [[1, 2, 3], [1], [5, 1], [1, 1, 1, 2]]
    )
    F = V[model.point_classes]
    expected = math.log1p((m - 1) * math.exp(-m / ((m - 1) * tau)))
    assert mean_classifier_loss(model, F, tau) == pytest.approx(expected, rel=1e-13)
    assert mean_classifier_accuracy(model, F) == 1.0


# --------------------------------------------------------------------------- against the direct loop
@pytest.mark.parametrize("weighting", ["class_probs", "balanced"])
@pytest.mark.parametrize("t", [None, 2, 3, 4])
def test_disjoint_point_level_matches_direct_loop(weighting, t):
    model = disjoint_model()
    F = random_rep(model.n_points, 3, seed=7)
    tau = 0.6
    loss, acc = direct(model, F, tau, t, weighting)
    r = mean_classifier_metrics(model, F, tau, task_size=t, weighting=weighting)
    assert r.loss == pytest.approx(loss, rel=1e-13)
    assert r.accuracy == pytest.approx(acc, rel=1e-13, abs=1e-15)
    assert 0.0 < acc < 1.0  # the model is not trivially separable


@pytest.mark.parametrize("weighting", ["class_probs", "balanced"])
@pytest.mark.parametrize("t", [None, 2, 3])
def test_overlapping_matches_direct_loop(weighting, t):
    model = overlapping_model()
    assert not model.is_disjoint
    F = random_rep(model.n_points, 2, seed=3)
    tau = 1.7
    loss, acc = direct(model, F, tau, t, weighting)
    r = mean_classifier_metrics(model, F, tau, task_size=t, weighting=weighting)
    assert r.loss == pytest.approx(loss, rel=1e-13)
    assert r.accuracy == pytest.approx(acc, rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("balanced", [False, True])
def test_dense_and_support_paths_agree_with_direct_loop(balanced):
    # the public function picks the support-only path when t·s_max < n; check both paths
    # on the same tasks of an overlapping model against the direct loop
    model = overlapping_model(4)
    F = random_rep(model.n_points, 3, seed=9)
    tau, t = 0.8, 2
    rho, D = np.asarray(model.class_probs), np.asarray(model.class_conditionals)
    scores = F @ (D @ F).T / tau
    support = D > 0
    s_max = int(support.sum(axis=1).max())
    order = np.argsort(~support, axis=1, kind="stable")[:, :s_max]
    tasks = np.array(list(itertools.combinations(range(model.n_classes), t)))
    l1, a1 = _task_metrics(tasks, scores, D, rho, balanced)
    l2, a2 = _task_metrics_sparse(
        tasks, scores, order, np.take_along_axis(D, order, axis=1), rho, balanced
    )
    weighting = "balanced" if balanced else "class_probs"
    for T, la, lb, aa, ab in zip(tasks, l1, l2, a1, a2):
        sub = LatentClassModel(rho[T] / rho[T].sum(), D[T])  # the task as its own model
        loss, acc = direct(sub, F, tau, None, weighting)
        assert la == pytest.approx(loss, rel=1e-13) and lb == pytest.approx(loss, rel=1e-13)
        assert aa == pytest.approx(acc, rel=1e-13, abs=1e-15) and ab == pytest.approx(
            acc, rel=1e-13, abs=1e-15
        )


def test_full_task_equals_t_equals_m_and_chunking():
    model = disjoint_model(3)
    F = random_rep(model.n_points, 4, seed=11)
    a = mean_classifier_metrics(model, F, 0.9)
    b = mean_classifier_metrics(model, F, 0.9, task_size=model.n_classes)
    assert a.loss == b.loss and a.accuracy == b.accuracy


# --------------------------------------------------------------------------- sampled tasks
@pytest.mark.parametrize("weighting", ["class_probs", "balanced"])
@pytest.mark.parametrize("t", [3, 5])
def test_sampled_t_way_matches_enumeration_within_5se(weighting, t):
    rng = np.random.default_rng(21)
    m = 10
    rho = rng.dirichlet(np.full(m, 1.0))
    model = LatentClassModel.disjoint(rho, [2] * m)
    F = random_rep(model.n_points, 3, seed=5)
    exact = mean_classifier_metrics(model, F, 0.5, task_size=t, weighting=weighting)
    sampled = mean_classifier_metrics(
        model, F, 0.5, task_size=t, weighting=weighting, rng=99, max_enumerate=1, n_tasks=20_000
    )
    assert exact.exact and not sampled.exact and sampled.n_tasks == 20_000
    assert sampled.loss_stderr > 0 and sampled.accuracy_stderr > 0
    assert abs(exact.loss - sampled.loss) <= 5 * sampled.loss_stderr
    assert abs(exact.accuracy - sampled.accuracy) <= 5 * sampled.accuracy_stderr


def test_sampled_path_used_above_threshold_and_reproducible():
    m, t = 30, 6  # C(30, 6) = 593775 > 10^5
    rho = np.random.default_rng(2).dirichlet(np.full(m, 1.5))
    model = LatentClassModel.one_point_per_class(rho)
    F = random_rep(m, 4, seed=1)
    a = mean_classifier_metrics(model, F, 1.0, task_size=t, rng=5, n_tasks=2000)
    b = mean_classifier_metrics(
        model, F, 1.0, task_size=t, rng=np.random.default_rng(5), n_tasks=2000
    )
    assert not a.exact and a.n_tasks == 2000
    assert a.loss == b.loss and a.accuracy == b.accuracy
    assert mean_classifier_loss(model, F, 1.0, task_size=t, rng=5, n_tasks=2000) == a.loss
    assert mean_classifier_accuracy(model, F, task_size=t, rng=5, n_tasks=2000) == a.accuracy


def test_task_sampler_law():
    # P(T) ∝ Π_{c∈T} ρ_c: each task's frequency within 5 SE of the exact probability
    rho = np.array([0.4, 0.25, 0.15, 0.1, 0.06, 0.04])
    t, N = 3, 200_000
    tasks = _sample_tasks(rho, t, N, np.random.default_rng(8))
    assert np.all(np.diff(tasks, axis=1) > 0)  # distinct, sorted
    combos = list(itertools.combinations(range(6), t))
    w = np.array([math.prod(rho[list(T)]) for T in combos])
    p = w / w.sum()
    index = {T: i for i, T in enumerate(combos)}
    counts = np.bincount([index[tuple(T)] for T in tasks.tolist()], minlength=len(combos))
    se = np.sqrt(p * (1 - p) / N)
    assert np.all(np.abs(counts / N - p) <= 5 * se)


# --------------------------------------------------------------------------- ties
def test_identical_class_vectors_are_ties_counted_as_errors():
    rho = np.array([0.5, 0.3, 0.2])
    model = LatentClassModel.one_point_per_class(rho)
    v = regular_simplex(3)
    F = np.stack([v[0], v[0], v[2]])  # classes 0 and 1 share a vector
    assert mean_classifier_accuracy(model, F) == pytest.approx(0.2, rel=1e-15)
    # balanced: only class 2 of 3 is right
    assert mean_classifier_accuracy(model, F, weighting="balanced") == pytest.approx(
        1 / 3, rel=1e-15
    )
    # 2-way tasks: {0,1} all wrong, {0,2} and {1,2} all right
    w01, w02, w12 = 0.15, 0.1, 0.06
    expected = (w02 + w12) / (w01 + w02 + w12)
    assert mean_classifier_accuracy(model, F, task_size=2) == pytest.approx(expected, rel=1e-14)


def test_zero_representation_all_ties():
    model = disjoint_model()
    F = np.zeros((model.n_points, 2))
    r = mean_classifier_metrics(model, F, 1.0)
    assert r.accuracy == 0.0
    assert r.loss == pytest.approx(math.log(model.n_classes), rel=1e-15)


def test_near_tie_tolerance():
    # F = [(1, 0), (x, 0)]: at point 0 the margin of class 0 is 1 - x; point 1 (class 1) loses.
    # A margin below 1e-12 (relative to the largest |logit|, here 1) is a tie -> error.
    model = LatentClassModel.one_point_per_class([0.5, 0.5])
    for x, expected in [(1 - 1e-13, 0.0), (1 - 1e-10, 0.5), (1.0, 0.0)]:
        F = np.array([[1.0, 0.0], [x, 0.0]])
        assert mean_classifier_accuracy(model, F) == expected


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(task_size=1), ValueError, "task_size"),
        (dict(task_size=6), ValueError, "task_size"),
        (dict(task_size=2.5), ValueError, "task_size"),
        (dict(task_size=True), TypeError, "task_size"),
        (dict(weighting="uniform"), ValueError, "weighting"),
        (dict(tau=0.0), ValueError, "tau"),
        (dict(n_tasks=1), ValueError, "n_tasks"),
    ],
)
def test_bad_input(kwargs, exc, match):
    model = disjoint_model()
    F = random_rep(model.n_points, 2, seed=0)
    with pytest.raises(exc, match=match):
        mean_classifier_metrics(model, F, **kwargs)


def test_bad_representation_and_model():
    model = disjoint_model()
    with pytest.raises(ValueError, match="F"):
        mean_classifier_loss(model, np.ones((model.n_points - 1, 2)) * 0.1)
    with pytest.raises(ValueError, match="norm"):
        mean_classifier_loss(model, np.ones((model.n_points, 2)))
    with pytest.raises(TypeError, match="model"):
        mean_classifier_accuracy("model", np.zeros((3, 2)))
    with pytest.raises(ValueError, match="weighting"):
        mean_classifier_accuracy(model, np.zeros((model.n_points, 2)), weighting="x")


def test_result_repr_and_type():
    model = disjoint_model()
    r = mean_classifier_metrics(model, random_rep(model.n_points, 2, 0))
    assert isinstance(r, DownstreamResult) and "exact" in repr(r)
    with pytest.raises(AttributeError):
        r.loss = 0.0
