"""A search for class distributions whose downstream loss rises with ``k`` (SPEC §5).

:func:`search_degradation` looks for counterexamples to the conjecture of SPEC §5
(non-uniform ``ρ``: the mean-classifier loss of the optimum is non-increasing in ``k``): over
named class distributions and seeded Dirichlet draws it computes the downstream loss curve
``k ↦ ℓ(k)`` at the certified optimum of the class-level model and reports the largest
rise ``max_{i<j} ℓ(k_j) − ℓ(k_i)`` (:func:`largest_rise`), without assuming monotonicity and
without smoothing.

Why the curve is well defined: at the class level the NCE loss and the mean-classifier
loss both depend on ``G`` only through the row differences ``G[x, y] − G[x, x]``, and the
NCE loss is strictly convex in those differences (``log(1 + Σ_y e^{u_y})`` has Hessian
``diag(p) − p pᵀ`` with ``Σ p < 1``; for ``k = ∞`` the ``y = x`` term is pinned at 0).  So
every optimum has the same downstream loss, even where the optimal ``G`` is not unique.
"""

from __future__ import annotations

import concurrent.futures
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from .._progress import Progress
from .._validation import (
    as_generator,
    check_choice,
    check_class_probs,
    check_integer,
    check_tau,
    readonly,
)
from ..downstream import WEIGHTINGS, mean_classifier_metrics
from ..families import dirichlet, parse_class_probs
from ..model import LatentClassModel
from ..optimize import optimal_representation
from .degradation_results import DegradationCase, DegradationSearchResult, largest_rise
from .k_grid import _check_ks
from .task_runner import _SOLVER_SEED, _check_executor, _check_progress, _Progress, _run_tasks

#: Named families searched by default (small m: each point is one certified solve).
DEFAULT_FAMILIES: tuple[str, ...] = (
    "zipf:3:1",
    "zipf:4:1",
    "zipf:5:0.5",
    "zipf:5:1.5",
    "zipf:6:1",
    "zipf:6:2",
    "zipf:8:1",
    "geometric:3:0.3",
    "geometric:4:0.5",
    "geometric:6:0.7",
    "geometric:6:0.4",
    "dominant:3:0.6",
    "dominant:4:0.9",
    "dominant:5:0.5",
    "dominant:6:0.75",
    "dominant:3:0.1",
    "dominant:5:0.05",
    "two_blocks:4:0.5:4",
    "two_blocks:6:0.5:10",
    "two_blocks:6:0.17:20",
    "two_blocks:6:0.83:20",
)
#: Default k grid (math.inf is the limit objective).
DEFAULT_KS: tuple = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128, 512, 4096, math.inf)


def _degradation_point(
    class_probs: tuple,
    k: Any,
    tau: float,
    weightings: tuple,
    init: str = "structured",
    seed: int = _SOLVER_SEED,
) -> dict:
    """Certified optimum of the class-level model at one ``k`` and its downstream metrics."""
    model = LatentClassModel.one_point_per_class(np.asarray(class_probs, dtype=float))
    opt = optimal_representation(model, k, tau=tau, rng=seed, init=init)
    out: dict[str, Any] = {
        "contrastive_loss": float(opt.loss),
        "duality_gap": math.inf if opt.duality_gap is None else float(opt.duality_gap),
        "certified": bool(opt.certified),
    }
    for w in weightings:
        r = mean_classifier_metrics(model, opt.F, tau, weighting=w)
        out[w] = (float(r.loss), float(r.accuracy))
        # t-way tasks, t = 2 … m − 1 (SPEC §9.1): the degradation search reports each size
        out[f"{w}:tasks"] = [
            float(mean_classifier_metrics(model, opt.F, tau, t, weighting=w, rng=0).loss)
            for t in range(2, model.n_classes)
        ]
    return out


