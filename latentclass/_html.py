"""HTML tables for Jupyter's ``_repr_html_`` of the result objects (lowest layer).

Two shapes, in the style of :func:`latentclass._tables.html_table` (no script, no
external resource, every text ``html.escape``-d, floats with 10 significant digits, ``inf``
as ∞):

- :func:`fields_html` — a two-column table of the fields of a frozen result dataclass
  (numbers and short values in full, arrays and long sequences summarised by their shape or
  length: a Jupyter cell shows what the object *is*, the data stay in the object);
- :func:`rows_html` — a table with one row per record (sweeps, searches, experiments); past
  ``max_rows`` rows the first and last ones are shown and a line says how many were left out
  (never a silent truncation).
"""

from __future__ import annotations

import dataclasses
import html
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["cell", "fields_html", "rows_html"]

#: Sequences up to this length are shown in full in :func:`fields_html`.
MAX_ITEMS = 8
#: Longest text shown in a cell before it is cut (with "…" and the full length).
MAX_TEXT = 120


def cell(value: Any) -> str:
    """One value as escaped HTML text: ``None``, bools, integers as they are; floats with 10
    significant digits (``∞``/``−∞``, ``nan``); other values by ``str``, so exact numbers
    (``Fraction``, sympy) stay exact (cut at :data:`MAX_TEXT` characters, saying so)."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy scalar
        value = value.item()
    if value is None or isinstance(value, (bool, str)):
        text = str(value)
    elif isinstance(value, numbers.Integral):
        text = str(int(value))
    elif isinstance(value, float):  # numpy floats are floats after .item()
        v = float(value)
        text = ("∞" if v > 0 else "−∞") if math.isinf(v) else f"{v:.10g}"
    else:
        text = str(value)
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + f"… ({len(text)} characters)"
    return html.escape(text)


def _summary(value: Any) -> str:
    """A field value as escaped HTML text: short values in full, long ones summarised."""
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "dtype"):  # numpy array
        if value.ndim == 0:
            return cell(value.item())
        if value.size <= MAX_ITEMS and value.ndim == 1:
            return ", ".join(cell(v) for v in value.tolist())
        return html.escape(f"array, shape {tuple(shape)}, dtype {value.dtype}")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return html.escape(type(value).__name__)
    if isinstance(value, Mapping):
        return html.escape(f"dict, {len(value)} entries")
    if isinstance(value, (tuple, list)):
        flat = all(v is None or isinstance(v, (numbers.Number, str)) for v in value)
        if flat and len(value) <= MAX_ITEMS:
            return ", ".join(cell(v) for v in value)
        kinds = sorted({type(v).__name__ for v in value})
        return html.escape(f"{type(value).__name__}, {len(value)} items ({', '.join(kinds)})")
    return cell(value)


def fields_html(
    obj: Any,
    *,
    title: str | None = None,
    fields: Iterable[str] | None = None,
    extra: Iterable[tuple[str, Any]] = (),
    note: str = "",
) -> str:
    """A two-column HTML table of the fields of the dataclass instance ``obj``.

    Parameters
    ----------
    obj : dataclass instance
        The result object.
    title : str, optional
        Caption; default the class name.
    fields : iterable of str, optional
        Field (or attribute) names to show, in order; default every dataclass field whose
        name does not start with ``_``.
    extra : iterable of (str, value)
        Further rows after the fields (derived quantities).
    note : str
        Optional plain-text line under the table.

    Returns
    -------
    str
        HTML with no script and no external resource.
    """
    if not (dataclasses.is_dataclass(obj) and not isinstance(obj, type)):
        raise TypeError(f"obj must be a dataclass instance, got {type(obj).__name__}")
    names = (
        [f.name for f in dataclasses.fields(obj) if not f.name.startswith("_")]
        if fields is None
        else list(fields)
    )
    rows = [(name, _summary(getattr(obj, name))) for name in names]
    rows += [(k, _summary(v)) for k, v in extra]
    return _table(title or type(obj).__name__, rows, note)


def _table(title: str, rows: Sequence[tuple[str, str]], note: str) -> str:
    """The two-column table of :func:`latentclass._tables.html_table`; values already HTML."""
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
        f"<td style='text-align:left'>{v}</td></tr>"
        for k, v in rows
    )
    foot = f"<p>{html.escape(note)}</p>" if note else ""
    return (
        f"<div><table><caption style='text-align:left'><b>{html.escape(title)}</b></caption>"
        f"{body}</table>{foot}</div>"
    )


def rows_html(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    *,
    note: str = "",
    max_rows: int = 40,
) -> str:
    """An HTML table with one row per mapping of ``rows`` and one column per ``columns``.

    Parameters
    ----------
    title : str
        Caption (the result's type and size).
    columns : sequence of str
        Column names, in order; a key missing from a row is an empty cell.
    rows : sequence of mapping
        The records.
    note : str
        Optional plain-text line under the table.
    max_rows : int, default 40
        More rows than this: the first ``max_rows // 2`` and the last ``max_rows // 2`` are
        shown, and a row says how many were left out.

    Returns
    -------
    str
        HTML with no script and no external resource.
    """
    rows = list(rows)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)

    def line(r: Mapping[str, Any]) -> str:
        return (
            "<tr>" + "".join(f"<td>{cell(r[c]) if c in r else ''}</td>" for c in columns) + "</tr>"
        )

    if len(rows) > max_rows:
        half = max(1, max_rows // 2)
        left_out = len(rows) - 2 * half
        body = (
            "".join(line(r) for r in rows[:half])
            + f"<tr><td colspan='{len(columns)}'>… {left_out} rows not shown …</td></tr>"
            + "".join(line(r) for r in rows[-half:])
        )
    else:
        body = "".join(line(r) for r in rows)
    foot = f"<p>{html.escape(note)}</p>" if note else ""
    return (
        f"<div><table><caption style='text-align:left'><b>{html.escape(title)}</b></caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{foot}</div>"
    )
