"""Collision and coverage probabilities and the published downstream bounds (SPEC §7).

The four upper bounds (and Bao et al.'s lower companion) bound the mean-classifier
supervised loss of a representation in terms of its population contrastive loss
``R = L_k(F)``.  **Their forms were read from the public code accompanying Bao, Nagano &
Nozawa, "On the Surrogate Gap between Contrastive and Supervised Losses" (ICML 2022)**
(``scripts/compare_upper_bound.py`` and ``scripts/plot_k_msuploss.py``, which plot the
bounds against ``K``), not re-derived from the theorems of the cited papers.  That code
treats *uniform* classes over ``C`` classes (``pi = np.ones(c) / c``) and natural
logarithms; scores lie in ``[-b², b²]``, which in this package's convention (``‖f‖ ≤ 1``,
scores divided by ``τ``) is ``b² = 1/τ``.  Departures from the code, each deliberate:

- the harmonic number is exact: the code evaluates Ash et al.'s coefficient with
  ``harmonic(c - 1)`` where ``harmonic = lambda c: np.log(c) + 0.577``, i.e. it
  approximates ``H_{C-1}`` by ``log(C-1) + 0.577`` (``0.577`` for ``C = 2``, where
  ``H_1 = 1``); here ``H_{C-1}`` is :func:`harmonic_number` ``(C - 1)``;
- the coverage probability is exact for any ``ρ`` (the code runs a uniform
  coupon-collector recursion, ``coupon_collector_probability(k + 1, c)``), and ``Coll_k``
  is exact for any ``k`` (the code sums ``comb(k, m)``-weighted terms in floating point);
- non-uniform ``ρ`` is an **extrapolation**: every published statement used here is for
  uniform classes; this module evaluates the same expressions with the ``ρ``-versions of
  the ingredients (below) and ``ρ_max``, ``H(ρ)`` in Bao et al.'s forms.  Such values are
  not covered by any published theorem.

Ingredients, for class law ``ρ`` over ``C`` classes and ``k`` negatives:

- ``τ_k = Σ_c ρ_c (1 - (1 - ρ_c)^k)``  (collision probability, :func:`collision_probability`);
- ``Coll_k = Σ_c ρ_c E log(1 + N_c)``, ``N_c ~ Binomial(k, ρ_c)``
  (:func:`expected_log_collisions`; for uniform ``ρ`` this is ``E log(1+N)``,
  ``N ~ Binomial(k, 1/C)`` as in the code);
- ``υ_{k+1}`` = probability that ``k + 1`` iid class draws cover all ``C`` classes
  (:func:`coverage_probability`).

Ash et al.'s factor ``(C-1) H_{C-1}`` is the uniform coupon-collector expectation and has
no ``ρ``-version in the code: :func:`ash_bound` accepts uniform ``ρ`` only (``ValueError``
otherwise).

Every function is exact (relative error ~1e-15, proven truncation bounds) and fast
(milliseconds) for every integer ``k`` up to the float range ``1.8e308``; larger ``k``
raise a ``ValueError`` naming ``k``.  ``1 - ρ_c`` is evaluated as ``Σ_{c' ≠ c} ρ_{c'}`` for
a class with ``ρ_c > 1/2`` (so ``ρ = (1e-300, 1 - 1e-300)`` keeps its information) and as
``1 - ρ_c`` (exact) otherwise.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, special

from ._engines.binomial import MAX_K, checked_k, checked_tau, expected_log1p_affine
from ._validation import check_choice, check_class_probs, check_integer

__all__ = [
    "BoundValues",
    "IllConditionedBoundError",
    "ash_bound",
    "bao_bound",
    "bao_lower_bound",
    "collision_probability",
    "coverage_probability",
    "expected_log_collisions",
    "harmonic_number",
    "nozawa_sato_bound",
    "published_bounds",
    "saunshi_bound",
]

#: ``harmonic_number`` sums terms exactly (``math.fsum``) up to this ``n``; above, Euler–Maclaurin.
_HARMONIC_SUM_MAX = 1_000_000
#: Tolerance (on ``ptp(ρ)``) under which ``ρ`` counts as uniform for :func:`ash_bound`.
_UNIFORM_TOL = 1e-12
#: ``coverage_probability`` returns ``1 - S_1`` once ``S_1 = Σ_c (1-ρ_c)^n`` is below this
#: (Bonferroni: the error is at most ``S_2 <= S_1² / 2 <= 5e-17``).
_BONFERRONI_S1 = 1e-8
#: Largest tolerated rounding noise of an amplified bound, relative to max(1, |value|).
_ILL_CONDITIONED_RTOL = 1e-6
#: Subsets enumerated by the inclusion-exclusion method (``m <= 24``).
_IE_MAX_CLASSES = 24
#: Largest number of Fourier angles the saddle-point coverage method may use.
_MAX_ANGLES = 1 << 24
#: Euler's constant γ (to double precision).
_EULER_GAMMA = 0.57721566490153286
_EPS = float(np.finfo(float).eps)


# --------------------------------------------------------------------------- helpers
def _class_probs(class_probs: Any) -> np.ndarray:
    """``class_probs`` as a vector; an integer ``C >= 2`` means uniform over ``C`` classes."""
    if isinstance(class_probs, (int, np.integer)) and not isinstance(class_probs, (bool, np.bool_)):
        c = check_integer(class_probs, "class_probs", minimum=2)
        if c > 1 << 31:
            raise ValueError(
                f"class_probs (the number of uniform classes) must be at most 2**31, got {c}"
            )
        return np.full(c, 1.0 / c)
    return np.asarray(check_class_probs(class_probs), dtype=float)


def _check_R(R: Any) -> float:
    if isinstance(R, (bool, np.bool_)) or not isinstance(R, (int, float, np.integer, np.floating)):
        raise TypeError(
            f"R must be a real number (the contrastive loss value), got {type(R).__name__}"
        )
    try:
        r = float(R)
    except OverflowError:
        raise ValueError(
            "R must be finite (within the float range), got a larger integer"
        ) from None
    if not math.isfinite(r):
        raise ValueError(f"R must be finite, got {R!r}")
    return r


def _check_R_minimum(R: float, coll: float, k: int, name: str) -> None:
    """Refuse ``R < Coll_k`` (beyond the rounding of both): no contrastive loss is that small.

    For every representation of the latent-class model (SPEC §1) the population logistic
    loss with ``k`` negatives satisfies ``L_k(F) >= Coll_k >= 0``: drop the non-colliding
    terms, then the positive and the ``N_c`` colliding negatives are exchangeable given the
    anchor, and ``E[log Σ_{j=0..N} e^{s_j} - s_0] = E[log Σ_j e^{s_j} - mean_j s_j] >= log(1 + N)``.
    The bounds are stated for ``R = L_k(F)``; a smaller ``R`` (e.g. a negative number, or an
    ``L_∞`` value ``lim (L_k - log k)``, which can be negative) would give negative
    "upper bounds".
    """
    excess = R - coll
    if excess < -4.0 * _EPS * (abs(R) + coll):
        raise ValueError(
            f"{name}: R must be >= Coll_k = {coll!r}, the least value of the population "
            f"contrastive (logistic) loss with k = {k} negatives (every representation has "
            f"L_k >= Coll_k >= 0), got R = {R!r}"
        )


def _complements(rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``1 - ρ_c`` and ``log(1 - ρ_c)``, accurate also for ``ρ_c`` within rounding of 1.

    ``1 - ρ_c`` (exact in floating point) and ``log1p(-ρ_c)`` for ``ρ_c <= 1/2``;
    ``Σ_{c' ≠ c} ρ_{c'}`` (``math.fsum``) and its log for the (at most two) classes above.
    Every entry is ``> 0`` (the other classes have positive mass), so no ``log 0``.
    """
    comp = 1.0 - rho
    log_comp = np.empty_like(rho)
    small = rho <= 0.5
    log_comp[small] = np.log1p(-rho[small])
    for c in np.flatnonzero(~small):
        comp[c] = math.fsum(np.delete(rho, c))
        log_comp[c] = math.log(comp[c])
    return comp, log_comp