def _normalise_families(families: Any) -> list[tuple[str, np.ndarray]]:
    """``(name, ρ)`` for every family spec, ``(name, class_probs)`` pair or probability vector."""
    if isinstance(families, str):
        families = [families]
    if isinstance(families, dict):
        items = list(families.items())
    else:
        if not isinstance(families, Iterable):
            raise TypeError(
                f"families must be a sequence of family specs, got {type(families).__name__}"
            )
        items = []
        for i, f in enumerate(families):
            if isinstance(f, str):
                items.append((f, f))
            elif isinstance(f, tuple) and len(f) == 2 and isinstance(f[0], str):
                items.append(f)
            else:
                items.append((f"class_probs[{i}]", f))
    out = []
    for name, spec in items:
        if isinstance(spec, str):
            rho = parse_class_probs(spec, name=f"families[{name!r}]")
        else:
            rho = np.array(check_class_probs(spec, name=f"families[{name!r}]"), dtype=float)
        out.append((str(name), rho))
    return out


def _check_weightings(weighting: Any) -> tuple[str, ...]:
    """One or more distinct weightings of the mean classifier (SPEC §6)."""
    if isinstance(weighting, str):
        weighting = (weighting,)
    weightings = tuple(weighting)
    if not weightings:
        raise ValueError("weighting must name at least one of 'class_probs', 'balanced'")
    for w in weightings:
        check_choice(w, "weighting", WEIGHTINGS)
    if len(set(weightings)) != len(weightings):
        raise ValueError(f"weighting must not repeat a value, got {weightings}")
    return weightings


def _random_class_laws(
    n_random: int,
    random_classes: Sequence[int],
    random_alpha: Sequence[float],
    min_class_prob: float,
    rng: Any,
) -> list[tuple[str, np.ndarray]]:
    """``n_random`` seeded Dirichlet draws ``(name, ρ)``, each redrawn until ``min ρ >= min_class_prob``."""
    classes = [check_integer(c, "random_classes", minimum=2) for c in random_classes]
    alphas = [float(a) for a in random_alpha]
    if not classes or not alphas or any(not (math.isfinite(a) and a > 0) for a in alphas):
        raise ValueError(
            "random_classes and random_alpha must be non-empty; every alpha finite and > 0"
        )
    floor = float(min_class_prob)
    if not (math.isfinite(floor) and 0.0 <= floor < 1.0 / max(classes)):
        raise ValueError(
            f"min_class_prob must be >= 0 and < 1/max(random_classes) = {1.0 / max(classes):g}, "
            f"got {min_class_prob!r}"
        )
    gen = as_generator(rng)
    seed_txt = f"seed={rng}, " if isinstance(rng, (int, np.integer)) else ""
    draws = []
    for i in range(n_random):
        m = classes[int(gen.integers(len(classes)))]
        a = alphas[int(gen.integers(len(alphas)))]
        for _ in range(1000):
            rho = dirichlet(m, a, gen)
            if rho.min() >= floor:
                break
        else:
            raise ValueError(
                f"no Dirichlet(alpha={a:g}) draw over m={m} classes had every class >= "
                f"min_class_prob={floor:g} in 1000 tries; lower min_class_prob or raise alpha"
            )
        draws.append((f"dirichlet(m={m}, alpha={a:g}, {seed_txt}draw={i})", rho))
    return draws


def _solve_curves(
    rhos: Sequence[np.ndarray],
    ks: tuple,
    tau: float,
    weightings: tuple,
    executor: Any,
    start: tuple = (),
    on_point: Callable[[], Any] | None = None,
) -> list[list[dict]]:
    """For each class law, the :func:`_degradation_point` of every ``k`` (one task per point).

    ``start`` is passed on as ``(init, seed)`` when given; ``on_point()`` is called as each
    point finishes.
    """
    tasks = [(tuple(rho.tolist()), k, tau, weightings, *start) for rho in rhos for k in ks]
    points: list = [None] * len(tasks)

    def record(i: int, value: dict) -> None:
        points[i] = value
        if on_point is not None:
            on_point()

    _run_tasks(_degradation_point, tasks, executor, record)
    nk = len(ks)
    return [points[d * nk : (d + 1) * nk] for d in range(len(rhos))]


