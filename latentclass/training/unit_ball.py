"""Keeping the rows of an embedding table in the unit ball during training.

Rows start as random directions of a given norm; each step's gradient is projected onto
the tangent cone of the ball (:func:`_tangent_cone`) and after the step rows of norm
``> 1`` are projected back onto the sphere (:func:`_project_rows`).
"""

from __future__ import annotations

import numpy as np


def _init_table(gen: np.random.Generator, n: int, d: int, radius: float) -> np.ndarray:
    W = gen.standard_normal((n, d))
    return radius * W / np.linalg.norm(W, axis=1, keepdims=True)


def _tangent_cone(F: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """Project the gradient of rows on the unit sphere onto the tangent cone of the ball.

    For a row with ``‖f‖ = 1`` whose descent direction ``−g`` points outwards
    (``g·f < 0``) the radial part is removed, ``g ← g − (g·f) f``: that part of the step
    would be undone by the projection anyway, and left in it would dominate Adam's
    second-moment estimate and freeze the tangential motion.
    """
    norms2 = np.einsum("ij,ij->i", F, F)
    radial = np.einsum("ij,ij->i", grad, F)
    on = (norms2 >= 1.0 - 1e-12) & (radial < 0.0)
    if np.any(on):
        grad = grad.copy()
        grad[on] -= (radial[on] / norms2[on])[:, None] * F[on]
    return grad


def _project_rows(F: np.ndarray) -> None:
    norms = np.sqrt(np.einsum("ij,ij->i", F, F))
    over = norms > 1.0
    if np.any(over):
        F[over] /= norms[over, None]
