"""Running figures: compute, check, draw, save, and write the manifest of records."""

from __future__ import annotations

import json
import os
import time
import traceback
from typing import Any

from .._progress import Reporter, check_progress
from .registry import REGISTRY, select_figures
from .report import write_report
from .spec import jsonable
from .style import save_figure

__all__ = [
    "MANIFEST_FORMAT",
    "FigureSkipped",
    "make_figures",
    "manifest_document",
    "run_figure",
    "write_data",
]


def write_data(data: Any, out_dir: str | os.PathLike, name: str) -> str:
    """Write the data behind figure ``name`` as ``out_dir/<name>.json``; return the file name.

    Parameters
    ----------
    data : dict
        What the figure's ``compute(quick)`` returned; any figure's data, generically:
        numpy arrays become (nested) lists, ``math.inf`` (e.g. ``k = ∞``) the string
        ``"inf"`` (:func:`latentclass.figures.spec.jsonable`), so the file is strict JSON.
    out_dir : path
        The directory of the figures.
    name : str
        The figure's name (the file stem).

    Returns
    -------
    str
        ``"<name>.json"``, relative to ``out_dir`` (as the manifest records it under
        ``"data"``).
    """
    fname = f"{name}.json"
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(os.fspath(out_dir), fname)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(
            {"figure": name, "data": jsonable(data)},
            fh,
            indent=None,
            allow_nan=False,
            ensure_ascii=False,
        )
        fh.write("\n")
    os.replace(tmp, path)
    return fname


class FigureSkipped(Exception):
    """Raised by a figure's ``compute`` when an optional dependency is missing.

    The message is one line saying how to enable the figure; :func:`run_figure` records it as
    ``skipped`` (``passed=False``, no files) and the other figures run.
    """


def run_figure(name: str, out_dir: str | os.PathLike, quick: bool = False) -> dict:
    """Compute, check, draw and save one figure; return its manifest record.

    An exception inside the figure does not propagate: the record has ``passed=False`` and
    ``details={"error": ..., "traceback": ...}`` (and whatever files were written).
    The data behind the figure (what ``compute`` returned) is written as ``<name>.json``
    (:func:`write_data`) and named in the record under ``"data"`` (``None`` if not written).

    Parameters
    ----------
    name : str
        A registered figure name (:func:`figure_names`); another string raises ``ValueError``.
    out_dir : str or os.PathLike
        Directory the figure's PNG/PDF files and ``<name>.json`` are written to.
    quick : bool, default False
        Run the figure's quick mode (smaller grids, seconds instead of minutes).

    Returns
    -------
    dict
        The manifest record: ``name``, ``files`` (base names written), ``data`` (the data
        file's base name or ``None``), ``claim``, ``check``, ``passed``, ``details``
        (JSON-serialisable), ``seconds``; a figure whose optional dependency is missing also
        has ``skipped`` (the message saying how to enable it).
    """
    if name not in REGISTRY:
        raise ValueError(f"name: unknown figure {name!r}; known: {', '.join(REGISTRY)}")
    spec = REGISTRY[name]
    t0 = time.perf_counter()
    files: list[str] = []
    data_file = None
    try:
        try:
            data = spec.compute(bool(quick))
        except FigureSkipped as exc:  # an optional dependency is missing: say how to enable it
            return dict(
                name=name,
                files=[],
                data=None,
                claim=spec.claim,
                check=spec.check,
                passed=False,
                skipped=str(exc),
                details={"skipped": str(exc)},
                seconds=round(time.perf_counter() - t0, 3),
            )
        data_file = write_data(data, out_dir, name)
        passed, details = spec.verify(data)
        fig = spec.draw(data, passed, details)
        files = save_figure(fig, out_dir, name)
    except Exception as exc:  # report, do not hide: the record fails and says why
        passed = False
        details = {
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=6).splitlines()[-8:],
        }
    return dict(
        name=name,
        files=[os.path.basename(f) for f in files],
        data=data_file,
        claim=spec.claim,
        check=spec.check,
        passed=bool(passed),
        details=jsonable(details),
        seconds=round(time.perf_counter() - t0, 3),
    )


#: Version of the ``manifest.json`` layout (2: an object with provenance and ``figures``).
MANIFEST_FORMAT = 2


def manifest_document(records: list[dict], quick: bool, command: str | None) -> dict:
    """The ``manifest.json`` object: ``{"format", "versions", "command", "quick",
    "created", "figures"}`` — ``versions`` from :func:`latentclass._provenance.versions`
    (library, Python, numpy, scipy, platform), ``command`` the command line that made it
    (``None`` from the Python API), ``created`` a UTC ISO-8601 time stamp and ``figures``
    the records of :func:`run_figure`, in drawing order."""
    import datetime

    from .._provenance import versions

    return {
        "format": MANIFEST_FORMAT,
        "versions": versions(),
        "command": command,
        "quick": bool(quick),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "figures": records,
    }


def _write_manifest(records: list[dict], out_dir: str, quick: bool, command: str | None) -> dict:
    """``out_dir/manifest.json``: :func:`manifest_document` as strict JSON (no NaN), UTF-8,
    written to a temporary file and renamed (a reader never sees half a manifest); returns
    the document."""
    path = os.path.join(out_dir, "manifest.json")
    tmp = path + ".tmp"
    document = manifest_document(records, quick, command)
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(
            document,
            fh,
            indent=1,
            allow_nan=False,
            ensure_ascii=False,
        )
        fh.write("\n")
    os.replace(tmp, path)
    return document


def make_figures(
    out_dir: str | os.PathLike,
    quick: bool = False,
    only: Any = None,
    progress: Any = None,
    command: str | None = None,
) -> list[dict]:
    """Regenerate the theorem-check figures and ``out_dir/manifest.json``.

    Parameters
    ----------
    out_dir : path
        Created if missing.  Receives ``<name>.png``, ``<name>.pdf`` and ``<name>.json``
        (the data behind the figure, :func:`write_data`) per figure, ``manifest.json`` and
        ``index.html`` (one self-contained page of every check,
        :func:`latentclass.figures.report.render_report`).
    quick : bool
        Small grids (the whole set in well under a minute) for tests and CI.
    only : str or sequence of str, optional
        Names (see :func:`figure_names`) to make; default all.  Unknown names raise
        ``ValueError`` naming ``only``.
    progress : None, bool or callable
        ``True``: a tqdm bar on stderr; ``None``/``False``: silent; a callable is called
        as ``progress(p)`` after each figure with a :class:`~latentclass._progress.Progress`
        ``p``: ``p.done`` figures of ``p.total``, ``p.stage == "figures"``, ``p.detail`` the
        figure's manifest record.
    command : str, optional
        The command line that asked for the figures, recorded in the manifest.

    Returns
    -------
    list of dict
        The manifest records ``{name, files, data, claim, check, passed, details,
        seconds}`` — ``files`` (PNG, PDF) and ``data`` (JSON) are relative to ``out_dir``; ``details`` holds the key numbers (JSON).
        ``manifest.json`` holds them under ``"figures"``, beside the versions that computed
        them (:func:`manifest_document`).
    """
    names = select_figures(only)
    check_progress(progress)
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    bar = Reporter(False if progress is None else progress, len(names), "figures", unit="fig")
    records = []
    try:
        for name in names:
            bar.label(name)
            rec = run_figure(name, out_dir, quick)
            records.append(rec)
            bar.update(rec)
    finally:
        bar.close()
    document = _write_manifest(records, out_dir, bool(quick), command)
    write_report(json.loads(json.dumps(document)), out_dir)
    return records
