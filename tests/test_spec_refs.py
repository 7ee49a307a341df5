"""Every "SPEC §n" cited in the package, docs, proofs, README and examples resolves to a
numbered heading of docs/theory.md (the project's mathematical specification).

A reference is ``SPEC`` followed by one or more items ``§n`` or ``§n.m``, joined by commas,
"and" or ranges (``SPEC §3, §5``, ``SPEC §2–3``, ``SPEC §5–§7``); every section a reference
names, range ends and the sections between them included, must be a heading of docs/theory.md
(``## §n Title`` or ``### §n.m Title``).  ``SPEC §`` without a number is malformed; the
literal ``SPEC §n`` / ``SPEC §n.m`` (letters, as in this sentence) is notation and is skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
THEORY = ROOT / "docs" / "theory.md"
SOURCES = ("latentclass/**/*.py", "docs/*.md", "proofs/*.md", "README.md", "examples/*.py")

_HEADING = re.compile(r"^#{1,6}[ \t]+§(\d+(?:\.\d+)*)(?=[ \t]|$)", re.MULTILINE)
_START = re.compile(r"\bSPEC[ \t]*§")
_SECTION = re.compile(r"§*[ \t]*(\d+(?:\.\d+)*)")
_RANGE_END = re.compile(r"[ \t]*[–-][ \t]*§*[ \t]*(\d+(?:\.\d+)*)")
_NEXT_ITEM = re.compile(r"[ \t]*(?:,|and|&)[ \t]*(?=§)")
#: ``SPEC §n`` / ``SPEC §n.m`` with the letters themselves: notation for "a section", not a reference.
_PLACEHOLDER = re.compile(r"§n(?:\.m)?\b")


def headings(text: str) -> list[str]:
    """Section numbers of the numbered headings of a Markdown text, in order."""
    return _HEADING.findall(text)


def _expand(lo: str, hi: str) -> list[str]:
    """Sections named by the range ``lo–hi`` (integers: every one between; else the ends)."""
    if lo.isdigit() and hi.isdigit() and int(lo) <= int(hi):
        return [str(n) for n in range(int(lo), int(hi) + 1)]
    return [lo, hi]


def references(text: str) -> list[tuple[int, str | None]]:
    """``(line, section)`` for every section named after ``SPEC``; ``section`` is ``None``
    for a malformed reference (``SPEC §`` not followed by a number)."""
    out: list[tuple[int, str | None]] = []
    for start in _START.finditer(text):
        line = text.count("\n", 0, start.start()) + 1
        pos = start.end() - 1  # at the first "§"
        if _PLACEHOLDER.match(text, pos):
            continue
        while True:
            sec = _SECTION.match(text, pos)
            if sec is None:
                out.append((line, None))
                break
            pos = sec.end()
            end = _RANGE_END.match(text, pos)
            if end is not None:
                out.extend((line, s) for s in _expand(sec.group(1), end.group(1)))
                pos = end.end()
            else:
                out.append((line, sec.group(1)))
            nxt = _NEXT_ITEM.match(text, pos)
            if nxt is None:
                break
            pos = nxt.end()
    return out


def unresolved(text: str, sections: set[str]) -> list[tuple[int, str | None]]:
    """The references of ``text`` that are malformed or name no heading in ``sections``."""
    return [(line, s) for line, s in references(text) if s is None or s not in sections]


def _source_files() -> list[Path]:
    files: set[Path] = set()
    for pattern in SOURCES:
        files.update(p for p in ROOT.glob(pattern) if p.is_file())
    return sorted(files)


def _theory_sections() -> set[str]:
    return set(headings(THEORY.read_text(encoding="utf-8")))


# ----------------------------------------------------------------------------- the repository
def test_theory_page_has_sections_one_to_seven_once_each():
    text = THEORY.read_text(encoding="utf-8")
    found = headings(text)
    assert len(found) == len(set(found)), "duplicate section numbers in docs/theory.md"
    top = [int(s) for s in found if "." not in s]
    assert top == list(range(1, len(top) + 1)) and len(top) >= 7, top
    for s in found:  # every subsection §n.m sits under an existing §n
        assert s.split(".")[0] in found, s
    assert "Docstrings cite this page as SPEC §n." in text.split("\n## ", 1)[0]


def test_every_spec_reference_resolves():
    sections = _theory_sections()
    problems, total = [], 0
    for path in _source_files():
        text = path.read_text(encoding="utf-8")
        total += len(references(text))
        problems += [
            f"{path.relative_to(ROOT)}:{line}: "
            + ("malformed 'SPEC §' without a section number" if s is None else f"SPEC §{s}")
            for line, s in unresolved(text, sections)
        ]
    assert not problems, "references that do not resolve to docs/theory.md:\n" + "\n".join(problems)
    assert total >= 100, f"only {total} references found: is the scanner broken?"


# ----------------------------------------------------------------------------- the checker itself
_SECTIONS = {"1", "2", "3", "3.1", "4", "5", "6", "7"}


@pytest.mark.parametrize(
    "text,expected",
    [
        ("see SPEC §3.", ["3"]),
        ("(SPEC §3, §5)", ["3", "5"]),
        ("(SPEC §2–3)", ["2", "3"]),
        ("(SPEC §5–§7)", ["5", "6", "7"]),
        ("SPEC §3.1 and §4", ["3.1", "4"]),
        ("SPEC §§1–4", ["1", "2", "3", "4"]),
        ("SPEC §5 step 2, and more", ["5"]),
        ("SPEC §4, 10 times", ["4"]),
        ("no reference to § 3 here; SPECIAL §4 neither", []),
        ("docstrings cite it as SPEC §n (or SPEC §n.m).", []),
        ("SPEC §nine", [None]),
    ],
)
def test_reference_parser(text, expected):
    assert [s for _, s in references(text)] == expected


@pytest.mark.parametrize(
    "text,bad",
    [
        ("a made-up SPEC §99 reference", [(1, "99")]),
        ("fine SPEC §3\nthen SPEC §3.7", [(2, "3.7")]),
        ("SPEC §5–8", [(1, "8")]),
        ("SPEC §4, §99 and §1", [(1, "99")]),
        ("a bare SPEC § reference", [(1, None)]),
        ("SPEC §, then SPEC §2", [(1, None)]),
    ],
)
def test_checker_fails_on_bad_references(text, bad):
    assert unresolved(text, _SECTIONS) == bad


def test_checker_passes_on_good_references():
    assert unresolved("SPEC §1, SPEC §3.1 and §7; (SPEC §2–3)", _SECTIONS) == []


def test_heading_parser():
    text = "# Title\n## §1 One\n### §1.2 Sub\n## §10 Ten\nnot a heading §4\n## §3x\n"
    assert headings(text) == ["1", "1.2", "10"]


def test_made_up_section_is_not_in_theory_page():
    """The repository check has power: §99 is not a heading of docs/theory.md."""
    sections = _theory_sections()
    assert "99" not in sections
    assert unresolved("SPEC §99", sections) == [(1, "99")]
