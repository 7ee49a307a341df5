"""Exact coefficient sums of the uniform class-level gradient (SPEC §3, §5).

Every entry of the gradient at ``G(s) = (1 − s) I + s 11ᵀ`` is ``(1/τ) Σ_i c_i b_i(r)`` with
``b_i(r) = r / (1 + i + (k − i) r)``; this module computes the rational coefficient vectors
``c`` (tuples of ``Fraction``, index ``i = 0..k``) by exact binomial / trinomial sums over the
multinomial law of the negatives, memoised per ``(m, k)``, and combines them entry by entry.
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache
from math import comb

from .symbols import _Vec


@cache
def _binomial_weights(m: int, k: int) -> _Vec:
    """``P(N = j)`` for ``N ~ Binomial(k, 1/m)``: the number of negatives equal to the anchor."""
    denom = m**k
    return tuple(Fraction(comb(k, j) * (m - 1) ** (k - j), denom) for j in range(k + 1))


@cache
def _offdiag_coefficients(m: int, k: int) -> _Vec:
    """Coefficients of ``m τ D[x, y]`` (``y ≠ x``) on the basis ``b_i``, by enumeration.

    ``D[x,y] = (1/(mτ)) · E[ν_y · r / (1 + ν_x + (k − ν_x) r)]``; the pair ``(ν_x, ν_y)`` is
    trinomial ``(k; 1/m, 1/m, (m−2)/m)``, so the coefficient of ``b_i`` is
    ``Σ_j P(ν_x = i, ν_y = j) · j`` — summed term by term, without the conditional-mean
    shortcut ``E[ν_y | ν_x = i] = (k − i)/(m − 1)`` that the proof uses.
    """
    # integer arithmetic: P(ν_x = i, ν_y = j) = C(k,i) C(k−i,j) (m−2)^{k−i−j} / m^k
    denom = m**k
    powers = [1] * (k + 1)  # (m − 2)^e
    for e in range(1, k + 1):
        powers[e] = powers[e - 1] * (m - 2)
    out = []
    outer = 1  # C(k, i)
    for i in range(k + 1):
        n = k - i
        inner, tot = 1, 0  # inner = C(n, j)
        for j in range(1, n + 1):
            inner = inner * (n - j + 1) // j
            tot += inner * j * powers[n - j]
        out.append(Fraction(outer * tot, denom))
        outer = outer * (k - i) // (i + 1)
    return tuple(out)


@cache
def _diag_coefficients(m: int, k: int) -> _Vec:
    """Coefficients of ``m τ D[x, x]`` on ``b_i``: ``−P(N = i) (k − i)``.

    ``G[x,x]`` enters anchor ``x``'s loss as the positive score (sign −) and as the score of a
    negative equal to ``x`` (sign +, cancelling: ``a_x ≡ 1``), so only the ``k − N`` other
    negatives contribute, each with ``−a_y/τ = −r/τ``.
    """
    w = _binomial_weights(m, k)
    return tuple(-w[i] * (k - i) for i in range(k + 1))


def _zero(k: int) -> _Vec:
    return (Fraction(0),) * (k + 1)


def _add(u: _Vec, v: _Vec) -> _Vec:
    return tuple(a + b for a, b in zip(u, v))


def _sub(u: _Vec, v: _Vec) -> _Vec:
    return tuple(a - b for a, b in zip(u, v))


def _scale(u: _Vec, c: Fraction) -> _Vec:
    return tuple(c * a for a in u)


def _gram(m: int, s: Fraction) -> list[list[Fraction]]:
    return [[Fraction(1) if x == y else s for y in range(m)] for x in range(m)]


def _gradient_terms(
    G: list[list[Fraction]], k: int
) -> tuple[Fraction, tuple[tuple[_Vec, ...], ...]]:
    """Entry-by-entry exact gradient ``M = (D + Dᵀ)/2`` of the uniform class-level loss at ``G``.

    Returns ``(delta, M)`` where every row of ``G`` must satisfy
    ``G[x,y] − G[x,x] = delta`` for all ``y ≠ x`` (one common exponent, so one variable
    ``r = exp(delta/τ)``); ``M[x][y]`` is the coefficient vector of ``τ M[x,y]``.
    """
    m = len(G)
    deltas = {G[x][y] - G[x][x] for x in range(m) for y in range(m) if y != x}
    if len(deltas) != 1:
        raise NotImplementedError("exact gradients are implemented for G with one off-diagonal gap")
    (delta,) = deltas
    inv_m = Fraction(1, m)
    # D[x][y]: derivative with respect to G[x,y] alone, entry by entry.  Anchor x has
    # a_x = 1 and a_z = r for z != x (checked above from the entries of row x), so
    #   y != x:  m τ D[x,y] = E[ν_y r / (1 + ν_x + (k − ν_x) r)]           (trinomial sum)
    #   y == x:  m τ D[x,x] = −E[(k − ν_x) r / (1 + ν_x + (k − ν_x) r)]    (binomial sum)
    D = []
    for x in range(m):
        row = []
        for y in range(m):
            if y == x:
                row.append(_scale(_diag_coefficients(m, k), inv_m))
            else:
                row.append(_scale(_offdiag_coefficients(m, k), inv_m))
        D.append(row)
    half = Fraction(1, 2)
    M = tuple(tuple(_scale(_add(D[x][y], D[y][x]), half) for y in range(m)) for x in range(m))
    return delta, M
