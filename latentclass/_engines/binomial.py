"""Exact expectations ``E g(J)``, ``J ~ Binomial(k, p)``, for every integer ``k`` up to the float range.

Shared by :func:`latentclass.closed_form.simplex_loss` (SPEC §5) and
:func:`latentclass.bounds.expected_log_collisions` (SPEC §7).  The law is given exactly:
``p = a / D`` with integers ``0 < a < D`` (``p = 1/m`` is ``(1, m)``; a float ``p`` is its
exact dyadic ratio ``p.as_integer_ratio()``), so every integer quantity below is exact and
nothing depends on ``scipy.stats`` (whose ``binom.pmf`` is inaccurate in old releases).

The one expectation needed is ``E log1p(α + βJ)`` with ``α >= 0`` and ``α + βj >= 0`` on
``0 <= j <= k``.  Two methods, each with a proven bound on what it neglects:

**Window sum** (small variance ``kp(1-p) < VAR_EXPANSION``).  The Chernoff bounds
``P(J >= j) <= exp(-k KL(j/k ‖ p))`` (``j >= kp``) and ``P(J <= j) <= exp(-k KL(j/k ‖ p))``
(``j <= kp``) give a window ``[lo, hi]`` with both tails ``<= δ`` (:func:`window`).  Inside
it the weights come from the ratio recurrence ``w_{j+1}/w_j = r_j = (k-j) a / ((j+1)(D-a))``
started at the mode ``⌊(k+1)p⌋`` in log space and normalised over the window:
``Ê = Σ_win w_j g_j / Σ_win w_j``.  *Normalisation costs at most ~2δ*: with ``W = Σ_win w_j``
(the true mass, ``1 - 2δ <= W <= 1``) and ``0 <= g <= g_max``,
``|E - Ê| = |Σ_tail w g + (1 - 1/W) Σ_win w g| <= 2δ g_max + (2δ / (1 - 2δ)) E``;
``δ`` is chosen so that this is ``<= TAIL_RTOL · E`` (a priori lower bound of ``E``).
*Why the weights are accurate*: ``r_j`` is a ratio of exact integers, rounded once, and
``log r_j`` is taken as ``log1p`` of an exactly formed difference when ``r_j`` is near 1, so
each step has relative error ``<= ε`` on ``|log r_j|``; the partial sums ``Λ_j = log(w_j/w_mode)``
are accumulated with compensated (Neumaier) summation.  Since ``log r_j`` keeps one sign on
each side of the mode, ``Σ |log r_i| = |Λ_j|`` and ``w_j`` has relative error ``<= 4ε|Λ_j|``:
about ``4ε E|Λ| ≈ 2ε`` for the weighted sum, whatever ``k`` (no ``lgamma`` cancellation, no
scipy).  Cost: ``O(sqrt(kp(1-p)) + log(1/δ))`` terms, at most ~1000.

**Expansion** (``kp(1-p) >= VAR_EXPANSION``).  With ``μ = kp``, ``A = 1 + α + βμ`` and
``x = β(J - μ)/A``, ``log1p(α + βJ) = log A + log(1 + x)`` and ``x >= m0/A - 1 > -1``
(``m0 = 1 + α + min(0, βk)``).  Taylor with integral remainder,
``log(1+x) = Σ_{n=1..N} (-1)^{n+1} x^n/n + R_N(x)``, ``R_N(x) = (-1)^N ∫_0^x t^N/(1+t) dt``,
so ``|R_N(x)| <= |x|^{N+1} / ((N+1) min(1, 1+x))``; ``E x = 0`` and

    E log1p(α + βJ) = log A + Σ_{n=2..N} (-1)^{n+1} E[x^n]/n + E R_N(x).

``E[x^n] = β^n μ_n / A^n`` with ``μ_n`` the exact central moments of ``Binomial(k, p)``:
its cumulants are ``k κ_j(p)`` (``κ_j`` the Bernoulli cumulants, integer polynomials from
``κ_1 = p``, ``κ_{j+1} = p(1-p) κ_j'(p)``), and ``μ_n = Σ_{j=2..n} C(n-1, j-1) k κ_j μ_{n-j}``
(``μ_0 = 1``, ``μ_1 = 0``).  All of it is done in integers (``μ_n D^n``), so the standardised
moments ``μ_n / σ^n`` are correctly rounded.  Remainder, ``N`` odd (``N + 1`` even), ``r = 1/2``:
on ``{x >= -r}``, ``|R_N| <= x^{N+1}/((N+1)(1-r))``; on ``{x < -r}``,
``|R_N| <= |log(1+x)| + Σ_{n<=N} |x|^n/n <= log(A/m0) + H_N`` and the event is a binomial
tail beyond ``μ - rA/β`` (Chernoff).  Hence

    |E R_N| <= B_N = E[x^{N+1}] / ((N+1)(1-r)) + (log(A/m0) + H_N) · P(x < -r),

and ``N`` is raised until ``B_N <= TAIL_RTOL · (S_N - B_N)``, a lower bound of the result
(``S_N`` the truncated sum).  Since ``|β|σ/A <= 1/σ`` the terms fall like ``σ^{-n} (n-1)!!``:
``N <= 13`` at ``σ² = VAR_EXPANSION`` (measured), ``N = 3`` at ``k = 10^18``, for every
``k`` up to ``1.8e308``.  Why it is accurate: the moments are exact, ``log A`` and
``s = |β|σ/A`` carry a few ulps, and the terms after ``log A`` are smaller than it by
``s² <= 1/1000``: the rounding of the result is that of ``log A``.
"""

