r"""Newton–Krylov on the optimality conditions in Gram space, for class-level problems of any size
(SPEC §4).

The system is the one of :mod:`latentclass._solvers.gram_newton`: at a class-level optimum with
unit diagonal, corank one and strict complementarity, ``Z = ∇L(G) + Diag(λ) = z zᵀ`` and
``G z = 0``, so with ``X`` the off-diagonal part of ``G``

    ``r(X, z) = [offdiag(∇L(G) − z zᵀ);  G z] = 0``.

That module forms the Jacobian densely (``O(n⁶)``, ``n <= 25``).  Here it is never formed:

- **Model Hessian.**  The Hessian of ``L_k`` is replaced by a model ``Ĥ`` with an ``O(n²)``
  product: for ``k = 1`` the exact one, diagonal in the off-diagonal entries,
  ``Ĥ[X]_{xy} = ½ (c_{xy} + c_{yx}) X_{xy}``, ``c_{xy} = ρ_x ρ_y σ'((G_{xy} − G_{xx})/τ)/τ²``;
  for every other ``k`` the exact Hessian of the limit objective
  ``L_∞(G) = Σ_x ρ_x log Σ_y ρ_y e^{(G_{xy} − G_{xx})/τ}`` (SPEC §3), a row-wise softmax
  Hessian, ``Ĥ[X] = sym(Diag(ρ/τ²) (P∘X − P Diag((P∘X)1)))`` with ``P_{xy} ∝ ρ_y e^{G_{xy}/τ}``
  (rows summing to 1).  Since ``L_k − log k → L_∞`` with Hessians ``O(1/k)`` apart, Newton's
  method with ``Ĥ`` and the *exact* gradient of ``L_k`` in ``r`` is a defect correction: it
  converges to the exact solution of ``r = 0``, quadratically for ``k ∈ {1, ∞}`` and linearly
  with a rate that shrinks with ``k`` otherwise (measured: ≈0.3 at ``k = 16``, ≈0.05 at
  ``k = 64``, quadratic to rounding at ``k = 65536``).
- **Exact Hessian.**  For finite ``k >= 2`` the exact Hessian of ``L_k``
  (:class:`latentclass._engines.hessian.ClassHessian`: nodes cached once per Newton step, no
  exponential per product) replaces ``Ĥ`` — in MINRES and in the preconditioner's diagonal —
  from the start when ``k < 64`` (``_HESSIAN = "auto"``), and above only after the model
  converges slowly (merit ratio > 0.5 on three consecutive full steps), fails to backtrack or
  stalls (a restart from the same start).  Measured (benchmarks/bench_large_solve.py
  ``--hessian``): quadratic convergence in 3–6 steps where the model needs 10–17 or declines
  (``τ = 0.1, k = 16``: 36–76 ``value_and_grad`` evaluations' worth instead of 174–1835
  through the general solver); for ``k >= 65536`` the model is cheaper (same steps, cheaper
  products) and is kept.
- **Warm start.**  ``start=``: a feasible Gram matrix (e.g. the certified optimum at a nearby
  ``k``) instead of the ρ-centred simplex; ``z`` starts along its least eigenvector.
- **Linear solve.**  Scaling the second block row by ``−2`` makes the Jacobian symmetric
  (indefinite): ``[[Ĥ, B], [Bᵀ, −2G]]`` with ``B dz = −offdiag(dz zᵀ + z dzᵀ)``; MINRES
  (``scipy.sparse.linalg.minres``) solves it with the block-diagonal preconditioner
  ``diag(Ĥ_d, −Ŝ)`` of Murphy, Golub and Wathen (2000): ``Ĥ_d`` the diagonal of ``Ĥ`` and
  ``Ŝ = −2G − 2 (Diag(Ĥ_d⁻¹ z²) + Diag(z) Ĥ_d⁻¹ Diag(z))`` the Schur complement with ``Ĥ``
  replaced by ``Ĥ_d`` (one dense ``n × n`` Cholesky factorisation per Newton step,
  ``O(n²)`` per MINRES iteration; 10–18 iterations measured up to ``n = 1000``).
- **Globalisation.**  Backtracking on the preconditioned residual norm
  ``‖r‖_{P⁻¹} = (rᵀ P⁻¹ r)^{1/2}`` (the plain norm is dominated by the classes of large
  ``ρ`` and forces tiny steps far from the solution; measured: full steps from the start).

Nothing is certified here: each candidate is projected onto the feasible set (eigenvalues
clipped at 0, rows normalised) and judged by the duality-gap bound of
:func:`latentclass.certificate.certify`'s engine; the caller falls back to the general solver
whenever this path returns ``None`` (the assumed structure is wrong, no convergence).
"""

