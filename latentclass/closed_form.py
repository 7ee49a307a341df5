"""Closed forms of SPEC §5: the regular simplex and its population NCE loss.

For uniform ``ρ`` and disjoint supports the optimal representation (any ``k``, any
``τ``, dimension ``d >= m - 1``) puts every point of class ``c`` on the vertex ``v_c`` of
a regular simplex inscribed in the unit sphere; :func:`simplex` gives the vertices and
:func:`simplex_loss` the loss ``L_k*`` of that representation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import linalg, stats
from scipy.special import xlogy

from ._validation import check_integer, check_k, check_tau, readonly

__all__ = ["simplex", "simplex_gram", "simplex_loss", "simplex_window"]

#: Relative size (w.r.t. a lower bound of the loss) that the neglected binomial tails of
#: :func:`simplex_loss` are proven to stay below.
TAIL_RTOL = 1e-17


def simplex(m: int) -> np.ndarray:
    """Vertices of the regular simplex with ``m`` vertices on the unit sphere of ``R^{m-1}``.

    Row ``c`` is ``v_c = sqrt(m / (m - 1)) · H[:, c]`` where the columns of the Helmert
    matrix ``H`` (``(m - 1) × m``, orthonormal rows orthogonal to the all-ones vector) are
    the orthogonal projections of the basis vectors ``e_c`` onto the sum-zero subspace
    expressed in an orthonormal basis of it.  Hence ``‖v_c‖ = 1`` and
    ``v_c · v_j = −1/(m − 1)`` for ``c ≠ j`` (SPEC §5), to rounding (≈ 1e-16).

    Parameters
    ----------
    m : int
        Number of vertices (classes), ``m >= 2``.

    Returns
    -------
    ndarray, shape (m, m - 1)
        Read-only array of the vertices.
    """
    m = check_integer(m, "m", minimum=2)
    h = linalg.helmert(m)  # (m-1, m): orthonormal rows, each orthogonal to ones
    return readonly(math.sqrt(m / (m - 1)) * h.T)


def simplex_gram(m: int) -> np.ndarray:
    """Gram matrix of :func:`simplex`: ``G* = m/(m−1) · (I − 11ᵀ/m)`` (SPEC §5), read-only."""
    m = check_integer(m, "m", minimum=2)
    g = np.full((m, m), -1.0 / (m - 1))
    np.fill_diagonal(g, 1.0)
    return readonly(g)


def _kl_bernoulli(a: np.ndarray | float, p: float) -> np.ndarray:
    """Kullback–Leibler divergence ``KL(Bern(a) ‖ Bern(p))`` (with ``0 log 0 = 0``)."""
    a = np.asarray(a, dtype=float)
    return xlogy(a, a / p) + xlogy(1.0 - a, (1.0 - a) / (1.0 - p))


def _chernoff_log_tail(j: int, k: int, p: float) -> float:
    """Natural log of the Chernoff bound on ``P(J >= j)`` (if ``j >= kp``) or ``P(J <= j)``.

    ``P(J >= ak) <= exp(−k KL(a‖p))`` for ``a >= p`` and ``P(J <= ak) <= exp(−k KL(a‖p))``
    for ``a <= p`` (``J ~ Binomial(k, p)``).
    """
    return -k * float(_kl_bernoulli(j / k, p))


def simplex_window(k: int, p: float, log_delta: float) -> tuple[int, int]:
    """Integers ``lo <= hi`` with ``P(J < lo) <= δ`` and ``P(J > hi) <= δ`` for ``J ~ Bin(k, p)``.

    ``δ = exp(log_delta)``; each tail is bounded by the Chernoff bound (no approximation),
    and the window is (up to one integer) the narrowest one the bound allows, found by
    bisection (the bound is monotone on each side of the mean ``kp``).
    """
    mean = k * p
    # upper tail: smallest hi >= ceil(mean) such that P(J >= hi + 1) <= δ
    a, b = int(math.ceil(mean)), k
    if _chernoff_log_tail(k, k, p) > log_delta:  # even P(J = k) may exceed δ: keep everything
        hi = k
    else:
        # invariant: bound(b + 1) <= δ (b = k: P(J >= k+1) = 0); find smallest such b
        lo_b = a - 1
        while b - lo_b > 1:
            mid = (lo_b + b) // 2
            if mid + 1 <= k and _chernoff_log_tail(mid + 1, k, p) <= log_delta and mid + 1 > mean:
                b = mid
            else:
                lo_b = mid
        hi = b
    # lower tail: largest lo <= floor(mean) such that P(J <= lo - 1) <= δ
    a = int(math.floor(mean))
    if _chernoff_log_tail(0, k, p) > log_delta:
        lo = 0
    else:
        lo_a, hi_a = 0, a + 1  # invariant: bound(lo_a - 1) <= δ (lo_a = 0: P(J <= -1) = 0)
        while hi_a - lo_a > 1:
            mid = (lo_a + hi_a) // 2
            if mid - 1 >= 0 and mid - 1 < mean and _chernoff_log_tail(mid - 1, k, p) <= log_delta:
                lo_a = mid
            else:
                hi_a = mid
        lo = lo_a
    return lo, hi


def simplex_loss(m: int, k: Any, tau: float = 1.0) -> float:
    """Population NCE loss of the regular simplex, uniform ``ρ`` (closed form, SPEC §5).

    With ``N ~ Binomial(k, 1/m)`` collisions and ``q = exp(−m / ((m − 1) τ))``,

    ``L_k* = Σ_{j=0..k} C(k, j) m^{-j} (1 − 1/m)^{k−j} log(1 + j + (k − j) q)``.

    Only the window ``lo <= j <= hi`` of :func:`simplex_window` is summed.  Proof that the
    rest is negligible: ``q < 1`` so every log term lies in ``[0, log(1 + k)]``, the two
    neglected tails have probability ``<= 2δ`` (Chernoff), and
    ``L_k* >= max(log1p(k q), (1 − (1 − 1/m)^k) log 2)`` (``N >= 1`` gives ``log 2``);
    ``δ`` is chosen so that ``2 δ log(1 + k) <= 1e-17 ×`` that lower bound.  The binomial
    weights are ``scipy.stats.binom.pmf`` (Boost's accurate pmf, no ``gammaln``
    cancellation), the logs are ``log1p``; cost ``O(sqrt(k/m) · 10)`` terms, so
    ``k = 10⁹`` is fine.

    ``k = math.inf`` gives the limit ``lim_k (L_k − log k) = log((1 + (m − 1) q) / m)``
    (SPEC §3, ``L_∞`` at the simplex).

    Parameters
    ----------
    m : int
        Number of classes, ``m >= 2``.
    k : int or math.inf
        Number of negatives, ``k >= 1``.
    tau : float
        Temperature ``τ > 0``.

    Returns
    -------
    float
    """
    m = check_integer(m, "m", minimum=2)
    k = check_k(k, allow_inf=True)
    tau = check_tau(tau)
    q = math.exp(-m / ((m - 1) * tau))
    if k == math.inf:
        return math.log1p((m - 1) * q) - math.log(m)
    p = 1.0 / m
    # a priori lower bound of the loss (see docstring)
    lower = max(math.log1p(k * q), -math.expm1(k * math.log1p(-p)) * math.log(2.0))
    log_delta = math.log(TAIL_RTOL * lower) - math.log(2.0 * math.log1p(k))
    lo, hi = simplex_window(k, p, log_delta)
    j = np.arange(lo, hi + 1, dtype=float)
    w = stats.binom.pmf(j, k, p)
    terms = w * np.log1p(j + (k - j) * q)
    return float(math.fsum(terms))
