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

The result types (:class:`DegradationCase`, :class:`DegradationSearchResult`) and
:func:`largest_rise` live here too.
"""

from __future__ import annotations

import concurrent.futures
import csv
import io
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._progress import Progress
from .._provenance import versions
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
from .executors import _SOLVER_SEED, _check_executor, _check_progress, _Progress, _run_tasks
from .storage import _csv_cell, _csv_comment_lines, _encode, _write_text
from .sweep import _check_ks

# ---------------------------------------------------------- results of a search

#: Columns of :meth:`DegradationSearchResult.rows` (one row per case and ``k``), in order.
DEGRADATION_COLUMNS: tuple[str, ...] = (
    "name",
    "weighting",
    "class_probs",
    "k",
    "mean_classifier_loss",
    "mean_classifier_accuracy",
    "contrastive_loss",
    "contrastive_loss_limit",
    "duality_gap",
    "certified",
    "rise",
    "rise_from",
    "rise_to",
    "certified_rise",
    "resolution",
)
#: ``"format"`` of the JSON object written by :meth:`DegradationSearchResult.to_json`.
DEGRADATION_JSON_FORMAT = "latentclass-degradation-search"


def largest_rise(values: Any) -> tuple[float, int, int]:
    """Largest increase along a curve: ``max_{i<j} (v_j − v_i)`` and its ``(i, j)``.

    No monotonicity is assumed and nothing is smoothed; the value is negative when the
    curve strictly decreases everywhere (it is then the smallest decrease between two
    points).  Computed in one pass with a running minimum; among equal maxima the
    earliest ``j`` and, for it, the earliest minimising ``i`` are returned.

    Parameters
    ----------
    values : array_like, shape (n,), n >= 2, finite

    Returns
    -------
    (rise, i, j) : (float, int, int)
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or v.size < 2:
        raise ValueError(f"values must be a 1-D curve with at least 2 points, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("values must be finite")
    head = v[:-1]
    run_min = np.minimum.accumulate(head)
    idx = np.arange(head.size)
    # index of the first occurrence of the running minimum
    is_new_min = np.concatenate([[True], head[1:] < run_min[:-1]])
    arg_min = np.maximum.accumulate(np.where(is_new_min, idx, 0))
    gains = v[1:] - run_min
    j = int(np.argmax(gains)) + 1
    return float(gains[j - 1]), int(arg_min[j - 1]), j


@dataclass(frozen=True, eq=False, repr=False)
class DegradationCase:
    """The downstream-loss curve of one class law under one weighting.

    Attributes
    ----------
    name : str
        Family spec (e.g. ``"zipf:5:1.5"``) or Dirichlet draw description.
    class_probs : ndarray (m,)
    weighting : str
        ``"class_probs"`` or ``"balanced"`` (SPEC §6).
    ks : tuple
        The ``k`` grid (``math.inf`` allowed).
    losses, accuracies : ndarray (len(ks),)
        Mean-classifier loss / accuracy of the optimum at each ``k``.
    contrastive_losses : ndarray (len(ks),)
        ``L_k`` at the optimum (``L_∞`` for ``k = inf``).
    duality_gaps : ndarray (len(ks),)
        Certified sub-optimality bounds (``inf`` where none exists).
    certified : ndarray of bool (len(ks),)
    rise : float
        :func:`largest_rise` of ``losses`` (all points).
    rise_from, rise_to : int or float
        The ``k < k'`` realising ``rise``.
    certified_rise : float or None
        The same over the certified points only (``None`` if fewer than 2).
    resolution : float or None
        For the cases in ``DegradationSearchResult.worst``: the largest difference, over the
        curve, between this downstream loss and the one of an independent re-solve from a
        random start (``init="random"``, another seed) — an empirical error bar on every
        point.  ``None`` for the other cases.
    task_rises : dict or None
        ``t -> largest rise`` of the ``t``-way task-averaged loss (SPEC §9.1, ``ρ``-conditioned
        tasks, same weighting) along the curve, for ``t = 2 … m − 1`` (``t = m`` is ``rise``).
    """

    name: str
    class_probs: np.ndarray
    weighting: str
    ks: tuple
    losses: np.ndarray
    accuracies: np.ndarray
    contrastive_losses: np.ndarray
    duality_gaps: np.ndarray
    certified: np.ndarray
    rise: float
    rise_from: Any
    rise_to: Any
    certified_rise: float | None
    resolution: float | None = None
    task_rises: dict | None = None

    @property
    def all_certified(self) -> bool:
        return bool(np.all(self.certified))

    @property
    def significant(self) -> bool | None:
        """``rise > 2 · resolution + 1e-12`` (``None`` when no resolution was measured)."""
        if self.resolution is None:
            return None
        return bool(self.rise > 2.0 * self.resolution + 1e-12)

    def curve(self) -> list[dict]:
        """The curve as rows ``{k, loss, accuracy, contrastive_loss, duality_gap, certified}``."""
        return [
            {
                "k": k,
                "loss": float(l),
                "accuracy": float(a),
                "contrastive_loss": float(c),
                "duality_gap": float(g),
                "certified": bool(ok),
            }
            for k, l, a, c, g, ok in zip(
                self.ks,
                self.losses,
                self.accuracies,
                self.contrastive_losses,
                self.duality_gaps,
                self.certified,
            )
        ]

    def __repr__(self) -> str:
        return (
            f"DegradationCase({self.name!r}, weighting={self.weighting!r}, m={self.class_probs.size}, "
            f"rise={self.rise:.3g} (k={self.rise_from}->{self.rise_to}), "
            f"certified={int(self.certified.sum())}/{self.certified.size})"
        )


@dataclass(frozen=True, eq=False, repr=False)
class DegradationSearchResult:
    """Outcome of :func:`search_degradation`.

    Attributes
    ----------
    cases : tuple of DegradationCase
        Every (distribution, weighting) curve, sorted by ``rise`` (largest first).
    worst : dict
        ``weighting -> tuple`` of the ``top`` cases with the largest rise.
    max_rise : dict
        ``weighting -> float``, the largest rise found.
    ks : tuple
    tau : float
    n_distributions : int
    all_certified : bool
        Every point of every curve is a certified optimum.
    versions : dict
        :func:`latentclass._provenance.versions` of the process that ran the search;
        written into the files of :meth:`to_csv` and :meth:`to_json`.
    """

    cases: tuple
    worst: dict
    max_rise: dict
    ks: tuple
    tau: float
    n_distributions: int
    all_certified: bool
    versions: dict = field(default_factory=versions)

    def rows(self) -> list[dict]:
        """One row per (case, ``k``), cases in the order of :attr:`cases`; keys
        :data:`DEGRADATION_COLUMNS`.

        ``mean_classifier_loss`` / ``mean_classifier_accuracy`` are the downstream loss and
        accuracy under the case's ``weighting``; ``contrastive_loss`` is ``L_k`` of the
        optimum for finite ``k`` (``None`` at ``k = inf``) and ``contrastive_loss_limit``
        is ``L_∞`` at ``k = inf`` (``None`` otherwise), as in a sweep table; ``duality_gap``
        is ``inf`` where no certificate exists.  ``class_probs`` is the class law as a
        space-separated list of ``repr`` floats; ``rise`` … ``resolution`` are the case's
        (repeated on each of its rows; ``None`` when not measured).

        Returns
        -------
        list of dict
            One mapping per (case, ``k``), keys :data:`DEGRADATION_COLUMNS`.
        """
        out = []
        for c in self.cases:
            rho = " ".join(repr(float(p)) for p in c.class_probs)
            for i, k in enumerate(c.ks):
                closs = float(c.contrastive_losses[i])
                out.append(
                    {
                        "name": c.name,
                        "weighting": c.weighting,
                        "class_probs": rho,
                        "k": k,
                        "mean_classifier_loss": float(c.losses[i]),
                        "mean_classifier_accuracy": float(c.accuracies[i]),
                        "contrastive_loss": None if k == math.inf else closs,
                        "contrastive_loss_limit": closs if k == math.inf else None,
                        "duality_gap": float(c.duality_gaps[i]),
                        "certified": bool(c.certified[i]),
                        "rise": float(c.rise),
                        "rise_from": c.rise_from,
                        "rise_to": c.rise_to,
                        "certified_rise": c.certified_rise,
                        "resolution": c.resolution,
                    }
                )
        return out

    def _metadata(self) -> dict:
        return {
            **self.versions,
            "tau": self.tau,
            "n_distributions": self.n_distributions,
            "all_certified": self.all_certified,
        }

    def to_csv(self, path: Any) -> None:
        """Write :meth:`rows` as CSV to a path (atomic write) or text stream.

        As :meth:`SweepResult.to_csv`: first ``# key: value`` comment lines (the versions
        that computed the search — ``latentclass``, ``python``, ``numpy``, ``scipy``,
        ``platform`` — then ``tau``, ``n_distributions``, ``all_certified``), read with
        ``pandas.read_csv(path, comment="#")``; then the column names and one line per row
        (``None`` empty, floats with ``repr``, ``inf`` for infinity).

        Parameters
        ----------
        path : str, os.PathLike or text stream
            Destination: a path (written atomically) or an object with a ``write`` method.

        Returns
        -------
        None
        """
        buf = io.StringIO()
        buf.write(
            _csv_comment_lines(
                'latentclass degradation search; read with pandas.read_csv(path, comment="#")',
                self._metadata(),
            )
        )
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(DEGRADATION_COLUMNS)
        for r in self.rows():
            w.writerow([_csv_cell(r[c]) for c in DEGRADATION_COLUMNS])
        _write_text(path, buf.getvalue())

    def to_json(self, path: Any) -> None:
        """Write the search as one strict-JSON object to a path (atomic write) or text stream.

        Keys: ``"format"`` (``"latentclass-degradation-search"``), ``"versions"``,
        ``"tau"``, ``"ks"``, ``"n_distributions"``, ``"all_certified"``, ``"max_rise"``,
        ``"worst"`` (weighting -> the names of its worst cases, worst first), ``"columns"``
        and ``"rows"`` (:meth:`rows`).  Infinity is the string ``"inf"``, ``None`` is
        ``null``.

        Parameters
        ----------
        path : str, os.PathLike or text stream
            Destination: a path (written atomically) or an object with a ``write`` method.

        Returns
        -------
        None
        """
        obj = {
            "format": DEGRADATION_JSON_FORMAT,
            "versions": dict(self.versions),
            "tau": self.tau,
            "ks": [_encode(k) for k in self.ks],
            "n_distributions": self.n_distributions,
            "all_certified": self.all_certified,
            "max_rise": {w: float(v) for w, v in self.max_rise.items()},
            "worst": {w: [c.name for c in cases] for w, cases in self.worst.items()},
            "columns": list(DEGRADATION_COLUMNS),
            "rows": [{c: _encode(r[c]) for c in DEGRADATION_COLUMNS} for r in self.rows()],
        }
        _write_text(path, json.dumps(obj, indent=1, allow_nan=False) + "\n")

    def to_pandas(self) -> Any:
        """:meth:`rows` as a :class:`pandas.DataFrame` (needs pandas).

        Columns :data:`DEGRADATION_COLUMNS`, nullable dtypes: ``k``, ``rise_from`` and
        ``rise_to`` are ``Float64`` (``inf`` for ``k = ∞``), the other numbers ``Float64``,
        ``certified`` ``boolean``, names ``string``; ``None`` is ``pd.NA``, never NaN.
        ``DataFrame.attrs`` holds the provenance of :meth:`to_csv`.

        Returns
        -------
        pandas.DataFrame
        """
        from .._tables import rows_to_frame

        return rows_to_frame(
            self.rows(),
            DEGRADATION_COLUMNS,
            float_columns=("k", "rise_from", "rise_to"),
            attrs=self._metadata(),
        )

    def summary(self) -> str:
        """A plain-text table of the worst cases.

        Returns
        -------
        str
            The header line (distributions, ``k``, ``τ``, certification) and the worst cases.
        """
        lines = [
            f"search_degradation: {self.n_distributions} distributions x {len(self.ks)} k, tau={self.tau:g}, "
            f"all points certified: {self.all_certified}"
        ]
        for w, cases in self.worst.items():
            lines.append(f"[{w}] largest rise {self.max_rise[w]:.6g}")
            for c in cases:
                res = "" if c.resolution is None else f"  resolution {c.resolution:.1e}"
                lines.append(
                    f"  {c.name:<40s} rise {c.rise:+.3e}  k {c.rise_from} -> {c.rise_to}  "
                    f"loss {c.losses[0]:.6f} ... {c.losses[-1]:.6f}  "
                    f"certified {int(c.certified.sum())}/{c.certified.size}{res}"
                )
        return "\n".join(lines)

    def __repr__(self) -> str:
        rises = ", ".join(f"{w}: {r:.3g}" for w, r in self.max_rise.items())
        return (
            f"DegradationSearchResult({self.n_distributions} distributions, {len(self.ks)} k, "
            f"max rise {{{rises}}}, all_certified={self.all_certified})"
        )

    def _repr_html_(self) -> str:
        """A table for Jupyter: one row per (case, ``k``) (the columns of :meth:`rows`)."""
        from .._html import rows_html

        return rows_html(
            f"DegradationSearchResult: {self.n_distributions} distributions x {len(self.ks)} k",
            DEGRADATION_COLUMNS,
            self.rows(),
            note=f"tau={self.tau:g}, all certified: {self.all_certified}, max rise {self.max_rise}",
        )


# ------------------------------------------------------------------- the search

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
