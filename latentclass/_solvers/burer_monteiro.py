"""The general solver: Burer–Monteiro factorisation on the lifted sphere (SPEC §4).

``G = V Vᵀ`` with ``V`` the first ``d`` columns of the row-normalised ``W ∈ R^{n×(d+1)}``
(:mod:`latentclass._solvers.lifted_sphere`).  L-BFGS (``scipy.optimize.minimize``) runs on ``W`` with the
gradient propagated through the normalisation, and

- row norms of ``W`` are set to ``sqrt(D(x) / max D)`` (a diagonal preconditioner: the
  curvature of row ``x`` scales with its probability mass ``D(x)``);
- for ``k >= 16`` the limit objective ``L_∞`` (no quadrature) is solved first and its
  optimum, ``O(1/k)`` away, is the start (continuation in ``k``);
- when the objective has an exact Hessian (the dense multiset engine that
  ``NCEObjective(method="auto")`` picks for small ``n`` and ``k``), the first L-BFGS round is
  cut after a few iterations and regularised Newton steps with the exact Hessian on the
  lifted sphere (:func:`latentclass._solvers.lifted_sphere._newton_finish`) take over once the certificate's
  gap bound is below ``1e-4``: they converge quadratically, so two or three steps reach the
  target;
- otherwise (or if Newton stalls) a gradient-only L-BFGS "polish" (:func:`_polish`, secant
  line search on the directional derivative) takes over when the function-value line search
  stalls at ``δ ≈ sqrt(ε)``; rounds stop when the certificate's gap bound is
  ``<= polish_target · certify_tol`` or stagnates;
- with ``dim < n`` (rank-constrained, non-convex) several starts are run and the lowest loss
  is kept (:func:`_solve_factored`).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from ..certificate import _EPS, Certificate, _certificate
from ..objective import check_objective, value_fn
from .gram_newton import _hessian_fits
from .lifted_sphere import _gap_inputs, _gram_of, _lifted_fg, _newton_finish
from .run import SolverRun
from .starts import _random_start

#: From this k on, the solver first solves the limit objective (continuation in k).
_WARM_K = 16
#: L-BFGS iterations before the Newton phase (objectives with an exact Hessian).
_NEWTON_AFTER = 10
#: ... and Newton steps start once the certificate's gap bound is at most this.
_NEWTON_GAP = 1e-4
#: Memory budget of the quasi-Newton history (L-BFGS-B's correction pairs and the polish's),
#: in bytes: each pair stores two vectors of the ``n (d + 1)`` parameters.  The number of pairs
#: is ``min(30, budget / (16 n (d + 1)))``; below 3 pairs the solve is refused before it starts.
HISTORY_BYTES = 2 << 30
_MAX_PAIRS = 30
_MIN_PAIRS = 3


def history_pairs(n: int, d: int) -> int:
    """Correction pairs that fit :data:`HISTORY_BYTES` for ``n (d + 1)`` parameters
    (``ValueError`` if fewer than 3 fit: the solve would not fit in memory)."""
    N = n * (d + 1)
    pairs = min(_MAX_PAIRS, int(HISTORY_BYTES // (16 * N)))
    if pairs < _MIN_PAIRS:
        raise ValueError(
            f"the solver's quasi-Newton history for n*(dim+1) = {N} parameters needs "
            f"{_MIN_PAIRS * 16 * N / 2**30:.1f} GiB for {_MIN_PAIRS} correction pairs, more than "
            f"its budget of {HISTORY_BYTES / 2**30:.0f} GiB; pass a smaller dim (rank bound) or "
            "solve a class-level model (disjoint supports are solved at class level)"
        )
    return pairs


#: The Newton phase is used up to this many parameters (dense solve, O(N³)) and Hessian
#: blocks of at most ``latentclass._solvers.gram_newton._NEWTON_MAX_HESS`` entries.
_NEWTON_MAX_VARS = 420


def _polish(fg, x, max_iter, check, memory=20):
    """L-BFGS with a *gradient-only* line search, for the last digits.

    Near the optimum the loss changes by ``O(δ²)`` while its rounding error is
    ``ε |L|`` (``|L| ≈ log k``), so a line search on function values (L-BFGS-B) stalls at
    ``δ ≈ sqrt(ε)``.  Here each step solves ``φ'(α) = ∇f(x + α p) · p = 0`` by secant steps
    (the directional derivative is accurate to ``ε ‖∇f‖ ‖p‖``), which keeps converging as
    long as the gradient does.  ``check(x)`` is called every few iterations and stops the
    polish when it returns True.  Returns ``(x, iterations)``.
    """
    _, g = fg(x)
    S: list[np.ndarray] = []
    Y: list[np.ndarray] = []
    it = 0
    while it < max_iter:
        it += 1
        # two-loop recursion
        q = g.copy()
        alphas = []
        for s_, y_ in zip(reversed(S), reversed(Y)):
            a = (s_ @ q) / (y_ @ s_)
            alphas.append(a)
            q -= a * y_
        if S:
            q *= (S[-1] @ Y[-1]) / (Y[-1] @ Y[-1])
        for (s_, y_), a in zip(zip(S, Y), reversed(alphas)):
            b = (y_ @ q) / (y_ @ s_)
            q += (a - b) * s_
        p = -q
        d0 = float(g @ p)
        if not d0 < 0:
            S.clear()
            Y.clear()
            p = -g
            d0 = float(g @ p)
            if not d0 < 0:
                break
        if not S:
            p *= 1e-3 / max(1e-300, float(np.max(np.abs(p))))
            d0 = float(g @ p)
        # secant search for a root of φ'(α), bracketed when possible
        a_lo, d_lo = 0.0, d0
        a_hi: float | None = None
        d_hi = 0.0
        alpha, g_new = 1.0, None
        for _ in range(12):
            _, g_try = fg(x + alpha * p)
            d = float(g_try @ p)
            g_new, a_new = g_try, alpha
            if abs(d) <= 0.3 * abs(d0):
                break
            if d < 0:
                a_lo, d_lo = alpha, d
            else:
                a_hi, d_hi = alpha, d
            if a_hi is None:  # still descending: extrapolate along the secant, at most ×4
                alpha = (
                    min(4.0 * alpha, a_lo - d_lo * a_lo / (d_lo - d0)) if d_lo > d0 else 4.0 * alpha
                )
            else:
                alpha = a_lo - d_lo * (a_hi - a_lo) / (d_hi - d_lo)
                if not (a_lo < alpha < a_hi):
                    alpha = 0.5 * (a_lo + a_hi)
        s_vec = a_new * p
        y_vec = g_new - g
        x = x + s_vec
        g = g_new
        if float(s_vec @ y_vec) > 1e-300:
            S.append(s_vec)
            Y.append(y_vec)
            if len(S) > memory:
                S.pop(0)
                Y.pop(0)
        if it % 5 == 0 and check(x):
            break
    return x, it


def _run_lbfgs(objective, W0, d, tol, max_iter, target, max_rounds, row_scale):
    """Rounds of L-BFGS on the lifted sphere, each followed by a Newton or gradient-only polish.

    ``target``: stop as soon as the certificate's gap bound is ``<= target`` (``None``:
    no certificate, i.e. the rank-constrained problem; then one L-BFGS round per call of
    ``max_rounds`` without polish).  ``row_scale`` (``(n,)``, > 0) sets the norm of each
    row of ``W``: the map ``W → U`` is scale-invariant per row, but the gradient in row
    ``x`` scales like ``1/‖W_x‖`` and the curvature like ``1/‖W_x‖²``; rows with little
    probability mass (small curvature) get small norms — a diagonal preconditioner.

    When the objective has an exact Hessian (multiset engine, small ``n``) the first round
    is cut at ``_NEWTON_AFTER`` iterations, and after any round whose gap bound is at most
    ``_NEWTON_GAP`` Newton steps (:func:`_newton_finish`) take over; they converge
    quadratically where L-BFGS, whose line search compares function values, stalls near
    ``sqrt(ε)``.  Otherwise (or if Newton stalls) the gradient-only polish is used.
    Returns ``(W, n_iter, status, certificate or None)``.
    """
    n = W0.shape[0]
    pairs = history_pairs(n, d)
    fg = _lifted_fg(objective, n, d)

    def rescale(W):
        return W * (row_scale / np.sqrt(np.einsum("ij,ij->i", W, W)))[:, None]

    W = rescale(W0)
    n_iter = 0
    status = ""
    best: tuple[float, np.ndarray, Certificate] | None = None  # (gap, W, cert)
    newton = target is not None and n * (d + 1) <= _NEWTON_MAX_VARS and _hessian_fits(objective, n)
    for rnd in range(max_rounds):
        budget = max_iter - n_iter
        if budget <= 0:
            break
        short = newton and rnd == 0 and budget > _NEWTON_AFTER
        maxiter = _NEWTON_AFTER if short else budget
        res = optimize.minimize(
            fg,
            W.ravel(),
            jac=True,
            method="L-BFGS-B",
            options={
                "maxiter": maxiter,
                "maxcor": pairs,
                "ftol": 0.0 if short else 10 * _EPS,
                "gtol": tol,
                "maxfun": 2 * maxiter + 20,
            },
        )
        n_iter += int(res.nit)
        W = rescale(res.x.reshape(n, d + 1))
        status = f"L-BFGS: {res.nit} iterations" if short else f"L-BFGS: {res.message}"
        if target is None:
            if res.nit == 0:
                break
            continue
        if newton:  # certificate at W, then Newton steps if its gap is below _NEWTON_GAP
            _, steps, cbest = _newton_finish(objective, W, d, target, gate=_NEWTON_GAP)
            n_iter += steps
            if steps:
                status += f"; Newton: {steps} steps"
            if best is None or cbest[0] < best[0]:
                best = cbest
                if steps:
                    W = rescale(cbest[1])
        else:
            cert = _certificate(*_gap_inputs(objective, W, d))
            if best is None or cert.gap < best[0]:
                best = (cert.gap, W, cert)
        assert best is not None
        if best[0] <= target:
            break
        if short and res.nit >= _NEWTON_AFTER:
            continue  # the cut round was still descending: a full L-BFGS round next
        # gradient-only polish, stopped at the target or when the gap stagnates
        track = _Track(best)

        def check(w, track=track):
            Wc = rescale(w.reshape(n, d + 1))
            c = _certificate(*_gap_inputs(objective, Wc, d))
            if c.gap < 0.9 * track.best[0]:
                track.stall = 0
            else:
                track.stall += 1
            if c.gap < track.best[0]:
                track.best = (c.gap, Wc, c)
            return c.gap <= target or track.stall >= 4

        budget = max_iter - n_iter
        if budget <= 0:
            break
        _, it = _polish(fg, W.ravel(), budget, check, memory=min(20, pairs))
        n_iter += it
        status += f"; gradient-only polish: {it} iterations"
        improved = track.best[0] < best[0]
        best = track.best
        W = best[1]
        if best[0] <= target or (not improved and res.nit == 0):
            break
    if target is None or best is None:
        return W, n_iter, status, None
    return best[1], n_iter, status, best[2]


class _Track:
    """The best certificate seen by the gradient-only polish and its stall count."""

    def __init__(self, best: tuple[float, np.ndarray, Certificate]):
        self.best = best
        self.stall = 0


def _solve_factored(
    objective,
    d: int,
    starts: int,
    gen: np.random.Generator,
    tol: float,
    max_iter: int,
    target: float | None,
    *,
    first_start=None,
    row_scale: np.ndarray | None = None,
    warm_objective=None,
) -> SolverRun:
    """The general solver: ``starts`` runs of :func:`_run_lbfgs` on the lifted sphere; the
    lowest loss is kept.  Only the objective protocol is used
    (:mod:`latentclass.objective`).

    ``first_start(gen) -> W0`` (``(n, d + 1)``) gives the first start (default random);
    ``row_scale`` (``(n,)``, > 0) the row norms of the parameter (a diagonal preconditioner,
    default 1); ``warm_objective``, if given, is solved first from each start (continuation:
    e.g. the limit objective ``L_∞``, whose optimum is within ``O(1/k)`` of that of ``L_k``).
    """
    n = check_objective(objective)
    history_pairs(n, d)  # refuse, before any work, a history that cannot fit
    value = value_fn(objective)
    if row_scale is None:
        row_scale = np.ones(n)
    best = None
    total_iter = 0
    for s in range(starts):
        if s == 0 and first_start is not None:
            W0 = first_start(gen)
        else:
            W0 = _random_start(n, d, gen)
        if warm_objective is not None:
            W0, it, _, _ = _run_lbfgs(
                warm_objective,
                W0,
                d,
                tol,
                max_iter,
                target,
                max_rounds=2 if target is not None else 1,
                row_scale=row_scale,
            )
            total_iter += it
        W, it, status, cert = _run_lbfgs(
            objective,
            W0,
            d,
            tol,
            max_iter,
            target,
            max_rounds=8 if target is not None else 3,
            row_scale=row_scale,
        )
        total_iter += it
        V, G = _gram_of(W, d)
        f = float(value(G))
        if best is None or f < best[0]:
            best = (f, V, G, status, cert)
    assert best is not None
    f, V, G, status, cert = best
    solver = "lifted-lbfgs+newton" if "Newton" in status else "lifted-lbfgs"
    return SolverRun(V, G, f, cert, total_iter, solver, status)
