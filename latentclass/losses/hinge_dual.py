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
from .._validation import check_gram, check_integer, check_k, check_tau, readonly
from ..model import LatentClassModel, check_model
from .objects import Hinge, resolve_loss

__all__ = ["HingeDualBound", "HingeRefinement", "hinge_dual_bound", "refine_hinge_gram"]

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
    polymatroid: bool = True,
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
    polymatroid : bool, default True
        When the piece-weight bound leaves a gap, also solve the LP over the polymatroid
        weights (up to :data:`POLYMATROID_MAX_ROWS` constraints) and keep the better bound.

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
    n_rows = px.size * ((1 << s) - 1) if s < 40 else math.inf
    if (
        polymatroid
        and value - best_lower > 1e-12 * max(1.0, abs(value))
        and (n_rows <= POLYMATROID_MAX_ROWS)
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
            if value - best_lower <= 1e-10 * max(1.0, abs(value)):
                break  # tight to rounding: the other face tolerances cannot help
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
POLYMATROID_MAX_ROWS = 1 << 13
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
    off = [int(v) for v in np.cumsum([0, nw, n, nS, nT, nt, nt])]
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
        R: list[int] = []
        C: list[int] = []
        V: list[float] = []
        row = 0
        for t_j, j in enumerate(offd.tolist()):
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
    bounds: list[tuple[float | None, float | None]] = [(0.0, None)] * nv
    if r:
        ia, ib = np.triu_indices(r)
        for jj in range(nS):
            if ia[jj] != ib[jj]:
                bounds[off[2] + jj] = (None, None)
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


# --------------------------------------------------------------------------- primal LP polish
def _primal_lp(Gc, px, pp, pw, supp, ind, f, margin, tau, radius, null_tol, cuts=()):
    """One sequential-LP step: ``min_G Σ_p P_p Σ_S α_{p,S} f(S)`` subject to
    ``Σ_{S∋y} α_{p,S} >= margin + (G_xy − G_xx⁺)/τ`` (the polymatroid LP form of the
    population hinge, exact: its value at fixed ``G`` is ``L(G)``), ``diag G <= 1``,
    ``|G − Gc|_∞ <= radius`` and the PSD cone linearised at ``Gc``: ``Qᵀ G Q`` diagonally
    dominant for ``Q`` the near-null eigenvectors of ``Gc``.  Returns ``G`` or ``None``."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix, csr_matrix, hstack, vstack

    n = Gc.shape[0]
    P, s = px.size, supp.size
    ns = ind.shape[0]
    nt = n * (n + 1) // 2
    sidx = _sym_index(n)
    iu, ju = np.triu_indices(n)
    na = P * ns
    # columns: α (P ns) | g (nt) | t (Q-block off-diagonal bounds)
    ev, U = np.linalg.eigh(0.5 * (Gc + Gc.T))
    Q = U[:, ev <= null_tol * max(1.0, float(ev[-1]))]
    r = Q.shape[1]
    qa, qb = np.triu_indices(r)
    offd = np.flatnonzero(qa != qb)
    nv = na + nt + offd.size
    # coverage rows (p, y): −Σ_{S∋y} α_{p,S} + (g_{xy} − g_{xx⁺})/τ <= −margin
    blk = csr_matrix(-ind.T)  # (s, ns)
    A_alpha = vstack(
        [
            hstack([csr_matrix((s, p * ns)), blk, csr_matrix((s, (P - 1 - p) * ns))])
            for p in range(P)
        ]
    )
    rr = np.arange(P * s)
    x = np.repeat(px, s)
    y = np.tile(supp, P)
    xp = np.repeat(pp, s)
    R = np.concatenate([rr, rr])
    C = np.concatenate([sidx[x, y], sidx[x, xp]])
    V = np.concatenate([np.full(rr.size, 1.0 / tau), np.full(rr.size, -1.0 / tau)])
    A_g = coo_matrix((V, (R, C)), shape=(P * s, nt)).tocsr()
    A_cov = hstack([A_alpha, A_g, csr_matrix((P * s, offd.size))])
    blocks, rhs = [A_cov], [np.full(P * s, -margin)]
    if r:
        # (Qᵀ G Q)_ab = Σ_{i<=j} g_ij (Q_ia Q_jb + [i≠j] Q_ja Q_ib)
        coef = Q[iu][:, qa] * Q[ju][:, qb] + np.where(iu != ju, 1.0, 0.0)[:, None] * (
            Q[ju][:, qa] * Q[iu][:, qb]
        )  # (nt, r(r+1)/2)
        rows = []
        for j in offd:  # ±(QᵀGQ)_ab − t_ab <= 0
            for sign in (1.0, -1.0):
                row = np.zeros(nv)
                row[na : na + nt] = sign * coef[:, j]
                row[na + nt + int(np.flatnonzero(offd == j)[0])] = -1.0
                rows.append(row)
        for a in range(r):  # Σ_b t_ab − (QᵀGQ)_aa <= 0
            row = np.zeros(nv)
            jd = int(np.flatnonzero((qa == a) & (qb == a))[0])
            row[na : na + nt] = -coef[:, jd]
            for t_j, j in enumerate(offd):
                if qa[j] == a or qb[j] == a:
                    row[na + nt + t_j] = 1.0
            rows.append(row)
        blocks.append(csr_matrix(np.array(rows)))
        rhs.append(np.zeros(len(rows)))
    if len(cuts):  # PSD cuts vᵀ G v >= 0 (valid for every feasible G)
        Vc = np.asarray(cuts, dtype=float)  # (c, n)
        cut = -(Vc[:, iu] * Vc[:, ju]) * np.where(iu != ju, 2.0, 1.0)[None, :]
        blocks.append(
            hstack(
                [
                    csr_matrix((Vc.shape[0], na)),
                    csr_matrix(cut),
                    csr_matrix((Vc.shape[0], offd.size)),
                ]
            )
        )
        rhs.append(np.zeros(Vc.shape[0]))
    g0 = Gc[iu, ju]
    bounds = [(0.0, None)] * na
    for i, j, v in zip(iu, ju, g0):
        lo_b, hi_b = v - radius, v + radius
        hi_b = min(hi_b, 1.0)
        lo_b = max(lo_b, -1.0)
        if i == j:
            lo_b = max(lo_b, 0.0)
        bounds.append((lo_b, max(lo_b, hi_b)))
    bounds += [(0.0, None)] * offd.size
    cost = np.zeros(nv)
    cost[:na] = np.repeat(pw, ns) * np.tile(f, P)
    res = linprog(
        cost,
        A_ub=vstack(blocks).tocsr(),
        b_ub=np.concatenate(rhs),
        bounds=bounds,
        method="highs",
    )
    if res.x is None:
        return None
    G = np.zeros((n, n))
    G[iu, ju] = res.x[na : na + nt]
    G[ju, iu] = res.x[na : na + nt]
    # the LP's dual: coverage multipliers / P_p are polymatroid weights, the multipliers of
    # diag <= 1 are λ (re-checked soundly by _weights_bound)
    W = -np.asarray(res.ineqlin.marginals)[: P * s].reshape(P, s) / pw[:, None]
    lam = np.zeros(n)
    dcols = np.flatnonzero(iu == ju)
    lam[iu[dcols]] = -np.asarray(res.upper.marginals)[na + dcols]
    return G, W, lam


def _to_feasible(G: np.ndarray) -> np.ndarray:
    """Nearest PSD matrix (eigenvalues clipped at 0) with rows scaled so that ``diag <= 1``."""
    ev, U = np.linalg.eigh(0.5 * (G + G.T))
    F = U * np.sqrt(np.maximum(ev, 0.0))
    norms = np.linalg.norm(F, axis=1)
    F = F / np.maximum(norms, 1.0)[:, None]
    H = F @ F.T
    return 0.5 * (H + H.T)


@dataclass(frozen=True, repr=False)
class HingeRefinement:
    """Result of :func:`refine_hinge_gram`.

    Attributes
    ----------
    gram : ndarray (n, n)
        The refined feasible Gram matrix (``L(gram) <= L(G)`` of the input).
    factor : ndarray (n, n)
        ``F`` with ``F Fᵀ = gram`` (rows of norm ``<= 1``).
    value : float
        ``L(gram)``.
    bound : HingeDualBound
        :func:`hinge_dual_bound` at ``gram``.
    n_lp : int
        Sequential-LP steps taken.
    """

    gram: np.ndarray
    factor: np.ndarray
    value: float
    bound: HingeDualBound
    n_lp: int

    def __repr__(self) -> str:
        return (
            f"HingeRefinement(value={self.value:.12g}, gap={self.bound.gap:.3g}, n_lp={self.n_lp})"
        )

    def _repr_html_(self) -> str:
        """A table for Jupyter: value, the dual bound's gap and feasibility, LP steps."""
        from .._html import fields_html

        return fields_html(
            self,
            fields=("value", "n_lp", "gram", "factor"),
            extra=(("gap", self.bound.gap), ("feasible", self.bound.feasible)),
        )


def refine_hinge_gram(
    model: LatentClassModel,
    G: np.ndarray,
    k: int | float,
    tau: float = 1.0,
    loss: Hinge | str = "hinge",
    *,
    max_iter: int = 150,
    target_gap: float = 1e-9,
) -> HingeRefinement:
    """Sequential-LP refinement of a population-hinge Gram matrix, then its dual bound
    (SPEC §8.4; proofs/loss_family.md §5).

    The population hinge is ``L(G) = Σ_p P_p max_{w ∈ P(f)} Σ_y w_y (margin + (G_xy −
    G_xx⁺)/τ)`` over the polymatroid ``P(f)``, ``f(S) = 1 − (1 − D(S))^k``; by LP duality
    ``L(G) = min {Σ_p P_p Σ_S α_{p,S} f(S) : α >= 0, Σ_{S∋y} α_{p,S} >= margin + (G_xy −
    G_xx⁺)/τ}``, so ``min L`` over ``{G ⪰ 0, diag G <= 1}`` is an LP over the PSD cone.  Each
    step solves that LP (SciPy's HiGHS) in a box ``|G − G_c|_∞ <= r`` around the current
    point with the cone linearised there (``Qᵀ G Q`` diagonally dominant, ``Q`` the near-null
    eigenvectors of ``G_c``), maps the result back to the feasible set (eigenvalues clipped,
    rows scaled to norm ``<= 1``) and keeps it if ``L`` decreased, else shrinks ``r``.  The
    returned matrix is never worse than the input; optimality is decided only by the sound
    bound of :func:`hinge_dual_bound` (``bound.gap``).  Needs ``pairs × 2^s`` small (``s``
    the support size; :data:`POLYMATROID_MAX_ROWS`), else the input is returned unchanged.

    Parameters
    ----------
    model : LatentClassModel
    G : ndarray (n, n)
        Starting Gram matrix (mapped to the feasible set first).
    k : int or math.inf
    tau : float
    loss : Hinge or "hinge"
    max_iter : int
        Most LP steps.
    target_gap : float
        Stop once ``hinge_dual_bound(...).gap <= target_gap``.

    Returns
    -------
    HingeRefinement
    """
    if not isinstance(model, LatentClassModel):
        raise TypeError(f"model must be a LatentClassModel, got {type(model).__name__}")
    lo = resolve_loss(loss)
    if not isinstance(lo, Hinge):
        raise ValueError(f"loss must be a Hinge, got {lo!r}")
    k = check_k(k, allow_inf=True)
    tau = check_tau(tau)
    max_iter = check_integer(max_iter, "max_iter", minimum=0)
    target_gap = float(target_gap)
    if not (math.isfinite(target_gap) and target_gap >= 0):
        raise ValueError(f"target_gap must be a finite number >= 0, got {target_gap!r}")
    n = model.n_points
    G = _to_feasible(np.array(check_gram(G, n), dtype=float))
    Pm = np.asarray(model.pair_probs, dtype=float)
    px, pp = np.nonzero(Pm > 0)
    pw = Pm[px, pp]
    D = np.asarray(model.marginal, dtype=float)
    supp = np.flatnonzero(D > 0)
    bound = hinge_dual_bound(model, G, k, tau, lo)
    value, best_lower, best_lam = bound.value, bound.lower_bound, np.asarray(bound.multipliers)
    steps = 0
    if supp.size < 40 and px.size * ((1 << supp.size) - 1) <= POLYMATROID_MAX_ROWS:
        ind, f = _subset_caps(D[supp], k)
        cuts: list[np.ndarray] = []
        stall = 0
        while steps < max_iter and value - best_lower > target_gap and stall < 4:
            steps += 1
            out = _primal_lp(G, px, pp, pw, supp, ind, f, lo.margin, tau, 0.05, 0.0, cuts)
            if out is None:
                break
            Gn, W, lam = out
            lower, lam_s = _weights_bound(
                G, px, pp, pw, supp, ind, f, W, lam, lo.margin, tau, value
            )
            if lower > best_lower:  # a lower bound on min L, whatever the current G
                best_lower, best_lam = lower, lam_s
            ev, U = np.linalg.eigh(0.5 * (Gn + Gn.T))
            neg = np.flatnonzero(ev < -1e-14)
            cuts.extend(U[:, j] for j in neg)
            Gf = _to_feasible(Gn)
            vf = hinge_dual_bound(model, Gf, k, tau, lo, polymatroid=False).value
            if vf < value:
                G, value, stall = Gf, vf, 0
            elif neg.size == 0 or ev[0] > -1e-6:  # no progress although the cuts are tight
                stall += 1
        final = hinge_dual_bound(model, G, k, tau, lo)
        if final.lower_bound > best_lower:
            best_lower, best_lam = final.lower_bound, np.asarray(final.multipliers)
        value = final.value
    bound = HingeDualBound(
        value, best_lower, max(0.0, value - best_lower), readonly(np.array(best_lam)), True
    )
    ev, U = np.linalg.eigh(G)
    F = U * np.sqrt(np.maximum(ev, 0.0))
    F = F / np.maximum(np.linalg.norm(F, axis=1), 1.0)[:, None]
    return HingeRefinement(readonly(G), readonly(F), float(bound.value), bound, steps)