def _log_no_collision(rho: np.ndarray, k: int) -> float:
    """``log(1 - τ_k) = log Σ_c ρ_c (1 - ρ_c)^k``, computed without forming ``1 - τ_k``."""
    _, log_comp = _complements(rho)
    with np.errstate(over="ignore"):  # k log(1-ρ) may be -inf beyond the float range: exp -> 0
        return float(special.logsumexp(np.log(rho) + float(k) * log_comp))


def _scaled(value: float, log_factor: float) -> float:
    """``value · exp(log_factor)``; ``±inf`` when the product exceeds the float range."""
    if value == 0.0:
        return 0.0
    log_abs = math.log(abs(value)) + log_factor
    if log_abs > 709.0:
        return math.copysign(math.inf, value)
    return (
        value * math.exp(log_factor)
        if log_factor <= 709.0
        else math.copysign(math.exp(log_abs), value)
    )


class IllConditionedBoundError(ValueError):
    """The bound multiplies ``R - Coll_k`` by a factor so large that rounding decides it."""


def _amplified(R: float, coll: float, log_coef: float, name: str) -> float:
    """``(R - coll) · e^{log_coef}``, refused when the rounding of ``R - coll`` matters.

    ``R`` and ``coll`` carry relative rounding errors of a few ulps, so ``R - coll`` is known
    to ``δ = 4 ε (|R| + coll)``.  If ``δ · e^{log_coef}`` exceeds ``1e-6 · max(1, |value|)`` the
    result would be rounding noise (it can even be hugely negative): raise
    :class:`IllConditionedBoundError` (a ``ValueError``) instead of returning it.
    """
    value = _scaled(R - coll, log_coef)
    delta = 4.0 * _EPS * (abs(R) + abs(coll))
    noise = _scaled(delta, log_coef)
    if not noise <= _ILL_CONDITIONED_RTOL * max(1.0, abs(value)):
        raise IllConditionedBoundError(
            f"{name}: R - Coll_k = {R - coll!r} is within rounding ({delta:.3g}) of 0 and the "
            f"bound multiplies it by exp({log_coef:.6g}); the value is not determined in double "
            "precision (R must be supplied to better than the excess R - Coll_k)"
        )
    return value


def _log_cosh(x: float) -> float:
    """``log cosh x`` without overflow: ``|x| + log1p(e^{-2|x|}) - log 2``."""
    x = abs(x)
    return x + math.log1p(math.exp(-2.0 * x)) - math.log(2.0)


# --------------------------------------------------------------------------- ingredients
def harmonic_number(n: Any) -> float:
    """The ``n``-th harmonic number ``H_n = Σ_{i=1..n} 1/i`` (``H_0 = 0``), exact to rounding.

    ``n <= 10^6``: ``math.fsum`` of the correctly rounded ``1/i`` (relative error ``<= ε``).
    Above, the Euler–Maclaurin expansion with its remainder (``B_{2j}`` Bernoulli numbers)

    ``H_n = log n + γ + 1/(2n) - 1/(12 n²) + 1/(120 n⁴) - R``,  ``0 < R < 1/(252 n⁶)``,

    (the remainder of the alternating Euler–Maclaurin series for ``ψ(n+1)`` is below the first
    neglected term and of its sign), i.e. ``R < 4e-39`` for ``n > 10^6``: the result is
    correctly rounded up to the rounding of ``log n + γ``.  ``log n`` is taken of the exact
    integer, so every ``n`` works, also beyond the float range.  Not the approximation
    ``log n + 0.577`` of Bao et al.'s code.

    Parameters
    ----------
    n : int
        A non-negative integer (any size; ``bool`` and non-integers raise ``TypeError``).

    Returns
    -------
    float
        ``H_n`` (SPEC §7, the factor of :func:`ash_bound`).
    """
    n = check_integer(n, "n", minimum=0)
    if n <= _HARMONIC_SUM_MAX:
        return math.fsum(1.0 / np.arange(1, n + 1, dtype=float)) if n else 0.0
    inv = 1 / n  # int / int: correctly rounded, 0.0 beyond the float range (no overflow)
    inv2 = inv * inv
    return math.fsum([math.log(n), _EULER_GAMMA, 0.5 * inv, -inv2 / 12.0, inv2 * inv2 / 120.0])


