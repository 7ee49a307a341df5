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
from ..model import LatentClassModel, check_model
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

    def _repr_html_(self) -> str:
        """A table for Jupyter: value, dual lower bound, gap, feasibility."""
        from .._html import fields_html

        return fields_html(self)


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
    check_model(model)
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
    rows = px.size * ((1 << s) - 1) if s < 40 else math.inf
    if polymatroid and value - best_lower > 1e-12 * max(1.0, abs(value)) and (
        rows <= POLYMATROID_MAX_ROWS
    ):
        ind, f = _subset_caps(D[supp], k)
        for null_tol in _NULL_TOLS:
            sol = _lp_weights(G, px, pp, pw, supp, ind, f, lo.margin, tau, null_tol)
            if sol is None:
                continue
            lower, lam = _weights_bound(
                G, px, pp, pw, supp, ind, f, sol[0], sol[1], lo.margin, tau, value
            )
            if lower > best_lower:
                best_lower, best_lam = lower, lam
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


# --------------------------------------------------------------------------- polymatroid dual
#: Largest ``pairs × (2^s − 1)`` polymatroid constraints of the LP weights (above it the
#: piece-weight bound alone is used).
POLYMATROID_MAX_ROWS = 1 << 16
#: Relative eigenvalue levels of ``G`` below which an eigenvector spans the face of ``Z``.
_NULL_TOLS = (1e-10, 1e-7, 1e-5)


def _subset_caps(Dsupp: np.ndarray, k: float) -> tuple[np.ndarray, np.ndarray]:
    """Indicator rows of every nonempty subset ``S`` of the support and
    ``f(S) = 1 − (1 − D(S))^k = Pr(some negative lands in S)``."""
    s = Dsupp.size
    masks = np.arange(1, 1 << s)
    ind = ((masks[:, None] >> np.arange(s)[None, :]) & 1).astype(float)
    DS = np.minimum(ind @ Dsupp, 1.0)
    if k == math.inf:
        f = np.ones(DS.size)
    else:
        with np.errstate(divide="ignore"):
            f = -np.expm1(k * np.log1p(-DS))
        f = np.where(DS >= 1.0, 1.0, f)
    return ind, f


def _sym_index(n: int) -> np.ndarray:
    """``idx[i, j]``: the row of the upper-triangle entry ``(min(i,j), max(i,j))``."""
    iu = np.triu_indices(n)
    idx = np.zeros((n, n), dtype=np.intp)
    idx[iu] = np.arange(iu[0].size)
    idx[iu[1], iu[0]] = idx[iu]
    return idx