from __future__ import annotations

import math
import numbers
import sys
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from .._validation import check_k, check_tau

__all__ = [
    "MAX_K",
    "TAIL_RTOL",
    "VAR_EXPANSION",
    "Expectation",
    "as_ratio",
    "check_k_range",
    "checked_k",
    "checked_tau",
    "chernoff_log_tail",
    "expected_log1p_affine",
    "log_ratio",
    "window",
]

#: Largest integer ``k`` accepted: the float range (every method uses ``float(k)``).
MAX_K = int(sys.float_info.max)
#: Relative size (w.r.t. a proven lower bound of the expectation) that the neglected tails
#: (window) or the Taylor remainder (expansion) are proven to stay below.
TAIL_RTOL = 1e-17
#: Variance ``kp(1-p)`` from which the expansion is used instead of the window sum.
VAR_EXPANSION = 1000.0
#: Highest expansion order tried (never reached for variance >= VAR_EXPANSION).
_MAX_ORDER = 61
#: Half-width ``r`` of the region where the Taylor remainder is bounded by the next moment.
_R_SPLIT = 0.5


def check_k_range(k: int, name: str = "k") -> int:
    """Refuse integers beyond the float range with a ``ValueError`` naming ``name``."""
    if k > MAX_K:
        raise ValueError(
            f"{name} must be at most {sys.float_info.max!r} (the float range), "
            f"got an integer of about 10^{math.log10(k):.6g}"
        )
    return k


def checked_k(k: Any, *, allow_inf: bool = False, name: str = "k") -> int | float:
    """:func:`~latentclass._validation.check_k`, refusing integers beyond the float range first.

    The refusal is a ``ValueError`` naming ``name`` (``float(k)`` would raise a bare
    ``OverflowError`` further on).
    """
    if isinstance(k, numbers.Integral) and not isinstance(k, (bool, np.bool_)):
        check_k_range(int(k), name)
    return check_k(k, allow_inf=allow_inf, name=name)


def checked_tau(tau: Any, name: str = "tau") -> float:
    """:func:`~latentclass._validation.check_tau`, with a named ``ValueError`` beyond the float range."""
    try:
        return check_tau(tau, name)
    except OverflowError:
        raise ValueError(
            f"{name} must be a finite number > 0 within the float range (<= "
            f"{sys.float_info.max!r}), got a number beyond it"
        ) from None


def as_ratio(p: Any) -> tuple[int, int]:
    """``p`` (float, ``Fraction`` or int ratio) as exact integers ``(a, D)``, ``p = a/D``, ``0 < p < 1``."""
    frac = Fraction(p)
    if not 0 < frac < 1:
        raise ValueError(f"p must lie strictly between 0 and 1, got {p!r}")
    return frac.numerator, frac.denominator


def log_ratio(num: int, den: int) -> float:
    """``log(num/den)`` for positive integers, to a few ulps absolute and relative.

    ``log1p`` of the exactly formed ``(num - den)/den`` near 1; ``log`` of the correctly
    rounded quotient while it is a normal float; the difference of the logs (relative
    error ``~ ε``, as ``|log(num/den)| > 690`` there) beyond.
    """
    diff = num - den
    if 2 * abs(diff) <= den:
        return math.log1p(diff / den)
    if abs(num.bit_length() - den.bit_length()) < 1000:
        return math.log(num / den)
    return math.log(num) - math.log(den)


