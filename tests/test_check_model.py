"""One model check (``latentclass.model.check_model``) behind every public door."""

from __future__ import annotations

import numpy as np
import pytest

import latentclass as lc
from latentclass.model import check_model

M = lc.LatentClassModel.one_point_per_class([0.5, 0.5])
F = np.eye(2)


def test_check_model_returns_the_model_and_names_the_argument() -> None:
    assert check_model(M) is M
    with pytest.raises(TypeError, match=r"^teacher must be a LatentClassModel, got list$"):
        check_model([1], "teacher")
    g = lc.GaussianLatentClassModel([0.5, 0.5], np.eye(2), 0.1)
    assert check_model(g, gaussian=True) is g
    with pytest.raises(TypeError, match="model must be a LatentClassModel, got Gaussian"):
        check_model(g)
    with pytest.raises(TypeError, match="LatentClassModel or GaussianLatentClassModel, got str"):
        check_model("x", gaussian=True)


DOORS = {
    "population_loss": lambda m: lc.population_loss(m, F, 2, 1.0),
    "NCEObjective": lambda m: lc.NCEObjective(m, 2, 1.0),
    "optimal_representation": lambda m: lc.optimal_representation(m, 2, 1.0),
    "structure": lambda m: lc.structure(m, F),
    "sweep_negatives": lambda m: lc.sweep_negatives(m, [1, 2], 1.0),
    "train": lambda m: lc.train(m, k=2, tau=1.0, steps=1),
}


@pytest.mark.parametrize("door", sorted(DOORS))
def test_every_door_refuses_a_non_model_with_the_one_message(door: str) -> None:
    with pytest.raises(TypeError, match=r"model must be a LatentClassModel.*got dict"):
        DOORS[door]({})
