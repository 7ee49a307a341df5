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

For other cases (debiased/hard-negative with large ``k`` and a general ``G``) no exact engine
is offered: :func:`latentclass.nce_loss` with ``loss=`` on ``model.sample(N, k, rng)`` is the
Monte-Carlo estimate with its standard error.
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

__all__ = ["ENUMERATE_MAX_WORK", "LossObjective"]

#: Largest ``P · T · s`` (pairs × count vectors × support) of the enumeration engine.
ENUMERATE_MAX_WORK = 20_000_000
#: Scores of one anchor row within this (relative) distance count as one value in the
#: binomial engine (the value changes by at most ``_TIE_TOL · Σ|∂ℓ/∂s|``).
_TIE_TOL = 1e-12
#: ``log δ`` of the decoupled engine (``δ = 2^{−60}``: its neglected term is in ``[0, δ]``).
_LOG_DELTA = -60 * math.log(2.0)
#: Truncation level of the binomial engine.
_DELTA = 1e-20
_ENGINES = ("auto", "enumerate", "order-statistics", "laplace", "multiset", "binomial")


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
        Bound on the neglected mass of the ``"binomial"`` engine (0 otherwise).
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
            "debiased": ("enumerate", "binomial"),
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
            value, Dg = self._binomial(Gs, need_grad)
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
