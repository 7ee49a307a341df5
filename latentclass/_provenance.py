"""Provenance of written results: the versions of the code that computed them.

:func:`versions` is recorded in every table the package writes (sweep CSV and JSON,
degradation-search CSV and JSON, sweep checkpoints) and in the figures' ``manifest.json``.
"""

from __future__ import annotations

import functools
import platform

__all__ = ["versions"]


@functools.lru_cache(maxsize=1)
def _versions() -> tuple[tuple[str, str], ...]:
    from importlib.metadata import PackageNotFoundError, version

    import numpy
    import scipy

    try:  # the installed distribution's version, as latentclass.__version__ (no package import)
        lc_version = version("latentclass")
    except PackageNotFoundError:  # pragma: no cover - a source tree that is not installed
        lc_version = "0.1.0"
    return (
        ("latentclass", str(lc_version)),
        ("python", platform.python_version()),
        ("numpy", str(numpy.__version__)),
        ("scipy", str(scipy.__version__)),
        ("platform", " ".join(platform.platform().split())),
    )


def versions() -> dict:
    """The versions that computed a result, as a new ``dict`` of strings.

    Keys, in this order: ``"latentclass"`` (``latentclass.__version__``, i.e. the installed
    distribution's version from :mod:`importlib.metadata`), ``"python"``
    (:func:`platform.python_version`), ``"numpy"`` and ``"scipy"`` (their ``__version__``)
    and ``"platform"`` (:func:`platform.platform`: OS, kernel, machine, libc).  Values are
    single-line strings.  Each call returns a fresh dict (safe to modify).
    """
    return dict(_versions())
