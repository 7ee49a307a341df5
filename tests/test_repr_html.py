"""Jupyter display of the result objects: every public frozen result dataclass has a
``_repr_html_`` that is well-formed HTML (parsed with :mod:`html.parser`, tags balanced, no
script, no external resource), shows the object's numbers (read back from the cells and
compared with the attributes) and escapes text."""

from __future__ import annotations

import dataclasses
import html.parser
import inspect
import math

import numpy as np
import pytest

import latentclass as lc
import latentclass.losses as losses
import latentclass.symbolic as symbolic
from latentclass._html import MAX_TEXT, cell, fields_html, rows_html

VOID = {"br", "hr", "img", "meta", "link", "input", "col", "wbr"}
#: Public frozen dataclasses that are inputs, not results: no table for them.
NOT_RESULTS = {"LatentClassModel", "GaussianLatentClassModel", "ContrastiveSample"}


class _Checker(html.parser.HTMLParser):
    """Balanced tags, no script/style/external resource; collects the tables' cells."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.rows: list[list[tuple[str, str]]] = []  # per <tr>: (tag, text) of th/td
        self.caption = ""
        self._cell: list[str] | None = None
        self._in_caption = False

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "iframe", "object", "embed"):
            self.errors.append(f"<{tag}>")
        for name, value in attrs:
            if name in ("src", "href") or name.startswith("on"):
                self.errors.append(f"{tag} {name}={value!r}")
        if tag in VOID:
            return
        self.stack.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "caption":
            self._in_caption = True

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unbalanced </{tag}> (open: {self.stack})")
            return
        self.stack.pop()
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append((tag, "".join(self._cell)))
            self._cell = None
        elif tag == "caption":
            self._in_caption = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        elif self._in_caption:
            self.caption += data


def parse(text: str) -> _Checker:
    p = _Checker()
    p.feed(text)
    p.close()
    assert not p.errors, p.errors
    assert not p.stack, f"unclosed tags: {p.stack}"
    assert text.startswith("<div>") and text.endswith("</div>")
    return p


def field_cells(text: str) -> dict[str, str]:
    """``th -> td`` of a two-column table."""
    out = {}
    for row in parse(text).rows:
        if len(row) == 2 and row[0][0] == "th":
            out[row[0][1]] = row[1][1]
    return out


def row_cells(text: str) -> list[dict[str, str]]:
    """The records of a row table, by header."""
    rows = parse(text).rows
    header = [t for tag, t in rows[0] if tag == "th"]
    return [dict(zip(header, (t for _, t in r))) for r in rows[1:] if len(r) == len(header)]


def same(value, text: str) -> bool:
    """The cell ``text`` shows ``value`` (10 significant digits for floats)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, str)):
        return text == str(value)
    if isinstance(value, int):
        return text == str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return text == ("∞" if value > 0 else "−∞")
        return math.isclose(float(text), value, rel_tol=6e-10, abs_tol=1e-300)
    return True  # summarised values are checked by the shape tests


def check_fields(obj) -> dict[str, str]:
    cells = field_cells(obj._repr_html_())
    for f in dataclasses.fields(obj):
        if f.name.startswith("_"):
            continue
        assert f.name in cells, f.name
        v = getattr(obj, f.name)
        if isinstance(v, (float, int, bool, str, np.generic)) or v is None:
            assert same(v, cells[f.name]), (f.name, v, cells[f.name])
    return cells


def test_every_public_result_dataclass_has_repr_html():
    missing = []
    for module in (lc, losses, symbolic):
        for name in module.__all__:
            cls = getattr(module, name)
            if not (inspect.isclass(cls) and dataclasses.is_dataclass(cls)):
                continue
            if not cls.__dataclass_params__.frozen or name in NOT_RESULTS:
                continue
            if isinstance(cls, type) and issubclass(cls, losses.Logistic.__mro__[1]):
                continue  # loss objects (Logistic, Hinge, …) are parameters, not results
            if not callable(getattr(cls, "_repr_html_", None)):
                missing.append(name)
    assert not missing, missing


@pytest.fixture(scope="module")
def small():
    model = lc.LatentClassModel.one_point_per_class([0.5, 0.3, 0.2])
    return model, lc.optimal_representation(model, 4)


