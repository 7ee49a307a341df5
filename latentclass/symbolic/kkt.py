"""Exact KKT checks at ``G(s) = (1 − s) I + s 11ᵀ`` and the simplex certificate (SPEC §5).

The convex problem is ``min L_k(G) s.t. G ⪰ 0, diag G ≤ 1`` for the class-level model (uniform
``ρ`` unless ``class_probs`` is given).  The gradient comes from
:mod:`latentclass.symbolic.exact_sums`, every entry computed separately; the form
``∇L = αI + β11ᵀ`` is then decided on all ``m²`` entries (it is not assumed), the signs by
:mod:`latentclass.symbolic.signs`; sympy expressions of the results are built on first access.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from math import lcm
from typing import Any

import sympy as sp

from .exact_sums import _gradient_terms, _gram, _scale
from .family import simplex_loss_expr
from .signs import _and, _nonnegative, _nonpositive, _sign
from .symbols import TAU, Q, _as_rational, _check_mk, _sym, _Vec

__all__ = ["KKTCheck", "SimplexCertificate", "kkt_at", "simplex_kkt"]


def _count(c: _Vec) -> int:
    return sum(1 for a in c if a != 0)


def _basis_expr(i: int, k: int, r: sp.Expr) -> sp.Expr:
    return r / (1 + i + (k - i) * r)


def _combination_expr(c: _Vec, k: int, r: sp.Expr) -> sp.Expr:
    """``(1/τ) Σ_i c_i b_i(r)`` as a sympy expression (no simplification)."""
    terms = [_sym(ci) * _basis_expr(i, k, r) for i, ci in enumerate(c) if ci != 0]
    return sp.Add(*terms) / TAU


def _terms(c: _Vec, k: int, r: sp.Expr) -> tuple[tuple[sp.Rational, sp.Expr], ...]:
    return tuple((_sym(ci), _basis_expr(i, k, r)) for i, ci in enumerate(c) if ci != 0)


@dataclass(frozen=True, eq=False, repr=False)
class KKTCheck:
    """Exact KKT check of ``min L_k(G) s.t. G ⪰ 0, diag G ≤ 1`` at ``G(s) = (1−s)I + s11ᵀ``.

    Attributes
    ----------
    m, k : int
    s : sympy.Rational
    gram : sympy.Matrix
        ``G(s)``, exact rationals.
    r : sympy.Expr
        ``exp((s − 1)/τ)``, the value of every off-anchor ``a_y``.
    class_probs : tuple of sympy.Rational
        The class law ``ρ`` (uniform unless given).
    alpha, beta : sympy.Expr
        ``∇L(G(s)) = α I + β 11ᵀ`` (gradient convention of ``NCEObjective.grad``), in ``tau``;
        read off the entries ``(0, 0)`` and ``(0, 1)`` (meaningful when ``gradient_form``).
    multiplier : sympy.Expr
        ``λ = −α``, the common multiplier of the constraints ``G[x,x] ≤ 1``.
    alpha_terms, beta_terms : tuple of (sympy.Rational, sympy.Expr)
        ``α = (1/τ) Σ c_i b_i(r)`` with ``b_i(r) = r / (1 + i + (k − i) r) > 0``.
    alpha_coefficients, beta_coefficients : tuple of fractions.Fraction
        The rational ``c_i`` of ``α`` and ``β`` on the basis ``b_i`` (index ``i = 0..k``).
    gradient_form : bool
        ``diagonal_equal and offdiagonal_equal``: every entry of the entry-by-entry gradient
        equals ``α δ_xy + β`` exactly.
    diagonal_equal, offdiagonal_equal : bool
        All ``m`` diagonal entries are identical functions of ``τ``; likewise all ``m(m−1)``
        off-diagonal entries.
    primal_feasible : bool
        ``G(s) ⪰ 0`` (``−1/(m−1) ≤ s ≤ 1``; the diagonal is 1).
    stationary : bool
        ``(∇L + λ I) G(s) = 0`` holds identically in ``τ``, checked on all ``m²`` entries.
    dual_feasible : bool or None
        ``λ ≥ 0`` and ``Z = ∇L + λI = β 11ᵀ ⪰ 0``, i.e. ``α ≤ 0 ≤ β``; ``None`` if a sign is undecided.
    holds : bool or None
        ``primal_feasible and stationary and dual_feasible`` (three-valued).
    residual_entry : tuple (x, y) or None
        An entry where ``(∇L + λI) G`` is not identically zero.
    """

    m: int
    k: int
    s: sp.Rational
    gram: sp.Matrix
    r: sp.Expr
    class_probs: tuple
    gradient_form: bool
    diagonal_equal: bool
    offdiagonal_equal: bool
    primal_feasible: bool
    stationary: bool
    dual_feasible: bool | None
    holds: bool | None
    residual_entry: tuple[int, int] | None
    alpha_coefficients: tuple  # Fractions c_i with α = (1/τ) Σ c_i b_i(r)
    beta_coefficients: tuple
    _coefficients: tuple = ()  # τ·M·_scale as integer coefficient vectors (internal)
    _scale: int = 1

    # sympy expressions are built on first access (cheap booleans for large k)
    @cached_property
    def alpha(self) -> sp.Expr:
        return _combination_expr(self.alpha_coefficients, self.k, self.r)

    @cached_property
    def beta(self) -> sp.Expr:
        return _combination_expr(self.beta_coefficients, self.k, self.r)

    @cached_property
    def multiplier(self) -> sp.Expr:
        return _combination_expr(_scale(self.alpha_coefficients, Fraction(-1)), self.k, self.r)

    @cached_property
    def alpha_terms(self) -> tuple:
        return _terms(self.alpha_coefficients, self.k, self.r)

    @cached_property
    def beta_terms(self) -> tuple:
        return _terms(self.beta_coefficients, self.k, self.r)

    def gradient(self) -> sp.Matrix:
        """The exact gradient matrix ``∇L(G(s))`` (``m × m`` sympy expressions in ``tau``).

        Returns
        -------
        sympy.Matrix
            ``m × m``, entry ``(x, y)`` the exact ``∂L/∂G[x, y]`` at ``G(s)`` (SPEC §4.2, §5.1).
        """
        scale = Fraction(1, self._scale)
        return sp.Matrix(
            self.m,
            self.m,
            lambda x, y: _combination_expr(
                tuple(Fraction(a) * scale for a in self._coefficients[x][y]), self.k, self.r
            ),
        )

    def __repr__(self) -> str:
        return (
            f"KKTCheck(m={self.m}, k={self.k}, s={self.s}, primal_feasible={self.primal_feasible}, "
            f"stationary={self.stationary}, dual_feasible={self.dual_feasible}, holds={self.holds})"
        )

    def _repr_html_(self) -> str:
        """A table for Jupyter: the exact KKT conditions checked and their outcome."""
        from .._html import fields_html

        return fields_html(self)


@dataclass(frozen=True, eq=False, repr=False)
class SimplexCertificate:
    """Exact KKT certificate of the regular simplex for the uniform class-level model (SPEC §5).

    Attributes
    ----------
    m, k : int
    tau, q : sympy.Symbol
        Positive symbols; ``q`` stands for ``q_of_tau = exp(−m/((m−1)τ))``.
    q_of_tau : sympy.Expr
    loss : sympy.Expr
        ``L_k(G*) = Σ_j C(k,j) m^{−j} (1 − 1/m)^{k−j} log(1 + j + (k − j) q)``, in ``tau``.
    loss_q : sympy.Expr
        The same in the symbol ``q``.
    alpha, beta, multiplier : sympy.Expr
        ``∇L(G*) = α I + β 11ᵀ`` and ``λ = −α``, in ``tau``.
    alpha_terms, beta_terms : tuple of (sympy.Rational, sympy.Expr)
        ``α = (1/τ) Σ c_i · q/(1 + i + (k − i) q)``: rational coefficients times manifestly
        positive functions of the symbol ``q`` (likewise ``β``).
    stationary, dual_feasible, holds : bool or None
        Decided exactly (see :mod:`latentclass.symbolic.signs`); ``holds`` also requires primal feasibility.
    check : KKTCheck
        The underlying check at ``s = −1/(m−1)``.
    """

    m: int
    k: int
    tau: sp.Symbol
    q: sp.Symbol
    q_of_tau: sp.Expr
    stationary: bool
    dual_feasible: bool | None
    holds: bool | None
    check: KKTCheck

    # sympy expressions are built on first access (cheap booleans for large k)
    @cached_property
    def loss(self) -> sp.Expr:
        return simplex_loss_expr(self.m, self.k, self.q_of_tau)

    @cached_property
    def loss_q(self) -> sp.Expr:
        return simplex_loss_expr(self.m, self.k, self.q)

    @property
    def alpha(self) -> sp.Expr:
        return self.check.alpha

    @property
    def beta(self) -> sp.Expr:
        return self.check.beta

    @property
    def multiplier(self) -> sp.Expr:
        return self.check.multiplier

    @cached_property
    def alpha_terms(self) -> tuple:
        return _terms(self.check.alpha_coefficients, self.k, self.q)

    @cached_property
    def beta_terms(self) -> tuple:
        return _terms(self.check.beta_coefficients, self.k, self.q)

    def __repr__(self) -> str:
        return (
            f"SimplexCertificate(m={self.m}, k={self.k}, stationary={self.stationary}, "
            f"dual_feasible={self.dual_feasible}, holds={self.holds}, "
            f"alpha=<{_count(self.check.alpha_coefficients)} terms>, "
            f"beta=<{_count(self.check.beta_coefficients)} terms>)"
        )

    def _repr_html_(self) -> str:
        """A table for Jupyter: the exact simplex certificate's conditions and outcome."""
        from .._html import fields_html

        return fields_html(self)


