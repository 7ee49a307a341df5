"""Sweeps over the number of negatives ``k`` and a search for downstream degradation.

:func:`sweep_negatives` solves for the certified optimal representation at every ``k`` of
a grid (SPEC §4), evaluates the mean classifier on it (SPEC §6) and puts the competing
theory beside it (SPEC §7).  :func:`search_degradation` looks for class distributions whose
downstream loss at the optimum rises with ``k`` (the conjecture of SPEC §5).

Modules, one concept each:

- :mod:`.k_grid` — the grid of ``k``: validation and :func:`parse_ks`;
- :mod:`.sweep_rows` — one row of a sweep: its columns, its computation, its JSON/CSV form;
- :mod:`.task_runner` — running independent tasks serially or on an executor (one BLAS
  thread per task, workers that die with their parent, :func:`process_pool`), with progress;
- :mod:`.checkpoint` — the crash-safe JSON-lines checkpoint of a sweep;
- :mod:`.output_files` — atomic writes of result files;
- :mod:`.sweep` — :func:`sweep_negatives` and :class:`SweepResult`;
- :mod:`.degradation_results` — :func:`largest_rise`, :class:`DegradationCase`,
  :class:`DegradationSearchResult`;
- :mod:`.degradation` — :func:`search_degradation` and its default grid.
"""

from .degradation import DEFAULT_FAMILIES, DEFAULT_KS, search_degradation
from .degradation_results import (
    DEGRADATION_COLUMNS,
    DegradationCase,
    DegradationSearchResult,
    largest_rise,
)
from .k_grid import parse_k, parse_ks
from .sweep import SweepResult, sweep_negatives
from .sweep_rows import SWEEP_COLUMNS
from .task_runner import process_pool

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
