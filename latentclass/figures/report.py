"""``index.html``: one self-contained page of every theorem-check figure, for a reviewer.

The page is written beside the figures by :func:`latentclass.figures.make_figures` from the
same document as ``manifest.json`` (:func:`latentclass.figures.runner.manifest_document`):
a summary table of every check (claim, passed or failed, seconds), then one section per
figure with its claim, its check, the verdict, the figure itself, the key numbers of
``details`` and links to the PDF and to the data behind the figure; at the foot, the
versions that computed it and the command that made it.

Self-contained: every PNG is embedded as a ``data:`` URI, the style sheet is inline, the
page runs no script and a Content-Security-Policy forbids every network fetch (no CDN, no
font download), so the file can be mailed or archived alone.  A figure whose PNG is missing
is shown as a red "figure missing" notice (never as a broken image), and its check is
listed as it was recorded; a figure skipped for a missing optional dependency is marked
"skipped" with the record's install hint, counted neither as passed nor as failed.
"""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["REPORT_NAME", "render_report", "write_report"]

#: File name of the page, beside ``manifest.json``.
REPORT_NAME = "index.html"

_CSS = """
:root { --ok: #007a5a; --bad: #c0392b; --ink: #1b1b1b; --mute: #5c5c5c; --line: #d9d9d9; }
* { box-sizing: border-box; }
body { font: 15px/1.5 -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif;
       color: var(--ink); max-width: 1180px; margin: 0 auto; padding: 1.5rem 1.2rem 3rem; }
h1 { font-size: 1.6rem; margin: 0 0 .3rem; }
h2 { font-size: 1.2rem; margin: 0 0 .4rem; }
code, pre { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .85em; }
.lead { color: var(--mute); margin: 0 0 1rem; }
.verdict { font-weight: 600; padding: .05rem .45rem; border-radius: .3rem; color: #fff;
           white-space: nowrap; }
.verdict.pass { background: var(--ok); }
.verdict.fail { background: var(--bad); }
.verdict.skip { background: #6b6b6b; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1.5rem; }
th, td { text-align: left; vertical-align: top; padding: .35rem .5rem;
         border-bottom: 1px solid var(--line); }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
section.figure { border: 1px solid var(--line); border-radius: .5rem; padding: 1rem 1.2rem;
                 margin: 0 0 1.6rem; }
section.figure.fail { border-color: var(--bad); border-width: 2px; }
section.figure.skip { border-style: dashed; }
section.figure img { display: block; max-width: 100%; height: auto; margin: .8rem auto; }
.missing { color: var(--bad); font-weight: 600; border: 2px dashed var(--bad);
           padding: 1rem; margin: .8rem 0; }
.skipped { color: #444; border: 2px dashed #888; padding: 1rem; margin: .8rem 0; }
dl.claim { display: grid; grid-template-columns: 6rem 1fr; gap: .2rem .8rem; margin: .4rem 0; }
dl.claim dt { font-weight: 600; color: var(--mute); }
dl.claim dd { margin: 0; }
table.details td:first-child { white-space: nowrap; font-family: "DejaVu Sans Mono", monospace;
                               font-size: .85em; width: 1%; }
table.details td { font-size: .9em; }
pre.value { margin: 0; white-space: pre-wrap; word-break: break-word; max-height: 16rem;
            overflow: auto; }
footer { color: var(--mute); border-top: 1px solid var(--line); padding-top: .8rem; }
footer table { width: auto; }
"""

#: No fetch of any kind: images are data: URIs, the style is inline, there is no script.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _anchor(name: str) -> str:
    return "fig-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in name)


def _value_html(v: Any) -> str:
    """A details value: scalars inline, anything nested as compact pretty JSON."""
    if isinstance(v, bool) or v is None:
        return f"<code>{_esc(json.dumps(v))}</code>"
    if isinstance(v, (int, float, str)):
        return _esc(v)
    text = json.dumps(v, ensure_ascii=False, indent=None, separators=(", ", ": "))
    if len(text) > 100:
        text = json.dumps(v, ensure_ascii=False, indent=1)
    return f'<pre class="value">{_esc(text)}</pre>'


def _details_html(details: Mapping[str, Any]) -> str:
    if not details:
        return "<p><em>No details recorded.</em></p>"
    rows = "".join(
        f"<tr><td>{_esc(k)}</td><td>{_value_html(v)}</td></tr>" for k, v in details.items()
    )
    return f'<table class="details"><tr><th>detail</th><th>value</th></tr>{rows}</table>'


def _image_html(record: Mapping[str, Any], out_dir: str | None) -> str:
    """The figure's PNG as a data: URI, or a visible 'missing' notice."""
    name = str(record.get("name", ""))
    pngs = [f for f in record.get("files", []) if str(f).lower().endswith(".png")]
    if out_dir is not None and pngs:
        path = os.path.join(out_dir, str(pngs[0]))
        if os.path.isfile(path):
            with open(path, "rb") as fh:
                payload = base64.b64encode(fh.read()).decode("ascii")
            return (
                f'<img src="data:image/png;base64,{payload}" alt="figure {_esc(name)}: '
                f'{_esc(record.get("claim", ""))}">'
            )
    why = "no PNG was written" if not pngs else f"{_esc(pngs[0])} not found"
    return f'<div class="missing">figure missing: {why}</div>'


