"""The contrastive losses of one example, on scores already divided by ``τ`` (SPEC §8).

For one example with positive score ``s⁺ = f(x)·f(x⁺)/τ`` and negative scores
``s_i = f(x)·f(x⁻_i)/τ`` (``i = 1..k``), ``v_i = s⁺ − s_i``:

============== ===================================================================== ======= ========
name           ``ℓ(s⁺, s)``                                                          convex  strictly
============== ===================================================================== ======= ========
logistic       ``log(1 + Σ_i e^{−v_i})`` (InfoNCE, SPEC §2)                           yes     yes (in v)
hinge          ``max(0, margin + max_i(−v_i))`` (Saunshi et al. 2019)                 yes     no
decoupled      ``log Σ_i e^{−v_i}`` (Yeh et al. 2022)                                 yes     no
debiased       ``log(1 + N_g e^{−s⁺})``, ``N_g = max((Σ_i e^{s_i} − τ⁺ k e^{s⁺})/(1 − τ⁺),
               k e^{−1/τ})`` (Chuang et al. 2020)                                     no      no
hard_negative  as debiased with ``Σ_i e^{s_i}`` replaced by
               ``R = Σ_i w_i e^{s_i} / mean_i w_i``, ``w_i = e^{β s_i}``
               (Robinson et al. 2021)                                                 no      no
============== ===================================================================== ======= ========

Every loss object is a frozen dataclass, callable as ``loss(pos (N,), neg (N, k), tau=1.0)``
(``tau`` only enters the clamp ``k e^{−1/τ}`` of the debiased and hard-negative losses: the
smallest value ``e^{s_i}`` can take for unit vectors), with

- ``value_and_grad(pos, neg, tau)`` → ``(ℓ (N,), ∂ℓ/∂pos (N,), ∂ℓ/∂neg (N, k))`` (a
  subgradient for the hinge: the first maximising negative, 0 where the hinge is inactive);
- ``counts_form(pos (P,), vals (P, r), counts (T, r), tau)`` → the loss of the example whose
  negatives take score ``vals[p, y]`` exactly ``counts[t, y]`` times (``(P, T)``) and its
  derivatives ``∂/∂pos`` (``(P, T)``) and ``∂/∂vals[p, y]`` summed over the copies
  (``(P, T, r)``) — the form summed by the population engines (SPEC §8.2);
- ``name``, ``convex``, ``strictly_convex``.

All evaluations shift by the largest score of each example, so no exponential overflows
for any finite scores.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.special import expit, logsumexp

__all__ = [
    "LOSS_NAMES",
    "Debiased",
    "Decoupled",
    "HardNegative",
    "Hinge",
    "Logistic",
    "resolve_loss",
]

LOSS_NAMES = ("logistic", "hinge", "decoupled", "debiased", "hard_negative")


def _check_scores(pos: Any, neg: Any) -> tuple[np.ndarray, np.ndarray]:
    pos = np.asarray(pos, dtype=float)
    neg = np.asarray(neg, dtype=float)
    if pos.ndim != 1:
        raise ValueError(f"pos must be a 1-D array of scores, got shape {pos.shape}")
    if neg.ndim != 2 or neg.shape[0] != pos.shape[0] or neg.shape[1] < 1:
        raise ValueError(
            f"neg must be an (N, k) array with N = len(pos) = {pos.shape[0]} and k >= 1, "
            f"got shape {neg.shape}"
        )
    if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(neg))):
        raise ValueError("pos and neg must be finite")
    return pos, neg


def _check_loss_tau(tau: Any) -> float:
    if isinstance(tau, (bool, np.bool_)) or not isinstance(tau, numbers.Real):
        raise TypeError(f"tau must be a positive real number, got {type(tau).__name__}")
    t = float(tau)
    if not (math.isfinite(t) and t > 0):
        raise ValueError(f"tau must be a finite number > 0, got {tau!r}")
    return t


class _Loss:
    """Shared public door: validate once, then the unchecked kernels."""

    name: ClassVar[str] = ""
    convex: ClassVar[bool] = False
    strictly_convex: ClassVar[bool] = False

    def __call__(self, pos: Any, neg: Any, tau: float = 1.0) -> np.ndarray:
        """``ℓ`` of every example: ``pos (N,)``, ``neg (N, k)`` scores divided by ``τ``."""
        p, q = _check_scores(pos, neg)
        return self._value_and_grad(p, q, _check_loss_tau(tau), False)[0]

    def value_and_grad(
        self, pos: Any, neg: Any, tau: float = 1.0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ℓ, ∂ℓ/∂pos, ∂ℓ/∂neg)`` (a subgradient where ``ℓ`` is not differentiable).

        Parameters
        ----------
        pos : array_like, shape (N,)
            Positive scores ``s⁺ = f(x)·f(x⁺)/τ``, finite.
        neg : array_like, shape (N, k)
            Negative scores ``s_i = f(x)·f(x⁻_i)/τ``, finite, ``k >= 1``.
        tau : float, default 1.0
            Temperature ``> 0`` (enters only the clamp ``k e^{−1/τ}`` of the debiased and
            hard-negative losses).

        Returns
        -------
        tuple of ndarray
            ``ℓ`` ``(N,)`` (the table of the module docstring, SPEC §8.1), ``∂ℓ/∂pos`` ``(N,)``
            and ``∂ℓ/∂neg`` ``(N, k)``.
        """
        p, q = _check_scores(pos, neg)
        v, gp, gn = self._value_and_grad(p, q, _check_loss_tau(tau), True)
        assert gp is not None and gn is not None
        return v, gp, gn

    def _value_and_grad(self, pos, neg, tau, need_grad):  # pragma: no cover - abstract
        raise NotImplementedError

    def counts_form(self, pos, vals, counts, tau, need_grad=False):  # pragma: no cover
        """Loss of count-vector examples (module docstring); unchecked kernel.

        Parameters
        ----------
        pos : ndarray, shape (P,)
            Positive scores ``s⁺`` (divided by ``τ``).
        vals : ndarray, shape (P, r)
            The ``r`` distinct negative scores of each positive.
        counts : ndarray, shape (T, r)
            Count vectors: a negative takes score ``vals[p, y]`` exactly ``counts[t, y]`` times.
        tau : float
            Temperature (the clamp of the debiased and hard-negative losses).
        need_grad : bool, default False
            Also return the derivatives.

        Returns
        -------
        tuple
            ``(ℓ (P, T), ∂ℓ/∂pos (P, T), ∂ℓ/∂vals (P, T, r))`` summed over the copies (SPEC
            §8.2); the two derivatives are ``None`` unless ``need_grad``.
        """
        raise NotImplementedError