def collision_probability(class_probs: Any, k: Any) -> float:
    """Probability that at least one of ``k`` negatives shares the anchor's class (SPEC §7).

    ``τ_k = Σ_c ρ_c (1 - (1 - ρ_c)^k)``, each term ``-expm1(k log(1 - ρ_c))`` with the
    accurate complement (module docstring): no cancellation, relative error a few ulps for
    every ``k <= 1.8e308``.

    Parameters
    ----------
    class_probs : array_like, shape (m,), or int
        Class law ``ρ``; an integer ``C`` means uniform over ``C`` classes.
    k : int or math.inf
        Number of negatives (``1 <= k <= 1.8e308``); ``math.inf`` gives 1.

    Returns
    -------
    float
    """
    rho = _class_probs(class_probs)
    k = checked_k(k, allow_inf=True)
    if k == math.inf:
        return 1.0
    _, log_comp = _complements(rho)
    with np.errstate(over="ignore"):
        hit = -np.expm1(float(k) * log_comp)
    return float(math.fsum(rho * hit))


def expected_log_collisions(class_probs: Any, k: Any) -> float:
    """``Coll_k = Σ_c ρ_c E[log(1 + N_c)]`` with ``N_c ~ Binomial(k, ρ_c)`` (natural log, SPEC §7).

    For uniform ``ρ`` over ``C`` classes this is the ``E log(1 + N)``, ``N ~ Binomial(k, 1/C)``,
    of the public code of Bao, Nagano & Nozawa (ICML 2022) ("collision term").  Each
    expectation is :func:`latentclass._engines.binomial.expected_log1p_affine` with ``α = 0, β = 1``
    (for ``ρ_c > 1/2``: ``E log1p(k - N')``, ``N' ~ Binomial(k, Σ_{c'≠c} ρ_{c'})``): an exact
    binomial window sum (variance ``< 1000``) or the binomial-moment expansion of
    ``log(1 + kρ_c + (N_c - kρ_c))`` around the mean with its proven remainder bound, both
    truncated at ``1e-17`` relative; no ``scipy.stats``.  Cost ``O(1)`` per distinct class
    probability for every ``k <= 1.8e308`` (``k = 10^18``: ~0.1 ms per distinct value).

    Parameters
    ----------
    class_probs : array_like, shape (m,), or int
        Class law ``ρ``; an integer ``C`` means uniform over ``C`` classes.
    k : int
        Number of negatives, ``1 <= k <= 1.8e308``.

    Returns
    -------
    float
    """
    rho = _class_probs(class_probs)
    k = int(checked_k(k))
    return _coll_cached(rho.tobytes(), k)


@functools.lru_cache(maxsize=4096)
def _coll_cached(rho_bytes: bytes, k: int) -> float:
    rho = np.frombuffer(rho_bytes, dtype=float)
    comp, _ = _complements(rho)
    values, first, inverse = np.unique(rho, return_index=True, return_inverse=True)
    weight = np.bincount(inverse.ravel(), weights=rho)  # total mass of each distinct value
    parts = []
    for p, idx, w in zip(values, first, weight):  # loop over distinct class probabilities
        if p <= 0.5:
            a, D = float(p).as_integer_ratio()
            e = expected_log1p_affine(k, a, D, 0, 1)  # E log1p(N), N ~ Bin(k, p)
        else:  # mirror image: N = k - N', N' ~ Bin(k, 1 - p), 1 - p = Σ of the others
            a, D = float(comp[idx]).as_integer_ratio()
            e = expected_log1p_affine(k, a, D, k, -1)
        parts.append(w * e.value)
    return float(math.fsum(parts))


