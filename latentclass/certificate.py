"""The dual certificate of global optimality (SPEC §4).

For the convex program ``min L(G)`` over ``{G ⪰ 0, diag(G) ≤ 1}`` (``L`` convex in ``G``,
e.g. the population NCE loss) weak duality turns any ``G`` and multipliers ``λ >= 0`` with
``∇L(G) + Diag(λ) ⪰ 0`` into a rigorous upper bound on ``L(G) − min L``.  :func:`certify`
checks its input — the matrix must be *feasible* (symmetric positive semidefinite with
``diag ≤ 1``, to the stated tolerance :data:`FEAS_TOL`), the objective must declare itself
convex, a supplied gradient must agree with the objective's — and forms that bound with
derived margins for floating-point rounding and for an inexact gradient.
:func:`_certificate` is the same bound without the checks, for the solvers' own iterates
(``G = V Vᵀ`` with rows of norm ``<= 1``, feasible by construction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._validation import check_gram, readonly

__all__ = ["CERTIFY_TOL", "FEAS_TOL", "GRAD_RTOL", "Certificate", "certify", "feasibility"]

_EPS = float(np.finfo(float).eps)
#: Default relative accuracy assumed for the objective's gradient in :func:`certify`.
GRAD_RTOL = 1e-12
#: Default tolerance on the duality-gap bound for ``certified=True``.
CERTIFY_TOL = 1e-7
#: Default feasibility tolerance of :func:`certify`: ``|G − Gᵀ| <= FEAS_TOL``,
#: ``diag(G) <= 1 + FEAS_TOL`` and ``λ_min(G) >= −FEAS_TOL · max(1, λ_max(G))``.
FEAS_TOL = 1e-12


def _gamma(n: float) -> float:
    """Higham's ``γ_n = n ε / (1 − n ε)``: relative error bound of an ``n``-term float sum."""
    ne = n * _EPS
    return ne / (1.0 - ne) if ne < 0.5 else math.inf


@dataclass(frozen=True, repr=False)
class Feasibility:
    """How far ``G`` is from ``{G = Gᵀ ⪰ 0, diag(G) ≤ 1}`` (see :func:`feasibility`)."""

    feasible: bool
    asymmetry: float
    max_diag: float
    min_diag: float
    min_eigenvalue: float
    max_eigenvalue: float
    tol: float
    reason: str

    def __repr__(self) -> str:
        return (
            f"Feasibility(feasible={self.feasible}, max_diag={self.max_diag:.17g}, "
            f"min_eigenvalue={self.min_eigenvalue:.3g}, reason={self.reason!r})"
        )


