"""Optimisers (numpy, in place) and learning-rate schedules for :func:`~.loop.train`."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from .._validation import check_positive


class SGD:
    """Stochastic gradient descent with optional heavy-ball momentum (numpy, in place).

    ``v ← μ v + g``, ``θ ← θ − lr · v`` (plain SGD when ``momentum = 0``).
    """

    def __init__(self, lr: float, momentum: float = 0.0) -> None:
        self.lr = check_positive(lr, "lr")
        if isinstance(momentum, (bool, np.bool_)) or not isinstance(momentum, numbers.Real):
            raise TypeError("momentum must be a real number in [0, 1)")
        if not 0.0 <= float(momentum) < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum: float = float(momentum)
        self._v: list[np.ndarray] | None = None

    def update(
        self, params: list[np.ndarray], grads: Sequence[np.ndarray], scale: float = 1.0
    ) -> None:
        """One step on ``params`` (modified in place); ``scale`` multiplies the learning rate."""
        lr = self.lr * scale
        if self.momentum == 0.0:
            for p, g in zip(params, grads):
                p -= lr * g
            return
        if self._v is None:
            self._v = [np.zeros_like(p) for p in params]
        for p, g, v in zip(params, grads, self._v):
            v *= self.momentum
            v += g
            p -= lr * v

    def __repr__(self) -> str:
        return f"SGD(lr={self.lr:g}, momentum={self.momentum:g})"


class Adam:
    """Adam (Kingma & Ba 2015), numpy, in place, with bias correction.

    ``m ← β₁ m + (1−β₁) g``, ``v ← β₂ v + (1−β₂) g²``,
    ``θ ← θ − lr · m̂ / (√v̂ + ε)`` with ``m̂ = m/(1−β₁ᵗ)``, ``v̂ = v/(1−β₂ᵗ)``.
    """

    def __init__(
        self, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ) -> None:
        self.lr = check_positive(lr, "lr")
        for name, b in (("beta1", beta1), ("beta2", beta2)):
            if not isinstance(b, numbers.Real) or not 0.0 <= float(b) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {b!r}")
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.eps = check_positive(eps, "eps")
        self._m: list[np.ndarray] | None = None
        self._v: list[np.ndarray] | None = None
        self._t = 0

    def update(
        self, params: list[np.ndarray], grads: Sequence[np.ndarray], scale: float = 1.0
    ) -> None:
        """One step on ``params`` (modified in place); ``scale`` multiplies the learning rate."""
        if self._m is None or self._v is None:  # first step: both are allocated together
            self._m = [np.zeros_like(p) for p in params]
            self._v = [np.zeros_like(p) for p in params]
        self._t += 1
        b1, b2 = self.beta1, self.beta2
        c1 = 1.0 - b1**self._t
        c2 = 1.0 - b2**self._t
        lr = self.lr * scale
        for p, g, m, v in zip(params, grads, self._m, self._v):
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * (g * g)
            p -= lr * (m / c1) / (np.sqrt(v / c2) + self.eps)

    def __repr__(self) -> str:
        return f"Adam(lr={self.lr:g}, beta1={self.beta1:g}, beta2={self.beta2:g})"


_OPTIMIZERS = ("adam", "sgd")
_SCHEDULES = ("constant", "cosine", "linear")
_DEFAULT_LR = {"adam": 0.02, "sgd": 0.5}


def _schedule_scale(schedule: str, step: int, steps: int, final: float) -> float:
    """Learning-rate multiplier before step ``step`` (0-based) of ``steps``."""
    if schedule == "constant":
        return 1.0
    t = step / steps
    if schedule == "cosine":
        return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * t))
    return final + (1.0 - final) * (1.0 - t)
