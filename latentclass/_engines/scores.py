"""Conventions shared by the two exact engines of the population loss (SPEC §3).

Both :mod:`latentclass._engines.laplace` (Frullani/Laplace quadrature) and :mod:`latentclass._engines.multiset`
(dense sums over the multisets of negatives) take log-scores ``log a_{p,y}`` of pairs grouped
by anchor ("anchor families", pairs sorted by anchor).  This module holds what they share: the
largest supported log-score and its error, and the anchor-run bookkeeping.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_LOG_SCORE", "scores_too_large"]


#: Largest supported log-score ``max_y log a_y`` (``t'`` up to ``45 e^{650}`` stays finite).
MAX_LOG_SCORE = 650.0
#: Floor used instead of an underflowed value.
_TINY = 1e-300


def scores_too_large(value: float) -> ValueError:
    """The error raised when a log-score exceeds :data:`MAX_LOG_SCORE`."""
    return ValueError(
        f"scores too large: max log a_y = {value:.6g} exceeds {MAX_LOG_SCORE} "
        "(e^a overflows double precision); for the NCE loss this is (G[x,y] − G[x,x⁺]) / tau — "
        "use |G| <= 1 (unit-norm representations) or a larger tau"
    )


def _row_starts(anchor: np.ndarray) -> np.ndarray:
    """First index of every run of equal values in the sorted ``anchor`` array."""
    if anchor.size == 0:
        return np.zeros(0, np.int64)
    return np.concatenate(([0], np.flatnonzero(anchor[1:] != anchor[:-1]) + 1))


def _segment_sum(values: np.ndarray, starts: np.ndarray, n_seg: int) -> np.ndarray:
    """Sum consecutive row-blocks of ``values``; block ``i`` starts at ``starts[i]`` (non-empty blocks)."""
    if values.shape[0] == n_seg:  # one row per block
        return values
    return np.add.reduceat(values, starts, axis=0)