def _is_zero(c: Sequence[int], r_is_one: bool) -> bool:
    """``Σ_i c_i b_i(r) ≡ 0`` exactly.

    For ``r ≢ 1`` the ``b_i`` are linearly independent (``b_k = r/(1+k)`` is a polynomial, each
    ``b_i``, ``i < k``, has its own pole ``−(1+i)/(k−i)``), so the combination vanishes
    identically iff every coefficient does; for ``r ≡ 1`` every ``b_i`` is ``1/(1+k)``.
    """
    return sum(c) == 0 if r_is_one else not any(c)


def _class_probs(class_probs: Any, m: int) -> list[Fraction] | None:
    if class_probs is None:
        return None
    if isinstance(class_probs, (str, bytes)) or not isinstance(class_probs, Sequence):
        raise TypeError("class_probs must be a sequence of exact rationals")
    rho = [_as_rational(c, "class_probs") for c in class_probs]
    if len(rho) != m:
        raise ValueError(f"class_probs must have m = {m} entries, got {len(rho)}")
    if any(c <= 0 for c in rho):
        raise ValueError("class_probs must be positive")
    if sum(rho) != 1:
        raise ValueError(f"class_probs must sum to exactly 1, got {sum(rho)}")
    return rho


def kkt_at(m: int, k: int, s: Any, class_probs: Any = None) -> KKTCheck:
    """Exact KKT check at ``G(s) = (1 − s) I + s 11ᵀ`` for the class-level model.

    Parameters
    ----------
    m : int
        Number of classes, ``>= 2``.
    k : int
        Number of negatives, ``>= 1``.
    s : int, fractions.Fraction, sympy.Rational or str
        Off-diagonal value; must be exact (floats raise ``TypeError``).
    class_probs : sequence of exact rationals, optional
        The class law ``ρ`` (positive, summing to exactly 1); default uniform ``1/m``, the
        setting of the theorem.  A non-uniform ``ρ`` exists to show that the check can fail:
        the gradient is then not of the form ``αI + β11ᵀ`` and ``gradient_form`` is ``False``.

    Returns
    -------
    KKTCheck

    Notes
    -----
    The gradient (SPEC §3, symmetric convention ``M = (D + Dᵀ)/2``) is computed entry by
    entry (:func:`latentclass.symbolic.exact_sums._gradient_terms`: row ``x`` from anchor
    ``x``'s term, each entry by an explicit sum over the joint law of two class counts).
    ``gradient_form`` then decides, on all ``m²`` entries, that the diagonal entries are equal
    and the off-diagonal entries are equal; ``α`` and ``β`` are read off the entries ``(0, 0)``
    and ``(0, 1)``.  ``λ = −α`` is the only multiplier that can make ``(∇L + λI) G(s)`` vanish
    when ``s ≠ 1``; the stationarity identity is checked on all ``m²`` entries by exact
    arithmetic.
    """
    m, k = _check_mk(m, k)
    s_frac = _as_rational(s)
    rho = _class_probs(class_probs, m)
    G = _gram(m, s_frac)
    delta, Mi, den_m = _gradient_terms(G, k, rho)
    r_is_one = delta == 0
    r = sp.exp(_sym(delta) / TAU)

    # Exact integer arithmetic: τ M[x,y] = Σ_i Mi[x][y][i] b_i(r) / den_m; G is scaled by
    # den_g > 0 (zero tests and signs are unchanged).
    den_g = lcm(*(g.denominator for row in G for g in row))
    Gi = [[int(g * den_g) for g in row] for row in G]

    diag_i = Mi[0][0]
    beta_i = Mi[0][1]
    alpha_i = tuple(a - b for a, b in zip(diag_i, beta_i))
    diagonal_equal = all(
        _is_zero([a - b for a, b in zip(Mi[x][x], diag_i)], r_is_one) for x in range(m)
    )
    offdiagonal_equal = all(
        _is_zero([a - b for a, b in zip(Mi[x][y], beta_i)], r_is_one)
        for x in range(m)
        for y in range(m)
        if x != y
    )
    form = diagonal_equal and offdiagonal_equal
    lam_i = tuple(-a for a in alpha_i)

    # (M + λI) G, entry by entry, all m² entries.
    residual_entry = None
    for x in range(m):
        for y in range(m):
            acc = [a * Gi[x][y] for a in lam_i]
            for z in range(m):
                gzy = Gi[z][y]
                if gzy:
                    acc = [a + b * gzy for a, b in zip(acc, Mi[x][z])]
            if not _is_zero(acc, r_is_one):
                residual_entry = (x, y)
                break
        if residual_entry is not None:
            break
    stationary = residual_entry is None
    scale = Fraction(1, den_m)
    alpha_c = tuple(Fraction(a) * scale for a in alpha_i)
    beta_c = tuple(Fraction(b) * scale for b in beta_i)

    primal = (1 - s_frac >= 0) and (1 + (m - 1) * s_frac >= 0)
    if form:
        dual = _and(
            _nonpositive(_sign(alpha_c, k, r_is_one)), _nonnegative(_sign(beta_c, k, r_is_one))
        )
    else:  # Z = ∇L + λI is not β11ᵀ; its PSD-ness is not decided here
        dual = None
    holds = _and(primal, stationary, dual)
    r_out = sp.Integer(1) if r_is_one else r
    return KKTCheck(
        m=m,
        k=k,
        s=_sym(s_frac),
        gram=sp.Matrix(m, m, lambda x, y: _sym(G[x][y])),
        r=r_out,
        class_probs=tuple(_sym(c) for c in (rho or [Fraction(1, m)] * m)),
        alpha_coefficients=alpha_c,
        beta_coefficients=beta_c,
        gradient_form=form,
        diagonal_equal=diagonal_equal,
        offdiagonal_equal=offdiagonal_equal,
        primal_feasible=bool(primal),
        stationary=stationary,
        dual_feasible=dual,
        holds=holds,
        residual_entry=residual_entry,
        _coefficients=tuple(tuple(row) for row in Mi),
        _scale=den_m,
    )


