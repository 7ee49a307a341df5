"""Result tables as pandas DataFrames and as HTML (Jupyter's ``_repr_html_``).

pandas is optional (the ``test`` extra installs it): :func:`rows_to_frame` imports it when
called and names the missing package otherwise.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["html_table", "rows_to_frame"]


def _dtype(values: Sequence[Any]) -> str:
    """The pandas nullable dtype of a column of plain Python values (``None`` = missing)."""
    present = [v for v in values if v is not None]
    if not present:
        return "Float64"
    if all(isinstance(v, bool) for v in present):
        return "boolean"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "Int64"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "Float64"
    if all(isinstance(v, str) for v in present):
        return "string"
    return "object"


def rows_to_frame(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    float_columns: Iterable[str] = (),
    attrs: Mapping[str, Any] | None = None,
) -> Any:
    """A :class:`pandas.DataFrame` of ``rows`` with one nullable dtype per column.

    Parameters
    ----------
    rows : iterable of mapping
        One mapping per row, keys ``columns``; values ``None``, ``bool``, ``int``, ``float``
        or ``str`` (or numpy scalars of those).
    columns : sequence of str
        Column order.
    float_columns : iterable of str
        Columns typed ``Float64`` whatever their values (e.g. ``k``: integers and
        ``math.inf`` in one column, so ``k = ∞`` is kept as ``inf``).
    attrs : mapping, optional
        Stored as ``DataFrame.attrs`` (provenance: versions, ``tau``, …).

    Returns
    -------
    pandas.DataFrame
        Dtypes ``Float64`` (numbers; ``inf`` kept), ``Int64`` (integers only), ``boolean``,
        ``string`` or ``object`` (mixed); a ``None`` is ``pd.NA`` — never NaN.
    """
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - pandas is in the test extra
        raise ImportError("to_pandas needs pandas: pip install pandas") from exc
    rows = list(rows)
    forced = set(float_columns)
    data = {}
    for c in columns:
        # numpy scalars (np.float64, np.bool_, np.int64) as the Python values they hold
        values = [
            v.item() if hasattr(v, "item") and not isinstance(v, str) else v
            for v in (r[c] for r in rows)
        ]
        dtype = "Float64" if c in forced else _dtype(values)
        if dtype == "Float64":
            values = [None if v is None else float(v) for v in values]
        data[c] = pd.array(values, dtype=dtype if dtype != "object" else object)
    frame = pd.DataFrame(data, columns=list(columns))
    frame.attrs.update(dict(attrs or {}))
    return frame


def _cell(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return html.escape(str(v))
    if isinstance(v, float):
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        return f"{v:.10g}"
    return html.escape(str(v))


def html_table(title: str, fields: Iterable[tuple[str, Any]], note: str = "") -> str:
    """A small two-column HTML table (``<table>``) of named values, for ``_repr_html_``.

    Parameters
    ----------
    title : str
        Caption (the result's type).
    fields : iterable of (str, value)
        Name and value per row; floats with 10 significant digits, ``inf`` as ∞.
    note : str
        Optional line under the table (plain text, escaped).

    Returns
    -------
    str
        HTML with no script and no external resource.
    """
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
        f"<td style='text-align:left'>{_cell(v)}</td></tr>"
        for k, v in fields
    )
    foot = f"<p>{html.escape(note)}</p>" if note else ""
    return (
        f"<div><table><caption style='text-align:left'><b>{html.escape(title)}</b></caption>"
        f"{body}</table>{foot}</div>"
    )
