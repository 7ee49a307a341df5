"""Independent cross-check: the optimisation problem of SPEC §4 as a conic program.

The program

    minimise  Σ_{x,x⁺} P(x,x⁺) Σ_ν Mult(ν; k, D) log(1 + Σ_y ν_y exp((G[x,y] − G[x,x⁺]) / τ))
    subject to  G ⪰ 0,  diag(G) ≤ 1

is written for CVXPY (PSD cone + exponential cones through ``log_sum_exp``) with the
expectation over the ``k`` negatives expanded as the multiset sum of SPEC §3, and solved
with Clarabel (interior point).  It shares no code with :mod:`latentclass.population` or
:mod:`latentclass.optimize`; its size grows like ``C(k + s − 1, s − 1)`` terms per pair
(``s`` = number of points with ``D(y) > 0``), so it is for small ``k`` only.

CVXPY and Clarabel are test extras: ``pip install 'latentclass[test]'``.  They are
imported inside the functions, so ``import latentclass`` works without them.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from itertools import combinations_with_replacement
from typing import Any

import numpy as np
from scipy.special import gammaln

from ._validation import check_integer, check_k, check_tau, readonly

__all__ = ["MAX_CONIC_TERMS", "ConicSolution", "conic_optimum", "multiset_terms"]

#: Refuse programs with more log-sum-exp terms than this (pairs × multisets).
MAX_CONIC_TERMS = 200_000


def _import_cvxpy():
    try:
        import cvxpy as cp
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the conic cross-check needs cvxpy and clarabel; install them with "
            "pip install 'latentclass[test]'"
        ) from exc
    if "CLARABEL" not in cp.installed_solvers():  # pragma: no cover
        raise ImportError(
            "the conic cross-check needs the Clarabel solver; install it with "
            "pip install 'latentclass[test]'"
        )
    return cp


def multiset_terms(k: int, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All multisets of ``k`` draws from ``len(weights)`` outcomes with their multinomial law.

    Returns ``(counts, log_prob)``: ``counts`` is ``(T, s)`` (``ν``, rows summing to ``k``,
    ``T = C(k + s − 1, s − 1)``) and ``log_prob[t] = log k! − Σ log ν_y! + Σ ν_y log w_y``.
    """
    k = check_integer(k, "k", minimum=1)
    w = np.asarray(weights, dtype=float)
    s = w.size
    idx = np.array(list(combinations_with_replacement(range(s), k)), dtype=np.intp)
    t = idx.shape[0]
    counts = np.zeros((t, s), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(t), k), idx.ravel()), 1)
    logp = gammaln(k + 1.0) - gammaln(counts + 1.0).sum(axis=1) + counts @ np.log(w)
    return counts, logp


def _n_multisets(k: int, s: int) -> int:
    return math.comb(k + s - 1, s - 1)


@dataclass(frozen=True, eq=False, repr=False)
class ConicSolution:
    """Result of :func:`conic_optimum`.

    Attributes
    ----------
    gram : ndarray (n, n)
        Optimal Gram matrix returned by Clarabel (symmetrised).
    loss : float
        Optimal value reported by the solver (``L_k`` at ``gram``; for ``k = inf`` the limit
        objective ``L_∞``).
    status : str
        CVXPY status string of the last solve, for information only: releases of CVXPY and
        Clarabel differ in when they call a solve ``"optimal_inaccurate"``; judge the
        solution by :attr:`feasibility_residual` and by its values, never by this string.
    solve_time : float
        Wall-clock seconds for building and solving the program.
    n_terms : int
        Number of log-sum-exp terms (pairs × multisets).
    solver_time : float
        Seconds spent inside Clarabel itself (CVXPY's ``solver_stats.solve_time``).
    feasibility_residual : float
        ``max(0, −λ_min(gram), max diag(gram) − 1)``: how far the returned matrix is from the
        feasible set (Clarabel's interior-point iterates are feasible only to its tolerance).
    attempts : int
        Number of solves: a solve that Clarabel reports as inaccurate is repeated with
        tighter tolerances and more iterations (up to three times), never silently accepted
        as the first answer.
    """

    gram: np.ndarray
    loss: float
    status: str
    solve_time: float
    n_terms: int
    solver_time: float = float("nan")
    feasibility_residual: float = float("nan")
    attempts: int = 1

    def __repr__(self) -> str:
        return (
            f"ConicSolution(loss={self.loss:.12g}, status={self.status!r}, gram{self.gram.shape}, "
            f"n_terms={self.n_terms}, feasibility_residual={self.feasibility_residual:.3g}, "
            f"attempts={self.attempts}, solve_time={self.solve_time:.3g}s)"
        )

    def _repr_html_(self) -> str:
        """A table for Jupyter: loss, solver status, residual, times (the Gram by its shape)."""
        from ._html import fields_html

        return fields_html(self)


