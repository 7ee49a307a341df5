"""Exact sign / zero decisions for the certificates: ``True``, ``False`` or ``None``.

How the booleans are decided (no floating point anywhere)
---------------------------------------------------------
Every entry of the gradient at ``G(s)`` is ``(1/τ)`` times a finite sum

    Σ_{i=0..k} c_i · b_i(r),      b_i(r) = r / (1 + i + (k − i) r),

with *rational* ``c_i`` (Python ``Fraction``) and basis functions ``b_i`` that are
manifestly positive for ``r > 0``.  The coefficients are obtained entry by entry by exact
sums over the joint law of two class counts of the negatives
(:func:`latentclass.symbolic.exact_sums._gradient_terms`).
Linear identities such as ``(∇L + λI) G = 0`` then act on the coefficient vectors by exact
rational arithmetic.  A quantity is

* **zero** when all its coefficients vanish, or, failing that, when the numerator
  polynomial ``Σ_i c_i r Π_{l≠i} (1 + l + (k − l) r)`` is the zero polynomial in ``Q[r]``
  (a decision procedure: ``r`` ranges over an interval as ``τ`` ranges over ``(0, ∞)``);
* **positive / negative** when its non-zero coefficients all have one sign, or, failing
  that, when all coefficients of the numerator polynomial have one sign (the common
  denominator has positive coefficients);
* **undecided** (``None``) otherwise.  ``None`` is never promoted to ``True``.

When ``s = 1`` the exponent vanishes, ``r ≡ 1`` and quantities are exact rationals.

The identities of :mod:`latentclass.symbolic.kkt` (equal gradient entries, stationarity) use
the coefficient test alone: for ``r ≢ 1`` the ``b_i`` are linearly independent over ``Q``, so
a combination vanishes identically iff all its coefficients do.
"""

from __future__ import annotations

from fractions import Fraction

import sympy as sp

from .symbols import _R, _sym, _Vec


def _numerator_poly(c: _Vec, k: int) -> sp.Poly:
    """``Σ_i c_i r Π_{l≠i} (1 + l + (k − l) r)`` in ``Q[r]`` (common denominator has + coefficients)."""
    lin = [sp.Poly((k - l) * _R + (1 + l), _R, domain="QQ") for l in range(k + 1)]
    total = sp.Poly(0, _R, domain="QQ")
    r_poly = sp.Poly(_R, _R, domain="QQ")
    for i, ci in enumerate(c):
        if ci == 0:
            continue
        term = r_poly * _sym(ci)
        for l in range(k + 1):
            if l != i:
                term = term * lin[l]
        total = total + term
    return total


def _sign(c: _Vec, k: int, r_is_one: bool) -> int | None:
    """Exact sign (−1, 0, +1) of ``Σ c_i b_i(r)`` for every admissible ``r``; ``None`` if undecided."""
    if r_is_one:  # r ≡ 1: b_i(1) = 1/(1 + k) for every i
        tot = sum(c, Fraction(0))
        return (tot > 0) - (tot < 0)
    nonzero = [a for a in c if a != 0]
    if not nonzero:
        return 0
    if all(a > 0 for a in nonzero):
        return 1
    if all(a < 0 for a in nonzero):
        return -1
    num = _numerator_poly(c, k)
    if num.is_zero:
        return 0
    coeffs = num.all_coeffs()
    if all(a >= 0 for a in coeffs):
        return 1
    if all(a <= 0 for a in coeffs):
        return -1
    return None


def _nonpositive(sign: int | None) -> bool | None:
    return None if sign is None else sign <= 0


def _nonnegative(sign: int | None) -> bool | None:
    return None if sign is None else sign >= 0


def _and(*values: bool | None) -> bool | None:
    """Three-valued conjunction: False wins, then None, then True."""
    if any(v is False for v in values):
        return False
    if any(v is None for v in values):
        return None
    return True
