"""The averaging property of a contrastive loss, searched for violations (SPEC §8.3).

A loss ``ℓ`` of one example has the **averaging property** if for every example and every
set ``S ⊆ {1..k}`` of negatives (``|S| >= 2``)

    ``ℓ(s⁺, s) >= (1/|S|) Σ_{j∈S} ℓ(s⁺, s^{S←j})``,

where ``s^{S←j}`` replaces every ``s_i, i ∈ S``, by ``s_j`` (for losses of ``v = s⁺ − s`` this is
``V^{S←j}``).  :func:`check_averaging_property` draws random examples with feasible scores
(``s⁺, s_i ∈ [−1/τ, 1/τ]``, the range of unit vectors) and random sets ``S``, then polishes the
worst candidates by bounded L-BFGS on the gap; a violation it reports is an explicit example,
re-evaluated exactly.  Not finding one is evidence, not a proof (the proofs for the logistic,
hinge and decoupled losses are in proofs/loss_family.md, §4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize

from .._validation import as_generator, check_integer, check_tau
from .objects import _Loss, resolve_loss

__all__ = ["AveragingCheck", "check_averaging_property"]


@dataclass(frozen=True, repr=False)
class AveragingCheck:
    """Result of :func:`check_averaging_property`.

    Attributes
    ----------
    loss : str
        The loss (its repr).
    k, tau : int, float
    holds : bool
        ``worst >= −tol``: no violation beyond rounding found.
    worst : float
        The most negative ``ℓ(s⁺, s) − mean_{j∈S} ℓ(s⁺, s^{S←j})`` found.
    worst_pos : float
    worst_neg : ndarray (k,)
    worst_subset : tuple of int
        The example and the set ``S`` attaining ``worst``.
    n_trials : int
        Random examples tried (before the polish).
    tol : float
    """

    loss: str
    k: int
    tau: float
    holds: bool
    worst: float
    worst_pos: float
    worst_neg: np.ndarray
    worst_subset: tuple[int, ...]
    n_trials: int
    tol: float

    def __repr__(self) -> str:
        return (
            f"AveragingCheck(loss={self.loss}, k={self.k}, tau={self.tau}, holds={self.holds}, "
            f"worst={self.worst:.6g}, subset={self.worst_subset}, n_trials={self.n_trials})"
        )

    def _repr_html_(self) -> str:
        """A table for Jupyter: whether the averaging property held, the worst case found."""
        from .._html import fields_html

        return fields_html(self)


def _gaps(loss: _Loss, pos: np.ndarray, neg: np.ndarray, S: np.ndarray, tau: float) -> np.ndarray:
    """``ℓ(pos, neg) − mean_{j∈S} ℓ(pos, neg^{S←j})`` for rows ``(N,)``, ``(N, k)`` and one
    index set ``S``."""
    N, k = neg.shape
    base = loss._value_and_grad(pos, neg, tau, False)[0]
    rep = np.repeat(neg[:, None, :], S.size, axis=1)  # (N, |S|, k)
    rep[:, :, S] = neg[:, S][:, :, None]  # row j: every i in S replaced by s_j
    vals = loss._value_and_grad(np.repeat(pos, S.size), rep.reshape(-1, k), tau, False)[0]
    return base - vals.reshape(N, S.size).mean(axis=1)


def check_averaging_property(
    loss: Any,
    k: int,
    rng: Any = 0,
    *,
    tau: float = 1.0,
    n_trials: int = 20_000,
    n_polish: int = 8,
    tol: float = 1e-12,
) -> AveragingCheck:
    """Search for a violation of the averaging property of ``loss`` with ``k`` negatives.

    Parameters
    ----------
    loss : loss object or name
    k : int
        Number of negatives, ``>= 2``.
    rng : seed or numpy.random.Generator
    tau : float
        Temperature: scores range over ``[−1/τ, 1/τ]`` and the clamp of the debiased losses
        uses ``τ``.
    n_trials : int
        Random examples (each with a random ``S``, ``|S| >= 2``); half of them put the scores
        on the two ends of the range (adversarial corners).
    n_polish : int
        Worst candidates refined by bounded L-BFGS on the gap.
    tol : float
        ``holds`` is ``worst >= −tol``.

    Returns
    -------
    AveragingCheck
        ``worst = min ℓ(s⁺, s) − (1/|S|) Σ_{j∈S} ℓ(s⁺, s^{S←j})`` over the examples tried.
    """
    lo = resolve_loss(loss)
    k = check_integer(k, "k", minimum=2)
    tau = check_tau(tau)
    n_trials = check_integer(n_trials, "n_trials", minimum=1)
    n_polish = check_integer(n_polish, "n_polish", minimum=0)
    gen = as_generator(rng)
    b = 1.0 / tau
    pos = gen.uniform(-b, b, n_trials)
    neg = gen.uniform(-b, b, (n_trials, k))
    corners = np.arange(n_trials) % 2 == 1
    neg[corners] = np.where(gen.random((int(corners.sum()), k)) < 0.5, -b, b)
    pos[corners] = np.where(gen.random(int(corners.sum())) < 0.5, -b, b)
    sizes = gen.integers(2, k + 1, n_trials)
    gaps = np.empty(n_trials)
    subsets: list[np.ndarray] = [np.empty(0, int)] * n_trials
    for size in range(2, k + 1):  # one batch per |S| (at most k batches)
        rows = np.flatnonzero(sizes == size)
        if rows.size == 0:
            continue
        S = np.sort(gen.choice(k, size, replace=False))
        gaps[rows] = _gaps(lo, pos[rows], neg[rows], S, tau)
        for r in rows:
            subsets[r] = S
    order = np.argsort(gaps)[:n_polish]
    best = (float(gaps[order[0]]), float(pos[order[0]]), neg[order[0]].copy(), subsets[order[0]])
    for r in order:
        S = subsets[r]

        def f(z, S=S):
            return float(_gaps(lo, z[:1], z[None, 1:], S, tau)[0])

        z0 = np.concatenate([[pos[r]], neg[r]])
        res = minimize(f, z0, method="L-BFGS-B", bounds=[(-b, b)] * (k + 1))
        z = np.clip(res.x, -b, b)
        g = f(z)
        if g < best[0]:
            best = (g, float(z[0]), z[1:].copy(), S)
    worst, wp, wn, ws = best
    wn.flags.writeable = False
    return AveragingCheck(
        repr(lo),
        k,
        tau,
        bool(worst >= -tol),
        worst,
        wp,
        wn,
        tuple(int(i) for i in ws),
        n_trials,
        float(tol),
    )
