"""Exact population loss by dense sums over the multisets of negatives (SPEC §3, last bullet).

The ``k`` negatives drawn from ``D`` have count vectors ``ν`` (``Σ ν = k``) over the support of
``D`` with multinomial weights, so ``I_k(a) = Σ_ν Mult(ν; k, D) log(1 + Σ_y ν_y a_y)`` is a
finite sum.  :func:`enumerate_family_loss` evaluates it for anchor families (the contract of
:func:`latentclass._engines.laplace.family_loss`; ``method="enumerate"``); :class:`MultisetTable` caches
the count table for one model and ``k`` and returns the loss, its Gram-matrix gradient and the
block-diagonal Hessian (``method="auto"`` below :data:`MULTISET_MAX_WORK`).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy.special import expit

from .scores import _TINY, MAX_LOG_SCORE, _row_starts, _segment_sum, scores_too_large

__all__ = [
    "MULTISET_MAX_WORK",
    "MULTISET_MAX_WORK_K1",
    "MultisetTable",
    "compositions",
    "enumerate_family_loss",
    "multiset_is_faster",
    "multiset_work",
]


# --------------------------------------------------------------------------- enumeration
def compositions(n: int, k: int) -> np.ndarray:
    """All count vectors ``ν ∈ N^n`` with ``Σ ν = k`` (rows), via multisets of size ``k``."""
    from itertools import combinations_with_replacement

    combos = np.array(list(combinations_with_replacement(range(n), k)), dtype=np.intp).reshape(
        -1, k
    )
    counts = np.zeros((combos.shape[0], n), dtype=np.int64)
    rows = np.repeat(np.arange(combos.shape[0]), k)
    np.add.at(counts, (rows, combos.ravel()), 1)
    return counts


def enumerate_family_loss(
    base, D, k, anchor, shift, weight, *, need_grad=True, max_terms=2_000_000
):
    """Same contract as :func:`latentclass._engines.laplace.family_loss`, by exact enumeration of the
    multisets of negatives.

    ``I_k(a) = Σ_ν Mult(ν; k, D) log(1 + Σ_y ν_y a_y)``; cost ``C(k+n'-1, k)`` terms per pair
    (``n'`` = size of the support of ``D``).
    """
    from scipy.special import gammaln, xlogy

    base = np.asarray(base, dtype=float)
    A, n = base.shape
    supp = np.flatnonzero(D > 0)
    nn = supp.size
    n_terms = math.comb(k + nn - 1, k)
    if n_terms > max_terms:
        raise ValueError(
            f"method='enumerate' needs {n_terms} multisets (k={k}, support size {nn}); "
            f"the limit is {max_terms}: use method='laplace'"
        )
    nu = compositions(nn, k).astype(float)  # (T, nn)
    Ds = D[supp]
    logw = gammaln(k + 1.0) - gammaln(nu + 1.0).sum(axis=1) + xlogy(nu, Ds).sum(axis=1)
    wts = np.exp(logw)
    P = anchor.size
    starts = _row_starts(anchor)
    la = base[anchor][:, supp] + shift[:, None]  # (P, nn) log a
    c = la.max(axis=1)
    bsc = np.exp(la - c[:, None])  # a / max a
    S = bsc @ nu.T  # (P, T)  Σ ν_y a_y / max a   (> 0: every ν has a positive entry)
    S = np.maximum(S, _TINY)
    logS = np.log(S) + c[:, None]
    L = np.logaddexp(0.0, logS)  # log(1 + Σ ν a)
    vals = L @ wts
    if not need_grad:
        return vals, None, None
    # ∂/∂ log a_y = Σ_ν w_ν ν_y a_y / (1 + Σ ν a)
    R = expit(logS) / S * wts  # w_ν · (Σνa/(1+Σνa)) / (Σνa / max a)
    g = (R @ nu) * bsc  # (P, nn)
    gfull = np.zeros((P, n))
    gfull[:, supp] = g
    gshift = weight * gfull.sum(axis=1)
    gbase = _segment_sum(gfull * weight[:, None], starts, A)
    return vals, gbase, gshift


# --------------------------------------------------------------------------- dense multiset sum
#: The multiset engine is used by ``method="auto"`` when :func:`multiset_work`
#: ``P · T · (s + 130)`` (pairs × multisets × (support + 130): the ``(P, T)`` element-wise work —
#: ``log1p``, a division — is worth about 130 multiply-adds of the two matrix products) is at
#: most this, for ``k >= 2``.  Measured (``benchmarks/bench_population.py``, section 4,
#: class level, value_and_grad, interleaved minima, 2026-12 engine): the multiset sum costs
#: about ``0.15 ns · work``, the quadrature about 1.2 ms at small ``n`` (its fixed cost);
#: the multiset sum was 1.08x–1.26x faster at work 8.1e6 (m = 9, k = 7), 1.27x–1.63x at 7.2e6
#: (m = 5, k = 20), and 0.74x–0.82x at 9.5e6 (m = 6, k = 14); the threshold sits between.
MULTISET_MAX_WORK = 9_000_000
#: The same for ``k = 1``, where the quadrature is the closed form ``Σ D log(1 + a)`` (cheaper):
#: the multiset sum was 1.10x faster at work 2.3e6 (m = 100) and 0.82x at 6.2e6 (m = 150).
MULTISET_MAX_WORK_K1 = 3_500_000


@functools.lru_cache(maxsize=32)
def _count_table(s: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """All count vectors ``ν ∈ N^s`` with ``Σ ν = k`` (``(T, s)`` float, read-only) and
    ``log(k! / Π_y ν_y!)`` (``(T,)``), built with ``O(s)`` vectorised steps and cached.

    Rows are grown one coordinate at a time over all prefixes with sum ``<= k``; the last
    coordinate is ``k`` minus the prefix sum.
    """
    from scipy.special import gammaln

    rows = np.zeros((1, 0), dtype=np.int64)
    sums = np.zeros(1, dtype=np.int64)
    for _ in range(s - 1):
        reps = k - sums + 1  # the next coordinate takes 0 .. k − sum
        idx = np.repeat(np.arange(rows.shape[0]), reps)
        val = np.arange(idx.size) - np.repeat(np.cumsum(reps) - reps, reps)
        rows = np.hstack([rows[idx], val[:, None]])
        sums = sums[idx] + val
    nu = np.hstack([rows, (k - sums)[:, None]]).astype(float)
    logc = gammaln(k + 1.0) - gammaln(nu + 1.0).sum(axis=1)
    nu.flags.writeable = False
    logc.flags.writeable = False
    return nu, logc


def multiset_work(n_pairs: int, support: int, k: int) -> int:
    """``P · C(k + s − 1, s − 1) · (s + 130)``: the cost measure of :class:`MultisetTable`."""
    return n_pairs * math.comb(k + support - 1, support - 1) * (support + 130)


def multiset_is_faster(n_pairs: int, support: int, k: int) -> bool:
    """Whether ``method="auto"`` uses :class:`MultisetTable` (measured crossover, see
    :data:`MULTISET_MAX_WORK`): ``k < 64`` and :func:`multiset_work` at most the threshold."""
    if k >= 64:
        return False
    limit = MULTISET_MAX_WORK_K1 if k == 1 else MULTISET_MAX_WORK
    return multiset_work(n_pairs, support, k) <= limit


class MultisetTable:
    r"""Exact ``L_k`` and its Gram-matrix gradient by a dense sum over the multisets of negatives.

    For a small support ``s`` and small ``k`` the law of the counts ``ν`` (``Σ ν = k``) of the
    ``k`` negatives over the ``s`` points with ``D > 0`` has ``T = C(k + s − 1, s − 1)`` atoms
    with multinomial weights ``w_ν = k! Π D_y^{ν_y} / ν_y!`` (SPEC §3), so

        ``I_k(a) = Σ_ν w_ν log(1 + Σ_y ν_y a_y)``,
        ``∂I_k/∂ log a_y = a_y Σ_ν w_ν ν_y / (1 + Σ_y' ν_y' a_y')``.

    The ``(T, s)`` count matrix and the weights are built once; one evaluation is then two
    matrix products over all pairs at once (``A N^T`` and ``R N``) plus ``log1p`` and a
    division on ``(P, T)`` elements — every sum is of non-negative terms, so the value and
    the gradient are relatively accurate to a few ulps times ``log T``.  Used by
    :class:`~latentclass.population.NCEObjective` (``method="auto"``) when
    :func:`multiset_work` is at most :data:`MULTISET_MAX_WORK`.

    Parameters
    ----------
    n : int
        Number of points.
    D : ndarray (n,)
        Law of the negatives.
    k : int
        Number of negatives.
    px, pp : int ndarray (P,)
        Anchor and positive of every pair, sorted by anchor.
    pw : ndarray (P,)
        Pair probabilities ``P(x, x⁺)``.
    """

    def __init__(
        self, n: int, D: np.ndarray, k: int, px: np.ndarray, pp: np.ndarray, pw: np.ndarray
    ):
        self.n = n
        self.supp = supp = np.flatnonzero(D > 0)
        s = supp.size
        nu, logc = _count_table(s, k)  # (T, s), log multinomial coefficients
        self.wts = np.exp(logc + nu @ np.log(D[supp]))  # k!/Πν_y! Π D_y^ν_y
        self.nu = nu
        self.nuT = np.ascontiguousarray(nu.T)
        self._nunu = None  # (T, s²) rows ν νᵀ, built on the first Hessian
        self.n_terms = nu.shape[0]
        self.px, self.pp, self.pw = px, pp, np.asarray(pw, dtype=float)
        P = px.size
        # class level: pairs (x, x) for every x, full support -> rows of G minus their diagonal
        self.diagonal = bool(
            n == P and s == n and np.array_equal(px, np.arange(n)) and np.array_equal(pp, px)
        )
        if not self.diagonal:
            anchors, inv = np.unique(px, return_inverse=True)
            self.anchors = anchors
            agg = np.zeros((anchors.size, P))
            agg[inv, np.arange(P)] = 1.0  # Σ_p over the pairs of each anchor
            self.agg = agg
            self.rows = np.ix_(anchors, supp)
        self.pw_col = self.pw[:, None]

    def scores(self, Gs: np.ndarray) -> np.ndarray:
        """``log a_{p,y} = Gs[x_p, y] − Gs[x_p, x⁺_p]`` for ``y`` in the support, ``(P, s)``."""
        if self.diagonal:
            return Gs - np.diag(Gs)[:, None]
        Z = Gs[self.px][:, self.supp]
        Z -= Gs[self.px, self.pp][:, None]
        return Z

    def evaluate(self, Gs: np.ndarray, need_grad: bool):
        """``(L_k, ∂L_k/∂Gs)`` at ``Gs = G / τ``; the derivative is entry-wise (not symmetrised)."""
        Z = self.scores(Gs)
        zmax = float(Z.max())
        if zmax > MAX_LOG_SCORE:
            raise scores_too_large(zmax)
        a = np.exp(Z, out=Z)
        S = a @ self.nuT  # (P, T): Σ_y ν_y a_y
        value = float(self.pw @ (np.log1p(S) @ self.wts))
        if not need_grad:
            return value, None
        S += 1.0
        np.divide(self.wts, S, out=S)  # w_ν / (1 + Σ ν a)
        ga = S @ self.nu
        ga *= a
        ga *= self.pw_col  # P(x,x⁺) ∂I/∂ log a_y
        if self.diagonal:
            Dg = ga
            Dg.flat[:: self.n + 1] -= ga.sum(axis=1)
            return value, Dg
        Dg = np.zeros((self.n, self.n))
        Dg[self.rows] = self.agg @ ga
        Dg[self.px, self.pp] -= ga.sum(axis=1)  # pairs (x, x⁺) are distinct entries
        return value, Dg

    def hessian_rows(self, Gs: np.ndarray):
        """Value, entry-wise gradient and the entry-wise Hessian of ``L_k`` in ``Gs = G / τ``.

        ``L`` depends on the entries of row ``x`` of ``Gs`` only through the pairs anchored at
        ``x``, so its Hessian in the ``n²`` entries is block diagonal: returns
        ``(value, Dg, anchors, blocks)`` with ``blocks[i] = ∂²L / ∂Gs[x_i, :] ∂Gs[x_i, :]``
        (``(A, n, n)``).  Per pair, with ``q_ν = 1 + Σ_y ν_y a_y`` and ``B_{ν y} = ν_y a_y / q_ν``,
        ``∂²I_k/∂ log a ∂ log a = Diag(∂I_k/∂ log a) − Σ_ν w_ν B_ν B_νᵀ``, and
        ``log a_y = Gs[x, y] − Gs[x, x⁺]`` is linear in the row.
        """
        n = self.n
        supp = self.supp
        Z = self.scores(Gs)
        zmax = float(Z.max())
        if zmax > MAX_LOG_SCORE:
            raise scores_too_large(zmax)
        a = np.exp(Z, out=Z)
        S = a @ self.nuT
        value = float(self.pw @ (np.log1p(S) @ self.wts))
        S += 1.0
        R = self.wts / S  # w_ν / q_ν  (same operations as evaluate: bitwise the same gradient)
        ga = R @ self.nu
        ga *= a  # (P, s) ∂I/∂ log a
        s = supp.size
        if self._nunu is None:
            self._nunu = np.einsum("ty,tz->tyz", self.nu, self.nu).reshape(-1, s * s)
        R /= S  # w_ν / q_ν²
        P = a.shape[0]
        Hp = (R @ self._nunu).reshape(P, s, s)  # Σ_ν w_ν ν_y ν_z / q_ν²
        Hp *= a[:, :, None]
        Hp *= -a[:, None, :]
        Hp.reshape(P, s * s)[:, :: s + 1] += ga  # diagonals
        if s == n:
            K = Hp
        else:
            K = np.zeros((P, n, n))
            K[:, supp[:, None], supp[None, :]] = Hp
        r = K.sum(axis=2)  # (P, n) row sums
        tot = r.sum(axis=1)
        pr = np.arange(P)
        K[pr, :, self.pp] -= r
        K[pr, self.pp, :] -= r
        K[pr, self.pp, self.pp] += tot
        K *= self.pw[:, None, None]
        ga *= self.pw_col
        if self.diagonal:
            Dg = ga
            Dg.flat[:: n + 1] -= ga.sum(axis=1)
            return value, Dg, np.arange(n), K
        Dg = np.zeros((n, n))
        Dg[self.rows] = self.agg @ ga
        Dg[self.px, self.pp] -= ga.sum(axis=1)
        blocks = np.einsum("ap,pyz->ayz", self.agg, K)
        return value, Dg, self.anchors, blocks