# --------------------------------------------------------------------------- logistic
@dataclass(frozen=True)
class Logistic(_Loss):
    """``ℓ = log(1 + Σ_i e^{s_i − s⁺})`` (InfoNCE; SPEC §2, §8.1).  Convex in the scores,
    strictly convex in the margins ``v`` (a log-sum-exp with the constant 0 among its terms)."""

    name: ClassVar[str] = "logistic"
    convex: ClassVar[bool] = True
    strictly_convex: ClassVar[bool] = True

    def _value_and_grad(self, pos, neg, tau, need_grad):
        z = np.empty((neg.shape[0], neg.shape[1] + 1))
        z[:, 0] = 0.0
        np.subtract(neg, pos[:, None], out=z[:, 1:])
        val = logsumexp(z, axis=1)
        if not need_grad:
            return val, None, None
        w = np.exp(z[:, 1:] - val[:, None])
        return val, -w.sum(axis=1), w

    def counts_form(self, pos, vals, counts, tau, need_grad=False):
        z = vals - pos[:, None]  # (P, r)
        c = np.maximum(z.max(axis=1), 0.0)
        e = np.exp(z - c[:, None])  # (P, r)
        S = e @ counts.T  # (P, T)  Σ ν e^{z − c}
        val = c[:, None] + np.log(np.exp(-c)[:, None] + S)
        if not need_grad:
            return val, None, None
        den = np.exp(-c)[:, None] + S
        frac = S / den
        gv = counts[None, :, :] * e[:, None, :] / den[:, :, None]
        return val, -frac, gv