def _links_html(record: Mapping[str, Any]) -> str:
    links = [f'<a href="{_esc(f)}">{_esc(f)}</a>' for f in record.get("files", [])]
    if record.get("data"):
        links.append(f'<a href="{_esc(record["data"])}">{_esc(record["data"])}</a> (data)')
    return f"<p>Files: {', '.join(links)}</p>" if links else ""


def _verdict(passed: bool, skipped: bool = False) -> str:
    if skipped:
        return '<span class="verdict skip">skipped</span>'
    return (
        '<span class="verdict pass">passed</span>'
        if passed
        else '<span class="verdict fail">FAILED</span>'
    )


def _state(r: Mapping[str, Any]) -> tuple[bool, bool]:
    """``(passed, skipped)`` of a record (a skipped figure — an optional dependency missing —
    is neither passed nor failed)."""
    return bool(r.get("passed")), bool(r.get("skipped"))


def render_report(document: Mapping[str, Any], out_dir: str | os.PathLike | None = None) -> str:
    """The HTML text of the report page of a ``manifest.json`` document.

    Parameters
    ----------
    document : mapping
        As :func:`latentclass.figures.runner.manifest_document` returns it (or as read back
        from ``manifest.json``): ``versions``, ``command``, ``quick``, ``created`` and
        ``figures``, a list of records ``{name, files, claim, check, passed, details,
        seconds}`` (optionally ``data``, the file of the data behind the figure).
    out_dir : path, optional
        The directory holding the records' files; each record's PNG is read from it and
        embedded.  ``None``: no image is embedded (every figure is shown as missing).

    Returns
    -------
    str
        A complete HTML5 document that loads nothing from anywhere.
    """
    out = None if out_dir is None else os.fspath(out_dir)
    records: Sequence[Mapping[str, Any]] = list(document.get("figures", []))
    n_pass = sum(_state(r) == (True, False) for r in records)
    n_skip = sum(_state(r)[1] for r in records)
    n_fail = len(records) - n_pass - n_skip
    total = sum(float(r.get("seconds") or 0.0) for r in records)
    headline = (
        f"all {len(records) - n_skip} checks passed"
        if n_fail == 0
        else f"{n_fail} of {len(records)} checks FAILED"
    ) + (f", {n_skip} skipped" if n_skip else "")
    summary_rows = "".join(
        "<tr>"
        f'<td><a href="#{_anchor(str(r.get("name")))}">{_esc(r.get("name"))}</a></td>'
        f"<td>{_esc(r.get('claim', ''))}</td>"
        f"<td>{_verdict(*_state(r))}</td>"
        f'<td class="num">{float(r.get("seconds") or 0.0):.1f}</td>'
        "</tr>"
        for r in records
    )
    sections = []
    for r in records:
        passed, skipped = _state(r)
        name = str(r.get("name"))
        kind = "skip" if skipped else ("pass" if passed else "fail")
        skip_note = f'<p class="skipped">skipped: {_esc(r.get("skipped"))}</p>' if skipped else ""
        sections.append(
            f'<section class="figure {kind}" id="{_anchor(name)}">'
            f"<h2>{_esc(name)} {_verdict(passed, skipped)}</h2>"
            '<dl class="claim">'
            f"<dt>claim</dt><dd>{_esc(r.get('claim', ''))}</dd>"
            f"<dt>check</dt><dd>{_esc(r.get('check', ''))}</dd>"
            f"<dt>time</dt><dd>{float(r.get('seconds') or 0.0):.2f} s</dd>"
            "</dl>"
            f"{skip_note or _image_html(r, out)}"
            f"{_links_html(r)}"
            f"{_details_html(r.get('details') or {})}"
            "</section>"
        )
    versions = document.get("versions") or {}
    version_rows = "".join(
        f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in versions.items()
    )
    command = document.get("command")
    command_html = (
        f"<code>{_esc(command)}</code>"
        if command
        else "<em>the Python API (latentclass.figures.make_figures)</em>"
    )
    mode = "quick (small grids)" if document.get("quick") else "full grids"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>latentclass theorem checks: {_esc(headline)}</title>"
        f"<style>{_CSS}</style></head><body>"
        "<h1>latentclass theorem checks</h1>"
        f'<p class="lead">{_verdict(n_fail == 0)} {_esc(headline)} · {mode} · '
        f"{total:.1f} s in all · made {_esc(document.get('created', ''))}</p>"
        "<p>Each figure is a check: it states a claim, computes it, checks it and draws it. "
        'The same records are in <a href="manifest.json">manifest.json</a>.</p>'
        "<table><tr><th>figure</th><th>claim</th><th>result</th><th>seconds</th></tr>"
        f"{summary_rows}</table>"
        f"{''.join(sections)}"
        "<footer><h2>Provenance</h2>"
        f"<p>Made by {command_html}, {mode}, {_esc(document.get('created', ''))}.</p>"
        f"<table>{version_rows}</table></footer>"
        "</body></html>\n"
    )


def write_report(document: Mapping[str, Any], out_dir: str | os.PathLike) -> str:
    """Write :func:`render_report` of ``document`` as ``out_dir/index.html``; return its path.

    Parameters
    ----------
    document : mapping
        The ``manifest.json`` document (see :func:`render_report`).
    out_dir : path
        The directory of the figures; the page is written there, UTF-8, through a temporary
        file and a rename (a reader never sees half a page).

    Returns
    -------
    str
        The path of ``index.html``.
    """
    out = os.fspath(out_dir)
    path = os.path.join(out, REPORT_NAME)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(render_report(document, out))
    os.replace(tmp, path)
    return path
