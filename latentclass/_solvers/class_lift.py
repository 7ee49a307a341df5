r"""Disjoint supports at point level: solve at class level, lift, certify by the lift (SPEC §5).

For a model with disjoint supports (point ``x`` in class ``c(x)``, point mass ``D_x``, class
mass ``ρ_c = Σ_{x ∈ c} D_x``) and a *collapsed* Gram matrix ``G = P G_c Pᵀ`` (``P`` the
``n × m`` class-indicator matrix; every point on its class vector), three identities hold
for every loss of the scores (``proofs/class_collapse.md``, "The lifted certificate"):

1. ``L_point(G) = L_class(G_c)``, the loss of the class-level model ``one_point_per_class(ρ)``;
2. ``∇L_point(G)[x, y] = D_x D_y ∇L_class(G_c)[c(x), c(y)] / (ρ_{c(x)} ρ_{c(y)})``;
3. if ``λ^c >= 0`` and ``Z_c = ∇L_class(G_c) + Diag(λ^c) ⪰ 0``, then
   ``λ_x = λ^c_{c(x)} D_x / ρ_{c(x)}`` gives ``Z = ∇L_point(G) + Diag(λ) ⪰ 0`` (``Z`` is
   ``U ρ⁻¹ Z_c ρ⁻¹ Uᵀ`` plus, per class, ``(λ^c_c/ρ_c)(Diag(w_c) − w_c w_cᵀ/ρ_c) ⪰ 0``,
   ``U = Diag(D) P``, ``w_c`` the masses of the points of class ``c``), and the duality gap
   ``⟨∇L_point(G), G⟩ + Σ_x λ_x`` equals ``⟨∇L_class(G_c), G_c⟩ + Σ_c λ^c_c``.

So the class-level certificate *is* a point-level certificate with the same gap bound: no
``n × n`` gradient and no ``n × n`` eigenvalue problem is formed.  Soundness rests on the
three identities (proved; identity 2 is checked against the point-level engine in
``tests/test_class_lift.py``) and on two facts checked here exactly: the model's supports are
disjoint and every row of the returned ``F`` equals its class vector bit for bit, so that
``gram`` — formed by indexing ``G_c`` — is exactly collapsed.
"""

from __future__ import annotations

import numpy as np

from ..model import LatentClassModel

__all__ = ["class_model", "lift_factor", "lift_gram", "lift_multipliers"]


def class_model(model: LatentClassModel) -> LatentClassModel:
    """The class-level model ``one_point_per_class(ρ)`` of a disjoint model."""
    if not model.is_disjoint:
        raise ValueError("the class-level lift needs disjoint supports")
    return LatentClassModel.one_point_per_class(model.class_probs)


def lift_factor(model: LatentClassModel, F_class: np.ndarray, d: int) -> np.ndarray:
    """Every point on its class vector: ``F[x] = F_class[c(x)]``, padded with zero columns to
    ``d`` (``d >= F_class.shape[1]``)."""
    F = np.zeros((model.n_points, d))
    F[:, : F_class.shape[1]] = F_class[model.point_classes]
    return F


def lift_gram(model: LatentClassModel, G_class: np.ndarray) -> np.ndarray:
    """``P G_c Pᵀ`` by indexing: exactly collapsed (entry ``[x, y]`` is ``G_c[c(x), c(y)]``
    bit for bit), symmetric, and feasible whenever ``G_c`` is; returned read-only (a fresh
    array, so no further copy is needed)."""
    c = model.point_classes
    G = np.empty((c.size, c.size))
    order = np.argsort(c, kind="stable")
    bounds = np.searchsorted(c[order], np.arange(G_class.shape[0] + 1))
    for cls in range(G_class.shape[0]):  # loop over classes: every row of class cls is one row
        members = order[bounds[cls] : bounds[cls + 1]]
        row = G_class[cls, c]
        if members.size and members[-1] - members[0] + 1 == members.size:  # consecutive
            G[members[0] : members[-1] + 1] = row
        else:
            G[members] = row
    G.flags.writeable = False
    return G


def lift_multipliers(model: LatentClassModel, lam_class: np.ndarray) -> np.ndarray:
    """``λ_x = λ^c_{c(x)} D_x / ρ_{c(x)}`` (identity 3 of the module docstring)."""
    c = model.point_classes
    return lam_class[c] * (np.asarray(model.marginal, dtype=float) / model.class_probs[c])


def lift_gradient(model: LatentClassModel, grad_class: np.ndarray) -> np.ndarray:
    """``∇L_point(G)`` from ``∇L_class(G_c)`` (identity 2); ``O(n²)`` memory — for tests and
    small ``n`` only (the solver never forms it)."""
    c = model.point_classes
    u = np.asarray(model.marginal, dtype=float) / model.class_probs[c]
    return grad_class[np.ix_(c, c)] * u[:, None] * u[None, :]
