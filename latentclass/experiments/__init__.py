"""Sweeps over the number of negatives ``k`` and a search for downstream degradation.

:func:`sweep_negatives` solves for the certified optimal representation at every ``k`` of
a grid (SPEC §4), evaluates the mean classifier on it (SPEC §6) and puts the competing
theory beside it (SPEC §7).  :func:`search_degradation` looks for class distributions whose
downstream loss at the optimum rises with ``k`` (the conjecture of SPEC §5).

Modules, one concept each:

- :mod:`.sweep` — the grid of ``k`` (:func:`parse_k`, :func:`parse_ks`), one row of a sweep,
  :func:`sweep_negatives` and :class:`SweepResult`;
- :mod:`.degradation` — :func:`search_degradation`, its default grid, :func:`largest_rise`,
  :class:`DegradationCase`, :class:`DegradationSearchResult`;
- :mod:`.storage` — what is written to disk: the row columns and their JSON/CSV form, atomic
  result files, the crash-safe JSON-lines checkpoint of a sweep;
- :mod:`.executors` — running independent tasks serially or on an executor (one BLAS thread
  per task, workers that die with their parent, :func:`process_pool`), with progress.
"""

from .degradation import (
    DEFAULT_FAMILIES,
    DEFAULT_KS,
    DEGRADATION_COLUMNS,
    DegradationCase,
    DegradationSearchResult,
    largest_rise,
    search_degradation,
)
from .executors import process_pool
from .storage import SWEEP_COLUMNS
from .sweep import SweepResult, parse_k, parse_ks, sweep_negatives

__all__ = [
    "DEFAULT_FAMILIES",
    "DEFAULT_KS",
    "DEGRADATION_COLUMNS",
    "SWEEP_COLUMNS",
    "DegradationCase",
    "DegradationSearchResult",
    "SweepResult",
    "largest_rise",
    "parse_k",
    "parse_ks",
    "process_pool",
    "search_degradation",
    "sweep_negatives",
]