def feasibility(G: Any, tol: float = FEAS_TOL) -> Feasibility:
    """Decide whether ``G`` lies in the feasible set of SPEC §4 to the tolerance ``tol``.

    ``G`` is feasible iff ``max |G − Gᵀ| <= tol``, ``diag(G) <= 1 + tol`` and the smallest
    eigenvalue of the symmetric part satisfies
    ``λ_min >= −(tol + 4 n ε) · max(1, λ_max)``.  The eigenvalues come from LAPACK's
    symmetric solver, backward stable: the computed ones are exact for a matrix within
    ``p(n) ε ‖G‖_2`` of ``G`` (Weyl), which the ``4 n ε`` term absorbs; a Gram matrix
    ``F Fᵀ`` formed in floating point is accepted, a matrix with ``λ_min = −10⁻⁹`` at unit
    scale or a diagonal entry ``1 + 10⁻⁹`` is not.

    Parameters
    ----------
    G : array_like (n, n)
        Finite square matrix.
    tol : float
        Feasibility tolerance (default :data:`FEAS_TOL`).

    Returns
    -------
    Feasibility
        ``feasible`` and, when not, ``reason`` naming the violated constraint and by how much.
    """
    g = np.asarray(G, dtype=float)
    if g.ndim != 2 or g.shape[0] != g.shape[1]:
        raise ValueError(f"G must be a square matrix, got shape {g.shape}")
    if not np.all(np.isfinite(g)):
        raise ValueError("G must be finite")
    tol = float(tol)
    if not (math.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    n = g.shape[0]
    asym = float(np.max(np.abs(g - g.T))) if g.size else 0.0
    d = np.diag(g)
    sym = 0.5 * (g + g.T)
    eig = np.linalg.eigvalsh(sym) if n else np.zeros(1)
    lo, hi = float(eig[0]), float(eig[-1])
    psd_tol = (tol + 4.0 * n * _EPS) * max(1.0, hi)
    reasons = []
    if asym > tol:
        reasons.append(f"G is not symmetric: max |G - G.T| = {asym:.3g} > {tol:.3g}")
    if n and float(d.max()) > 1.0 + tol:
        reasons.append(f"diag(G) must be <= 1 (+{tol:.3g}), got max {float(d.max())!r}")
    if lo < -psd_tol:
        reasons.append(
            f"G is not positive semidefinite: smallest eigenvalue {lo:.6g} < -{psd_tol:.3g}"
        )
    return Feasibility(
        feasible=not reasons,
        asymmetry=asym,
        max_diag=float(d.max()) if n else 0.0,
        min_diag=float(d.min()) if n else 0.0,
        min_eigenvalue=lo,
        max_eigenvalue=hi,
        tol=tol,
        reason="; ".join(reasons) if reasons else "feasible",
    )


@dataclass(frozen=True, repr=False)
class Certificate:
    """Dual certificate of SPEC §4 (still unpacks as ``gap, multipliers = certify(...)``).

    Attributes
    ----------
    gap : float
        Rigorous upper bound on ``L(G) − L*`` (``>= 0``), valid for any symmetric ``G``;
        meaningful as an optimality certificate only when ``feasible``.
    multipliers : ndarray (n,)
        The ``λ >= 0`` used, with ``g + Diag(λ) ⪰ 0``.
    certified : bool
        ``feasible`` and ``gap <= tol`` and the objective declared convex.
    feasible : bool
        ``G`` passed :func:`feasibility` (solver iterates: feasible by construction).
    tol : float
        The gap tolerance used for ``certified``.
    reason : str
        Why ``certified`` is what it is, in one sentence.
    assumptions : str
        What the bound takes on trust (the objective's convexity and gradient accuracy).
    """

    gap: float
    multipliers: np.ndarray
    certified: bool = False
    feasible: bool = True
    tol: float = CERTIFY_TOL
    reason: str = ""
    assumptions: str = field(default="")

    def __iter__(self):
        """``gap, multipliers = certificate`` (the form of earlier releases)."""
        yield self.gap
        yield self.multipliers

    def __repr__(self) -> str:
        return (
            f"Certificate(certified={self.certified}, gap={self.gap:.3g}, tol={self.tol:.3g}, "
            f"feasible={self.feasible}, reason={self.reason!r})"
        )

    def _repr_html_(self) -> str:
        """A table for Jupyter: verdict, gap and tolerance, feasibility, reason."""
        from ._tables import html_table

        return html_table(
            "Certificate",
            [
                ("certified", self.certified),
                ("gap", float(self.gap)),
                ("tol", float(self.tol)),
                ("feasible", self.feasible),
                ("reason", self.reason),
                ("assumptions", self.assumptions),
            ],
        )


def _is_library_objective(objective: Any) -> bool:
    from .population import NCEObjective

    return type(objective) is NCEObjective


def _objective_gradient(objective: Any, G: np.ndarray) -> np.ndarray:
    vg = getattr(objective, "value_and_grad", None)
    if callable(vg):
        out = vg(G)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError("objective.value_and_grad(G) must return (value, gradient)")
        g = out[1]
    elif callable(getattr(objective, "grad", None)):
        g = objective.grad(G)
    else:
        raise TypeError(
            "objective must have value_and_grad(G) (the GramObjective protocol) or grad(G), "
            f"got {type(objective).__name__}"
        )
    g = np.asarray(g)
    if np.iscomplexobj(g) or g.shape != G.shape:
        raise ValueError(
            f"the objective's gradient must be a real {G.shape} array, got {g.dtype} {g.shape}"
        )
    return np.asarray(g, dtype=float)


def _check_gradient_by_differences(objective: Any, G: np.ndarray, g: np.ndarray) -> None:
    """Refute a gradient that disagrees with central differences of ``objective.value``
    along two random symmetric directions (a spot check, not a proof: objectives other than
    the library's own are trusted for convexity and gradient accuracy, see ``assumptions``)."""
    value = getattr(objective, "value", None)
    if not callable(value):
        vg = objective.value_and_grad

        def value(X):
            return vg(X)[0]

    n = G.shape[0]
    rng = np.random.default_rng(12345)
    gn = float(np.linalg.norm(g))
    for _ in range(2):
        D = rng.standard_normal((n, n))
        D = 0.5 * (D + D.T)
        D /= np.linalg.norm(D)
        h = 1e-4
        # Richardson-extrapolated central difference: error O(h^4 · L^(5))
        d1 = (float(value(G + h * D)) - float(value(G - h * D))) / (2 * h)
        d2 = (float(value(G + 2 * h * D)) - float(value(G - 2 * h * D))) / (4 * h)
        fd = (4 * d1 - d2) / 3
        exact = float(np.einsum("ij,ij->", g, D))
        if not abs(fd - exact) <= 1e-5 * (gn + 1.0):
            raise ValueError(
                "the objective's gradient disagrees with finite differences of its value "
                f"(directional derivative {exact:.10g} vs {fd:.10g}): refusing to certify"
            )


def certify(
    objective: Any,
    G: Any,
    *,
    grad: np.ndarray | None = None,
    grad_rtol: float = GRAD_RTOL,
    tol: float = CERTIFY_TOL,
    feas_tol: float = FEAS_TOL,
    diag_floor: float = 1e-9,
) -> Certificate:
    """Certified upper bound on ``L(G) − min L`` over ``{G ⪰ 0, diag(G) ≤ 1}`` (SPEC §4).

    Weak duality: ``L`` is convex, so for every feasible ``G'``
    ``L(G') >= L(G) + ⟨g, G' − G⟩`` with ``g = ∇L(G)``; for any ``λ >= 0`` with
    ``Z = g + Diag(λ) ⪰ 0``, ``⟨g, G'⟩ = ⟨Z, G'⟩ − Σ λ_x G'_xx >= −Σ λ_x``.  Hence

        ``L(G) − L* <= ⟨g, G⟩ + Σ_x λ_x``.

    The inequality holds for any symmetric ``G``, but an infeasible ``G`` may have
    ``L(G) < L*``: ``certified`` is therefore reported only for a ``G`` that passes
    :func:`feasibility` (symmetric, positive semidefinite, ``diag <= 1``, tolerance
    ``feas_tol``); an infeasible ``G`` raises ``ValueError`` naming the violated constraint.

    ``λ`` comes from stationarity on the range of ``G``: ``λ_x = −(gG)_xx / G_xx`` (0 where
    ``G_xx <= diag_floor``), clipped at 0, then all raised by ``max(0, −λ̂_min(Z))`` plus
    ``4 n ε ‖Z‖_F``.  Margins (derived in SPEC §4): LAPACK's symmetric eigensolver is backward
    stable, so by Weyl's inequality the exact ``λ_min(Z)`` is within ``p(n) ε ‖Z‖_2`` of the
    computed one, ``p(n) <= 4n`` covering ``syevd``; forming ``Z`` rounds each diagonal entry
    by at most ``ε |Z_xx|``, also covered.  The float evaluation of ``⟨g, G⟩ + Σλ``
    (``n² + n`` terms, any summation order) errs by at most ``γ_{n²+n+4}`` times the sum of
    absolute values (Higham, *Accuracy and Stability*, §4.2).  An error in the gradient
    itself, ``‖ĝ − g‖_2 <= grad_rtol ‖ĝ‖_F``, changes the bound by at most
    ``grad_rtol ‖ĝ‖_F (tr G + n)`` (``|⟨ĝ − g, G − G'⟩|`` with ``‖G‖_*, ‖G'‖_* <= n``).

    What is trusted: the objective's convexity and the accuracy ``grad_rtol`` of its
    gradient.  For the library's :class:`~latentclass.population.NCEObjective` both are
    proven and tested (the gradient against exact enumeration to 1e-13).  Any other object
    must declare ``convex = True`` (else ``certified`` is False), and its gradient is
    spot-checked against central differences of its value along two random directions
    (a wrong gradient raises ``ValueError``).  A supplied ``grad`` is compared with the
    objective's own gradient and refused unless they agree to ``grad_rtol`` (it saves
    nothing; it is kept so that older calls keep working).

    Parameters
    ----------
    objective : object
        The :class:`~latentclass.GramObjective` protocol: ``value_and_grad(G) -> (float,
        ndarray)`` (or ``grad(G)``), optional ``convex`` (bool); e.g.
        :class:`~latentclass.population.NCEObjective`.
    G : array_like (n, n)
        The candidate, a feasible Gram matrix.
    grad : ndarray, optional
        A gradient at ``G`` to check against the objective's.
    grad_rtol : float
        Assumed relative accuracy of the gradient (default ``1e-12``; the exact engine is
        accurate to ~1e-13).
    tol : float
        ``certified`` requires ``gap <= tol`` (default :data:`CERTIFY_TOL`).
    feas_tol : float
        Feasibility tolerance of :func:`feasibility` (default :data:`FEAS_TOL`).
    diag_floor : float
        Below this ``G_xx`` the stationarity multiplier is not formed (set to 0 before the
        raise).

    Returns
    -------
    Certificate
        ``gap``, ``multipliers``, ``certified``, ``reason``, ``assumptions``.

    Raises
    ------
    ValueError
        ``G`` is not a finite square matrix of the objective's size, or not feasible; the
        gradient is not finite, has the wrong shape, or disagrees with ``grad``/finite
        differences.
    """
    G = np.asarray(G)
    if np.iscomplexobj(G):
        raise TypeError("G must be a real matrix, got a complex array")
    n_obj = getattr(objective, "n", getattr(objective, "n_points", None))
    n = G.shape[0] if G.ndim == 2 else -1
    if n_obj is not None and G.ndim == 2 and G.shape[0] != int(n_obj):
        raise ValueError(f"G must be ({n_obj}, {n_obj}) for this objective, got {G.shape}")
    G = check_gram(G, n, "G")
    feas = feasibility(G, feas_tol)
    if not feas.feasible:
        raise ValueError(f"G must be feasible to certify it: {feas.reason}")
    # the bound is formed for the exactly symmetric part (asymmetry <= feas_tol)
    G = 0.5 * (G + G.T)
    g = _objective_gradient(objective, G)
    if not np.all(np.isfinite(g)):
        raise ValueError("the objective's gradient is not finite at G")
    g = 0.5 * (g + g.T)
    gnorm = float(np.linalg.norm(g))
    if grad is not None:
        supplied = np.asarray(grad, dtype=float)
        if supplied.shape != g.shape or not np.all(np.isfinite(supplied)):
            raise ValueError(f"grad must be a finite {g.shape} array")
        diff = float(np.linalg.norm(0.5 * (supplied + supplied.T) - g))
        if not diff <= grad_rtol * max(gnorm, np.finfo(float).tiny):
            raise ValueError(
                f"grad disagrees with the objective's gradient at G (‖grad − ∇L‖_F = "
                f"{diff:.3g} > grad_rtol · ‖∇L‖_F = {grad_rtol * gnorm:.3g})"
            )
    library = _is_library_objective(objective)
    if library:
        assumptions = (
            "NCEObjective: convexity proven (SPEC §4); gradient accuracy "
            f"{grad_rtol:.0e} relative, tested against exact enumeration"
        )
        convex = True
    else:
        _check_gradient_by_differences(objective, G, g)
        convex = getattr(objective, "convex", None) is True
        assumptions = (
            f"{type(objective).__name__}: convexity declared by the objective "
            f"(convex={getattr(objective, 'convex', None)!r}) and gradient accuracy "
            f"{grad_rtol:.0e} relative are trusted; the gradient passed a finite-difference "
            "spot check"
        )
    cert = _certificate(G, g, grad_rtol, diag_floor)
    tol = float(tol)
    if not convex:
        certified, reason = False, "the objective does not declare convex=True"
    elif cert.gap <= tol:
        certified, reason = True, f"feasible and duality-gap bound {cert.gap:.3g} <= {tol:.3g}"
    else:
        certified, reason = False, f"duality-gap bound {cert.gap:.3g} > {tol:.3g}"
    return Certificate(cert.gap, cert.multipliers, certified, True, tol, reason, assumptions)


def _certificate(
    G: np.ndarray, g: np.ndarray, grad_rtol: float = GRAD_RTOL, diag_floor: float = 1e-9
) -> Certificate:
    """The bound of :func:`certify` for a feasible ``G`` and a finite symmetric gradient ``g``
    (no validation: the solver's own iterates, ``G = V Vᵀ`` with rows of norm ``<= 1``).
    ``certified`` is left False: the caller compares ``gap`` with its tolerance."""
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
    rounding = _gamma(n * n + n + 4) * (float(np.abs(gGm).sum()) + lam_sum)
    g_norm = math.sqrt(float(np.einsum("ij,ij->", g, g)))
    grad_err = float(grad_rtol) * g_norm * (float(d.sum()) + n)
    gap = max(0.0, total) + rounding + grad_err
    return Certificate(float(gap), readonly(lam))
