"""Turning computed numbers into manifest details: JSON values, k labels, summaries of rows."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["all_true", "gaps_or_inf", "jsonable", "k_label"]


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