def chernoff_log_tail(j: int, k: int, a: int, D: int) -> float:
    """``-k KL(j/k ‖ p)``: the log of the Chernoff bound on ``P(J >= j)`` (``j >= kp``) or ``P(J <= j)``.

    ``k KL(j/k ‖ p) = j log(jD/(ka)) + (k-j) log((k-j)D/(k(D-a)))``, each log a
    :func:`log_ratio` of exact integers (no cancellation even for ``p`` near 0 or ``k`` near
    ``1e308``).  Clamped at 0 (the divergence is non-negative).
    """
    total = 0.0
    if j > 0:
        total += j * log_ratio(j * D, k * a)
    if j < k:
        total += (k - j) * log_ratio((k - j) * D, k * (D - a))
    return -max(total, 0.0)


def _first_true(pred, lo: int, hi: int) -> int:
    """Smallest ``t`` in ``[lo, hi]`` with ``pred(t)`` (monotone ``False ... True``; ``pred(hi)`` true)."""
    # exponential search from lo, then bisection
    step, prev = 1, lo - 1
    t = lo
    while not pred(t):
        prev = t
        t = min(hi, lo + step)
        step *= 2
    lo_, hi_ = prev, t  # pred(lo_) false (or lo_ = lo - 1), pred(hi_) true
    while hi_ - lo_ > 1:
        mid = (lo_ + hi_) // 2
        if pred(mid):
            hi_ = mid
        else:
            lo_ = mid
    return hi_


def window(k: int, a: int, D: int, log_delta: float) -> tuple[int, int]:
    """Integers ``lo <= hi`` with ``P(J < lo) <= δ`` and ``P(J > hi) <= δ``, ``J ~ Bin(k, a/D)``.

    ``δ = exp(log_delta)``; each tail is bounded by its Chernoff bound
    (:func:`chernoff_log_tail`, exact up to rounding of the logs), and the window is the
    narrowest one the bound allows (exponential search and bisection; the bound is monotone
    on each side of the mean ``kp``).
    """
    ka = k * a
    # upper tail: smallest t in [j0, k+1] with t = k+1 or bound(P(J >= t)) <= δ; hi = t - 1
    j0 = ka // D + 1  # smallest integer > mean
    if j0 > k:
        hi = k
    else:
        hi = (
            _first_true(lambda t: t > k or chernoff_log_tail(t, k, a, D) <= log_delta, j0, k + 1)
            - 1
        )
    # lower tail: largest t in [-1, j1] with t = -1 or bound(P(J <= t)) <= δ; lo = t + 1
    j1 = (ka + D - 1) // D - 1  # largest integer < mean
    if j1 < 0:
        lo = 0
    else:
        # search over s = j1 - t in [0, j1 + 1], monotone False ... True
        s = _first_true(
            lambda s: j1 - s < 0 or chernoff_log_tail(j1 - s, k, a, D) <= log_delta, 0, j1 + 1
        )
        lo = j1 - s + 1
    return lo, hi


@dataclass(frozen=True)
class Expectation:
    """Value of :func:`expected_log1p_affine` and how it was obtained (for tests and benchmarks).

    ``method`` is ``"window"`` (``terms`` = number of binomial terms summed) or
    ``"expansion"`` (``terms`` = order ``N``); ``error_bound`` is the proven absolute bound
    on what the method neglects (tails or Taylor remainder), before rounding.
    """

    value: float
    method: str
    terms: int
    error_bound: float


