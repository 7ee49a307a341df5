"""Independent oracles for the loss family (issue 14): plain-Python per-example losses
written from the formulas of SPEC §8.1, brute-force enumeration over ordered tuples of
negatives, and CVXPY programs of the convex problems.  Nothing here imports the library's
loss engines."""

from __future__ import annotations

import itertools
import math

import numpy as np


def scalar_loss(name: str, pos: float, neg, tau: float, **kw) -> float:
    """One example's loss from the formula, in plain Python floats (scores divided by τ)."""
    k = len(neg)
    if name == "logistic":
        return math.log(1.0 + sum(math.exp(s - pos) for s in neg))
    if name == "hinge":
        return max(0.0, kw.get("margin", 1.0) + max(neg) - pos)
    if name == "decoupled":
        return math.log(sum(math.exp(s - pos) for s in neg))
    tp = kw.get("tau_plus", 0.0)
    if name == "debiased":
        R = sum(math.exp(s) for s in neg)
    else:  # hard_negative
        b = kw["beta"]
        w = [math.exp(b * s) for s in neg]
        R = sum(wi * math.exp(s) for wi, s in zip(w, neg)) / (sum(w) / k)
    Ng = max((-tp * k * math.exp(pos) + R) / (1.0 - tp), k * math.exp(-1.0 / tau))
    return math.log(1.0 + Ng * math.exp(-pos))


def brute_force_population(model, G, k: int, tau: float, name: str, **kw) -> float:
    """``Σ_{x,x⁺} P(x,x⁺) Σ_{(y_1..y_k)} Π D(y_i) ℓ`` over all ordered tuples (k small)."""
    P = np.asarray(model.pair_probs)
    D = np.asarray(model.marginal)
    supp = [int(y) for y in np.flatnonzero(D > 0)]
    total = 0.0
    for x, xp in zip(*np.nonzero(P > 0)):
        acc = 0.0
        for tup in itertools.product(supp, repeat=k):
            pr = math.prod(D[y] for y in tup)
            acc += pr * scalar_loss(name, G[x, xp] / tau, [G[x, y] / tau for y in tup], tau, **kw)
        total += P[x, xp] * acc
    return total


def _multisets(s: int, k: int):
    for combo in itertools.combinations_with_replacement(range(s), k):
        yield np.bincount(np.array(combo, dtype=int), minlength=s)


def cvxpy_class_level(rho, k: int, tau: float, name: str, margin: float = 1.0):
    """Class-level optimum of the decoupled or hinge population loss by CVXPY + Clarabel:
    ``min Σ_x ρ_x Σ_ν Mult(ν) ℓ`` over ``G ⪰ 0, diag(G) ≤ 1`` (multisets of negatives)."""
    import cvxpy as cp

    rho = np.asarray(rho, dtype=float)
    m = rho.size
    G = cp.Variable((m, m), PSD=True)
    terms = []
    for nu in _multisets(m, k):
        logw = (
            math.lgamma(k + 1)
            - sum(math.lgamma(c + 1) for c in nu)
            + sum(c * math.log(r) for c, r in zip(nu, rho))
        )
        w = math.exp(logw)
        ys = np.flatnonzero(nu)
        for x in range(m):
            scores = cp.hstack([(G[x, y] - G[x, x]) / tau for y in ys])
            if name == "decoupled":
                terms.append(rho[x] * w * cp.log_sum_exp(scores + np.log(nu[ys])))
            else:
                terms.append(rho[x] * w * cp.maximum(0, margin + cp.max(scores)))
    prob = cp.Problem(cp.Minimize(cp.sum(cp.hstack(terms))), [cp.diag(G) <= 1])
    prob.solve(solver="CLARABEL")
    return float(prob.value), np.asarray(G.value)
