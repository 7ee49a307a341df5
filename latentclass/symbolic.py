"""Exact (sympy) certificates for the uniform latent-class model (SPEC §5).

Setting: the class-level model with ``n = m`` points, ``D_c = δ_c`` and uniform ``ρ``,
so that ``P(x, x⁺) = δ_{x x⁺} / m`` and the negatives are uniform on the ``m`` points.
Its population loss (SPEC §3) is

    L_k(G) = (1/m) Σ_x E log(1 + Σ_{i=1..k} exp((G[x,Y_i] − G[x,x]) / τ)),   Y_i ~ U{0..m−1}.

On the symmetric family ``G(s) = (1 − s) I + s 11ᵀ`` every anchor sees ``a_x = 1`` for a
negative equal to itself and ``a_y = r := exp((s − 1)/τ)`` for every other negative; at the
regular simplex ``s = −1/(m−1)`` this is ``r = q := exp(−m / ((m−1) τ))``.

How the booleans are decided (no floating point anywhere)
---------------------------------------------------------
Every entry of the gradient at ``G(s)`` is ``(1/τ)`` times a finite sum

    Σ_{i=0..k} c_i · b_i(r),      b_i(r) = r / (1 + i + (k − i) r),

with *rational* ``c_i`` (Python ``Fraction``) and basis functions ``b_i`` that are
manifestly positive for ``r > 0``.  The coefficients are obtained by exact enumeration of
the multinomial law of the negatives (binomial / trinomial sums, memoised per ``(m, k)``).
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
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property, lru_cache
from math import comb, lcm
from typing import Any

import sympy as sp

from ._validation import check_integer, check_k

__all__ = [
    "TAU",
    "Q",
    "S",
    "SimplexCertificate",
    "KKTCheck",
    "SymmetricFamily",
    "simplex_kkt",
    "kkt_at",
    "symmetric_family",
    "simplex_loss_expr",
]

#: Positive temperature symbol used in every expression of this module.
TAU = sp.Symbol("tau", positive=True)
#: Positive symbol standing for ``q = exp(−m / ((m−1) τ))`` in the ``*_terms`` fields.
Q = sp.Symbol("q", positive=True)
#: Real symbol parametrising the family ``G(s) = (1 − s) I + s 11ᵀ``.
S = sp.Symbol("s", real=True)
#: Formal variable ``r = exp((s − 1)/τ)`` of the exact polynomial arithmetic.
_R = sp.Symbol("r", positive=True)

_Vec = tuple  # a coefficient vector: tuple of Fractions, index i ↔ basis b_i


# ----------------------------------------------------------------------------- validation
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
            raise ValueError(f"{name} must be an exact rational such as '-1/3', got {s!r}") from None
    if isinstance(s, numbers.Real):
        raise TypeError(
            f"{name} must be an exact rational (int, fractions.Fraction, sympy.Rational or str), "
            f"got the float {s!r}; floats are not accepted by exact certificates"
        )
    raise TypeError(f"{name} must be an exact rational number, got {type(s).__name__}")


def _sym(x: Fraction | int) -> sp.Rational:
    x = Fraction(x)
    return sp.Rational(x.numerator, x.denominator)


# ----------------------------------------------------------------------------- exact sums
@lru_cache(maxsize=None)
def _binomial_weights(m: int, k: int) -> _Vec:
    """``P(N = j)`` for ``N ~ Binomial(k, 1/m)``: the number of negatives equal to the anchor."""
    denom = m**k
    return tuple(Fraction(comb(k, j) * (m - 1) ** (k - j), denom) for j in range(k + 1))


@lru_cache(maxsize=None)
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


@lru_cache(maxsize=None)
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


# ----------------------------------------------------------------------------- gradient at G(s)
def _gram(m: int, s: Fraction) -> list[list[Fraction]]:
    return [[Fraction(1) if x == y else s for y in range(m)] for x in range(m)]


def _gradient_terms(G: list[list[Fraction]], k: int) -> tuple[Fraction, tuple[tuple[_Vec, ...], ...]]:
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


# ----------------------------------------------------------------------------- results
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
        Decided exactly (see the module docstring); ``holds`` also requires primal feasibility.
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


# ----------------------------------------------------------------------------- public functions
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
        dual = _and(_nonpositive(_sign(alpha_c, k, r_is_one)), _nonnegative(_sign(beta_c, k, r_is_one)))
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


def simplex_loss_expr(m: int, k: int, q: sp.Expr | None = None) -> sp.Expr:
    """``Σ_j C(k,j) m^{−j} (1 − 1/m)^{k−j} log(1 + j + (k − j) q)`` (SPEC §5), exact.

    ``q`` defaults to ``exp(−m/((m−1)τ))`` with the positive symbol ``TAU``.
    """
    m, k = _check_mk(m, k)
    if q is None:
        q = sp.exp(-sp.Rational(m, m - 1) / TAU)
    w = _binomial_weights(m, k)
    # evaluate=False: the log terms are exact as written; skip sympy's automatic evaluation.
    return sp.Add(*[_sym(w[j]) * sp.log(1 + j + (k - j) * q, evaluate=False) for j in range(k + 1)])


def simplex_kkt(m: int, k: int) -> SimplexCertificate:
    """Exact KKT certificate that the regular simplex minimises ``L_k`` (uniform ``ρ``, SPEC §5).

    At ``G* = m/(m−1) (I − 11ᵀ/m)`` (``s = −1/(m−1)``) the gradient is computed entry by
    entry, ``∇L(G*) = αI + β11ᵀ`` is verified, ``λ = −α`` is taken as the multiplier of
    ``diag G ≤ 1`` and ``Z = β11ᵀ`` as the PSD multiplier.  ``stationary`` is the exact
    identity ``(∇L + λI) G* = 0``; ``dual_feasible`` is ``α ≤ 0 ≤ β``; both are decided from
    rational coefficients of manifestly positive functions of ``q`` (module docstring).

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


def symmetric_family(m: int, k: int) -> SymmetricFamily:
    """Loss of ``G(s) = (1 − s) I + s 11ᵀ`` and an exact proof that it increases in ``s``.

    On ``G(s)`` an anchor's ``a_y`` is 1 for a negative equal to itself and
    ``e^{(s−1)/τ}`` otherwise, so with ``N ~ Binomial(k, 1/m)`` collisions (SPEC §5 step 2)

        L(s) = Σ_j w_j log(1 + j + (k − j) e^{(s−1)/τ}),
        L'(s) = Σ_j w_j (k − j) e^{(s−1)/τ} / (τ (1 + j + (k − j) e^{(s−1)/τ})) > 0,

    each term a non-negative rational times a positive function (the ``j < k`` terms are
    strictly positive).  ``G(s)`` is feasible exactly for ``s ∈ [−1/(m−1), 1]``, so the loss
    on the family is minimised at ``s = −1/(m−1)``, the regular simplex.
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