def _losses(curve: list[dict], weighting: str) -> np.ndarray:
    """The downstream losses along one curve under one weighting."""
    return np.array([p[weighting][0] for p in curve])


def _resolutions(
    rhos: dict[int, np.ndarray],
    curves: list,
    ks: tuple,
    tau: float,
    weightings: tuple,
    executor: Any,
) -> dict:
    """``(d, w) -> max_k |ℓ(k) − ℓ'(k)|`` for an independent re-solve ``ℓ'`` of curve ``d``.

    The re-solve starts from a random point with another seed (``init="random"``,
    ``seed = _SOLVER_SEED + 1``): an empirical error bar on every point of the curve.
    """
    again = _solve_curves(
        list(rhos.values()), ks, tau, weightings, executor, start=("random", _SOLVER_SEED + 1)
    )
    return {
        (d, w): float(np.max(np.abs(_losses(curves[d], w) - _losses(alt, w))))
        for d, alt in zip(rhos, again)
        for w in weightings
    }


def _make_case(
    name: str,
    rho: np.ndarray,
    curve: list[dict],
    weighting: str,
    ks: tuple,
    rise: tuple[float, int, int],
    resolution: float | None,
) -> DegradationCase:
    cert = np.array([p["certified"] for p in curve], dtype=bool)
    gaps = np.array([p["duality_gap"] for p in curve])
    closs = np.array([p["contrastive_loss"] for p in curve])
    losses = _losses(curve, weighting)
    accs = np.array([p[weighting][1] for p in curve])
    value, i, j = rise
    crise = largest_rise(losses[cert])[0] if cert.sum() >= 2 else None
    tasks = np.array([p.get(f"{weighting}:tasks", []) for p in curve], dtype=float)
    task_rises = {
        t + 2: float(largest_rise(tasks[:, t])[0])
        for t in range(tasks.shape[1] if tasks.ndim == 2 else 0)
    }
    return DegradationCase(
        name,
        readonly(rho),
        weighting,
        ks,
        readonly(losses),
        readonly(accs),
        readonly(closs),
        readonly(gaps),
        readonly(cert),
        value,
        ks[i],
        ks[j],
        crise,
        resolution,
        task_rises,
    )


