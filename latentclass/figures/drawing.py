"""Drawing helpers shared by the figures, on top of the house style of :mod:`latentclass.figures.house_style`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .house_style import PALETTE

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["K_LABEL", "floor_abs", "k_axis", "tolerance_line"]

#: x-axis label of every plot against the number of negatives.
K_LABEL = "number of negatives $k$"


def floor_abs(values: Any, floor: float = 1e-17) -> np.ndarray:
    """``max(|v|, floor)`` for log axes (exact zeros drawn on the floor)."""
    v = np.abs(np.asarray(values, dtype=float))
    return np.maximum(v, floor)


def tolerance_line(
    ax: Axes,
    value: float,
    text: str | None = None,
    xy: tuple[float, float] | None = None,
    *,
    legend: str | None = None,
    fontsize: float = 6.3,
    **text_kwargs: Any,
) -> None:
    """Dashed vermillion line at the check's tolerance ``value``, optionally labelled.

    ``text`` is written at ``xy`` (data coordinates unless ``transform=`` is given);
    ``legend`` labels the line in the axes' legend instead.
    """
    color = PALETTE["vermillion"]
    ax.axhline(value, color=color, ls="--", lw=0.8, label=legend)  # label None: not in the legend
    if text is not None:
        if xy is None:
            raise TypeError("tolerance_line: xy is required when text is given")
        ax.text(*xy, text, fontsize=fontsize, color=color, **text_kwargs)


def _inf_position(finite: Sequence[float]) -> float:
    """Where ``k = ∞`` is drawn on a log axis: a factor 8 beyond the largest finite ``k``."""
    return float(max(finite)) * 8.0


def k_axis(ax: Axes, ks: Sequence[Any], *, base: int = 10) -> np.ndarray:
    """Log-``k`` axis; returns x positions with ``∞`` mapped past the largest finite ``k``.

    Adds an ``∞`` tick and a dotted separator when ``ks`` contains ``math.inf``.
    """
    finite = [float(k) for k in ks if k != math.inf]
    xinf = _inf_position(finite)
    xs = np.array([xinf if k == math.inf else float(k) for k in ks])
    ax.set_xscale("log", base=base)
    if any(k == math.inf for k in ks):
        sep = math.sqrt(max(finite) * xinf)
        ax.axvline(sep, color="0.6", lw=0.6, ls=":", zorder=0)
        ticks = _log_ticks(min(finite), max(finite), base) + [xinf]
        labels = [_tick_label(t, base) for t in ticks[:-1]] + [r"$\infty$"]
        ax.set_xticks(ticks)
        ax.set_xticklabels(labels)
        ax.set_xlim(min(finite) / 1.6, xinf * 1.6)
    return xs


def _log_ticks(lo: float, hi: float, base: int) -> list[float]:
    a = math.floor(math.log(lo, base) + 1e-9)
    b = math.ceil(math.log(hi, base) - 1e-9)
    span = b - a
    step = max(1, int(math.ceil(span / 6)))
    return [float(base) ** e for e in range(a, b + 1, step) if lo / 1.01 <= base**e <= hi * 1.01]


def _tick_label(t: float, base: int) -> str:
    e = round(math.log(t, base))
    if base == 10:
        return "1" if e == 0 else ("10" if e == 1 else rf"$10^{{{e}}}$")
    return rf"${base}^{{{e}}}$" if e > 1 else str(int(t))
