"""Start points of the solvers of :mod:`latentclass.optimize` (SPEC §4, §5).

- :func:`_structured_start`: each point at the class-posterior mixture of the regular simplex
  vertices (the uniform-ρ optimum of SPEC §5), in the lifted-sphere parameter of
  :mod:`latentclass._solvers.lifted_sphere`, slightly perturbed;
- :func:`_random_start`: a Gaussian lifted-sphere parameter near the unit sphere;
- :func:`_centred_start`: the Gram matrix of the class-posterior mixture of the ρ-centred
  simplex vertices, the start of the Gram-space Newton fast path (:mod:`latentclass._solvers.gram_newton`).
"""

from __future__ import annotations

import numpy as np

from ..closed_form import simplex
from ..model import LatentClassModel


def _class_posterior(model: LatentClassModel) -> np.ndarray:
    """``P(c | x)``, shape ``(m, n)`` (a column of zeros for a point of mass 0)."""
    joint = model.class_probs[:, None] * model.class_conditionals  # (m, n)
    D = joint.sum(axis=0)
    return np.divide(joint, D, out=np.zeros_like(joint), where=D > 0)


def _structured_start(model: LatentClassModel, d: int, gen: np.random.Generator, scale: float):
    """Class-posterior mixture of simplex vertices, lifted (slack column), perturbed."""
    m, n = model.n_classes, model.n_points
    S = simplex(m)  # (m, m-1)
    V0 = _class_posterior(model).T @ S  # (n, m-1), norms <= 1
    V = np.zeros((n, d))
    cols = min(d, m - 1)
    V[:, :cols] = V0[:, :cols]
    norms2 = np.einsum("ij,ij->i", V, V)
    V *= np.minimum(1.0, 1.0 / np.sqrt(np.maximum(norms2, 1e-300)))[:, None]
    z = np.sqrt(np.maximum(0.0, 1.0 - np.einsum("ij,ij->i", V, V)))
    W = np.hstack([V, z[:, None]])
    W += scale * gen.standard_normal(W.shape)
    return W


def _random_start(n: int, d: int, gen: np.random.Generator):
    """Gaussian ``W`` of shape ``(n, d + 1)`` with a small slack column (rows near the sphere)."""
    W = gen.standard_normal((n, d + 1))
    W[:, d] *= 0.1  # start near the sphere
    return W


def _centred_start(model: LatentClassModel) -> np.ndarray | None:
    """Gram matrix of the class-posterior mixture of the *ρ-centred* simplex vertices
    ``(e_c − ρ) / ‖e_c − ρ‖`` (rows normalised; ``None`` if a row vanishes).

    ``Σ_c ρ_c ‖e_c − ρ‖ s_c = 0``: the class vectors span a simplex centred at the ρ-weighted
    mean, the regular simplex for uniform ``ρ``, close to the non-uniform optima (corank one).
    """
    rho = model.class_probs
    S = np.eye(rho.size) - rho[None, :]
    # scale each row by its largest entry first: ‖e_c − ρ‖² underflows for ρ_c ~ 1 − 1e-300
    S /= np.max(np.abs(S), axis=1)[:, None]
    S /= np.sqrt(np.einsum("ij,ij->i", S, S))[:, None]
    V = _class_posterior(model).T @ S
    norms = np.sqrt(np.einsum("ij,ij->i", V, V))
    if not float(norms.min()) > 1e-8:
        return None
    V /= norms[:, None]
    G = V @ V.T
    G = 0.5 * (G + G.T)
    np.fill_diagonal(G, 1.0)
    return G
