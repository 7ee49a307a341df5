"""The symmetric family ``G(s) = (1 − s) I + s 11ᵀ``: its exact loss and monotonicity (SPEC §5).

On ``G(s)`` an anchor's ``a_y`` is 1 for a negative equal to itself and ``e^{(s−1)/τ}``
otherwise, so the loss is a finite binomial sum; at ``s = −1/(m−1)`` (the regular simplex)
it is :func:`simplex_loss_expr`.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .exact_sums import _binomial_weights
from .symbols import _R, TAU, S, _check_mk, _sym

__all__ = ["SymmetricFamily", "simplex_loss_expr", "symmetric_family"]


@dataclass(frozen=True, eq=False, repr=False)
class SymmetricFamily:
    """The loss on ``G(s) = (1 − s) I + s 11ᵀ`` and the exact proof that it increases in ``s``.

    Attributes
    ----------
    m, k : int
    s, tau : sympy.Symbol
    interval : tuple of sympy.Rational
        ``(−1/(m−1), 1)``: the ``s`` for which ``G(s)`` is feasible.
    minimiser : sympy.Rational
        ``−1/(m−1)`` (the regular simplex).
    loss : sympy.Expr
        ``Σ_j w_j log(1 + j + (k − j) e^{(s−1)/τ})``, ``w_j = C(k,j) m^{−j}(1 − 1/m)^{k−j}``.
    derivative : sympy.Expr
        ``dL/ds = Σ_j c_j · e^{(s−1)/τ} / (τ (1 + j + (k − j) e^{(s−1)/τ}))``.
    derivative_terms : tuple of (sympy.Rational, sympy.Expr)
        ``(c_j, positive factor)`` with ``c_j = w_j (k − j)``.
    derivative_verified : bool
        ``d/ds`` of each loss term minus the matching derivative term cancels to 0 exactly.
    increasing : bool or None
        Derivative verified, every ``c_j ≥ 0`` and one ``> 0`` (so ``dL/ds > 0`` for all ``s, τ``).
    """

    m: int
    k: int
    s: sp.Symbol
    tau: sp.Symbol
    interval: tuple
    minimiser: sp.Rational
    loss: sp.Expr
    derivative: sp.Expr
    derivative_terms: tuple
    derivative_verified: bool
    increasing: bool | None

    def __repr__(self) -> str:
        return (
            f"SymmetricFamily(m={self.m}, k={self.k}, interval=[{self.interval[0]}, {self.interval[1]}], "
            f"minimiser={self.minimiser}, increasing={self.increasing})"
        )

    def _repr_html_(self) -> str:
        """A table for Jupyter: interval, minimiser, the exact monotonicity check (long expressions cut)."""
        from .._html import fields_html

        return fields_html(self)


def simplex_loss_expr(m: int, k: int, q: sp.Expr | None = None) -> sp.Expr:
    """``Σ_j C(k,j) m^{−j} (1 − 1/m)^{k−j} log(1 + j + (k − j) q)`` (SPEC §5), exact.

    ``q`` defaults to ``exp(−m/((m−1)τ))`` with the positive symbol ``TAU``.

    Parameters
    ----------
    m : int
        Number of classes, ``>= 2``.
    k : int
        Number of negatives, ``>= 1``.
    q : sympy.Expr, optional
        ``a_y`` of a negative of another class at the regular simplex (``e^{−m/((m−1)τ)}``).

    Returns
    -------
    sympy.Expr
        The population loss of the regular simplex (uniform ``ρ``), the ``log`` terms
        unevaluated.
    """
    m, k = _check_mk(m, k)
    if q is None:
        q = sp.exp(-sp.Rational(m, m - 1) / TAU)
    w = _binomial_weights(m, k)
    # evaluate=False: the log terms are exact as written; skip sympy's automatic evaluation.
    return sp.Add(*[_sym(w[j]) * sp.log(1 + j + (k - j) * q, evaluate=False) for j in range(k + 1)])


def symmetric_family(m: int, k: int) -> SymmetricFamily:
    """Loss of ``G(s) = (1 − s) I + s 11ᵀ`` and an exact proof that it increases in ``s``.

    On ``G(s)`` an anchor's ``a_y`` is 1 for a negative equal to itself and
    ``e^{(s−1)/τ}`` otherwise, so with ``N ~ Binomial(k, 1/m)`` collisions (SPEC §5 step 2)

        L(s) = Σ_j w_j log(1 + j + (k − j) e^{(s−1)/τ}),
        L'(s) = Σ_j w_j (k − j) e^{(s−1)/τ} / (τ (1 + j + (k − j) e^{(s−1)/τ})) > 0,

    each term a non-negative rational times a positive function (the ``j < k`` terms are
    strictly positive).  ``G(s)`` is feasible exactly for ``s ∈ [−1/(m−1), 1]``, so the loss
    on the family is minimised at ``s = −1/(m−1)``, the regular simplex.

    Parameters
    ----------
    m : int
        Number of classes, ``>= 2``.
    k : int
        Number of negatives, ``>= 1``.

    Returns
    -------
    SymmetricFamily
        The symbols ``s`` and ``τ``, ``L(s)`` and ``L'(s)`` as sympy expressions, the feasible
        interval ``[−1/(m−1), 1]``, the minimiser ``s = −1/(m−1)`` and ``increasing`` (the
        exact check of ``L'(s) > 0`` passed).
    """
    m, k = _check_mk(m, k)
    w = _binomial_weights(m, k)
    e = sp.exp((S - 1) / TAU)
    loss_terms = [_sym(w[j]) * sp.log(1 + j + (k - j) * e) for j in range(k + 1)]
    coeffs = [w[j] * (k - j) for j in range(k + 1)]
    factors = [e / (TAU * (1 + j + (k - j) * e)) for j in range(k + 1)]
    verified = True
    for term, c, f in zip(loss_terms, coeffs, factors):
        diff = sp.diff(term, S) - _sym(c) * f
        # Replace the single transcendental atom by a positive symbol: the check becomes an
        # identity between rational functions over Q, decided by ``cancel``.
        diff = diff.subs(e, _R)
        if diff.has(S) or sp.cancel(sp.together(diff)) != 0:
            verified = False
    nonzero = [c for c in coeffs if c != 0]
    increasing = verified and bool(nonzero) and all(c > 0 for c in nonzero)
    return SymmetricFamily(
        m=m,
        k=k,
        s=S,
        tau=TAU,
        interval=(sp.Rational(-1, m - 1), sp.Integer(1)),
        minimiser=sp.Rational(-1, m - 1),
        loss=sp.Add(*loss_terms),
        derivative=sp.Add(*[_sym(c) * f for c, f in zip(coeffs, factors) if c != 0]),
        derivative_terms=tuple((_sym(c), f) for c, f in zip(coeffs, factors) if c != 0),
        derivative_verified=verified,
        increasing=increasing if verified else None,
    )
