"""The lifted-sphere parametrisation of the Burer–Monteiro solver and its Newton polish (SPEC §4).

``W ∈ R^{n×(d+1)}``, ``U = W / ‖W‖`` row-wise, ``V = U[:, :d]``, ``G = V Vᵀ``: the last column
of ``U`` is a slack ``z`` with ``‖v_x‖² = 1 − z_x²``, so the rows of ``W`` cover the feasible
set ``‖v_x‖ ≤ 1`` exactly and smoothly.  Here: the Gram matrix of ``W`` (:func:`_gram_of`,
bit-identical wherever it is reported and certified), the loss and its gradient in ``W``
(:func:`_lifted_fg` for ``scipy.optimize.minimize``, :func:`_lifted_first_order`), the exact
Hessian in ``W`` (:func:`_lifted_newton`) and the certificate-driven regularised Newton
steps built on it (:func:`_newton_finish`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import linalg

from ..certificate import _EPS, GRAD_RTOL, _certificate
from ..objective import second_order_cost, value_and_grad_fn


def _sphere(W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row norms ``r`` of ``W`` and the unit rows ``U = W / r``."""
    r = np.sqrt(np.einsum("ij,ij->i", W, W))
    return r, W / r[:, None]


def _gram_of(W: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """``(V, G)``: the representation ``V = U[:, :d]`` (contiguous) of ``W`` and ``G = V Vᵀ``
    symmetrised."""
    U = _sphere(W)[1]
    V = np.ascontiguousarray(U[:, :d])
    G = V @ V.T
    return V, 0.5 * (G + G.T)


def _sphere_gradient(
    M: np.ndarray, U: np.ndarray, V: np.ndarray, r: np.ndarray, d: int
) -> np.ndarray:
    """Gradient in ``W`` of ``L(V Vᵀ)`` from the symmetric gradient ``M = ∇L(G)``:
    ``∂/∂U = [2 M V, 0]``, projected on the tangent space of each unit row and divided by
    ``‖W_x‖`` (the Jacobian ``(I − U_x U_xᵀ) / r_x`` of the normalisation)."""
    gU = np.zeros_like(U)
    gU[:, :d] = 2.0 * (M @ V)
    gU -= U * np.einsum("ij,ij->i", gU, U)[:, None]
    gU /= r[:, None]
    return gU


def _lifted_fg(objective, n: int, d: int):
    """Loss and gradient as functions of the flattened lifted-sphere parameter ``W``."""

    # the protocol's unchecked path where offered: the Gram matrix built here is symmetric
    evaluate = value_and_grad_fn(objective)

    def fg(w: np.ndarray):
        r, U = _sphere(w.reshape(n, d + 1))
        V = U[:, :d]
        G = V @ V.T
        G += G.T
        G *= 0.5
        f, g = evaluate(G)  # symmetric gradient
        return float(f), _sphere_gradient(g, U, V, r, d).ravel()

    return fg


def _lifted_newton(objective, W: np.ndarray, d: int):
    """Loss, gradient and exact Hessian in the lifted-sphere parameter ``W`` (``(n, d+1)``).

    Needs the objective's entry-wise Hessian (the protocol's optional ``second_order``, e.g.
    :meth:`NCEObjective.second_order`, multiset engine); returns ``None`` otherwise.  Chain rule through ``G = V Vᵀ``, ``V = U[:, :d]``,
    ``U_x = W_x / r_x``: with ``Ġ = Ṽ Vᵀ + V Ṽᵀ``,
    ``d²f[Ṽ] = Σ_x Ġ[x, :] H_x Ġ[x, :]ᵀ + 2 ⟨M, Ṽ Ṽᵀ⟩`` (``H_x`` the Hessian block of row
    ``x``, ``M`` the symmetric gradient), then ``dU_x = P_x dW_x / r_x``
    (``P_x = I − U_x U_xᵀ``) and the curvature of the normalisation,
    ``g_xᵀ d²U_x[w] = −[2 (g_xᵀ P_x w)(U_xᵀ w) + (g_xᵀ U_x) wᵀ P_x w] / r_x²``.
    """
    n, q = W.shape
    r, U = _sphere(W)
    V, G = _gram_of(W, d)  # bit-identical to the Gram matrix that is reported and certified
    so = objective.second_order(G)
    if so is None:
        return None
    f, M, anchors, blocks = so
    # Jacobian of vec(G) (entry-wise, n²) in vec(V) (n d): J[x, y, z, a] = δ_xz V_ya + δ_yz V_xa
    ar = np.arange(n)
    J: np.ndarray = np.zeros((n, n, n, d))  # reshaped to (n, n, n d) below
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
    r, U = _sphere(W)
    V, G = _gram_of(W, d)
    f, M = value_and_grad_fn(objective)(G)
    return float(f), _sphere_gradient(M, U, V, r, d).ravel(), G, M


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
    if second_order_cost(objective) is None:
        return W, 0, None
    W = _sphere(W)[1]  # gauge: unit rows
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
            floor = (
                GRAD_RTOL * math.sqrt(float(np.einsum("ij,ij->", M, M))) * (float(np.trace(G)) + n)
            )
            if extra or best[1] is not W or H_last is None or best[0] <= 2.0 * floor:
                break
            extra = True  # one more step with the last Hessian
        if H is None and not extra:
            second = _lifted_newton(objective, W, d)
            if second is None:  # the protocol allows second_order(G) to return None here
                break
            H = second[2]
            H_last, g_norm_H = H, math.sqrt(float(g @ g))
            if scale is None:
                scale = max(1.0, float(np.max(np.abs(np.diag(H)))))
        Hs = H if H is not None else H_last
        # both are set on the first pass (the gap is above target there: H is formed)
        assert Hs is not None and scale is not None
        steps += 1
        # the shift follows the gradient where the Hessian was formed (its indefiniteness)
        mu = boost * max(10.0 * max(g_norm_H, math.sqrt(float(g @ g))), 1e-12 * scale)
        Hmu = Hs.copy()
        Hmu.flat[:: Hs.shape[0] + 1] += mu
        try:
            delta = linalg.cho_solve(
                linalg.cho_factor(Hmu, check_finite=False, overwrite_a=True), -g, check_finite=False
            )
        except linalg.LinAlgError:  # H + μI not positive definite: shift more
            boost *= 100.0
            if extra or boost * mu > 1e-2 * scale:
                break
            continue
        W_new = W + delta.reshape(n, q)
        norms = np.sqrt(np.einsum("ij,ij->i", W_new, W_new))
        usable = float(norms.min()) > 1e-150
        if usable:
            W_new /= norms[:, None]  # gauge: unit rows
            f_new, g_new, G_new, M_new = _lifted_first_order(objective, W_new, d)
            usable = bool(np.isfinite(f_new) and np.all(np.isfinite(M_new)))
        if not usable:  # a row of W vanished or the loss is not finite: shift more
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
    return G, value_and_grad_fn(objective)(G)[1]
