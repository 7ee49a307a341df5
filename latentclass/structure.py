"""Structure of a representation of a finite model (SPEC §5): class collapse and the simplex.

For a representation ``F`` (rows ``f(x)``) of a finite latent-class model:

- class means ``μ_c = Σ_x D_c(x) f(x)`` and their Gram matrix ``M = [μ_c · μ_j]``;
- collapse error ``max_c max_{x, x' ∈ supp D_c} ‖f(x) − f(x')‖`` (0 iff every class is
  collapsed to one vector);
- simplex error ``max |M − G_Δ|`` with ``G_Δ = m/(m−1) (I − 11ᵀ/m)``, the Gram matrix of the
  regular simplex (0 iff the class means form a regular simplex of unit vectors);
- effective rank ``exp(H(λ/Σλ))`` of ``M`` (Roy & Vetterli), and the extreme angles between
  class means.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import check_representation, readonly
from .closed_form import simplex_gram
from .model import LatentClassModel, check_model

__all__ = ["StructureReport", "structure"]

_BLOCK_ELEMENTS = 1 << 22  # bounds the temporary of the pairwise-distance scan


def _max_pairwise_distance(X: np.ndarray) -> float:
    """``max_{i,j} ‖X_i − X_j‖`` from explicit differences (no cancellation), by row blocks
    so that the ``(block, s, d)`` temporary stays below ``_BLOCK_ELEMENTS`` entries."""
    s, d = X.shape
    block = max(1, _BLOCK_ELEMENTS // max(1, s * d))
    best = 0.0
    for start in range(0, s, block):
        diff = X[start : start + block, None, :] - X[None, :, :]
        best = max(best, float(np.einsum("ijk,ijk->ij", diff, diff).max()))
    return float(np.sqrt(best))


@dataclass(frozen=True, eq=False, repr=False)
class StructureReport:
    """What a representation looks like, class by class.

    Attributes
    ----------
    collapse_error : float
        Largest distance between the representations of two points of one class.
    class_means : ndarray, shape (m, d)
    class_gram : ndarray, shape (m, m)
    norms : ndarray, shape (n,)
        ``‖f(x)‖`` for every point.
    simplex_error : float
        ``max |class_gram − G_Δ|``.
    min_angle, max_angle : float
        Smallest and largest angle (degrees) between two class means (``nan``-free: a zero
        mean has no direction and is skipped; if fewer than two means are non-zero both are 0).
    effective_rank : float
        ``exp`` of the entropy of the normalised eigenvalues of ``class_gram``.
    """

    collapse_error: float
    class_means: np.ndarray
    class_gram: np.ndarray
    norms: np.ndarray
    simplex_error: float
    min_angle: float
    max_angle: float
    effective_rank: float

    def is_collapsed(self, tol: float = 1e-6) -> bool:
        """Every class is mapped to a single vector (``collapse_error <= tol``).

        Parameters
        ----------
        tol : float, default 1e-6
            Largest distance accepted between two points of one class.

        Returns
        -------
        bool
        """
        return bool(self.collapse_error <= tol)

    def is_regular_simplex(self, tol: float = 1e-6) -> bool:
        """The class means form a regular simplex of unit vectors (``simplex_error <= tol``).

        Parameters
        ----------
        tol : float, default 1e-6
            Largest entry of ``|class_gram − G_Δ|`` accepted (SPEC §5.1).

        Returns
        -------
        bool
        """
        return bool(self.simplex_error <= tol)

    def __repr__(self) -> str:
        m, d = self.class_means.shape
        return (
            f"StructureReport(m={m}, d={d}, collapse_error={self.collapse_error:.3g}, "
            f"simplex_error={self.simplex_error:.3g}, angles=[{self.min_angle:.4g}°, "
            f"{self.max_angle:.4g}°], effective_rank={self.effective_rank:.4g})"
        )

    def _repr_html_(self) -> str:
        """A table for Jupyter: collapse and simplex errors, angles, effective rank."""
        from ._tables import html_table

        m, d = self.class_means.shape
        return html_table(
            "StructureReport",
            [
                ("classes m, dimension d", f"{m}, {d}"),
                ("collapse_error", float(self.collapse_error)),
                ("simplex_error", float(self.simplex_error)),
                ("min_angle (°)", float(self.min_angle)),
                ("max_angle (°)", float(self.max_angle)),
                ("effective_rank", float(self.effective_rank)),
                ("norms (min, max)", f"{self.norms.min():.10g}, {self.norms.max():.10g}"),
            ],
        )


def structure(model: LatentClassModel, F: Any) -> StructureReport:
    """Class collapse and simplex structure of the representation ``F`` of ``model``.

    Parameters
    ----------
    model : LatentClassModel
        Any finite model (disjoint or overlapping supports).
    F : array_like, shape (n, d)
        Rows of norm ``<= 1``.

    Returns
    -------
    StructureReport
        Collapse error ``max_c max_{x,x' ∈ supp D_c} ‖f(x) − f(x')‖``, class means
        ``μ_c = Σ_x D_c(x) f(x)`` and their Gram ``M``, simplex error ``max |M − G_Δ|``, the
        extreme angles between class means and the effective rank of ``M`` (SPEC §5; module
        docstring).
    """
    check_model(model)
    F = check_representation(F, model.n_points)
    C = model.class_conditionals
    m = model.n_classes
    means = C @ F
    gram = means @ means.T
    collapse = max(_max_pairwise_distance(F[np.flatnonzero(C[c])]) for c in range(m))
    simplex_error = float(np.max(np.abs(gram - simplex_gram(m))))

    mean_norms = np.sqrt(np.clip(np.diag(gram), 0.0, None))
    live = np.flatnonzero(mean_norms > 1e-12)
    if live.size >= 2:
        cos = gram[np.ix_(live, live)] / np.outer(mean_norms[live], mean_norms[live])
        off = cos[~np.eye(live.size, dtype=bool)]
        angles = np.degrees(np.arccos(np.clip(off, -1.0, 1.0)))
        min_angle, max_angle = float(angles.min()), float(angles.max())
    else:
        min_angle = max_angle = 0.0

    eig = np.clip(np.linalg.eigvalsh(gram), 0.0, None)
    total = eig.sum()
    if total > 0:
        p = eig[eig > 0] / total
        eff_rank = float(np.exp(-(p * np.log(p)).sum()))
    else:
        eff_rank = 0.0
    norms = np.sqrt(np.einsum("ij,ij->i", F, F))
    return StructureReport(
        collapse,
        readonly(means),
        readonly(gram),
        readonly(norms),
        simplex_error,
        min_angle,
        max_angle,
        eff_rank,
    )
