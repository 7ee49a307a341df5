"""The latent-class models the figures are computed on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..model import LatentClassModel

__all__ = ["NONUNIFORM_RHO", "class_level_model", "collapse_models", "uniform_model"]

#: The non-uniform class distribution shared by several figures (m = 4).
NONUNIFORM_RHO = (0.4, 0.3, 0.2, 0.1)


def class_level_model(rho: Sequence[float] | np.ndarray) -> LatentClassModel:
    """One point per class with class probabilities ``rho``."""
    from ..model import LatentClassModel

    return LatentClassModel.one_point_per_class(np.array(rho))


def uniform_model(m: int) -> LatentClassModel:
    """One point per class, ``m`` classes of probability ``1/m``."""
    return class_level_model(np.full(m, 1.0 / m))


def collapse_models() -> dict[str, LatentClassModel]:
    """The two point-level models of the collapse figure: ``{label: LatentClassModel}``.

    Both have ρ = (0.5, 0.3, 0.2) and 7 points with unequal weights within each class;
    in the overlapping one, classes 0 and 1 share point 2 and classes 1 and 2 share point 4.
    """
    from ..model import LatentClassModel

    rho = np.array([0.5, 0.3, 0.2])
    disjoint = LatentClassModel.disjoint(
        rho, [3, 2, 2], within=[[0.5, 0.3, 0.2], [0.7, 0.3], [0.6, 0.4]]
    )
    cond = np.array(disjoint.class_conditionals)
    cond[1, 2] = 0.25  # class 1 also draws point 2 (a point of class 0)
    cond[2, 4] = 0.3  # class 2 also draws point 4 (a point of class 1)
    cond /= cond.sum(axis=1, keepdims=True)
    return {"disjoint": disjoint, "overlapping": LatentClassModel(rho, cond)}
