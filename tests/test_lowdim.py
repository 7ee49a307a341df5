"""Low-dimensional optima with a certified lower bound (SPEC §9.4).

Independent references: the population loss of the regular pentagon and of sign patterns
enumerated over every multiset of negatives (``tests/oracles.py``), the limit objective
written from its definition, and the convex optimum from CVXPY + Clarabel.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from oracles import brute_force_limit, brute_force_loss_gram

import latentclass as lc
from latentclass.lowdim import low_dim_optimum, regular_polygon


def pentagon_gram():
    ang = 2 * math.pi * np.arange(5) / 5
    return np.cos(ang[:, None] - ang[None, :])  # G_ij = cos(θ_i − θ_j)


@pytest.mark.parametrize("k", [1, 16, math.inf])
def test_uniform_pentagon(k):
    model = lc.LatentClassModel.one_point_per_class(np.full(5, 0.2))
    res = low_dim_optimum(model, k, 1.0, 2, n_restarts=4)
    G = pentagon_gram()
    ref = (
        brute_force_limit(model, G, 1.0)
        if k == math.inf
        else brute_force_loss_gram(model, G, k, 1.0)
    )
    assert res.loss == pytest.approx(ref, abs=1e-9)
    assert res.reference_loss == pytest.approx(ref, abs=1e-9)
    assert res.lower_bound < res.loss
    assert res.gap_to_bound == pytest.approx(res.loss - res.lower_bound, abs=0)
    assert np.linalg.matrix_rank(res.gram, tol=1e-8) <= 2
    assert res.relaxation_rank == 4  # the relaxation's optimum is the simplex (rank m − 1)
    # no candidate beats the pentagon by more than rounding
    assert min(v for _, v in res.candidates) >= ref - 1e-9


def test_lower_bound_below_clarabel_convex_optimum():
    from latentclass.conic import conic_optimum

    model = lc.LatentClassModel.one_point_per_class([0.4, 0.3, 0.2, 0.1])
    res = low_dim_optimum(model, 1, 1.0, 2, n_restarts=3)
    conic = conic_optimum(model, 1, 1.0, tol=1e-10)
    assert res.lower_bound <= conic.loss + 1e-9
    assert conic.loss - res.lower_bound <= 1e-6  # and tight against the relaxation
    assert res.lower_bound <= res.loss
    assert res.loss >= conic.loss - 1e-9  # rank 2 cannot beat the convex optimum


def test_d1_sign_pattern_search_zipf():
    model = lc.LatentClassModel.one_point_per_class(lc.parse_class_probs("zipf:5:1"))
    res = low_dim_optimum(model, 16, 1.0, 1, n_restarts=2)
    assert res.loss == pytest.approx(2.2966402, abs=5e-8)
    assert res.F.shape == (5, 1)
    ref = brute_force_loss_gram(model, res.gram, 16, 1.0)
    assert res.loss == pytest.approx(ref, abs=1e-10)
    # every sign pattern at unit norm, by the multiset-enumeration engine: none is lower
    best = min(
        lc.population_loss(model, np.array([1.0, *s])[:, None], 16, 1.0, method="enumerate")
        for s in np.ndindex(*(2,) * 4)
        for s in [tuple(1.0 - 2.0 * np.array(s))]
    )
    assert res.loss <= best + 1e-12
    assert res.lower_bound < res.loss
    # the default solver with its default restarts stops higher (issue 15)
    default = lc.optimal_representation(model, 16, 1.0, dim=1)
    assert default.loss >= res.loss - 1e-12


def test_regular_polygon():
    P = regular_polygon(6, [0, 2, 4, 1, 3, 5])
    assert np.allclose(np.linalg.norm(P, axis=1), 1)
    assert np.allclose(P[1], [math.cos(4 * math.pi / 6), math.sin(4 * math.pi / 6)])
    with pytest.raises(ValueError, match="order"):
        regular_polygon(4, [0, 1, 1, 2])


def test_errors_and_repr():
    model = lc.LatentClassModel.one_point_per_class([0.5, 0.3, 0.2])
    with pytest.raises(ValueError, match="dim"):
        low_dim_optimum(model, 2, 1.0, 3)
    with pytest.raises(TypeError, match="model"):
        low_dim_optimum("m", 2)
    with pytest.raises(ValueError, match="tau"):
        low_dim_optimum(model, 2, -1.0, 1)
    res = low_dim_optimum(model, 2, 1.0, 1, n_restarts=1)
    assert "LowDimOptimum(" in repr(res) and res.lower_bound <= res.loss


def test_low_dim_figure_check_fails_on_wrong_data():
    import copy

    from latentclass.figures.degradation_sources import check_low_dim_search

    rows = [
        dict(m=5, d=2, tau=1.0, k=1, loss=0.5, lower_bound=0.4, polygon=0.5, source="polygon", change=0.0),
        dict(m=5, d=2, tau=1.0, k=16, loss=2.1, lower_bound=2.0, polygon=2.1, source="polygon", change=0.0),
    ]  # fmt: skip
    data = dict(rows=rows, zipf_d1=dict(best=2.29, lower_bound=2.1, default=2.30, source="s"))
    assert check_low_dim_search(data)[0]
    bad = copy.deepcopy(data)
    bad["rows"][1]["loss"] = 2.1 - 1e-6  # beats the polygon: the claim fails
    assert not check_low_dim_search(bad)[0]
    bad = copy.deepcopy(data)
    bad["rows"][0]["lower_bound"] = 0.6  # a "lower bound" above the value
    assert not check_low_dim_search(bad)[0]
    bad = copy.deepcopy(data)
    bad["zipf_d1"]["best"] = 2.31  # the search worse than the default solver
    assert not check_low_dim_search(bad)[0]
