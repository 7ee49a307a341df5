"""Newton's method on the optimality conditions in Gram space (small problems, SPEC §4).

For ``min L(G)`` over ``{G ⪰ 0, diag(G) ≤ 1}`` the KKT conditions read
``Z = ∇L(G) + Diag(λ) ⪰ 0``, ``Z G = 0``, ``λ >= 0``, ``diag(G) = 1`` where ``λ > 0``.
At class-level optima the PSD constraint is typically active with corank one (the points
span a simplex-like configuration, ``G z = 0``) and strict complementarity holds: ``Z = z zᵀ``
has rank one and every ``λ_x > 0`` (measured for uniform and non-uniform ρ; an assumption
here, checked afterwards by the certificate).  With ``diag(G) = 1`` and ``λ_x = z_x² − ∇L(G)_xx``
eliminated, what remains is the square smooth system in ``x`` (the ``N = n(n−1)/2``
entries of ``G`` above the diagonal) and ``z ∈ R^n``

    ``r(x, z) = [∇L(G)_ij − z_i z_j (i < j);  G z] = 0``,

whose Jacobian ``[[H/2, −Cᵀ], [C, G]]`` (``H`` the Hessian of ``L`` in ``x``, from the
multiset engine; ``C = ∂(G z)/∂x``) is non-singular at such a (non-degenerate) solution,
so Newton's method converges quadratically from a nearby start.  :func:`kkt_newton` certifies
nothing: the fast path :func:`_gram_newton` (used by :func:`latentclass.optimize.optimal_representation`
for small problems) projects its result onto the feasible set and judges it with the
duality-gap bound of :func:`latentclass.certificate.certify`; the caller falls back to the
general solver whenever the structure assumed above is wrong (optimum of larger corank, a
point strictly inside the ball, no convergence).
"""

from __future__ import annotations

import inspect
import math
from functools import lru_cache, partial

import numpy as np
from scipy.linalg import lapack

from ..certificate import _certificate
from ..objective import second_order_cost, value_and_grad_fn
from .run import SolverRun
from .starts import _centred_start

__all__ = ["kkt_newton", "offdiag_hessian"]

#: Newton's methods (here and on the lifted sphere, :mod:`latentclass._solvers.lifted_sphere`) are used up
#: to this many entries of the objective's per-pair Hessian blocks (pairs × n²).
_NEWTON_MAX_HESS = 4_000_000
#: The Gram-space fast path up to this many unknowns ``n(n+1)/2`` (n <= 25; beyond, its
#: dense O(n⁶) solves cost more than the general solver).
_GRAM_NEWTON_MAX_VARS = 325


def _hessian_fits(objective, n: int) -> bool:
    """Whether ``objective`` has the exact entry-wise Hessian (multiset engine) and its per-pair
    blocks for ``n`` points have at most ``_NEWTON_MAX_HESS`` entries."""
    cost = second_order_cost(objective)
    return cost is not None and cost <= _NEWTON_MAX_HESS


@lru_cache(maxsize=64)
def _layout(n: int):
    """Index arrays for ``n`` points: the pairs ``i < j`` (``iu, ju``), for each row ``x`` the
    other columns ``cols[x]``, the flat ``(p, q)`` positions in the ``N × N`` Hessian of each
    ``∂²L/∂G[x, a] ∂G[x, b]`` (``a, b ≠ x``) and their flat positions in the ``(n, n, n)``
    blocks."""
    iu, ju = np.triu_indices(n, 1)
    N = iu.size
    pid = np.zeros((n, n), dtype=np.intp)
    pid[iu, ju] = pid[ju, iu] = np.arange(N)
    r = np.arange(n - 1)
    cols = r[None, :] + (r[None, :] >= np.arange(n)[:, None])  # (n, n−1): columns a ≠ x
    pos = pid[np.arange(n)[:, None], cols]
    flat = pos[:, :, None] * N + pos[:, None, :]  # (n, n−1, n−1)
    src = (np.arange(n)[:, None, None] * n + cols[:, :, None]) * n + cols[:, None, :]
    for a in (iu, ju, cols, flat, src):
        a.flags.writeable = False
    return iu, ju, cols, flat, src


@lru_cache(maxsize=64)
def _coupling(n: int):
    """Flat positions in the ``(N + n)²`` Jacobian of ``C = ∂(G z)/∂x`` and ``−Cᵀ``, with the
    entry of ``z`` and the sign each takes: ``C[i, p] = z_j``, ``C[j, p] = z_i``."""
    iu, ju = _layout(n)[:2]
    N = iu.size
    K = N + n
    P = np.arange(N)
    pos = np.concatenate([(N + iu) * K + P, (N + ju) * K + P, P * K + N + iu, P * K + N + ju])
    src = np.concatenate([ju, iu, ju, iu])
    sign = np.repeat([1.0, -1.0], 2 * N)
    for a in (pos, src, sign):
        a.flags.writeable = False
    return pos, src, sign


