r"""Exact Hessian-vector products of the class-level population loss ``L_k`` (SPEC §3.2).

The class-level model has one point per class, pairs ``(x, x)`` with weight ``ρ_x`` and
negatives drawn from ``D = ρ``, so with the log-scores ``ℓ^x_y = (G_{xy} − G_{xx})/τ``,
``a^x_y = e^{ℓ^x_y}``,

    ``L_k(G) = Σ_x ρ_x I_k(ℓ^x)``,   ``I_k(ℓ) = ∫_0^∞ e^{-t} (1 − φ(t)^k) dt/t``,
    ``φ(t) = Σ_y D_y e^{-t a_y}``,   ``ψ(t) = −φ'(t) = Σ_y D_y a_y e^{-t a_y}``.

Hessian of one pair (derivation)
--------------------------------
The gradient (SPEC §3.2) is ``∂I_k/∂ℓ_y = k D_y a_y ∫ e^{-t(1+a_y)} φ^{k−1} dt``.
Differentiating once more in ``ℓ_z`` (``∂a_z/∂ℓ_z = a_z``, ``∂φ/∂ℓ_z = −t D_z a_z e^{-t a_z}``):

    ``∂²I_k/∂ℓ_y∂ℓ_z = δ_{yz} k D_y a_y ∫ (1 − t a_y) e^{-t(1+a_y)} φ^{k−1} dt``
    ``               − k(k−1) D_y D_z a_y a_z ∫ t e^{-t(1+a_y+a_z)} φ^{k−2} dt``.

The first integrand changes sign; since ``(1 − t a) e^{-ta} = d/dt (t e^{-ta})``, integration by
parts (the boundary terms vanish at ``0`` and ``∞``) and ``d/dt (e^{-t} φ^{k−1}) =
−e^{-t} (φ^{k−1} + (k−1) φ^{k−2} ψ)`` turn it into a positive integrand.  So

    ``H = ∂²I_k/∂ℓ² = Diag(α) − β``,
    ``α_y = k D_y a_y ∫_0^∞ t e^{-t(1+a_y)} (φ^{k−1} + (k−1) φ^{k−2} ψ) dt``,
    ``β_{yz} = k(k−1) D_y a_y D_z a_z ∫_0^∞ t e^{-t(1+a_y+a_z)} φ^{k−2} dt``,

every integrand positive (no cancellation).  For ``k = 1``, ``β = 0`` and
``α_y = D_y a_y/(1+a_y)² = D_y σ'(ℓ_y)``, the closed form.

Hessian in ``G`` (the library's symmetric convention, SPEC §3.2)
----------------------------------------------------------------
For a symmetric direction ``V``, ``dℓ^x_y = (V_{xy} − V_{xx})/τ``.  With
``w^x = (ρ_x/τ) H^x dℓ^x``, the one-sided matrix ``W_{xy} = w^x_y``, ``W_{xx} −= Σ_y w^x_y``
and ``∇²L_k(G)[V] = (W + Wᵀ)/2`` — the unique symmetric ``M`` with
``⟨U, M⟩ = d²L_k(G)[U, V]`` for every symmetric ``U``, i.e. the derivative of
``NCEObjective.value_and_grad``'s symmetric gradient in the direction ``V``.

Quadrature (the cache)
----------------------
In ``u = log t`` (``dt = t du``) the integrands are ``t² e^{-t c} φ^{k−j} (·)``: analytic in the
strip ``|Im u| < π/2``, decaying like ``t²`` to the left and double-exponentially to the right.
The trapezoid rule on the lattice ``u_j = j h`` errs by ``O(e^{-π²/h})`` relative
(``h = 0.25``: ``7e-18``; the gradient engine :mod:`latentclass._engines.laplace` uses
``h = log 2 / 3``, ``3e-19``, for its doubling chains — the Hessian needs no chains: it is a model
for Newton steps, judged by the certificate); per anchor
the lattice is cut at

* **left** ``t_L = θ_L / c``, ``c = 1 + 2 max_y a_y + (k−2) ā`` (``ā = Σ D a``): ``c`` bounds the
  logarithmic derivative of every integrand's factor ``f(t) = e^{-t(…)} φ^{k−j}(·)``, and
  ``∫ t e^{-ct} dt = 1/c²`` bounds each integral from below (Jensen: ``φ >= e^{-tā}``).  The
  nodes ``t_j < t_L`` are replaced by one node at ``t = 0`` with weight
  ``h Σ_{j<J_L} t_j² = h t_{J_L}² e^{-2h}/(1 − e^{-2h})`` (``f(t_j) ≈ f(0)``): relative error
  ``<= 2 (c t_L)³ = 2 θ_L³ ≈ 5e-17`` (``θ_L = 3e-6``).
* **right** the first node with ``t >= 2`` where the chord bound
  ``φ <= 1 − μ (1 − e^{-t})`` (``μ = Σ D min(a, 1)``, convexity of ``a ↦ e^{-ta}`` on
  ``[0, 1]``) gives ``t² e^{-t} φ^{k−2} <= 10^{-18}/c³``; the terms beyond decrease by a factor
  ``<= 0.93`` per node, so the dropped tail is ``<= 1.4e-17`` relative to every integral.

At :class:`ClassHessian` construction every anchor's nodes are evaluated once (one ``expm1``
per node and entry: ``E = e^{-t a}`` to absolute, ``φ − 1`` to relative accuracy, so
``φ^{k−2} = exp((k−2) log1p(φ − 1))`` is accurate for ``k = 10⁶``), ``α`` is formed, and ``β``
is stored as a factor ``β = Rᵀ R`` per anchor, ``R_{jz} = √ω_j D_z a_z e^{-t_j a_z}``,
``ω_j = k(k−1) h t_j² e^{-t_j} φ_j^{k−2}`` (nodes whose ``Σ_z R_{jz}²`` is below ``10^{-20}``
of every anchor's ``Σ α + tr β`` are dropped: an operator-norm error below
``10^{-20} Q (Σ α + tr β)``).

**Split form** (fewer stored rows).  With ``t_R`` the last node of a chunk of anchors, the
entries ``S = {y : t_R a_y <= 1.5}`` (small ``τ``: all classes but the near ones; large ``k``:
``t_R ≪ 1``, often all) have ``e^{-t a_y} = Σ_{l<=J} (−t a_y)^l / l!`` on every node, remainder
``<= T^{J+1} e^T/(J+1)! <= 10^{-17}`` relative (``T = t_R max_S a``, ``J`` the smallest such
order, at most 22).  Then ``c_j = D∘a∘e^{-t_j a} = Σ_l V_{jl} P_l + C^L_j``,
``V_{jl} = (−t_j)^l/l!``, ``P_l = D a^{l+1}`` on ``S`` (zero on ``L``), ``C^L_j`` the explicit
values on the other entries ``L``, so ``β = Bᵀ K B`` with ``B = [P_0; …; P_J; e_y (y ∈ L)]``
and the ``(J+1+|L|)²`` matrix ``K = Σ_j ω_j κ_j κ_jᵀ``, ``κ_j = [V_{j·}, C^L_j]``.  On ``S``,
``φ − 1 = Σ_{i>=1} μ_i (−t)^i/i!`` and ``ψ = Σ_l μ_{l+1} (−t)^l/l!`` (moments
``μ_i = Σ_S D a^i``: alternating, decreasing terms for ``t a <= 1.5``, relatively accurate, as
in the gradient engine) and ``α`` is a polynomial in ``a_y`` (Horner's rule).  It is used for a
chunk when it stores at most 0.6 of the explicit rows; measured against the explicit nodes:
``<= 6e-15`` relative (``tests/test_hessian.py::test_the_compressed_forms_equal_the_explicit_nodes``).

**Node split** (the other chunks, e.g. ``τ >= 0.5`` and small ``k``): on the nodes with
``t max_y a_y <= 1.5`` every entry takes the series, so those nodes contribute
``Pᵀ M P`` with ``P_l = D a^{l+1}`` on every entry and ``M = Σ_j ω_j V_{j·}ᵀ V_{j·}``
(``(J+1)²``); the remaining nodes keep their explicit rows ``R_j``.  Measured: 37 stored rows
per anchor instead of 70–74, ``<= 2e-15`` from the explicit nodes.  The three forms are the
chunk kinds ``"R"`` (explicit), ``"K"`` (split) and ``"PM"`` (node split).

The cache is at most ``n · Q · n`` doubles (``Q`` ≈ 60–110 nodes; the split form stores
``n · (J+1+|L|) · n``, measured 7–30 rows per anchor at ``τ <= 0.2`` or ``k >= 1000``), at
most ``max_bytes`` (default :data:`CACHE_BYTES` = 512 MiB; :class:`HessianTooLarge` is raised
before the chunk that would exceed it is evaluated); construction temporaries are
chunked over anchors to :data:`CHUNK_BYTES`.  A product costs two passes over the cache and no
exponential.

Tests (``tests/test_hessian.py``): ``test_hvp_matches_central_differences_of_the_exact_gradient``
(Richardson central differences of the Laplace gradient, m ∈ {4, 13, 40}, k ∈ {2, 16, 1000,
10⁶}, τ ∈ {0.1, 1}: measured <= 5.2e-9 at τ = 0.1, <= 3.1e-11 at τ = 1, the differences' own
truncation), ``test_hvp_matches_the_multiset_hessian`` (the exact Hessian of the multiset
enumeration, SPEC §3.4: <= 3.7e-15), ``test_hvp_is_symmetric``,
``test_dropping_any_term_fails_the_comparison`` (each of the ``φ^{k−1}``, ``ψ`` and ``β`` terms,
in each storage form) and ``test_the_compressed_forms_equal_the_explicit_nodes``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .scores import MAX_LOG_SCORE, scores_too_large

__all__ = ["CACHE_BYTES", "ClassHessian", "HessianTooLarge"]

#: Trapezoid step in ``u = log t`` (error ``O(e^{-π²/h})``).
STEP = 0.25
#: Left cut ``t_L = θ_L / c`` (module docstring).
THETA_LEFT = 3e-6
#: Right cut: ``t² e^{-t} φ^{k−2} <= RIGHT_REL / c³``.
RIGHT_REL = 1e-18
#: Nodes contributing less than this fraction of ``Σ α + tr β`` to every anchor are dropped.
DROP_REL = 1e-20
#: Split (module docstring): entries with ``t_R a_y <= SPLIT_T`` use the Taylor series of
#: ``e^{-t a_y}`` on every node.
SPLIT_T = 1.5
#: Largest cache (bytes) of the factors ``R`` (``HessianTooLarge`` beyond it).
CACHE_BYTES = 512 << 20
#: Bytes of the construction temporaries of one chunk of anchors.
CHUNK_BYTES = 16 << 20


def _series_order(T: float) -> int:
    """Smallest ``J >= 1`` with ``T^{J+1} e^T / (J+1)! <= 1e-17``: the Taylor remainder of
    ``e^{-x}``, ``0 <= x <= T``, relative to ``e^{-x}``."""
    J = 1
    while J < 60 and T ** (J + 1) * math.exp(T) / math.factorial(J + 1) > 1e-17:
        J += 1
    return J


def _node_weights(phim1, psi, tw2, texp, k, terms):
    """The node weights of α and β from ``φ − 1``, ``ψ`` (``(Ac, Q)``), the trapezoid weights
    ``tw2`` and the nodes ``texp``: ``wa = w e^{-t} (φ^{k−1} + (k−1) φ^{k−2} ψ)`` and
    ``ω = k(k−1) w e^{-t} φ^{k−2}`` (``None`` for ``k = 1``, which has no β term).  ``terms``:
    the tests drop one of ``"phi"``, ``"psi"``, ``"beta"`` at a time (and must then fail)."""
    logphi = np.log1p(np.maximum(phim1, -1.0 + 2.0**-52))
    common = tw2 * np.exp(-texp)
    p1 = np.exp((k - 1) * logphi)
    wa = common * p1 if "phi" in terms else np.zeros_like(p1)
    if k == 1:
        return wa, None
    p2 = np.exp((k - 2) * logphi)
    if "psi" in terms:
        wa += common * ((k - 1) * p2 * psi)
    omega = (k * (k - 1.0)) * common * p2
    if "beta" not in terms:
        omega[:] = 0.0
    return wa, omega


class HessianTooLarge(MemoryError):
    """The node cache of :class:`ClassHessian` would exceed its ``max_bytes``."""


def _node_ranges(a, D, k, h):
    """Per anchor: the lattice indices ``[jL, jR]`` of the module docstring."""
    abar = a @ D
    amax = a.max(axis=1)
    mu = np.minimum(a, 1.0) @ D
    c = 1.0 + 2.0 * amax + max(k - 2, 0) * abar
    jl = np.floor(np.log(THETA_LEFT / c) / h).astype(np.int64)
    j_lo = int(jl.min())
    j_hi = int(math.ceil(math.log(200.0) / h))  # t <= 200: t² e^{-t} < 1e-82
    u = h * np.arange(j_lo, j_hi + 1)
    t = np.exp(u)
    logB = 2.0 * u - t  # (L,)
    logB = np.broadcast_to(logB, (a.shape[0], u.size)).copy()
    if k > 2:
        chord = np.log1p(-mu[:, None] * -np.expm1(-t)[None, :])
        logB += (k - 2) * chord
    thr = math.log(RIGHT_REL) - 3.0 * np.log(c)
    ok = (logB <= thr[:, None]) & (t >= 2.0)[None, :]
    ok[:, -1] = True
    jr = j_lo + np.argmax(ok, axis=1)
    return jl, np.maximum(jr, jl + 1)


class ClassHessian:
    """Exact Hessian of the class-level ``L_k(G)`` at ``G``, cached for cheap products.

    Parameters
    ----------
    G : ndarray, shape (n, n)
        Symmetric Gram matrix (not validated: the solvers' iterates).
    rho : ndarray, shape (n,)
        Class law (``D = ρ``, pair weights ``ρ_x``).
    k : int
        Number of negatives, ``>= 1`` (finite).
    tau : float
        Temperature ``> 0``.
    step : float
        Trapezoid step ``h`` in ``log t``.
    max_bytes : int
        Largest node cache; :class:`HessianTooLarge` is raised as soon as the rows stored so far
        plus the next chunk's would exceed it (stored rows: ``n_nodes · n`` doubles).

    Attributes
    ----------
    diag : ndarray, shape (n, n)
        The diagonal of the operator restricted to symmetric matrices with zero diagonal,
        ``diag[x, y] = (HE)_{xy}`` for ``E = e_x e_yᵀ + e_y e_xᵀ`` (zero diagonal).
    n_nodes : int
        Stored nodes summed over the anchors (the cache is ``n_nodes · n`` doubles).

    Notes
    -----
    ``∇²L_k(G)[V] = sym(W)``, ``W_{x·} = (ρ_x/τ) (α^x ∘ dℓ^x − β^x dℓ^x)``,
    ``W_{xx} −= Σ_y W_{xy}``, ``dℓ^x_y = (V_{xy} − V_{xx})/τ`` with
    ``H^x = Diag(α^x) − β^x`` the Hessian of ``I_k`` in the log-scores (module docstring,
    SPEC §3.2).
    """

    def __init__(
        self,
        G: np.ndarray,
        rho: np.ndarray,
        k: int,
        tau: float,
        *,
        step: float = STEP,
        max_bytes: int = CACHE_BYTES,
        _terms: tuple[str, ...] = ("phi", "psi", "beta", "split", "nodes"),
    ) -> None:
        G = np.asarray(G, dtype=float)
        D = np.asarray(rho, dtype=float)
        n = D.size
        if G.shape != (n, n):
            raise ValueError(f"G must have shape ({n}, {n}), got {G.shape}")
        if not (isinstance(k, (int, np.integer)) and k >= 1):
            raise ValueError(f"k must be a finite integer >= 1, got {k!r}")
        k = int(k)
        self.n, self.k, self.tau = n, k, float(tau)
        h = float(step)
        ell = (G - np.diag(G)[:, None]) / tau
        top = float(ell.max())
        if top > MAX_LOG_SCORE:
            raise scores_too_large(top)
        a = np.exp(ell)
        jl, jr = _node_ranges(a, D, k, h)
        # anchors sorted by their left cut, chunked consecutively: similar node ranges share a lattice
        order = np.argsort(jl, kind="stable")
        self._w = D / tau  # ρ_x / τ
        chunks = []
        a0 = 0
        while a0 < n:
            a1 = a0 + 1
            lo, hi = int(jl[order[a0]]), int(jr[order[a0]])
            while a1 < n:
                lo2 = min(lo, int(jl[order[a1]]))
                hi2 = max(hi, int(jr[order[a1]]))
                if (a1 - a0 + 1) * (hi2 - lo2 + 2) * n * 8.0 > CHUNK_BYTES:
                    break
                lo, hi = lo2, hi2
                a1 += 1
            chunks.append((a0, a1, lo, hi))
            a0 = a1
        self._chunks: list[tuple[Any, ...]] = []
        alpha = np.empty((n, n))
        bdiag = np.zeros((n, n))
        self.n_nodes = 0
        for a0, a1, lo, hi in chunks:
            idx = order[a0:a1]
            Ac = idx.size
            # the budget, checked before each chunk: stored rows so far plus this chunk's bound
            need = (self.n_nodes + Ac * (hi - lo + 2)) * n * 8.0
            if k > 1 and need > max_bytes:
                raise HessianTooLarge(
                    f"the Hessian cache needs more than {need / 2**20:.0f} MiB > max_bytes = "
                    f"{max_bytes / 2**20:.0f} MiB (n = {n})"
                )
            js = np.arange(lo, hi + 1)
            texp = np.concatenate(([0.0], np.exp(h * js)))  # node 0: the left tail at t = 0
            tw2 = np.empty(texp.size)
            tw2[1:] = h * texp[1:] ** 2
            tw2[0] = h * math.exp(2.0 * h * lo) * math.exp(-2.0 * h) / -math.expm1(-2.0 * h)
            ac = a[idx]  # (Ac, n)
            Da = ac * D
            if (
                k > 1
                and "split" in _terms
                and self._split_chunk(idx, ac, D, texp, tw2, alpha, bdiag, _terms)
            ):
                continue
            if (
                k > 1
                and "nodes" in _terms
                and self._node_split_chunk(idx, ac, D, texp, tw2, alpha, bdiag, _terms)
            ):
                continue
            E = np.multiply(-texp[None, :, None], ac[:, None, :])  # (Ac, Q, n)
            np.expm1(E, out=E)
            phim1 = E @ D  # (Ac, Q), relatively accurate
            E += 1.0
            psi = (E @ Da[:, :, None])[:, :, 0]  # positive terms
            wa, omega = _node_weights(phim1, psi, tw2, texp, k, _terms)
            al = (wa[:, None, :] @ E)[:, 0, :]
            al *= k * Da
            alpha[idx] = al
            if omega is None:  # k = 1: no β term
                continue
            E *= np.sqrt(omega)[:, :, None]
            E *= Da[:, None, :]  # R (Ac, Q, n)
            contrib = np.einsum("aqn,aqn->aq", E, E)
            scale = al.sum(axis=1) + contrib.sum(axis=1)
            keep = np.flatnonzero(np.any(contrib > DROP_REL * scale[:, None], axis=0))
            # the nodes from the first to the last one needed (a view, no copy)
            R = E[:, keep[0] : keep[-1] + 1, :] if keep.size else E[:, :1, :] * 0.0
            bdiag[idx] = np.einsum("aqn,aqn->an", R, R)
            self.n_nodes += Ac * R.shape[1]
            self._chunks.append(("R", idx, R))
        self.alpha = alpha
        # diagonal of the operator on off-diagonal symmetric entries: d_xy = ρ_x/τ² (α − β_yy)
        d = (D / tau**2)[:, None] * (alpha - bdiag)
        self.diag = 0.5 * (d + d.T)
        np.fill_diagonal(self.diag, 0.0)

    def _split_chunk(self, idx, ac, D, texp, tw2, alpha, bdiag, _terms) -> bool:
        """The split form of one chunk (module docstring); ``False`` (nothing done) when it
        would not store fewer rows than the explicit nodes."""
        k = self.k
        Ac, n = ac.shape
        Q = texp.size
        small = ac * texp[-1] <= SPLIT_T  # S: the Taylor series on every node
        nL = int((~small).sum(axis=1).max())
        if nL >= n or not small.any():
            return False
        J = _series_order(float(texp[-1] * np.max(np.where(small, ac, 0.0))))
        r = J + 1 + nL
        if r > 0.6 * Q:
            return False
        Lidx = np.argsort(small, axis=1, kind="stable")[:, :nL]  # L first, then S entries (pads)
        isL = ~np.take_along_axis(small, Lidx, axis=1)
        aL = np.take_along_axis(ac, Lidx, axis=1)
        DL = D[Lidx] * isL  # pads: no mass
        DaL = DL * aL
        EL = np.multiply(-texp[None, :, None], aL[:, None, :])  # (Ac, Q, nL)
        np.expm1(EL, out=EL)
        phim1 = np.einsum("aqn,an->aq", EL, DL)
        EL += 1.0
        psi = np.einsum("aqn,an->aq", EL, DaL)
        aS = np.where(small, ac, 0.0)
        # powers P_l = D a^{l+1} (l = 0..J) and moments μ_i = Σ_S D a^i (i = 1..J+1)
        P = np.empty((Ac, J + 1, n))
        pw = aS * D
        for l in range(J + 1):
            P[:, l, :] = pw
            if l < J:
                pw = pw * aS
        mu = P.sum(axis=2)  # μ_{l+1}, l = 0..J
        Vs = np.ones((Q, J + 1))
        for l in range(1, J + 1):
            Vs[:, l] = Vs[:, l - 1] * (-texp) / l  # (−t)^l / l!
        # φ − 1 = Σ_{i=1}^J μ_i (−t)^i/i! + Σ_L D expm1(−t a);  ψ = Σ_{l=0}^J μ_{l+1} (−t)^l/l! + Σ_L D a E
        phim1 += mu[:, :J] @ Vs[:, 1:].T
        psi += mu @ Vs.T
        wa, omega = _node_weights(phim1, psi, tw2, texp, k, _terms)
        assert omega is not None  # the split forms run for k >= 2
        # α: the polynomial Σ_l (Σ_j wa_j V_jl) a^l on S (Horner), explicit on L
        ca = wa @ Vs  # (Ac, J+1)
        al = np.empty((Ac, n))
        al[:] = ca[:, J, None]
        for l in range(J - 1, -1, -1):
            al *= aS
            al += ca[:, l, None]
        al *= k * D * ac
        alL = k * DaL * np.einsum("aq,aqn->an", wa, EL)
        np.put_along_axis(
            al, Lidx, np.where(isL, alL, np.take_along_axis(al, Lidx, axis=1)), axis=1
        )
        alpha[idx] = al
        so = np.sqrt(omega)[:, :, None]
        kap = np.concatenate([so * Vs[None, :, :], so * (EL * DaL[:, None, :])], axis=2)
        K = kap.transpose(0, 2, 1) @ kap  # (Ac, r, r)
        bd = np.einsum("aln,alm,amn->an", P, K[:, : J + 1, : J + 1], P)
        KL = np.diagonal(K[:, J + 1 :, J + 1 :], axis1=1, axis2=2)
        np.put_along_axis(bd, Lidx, np.where(isL, KL, np.take_along_axis(bd, Lidx, axis=1)), axis=1)
        bdiag[idx] = bd
        self.n_nodes += Ac * r
        self._chunks.append(("K", idx, P, Lidx, K))
        return True

    def _node_split_chunk(self, idx, ac, D, texp, tw2, alpha, bdiag, _terms) -> bool:
        """The node-split form of one chunk (module docstring): the Taylor series of
        ``e^{-t a}`` for every entry on the nodes with ``t max a <= SPLIT_T``, explicit
        exponentials on the others; ``False`` (nothing done) when it would not store fewer rows."""
        k = self.k
        Ac, n = ac.shape
        Q = texp.size
        amax = float(ac.max())
        ns = int(np.count_nonzero(texp * amax <= SPLIT_T))  # texp increasing (node 0: t = 0)
        if ns < 2:
            return False
        J = _series_order(float(texp[ns - 1] * amax))
        if ns * 0.8 <= J + 1:
            return False
        P = np.empty((Ac, J + 1, n))  # P_l = D a^{l+1}
        pw = ac * D
        for l in range(J + 1):
            P[:, l, :] = pw
            if l < J:
                pw = pw * ac
        mu = P.sum(axis=2)  # μ_{l+1}
        Vs = np.ones((ns, J + 1))
        for l in range(1, J + 1):
            Vs[:, l] = Vs[:, l - 1] * (-texp[:ns]) / l
        te = texp[ns:]
        E = np.multiply(-te[None, :, None], ac[:, None, :])  # (Ac, Qe, n)
        np.expm1(E, out=E)
        phim1 = np.empty((Ac, Q))
        psi = np.empty((Ac, Q))
        phim1[:, :ns] = mu[:, :J] @ Vs[:, 1:].T
        phim1[:, ns:] = E @ D
        E += 1.0
        psi[:, :ns] = mu @ Vs.T
        psi[:, ns:] = (E @ (ac * D)[:, :, None])[:, :, 0]
        wa, omega = _node_weights(phim1, psi, tw2, texp, k, _terms)
        assert omega is not None  # the split forms run for k >= 2
        ca = wa[:, :ns] @ Vs  # (Ac, J+1): the series nodes as a polynomial in a (Horner)
        al = np.empty((Ac, n))
        al[:] = ca[:, J, None]
        for l in range(J - 1, -1, -1):
            al *= ac
            al += ca[:, l, None]
        al += (wa[:, None, ns:] @ E)[:, 0, :]
        al *= k * D * ac
        alpha[idx] = al
        M = (Vs.T[None, :, :] * omega[:, None, :ns]) @ Vs  # Σ_j ω_j V_jᵀ V_j
        E *= np.sqrt(omega[:, ns:])[:, :, None]
        E *= (ac * D)[:, None, :]  # R_e
        bdiag[idx] = np.einsum("aln,alm,amn->an", P, M, P) + np.einsum("aqn,aqn->an", E, E)
        self.n_nodes += Ac * (J + 1 + E.shape[1])
        self._chunks.append(("PM", idx, P, M, E))
        return True

    def _rows(self, L: np.ndarray) -> np.ndarray:
        """``(ρ_x/τ) H^x L_x`` for every row ``x`` of ``L`` (``L_x = dℓ^x``)."""
        out = self.alpha * L
        for kind, idx, *data in self._chunks:
            Lc = L[idx]
            if kind == "R":
                (R,) = data
                U = R @ Lc[:, :, None]  # (Ac, Q, 1)
                out[idx] -= (U.transpose(0, 2, 1) @ R)[:, 0, :]
                continue
            if kind == "PM":  # β = Pᵀ M P + R_eᵀ R_e (module docstring)
                P, M, R = data
                u = (M @ (P @ Lc[:, :, None]))[:, :, 0]
                BX = (u[:, None, :] @ P)[:, 0, :]
                BX += ((R @ Lc[:, :, None]).transpose(0, 2, 1) @ R)[:, 0, :]
                out[idx] -= BX
                continue
            P, Lidx, K = data  # β = Pᵀ K_SS P + cross and L blocks (module docstring)
            J1 = P.shape[1]
            w = np.concatenate(
                [(P @ Lc[:, :, None])[:, :, 0], np.take_along_axis(Lc, Lidx, axis=1)], axis=1
            )
            u = (K @ w[:, :, None])[:, :, 0]
            BX = (u[:, None, :J1] @ P)[:, 0, :]
            np.put_along_axis(BX, Lidx, np.take_along_axis(BX, Lidx, axis=1) + u[:, J1:], axis=1)
            out[idx] -= BX
        out *= self._w[:, None]
        return out

    def row_blocks(self) -> np.ndarray:
        """The Hessian in the one-sided entries of each row: ``blocks[x] = (ρ_x/τ²) H^x``.

        ``L_k = Σ_x ρ_x I_k(ℓ^x)`` with ``ℓ^x_y = (G_{xy} − G_{xx})/τ``, so for the entries
        ``G[x, y]``, ``y ≠ x``, of row ``x`` taken as independent (the positive's score held
        fixed) the Hessian is ``(ρ_x/τ²) H^x`` — the blocks of the objective protocol's
        ``second_order`` on those entries, all that the Gram-space Newton step reads
        (entries with ``y = x`` are not meaningful here).  ``n`` row products.

        Returns
        -------
        ndarray, shape (n, n, n)
        """
        n = self.n
        out = np.empty((n, n, n))
        L = np.zeros((n, n))
        for j in range(n):  # column j of every block at once: every row of L is e_j / τ
            L[:, j] = 1.0 / self.tau
            out[:, :, j] = self._rows(L)
            L[:, j] = 0.0
        return out

    def apply(self, V: np.ndarray) -> np.ndarray:
        """``∇²L_k(G)[V]`` for a symmetric ``V`` (the library's symmetric convention).

        Parameters
        ----------
        V : ndarray, shape (n, n)
            Symmetric direction (not validated).

        Returns
        -------
        ndarray, shape (n, n)
            The symmetric ``M`` with ``⟨U, M⟩ = d²L_k(G)[U, V]`` for symmetric ``U``
            (module docstring).
        """
        L = (V - np.diag(V)[:, None]) / self.tau
        W = self._rows(L)
        W.flat[:: self.n + 1] -= W.sum(axis=1)
        M = W + W.T
        M *= 0.5
        return M

    def apply_offdiag(self, X: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out = ∇²L_k(G)[X]`` with its diagonal zeroed, for a symmetric ``X`` with zero
        diagonal (the block of the Hessian on the off-diagonal entries: the diagonal of ``G``
        is fixed)."""
        W = self._rows(X / self.tau)
        np.add(W, W.T, out=out)
        out *= 0.5
        np.fill_diagonal(out, 0.0)
        return out
