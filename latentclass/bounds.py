"""Collision and coverage probabilities and the published downstream bounds (SPEC §7).

The four upper bounds (and Bao et al.'s lower companion) bound the mean-classifier
supervised loss of a representation in terms of its population contrastive loss
``R = L_k(F)``.  **Their forms were read from the public code accompanying Bao, Nagano &
Nozawa, "On the Surrogate Gap between Contrastive and Supervised Losses" (ICML 2022)**
(the scripts that plot the bounds against ``k``), not re-derived from the theorems of the
cited papers.  That code treats uniform classes over ``C`` classes and natural
logarithms; scores lie in ``[-b², b²]``, which in this package's convention
(``‖f‖ ≤ 1``, scores divided by ``τ``) is ``b² = 1/τ``.  Two deliberate departures from
the code: the harmonic number is exact (the code uses ``log C + 0.577`` for ``H_{C-1}``),
and the coverage probability is exact for any ``ρ`` (the code runs a uniform
coupon-collector recursion).

Ingredients, for class law ``ρ`` over ``C`` classes and ``k`` negatives:

- ``τ_k = Σ_c ρ_c (1 - (1 - ρ_c)^k)``  (collision probability, :func:`collision_probability`);
- ``Coll_k = Σ_c ρ_c E log(1 + N_c)``, ``N_c ~ Binomial(k, ρ_c)``
  (:func:`expected_log_collisions`; for uniform ``ρ`` this is ``E log(1+N)``,
  ``N ~ Binomial(k, 1/C)`` as in the code);
- ``υ_{k+1}`` = probability that ``k + 1`` iid class draws cover all ``C`` classes
  (:func:`coverage_probability`).

Generalisation to non-uniform ``ρ``: the three ingredients above are defined for any
``ρ`` as the probabilities/expectations they name, and Bao et al.'s bounds use
``ρ_max`` and the entropy ``H(ρ)`` explicitly, so the Saunshi/Arora, Nozawa–Sato and Bao
bounds are evaluated with the ``ρ``-versions.  Ash et al.'s factor ``(C-1) H_{C-1}`` is the
uniform coupon-collector expectation and has no ``ρ``-version in the code: :func:`ash_bound`
accepts uniform ``ρ`` only (``ValueError`` otherwise).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, special, stats

from ._validation import check_choice, check_class_probs, check_integer, check_k, check_tau

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

#: ``harmonic_number`` sums terms exactly (``math.fsum``) up to this ``n``; above, digamma.
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


# --------------------------------------------------------------------------- helpers
def _class_probs(class_probs: Any) -> np.ndarray:
    """``class_probs`` as a vector; an integer ``C >= 2`` means uniform over ``C`` classes."""
    if isinstance(class_probs, (int, np.integer)) and not isinstance(class_probs, (bool, np.bool_)):
        c = check_integer(class_probs, "class_probs", minimum=2)
        return np.full(c, 1.0 / c)
    return np.asarray(check_class_probs(class_probs), dtype=float)


def _check_R(R: Any) -> float:
    if isinstance(R, (bool, np.bool_)) or not isinstance(R, (int, float, np.integer, np.floating)):
        raise TypeError(
            f"R must be a real number (the contrastive loss value), got {type(R).__name__}"
        )
    r = float(R)
    if not math.isfinite(r):
        raise ValueError(f"R must be finite, got {R!r}")
    return r


def _log_no_collision(rho: np.ndarray, k: int) -> float:
    """``log(1 - τ_k) = log Σ_c ρ_c (1 - ρ_c)^k``, computed without forming ``1 - τ_k``."""
    return float(special.logsumexp(np.log(rho) + k * np.log1p(-rho)))


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
    delta = 4.0 * np.finfo(float).eps * (abs(R) + abs(coll))
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
def harmonic_number(n: int) -> float:
    """The ``n``-th harmonic number ``H_n = Σ_{i=1..n} 1/i`` (``H_0 = 0``), exact to rounding.

    Summed with ``math.fsum`` for ``n <= 10^6``; above, ``ψ(n+1) + γ`` (scipy's digamma,
    accurate to a few ulps).  Not the approximation ``log n + 0.577``.
    """
    n = check_integer(n, "n", minimum=0)
    if n <= _HARMONIC_SUM_MAX:
        return math.fsum(1.0 / np.arange(1, n + 1, dtype=float)) if n else 0.0
    return float(special.digamma(n + 1.0) + np.euler_gamma)


def collision_probability(class_probs: Any, k: Any) -> float:
    """Probability that at least one of ``k`` negatives shares the anchor's class (SPEC §7).

    ``τ_k = Σ_c ρ_c (1 - (1 - ρ_c)^k)``, evaluated as ``-expm1(k log1p(-ρ_c))``.

    Parameters
    ----------
    class_probs : array_like, shape (m,), or int
        Class law ``ρ``; an integer ``C`` means uniform over ``C`` classes.
    k : int or math.inf
        Number of negatives (``>= 1``); ``math.inf`` gives 1.
    """
    rho = _class_probs(class_probs)
    k = check_k(k, allow_inf=True)
    if k == math.inf:
        return 1.0
    return float(np.dot(rho, -np.expm1(k * np.log1p(-rho))))


def expected_log_collisions(class_probs: Any, k: Any) -> float:
    """``Coll_k = Σ_c ρ_c E[log(1 + N_c)]`` with ``N_c ~ Binomial(k, ρ_c)`` (natural log).

    For uniform ``ρ`` over ``C`` classes this is the ``E log(1 + N)``, ``N ~ Binomial(k, 1/C)``,
    of the public code of Bao, Nagano & Nozawa (ICML 2022) ("collision term").  The
    binomial sum runs over the window ``kp ± (20 sd + 40)`` (Bernstein: the mass outside
    is below ``e^{-60}``), with scipy's ``binom.pmf`` (``exp(binom.logpmf)`` loses ~1e-10
    at ``k = 10^5``).
    """
    rho = _class_probs(class_probs)
    k = check_k(k)
    return _coll_cached(rho.tobytes(), k)


@functools.lru_cache(maxsize=4096)
def _coll_cached(rho_bytes: bytes, k: int) -> float:
    rho = np.frombuffer(rho_bytes, dtype=float)
    values, inverse = np.unique(rho, return_inverse=True)
    weight = np.bincount(inverse, weights=rho)  # total mass of each distinct value
    total = 0.0
    for p, w in zip(values, weight):  # loop over distinct class probabilities
        mean, sd = k * p, math.sqrt(k * p * (1.0 - p))
        lo = max(0, int(math.floor(mean - 20.0 * sd - 40.0)))
        hi = min(k, int(math.ceil(mean + 20.0 * sd + 40.0)))
        acc = 0.0
        for start in range(lo, hi + 1, 1 << 20):  # chunks bound memory
            j = np.arange(start, min(hi, start + (1 << 20) - 1) + 1, dtype=float)
            acc += math.fsum(stats.binom.pmf(j, k, p) * np.log1p(j))  # boost's pmf: ~1e-16 relative
        total += w * acc
    return float(total)


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
    return math.fsum(sign * rest**n)


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
    log_g = float(np.sum(np.log(-np.expm1(-lam))))  # log Π (1 - e^{-rρ_c})
    log_pois = _log_poisson_pmf(n, r)
    return float(min(1.0, math.exp(log_g + math.log(p_sum) - log_pois)))


def coverage_probability(class_probs: Any, draws: Any, method: str = "auto") -> float:
    """Probability that ``draws`` iid classes ``~ ρ`` include every class.

    ``υ_n = Σ_{S ⊆ classes} (-1)^{|S|} (1 - ρ(S))^n`` (inclusion-exclusion).

    Parameters
    ----------
    class_probs : array_like, shape (m,), or int
        Class law ``ρ``; an integer ``C`` means uniform over ``C`` classes.
    draws : int
        Number of draws ``n >= 0`` (Bao et al. use ``n = k + 1``: anchor plus negatives).
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
        outside it (``Poisson(r) <=st Σ Z_c <=st m + Poisson(r)``; Chernoff: ``< e^{-50}``).  Every quantity is a
        probability or a bounded complex number: no cancellation; cost ``O(m (m + √n))``
        (``m`` = number of distinct class probabilities in the second factor).  Relative
        error about ``1e-16 √n`` from the phases ``rρ_c sin θ`` (measured: ~3e-15 at
        ``n = 10^3``, 6e-14 at ``10^6``, 2e-12 at ``10^9``).
        ``"auto"`` uses exact shortcuts — ``0`` for ``n < m``, ``m! Π ρ_c`` for ``n = m``,
        ``1 - Σ_c (1-ρ_c)^n`` once that sum is ``<= 1e-8`` (Bonferroni: error
        ``<= 5e-17``) — and the saddle-point method otherwise.
    """
    rho = _class_probs(class_probs)
    n = check_integer(draws, "draws", minimum=0)
    check_choice(method, "method", ("auto", "saddlepoint", "inclusion-exclusion"))
    m = rho.size
    if method == "inclusion-exclusion":
        return float(min(1.0, max(0.0, _coverage_inclusion_exclusion(rho, n))))
    if n < m:
        return 0.0
    if n == m:
        return float(math.exp(math.lgamma(m + 1.0) + float(np.sum(np.log(rho)))))
    if method == "auto":
        s1 = math.fsum(np.exp(n * np.log1p(-rho)))
        if s1 <= _BONFERRONI_S1:
            return 1.0 - s1
    return _saddlepoint_cached(rho.tobytes(), n)


@functools.lru_cache(maxsize=4096)
def _saddlepoint_cached(rho_bytes: bytes, n: int) -> float:
    return _coverage_saddlepoint(np.frombuffer(rho_bytes, dtype=float), n)


# --------------------------------------------------------------------------- bounds
def saunshi_bound(class_probs: Any, k: Any, R: Any) -> float:
    """Saunshi, Plevrakis, Arora, Khodak, Khandeparkar (ICML 2019), InfoNCE form.

    ``(R - Coll_k) / ((1 - τ_k) υ_{k+1})``: upper bound on the mean-classifier supervised
    loss given the contrastive loss ``R``.  Form read from the public code accompanying
    Bao, Nagano & Nozawa (ICML 2022) ("Arora et al." curve), not from the theorem.
    Returns ``math.inf`` (vacuous bound) when ``υ_{k+1} = 0``, i.e. ``k + 1 < C``.
    Non-uniform ``ρ``: ``τ_k``, ``Coll_k``, ``υ_{k+1}`` use ``ρ`` (see module docstring).
    """
    rho, k, R = _class_probs(class_probs), check_k(k), _check_R(R)
    ups = coverage_probability(rho, k + 1)
    if ups == 0.0:
        return math.inf
    coll = expected_log_collisions(rho, k)
    return _amplified(R, coll, -_log_no_collision(rho, k) - math.log(ups), "saunshi_bound")


def ash_bound(class_probs: Any, k: Any, R: Any) -> float:
    """Ash, Goel, Krishnamurthy, Misra (AISTATS 2022), "collision-coverage" bound.

    ``2 max(1, 2 (C-1) H_{C-1} / k) / (1 - τ_k) · (R - Coll_k)`` with the exact harmonic
    number ``H_{C-1}``.  Form read from the public code accompanying Bao, Nagano & Nozawa
    (ICML 2022) ("Ash et al." curve; the code approximates ``H_{C-1}`` by
    ``log C + 0.577``), not from the theorem.  Uniform ``ρ`` only: ``(C-1) H_{C-1}`` is the
    uniform coupon-collector time, with no stated ``ρ``-version (``ValueError`` otherwise).
    """
    rho, k, R = _class_probs(class_probs), check_k(k), _check_R(R)
    if np.ptp(rho) > _UNIFORM_TOL:
        raise ValueError(
            "ash_bound is defined for uniform class_probs only (coupon-collector factor)"
        )
    C = rho.size
    log_coef = math.log(
        2.0 * max(1.0, 2.0 * (C - 1) * harmonic_number(C - 1) / k)
    ) - _log_no_collision(rho, k)
    return _amplified(R, expected_log_collisions(rho, k), log_coef, "ash_bound")


def nozawa_sato_bound(class_probs: Any, k: Any, R: Any) -> float:
    """Nozawa & Sato (NeurIPS 2021), simplified form ``(2R - Coll_k) / υ_{k+1}``.

    Form read from the public code accompanying Bao, Nagano & Nozawa (ICML 2022)
    ("Nozawa & Sato" curve), not from the theorem.  ``math.inf`` (vacuous) when
    ``υ_{k+1} = 0`` (``k + 1 < C``).  Non-uniform ``ρ``: ``Coll_k``, ``υ_{k+1}`` use ``ρ``.
    """
    rho, k, R = _class_probs(class_probs), check_k(k), _check_R(R)
    ups = coverage_probability(rho, k + 1)
    if ups == 0.0:
        return math.inf
    return (2.0 * R - expected_log_collisions(rho, k)) / ups


def bao_bound(class_probs: Any, k: Any, R: Any, tau: Any = 1.0) -> float:
    """Bao, Nagano & Nozawa (ICML 2022) upper bound ``R + log(ρ_max C² cosh²(b²) / k)``.

    ``b² = 1/τ`` (scores ``f(x)·f(x')/τ`` lie in ``[-b², b²]``).  Read from the public
    code accompanying the paper (``ub_intercept``), not from the theorem; the code
    evaluates ``ρ_max`` from the class law, so non-uniform ``ρ`` is used as is.
    """
    rho, k, R, tau = _class_probs(class_probs), check_k(k), _check_R(R), check_tau(tau)
    C = rho.size
    return (
        R
        + math.log(float(rho.max()))
        + 2.0 * math.log(C)
        + 2.0 * _log_cosh(1.0 / tau)
        - math.log(k)
    )


def bao_lower_bound(class_probs: Any, k: Any, R: Any, tau: Any = 1.0) -> float:
    """Bao, Nagano & Nozawa (ICML 2022) lower companion
    ``R + H(ρ) + log k - 2 log(1 + k) - 2 log cosh(b²)``, ``b² = 1/τ``, natural log.

    Read from the public code accompanying the paper (``lb_intercept``, entropy of the
    class law), not from the theorem.
    """
    rho, k, R, tau = _class_probs(class_probs), check_k(k), _check_R(R), check_tau(tau)
    entropy = -math.fsum(rho * np.log(rho))
    return R + entropy + math.log(k) - 2.0 * math.log1p(k) - 2.0 * _log_cosh(1.0 / tau)


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
        """Field name -> value (``notes`` joined with ``"; "``)."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["notes"] = "; ".join(self.notes)
        return out

    def __repr__(self) -> str:
        fmt = lambda v: "None" if v is None else f"{v:.6g}"  # noqa: E731
        return (
            f"BoundValues(k={self.k}, R={self.R:.6g}, saunshi={fmt(self.saunshi)}, ash={fmt(self.ash)}, "
            f"nozawa_sato={self.nozawa_sato:.6g}, bao={self.bao:.6g}, bao_lower={self.bao_lower:.6g})"
        )


def published_bounds(class_probs: Any, k: Any, R: Any, tau: Any = 1.0) -> BoundValues:
    """All bounds of this module at one point, for tables and sweeps.

    Never raises for a valid input: a bound that is undefined (Ash et al. for non-uniform
    ``ρ``) or ill-conditioned is ``None`` with the reason in ``notes``.
    """
    rho, k, R, tau = _class_probs(class_probs), check_k(k), _check_R(R), check_tau(tau)
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
        coll_k=expected_log_collisions(rho, k),
        saunshi=attempt(saunshi_bound, "saunshi"),
        ash=ash,
        nozawa_sato=nozawa_sato_bound(rho, k, R),
        bao=bao_bound(rho, k, R, tau),
        bao_lower=bao_lower_bound(rho, k, R, tau),
        notes=tuple(notes),
    )
