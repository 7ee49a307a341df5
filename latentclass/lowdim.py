"""Low-dimensional optima ``d < m − 1`` with a certified lower bound (SPEC §9.4).

Below dimension ``m − 1`` no simplex exists and the problem

    ``min L_k(G)``  s.t.  ``G ⪰ 0``, ``diag G ≤ 1``, ``rank G ≤ d``

is non-convex: a solver finds local optima only.  :func:`low_dim_optimum` therefore runs

- **structured candidates**: for ``d = 2`` the regular polygons — class ``c`` at angle
  ``2π σ(c)/m`` for cyclic orders ``σ`` (all ``(m−1)!/2`` of them for ``m ≤ 7``, sampled
  otherwise), each evaluated exactly, the best six then polished by the rank-``d`` solver; for ``d = 1``
  an exact search over sign patterns: every ``f ∈ {±1}^n`` (up to a global sign, ``n ≤ 16``)
  is evaluated, and the best patterns are polished over the norms ``|f_x| ∈ [0, 1]``
  (L-BFGS-B with the exact gradient);
- **random restarts** of the rank-``d`` solver (:func:`latentclass.optimal_representation`
  with ``dim=d``);

and keeps the lowest loss.  The **lower bound** is certified: the convex relaxation (no rank
constraint) is solved and certified, and ``L(G_relax) − gap`` is below the convex optimum,
hence below every rank-``d`` value.  ``gap_to_bound = loss − lower_bound`` says how far the best
found can be from the rank-``d`` optimum; it is ``≈ 0`` only when the relaxation's optimum
already has rank ``≤ d``.

**How loose the bound is** (measured, ``τ = 1``, class level, ``n_restarts=4``; ``gap_to_bound``
at ``k = 1 / 16 / ∞``): uniform ``ρ``, ``m = 4, d = 2``: 0.013 / 0.039 / 0.044; ``m = 5, d = 2``
(the regular pentagon): 0.022 / 0.072 / 0.082; ``m = 6, d = 2``: 0.027 / 0.094 / 0.109;
``m = 5, d = 3``: 0.007 / 0.024 / 0.027; ``m = 6, d = 3``: 0.011 / 0.035 / 0.040; ``zipf:5:1``,
``d = 1``, ``k = 16``: 0.175.  For uniform ``ρ`` the relaxation's value is the simplex value, so
these gaps are the simplex-vs-best-rank-``d`` differences: the best found is *not* proved
optimal.  No sound tighter bound is implemented: a sign-pattern relaxation for ``d = 1``
(``s_x s_y G_xy >= 0`` added for each of the ``2^{n−1}`` patterns, a doubly-nonnegative
program) certified through a heuristic choice of the constraint multipliers gave *weaker*
bounds than the plain relaxation (minimum over patterns 2.019 vs 2.122 for ``zipf:5:1``,
``k = 16``) at 40 s per model, and was not adopted; it would need a proper solver for its
dual.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize as sopt

from ._solvers.burer_monteiro import _solve_factored
from ._validation import as_generator, check_integer, check_k, check_tau, readonly
from .certificate import certify
from .model import LatentClassModel, check_model
from .optimize import optimal_representation
from .population import NCEObjective

__all__ = ["LowDimOptimum", "low_dim_optimum", "regular_polygon"]

#: Cyclic orders enumerated exactly for polygons up to this many classes.
_POLYGON_ENUM_MAX = 7
#: Polygon orders (best at the exact polygon) polished by the rank-2 solver.
_POLYGON_POLISH = 6
#: Sign patterns enumerated exactly up to this many points (2^(n−1) patterns).
_SIGN_ENUM_MAX = 16
#: Sign patterns (best at unit norm) polished over the norms.
_SIGN_POLISH = 4


def regular_polygon(m: int, order: Any = None) -> np.ndarray:
    """Unit vectors of the regular ``m``-gon, class ``c`` at angle ``2π order[c] / m``.

    Parameters
    ----------
    m : int
        Number of vertices, ``>= 2``.
    order : sequence of int, optional
        A permutation of ``0 … m−1`` (default the identity).

    Returns
    -------
    ndarray (m, 2)
    """
    m = check_integer(m, "m", minimum=2)
    pos = np.arange(m) if order is None else np.asarray(order, dtype=float)
    if pos.shape != (m,) or sorted(pos.tolist()) != list(range(m)):
        raise ValueError(f"order must be a permutation of 0 … {m - 1}")
    ang = 2.0 * math.pi * pos / m
    return np.column_stack([np.cos(ang), np.sin(ang)])


@dataclass(frozen=True, eq=False, repr=False)
class LowDimOptimum:
    """Best rank-``d`` representation found, with a certified lower bound (SPEC §9.4).

    Attributes
    ----------
    F : ndarray (n, d)
        Best representation found; ``gram = F Fᵀ``.
    gram : ndarray (n, n)
    loss : float
        ``L_k(gram)``.
    lower_bound : float
        Certified lower bound on the rank-``d`` optimum (and on the convex optimum): the
        larger of ``relaxation_loss − relaxation_gap`` and ``loss − gap(F)``, the dual bound of
        SPEC §4.2 evaluated at the best point itself.  Loose whenever the relaxation's optimum
        has rank ``> d`` (measured gaps in the module docstring: up to 0.11 for uniform
        ``ρ``, ``m <= 6``, ``d = 2``; 0.175 for ``zipf:5:1``, ``d = 1``, ``k = 16``).
    gap_to_bound : float
        ``loss − lower_bound`` (``>= 0``).
    dim, k, tau :
        The problem.
    source : str
        Which candidate won: ``"polygon"``, ``"sign-pattern"`` or ``"random"``.
    candidates : tuple of (str, float)
        Every candidate's source and loss (after polishing).
    relaxation_loss, relaxation_gap : float
        The certified convex optimum and its duality gap.
    relaxation_rank : int
        Numerical rank of the convex optimum (eigenvalues ``> 1e-6``).
    reference_loss : float or None
        The regular polygon's loss (``d = 2``, identity order, no polishing) for reference.
    """

    F: np.ndarray
    gram: np.ndarray
    loss: float
    lower_bound: float
    gap_to_bound: float
    dim: int
    k: Any
    tau: float
    source: str
    candidates: tuple[tuple[str, float], ...]
    relaxation_loss: float
    relaxation_gap: float
    relaxation_rank: int
    reference_loss: float | None

    def __repr__(self) -> str:
        return (
            f"LowDimOptimum(loss={self.loss:.12g}, lower_bound={self.lower_bound:.12g}, "
            f"gap_to_bound={self.gap_to_bound:.3g}, dim={self.dim}, k={self.k}, "
            f"tau={self.tau:g}, source={self.source!r}, n_candidates={len(self.candidates)})"
        )

    def _repr_html_(self) -> str:
        """A table for Jupyter: loss, lower bound and gap, dimension, relaxation (arrays by their shape)."""
        from ._html import fields_html

        return fields_html(self)


def _polygon_orders(m: int, n_orders: int, gen: np.random.Generator) -> list[tuple[int, ...]]:
    """Cyclic orders of ``m`` classes up to rotation and reflection (class 0 first)."""
    if m <= _POLYGON_ENUM_MAX:
        out = []
        for rest in itertools.permutations(range(1, m)):
            if m <= 2 or rest[0] < rest[-1]:  # one of each mirror pair
                out.append((0, *rest))
        return out
    orders = [tuple(range(m))]
    for _ in range(n_orders - 1):
        orders.append((0, *(1 + gen.permutation(m - 1)).tolist()))
    return orders


def _class_to_points(model: LatentClassModel, V: np.ndarray) -> np.ndarray:
    """Every point on the vector of its most likely class (a start for point-level models)."""
    if model.n_points == model.n_classes and np.array_equal(
        model.class_conditionals, np.eye(model.n_classes)
    ):
        return V
    post = np.asarray(model.class_probs)[:, None] * np.asarray(model.class_conditionals)
    return V[np.argmax(post, axis=0)]


def _polish(objective, F0: np.ndarray, d: int, gen, tol: float, max_iter: int):
    """The rank-``d`` solver from ``F0`` (unit rows): ``(F, G, loss)``."""
    n = F0.shape[0]
    W0 = np.zeros((n, d + 1))
    W0[:, :d] = F0
    W0[:, d] = np.sqrt(np.maximum(0.0, 1.0 - np.einsum("ij,ij->i", F0, F0)))
    run = _solve_factored(objective, d, 1, gen, tol, max_iter, None, first_start=lambda g: W0)
    return run.F, run.gram, float(run.loss)


def _sign_candidates(objective, n: int):
    """Best sign patterns at unit norm, then polished over the norms ``r ∈ [0, 1]^n``."""
    pats = np.array(list(itertools.product((1.0, -1.0), repeat=n - 1)))
    S = np.hstack([np.ones((pats.shape[0], 1)), pats])  # global sign fixed
    vals = np.array([objective.value(np.outer(s, s)) for s in S])  # one loss per pattern
    best = np.argsort(vals, kind="stable")[:_SIGN_POLISH]
    out = []
    for i in best:
        s = S[i]

        def fg(r, s=s):
            f = s * r
            v, M = objective.value_and_grad(np.outer(f, f))
            return v, 2.0 * (M @ f) * s  # dL/dr with G = (s r)(s r)ᵀ

        res = sopt.minimize(
            fg, np.ones(n), jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * n,
            options=dict(ftol=1e-15, gtol=1e-12, maxiter=2000),
        )  # fmt: skip
        f = (s * res.x)[:, None]
        G = f @ f.T
        v = float(objective.value(G))
        if v > vals[i]:  # the polish never loses the unit-norm pattern
            f, G, v = s[:, None].copy(), np.outer(s, s), float(vals[i])
        out.append((f, G, v))
    return out


def low_dim_optimum(
    model: LatentClassModel,
    k: Any,
    tau: float = 1.0,
    dim: int = 2,
    *,
    n_restarts: int = 10,
    n_orders: int = 60,
    rng: Any = 0,
    tol: float = 1e-10,
    max_iter: int = 20000,
) -> LowDimOptimum:
    """Best rank-``dim`` representation found by structured and random starts, with a
    certified lower bound on the rank-constrained optimum (SPEC §9.4).

    Minimises ``L_k(G)`` over ``{G ⪰ 0, diag G ≤ 1, rank G ≤ dim}`` (non-convex).  The
    lower bound is ``L_k(G_relax) − gap``, ``G_relax`` the certified optimum without the rank
    constraint (weak duality, SPEC §4.2): ``lower_bound <= min_{rank ≤ d} L_k <= loss``.

    Parameters
    ----------
    model : LatentClassModel
        Finite model.
    k : int or math.inf
        Number of negatives.
    tau : float
        Temperature.
    dim : int
        Rank bound ``1 <= dim < n``.
    n_restarts : int
        Random restarts of the rank-``dim`` solver.
    n_orders : int
        Cyclic orders tried for ``dim = 2`` when ``m > 7`` (all are tried for ``m <= 7``).
    rng : seed or numpy.random.Generator
        Random restarts and sampled orders.
    tol, max_iter :
        As in :func:`latentclass.optimal_representation`.

    Returns
    -------
    LowDimOptimum
    """
    check_model(model)
    k = check_k(k, allow_inf=True)
    tau = check_tau(tau)
    n, m = model.n_points, model.n_classes
    dim = check_integer(dim, "dim", minimum=1)
    if dim >= n:
        raise ValueError(
            f"dim must be below n_points = {n} (the problem is convex for dim >= n: use "
            "optimal_representation)"
        )
    n_restarts = check_integer(n_restarts, "n_restarts", minimum=1)
    n_orders = check_integer(n_orders, "n_orders", minimum=1)
    gen = as_generator(rng)
    objective = NCEObjective(model, k, tau)

    relax = optimal_representation(model, k, tau, method="numerical", rng=gen)
    gap = math.inf if relax.duality_gap is None else float(relax.duality_gap)
    lower = float(relax.loss) - gap
    relax_rank = int(np.sum(np.linalg.eigvalsh(relax.gram) > 1e-6))

    cands: list[tuple[str, np.ndarray, np.ndarray, float]] = []
    reference = None
    if dim == 2 and m >= 3:
        reference = float(objective.value(_gram(_class_to_points(model, regular_polygon(m)))))
        exact = []
        for order in _polygon_orders(m, n_orders, gen):  # every order evaluated exactly
            F0 = _class_to_points(model, regular_polygon(m, order))
            exact.append((float(objective.value(_gram(F0))), F0))
        exact.sort(key=lambda c: c[0])
        for v0, F0 in exact[:_POLYGON_POLISH]:  # the best orders polished
            F, G, v = _polish(objective, F0, 2, gen, tol, max_iter)
            if v0 <= v:  # keep the exact polygon when polishing does not improve it
                F, G, v = F0, _gram(F0), v0
            cands.append(("polygon", F, G, v))
    if dim == 1 and n <= _SIGN_ENUM_MAX:
        for F, G, v in _sign_candidates(objective, n):
            cands.append(("sign-pattern", F, G, v))
    rand = optimal_representation(
        model, k, tau, dim=dim, method="numerical", rng=gen, n_restarts=n_restarts,
        init="random", tol=tol, max_iter=max_iter,
    )  # fmt: skip
    cands.append(("random", np.asarray(rand.F), np.asarray(rand.gram), float(rand.loss)))

    best = min(cands, key=lambda c: c[3])
    source, F, G, loss = best
    # the dual bound at the best point itself (SPEC §4.2) is a second valid lower bound
    own = certify(objective, np.asarray(G))
    lower = max(lower, float(loss) - float(own.gap))
    return LowDimOptimum(
        readonly(np.array(F, dtype=float)),
        readonly(np.array(G, dtype=float)),
        float(loss),
        lower,
        float(loss) - lower,
        dim,
        k,
        tau,
        source,
        tuple((c[0], float(c[3])) for c in cands),
        float(relax.loss),
        gap,
        relax_rank,
        reference,
    )


def _gram(F: np.ndarray) -> np.ndarray:
    G = F @ F.T
    return 0.5 * (G + G.T)