def offdiag_hessian(anchors: np.ndarray, blocks: np.ndarray, n: int) -> np.ndarray:
    """Hessian of ``L`` in the entries ``x_p = G[i, j] = G[j, i]`` (``i < j``, row-major order
    of ``np.triu_indices(n, 1)``) from the row blocks ``blocks[r] = ∂²L/∂G[x_r, :] ∂G[x_r, :]``
    (entry-wise, as returned by the protocol's ``second_order``).

    ``L = Σ_x ℓ_x(G[x, :])`` and ``x_p`` enters row ``i`` at column ``j`` and row ``j`` at
    column ``i``, so ``∂²L/∂x_p ∂x_q = Σ_x blocks[x][a_p, a_q]`` over the rows ``x`` holding
    both entries (``a_p`` the column of ``x_p`` in row ``x``).
    """
    _, _, cols, flat, src = _layout(n)
    N = n * (n - 1) // 2
    if anchors.size == n:
        sub = blocks.ravel()[src]
    else:
        c = cols[anchors]
        sub = blocks[np.arange(anchors.size)[:, None, None], c[:, :, None], c[:, None, :]]
        flat = flat[anchors]
    return np.bincount(flat.ravel(), weights=sub.ravel(), minlength=N * N).reshape(N, N)


def kkt_newton(
    second_order,
    G0: np.ndarray,
    max_steps: int = 8,
    max_halvings: int = 3,
    final_step_at: float = 1e-7,
    model=None,
    model_steps: int = 2,
    exact_below: float = 1e-4,
):
    """Newton's method on ``r(x, z) = 0`` (module docstring) from the Gram matrix ``G0``.

    Parameters
    ----------
    second_order : callable
        ``G ↦ (L, ∇L, anchors, blocks)`` (the protocol's ``second_order``; ``L`` is not
        used and may be ``None``).
    G0 : ndarray (n, n)
        Start with unit diagonal and (close to) corank one; ``z`` starts as ``s u`` with ``u``
        the eigenvector of its smallest eigenvalue and ``s² = ⟨offdiag ∇L, offdiag u uᵀ⟩ /
        ‖offdiag u uᵀ‖²`` (least squares).
    max_steps : int
        Newton steps at most.
    max_halvings : int
        A step is halved (at most this often) until ``‖r‖`` decreases by the factor
        ``1 − 10⁻⁴ α`` (``α`` the step length).
    final_step_at : float
        The last (full, unevaluated) step is taken from ``‖r‖ <= final_step_at (1 + ‖∇L‖_F)``.
    model : callable, optional
        Same signature and return value as ``second_order``, with the objective's own
        gradient but the Hessian blocks of a cheaper model: used instead of ``second_order``
        at ``G0``, at the next ``model_steps − 1`` points reached by full steps and at every
        point reached by a damped step (far from the solution), each only while
        ``‖r‖ > exact_below (1 + ‖∇L‖_F)`` there (inexact Newton steps far from the solution;
        a point with a smaller residual is evaluated again exactly, so the quadratic phase and
        the final step always use ``second_order``; ``exact_below`` is raised to at least
        ``final_step_at``).

    Returns
    -------
    (G, steps) or None
        ``G`` (unit diagonal, symmetric, not necessarily PSD to rounding) once
        ``‖r‖ <= 1e-12 (1 + ‖∇L‖_F)``, or after a full step taken from
        ``‖r‖ <= final_step_at (1 + ‖∇L‖_F)`` (quadratic convergence puts it at the rounding floor; not
        evaluated here — the caller's certificate judges it); ``None`` when the iteration
        fails (no decrease, singular Jacobian, ``s² <= 0``, too many steps, ``G0`` of
        corank ``> 1``).
    """
    n = G0.shape[0]
    if n < 2:
        return None
    iu, ju = _layout(n)[:2]
    N = iu.size
    cpos, csrc, csign = _coupling(n)
    w, U = np.linalg.eigh(G0)
    if not w[1] > 1e-6:
        return None  # corank > 1 at the start (e.g. fewer classes than points)
    u = U[:, 0]
    exact_below = max(exact_below, final_step_at)
    budget = model_steps if model is not None else 0  # model evaluations left

    def residual(G, M, z):
        r = np.empty(N + n)
        np.subtract(M[iu, ju], z[iu] * z[ju], out=r[:N])
        np.dot(G, z, out=r[N:])
        return r, math.sqrt(float(r @ r))

    def fit(so, G, z):
        """``(so, r, ‖r‖, z)`` at ``G`` (``z = None``: fitted to the gradient, as at ``G0``)."""
        if so is None:
            return None
        if z is None:
            s2 = float(so[1][iu, ju] @ uu) / float(uu @ uu)
            if not s2 > 0:
                return None
            z = math.sqrt(s2) * u
        return (so, *residual(G, so[1], z), z)

    def evaluate(G, z, damped=False):
        """:func:`fit` of the model's derivatives while allowed (after a damped step — far
        from the solution — without using up the budget) and the residual is large, else of
        ``second_order``'s."""
        nonlocal budget
        if model is not None and (budget > 0 or damped):
            budget -= 0 if damped else 1
            out = fit(model(G), G, z)
            if out is not None:
                M = out[0][1]
                if out[2] > exact_below * (1.0 + math.sqrt(float(np.einsum("ij,ij->", M, M)))):
                    return out
        return fit(second_order(G), G, z)

    uu = u[iu] * u[ju]
    first = evaluate(G0, None)
    if first is None:
        return None
    so, r, rn, z = first
    x, G = G0[iu, ju], G0
    J = np.zeros((N + n, N + n))
    for step in range(max_steps + 1):
        M, anchors, blocks = so[1:]
        scale = 1.0 + math.sqrt(float(np.einsum("ij,ij->", M, M)))
        if rn <= 1e-12 * scale:
            return G, step
        if step == max_steps:
            return None
        np.multiply(offdiag_hessian(anchors, blocks, n), 0.5, out=J[:N, :N])
        J.flat[cpos] = csign * z[csrc]  # C = ∂(G z)/∂x and −Cᵀ = ∂(−z_i z_j)/∂z
        J[N:, N:] = G
        delta, info = lapack.dgesv(J, -r)[2:]  # LU with partial pivoting
        if info != 0 or not math.isfinite(float(delta @ delta)):
            return None
        alpha = 1.0
        for _ in range(max_halvings + 1):
            x_t, z_t = x + alpha * delta[:N], z + alpha * delta[N:]
            G_t = np.eye(n)
            G_t[iu, ju] = x_t
            G_t[ju, iu] = x_t
            if rn <= final_step_at * scale:
                return G_t, step + 1  # quadratic convergence: at the rounding floor now
            try:
                trial = evaluate(G_t, z_t, alpha < 1.0)
            except ValueError:  # scores beyond double range: far outside the feasible set
                trial = None
            if trial is not None:
                so, r_t, rn_t = trial[:3]
                if rn_t <= (1.0 - 1e-4 * alpha) * rn:
                    break
            alpha *= 0.5
        else:
            return None
        G, x, z, r, rn = G_t, x_t, z_t, r_t, rn_t
    return None