def _lp_weights(G, px, pp, pw, supp, ind, f, margin, tau, null_tol):
    """LP over the polymatroid weights ``w_p ∈ P(f)``, ``λ >= 0`` and a face-restricted
    PSD part: maximise ``μ Σ_p P_p Σ_y w_{p,y} − Σ λ − pen ‖E‖_1`` subject to
    ``Z(w, λ) = Q S Qᵀ + E`` with ``Q`` the near-null eigenvectors of ``G`` and ``S``
    diagonally dominant (an inner approximation of the dual SDP; any output is re-checked
    by :func:`_weights_bound`).  Returns ``(W (P, s), λ)`` or ``None``."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix, csr_matrix, hstack, vstack

    n = G.shape[0]
    P, s = px.size, supp.size
    ev, U = np.linalg.eigh(0.5 * (G + G.T))
    Q = U[:, ev <= null_tol * max(1.0, float(ev[-1]))]
    r = Q.shape[1]
    nt = n * (n + 1) // 2
    sidx = _sym_index(n)
    # columns: w (P s) | λ (n) | S upper (r(r+1)/2) | t off-diagonal (r(r−1)/2) | E+ | E−
    nw, nS = P * s, r * (r + 1) // 2
    nT = r * (r - 1) // 2
    off = np.cumsum([0, nw, n, nS, nT, nt, nt])
    # equality rows: Z_ij − (Q S Qᵀ)_ij − E+_ij + E−_ij = 0 for i <= j
    rows, cols, vals = [], [], []
    pcol = np.arange(P)[:, None] * s + np.arange(s)[None, :]  # (P, s)
    y = np.broadcast_to(supp[None, :], (P, s))
    x = np.broadcast_to(px[:, None], (P, s))
    xp = np.broadcast_to(pp[:, None], (P, s))
    c1 = np.where(x == y, 1.0, 0.5) * (pw[:, None] / tau)
    c2 = np.where(x == xp, 1.0, 0.5) * (pw[:, None] / tau)
    rows += [sidx[x, y].ravel(), sidx[x, xp].ravel()]
    cols += [pcol.ravel(), pcol.ravel()]
    vals += [c1.ravel(), -c2.ravel()]
    rows.append(sidx[np.arange(n), np.arange(n)])
    cols.append(off[1] + np.arange(n))
    vals.append(np.ones(n))
    if r:
        ia, ib = np.triu_indices(r)
        iu, ju = np.triu_indices(n)
        basis = Q[iu][:, ia] * Q[ju][:, ib]  # (nt, nS)
        basis = basis + np.where(ia != ib, 1.0, 0.0)[None, :] * (Q[iu][:, ib] * Q[ju][:, ia])
        bi, bj = np.nonzero(np.abs(basis) > 0)
        rows.append(bi)
        cols.append(off[2] + bj)
        vals.append(-basis[bi, bj])
    rows += [np.arange(nt), np.arange(nt)]
    cols += [off[4] + np.arange(nt), off[5] + np.arange(nt)]
    vals += [-np.ones(nt), np.ones(nt)]
    nv = int(off[-1])
    A_eq = coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(nt, nv)
    ).tocsr()
    # polymatroid rows: Σ_{y∈S} w_{p,y} <= f(S)
    ns = ind.shape[0]
    blk = csr_matrix(ind)
    A_poly = hstack(
        [
            vstack(
                [
                    hstack([csr_matrix((ns, p * s)), blk, csr_matrix((ns, (P - 1 - p) * s))])
                    for p in range(P)
                ]
            ),
            csr_matrix((P * ns, nv - nw)),
        ]
    )
    b_poly = np.tile(f, P)
    ub_blocks, b_ub = [A_poly], [b_poly]
    if r >= 2:  # S diagonally dominant: |S_ab| <= t_ab, Σ_b t_ab <= S_aa
        ia, ib = np.triu_indices(r)
        offd = np.flatnonzero(ia != ib)
        diag_pos = {int(a): int(j) for j, a in enumerate(ia) if ia[j] == ib[j]}
        R, C, V = [], [], []
        row = 0
        for t_j, j in enumerate(offd):
            for sign in (1.0, -1.0):
                R += [row, row]
                C += [off[2] + j, off[3] + t_j]
                V += [sign, -1.0]
                row += 1
        for a in range(r):
            for t_j, j in enumerate(offd):
                if ia[j] == a or ib[j] == a:
                    R.append(row)
                    C.append(off[3] + t_j)
                    V.append(1.0)
            R.append(row)
            C.append(off[2] + diag_pos[a])
            V.append(-1.0)
            row += 1
        ub_blocks.append(coo_matrix((V, (R, C)), shape=(row, nv)).tocsr())
        b_ub.append(np.zeros(row))
    A_ub = vstack(ub_blocks).tocsr()
    cost = np.zeros(nv)
    cost[:nw] = -margin * np.repeat(pw, s)
    cost[off[1] : off[2]] = 1.0
    cost[off[4] :] = 2.0 * n
    bounds = [(0.0, None)] * nv
    if r:
        ia, ib = np.triu_indices(r)
        for j in range(nS):
            if ia[j] != ib[j]:
                bounds[off[2] + j] = (None, None)
    res = linprog(
        cost,
        A_ub=A_ub,
        b_ub=np.concatenate(b_ub),
        A_eq=A_eq,
        b_eq=np.zeros(nt),
        bounds=bounds,
        method="highs",
    )
    if res.x is None:
        return None
    return res.x[:nw].reshape(P, s), res.x[off[1] : off[2]]


def _weights_bound(G, px, pp, pw, supp, ind, f, W, lam0, margin, tau, value):
    """Sound ``c − Σλ`` (minus rounding margins) for per-pair weights ``W`` on the support
    points: ``W`` is clipped to ``>= 0`` and scaled into the polymatroid ``P(f)`` with a
    relative margin ``1e-12`` (far above the rounding of ``w(S)`` and ``f(S)``), then ``λ``
    is ``max(λ0, 0)`` shifted by ``max(0, −λ_min(Z))`` as in :func:`_bound`."""
    n = G.shape[0]
    W = np.maximum(np.asarray(W, dtype=float), 0.0)
    ratio = (W @ ind.T) / f[None, :]  # (P, 2^s − 1)
    W = W * ((1.0 - 1e-12) / np.maximum(ratio.max(axis=1), 1.0))[:, None]
    wcoef = pw[:, None] * W
    c = float(margin * wcoef.sum())
    s = supp.size
    Dg = np.zeros((n, n))
    np.add.at(Dg, (np.repeat(px, s), np.tile(supp, px.size)), (wcoef / tau).ravel())
    np.add.at(Dg, (px, pp), -wcoef.sum(axis=1) / tau)
    M = 0.5 * (Dg + Dg.T)
    lam = np.maximum(np.asarray(lam0, dtype=float), 0.0)
    Z = M + np.diag(lam)
    zmin = float(np.linalg.eigvalsh(Z)[0])
    lam = lam + max(0.0, -zmin) + 4 * n * _EPS * float(np.linalg.norm(Z))
    n_terms = px.size * (s + 2) + n + 4
    err = _gamma(n_terms) * (
        abs(value) + abs(c) + float(lam.sum()) + float(np.abs(wcoef).sum()) * (margin + 2 / tau + 1)
    )
    return c - float(lam.sum()) - err, lam
