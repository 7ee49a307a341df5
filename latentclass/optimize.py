"""Optimal representations with a certificate of global optimality (SPEC §4, §5).

The problem is

    minimise L_k(G)  subject to  G ⪰ 0,  diag(G) ≤ 1,  rank(G) ≤ d,

with ``L_k`` the exact population NCE loss (:class:`latentclass.population.NCEObjective`),
convex in ``G``.  For ``d >= n`` it is a convex program and :func:`certify` turns any
feasible ``G`` into a rigorous upper bound on ``L_k(G) − L_k*`` (weak duality).

:func:`optimal_representation` checks its arguments and picks one of

- the closed form (``method="closed-form"``, or ``"auto"`` for uniform ρ and disjoint
  supports): every point on its class vertex of the regular simplex (SPEC §5), certified;
- the Gram-space fast path (small problems with an exact Hessian, ``dim = n``,
  ``init="structured"``): class-level optima typically have ``diag(G) = 1`` and corank one
  with strict complementarity (non-uniform ρ as well as the regular simplex).  Assuming that,
  Newton's method on the optimality conditions in Gram space
  (:func:`latentclass._solvers.gram_newton.kkt_newton`), started from the simplex centred at the
  ρ-weighted mean (:func:`latentclass._solvers.starts._centred_start`), converges in three to five
  steps; its result is projected onto the feasible set and kept only if the certificate's gap
  bound is ``<= polish_target · certify_tol`` (:func:`latentclass._solvers.gram_newton._gram_newton`);
- class-level problems of any size (one point per class, ``dim = n``,
  ``init="structured"``) where that declines: the same optimality conditions solved by
  Newton–Krylov without forming the Jacobian (:mod:`latentclass._solvers.gram_krylov`: the
  exact gradient of ``L_k``, the Hessian of the limit objective as the model, MINRES with a
  Schur-complement block preconditioner; ``O(n²)`` per inner iteration), kept only if its
  certificate's gap bound is ``<= certify_tol``;
- disjoint supports at point level (``dim`` None or ``>= m − 1``): the class-level problem is
  solved by the paths here, every point is put on its class vector and the class
  certificate is lifted with the same gap bound (:mod:`latentclass._solvers.class_lift`,
  ``proofs/class_collapse.md``, Proposition 5); ``F`` then has the class-level width;
- otherwise the general solver (``method="numerical"``): Burer–Monteiro factorisation on a
  lifted sphere with L-BFGS, Newton or gradient-only polish and restarts
  (:mod:`latentclass._solvers.burer_monteiro`, :mod:`latentclass._solvers.lifted_sphere`).  It runs as if the fast
  path did not exist wherever that declines (a point inside the ball, an optimum of larger
  corank, no convergence).

The result reports the *best certificate found*; ``certified`` is decided by
:func:`certify` (:mod:`latentclass.certificate`) alone, never by the solver's own
convergence flags.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._solvers.burer_monteiro import _WARM_K, _solve_factored
from ._solvers.class_lift import class_model, lift_factor, lift_gram, lift_multipliers
from ._solvers.gram_krylov import gram_krylov
from ._solvers.gram_newton import _gram_newton
from ._solvers.run import SolverRun
from ._solvers.starts import _structured_start
from ._validation import (
    as_generator,
    check_choice,
    check_integer,
    check_k,
    check_positive,
    check_tau,
    readonly,
)
from .certificate import (  # noqa: F401 (re-exported)
    CERTIFY_TOL,
    GRAD_RTOL,
    Certificate,
    certify,
    feasibility,
)
from .closed_form import simplex, simplex_loss
from .losses.hinge_dual import hinge_dual_bound, refine_hinge_gram
from .losses.objects import Hinge, _Loss, is_logistic, resolve_loss
from .losses.population import LossObjective
from .model import LatentClassModel, check_model
from .objective import check_objective
from .population import NCEObjective

__all__ = [
    "Certificate",
    "OptimalRepresentation",
    "certify",
    "optimal_representation",
    "solve_gram",
]

_METHODS = ("auto", "closed-form", "numerical")


@dataclass(frozen=True, eq=False, repr=False)
class OptimalRepresentation:
    """An optimal (or best found) representation and its certificate (SPEC §4).

    Attributes
    ----------
    F : ndarray (n, d)
        Representation, rows of norm ``<= 1``; ``gram = F Fᵀ``.
    gram : ndarray (n, n)
        Its Gram matrix.
    loss : float
        ``L_k(gram)`` (for ``k = inf``: the limit objective ``L_∞``).
    duality_gap : float or None
        Certified upper bound on ``loss − L_k*`` for the convex problem (``None`` only if
        no certificate could be computed).
    certified : bool
        ``duality_gap <= certify_tol`` (and all multipliers ``>= 0``).
    multipliers : ndarray (n,) or None
        Multipliers ``λ`` of ``diag(G) <= 1`` from the certificate.
    method : str
        ``"closed-form"`` or ``"numerical"``.
    n_iter : int
        Solver iterations: L-BFGS iterations plus Newton steps (summed over rounds and
        restarts; 0 for the closed form).
    message : str
        What was done and what the certificate says.
    lower_bound : float or None
        A certified lower bound on the optimum of the problem solved (``loss − duality_gap``,
        weak duality, SPEC §4; for ``dim < n`` the larger of that and the certified value of
        the convex relaxation ``dim = n``, since the rank-constrained optimum is at least the
        convex one).  ``None`` where no bound is certified (non-convex losses).
    solver : str
        The path that ran: ``"closed-form"``, ``"gram-newton"`` (the Gram-space KKT Newton
        fast path), ``"gram-newton-krylov"`` (its matrix-free form for large class-level
        problems), ``"lifted-lbfgs"`` or ``"lifted-lbfgs+newton"`` (Burer–Monteiro on the
        lifted sphere, with or without Newton steps); ``"class-lift/<path>"`` for a disjoint
        point-level model solved at class level by ``<path>`` and lifted.
    """

    F: np.ndarray
    gram: np.ndarray
    loss: float
    duality_gap: float | None
    certified: bool
    multipliers: np.ndarray | None
    method: str
    n_iter: int
    message: str
    solver: str = "lifted-lbfgs"
    lower_bound: float | None = None

    def __repr__(self) -> str:
        gap = "None" if self.duality_gap is None else f"{self.duality_gap:.3g}"
        return (
            f"OptimalRepresentation(loss={self.loss:.12g}, duality_gap={gap}, "
            f"certified={self.certified}, method={self.method!r}, solver={self.solver!r}, "
            f"F{self.F.shape}, "
            f"gram{self.gram.shape}, n_iter={self.n_iter})"
        )

    def _repr_html_(self) -> str:
        """A table for Jupyter: loss, certificate, method, solver, shapes, message."""
        from ._tables import html_table

        return html_table(
            "OptimalRepresentation",
            [
                ("loss", self.loss),
                ("duality_gap", self.duality_gap),
                ("certified", self.certified),
                ("method", self.method),
                ("solver", self.solver),
                ("F", f"array {self.F.shape}"),
                ("gram", f"array {self.gram.shape}"),
                ("n_iter", self.n_iter),
            ],
            self.message,
        )


# --------------------------------------------------------------------------- public entry
def optimal_representation(
    model: LatentClassModel,
    k: Any,
    tau: float = 1.0,
    dim: int | None = None,
    method: str = "auto",
    rng: Any = 0,
    tol: float = 1e-10,
    *,
    n_restarts: int = 5,
    certify_tol: float = CERTIFY_TOL,
    max_iter: int = 20000,
    init: Any = "structured",
    polish_target: float = 1e-3,
    loss: Any = None,
) -> OptimalRepresentation:
    """Representation minimising the population NCE loss ``L_k`` (SPEC §4, §5).

    Solves ``min L_k(G)`` s.t. ``G ⪰ 0``, ``diag(G) ≤ 1``, ``rank(G) ≤ dim`` and certifies the
    result for the convex problem (no rank constraint) with :func:`certify`.

    Parameters
    ----------
    model : LatentClassModel
        Finite model (class level or point level, disjoint or overlapping).
    k : int or math.inf
        Number of negatives (``math.inf``: the limit objective ``L_∞`` of SPEC §3).
    tau : float
        Temperature ``τ > 0``.
    dim : int, optional
        Dimension ``d`` of the representation, ``1 <= d <= n``.  ``None``: ``d = n`` for the
        numerical solver (convex problem), ``m − 1`` for the closed form; for a disjoint
        point-level model (solved at class level and lifted) the class-level width, ``m``
        (numerical) or ``m − 1`` (closed form).
    method : {"auto", "closed-form", "numerical"}
        ``"auto"``: the closed form (every point on its class vertex of :func:`simplex`)
        when ``ρ`` is uniform, the supports are disjoint and ``dim`` is ``None`` or
        ``>= m − 1``; the numerical solver otherwise.  ``"closed-form"`` raises
        ``ValueError`` where it does not apply.  ``"numerical"`` always solves.
    rng : seed or numpy.random.Generator
        Perturbation of the start and random restarts.
    tol : float
        L-BFGS tolerance on the projected gradient (``gtol``), ``> 0``.
    n_restarts : int
        Starts when ``dim < n`` (rank-constrained, non-convex); the lowest loss is kept.
        With ``dim = n`` one structured start is used.
    certify_tol : float
        ``certified`` is True iff the duality-gap bound is ``<= certify_tol``.
    max_iter : int
        Iteration budget of L-BFGS per start (over all rounds).
    init : {"structured", "random"}, array_like of shape (n, n), or OptimalRepresentation
        First start: the class-posterior mixture of simplex vertices (perturbed) or a
        random point.  With ``"structured"`` and ``dim = n`` the Gram-space Newton fast path
        (module docstring) is tried first; ``tol`` and ``max_iter`` concern L-BFGS only.
        A Gram matrix (symmetric, positive semidefinite, positive diagonal; or a result, whose
        ``gram`` is taken) is a *warm start* — e.g. the optimum at a nearby ``k`` or at
        ``k = ∞``: its rows are scaled to unit norm and every path starts from it (the Newton
        paths directly, the general solver from its rank-``d`` factor, without the ``L_∞``
        continuation).  Only the start changes; the certificate is the same.
    polish_target : float
        The solver keeps refining (L-BFGS rounds and a gradient-only polish) until the gap
        bound is ``<= polish_target · certify_tol`` or it stops improving.
    loss : loss object or name, optional
        The contrastive loss (SPEC §8; default logistic, every result unchanged).
        ``"decoupled"`` (smooth, convex): the same paths, certified by :func:`certify`.
        ``"hinge"`` (convex, piecewise linear): certified by the piece-weight dual bound of
        :func:`latentclass.losses.hinge_dual_bound` (an LP over the PSD cone, SPEC §8.4); the
        candidates are the simplex (uniform ρ; and any ρ at class level, where it attains the
        lower bound ``margin · P(collision)`` once ``τ · margin <= m/(m−1)``) and L-BFGS on the
        exact subgradient from the structured start.  ``"debiased"``, ``"hard_negative"``
        (not convex): ``n_restarts`` starts (structured, random, and the simplex where it
        applies), the lowest loss found, ``certified=False``, ``duality_gap=None``.

    Returns
    -------
    OptimalRepresentation
        ``loss`` is ``NCEObjective.value(gram)`` (numerical) or :func:`simplex_loss`
        (closed form); ``duality_gap`` is the bound of :func:`certify` (hinge: of
        :func:`~latentclass.losses.hinge_dual_bound`).
    """
    check_model(model)
    k = check_k(k, allow_inf=True)
    tau = check_tau(tau)
    method = check_choice(method, "method", _METHODS)
    n, m = model.n_points, model.n_classes
    init, start = _check_init(init, n)
    dim = _check_dim(dim, n, "n_points")
    tol, certify_tol, polish_target, n_restarts, max_iter = _check_solver_options(
        tol, certify_tol, polish_target, n_restarts, max_iter
    )
    gen = as_generator(rng)
    lo = resolve_loss(loss)

    closed_ok = model.is_uniform and model.is_disjoint and (dim is None or dim >= m - 1)
    if method == "closed-form" and not closed_ok:
        raise ValueError(_closed_form_refusal(model, dim))
    # the validated solver options, passed on by keyword to every path below
    options: dict[str, Any] = dict(
        method=method,
        rng=gen,
        tol=tol,
        n_restarts=n_restarts,
        certify_tol=certify_tol,
        max_iter=max_iter,
        init=init,
        start=start,
        polish_target=polish_target,
    )
    if not is_logistic(lo):
        return _optimal_other_loss(
            model,
            k,
            tau,
            dim,
            loss=lo,
            closed_ok=closed_ok,
            **options,
        )
    if model.is_disjoint and n > m and (dim is None or dim >= m - 1):
        return _lifted_from_classes(model, k, tau, dim, **options)
    objective = NCEObjective(model, k, tau)
    if method in ("auto", "closed-form") and closed_ok:
        return _closed_form(model, objective, k, tau, dim, certify_tol)

    d = n if dim is None else dim
    convex = d >= n
    starts = 1 if convex else n_restarts
    target = polish_target * certify_tol if convex else None
    newton = convex and init in ("structured", "start")
    run = _gram_newton(model, objective, target, start) if newton else None
    if run is None and newton and target is not None and _class_level(model):
        run = gram_krylov(model, objective, k, tau, target, start=start)
        if run is not None and not (
            run.certificate is not None and run.certificate.gap <= certify_tol
        ):
            run = None  # not converged to a certifiable point: the general solver takes over
    if run is None:
        mass = np.asarray(model.marginal, dtype=float)
        run = _solve_factored(
            objective,
            d,
            starts,
            gen,
            tol,
            max_iter,
            target,
            first_start=_first_start(model, d, init, start),
            row_scale=np.sqrt(np.where(mass > 0, mass / mass.max(), 1.0)),
            warm_objective=(
                NCEObjective(model, math.inf, tau)
                if k != math.inf and k >= _WARM_K and start is None
                else None
            ),
        )
    res = _result(objective, run, certify_tol, d, n, starts)
    if not convex:  # rank-constrained: the convex relaxation's certified value bounds it too
        relax = optimal_representation(
            model, k, tau, method="numerical", rng=gen, certify_tol=certify_tol
        )
        if relax.lower_bound is not None and res.lower_bound is not None:
            res = dataclasses.replace(res, lower_bound=max(res.lower_bound, relax.lower_bound))
    return res


def _lifted_from_classes(
    model: LatentClassModel, k: Any, tau: float, dim: int | None, **options: Any
) -> OptimalRepresentation:
    """Disjoint supports at point level: the class-level problem is solved and certified, every
    point is put on its class vector, and the class certificate is lifted to a point-level one
    with the same gap bound (:mod:`latentclass._solvers.class_lift`, SPEC §5,
    ``proofs/class_collapse.md``).  No ``n × n`` gradient or eigenvalue problem is formed."""
    m = model.n_classes
    start = options.pop("start")
    if start is not None:  # a point-level warm start: the rows of one point per class
        reps = np.searchsorted(np.sort(model.point_classes), np.arange(m))
        reps = np.argsort(model.point_classes, kind="stable")[reps]
        options["init"] = start[np.ix_(reps, reps)]
    cls = optimal_representation(
        class_model(model), k, tau, min(dim, m) if dim else None, **options
    )
    d = max(cls.F.shape[1], dim or 0)
    F = lift_factor(model, cls.F, d)
    G = lift_gram(model, cls.gram)
    lam = None if cls.multipliers is None else readonly(lift_multipliers(model, cls.multipliers))
    msg = (
        f"solved at class level (m={m}) and lifted to the n={model.n_points} points, each on its "
        f"class vector; the class certificate lifts with the same gap bound (SPEC §5, class "
        f"collapse): {cls.message}"
    )
    return dataclasses.replace(
        cls,
        F=readonly(F),
        gram=G,  # fresh and read-only already (an n × n copy would cost as much as the lift)
        multipliers=lam,
        message=msg,
        solver=f"class-lift/{cls.solver}",
    )


def _check_init(init: Any, n: int) -> tuple[str, np.ndarray | None]:
    """``init`` checked at the door: ``("structured" | "random", None)``, or ``("start", S)``
    for a warm start, ``S`` the given Gram matrix with rows scaled to unit norm
    (``S_xy / √(S_xx S_yy)``; symmetric, PSD, unit diagonal)."""
    if isinstance(init, str):
        return check_choice(init, "init", ("structured", "random")), None
    if isinstance(init, OptimalRepresentation):
        init = init.gram
    try:
        S = np.array(init, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(
            f"init must be 'structured', 'random' or a Gram matrix, got {type(init).__name__}"
        ) from None
    if S.shape != (n, n):
        raise ValueError(f"init must be a Gram matrix of shape ({n}, {n}), got shape {S.shape}")
    if not np.all(np.isfinite(S)):
        raise ValueError("init must be finite")
    diag = np.diag(S).copy()
    if not np.all(diag > 0):
        raise ValueError(f"init must have a positive diagonal, got {float(diag.min())!r}")
    scale = float(diag.max())
    if not np.allclose(S, S.T, rtol=0.0, atol=1e-9 * scale):
        raise ValueError("init must be symmetric (a Gram matrix)")
    S = 0.5 * (S + S.T)
    r = 1.0 / np.sqrt(diag)
    S *= r[:, None]
    S *= r[None, :]
    lo = float(np.linalg.eigvalsh(S)[0])
    if lo < -1e-8:
        raise ValueError(
            f"init must be positive semidefinite (a Gram matrix), smallest eigenvalue of its "
            f"unit-diagonal scaling {lo:.3g}"
        )
    np.fill_diagonal(S, 1.0)
    return "start", S


def _first_start(model: LatentClassModel, d: int, init: str, start: np.ndarray | None):
    """The general solver's first start ``gen ↦ W0`` (``(n, d + 1)``): the structured start,
    the rank-``d`` factor of a warm start (rows unit, zero slack), or ``None`` (random)."""
    if start is not None:
        w, U = np.linalg.eigh(start)
        top = np.argsort(w)[::-1][:d]
        V = U[:, top] * np.sqrt(np.maximum(w[top], 0.0))
        norms = np.sqrt(np.einsum("ij,ij->i", V, V))
        V /= np.where(norms > 0, norms, 1.0)[:, None]
        W0 = np.zeros((start.shape[0], d + 1))
        W0[:, :d] = V
        W0[:, d] = np.where(norms > 0, 0.0, 1.0)  # a row lost by the rank cut: on the slack
        return lambda gen: W0.copy()
    if init == "structured":
        return lambda gen: _structured_start(model, d, gen, 1e-3)
    return None


def _class_level(model: LatentClassModel) -> bool:
    """One point per class (``D_c = δ_c``): the Gram-space Newton–Krylov path applies."""
    n, m = model.n_points, model.n_classes
    return n == m and model.is_disjoint and bool(np.all(model.point_classes == np.arange(m)))


def _check_dim(dim: Any, n: int, size_name: str) -> int | None:
    """``dim``: ``None`` or an integer in ``[1, n]`` (``size_name`` names ``n`` in the message)."""
    if dim is None:
        return None
    dim = check_integer(dim, "dim", minimum=1)
    if dim > n:
        raise ValueError(f"dim must be an integer between 1 and {size_name}={n}, got {dim}")
    return dim


def _check_solver_options(
    tol: Any, certify_tol: Any, polish_target: Any, n_restarts: Any, max_iter: Any
) -> tuple[float, float, float, int, int]:
    """The solver options shared by :func:`optimal_representation` and :func:`solve_gram`,
    checked once at the door."""
    return (
        check_positive(tol, "tol"),
        check_positive(certify_tol, "certify_tol"),
        check_positive(polish_target, "polish_target"),
        check_integer(n_restarts, "n_restarts", minimum=1),
        check_integer(max_iter, "max_iter", minimum=1),
    )


def _result(objective, run: SolverRun, certify_tol: float, d: int, n: int, starts: int):
    """The public result of a solver run: the certificate judged here, never by the solver."""
    cert = run.certificate
    if cert is None:
        cert = certify(objective, run.gram)
    # never a certificate for an infeasible matrix, whichever path produced it
    certified = bool(
        cert.gap <= certify_tol
        and np.all(cert.multipliers >= 0)
        and feasibility(run.gram).feasible
        and getattr(objective, "convex", None) is True
    )
    msg = _numerical_message(certified, cert.gap, certify_tol, run.status, d, n, starts)
    convex_objective = getattr(objective, "convex", None) is True
    return OptimalRepresentation(
        readonly(run.F),
        readonly(run.gram),
        run.loss,
        cert.gap,
        certified,
        cert.multipliers,
        "numerical",
        run.n_iter,
        msg,
        run.solver,
        float(run.loss - cert.gap) if convex_objective else None,
    )


def solve_gram(
    objective: Any,
    dim: int | None = None,
    rng: Any = 0,
    tol: float = 1e-10,
    *,
    n_restarts: int = 5,
    certify_tol: float = CERTIFY_TOL,
    max_iter: int = 20000,
    polish_target: float = 1e-3,
) -> OptimalRepresentation:
    """Minimise any convex objective of a Gram matrix over ``{G ⪰ 0, diag(G) ≤ 1}`` and
    certify the result (SPEC §4).

    The same machinery as :func:`optimal_representation` — Burer–Monteiro on the lifted
    sphere with L-BFGS, Newton steps where the objective offers second-order information,
    the gradient-only polish, and the dual certificate of :func:`certify` — for any object of
    the :class:`~latentclass.GramObjective` protocol (:mod:`latentclass.objective`).

    Parameters
    ----------
    objective : GramObjective
        ``n`` and ``value_and_grad(G) -> (float, ndarray)``; ``convex = True`` is needed for
        ``certified`` (taken on trust for objects other than the library's).
    dim : int, optional
        Rank bound ``d`` (``1 <= d <= n``); ``None``: ``d = n``, the convex problem.
    rng : seed or numpy.random.Generator
        Random starts.
    tol, n_restarts, certify_tol, max_iter, polish_target
        As in :func:`optimal_representation`.

    Returns
    -------
    OptimalRepresentation
        ``loss`` is ``objective``'s value at ``gram``; ``solver`` names the path that ran.
    """
    n = check_objective(objective)
    dim = _check_dim(dim, n, "objective.n")
    tol, certify_tol, polish_target, n_restarts, max_iter = _check_solver_options(
        tol, certify_tol, polish_target, n_restarts, max_iter
    )
    gen = as_generator(rng)
    d = n if dim is None else dim
    convex = d >= n
    starts = 1 if convex else n_restarts
    target = polish_target * certify_tol if convex else None
    run = _solve_factored(objective, d, starts, gen, tol, max_iter, target)
    return _result(objective, run, certify_tol, d, n, starts)


def _simplex_gram(model: LatentClassModel, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Every point on its class vertex of the regular simplex (``F (n, d)``, ``d >= m − 1``)."""
    n, m = model.n_points, model.n_classes
    F = np.zeros((n, d))
    F[:, : m - 1] = simplex(m)[model.point_classes]
    G = F @ F.T
    return F, 0.5 * (G + G.T)


def _hinge_result(
    model, objective, lo, k, tau, F, G, certify_tol, method, solver, n_iter, what, bound=None
):
    """The hinge optimum's result; ``bound`` (a :class:`HingeDualBound` at ``G``, e.g. the one
    :func:`refine_hinge_gram` returns with the best global lower bound it found) or the
    piece-weight dual bound computed here."""
    if bound is None:
        bound = hinge_dual_bound(model, G, k, tau, lo)
    certified = bool(bound.feasible and bound.gap <= certify_tol)
    rel = "<=" if certified else ">"
    msg = (
        f"{what}; hinge piece-weight dual bound (LP over the PSD cone, SPEC §8.4): gap "
        f"{bound.gap:.3g} {rel} certify_tol={certify_tol:.3g}"
    )
    return OptimalRepresentation(
        readonly(F),
        readonly(G),
        bound.value,
        bound.gap,
        certified,
        bound.multipliers,
        method,
        n_iter,
        msg,
        solver,
    )


def _optimal_other_loss(
    model: LatentClassModel,
    k: Any,
    tau: float,
    dim: int | None,
    *,
    loss: _Loss,
    closed_ok: bool,
    method: str,
    rng: np.random.Generator,
    tol: float,
    n_restarts: int,
    certify_tol: float,
    max_iter: int,
    init: str,
    start: np.ndarray | None,
    polish_target: float,
) -> OptimalRepresentation:
    """``optimal_representation`` for a loss other than the logistic (SPEC §8.4); the options
    are the ones :func:`optimal_representation` validated, passed by keyword."""
    lo, gen = loss, rng
    n, m = model.n_points, model.n_classes
    objective = LossObjective(model, k, tau, lo)
    d = n if dim is None else dim
    convex = d >= n
    first = _first_start(model, d, init, start)
    mass = np.asarray(model.marginal, dtype=float)
    row_scale = np.sqrt(np.where(mass > 0, mass / mass.max(), 1.0))
    if isinstance(lo, Hinge):
        cands = []
        simplex_ok = closed_ok or (model.is_disjoint and (dim is None or dim >= m - 1) and m >= 2)
        if simplex_ok and method != "numerical":
            dd = m - 1 if dim is None else dim
            F, G = _simplex_gram(model, dd)
            res = _hinge_result(
                model,
                objective,
                lo,
                k,
                tau,
                F,
                G,
                certify_tol,
                "closed-form",
                "closed-form",
                0,
                "every point on its class vertex of the regular simplex",
            )
            if res.certified or method == "closed-form":
                return res
            cands.append(res)
        run = _solve_factored(
            objective,
            d,
            1 if convex else n_restarts,
            gen,
            tol,
            max_iter,
            None,
            first_start=first,
            row_scale=row_scale,
        )
        res = _hinge_result(
            model,
            objective,
            lo,
            k,
            tau,
            run.F,
            run.gram,
            certify_tol,
            "numerical",
            run.solver,
            run.n_iter,
            f"L-BFGS on the exact subgradient ({run.status})",
        )
        cands.append(res)
        if not res.certified and convex:  # the hinge optimum is often not the simplex: an LP
            ref = refine_hinge_gram(model, run.gram, k, tau, lo, target_gap=0.01 * certify_tol)
            n_lp = ref.n_lp
            for _ in range(3):  # a restart from the refined point (its LP box starts anew)
                if ref.bound.gap <= 0.01 * certify_tol or ref.n_lp == 0:
                    break
                again = refine_hinge_gram(
                    model, ref.gram, k, tau, lo, target_gap=0.01 * certify_tol
                )
                n_lp += again.n_lp
                if not again.bound.gap < 0.5 * ref.bound.gap:
                    ref = again if again.bound.gap < ref.bound.gap else ref
                    break
                ref = again
            cands.append(
                _hinge_result(
                    model,
                    objective,
                    lo,
                    k,
                    tau,
                    ref.factor,
                    ref.gram,
                    certify_tol,
                    "numerical",
                    f"{run.solver}+hinge-lp",
                    run.n_iter + n_lp,
                    f"L-BFGS on the exact subgradient ({run.status}), then {n_lp} "
                    "sequential-LP steps (refine_hinge_gram)",
                    bound=ref.bound,
                )
            )
        return min(cands, key=lambda r: (not r.certified, r.duality_gap))
    if lo.convex:  # decoupled: smooth and convex, the certificate of SPEC §4 applies
        if closed_ok and method != "numerical":
            F, G = _simplex_gram(model, m - 1 if dim is None else dim)
            cert = certify(objective, G)
            ok = bool(cert.gap <= certify_tol and cert.certified)
            msg = (
                f"closed form (SPEC §8.4): every point on its class vertex of the regular "
                f"simplex; duality-gap bound {cert.gap:.3g} {'<=' if ok else '>'} "
                f"certify_tol={certify_tol:.3g}"
            )
            return OptimalRepresentation(
                readonly(F),
                readonly(G),
                objective.value(G),
                cert.gap,
                ok,
                cert.multipliers,
                "closed-form",
                0,
                msg,
                "closed-form",
            )
        starts = 1 if convex else n_restarts
        target = polish_target * certify_tol if convex else None
        warm = (
            LossObjective(model, math.inf, tau, lo)
            if k != math.inf and k >= _WARM_K and start is None
            else None
        )
        run = _solve_factored(
            objective,
            d,
            starts,
            gen,
            tol,
            max_iter,
            target,
            first_start=first,
            row_scale=row_scale,
            warm_objective=warm,
        )
        return _result(objective, run, certify_tol, d, n, starts)
    # not convex: restarts, best found, never a certificate
    run = _solve_factored(
        objective,
        d,
        n_restarts,
        gen,
        tol,
        max_iter,
        None,
        first_start=first,
        row_scale=row_scale,
    )
    F, G, value, solver, n_iter = run.F, run.gram, run.loss, run.solver, run.n_iter
    found = f"best of {n_restarts} starts (structured + random)"
    if model.is_disjoint and (dim is None or dim >= m - 1):
        Fs, Gs = _simplex_gram(model, d if d >= m - 1 else m - 1)
        vs = objective.value(Gs)
        if vs <= value:
            F, G, value, solver = Fs, Gs, vs, "simplex-candidate"
            found += "; the simplex was the lowest"
    msg = (
        f"not certified: the {lo.name} loss is not convex, so no certificate of global "
        f"optimality exists here; {found} (SPEC §8.4)"
    )
    return OptimalRepresentation(
        readonly(F),
        readonly(G),
        float(value),
        None,
        False,
        None,
        "numerical",
        n_iter,
        msg,
        solver,
    )


def _closed_form_refusal(model: LatentClassModel, dim: int | None) -> str:
    """Why ``method="closed-form"`` does not apply to ``model`` and ``dim``."""
    m = model.n_classes
    why = []
    if not model.is_uniform:
        why.append("class_probs is not uniform")
    if not model.is_disjoint:
        why.append("the supports are not disjoint")
    if dim is not None and dim < m - 1:
        why.append(f"dim={dim} < m - 1 = {m - 1}")
    return (
        "method='closed-form' applies only to uniform class_probs, disjoint supports and "
        f"dim None or >= m - 1; here {', '.join(why)}"
    )


def _closed_form(model, objective, k, tau, dim, certify_tol) -> OptimalRepresentation:
    """Every point on its class vertex of :func:`simplex` (SPEC §5; uniform ρ, disjoint
    supports, ``dim`` None or ``>= m − 1``), certified with :func:`certify`."""
    n, m = model.n_points, model.n_classes
    d = m - 1 if dim is None else dim
    F = np.zeros((n, d))
    F[:, : m - 1] = simplex(m)[model.point_classes]
    G = F @ F.T
    G = 0.5 * (G + G.T)
    cert = certify(objective, G)
    certified = cert.gap <= certify_tol
    msg = (
        "closed form (SPEC §5): every point on its class vertex of the regular simplex; "
        f"duality-gap bound {cert.gap:.3g} "
        + ("<=" if certified else ">")
        + f" certify_tol={certify_tol:.3g}"
    )
    return OptimalRepresentation(
        readonly(F),
        readonly(G),
        simplex_loss(m, k, tau),
        cert.gap,
        bool(certified),
        cert.multipliers,
        "closed-form",
        0,
        msg,
        "closed-form",
        float(simplex_loss(m, k, tau) - cert.gap),
    )


def _numerical_message(
    certified: bool, gap: float, certify_tol: float, status: str, d: int, n: int, starts: int
) -> str:
    """What the numerical solver did (``status``) and what the certificate says; for
    ``d < n`` whether the rank constraint is shown not to bind."""
    if d >= n:
        rel = "<=" if certified else ">"
        return (
            f"{'certified global optimum' if certified else 'not certified'}: duality-gap bound "
            f"{gap:.3g} {rel} certify_tol={certify_tol:.3g} ({status})"
        )
    if certified:
        return (
            f"the rank-{d} solution (best of {starts} starts) is globally optimal: its convex "
            f"duality-gap bound {gap:.3g} <= certify_tol={certify_tol:.3g}, so the rank "
            "constraint is not binding"
        )
    return (
        f"not certified: rank-constrained (dim={d} < n={n}) non-convex problem, best of "
        f"{starts} starts; the convex duality-gap bound {gap:.3g} > "
        f"certify_tol={certify_tol:.3g}, so the rank constraint may bind or the start "
        "was poor"
    )
