"""What a theorem-check figure is: a claim, a check, and the three functions behind them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FigureSpec", "define_figure"]


@dataclass(frozen=True)
class FigureSpec:
    """One theorem-check figure.

    Attributes
    ----------
    name : str
        File stem and manifest key.
    claim : str
        The statement the figure checks (one or two sentences).
    check : str
        What :attr:`verify` asserts, with tolerances.
    compute : callable ``(quick: bool) -> dict``
    verify : callable ``(data: dict) -> (bool, dict)``
    draw : callable ``(data, passed, details) -> matplotlib.figure.Figure``
    """

    name: str
    claim: str
    check: str
    compute: Callable[[bool], dict]
    verify: Callable[[dict], tuple]
    draw: Callable[[dict, bool, dict], Any]


def define_figure(name: str, functions: Mapping[str, Any], *, claim: str, check: str) -> FigureSpec:
    """The :class:`FigureSpec` of figure ``name`` from its module's functions.

    Every figure module names its three functions after the figure: ``compute_<name>``,
    ``check_<name>`` and ``draw_<name>``; ``functions`` is that module's ``globals()``.
    """
    return FigureSpec(
        name,
        claim,
        check,
        functions[f"compute_{name}"],
        functions[f"check_{name}"],
        functions[f"draw_{name}"],
    )
