"""Result files: path checks and atomic writes (temporary file, ``fsync``, rename)."""

from __future__ import annotations

import contextlib
import os
from typing import Any


def _check_out_path(path: Any, name: str) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {type(path).__name__}")
    p = os.fspath(path)
    if not p:
        raise ValueError(f"{name} must be a non-empty path")
    parent = os.path.dirname(os.path.abspath(p))
    if not os.path.isdir(parent):
        raise ValueError(f"{name}: the directory of {p!r} does not exist ({parent!r})")
    if os.path.isdir(p):
        raise ValueError(f"{name}: {p!r} is a directory, expected a file path")
    return p


def _csv_comment_lines(title: str, items: dict) -> str:
    """``# title`` then one ``# key: value`` line per item: the provenance block of a CSV.

    ``pandas.read_csv(path, comment="#")`` skips these lines (as do ``numpy.genfromtxt``
    and R's ``read.csv(comment.char = "#")``); with the standard ``csv`` module, skip the
    lines that start with ``#``.  Values are written with ``str`` on one line.
    """
    out = [f"# {title}\n"]
    for key, value in items.items():
        text = " ".join(str(value).split())  # one line, whatever the value
        out.append(f"# {key}: {text}\n")
    return "".join(out)


def _write_text(target: Any, text: str) -> None:
    if not isinstance(target, (str, os.PathLike)) and callable(getattr(target, "write", None)):
        target.write(text)
        return
    _atomic_write(_check_out_path(target, "path"), text)


def _atomic_write(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
