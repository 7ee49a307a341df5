"""The objective protocol allows ``second_order(G)`` to return ``None`` (latentclass/objective.py):
the Newton finish on the lifted sphere then stops and the gradient-only path finishes the solve."""

from __future__ import annotations

import pytest

import latentclass as lc
from latentclass.population import NCEObjective


class _NoHessianAtRunTime:
    """Announces second-order information but has none when asked (``second_order -> None``)."""

    n = 3
    convex = True
    second_order_cost = 27

    def __init__(self, inner):
        self._inner = inner

    def value_and_grad(self, G):
        return self._inner.value_and_grad(G)

    def second_order(self, G):
        return None


def test_solve_gram_survives_a_second_order_that_returns_none():
    model = lc.LatentClassModel.one_point_per_class([0.5, 0.3, 0.2])
    res = lc.solve_gram(_NoHessianAtRunTime(NCEObjective(model, 3, 1.0)))
    ref = lc.optimal_representation(model, 3, 1.0)
    assert res.certified
    assert abs(res.loss - ref.loss) <= res.duality_gap + ref.duality_gap


class _HugeObjective:
    """n = 10⁴ points, full rank: the quasi-Newton history alone would need > 2 GiB."""

    n = 10_000
    convex = True

    def value_and_grad(self, G):  # pragma: no cover - must never be reached
        raise AssertionError("the solver started although its history cannot fit")


def test_a_history_that_cannot_fit_is_refused_before_any_work():
    from latentclass._solvers.burer_monteiro import HISTORY_BYTES, history_pairs

    assert history_pairs(1000, 1000) == 30  # every size the suite solves: unchanged
    assert 3 <= history_pairs(5000, 5000) < 30  # fewer pairs, within the budget
    assert 16 * 5000 * 5001 * history_pairs(5000, 5000) <= HISTORY_BYTES
    with pytest.raises(ValueError, match=r"n\*\(dim\+1\) = 100010000 parameters .* budget"):
        lc.solve_gram(_HugeObjective())
