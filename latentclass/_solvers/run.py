"""The one result type of every solver path (internal)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..certificate import Certificate


@dataclass(frozen=True, eq=False)
class SolverRun:
    """What every solver path returns (internal): the factor ``F`` (``gram = F Fᵀ``
    bit-for-bit), the loss at ``gram``, the best certificate found (``None`` for the
    rank-constrained problem), iterations, the path's name and what it did."""

    F: np.ndarray
    gram: np.ndarray
    loss: float
    certificate: Certificate | None
    n_iter: int
    solver: str
    status: str