def _derivatives_only(objective):
    """``objective.second_order``, with ``need_value=False`` where it takes that keyword
    (:func:`kkt_newton` reads the gradient and the Hessian blocks, never the value)."""
    so = objective.second_order
    code = getattr(getattr(so, "__func__", so), "__code__", None)
    if code is not None:  # a Python function: its argument names (inspect.signature is slower)
        names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        takes = "need_value" in names
    else:
        try:
            takes = "need_value" in inspect.signature(so).parameters
        except (TypeError, ValueError):  # no signature to read: call it as the protocol says
            takes = False
    return partial(so, need_value=False) if takes else so


def _gram_newton(model, objective, target, start=None, final_step_at=1e-7, hessian_model=None):
    """Fast path for small problems with an exact Hessian: :func:`kkt_newton` from
    :func:`latentclass._solvers.starts._centred_start` (or from ``start``, a unit-diagonal PSD
    Gram matrix: a warm start), then the feasible factor ``F`` (eigenvalues of
    ``G`` clipped at 0, rows normalised), ``gram = F Fᵀ`` and its certificate.  Returns
    ``(F, gram, loss, certificate, steps)`` if the gap bound is ``<= target``, else ``None``
    (the general solver takes over; also for objectives without a Hessian or too large).
    ``hessian_model``: :func:`kkt_newton`'s ``model`` (cheaper derivatives for the first
    steps); when the run with it fails, the plain run from the same start is tried."""
    n = model.n_points
    if not _hessian_fits(objective, n) or n * (n + 1) // 2 > _GRAM_NEWTON_MAX_VARS:
        return None
    G0 = _centred_start(model) if start is None else start
    if G0 is None:
        return None
    second_order = _derivatives_only(objective)
    out = kkt_newton(second_order, G0, final_step_at=final_step_at, model=hessian_model)
    if out is None and hessian_model is not None:
        out = kkt_newton(second_order, G0, final_step_at=final_step_at)
    if out is None:
        return None
    G, steps = out
    run = _projected_run(objective, G, steps, target)
    if run is None and final_step_at > 1e-7:
        # the early final step was not enough: go on from its point with the default rule
        out = kkt_newton(second_order, G)
        if out is None:
            return None
        run = _projected_run(objective, out[0], steps + out[1], target)
    return run


def _projected_run(objective, G, steps, target):
    """``G`` projected onto the feasible set (eigenvalues clipped at 0, rows normalised),
    ``gram = F Fᵀ`` and its certificate, as a run if its gap bound is ``<= target``."""
    w, U = np.linalg.eigh(G)
    F = U[:, ::-1] * np.sqrt(np.maximum(w[::-1], 0.0))
    F /= np.sqrt(np.einsum("ij,ij->i", F, F))[:, None]
    G = F @ F.T
    G = 0.5 * (G + G.T)
    f, M = value_and_grad_fn(objective)(G)
    cert = _certificate(G, M)
    if not cert.gap <= target:
        return None
    return SolverRun(
        F, G, float(f), cert, steps, "gram-newton", f"Gram-space Newton: {steps} steps"
    )
