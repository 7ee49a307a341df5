"""Held-out evaluation of an encoder by the mean classifier (SPEC §6, Monte Carlo)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import as_generator, check_integer, check_tau, readonly
from ..model import GaussianLatentClassModel
from .results import _arr_repr


@dataclass(frozen=True, eq=False, repr=False)
class DownstreamEstimate:
    """Held-out mean-classifier accuracy and loss of an encoder (SPEC §6), with standard errors.

    ``accuracy_stderr`` and ``loss_stderr`` are ``std(per-example values, ddof=1)/√n`` over
    the ``n`` test examples, conditional on the estimated class means ``class_means``
    (``n_means`` inputs per class).
    """

    accuracy: float
    accuracy_stderr: float
    loss: float
    loss_stderr: float
    n: int
    n_means: int
    class_means: np.ndarray

    def __repr__(self) -> str:
        return (
            f"DownstreamEstimate(accuracy={self.accuracy:.4f}±{self.accuracy_stderr:.2g}, "
            f"loss={self.loss:.4f}±{self.loss_stderr:.2g}, n={self.n}, "
            f"class_means={_arr_repr(self.class_means)})"
        )


def _encode_checked(encoder: Callable, X: np.ndarray) -> np.ndarray:
    out = np.asarray(encoder(X), dtype=float)
    if out.ndim != 2 or out.shape[0] != X.shape[0] or not np.all(np.isfinite(out)):
        raise ValueError("encoder must map an (N, p) array to a finite (N, d) array")
    return out


def heldout_mean_classifier(
    model: GaussianLatentClassModel,
    encoder: Callable,
    tau: float = 1.0,
    *,
    size: int = 20000,
    n_means: int = 2000,
    rng: Any = 0,
    chunk: int = 65536,
) -> DownstreamEstimate:
    """Mean-classifier accuracy and loss of an encoder on fresh held-out Gaussian data.

    Implements SPEC §6 by Monte Carlo: class means ``μ̂_c`` are the averages of
    ``f(x)`` over ``n_means`` fresh inputs of each class (one held-out set); then
    ``size`` further examples ``c ~ ρ``, ``x ~ N(μ_c, σ_c² I)`` (a second held-out set)
    are scored with logits ``s_j(x) = f(x)·μ̂_j / τ``.  Per example: correct iff
    ``s_c > max_{j≠c} s_j`` (ties are errors); loss ``−log softmax_c(s)``.

    Parameters
    ----------
    model : GaussianLatentClassModel
    encoder : callable
        Maps ``(N, p)`` inputs to ``(N, d)`` representations.
    tau : float
        Temperature ``τ > 0`` of the logits.
    size, n_means : int
        Test examples (``>= 2``) and inputs per class for the means (``>= 1``).
    rng : seed or numpy.random.Generator
    chunk : int
        Test examples encoded at once (bounds memory).

    Returns
    -------
    DownstreamEstimate
    """
    if not isinstance(model, GaussianLatentClassModel):
        raise TypeError(f"model must be a GaussianLatentClassModel, got {type(model).__name__}")
    if not callable(encoder):
        raise TypeError(
            "encoder must be a callable mapping (N, p) inputs to (N, d) representations"
        )
    tau = check_tau(tau)
    size = check_integer(size, "size", minimum=2)
    n_means = check_integer(n_means, "n_means", minimum=1)
    chunk = check_integer(chunk, "chunk", minimum=1)
    gen = as_generator(rng)
    m = model.n_classes
    mean_classes = np.repeat(np.arange(m), n_means)
    means = np.zeros((m, 0))
    for start in range(0, mean_classes.size, chunk):  # chunks of inputs, not single points
        cls = mean_classes[start : start + chunk]
        f = _encode_checked(encoder, model.draw_inputs(cls, gen))
        if means.shape[1] == 0:
            means = np.zeros((m, f.shape[1]))
        np.add.at(means, cls, f)
    means /= n_means
    classes = gen.choice(m, size=size, p=model.class_probs)
    correct = np.empty(size)
    losses = np.empty(size)
    for start in range(0, size, chunk):
        sl = slice(start, start + chunk)
        c = classes[sl]
        f = _encode_checked(encoder, model.draw_inputs(c, gen))
        s = (f @ means.T) / tau
        idx = np.arange(c.size)
        own = s[idx, c]
        others = s.copy()
        others[idx, c] = -np.inf
        correct[sl] = own > others.max(axis=1)
        mx = s.max(axis=1)
        losses[sl] = mx + np.log(np.exp(s - mx[:, None]).sum(axis=1)) - own
    root = math.sqrt(size)
    return DownstreamEstimate(
        accuracy=float(correct.mean()),
        accuracy_stderr=float(correct.std(ddof=1) / root),
        loss=float(losses.mean()),
        loss_stderr=float(losses.std(ddof=1) / root),
        n=size,
        n_means=n_means,
        class_means=readonly(means),
    )
