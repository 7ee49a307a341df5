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
    """
    J = mu.shape[1] - 1
    p = mu * _SIGNED_INV_FACT[: J + 1]
    out = np.zeros_like(mu)
    out[:, 1] = p[:, 1]
    for n in range(2, J + 1):
        out[:, n] = p[:, n] - (out[:, 1:n] * p[:, n - 1 : 0 : -1]) @ (np.arange(1, n) / n)
    return out


def _series_exp(K: np.ndarray) -> np.ndarray:
    """Taylor coefficients of ``exp(K(t))``, ``K(t) = Σ_{i>=1} K_i t^i`` (``K[:, 0]`` ignored).

    Recursion ``e_0 = 1``, ``e_n = (1/n) Σ_{i=1}^n i K_i e_{n−i}``.
    """
    J = K.shape[1] - 1
    e = np.zeros_like(K)
    e[:, 0] = 1.0
    for n in range(1, J + 1):
        e[:, n] = (K[:, 1 : n + 1] * e[:, n - 1 :: -1] * (np.arange(1, n + 1) / n)).sum(axis=1)
    return e


def _cauchy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise product of truncated power series (same number of coefficients)."""
    J = x.shape[1]
    out = np.empty_like(x)
    for m in range(J):
        out[:, m] = (x[:, : m + 1] * y[:, m::-1]).sum(axis=1)
    return out