# --------------------------------------------------------------------------- hinge
@dataclass(frozen=True)
class Hinge(_Loss):
    """``ℓ = max(0, margin + max_i s_i − s⁺)`` (Saunshi et al. 2019; SPEC §8.1).

    Convex (a maximum of affine functions), piecewise linear, not strictly convex.

    Parameters
    ----------
    margin : float
        Finite, ``>= 0`` (default 1).
    """

    margin: float = 1.0
    name: ClassVar[str] = "hinge"
    convex: ClassVar[bool] = True
    strictly_convex: ClassVar[bool] = False

    def __post_init__(self) -> None:
        m = self.margin
        if isinstance(m, (bool, np.bool_)) or not isinstance(m, numbers.Real):
            raise TypeError(f"margin must be a real number, got {type(m).__name__}")
        if not (math.isfinite(float(m)) and float(m) >= 0):
            raise ValueError(f"margin must be finite and >= 0, got {m!r}")
        object.__setattr__(self, "margin", float(m))

    def _value_and_grad(self, pos, neg, tau, need_grad):
        j = np.argmax(neg, axis=1)
        mx = neg[np.arange(neg.shape[0]), j]
        arg = self.margin + mx - pos
        val = np.maximum(arg, 0.0)
        if not need_grad:
            return val, None, None
        act = (arg > 0).astype(float)
        gn = np.zeros_like(neg)
        gn[np.arange(neg.shape[0]), j] = act
        return val, -act, gn

    def counts_form(self, pos, vals, counts, tau, need_grad=False):
        present = counts > 0  # (T, r)
        masked = np.where(present[None, :, :], vals[:, None, :], -np.inf)  # (P, T, r)
        j = np.argmax(masked, axis=2)  # (P, T): first maximiser among the drawn values
        mx = np.take_along_axis(masked, j[:, :, None], axis=2)[:, :, 0]
        arg = self.margin + mx - pos[:, None]
        val = np.maximum(arg, 0.0)
        if not need_grad:
            return val, None, None
        act = (arg > 0).astype(float)
        gv = np.zeros(masked.shape)
        np.put_along_axis(gv, j[:, :, None], act[:, :, None], axis=2)
        return val, -act, gv


# --------------------------------------------------------------------------- decoupled
@dataclass(frozen=True)
class Decoupled(_Loss):
    """``ℓ = log Σ_i e^{s_i} − s⁺`` (decoupled contrastive loss, Yeh et al. 2022; SPEC §8.1).

    Convex (log-sum-exp of affine functions); not strictly convex (constant along
    ``v ↦ v + c·1``)."""

    name: ClassVar[str] = "decoupled"
    convex: ClassVar[bool] = True
    strictly_convex: ClassVar[bool] = False

    def _value_and_grad(self, pos, neg, tau, need_grad):
        lse = logsumexp(neg, axis=1)
        val = lse - pos
        if not need_grad:
            return val, None, None
        return val, -np.ones_like(pos), np.exp(neg - lse[:, None])

    def counts_form(self, pos, vals, counts, tau, need_grad=False):
        c = vals.max(axis=1)
        e = np.exp(vals - c[:, None])
        S = e @ counts.T  # > 0: every count vector has a positive entry
        val = c[:, None] + np.log(S) - pos[:, None]
        if not need_grad:
            return val, None, None
        gv = counts[None, :, :] * e[:, None, :] / S[:, :, None]
        return val, -np.ones_like(val), gv


