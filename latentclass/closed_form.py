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
from scipy import linalg

from ._engines import binomial as _binomial
from ._engines.binomial import (
    TAIL_RTOL,
    as_ratio,
    check_k_range,
    checked_k,
    checked_tau,
    expected_log1p_affine,
)
from ._validation import check_integer, readonly

__all__ = ["TAIL_RTOL", "simplex", "simplex_gram", "simplex_loss", "simplex_window"]


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
    """Gram matrix of :func:`simplex`: ``G* = m/(m−1) · (I − 11ᵀ/m)`` (SPEC §5), read-only.

    Parameters
    ----------
    m : int
        Number of classes, ``>= 2``.

    Returns
    -------
    ndarray, shape (m, m)
        ``G*``: unit diagonal, off-diagonal ``−1/(m−1)`` (read-only).
    """
    m = check_integer(m, "m", minimum=2)
    g = np.full((m, m), -1.0 / (m - 1))
    np.fill_diagonal(g, 1.0)
    return readonly(g)


def simplex_window(k: int, p: float, log_delta: float) -> tuple[int, int]:
    """Integers ``lo <= hi`` with ``P(J < lo) <= δ`` and ``P(J > hi) <= δ``, ``J ~ Bin(k, p)``.

    ``δ = exp(log_delta)``; each tail is bounded by the Chernoff bound
    ``P(J >= j) <= exp(-k KL(j/k ‖ p))`` (``j >= kp``; mirror image below the mean), with
    the divergence evaluated from exact integers (``p`` is taken as its exact rational value),
    and the window is the narrowest one the bound allows (exponential search, bisection).
    """
    k = check_k_range(check_integer(k, "k", minimum=1))
    a, D = as_ratio(p)
    return _binomial.window(k, a, D, float(log_delta))


def simplex_loss(m: int, k: Any, tau: Any = 1.0) -> float:
    """Population NCE loss of the regular simplex, uniform ``ρ`` (closed form, SPEC §5).

    With ``J ~ Binomial(k, p)`` collisions, ``p = 1/m``, and ``q = exp(−m / ((m − 1) τ))``,

    ``L_k* = Σ_{j=0..k} C(k, j) p^j (1 − p)^{k−j} log(1 + j + (k − j) q) = E log1p(α + βJ)``,
    ``α = kq``, ``β = 1 − q`` (``β = −expm1(−m/((m−1)τ))``, no cancellation).

    Exact to rounding (measured ``<= 1.3e-16`` relative against mpmath Laplace integrals and
    binomial sums, ``tests/test_extreme_k.py``) for every integer ``1 <= k <= 1.8e308``, in
    ``O(1)`` memory and about a millisecond at most, independent of the scipy version (no
    ``scipy.stats``): :func:`latentclass._engines.binomial.expected_log1p_affine`.

    - ``kp(1 − p) < 1000``: the binomial window ``[lo, hi]`` whose Chernoff tails are both
      ``<= δ``, weights from the ratio recurrence
      ``w_{j+1}/w_j = (k − j)/((j + 1)(m − 1))`` (exact integers, one rounding) from the mode
      in log space with compensated partial sums, normalised over the window.  Normalising
      costs at most ``2δ/(1 − 2δ)`` relative and the tails ``2δ log(1 + k)`` absolute (every log
      term lies in ``[0, log(1 + k)]``), and, the log term being increasing in ``j``,
      ``L_k* >= g(0) + P(J >= 1)(g(1) − g(0))`` with ``g(j) = log1p(kq + j(1 − q))`` and
      ``P(J >= 1) = 1 − (1 − p)^k``; ``δ`` makes the sum of both ``<= 1e-17 ×`` that lower
      bound (``TAIL_RTOL``).  The weights
      are accurate because each ``log(w_j/w_mode)`` is a sum of same-signed logs of correctly
      rounded ratios: relative error ``<= 4ε |log(w_j/w_mode)|``, i.e. ``~2ε`` on the weighted
      mean — no ``lgamma`` cancellation at any ``k``.
    - ``kp(1 − p) >= 1000``: with ``A = 1 + kq + kp(1 − q)`` and ``x = (J − kp)(1 − q)/A``,
      ``L_k* = log A + Σ_{n=2..N} (−1)^{n+1} E[x^n]/n + E R_N(x)``, the ``E[x^n]`` from the
      exact binomial central moments (cumulants ``k κ_j(p)``, moments by the cumulant
      recursion, in integers), and the proven remainder bound
      ``|R_N(x)| <= |x|^{N+1}/((N+1) min(1, 1+x))``: on ``{x >= −1/2}`` by
      ``2 E[x^{N+1}]/(N+1)`` (``N + 1`` even); on ``{x < −1/2}`` by
      ``(log A + H_N) P(J < kp − A/(2(1 − q)))`` (there ``1 + x >= 1/A``; Chernoff bound on
      the probability).  ``N`` (odd) is raised until the bound is ``<= 1e-17 ×`` (truncated sum
      minus the bound); ``N <= 13`` at variance 1000, ``N = 3`` at ``k = 10¹⁸``.

    ``k = math.inf`` gives the limit ``lim_k (L_k − log k) = log((1 + (m − 1) q) / m)``
    (SPEC §3, ``L_∞`` at the simplex).

    Parameters
    ----------
    m : int
        Number of classes, ``2 <= m <= 1.8e308``.
    k : int or math.inf
        Number of negatives, ``1 <= k <= 1.8e308`` (``ValueError`` beyond the float range).
    tau : float
        Temperature ``τ > 0`` (``ValueError`` for values beyond the float range).

    Returns
    -------
    float
    """
    m = check_k_range(check_integer(m, "m", minimum=2), "m")
    k = checked_k(k, allow_inf=True)
    tau = checked_tau(tau)
    x = (m / (m - 1)) / tau  # m/(m-1) correctly rounded (exact integers)
    q = math.exp(-x)
    if k == math.inf:
        return math.log1p((m - 1) * q) - math.log(m)
    k = int(k)
    beta = -math.expm1(-x)  # 1 - q
    return expected_log1p_affine(k, 1, m, float(k) * q, beta).value
