"""One row of a sweep over ``k``: its columns, its computation and its JSON / CSV form."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ..bounds import collision_probability, published_bounds
from ..downstream import mean_classifier_metrics
from ..model import LatentClassModel
from ..optimize import optimal_representation
from .task_runner import _SOLVER_SEED

#: Columns of a sweep row, in order.
SWEEP_COLUMNS: tuple[str, ...] = (
    "k",
    "loss",
    "loss_limit",
    "duality_gap",
    "certified",
    "method",
    "n_iter",
    "mean_classifier_loss",
    "mean_classifier_accuracy",
    "balanced_mean_classifier_loss",
    "balanced_mean_classifier_accuracy",
    "collision_probability",
    "coverage_probability",
    "expected_log_collisions",
    "bound_saunshi",
    "bound_ash",
    "bound_nozawa_sato",
    "bound_bao",
    "bound_bao_lower",
    "seconds",
)
_STRING_COLUMNS = frozenset({"method"})


def _sweep_row(
    model: LatentClassModel, k: int | float, tau: float, dim: int | None, loss: Any = None
) -> dict:
    """One row of :func:`sweep_negatives` (module level so that it pickles to workers).

    A deterministic function of ``(model, k, tau, dim)``: the optimiser gets the fixed seed
    ``_SOLVER_SEED`` (and the task runner pins one BLAS thread), so every executor returns
    the bits of the serial run.  ``loss`` is ``L_k`` for finite ``k`` (``None`` at
    ``k = inf``); ``loss_limit`` is ``L_∞`` at ``k = inf`` (``None`` for finite ``k``).
    """
    t0 = time.perf_counter()
    opt = optimal_representation(model, k, tau=tau, dim=dim, rng=_SOLVER_SEED, loss=loss)
    weighted = mean_classifier_metrics(model, opt.F, tau, weighting="class_probs")
    balanced = mean_classifier_metrics(model, opt.F, tau, weighting="balanced")
    rho = np.asarray(model.class_probs, dtype=float)
    row: dict[str, Any] = {
        "k": k if k == math.inf else int(k),
        "loss": None if k == math.inf else float(opt.loss),
        "loss_limit": float(opt.loss) if k == math.inf else None,
        "duality_gap": None if opt.duality_gap is None else float(opt.duality_gap),
        "certified": bool(opt.certified),
        "method": str(opt.method),
        "n_iter": int(opt.n_iter),
        "mean_classifier_loss": float(weighted.loss),
        "mean_classifier_accuracy": float(weighted.accuracy),
        "balanced_mean_classifier_loss": float(balanced.loss),
        "balanced_mean_classifier_accuracy": float(balanced.accuracy),
    }
    if k == math.inf:
        # the bounds are stated for finite k; the limit objective has no R to plug in
        row.update(
            collision_probability=float(collision_probability(rho, k)),
            coverage_probability=1.0,
            expected_log_collisions=None,
            bound_saunshi=None,
            bound_ash=None,
            bound_nozawa_sato=None,
            bound_bao=None,
            bound_bao_lower=None,
        )
    else:
        b = published_bounds(rho, k, float(opt.loss), tau)
        row.update(
            collision_probability=float(b.collision),
            coverage_probability=float(b.coverage),
            expected_log_collisions=float(b.coll_k),
            bound_saunshi=None if b.saunshi is None else float(b.saunshi),
            bound_ash=None if b.ash is None else float(b.ash),
            bound_nozawa_sato=float(b.nozawa_sato),
            bound_bao=float(b.bao),
            bound_bao_lower=float(b.bao_lower),
        )
    row["seconds"] = time.perf_counter() - t0
    return {c: row[c] for c in SWEEP_COLUMNS}


def _encode(value: Any) -> Any:
    """Strict-JSON form of a row value: non-finite floats become ``"inf"``/``"-inf"``."""
    if isinstance(value, float) and not math.isfinite(value):
        if math.isnan(value):  # pragma: no cover - rows never hold NaN
            raise ValueError("a sweep row holds NaN")
        return "inf" if value > 0 else "-inf"
    return value


def _decode(column: str, value: Any) -> Any:
    if column not in _STRING_COLUMNS and value in ("inf", "-inf"):
        return float(value)
    return value


def _encode_row(row: dict) -> dict:
    return {c: _encode(row[c]) for c in SWEEP_COLUMNS}


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest repr: round-trips exactly; inf -> "inf"
    return str(value)