def test_sweep_table_shows_every_row_and_column():
    model = lc.LatentClassModel.one_point_per_class([0.5, 0.3, 0.2])
    res = lc.sweep_negatives(model, [2, 8, math.inf])
    text = res._repr_html_()
    records = row_cells(text)
    assert len(records) == len(res.rows) == 3
    for rec, row in zip(records, res.rows):
        assert list(rec) == list(res.columns)
        for c in res.columns:
            assert same(row[c], rec[c]), (c, row[c], rec[c])
    assert records[-1]["k"] == "∞" and records[-1]["loss"] == "None"
    assert "certified 3/3" in text


def test_field_tables_show_the_numbers(small):
    model, opt = small
    check_fields(lc.published_bounds(4, 16, 3.0))
    cells = check_fields(lc.published_bounds([0.5, 0.3, 0.2], 16, 3.0))
    assert cells["ash"] == "None"
    prof = lc.task_size_profile(model, opt.F)
    recs = row_cells(prof._repr_html_())
    assert [int(r["t"]) for r in recs] == list(prof.task_sizes)
    for r, res in zip(recs, prof.results):
        assert same(res.loss, r["loss"]) and same(res.accuracy, r["accuracy"])
    check_fields(lc.binary_task_identity(model, opt.F))


def test_symbolic_results_show_exact_values():
    cert = symbolic.simplex_kkt(3, 2)
    cells = check_fields(cert)
    assert cells["holds"] == "True" and cells["check"] == "KKTCheck"
    kkt = symbolic.kkt_at(3, 2, "-1/2")
    cells = check_fields(kkt)
    assert cells["s"] == "-1/2"  # a sympy Rational stays exact, not 0.5
    fam = check_fields(symbolic.symmetric_family(3, 2))
    assert fam["minimiser"] == "-1/2"


def test_arrays_and_long_values_are_summarised(small):
    _, opt = small

    @dataclasses.dataclass(frozen=True)
    class R:
        short: np.ndarray
        big: np.ndarray
        seq: tuple
        long_text: str

    r = R(np.array([1.5, 2.0]), opt.gram, tuple(range(20)), "x" * (3 * MAX_TEXT))
    cells = field_cells(fields_html(r))
    assert cells["short"] == "1.5, 2"
    assert cells["big"] == "array, shape (3, 3), dtype float64"
    assert cells["seq"] == "tuple, 20 items (int)"
    assert cells["long_text"].endswith(f"… ({3 * MAX_TEXT} characters)")
    assert len(cells["long_text"]) < 2 * MAX_TEXT


def test_text_is_escaped():
    @dataclasses.dataclass(frozen=True)
    class Evil:
        name: str
        items: tuple

    bad = "<script>alert('x')</script> & <u>"
    text = fields_html(Evil(bad, ("<i>", 1.0)), title="<T>", note="<note>")
    assert "<script>" not in text and "<u>" not in text and "<i>" not in text
    p = parse(text)
    assert p.caption == "<T>"
    cells = field_cells(text)
    assert cells["name"] == bad and cells["items"] == "<i>, 1"
    assert "&lt;note&gt;" in text
    text = rows_html("<cap>", ["<c>", "k"], [{"<c>": "<v>", "k": math.inf}])
    recs = row_cells(text)
    assert recs == [{"<c>": "<v>", "k": "∞"}]
    assert "<v>" not in text and "<c>" not in text


def test_long_tables_say_how_many_rows_are_left_out():
    rows = [{"i": i, "x": i / 7} for i in range(100)]
    text = rows_html("T", ["i", "x"], rows, max_rows=10)
    p = parse(text)
    data = [r for r in p.rows[1:] if len(r) == 2]
    assert [int(r[0][1]) for r in data] == [0, 1, 2, 3, 4, 95, 96, 97, 98, 99]
    assert any(len(r) == 1 and r[0][1] == "… 90 rows not shown …" for r in p.rows)
    assert len(row_cells(rows_html("T", ["i", "x"], rows))) == 40 + 0  # default 40 shown


def test_cell_formats():
    assert cell(np.float64(0.1)) == "0.1" and cell(np.int64(3)) == "3"
    assert cell(-math.inf) == "−∞" and cell(True) == "True" and cell(None) == "None"
    assert cell(1 / 3) == "0.3333333333"
    from fractions import Fraction

    assert cell(Fraction(1, 3)) == "1/3"
    with pytest.raises(TypeError, match="dataclass instance"):
        fields_html(object())
