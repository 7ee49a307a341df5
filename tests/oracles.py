"""Independent reference computations shared by the test modules (one copy each).

Each oracle is written from the definitions of docs/theory.md, not from the library's
engines: plain Python loops, exact enumeration, ``math.fsum``.  Import as
``from oracles import ...`` (pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import itertools
import math

import numpy as np


def compositions(n: int, k: int):
    """All tuples of ``n`` non-negative integers summing to ``k`` (recursive, no itertools)."""
    if n == 1:
        yield (k,)
        return
    for first in range(k + 1):
        for rest in compositions(n - 1, k - first):
            yield (first, *rest)


def brute_force_loss_gram(model, G, k: int, tau: float) -> float:
    """``L_k(G) = Σ_{x,x⁺} P(x,x⁺) Σ_ν Mult(ν; k, D) log(1 + Σ_y ν_y a_y)`` (SPEC §3), every
    multiset of negatives enumerated, term by term in Python floats."""
    G = np.asarray(G, dtype=float)
    D = model.marginal
    Pm = model.pair_probs
    n = model.n_points
    comps = list(compositions(n, k))
    coef = [math.factorial(k) // math.prod(math.factorial(v) for v in nu) for nu in comps]
    return math.fsum(
        Pm[x, xp]
        * math.fsum(
            c
            * math.prod(float(D[y]) ** nu[y] for y in range(n))
            * math.log1p(math.fsum(nu[y] * math.exp((G[x, y] - G[x, xp]) / tau) for y in range(n)))
            for nu, c in zip(comps, coef)
        )
        for x in range(n)
        for xp in range(n)
        if Pm[x, xp] > 0
    )


def brute_force_loss(model, F, k: int, tau: float) -> float:
    """:func:`brute_force_loss_gram` at ``G = F Fᵀ``."""
    F = np.asarray(F, dtype=float)
    return brute_force_loss_gram(model, F @ F.T, k, tau)


def brute_force_loss_tuples(model, G, k: int, tau: float) -> float:
    """The same expectation over *ordered* tuples of negatives (``n^k`` of them): a second,
    differently organised enumeration."""
    G = np.asarray(G, dtype=float)
    n = model.n_points
    total = 0.0
    for x, xp in itertools.product(range(n), repeat=2):
        pxx = model.pair_probs[x, xp]
        if pxx == 0:
            continue
        for ys in itertools.product(range(n), repeat=k):
            w = pxx * math.prod(model.marginal[y] for y in ys)
            if w:
                total += w * math.log1p(sum(math.exp((G[x, y] - G[x, xp]) / tau) for y in ys))
    return total


def brute_force_limit(model, G, tau: float) -> float:
    """``L_∞(G) = Σ P(x,x⁺) log Σ_y D(y) exp((G_xy − G_xx⁺)/τ)`` (SPEC §3)."""
    G = np.asarray(G, dtype=float)
    D, P = model.marginal, model.pair_probs
    A = np.exp((G[:, None, :] - G[:, :, None]) / tau)  # A[x, x+, y]
    return float(np.sum(P * np.log(A @ D)))


def random_representation(n: int, d: int, rng, low: float = 0.3) -> np.ndarray:
    """``n`` random rows in ``R^d`` with norms uniform in ``[low, 1]``."""
    F = rng.standard_normal((n, d))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    return F * rng.uniform(low, 1.0, size=(n, 1))


def simplex_gram(m: int) -> np.ndarray:
    """``m/(m−1) (I − 11ᵀ/m)``: unit diagonal, off-diagonal ``−1/(m−1)`` (SPEC §5)."""
    return (m / (m - 1)) * (np.eye(m) - np.ones((m, m)) / m)


def simplex_vertices(m: int) -> np.ndarray:
    """Rows ``(e_c − 1/m) / ‖e_c − 1/m‖`` in ``R^m`` (independent of ``lc.simplex``)."""
    V = np.eye(m) - 1.0 / m
    return V / np.linalg.norm(V, axis=1, keepdims=True)


def neural_collapse_oracle(X, y) -> dict:
    """NC1, NC2 and the mean classifier of labelled embeddings from the definitions of
    SPEC §10 (Papyan, Han & Donoho 2020), sample by sample in Python loops, with
    ``numpy.linalg.pinv`` for ``Σ_B⁺`` (the library uses an SVD of the centred means).

    ``X`` is used as given (no normalisation); ``y`` are integer labels ``0..C−1``; the
    centre is the unweighted mean of the class means (Papyan's global mean when balanced).
    """
    X = np.asarray(X, dtype=float)
    y = [int(v) for v in y]
    N, d = X.shape
    C = max(y) + 1
    members = [[i for i in range(N) if y[i] == c] for c in range(C)]
    means = np.array([sum(X[i] for i in idx) / len(idx) for idx in members])
    mu_g = sum(means[c] for c in range(C)) / C  # centre of the class means (SPEC §10)
    SW = np.zeros((d, d))
    for i in range(N):
        r = X[i] - means[y[i]]
        SW += np.outer(r, r)
    SW /= N
    SB = sum(np.outer(means[c] - mu_g, means[c] - mu_g) for c in range(C)) / C
    nc1 = float(np.trace(SW @ np.linalg.pinv(SB, rcond=1e-10, hermitian=True)) / C)
    cen = [means[c] - mu_g for c in range(C)]
    cos = np.array(
        [[float(a @ b) / math.sqrt(float(a @ a) * float(b @ b)) for b in cen] for a in cen]
    )
    target = simplex_gram(C)
    nc2 = math.sqrt(math.fsum(float(v) ** 2 for v in (cos - target).ravel())) / math.sqrt(
        math.fsum(float(v) ** 2 for v in target.ravel())
    )
    return dict(nc1=nc1, nc2=nc2, means=means, within=SW, between=SB)


def random_symmetric(n, rng):
    E = rng.standard_normal((n, n))
    return E + E.T


def assert_directional_derivatives(obj, G, M, rng, n_dirs=3, h=1e-4):
    """<M, E> against a fourth-order central difference of ``obj.value`` along random symmetric
    directions E (truncation O(h^4) ≈ 1e-16, rounding ≈ 1e-12), relative tolerance 1e-7."""
    for _ in range(n_dirs):
        E = random_symmetric(G.shape[0], rng)
        fd = (
            -obj.value(G + 2 * h * E)
            + 8 * obj.value(G + h * E)
            - 8 * obj.value(G - h * E)
            + obj.value(G - 2 * h * E)
        ) / (12 * h)
        assert abs(np.sum(M * E) - fd) <= 1e-7 * abs(fd), (np.sum(M * E), fd)