# --------------------------------------------------------------------------- debiased family
def _clamped_log1p(pos, log_r, r_grad_ok, k, tau, tau_plus):
    """``ℓ = log(1 + N_g e^{−s⁺})`` from ``log R`` (``R`` the negatives' statistic), with
    ``N_g = max((R − τ⁺ k e^{s⁺})/(1 − τ⁺), k e^{−1/τ})``, all in the log domain.

    Returns ``(ℓ, dℓ/dpos (partial, R fixed), dℓ/dlog R, clamp_binds)``.
    """
    c = np.maximum(pos, log_r)
    rs = np.exp(log_r - c)
    ps = np.exp(pos - c)
    A = (rs - tau_plus * k * ps) / (1.0 - tau_plus)  # N_g e^{−c} before the clamp
    log_b = np.log(k) - 1.0 / tau - c
    pos_a = A > 0
    log_a = np.log(np.where(pos_a, A, 1.0))
    free = pos_a & (log_a > log_b)
    log_n = np.where(free, log_a, log_b)  # log(N_g e^{−c})
    log_x = log_n + c - pos
    val = np.logaddexp(0.0, log_x)
    sig = expit(log_x)
    inv_a = np.where(free, 1.0 / np.where(free, A, 1.0), 0.0)
    dpos = -sig - sig * inv_a * (tau_plus * k * ps / (1.0 - tau_plus))
    dlogr = sig * inv_a * rs / (1.0 - tau_plus)
    return val, dpos, dlogr, ~free


@dataclass(frozen=True)
class Debiased(_Loss):
    """Debiased contrastive loss (Chuang et al. 2020, as in the authors' code; SPEC §8.1).

    ``N_g = max((Σ_i e^{s_i} − τ⁺ k e^{s⁺})/(1 − τ⁺), k e^{−1/τ})``,
    ``ℓ = log(1 + N_g e^{−s⁺})``.  Not convex (the clamp and the subtraction); with
    ``τ⁺ = 0`` and scores ``s_i >= −1/τ`` it is the logistic loss.

    Parameters
    ----------
    tau_plus : float
        Class prior ``τ⁺ ∈ [0, 1)``.
    """

    tau_plus: float = 0.1
    name: ClassVar[str] = "debiased"

    def __post_init__(self) -> None:
        object.__setattr__(self, "tau_plus", _check_tau_plus(self.tau_plus))

    def _value_and_grad(self, pos, neg, tau, need_grad):
        k = neg.shape[1]
        cn = neg.max(axis=1)
        log_r = cn + np.log(np.exp(neg - cn[:, None]).sum(axis=1))
        val, dpos, dlogr, _ = _clamped_log1p(pos, log_r, True, k, tau, self.tau_plus)
        if not need_grad:
            return val, None, None
        gn = dlogr[:, None] * np.exp(neg - log_r[:, None])
        return val, dpos, gn

    def counts_form(self, pos, vals, counts, tau, need_grad=False):
        k = float(counts[0].sum())
        c = vals.max(axis=1)
        e = np.exp(vals - c[:, None])
        S = e @ counts.T  # (P, T)
        log_r = c[:, None] + np.log(S)
        val, dpos, dlogr, _ = _clamped_log1p(pos[:, None], log_r, True, k, tau, self.tau_plus)
        if not need_grad:
            return val, None, None
        gv = (dlogr / S)[:, :, None] * counts[None, :, :] * e[:, None, :]
        return val, dpos, gv


def _check_tau_plus(tp: Any) -> float:
    if isinstance(tp, (bool, np.bool_)) or not isinstance(tp, numbers.Real):
        raise TypeError(f"tau_plus must be a real number in [0, 1), got {type(tp).__name__}")
    t = float(tp)
    if not (0.0 <= t < 1.0):
        raise ValueError(f"tau_plus must lie in [0, 1), got {tp!r}")
    return t


