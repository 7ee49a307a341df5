"""Truncated power-series arithmetic used by the tails of the quadrature in :mod:`latentclass._engines.laplace`.

Series are stored row-wise as coefficient arrays ``(rows, J+1)``, column ``i`` holding the
coefficient of ``t^i``; every routine works on all rows at once.
"""

from __future__ import annotations

import math

import numpy as np

#: ``(−1)^i / i!`` for ``i < 40``: the Taylor coefficients of ``e^{-t}``.
_SIGNED_INV_FACT = np.array([(-1.0) ** i / math.factorial(i) for i in range(40)])


def _series_log(mu: np.ndarray) -> np.ndarray:
    """Taylor coefficients of ``log φ(t)`` for ``φ(t) = Σ_i μ_i (−t)^i / i!`` (``μ_0 = 1``).

    ``mu`` has shape ``(A, J+1)``; returns ``(A, J+1)`` with column 0 equal to 0.
    Recursion for ``log(1 + p(t))``: ``l_n = p_n − (1/n) Σ_{0<i<n} i l_i p_{n−i}``.
    Rows are worked on transposed (one contiguous vector per coefficient), one ``einsum`` per
    order.
    """
    J = mu.shape[1] - 1
    p = (mu * _SIGNED_INV_FACT[: J + 1]).T.copy()  # (J+1, A)
    out = np.zeros_like(p)
    il = np.zeros_like(p)  # i l_i
    if J >= 1:
        out[1] = p[1]
        il[1] = p[1]
    for n in range(2, J + 1):
        out[n] = p[n] - np.einsum("ia,ia->a", il[1:n], p[n - 1 : 0 : -1]) / n
        il[n] = n * out[n]
    return out.T.copy()


def _series_exp(K: np.ndarray) -> np.ndarray:
    """Taylor coefficients of ``exp(K(t))``, ``K(t) = Σ_{i>=1} K_i t^i`` (``K[:, 0]`` ignored).

    Recursion ``e_0 = 1``, ``e_n = (1/n) Σ_{i=1}^n i K_i e_{n−i}`` (transposed, as above).
    """
    J = K.shape[1] - 1
    iK = (K * np.arange(J + 1)).T.copy()  # (J+1, P): i K_i
    e = np.empty_like(iK)
    e[0] = 1.0
    for n in range(1, J + 1):
        e[n] = np.einsum("ip,ip->p", iK[1 : n + 1], e[n - 1 :: -1] if n > 1 else e[:1]) / n
    return e.T.copy()


def _cauchy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise product of truncated power series (same number of coefficients):
    ``out_m = Σ_{i<=m} x_i y_{m−i}``, as one ``einsum`` with the Toeplitz matrix of ``y``."""
    J = x.shape[1]
    i, m = np.indices((J, J))
    Y = y[:, np.maximum(m - i, 0)]  # (P, i, m) = y_{m−i}
    Y *= m >= i
    return np.einsum("pi,pim->pm", x, Y)
