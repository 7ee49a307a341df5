"""The exact gradient of the class-level population loss, entry by entry (SPEC §3, §5).

Setting: the class-level model (``n = m`` points, ``D_c = δ_c``) with an exact rational class
law ``ρ`` (``ρ_z = p_z / d``, integers ``p_z > 0`` summing to ``d``), so ``P(x, x⁺) = ρ_x δ_{x x⁺}``
and the ``k`` negatives have multinomial counts ``ν ~ Mult(k; ρ)``.  The loss is

    L(G) = Σ_x ρ_x E log(1 + Σ_z ν_z a_xz),     a_xz = exp((G[x,z] − G[x,x]) / τ)   (a_xx = 1).

The gradient is taken at a Gram matrix whose off-diagonal gaps ``G[x,z] − G[x,x]`` (``z ≠ x``)
all equal one rational ``δ`` — e.g. ``G(s) = (1 − s) I + s 11ᵀ``, ``δ = s − 1`` — so that
every ``a_xz`` (``z ≠ x``) is the single transcendental ``r = exp(δ/τ)`` and the denominator of
anchor ``x``'s term is ``1 + ν_x + (k − ν_x) r``.  Every entry of the gradient is then
``(1/τ) Σ_{i=0..k} c_i b_i(r)`` with ``b_i(r) = r / (1 + i + (k − i) r)`` and rational ``c_i``.

Nothing here assumes that the gradient is of the form ``αI + β11ᵀ``: row ``x`` of the
one-sided derivative ``D[x, y] = ∂L/∂G[x, y]`` is computed from anchor ``x``'s term only, for
every ``y`` separately, by an explicit sum over the joint law of ``(ν_x, ν_y)`` whose
parameters ``ρ_x``, ``ρ_y`` and ``Σ_{z ∉ {x, y}} ρ_z`` are read off the class law for that pair,
and the gap of each entry is read off ``G``.  The symmetric gradient is ``M = (D + Dᵀ)/2``.
Deciding whether ``M = αI + β11ᵀ`` is then a genuine check on ``m²`` computed entries; it fails
for a non-uniform ``ρ``.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from functools import cache
from math import comb, lcm

from .symbols import _Vec

#: Integer coefficient vectors (index ``i = 0..k`` ↔ basis ``b_i``).
_IntVec = tuple[int, ...]


@cache
def _binomial_weights(m: int, k: int) -> _Vec:
    """``P(N = j)`` for ``N ~ Binomial(k, 1/m)``: the number of negatives equal to the anchor."""
    denom = m**k
    return tuple(Fraction(comb(k, j) * (m - 1) ** (k - j), denom) for j in range(k + 1))


def _class_law(class_probs: Sequence[Fraction]) -> tuple[tuple[int, ...], int]:
    """``ρ_z = p_z / d`` with one common denominator ``d``: returns ``(p, d)``."""
    d = lcm(*(c.denominator for c in class_probs))
    p = tuple(int(c * d) for c in class_probs)
    return p, d


def _pair_moment(k: int, p_anchor: int, p_other: int, p_rest: int) -> _IntVec:
    """``d^k · E[ν_y ; ν_x = i]`` for ``i = 0..k``, by an explicit sum over ``ν_y``.

    ``(ν_x, ν_y, k − ν_x − ν_y)`` is multinomial with probabilities proportional to
    ``(p_anchor, p_other, p_rest)`` (which sum to ``d``), so

        d^k E[ν_y ; ν_x = i] = Σ_{j=0..k−i} C(k,i) C(k−i,j) p_anchor^i p_other^j p_rest^{k−i−j} · j.

    The sum is evaluated term by term (not by its closed form ``(k−i) p_other (d − p_anchor)^{k−i−1}``).
    """
    pa = [1] * (k + 1)
    po = [1] * (k + 1)
    pr = [1] * (k + 1)
    for e in range(1, k + 1):
        pa[e] = pa[e - 1] * p_anchor
        po[e] = po[e - 1] * p_other
        pr[e] = pr[e - 1] * p_rest
    out = []
    outer = 1  # C(k, i)
    for i in range(k + 1):
        n = k - i
        inner, tot = 1, 0  # inner = C(n, j)
        for j in range(1, n + 1):
            inner = inner * (n - j + 1) // j
            tot += inner * j * po[j] * pr[n - j]
        out.append(outer * pa[i] * tot)
        outer = outer * (k - i) // (i + 1)
    return tuple(out)


def _gradient_row(
    G: Sequence[Sequence[Fraction]], k: int, p: Sequence[int], x: int, delta: Fraction
) -> list[_IntVec]:
    """Row ``x`` of ``d^{k+1} τ D``, ``D[x, y] = ∂L/∂G[x, y]`` (one-sided), from anchor ``x``'s term.

    ``G[x, y]`` (``y ≠ x``) enters only ``a_xy`` (``∂a_xy/∂G[x,y] = a_xy/τ``);
    ``G[x, x]`` enters every ``a_xz``, ``z ≠ x`` (``∂a_xz/∂G[x,x] = −a_xz/τ``) and cancels in
    ``a_xx ≡ 1`` (positive and negative score).  Hence, with ``a_xz = r`` read off ``G``,

        τ D[x, y] = ρ_x E[ν_y b_{ν_x}(r)]                   (y ≠ x),
        τ D[x, x] = −ρ_x Σ_{z ≠ x} E[ν_z b_{ν_x}(r)],

    each expectation an explicit sum over the joint law of ``(ν_x, ν_z)``.
    """
    m = len(G)
    row: list[_IntVec] = []
    diag = [0] * (k + 1)
    for y in range(m):
        if y == x:
            row.append(())  # filled below
            continue
        if G[x][y] - G[x][x] != delta:
            raise NotImplementedError(
                "exact gradients are implemented for G with one off-diagonal gap "
                "G[x,y] - G[x,x] (y != x)"
            )
        p_rest = sum(p[z] for z in range(m) if z not in (x, y))
        moment = _pair_moment(k, p[x], p[y], p_rest)
        entry = tuple(p[x] * c for c in moment)
        row.append(entry)
        diag = [u - v for u, v in zip(diag, entry)]
    row[x] = tuple(diag)
    return row


def _gradient_terms(
    G: Sequence[Sequence[Fraction]], k: int, class_probs: Sequence[Fraction] | None = None
) -> tuple[Fraction, list[list[_IntVec]], int]:
    """Entry-by-entry exact symmetric gradient ``M = (D + Dᵀ)/2`` of the class-level loss at ``G``.

    Parameters
    ----------
    G : m × m rationals with one common off-diagonal gap ``δ = G[x,y] − G[x,x]``.
    k : number of negatives.
    class_probs : exact rationals summing to 1 (default: uniform ``1/m``).

    Returns
    -------
    (delta, M, scale)
        ``M[x][y]`` is an integer coefficient vector with ``τ M[x,y] = Σ_i M[x][y][i] b_i(r) / scale``,
        ``r = exp(delta/τ)``, ``scale = 2 d^{k+1} > 0``.
    """
    m = len(G)
    if class_probs is None:
        class_probs = [Fraction(1, m)] * m
    if len(class_probs) != m:
        raise ValueError(f"class_probs must have {m} entries, got {len(class_probs)}")
    p, d = _class_law(class_probs)
    if m < 2:
        raise ValueError("the gradient needs m >= 2 classes")
    delta = G[0][1] - G[0][0]
    D = [_gradient_row(G, k, p, x, delta) for x in range(m)]
    M = [
        [
            tuple(2 * a for a in D[x][x])
            if x == y
            else tuple(a + b for a, b in zip(D[x][y], D[y][x]))
            for y in range(m)
        ]
        for x in range(m)
    ]
    return delta, M, 2 * d ** (k + 1)


def _scale(u: _Vec, c: Fraction) -> _Vec:
    return tuple(c * a for a in u)


def _sub(u: _Vec, v: _Vec) -> _Vec:
    return tuple(a - b for a, b in zip(u, v))


def _gram(m: int, s: Fraction) -> list[list[Fraction]]:
    return [[Fraction(1) if x == y else s for y in range(m)] for x in range(m)]
