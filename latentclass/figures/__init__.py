"""Theorem-check figures: each one computes a claim, checks it, draws it and records it.

A figure here is a check.  Every entry of :data:`REGISTRY` is a :class:`FigureSpec` with

- ``compute(quick) -> data``: the numbers (solves, closed forms, Monte-Carlo estimates);
- ``verify(data) -> (passed, details)``: the check, a pure function of ``data`` that can
  fail (tests feed it deliberately wrong data); ``details`` are the key numbers, JSON-able;
- ``draw(data, passed, details, ax=None) -> Figure``: the picture, in the house style of
  :mod:`latentclass.figures.style`, titled with the claim; given ``ax`` (one Axes, or
  a sequence of as many Axes as the figure has panels) it draws the panels into the caller's
  axes instead and returns their figure (:func:`~latentclass.figures.style.panels`).

:func:`make_figures` runs them, writes ``<name>.png`` and ``<name>.pdf`` and
``manifest.json`` — a list of records ``{name, files, claim, check, passed, details,
seconds}`` (``files`` relative to the output directory) — and returns the records.
``quick=True`` uses small grids (the whole set in well under a minute); the full run
uses the grids of the paper-style figures (minutes on 2 cores).

The figures, by module: ``uniform`` (``population_loss``, ``gram_across_k``,
``downstream_uniform``), ``nonuniform`` (``nonuniform_families``), ``limits``
(``large_k_limit``), ``certificates`` (``symbolic_certificates``, ``solver_certificates``),
``collapse`` (``point_collapse``) and ``sampled_training`` (``training``).  Each figure's claim and
check are written once, in its :class:`FigureSpec`; :func:`readme_table` renders them for the
README (a test keeps the two equal).

The other modules, one concept each: ``spec`` (what a figure is, and the JSON records of its
details), ``registry`` (the figures in drawing order), ``runner`` (running them and writing
the manifest and data files), ``report`` (the HTML page of every check), ``example_models``
(the models the figures use) and ``style`` (the plotting style of every figure and the
drawing helpers built on it).
"""

from __future__ import annotations

from .certificates import (
    CVXPY_TOL,
    GAP_TOL,
    check_solver_certificates,
    check_symbolic_certificates,
    compute_solver_certificates,
    compute_symbolic_certificates,
    draw_solver_certificates,
    draw_symbolic_certificates,
)
from .collapse import (
    COLLAPSE_TOL,
    check_point_collapse,
    compute_point_collapse,
    draw_point_collapse,
)
from .example_models import collapse_models
from .limits import (
    SLOPE_FIT_KMIN,
    SLOPE_TOL,
    check_large_k_limit,
    compute_large_k_limit,
    draw_large_k_limit,
)
from .nonuniform import (
    RISE_ROUNDING,
    check_nonuniform_families,
    compute_nonuniform_families,
    draw_nonuniform_families,
)
from .registry import README_TABLE_END, README_TABLE_START, REGISTRY, figure_names, readme_table
from .runner import make_figures, run_figure
from .sampled_training import (
    TRAIN_BELOW_OPT_TOL,
    TRAIN_DOWN_TOL,
    TRAIN_GAP_TOL,
    check_training,
    compute_training,
    draw_training,
)
from .spec import FigureSpec

# Besides __all__, each figure's compute_/check_/draw_ functions and tolerances are importable
# from here (tests feed the checks wrong data; scripts redraw single figures).
from .style import save_figure
from .uniform import (
    DOWN_TOL,
    GRAM_NONUNIFORM_RHO,
    GRAM_TOL,
    POP_TOL_NUMERICAL,
    POP_Z_MAX,
    check_downstream_uniform,
    check_gram_across_k,
    check_population_loss,
    compute_downstream_uniform,
    compute_gram_across_k,
    compute_population_loss,
    downstream_closed_form,
    draw_downstream_uniform,
    draw_gram_across_k,
    draw_population_loss,
)

__all__ = [
    "REGISTRY",
    "FigureSpec",
    "figure_names",
    "make_figures",
    "run_figure",
]