def search_degradation(
    families: Any = DEFAULT_FAMILIES,
    ks: Sequence[int | float] = DEFAULT_KS,
    tau: float = 1.0,
    *,
    n_random: int = 20,
    random_classes: Sequence[int] = (3, 4, 5, 6),
    random_alpha: Sequence[float] = (0.3, 1.0, 3.0),
    min_class_prob: float = 1e-4,
    rng: Any = 0,
    weighting: str | Sequence[str] = ("class_probs", "balanced"),
    executor: concurrent.futures.Executor | None = None,
    top: int = 5,
    progress: bool | Callable[[Progress], Any] | None = None,
) -> DegradationSearchResult:
    """Search class distributions for a rise of the downstream loss with ``k`` (SPEC §5).

    For every class law ``ρ`` (the named ``families`` plus ``n_random`` seeded Dirichlet
    draws) and every ``k`` of ``ks``, the class-level model ``one_point_per_class(ρ)`` is
    solved to its certified optimum (``optimal_representation(model, k, tau, rng=0)``),
    and the mean-classifier loss ``ℓ_w(k)`` (SPEC §6) is evaluated on it under each
    weighting ``w``.  Each curve's largest rise ``max_{i<j} ℓ_w(k_j) − ℓ_w(k_i)``
    (:func:`largest_rise`) is reported; a positive rise is degradation with ``k``.  The
    curves are raw: not smoothed, not assumed monotone; each point says whether its
    optimum was certified.

    Parameters
    ----------
    families : sequence or dict
        Items are family specs for :func:`latentclass.families.parse_class_probs`
        (``"zipf:5:1.5"``), ``(name, class_probs)`` pairs, or probability vectors; or a
        dict ``name -> spec or vector``.  Default :data:`DEFAULT_FAMILIES`.
    ks : sequence of int or math.inf
        The grid: at least 2 distinct values, given in any order (sorted increasingly
        here, so a rise always means ``k < k'``).  Default :data:`DEFAULT_KS`.
    tau : float
    n_random : int
        Number of Dirichlet draws; draw ``i`` has ``m`` and ``α`` chosen from
        ``random_classes`` and ``random_alpha`` by the generator seeded with ``rng``.
    random_classes : sequence of int
        Numbers of classes the draws choose from, each ``>= 2``.
    random_alpha : sequence of float
        Dirichlet concentrations the draws choose from, each finite and ``> 0``.
    min_class_prob : float
        A draw with a class below this probability is rejected and redrawn (at most 1000
        tries per draw).  Such classes barely enter the contrastive loss, so the certificate
        does not pin their vectors down and the balanced downstream loss is not resolved.
    rng : seed or numpy.random.Generator
        Seeds the Dirichlet draws (same seed, same distributions).
    weighting : str or sequence of str
        ``"class_probs"`` and/or ``"balanced"``.
    executor : concurrent.futures.Executor, optional
        One task per (distribution, k), as in :func:`sweep_negatives`.
    top : int
        Number of worst cases kept per weighting in ``worst``; each of their curves is
        re-solved from a random start to measure its ``resolution``.
    progress : bool or callable, optional
        As in :func:`sweep_negatives`; a callable receives one
        :class:`~latentclass._progress.Progress` per solved point (``stage ==
        "degradation search"``, ``detail=None``).

    Returns
    -------
    DegradationSearchResult
    """
    ks = tuple(sorted(_check_ks(ks)))
    if len(ks) < 2:
        raise ValueError(f"ks must hold at least 2 distinct values to measure a rise, got {ks}")
    tau = check_tau(tau)
    n_random = check_integer(n_random, "n_random", minimum=0)
    top = check_integer(top, "top", minimum=1)
    weightings = _check_weightings(weighting)
    _check_executor(executor)
    _check_progress(progress)
    dists = _normalise_families(families)
    if n_random:
        dists += _random_class_laws(n_random, random_classes, random_alpha, min_class_prob, rng)
    if not dists:
        raise ValueError("families is empty and n_random = 0: nothing to search")

    n_tasks = len(dists) * len(ks)
    bar = _Progress(progress, n_tasks, 0, n_tasks, "degradation search")
    try:
        curves = _solve_curves(
            [rho for _, rho in dists], ks, tau, weightings, executor, on_point=bar.update
        )
    finally:
        bar.close()

    rises = {
        (d, w): largest_rise(_losses(curve, w))
        for d, curve in enumerate(curves)
        for w in weightings
    }
    order = sorted(rises, key=lambda key: (-rises[key][0], key[0], weightings.index(key[1])))
    worst_keys = {w: [key for key in order if key[1] == w][:top] for w in weightings}
    checked = sorted({d for keys in worst_keys.values() for d, _ in keys})
    resolution = _resolutions(
        {d: dists[d][1] for d in checked}, curves, ks, tau, weightings, executor
    )

    made = {
        (d, w): _make_case(*dists[d], curves[d], w, ks, rises[d, w], resolution.get((d, w)))
        for d, w in order
    }
    cases = tuple(made[key] for key in order)
    worst = {w: tuple(made[key] for key in worst_keys[w]) for w in weightings}
    max_rise = {w: worst[w][0].rise for w in weightings}
    all_cert = all(c.all_certified for c in cases)
    return DegradationSearchResult(cases, worst, max_rise, ks, tau, len(dists), all_cert)
