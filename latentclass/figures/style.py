"""The plotting style of every theorem-check figure of :mod:`latentclass.figures`, and the
drawing helpers built on it (the ``k`` axis, tolerance lines, floors for log scales).

Figures are built on :class:`matplotlib.figure.Figure` directly — never through
``matplotlib.pyplot`` — so importing this module neither selects a backend nor opens a
window, and does not change anything for users who use matplotlib elsewhere in the same
process.  ``Figure.savefig`` picks the file-format backend (Agg for PNG, the PDF backend
for PDF) by itself.  The style is applied only while a figure is built and saved (a
``matplotlib.rc_context``), so global ``rcParams`` are left untouched.

Conventions
-----------
- Widths of a paper column: :data:`SINGLE` (3.4 in) and :data:`DOUBLE` (7.0 in).
- Text is mathtext (no LaTeX install needed), 8–9 pt at the printed size.
- Colours: the Okabe–Ito palette (colour-blind safe), :data:`PALETTE`, in a fixed order
  :data:`COLORS`; sequential/diverging maps are ``cividis`` / ``RdBu_r``.
- Each figure carries a short title stating the claim it checks; the full claim and the
  check live in the manifest record.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.rcsetup import cycler

__all__ = [
    "COLORS",
    "DOUBLE",
    "K_LABEL",
    "MARKERS",
    "PALETTE",
    "SINGLE",
    "STYLE",
    "floor_abs",
    "k_axis",
    "log2_axis",
    "new_figure",
    "panels",
    "save_figure",
    "status_footer",
    "style",
    "tolerance_line",
]


if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.typing import RcKeyType


#: Single-column and double-column widths of a two-column paper, in inches.
SINGLE = 3.4
DOUBLE = 7.0

#: Okabe & Ito (2008) colour-blind-safe palette.
PALETTE = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
#: Cycle order used for series (yellow last: weak on white).
COLORS = (
    PALETTE["blue"],
    PALETTE["vermillion"],
    PALETTE["green"],
    PALETTE["orange"],
    PALETTE["purple"],
    PALETTE["sky"],
    PALETTE["black"],
    PALETTE["yellow"],
)
#: Markers paired with :data:`COLORS`, so series stay distinct in greyscale.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")

#: rcParams applied while a figure is built and saved.
STYLE: dict[RcKeyType, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 8.0,
    "axes.titlesize": 8.5,
    "axes.labelsize": 8.0,
    "xtick.labelsize": 7.0,
    "ytick.labelsize": 7.0,
    "legend.fontsize": 6.8,
    "legend.frameon": True,
    "legend.framealpha": 0.85,
    "legend.edgecolor": "0.8",
    "legend.borderaxespad": 0.4,
    "legend.handlelength": 1.8,
    "figure.titlesize": 9.0,
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.03,
    "axes.linewidth": 0.7,
    "axes.grid": True,
    "grid.linewidth": 0.4,
    "grid.alpha": 0.5,
    "grid.color": "0.75",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": cycler(color=list(COLORS)),
    "lines.linewidth": 1.3,
    "lines.markersize": 4.0,
    "errorbar.capsize": 2.0,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.minor.width": 0.4,
    "ytick.minor.width": 0.4,
    "text.usetex": False,
    "mathtext.fontset": "dejavusans",
    "pdf.fonttype": 42,
    "image.cmap": "cividis",
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Context in which :data:`STYLE` is in force (restores the caller's rcParams after)."""
    with matplotlib.rc_context(STYLE):
        yield


def new_figure(width: str | float = "single", height: float = 2.6, **kwargs: Any) -> Figure:
    """A :class:`~matplotlib.figure.Figure` of paper-column width with constrained layout.

    Parameters
    ----------
    width : {"single", "double"} or float
        :data:`SINGLE` (3.4 in), :data:`DOUBLE` (7.0 in) or a width in inches.
    height : float
        Height in inches.
    **kwargs
        Passed to :class:`~matplotlib.figure.Figure`.

    Notes
    -----
    Call inside :func:`style` so that fonts and colours are the house style.
    """
    if width == "single":
        w = SINGLE
    elif width == "double":
        w = DOUBLE
    else:
        w = float(width)
    kwargs.setdefault("layout", "constrained")
    return Figure(figsize=(w, height), **kwargs)


