"""Every theorem-check figure, by name, in drawing order."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .certificates import SOLVER_CERTIFICATES, SYMBOLIC_CERTIFICATES
from .collapse import POINT_COLLAPSE
from .limits import LARGE_K_LIMIT
from .nonuniform import NONUNIFORM_FAMILIES
from .spec import FigureSpec
from .training import TRAINING
from .uniform import DOWNSTREAM_UNIFORM, GRAM_ACROSS_K, POPULATION_LOSS

__all__ = ["REGISTRY", "figure_names", "select_figures"]

#: Name -> :class:`FigureSpec`, in drawing order.
REGISTRY: dict[str, FigureSpec] = {
    spec.name: spec
    for spec in (
        POPULATION_LOSS,
        GRAM_ACROSS_K,
        DOWNSTREAM_UNIFORM,
        NONUNIFORM_FAMILIES,
        LARGE_K_LIMIT,
        SYMBOLIC_CERTIFICATES,
        POINT_COLLAPSE,
        SOLVER_CERTIFICATES,
        TRAINING,
    )
}


def figure_names() -> list[str]:
    """Names of every registered figure, in drawing order."""
    return list(REGISTRY)


def select_figures(only: Any) -> list[str]:
    """The names ``only`` asks for (a name or a sequence of names; ``None``: all), in drawing order.

    Raises ``TypeError``/``ValueError`` naming ``only`` for a wrong type, an unknown name or
    an empty selection.
    """
    if only is None:
        return figure_names()
    if isinstance(only, str):
        only = [only]
    if not isinstance(only, Iterable):
        raise TypeError(
            f"only must be a figure name or a sequence of names, got {type(only).__name__}"
        )
    names = list(only)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise ValueError(
            f"only: unknown figure name(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(REGISTRY)}"
        )
    if not names:
        raise ValueError("only must name at least one figure")
    return [n for n in REGISTRY if n in names]