def simplex_kkt(m: int, k: int) -> SimplexCertificate:
    """Exact KKT certificate that the regular simplex minimises ``L_k`` (uniform ``ρ``, SPEC §5).

    At ``G* = m/(m−1) (I − 11ᵀ/m)`` (``s = −1/(m−1)``) the gradient is computed entry by
    entry, ``∇L(G*) = αI + β11ᵀ`` is verified, ``λ = −α`` is taken as the multiplier of
    ``diag G ≤ 1`` and ``Z = β11ᵀ`` as the PSD multiplier.  ``stationary`` is the exact
    identity ``(∇L + λI) G* = 0``; ``dual_feasible`` is ``α ≤ 0 ≤ β``; both are decided from
    rational coefficients of manifestly positive functions of ``q`` (:mod:`latentclass.symbolic.signs`).

    Parameters
    ----------
    m : int
        Number of classes, ``>= 2``.
    k : int
        Number of negatives, ``>= 1``.

    Returns
    -------
    SimplexCertificate
    """
    m, k = _check_mk(m, k)
    chk = kkt_at(m, k, Fraction(-1, m - 1))
    q_of_tau = sp.exp(-sp.Rational(m, m - 1) / TAU)
    return SimplexCertificate(
        m=m,
        k=k,
        tau=TAU,
        q=Q,
        q_of_tau=q_of_tau,
        stationary=chk.stationary,
        dual_feasible=chk.dual_feasible,
        holds=chk.holds,
        check=chk,
    )
