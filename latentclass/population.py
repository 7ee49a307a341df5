"""Exact population NCE loss ``L_k`` for every number of negatives ``k`` (SPEC §3).

For a finite latent-class model with pair law ``P(x, x⁺)`` and marginal ``D``, and a Gram
matrix ``G`` (``G = F Fᵀ``) at temperature ``τ``::

    L_k(G) = Σ_{x,x⁺} P(x,x⁺) · I_k(a^{x,x⁺}),   a^{x,x⁺}_y = exp((G[x,y] − G[x,x⁺]) / τ),
    I_k(a) = E log(1 + Σ_{i=1..k} a_{Y_i}) = ∫_0^∞ e^{-t} (1 − φ(t)^k) dt / t,
    φ(t)   = Σ_y D(y) e^{-t a_y}.

and the large-``k`` limit ``L_∞ = lim_k (L_k − log k) = Σ P(x,x⁺) log Σ_y D(y) a_y``.
The integral is evaluated by :mod:`latentclass._engines.laplace`; ``method="enumerate"`` sums the
multinomial law of the negatives exactly instead (small ``k`` and ``n`` only).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from scipy.special import logsumexp

from ._engines.laplace import family_loss
from ._engines.multiset import (
    MultisetTable,
    enumerate_family_loss,
    multiset_is_faster,
)
from ._validation import check_choice, check_gram, check_k, check_representation, check_tau
from .losses.objects import is_logistic, resolve_loss
from .losses.population import LossObjective
from .model import LatentClassModel, check_model

__all__ = [
    "NCEObjective",
    "expected_log1p_sum",
    "population_loss",
    "population_loss_limit",
]

_METHODS = ("auto", "laplace", "enumerate")
#: Bytes of ``(rows, n)`` temporaries in the limit objective.
_LIMIT_CHUNK_BYTES = 32 << 20


def _limit_family(base, D, anchor, shift, weight, need_grad):
    """``Σ_p w_p (log Σ_y D(y) e^{base[x_p,y]} + shift_p)`` and its derivatives (``k = ∞``)."""
    A, n = base.shape
    W = np.bincount(anchor, weights=weight, minlength=A)
    value = float(weight @ shift)
    gbase = np.empty((A, n)) if need_grad else None
    rows = max(1, _LIMIT_CHUNK_BYTES // (8 * 3 * max(n, 1)))
    off = ~(D > 0)
    for a0 in range(0, A, rows):
        blk = base[a0 : a0 + rows]
        if off.any():  # points without mass never appear as negatives
            blk = blk.copy()
            blk[:, off] = -np.inf
        lse = logsumexp(blk, b=D, axis=1)
        value += float(W[a0 : a0 + rows] @ lse)
        if need_grad:
            assert gbase is not None  # allocated when need_grad
            gbase[a0 : a0 + rows] = np.exp(blk - lse[:, None]) * D * W[a0 : a0 + rows, None]
    gshift = weight.copy() if need_grad else None
    return value, gbase, gshift


class NCEObjective:
    """The population NCE loss as a function of the Gram matrix (SPEC §3, §4).

    Parameters
    ----------
    model : LatentClassModel
        Finite model; pairs ``(x, x⁺)`` weighted by ``model.pair_probs``, negatives drawn from
        ``model.marginal``.
    k : int or math.inf
        Number of negatives (``>= 1``).  ``math.inf`` gives the limit objective
        ``L_∞(G) = Σ P(x,x⁺) log Σ_y D(y) exp((G[x,y] − G[x,x⁺]) / τ)`` (``= lim L_k − log k``).
    tau : float
        Temperature ``τ > 0``.
    method : {"auto", "laplace", "enumerate"}
        ``"laplace"``: Frullani/Laplace quadrature (cost independent of ``k``);
        ``"enumerate"``: exact sum over multisets of negatives, pair by pair (tiny cases only;
        the reference implementation); ``"auto"``: the cheaper of two exact engines — the dense
        multiset sum of :class:`latentclass._engines.multiset.MultisetTable` when ``k < 64`` and its
        work ``P · C(k + s − 1, s − 1) · (s + 130)`` (``P`` pairs, ``s`` points with ``D > 0``) is
        at most :data:`latentclass._engines.multiset.MULTISET_MAX_WORK` (``k = 1``:
        ``MULTISET_MAX_WORK_K1``; measured crossovers), the Laplace quadrature otherwise.  The
        engine used is the attribute ``engine`` (``"multiset"``, ``"laplace"``, ``"enumerate"``
        or ``"limit"``).

    Notes
    -----
    ``value(G)`` is ``L_k(G)``; ``grad(G)`` is the symmetric matrix ``M`` with
    ``L(G + E) = L(G) + <M, E> + o(E)`` for symmetric ``E`` (the entry-wise derivative
    ``∂L/∂G[x,y]`` symmetrised, ``M = (Dg + Dgᵀ)/2``).  With ``s_y = ∂I_k/∂ log a_y``:
    ``∂L/∂G[x,y] = Σ_{x⁺} P(x,x⁺) s_y / τ`` and ``∂L/∂G[x,x⁺] −= P(x,x⁺) Σ_y s_y / τ``
    (proofs/laplace_representation.md).

    Cost: ``O(n² Q)`` with ``Q`` the quadrature nodes of the anchor families (one family per
    anchor shares its ``n``-point work among all its positives), independent of ``k``; for large
    ``k`` the transition lies at small ``t`` and only the moments ``Σ_y D_y b_y^i`` are needed.
    Temporaries are chunked (a few tens of MiB whatever ``n``).  Log-score differences
    ``(G[x,y] − G[x,x⁺]) / τ`` above 650 (beyond double precision) raise ``ValueError``; with
    ``|G| <= 1`` this never happens for ``τ >= 0.0031``.

    ``loss=`` (SPEC §8): any loss of :mod:`latentclass.losses` or its name; the default
    ``None``/``"logistic"`` is this class, unchanged.  Any other loss returns a
    :class:`latentclass.losses.LossObjective` (its exact population form, with ``convex``
    equal to the loss's; ``method`` is passed on) — never an ``NCEObjective``, so that
    :func:`latentclass.certify` trusts convexity only for the logistic loss.
    """

    def __new__(
        cls,
        model: LatentClassModel,
        k: int | float,
        tau: float = 1.0,
        *,
        method: str = "auto",
        loss: Any = None,
    ) -> Any:
        lo = resolve_loss(loss)
        if not is_logistic(lo):
            return LossObjective(check_model(model), k, tau, lo, method=method)
        return super().__new__(cls)

    def __init__(
        self,
        model: LatentClassModel,
        k: int | float,
        tau: float = 1.0,
        *,
        method: str = "auto",
        loss: Any = None,
    ) -> None:
        self.model = check_model(model)
        self.k = check_k(k, allow_inf=True)
        self.tau = check_tau(tau)
        self.method = check_choice(method, "method", _METHODS)
        if self.method == "enumerate" and self.k == math.inf:
            raise ValueError("method='enumerate' needs a finite k, got k=inf")
        Pm = np.asarray(model.pair_probs)
        px, pp = np.nonzero(Pm > 0)  # row-major: sorted by anchor
        self._anchors, self._anchor_of_pair = np.unique(px, return_inverse=True)
        self._px, self._pp = px, pp
        self._pw = Pm[px, pp]
        self._all_anchors = self._anchors.size == model.n_points
        self._D = np.asarray(model.marginal, dtype=float)
        self.n_points = model.n_points
        self._table = None
        if self.k == math.inf:
            self.engine = "limit"
        elif self.method == "auto":
            k_int = self.k
            assert isinstance(k_int, int)  # finite k: check_k returns an int
            support = int(np.count_nonzero(self._D > 0))
            fits = multiset_is_faster(px.size, support, k_int)
            if fits:
                self._table = MultisetTable(self.n_points, self._D, k_int, px, pp, self._pw)
            self.engine = "multiset" if fits else "laplace"
        else:
            self.engine = self.method

    #: The population loss is convex in ``G`` (SPEC §4): the certificate applies.
    convex = True

    @property
    def n(self) -> int:
        """Size of the Gram matrix (the :class:`~latentclass.GramObjective` protocol)."""
        return self.n_points

    @property
    def second_order_cost(self) -> int | None:
        """``pairs · n²``: entries of the row Hessians of :meth:`second_order` (``None``
        where the engine has no Hessian: only the multiset engine has one)."""
        if self._table is None:
            return None
        return int(self._table.px.size) * self.n_points * self.n_points

    def unchecked_value_and_grad(self, G: np.ndarray) -> tuple[float, np.ndarray]:
        """:meth:`value_and_grad` without validation: ``G`` a float, finite, exactly
        symmetric ``(n, n)`` array (the solvers' iterates).

        Parameters
        ----------
        G : ndarray, shape (n, n)
            A float, finite, exactly symmetric Gram matrix (not validated).

        Returns
        -------
        tuple of (float, ndarray of shape (n, n))
            The value and the symmetric gradient ``M = (D + Dᵀ)/2``, ``D[x, y] = ∂L/∂G[x, y]`` taken
            one-sidedly (SPEC §3.2).
        """
        value, M = self._evaluate_unchecked(G, True)
        assert M is not None
        return value, M

    def __repr__(self) -> str:
        return f"NCEObjective(n_points={self.n_points}, k={self.k}, tau={self.tau}, method={self.method!r})"

    def _evaluate(self, G: Any, need_grad: bool):
        return self._evaluate_unchecked(check_gram(G, self.n_points), need_grad)

    def _evaluate_unchecked(self, G: np.ndarray, need_grad: bool):
        """Hot path for the optimiser: ``G`` is a float ``(n, n)`` symmetric finite array."""
        tau = self.tau
        if self._table is not None:
            value, Dg = self._table.evaluate(G / tau if tau != 1.0 else G, need_grad)
            if not need_grad:
                return value, None
            M = Dg.T.copy()
            M += Dg
            M *= 0.5 / tau
            return value, M
        Gs = G / tau
        base = Gs if self._all_anchors else Gs[self._anchors]
        shift = -Gs[self._px, self._pp]
        args = (base, self._D)
        if self.k == math.inf:
            value, gb, gsh = _limit_family(
                base, self._D, self._anchor_of_pair, shift, self._pw, need_grad
            )
        else:
            k_int = self.k
            assert isinstance(k_int, int)  # finite k: check_k returns an int
            fn = enumerate_family_loss if self.method == "enumerate" else family_loss
            vals, gb, gsh = fn(
                *args, k_int, self._anchor_of_pair, shift, self._pw, need_grad=need_grad
            )
            value = float(self._pw @ vals)
        if not need_grad:
            return value, None
        if self._all_anchors:
            Dg = gb
        else:
            Dg = np.zeros((self.n_points, self.n_points))
            Dg[self._anchors] = gb
        Dg[self._px, self._pp] -= gsh  # pairs (x, x⁺) are distinct entries
        M = Dg.T.copy()
        M += Dg
        M *= 0.5 / tau
        return value, M

    def second_order(self, G: np.ndarray):
        """``(value, M, anchors, blocks)`` with the Hessian of ``L`` in the entries of ``G``.

        Only for the multiset engine (``None`` otherwise).  ``M`` is the symmetric gradient;
        ``blocks[i]`` is ``∂²L / ∂G[x_i, :] ∂G[x_i, :]`` (the Hessian is block diagonal over
        the rows ``x_i = anchors[i]``; see :meth:`MultisetTable.hessian_rows`).  ``G`` is not
        validated (optimiser hot path).

        Parameters
        ----------
        G : ndarray, shape (n, n)
            A float, finite, exactly symmetric Gram matrix (not validated).

        Returns
        -------
        tuple or None
            ``(value, M, anchors, blocks)``: the loss, the symmetric gradient ``(n, n)``, the anchor
            rows ``(A,)`` and the Hessian blocks ``(A, n, n)``; ``None`` unless the multiset engine
            is in use.
        """
        if self._table is None:
            return None
        tau = self.tau
        value, Dg, anchors, blocks = self._table.hessian_rows(G / tau if tau != 1.0 else G)
        M = Dg.T.copy()
        M += Dg
        M *= 0.5 / tau
        if tau != 1.0:
            blocks /= tau * tau
        return value, M, anchors, blocks

    def value(self, G: Any) -> float:
        """``L_k(G)`` (or ``L_∞(G)`` for ``k = inf``).

        Parameters
        ----------
        G : array_like, shape (n, n)
            Gram matrix ``G[x, y] = f(x)·f(y)``: finite and symmetric (relative tolerance 1e-12);
            the loss is defined for every such matrix, the optimisation domain is unit diagonal
            and PSD (SPEC §4.1).

        Returns
        -------
        float
            ``L_k(G) = Σ_{x,x⁺} P(x,x⁺) E log(1 + Σ_i a_{y_i})``, ``a_y = e^{(G[x,y] − G[x,x⁺])/τ}``
            (SPEC §2–§3), or ``L_∞(G)`` (SPEC §3.5).
        """
        return self._evaluate(G, False)[0]

    def grad(self, G: Any) -> np.ndarray:
        """Symmetric gradient ``M`` (``(n, n)``) of ``L_k`` at ``G``.

        Parameters
        ----------
        G : array_like, shape (n, n)
            Gram matrix ``G[x, y] = f(x)·f(y)``: finite and symmetric (relative tolerance 1e-12);
            the loss is defined for every such matrix, the optimisation domain is unit diagonal
            and PSD (SPEC §4.1).

        Returns
        -------
        ndarray, shape (n, n)
            The symmetric gradient (SPEC §3.2).
        """
        return self._evaluate(G, True)[1]

    def value_and_grad(self, G: Any) -> tuple[float, np.ndarray]:
        """``(L_k(G), ∇L_k(G))`` sharing one pass over the quadrature nodes.

        Parameters
        ----------
        G : array_like, shape (n, n)
            Gram matrix ``G[x, y] = f(x)·f(y)``: finite and symmetric (relative tolerance 1e-12);
            the loss is defined for every such matrix, the optimisation domain is unit diagonal
            and PSD (SPEC §4.1).

        Returns
        -------
        tuple of (float, ndarray of shape (n, n))
            The value and the symmetric gradient ``M = (D + Dᵀ)/2``, ``D[x, y] = ∂L/∂G[x, y]`` taken
            one-sidedly (SPEC §3.2).
        """
        return self._evaluate(G, True)


def population_loss(
    model: LatentClassModel,
    F: Any,
    k: int,
    tau: float = 1.0,
    *,
    method: str = "auto",
    loss: Any = None,
) -> float:
    """Exact population NCE loss ``L_k(F)`` for any integer ``k >= 1`` (SPEC §3).

    Parameters
    ----------
    model : LatentClassModel
    F : array_like, shape (n_points, d)
        Representation, rows of norm ``<= 1``.
    k : int
        Number of negatives, an integer ``>= 1`` (use :func:`population_loss_limit` for the limit).
    tau : float
        Temperature ``> 0``.
    method : {"auto", "laplace", "enumerate"}
        For other losses also the engines of :class:`latentclass.losses.LossObjective`.
    loss : loss object or name, optional
        Default the logistic loss (SPEC §3); any loss of :mod:`latentclass.losses` (SPEC §8.2).

    Returns
    -------
    float
        ``Σ_{x,x⁺} P(x,x⁺) E log(1 + Σ_i exp((f(x)·f(x⁻_i) − f(x)·f(x⁺))/τ))`` (logistic), or
        ``Σ_{x,x⁺} P(x,x⁺) E ℓ(s⁺, s)`` for ``loss``.
    """
    model = check_model(model)
    lo = resolve_loss(loss)
    if isinstance(k, numbers.Real) and not isinstance(k, numbers.Integral) and k == math.inf:
        raise ValueError(
            "k must be an integer >= 1 here; L_k grows like log k, so for k = math.inf call "
            "population_loss_limit(model, F, tau), the limit lim_k (L_k − log k) (SPEC §3)"
        )
    k = check_k(k)
    tau = check_tau(tau)
    if is_logistic(lo):
        method = check_choice(method, "method", _METHODS)
    F = check_representation(F, model.n_points)
    G = F @ F.T
    G = 0.5 * (G + G.T)
    if not is_logistic(lo):
        return LossObjective(model, k, tau, lo, method=method).value(G)
    return NCEObjective(model, k, tau, method=method).value(G)


def population_loss_limit(
    model: LatentClassModel, F: Any, tau: float = 1.0, *, loss: Any = None
) -> float:
    """``L_∞(F) = lim_{k→∞} (L_k(F) − log k) = Σ P(x,x⁺) log Σ_y D(y) a_y`` (SPEC §3).

    ``loss="decoupled"`` has the same limit (SPEC §8.2); ``loss="hinge"`` (or a
    :class:`~latentclass.losses.Hinge`) gives ``lim_k L^hinge_k = Σ P(x,x⁺)
    max(0, margin + max_{y: D(y)>0} f(x)·f(y)/τ − f(x)·f(x⁺)/τ)`` (no ``log k`` to remove).

    Parameters
    ----------
    model : LatentClassModel
        The data model (SPEC §1).
    F : array_like, shape (n_points, d)
        Representation, rows of norm ``<= 1``.
    tau : float, default 1.0
        Temperature ``> 0``; ``a_y = exp((f(x)·f(y) − f(x)·f(x⁺))/τ)``.
    loss : loss object or name, optional
        Default the logistic loss; ``"decoupled"`` or ``"hinge"`` (or their objects) as above.

    Returns
    -------
    float
        ``L_∞(F)`` for the logistic and decoupled losses; the limit of ``L^hinge_k`` for the
        hinge loss.
    """
    model = check_model(model)
    tau = check_tau(tau)
    lo = resolve_loss(loss)
    F = check_representation(F, model.n_points)
    G = F @ F.T
    G = 0.5 * (G + G.T)
    if not is_logistic(lo):
        return LossObjective(model, math.inf, tau, lo).value(G)
    return NCEObjective(model, math.inf, tau).value(G)


def expected_log1p_sum(
    log_scores: Any, probs: Any, k: int, *, grad: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """``I_k(a) = E log(1 + Σ_{i=1..k} a_{Y_i})``, ``Y_i ~ probs`` iid, for each row of scores.

    Parameters
    ----------
    log_scores : array_like, shape (P, n) or (n,)
        ``log a`` (any finite reals).
    probs : array_like, shape (n,)
        Law of the ``Y_i`` (non-negative, sums to 1).
    k : int
        Integer ``>= 1``.
    grad : bool
        Also return ``∂I_k / ∂ log a`` (same shape as ``log_scores``).
    """
    k = check_k(k)
    la = np.asarray(log_scores, dtype=float)
    squeeze = la.ndim == 1
    la = np.atleast_2d(la)
    if la.ndim != 2:
        raise ValueError(f"log_scores must be 1-D or 2-D, got shape {la.shape}")
    if not np.all(np.isfinite(la)):
        raise ValueError("log_scores must be finite")
    D = np.asarray(probs, dtype=float)
    if D.shape != (la.shape[1],):
        raise ValueError(f"probs must have shape ({la.shape[1]},), got {D.shape}")
    if not np.all(np.isfinite(D)) or np.any(D < 0) or abs(D.sum() - 1.0) > 1e-9:
        raise ValueError("probs must be non-negative and sum to 1")
    P = la.shape[0]
    vals, g, _ = family_loss(la, D, k, np.arange(P), np.zeros(P), np.ones(P), need_grad=grad)
    if not grad:
        return vals[0] if squeeze else vals
    assert g is not None  # computed with need_grad=True
    return (vals[0], g[0]) if squeeze else (vals, g)
