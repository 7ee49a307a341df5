"""A dual certificate for the population hinge loss: an LP over the PSD cone (SPEC §8.4).

The population hinge loss is an expectation of maxima of affine functions of ``G``:
for an outcome ``ω`` of the negatives,
``ℓ_ω(G) = max(0, max_i (margin + G[x, Y_i]/τ − G[x, x⁺]/τ))``.  For **any** convex weights
``θ_ω`` on its pieces (the constant ``0`` and the pieces of the drawn negatives),
``ℓ_ω(G') >= θ_ω · pieces(G')`` for every ``G'``; taking expectations gives an affine minorant
``L(G') >= c + ⟨M, G'⟩`` valid on all symmetric ``G'``, and for ``λ >= 0`` with
``M + Diag(λ) ⪰ 0`` every feasible ``G'`` has ``⟨M, G'⟩ >= −Σ λ``.  Hence

    ``L* >= c − Σ_x λ_x``   and   ``L(G) − L* <= L(G) − c + Σ_x λ_x``

(proofs/loss_family.md, §5).  The weights are read off ``G``: sort anchor ``x``'s support
scores, cut them into groups of (near-)ties, let the event "the largest drawn score lies in
group ``T``" (probability ``F_T^k − F_{T−}^k``) choose the piece of the *first* negative that
lands in ``T`` (it is ``y ∈ T`` with probability ``D(y)/D(T)``, whatever the other draws), with
weight ``a = 1`` on it if its value at ``G`` exceeds ``act_tol``, ``0`` below ``−act_tol``,
``1/2`` in between.  Any grouping and any ``a ∈ [0, 1]`` give a valid bound; these choices
make it tight at a minimiser with strictly signed pieces.  ``λ`` is chosen as in
:func:`latentclass.certify`, with the same floating-point margins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._engines.order_statistics import hinge_family, max_law
from .._validation import check_gram, check_k, check_tau, readonly
from ..model import LatentClassModel
from .objects import Hinge, resolve_loss

__all__ = ["HingeDualBound", "hinge_dual_bound"]

_EPS = float(np.finfo(float).eps)
#: Feasibility tolerance (as :data:`latentclass.certificate.FEAS_TOL`).
_FEAS_TOL = 1e-12


def _gamma(n: float) -> float:
    ne = n * _EPS
    return ne / (1.0 - ne) if ne < 0.5 else math.inf


@dataclass(frozen=True, repr=False)
class HingeDualBound:
    """Result of :func:`hinge_dual_bound`.

    Attributes
    ----------
    value : float
        ``L(G)``, the population hinge loss at ``G``.
    lower_bound : float
        A rigorous lower bound on ``min_𝒢 L`` (``c − Σ λ`` minus rounding margins).
    gap : float
        ``value − lower_bound`` (``>= 0``).
    multipliers : ndarray (n,)
        ``λ``.
    feasible : bool
        ``G`` passed the feasibility check (else ``gap`` is ``inf``).
    """

    value: float
    lower_bound: float
    gap: float
    multipliers: np.ndarray
    feasible: bool

    def __repr__(self) -> str:
        return (
            f"HingeDualBound(value={self.value:.12g}, lower_bound={self.lower_bound:.12g}, "
            f"gap={self.gap:.3g}, feasible={self.feasible})"
        )


def _feasible(G: np.ndarray) -> bool:
    n = G.shape[0]
    if float(np.max(np.abs(G - G.T))) > _FEAS_TOL or float(np.max(np.diag(G))) > 1 + _FEAS_TOL:
        return False
    ev = np.linalg.eigvalsh(0.5 * (G + G.T))
    return bool(ev[0] >= -(_FEAS_TOL + 4 * n * _EPS) * max(1.0, float(ev[-1])))


def hinge_dual_bound(
    model: LatentClassModel,
    G: np.ndarray,
    k: int | float,
    tau: float = 1.0,
    loss: Hinge | str = "hinge",
    *,
    tie_tol: float = 1e-9,
    act_tol: float = 1e-9,
) -> HingeDualBound:
    """Certified upper bound on ``L(G) − min L`` for the population hinge loss (SPEC §8.4).

    Parameters
    ----------
    model : LatentClassModel
    G : ndarray (n, n)
        A feasible Gram matrix (symmetric PSD, ``diag <= 1``).
    k : int or math.inf
    tau : float
    loss : Hinge or "hinge"
    tie_tol, act_tol : float
        Scores within ``tie_tol`` of their sorted neighbour share a group; pieces within
        ``act_tol`` of 0 get weight ``1/2`` (any values give a valid bound).

    Returns
    -------
    HingeDualBound
        ``gap = L(G) − c + Σλ`` plus rounding margins (``inf`` for an infeasible ``G``).
    """
    if not isinstance(model, LatentClassModel):
        raise TypeError(f"model must be a LatentClassModel, got {type(model).__name__}")
    lo = resolve_loss(loss)
    if not isinstance(lo, Hinge):
        raise ValueError(f"loss must be a Hinge, got {lo!r}")
    k = check_k(k, allow_inf=True)
    tau = check_tau(tau)
    n = model.n_points
    G = np.array(check_gram(G, n), dtype=float)
    Pm = np.asarray(model.pair_probs, dtype=float)
    px, pp = np.nonzero(Pm > 0)
    pw = Pm[px, pp]
    D = np.asarray(model.marginal, dtype=float)
    anchors, inv = np.unique(px, return_inverse=True)
    Gs = G / tau
    vals, _, _ = hinge_family(Gs[anchors], D, k, inv, Gs[px, pp], pw, lo.margin, False)
    value = float(pw @ vals)
    if not _feasible(G):
        return HingeDualBound(value, -math.inf, math.inf, readonly(np.zeros(n)), False)
    supp = np.flatnonzero(D > 0)
    U = Gs[anchors][:, supp]  # (A, s)
    order = np.argsort(U, axis=1, kind="stable")
    su = np.take_along_axis(U, order, axis=1)
    sD = D[supp][order]
    A, s = su.shape
    # groups: a new group starts where the sorted score jumps by more than tie_tol
    new = np.ones((A, s), bool)
    new[:, 1:] = np.diff(su, axis=1) > tie_tol * np.maximum(1.0, np.abs(su[:, 1:]))
    gid = np.cumsum(new, axis=1) - 1  # (A, s) group index per sorted position
    n_groups = gid[:, -1] + 1
    gmass = np.zeros((A, s))
    np.add.at(gmass, (np.repeat(np.arange(A), s), gid.ravel()), sD.ravel())
    # group law of the largest drawn score: max_law on the group masses (padded with 0s)
    padded = np.where(np.arange(s)[None, :] < n_groups[:, None], gmass, 0.0)
    glaw = np.zeros((A, s))
    for a_count in np.unique(n_groups):  # rows with the same number of groups (<= s batches)
        rows = np.flatnonzero(n_groups == a_count)
        glaw[rows, :a_count] = max_law(padded[rows, :a_count], k)
    # per sorted position: p_T D(y)/D(T)
    coef = glaw[np.arange(A)[:, None], gid] * sD / gmass[np.arange(A)[:, None], gid]  # (A, s)
    pos = Gs[px, pp]
    piece = lo.margin + su[inv] - pos[:, None]  # (P, s) value of each point's piece at G
    # a per (pair, group): decided by the group's largest piece value
    gpiece = np.full((px.size, s), -np.inf)
    np.maximum.at(gpiece, (np.repeat(np.arange(px.size), s), gid[inv].ravel()), piece.ravel())
    gval = np.take_along_axis(gpiece, gid[inv], axis=1)
    best_lower, best_lam = -math.inf, np.zeros(n)
    for a_mid in (0.0, 0.5, 1.0):  # weight of the pieces within act_tol of 0: any is valid
        a = np.where(gval > act_tol, 1.0, np.where(gval < -act_tol, 0.0, a_mid))
        lower, lam = _bound(
            model, G, px, pp, pw, supp, order, inv, coef, a, lo.margin, tau, value, s
        )
        if lower > best_lower:
            best_lower, best_lam = lower, lam
        if not np.any(np.abs(gval) <= act_tol):
            break
    return HingeDualBound(value, best_lower, max(0.0, value - best_lower), readonly(best_lam), True)


def _bound(model, G, px, pp, pw, supp, order, inv, coef, a, margin, tau, value, s):
    """``c − Σλ`` minus rounding margins for the piece weights ``a`` (module docstring)."""
    n = G.shape[0]
    wcoef = pw[:, None] * a * coef[inv]  # (P, s): weight of the piece of sorted point j
    c = float(margin * wcoef.sum())
    Dg = np.zeros((n, n))
    cols = supp[order][inv]  # (P, s) the point at each sorted position
    np.add.at(Dg, (np.repeat(px, s), cols.ravel()), (wcoef / tau).ravel())
    np.add.at(Dg, (px, pp), -wcoef.sum(axis=1) / tau)
    M = 0.5 * (Dg + Dg.T)
    # multipliers as in certify: stationarity on the range of G, then a PSD shift
    d = np.diag(G)
    MG = np.einsum("ij,ji->i", M, G)
    lam = np.where(d > 1e-9, -MG / np.where(d > 1e-9, d, 1.0), 0.0)
    lam = np.maximum(lam, 0.0)
    Z = M + np.diag(lam)
    zmin = float(np.linalg.eigvalsh(Z)[0])
    lam = lam + max(0.0, -zmin) + 4 * n * _EPS * float(np.linalg.norm(Z))
    # rounding margins: the terms of value, c and Σλ
    n_terms = px.size * (s + 2) + n + 4
    err = _gamma(n_terms) * (
        abs(value) + abs(c) + float(lam.sum()) + float(np.abs(wcoef).sum()) * (margin + 2 / tau + 1)
    )
    return c - float(lam.sum()) - err, lam