def conic_optimum(
    model: Any,
    k: Any,
    tau: float = 1.0,
    *,
    tol: float = 1e-10,
    max_terms: int = MAX_CONIC_TERMS,
    verbose: bool = False,
) -> ConicSolution:
    """Solve ``min L_k(G)`` s.t. ``G ⪰ 0``, ``diag(G) ≤ 1`` with CVXPY + Clarabel (SPEC §4).

    Each pair ``(x, x⁺)`` with ``P(x, x⁺) > 0`` and each multiset ``ν`` of negatives
    contributes ``P(x,x⁺) Mult(ν; k, D) · log_sum_exp([0, log ν_y + (G[x,y] − G[x,x⁺])/τ
    for ν_y > 0])`` — exactly ``log(1 + Σ_y ν_y a_y)``.  ``k = math.inf`` gives the limit
    objective ``Σ P(x,x⁺) log Σ_y D(y) a_y`` (SPEC §3), one term per pair.

    Parameters
    ----------
    model : LatentClassModel
    k : int or math.inf
    tau : float
    tol : float
        Clarabel's gap and feasibility tolerances (``tol_gap_abs``, ``tol_gap_rel``,
        ``tol_feas``, ``tol_ktratio``).
    max_terms : int
        Refuse (``ValueError``) when the program would have more log-sum-exp terms.
    verbose : bool, default False
        Passed to ``cvxpy.Problem.solve`` (the solver's log on standard output).

    Returns
    -------
    ConicSolution
    """
    k = check_k(k, allow_inf=True)
    tau = check_tau(tau)
    max_terms = check_integer(max_terms, "max_terms", minimum=1)
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a finite number > 0, got {tol!r}")
    n = model.n_points
    D = np.asarray(model.marginal, dtype=float)
    P = np.asarray(model.pair_probs, dtype=float)
    support = np.flatnonzero(D > 0)
    s = support.size
    px, pxp = np.nonzero(P > 0)
    n_pairs = px.size
    n_ms = 1 if k == math.inf else _n_multisets(int(k), s)
    n_terms = n_pairs * n_ms
    if n_terms > max_terms:
        raise ValueError(
            f"k={k} is too large for the conic cross-check: {n_pairs} pairs × {n_ms} multisets of "
            f"negatives = {n_terms} log-sum-exp terms > max_terms={max_terms}"
        )
    cp = _import_cvxpy()
    start = time.perf_counter()
    G = cp.Variable((n, n), PSD=True)
    g = cp.vec(G, order="F")  # entry (i, j) at i + n j

    if k == math.inf:
        # one row per pair: [log D(y) + (G[x,y] - G[x,x+])/τ for y in support]
        rows_x = np.repeat(px, s)
        rows_xp = np.repeat(pxp, s)
        cols_y = np.tile(support, n_pairs)
        const = np.tile(np.log(D[support]), n_pairs)
        width = s
        pair_w = P[px, pxp]
        sel = _selection(rows_x, cols_y, rows_xp, n)
        Z = cp.reshape(sel @ g / tau + const, (n_pairs, width), order="C")
        objective = pair_w @ cp.log_sum_exp(Z, axis=1)
    else:
        counts, logp = multiset_terms(int(k), D[support])
        pieces = []
        for r in range(
            1, min(int(k), s) + 1
        ):  # group multisets by the number of distinct negatives
            mask = np.count_nonzero(counts, axis=1) == r
            if not np.any(mask):
                continue
            c_r = counts[mask]
            nz = np.nonzero(c_r)  # row-major: r entries per row, in order
            ys = support[nz[1]].reshape(-1, r)
            lognu = np.log(c_r[nz].reshape(-1, r).astype(float))
            t_r = ys.shape[0]
            # rows: every pair × every multiset of this group
            rows_x = np.repeat(np.repeat(px, t_r), r)
            rows_xp = np.repeat(np.repeat(pxp, t_r), r)
            cols_y = np.tile(ys.ravel(), n_pairs)
            const = np.tile(lognu.ravel(), n_pairs)
            weight = (P[px, pxp][:, None] * np.exp(logp[mask])[None, :]).ravel()
            sel = _selection(rows_x, cols_y, rows_xp, n)
            Z = cp.reshape(sel @ g / tau + const, (n_pairs * t_r, r), order="C")
            Z = cp.hstack([np.zeros((n_pairs * t_r, 1)), Z])
            pieces.append(weight @ cp.log_sum_exp(Z, axis=1))
        objective = cp.sum(cp.hstack(pieces)) if len(pieces) > 1 else pieces[0]

    prob = cp.Problem(cp.Minimize(objective), [cp.diag(G) <= 1])
    solver_time = 0.0
    attempts = 0
    # an inaccurate solve is repeated with tighter tolerances and more iterations
    for scale, max_iter in ((1.0, 500), (1e-2, 2000), (1e-4, 5000)):
        attempts += 1
        t = max(tol * scale, 1e-16)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            prob.solve(
                solver=cp.CLARABEL,
                verbose=verbose,
                tol_gap_abs=t,
                tol_gap_rel=t,
                tol_feas=t,
                tol_ktratio=t * 1e-2,
                max_iter=max_iter,
            )
        stats = getattr(prob, "solver_stats", None)
        solver_time += float(getattr(stats, "solve_time", None) or 0.0)
        if prob.status == cp.OPTIMAL or G.value is None:
            break
    elapsed = time.perf_counter() - start
    if G.value is None or prob.value is None:
        raise RuntimeError(f"Clarabel returned no solution (status {prob.status!r})")
    gram = np.asarray(G.value, dtype=float)
    gram = 0.5 * (gram + gram.T)
    residual = max(0.0, -float(np.linalg.eigvalsh(gram)[0]), float(np.diag(gram).max()) - 1.0)
    return ConicSolution(
        readonly(gram),
        float(prob.value),
        str(prob.status),
        elapsed,
        n_terms,
        solver_time,
        residual,
        attempts,
    )


def _selection(rows_x: np.ndarray, cols_y: np.ndarray, rows_xp: np.ndarray, n: int):
    """Sparse matrix ``S`` with ``(S vec(G))_i = G[x_i, y_i] − G[x_i, x⁺_i]`` (column-major vec)."""
    from scipy import sparse

    t = rows_x.size
    r = np.arange(t)
    data = np.concatenate([np.ones(t), -np.ones(t)])
    rows = np.concatenate([r, r])
    cols = np.concatenate([rows_x + n * cols_y, rows_x + n * rows_xp])
    return sparse.csr_matrix((data, (rows, cols)), shape=(t, n * n))