def _log_weights(k: int, a: int, D: int, lo: int, hi: int) -> np.ndarray:
    """``log(w_j / w_start)`` on ``lo..hi`` by the ratio recurrence from the (clamped) mode."""
    start = min(max(((k + 1) * a) // D, lo), hi)
    Da = D - a
    out = np.empty(hi - lo + 1)
    out[start - lo] = 0.0
    # right of the start: Λ_{j+1} = Λ_j + log r_j (Neumaier-compensated partial sums)
    s, c = 0.0, 0.0
    for j in range(start, hi):
        x = log_ratio((k - j) * a, (j + 1) * Da)
        t = s + x
        c += (s - t) + x if abs(s) >= abs(x) else (x - t) + s
        s = t
        out[j + 1 - lo] = s + c
    s, c = 0.0, 0.0
    for j in range(start, lo, -1):  # Λ_{j-1} = Λ_j - log r_{j-1}
        x = -log_ratio((k - j + 1) * a, j * Da)
        t = s + x
        c += (s - t) + x if abs(s) >= abs(x) else (x - t) + s
        s = t
        out[j - 1 - lo] = s + c
    return out


def _log_p_ge1_lower(k: int, a: int, D: int) -> float:
    """A lower bound of ``log P(J >= 1) = log(1 - (1-p)^k)`` that never underflows."""
    y = k * log_ratio(D - a, D)  # k log(1-p) <= -kp
    if y < -1e-10:
        return math.log(-math.expm1(y))
    # 1 - (1-p)^k >= 1 - e^{-kp} >= kp (1 - kp/2)
    log_kp = math.log(k) + math.log(a) - math.log(D)
    return log_kp + math.log1p(-0.5 * math.exp(log_kp))


def _arg(alpha: float | int, beta: float | int, j: int) -> float:
    """``α + βj``, in exact integer arithmetic when ``α`` and ``β`` are Python integers."""
    if isinstance(alpha, int) and isinstance(beta, int):
        return float(alpha + beta * j)
    return float(alpha) + float(beta) * j


def _lower_bound_log(k: int, a: int, D: int, alpha: float | int, beta: float | int) -> float:
    """Log of an a-priori lower bound of ``E log1p(α + βJ)`` (``-inf`` if it is 0).

    ``g(j) = log1p(α + βj)`` is monotone: for ``β >= 0``, ``E g >= g(0) + P(J >= 1)(g(1) - g(0))``;
    for ``β < 0``, ``E g >= g(k) + P(J <= k-1)(g(k-1) - g(k))`` (mirror image, ``J' = k - J``).
    """
    if beta >= 0:
        g0, g1 = math.log1p(_arg(alpha, beta, 0)), math.log1p(_arg(alpha, beta, 1))
        log_p = _log_p_ge1_lower(k, a, D)
    else:
        g0, g1 = math.log1p(_arg(alpha, beta, k)), math.log1p(_arg(alpha, beta, k - 1))
        log_p = _log_p_ge1_lower(k, D - a, D)
    parts = []
    if g0 > 0:
        parts.append(math.log(g0))
    if g1 > g0:
        parts.append(log_p + math.log(g1 - g0))
    if not parts:
        return -math.inf
    top = max(parts)
    return top + math.log(sum(math.exp(v - top) for v in parts))


def _window_sum(
    k: int, a: int, D: int, alpha: float | int, beta: float | int, log_lower: float, rtol: float
) -> Expectation:
    g_max = math.log1p(_arg(alpha, beta, k if beta >= 0 else 0))
    # δ with 2δ g_max + 2δ/(1-2δ) E <= rtol E (see module docstring)
    log_delta = math.log(rtol / 4.01) + min(0.0, log_lower - math.log(g_max))
    log_delta = max(log_delta, -740.0)  # below that the neglected mass is below the float range
    lo, hi = window(k, a, D, log_delta)
    lw = _log_weights(k, a, D, lo, hi)
    w = np.exp(lw - lw.max())
    args = np.array([_arg(alpha, beta, i) for i in range(lo, hi + 1)])
    g = np.log1p(args)
    value = math.fsum(w * g) / math.fsum(w)
    bound = 2.0 * math.exp(log_delta) * (g_max + 1.0001 * value)
    return Expectation(float(value), "window", hi - lo + 1, bound)


# Bernoulli cumulants κ_j(p) = Σ_i c[j][i] p^i (integer coefficients), j = 0.._MAX_ORDER + 1
def _cumulant_polys(nmax: int) -> list[list[int]]:
    polys: list[list[int]] = [[0], [0, 1]]
    for j in range(1, nmax):
        c = polys[j]
        deriv = [i * c[i] for i in range(1, len(c))]
        new = [0] * (len(deriv) + 2)
        for i, d in enumerate(deriv):  # (p - p²) κ_j'(p)
            new[i + 1] += d
            new[i + 2] -= d
        polys.append(new)
    return polys


_CUMULANTS = _cumulant_polys(_MAX_ORDER + 2)


class _Moments:
    """Exact central moments of ``Binomial(k, a/D)`` as integers ``μ_n D^n``, built on demand."""

    def __init__(self, k: int, a: int, D: int) -> None:
        self.k, self.a, self.D = k, a, D
        self.K: list[int] = [0, 0]  # k κ_j(p) D^j
        self.M: list[int] = [1, 0]  # μ_n D^n
        self.var_int = k * a * (D - a)  # σ² D²
        self.sigma = math.sqrt(self.var_int / (D * D))

    def _kappa(self, j: int) -> int:
        a, D = self.a, self.D
        c = _CUMULANTS[j]
        return sum(ci * a**i * D ** (j - i) for i, ci in enumerate(c) if ci)

    def moment(self, n: int) -> int:
        while len(self.M) <= n:
            m = len(self.M)
            while len(self.K) <= m:
                self.K.append(self.k * self._kappa(len(self.K)))
            self.M.append(
                sum(math.comb(m - 1, j - 1) * self.K[j] * self.M[m - j] for j in range(2, m + 1))
            )
        return self.M[n]

    def standardized(self, n: int) -> float:
        """``μ_n / σ^n``, correctly rounded for even ``n`` (one more rounding for odd ``n``)."""
        mi = self.moment(n)
        if n % 2 == 0:
            return mi / self.var_int ** (n // 2)
        return (mi / (self.var_int ** ((n - 1) // 2) * self.D)) / self.sigma


def _expansion(
    k: int, a: int, D: int, alpha_: float | int, beta_: float | int, rtol: float
) -> Expectation | None:
    mom = _Moments(k, a, D)
    mu = (k * a) / D
    alpha, beta = float(alpha_), float(beta_)
    A = 1.0 + alpha + beta * mu
    m0 = 1.0 + _arg(alpha_, beta_, k if beta < 0 else 0)  # min of 1 + α + βj on 0..k
    s = abs(beta) * mom.sigma / A
    sign = 1.0 if beta > 0 else -1.0
    # P(x < -r): a binomial tail beyond μ - rA/β, moved 2 + 1e-12 (μ + rA/|β|) towards the mean
    shift = _R_SPLIT * A / abs(beta)
    slack = 2.0 + 1e-12 * (mu + shift)
    log_tail: float
    if beta > 0:
        jt = math.ceil(mu - shift + slack) - 1  # {J <= jt} contains {x < -r}
        if jt < 0:
            log_tail = -math.inf
        elif jt * D > k * a:  # jt above the mean: no Chernoff bound, P <= 1
            log_tail = 0.0
        else:
            log_tail = chernoff_log_tail(jt, k, a, D)
    else:
        jt = math.floor(mu + shift - slack) + 1  # {J >= jt} contains {x < -r}
        if jt > k:
            log_tail = -math.inf
        elif jt * D < k * a:  # jt below the mean: P <= 1
            log_tail = 0.0
        else:
            log_tail = chernoff_log_tail(jt, k, a, D)
    terms = [math.log(A)]
    harmonic = 1.0
    for n in range(2, _MAX_ORDER + 1):
        harmonic += 1.0 / n
        ex = sign**n * mom.standardized(n) * s**n  # E[x^n]
        terms.append((-1.0) ** (n + 1) * ex / n)
        if n % 2 == 0:
            continue
        ex_next = mom.standardized(n + 1) * s ** (n + 1)  # E[x^{N+1}], N = n odd
        tail = 0.0
        if log_tail > -math.inf:
            tail = math.exp(log_tail) * (math.log(A / m0) + harmonic)
        bound = ex_next / ((n + 1) * (1.0 - _R_SPLIT)) + tail
        total = math.fsum(terms)
        if bound <= rtol * (total - bound):
            return Expectation(float(total), "expansion", n, bound)
        if tail > rtol * total or (n >= 9 and s > 0.2):
            return None  # the tail or a too wide law: the window sum is the right method
    return None


def expected_log1p_affine(
    k: int, a: int, D: int, alpha: float | int, beta: float | int, rtol: float = TAIL_RTOL
) -> Expectation:
    """``E log1p(α + βJ)``, ``J ~ Binomial(k, a/D)``, with a proven truncation error ``<= rtol ×`` value.

    Preconditions: ``1 <= k <= MAX_K``, ``0 < a < D``, ``α >= 0``, ``α + βk >= 0``; when
    ``α`` and ``β`` are Python integers ``α + βj`` is formed exactly (e.g. ``log1p(k - J)``
    with ``α = k``, ``β = -1``: the mirror image used for ``p > 1/2``).  The window sum
    for variance ``kp(1-p) < VAR_EXPANSION``, the expansion from there on (see the module
    docstring for both methods and their error bounds).
    """
    if not (1 <= k <= MAX_K and 0 < a < D and alpha >= 0 and _arg(alpha, beta, k) >= 0.0):
        raise ValueError("expected_log1p_affine: precondition violated")
    var = (k * a * (D - a)) / (D * D)
    if var >= VAR_EXPANSION:
        out = _expansion(k, a, D, alpha, beta, rtol)
        if out is not None:
            return out
        if var > 1e6:  # pragma: no cover - the expansion always meets its bound there
            raise RuntimeError(
                f"binomial expansion did not meet its error bound (k={k}, p={a}/{D}); "
                "please report this"
            )
    log_lower = _lower_bound_log(k, a, D, alpha, beta)
    if log_lower == -math.inf:
        return Expectation(0.0, "window", 1, 0.0)  # g ≡ 0 on the support
    return _window_sum(k, a, D, alpha, beta, log_lower, rtol)
