"""Symbols shared by the exact certificates, and the exact-input checks.

``TAU``, ``Q`` and ``S`` appear in every returned expression; ``_R`` is the formal variable
of the polynomial arithmetic of :mod:`latentclass.symbolic.signs`.
"""

from __future__ import annotations

import numbers
from fractions import Fraction
from typing import Any

import sympy as sp

from .._validation import check_integer, check_k

__all__ = ["TAU", "Q", "S"]

#: Positive temperature symbol used in every expression of this module.
TAU = sp.Symbol("tau", positive=True)
#: Positive symbol standing for ``q = exp(−m / ((m−1) τ))`` in the ``*_terms`` fields.
Q = sp.Symbol("q", positive=True)
#: Real symbol parametrising the family ``G(s) = (1 − s) I + s 11ᵀ``.
S = sp.Symbol("s", real=True)
#: Formal variable ``r = exp((s − 1)/τ)`` of the exact polynomial arithmetic.
_R = sp.Symbol("r", positive=True)

_Vec = tuple  # a coefficient vector: tuple of Fractions, index i ↔ basis b_i


def _check_mk(m: Any, k: Any) -> tuple[int, int]:
    m = check_integer(m, "m", minimum=2)
    k = check_k(k)
    return m, k


def _as_rational(s: Any, name: str = "s") -> Fraction:
    """An exact rational: int, ``fractions.Fraction``, ``sympy.Rational`` or a string like '-1/3'."""
    if isinstance(s, bool):
        raise TypeError(f"{name} must be an exact rational number, got the bool {s!r}")
    if isinstance(s, (numbers.Integral, Fraction)):
        return Fraction(s)
    if isinstance(s, sp.Rational):
        return Fraction(int(s.p), int(s.q))
    if isinstance(s, str):
        try:
            return Fraction(s)
        except ValueError:
            raise ValueError(
                f"{name} must be an exact rational such as '-1/3', got {s!r}"
            ) from None
    if isinstance(s, numbers.Real):
        raise TypeError(
            f"{name} must be an exact rational (int, fractions.Fraction, sympy.Rational or str), "
            f"got the float {s!r}; floats are not accepted by exact certificates"
        )
    raise TypeError(f"{name} must be an exact rational number, got {type(s).__name__}")


def _sym(x: Fraction | int) -> sp.Rational:
    x = Fraction(x)
    return sp.Rational(x.numerator, x.denominator)
