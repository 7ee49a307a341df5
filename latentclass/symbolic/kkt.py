"""Exact KKT checks at ``G(s) = (1 − s) I + s 11ᵀ`` and the simplex certificate (SPEC §5).

The convex problem is ``min L_k(G) s.t. G ⪰ 0, diag G ≤ 1`` for the uniform class-level model.
The gradient comes from :mod:`latentclass.symbolic.exact_sums`, the decisions from
:mod:`latentclass.symbolic.signs`; sympy expressions of the results are built on first access.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from math import lcm
from typing import Any

import sympy as sp

from .exact_sums import _gradient_terms, _gram, _scale, _sub
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
    alpha, beta : sympy.Expr
        ``∇L(G(s)) = α I + β 11ᵀ`` (gradient convention of ``NCEObjective.grad``), in ``tau``.
    multiplier : sympy.Expr
        ``λ = −α``, the common multiplier of the constraints ``G[x,x] ≤ 1``.
    alpha_terms, beta_terms : tuple of (sympy.Rational, sympy.Expr)
        ``α = (1/τ) Σ c_i b_i(r)`` with ``b_i(r) = r / (1 + i + (k − i) r) > 0``.
    alpha_coefficients, beta_coefficients : tuple of fractions.Fraction
        The rational ``c_i`` of ``α`` and ``β`` on the basis ``b_i`` (index ``i = 0..k``).
    gradient_form : bool
        Every entry of the entry-by-entry gradient equals ``α δ_xy + β`` exactly.
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
    gradient_form: bool
    primal_feasible: bool
    stationary: bool
    dual_feasible: bool | None
    holds: bool | None
    residual_entry: tuple[int, int] | None
    alpha_coefficients: tuple  # Fractions c_i with α = (1/τ) Σ c_i b_i(r)
    beta_coefficients: tuple
    _coefficients: tuple = ()  # τ·M as coefficient vectors (internal)

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
        """The exact gradient matrix ``∇L(G(s))`` (``m × m`` sympy expressions in ``tau``)."""
        return sp.Matrix(
            self.m, self.m, lambda x, y: _combination_expr(self._coefficients[x][y], self.k, self.r)
        )

    def __repr__(self) -> str:
        return (
            f"KKTCheck(m={self.m}, k={self.k}, s={self.s}, primal_feasible={self.primal_feasible}, "
            f"stationary={self.stationary}, dual_feasible={self.dual_feasible}, holds={self.holds})"
        )


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


def kkt_at(m: int, k: int, s: Any) -> KKTCheck:
    """Exact KKT check at ``G(s) = (1 − s) I + s 11ᵀ`` for the uniform class-level model.

    Parameters
    ----------
    m : int
        Number of classes, ``>= 2``.
    k : int
        Number of negatives, ``>= 1``.
    s : int, fractions.Fraction, sympy.Rational or str
        Off-diagonal value; must be exact (floats raise ``TypeError``).

    Returns
    -------
    KKTCheck

    Notes
    -----
    The gradient (SPEC §3, symmetric convention ``M = (D + Dᵀ)/2``) is computed entry by
    entry from the multinomial law of the negatives; ``λ = −α`` is the only multiplier that
    can make ``(∇L + λI) G(s)`` vanish on the diagonal's complement when ``s ≠ 1``; the
    stationarity identity is then checked on all ``m²`` entries by exact arithmetic.
    """
    m, k = _check_mk(m, k)
    s_frac = _as_rational(s)
    G = _gram(m, s_frac)
    delta, M = _gradient_terms(G, k)
    r_is_one = delta == 0
    r = sp.exp(_sym(delta) / TAU)

    # Exact integer arithmetic from here on: multiply every coefficient vector by the common
    # denominator ``den_m > 0`` and G by ``den_g > 0`` (zero tests and signs are unchanged).
    den_m = 1
    for row in M:
        for vec in row:
            for a in vec:
                den_m = lcm(den_m, a.denominator)
    Mi = [[tuple(int(a * den_m) for a in vec) for vec in row] for row in M]
    den_g = lcm(*(g.denominator for row in G for g in row))
    Gi = [[int(g * den_g) for g in row] for row in G]

    beta_i = Mi[0][1]
    alpha_i = _sub(Mi[0][0], beta_i)
    diag_i = Mi[0][0]
    form = all(
        _sign(_sub(Mi[x][y], diag_i if x == y else beta_i), k, r_is_one) == 0
        for x in range(m)
        for y in range(m)
    )
    lam_i = tuple(-a for a in alpha_i)

    # (M + λI) G, entry by entry, all m² entries.
    residual_entry = None
    stationary = True
    for x in range(m):
        for y in range(m):
            acc = [a * Gi[x][y] for a in lam_i]
            for z in range(m):
                gzy = Gi[z][y]
                if gzy:
                    acc = [a + b * gzy for a, b in zip(acc, Mi[x][z])]
            if _sign(acc, k, r_is_one) != 0:
                stationary = False
                residual_entry = (x, y)
                break
        if not stationary:
            break
    scale = Fraction(1, den_m)
    alpha_c = _scale(alpha_i, scale)
    beta_c = _scale(beta_i, scale)

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
        alpha_coefficients=alpha_c,
        beta_coefficients=beta_c,
        gradient_form=form,
        primal_feasible=bool(primal),
        stationary=stationary,
        dual_feasible=dual,
        holds=holds,
        residual_entry=residual_entry,
        _coefficients=M,
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
