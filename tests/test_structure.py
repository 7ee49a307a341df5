"""structure(): against direct loops over points and classes, on hand-built representations."""

import itertools
import math

import numpy as np
import pytest
from oracles import simplex_vertices as unit_simplex

import latentclass as lc
from latentclass.closed_form import simplex_gram
from latentclass.structure import structure


def loop_report(model, F):
    C = model.class_conditionals
    m, n = C.shape
    collapse = 0.0
    for c in range(m):
        pts = [x for x in range(n) if C[c, x] > 0]
        for x, y in itertools.product(pts, pts):
            collapse = max(collapse, math.dist(F[x], F[y]))
    means = np.array([sum(C[c, x] * F[x] for x in range(n)) for c in range(m)])
    return collapse, means


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_loops_on_random_models(seed):
    rng = np.random.default_rng(seed)
    for model in (
        lc.LatentClassModel.disjoint(
            [0.2, 0.5, 0.3], [3, 1, 4], within=[rng.random(3), [1.0], rng.random(4)]
        ),
        lc.LatentClassModel([0.4, 0.6], rng.dirichlet(np.ones(5), size=2)),
    ):
        F = rng.standard_normal((model.n_points, 3))
        F /= 1.1 * np.linalg.norm(F, axis=1, keepdims=True)
        rep = structure(model, F)
        collapse, means = loop_report(model, F)
        assert abs(rep.collapse_error - collapse) < 1e-12
        np.testing.assert_allclose(rep.class_means, means, atol=1e-14)
        np.testing.assert_allclose(rep.class_gram, means @ means.T, atol=1e-14)
        np.testing.assert_allclose(rep.norms, np.linalg.norm(F, axis=1), atol=1e-15)
        G = simplex_gram(model.n_classes)
        assert abs(rep.simplex_error - np.abs(means @ means.T - G).max()) < 1e-14
        assert not rep.is_collapsed() and not rep.is_regular_simplex()


def test_collapsed_simplex_is_recognised():
    m = 5
    model = lc.LatentClassModel.disjoint(np.full(m, 1 / m), [2, 3, 1, 4, 2])
    F = unit_simplex(m)[model.point_classes]
    rep = structure(model, F)
    assert rep.is_collapsed(1e-12) and rep.is_regular_simplex(1e-12)
    expected = math.degrees(math.acos(-1 / (m - 1)))
    assert abs(rep.min_angle - expected) < 1e-9 and abs(rep.max_angle - expected) < 1e-9
    assert abs(rep.effective_rank - (m - 1)) < 1e-9  # m−1 equal non-zero eigenvalues
    # breaking one point breaks collapse, not (much) the means
    F2 = F.copy()
    F2[0] = -F2[0]
    assert not structure(model, F2).is_collapsed()


def test_simplex_gram_entries():
    for m in (2, 3, 7):
        G = simplex_gram(m)
        np.testing.assert_allclose(np.diag(G), 1.0, atol=1e-15)
        off = G[~np.eye(m, dtype=bool)]
        np.testing.assert_allclose(off, -1.0 / (m - 1), atol=1e-15)
        V = unit_simplex(m)
        np.testing.assert_allclose(V @ V.T, G, atol=1e-15)


def test_zero_means_do_not_produce_nan():
    model = lc.LatentClassModel.one_point_per_class([0.5, 0.5])
    rep = structure(model, np.zeros((2, 3)))
    assert rep.min_angle == 0.0 and rep.effective_rank == 0.0 and rep.is_collapsed()
    assert "StructureReport(m=2" in repr(rep)


def test_bad_input():
    model = lc.LatentClassModel.one_point_per_class([0.5, 0.5])
    with pytest.raises(ValueError, match="F must have one row per point"):
        structure(model, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="F rows must have norm <= 1"):
        structure(model, np.full((2, 2), 1.0))
    with pytest.raises(TypeError, match="model must be a LatentClassModel"):
        structure("model", np.zeros((2, 2)))


# ------------------------------------------------------------------ on certified numerical optima
def test_uniform_optimum_is_a_regular_simplex():
    """SPEC §5: uniform ρ, disjoint supports — the certified numerical optimum (not the closed
    form) collapses every class and its class means form the regular simplex."""
    model = lc.LatentClassModel.disjoint(np.full(4, 0.25), [2, 1, 3, 2])
    for k in (1, 8, math.inf):
        opt = lc.optimal_representation(model, k, tau=0.5, method="numerical", rng=1)
        assert opt.certified
        rep = structure(model, opt.F)
        assert rep.is_collapsed(1e-4) and rep.is_regular_simplex(1e-4), (k, rep)


def test_disjoint_nonuniform_optimum_is_collapsed_but_not_a_simplex():
    model = lc.LatentClassModel.disjoint(
        [0.5, 0.3, 0.2], [3, 2, 2], within=[[1, 2, 3], [1, 4], [2, 1]]
    )
    for k in (2, 64):
        opt = lc.optimal_representation(model, k, method="numerical", rng=2)
        assert opt.certified
        rep = structure(model, opt.F)
        assert rep.is_collapsed(1e-4), (k, rep)
        np.testing.assert_allclose(rep.norms, 1.0, atol=1e-6)  # class vectors on the sphere
        assert not rep.is_regular_simplex(1e-3)  # ρ matters: the angles differ


def test_overlapping_optimum_is_reported_as_not_collapsed():
    """No structure is claimed for overlapping supports: the report says what the optimum is."""
    model = lc.LatentClassModel([0.5, 0.5], [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]])
    opt = lc.optimal_representation(model, 4, method="numerical", rng=3)
    assert opt.certified
    rep = structure(model, opt.F)
    assert not rep.is_collapsed(1e-3)
    # the shared point 1 sits strictly inside the ball, between the two class directions
    assert rep.norms[1] < 0.9
    assert rep.collapse_error == pytest.approx(
        max(np.linalg.norm(opt.F[0] - opt.F[1]), np.linalg.norm(opt.F[1] - opt.F[2])), abs=1e-12
    )
