"""Optimal representations with a certificate of global optimality (SPEC §4, §5).

The problem is

    minimise L_k(G)  subject to  G ⪰ 0,  diag(G) ≤ 1,  rank(G) ≤ d,

with ``L_k`` the exact population NCE loss (:class:`latentclass.population.NCEObjective`),
convex in ``G``.  For ``d >= n`` it is a convex program and :func:`certify` turns any
feasible ``G`` into a rigorous upper bound on ``L_k(G) − L_k*`` (weak duality).

Solver (``method="numerical"``): Burer–Monteiro factorisation ``G = V Vᵀ`` on a *lifted
sphere*: ``W ∈ R^{n×(d+1)}``, ``U = W / ‖W‖`` row-wise, ``V = U[:, :d]``.  The last column
is a slack ``z`` with ``‖v_x‖² = 1 − z_x²``, so the feasible set ``‖v_x‖ ≤ 1`` is covered
exactly and smoothly (points may sit strictly inside the ball, where the multiplier of
``G_xx ≤ 1`` is zero).  L-BFGS (``scipy.optimize.minimize``) runs on ``W`` with the
gradient propagated through the normalisation, and

- row norms of ``W`` are set to ``sqrt(D(x) / max D)`` (a diagonal preconditioner: the
  curvature of row ``x`` scales with its probability mass ``D(x)``);
- for ``k >= 16`` the limit objective ``L_∞`` (no quadrature) is solved first and its
  optimum, ``O(1/k)`` away, is the start (continuation in ``k``);
- when the objective has an exact Hessian (the dense multiset engine that
  ``NCEObjective(method="auto")`` picks for small ``n`` and ``k``), the first L-BFGS round is
  cut after a few iterations and regularised Newton steps with the exact Hessian on the
  lifted sphere take over once the certificate's gap bound is below ``1e-4``: they converge
  quadratically, so two or three steps reach the target;
- otherwise (or if Newton stalls) a gradient-only L-BFGS "polish" (secant line search on
  the directional derivative) takes over when the function-value line search stalls at
  ``δ ≈ sqrt(ε)``; rounds stop when the certificate's gap bound is
  ``<= polish_target · certify_tol`` or stagnates.

Fast path (small problems with an exact Hessian, ``dim = n``, ``init="structured"``):
class-level optima typically have ``diag(G) = 1`` and corank one with strict
complementarity (non-uniform ρ as well as the regular simplex).  Assuming that, Newton's
method on the optimality conditions in Gram space (:func:`latentclass._newton.kkt_newton`),
started from the simplex centred at the ρ-weighted mean (:func:`_centred_start`), converges
in three to five steps; its result is projected onto the feasible set and kept only if the
certificate's gap bound is ``<= polish_target · certify_tol``.  Otherwise (a point inside
the ball, an optimum of larger corank, no convergence) the solver above runs as if the fast
path did not exist.

The result reports the *best certificate found*; ``certified`` is decided by
:func:`certify` alone, never by the solver's own convergence flags.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from scipy import linalg, optimize

from ._validation import (
    as_generator,
    check_choice,
    check_gram,
    check_integer,
    check_k,
    check_tau,
    readonly,
)
from ._newton import kkt_newton
from .closed_form import simplex, simplex_loss
from .model import LatentClassModel
from .population import NCEObjective

__all__ = ["Certificate", "OptimalRepresentation", "certify", "optimal_representation"]

_EPS = np.finfo(float).eps
#: Default relative accuracy assumed for the objective's gradient in :func:`certify`.
GRAD_RTOL = 1e-12
#: Default tolerance on the duality-gap bound for ``certified=True``.
CERTIFY_TOL = 1e-7
_METHODS = ("auto", "closed-form", "numerical")
#: From this k on, the solver first solves the limit objective (continuation in k).
_WARM_K = 16
#: L-BFGS iterations before the Newton phase (objectives with an exact Hessian).
_NEWTON_AFTER = 10
#: ... and Newton steps start once the certificate's gap bound is at most this.
_NEWTON_GAP = 1e-4
#: The Newton phase is used up to this many parameters (dense solve, O(N³)) and this many
#: entries of the per-pair Hessian blocks (pairs × n²).
_NEWTON_MAX_VARS = 420
_NEWTON_MAX_HESS = 4_000_000
#: Gram-space Newton (:func:`_gram_newton`) up to this many unknowns ``n(n+1)/2`` (n <= 25;
#: beyond, its dense O(n⁶) solves cost more than the general solver).
_GRAM_NEWTON_MAX_VARS = 325


# --------------------------------------------------------------------------- certificate
class Certificate(NamedTuple):
    """Dual certificate of SPEC §4 (unpacks as ``gap, multipliers = certify(...)``).

    Attributes
    ----------
    gap : float
        Rigorous upper bound on ``L_k(G) − L_k*`` (``>= 0``).
    multipliers : ndarray (n,)
        The ``λ >= 0`` used, with ``g + Diag(λ) ⪰ 0``.
    """

    gap: float
    multipliers: np.ndarray


def certify(
    objective: Any,
    G: Any,
    *,
    grad: np.ndarray | None = None,
    grad_rtol: float = GRAD_RTOL,
    diag_floor: float = 1e-9,
) -> Certificate:
    """Upper bound on the suboptimality ``L(G) − min L`` over ``{G ⪰ 0, diag(G) ≤ 1}``.

    Weak duality (SPEC §4): ``L`` is convex, so for every feasible ``G'``
    ``L(G') >= L(G) + ⟨g, G' − G⟩`` with ``g = ∇L(G)``; for any ``λ >= 0`` with
    ``Z = g + Diag(λ) ⪰ 0``, ``⟨g, G'⟩ = ⟨Z, G'⟩ − Σ λ_x G'_xx >= −Σ λ_x``.  Hence

        ``L(G) − L* <= ⟨g, G⟩ + Σ_x λ_x``.

    ``λ`` comes from stationarity on the range of ``G``: ``λ_x = −(gG)_xx / G_xx`` (0 where
    ``G_xx <= diag_floor``), clipped at 0, then all raised by ``max(0, −λ_min(Z))`` plus a
    rounding margin ``4 n ε ‖Z‖_F`` (LAPACK's symmetric eigenvalues are exact for a matrix
    within ``O(n ε ‖Z‖)``), which makes ``Z ⪰ 0`` hold for the exact ``Z``.  The bound then
    adds the floating-point error of ``⟨g, G⟩ + Σλ`` (``(n² + n) ε Σ|g_ij G_ij| + ...``)
    and the effect of an error in the gradient itself: if ``‖ĝ − g‖_2 <= grad_rtol ‖ĝ‖_F``,
    then ``|⟨ĝ − g, G − G'⟩| <= grad_rtol ‖ĝ‖_F (tr G + n)``.  ``G`` is assumed feasible
    (``G ⪰ 0`` and ``diag(G) ≤ 1``; a Gram matrix ``V Vᵀ`` with rows of norm ``<= 1``);
    the bound is meaningless otherwise, so infeasible diagonals raise ``ValueError``.

    Parameters
    ----------
    objective : object with ``grad(G)`` (e.g. :class:`~latentclass.population.NCEObjective`)
    G : array_like (n, n)
        Feasible Gram matrix.
    grad : ndarray, optional
        ``objective.grad(G)`` if already computed.
    grad_rtol : float
        Assumed relative accuracy of the gradient (default ``1e-12``; the exact engine is
        accurate to ~1e-13).
    diag_floor : float
        Below this ``G_xx`` the stationarity multiplier is not formed (set to 0 before the
        raise).

    Returns
    -------
    Certificate
        ``(gap, multipliers)``.
    """
    G = np.asarray(G, dtype=float)
    n = G.shape[0] if G.ndim == 2 else -1
    G = check_gram(G, n, "G")
    d = np.diag(G)
    if np.any(d > 1.0 + 1e-9) or np.any(d < -1e-12):
        raise ValueError("G must be feasible (0 <= diag(G) <= 1), got diag in "
                         f"[{d.min()!r}, {d.max()!r}]")
    g = objective.grad(G) if grad is None else np.asarray(grad, dtype=float)
    g = 0.5 * (g + g.T)
    if not np.all(np.isfinite(g)):
        raise ValueError("the objective's gradient is not finite at G")
    return _certificate(G, g, grad_rtol, diag_floor)


def _certificate(G: np.ndarray, g: np.ndarray, grad_rtol: float = GRAD_RTOL,
                 diag_floor: float = 1e-9) -> Certificate:
    """The bound of :func:`certify` for a feasible ``G`` and a finite symmetric gradient ``g``
    (no validation: the solver's own iterates, ``G = V Vᵀ`` with rows of norm ``<= 1``)."""
    n = G.shape[0]
    d = np.diag(G)
    gGm = g * G
    gG = gGm.sum(axis=1)  # (gG)_xx, G symmetric
    ok = d > diag_floor
    lam = np.where(ok, -gG / np.where(ok, d, 1.0), 0.0)
    np.maximum(lam, 0.0, out=lam)
    Z = g.copy()
    Z.flat[:: n + 1] += lam
    eig = np.linalg.eigvalsh(Z)  # LAPACK syevd: backward stable, as the margin below assumes
    z_norm = math.sqrt(float(np.einsum("ij,ij->", Z, Z)))
    raise_by = max(0.0, -float(eig[0])) + 4.0 * n * _EPS * z_norm
    lam += raise_by
    # ⟨g, G⟩ + Σλ, plus rounding and gradient-error margins
    inner = float(gGm.sum())
    total = inner + math.fsum(lam)
    lam_sum = float(lam.sum())
    rounding = (n * n + n + 4) * _EPS * (float(np.abs(gGm).sum()) + lam_sum)
    g_norm = math.sqrt(float(np.einsum("ij,ij->", g, g)))
    grad_err = float(grad_rtol) * g_norm * (float(d.sum()) + n)
    gap = max(0.0, total) + rounding + grad_err
    return Certificate(float(gap), readonly(lam))


# --------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False, repr=False)
class OptimalRepresentation:
    """An optimal (or best found) representation and its certificate (SPEC §4).

    Attributes
    ----------
    F : ndarray (n, d)
        Representation, rows of norm ``<= 1``; ``gram = F Fᵀ``.
    gram : ndarray (n, n)
        Its Gram matrix.
    loss : float
        ``L_k(gram)`` (for ``k = inf``: the limit objective ``L_∞``).
    duality_gap : float or None
        Certified upper bound on ``loss − L_k*`` for the convex problem (``None`` only if
        no certificate could be computed).
    certified : bool
        ``duality_gap <= certify_tol`` (and all multipliers ``>= 0``).
    multipliers : ndarray (n,) or None
        Multipliers ``λ`` of ``diag(G) <= 1`` from the certificate.
    method : str
        ``"closed-form"`` or ``"numerical"``.
    n_iter : int
        Solver iterations: L-BFGS iterations plus Newton steps (summed over rounds and
        restarts; 0 for the closed form).
    message : str
        What was done and what the certificate says.
    """

    F: np.ndarray
    gram: np.ndarray
    loss: float
    duality_gap: float | None
    certified: bool
    multipliers: np.ndarray | None
    method: str
    n_iter: int
    message: str

    def __repr__(self) -> str:
        gap = "None" if self.duality_gap is None else f"{self.duality_gap:.3g}"
        return (
            f"OptimalRepresentation(loss={self.loss:.12g}, duality_gap={gap}, "
            f"certified={self.certified}, method={self.method!r}, F{self.F.shape}, "
            f"gram{self.gram.shape}, n_iter={self.n_iter})"
        )


# --------------------------------------------------------------------------- solver core
def _lifted_fg(objective, n: int, d: int):
    """Loss and gradient as functions of the flattened lifted-sphere parameter ``W``."""

    # NCEObjective: skip re-validating the Gram matrix built here (symmetric by construction)
    evaluate = getattr(objective, "_evaluate_unchecked", None)

    def fg(w: np.ndarray):
        W = w.reshape(n, d + 1)
        r = np.sqrt(np.einsum("ij,ij->i", W, W))
        U = W / r[:, None]
        V = U[:, :d]
        G = V @ V.T
        G += G.T
        G *= 0.5
        if evaluate is not None:
            f, g = evaluate(G, True)  # symmetric gradient
        else:
            f, g = objective.value_and_grad(G)
            g = 0.5 * (g + g.T)
        gU = np.zeros_like(U)
        gU[:, :d] = 2.0 * (g @ V)
        radial = np.einsum("ij,ij->i", gU, U)
        gU -= U * radial[:, None]
        gU /= r[:, None]
        return float(f), gU.ravel()

    return fg


def _lifted_newton(objective, W: np.ndarray, d: int):
    """Loss, gradient and exact Hessian in the lifted-sphere parameter ``W`` (``(n, d+1)``).

    Needs the objective's entry-wise Hessian (:meth:`NCEObjective._second_order`, multiset
    engine); returns ``None`` otherwise.  Chain rule through ``G = V Vᵀ``, ``V = U[:, :d]``,
    ``U_x = W_x / r_x``: with ``Ġ = Ṽ Vᵀ + V Ṽᵀ``,
    ``d²f[Ṽ] = Σ_x Ġ[x, :] H_x Ġ[x, :]ᵀ + 2 ⟨M, Ṽ Ṽᵀ⟩`` (``H_x`` the Hessian block of row
    ``x``, ``M`` the symmetric gradient), then ``dU_x = P_x dW_x / r_x``
    (``P_x = I − U_x U_xᵀ``) and the curvature of the normalisation,
    ``g_xᵀ d²U_x[w] = −[2 (g_xᵀ P_x w)(U_xᵀ w) + (g_xᵀ U_x) wᵀ P_x w] / r_x²``.
    """
    n, q = W.shape
    r = np.sqrt(np.einsum("ij,ij->i", W, W))
    U = W / r[:, None]
    V, G = _gram_of(W, d)  # bit-identical to the Gram matrix that is reported and certified
    so = objective._second_order(G)
    if so is None:
        return None
    f, M, anchors, blocks = so
    # Jacobian of vec(G) (entry-wise, n²) in vec(V) (n d): J[x, y, z, a] = δ_xz V_ya + δ_yz V_xa
    ar = np.arange(n)
    J = np.zeros((n, n, n, d))
    J[ar, :, ar, :] = V[None, :, :]
    J[:, ar, ar, :] += V[:, None, :]
    J = J.reshape(n, n, n * d)
    if anchors.size == n:  # every row has pairs
        HJ = np.matmul(blocks, J)
    else:
        HJ = np.zeros_like(J)
        HJ[anchors] = np.matmul(blocks, J[anchors])  # block-diagonal Hessian of L
    HV = J.reshape(n * n, n * d).T @ HJ.reshape(n * n, n * d)
    HV4 = HV.reshape(n, d, n, d)
    ad = np.arange(d)
    HV4[:, ad, :, ad] += 2.0 * M  # 2 ⟨M, Ṽ Ṽᵀ⟩
    gV = 2.0 * (M @ V)
    gU = np.zeros((n, q))
    gU[:, :d] = gV
    # normalisation: Jacobian blocks P_x / r_x (rows :d map to V) and the second-order term
    Pn = np.eye(q)[None, :, :] - U[:, :, None] * U[:, None, :]  # (n, q, q)
    Pn /= r[:, None, None]
    A = Pn[:, :d, :]  # (n, d, q): dV_x = A_x dW_x
    HB = np.swapaxes(HV4, 1, 2)  # (n, n, d, d) blocks [x, y]
    HW = np.matmul(np.matmul(np.swapaxes(A, 1, 2)[:, None], HB), A[None, :])  # (n, n, q, q)
    HW = np.ascontiguousarray(np.swapaxes(HW, 1, 2)).reshape(n * q, n * q)
    Pg = np.einsum("xab,xb->xa", Pn, gU)  # P_x g_x / r_x  (= the gradient in W)
    radial = np.einsum("xa,xa->x", gU, U)
    Q = Pg[:, :, None] * U[:, None, :]
    Q += np.swapaxes(Q, 1, 2)
    Q += radial[:, None, None] * Pn
    Q /= r[:, None, None]
    HW4 = HW.reshape(n, q, n, q)
    HW4[ar, :, ar, :] -= Q
    return float(f), Pg.ravel(), HW, G, M  # symmetric to rounding (Cholesky reads one triangle)


def _lifted_first_order(objective, W: np.ndarray, d: int):
    """``(f, ∇_W f, G, ∇L(G))`` at ``W`` (``G`` exactly as reported and certified)."""
    n, q = W.shape
    r = np.sqrt(np.einsum("ij,ij->i", W, W))
    U = W / r[:, None]
    V, G = _gram_of(W, d)
    f, M = objective._evaluate_unchecked(G, True)
    gU = np.zeros((n, q))
    gU[:, :d] = 2.0 * (M @ V)
    gU -= U * np.einsum("ij,ij->i", gU, U)[:, None]
    gU /= r[:, None]
    return float(f), gU.ravel(), G, M


def _newton_finish(objective, W, d, target, max_steps=8, gate=math.inf):
    """Regularised Newton steps on the lifted sphere with the exact Hessian, driven by the
    certificate.

    At each iterate the certificate (:func:`_certificate`, with the gradient just computed)
    is formed; the loop stops as soon as its gap bound is ``<= target``.  The step solves
    ``(H + μ I) δ = −g`` by Cholesky with ``μ = max(10 ‖g‖, 1e-12 s)`` (``s`` the largest
    diagonal entry of ``H``, at least 1): the gauge directions (row scalings and rotations
    of ``W`` leave ``G`` unchanged) carry curvature of the order of the gradient, of either
    sign, and a shift ``μ = O(‖g‖)`` keeps the convergence quadratic (Levenberg–Marquardt).
    A step is kept if it does not increase the loss beyond rounding; otherwise ``μ`` grows
    ×100.  Rows of ``W`` are renormalised after each step (gauge).  The Hessian is formed
    only where another step is needed.  Once the gap bound is ``<= target`` but still above
    twice its own error floor (``GRAD_RTOL ‖∇L‖_F (tr G + n)``), one more step with the
    last Hessian (no new one) is taken and kept if it lowers the bound.
    No step is taken (``steps = 0``) when the gap bound at ``W`` exceeds ``gate`` (Newton's
    region of fast convergence not reached yet).
    Returns ``(W, steps, best (gap, W, cert))`` with the lowest gap bound seen, or
    ``(W, 0, None)`` if the objective has no Hessian (Laplace engine).
    """
    n, q = W.shape
    if getattr(objective, "_table", None) is None:
        return W, 0, None
    W = W / np.sqrt(np.einsum("ij,ij->i", W, W))[:, None]  # gauge: unit rows
    f, g, G, M = _lifted_first_order(objective, W, d)
    cert = _certificate(G, M)
    best = (cert.gap, W, cert)
    if cert.gap <= target or cert.gap > gate:
        return W, 0, best
    H = None  # Hessian at W (None: not formed yet)
    H_last = None  # the last Hessian formed
    scale = None
    steps = 0
    boost = 1.0
    extra = False
    while steps < max_steps:
        if best[0] <= target:
            floor = GRAD_RTOL * math.sqrt(float(np.einsum("ij,ij->", M, M))) * (float(np.trace(G)) + n)
            if extra or best[1] is not W or H_last is None or best[0] <= 2.0 * floor:
                break
            extra = True  # one more step with the last Hessian
        if H is None and not extra:
            H = _lifted_newton(objective, W, d)[2]
            H_last, g_norm_H = H, math.sqrt(float(g @ g))
            if scale is None:
                scale = max(1.0, float(np.max(np.abs(np.diag(H)))))
        Hs = H if H is not None else H_last
        steps += 1
        # the shift follows the gradient where the Hessian was formed (its indefiniteness)
        mu = boost * max(10.0 * max(g_norm_H, math.sqrt(float(g @ g))), 1e-12 * scale)
        Hmu = Hs.copy()
        Hmu.flat[:: Hs.shape[0] + 1] += mu
        try:
            delta = linalg.cho_solve(linalg.cho_factor(Hmu, check_finite=False, overwrite_a=True), -g,
                                     check_finite=False)
        except linalg.LinAlgError:  # H + μI not positive definite: shift more
            boost *= 100.0
            if extra or boost * mu > 1e-2 * scale:
                break
            continue
        W_new = W + delta.reshape(n, q)
        norms = np.sqrt(np.einsum("ij,ij->i", W_new, W_new))
        if not float(norms.min()) > 1e-150:
            boost *= 100.0
            if extra:
                break
            continue
        W_new /= norms[:, None]  # gauge: unit rows
        f_new, g_new, G_new, M_new = _lifted_first_order(objective, W_new, d)
        if not (np.isfinite(f_new) and np.all(np.isfinite(M_new))):
            boost *= 100.0
            if extra:
                break
            continue
        cert = _certificate(G_new, M_new)
        if cert.gap < best[0]:
            best = (cert.gap, W_new, cert)
        if extra:
            break
        if f_new <= f + 4.0 * _EPS * abs(f):  # descent (to rounding): keep the Newton iterate
            W, f, g, G, M = W_new, f_new, g_new, G_new, M_new
            H = None
            boost = 1.0
        else:
            boost *= 100.0
            if boost * mu > 1e-2 * scale:
                break
    return best[1], steps, best


def _gap_inputs(objective, W: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """``(G, ∇L(G))`` at the Gram matrix of ``W`` (feasible, symmetric by construction)."""
    G = _gram_of(W, d)[1]
    evaluate = getattr(objective, "_evaluate_unchecked", None)
    if evaluate is None:
        g = objective.grad(G)
        return G, 0.5 * (g + g.T)
    return G, evaluate(G, True)[1]


def _gram_of(W: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    U = W / np.sqrt(np.einsum("ij,ij->i", W, W))[:, None]
    V = np.ascontiguousarray(U[:, :d])
    G = V @ V.T
    return V, 0.5 * (G + G.T)


def _structured_start(model: LatentClassModel, d: int, gen: np.random.Generator, scale: float):
    """Class-posterior mixture of simplex vertices, lifted (slack column), perturbed."""
    m, n = model.n_classes, model.n_points
    S = simplex(m)  # (m, m-1)
    joint = model.class_probs[:, None] * model.class_conditionals  # (m, n)
    D = joint.sum(axis=0)
    post = np.divide(joint, D, out=np.zeros_like(joint), where=D > 0)  # P(c | x)
    V0 = post.T @ S  # (n, m-1), norms <= 1
    V = np.zeros((n, d))
    cols = min(d, m - 1)
    V[:, :cols] = V0[:, :cols]
    norms2 = np.einsum("ij,ij->i", V, V)
    V *= np.minimum(1.0, 1.0 / np.sqrt(np.maximum(norms2, 1e-300)))[:, None]
    z = np.sqrt(np.maximum(0.0, 1.0 - np.einsum("ij,ij->i", V, V)))
    W = np.hstack([V, z[:, None]])
    W += scale * gen.standard_normal(W.shape)
    return W


def _centred_start(model: LatentClassModel) -> np.ndarray | None:
    """Gram matrix of the class-posterior mixture of the *ρ-centred* simplex vertices
    ``(e_c − ρ) / ‖e_c − ρ‖`` (rows normalised; ``None`` if a row vanishes).

    ``Σ_c ρ_c ‖e_c − ρ‖ s_c = 0``: the class vectors span a simplex centred at the ρ-weighted
    mean, the regular simplex for uniform ``ρ``, close to the non-uniform optima (corank one).
    """
    rho = model.class_probs
    S = np.eye(rho.size) - rho[None, :]
    S /= np.sqrt(np.einsum("ij,ij->i", S, S))[:, None]
    joint = rho[:, None] * model.class_conditionals
    D = joint.sum(axis=0)
    post = np.divide(joint, D, out=np.zeros_like(joint), where=D > 0)
    V = post.T @ S
    norms = np.sqrt(np.einsum("ij,ij->i", V, V))
    if not float(norms.min()) > 1e-8:
        return None
    V /= norms[:, None]
    G = V @ V.T
    G = 0.5 * (G + G.T)
    np.fill_diagonal(G, 1.0)
    return G


def _gram_newton(model, objective, target):
    """Fast path for small problems with an exact Hessian: Newton's method on the optimality
    conditions in Gram space (:func:`latentclass._newton.kkt_newton`) from
    :func:`_centred_start`, then the feasible factor ``F`` (eigenvalues of ``G`` clipped at 0,
    rows normalised), ``gram = F Fᵀ`` and its certificate.  Returns
    ``(F, gram, loss, certificate, steps)`` if the gap bound is ``<= target``, else ``None``
    (the general solver takes over; also for objectives without a Hessian or too large)."""
    n, table = model.n_points, objective._table
    if table is None or n * (n + 1) // 2 > _GRAM_NEWTON_MAX_VARS or table.px.size * n * n > _NEWTON_MAX_HESS:
        return None
    G0 = _centred_start(model)
    if G0 is None:
        return None
    out = kkt_newton(objective._second_order, G0)
    if out is None:
        return None
    G, steps = out
    w, U = np.linalg.eigh(G)
    F = U[:, ::-1] * np.sqrt(np.maximum(w[::-1], 0.0))
    F /= np.sqrt(np.einsum("ij,ij->i", F, F))[:, None]
    G = F @ F.T
    G = 0.5 * (G + G.T)
    f, M = objective._evaluate_unchecked(G, True)
    cert = _certificate(G, M)
    if not cert.gap <= target:
        return None
    return F, G, float(f), cert, steps


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
            S.clear(), Y.clear()
            p = -g
            d0 = float(g @ p)
            if not d0 < 0:
                break
        if not S:
            p *= 1e-3 / max(1e-300, float(np.max(np.abs(p))))
            d0 = float(g @ p)
        # secant search for a root of φ'(α), bracketed when possible
        a_lo, d_lo = 0.0, d0
        a_hi, d_hi = None, None
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
                alpha = min(4.0 * alpha, a_lo - d_lo * a_lo / (d_lo - d0)) if d_lo > d0 else 4.0 * alpha
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
                S.pop(0), Y.pop(0)
        if it % 5 == 0 and check(x):
            break
    return x, it


def _random_start(n: int, d: int, gen: np.random.Generator):
    W = gen.standard_normal((n, d + 1))
    W[:, d] *= 0.1  # start near the sphere
    return W


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
    fg = _lifted_fg(objective, n, d)

    def rescale(W):
        return W * (row_scale / np.sqrt(np.einsum("ij,ij->i", W, W)))[:, None]

    W = rescale(W0)
    n_iter = 0
    status = ""
    best = None  # (gap, W, cert)
    table = getattr(objective, "_table", None)
    newton = (target is not None and table is not None and n * (d + 1) <= _NEWTON_MAX_VARS
              and table.px.size * n * n <= _NEWTON_MAX_HESS)
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
            options={"maxiter": maxiter, "maxcor": 30, "ftol": 0.0 if short else 10 * _EPS,
                     "gtol": tol, "maxfun": 2 * maxiter + 20},
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
        if best[0] <= target:
            break
        if short and res.nit >= _NEWTON_AFTER:
            continue  # the cut round was still descending: a full L-BFGS round next
        # gradient-only polish, stopped at the target or when the gap stagnates
        track = {"best": best, "stall": 0}

        def check(w):
            Wc = rescale(w.reshape(n, d + 1))
            c = certify(objective, _gram_of(Wc, d)[1])
            if c.gap < 0.9 * track["best"][0]:
                track["stall"] = 0
            else:
                track["stall"] += 1
            if c.gap < track["best"][0]:
                track["best"] = (c.gap, Wc, c)
            return c.gap <= target or track["stall"] >= 4

        budget = max_iter - n_iter
        if budget <= 0:
            break
        w, it = _polish(fg, W.ravel(), budget, check)
        n_iter += it
        status += f"; gradient-only polish: {it} iterations"
        improved = track["best"][0] < best[0]
        best = track["best"]
        W = best[1]
        if best[0] <= target or (not improved and res.nit == 0):
            break
    if target is None:
        return W, n_iter, status, None
    return best[1], n_iter, status, best[2]


def _check_tol(value: Any, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive real number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def _make_objective(model, k, tau):
    return NCEObjective(model, k, tau)


def _solve_factored(model, objective, k, tau, d, starts, init, gen, tol, max_iter, target):
    """The general solver: ``starts`` runs of :func:`_run_lbfgs` on the lifted sphere (after a
    solve of the limit objective for ``k >= _WARM_K``); returns the lowest loss as
    ``(f, V, G, status, certificate or None, iterations)``."""
    n = model.n_points
    mass = np.asarray(model.marginal, dtype=float)
    row_scale = np.sqrt(np.where(mass > 0, mass / mass.max(), 1.0))
    warm = k != math.inf and k >= _WARM_K
    limit_objective = _make_objective(model, math.inf, tau) if warm else None
    best = None
    total_iter = 0
    for s in range(starts):
        if s == 0 and init == "structured":
            W0 = _structured_start(model, d, gen, 1e-3)
        else:
            W0 = _random_start(n, d, gen)
        if warm:
            # continuation: the limit objective L_∞ (no quadrature, cheap) has an optimum
            # within O(1/k) of the L_k optimum; solve it first and start from there
            W0, it, _, _ = _run_lbfgs(limit_objective, W0, d, tol, max_iter, target,
                                      max_rounds=2 if target is not None else 1, row_scale=row_scale)
            total_iter += it
        W, it, status, cert = _run_lbfgs(objective, W0, d, tol, max_iter, target,
                                         max_rounds=8 if target is not None else 3, row_scale=row_scale)
        total_iter += it
        V, G = _gram_of(W, d)
        f = float(objective.value(G))
        if best is None or f < best[0]:
            best = (f, V, G, status, cert)
    return (*best, total_iter)


# --------------------------------------------------------------------------- public entry
def optimal_representation(
    model: LatentClassModel,
    k: Any,
    tau: float = 1.0,
    dim: int | None = None,
    method: str = "auto",
    rng: Any = 0,
    tol: float = 1e-10,
    *,
    n_restarts: int = 5,
    certify_tol: float = CERTIFY_TOL,
    max_iter: int = 20000,
    init: str = "structured",
    polish_target: float = 1e-3,
) -> OptimalRepresentation:
    """Representation minimising the population NCE loss ``L_k`` (SPEC §4, §5).

    Solves ``min L_k(G)`` s.t. ``G ⪰ 0``, ``diag(G) ≤ 1``, ``rank(G) ≤ dim`` and certifies the
    result for the convex problem (no rank constraint) with :func:`certify`.

    Parameters
    ----------
    model : LatentClassModel
        Finite model (class level or point level, disjoint or overlapping).
    k : int or math.inf
        Number of negatives (``math.inf``: the limit objective ``L_∞`` of SPEC §3).
    tau : float
        Temperature ``τ > 0``.
    dim : int, optional
        Dimension ``d`` of the representation, ``1 <= d <= n``.  ``None``: ``d = n`` for the
        numerical solver (convex problem), ``m − 1`` for the closed form.
    method : {"auto", "closed-form", "numerical"}
        ``"auto"``: the closed form (every point on its class vertex of :func:`simplex`)
        when ``ρ`` is uniform, the supports are disjoint and ``dim`` is ``None`` or
        ``>= m − 1``; the numerical solver otherwise.  ``"closed-form"`` raises
        ``ValueError`` where it does not apply.  ``"numerical"`` always solves.
    rng : seed or numpy.random.Generator
        Perturbation of the start and random restarts.
    tol : float
        L-BFGS tolerance on the projected gradient (``gtol``), ``> 0``.
    n_restarts : int
        Starts when ``dim < n`` (rank-constrained, non-convex); the lowest loss is kept.
        With ``dim = n`` one structured start is used.
    certify_tol : float
        ``certified`` is True iff the duality-gap bound is ``<= certify_tol``.
    max_iter : int
        Iteration budget of L-BFGS per start (over all rounds).
    init : {"structured", "random"}
        First start: the class-posterior mixture of simplex vertices (perturbed) or a
        random point.  With ``"structured"`` and ``dim = n`` the Gram-space Newton fast path
        (module docstring) is tried first; ``tol`` and ``max_iter`` concern L-BFGS only.
    polish_target : float
        The solver keeps refining (L-BFGS rounds and a gradient-only polish) until the gap
        bound is ``<= polish_target · certify_tol`` or it stops improving.

    Returns
    -------
    OptimalRepresentation
        ``loss`` is ``NCEObjective.value(gram)`` (numerical) or :func:`simplex_loss`
        (closed form); ``duality_gap`` is the bound of :func:`certify`.
    """
    if not isinstance(model, LatentClassModel):
        raise TypeError(f"model must be a LatentClassModel, got {type(model).__name__}")
    k = check_k(k, allow_inf=True)
    tau = check_tau(tau)
    method = check_choice(method, "method", _METHODS)
    init = check_choice(init, "init", ("structured", "random"))
    n, m = model.n_points, model.n_classes
    if dim is not None:
        dim = check_integer(dim, "dim", minimum=1)
        if dim > n:
            raise ValueError(f"dim must be an integer between 1 and n_points={n}, got {dim}")
    tol = _check_tol(tol, "tol")
    certify_tol = _check_tol(certify_tol, "certify_tol")
    polish_target = _check_tol(polish_target, "polish_target")
    n_restarts = check_integer(n_restarts, "n_restarts", minimum=1)
    max_iter = check_integer(max_iter, "max_iter", minimum=1)
    gen = as_generator(rng)

    closed_ok = model.is_uniform and model.is_disjoint and (dim is None or dim >= m - 1)
    if method == "closed-form" and not closed_ok:
        why = []
        if not model.is_uniform:
            why.append("class_probs is not uniform")
        if not model.is_disjoint:
            why.append("the supports are not disjoint")
        if dim is not None and dim < m - 1:
            why.append(f"dim={dim} < m - 1 = {m - 1}")
        raise ValueError(
            "method='closed-form' applies only to uniform class_probs, disjoint supports and "
            f"dim None or >= m - 1; here {', '.join(why)}"
        )
    objective = _make_objective(model, k, tau)

    if method in ("auto", "closed-form") and closed_ok:
        d = m - 1 if dim is None else dim
        F = np.zeros((n, d))
        F[:, : m - 1] = simplex(m)[model.point_classes]
        G = F @ F.T
        G = 0.5 * (G + G.T)
        cert = certify(objective, G)
        certified = cert.gap <= certify_tol
        msg = (
            "closed form (SPEC §5): every point on its class vertex of the regular simplex; "
            f"duality-gap bound {cert.gap:.3g} "
            + ("<=" if certified else ">")
            + f" certify_tol={certify_tol:.3g}"
        )
        return OptimalRepresentation(
            readonly(F), readonly(G), simplex_loss(m, k, tau), cert.gap, bool(certified),
            cert.multipliers, "closed-form", 0, msg,
        )

    d = n if dim is None else dim
    convex = d >= n
    starts = 1 if convex else n_restarts
    target = polish_target * certify_tol if convex else None
    fast = _gram_newton(model, objective, target) if convex and init == "structured" else None
    if fast is not None:
        V, G, f, cert, total_iter = fast
        status = f"Gram-space Newton: {total_iter} steps"
    else:
        f, V, G, status, cert, total_iter = _solve_factored(
            model, objective, k, tau, d, starts, init, gen, tol, max_iter, target)
    if cert is None:
        cert = certify(objective, G)
    certified = bool(cert.gap <= certify_tol and np.all(cert.multipliers >= 0))
    rel = "<=" if certified else ">"
    if convex:
        msg = (
            f"{'certified global optimum' if certified else 'not certified'}: duality-gap bound "
            f"{cert.gap:.3g} {rel} certify_tol={certify_tol:.3g} ({status})"
        )
    elif certified:
        msg = (
            f"the rank-{d} solution (best of {starts} starts) is globally optimal: its convex "
            f"duality-gap bound {cert.gap:.3g} <= certify_tol={certify_tol:.3g}, so the rank "
            "constraint is not binding"
        )
    else:
        msg = (
            f"not certified: rank-constrained (dim={d} < n={n}) non-convex problem, best of "
            f"{starts} starts; the convex duality-gap bound {cert.gap:.3g} > "
            f"certify_tol={certify_tol:.3g}, so the rank constraint may bind or the start "
            "was poor"
        )
    return OptimalRepresentation(
        readonly(V), readonly(G), f, cert.gap, certified, cert.multipliers, "numerical",
        total_iter, msg,
    )
