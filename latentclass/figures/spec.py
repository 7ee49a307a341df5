"""What a theorem-check figure is: a claim, a check, and the three functions behind them.

Also what a figure's numbers become in the manifest (:func:`jsonable`, :func:`k_label`,
summaries of rows): the records every figure's ``check_<name>`` returns.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["FigureSpec", "all_true", "define_figure", "gaps_or_inf", "jsonable", "k_label"]


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


# ----------------------------------------------------------- manifest records


def jsonable(x: Any) -> Any:
    """Plain-JSON version of ``x``: numpy → Python, non-finite floats → ``"inf"``/``"-inf"``/``"nan"``."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        v = float(x)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    if x is None or isinstance(x, str):
        return x
    return str(x)


def k_label(k: Any) -> str:
    """``k`` as text: ``"∞"`` for ``math.inf``, else the integer."""
    return "∞" if k == math.inf else str(int(k))


def all_true(rows: Iterable[dict], key: str = "certified") -> bool:
    """Whether ``row[key]`` is true in every row (e.g. every optimum certified)."""
    return all(bool(r[key]) for r in rows)


def gaps_or_inf(rows: Iterable[dict], key: str = "gap") -> list[float]:
    """``row[key]`` of every row, a missing (``None``) duality gap counted as ``inf``."""
    return [math.inf if r[key] is None else r[key] for r in rows]