@dataclass(frozen=True)
class HardNegative(_Loss):
    """Hard-negative contrastive loss (Robinson et al. 2021, as in the authors' code;
    SPEC §8.1).

    ``w_i = e^{β s_i}``, ``R = Σ_i w_i e^{s_i} / mean_i(w_i) = k Σ_i e^{(1+β)s_i} / Σ_i e^{β s_i}``,
    ``N_g = max((R − τ⁺ k e^{s⁺})/(1 − τ⁺), k e^{−1/τ})``, ``ℓ = log(1 + N_g e^{−s⁺})``.
    ``β = 0`` is :class:`Debiased`.  Not convex.

    Parameters
    ----------
    beta : float
        Concentration ``β >= 0`` (finite).
    tau_plus : float
        Class prior ``τ⁺ ∈ [0, 1)`` (default 0).
    """

    beta: float = 1.0
    tau_plus: float = 0.0
    name: ClassVar[str] = "hard_negative"

    def __post_init__(self) -> None:
        b = self.beta
        if isinstance(b, (bool, np.bool_)) or not isinstance(b, numbers.Real):
            raise TypeError(f"beta must be a real number >= 0, got {type(b).__name__}")
        if not (math.isfinite(float(b)) and float(b) >= 0):
            raise ValueError(f"beta must be finite and >= 0, got {b!r}")
        object.__setattr__(self, "beta", float(b))
        object.__setattr__(self, "tau_plus", _check_tau_plus(self.tau_plus))

    def _stat(self, vals, counts):
        """``log R`` and ``∂ log R / ∂ vals`` per copy-sum, for count vectors (or, with
        ``counts`` None, for the rows of ``vals`` as tuples)."""
        b = self.beta
        c = vals.max(axis=1)
        t = vals - c[:, None]
        q = np.exp((1.0 + b) * t)
        r = np.exp(b * t)
        if counts is None:
            num, den, k = q.sum(axis=1), r.sum(axis=1), float(vals.shape[1])
        else:
            num, den, k = q @ counts.T, r @ counts.T, float(counts[0].sum())
            c = c[:, None]
        log_r = math.log(k) + c + np.log(num) - np.log(den)
        return log_r, q, r, num, den

    def _value_and_grad(self, pos, neg, tau, need_grad):
        k = neg.shape[1]
        log_r, q, r, num, den = self._stat(neg, None)
        val, dpos, dlogr, _ = _clamped_log1p(pos, log_r, True, k, tau, self.tau_plus)
        if not need_grad:
            return val, None, None
        b = self.beta
        dl = (1.0 + b) * q / num[:, None] - b * r / den[:, None]  # ∂ log R / ∂ s_i
        return val, dpos, dlogr[:, None] * dl

    def counts_form(self, pos, vals, counts, tau, need_grad=False):
        k = float(counts[0].sum())
        log_r, q, r, num, den = self._stat(vals, counts)
        val, dpos, dlogr, _ = _clamped_log1p(pos[:, None], log_r, True, k, tau, self.tau_plus)
        if not need_grad:
            return val, None, None
        b = self.beta
        dl = counts[None, :, :] * (
            (1.0 + b) * q[:, None, :] / num[:, :, None] - b * r[:, None, :] / den[:, :, None]
        )
        return val, dpos, dlogr[:, :, None] * dl


def resolve_loss(loss: Any) -> _Loss:
    """A loss object from an object or a name (``"logistic"``, ``"hinge"``, ``"decoupled"``,
    ``"debiased"`` (``τ⁺ = 0.1``), ``"hard_negative"`` (``β = 1``, ``τ⁺ = 0``));
    ``None`` is the logistic loss.

    Parameters
    ----------
    loss : loss object, str or None
        A loss of :mod:`latentclass.losses`, one of :data:`LOSS_NAMES`, or ``None``.

    Returns
    -------
    loss object
        ``loss`` itself if it is a loss object, else a new one with the default parameters
        (SPEC §8.1); an unknown name raises ``ValueError``, another type ``TypeError``.
    """
    if loss is None:
        return Logistic()
    if isinstance(loss, _Loss):
        return loss
    if isinstance(loss, str):
        table = {
            "logistic": Logistic,
            "hinge": Hinge,
            "decoupled": Decoupled,
            "debiased": Debiased,
            "hard_negative": HardNegative,
        }
        if loss not in table:
            raise ValueError(f"loss must be one of {LOSS_NAMES} or a loss object, got {loss!r}")
        return table[loss]()
    raise TypeError(
        "loss must be a name or a loss object of latentclass.losses (Logistic, Hinge, "
        f"Decoupled, Debiased, HardNegative), got {type(loss).__name__}"
    )


def is_logistic(loss: _Loss) -> bool:
    """True for the logistic loss (the library's default engines apply).

    Parameters
    ----------
    loss : loss object
        A loss of :mod:`latentclass.losses` (e.g. from :func:`resolve_loss`).

    Returns
    -------
    bool
        ``isinstance(loss, Logistic)``.
    """
    return isinstance(loss, Logistic)
