"""The dual certificate of global optimality (SPEC §4).

For the convex program ``min L(G)`` over ``{G ⪰ 0, diag(G) ≤ 1}`` (``L`` the population NCE
loss, convex in ``G``) weak duality turns any feasible ``G`` and multipliers ``λ >= 0`` with
``∇L(G) + Diag(λ) ⪰ 0`` into a rigorous upper bound on ``L(G) − min L``.  :func:`certify`
checks its input and forms that bound, including margins for floating-point rounding and for
an inexact gradient; :func:`_certificate` is the same bound without the checks, for the
solvers' own iterates.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from ._validation import check_gram, readonly

__all__ = ["CERTIFY_TOL", "GRAD_RTOL", "Certificate", "certify"]

_EPS = np.finfo(float).eps
#: Default relative accuracy assumed for the objective's gradient in :func:`certify`.
GRAD_RTOL = 1e-12
#: Default tolerance on the duality-gap bound for ``certified=True``.
CERTIFY_TOL = 1e-7


class Certificate(NamedTuple):
    """Dual certificate of SPEC §4 (unpacks as ``gap, multipliers = certify(...)``).

    Attributes
    ----------
    gap : float
        Rigorous upper bound on ``L_k(G) − L_k*`` (``>= 0``).
    multipliers : ndarray (n,)
        The ``λ >= 0`` used, with ``g + Diag(λ) ⪰ 0``.
    """

    gap: float
    multipliers: np.ndarray


def certify(
    objective: Any,
    G: Any,
    *,
    grad: np.ndarray | None = None,
    grad_rtol: float = GRAD_RTOL,
    diag_floor: float = 1e-9,
) -> Certificate:
    """Upper bound on the suboptimality ``L(G) − min L`` over ``{G ⪰ 0, diag(G) ≤ 1}``.

    Weak duality (SPEC §4): ``L`` is convex, so for every feasible ``G'``
    ``L(G') >= L(G) + ⟨g, G' − G⟩`` with ``g = ∇L(G)``; for any ``λ >= 0`` with
    ``Z = g + Diag(λ) ⪰ 0``, ``⟨g, G'⟩ = ⟨Z, G'⟩ − Σ λ_x G'_xx >= −Σ λ_x``.  Hence

        ``L(G) − L* <= ⟨g, G⟩ + Σ_x λ_x``.

    ``λ`` comes from stationarity on the range of ``G``: ``λ_x = −(gG)_xx / G_xx`` (0 where
    ``G_xx <= diag_floor``), clipped at 0, then all raised by ``max(0, −λ_min(Z))`` plus a
    rounding margin ``4 n ε ‖Z‖_F`` (LAPACK's symmetric eigenvalues are exact for a matrix
    within ``O(n ε ‖Z‖)``), which makes ``Z ⪰ 0`` hold for the exact ``Z``.  The bound then
    adds the floating-point error of ``⟨g, G⟩ + Σλ`` (``(n² + n) ε Σ|g_ij G_ij| + ...``)
    and the effect of an error in the gradient itself: if ``‖ĝ − g‖_2 <= grad_rtol ‖ĝ‖_F``,
    then ``|⟨ĝ − g, G − G'⟩| <= grad_rtol ‖ĝ‖_F (tr G + n)``.  ``G`` is assumed feasible
    (``G ⪰ 0`` and ``diag(G) ≤ 1``; a Gram matrix ``V Vᵀ`` with rows of norm ``<= 1``);
    the bound is meaningless otherwise, so infeasible diagonals raise ``ValueError``.

    Parameters
    ----------
    objective : object with ``grad(G)`` (e.g. :class:`~latentclass.population.NCEObjective`)
    G : array_like (n, n)
        Feasible Gram matrix.
    grad : ndarray, optional
        ``objective.grad(G)`` if already computed.
    grad_rtol : float
        Assumed relative accuracy of the gradient (default ``1e-12``; the exact engine is
        accurate to ~1e-13).
    diag_floor : float
        Below this ``G_xx`` the stationarity multiplier is not formed (set to 0 before the
        raise).

    Returns
    -------
    Certificate
        ``(gap, multipliers)``.
    """
    G = np.asarray(G, dtype=float)
    n = G.shape[0] if G.ndim == 2 else -1
    G = check_gram(G, n, "G")
    d = np.diag(G)
    if np.any(d > 1.0 + 1e-9) or np.any(d < -1e-12):
        raise ValueError(
            f"G must be feasible (0 <= diag(G) <= 1), got diag in [{d.min()!r}, {d.max()!r}]"
        )
    g = objective.grad(G) if grad is None else np.asarray(grad, dtype=float)
    g = 0.5 * (g + g.T)
    if not np.all(np.isfinite(g)):
        raise ValueError("the objective's gradient is not finite at G")
    return _certificate(G, g, grad_rtol, diag_floor)


def _certificate(
    G: np.ndarray, g: np.ndarray, grad_rtol: float = GRAD_RTOL, diag_floor: float = 1e-9
) -> Certificate:
    """The bound of :func:`certify` for a feasible ``G`` and a finite symmetric gradient ``g``
    (no validation: the solver's own iterates, ``G = V Vᵀ`` with rows of norm ``<= 1``)."""
    n = G.shape[0]
    d = np.diag(G)
    gGm = g * G
    gG = gGm.sum(axis=1)  # (gG)_xx, G symmetric
    ok = d > diag_floor
    lam = np.where(ok, -gG / np.where(ok, d, 1.0), 0.0)
    np.maximum(lam, 0.0, out=lam)
    Z = g.copy()
    Z.flat[:: n + 1] += lam
    eig = np.linalg.eigvalsh(Z)  # LAPACK syevd: backward stable, as the margin below assumes
    z_norm = math.sqrt(float(np.einsum("ij,ij->", Z, Z)))
    raise_by = max(0.0, -float(eig[0])) + 4.0 * n * _EPS * z_norm
    lam += raise_by
    # ⟨g, G⟩ + Σλ, plus rounding and gradient-error margins
    inner = float(gGm.sum())
    total = inner + math.fsum(lam)
    lam_sum = float(lam.sum())
    rounding = (n * n + n + 4) * _EPS * (float(np.abs(gGm).sum()) + lam_sum)
    g_norm = math.sqrt(float(np.einsum("ij,ij->", g, g)))
    grad_err = float(grad_rtol) * g_norm * (float(d.sum()) + n)
    gap = max(0.0, total) + rounding + grad_err
    return Certificate(float(gap), readonly(lam))