def panels(
    ax: Any,
    shape: tuple[int, int],
    *,
    width: str | float = "single",
    height: float = 2.6,
    **subplots_kw: Any,
) -> tuple[Any, Any, bool]:
    """The figure and axes a drawing function draws into: new ones, or the caller's ``ax``.

    Parameters
    ----------
    ax : None, Axes or sequence of Axes
        ``None``: a new house-style figure (:func:`new_figure`) with a ``shape`` grid of
        axes.  Otherwise the caller's axes: one :class:`~matplotlib.axes.Axes` for a
        one-panel figure, else a sequence (or array) of ``rows × cols`` axes in row order.
    shape : (int, int)
        Rows and columns of panels the drawing needs.
    width, height
        Size of a new figure (see :func:`new_figure`).
    **subplots_kw
        Passed to :meth:`~matplotlib.figure.Figure.subplots` for a new figure only.

    Returns
    -------
    (figure, axes, own)
        ``axes`` shaped as :meth:`~matplotlib.figure.Figure.subplots` returns them (one
        Axes, a 1-D or a 2-D array); ``figure`` is the (sub)figure holding them; ``own`` is
        ``True`` for a new figure, on which the caller may also draw a title and the check
        footer (on the caller's axes only the panels are drawn).

    Raises
    ------
    TypeError
        ``ax`` holds something that is not an Axes.
    ValueError
        ``ax`` holds the wrong number of axes (the message names ``ax`` and the count).
    """
    import numpy as np
    from matplotlib.axes import Axes

    n = shape[0] * shape[1]
    if ax is None:
        fig = new_figure(width, height)
        return fig, fig.subplots(*shape, **subplots_kw), True
    given = [ax] if isinstance(ax, Axes) else list(np.ravel(np.asarray(ax, dtype=object)))
    bad = [type(a).__name__ for a in given if not isinstance(a, Axes)]
    if bad:
        raise TypeError(f"ax must be a matplotlib Axes or a sequence of Axes, got {bad[0]}")
    if len(given) != n:
        raise ValueError(
            f"ax: this figure draws {n} panel{'s' if n != 1 else ''} "
            f"({shape[0]} x {shape[1]}), got {len(given)} axes"
        )
    if n == 1:
        return given[0].get_figure(), given[0], False
    grid: Any = np.empty(n, dtype=object)
    grid[:] = given
    grid = grid.reshape(shape)
    if 1 in shape:
        grid = grid.ravel()
    return given[0].get_figure(), grid, False


def save_figure(
    fig: Figure, out_dir: str | os.PathLike, name: str, formats: Sequence[str] = ("png", "pdf")
) -> list[str]:
    """Write ``fig`` as ``out_dir/name.<fmt>`` for each format; return the file paths.

    PNG at 200 dpi; PDF with embedded TrueType fonts.  Metadata dates are fixed/omitted so
    that re-running gives the same PDF bytes where matplotlib allows it.
    """
    os.makedirs(out_dir, exist_ok=True)
    files = []
    for fmt in formats:
        path = os.path.join(os.fspath(out_dir), f"{name}.{fmt}")
        meta = (
            {"Software": None}
            if fmt == "png"
            else {"Creator": None, "Producer": None, "CreationDate": None}
        )
        # fontTools (PDF font subsetting) logs a harmless warning about the fonts' zero
        # creation timestamps; keep the caller's terminal clean while saving.
        ft_log = logging.getLogger("fontTools")
        level = ft_log.level
        ft_log.setLevel(logging.ERROR)
        try:
            with style():
                fig.savefig(path, format=fmt, metadata=meta)
        finally:
            ft_log.setLevel(level)
        files.append(path)
    return files


def _pow2_label(v: float, powers: bool = False) -> str:
    if v <= 0:
        return ""
    e = math.log2(v)
    if abs(e - round(e)) > 1e-9:
        return ""
    e = int(round(e))
    return rf"$2^{{{e}}}$" if powers or e > 16 else str(2**e)


def log2_axis(ax: Axes, axis: str = "x", numticks: int = 9, powers: bool = False) -> None:
    """Log axis in base 2 whose ticks read ``1, 2, 4, …`` (``powers=True``: ``2^0, 2^1, …``).

    Plain integers are used up to ``2^16``; beyond, and always with ``powers=True``, the
    labels are powers of two.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    a = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log", base=2)
    a.set_major_locator(LogLocator(base=2, numticks=numticks))
    a.set_major_formatter(FuncFormatter(lambda v, _pos: _pow2_label(v, powers)))
    a.set_minor_formatter(NullFormatter())


def status_footer(fig: Figure, passed: bool, text: str = "") -> None:
    """Write ``check passed: …`` / ``CHECK FAILED: …`` as a footer line under all axes.

    Uses ``fig.supxlabel`` (right-aligned), which constrained layout makes room for, so
    the badge never covers data.
    """
    label = ("check passed" if passed else "CHECK FAILED") + (f": {text}" if text else "")
    color = PALETTE["green"] if passed else PALETTE["vermillion"]
    fig.supxlabel(
        label,
        x=0.995,
        ha="right",
        fontsize=6.5,
        color=color,
        bbox=dict(boxstyle="round,pad=0.25", fc="white", ec=color, lw=0.6),
    )


# ------------------------------------------------------------- drawing helpers


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
