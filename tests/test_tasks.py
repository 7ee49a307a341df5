"""t-way task families and the binary-task theorem (SPEC §6.2, §9.1, §9.2).

Independent references: a plain Python loop over every task written below (the definition of
SPEC §6.2 with either task law), and the k = 1 population loss enumerated by
``tests/oracles.py``; Monte-Carlo task sampling checked within 5 standard errors.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from oracles import brute_force_loss_gram

import latentclass as lc
from latentclass.downstream import (
    binary_task_identity,
    binary_task_ordering,
    mean_classifier_metrics,
    task_size_profile,
)


def loop_tasks(rho, G, tau, t, weighting="class_probs", task_law="class_probs"):
    """Class-level t-way loss and accuracy by loops over tasks and labels (SPEC §6.2)."""
    m = len(rho)
    tw = tl = ta = 0.0
    for T in itertools.combinations(range(m), t):
        wT = math.prod(rho[c] for c in T) if task_law == "class_probs" else 1.0
        mass = sum(rho[c] for c in T)
        loss = acc = 0.0
        for c in T:
            wc = rho[c] / mass if weighting == "class_probs" else 1.0 / t
            s = [G[c, j] / tau for j in T]
            top = max(s)
            lse = top + math.log(math.fsum(math.exp(v - top) for v in s))
            loss += wc * (lse - G[c, c] / tau)
            acc += wc * all(G[c, c] > G[c, j] for j in T if j != c)
        tw += wT
        tl += wT * loss
        ta += wT * acc
    return tl / tw, ta / tw


def unit_rows(m, d, seed, scale=None):
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(m, d))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    if scale is not None:
        F *= rng.uniform(scale, 1.0, size=(m, 1))
    return F


def affine(rho, l1):
    s2 = math.fsum(r * r for r in rho)
    return (l1 - math.log(2.0) * s2) / (1.0 - s2)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("weighting", ["class_probs", "balanced"])
def test_identity_unit_diagonal(seed, weighting):
    rng = np.random.default_rng(100 + seed)
    m = int(rng.integers(2, 6))
    rho = rng.dirichlet(np.full(m, 0.7))
    tau = float(rng.uniform(0.3, 2.0))
    model = lc.LatentClassModel.one_point_per_class(rho)
    F = unit_rows(m, int(rng.integers(1, m + 1)), seed)
    G = F @ F.T
    two_way, _ = loop_tasks(rho, G, tau, 2, weighting)
    l1 = brute_force_loss_gram(model, G, 1, tau)
    assert abs(two_way - affine(rho, l1)) <= 1e-12  # the theorem, independently
    res = binary_task_identity(model, F, tau, weighting)
    assert res.applies
    assert abs(res.two_way_loss - two_way) <= 1e-12
    assert abs(res.affine_value - affine(rho, l1)) <= 1e-12
    assert abs(res.difference) <= 1e-12


@pytest.mark.parametrize("seed", range(4))
def test_identity_balanced_any_diagonal(seed):
    rng = np.random.default_rng(200 + seed)
    m = 5
    rho = rng.dirichlet(np.ones(m))
    model = lc.LatentClassModel.one_point_per_class(rho)
    F = unit_rows(m, 3, seed, scale=0.2)  # unequal norms
    G = F @ F.T
    two_way, _ = loop_tasks(rho, G, 0.8, 2, "balanced")
    assert abs(two_way - affine(rho, brute_force_loss_gram(model, G, 1, 0.8))) <= 1e-12
    res = binary_task_identity(model, F, 0.8, "balanced")
    assert res.applies and abs(res.difference) <= 1e-12


def test_identity_fails_for_unequal_norms():
    """With ρ-weighted labels the diagonal condition of Theorem 1(b) is needed."""
    rho = np.array([0.6, 0.25, 0.1, 0.05])
    model = lc.LatentClassModel.one_point_per_class(rho)
    F = unit_rows(4, 3, 7) * np.array([[1.0], [0.3], [0.9], [0.5]])
    res = binary_task_identity(model, F, 0.5, "class_probs")
    two_way, _ = loop_tasks(rho, F @ F.T, 0.5, 2, "class_probs")
    assert not res.applies
    assert abs(res.two_way_loss - two_way) <= 1e-12
    assert abs(res.difference) > 1e-3


def test_dominant_two_way_rises_with_k():
    rho = lc.parse_class_probs("dominant:4:0.9")
    model = lc.LatentClassModel.one_point_per_class(rho)
    order = binary_task_ordering(model, [64], 1.0)
    assert order.ks == (1, 64)
    assert bool(np.all(order.certified)) and bool(np.all(order.unit_diagonal))
    assert order.holds
    # strictly larger at k = 64, by far more than the certified gaps allow to blur
    rise = order.two_way_losses[1] - order.two_way_losses[0]
    assert rise > 1e-3 > 100 * max(order.duality_gaps)
    # the rise is the theorem's (L_1(G_64) − L_1(G_1)) / (1 − Σρ²), and matches the loop
    s2 = float(np.sum(rho**2))
    assert rise == pytest.approx((order.l1_values[1] - order.l1_values[0]) / (1 - s2), abs=1e-12)
    for k in (1, 64):
        opt = lc.optimal_representation(model, k, 1.0, method="numerical")
        ref, _ = loop_tasks(rho, opt.gram, 1.0, 2)
        assert ref == pytest.approx(order.two_way_losses[order.ks.index(k)], abs=1e-7)
    assert order.lower_bound <= order.two_way_losses[0]
    assert order.two_way_losses[0] - order.lower_bound <= 1e-6
    assert "holds=True" in repr(order)


@pytest.mark.parametrize("task_law", ["class_probs", "uniform"])
@pytest.mark.parametrize("weighting", ["class_probs", "balanced"])
def test_profile_every_t_matches_loop(task_law, weighting):
    rho = np.array([0.4, 0.25, 0.15, 0.12, 0.08])
    model = lc.LatentClassModel.one_point_per_class(rho)
    F = unit_rows(5, 3, 3, scale=0.4)
    prof = task_size_profile(model, F, 0.7, weighting=weighting, task_law=task_law)
    assert prof.task_sizes == (2, 3, 4, 5)
    for row in prof.rows:
        loss, acc = loop_tasks(rho, F @ F.T, 0.7, row["t"], weighting, task_law)
        assert row["exact"] and row["loss_stderr"] == 0.0
        assert row["loss"] == pytest.approx(loss, abs=1e-12)
        assert row["accuracy"] == pytest.approx(acc, abs=1e-12)
    assert prof.losses.shape == (4,) and "task_law" in repr(prof)


def test_uniform_task_law_differs_from_rho_law():
    rho = np.array([0.7, 0.2, 0.05, 0.05])
    model = lc.LatentClassModel.one_point_per_class(rho)
    F = unit_rows(4, 2, 11, scale=0.3)
    a = mean_classifier_metrics(model, F, 1.0, 2, task_law="class_probs").loss
    b = mean_classifier_metrics(model, F, 1.0, 2, task_law="uniform").loss
    assert abs(a - b) > 1e-3
    assert b == pytest.approx(loop_tasks(rho, F @ F.T, 1.0, 2, task_law="uniform")[0], abs=1e-12)


@pytest.mark.parametrize("task_law", ["class_probs", "uniform"])
def test_sampled_tasks_within_five_se(task_law):
    rho = np.random.default_rng(5).dirichlet(np.ones(8))
    model = lc.LatentClassModel.one_point_per_class(rho)
    F = unit_rows(8, 4, 5, scale=0.5)
    exact = mean_classifier_metrics(model, F, 1.0, 3, task_law=task_law)
    samp = mean_classifier_metrics(
        model, F, 1.0, 3, task_law=task_law, rng=3, max_enumerate=1, n_tasks=20_000
    )
    assert exact.exact and not samp.exact and samp.loss_stderr > 0
    assert abs(samp.loss - exact.loss) <= 5 * samp.loss_stderr
    # the other law is far away: the sampler uses the law asked for
    other = "uniform" if task_law == "class_probs" else "class_probs"
    far = mean_classifier_metrics(model, F, 1.0, 3, task_law=other).loss
    assert abs(far - exact.loss) > 5 * samp.loss_stderr


def test_profile_seeded():
    model = lc.LatentClassModel.one_point_per_class(np.full(30, 1 / 30))
    F = unit_rows(30, 5, 1)
    a = task_size_profile(model, F, task_sizes=[2, 15], rng=4, n_tasks=500)
    b = task_size_profile(model, F, task_sizes=[2, 15], rng=4, n_tasks=500)
    assert a.results[0].exact and not a.results[1].exact
    assert np.array_equal(a.losses, b.losses)


@pytest.mark.parametrize(
    ("call", "exc", "word"),
    [
        (lambda m, F: task_size_profile(m, F, task_sizes=[1]), ValueError, "task_sizes"),
        (lambda m, F: task_size_profile(m, F, task_sizes=[5]), ValueError, "task_sizes"),
        (lambda m, F: task_size_profile(m, F, task_sizes=[]), ValueError, "task_sizes"),
        (lambda m, F: task_size_profile(m, F, task_sizes=3), TypeError, "task_sizes"),
        (lambda m, F: task_size_profile(m, F, task_law="x"), ValueError, "task_law"),
        (lambda m, F: mean_classifier_metrics(m, F, task_law="x"), ValueError, "task_law"),
        (lambda m, F: binary_task_identity(m, F, weighting="x"), ValueError, "weighting"),
        (lambda m, F: binary_task_ordering(m, [0]), ValueError, "ks"),
        (lambda m, F: binary_task_ordering(m, 3), TypeError, "ks"),
        (lambda m, F: binary_task_identity("m", F), TypeError, "model"),
    ],
)
def test_errors(call, exc, word):
    model = lc.LatentClassModel.one_point_per_class([0.4, 0.3, 0.2, 0.1])
    with pytest.raises(exc, match=word):
        call(model, unit_rows(4, 2, 0))


def test_identity_refuses_point_level():
    model = lc.LatentClassModel.disjoint([0.5, 0.5], [2, 1])
    with pytest.raises(ValueError, match="class-level"):
        binary_task_identity(model, unit_rows(3, 2, 0))


# --------------------------------------------------------------------------- figures
def test_binary_tasks_figure_check_passes_and_fails_on_wrong_data():
    import copy

    from latentclass.figures.degradation_sources import check_binary_tasks, compute_binary_tasks

    data = compute_binary_tasks(True)
    ok, details = check_binary_tasks(data)
    assert ok, details
    assert details["strict_rise_dominant_k64"] > 1e-3
    bad = copy.deepcopy(data)  # an identity violated at one optimum
    bad["models"]["zipf:5:1"]["identity_differences"][1] = 1e-9
    assert not check_binary_tasks(bad)[0]
    bad = copy.deepcopy(data)  # a k whose 2-way loss is below the k = 1 value
    bad["models"]["zipf:5:1"]["two_way"][2] = bad["models"]["zipf:5:1"]["two_way"][0] - 1e-6
    assert not check_binary_tasks(bad)[0]
    bad = copy.deepcopy(data)  # no strict rise for the dominant model
    d = bad["models"]["dominant:4:0.9"]
    d["two_way"] = [d["two_way"][0]] * len(d["two_way"])
    assert not check_binary_tasks(bad)[0]


def test_degradation_search_reports_every_task_size():
    ks = [1, 16, 64]
    res = lc.search_degradation(["zipf:5:1"], ks, 1.0, n_random=0, weighting="class_probs")
    (case,) = res.cases
    assert sorted(case.task_rises) == [2, 3, 4]
    rho = lc.parse_class_probs("zipf:5:1")
    model = lc.LatentClassModel.one_point_per_class(rho)
    for t in (2, 3, 4):
        vals = []
        for k in ks:
            opt = lc.optimal_representation(model, k, 1.0)
            vals.append(loop_tasks(rho, opt.gram, 1.0, t)[0])
        rise = max(vals[j] - vals[i] for i in range(3) for j in range(i + 1, 3))
        assert case.task_rises[t] == pytest.approx(rise, abs=1e-7)
    # the full task falls with k for this law while 2-way tasks rise (SPEC §9.2)
    assert case.rise <= 0 < case.task_rises[2]
