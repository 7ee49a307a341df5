"""The grid of numbers of negatives ``k`` swept or searched over: validation and parsing."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .._validation import K_MAX, check_k

#: Largest number of k a ``parse_ks`` range may expand to.
_MAX_PARSED_KS = 100_000


def _check_ks(ks: Any, name: str = "ks") -> tuple:
    """A non-empty sequence of distinct ``k`` (integers ``>= 1`` or ``math.inf``)."""
    if isinstance(ks, (str, bytes)) or not isinstance(ks, Iterable):
        raise TypeError(
            f"{name} must be a sequence of integers >= 1 (or math.inf), got {type(ks).__name__}"
        )
    values = list(np.asarray(ks, dtype=object).ravel()) if isinstance(ks, np.ndarray) else list(ks)
    if not values:
        raise ValueError(
            f"{name} must be a non-empty sequence of integers >= 1 (or math.inf), got an empty one"
        )
    out = []
    seen = set()
    for i, k in enumerate(values):
        kk = check_k(k, allow_inf=True, name=f"{name}[{i}]")
        if kk in seen:
            raise ValueError(f"{name} must not repeat a value, {kk!r} appears twice")
        seen.add(kk)
        out.append(kk)
    return tuple(out)


def parse_k(token: str, name: str = "k") -> int | float:
    """One number of negatives from text: an integer ``>= 1`` (also written ``1e18``, parsed
    exactly, never rounded through a float) or ``inf``/``infinity``.

    ``1e400`` is refused by name (beyond the float range every engine needs), never taken
    as infinity; ``2.5``, ``0`` and words are refused.  The one parser of ``k`` behind every
    command-line option (``--negatives`` of ``solve``, ``sweep`` and ``train``).
    """
    import decimal

    t = str(token).strip().lower()
    if t in ("inf", "infinity"):
        return math.inf
    rule = f"{name} must be an integer >= 1 or 'inf', got {token!r}"
    try:
        d = decimal.Decimal(t)
    except decimal.InvalidOperation:
        raise ValueError(rule) from None
    if not d.is_finite() or d != d.to_integral_value() or d < 1:
        raise ValueError(rule)
    if d > decimal.Decimal(K_MAX):
        raise ValueError(f"{name} must be at most {K_MAX:.6g} (the largest float), got {token!r}")
    return int(d)


def parse_ks(text: str, name: str = "ks") -> tuple:
    """Parse a grid of ``k`` from text: ``"1,2,4,8"``, ``"1..64"``, ``"1..8,16,32,inf"``.

    Items are separated by commas; each is an integer ``>= 1``, ``inf`` (the limit
    objective), or an inclusive range ``a..b`` of every integer from ``a`` to ``b``.  The
    result must be non-empty with no repeated ``k`` (as for :func:`sweep_negatives`).
    ``ValueError`` naming ``name`` (the CLI passes ``"--negatives"``) on bad text.
    """
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ValueError(
            f"{name} must list the numbers of negatives, e.g. '1,2,4' or '1..64', got {text!r}"
        )
    out: list = []

    def as_int(tok: str) -> int:
        try:
            v = parse_k(tok, name)
        except ValueError as exc:
            raise ValueError(f"{exc} (in {text!r})") from None
        if v == math.inf:
            raise ValueError(f"{name}: a range a..b needs finite ends, got {tok!r} (in {text!r})")
        return int(v)

    for item in (t.strip() for t in text.split(",")):
        if item.lower() in ("inf", "infinity"):
            out.append(math.inf)
        elif ".." in item:
            lo, _, hi = item.partition("..")
            a, b = as_int(lo.strip()), as_int(hi.strip())
            if b < a:
                raise ValueError(f"{name}: range {item!r} must have start <= end (in {text!r})")
            if b - a + 1 + len(out) > _MAX_PARSED_KS:
                raise ValueError(f"{name}: more than {_MAX_PARSED_KS} values of k (in {text!r})")
            out.extend(range(a, b + 1))
        else:
            out.append(as_int(item))
    return _check_ks(out, name=name)
