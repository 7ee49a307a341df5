"""Exact population forms of the contrastive losses (SPEC §8.2).

With scores ``u_y = G[x, y]/τ`` of anchor ``x``, ``s⁺ = G[x, x⁺]/τ`` and ``k`` iid negatives
``Y_i ~ D``, the population loss of ``ℓ`` is ``L^ℓ_k(G) = Σ_{x,x⁺} P(x,x⁺) E ℓ(s⁺, (u_{Y_i})_i)``.
:class:`LossObjective` evaluates it, with its symmetric gradient (a subgradient for the
hinge; SPEC §3.2 convention), by an engine chosen per loss:

- ``"enumerate"`` (every loss): the exact sum over the ``C(k + s − 1, s − 1)`` count vectors of
  the negatives over the ``s`` support points, multinomial weights (SPEC §3.4);
- ``"order-statistics"`` (hinge): the law of ``max_i u_{Y_i}``, cost independent of ``k``,
  ``k = ∞`` included (:mod:`latentclass._engines.order_statistics`);
- ``"laplace"`` / ``"multiset"`` (decoupled): the identity
  ``E log Σ_{i<=k} e^{u_{Y_i}} = Σ_z D(z) (u_z + I_{k−1}(x, z))`` with ``I_{k−1}`` the logistic
  expectation of SPEC §3.1 for the pair ``(x, z)`` — the library's logistic engines on the pair
  law ``A(x) D(z)`` (``A`` the anchor marginal), cost independent of ``k``; ``k = ∞`` gives
  ``L^dec_k − log k → L_∞`` of SPEC §3.5;
- ``"lln-limit"`` (debiased, hard-negative, ``k = ∞``): ``lim_k (L_k − log k)`` by the law of
  large numbers (proofs/loss_family.md §1.5);
- ``"binomial"`` (debiased, hard-negative): where every anchor row takes at most two distinct
  values on the support, the negatives' counts are binomial; the sum over ``j`` is truncated
  to ``|j − kp| <= t`` with ``t = sqrt(k log(2/δ)/2)``, ``δ = 1e-20`` (Hoeffding), and the
  attribute ``truncation_bound`` bounds the neglected part (``δ · max(|ℓ(j=0)|, |ℓ(j=k)|)`` per
  pair; ``ℓ`` is monotone in ``j``); scores within ``1e-12`` (relative) of the row's largest or
  smallest value count as that value.

- ``"moments"`` (debiased, and hard-negative with ``β = 0``; reached from ``"binomial"``
  when a row takes more than two values): the loss of a pair is ``φ(R̄)``, ``R̄`` the mean of
  ``k`` iid ``e^{u_Y}``; away from the clamp (one-sided Hoeffding) ``φ`` is expanded in the
  exact central moments of ``R̄`` with a Lagrange remainder bound; ``truncation_bound`` is the
  ``P``-weighted sum of the per-pair bounds (value only; proofs/loss_family.md §1.6), and a
  bound above :data:`MOMENT_MAX_BOUND` (the clamp within reach of the mean) is refused.

For other cases (hard-negative with ``β > 0``, large ``k``, a general ``G``: the loss depends on
two sums, ``Σ e^{(1+β)s_i}`` and ``Σ e^{βs_i}``, and no bound is implemented for their ratio) no
exact engine is offered: :func:`latentclass.nce_loss` with ``loss=`` on
``model.sample(N, k, rng)`` is the Monte-Carlo estimate with its standard error.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import gammaln, logsumexp

from .._engines.laplace import family_loss
from .._engines.multiset import MultisetTable, _count_table
from .._engines.order_statistics import hinge_family
from .._validation import check_choice, check_gram, check_k, check_tau
from ..model import LatentClassModel, check_model
from .objects import Hinge, _Loss, resolve_loss

__all__ = ["ENUMERATE_MAX_WORK", "MOMENT_MAX_BOUND", "LossObjective"]

#: Largest ``P · T · s`` (pairs × count vectors × support) of the enumeration engine.
ENUMERATE_MAX_WORK = 20_000_000
#: Scores of one anchor row within this (relative) distance count as one value in the
#: binomial engine (the value changes by at most ``_TIE_TOL · Σ|∂ℓ/∂s|``).
_TIE_TOL = 1e-12
#: ``log δ`` of the decoupled engine (``δ = 2^{−60}``: its neglected term is in ``[0, δ]``).
_LOG_DELTA = -60 * math.log(2.0)
#: Truncation level of the binomial engine.
_DELTA = 1e-20
_ENGINES = (
    "auto",
    "enumerate",
    "order-statistics",
    "laplace",
    "multiset",
    "binomial",
    "moments",
)


class LossObjective:
    """Population loss ``L^ℓ_k(G)`` of a contrastive loss ``ℓ`` as a function of the Gram
    matrix (SPEC §8.2); implements the :class:`~latentclass.GramObjective` protocol.

    Parameters
    ----------
    model : LatentClassModel
    k : int or math.inf
        Negatives; ``math.inf`` gives the hinge's ``E max(0, margin + max_supp u − s⁺)``, the
        decoupled loss's ``L_∞`` (the limit of ``L^dec_k − log k``) and, for the debiased and
        hard-negative losses, ``lim_k (L_k − log k)`` (SPEC §8.2).
    tau : float
        Temperature ``τ > 0``.
    loss : loss object or name
        Any loss of :mod:`latentclass.losses` (the logistic loss through this class uses the
        enumeration engine only; :class:`latentclass.NCEObjective` is its fast engine).
    method : str
        ``"auto"`` or one engine of the module docstring.

    Attributes
    ----------
    engine : str
        The engine used.
    convex : bool
        ``loss.convex`` (the certificate of SPEC §4 applies only when True).
    truncation_bound : float
        Bound on the neglected part of the ``"binomial"`` and ``"moments"`` engines at the last
        evaluation (0 otherwise).
    last_engine : str or None
        ``"binomial"`` or ``"moments"``: which of the two evaluated last (``None`` before).
    """

    def __init__(
        self,
        model: LatentClassModel,
        k: int | float,
        tau: float = 1.0,
        loss: Any = "hinge",
        *,
        method: str = "auto",
    ) -> None:
        check_model(model)
        self.model = model
        self.loss: _Loss = resolve_loss(loss)
        self.k = check_k(k, allow_inf=True)
        self.tau = check_tau(tau)
        self.method = check_choice(method, "method", _ENGINES)
        self.convex = bool(self.loss.convex)
        self.truncation_bound = 0.0
        self.last_engine: str | None = None
        Pm = np.asarray(model.pair_probs, dtype=float)
        self._px, self._pp = np.nonzero(Pm > 0)
        self._pw = Pm[self._px, self._pp]
        self._D = np.asarray(model.marginal, dtype=float)
        self._supp = np.flatnonzero(self._D > 0)
        self.n_points = model.n_points
        self.engine = self._choose_engine()
        self._table: MultisetTable | None = None
        self._anchor_cache: tuple[np.ndarray, np.ndarray] | None = None
        if self.engine in ("laplace", "multiset", "limit"):
            self._setup_decoupled()

    # ------------------------------------------------------------------ engine choice
    def _choose_engine(self) -> str:
        loss, k, method = self.loss, self.k, self.method
        name = loss.name
        allowed = {
            "logistic": ("enumerate",),
            "hinge": ("order-statistics", "enumerate"),
            "decoupled": ("laplace", "multiset", "enumerate"),
            "debiased": ("enumerate", "binomial", "moments"),
            "hard_negative": ("enumerate", "binomial"),
        }[name]
        if k == math.inf:
            if name == "hinge" and method in ("auto", "order-statistics"):
                return "order-statistics"
            if name == "decoupled" and method in ("auto", "laplace", "multiset"):
                return "limit"
            if name in ("debiased", "hard_negative") and method == "auto":
                return "lln-limit"
            raise ValueError(
                f"k=inf is not defined here for loss {name!r} with method={method!r} (the "
                "logistic limit is latentclass.NCEObjective(model, math.inf))"
            )
        if method != "auto":
            if method not in allowed:
                raise ValueError(
                    f"method={method!r} does not apply to loss {name!r}; use one of {allowed}"
                )
            return method
        if name == "hinge":
            return "order-statistics"
        if name == "decoupled":
            return "decoupled-auto"
        if self._enumeration_work() <= ENUMERATE_MAX_WORK:
            return "enumerate"
        if name != "logistic":
            return "binomial"  # checked at evaluation: rows with at most two values
        raise ValueError("the logistic loss: use latentclass.NCEObjective (any k)")

    def _enumeration_work(self) -> float:
        k = self.k
        assert isinstance(k, int)
        s = self._supp.size
        return float(self._px.size) * math.comb(k + s - 1, s - 1) * s

    def _setup_decoupled(self) -> None:
        return None

    # ------------------------------------------------------------------ protocol
    @property
    def n(self) -> int:
        """Size of the Gram matrix."""
        return self.n_points

    def __repr__(self) -> str:
        return (
            f"LossObjective(loss={self.loss!r}, n_points={self.n_points}, k={self.k}, "
            f"tau={self.tau}, engine={self.engine!r})"
        )

    def value(self, G: Any) -> float:
        """``L^ℓ_k(G)``.

        Parameters
        ----------
        G : array_like, shape (n, n)
            Gram matrix ``G[x, y] = f(x)·f(y)``: finite and symmetric (relative tolerance 1e-12);
            the loss is defined for every such matrix, the optimisation domain is unit diagonal
            and PSD (SPEC §4.1).

        Returns
        -------
        float
            ``L^ℓ_k(G) = Σ_{x,x⁺} P(x,x⁺) E ℓ(s⁺, s)`` (SPEC §8.2).
        """
        return self._evaluate(check_gram(G, self.n_points), False)[0]

    def grad(self, G: Any) -> np.ndarray:
        """Symmetric (sub)gradient at ``G``.

        Parameters
        ----------
        G : array_like, shape (n, n)
            Gram matrix ``G[x, y] = f(x)·f(y)``: finite and symmetric (relative tolerance 1e-12);
            the loss is defined for every such matrix, the optimisation domain is unit diagonal
            and PSD (SPEC §4.1).

        Returns
        -------
        ndarray, shape (n, n)
            A symmetric (sub)gradient (SPEC §8.2).
        """
        g = self._evaluate(check_gram(G, self.n_points), True)[1]
        assert g is not None
        return g

    def value_and_grad(self, G: Any) -> tuple[float, np.ndarray]:
        """``(L^ℓ_k(G), symmetric (sub)gradient)``.

        Parameters
        ----------
        G : array_like, shape (n, n)
            Gram matrix ``G[x, y] = f(x)·f(y)``: finite and symmetric (relative tolerance 1e-12);
            the loss is defined for every such matrix, the optimisation domain is unit diagonal
            and PSD (SPEC §4.1).

        Returns
        -------
        tuple of (float, ndarray of shape (n, n))
            The value and a symmetric (sub)gradient (SPEC §8.2).
        """
        v, g = self._evaluate(check_gram(G, self.n_points), True)
        assert g is not None
        return v, g

    def unchecked_value_and_grad(self, G: np.ndarray) -> tuple[float, np.ndarray]:
        """:meth:`value_and_grad` without validation (solver iterates).

        Parameters
        ----------
        G : ndarray, shape (n, n)
            A float, finite, exactly symmetric Gram matrix (not validated).

        Returns
        -------
        tuple of (float, ndarray of shape (n, n))
            As :meth:`value_and_grad`.
        """
        v, g = self._evaluate(G, True)
        assert g is not None
        return v, g

    # ------------------------------------------------------------------ engines
    def _evaluate(self, G: np.ndarray, need_grad: bool) -> tuple[float, np.ndarray | None]:
        Gs = G / self.tau
        eng = self.engine
        if eng == "order-statistics":
            value, Dg = self._hinge(Gs, need_grad)
        elif eng in ("laplace", "multiset", "decoupled-auto", "limit"):
            value, Dg = self._decoupled(Gs, need_grad)
        elif eng == "binomial":
            self.last_engine = "binomial"
            value, Dg = self._binomial(Gs, need_grad)
        elif eng == "moments":
            self.last_engine = "moments"
            value, Dg = _debiased_moments(self, Gs, need_grad)
        elif eng == "lln-limit":
            value, Dg = self._lln_limit(Gs, need_grad)
        else:
            value, Dg = self._enumerate(Gs, need_grad)
        if not need_grad:
            return value, None
        assert Dg is not None
        M = Dg.T.copy()
        M += Dg
        M *= 0.5 / self.tau
        return value, M

    def _hinge(self, Gs, need_grad):
        loss = self.loss
        assert isinstance(loss, Hinge)
        anchors, inv = self._anchor_index()
        U = Gs[anchors]
        pos = Gs[self._px, self._pp]
        vals, gU, gpos = hinge_family(
            U, self._D, self.k, inv, pos, self._pw, loss.margin, need_grad
        )
        value = float(self._pw @ vals)
        if not need_grad:
            return value, None
        Dg = np.zeros((self.n_points, self.n_points))
        Dg[anchors] = gU
        Dg[self._px, self._pp] += gpos  # pairs (x, x⁺) are distinct entries
        return value, Dg

    def _anchor_index(self):
        """Sorted anchors and the anchor index of every pair (cached)."""
        if self._anchor_cache is None:
            self._anchor_cache = np.unique(self._px, return_inverse=True)
        return self._anchor_cache

    def _decoupled(self, Gs, need_grad):
        """``Σ_{x,x⁺} P (−s⁺) + Σ_x A(x) Σ_z D(z) (u_z + I_{k−1}(x, z))`` (module docstring)."""
        n = self.n_points
        D, supp = self._D, self._supp
        A = np.bincount(self._px, weights=self._pw, minlength=n)  # anchor marginal
        anchors = np.flatnonzero(A > 0)
        value = -float(self._pw @ Gs[self._px, self._pp])
        Dg = np.zeros((n, n)) if need_grad else None
        if need_grad:
            assert Dg is not None
            np.add.at(Dg, (self._px, self._pp), -self._pw)
        if self.k == math.inf:
            base = Gs[anchors][:, supp]
            lse = logsumexp(base, b=D[supp], axis=1)
            value += float(A[anchors] @ lse)
            if need_grad:
                assert Dg is not None
                w = np.exp(base - lse[:, None]) * D[supp] * A[anchors][:, None]
                Dg[np.ix_(anchors, supp)] += w
            return value, Dg
        lin = Gs[np.ix_(anchors, supp)] @ D[supp]
        value += float(A[anchors] @ lin)
        if need_grad:
            assert Dg is not None
            Dg[np.ix_(anchors, supp)] += A[anchors][:, None] * D[supp][None, :]
        k_int = self.k
        assert isinstance(k_int, int)  # finite k: check_k returns an int
        if self.engine in ("decoupled-auto", "laplace"):
            self.engine = "laplace"
            if k_int == 1:  # log e^{s_1} − s⁺ is linear in G: the terms above are all of it
                return value, Dg
            return self._decoupled_anchor(Gs, need_grad, anchors, A, value, Dg, k_int)
        k1 = k_int - 1
        if k1 == 0:
            return value, Dg
        px = np.repeat(anchors, supp.size)
        pz = np.tile(supp, anchors.size)
        pw = (A[anchors][:, None] * D[supp][None, :]).ravel()
        if self._table is None:
            self._table = MultisetTable(n, D, k1, px, pz, pw)
        v2, Dg2 = self._table.evaluate(Gs, need_grad)
        value += v2
        if need_grad:
            assert Dg is not None
            Dg += Dg2
        return value, Dg

    def _decoupled_anchor(self, Gs, need_grad, anchors, A, value, Dg, k):
        """``Σ_x A(x) E log Σ_i e^{u_{Y_i}}`` with one Laplace integral per anchor.

        ``E log S = log λ + I_k(a/λ) − E log(1 + λ/S)`` with ``a_y = e^{u_y}`` and
        ``λ = δ k min_y a_y``: the last term lies in ``[0, δ]`` (``S >= k min a``), and
        ``δ = 2^{−60}`` puts it below double precision; ``I_k`` is the logistic engine
        (SPEC §3.3) with log-scores ``u_y − log λ``.  The linear term ``Σ D(z) u_z`` of the
        pairwise identity has been added by the caller; it is removed here (this form needs
        none).
        """
        D, supp = self._D, self._supp
        base = Gs[anchors]
        lin = Gs[np.ix_(anchors, supp)] @ D[supp]
        value -= float(A[anchors] @ lin)
        if need_grad:
            assert Dg is not None
            Dg[np.ix_(anchors, supp)] -= A[anchors][:, None] * D[supp][None, :]
        umin = base[:, supp].min(axis=1)
        log_lam = _LOG_DELTA + math.log(k) + umin  # (A,)
        idx = np.arange(anchors.size)
        vals, gb, _ = family_loss(
            base, D, k, idx, -log_lam, A[anchors], need_grad=need_grad, floor_cut=True
        )
        value += float(A[anchors] @ (vals + log_lam))
        if need_grad:
            assert Dg is not None and gb is not None
            Dg[anchors] += gb
        return value, Dg

    def _lln_limit(self, Gs, need_grad):
        """``lim_k (L_k − log k)`` of the debiased and hard-negative losses (SPEC §8.2):
        ``Σ P (log N_∞ − s⁺)``, ``N_∞ = max((r − τ⁺ e^{s⁺})/(1 − τ⁺), e^{−1/τ})`` with
        ``r = Σ_y D(y) e^{u_y}`` (debiased) or ``Σ D e^{(1+β)u} / Σ D e^{βu}`` (hard-negative),
        the almost-sure limit of ``R/k`` (proofs/loss_family.md §1.5)."""
        lo = self.loss
        supp, D = self._supp, self._D
        px, pp, pw = self._px, self._pp, self._pw
        tp = float(getattr(lo, "tau_plus", 0.0))
        U = Gs[px][:, supp]  # (P, s)
        Ds = D[supp]
        c = U.max(axis=1)
        t = U - c[:, None]
        if lo.name == "debiased":
            e = np.exp(t) * Ds
            se = e.sum(axis=1)
            log_r = c + np.log(se)
            dlr = e / se[:, None]  # ∂ log r / ∂u_y
        else:
            b = float(getattr(lo, "beta", 0.0))
            q = np.exp((1.0 + b) * t) * Ds
            w = np.exp(b * t) * Ds
            sq, sw = q.sum(axis=1), w.sum(axis=1)
            log_r = c + np.log(sq) - np.log(sw)
            dlr = (1.0 + b) * q / sq[:, None] - b * w / sw[:, None]
        pos = Gs[px, pp]
        c2 = np.maximum(log_r, pos)
        rs, ps = np.exp(log_r - c2), np.exp(pos - c2)
        A = (rs - tp * ps) / (1.0 - tp)
        floor = -1.0 / self.tau
        pos_a = A > 0
        log_a = np.log(np.where(pos_a, A, 1.0)) + c2
        free = pos_a & (log_a > floor)
        log_n = np.where(free, log_a, floor)
        value = float(pw @ (log_n - pos))
        if not need_grad:
            return value, None
        inv_a = np.where(free, 1.0 / np.where(free, A, 1.0), 0.0)  # e^{c2} / N
        d_log_r = inv_a * rs / (1.0 - tp)
        d_pos = -inv_a * tp * ps / (1.0 - tp) - 1.0
        n = self.n_points
        Dg = np.zeros((n, n))
        np.add.at(Dg, (px[:, None], supp[None, :]), (pw * d_log_r)[:, None] * dlr)
        Dg[px, pp] += pw * d_pos
        return value, Dg

    def _enumerate(self, Gs, need_grad):
        """Exact multinomial sum over count vectors (SPEC §3.4) of ``loss.counts_form``."""
        k = self.k
        assert isinstance(k, int)
        if self._enumeration_work() > ENUMERATE_MAX_WORK:
            raise ValueError(
                f"method='enumerate' needs {self._enumeration_work():.3g} operations (k={k}, "
                f"support {self._supp.size}); the limit is {ENUMERATE_MAX_WORK:.3g}"
            )
        supp = self._supp
        nu, logc = _count_table(supp.size, k)
        wts = np.exp(logc + nu @ np.log(self._D[supp]))
        n = self.n_points
        value = 0.0
        Dg = np.zeros((n, n)) if need_grad else None
        P = self._px.size
        rows = max(1, ENUMERATE_MAX_WORK // (10 * max(1, nu.shape[0] * supp.size)))
        for p0 in range(0, P, rows):
            px = self._px[p0 : p0 + rows]
            pp = self._pp[p0 : p0 + rows]
            pw = self._pw[p0 : p0 + rows]
            vals = Gs[px][:, supp]
            pos = Gs[px, pp]
            lv, gp, gv = self.loss.counts_form(pos, vals, nu, self.tau, need_grad)
            value += float(pw @ (lv @ wts))
            if need_grad:
                assert Dg is not None and gp is not None and gv is not None
                np.add.at(Dg, (px, pp), pw * (gp @ wts))
                gy = np.einsum("pty,t->py", gv, wts) * pw[:, None]
                np.add.at(Dg, (px[:, None], supp[None, :]), gy)
        return value, Dg

    def _binomial(self, Gs, need_grad):
        """Rows with at most two distinct values: binomial counts, truncated (Hoeffding)."""
        k = self.k
        assert isinstance(k, int)
        supp, D = self._supp, self._D
        px, pp, pw = self._px, self._pp, self._pw
        U = Gs[px][:, supp]  # (P, s)
        hi = U.max(axis=1)
        lo = U.min(axis=1)
        tie = _TIE_TOL * np.maximum(1.0, np.abs(U))
        top = np.abs(hi[:, None] - U) <= tie
        if not np.all(top | (np.abs(U - lo[:, None]) <= tie)):
            if self.loss.name == "debiased" or float(getattr(self.loss, "beta", 1.0)) == 0.0:
                self.last_engine = "moments"
                return _debiased_moments(self, Gs, need_grad)
            raise ValueError(
                f"no exact engine for loss {self.loss.name!r} at k={k} with this G: the "
                "enumeration is too large and some anchor row takes more than two distinct "
                "values (use nce_loss(F, model.sample(N, k, rng), tau, loss=...) for a "
                "Monte-Carlo estimate with its standard error)"
            )
        Ds = D[supp]
        p_top = np.minimum((top * Ds).sum(axis=1), 1.0)  # (P,)
        t = math.sqrt(k * math.log(2.0 / _DELTA) / 2.0)
        j_lo = max(0, int(math.floor(float(np.min(k * p_top)) - t)))
        j_hi = min(k, int(math.ceil(float(np.max(k * p_top)) + t)))
        j = np.arange(j_lo, j_hi + 1, dtype=float)
        counts = np.stack([j, k - j], axis=1)  # (T, 2)
        vals = np.stack([hi, lo], axis=1)
        pos = Gs[px, pp]
        with np.errstate(divide="ignore"):
            lp = np.log(p_top)[:, None]
            lq = np.log1p(-p_top)[:, None]
        logc = gammaln(k + 1.0) - gammaln(j + 1.0) - gammaln(k - j + 1.0)
        jj = j[None, :]
        term_top = np.where(jj > 0, jj * np.where(np.isfinite(lp), lp, 0.0), 0.0)
        term_top = np.where((jj > 0) & ~np.isfinite(lp), -np.inf, term_top)
        term_bot = np.where(k - jj > 0, (k - jj) * np.where(np.isfinite(lq), lq, 0.0), 0.0)
        term_bot = np.where((k - jj > 0) & ~np.isfinite(lq), -np.inf, term_bot)
        wts = np.exp(logc[None, :] + term_top + term_bot)  # (P, T)
        lv, gp, gv = self.loss.counts_form(pos, vals, counts, self.tau, need_grad)
        ends = self.loss.counts_form(pos, vals, np.array([[0.0, k], [float(k), 0.0]]), self.tau)[0]
        self.truncation_bound = float(pw @ (_DELTA * np.abs(ends).max(axis=1)))
        value = float(pw @ np.einsum("pt,pt->p", wts, lv))
        if not need_grad:
            return value, None
        assert gp is not None and gv is not None
        n = self.n_points
        Dg = np.zeros((n, n))
        np.add.at(Dg, (px, pp), pw * np.einsum("pt,pt->p", wts, gp))
        g2 = np.einsum("pt,pty->py", wts, gv) * pw[:, None]  # (P, 2): top, bottom groups
        bot = ~top
        m_top = np.maximum((top * Ds).sum(axis=1), 1e-300)
        m_bot = np.maximum((bot * Ds).sum(axis=1), 1e-300)
        share = np.where(top, Ds / m_top[:, None] * g2[:, :1], 0.0)
        share += np.where(bot, Ds / m_bot[:, None] * g2[:, 1:], 0.0)
        np.add.at(Dg, (px[:, None], supp[None, :]), share)
        return value, Dg


# --------------------------------------------------------------------------- debiased, large k
#: Largest Taylor order of the ``"moments"`` engine (even), and the truncation bound above
#: which it refuses (pointing at Monte-Carlo).
_MOMENT_ORDERS = (4, 6, 8, 10, 12, 14, 16)
MOMENT_MAX_BOUND = 1e-9


def _mean_central_moments(X: np.ndarray, Ds: np.ndarray, k: float, J: int):
    """``μ = E X`` and ``m_j = E(X̄ − μ)^j`` (``j = 0..J``) of the mean ``X̄`` of ``k`` iid
    draws of ``X`` (row ``p``: values ``X[p]`` with probabilities ``Ds``), exactly, through the
    cumulants ``κ_j(X̄) = κ_j(X) k^{1−j}`` and ``m_n = Σ_{j=2}^{n} C(n−1, j−1) κ_j m_{n−j}``."""
    mu = X @ Ds
    d = X - mu[:, None]
    P = X.shape[0]
    cm = np.empty((P, J + 1))
    powd = np.ones_like(d)
    for j in range(J + 1):
        cm[:, j] = powd @ Ds
        powd = powd * d
    cm[:, 1] = 0.0
    kap = np.zeros((P, J + 1))
    for n in range(2, J + 1):
        kap[:, n] = cm[:, n] - sum(
            math.comb(n - 1, j - 1) * kap[:, j] * cm[:, n - j] for j in range(2, n - 1)
        )
    kb = kap * np.array([k ** (1.0 - j) for j in range(J + 1)])[None, :]
    m = np.zeros((P, J + 1))
    m[:, 0] = 1.0
    for n in range(2, J + 1):
        m[:, n] = sum(math.comb(n - 1, j - 1) * kb[:, j] * m[:, n - j] for j in range(2, n + 1))
    return mu, m


def _taylor_expect(q: int, h0, m, J, h_lo, span, sup_g, delta):
    """``E g(μ + Z)`` for ``g = log h`` (``q = 0``) or ``g = h^{−q}`` (``h`` affine with slope 1,
    ``h(μ) = h0``), ``Z`` centred with moments ``m``: the Taylor sum to order ``J − 1`` and a bound
    ``sup_{h >= h_lo} |g^{(J)}| m_J / J! + δ (sup_g + Σ_j |g^{(j)}(μ)| span^j / j!)``, where
    ``|Z| < t`` (``h(μ + Z) >= h_lo``) except with probability ``<= δ`` and ``|Z| <= span``."""
    val = np.log(h0) if q == 0 else h0 ** (-float(q))
    absT = np.abs(val)
    for j in range(1, J):
        if q == 0:
            c = (-1.0) ** (j - 1) * math.factorial(j - 1) / math.factorial(j)
            dj = c / h0**j
        else:
            rising = math.prod(range(q, q + j))
            dj = (-1.0) ** j * rising / math.factorial(j) / h0 ** (q + j)
        val = val + dj * m[:, j]
        absT = absT + np.abs(dj) * span**j
    if q == 0:
        supJ = math.factorial(J - 1) / h_lo**J
    else:
        supJ = math.prod(range(q, q + J)) / h_lo ** (q + J)
    bound = supJ * np.abs(m[:, J]) / math.factorial(J) + delta * (sup_g + absT)
    return val, bound


def _debiased_moments(self: LossObjective, Gs: np.ndarray, need_grad: bool):
    """Debiased loss at large ``k`` (SPEC §8.2, proofs/loss_family.md §1.6): per pair the loss is
    ``φ(R̄)``, ``R̄`` the mean of the ``k`` iid ``e^{u_Y}``, ``φ(r) = log(1 + c max((r − β)/γ,
    e^{−1/τ}))`` with ``c = k e^{−s⁺}``, ``β = τ⁺ e^{s⁺}``, ``γ = 1 − τ⁺``; kink at
    ``r_c = β + γ e^{−1/τ}``.  With ``t`` the Hoeffding radius of level ``δ = 10⁻²⁰``: if
    ``μ − t > r_c`` the free branch ``log(c/γ) + log h(r)``, ``h = r − β + γ/c``, is expanded
    in the exact central moments of ``R̄`` (order ``J − 1``, ``J`` even, chosen per call); if
    ``μ + t < r_c`` the loss is the constant ``log(1 + c e^{−1/τ})`` off an event of
    probability ``<= δ``.  The sum of the per-pair bounds, weighted by ``P``, is
    ``truncation_bound``; otherwise (the kink within reach, or a bound above
    :data:`MOMENT_MAX_BOUND`) a ``ValueError`` points at Monte-Carlo."""
    k = self.k
    assert isinstance(k, int)
    lo = self.loss
    tp = float(getattr(lo, "tau_plus", 0.0))
    supp, D = self._supp, self._D
    px, pp, pw = self._px, self._pp, self._pw
    Ds = D[supp]
    U = Gs[px][:, supp]
    pos = Gs[px, pp]
    X = np.exp(U)
    a, b = X.min(axis=1), X.max(axis=1)
    span = np.maximum(b - a, 1e-300)
    c = k * np.exp(-pos)
    beta = tp * np.exp(pos)
    gam = 1.0 - tp
    floor = math.exp(-1.0 / self.tau)
    rc = beta + gam * floor
    off = gam / c - beta
    c0 = np.log1p(c * floor)
    sup_phi = np.log1p(c * np.maximum((b - beta) / gam, floor))
    refuse = (
        f"no exact engine for loss {lo.name!r} at k={k} with this G: "
        "{why} (use nce_loss(F, model.sample(N, k, rng), tau, loss=...) for a Monte-Carlo "
        "estimate with its standard error)"
    )
    P = px.size
    best_b = np.full(P, np.inf)
    vals = np.zeros(P)
    best_J = np.zeros(P, dtype=int)
    best_t = np.zeros(P)
    mu = X @ Ds
    free = mu > rc
    dist = np.abs(mu - rc)
    moments = {}
    for J in _MOMENT_ORDERS:
        mu, m = _mean_central_moments(X, Ds, float(k), J)
        moments[J] = m
        for theta in (0.5, 0.7, 0.85, 0.95):
            t = theta * dist
            # one-sided Hoeffding: Pr(R̄ <= μ − t) (free) or Pr(R̄ >= μ + t) (clamped)
            delta = np.exp(-2.0 * k * (t / span) ** 2)
            h0 = np.where(free, mu + off, 1.0)
            h_lo = np.where(free, mu - t + off, 1.0)
            # off the event |φ − T| <= sup φ + |log(c/γ)| + Σ_j |T_j| span^j
            sup_g = sup_phi + np.abs(np.log(c / gam))
            vfree, bfree = _taylor_expect(0, h0, m, J, h_lo, span, sup_g, delta)
            v = np.where(free, np.log(c / gam) + vfree, c0)
            bnd = np.where(free, bfree, delta * (sup_phi - c0))
            better = bnd < best_b
            best_b = np.where(better, bnd, best_b)
            vals = np.where(better, v, vals)
            best_J = np.where(better, J, best_J)
            best_t = np.where(better, t, best_t)
    total = float(pw @ best_b)
    if not total <= MOMENT_MAX_BOUND:
        raise ValueError(
            refuse.format(
                why=f"the moment expansion's bound is {total:.3g} > {MOMENT_MAX_BOUND:g} (the "
                "clamp of N_g is too close to the negatives' mean for k)"
            )
        )
    self.truncation_bound = total
    value = float(pw @ vals)
    if not need_grad:
        return value, None
    # ∂/∂u_y = D_y e^{u_y} E[1/h((e^{u_y} + S_{k−1})/k)] on the free pairs, 0 on the clamped;
    # ∂/∂s⁺ = −1 + (γ/c − β) E[1/h(R̄)] (free), −c e^{−1/τ}/(1 + c e^{−1/τ}) (clamped).
    # (Expanded at the order chosen for the value; not part of truncation_bound.)
    e1 = np.zeros(P)
    gy = np.zeros_like(X)
    scale = ((k - 1.0) / k) ** np.arange(max(_MOMENT_ORDERS) + 1)
    for J in np.unique(best_J):
        J = int(J)
        rows = best_J == J
        h0 = np.where(free, mu + off, 1.0)
        h_lo = np.where(free, mu - best_t + off, 1.0)
        ej, _ = _taylor_expect(1, h0, moments[J], J, h_lo, span, 0.0, 0.0)
        e1 = np.where(rows, ej, e1)
        _, m1 = _mean_central_moments(X, Ds, float(k - 1), J)
        m1 = m1 * scale[None, : J + 1]
        for j in range(supp.size):
            hy = np.where(free, (X[:, j] + (k - 1.0) * mu) / k + off, 1.0)
            ey, _ = _taylor_expect(1, hy, m1, J, np.maximum(hy, 1e-300), span, 0.0, 0.0)
            gy[:, j] = np.where(rows & free, Ds[j] * X[:, j] * ey, gy[:, j])
    d_pos = np.where(free, -1.0 + off * e1, -c * floor / (1.0 + c * floor))
    n = self.n_points
    Dg = np.zeros((n, n))
    np.add.at(Dg, (px[:, None], supp[None, :]), pw[:, None] * gy)
    Dg[px, pp] += pw * d_pos
    return value, Dg
