"""Mean-classifier downstream metrics of a representation (SPEC §6).

For a finite model and a representation ``F`` (row ``x`` is ``f(x)``):

- class means ``μ_c = Σ_x D_c(x) f(x)``; logits ``s_j(x) = f(x)·μ_j / τ``;
- supervised loss ``Σ_c w_c Σ_x D_c(x) [-log softmax_c(s(x))]`` and accuracy
  ``Σ_c w_c Σ_x D_c(x) 1[c is the strict argmax of s(x)]``, with ``w = ρ``
  (``weighting="class_probs"``) or ``w_c = 1/m`` (``weighting="balanced"``).

**Ties.** Class ``c`` is counted correct at ``x`` only if
``s_c(x) - max_{j≠c} s_j(x) > 1e-12 · max_j |s_j(x)|`` (``TIE_RTOL``); anything closer is a
tie and counts as an error.  In particular two classes with identical mean vectors tie
at every point, and an all-zero representation has accuracy 0.

**t-way tasks** (Saunshi et al. 2019).  A task ``T`` is a set of ``t`` distinct classes,
drawn with probability ``∝ Π_{c∈T} ρ_c`` (``t`` iid draws from ``ρ`` conditioned on being
distinct: every ordering of a set has the same probability, so the law over sets is
``∝ t! Π ρ_c``).  Within a task the label law is ``ρ`` restricted to ``T`` and
renormalised (``"balanced"``: uniform over ``T``), and the classifier competes among the
classes of ``T`` only.  The reported metric is the task average.  It is exact, by
enumerating all ``C(m, t)`` tasks in vectorised chunks, when ``C(m, t) <= max_enumerate``
(default ``10^5``); otherwise ``n_tasks`` tasks are drawn exactly from the task law (a
sequential conditional-Poisson sampler built on elementary symmetric polynomials) and the
mean is reported with its standard error.  ``t = m`` is the full task.

**Task laws** (``task_law=``): ``"class_probs"`` (the law above, Saunshi et al.) or
``"uniform"`` (every ``t``-subset equally likely); :func:`task_size_profile` reports every
``t = 2 … m`` at once (SPEC §9.1).

**The binary-task identity** (SPEC §9.2, ``proofs/binary_tasks.md``).  At class level, with
the ``ρ``-conditioned task law, the average 2-way loss is
``(L_1(G) − log 2 · Σρ_c²) / (1 − Σρ_c²)``: for every ``G`` under ``weighting="balanced"``,
for unit-diagonal ``G`` under ``weighting="class_probs"``.  :func:`binary_task_identity`
evaluates both sides; :func:`binary_task_ordering` compares certified optima across ``k``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import (
    as_generator,
    check_choice,
    check_integer,
    check_representation,
    check_tau,
    readonly,
)
from .model import LatentClassModel, check_model

__all__ = [
    "BinaryTaskIdentity",
    "BinaryTaskOrdering",
    "DownstreamResult",
    "TaskProfile",
    "binary_task_identity",
    "binary_task_ordering",
    "mean_classifier_accuracy",
    "mean_classifier_loss",
    "mean_classifier_metrics",
    "task_size_profile",
]

#: Relative tolerance below which a logit margin counts as a tie (an error).
TIE_RTOL = 1e-12
#: Default largest number of t-way tasks enumerated exactly.
MAX_ENUMERATE = 100_000
#: Default number of tasks drawn when the task average is sampled.
N_TASKS = 20_000
#: Elements per temporary (tasks × points × t) block.
_BLOCK = 1 << 21
#: Ways of weighting the classes in the downstream average (``ρ`` or uniform).
WEIGHTINGS = ("class_probs", "balanced")
#: Laws of the task (the set of ``t`` classes): ``∝ Π_{c∈T} ρ_c`` or uniform over subsets.
TASK_LAWS = ("class_probs", "uniform")


@dataclass(frozen=True, eq=False, repr=False)
class DownstreamResult:
    """Mean-classifier loss and accuracy (SPEC §6), exact or sampled over t-way tasks.

    Attributes
    ----------
    loss, accuracy : float
        Task-averaged supervised loss (natural log) and accuracy.
    loss_stderr, accuracy_stderr : float
        Standard errors of the sampled task average; ``0.0`` when ``exact``.
    exact : bool
        ``True`` when every task was enumerated (always for the full task).
    n_tasks : int
        Number of tasks enumerated (exact) or drawn (sampled).
    task_size : int
        ``t`` (``m`` for the full task).
    weighting : str
        ``"class_probs"`` or ``"balanced"``.
    """

    loss: float
    accuracy: float
    loss_stderr: float
    accuracy_stderr: float
    exact: bool
    n_tasks: int
    task_size: int
    weighting: str

    def __repr__(self) -> str:
        kind = (
            "exact"
            if self.exact
            else f"sampled ± ({self.loss_stderr:.2g}, {self.accuracy_stderr:.2g})"
        )
        return (
            f"DownstreamResult(loss={self.loss:.10g}, accuracy={self.accuracy:.10g}, {kind}, "
            f"n_tasks={self.n_tasks}, task_size={self.task_size}, weighting={self.weighting!r})"
        )

    def _repr_html_(self) -> str:
        """A table for Jupyter: loss and accuracy (with standard errors when sampled)."""
        from ._tables import html_table

        return html_table(
            "DownstreamResult",
            [
                ("loss", self.loss),
                ("accuracy", self.accuracy),
                ("loss_stderr", self.loss_stderr),
                ("accuracy_stderr", self.accuracy_stderr),
                ("exact", self.exact),
                ("n_tasks", self.n_tasks),
                ("task_size", self.task_size),
                ("weighting", self.weighting),
            ],
        )


# --------------------------------------------------------------------------- core
def _task_metrics(
    tasks: np.ndarray,
    scores: np.ndarray,
    cond: np.ndarray,
    rho: np.ndarray,
    balanced: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Loss and accuracy of each task in ``tasks`` (B, t), vectorised over tasks and points.

    ``scores`` (n, m) logits, ``cond`` (m, n) class conditionals.  Points are processed in
    blocks so that temporaries hold at most ~``_BLOCK`` elements.
    """
    B, t = tasks.shape
    n = scores.shape[0]
    if balanced:
        w = np.full((B, t), 1.0 / t)
    else:
        w = rho[tasks]
        w = w / w.sum(axis=1, keepdims=True)
    loss = np.zeros(B)
    good = np.zeros(B)
    bad = np.zeros(B)
    step = max(1, _BLOCK // (B * t))
    positions = np.arange(t)
    for start in range(0, n, step):  # blocks of points
        blk = slice(start, min(n, start + step))
        sub = np.moveaxis(scores[blk][:, tasks], 0, 1)  # (B, p, t) logits of the task's classes
        pos = sub.argmax(axis=2)  # (B, p) first maximiser
        top = np.take_along_axis(sub, pos[..., None], axis=2)[..., 0]
        gaps = sub - top[..., None]  # <= 0
        is_top = positions[None, None, :] == pos[..., None]
        rest = np.where(is_top, 0.0, np.exp(gaps)).sum(axis=2)  # Σ_{j ≠ argmax} e^{s_j - top}
        # -log softmax_i = (top - s_i) + log1p(rest): non-negative, accurate when tiny
        nll = np.log1p(rest)[:, None, :] - np.moveaxis(gaps, 2, 1)  # (B, t, p)
        mass = cond[:, blk][tasks] * w[..., None]  # (B, t, p) label weight × D_c(x)
        loss += np.einsum("bip,bip->b", mass, nll)
        # accuracy: the label must be the strict winner by a relative margin; correct and
        # wrong mass are summed separately and a task's accuracy is good / (good + bad), so
        # a task classified perfectly (never) gives exactly 1 (0) despite rounding
        second = np.where(is_top, -np.inf, sub).max(axis=2)
        scale = np.abs(sub).max(axis=2)
        ok = (top - second) > TIE_RTOL * scale  # (B, p)
        right = ok[:, None, :] & is_top.transpose(0, 2, 1)  # (B, t, p)
        good += np.where(right, mass, 0.0).sum(axis=(1, 2))
        bad += np.where(right, 0.0, mass).sum(axis=(1, 2))
    return loss, good / (good + bad)


def _task_metrics_sparse(
    tasks: np.ndarray,
    scores: np.ndarray,
    sup_idx: np.ndarray,
    sup_mass: np.ndarray,
    rho: np.ndarray,
    balanced: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Same as :func:`_task_metrics`, visiting only the support of each label's class.

    ``sup_idx`` / ``sup_mass`` (m, s): the points of ``supp D_c`` and their ``D_c(x)``,
    zero-padded.  Cost ``O(B t² s)`` instead of ``O(B t n)``: the cheaper path when
    ``t · s < n`` (e.g. disjoint supports, or the class-level model with ``s = 1``).
    """
    B, t = tasks.shape
    if balanced:
        w = np.full((B, t), 1.0 / t)
    else:
        w = rho[tasks]
        w = w / w.sum(axis=1, keepdims=True)
    X = sup_idx[tasks]  # (B, t, s) points of label i's class
    mass = sup_mass[tasks] * w[..., None]  # (B, t, s)
    sub = scores[X[..., None], tasks[:, None, None, :]]  # (B, t, s, t) logits of the task
    pos = sub.argmax(axis=3)  # first maximiser
    top = np.take_along_axis(sub, pos[..., None], axis=3)[..., 0]
    gaps = sub - top[..., None]
    positions = np.arange(t)
    is_top = positions[None, None, None, :] == pos[..., None]
    rest = np.where(is_top, 0.0, np.exp(gaps)).sum(axis=3)
    own_gap = np.diagonal(gaps, axis1=1, axis2=3).transpose(0, 2, 1)  # (B, t, s): s_i - top
    nll = np.log1p(rest) - own_gap
    loss = np.einsum("bis,bis->b", mass, nll)
    second = np.where(is_top, -np.inf, sub).max(axis=3)
    scale = np.abs(sub).max(axis=3)
    ok = (top - second) > TIE_RTOL * scale
    right = ok & (pos == positions[None, :, None])
    good = np.where(right, mass, 0.0).sum(axis=(1, 2))
    bad = np.where(right, 0.0, mass).sum(axis=(1, 2))
    return loss, good / (good + bad)


def _chunks(it: Iterator[tuple[int, ...]], size: int) -> Iterator[np.ndarray]:
    while True:
        block = list(itertools.islice(it, size))
        if not block:
            return
        yield np.array(block, dtype=np.intp)


def _log_esp_table(log_rho: np.ndarray, t: int) -> np.ndarray:
    """``E[i, j] = log e_j(ρ_i, …, ρ_{m-1})`` for ``j <= t`` (``-inf`` where empty)."""
    m = log_rho.size
    E = np.full((m + 1, t + 1), -np.inf)
    E[:, 0] = 0.0
    for i in range(m - 1, -1, -1):  # loop over classes
        E[i, 1:] = np.logaddexp(E[i + 1, 1:], log_rho[i] + E[i + 1, :-1])
    return E


def _sample_tasks(rho: np.ndarray, t: int, size: int, gen: np.random.Generator) -> np.ndarray:
    """``size`` sets of ``t`` classes, each with probability ``∝ Π_{c∈T} ρ_c`` (exact).

    Sequential conditional-Poisson sampling: class ``i`` joins a task that still needs
    ``r`` classes with probability ``ρ_i e_{r-1}(ρ_{i+1..}) / e_r(ρ_{i..})``.
    """
    m = rho.size
    log_rho = np.log(rho)
    E = _log_esp_table(log_rho, t)
    need = np.full(size, t)
    out = np.empty((size, t), dtype=np.intp)
    filled = np.zeros(size, dtype=np.intp)
    for i in range(m):  # loop over classes, vectorised over tasks
        active = need > 0
        r = need[active]
        p = np.exp(log_rho[i] + E[i + 1, r - 1] - E[i, r])
        p[r >= m - i] = 1.0  # every remaining class is needed (exactly 1 up to rounding)
        take = gen.random(r.size) < p
        rows = np.flatnonzero(active)[take]
        out[rows, filled[rows]] = i
        filled[rows] += 1
        need[rows] -= 1
    if np.any(need):  # pragma: no cover - impossible: p = 1 once the rest is needed
        raise RuntimeError("task sampler failed to fill every task")
    return out


def mean_classifier_metrics(
    model: LatentClassModel,
    F: Any,
    tau: float = 1.0,
    task_size: int | None = None,
    weighting: str = "class_probs",
    *,
    rng: Any = None,
    n_tasks: int = N_TASKS,
    max_enumerate: int = MAX_ENUMERATE,
    task_law: str = "class_probs",
) -> DownstreamResult:
    """Mean-classifier loss and accuracy of ``F`` on ``model`` (SPEC §6), with provenance.

    Parameters
    ----------
    model : LatentClassModel
    F : array_like, shape (n_points, d)
        Representation, rows of norm ``<= 1``.
    tau : float
        Temperature: logits are ``f(x)·μ_j / τ``.
    task_size : int or None
        ``None`` for the full ``m``-way task, else ``2 <= t <= m`` (t-way task average).
    weighting : {"class_probs", "balanced"}
        Label law within a task: ``ρ`` restricted and renormalised, or uniform.
    rng : seed or numpy.random.Generator
        Used only when tasks are sampled (``C(m, t) > max_enumerate``).
    n_tasks : int
        Tasks drawn when sampling.
    max_enumerate : int
        Largest ``C(m, t)`` evaluated exactly.
    task_law : {"class_probs", "uniform"}
        Law of the task: ``P(T) ∝ Π_{c∈T} ρ_c`` (Saunshi et al.) or uniform over the
        ``C(m, t)`` subsets (SPEC §9.1).  Irrelevant for the full task.

    Returns
    -------
    DownstreamResult
    """
    check_choice(task_law, "task_law", TASK_LAWS)
    check_model(model)
    f = check_representation(F, model.n_points)
    tau = check_tau(tau)
    check_choice(weighting, "weighting", WEIGHTINGS)
    m = model.n_classes
    if task_size is None:
        t = m
    else:
        t = check_integer(task_size, "task_size", minimum=2)
        if t > m:
            raise ValueError(
                f"task_size must be an integer with 2 <= task_size <= m = {m}, got {t}"
            )
    n_tasks = check_integer(n_tasks, "n_tasks", minimum=2)
    max_enumerate = check_integer(max_enumerate, "max_enumerate", minimum=1)
    balanced = weighting == "balanced"

    rho = np.asarray(model.class_probs, dtype=float)
    cond = np.asarray(model.class_conditionals, dtype=float)
    means = cond @ f  # (m, d)
    scores = (f @ means.T) / tau  # (n, m)
    n = model.n_points
    support = cond > 0
    s_max = int(support.sum(axis=1).max())
    if t * s_max < n:  # visit each label's own support only
        order = np.argsort(~support, axis=1, kind="stable")[:, :s_max]  # support points first
        sup_idx = order
        sup_mass = np.take_along_axis(cond, order, axis=1)  # zero on padding
        chunk = max(1, _BLOCK // (t * t * s_max))

        def metrics(tasks):
            return _task_metrics_sparse(tasks, scores, sup_idx, sup_mass, rho, balanced)
    else:
        chunk = max(1, _BLOCK // max(1, n * t))
        metrics = lambda tasks: _task_metrics(tasks, scores, cond, rho, balanced)  # noqa: E731

    total = math.comb(m, t)
    if total <= max_enumerate:
        # exact: online weighted average with log-weights Σ_{c∈T} log ρ_c
        log_rho = np.log(rho) if task_law == "class_probs" else np.zeros(m)
        shift = -math.inf
        sw = sl = sa = sb = 0.0
        for tasks in _chunks(itertools.combinations(range(m), t), chunk):
            lw = log_rho[tasks].sum(axis=1)
            new_shift = max(shift, float(lw.max()))
            rescale = math.exp(shift - new_shift) if shift > -math.inf else 0.0
            sw, sl, sa, sb = sw * rescale, sl * rescale, sa * rescale, sb * rescale
            shift = new_shift
            wt = np.exp(lw - shift)
            loss, acc = metrics(tasks)
            sw += float(wt.sum())
            sl += float(wt @ loss)
            sa += float(wt @ acc)
            sb += float(wt @ (1.0 - acc))
        # accuracy as right / (right + wrong): exactly 1 (0) when every task is 1 (0)
        return DownstreamResult(sl / sw, sa / (sa + sb), 0.0, 0.0, True, total, t, weighting)

    gen = as_generator(rng)
    law = rho if task_law == "class_probs" else np.full(m, 1.0 / m)
    tasks_all = _sample_tasks(law, t, n_tasks, gen)
    losses = np.empty(n_tasks)
    accs = np.empty(n_tasks)
    for start in range(0, n_tasks, chunk):
        sl_ = slice(start, min(n_tasks, start + chunk))
        losses[sl_], accs[sl_] = metrics(tasks_all[sl_])
    se = lambda v: float(np.std(v, ddof=1) / math.sqrt(v.size))  # noqa: E731
    return DownstreamResult(
        float(losses.mean()), float(accs.mean()), se(losses), se(accs), False, n_tasks, t, weighting
    )


def mean_classifier_loss(
    model: LatentClassModel,
    F: Any,
    tau: float = 1.0,
    task_size: int | None = None,
    weighting: str = "class_probs",
    *,
    rng: Any = None,
    n_tasks: int = N_TASKS,
    max_enumerate: int = MAX_ENUMERATE,
    task_law: str = "class_probs",
) -> float:
    """Mean-classifier supervised loss (SPEC §6); see :func:`mean_classifier_metrics`.

    ``Σ_c w_c Σ_x D_c(x) [log Σ_{j} e^{s_j(x)} - s_c(x)]`` with ``s_j(x) = f(x)·μ_j/τ``,
    averaged over t-way tasks when ``task_size`` is given (sampled, with ``rng``, when
    ``C(m, t) > max_enumerate``; use :func:`mean_classifier_metrics` for the standard error).

    Parameters
    ----------
    model : LatentClassModel
        The data model (SPEC §1).
    F : array_like, shape (n_points, d)
        Representation, one row per point, rows of norm ``<= 1``.
    tau : float, default 1.0
        Temperature: logits are ``f(x)·μ_j / τ``.
    task_size : int or None, default None
        ``None`` for the full ``m``-way task, else ``2 <= t <= m`` (t-way task average, SPEC §9.1).
    weighting : {"class_probs", "balanced"}, default "class_probs"
        Label law within a task: ``ρ`` restricted and renormalised, or uniform.
    rng : seed or numpy.random.Generator, optional
        Used only when tasks are sampled (``C(m, t) > max_enumerate``).
    n_tasks : int, optional
        Tasks drawn when sampling.
    max_enumerate : int, optional
        Largest ``C(m, t)`` evaluated exactly.
    task_law : {"class_probs", "uniform"}, default "class_probs"
        Law of the task: ``P(T) ∝ Π_{c∈T} ρ_c`` or uniform over the ``C(m, t)`` subsets
        (SPEC §9.1).  Irrelevant for the full task.

    Returns
    -------
    float
        The supervised loss above (natural log); the ``loss`` of :func:`mean_classifier_metrics`.
    """
    return mean_classifier_metrics(
        model,
        F,
        tau,
        task_size,
        weighting,
        rng=rng,
        n_tasks=n_tasks,
        max_enumerate=max_enumerate,
        task_law=task_law,
    ).loss


def mean_classifier_accuracy(
    model: LatentClassModel,
    F: Any,
    task_size: int | None = None,
    weighting: str = "class_probs",
    *,
    rng: Any = None,
    n_tasks: int = N_TASKS,
    max_enumerate: int = MAX_ENUMERATE,
    task_law: str = "class_probs",
) -> float:
    """Mean-classifier accuracy (SPEC §6), ties counted as errors; independent of ``τ``.

    ``Σ_c w_c Σ_x D_c(x) 1[s_c(x) - max_{j≠c} s_j(x) > 1e-12 max_j |s_j(x)|]``; see
    :func:`mean_classifier_metrics`.

    Parameters
    ----------
    model : LatentClassModel
        The data model (SPEC §1).
    F : array_like, shape (n_points, d)
        Representation, one row per point, rows of norm ``<= 1``.
    task_size : int or None, default None
        ``None`` for the full ``m``-way task, else ``2 <= t <= m`` (t-way task average, SPEC §9.1).
    weighting : {"class_probs", "balanced"}, default "class_probs"
        Label law within a task: ``ρ`` restricted and renormalised, or uniform.
    rng : seed or numpy.random.Generator, optional
        Used only when tasks are sampled (``C(m, t) > max_enumerate``).
    n_tasks : int, optional
        Tasks drawn when sampling.
    max_enumerate : int, optional
        Largest ``C(m, t)`` evaluated exactly.
    task_law : {"class_probs", "uniform"}, default "class_probs"
        Law of the task: ``P(T) ∝ Π_{c∈T} ρ_c`` or uniform over the ``C(m, t)`` subsets
        (SPEC §9.1).  Irrelevant for the full task.

    Returns
    -------
    float
        The accuracy in ``[0, 1]``; the ``accuracy`` of :func:`mean_classifier_metrics`.
    """
    return mean_classifier_metrics(
        model,
        F,
        1.0,
        task_size,
        weighting,
        rng=rng,
        n_tasks=n_tasks,
        max_enumerate=max_enumerate,
        task_law=task_law,
    ).accuracy


# --------------------------------------------------------------------------- task sizes
@dataclass(frozen=True, eq=False, repr=False)
class TaskProfile:
    """Downstream metrics for every task size ``t`` (SPEC §9.1).

    Attributes
    ----------
    task_sizes : tuple of int
        The ``t`` evaluated (default ``2 … m``).
    results : tuple of DownstreamResult
        One per task size, exact or sampled (with standard errors).
    weighting, task_law : str
        Label law within a task and law of the task.
    """

    task_sizes: tuple[int, ...]
    results: tuple[DownstreamResult, ...]
    weighting: str
    task_law: str

    @property
    def losses(self) -> np.ndarray:
        """Task-averaged loss per task size."""
        return np.array([r.loss for r in self.results])

    @property
    def accuracies(self) -> np.ndarray:
        """Task-averaged accuracy per task size."""
        return np.array([r.accuracy for r in self.results])

    @property
    def rows(self) -> list[dict[str, Any]]:
        """One record per task size (``t``, ``loss``, ``loss_stderr``, ``accuracy``, …)."""
        return [
            dict(
                t=t,
                loss=r.loss,
                loss_stderr=r.loss_stderr,
                accuracy=r.accuracy,
                accuracy_stderr=r.accuracy_stderr,
                exact=r.exact,
                n_tasks=r.n_tasks,
            )
            for t, r in zip(self.task_sizes, self.results)
        ]

    def __repr__(self) -> str:
        body = ", ".join(f"t={t}: {r.loss:.6g}" for t, r in zip(self.task_sizes, self.results))
        return f"TaskProfile({body}; weighting={self.weighting!r}, task_law={self.task_law!r})"

    def _repr_html_(self) -> str:
        """A table for Jupyter: one row per task size (loss, accuracy, standard errors)."""
        from ._html import rows_html

        rows = self.rows
        cols = list(rows[0]) if rows else ["t"]
        return rows_html(
            f"TaskProfile: {len(rows)} task sizes",
            cols,
            rows,
            note=f"weighting={self.weighting}, task_law={self.task_law}",
        )


def task_size_profile(
    model: LatentClassModel,
    F: Any,
    tau: float = 1.0,
    task_sizes: Any = None,
    weighting: str = "class_probs",
    *,
    task_law: str = "class_probs",
    rng: Any = 0,
    n_tasks: int = N_TASKS,
    max_enumerate: int = MAX_ENUMERATE,
) -> TaskProfile:
    """Mean-classifier loss and accuracy on ``t``-way tasks for every ``t`` (SPEC §6.2, §9.1).

    For each ``t`` the metric is ``Σ_T P(T) ℓ_T(F)`` with ``P(T) ∝ Π_{c∈T} ρ_c``
    (``task_law="class_probs"``) or ``P(T) = 1/C(m, t)`` (``"uniform"``), and ``ℓ_T`` the
    mean-classifier loss restricted to the classes of ``T`` (SPEC §6.1); exact by enumeration
    when ``C(m, t) <= max_enumerate``, otherwise sampled with a standard error.

    Parameters
    ----------
    model : LatentClassModel
    F : array_like, shape (n_points, d)
    tau : float
        Temperature of the logits.
    task_sizes : iterable of int, optional
        Default ``2, …, m``.
    weighting : {"class_probs", "balanced"}
        Label law within a task.
    task_law : {"class_probs", "uniform"}
        Law of the task.
    rng : seed or numpy.random.Generator
        Used for sampled task sizes (one generator for the whole profile).
    n_tasks, max_enumerate : int
        As in :func:`mean_classifier_metrics`.

    Returns
    -------
    TaskProfile
    """
    check_model(model)
    m = model.n_classes
    if m < 2:
        raise ValueError("model must have at least 2 classes for t-way tasks")
    if task_sizes is None:
        sizes = tuple(range(2, m + 1))
    else:
        try:
            raw = list(task_sizes)
        except TypeError:
            raise TypeError("task_sizes must be an iterable of integers") from None
        if not raw:
            raise ValueError("task_sizes must not be empty")
        sizes = tuple(check_integer(t, "task_sizes", minimum=2) for t in raw)
        if max(sizes) > m:
            raise ValueError(f"task_sizes must lie in 2 … m = {m}, got {max(sizes)}")
    gen = as_generator(rng)
    results = tuple(
        mean_classifier_metrics(
            model,
            F,
            tau,
            t,
            weighting,
            rng=gen,
            n_tasks=n_tasks,
            max_enumerate=max_enumerate,
            task_law=task_law,
        )
        for t in sizes
    )
    return TaskProfile(sizes, results, weighting, task_law)


# --------------------------------------------------------------------------- 2-way tasks
def _class_level(model: Any, name: str = "model") -> LatentClassModel:
    check_model(model, name)
    D = np.asarray(model.class_conditionals)
    if model.n_points != model.n_classes or not np.array_equal(D, np.eye(model.n_classes)):
        raise ValueError(
            f"{name} must be a class-level model (LatentClassModel.one_point_per_class): the "
            "binary-task identity concerns G between class vectors"
        )
    if model.n_classes < 2:
        raise ValueError(f"{name} must have at least 2 classes")
    return model


def _affine_two_way(rho: np.ndarray, l1: float) -> float:
    s2 = float(np.sum(rho * rho))
    return (l1 - math.log(2.0) * s2) / (1.0 - s2)


@dataclass(frozen=True, eq=False, repr=False)
class BinaryTaskIdentity:
    """Both sides of the binary-task identity of SPEC §9.2 at one representation.

    Attributes
    ----------
    two_way_loss : float
        Average 2-way mean-classifier loss (``ρ``-conditioned task law, exact enumeration).
    affine_value : float
        ``(L_1(G) − log 2 · Σρ_c²) / (1 − Σρ_c²)``.
    l1 : float
        The ``k = 1`` population loss ``L_1(G)`` at the same ``τ``.
    difference : float
        ``two_way_loss − affine_value``.
    applies : bool
        Whether the theorem asserts equality here: always for ``weighting="balanced"``;
        for ``"class_probs"`` when ``diag G`` is constant to ``1e-12`` (unit diagonal in
        particular).
    weighting : str
    """

    two_way_loss: float
    affine_value: float
    l1: float
    difference: float
    applies: bool
    weighting: str

    def __repr__(self) -> str:
        return (
            f"BinaryTaskIdentity(two_way_loss={self.two_way_loss:.12g}, "
            f"affine_value={self.affine_value:.12g}, difference={self.difference:.3g}, "
            f"applies={self.applies}, weighting={self.weighting!r})"
        )

    def _repr_html_(self) -> str:
        """A table for Jupyter: the two-way loss, the affine value, their difference."""
        from ._html import fields_html

        return fields_html(self)


def binary_task_identity(
    model: LatentClassModel, F: Any, tau: float = 1.0, weighting: str = "class_probs"
) -> BinaryTaskIdentity:
    """Evaluate both sides of the binary-task identity (SPEC §9.2, ``proofs/binary_tasks.md``).

    For a class-level model with ``ρ``-conditioned tasks and ``S = Σ_c ρ_c²``,

    ``two-way loss(G) = (L_1(G) − S log 2) / (1 − S)``,

    with ``L_1`` the population logistic loss with one negative at the same ``τ``.  It holds
    for every ``G`` with ``weighting="balanced"`` and for unit-diagonal ``G`` with
    ``weighting="class_probs"`` (more generally for ``G`` with constant diagonal).

    Parameters
    ----------
    model : LatentClassModel
        Class-level model.
    F : array_like, shape (m, d)
        Class vectors.
    tau : float
    weighting : {"class_probs", "balanced"}

    Returns
    -------
    BinaryTaskIdentity
    """
    from .population import population_loss

    model = _class_level(model)
    f = check_representation(F, model.n_points)
    tau = check_tau(tau)
    check_choice(weighting, "weighting", WEIGHTINGS)
    rho = np.asarray(model.class_probs, dtype=float)
    two = mean_classifier_metrics(model, f, tau, 2, weighting, max_enumerate=10**9).loss
    l1 = population_loss(model, f, 1, tau)
    aff = _affine_two_way(rho, l1)
    diag = np.einsum("ij,ij->i", f, f)
    applies = weighting == "balanced" or bool(np.ptp(diag) <= 1e-12)
    return BinaryTaskIdentity(two, aff, l1, two - aff, applies, weighting)


@dataclass(frozen=True, eq=False, repr=False)
class BinaryTaskOrdering:
    """2-way downstream loss of the certified optimum across ``k`` (SPEC §9.2).

    Attributes
    ----------
    ks : tuple
        Numbers of negatives (``ks[0]`` is 1).
    two_way_losses : ndarray
        Average 2-way loss of the certified optimum at each ``k``.
    l1_values : ndarray
        ``L_1`` at each optimum (the identity's right-hand side uses it).
    certified : ndarray of bool
        Each optimum certified (duality gap ``<= 1e-7``).
    duality_gaps : ndarray
    unit_diagonal : ndarray of bool
        ``max |diag G − 1| <= 1e-9`` at each optimum.
    lower_bound : float
        Certified lower bound on the 2-way loss of *every* unit-diagonal ``G``:
        ``(L_1(G_1) − gap_1 − S log 2)/(1 − S)``.
    weighting : str
    """

    ks: tuple
    two_way_losses: np.ndarray
    l1_values: np.ndarray
    certified: np.ndarray
    duality_gaps: np.ndarray
    unit_diagonal: np.ndarray
    lower_bound: float
    weighting: str

    @property
    def excess(self) -> np.ndarray:
        """``two_way_losses − two_way_losses[0]`` (``≥ 0`` by the theorem, up to the gaps)."""
        return self.two_way_losses - self.two_way_losses[0]

    @property
    def holds(self) -> bool:
        """Every optimum certified and unit-diagonal, and no 2-way loss below ``lower_bound``."""
        return bool(
            np.all(self.certified)
            and np.all(self.unit_diagonal)
            and np.all(self.two_way_losses >= self.lower_bound - 1e-12)
        )

    def __repr__(self) -> str:
        body = ", ".join(f"k={k}: {v:.9g}" for k, v in zip(self.ks, self.two_way_losses))
        return f"BinaryTaskOrdering({body}; holds={self.holds}, weighting={self.weighting!r})"

    def _repr_html_(self) -> str:
        """A table for Jupyter: ``k`` and the two-way losses, certification, lower bound."""
        from ._html import fields_html

        return fields_html(self)


def binary_task_ordering(
    model: LatentClassModel,
    ks: Any,
    tau: float = 1.0,
    weighting: str = "class_probs",
    *,
    rng: Any = 0,
) -> BinaryTaskOrdering:
    """2-way downstream loss of the certified optimum ``G_k*`` for each ``k`` (SPEC §9.2).

    By the binary-task theorem, ``two-way(G_k*) − two-way(G_1*) =
    (L_1(G_k*) − L_1(G_1*)) / (1 − Σρ_c²) ≥ 0`` whenever ``G_k*`` has unit diagonal, with
    equality only if ``G_k* = G_1*``.  ``k = 1`` is prepended to ``ks`` if missing.

    Parameters
    ----------
    model : LatentClassModel
        Class-level model.
    ks : iterable of int or math.inf
    tau : float
    weighting : {"class_probs", "balanced"}
    rng : seed or numpy.random.Generator
        Passed to the solver.

    Returns
    -------
    BinaryTaskOrdering
    """
    from .optimize import optimal_representation
    from .population import population_loss

    model = _class_level(model)
    tau = check_tau(tau)
    check_choice(weighting, "weighting", WEIGHTINGS)
    try:
        raw = list(ks)
    except TypeError:
        raise TypeError("ks must be an iterable of integers or math.inf") from None
    vals: list[Any] = []
    for k in raw:
        if isinstance(k, float) and math.isinf(k) and k > 0:
            vals.append(math.inf)
        else:
            vals.append(check_integer(k, "ks", minimum=1))
    if 1 not in vals:
        vals.insert(0, 1)
    vals = sorted(set(vals), key=lambda v: (v == math.inf, v))
    gen = as_generator(rng)
    rho = np.asarray(model.class_probs, dtype=float)
    two, l1s, cert, gaps, unit = [], [], [], [], []
    for k in vals:  # one certified solve per k
        opt = optimal_representation(model, k, tau, method="numerical", rng=gen)
        two.append(mean_classifier_metrics(model, opt.F, tau, 2, weighting).loss)
        l1s.append(population_loss(model, opt.F, 1, tau))
        cert.append(bool(opt.certified))
        gaps.append(math.inf if opt.duality_gap is None else float(opt.duality_gap))
        unit.append(bool(np.max(np.abs(np.diag(opt.gram) - 1.0)) <= 1e-9))
    s2 = float(np.sum(rho * rho))
    lower = (l1s[0] - gaps[0] - math.log(2.0) * s2) / (1.0 - s2)
    return BinaryTaskOrdering(
        tuple(vals),
        readonly(np.array(two)),
        readonly(np.array(l1s)),
        readonly(np.array(cert)),
        readonly(np.array(gaps)),
        readonly(np.array(unit)),
        lower,
        weighting,
    )