def _log_ztp_charfn(lam: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """``log E e^{iθZ}`` for ``Z ~`` zero-truncated ``Poisson(λ)``: ``log((e^{λe^{iθ}} - 1)/(e^λ - 1))``.

    Shape ``(len(lam), len(theta))``; the branch of the imaginary part is irrelevant (only
    ``exp`` of sums is used).  Where ``λ cos θ > 1`` it is evaluated as
    ``λ(e^{iθ} - 1) + log(1 - e^{-λe^{iθ}}) - log(1 - e^{-λ})`` with
    ``Re λ(e^{iθ} - 1) = -2λ sin²(θ/2)`` (no cancellation for large ``λ``); elsewhere via a
    cancellation-free complex ``expm1``.
    """
    lam = lam[:, None]
    cos, sin = np.cos(theta)[None, :], np.sin(theta)[None, :]
    half = np.sin(0.5 * theta)[None, :] ** 2
    x, y = lam * cos, lam * sin
    out = np.empty(np.broadcast_shapes(lam.shape, cos.shape), dtype=complex)
    big = np.broadcast_to(x > 1.0, out.shape)
    lam_b = np.broadcast_to(lam, out.shape)[big]
    zb = np.broadcast_to(x, out.shape)[big] + 1j * np.broadcast_to(y, out.shape)[big]
    shift = -2.0 * lam_b * np.broadcast_to(half, out.shape)[big] + 1j * zb.imag
    out[big] = shift + np.log(1.0 - np.exp(-zb)) - np.log1p(-np.exp(-lam_b))
    small = ~big
    xs, ys = np.broadcast_to(x, out.shape)[small], np.broadcast_to(y, out.shape)[small]
    lam_s = np.broadcast_to(lam, out.shape)[small]
    # expm1(x+iy) = expm1(x) cos y - 2 sin²(y/2) + i e^x sin y
    re = np.expm1(xs) * np.cos(ys) - 2.0 * np.sin(0.5 * ys) ** 2
    im = np.exp(xs) * np.sin(ys)
    big_lam = lam_s > 700.0
    log_norm = np.empty_like(lam_s)
    log_norm[big_lam] = lam_s[big_lam]  # log(e^λ - 1) = λ to double precision
    log_norm[~big_lam] = np.log(np.expm1(lam_s[~big_lam]))
    with np.errstate(divide="ignore"):  # φ = 0 exactly (z = 2πik) gives log 0 = -inf, exp -> 0
        out[small] = np.log(re + 1j * im) - log_norm
    return out


def _log_poisson_pmf(n: int, r: float) -> float:
    """``log(e^{-r} r^n / n!)`` without the cancellation of ``n log r - r - log n!``.

    ``= n log1p((r-n)/n) + (n - r) - ρ(n)`` with the Stirling remainder
    ``ρ(n) = log n! - n log n + n`` (series to ``n^{-7}`` for ``n >= 30``: error < 1e-16).
    """
    if n < 30:
        return n * math.log(r) - r - math.lgamma(n + 1.0)
    rem = 0.5 * math.log(2.0 * math.pi * n) + (
        1.0 / (12.0 * n) - 1.0 / (360.0 * n**3) + 1.0 / (1260.0 * n**5) - 1.0 / (1680.0 * n**7)
    )
    return n * math.log1p((r - n) / n) + (n - r) - rem


def _coverage_inclusion_exclusion(rho: np.ndarray, n: int) -> float:
    m = rho.size
    if m > _IE_MAX_CLASSES:
        raise ValueError(
            f"method='inclusion-exclusion' enumerates 2^m subsets; needs m <= {_IE_MAX_CLASSES}, got m={m}"
        )
    masks = np.arange(1 << m, dtype=np.int64)
    bits = ((masks[:, None] >> np.arange(m)) & 1).astype(float)
    mass = bits @ rho
    sign = np.where(bits.sum(axis=1) % 2 == 0, 1.0, -1.0)
    rest = np.clip(1.0 - mass, 0.0, None)
    rest[-1] = 0.0  # the full set has mass exactly 1
    with np.errstate(under="ignore"):
        return math.fsum(sign * rest ** float(n))


def _frexp_product(values: np.ndarray) -> tuple[float, int]:
    """``Π values`` (positive) as ``(mantissa, exponent)``: no underflow, relative error ``~ len · ε``."""
    mant, expo = np.frexp(values)
    e = int(expo.sum())
    m = 1.0
    for start in range(0, mant.size, 512):  # 0.5^512 > 1e-155: no underflow within a chunk
        m, e2 = math.frexp(m * float(np.prod(mant[start : start + 512])))
        e += e2
    return m, e


def _product_one_minus_exp(scale: float, rho: np.ndarray) -> tuple[float, int]:
    """``Π_c (1 - e^{-scale·ρ_c})`` as ``(mantissa, exponent)`` (:func:`_frexp_product`).

    Factors with ``λ = scale·ρ_c < 1e-290`` are ``λ (1 - λ/2 + ...) = λ`` to double
    precision and enter as the two normal floats ``scale`` and ``ρ_c`` (``λ`` itself may be
    subnormal); the others as ``-expm1(-λ)``.
    """
    lam = scale * rho
    tiny = lam < 1e-290
    values = np.concatenate((-np.expm1(-lam[~tiny]), rho[tiny], np.full(int(tiny.sum()), scale)))
    return _frexp_product(values)


def _log1p_plus(s: float) -> float:
    """``log1p(-s) + s`` for ``0 <= s < 1`` without cancellation (series ``-Σ_{i>=2} s^i/i`` for small ``s``)."""
    if s >= 0.1:
        return math.log1p(-s) + s
    total, term, i = 0.0, s * s, 2
    while term > 1e-18 * s * s:
        total -= term / i
        term *= s
        i += 1
    return total


def _coverage_split(rho: np.ndarray, log_comp: np.ndarray, n: int) -> float | None:
    """Coverage for large ``n`` by splitting the classes into common and rare blocks.

    ``G1`` (common) is the largest set of most likely classes whose
    ``S_1 = Σ_{c∈G1} (1-ρ_c)^{n-U} <= 1e-8``; ``G2`` (rare) the rest, of mass ``s``.
    Given the number ``j`` of draws that fall in ``G2`` (``Binomial(n, s)``), the two blocks
    are independent multinomial samples, so exactly

        υ_n = Σ_j Bin(j; n, s) υ^{G2}_j υ^{G1}_{n-j},

    with ``υ^{G1}_{n-j} ∈ [1 - S_1, 1 - S_1 + S_1²/2]`` (Bonferroni; ``1 - S_1`` is used,
    relative error ``<= 5e-17``) and, de-Poissonising the rare block with ``r = ns``
    (``Z_c`` independent zero-truncated ``Poisson(nρ_c)``, ``c ∈ G2``),
    ``υ^{G2}_j = Π_{G2} (1 - e^{-nρ_c}) P(ΣZ = j) / Poisson(j; ns)``.  Hence

        υ_n = Π_{G2} (1 - e^{-nρ_c}) · Σ_j P(ΣZ = j) w_j,
        w_j = Bin(j; n, s) / Poisson(j; ns) · (1 - S_1(n - j)),

    ``P(ΣZ = j)`` for all ``j`` of the window ``[L, U]`` (``r2 + Pois(ns)`` Chernoff window,
    mass outside ``< e^{-50}``) from one FFT of the characteristic function, and
    ``Σ_j P_j w_j = 1 + Σ_j P_j (w_j - 1)`` (``w_j - 1`` is small: no cancellation).  The
    phases are ``nρ_c sin θ`` with ``nρ_c <= ~40`` for rare classes: accuracy ``~1e-15``
    whatever ``n``.  ``None`` when ``G1`` is empty or the window is not ``<= n/2``.
    """
    order = np.argsort(-rho, kind="stable")
    U = 0
    g1_size = 0
    for _ in range(rho.size + 2):  # U grows only when G1 shrinks
        with np.errstate(over="ignore", under="ignore"):
            terms = np.exp(float(n - U) * log_comp[order])
        g1_size = int(np.searchsorted(np.cumsum(terms), _BONFERRONI_S1, side="right"))
        if g1_size == 0:
            return None
        if g1_size == rho.size:  # every class common (S_1 at the threshold): Bonferroni
            return 1.0 - math.fsum(terms)
        g2 = order[g1_size:]
        s = math.fsum(rho[g2])
        r = n * s
        spread = 40.0 * math.sqrt(r + 1.0) + 200.0
        U_new = int(math.ceil(r + g2.size + spread))
        if U_new <= U:
            break
        U = U_new
    else:  # pragma: no cover - G1 shrinks at most m times
        return None
    if n < 2 * U:
        return None
    g1, g2 = order[:g1_size], order[g1_size:]
    r2 = g2.size
    s = math.fsum(rho[g2])
    r = n * s
    L = max(r2, int(math.floor(r - (40.0 * math.sqrt(r + 1.0) + 200.0))))
    N = U - L + 1
    lam = float(n) * rho[g2]
    g_mant, g_exp = _product_one_minus_exp(float(n), rho[g2])  # Π (1 - e^{-nρ_c})
    lam_values, counts = np.unique(lam, return_counts=True)
    theta = 2.0 * np.pi * np.arange(N) / N
    logphi = counts.astype(float) @ _log_ztp_charfn(lam_values, theta)
    P = np.fft.fft(np.exp(logphi)).real / N  # P[t] = P(ΣZ ≡ t mod N)
    j = np.arange(L, U + 1)
    Pj = P[j % N]
    # log w_j = log((n)_j / n^j) + n (log1p(-s) + s) - j log1p(-s) + log1p(-S_1(n - j))
    i = np.arange(U, dtype=float)
    log_falling = np.concatenate(([0.0], np.cumsum(np.log1p(-i / float(n)))))
    log_w = log_falling[j] + float(n) * _log1p_plus(s) - j * math.log1p(-s)
    # S_1(n - j) = Σ_{G1} (1 - ρ_c/ρ(G1))^{n-j}; the dominant class via the sum of the others
    mass1 = math.fsum(rho[g1])
    rest = rho[g1] / mass1
    log_y = np.empty(g1.size)
    for c in range(g1.size):
        if rest[c] > 0.5:
            other = math.fsum(np.delete(rho[g1], c)) / mass1
            log_y[c] = math.log(other) if other > 0.0 else -math.inf
        else:
            log_y[c] = math.log1p(-rest[c])
    active = log_y * float(n - U) > -80.0  # the others add < m e^{-80} in all
    if np.any(active):
        with np.errstate(under="ignore"):
            s1 = np.exp(np.outer(float(n) - j, log_y[active])).sum(axis=1)
        log_w = log_w + np.log1p(-s1)
    total = 1.0 + math.fsum(Pj * np.expm1(log_w))
    if total <= 0.0:
        return 0.0
    return float(min(1.0, math.ldexp(g_mant * total, g_exp)))


def _coverage_saddlepoint(rho: np.ndarray, n: int) -> float:
    """Exact de-Poissonisation with a saddle-point radius (see :func:`coverage_probability`)."""
    m = rho.size

    def mean_count(r: float) -> float:  # E Σ_c Z_c, Z_c ~ zero-truncated Poisson(r ρ_c)
        lam = r * rho
        return float(np.sum(lam / -np.expm1(-lam)))

    lo_r, hi_r = max(float(n - m), 1e-300), float(n)
    if mean_count(lo_r) >= n:
        r = lo_r
    else:
        r = optimize.brentq(lambda r: mean_count(r) - n, lo_r, hi_r, xtol=1e-14 * hi_r, rtol=1e-14)
    lam = r * rho
    # window [L, U] holding Σ Z up to e^{-50} (Chernoff): Pois(r) <=st Σ Z <=st m + Pois(r)
    spread = 40.0 * math.sqrt(r + 1.0) + 200.0
    L = max(m, int(math.floor(r - spread)))
    U = int(math.ceil(r + m + spread))
    N = U - L + 1
    if N > _MAX_ANGLES:
        raise ValueError(
            f"method='saddlepoint' needs {N} Fourier angles at draws={n} (more than "
            f"{_MAX_ANGLES}); use method='auto'"
        )
    lam_values, counts = np.unique(lam, return_counts=True)
    counts = counts.astype(float)
    acc = 0.0
    step = max(1, (1 << 21) // lam_values.size)
    for start in range(0, N, step):  # chunks over the N angles
        j = np.arange(start, min(N, start + step))
        theta = 2.0 * np.pi * j / N
        logphi = counts @ _log_ztp_charfn(lam_values, theta)  # equal λ's evaluated once
        phase = 2.0 * np.pi * ((n * j) % N) / N  # n θ_j reduced exactly mod 2π
        acc += math.fsum(np.real(np.exp(logphi - 1j * phase)))
    p_sum = acc / N  # P(Σ_c Z_c = n)
    if p_sum <= 0.0:
        return 0.0
    g_mant, g_exp = _product_one_minus_exp(r, rho)  # Π (1 - e^{-rρ_c})
    log_pois = _log_poisson_pmf(n, r)
    return float(min(1.0, math.ldexp(g_mant * math.exp(math.log(p_sum) - log_pois), g_exp)))


def coverage_probability(class_probs: Any, draws: Any, method: str = "auto") -> float:
    """Probability that ``draws`` iid classes ``~ ρ`` include every class (SPEC §7, ``υ_n``).

    ``υ_n = Σ_{S ⊆ classes} (-1)^{|S|} (1 - ρ(S))^n`` (inclusion-exclusion).

    Parameters
    ----------
    class_probs : array_like, shape (m,), or int
        Class law ``ρ``; an integer ``C`` means uniform over ``C`` classes.
    draws : int
        Number of draws ``0 <= n <= 1.8e308`` (Bao et al. use ``n = k + 1``: anchor plus
        negatives).
    method : {"auto", "saddlepoint", "inclusion-exclusion"}
        ``"inclusion-exclusion"`` sums the ``2^m`` signed terms (``m <= 24``; cancellation
        makes it inaccurate when ``υ_n`` is small — kept as an independent check).
        ``"saddlepoint"`` is the exact de-Poissonisation identity, valid for every ``r > 0``::

            υ_n = Π_c (1 - e^{-r ρ_c}) · P(Σ_c Z_c = n) / Poisson(n; r),

        with ``Z_c`` independent zero-truncated ``Poisson(r ρ_c)`` (it is the coefficient
        identity ``υ_n = n! [x^n] Π_c (e^{ρ_c x} - 1)``).  ``r`` solves ``E Σ Z_c = n`` so
        the point probability is of order ``1/sd``; it is obtained by inverting the
        characteristic function ``Π_c (e^{rρ_c e^{iθ}} - 1)/(e^{rρ_c} - 1)`` with the
        discrete Fourier sum over the ``N`` angles of the window
        ``[r - 40√(r+1) - 200, r + m + 40√(r+1) + 200]``, exact up to aliasing of the mass
        outside it (``Poisson(r) <=st Σ Z_c <=st m + Poisson(r)``; Chernoff: ``< e^{-50}``).
        Every quantity is a probability or a bounded complex number: no cancellation; cost
        ``O(m (m + √n))`` (``ValueError`` beyond ``2^24`` angles).  Relative error about
        ``1e-16 √n`` from the phases ``rρ_c sin θ`` (measured: ~3e-15 at ``n = 10^3``, 6e-14
        at ``10^6``).
        ``"auto"`` uses exact shortcuts — ``0`` for ``n < m``, ``m! Π ρ_c`` for ``n = m``,
        ``1 - Σ_c (1-ρ_c)^n`` once that sum is ``<= 1e-8`` (Bonferroni: error
        ``<= 5e-17``) — then, for large ``n``, the exact split of the classes into a common
        block (handled by Bonferroni) and a rare block (de-Poissonised with ``r = nρ(rare)``,
        phases ``nρ_c <= ~40``: accuracy ~1e-15 and cost ``O(m + √(nρ(rare)))`` for every
        ``n``, see ``_coverage_split``), and the saddle-point method otherwise.

    Returns
    -------
    float
    """
    rho = _class_probs(class_probs)
    n = check_integer(draws, "draws", minimum=0)
    if n > MAX_K + 1:
        raise ValueError(
            f"draws must be at most {MAX_K + 1:.6g} (the float range), got an integer of about "
            f"10^{math.log10(n):.6g}"
        )
    check_choice(method, "method", ("auto", "saddlepoint", "inclusion-exclusion"))
    m = rho.size
    if method == "inclusion-exclusion":
        return float(min(1.0, max(0.0, _coverage_inclusion_exclusion(rho, n))))
    if n < m:
        return 0.0
    if n == m:
        mant, expo = _frexp_product(np.concatenate((np.arange(1.0, m + 1.0), rho)))  # m! Π ρ_c
        return float(min(1.0, math.ldexp(mant, expo)))
    if method == "auto":
        return _auto_cached(rho.tobytes(), n)
    return _saddlepoint_cached(rho.tobytes(), n)


@functools.lru_cache(maxsize=4096)
def _auto_cached(rho_bytes: bytes, n: int) -> float:
    rho = np.frombuffer(rho_bytes, dtype=float)
    _, log_comp = _complements(rho)
    with np.errstate(over="ignore", under="ignore"):
        s1 = math.fsum(np.exp(float(n) * log_comp))
    if s1 <= _BONFERRONI_S1:
        return 1.0 - s1
    split = _coverage_split(rho, log_comp, n)
    if split is not None:
        return split
    return _saddlepoint_cached(rho_bytes, n)


@functools.lru_cache(maxsize=4096)
def _saddlepoint_cached(rho_bytes: bytes, n: int) -> float:
    return _coverage_saddlepoint(np.frombuffer(rho_bytes, dtype=float), n)


# --------------------------------------------------------------------------- bounds
def _prepare(class_probs: Any, k: Any, R: Any, name: str) -> tuple[np.ndarray, int, float, float]:
    """Validated ``(ρ, k, R, Coll_k)``; ``R < Coll_k`` is refused (:func:`_check_R_minimum`)."""
    rho, k, R = _class_probs(class_probs), int(checked_k(k)), _check_R(R)
    coll = expected_log_collisions(rho, k)
    _check_R_minimum(R, coll, k, name)
    return rho, k, R, coll


def saunshi_bound(class_probs: Any, k: Any, R: Any) -> float:
    """Saunshi, Plevrakis, Arora, Khodak, Khandeparkar (ICML 2019), InfoNCE form.

    ``(R - Coll_k) / ((1 - τ_k) υ_{k+1})``: upper bound on the mean-classifier supervised
    loss given the contrastive loss ``R = L_k(F)``.  Form read from the public code
    accompanying Bao, Nagano & Nozawa (ICML 2022) (``coef_arora * (nceloss - collision)``
    in ``scripts/compare_upper_bound.py``, the "Arora et al." curve), not from the theorem.
    Returns ``math.inf`` (vacuous bound) when ``υ_{k+1} = 0``, i.e. ``k + 1 < C``, and when
    the value exceeds the float range.  Non-uniform ``ρ``: an extrapolation of the uniform
    statement with the ``ρ``-versions of ``τ_k``, ``Coll_k``, ``υ_{k+1}`` (module docstring).

    Raises ``ValueError`` for ``R < Coll_k`` (no contrastive loss is smaller) and
    :class:`IllConditionedBoundError` when rounding of ``R - Coll_k`` decides the value.

    Parameters
    ----------
    class_probs : array_like, shape (C,), or int
        Class law ``ρ``; an integer ``C`` means uniform over ``C`` classes.
    k : int
        Number of negatives, ``1 <= k <= 1.8e308`` (an integer).
    R : float
        The population contrastive loss ``R = L_k(F)`` of the representation (natural log,
        SPEC §2); ``R < Coll_k`` raises ``ValueError``.

    Returns
    -------
    float
        ``(R - Coll_k) / ((1 - τ_k) υ_{k+1})`` (SPEC §7), or ``math.inf`` when vacuous.
    """
    rho, k, R, coll = _prepare(class_probs, k, R, "saunshi_bound")
    ups = coverage_probability(rho, k + 1)
    if ups == 0.0:
        return math.inf
    return _amplified(R, coll, -_log_no_collision(rho, k) - math.log(ups), "saunshi_bound")


def ash_bound(class_probs: Any, k: Any, R: Any) -> float:
    """Ash, Goel, Krishnamurthy, Misra (AISTATS 2022), "collision-coverage" bound.

    ``2 max(1, 2 (C-1) H_{C-1} / k) / (1 - τ_k) · (R - Coll_k)`` with the exact harmonic
    number ``H_{C-1}``.  Form read from the public code accompanying Bao, Nagano & Nozawa
    (ICML 2022) (``coef_ash`` in ``scripts/compare_upper_bound.py``, "Ash et al." curve),
    not from the theorem; **the code evaluates** ``harmonic(c - 1)`` **with**
    ``harmonic = lambda c: np.log(c) + 0.577``, i.e. ``H_{C-1} ≈ log(C - 1) + 0.577``;
    this function uses the exact ``H_{C-1}`` instead (the two differ by
    ``1/(2(C-1)) + O(C^{-2})``; at ``C = 2`` by ``1 - 0.577``).  Uniform ``ρ`` only:
    ``(C-1) H_{C-1}`` is the uniform coupon-collector time, with no stated ``ρ``-version
    (``ValueError`` otherwise).  ``ValueError`` for ``R < Coll_k``;
    :class:`IllConditionedBoundError` as for :func:`saunshi_bound`.

    Parameters
    ----------
    class_probs : array_like, shape (C,), or int
        Class law ``ρ``; an integer ``C`` means uniform over ``C`` classes.
        Must be uniform.
    k : int
        Number of negatives, ``1 <= k <= 1.8e308`` (an integer).
    R : float
        The population contrastive loss ``R = L_k(F)`` of the representation (natural log,
        SPEC §2); ``R < Coll_k`` raises ``ValueError``.

    Returns
    -------
    float
        ``2 max(1, 2 (C-1) H_{C-1} / k) (R - Coll_k) / (1 - τ_k)`` (SPEC §7).
    """
    rho, k, R, coll = _prepare(class_probs, k, R, "ash_bound")
    if np.ptp(rho) > _UNIFORM_TOL:
        raise ValueError(
            "ash_bound is defined for uniform class_probs only (coupon-collector factor)"
        )
    C = rho.size
    log_coef = math.log(
        2.0 * max(1.0, 2.0 * (C - 1) * harmonic_number(C - 1) / k)
    ) - _log_no_collision(rho, k)
    return _amplified(R, coll, log_coef, "ash_bound")


def nozawa_sato_bound(class_probs: Any, k: Any, R: Any) -> float:
    """Nozawa & Sato (NeurIPS 2021), simplified form ``(2R - Coll_k) / υ_{k+1}``.

    Form read from the public code accompanying Bao, Nagano & Nozawa (ICML 2022)
    (``ub_nozawa`` in ``scripts/compare_upper_bound.py``), not from the theorem.  **Valid
    only when Nozawa & Sato's term** ``d(f) = 0``: their bound carries ``d(f)``, the
    (temperature-scaled) inner product of ``f(x)`` with ``μ_c - E[f(x⁺) | x]``, the gap
    between the class mean and the mean of the anchor's positives (their code,
    ``code/bound.py`` of ``nzw0301/Understanding-Negative-Samples``, measures it as
    ``assumption_value``), and the simplified form drops it.  In this package's
    latent-class model (SPEC §1) the positive is drawn from ``D_c`` independently of the
    anchor given its class, so ``E[f(x⁺) | x] = μ_c`` and ``d(f) = 0`` for every
    representation: the simplified form is the applicable one, and no ``d(f)`` is taken.
    Do not feed it an ``R`` from a model whose positives depend on the anchor (data
    augmentation), where ``d(f) ≠ 0`` in general.

    ``math.inf`` (vacuous) when ``υ_{k+1} = 0`` (``k + 1 < C``).  Non-uniform ``ρ``: an
    extrapolation with the ``ρ``-versions of ``Coll_k``, ``υ_{k+1}``.  ``ValueError`` for
    ``R < Coll_k``.

    Parameters
    ----------
    class_probs : array_like, shape (C,), or int
        Class law ``ρ``; an integer ``C`` means uniform over ``C`` classes.
    k : int
        Number of negatives, ``1 <= k <= 1.8e308`` (an integer).
    R : float
        The population contrastive loss ``R = L_k(F)`` of the representation (natural log,
        SPEC §2); ``R < Coll_k`` raises ``ValueError``.

    Returns
    -------
    float
        ``(2R - Coll_k) / υ_{k+1}`` (SPEC §7), or ``math.inf`` when vacuous.
    """
    rho, k, R, coll = _prepare(class_probs, k, R, "nozawa_sato_bound")
    ups = coverage_probability(rho, k + 1)
    if ups == 0.0:
        return math.inf
    return (2.0 * R - coll) / ups


def bao_bound(class_probs: Any, k: Any, R: Any, tau: Any = 1.0) -> float:
    """Bao, Nagano & Nozawa (ICML 2022) upper bound ``R + log(ρ_max C² cosh²(b²) / k)``.

    ``b² = 1/τ`` (scores ``f(x)·f(x')/τ`` lie in ``[-b², b²]``).  Read from the public
    code accompanying the paper (``ub_intercept`` in ``scripts/plot_k_msuploss.py``), not
    from the theorem.  The code writes ``pi.max()`` but always with the uniform
    ``pi = np.ones(c) / c`` (so ``ρ_max C² = C``): non-uniform ``ρ`` (``ρ_max`` of the given
    law) is an extrapolation.  ``ValueError`` for ``R < Coll_k``.

    Parameters
    ----------
    class_probs : array_like, shape (C,), or int
        Class law ``ρ``; an integer ``C`` means uniform over ``C`` classes.
    k : int
        Number of negatives, ``1 <= k <= 1.8e308`` (an integer).
    R : float
        The population contrastive loss ``R = L_k(F)`` of the representation (natural log,
        SPEC §2); ``R < Coll_k`` raises ``ValueError``.
    tau : float, default 1.0
        Temperature ``τ > 0``; scores lie in ``[-b², b²]`` with ``b² = 1/τ``.

    Returns
    -------
    float
        ``R + log ρ_max + 2 log C + 2 log cosh(1/τ) - log k`` (SPEC §7), summed with ``math.fsum``.
    """
    rho, k, R, _ = _prepare(class_probs, k, R, "bao_bound")
    tau = checked_tau(tau)
    C = rho.size
    return math.fsum(
        [R, math.log(float(rho.max())), 2.0 * math.log(C), 2.0 * _log_cosh(1.0 / tau), -math.log(k)]
    )


def bao_lower_bound(class_probs: Any, k: Any, R: Any, tau: Any = 1.0) -> float:
    """Bao, Nagano & Nozawa (ICML 2022) lower companion
    ``R + H(ρ) + log k - 2 log(1 + k) - 2 log cosh(b²)``, ``b² = 1/τ``, natural log.

    Read from the public code accompanying the paper (``lb_intercept`` in
    ``scripts/plot_k_msuploss.py``), not from the theorem.  The code takes the entropy of
    the uniform ``pi = np.ones(c) / c`` (``H = log C``): non-uniform ``ρ`` (``H(ρ)`` of the
    given law) is an extrapolation.  ``ValueError`` for ``R < Coll_k``.

    Parameters
    ----------
    class_probs : array_like, shape (C,), or int
        Class law ``ρ``; an integer ``C`` means uniform over ``C`` classes.
    k : int
        Number of negatives, ``1 <= k <= 1.8e308`` (an integer).
    R : float
        The population contrastive loss ``R = L_k(F)`` of the representation (natural log,
        SPEC §2); ``R < Coll_k`` raises ``ValueError``.
    tau : float, default 1.0
        Temperature ``τ > 0``; scores lie in ``[-b², b²]`` with ``b² = 1/τ``.

    Returns
    -------
    float
        ``R + H(ρ) - log k - 2 log(1 + 1/k) - 2 log cosh(1/τ)`` (SPEC §7; the same as
        ``R + H(ρ) + log k - 2 log(1 + k) - 2 log cosh(b²)``, written without cancellation).
    """
    rho, k, R, _ = _prepare(class_probs, k, R, "bao_lower_bound")
    tau = checked_tau(tau)
    entropy = -math.fsum(rho * np.log(rho))
    # 2 log(1 + k) - log k = log k + 2 log1p(1/k): no cancellation at huge k
    return math.fsum(
        [R, entropy, -math.log(k), -2.0 * math.log1p(1 / k), -2.0 * _log_cosh(1.0 / tau)]
    )


@dataclass(frozen=True, eq=False, repr=False)
class BoundValues:
    """Every §7 quantity at one ``(ρ, k, R, τ)``.

    ``ash`` is ``None`` for non-uniform ``ρ``; ``saunshi``/``ash`` are ``None`` when
    ill-conditioned (:class:`IllConditionedBoundError`); ``notes`` says why for each ``None``.
    """

    k: int
    R: float
    tau: float
    collision: float
    coverage: float
    coll_k: float
    saunshi: float | None
    ash: float | None
    nozawa_sato: float
    bao: float
    bao_lower: float
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Field name -> value (``notes`` joined with ``"; "``).

        Returns
        -------
        dict
            One entry per field, in declaration order; ``notes`` is one string.
        """
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["notes"] = "; ".join(self.notes)
        return out

    def __repr__(self) -> str:
        fmt = lambda v: "None" if v is None else f"{v:.6g}"  # noqa: E731
        return (
            f"BoundValues(k={self.k}, R={self.R:.6g}, saunshi={fmt(self.saunshi)}, ash={fmt(self.ash)}, "
            f"nozawa_sato={self.nozawa_sato:.6g}, bao={self.bao:.6g}, bao_lower={self.bao_lower:.6g})"
        )

    def _repr_html_(self) -> str:
        """A table for Jupyter: the §7 ingredients and every bound (``None`` with its note)."""
        from ._html import fields_html

        return fields_html(self)


def published_bounds(class_probs: Any, k: Any, R: Any, tau: Any = 1.0) -> BoundValues:
    """All bounds of this module at one point, for tables and sweeps.

    Raises ``ValueError`` for invalid input, including ``R < Coll_k`` (below the least
    value of any population contrastive loss with ``k`` negatives, see
    :func:`saunshi_bound`).  Otherwise never raises: a bound that is undefined (Ash et al.
    for non-uniform ``ρ``) or ill-conditioned is ``None`` with the reason in ``notes``.

    Parameters
    ----------
    class_probs : array_like, shape (C,), or int
        Class law ``ρ``; an integer ``C`` means uniform over ``C`` classes.
    k : int
        Number of negatives, ``1 <= k <= 1.8e308`` (an integer).
    R : float
        The population contrastive loss ``R = L_k(F)`` of the representation (natural log,
        SPEC §2); ``R < Coll_k`` raises ``ValueError``.
    tau : float, default 1.0
        Temperature ``τ > 0``; scores lie in ``[-b², b²]`` with ``b² = 1/τ``.

    Returns
    -------
    BoundValues
        ``τ_k`` (``collision``), ``υ_{k+1}`` (``coverage``), ``Coll_k`` and the five bounds
        (SPEC §7); ``None`` for an undefined or ill-conditioned bound, the reason in ``notes``.
    """
    rho, k, R, coll = _prepare(class_probs, k, R, "published_bounds")
    tau = checked_tau(tau)
    notes: list[str] = []

    def attempt(fn, name):
        try:
            return fn(rho, k, R)
        except IllConditionedBoundError as exc:
            notes.append(str(exc))
            return None

    if np.ptp(rho) <= _UNIFORM_TOL:
        ash = attempt(ash_bound, "ash")
    else:
        ash = None
        notes.append("ash_bound: defined for uniform class_probs only")
    return BoundValues(
        k=k,
        R=R,
        tau=tau,
        collision=collision_probability(rho, k),
        coverage=coverage_probability(rho, k + 1),
        coll_k=coll,
        saunshi=attempt(saunshi_bound, "saunshi"),
        ash=ash,
        nozawa_sato=nozawa_sato_bound(rho, k, R),
        bao=bao_bound(rho, k, R, tau),
        bao_lower=bao_lower_bound(rho, k, R, tau),
        notes=tuple(notes),
    )