from __future__ import annotations

import inspect
import math

import numpy as np
from scipy import linalg
from scipy.sparse.linalg import LinearOperator, minres

from .._engines.hessian import ClassHessian, HessianTooLarge
from ..certificate import Certificate, _certificate
from ..objective import value_and_grad_fn
from .run import SolverRun
from .starts import _centred_start

__all__ = ["gram_krylov"]

#: Newton steps at most (quadratic convergence needs 4–6; linear rates ≈ 0.3 need ~20).
_MAX_STEPS = 40
#: MINRES iterations per Newton step at most.
_MINRES_MAXITER = 60
#: Backtracking halvings per step at most.
_MAX_HALVINGS = 8
#: A candidate is projected and certified once the merit is below this fraction of its start.
_PROJECT_BELOW = 1e-4
#: Give up (return the best candidate or None) after this many steps without the merit halving.
_STALL_STEPS = 3
#: Which Hessian MINRES uses for finite ``k >= 2``: ``"model"`` (the limit Hessian
#: throughout), ``"exact"`` (:class:`latentclass._engines.hessian.ClassHessian` throughout) or
#: ``"auto"``: the exact Hessian for ``k <`` :data:`_EXACT_BELOW`; above, the model first and,
#: when it contracts the merit by less than :data:`_SWITCH_RATIO` on three consecutive full
#: steps, fails to backtrack, stalls or runs out of steps above the target, a restart from the same start
#: with the exact Hessian (measured: benchmarks/bench_large_solve.py).
_HESSIAN = "auto"
#: ``"auto"`` uses the exact Hessian from the start below this ``k``.
_EXACT_BELOW = 64
#: Merit contraction per full model step above which ``"auto"`` restarts with the exact Hessian.
_SWITCH_RATIO = 0.5
#: A warm run whose gap bound exceeds this multiple of the target is followed by the cold run.
_WARM_FALLBACK = 100.0
#: Sentinel: the model run gave up (``"auto"`` restarts exactly).
_SWITCH = object()
#: Trace of the last run (steps: (Hessian, step length, merit ratio)); for the benchmark.
_TRACE: list = []
# scipy renamed minres(tol=) to rtol= in 1.12 (the minimum supported release is 1.11).
_RTOL = "rtol" if "rtol" in inspect.signature(minres).parameters else "tol"


def _softmax_rows(G: np.ndarray, rho: np.ndarray, tau: float) -> np.ndarray:
    """``P_{xy} = ρ_y e^{G_{xy}/τ} / Σ_w ρ_w e^{G_{xw}/τ}`` (rows sum to 1)."""
    S = G / tau
    S += np.log(rho)[None, :]
    S -= S.max(axis=1, keepdims=True)
    np.exp(S, out=S)
    S /= S.sum(axis=1, keepdims=True)
    return S


