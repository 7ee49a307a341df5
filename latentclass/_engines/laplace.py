r"""Numerical core of the exact population NCE loss (SPEC §3): the Frullani/Laplace integral.

Anchor families
---------------
An *anchor family* is a row ``base[x, :]`` of log-scores with the pairs ``p`` whose scores are
that row shifted by a scalar, ``log a_{p,y} = base[x_p, y] + shift[p]``.  For the population
loss ``base = G[x, :]/τ`` and ``shift = −G[x, x⁺]/τ``: every positive of ``x`` is one pair.
With ``c_x = max_{y ∈ supp D} base[x, y]``, ``b_y = e^{base[x,y] − c_x} ∈ [0, 1]`` and
``s_p = e^{shift_p + c_x}`` (``a_p = s_p b``), the substitution ``t' = s t`` turns SPEC §3 into

    I_k(a_p) = ∫_0^∞ e^{-t'/s_p} (1 − φ_b(t')^k) dt'/t',    φ_b(t') = Σ_y D_y e^{-t' b_y},

so ``φ_b`` — the only part that costs ``O(n)`` per node — is computed once per anchor and
shared by all its pairs (class level: one pair per anchor; point level: all positives).

Quadrature
----------
In ``u' = log t'`` the integrand ``g(u') = e^{-e^{u'}/s}(1 − φ_b(e^{u'})^k)`` is entire and
bounded by 2 in the strip ``|Im u'| < π/2`` (there ``Re e^{u'} > 0``, so ``|e^{-z b}| <= 1``
for every ``b >= 0`` and ``|φ| <= 1``); it decays like ``e^{u'}`` to the left and
double-exponentially to the right.  The trapezoid rule with step ``h`` on the infinite
lattice ``u'_j = j h`` then has error (Poisson summation / Fourier decay of ``e^{-e^u}``,
``|Γ(iω)| ~ √(2π/ω) e^{-π ω/2}``)

    |E_h| <= 2 Σ_{m>=1} |ĝ(2π m/h)|  ≈  C · √h · e^{-π²/h},

with ``C`` of order the integral of ``|g|`` along ``Im u' = ±(π/2 − 0)``.  The default
``h = log(2)/3 ≈ 0.231`` gives ``e^{-π²/h} = 3e-19`` (``h = 0.25``, the step before the
doubling chains, gives ``7e-18``); the measured error against enumeration and adaptive
quadrature is at rounding level (<= 1e-15 relative).  ``3h = log 2`` makes every third node
double ``t'`` (*doubling chains* below).  The infinite lattice sum is split:

* **left tail** ``t' < t'_L``, ``t'_L <= δ / max(1, k μ_1, 1/s)``, ``δ = 0.05``: there
  ``g = Σ_{i>=1} c_i t'^i``.  Since ``1 − φ^k = E(1 − e^{-t'S})``, ``S = Σ_{i<=k} b_{Y_i}``,
  ``b <= 1``, the coefficient of ``t'^i`` is bounded by the Poisson moment ``T_i(kμ_1)/i!``
  (Touchard polynomial), so in ``z = t'/t_*`` (``t_* = t'_{J_L−1}``, the nodes ``z_j = e^{-jh}``,
  ``j >= 0``) the coefficients of ``q(z) = g(t_* z)/z`` fall like ``δ^i`` (times
  ``Bell(i+1)/(i+1)!``).  ``q`` is replaced by its interpolating polynomial at the ``10``
  Chebyshev points ``z_m`` of ``[0, 1]``: error at most ``2^{-19}`` times the ``z^{10}`` term,
  of order ``2^{-19} Bell(11) δ^{10} / 11! ≈ 3e-21`` relative to the tail (``3e-18`` with
  ``2δ`` for ``δ``: the factor ``e^{-t'/s}``); ``g(t_* z_m)`` from
  ``φ_b − 1 = Σ_{i<=9} μ_i (−t')^i / i!`` (the moments ``μ_i = Σ D_y b_y^i``; remainder
  ``<= δ^9/10! ≈ 5e-19`` relative), ``log1p``, ``expm1``; the gradient's
  ``e^{-t'b} = Σ_{l<=9} (−t'b)^l / l!`` to ``δ^{10}/10! ≈ 3e-20``.  Then ``Σ_j g(t'_j) = Σ_j z_j q(z_j)`` is the
  fixed combination ``Σ_m q(z_m) Ω_{m,1}`` with ``Ω_{m,i} = Σ_{j>=0} z_j^i ℓ_m(z_j)`` (``ℓ_m`` the
  Lagrange basis, ``|ℓ_m| <= 3`` on ``[0, 1]``: the rounding stays at a few ulps of the tail),
  computed once per step; ``∂/∂ log s`` and the gradient likewise (``Ω_{m,2}``; ``Ω_{m,l+1}`` on
  the values of ``H = e^{-t'/s} φ_b^{k−1}``).  About 20 array operations per block instead of
  the ~80 of the Taylor-series recursions of ``log φ_b`` and ``e^{k log φ_b}`` (which needed
  ``δ = 10^{-3}``: ``δ = 0.05`` takes ``log(50)/h ≈ 17`` nodes per anchor off the series nodes).
* **series nodes** ``t'_L <= t' <= t_s`` (``t_s = min(1.5, t'_R)``):
  ``φ_b − 1 = Σ_{i=1}^J μ_i (−t')^i / i!`` — alternating with decreasing terms, so the
  truncation is below ``t_s^J/(J+1)!`` relative to ``|φ − 1| >= μ_1 (1 − e^{-t'})``; ``J``
  (6 to 22) is the smallest order making this and the Taylor remainder of ``e^{-t'b}``
  (gradient) ``<= 5e-17``.  No per-point work: only the moments.
* **exponential nodes** ``1.5 < t' <= t'_R``: ``E = e^{-t' b_y}`` for every point, and
  ``φ_b − 1`` from it (``ε = 2^{-52}`` below).  *Doubling chains* (default step,
  ``t'_{q+3} = 2 t'_q``): only the
  first three exponential nodes (the seeds) call ``exp`` and ``expm1`` (``F = e^{-t'b} − 1``,
  relative error ``<= (1 + t'b) ε <= 3.6 ε``; ``E − 1`` instead when ``x = t'b >= 1/16`` for
  every ``b > 0`` of the block: the subtraction is exact and the relative error ``(1 + x) ε``
  of ``E`` becomes ``(1 + x) ε e^{-x}/(1 − e^{-x}) <= (1/x + 1/2) ε <= 16.5 ε`` in ``F``);
  after them
  ``F_{q+3} = F_q (2 + F_q)`` and ``E_{q+3} = E_q²``, exact identities, and
  ``φ_b − 1 = Σ_y D_y F_y``.  With ``δ`` the relative error of ``F``, ``F(2 + F)`` has
  ``δ' <= δ · 2(1 + F)/(2 + F) + 2ε <= δ + 2ε`` (``−1 <= F <= 0``), so after ``s`` doublings
  ``δ <= δ_0 + 2s ε``, ``δ_0 <= 17.5 ε`` at the seed (rounding of ``exp`` included): every ``F`` is
  relatively accurate, and so is ``φ_b − 1``, a sum of non-positive terms.  Squaring doubles
  the relative error of ``E``: ``(2^{s+1} + t' b) ε`` after ``s`` doublings, against
  ``(1 + t' b) ε`` for a direct ``exp`` of the rounded ``t' b``; as ``2^s = t'/t'_0``, that is
  ``(2 t'/t'_0 + t' b) ε <= (1.3 + b) t' ε``, and the gradient's node sum ``Σ_j W_j E_j``
  (positive terms) has a relative error at most the ``W_j E_j``-weighted mean of these: about
  ``(1.3 + b) ε`` times the mean ``t'`` of the gradient integrand, which the factor
  ``e^{-t'/s}`` keeps ``O(s)``.  So each chain runs for at most ``_CHAIN_DOUBLINGS = 5``
  doublings (18 nodes, ``2^{2/3} <= t' <= 2^{17/3} ≈ 51`` when the series nodes end at
  ``t' = 2^{1/3}``: all of the class-level range ``t'_R = 45 s`` for ``s <= 1.13``):
  ``E`` to ``(64 + t' b) ε`` (at ``t' ≈ 51``, where ``e^{-t'/s}`` is below ``e^{-45}``),
  ``F`` to ``27.5 ε``; later nodes (large ``s``) are direct.  Measured against the
  direct path on the benchmark grid and at point level: ``<= 1.5e-15`` relative in values and
  gradient entries.
  *Direct* (later nodes, or any other step): one ``exp`` per node, ``φ_b − 1 = Σ_y D_y E_y − 1``,
  whose absolute error is ``O(ε)``: relatively accurate (to
  ``5×`` its rounding) once ``1 − φ_b >= 0.2`` on every anchor of the block — from that node
  on, as ``φ_b`` is non-increasing; before it, ``Σ_y D_y expm1(−t' b_y)`` (or
  ``Σ_y D_y (E_y − 1)`` once ``t' b >= 1/2`` for every ``b > 0``), so every term is relatively
  accurate.  ``t'_R`` is the first node where
  either ``e^{-t'/s} <= e^{-45}`` for every pair of the anchor, or the chord bound
  ``φ(t) <= 1 − μ_1 (1 − e^{-t})`` (convexity of ``b ↦ e^{-tb}`` on ``[0, 1]``) guarantees
  ``φ^{k−1} <= e^{-λ}``, ``λ = 40 + log(1 + s k μ_1)``, or — tested on the nodes as they are
  computed — the computed ``φ_b(t'_j)`` itself satisfies ``(k−1) log φ_b(t'_j) <= −λ``: ``φ_b``
  is non-increasing in ``t'`` (``b >= 0``), so ``φ^{k−1} <= e^{-λ}`` on all later nodes, the
  same guarantee as the chord bound (the computed ``φ`` is relatively accurate, and the margin
  ``e^{-40}`` dwarfs its rounding).  No node before ``t' = λ / ((k−1) μ_1)`` can pass
  (Jensen: ``φ(t) >= e^{-t μ_1}``), so the test starts there.  For large ``k`` the whole
  transition lies at ``t' ≪ 1`` and there are no exponential nodes at all.
  *Split*: an entry with ``b <= θ = t'_{j_0} / t'_R`` (``t'_{j_0} <= 1.5`` the last series
  node) has ``t' b <= t'_{j_0}`` on every exponential node, so its ``e^{-t' b}`` is the same
  Taylor series as on the series nodes, with the same order ``J`` and remainder bound; when
  the other entries (set ``L``) are at most a quarter of a block (small ``τ``: far classes
  have tiny ``b``), ``φ_b − 1 = Σ_i μ^S_i (−t')^i / i! + Σ_{y ∈ L} D_y (E_y − 1)`` with the
  moments ``μ^S`` of the entries outside ``L``: two non-positive terms, each relatively
  accurate (the series as on the series nodes: alternating, decreasing terms), and only the
  entries of ``L`` get exponentials.
* **right tail** ``t' > t'_R``: ``1 − φ^k = 1`` to double precision, so only ``e^{-t}``
  remains: explicit nodes for ``t >= 0.15``, below that a geometric-sum Taylor series
  (order 10, remainder ``0.15^{11}/11! ≈ 2e-17``).

Then ``1 − φ^k = −expm1(k log1p(φ − 1))`` and ``φ^{k−1} = exp((k−1) log1p(φ − 1))``.

Gradient
--------
``∂I_k/∂ log a_y = k D_y b_y ∫_0^∞ e^{-t'/s} e^{-t' b_y} φ_b^{k−1} dt'`` on the same nodes:
``E`` is reused on the exponential nodes (one batched matrix–vector product per anchor, a sum
of positive terms, so relatively accurate to the error of ``E`` above), and on the series nodes and the left tail
``e^{-t'b_y} = Σ_l (−t'b_y)^l / l!`` turns the node sum into a polynomial in ``b_y`` whose
coefficients are aggregated over all pairs of the anchor; it is evaluated by Horner's rule
(powers ``>= 2`` of ``b < 1e-14`` dropped, as in the moments).  With the split, the exponential
nodes add their series coefficients to the polynomial of the entries outside ``L``; the entries
of ``L`` get the series-node polynomial plus their explicit sum ``Σ_j W_j E_{j,y}``.  The
polynomial's terms are bounded by ``Σ_j W_j e^{+t'_j b_y}``, at most ``e^{2 t'_{j_0}} <= e^3``
times the positive sum it equals, so it stays relatively accurate to ``~20 J`` ulps.
Blocks of anchors are sized so that one ``(anchors, n)`` array stays in cache
(``_ROW_BYTES``); only the exponential nodes of a block are stored.
``Σ_y ∂I_k/∂ log a_y = ∂I_k/∂ log s = ∫_0^∞ e^{-t} (1 − φ(t)^k) dt`` uses the value nodes.
``k = 1`` has the closed form ``I_1 = Σ_y D_y log(1 + a_y)``, ``∂/∂ log a_y = D_y σ(log a_y)``.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .scores import _TINY, MAX_LOG_SCORE, _row_starts, _segment_sum, scores_too_large

__all__ = ["family_loss", "scores_too_large"]

#: Trapezoid step in ``u = log t``; error ≈ √h e^{-π²/h} (module docstring).  ``3h = log 2``:
#: every third node doubles ``t``, so the exponential nodes are squaring chains.
STEP = math.log(2.0) / 3.0
#: Nodes per doubling of ``t`` at the default step (``CHAIN_STRIDE · STEP = log 2``).
CHAIN_STRIDE = 3
#: Taylor orders (module docstring): the node series uses an adaptive order ``J <= NODE_ORDER``
#: up to ``t' = SERIES_T_MAX``; the left tail (``t' < LEFT_DELTA / max(1, kμ1, 1/s)``) order
#: ``TAIL_ORDER``; the right tail of ``e^{-t}`` below ``_RIGHT_SERIES_T`` order ``_RIGHT_ORDER``.
NODE_ORDER = 22
SERIES_T_MAX = 1.5
TAIL_ORDER = 9
LEFT_DELTA = 0.05
_RIGHT_SERIES_T = 0.15
_RIGHT_ORDER = 10
#: ``φ^{k-1}`` is treated as 0 once ``(k−1) log φ <= −(_RIGHT_LOG + log(1 + s k μ1))``.
_RIGHT_LOG = 40.0
#: ``e^{-t}`` is treated as 0 once ``t >= _T_MAX``  (``e^{-45} ≈ 2.9e-20``).
_T_MAX = 45.0
#: ``(−1)^i / i!`` for ``i < 40``: the Taylor coefficients of ``e^{-t}``.
_SIGNED_INV_FACT = np.array([(-1.0) ** i / math.factorial(i) for i in range(40)])
#: Bytes of per-chunk temporaries (powers of b, exponential nodes, pair × node arrays).
_CHUNK_BYTES = 8 << 20
#: Bytes of one ``(anchors, n)`` row block of a chunk (kept in cache by the power/Horner passes).
_ROW_BYTES = 256 << 10
#: Split of the exponential nodes (series for small ``b``, explicit ``e^{-t'b}`` for the rest):
#: used when the explicit entries are at most this fraction of a block and ``t'_R <= e^{27.6}``
#: (so that ``t'^J`` of the series stays finite).
_SPLIT_FRACTION = 0.25
#: End the exponential nodes where the computed ``φ`` certifies ``φ^{k−1} <= e^{-λ}`` (module
#: docstring); ``False`` runs them to the a-priori ``t'_R`` (reference path for the tests).
_NODE_CUT = True
_SPLIT_LOG_T_MAX = 27.6
#: Exponential nodes by doubling chains at the default step (``False``: one ``exp`` per node,
#: the reference path for the tests).
_CHAIN = True
#: Doublings per chain (beyond them one ``exp`` per node): the squared ``E`` keeps a relative
#: error below ``(2^{6} + t'b) ε``, ``F`` below ``27.5 ε`` (module docstring).
_CHAIN_DOUBLINGS = 5
#: Chain seeds take ``F = E − 1`` (no ``expm1``) when ``t'b >= _SEED_X`` for every ``b > 0``.
_SEED_X = 1.0 / 16.0
#: Nodes per slab of the split's exponential nodes (one vectorised pass per slab).
_SLAB = 8


def _chunks(cost: np.ndarray, budget: float):
    """Greedy consecutive chunks ``[a0, a1)`` whose ``(a1 − a0) · max(cost)`` stays within ``budget``."""
    A = cost.size
    if A and float(cost.max()) <= 1.25 * float(cost.min()):  # near-uniform: equal chunks
        size = max(1, int(budget // float(cost.max())))
        for a0 in range(0, A, size):
            yield a0, min(A, a0 + size)
        return
    a0 = 0
    while a0 < A:
        c = float(cost[a0])
        a1 = a0 + 1
        while a1 < A:
            c2 = max(c, float(cost[a1]))
            if (a1 - a0 + 1) * c2 > budget:
                break
            c = c2
            a1 += 1
        yield a0, a1
        a0 = a1


def _k1_chunk(z, D, w, need_grad, one_per_anchor, loc_starts, n_seg):
    """``k = 1`` on a block of pairs; ``z`` (overwritten) holds ``log a``."""
    e = np.abs(z)
    np.negative(e, out=e)
    np.exp(e, out=e)  # e^{-|z|}
    tmp = np.log1p(e)
    L = np.maximum(z, 0.0)
    L += tmp  # log(1 + e^z)
    vals = np.einsum("py,y->p", L, D)
    if not need_grad:
        return vals, None, None
    np.add(e, 1.0, out=tmp)
    np.divide(e, tmp, out=tmp)  # σ(−|z|)
    mask = z > 0.0
    np.subtract(1.0, tmp, out=tmp, where=mask)  # σ(z)
    tmp *= D  # ∂I/∂log a_y = D_y σ(log a_y)
    gsh = w * tmp.sum(axis=1)
    tmp *= w[:, None]
    gb = tmp if one_per_anchor else np.add.reduceat(tmp, loc_starts, axis=0)
    return vals, gb, gsh


def _closed_form_k1(base, D, anchor, shift, weight, starts, need_grad):
    """``k = 1``: ``I_1(a) = Σ_y D(y) log(1 + a_y)`` — no integral (SPEC §3); chunked over anchors."""
    A, n = base.shape
    P = anchor.size
    seg = np.append(starts, P)
    one_per_anchor = P == A
    vals = np.empty(P)
    gbase = np.empty((A, n)) if need_grad else None
    gshift = np.empty(P) if need_grad else None
    ppa = np.diff(seg).astype(float)
    for a0, a1 in _chunks(ppa * n * 8 * 4, _CHUNK_BYTES):
        p0, p1 = seg[a0], seg[a1]
        if one_per_anchor:
            z = base[a0:a1] + shift[p0:p1, None]
        else:
            z = base[anchor[p0:p1]] + shift[p0:p1, None]
        v, gb, gsh = _k1_chunk(
            z, D, weight[p0:p1], need_grad, one_per_anchor, starts[a0:a1] - p0, a1 - a0
        )
        vals[p0:p1] = v
        if need_grad:
            assert gbase is not None and gshift is not None  # allocated when need_grad
            gbase[a0:a1] = gb
            gshift[p0:p1] = gsh
    return vals, gbase, gshift


@functools.lru_cache(maxsize=256)
def _node_order(t_max: float, lo: int, hi: int) -> int:
    """Smallest ``J`` in ``[lo, hi]`` with ``t^J max(1, t e^t) / (J+1)! <= 5e-17`` at ``t = t_max``.

    Bounds the truncation of ``φ − 1 = Σ_{i<=J} μ_i (−t)^i/i!`` relative to ``|φ − 1| >= μ_1 (1 − e^{-t})``
    and of ``e^{-tb} = Σ_{l<=J} (−tb)^l / l!`` relative to ``e^{-tb}``, for ``t <= t_max``, ``b <= 1``.
    """
    c = max(1.0, t_max * math.exp(t_max))
    for J in range(lo, hi + 1):
        if t_max**J * c / math.factorial(J + 1) <= 5e-17:
            return J
    return hi


def _split_entries(bb: np.ndarray, j0: int, JR: int, h: float) -> np.ndarray | None:
    """Mask of the entries that need explicit exponentials (``b > θ = t'_{j0}/t'_{JR}``) when the
    split of the exponential nodes is used (module docstring), else ``None``."""
    if j0 >= JR or JR * h > _SPLIT_LOG_T_MAX:
        return None
    large = bb > math.exp(h * (j0 - JR))
    if np.count_nonzero(large) > _SPLIT_FRACTION * large.size:
        return None
    return large


def _cut_reached(phim1: np.ndarray, lphi_cut: np.ndarray) -> bool:
    """``log φ <= −λ/(k−1)`` for every anchor of the block (``phim1 = φ − 1`` at one node)."""
    return bool(np.all(np.log1p(np.maximum(phim1, -1.0 + 2.0**-52)) <= lphi_cut))


def _direct_nodes(E, bb, D, ut, h, phim1, lphi_cut, q_check):
    """Exponential nodes one ``exp`` each: fills ``E[q] = e^{-t'_q b}`` and ``phim1[:, q] = φ − 1``
    on the nodes ``t'_q = e^{ut[q]}``; returns the number of nodes computed (the node cut).

    ``φ − 1 = Σ D E − 1`` once ``1 − φ >= 0.2`` on every anchor (absolute error ``O(ε)``), before
    that ``Σ D expm1(−t'b)``, or ``Σ D (E − 1)`` once ``t'b >= 1/2`` for every ``b > 0``.
    """
    Qe, Ac, n = E.shape
    Ef = E.reshape(Qe, -1)
    bflat = bb.reshape(-1)
    tq = np.exp(ut)
    pos = bb > 0.0
    bpos_min = float(bb[pos].min()) if pos.any() else 1.0
    n_acc = math.ceil((math.log(0.5 / bpos_min) - float(ut[0])) / h)
    n_acc = min(max(n_acc, 0), Qe)
    # past n_acc, a mass >= 1/2 at b > 0 gives 1 − φ >= 0.39 · 0.5: Σ D E − 1 ok
    mass_ok = float(np.min(pos @ D)) >= 0.5
    sum_ok = False
    for q in range(Qe):  # one node at a time: each block stays in cache
        Eb = Ef[q]
        np.multiply(bflat, -tq[q], out=Eb)
        np.exp(Eb, out=Eb)
        col = E[q] @ D
        col -= 1.0  # absolute error ~ε: relatively accurate where 1 − φ >= 0.2
        # φ is non-increasing: once 1 − φ >= 0.2 on every anchor, on all later nodes
        sum_ok = sum_ok or (q >= n_acc and mass_ok) or bool(np.all(col <= -0.2))
        if not sum_ok:
            if q < n_acc:  # Σ D expm1(−t'b): every term relatively accurate
                col = np.expm1(bflat * -tq[q]).reshape(Ac, n) @ D
            else:  # Σ D (E − 1): t'b >= 1/2, every term relatively accurate
                col = (E[q] - 1.0) @ D
        phim1[:, q] = col
        if _NODE_CUT and q >= q_check and _cut_reached(col, lphi_cut):
            return q + 1
    return Qe


def _doubling_nodes(E, bb, D, ut, h, phim1, lphi_cut, q_check):
    """Exponential nodes by doubling chains (``t'_{q+r} = 2 t'_q``, ``r = CHAIN_STRIDE``): fills
    ``E[q]`` and ``phim1[:, q]`` as :func:`_direct_nodes` does, for the nodes ``q < E.shape[0]``
    (at most ``_CHAIN_DOUBLINGS`` doublings), with ``exp`` and ``expm1`` on the ``r`` seeds only;
    the ``r`` chains advance together, one group of ``r`` nodes per doubling.

    Seeds ``q < r``: ``E = e^{-t'b}`` and ``F = expm1(−t'b)`` (``E − 1`` when ``t'b >= 1/16`` for
    every ``b > 0``); then ``F_{q+r} = F_q (2 + F_q)``
    (``= e^{-2t'b} − 1``), ``E_{q+r} = E_q²`` and ``φ − 1 = Σ_y D_y F_y`` (module docstring: the
    error bounds).  Returns the number of nodes computed and whether the node cut was reached.
    """
    Qe, Ac, n = E.shape
    r = CHAIN_STRIDE
    Ef = E.reshape(Qe, -1)
    bflat = bb.reshape(-1)
    tq = np.exp(ut[:Qe])
    bpos_min = float(bflat.min())
    if bpos_min <= 0.0:
        bpos_min = float(np.min(bflat, where=bflat > 0.0, initial=np.inf))
        bpos_min = bpos_min if bpos_min < np.inf else 1.0
    F = np.empty((min(r, Qe), Ac * n))  # F on the nodes of the current group
    x = np.empty(Ac * n)
    for q in range(min(r, Qe)):  # seeds, one at a time (the cut may come first)
        np.multiply(bflat, -tq[q], out=x)
        np.exp(x, out=Ef[q])
        if tq[q] * bpos_min >= _SEED_X:  # E − 1 exact, F within (1/x + 1/2) ε (docstring)
            np.subtract(Ef[q], 1.0, out=F[q])
        else:
            np.expm1(x, out=F[q])
        col = F[q].reshape(Ac, n) @ D
        phim1[:, q] = col
        if _NODE_CUT and q >= q_check and _cut_reached(col, lphi_cut):
            return q + 1, True
    del x
    # then the r chains advance together: one group of r nodes per doubling
    tmp = np.empty_like(F)
    for q0 in range(r, Qe, r):
        c = min(r, Qe - q0)
        np.multiply(Ef[q0 - r : q0 - r + c], Ef[q0 - r : q0 - r + c], out=Ef[q0 : q0 + c])
        F = F[:c]
        np.add(F, 2.0, out=tmp[:c])
        F *= tmp[:c]
        cols = F.reshape(c, Ac, n) @ D  # (c, Ac): φ − 1 on the nodes of the group
        phim1[:, q0 : q0 + c] = cols.T
        if _NODE_CUT:
            for q in range(max(q0, q_check), q0 + c):
                if _cut_reached(cols[q - q0], lphi_cut):
                    return q + 1, True
    return Qe, False


def _sparse_nodes(EL, bL, DL, rowL, tq, n_acc, phim1, lphi_cut, q_check):
    """Exponential nodes of the split (entries ``L`` only): ``EL[q] = e^{-t'_q b_L}`` and
    ``phim1[:, q] += Σ_L D (e^{-t'b} − 1)`` (``expm1`` on the first ``n_acc`` nodes), in slabs
    of ``_SLAB`` nodes; returns the number of nodes up to the node cut (as node by node)."""
    Qe = EL.shape[0]
    Ac = phim1.shape[0]
    for q0 in range(0, Qe, _SLAB):
        q1 = min(Qe, q0 + _SLAB)
        x = np.multiply.outer(-tq[q0:q1], bL)  # (slab, L)
        np.exp(x, out=EL[q0:q1])
        em1 = EL[q0:q1] - 1.0
        if q0 < n_acc:
            a = min(n_acc, q1) - q0
            em1[:a] = np.expm1(x[:a])
        em1 *= DL
        keys = (np.arange(q1 - q0)[:, None] * Ac + rowL).ravel()
        add = np.bincount(keys, em1.ravel(), minlength=(q1 - q0) * Ac).reshape(q1 - q0, Ac)
        block = phim1[:, q0:q1]
        block += add.T
        if _NODE_CUT and q1 > q_check:
            ok = np.log1p(np.maximum(block, -1.0 + 2.0**-52)) <= lphi_cut[:, None]
            hit = np.flatnonzero(ok.all(axis=0)[max(0, q_check - q0) :])
            if hit.size:
                return max(q0, q_check) + int(hit[0]) + 1
    return Qe


@functools.lru_cache(maxsize=8)
def _left_weights(h: float) -> tuple[np.ndarray, np.ndarray]:
    """Points ``z_m`` (Chebyshev, ``m < TAIL_ORDER + 1``) on ``[0, 1]`` and the weights
    ``Ω[m, i] = Σ_{j>=0} z_j^i ℓ_m(z_j)`` (``i <= TAIL_ORDER + 1``) over the left-tail lattice
    ``z_j = e^{-jh}``, ``ℓ_m`` the Lagrange basis of the points (module docstring: left tail).

    The sum over ``j`` stops at ``z_j < 1e-20`` (``|ℓ_m| <= 3`` on ``[0, 1]``: the rest is below
    ``2e-19`` relative to ``Σ_j z_j``).
    """
    M = TAIL_ORDER + 1
    z = 0.5 * (1.0 - np.cos((2.0 * np.arange(M) + 1.0) * math.pi / (2.0 * M)))
    zj = np.exp(-h * np.arange(int(math.ceil(46.1 / h)) + 1))
    ell = np.ones((M, zj.size))
    for m in range(M):
        for i in range(M):
            if i != m:
                ell[m] *= (zj - z[i]) / (z[m] - z[i])
    Om = (ell[:, None, :] * zj[None, None, :] ** np.arange(M + 1)[None, :, None]).sum(axis=2)
    for a in (z, Om):
        a.flags.writeable = False
    return z, Om


@functools.lru_cache(maxsize=64)
def _left_nodes(h: float, JL: int) -> tuple[np.ndarray, ...]:
    """Per-lattice tables of the left tail (``t_* = e^{(JL−1)h}``): the moment-series matrix
    ``(−t_* z_m)^i / i!`` (``1 <= i <= TAIL_ORDER``), the value weights ``Ω[:, 1:3] / z`` and the
    gradient-polynomial weights ``Ω[:, l+1] · h (−1)^l / l! · t_*^{l+1}`` (``l <= TAIL_ORDER``)."""
    JT = TAIL_ORDER
    z, Om = _left_weights(h)
    lts = (JL - 1) * h
    i = np.arange(1, JT + 1)[:, None]
    Vl = np.exp(i * (lts + np.log(z))[None, :]) * _SIGNED_INV_FACT[1 : JT + 1, None]
    Wv = Om[:, 1:3] / z[:, None]
    Wb = Om[:, 1 : JT + 2] * (h * _SIGNED_INV_FACT[: JT + 1] * np.exp(lts * np.arange(1, JT + 2)))
    out = (z, Vl, Wv, Wb)
    for a in out:
        a.flags.writeable = False
    return out


def _left_tail(mu, k, JL, h, rts, ap, need_grad):
    """Left tail ``t'_j = t_* z_j``, ``z_j = e^{-jh}`` (``j >= 0``, ``t_* = e^{(JL−1)h}``), per pair.

    ``g(t') = e^{-rt'}(1 − φ_b(t')^k)`` and ``H(t') = e^{-rt'} φ_b(t')^{k−1}`` are evaluated at the
    ``TAIL_ORDER + 1`` Chebyshev points ``t_* z_m`` (``φ_b − 1`` from the moments ``μ_1..μ_9``) and
    replaced by their interpolating polynomials in ``z`` (``g(t_* z)/z`` and ``H``): returns
    ``Σ_j g(t'_j)``, ``Σ_j r t'_j g(t'_j)`` and the coefficients ``β_l`` (``l <= TAIL_ORDER``) of
    ``h Σ_j t'_j H(t'_j) e^{-t'_j b} = Σ_l β_l b^l`` (``None`` without ``need_grad``); ``rts`` is
    ``r t_*`` per pair, ``ap`` the anchor row of each pair (``None``: one pair per anchor).
    """
    JT = TAIL_ORDER
    z, Vl, Wv, Wb = _left_nodes(h, JL)
    lphi = np.log1p(mu[:, 1 : JT + 1] @ Vl)  # log φ_b(t_* z_m): |φ − 1| <= 2δ
    if ap is not None:
        lphi = lphi[ap]
    rt = np.multiply.outer(rts, z)  # r t'
    er = np.exp(-rt)
    gv = np.expm1(k * lphi)
    gv *= er  # −g
    lg = -(gv @ Wv)
    if not need_grad:
        return lg[:, 0], None, None
    Hv = (k - 1) * lphi
    Hv -= rt
    np.exp(Hv, out=Hv)
    return lg[:, 0], rts * lg[:, 1], Hv @ Wb


@functools.lru_cache(maxsize=256)
def _series_table(h: float, J: int, j_start: int, count: int) -> np.ndarray:
    """``(−t'_j)^i / i!`` (``i <= J``) on the nodes ``t'_j = e^{jh}``, ``j_start <= j < j_start +
    count``: the ``(J+1, count)`` matrix of the moment series (read-only, cached per lattice)."""
    ut = h * np.arange(j_start, j_start + count)
    V = np.exp(np.outer(np.arange(J + 1), ut)) * _SIGNED_INV_FACT[: J + 1, None]
    V.flags.writeable = False
    return V


@functools.lru_cache(maxsize=64)
def _h_grid(h: float, R: int) -> np.ndarray:
    """``h · (0, 1, …, R−1)`` (read-only)."""
    g = h * np.arange(R)
    g.flags.writeable = False
    return g


def _right_tail(lt_end: np.ndarray, h: float, J: int, tau0: float):
    """``Σ_{j>=0} e^{-t_j}`` and ``Σ_{j>=0} t_j e^{-t_j}`` over ``t_j = e^{lt_end + jh}``, per pair.

    Nodes with ``t < τ_0`` are summed exactly through the Taylor series of ``e^{-t}``
    (geometric sums of ``t_j^i``); the others (at most ``log(_T_MAX/τ_0)/h + 1``) explicitly,
    up to ``t = _T_MAX``.
    """
    ltau = math.log(tau0)
    R = int(math.ceil((math.log(_T_MAX) - float(lt_end.min())) / h)) if lt_end.size else 0
    if R <= 0 or float(lt_end.min()) >= ltau:  # no series nodes (one pair per anchor: s = 1)
        if R <= 0:
            return np.zeros(lt_end.size), np.zeros(lt_end.size)
        tt = np.exp(np.add.outer(lt_end, _h_grid(h, R)))
        ex = np.exp(-tt)
        return ex.sum(axis=1), np.einsum("pj,pj->p", tt, ex)
    N = np.maximum(0, np.ceil((ltau - lt_end) / h)).astype(np.int64)  # series nodes per pair
    val = np.zeros(lt_end.size)
    tval = np.zeros(lt_end.size)
    has = N > 0
    if np.any(has):
        i = np.arange(J + 2)
        l0 = lt_end[has, None]
        lN = l0 + h * N[has, None]
        # Σ_{j<N} t_j^i = (t_N^i − t_0^i) / (e^{ih} − 1);  i = 0 gives N
        S = (np.exp(i * lN) - np.exp(i * l0)) / np.where(i > 0, np.expm1(i * h), 1.0)
        S[:, 0] = N[has]
        val[has] = S[:, : J + 1] @ _SIGNED_INV_FACT[: J + 1]
        tval[has] = S[:, 1 : J + 2] @ _SIGNED_INV_FACT[: J + 1]
    start = lt_end + h * N  # first explicit node (t >= τ_0)
    R = int(math.ceil((math.log(_T_MAX) - float(start.min())) / h)) if start.size else 0
    if R > 0:
        tt = np.exp(start[:, None] + h * np.arange(R)[None, :])
        ex = np.exp(-tt)
        val += ex.sum(axis=1)
        tval += np.einsum("pj,pj->p", tt, ex)
    return val, tval


def family_loss(
    base: np.ndarray,
    D: np.ndarray,
    k: int,
    anchor: np.ndarray,
    shift: np.ndarray,
    weight: np.ndarray,
    *,
    need_grad: bool = True,
    step: float = STEP,
    floor_cut: bool = False,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Exact ``I_k(a_p)`` for anchor families of pairs, and derivatives of ``Σ_p w_p I_k(a_p)``.

    Parameters
    ----------
    base : ndarray, shape (A, n)
        Finite log-score rows, one per anchor.
    D : ndarray, shape (n,)
        Law of the negatives (non-negative, sums to 1).
    k : int
        Number of negatives, ``k >= 1``.
    anchor : int ndarray, shape (P,)
        Anchor (row of ``base``) of each pair; sorted, every anchor has at least one pair.
    shift : ndarray, shape (P,)
        ``log a_{p,y} = base[anchor[p], y] + shift[p]``.
    weight : ndarray, shape (P,)
        Weights ``w_p`` (e.g. ``P(x, x⁺)``), used for the derivatives only.
    need_grad : bool
        Also return the derivatives.
    step : float
        Trapezoid step ``h`` in ``log t`` (module docstring: error ≈ √h e^{-π²/h}); the default
        ``log(2)/3`` uses the doubling chains on the exponential nodes, any other step one
        ``exp`` per node.
    floor_cut : bool
        Also end the exponential nodes where the floor bound ``φ_b(t') <= e^{-t' b_min}``
        (``b_min`` the smallest ``b > 0`` on the support, every support ``b`` positive)
        guarantees ``φ^{k−1} <= e^{-λ}``, i.e. at ``t' = λ / ((k − 1) b_min)`` — the same
        criterion as the chord bound, so the same error analysis; it matters when ``s`` is huge
        (the decoupled loss, :mod:`latentclass.losses.population`).  Default ``False``: the
        node set, and every result, is unchanged.

    Returns
    -------
    values : ndarray, shape (P,)
        ``I_k(a_p) = E log(1 + Σ_{i<=k} a_{p, Y_i})`` (the loss is ``weight @ values``).
    gbase : ndarray (A, n) or None
        ``∂ (Σ w I) / ∂ base`` = ``Σ_p w_p ∂I_k/∂ log a_{p,y}``.
    gshift : ndarray (P,) or None
        ``∂ (Σ w I) / ∂ shift_p`` = ``w_p Σ_y ∂I_k/∂ log a_{p,y}``.
    """
    base = np.asarray(base, dtype=float)
    D = np.asarray(D, dtype=float)
    A, n = base.shape
    P = anchor.size
    # one pair per anchor: ``anchor`` is 0..A−1 (sorted, every anchor has a pair)
    starts = np.arange(A) if P == A else _row_starts(anchor)
    if k == 1 and P < 2 * A:  # closed form costs O(P n); the integral O(A n Q + P Q)
        return _closed_form_k1(base, D, anchor, shift, weight, starts, need_grad)
    JMAX, JT, h = NODE_ORDER, TAIL_ORDER, step
    chain = _CHAIN and step == STEP  # exponential nodes by squaring (t'_{j+3} = 2 t'_j)
    seg = np.arange(A + 1) if P == A else np.append(starts, P)
    one_per_anchor = P == A
    # ---- b = e^{base − c} in [0, 1] (max 1 on the support of D), s = e^{shift + c}
    supp = D > 0
    if supp.all():
        c = base.max(axis=1)
        b = base - c[:, None]
    else:
        c = base[:, supp].max(axis=1)
        b = base - c[:, None]
        b[:, ~supp] = -np.inf
    np.exp(b, out=b)
    b[b < _TINY] = 0.0  # no subnormals (their contribution is below 1e-300 absolutely)
    logs = shift + (c if one_per_anchor else c[anchor])
    if P and float(logs.max()) > MAX_LOG_SCORE:
        raise scores_too_large(float(logs.max()))
    mu1 = np.einsum("ay,y->a", b, D)
    # ---- node range on the lattice u'_j = j h  (t'_j = e^{jh})
    if one_per_anchor:
        smin = smax = logs
    else:
        smin = np.minimum.reduceat(logs, starts)
        smax = np.maximum.reduceat(logs, starts)
    log_left = np.maximum(np.maximum(0.0, np.log(k * mu1)), -smin)  # log max(1, kμ1, 1/s)
    jl = np.floor((math.log(LEFT_DELTA) - log_left) / h).astype(np.int64)
    lam = _RIGHT_LOG + np.log1p(np.exp(np.minimum(smax, 700.0)) * k * mu1)
    x = (
        -np.expm1(-lam / (k - 1)) if k > 1 else np.full(A, np.inf)
    )  # φ^{k-1} <= e^{-λ} once 1 − φ >= x
    ok = x < mu1  # ... which the chord bound φ(t) <= 1 − μ1 (1 − e^{-t}) reaches
    log_tc = np.full(A, np.inf)
    log_tc[ok] = np.log(-np.log1p(-x[ok] / mu1[ok]))
    if floor_cut and k > 1:
        bpos = np.where(b[:, supp] > 0, b[:, supp], np.inf).min(axis=1) if supp.any() else None
        if bpos is not None:
            full = np.all(b[:, supp] > 0, axis=1)
            cut = np.full(A, np.inf)
            cut[full] = np.log(lam[full] / ((k - 1) * bpos[full]))
            log_tc = np.minimum(log_tc, cut)
    jr = np.ceil(np.minimum(log_tc, math.log(_T_MAX) + smax) / h).astype(np.int64)
    jr = np.maximum(jr, jl)
    j0 = int(math.floor(math.log(SERIES_T_MAX) / h))  # nodes j <= j0 use the moment series
    n_exp = np.maximum(0, jr - j0)

    # per-anchor share of the chunk budgets: the stored exponential nodes, the pair × node arrays,
    # and one (Ac, n) row block small enough for the cache (the power and Horner passes); one
    # block when even the largest share of every anchor fits (then _chunks gives one block too)
    def share(n_nodes, span, pairs):
        return np.maximum(
            np.maximum((n_nodes + 4) * n * 8.0, span * pairs * 8.0 * 8) / _CHUNK_BYTES,
            n * 8.0 / _ROW_BYTES,
        )

    ppa_max = 1 if one_per_anchor else int(np.diff(seg).max())
    if A * float(share(int(n_exp.max()), int((jr - jl).max() + 1), ppa_max)) <= 1.0:
        blocks = [(0, A)]
    else:
        blocks = list(_chunks(share(n_exp, jr - jl + 1, np.diff(seg)), 1.0))
    # ---- outputs
    values = np.empty(P)
    gbase = np.empty((A, n)) if need_grad else None
    gshift = np.empty(P) if need_grad else None
    kD = k * D
    E_buf = None
    for a0, a1 in blocks:
        Ac = a1 - a0
        p0, p1 = seg[a0], seg[a1]
        ap = np.arange(Ac) if one_per_anchor else anchor[p0:p1] - a0
        ls = logs[p0:p1]
        w = weight[p0:p1]
        loc_starts = starts[a0:a1] - p0
        bb = b[a0:a1]
        JL, JR = int(jl[a0:a1].min()), int(jr[a0:a1].max())
        J = _node_order(math.exp(h * min(JR, j0)), JT, JMAX)
        # split (exponential nodes only): entries with b <= θ = t'_{j0} / t'_{JR} keep
        # t' b <= t'_{j0} on every node, so their e^{-t'b} is the moment series there as well;
        # only the others ("large", index set L) need explicit exponentials.  Used when L is
        # at most a quarter of the block (small τ: far classes have tiny b).
        large = _split_entries(bb, j0, JR, h)
        sparse = large is not None
        if large is not None:
            n_large = int(np.count_nonzero(large))
            idx = np.flatnonzero(large)
            rowL = idx // n
            bL = bb.ravel()[idx]
            DL = D[idx % n]
            bs = bb.copy()
            bs.ravel()[idx] = 0.0  # the series part: entries of L removed
        else:
            bs = bb
        # moments μ_i = Σ D b^i (i = 1..J) from the running power p = b · bc^{i−1}, bc = b with the
        # entries < 1e-14 set to 0 (powers >= 2 of those are < 1e-28: far below rounding of the
        # leading term μ_1 t'); one cache-sized block, one matrix-vector product per power.  With
        # the split these are the moments μ^S of the series part, and μ = μ^S + μ^L.
        bc = np.where(bs < 1e-14, 0.0, bs)
        mu = np.empty((Ac, J + 1))
        mu[:, 0] = 1.0
        pw = bs.copy()
        mu[:, 1] = pw @ D
        for i in range(2, J + 1):
            pw *= bc
            mu[:, i] = pw @ D
        del pw
        if sparse:
            muS = mu.copy()
            pL = DL * bL
            mu[:, 1] += np.bincount(rowL, pL, minlength=Ac)
            bcL = np.where(bL < 1e-14, 0.0, bL)
            for i in range(2, J + 1):
                pL *= bcL
                mu[:, i] += np.bincount(rowL, pL, minlength=Ac)
        ut = h * np.arange(JL, JR + 1)  # log t'
        Q = ut.size
        tq = np.exp(ut)
        ns = min(max(j0 - JL + 1, 0), Q)  # the first ns nodes are series nodes
        phim1 = np.empty((Ac, Q))
        V = None
        if ns:  # φ − 1 = Σ_{i=1}^{J} μ_i (−t')^i / i!
            V = _series_table(h, J, JL, ns)  # (J+1, ns)
            phim1[:, :ns] = mu[:, 1:] @ V[1:]
        E = None
        if ns < Q:
            # E = e^{-t' b} (needed with relative accuracy by the gradient) and φ − 1 = Σ D (E − 1);
            # E − 1 is relatively accurate once t' b >= 1/2 for every b > 0 of the chunk (or b = 0:
            # then E − 1 = 0 exactly); on the nodes before that, expm1 is used.  The nodes end at
            # the first one where log φ <= −λ/(k − 1) for every anchor of the chunk (φ is
            # non-increasing in t', so φ^{k−1} <= e^{-λ} beyond it: module docstring); Jensen
            # (φ(t') >= e^{-t' μ1}) says no node before ``jmin`` can pass, so the test starts there.
            Qe = Q - ns
            q_check = Qe  # first exponential node that the Jensen bound lets pass the cut
            lphi_cut = np.full(Ac, -np.inf)
            if k > 1:
                lphi_cut = -lam[a0:a1] / (k - 1)
                xm = float(np.max(-lphi_cut / mu1[a0:a1]))  # log is increasing: one log
                jmin = (math.log(xm) if xm > 0.0 else -math.inf) / h
                if jmin < JR + 1:
                    q_check = max(0, math.ceil(jmin) - JL - ns)
            if sparse:
                # φ − 1 = Σ_i μ^S_i (−t')^i / i!  +  Σ_{L} D (e^{-t'b} − 1)   (both terms <= 0)
                VE = _series_table(h, J, JL + ns, Q - ns)
                phim1[:, ns:] = muS[:, 1:] @ VE[1:]
                EL = np.empty((Qe, n_large))
                n_acc = math.ceil((math.log(0.5 / float(bL.min())) - float(ut[ns])) / h)
                n_acc = min(max(n_acc, 0), Qe)
                Qe = _sparse_nodes(
                    EL, bL, DL, rowL, tq[ns:], n_acc, phim1[:, ns:], lphi_cut, q_check
                )
                EL, VE = EL[:Qe], VE[:, :Qe]
            else:
                if E_buf is None or E_buf.size < Qe * Ac * n:  # one buffer for all chunks
                    E_buf = np.empty(Qe * Ac * n)
                E = E_buf[: Qe * Ac * n].reshape(Qe, Ac, n)
                Qc, done = 0, False
                if chain:  # squaring chains for the first _CHAIN_DOUBLINGS doublings
                    Qc = min(Qe, CHAIN_STRIDE * (_CHAIN_DOUBLINGS + 1))
                    Qc, done = _doubling_nodes(
                        E[:Qc], bb, D, ut[ns:], h, phim1[:, ns:], lphi_cut, q_check
                    )
                if not done and Qc < Qe:  # one exp per node
                    q1 = ns + Qc
                    Qe = Qc + _direct_nodes(
                        E[Qc:], bb, D, ut[q1:], h, phim1[:, q1:], lphi_cut, max(0, q_check - Qc)
                    )
                else:
                    Qe = Qc
                E = E[:Qe]
            Q = ns + Qe
            ut, tq, phim1 = ut[:Q], tq[:Q], phim1[:, :Q]
        logphi = np.log1p(np.maximum(phim1, -1.0 + 2.0**-52))
        one_minus = -np.expm1(k * logphi)  # 1 − φ^k
        # pair quantities on the nodes: t = t'/s, e^{-t}
        tt = np.multiply.outer(np.exp(-ls), tq)  # t = t'/s: one exp per pair, not per node
        ex = np.exp(-tt)
        f = ex * (one_minus if one_per_anchor else one_minus[ap])
        # left tail (nodes j < JL): interpolation of the integrand at TAIL_ORDER + 1 points
        rts = np.exp((JL - 1) * h - ls)  # r t_*, r = 1/s, t_* = t'_{JL−1}
        left, gl, beta = _left_tail(mu, k, JL, h, rts, None if one_per_anchor else ap, need_grad)
        # right tail (nodes j > JR): 1 − φ^k = 1
        rv, rtv = _right_tail(ut[-1] - ls + h, h, _RIGHT_ORDER, _RIGHT_SERIES_T)
        values[p0:p1] = h * (f.sum(axis=1) + left + rv)
        if not need_grad:
            continue
        assert gbase is not None and gshift is not None  # allocated when need_grad
        # ∂I/∂ log s = ∫ e^{-t}(1 − φ^k) dt   (integrand t·f in u)
        gshift[p0:p1] = w * h * (np.einsum("pj,pj->p", tt, f) + gl + rtv)
        # ∂I/∂ log a_y = k D_y b_y ∫ t' e^{-t'/s} e^{-t' b_y} φ^{k-1} du'
        phik1 = np.exp((k - 1) * logphi)
        wq = (w[:, None] * h) * tq[None, :] * ex * (phik1 if one_per_anchor else phik1[ap])
        W = _segment_sum(wq, loc_starts, Ac)  # (Ac, Q)
        # polynomial in b_y from the series nodes and the left tail: e^{-t'b} = Σ_l (−t'b)^l / l!
        coef = W[:, :ns] @ V.T if V is not None else np.zeros((Ac, J + 1))  # V: iff ns
        assert beta is not None  # computed when need_grad
        coef[:, : JT + 1] += _segment_sum(beta * w[:, None], loc_starts, Ac)
        # b_y · Σ_l coef_l b_y^l by Horner's rule in bc (the powers of the moments)
        if sparse:  # series part on the exponential nodes too; entries of L below
            coefS = coef.copy()
            coef += W[:, ns:] @ VE.T
        cT = coef.T.copy()[:, :, None]  # (J+1, Ac, 1): contiguous coefficient columns
        g = np.empty((Ac, n))
        g[:] = cT[J]
        for l in range(J - 1, -1, -1):
            g *= bc
            g += cT[l]
        if sparse:  # L: series nodes by Horner, exponential nodes explicitly (positive terms)
            cL = coefS[rowL].T.copy()
            gL = cL[J].copy()
            for l in range(J - 1, -1, -1):
                gL *= bcL
                gL += cL[l]
            gL += np.einsum("pq,qp->p", W[rowL, ns:], EL)
            g.ravel()[idx] = gL
        elif E is not None:  # exponential nodes: b_y Σ_j W_j e^{-t'_j b_y}  (positive terms)
            g += np.matmul(W[:, None, ns:], E.transpose(1, 0, 2))[:, 0]
        g *= bb
        g *= kD
        gbase[a0:a1] = g
    return values, gbase, gshift
