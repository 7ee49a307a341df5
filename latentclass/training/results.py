"""What :func:`~.loop.train` returns: the recorded history and the trained representation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .encoders import LinearEncoder, MLPEncoder


def _arr_repr(a: Any) -> str:
    return f"array{tuple(a.shape)}" if isinstance(a, np.ndarray) else repr(a)


@dataclass(frozen=True, eq=False, repr=False)
class TrainingHistory:
    """What was recorded at each evaluation step.

    Attributes
    ----------
    step : ndarray of int, shape (E,)
        Number of optimisation steps done when the row was recorded.
    batch_loss : ndarray, shape (E,)
        Mean sampled loss of the batches seen since the previous evaluation.
    train_seconds : ndarray, shape (E,)
        Cumulative time spent in training steps (sampling, gradient, update), excluding
        evaluation.
    population_loss, gap : ndarray, shape (E,), or None
        Finite models: exact population loss ``L_k(F)`` (SPEC §3) of the current table, and
        ``L_k(F) − L_k*`` for the certified optimum.  ``None`` when not available (Gaussian
        models; ``gap`` also when ``optimum=None``).
    """

    step: np.ndarray
    batch_loss: np.ndarray
    train_seconds: np.ndarray
    population_loss: np.ndarray | None = None
    gap: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.step.shape[0])

    def as_dict(self) -> dict[str, list]:
        out = {
            "step": self.step.tolist(),
            "batch_loss": self.batch_loss.tolist(),
            "train_seconds": self.train_seconds.tolist(),
        }
        if self.population_loss is not None:
            out["population_loss"] = self.population_loss.tolist()
        if self.gap is not None:
            out["gap"] = self.gap.tolist()
        return out

    def __repr__(self) -> str:
        extra = "".join(
            f", {n}" for n in ("population_loss", "gap") if getattr(self, n) is not None
        )
        return f"TrainingHistory(evals={len(self)}, step, batch_loss, train_seconds{extra})"


@dataclass(frozen=True, eq=False, repr=False)
class TrainingResult:
    """Outcome of :func:`train`.

    Attributes
    ----------
    k, tau : int, float
    F : ndarray (n, d) or None
        Trained embedding table (finite models), rows in the unit ball.
    encoder : LinearEncoder, MLPEncoder or None
        Trained encoder (Gaussian models), a callable ``(N, p) → (N, d)`` usable by ``nce_loss``.
    history : TrainingHistory
    population_loss : float or None
        Exact ``L_k(F)`` of the final table (finite models).
    optimum_loss : float or None
        ``L_k*`` of the certified optimum the gap is measured against.
    optimum_certified : bool or None
        Whether that optimum carries a certificate.
    gap : float or None
        ``population_loss − optimum_loss``.
    steps, batch_size : int
    optimizer, schedule : str
    lr : float
    train_seconds, eval_seconds, seconds_per_step : float
        Time in training steps, in evaluations, and ``train_seconds / steps``.
    """

    k: int
    tau: float
    F: np.ndarray | None
    encoder: Any
    history: TrainingHistory
    population_loss: float | None
    optimum_loss: float | None
    optimum_certified: bool | None
    gap: float | None
    steps: int
    batch_size: int
    optimizer: str
    schedule: str
    lr: float
    train_seconds: float
    eval_seconds: float
    seconds_per_step: float

    @property
    def representation(self) -> np.ndarray | LinearEncoder | MLPEncoder:
        """``F`` for finite models, ``encoder`` for Gaussian ones."""
        return self.F if self.F is not None else self.encoder

    def __repr__(self) -> str:
        rep = f"F={_arr_repr(self.F)}" if self.F is not None else f"encoder={self.encoder!r}"
        gap = "" if self.gap is None else f", gap={self.gap:.3g}"
        return (
            f"TrainingResult(k={self.k}, tau={self.tau:g}, {rep}, steps={self.steps}{gap}, "
            f"train_seconds={self.train_seconds:.3g})"
        )

    def _repr_html_(self) -> str:
        """A table for Jupyter: losses, gap, optimiser settings, times (arrays by their shape)."""
        from .._html import fields_html

        return fields_html(self)