class _ModelHessian:
    """The model Hessian ``Ĥ`` at ``G`` (module docstring), its diagonal, and its product."""

    def __init__(self, G: np.ndarray, rho: np.ndarray, tau: float, k: float):
        n = G.shape[0]
        self.k1 = k == 1
        if self.k1:  # exact: diagonal in the off-diagonal entries
            u = (G - np.diag(G)[:, None]) / tau
            s = 0.5 / (1.0 + np.cosh(u))  # σ'(u) = σ(u) σ(−u), overflow-free
            c = (rho[:, None] * rho[None, :]) * s / tau**2
            self.diag = 0.5 * (c + c.T)
        else:
            self.P = _softmax_rows(G, rho, tau)
            self.w = 0.5 * rho / tau**2  # ½ of sym(·) folded in
            d = self.w[:, None] * self.P * (1.0 - self.P)
            self.diag = d + d.T
        np.fill_diagonal(self.diag, 0.0)
        self._buf = np.empty((n, n))
        self._buf2 = np.empty((n, n))

    def apply(self, X: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out = Ĥ[X]`` for a symmetric ``X`` with zero diagonal (result: the same kind)."""
        if self.k1:
            np.multiply(self.diag, X, out=out)
            return out
        T, T2 = self._buf, self._buf2
        np.multiply(self.P, X, out=T)
        rs = T.sum(axis=1)
        np.multiply(self.P, rs[:, None], out=T2)
        T -= T2
        T *= self.w[:, None]
        np.add(T, T.T, out=out)
        np.fill_diagonal(out, 0.0)
        return out


class _ExactHessian:
    """The exact Hessian of ``L_k`` (:class:`latentclass._engines.hessian.ClassHessian`) with
    the interface of :class:`_ModelHessian`."""

    k1 = False

    def __init__(self, G: np.ndarray, rho: np.ndarray, tau: float, k: int):
        self._H = ClassHessian(G, rho, k, tau)
        self.diag = self._H.diag

    def apply(self, X: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out = ∇²L_k(G)[X]`` (diagonal zeroed) for a symmetric ``X`` with zero diagonal."""
        return self._H.apply_offdiag(X, out)


def _merit_and_residual(G, g, z, prec):
    """Residual ``r`` (scaled second block, as the symmetric system uses it), its plain norm and
    its preconditioned norm ``(rᵀ P⁻¹ r)^{1/2}``."""
    n = G.shape[0]
    r = np.empty(n * n + n)
    R1 = r[: n * n].reshape(n, n)
    np.multiply(z[:, None], z[None, :], out=R1)
    np.subtract(g, R1, out=R1)
    np.fill_diagonal(R1, 0.0)
    r[n * n :] = -2.0 * (G @ z)
    plain = math.sqrt(float(r @ r))
    merit = math.sqrt(max(0.0, float(r @ prec(r)))) if prec is not None else plain
    return r, plain, merit


def _feasible_factor(G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(F, F Fᵀ)``: eigenvalues of ``G`` clipped at 0, rows normalised (feasible by construction)."""
    w, U = np.linalg.eigh(G)
    F = U[:, ::-1] * np.sqrt(np.maximum(w[::-1], 0.0))
    norms = np.sqrt(np.einsum("ij,ij->i", F, F))
    if not float(norms.min()) > 1e-150:
        raise np.linalg.LinAlgError("a row of the factor vanished")
    F /= norms[:, None]
    Gf = F @ F.T
    return F, 0.5 * (Gf + Gf.T)


def gram_krylov(
    model, objective, k: float, tau: float, target: float, start: np.ndarray | None = None
) -> SolverRun | None:
    """Newton–Krylov on the class-level KKT system (see :func:`_gram_krylov`); any floating
    point exception on the way (division by zero, overflow, invalid operation — e.g. a class of
    mass 1e-300) makes it decline (``None``), so no warning escapes and the general solver runs.

    ``start``: optional feasible Gram matrix (``m × m``, unit diagonal, PSD — e.g. the certified
    optimum at a nearby ``k``) used instead of the ρ-centred simplex; ``ValueError`` if it is
    not a finite symmetric ``m × m`` array with unit diagonal.  When the run from ``start``
    fails or ends with a gap bound above ``_WARM_FALLBACK · target``, the cold start runs too
    and the better certified candidate is returned (measured: the ``k = ∞`` optimum is no
    start for ``τ = 0.1, k <= 64`` on Dirichlet laws; bench_large_solve.py ``--warm``).
    """
    if start is not None:
        start = _check_start(start, np.asarray(model.class_probs).size)
    run = _guarded(model, objective, k, tau, target, start)
    if start is not None and _gap(run) > _WARM_FALLBACK * target:
        cold = _guarded(model, objective, k, tau, target, None)
        if _gap(cold) < _gap(run):
            run = cold
    return run


def _gap(run: SolverRun | None) -> float:
    """The certified gap bound of a run (``inf`` for none)."""
    if run is None or run.certificate is None:
        return math.inf
    return float(run.certificate.gap)


def _guarded(model, objective, k, tau, target, start) -> SolverRun | None:
    """One run (Hessian chosen by :data:`_HESSIAN`), declining on floating-point exceptions."""
    try:
        with np.errstate(divide="raise", over="raise", invalid="raise", under="ignore"):
            _TRACE.clear()
            mode = _HESSIAN
            if k == math.inf or k < 2:
                mode = "model"  # the model is the exact Hessian there
            elif mode == "auto" and k < _EXACT_BELOW:
                mode = "exact"
            run = _gram_krylov(
                model, objective, k, tau, target, start, "probe" if mode == "auto" else mode
            )
            if run is _SWITCH:
                run = _gram_krylov(model, objective, k, tau, target, start, "exact")
            return None if run is _SWITCH else run
    except (FloatingPointError, np.linalg.LinAlgError):
        return None


def _check_start(start, n: int) -> np.ndarray:
    """``start`` as a float, exactly symmetric ``(n, n)`` array with unit diagonal, or ``ValueError``."""
    S = np.asarray(start, dtype=float)
    if S.shape != (n, n):
        raise ValueError(f"start must have shape ({n}, {n}) (one row per class), got {S.shape}")
    if not np.all(np.isfinite(S)):
        raise ValueError("start must be finite")
    if not np.allclose(S, S.T, rtol=0.0, atol=1e-10):
        raise ValueError("start must be symmetric (a Gram matrix)")
    if not np.allclose(np.diag(S), 1.0, rtol=0.0, atol=1e-8):
        raise ValueError("start must have unit diagonal (a feasible Gram matrix)")
    S = 0.5 * (S + S.T)
    np.fill_diagonal(S, 1.0)
    return S


def _gram_krylov(
    model,
    objective,
    k: float,
    tau: float,
    target: float,
    start: np.ndarray | None = None,
    hessian: str = "model",
):
    """Newton–Krylov on the class-level KKT system (module docstring) from ``start`` or the
    ρ-centred simplex (:func:`latentclass._solvers.starts._centred_start`).

    ``model`` must be class level (one point per class), ``objective`` the population loss
    ``L_k`` of that model at temperature ``tau`` (only its ``value_and_grad`` is used).
    Returns the best certified candidate as a :class:`SolverRun` once its gap bound is
    ``<= target`` or the iteration has reached its rounding floor with a candidate; ``None``
    when the start or the iteration fails (the caller's general solver takes over).
    """
    rho = np.asarray(model.class_probs, dtype=float)
    n = rho.size
    if n < 2:
        return None
    G0 = _centred_start(model) if start is None else start
    if G0 is None:
        return None
    evaluate_raw = value_and_grad_fn(objective)

    def evaluate(G):  # the library's own floating-point handling inside the objective
        with np.errstate(divide="warn", over="warn", invalid="warn", under="ignore"):
            return evaluate_raw(G)

    G = G0
    g = evaluate(G)[1]
    # z along the null vector of G0: Σ_c ρ_c ‖e_c − ρ‖ s_c = 0 (starts.py); checked, else eigh
    # (a warm start: the eigenvector of its smallest eigenvalue)
    u = rho * np.sqrt(np.maximum(0.0, 1.0 - 2.0 * rho + float(rho @ rho)))
    u /= float(np.max(u))  # scale first: the norm of (1e-300, …) underflows
    u /= np.linalg.norm(u)
    if start is not None or not np.linalg.norm(G @ u) <= 1e-8:
        u = np.linalg.eigh(G)[1][:, 0]
    off = ~np.eye(n, dtype=bool)
    uu = np.outer(u, u)[off]
    s2 = float(g[off] @ uu) / float(uu @ uu)
    if not s2 > 0:
        return None
    z = math.sqrt(s2) * u
    nn = n * n
    out = np.empty(nn + n)
    X_sym = np.empty((n, n))
    best: tuple[float, np.ndarray, np.ndarray, float, Certificate] | None = None
    merit0 = None
    last_halving = 0
    best_merit = math.inf
    steps = 0
    n_eval = 1
    n_minres = 0
    use_exact = hessian == "exact"
    probe = hessian == "probe"
    give_up = _SWITCH if probe else None
    slow = 0
    _TRACE.append(hessian)
    for step in range(_MAX_STEPS):
        H: _ExactHessian | _ModelHessian | None = None
        if use_exact:
            try:
                H = _ExactHessian(G, rho, tau, int(k))
            except HessianTooLarge:  # beyond the cache budget: the model after all
                use_exact = False
        if H is None:
            H = _ModelHessian(G, rho, tau, k)
        hinv = np.divide(1.0, H.diag, out=np.zeros_like(H.diag), where=H.diag > 0)
        big = float(hinv.max()) if hinv.size else 1.0
        hinv[H.diag <= 0] = big  # entries without curvature: the largest inverse seen
        np.fill_diagonal(hinv, 0.0)
        Sm = 2.0 * (hinv * (z[None, :] * z[:, None]))
        Sm += 2.0 * G
        Sm.flat[:: n + 1] += 2.0 * (hinv @ (z * z))
        try:
            chol = linalg.cho_factor(Sm, check_finite=False)
        except linalg.LinAlgError:
            Sm.flat[:: n + 1] += 1e-8 * float(np.max(np.abs(np.diag(Sm))))
            try:
                chol = linalg.cho_factor(Sm, check_finite=False)
            except linalg.LinAlgError:
                return give_up or _finish(best)
        hinv_flat = hinv.ravel()

        def prec(v, hinv_flat=hinv_flat, chol=chol):
            res = np.empty_like(v)
            np.multiply(hinv_flat, v[:nn], out=res[:nn])
            res[nn:] = linalg.cho_solve(chol, v[nn:], check_finite=False)
            return res

        def matvec(v, H=H, G=G, z=z):
            X = v[:nn].reshape(n, n)
            dz = v[nn:]
            Y = out[:nn].reshape(n, n)
            H.apply(X, Y)
            np.multiply(dz[:, None], z[None, :], out=X_sym)
            np.add(X_sym, X_sym.T, out=X_sym)  # numpy buffers the overlapping transpose
            np.fill_diagonal(X_sym, 0.0)
            Y -= X_sym
            out[nn:] = -2.0 * (X @ z + G @ dz)
            return out.copy()

        r, _, merit = _merit_and_residual(G, g, z, prec)
        if merit0 is None:
            merit0 = merit
        if not math.isfinite(merit):
            return give_up or _finish(best)
        A = LinearOperator((nn + n, nn + n), matvec=matvec, dtype=float)
        M = LinearOperator((nn + n, nn + n), matvec=prec, dtype=float)
        count = [0]

        def tick(_x, count=count):
            count[0] += 1

        sol, _info = minres(A, -r, M=M, maxiter=_MINRES_MAXITER, callback=tick, **{_RTOL: 1e-10})
        n_minres += count[0]
        dX = sol[:nn].reshape(n, n)
        dX = 0.5 * (dX + dX.T)
        np.fill_diagonal(dX, 0.0)
        dz = sol[nn:]
        alpha = 1.0
        accepted = False
        for _ in range(_MAX_HALVINGS + 1):
            Gt = G + alpha * dX
            zt = z + alpha * dz
            try:
                _, gt = evaluate(Gt)
                n_eval += 1
                _, _, mt = _merit_and_residual(Gt, gt, zt, prec)
            except (ValueError, FloatingPointError):  # scores or residual beyond double range
                alpha *= 0.5  # far outside the feasible set: a shorter step
                continue
            if math.isfinite(mt) and mt <= (1.0 - 1e-4 * alpha) * merit:
                accepted = True
                break
            alpha *= 0.5
        if not accepted:
            return give_up or _finish(best)
        _TRACE.append(("exact" if use_exact else "model", alpha, mt / merit, count[0]))
        slow = slow + 1 if alpha == 1.0 and mt > _SWITCH_RATIO * merit else 0
        if probe and slow >= 3:  # linear convergence with a poor rate: restart exactly
            return _SWITCH
        steps = step + 1
        G, z, g = Gt, zt, gt
        if mt < 0.5 * best_merit:
            best_merit = mt
            last_halving = steps
        stalled = steps - last_halving >= _STALL_STEPS
        if probe and stalled:
            return _SWITCH
        if mt <= _PROJECT_BELOW * merit0 or stalled:
            try:
                F, Gf = _feasible_factor(G)
            except np.linalg.LinAlgError:
                return give_up or _finish(best)
            ff, gf = evaluate(Gf)
            n_eval += 1
            cert = _certificate(Gf, gf)
            floor = best is not None and cert.gap > 0.5 * best[0]  # no longer halving: rounding
            if best is None or cert.gap < best[0]:
                best = (cert.gap, F, Gf, float(ff), cert)
            if cert.gap <= target or stalled or floor:
                break
    if best is None or (probe and steps == _MAX_STEPS and best[0] > target):
        return give_up  # (a model run that ended at its rounding floor is kept)
    _, F, Gf, ff, cert = best
    status = (
        f"Gram-space Newton–Krylov ({'exact' if use_exact else 'limit-model'} Hessian): "
        f"{steps} steps, {n_minres} MINRES iterations, {n_eval} loss evaluations"
    )
    return SolverRun(F, Gf, ff, cert, steps, "gram-newton-krylov", status)


def _finish(best):
    """The best certified candidate so far as a run, or ``None``."""
    if best is None:
        return None
    _, F, Gf, ff, cert = best
    return SolverRun(
        F, Gf, ff, cert, 0, "gram-newton-krylov", "Gram-space Newton–Krylov: stopped early"
    )
