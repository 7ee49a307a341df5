"""The population hinge loss through the law of the maximum of iid scores (SPEC §8.2).

For one anchor ``x`` the ``k`` negatives ``Y_1..Y_k`` are iid with law ``D`` and the hinge
depends on them only through ``M = max_i u_{Y_i}`` (``u_y = G[x, y]/τ``).  Sort the support
of ``D`` by score, ``u_(1) <= … <= u_(s)``, with cumulative masses ``F_j = Σ_{i<=j} D_(i)``;
then ``P(the largest sorted position drawn is j) = F_j^k − F_{j−1}^k`` and

    ``E max(0, margin + M − s⁺) = Σ_j (F_j^k − F_{j−1}^k) max(0, margin + u_(j) − s⁺)``.

The cost per pair is ``O(s)``, independent of ``k``; ``k = ∞`` puts all mass on ``j = s``.
``F_j^k − F_{j−1}^k`` is formed as ``F_j^k · (−expm1(k log(F_{j−1}/F_j)))`` (no cancellation).
The derivative with respect to ``u_(j)`` on the pieces where the ordering and the signs are
fixed is ``(F_j^k − F_{j−1}^k)·1[margin + u_(j) − s⁺ > 0]``; at ties it is the expectation of a
measurable selection of per-outcome subgradients (the largest sorted position drawn), hence a
subgradient of the convex expectation (proofs/loss_family.md, §3).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["hinge_family"]

#: Elements of the ``(pairs, s)`` temporaries per chunk.
_CHUNK = 1 << 22


def max_law(sorted_D: np.ndarray, k: float) -> np.ndarray:
    """``F_j^k − F_{j−1}^k`` for rows of positive masses sorted by score (``(A, s)``)."""
    F = np.minimum(np.cumsum(sorted_D, axis=1), 1.0)
    F[:, -1] = 1.0  # the full mass is exactly 1
    if k == math.inf:
        out = np.zeros_like(F)
        out[:, -1] = 1.0
        return out
    if k == 1:
        return np.diff(F, axis=1, prepend=0.0)
    prev = np.zeros_like(F)
    prev[:, 1:] = F[:, :-1]
    has_prev = prev > 0
    logF = np.log(F)  # F > 0: every mass of the support is positive
    log_prev = np.log(np.where(has_prev, prev, 1.0))
    step = np.where(has_prev, -np.expm1(k * np.where(has_prev, log_prev - logF, 0.0)), 1.0)
    return np.exp(k * logF) * step


def hinge_family(
    U: np.ndarray,
    D: np.ndarray,
    k: float,
    anchor: np.ndarray,
    pos: np.ndarray,
    weight: np.ndarray,
    margin: float,
    need_grad: bool,
):
    """Population hinge of pairs ``p`` (anchor row ``anchor[p]`` of ``U``, positive score
    ``pos[p]``) and the derivatives of ``Σ_p w_p value_p``.

    Parameters
    ----------
    U : ndarray (A, n)
        Scores ``G[x, :]/τ`` of the anchors.
    D : ndarray (n,)
        Law of the negatives.
    k : int or inf
    anchor, pos, weight : ndarray (P,)
    margin : float
    need_grad : bool

    Returns
    -------
    vals : ndarray (P,)
    gU : ndarray (A, n) or None
        ``∂/∂U`` of ``Σ_p w_p vals_p``.
    gpos : ndarray (P,) or None
        ``∂/∂pos_p`` of the same sum.
    """
    supp = np.flatnonzero(D > 0)
    Us = U[:, supp]
    A, s = Us.shape
    if k == 1:  # one negative: the law of the maximum is D itself, no ordering needed
        order = None
        su = Us
        probs = np.broadcast_to(D[supp], (A, s))
    else:
        order = np.argsort(Us, axis=1)  # ties in any order: every choice is a subgradient
        su = np.take_along_axis(Us, order, axis=1)  # (A, s) sorted scores
        probs = max_law(D[supp][order], k)  # (A, s)
    P = anchor.size
    one_per_anchor = P == A and bool(np.all(anchor == np.arange(A)))
    vals = np.empty(P)
    gU = np.zeros(U.shape) if need_grad else None
    gpos = np.empty(P) if need_grad else None
    gsorted = np.zeros((A, s)) if need_grad else None
    rows = max(1, _CHUNK // max(1, s))
    for p0 in range(0, P, rows):
        sl = slice(p0, p0 + rows)
        a = anchor[sl]
        arg = (su if one_per_anchor and rows >= P else su[a]) - pos[sl, None]
        arg += margin
        pr = probs if one_per_anchor and rows >= P else probs[a]
        vals[sl] = np.einsum("ps,ps->p", pr, np.maximum(arg, 0.0))
        if need_grad:
            assert gsorted is not None and gpos is not None
            g = pr * (arg > 0)
            gpos[sl] = -weight[sl] * g.sum(axis=1)
            g *= weight[sl, None]
            if one_per_anchor:
                gsorted[a] = g
            else:
                np.add.at(gsorted, a, g)
    if need_grad:
        assert gU is not None and gsorted is not None
        if order is None:
            gU[:, supp] = gsorted
        else:
            contrib = np.empty_like(gsorted)
            np.put_along_axis(contrib, order, gsorted, axis=1)
            gU[:, supp] = contrib
    return vals, gU, gpos
