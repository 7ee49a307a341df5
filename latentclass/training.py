"""Training with sampled negatives, compared with the certified population optimum.

Practitioners minimise the NCE loss (SPEC §2) by stochastic gradient steps on batches
of contrastive examples, each with ``k`` sampled negatives.  This module does the same
on data drawn from a latent-class model (SPEC §1) and measures how far the trained
representation is from the *certified* optimum of the population loss (SPEC §3–§4):

- finite models: an embedding table ``F`` (``n × d``), rows kept in the unit ball by
  *projection* after every step (rows of norm ``> 1`` are divided by their norm); before
  the optimiser sees it, the gradient of a row lying on the sphere loses its outward
  radial part (projection onto the tangent cone of the ball), which the projection would
  undo anyway and which would otherwise swamp Adam's second-moment estimate;
  the exact population loss ``L_k(F)`` and the gap ``L_k(F) − L_k*`` are recorded
  along the way;
- Gaussian models: an encoder (a linear map or a one-hidden-layer ``tanh`` MLP) whose
  outputs are *normalised* to the unit sphere, ``f(x) = z(x) / ‖z(x)‖``.

For one example with anchor ``a``, positive ``p`` and negatives ``n_1..n_k`` the loss is
``ℓ = log(1 + Σ_i e^{s_i})`` with ``s_i = (f(a)·f(n_i) − f(a)·f(p)) / τ``, computed as a
log-sum-exp over ``[0, s_1, …, s_k]``.  With the softmax weights
``w_i = e^{s_i} / (1 + Σ_j e^{s_j})`` and ``W = Σ_i w_i`` its gradient is::

    ∂ℓ/∂f(a)   = (Σ_i w_i f(n_i) − W f(p)) / τ
    ∂ℓ/∂f(p)   = −W f(a) / τ
    ∂ℓ/∂f(n_i) = w_i f(a) / τ.

Everything is vectorised over the batch; the gradient of a table is scattered with
``numpy.bincount`` (no Python loop over examples).
"""

from __future__ import annotations

import json
import math
import numbers
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ._validation import (
    as_generator,
    check_choice,
    check_integer,
    check_k,
    check_representation,
    check_tau,
    readonly,
)
from .model import ContrastiveSample, GaussianLatentClassModel, LatentClassModel

__all__ = [
    "SGD",
    "Adam",
    "LinearEncoder",
    "MLPEncoder",
    "TrainingHistory",
    "TrainingResult",
    "DownstreamEstimate",
    "TrainingRow",
    "TrainingCurve",
    "TrainingExperiment",
    "sampled_loss_and_grad",
    "encoder_loss_and_grad",
    "train",
    "heldout_mean_classifier",
    "default_experiment_models",
    "run_training_experiment",
]

#: Number of points up to which the table gradient goes through the ``n × n`` Gram
#: gradient (``bincount`` over ``n²`` cells, then one ``(n, n) @ (n, d)`` product).
_GRAM_ROUTE_MAX_N = 512
#: Feature entries per block of examples in the row-gather and encoder paths (bounds memory).
_BLOCK_ELEMENTS = 1 << 21
#: Floor on ‖z‖ in the encoders' normalisation (never reached in practice).
_NORM_FLOOR = 1e-12


def _arr_repr(a: Any) -> str:
    return f"array{tuple(a.shape)}" if isinstance(a, np.ndarray) else repr(a)


def _check_positive_real(value: Any, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive real number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


# =============================================================================== loss core
def _lse_weights(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row ``log(1 + Σ_i e^{s_i})`` and the softmax weights ``w_i`` (zero column implicit)."""
    mx = np.maximum(s.max(axis=1), 0.0)
    e = np.exp(s - mx[:, None])
    denom = np.exp(-mx) + e.sum(axis=1)
    losses = mx + np.log(denom)
    return losses, e / denom[:, None]


def _features_loss_and_grad(
    fa: np.ndarray, fp: np.ndarray, fn: np.ndarray, tau: float, total: int
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Losses of a block of examples and the gradients of ``(1/total) Σ ℓ`` w.r.t. the features.

    Returns ``(sum of ℓ over the block, ∂/∂fa, ∂/∂fp, ∂/∂fn)``.
    """
    pos = np.einsum("bd,bd->b", fa, fp)
    neg = np.einsum("bd,bkd->bk", fa, fn)
    losses, w = _lse_weights((neg - pos[:, None]) / tau)
    wsum = w.sum(axis=1)
    c = 1.0 / (tau * total)
    g_fa = (np.einsum("bk,bkd->bd", w, fn) - wsum[:, None] * fp) * c
    g_fp = (-c) * wsum[:, None] * fa
    g_fn = (c * w)[:, :, None] * fa[:, None, :]
    return float(losses.sum()), g_fa, g_fp, g_fn


def _blocks(size: int, k: int, width: int):
    """Slices of examples such that a block holds about ``_BLOCK_ELEMENTS`` feature entries."""
    step = max(1, _BLOCK_ELEMENTS // max(1, (k + 2) * width))
    return [slice(start, min(start + step, size)) for start in range(0, size, step)]


def _table_loss_and_grad(
    F: np.ndarray, anchors: np.ndarray, positives: np.ndarray, negatives: np.ndarray, tau: float,
    route: str = "auto",
) -> tuple[float, np.ndarray]:
    """Mean sampled loss of a table and its gradient ``(n, d)`` (no validation)."""
    n, d = F.shape
    b, k = negatives.shape
    if route == "auto":
        route = "gram" if n <= _GRAM_ROUTE_MAX_N else "rows"
    if route == "gram":
        # ℓ depends on F only through G = F Fᵀ: s_i = (G[a, n_i] − G[a, p]) / τ, so
        # ∂L/∂G is a sparse n × n matrix of softmax weights and ∂L/∂F = (Ĝ + Ĝᵀ) F.
        G = F @ F.T
        pos = G[anchors, positives]
        neg = G[anchors[:, None], negatives]
        losses, w = _lse_weights((neg - pos[:, None]) / tau)
        wsum = w.sum(axis=1)
        cells = np.concatenate([(anchors[:, None] * n + negatives).ravel(), anchors * n + positives])
        weights = np.concatenate([w.ravel(), -wsum])
        dG = np.bincount(cells, weights=weights, minlength=n * n).reshape(n, n) / (tau * b)
        return float(losses.mean()), (dG + dG.T) @ F
    # gather rows, scatter the row gradients with np.add.at; blocks of examples bound memory
    grad = np.zeros_like(F)
    total = 0.0
    for sl in _blocks(b, k, d):
        a, p, neg = anchors[sl], positives[sl], negatives[sl]
        loss_sum, g_fa, g_fp, g_fn = _features_loss_and_grad(F[a], F[p], F[neg], tau, b)
        total += loss_sum
        rows = np.concatenate([a, p, neg.ravel()])
        vals = np.concatenate([g_fa, g_fp, g_fn.reshape(-1, d)])
        np.add.at(grad, rows, vals)
    return total / b, grad


def _check_sample(sample: Any, finite: bool) -> ContrastiveSample:
    if not isinstance(sample, ContrastiveSample):
        raise TypeError(f"sample must be a ContrastiveSample, got {type(sample).__name__}")
    if sample.size < 1:
        raise ValueError("sample must contain at least one example")
    if finite and sample.n_points is None:
        raise ValueError("sample must come from a finite model (LatentClassModel) for a table F")
    if not finite and sample.n_points is not None:
        raise ValueError("sample must come from a continuous model (GaussianLatentClassModel) for an encoder")
    return sample


def sampled_loss_and_grad(F: Any, sample: ContrastiveSample, tau: float = 1.0) -> tuple[float, np.ndarray]:
    """Mean sampled NCE loss of an embedding table and its gradient (SPEC §2).

    Parameters
    ----------
    F : array_like, shape (n, d)
        Embedding table with rows of norm ``<= 1``.
    sample : ContrastiveSample
        A batch from a finite model with ``n`` points.
    tau : float
        Temperature ``τ > 0``.

    Returns
    -------
    loss : float
        ``(1/B) Σ_b log(1 + Σ_i exp((F[a_b]·F[n_bi] − F[a_b]·F[p_b]) / τ))``.
    grad : ndarray, shape (n, d)
        Its exact gradient with respect to ``F`` (softmax weights, see the module docstring).
    """
    sample = _check_sample(sample, True)
    F = check_representation(F, sample.n_points)
    tau = check_tau(tau)
    return _table_loss_and_grad(F, sample.anchors, sample.positives, sample.negatives, tau)


# =============================================================================== encoders
def _normalise_forward(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = np.maximum(np.sqrt(np.einsum("ij,ij->i", z, z)), _NORM_FLOOR)
    return z / r[:, None], r


def _normalise_backward(f: np.ndarray, r: np.ndarray, gf: np.ndarray) -> np.ndarray:
    """Gradient through ``f = z/‖z‖``: ``∂/∂z = (g − (g·f) f) / ‖z‖``."""
    return (gf - np.einsum("ij,ij->i", gf, f)[:, None] * f) / r[:, None]


class _Encoder:
    """Shared machinery of the normalised encoders (``__call__``, forward/backward)."""

    kind: str = ""
    param_names: tuple[str, ...] = ()

    @property
    def params(self) -> tuple[np.ndarray, ...]:
        return tuple(getattr(self, name) for name in self.param_names)

    @property
    def input_dim(self) -> int:
        return int(self.params[0].shape[0])

    @property
    def dim(self) -> int:
        """Output dimension ``d``."""
        return int(self.params[-1].shape[0])

    def __call__(self, X: Any) -> np.ndarray:
        """Map an ``(N, p)`` array of inputs to ``(N, d)`` unit vectors."""
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.input_dim:
            raise ValueError(f"X must have shape (N, {self.input_dim}), got {X.shape}")
        return _encoder_forward(self.kind, self.params, X)[0]

    def __repr__(self) -> str:
        shapes = ", ".join(f"{n}{tuple(p.shape)}" for n, p in zip(self.param_names, self.params))
        return f"{type(self).__name__}({shapes})"


@dataclass(frozen=True, eq=False, repr=False)
class LinearEncoder(_Encoder):
    """``f(x) = z / ‖z‖`` with ``z = x W + b``; ``weight (p, d)``, ``bias (d,)``."""

    weight: np.ndarray
    bias: np.ndarray
    kind = "linear"
    param_names = ("weight", "bias")

    def __post_init__(self) -> None:
        _check_params(self)


@dataclass(frozen=True, eq=False, repr=False)
class MLPEncoder(_Encoder):
    """``f(x) = z / ‖z‖`` with ``z = tanh(x W₁ + b₁) W₂ + b₂``.

    ``weight1 (p, h)``, ``bias1 (h,)``, ``weight2 (h, d)``, ``bias2 (d,)``.
    """

    weight1: np.ndarray
    bias1: np.ndarray
    weight2: np.ndarray
    bias2: np.ndarray
    kind = "mlp"
    param_names = ("weight1", "bias1", "weight2", "bias2")

    def __post_init__(self) -> None:
        _check_params(self)


def _check_params(enc: _Encoder) -> None:
    prev = None
    for i, name in enumerate(enc.param_names):
        a = np.asarray(getattr(enc, name), dtype=float)
        want = 2 if i % 2 == 0 else 1
        if a.ndim != want:
            raise ValueError(f"{name} must be {want}-D, got shape {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} must be finite")
        if want == 2 and prev is not None and a.shape[0] != prev:
            raise ValueError(f"{name} must have {prev} rows to match the previous layer, got {a.shape}")
        if want == 1 and a.shape[0] != prev:
            raise ValueError(f"{name} must have shape ({prev},), got {a.shape}")
        prev = a.shape[1] if want == 2 else prev
        object.__setattr__(enc, name, readonly(a))


def _encoder_forward(kind: str, params: Sequence[np.ndarray], X: np.ndarray):
    if kind == "linear":
        W, b = params
        f, r = _normalise_forward(X @ W + b)
        return f, (X, f, r)
    W1, b1, W2, b2 = params
    h = np.tanh(X @ W1 + b1)
    f, r = _normalise_forward(h @ W2 + b2)
    return f, (X, h, f, r)


def _encoder_backward(kind: str, params: Sequence[np.ndarray], cache, gf: np.ndarray) -> list[np.ndarray]:
    if kind == "linear":
        X, f, r = cache
        gz = _normalise_backward(f, r, gf)
        return [X.T @ gz, gz.sum(axis=0)]
    X, h, f, r = cache
    W2 = params[2]
    gz = _normalise_backward(f, r, gf)
    gpre = (gz @ W2.T) * (1.0 - h * h)
    return [X.T @ gpre, gpre.sum(axis=0), h.T @ gz, gz.sum(axis=0)]


def _encoder_batch_loss_and_grad(kind, params, anchors, positives, negatives, tau):
    """Mean loss of a batch and its parameter gradients; blocks of examples bound memory."""
    b, k, p = negatives.shape
    width = max([p] + [q.shape[-1] for q in params])
    grads = [np.zeros_like(q) for q in params]
    total = 0.0
    for sl in _blocks(b, k, width):
        nb = sl.stop - sl.start
        X = np.concatenate([anchors[sl], positives[sl], negatives[sl].reshape(nb * k, p)])
        F, cache = _encoder_forward(kind, params, X)
        fa, fp, fn = F[:nb], F[nb : 2 * nb], F[2 * nb :].reshape(nb, k, -1)
        loss_sum, g_fa, g_fp, g_fn = _features_loss_and_grad(fa, fp, fn, tau, b)
        total += loss_sum
        gF = np.concatenate([g_fa, g_fp, g_fn.reshape(nb * k, -1)])
        for g, h in zip(grads, _encoder_backward(kind, params, cache, gF)):
            g += h
    return total / b, grads


def encoder_loss_and_grad(
    encoder: LinearEncoder | MLPEncoder, sample: ContrastiveSample, tau: float = 1.0
) -> tuple[float, tuple[np.ndarray, ...]]:
    """Mean sampled NCE loss of a normalised encoder and its gradient w.r.t. the parameters.

    Parameters
    ----------
    encoder : LinearEncoder or MLPEncoder
    sample : ContrastiveSample
        A batch from a continuous (Gaussian) model, inputs of dimension ``encoder.input_dim``.
    tau : float
        Temperature ``τ > 0``.

    Returns
    -------
    loss : float
        Mean of ``ℓ`` (SPEC §2) over the batch.
    grads : tuple of ndarray
        Gradient for each array of ``encoder.params`` (same order and shapes); chain rule
        through ``f = z/‖z‖`` (``∂f/∂z = (I − f fᵀ)/‖z‖``) and the layers.
    """
    if not isinstance(encoder, (LinearEncoder, MLPEncoder)):
        raise TypeError(f"encoder must be a LinearEncoder or MLPEncoder, got {type(encoder).__name__}")
    sample = _check_sample(sample, False)
    tau = check_tau(tau)
    if sample.anchors.shape[1] != encoder.input_dim:
        raise ValueError(f"sample inputs have dimension {sample.anchors.shape[1]}, encoder expects {encoder.input_dim}")
    loss, grads = _encoder_batch_loss_and_grad(
        encoder.kind, encoder.params, sample.anchors, sample.positives, sample.negatives, tau
    )
    return loss, tuple(grads)


# =============================================================================== optimisers
class SGD:
    """Stochastic gradient descent with optional heavy-ball momentum (numpy, in place).

    ``v ← μ v + g``, ``θ ← θ − lr · v`` (plain SGD when ``momentum = 0``).
    """

    def __init__(self, lr: float, momentum: float = 0.0) -> None:
        self.lr = _check_positive_real(lr, "lr")
        if isinstance(momentum, (bool, np.bool_)) or not isinstance(momentum, numbers.Real):
            raise TypeError("momentum must be a real number in [0, 1)")
        if not 0.0 <= float(momentum) < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        self._v: list[np.ndarray] | None = None

    def update(self, params: list[np.ndarray], grads: Sequence[np.ndarray], scale: float = 1.0) -> None:
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

    def __init__(self, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        self.lr = _check_positive_real(lr, "lr")
        for name, b in (("beta1", beta1), ("beta2", beta2)):
            if not isinstance(b, numbers.Real) or not 0.0 <= float(b) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {b!r}")
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.eps = _check_positive_real(eps, "eps")
        self._m: list[np.ndarray] | None = None
        self._v: list[np.ndarray] | None = None
        self._t = 0

    def update(self, params: list[np.ndarray], grads: Sequence[np.ndarray], scale: float = 1.0) -> None:
        """One step on ``params`` (modified in place); ``scale`` multiplies the learning rate."""
        if self._m is None:
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


# =============================================================================== results
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
        out = {"step": self.step.tolist(), "batch_loss": self.batch_loss.tolist(),
               "train_seconds": self.train_seconds.tolist()}
        if self.population_loss is not None:
            out["population_loss"] = self.population_loss.tolist()
        if self.gap is not None:
            out["gap"] = self.gap.tolist()
        return out

    def __repr__(self) -> str:
        extra = "".join(f", {n}" for n in ("population_loss", "gap") if getattr(self, n) is not None)
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
    def representation(self):
        """``F`` for finite models, ``encoder`` for Gaussian ones."""
        return self.F if self.F is not None else self.encoder

    def __repr__(self) -> str:
        rep = f"F={_arr_repr(self.F)}" if self.F is not None else f"encoder={self.encoder!r}"
        gap = "" if self.gap is None else f", gap={self.gap:.3g}"
        return (f"TrainingResult(k={self.k}, tau={self.tau:g}, {rep}, steps={self.steps}{gap}, "
                f"train_seconds={self.train_seconds:.3g})")


# =============================================================================== train
def _resolve_optimum(model: LatentClassModel, k: int, tau: float, optimum: Any):
    """``(loss, certified)`` of the reference optimum, or ``(None, None)``."""
    if optimum is None:
        return None, None
    if isinstance(optimum, str):
        if optimum != "auto":
            raise ValueError(f"optimum must be 'auto', None, a float or an OptimalRepresentation, got {optimum!r}")
        from .optimize import optimal_representation

        opt = optimal_representation(model, k, tau)
        return float(opt.loss), bool(opt.certified)
    if isinstance(optimum, numbers.Real) and not isinstance(optimum, (bool, np.bool_)):
        v = float(optimum)
        if not math.isfinite(v):
            raise ValueError(f"optimum must be finite, got {optimum!r}")
        return v, None
    if hasattr(optimum, "loss"):
        return float(optimum.loss), bool(getattr(optimum, "certified", False))
    raise TypeError(f"optimum must be 'auto', None, a float or an OptimalRepresentation, got {type(optimum).__name__}")


def _progress_hook(progress: Any, steps: int):
    """``(callback(step, loss), close())`` for ``progress``."""
    if progress is None or progress is False:
        return None, lambda: None
    if progress is True:
        from tqdm import tqdm

        bar = tqdm(total=steps, file=sys.stderr, desc="train", leave=False)

        def cb(step: int, loss: float) -> None:
            bar.update(1)
            if step % 50 == 0:
                bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

        return cb, bar.close
    if callable(progress):
        return progress, lambda: None
    raise TypeError(f"progress must be None, a bool or a callable(step, loss), got {type(progress).__name__}")


def _init_table(gen: np.random.Generator, n: int, d: int, radius: float) -> np.ndarray:
    W = gen.standard_normal((n, d))
    return radius * W / np.linalg.norm(W, axis=1, keepdims=True)


def _tangent_cone(F: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """Project the gradient of rows on the unit sphere onto the tangent cone of the ball.

    For a row with ``‖f‖ = 1`` whose descent direction ``−g`` points outwards
    (``g·f < 0``) the radial part is removed, ``g ← g − (g·f) f``: that part of the step
    would be undone by the projection anyway, and left in it would dominate Adam's
    second-moment estimate and freeze the tangential motion.
    """
    norms2 = np.einsum("ij,ij->i", F, F)
    radial = np.einsum("ij,ij->i", grad, F)
    on = (norms2 >= 1.0 - 1e-12) & (radial < 0.0)
    if np.any(on):
        grad = grad.copy()
        grad[on] -= (radial[on] / norms2[on])[:, None] * F[on]
    return grad


def _project_rows(F: np.ndarray) -> None:
    norms = np.sqrt(np.einsum("ij,ij->i", F, F))
    over = norms > 1.0
    if np.any(over):
        F[over] /= norms[over, None]


def _init_encoder(gen: np.random.Generator, kind: str, p: int, d: int, hidden: int) -> list[np.ndarray]:
    if kind == "linear":
        return [gen.standard_normal((p, d)) / math.sqrt(p), np.zeros(d)]
    return [gen.standard_normal((p, hidden)) / math.sqrt(p), np.zeros(hidden),
            gen.standard_normal((hidden, d)) / math.sqrt(hidden), np.zeros(d)]


def train(
    model: LatentClassModel | GaussianLatentClassModel,
    k: int,
    tau: float = 1.0,
    *,
    dim: int | None = None,
    steps: int = 2000,
    batch_size: int = 256,
    lr: float | None = None,
    optimizer: str = "adam",
    schedule: str = "cosine",
    final_lr_fraction: float = 0.01,
    encoder: str = "linear",
    hidden: int = 32,
    rng: Any = 0,
    progress: Any = None,
    eval_every: int | None = None,
    optimum: Any = "auto",
) -> TrainingResult:
    """Train a representation by stochastic gradient steps on sampled NCE batches.

    Each step draws ``batch_size`` fresh examples with ``k`` negatives from ``model``
    (SPEC §1), computes the mean loss ``ℓ`` (SPEC §2) and its exact gradient, and takes
    one optimiser step.  Finite models train an embedding table ``F (n × d)`` whose rows
    are *projected* back onto the unit ball after every step (the optimiser receives the
    gradient projected onto the tangent cone of the ball, see the module docstring);
    the initial rows are random directions of norm 0.5.  Gaussian models train a
    linear or one-hidden-layer (``tanh``) encoder whose outputs are *normalised* to the
    unit sphere.

    Parameters
    ----------
    model : LatentClassModel or GaussianLatentClassModel
    k : int
        Number of negatives per example, ``>= 1``.
    tau : float
        Temperature ``τ > 0``.
    dim : int, optional
        Representation dimension ``d``: default ``n`` (number of points) for a finite
        model — at least the rank needed by the certified optimum — and ``n_classes``
        for a Gaussian model.
    steps, batch_size : int
        Number of optimiser steps (``>= 1``) and examples per batch (``>= 1``).
    lr : float, optional
        Peak learning rate, ``> 0``; default 0.02 for Adam and 0.5 for SGD.
    optimizer : {"adam", "sgd"}
        :class:`Adam` (default betas) or :class:`SGD` with heavy-ball momentum 0.9.
    schedule : {"cosine", "linear", "constant"}
        Learning-rate decay from ``lr`` to ``final_lr_fraction · lr`` over the run.
    final_lr_fraction : float
        In ``(0, 1]``; the last learning rate as a fraction of ``lr``.
    encoder : {"linear", "mlp"}
        Gaussian models only: encoder architecture.
    hidden : int
        Hidden width of the MLP encoder.
    rng : seed or numpy.random.Generator
        Drives initialisation and every batch; same seed, bit-identical result.
    progress : None, bool or callable
        ``True``: a tqdm bar on stderr; a callable is called as ``progress(step, loss)``
        after every step with the batch loss.
    eval_every : int, optional
        Record the history every this many steps (default ``max(1, steps // 100)``); the
        last step is always recorded.
    optimum : "auto", None, float or OptimalRepresentation
        Finite models: the reference optimum for the gap.  ``"auto"`` computes
        ``optimal_representation(model, k, tau)`` (its time is *not* counted in the
        timings); ``None`` records no gap.

    Returns
    -------
    TrainingResult
    """
    finite = isinstance(model, LatentClassModel)
    if not finite and not isinstance(model, GaussianLatentClassModel):
        raise TypeError(f"model must be a LatentClassModel or GaussianLatentClassModel, got {type(model).__name__}")
    k = check_k(k)
    tau = check_tau(tau)
    steps = check_integer(steps, "steps", minimum=1)
    batch_size = check_integer(batch_size, "batch_size", minimum=1)
    optimizer = check_choice(optimizer, "optimizer", _OPTIMIZERS)
    schedule = check_choice(schedule, "schedule", _SCHEDULES)
    lr = _DEFAULT_LR[optimizer] if lr is None else _check_positive_real(lr, "lr")
    final = _check_positive_real(final_lr_fraction, "final_lr_fraction")
    if final > 1.0:
        raise ValueError(f"final_lr_fraction must be in (0, 1], got {final_lr_fraction!r}")
    if dim is not None:
        dim = check_integer(dim, "dim", minimum=1)
    eval_every = max(1, steps // 100) if eval_every is None else check_integer(eval_every, "eval_every", minimum=1)
    if not (progress is None or isinstance(progress, bool) or callable(progress)):
        raise TypeError(f"progress must be None, a bool or a callable(step, loss), got {type(progress).__name__}")
    gen = as_generator(rng)

    if finite:
        from .population import population_loss

        d = model.n_points if dim is None else dim
        opt_loss, certified = _resolve_optimum(model, k, tau, optimum)
        params = [_init_table(gen, model.n_points, d, 0.5)]
        kind = "table"

        def batch_step(batch):
            loss, grad = _table_loss_and_grad(params[0], batch.anchors, batch.positives, batch.negatives, tau)
            return loss, [_tangent_cone(params[0], grad)]
    else:
        kind = check_choice(encoder, "encoder", ("linear", "mlp"))
        hidden = check_integer(hidden, "hidden", minimum=1)
        d = model.n_classes if dim is None else dim
        opt_loss, certified = None, None
        params = _init_encoder(gen, kind, model.dim, d, hidden)

        def batch_step(batch):
            return _encoder_batch_loss_and_grad(kind, params, batch.anchors, batch.positives, batch.negatives, tau)

    opt = Adam(lr) if optimizer == "adam" else SGD(lr, momentum=0.9)
    rec_step, rec_loss, rec_time, rec_pop = [], [], [], []
    window: list[float] = []
    t_train = t_eval = 0.0
    hook, close = _progress_hook(progress, steps)
    try:
        for step in range(steps):
            t0 = time.perf_counter()
            batch = model.sample(batch_size, k, gen)
            loss, grad = batch_step(batch)
            if not math.isfinite(loss):  # cannot happen for unit-ball features; guard anyway
                raise FloatingPointError(f"non-finite batch loss at step {step}")
            opt.update(params, grad, _schedule_scale(schedule, step, steps, final))
            if finite:
                _project_rows(params[0])
            t_train += time.perf_counter() - t0
            window.append(loss)
            if hook is not None:
                hook(step + 1, loss)
            if (step + 1) % eval_every == 0 or step + 1 == steps:
                t1 = time.perf_counter()
                rec_step.append(step + 1)
                rec_loss.append(float(np.mean(window)))
                rec_time.append(t_train)
                window = []
                if finite:
                    rec_pop.append(float(population_loss(model, params[0], k, tau)))
                t_eval += time.perf_counter() - t1
    finally:
        close()

    pop = readonly(np.array(rec_pop)) if finite else None
    gap = readonly(pop - opt_loss) if (finite and opt_loss is not None) else None
    history = TrainingHistory(readonly(np.array(rec_step)), readonly(np.array(rec_loss)),
                              readonly(np.array(rec_time)), pop, gap)
    if finite:
        F, enc = readonly(params[0]), None
        final_pop = float(pop[-1])
    else:
        F = None
        enc = LinearEncoder(*params) if kind == "linear" else MLPEncoder(*params)
        final_pop = None
    return TrainingResult(
        k=k, tau=tau, F=F, encoder=enc, history=history, population_loss=final_pop,
        optimum_loss=opt_loss, optimum_certified=certified,
        gap=None if gap is None else float(gap[-1]),
        steps=steps, batch_size=batch_size, optimizer=optimizer, schedule=schedule, lr=lr,
        train_seconds=t_train, eval_seconds=t_eval, seconds_per_step=t_train / steps,
    )


# =============================================================================== downstream
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
        return (f"DownstreamEstimate(accuracy={self.accuracy:.4f}±{self.accuracy_stderr:.2g}, "
                f"loss={self.loss:.4f}±{self.loss_stderr:.2g}, n={self.n}, "
                f"class_means={_arr_repr(self.class_means)})")


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
        raise TypeError("encoder must be a callable mapping (N, p) inputs to (N, d) representations")
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
        accuracy=float(correct.mean()), accuracy_stderr=float(correct.std(ddof=1) / root),
        loss=float(losses.mean()), loss_stderr=float(losses.std(ddof=1) / root),
        n=size, n_means=n_means, class_means=readonly(means),
    )


# =============================================================================== experiment
@dataclass(frozen=True, eq=False, repr=False)
class TrainingRow:
    """One ``(model, k)`` cell of :class:`TrainingExperiment`.

    For finite models: ``population_loss``, ``optimum_loss`` (certified optimum, SPEC §4),
    ``gap``, ``simplex_error`` / ``collapse_error`` of the trained table and of the optimum
    (``optimum_simplex_error``), ``gram_error`` = ``max |class Gram (trained) − class Gram
    (optimum)|``, and the exact mean-classifier loss/accuracy (SPEC §6) of both.  For the
    Gaussian model: held-out downstream estimates with standard errors; the finite-only
    fields are ``None``.
    """

    model: str
    k: int
    population_loss: float | None
    optimum_loss: float | None
    optimum_certified: bool | None
    gap: float | None
    simplex_error: float | None
    collapse_error: float | None
    optimum_simplex_error: float | None
    gram_error: float | None
    downstream_loss: float
    downstream_loss_stderr: float
    downstream_accuracy: float
    downstream_accuracy_stderr: float
    optimum_downstream_loss: float | None
    optimum_downstream_accuracy: float | None
    final_batch_loss: float
    train_seconds: float
    optimum_seconds: float | None

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def __repr__(self) -> str:
        gap = "" if self.gap is None else f", gap={self.gap:.3g}"
        return (f"TrainingRow(model={self.model!r}, k={self.k}{gap}, "
                f"downstream_accuracy={self.downstream_accuracy:.4f})")


@dataclass(frozen=True, eq=False, repr=False)
class TrainingCurve:
    """The training curve of one ``(model, k)``: ``step``, ``batch_loss`` and (finite) ``gap``."""

    model: str
    k: int
    step: np.ndarray
    batch_loss: np.ndarray
    gap: np.ndarray | None

    def __repr__(self) -> str:
        return f"TrainingCurve(model={self.model!r}, k={self.k}, step{self.step.shape})"


#: Column order of :meth:`TrainingExperiment.table`.
_TABLE_COLUMNS = (
    ("model", "{}"), ("k", "{}"), ("gap", "{:.2e}"), ("simplex_error", "{:.3f}"),
    ("collapse_error", "{:.3f}"), ("gram_error", "{:.3f}"), ("downstream_accuracy", "{:.4f}"),
    ("downstream_accuracy_stderr", "{:.4f}"), ("optimum_downstream_accuracy", "{:.4f}"),
    ("downstream_loss", "{:.4f}"), ("optimum_downstream_loss", "{:.4f}"), ("train_seconds", "{:.2f}"),
)


@dataclass(frozen=True, eq=False, repr=False)
class TrainingExperiment:
    """Result of :func:`run_training_experiment`.

    Attributes
    ----------
    ks : tuple of int
    tau : float
    models : tuple of str
        Labels in order (``"uniform"``, ``"zipf"``, ``"gaussian"``).
    descriptions : dict
        Label → one-line description of the model.
    rows : tuple of TrainingRow
        One per ``(model, k)``, models outer, ``k`` inner.
    curves : tuple of TrainingCurve
        Same order as ``rows``.
    results : tuple of TrainingResult
        The full training results (trained ``F`` / ``encoder``), same order as ``rows``;
        not part of :meth:`to_dict`.
    settings : dict
        steps, batch size, optimiser, etc.

    Methods ``row(model, k)``, ``curve(model, k)`` and ``series(model, field)`` (an array
    over ``ks``) serve plotting: e.g. ``curve("zipf", 16).gap`` against ``.step``, and
    ``series("gaussian", "downstream_accuracy")`` with ``"downstream_accuracy_stderr"``.
    """

    ks: tuple[int, ...]
    tau: float
    models: tuple[str, ...]
    descriptions: dict
    rows: tuple[TrainingRow, ...]
    curves: tuple[TrainingCurve, ...]
    results: tuple[TrainingResult, ...]
    settings: dict

    def row(self, model: str, k: int) -> TrainingRow:
        for r in self.rows:
            if r.model == model and r.k == k:
                return r
        raise KeyError(f"no row for model={model!r}, k={k}")

    def curve(self, model: str, k: int) -> TrainingCurve:
        for c in self.curves:
            if c.model == model and c.k == k:
                return c
        raise KeyError(f"no curve for model={model!r}, k={k}")

    def series(self, model: str, name: str) -> np.ndarray:
        """``np.array([getattr(row(model, k), name) for k in ks])`` (``nan`` where ``None``)."""
        if name not in TrainingRow.__dataclass_fields__:
            raise ValueError(f"name must be a TrainingRow field, got {name!r}")
        vals = [getattr(self.row(model, k), name) for k in self.ks]
        return np.array([np.nan if v is None else v for v in vals], dtype=float)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dictionary (rows, curves, settings)."""
        return {
            "ks": list(self.ks), "tau": self.tau, "models": list(self.models),
            "descriptions": dict(self.descriptions), "settings": dict(self.settings),
            "rows": [r.as_dict() for r in self.rows],
            "curves": [{"model": c.model, "k": c.k, "step": c.step.tolist(),
                        "batch_loss": c.batch_loss.tolist(),
                        "gap": None if c.gap is None else c.gap.tolist()} for c in self.curves],
        }

    def to_json(self, path: str | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
        return text

    def table(self) -> str:
        """Plain-text table, one line per row (``-`` where a value does not apply)."""
        header = [name for name, _ in _TABLE_COLUMNS]
        lines = [header]
        for r in self.rows:
            cells = []
            for name, fmt in _TABLE_COLUMNS:
                v = getattr(r, name)
                cells.append("-" if v is None else fmt.format(v))
            lines.append(cells)
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        return "\n".join("  ".join(c.rjust(w) for c, w in zip(line, widths)) for line in lines)

    def __repr__(self) -> str:
        return f"TrainingExperiment(models={self.models}, ks={self.ks}, rows={len(self.rows)})"


def default_experiment_models() -> dict[str, tuple[Any, str]]:
    """The three models of :func:`run_training_experiment`: label → (model, description)."""
    m_u = 6
    uniform = LatentClassModel.one_point_per_class(np.full(m_u, 1.0 / m_u))
    m_z = 5
    zipf = 1.0 / np.arange(1, m_z + 1)
    zipf /= zipf.sum()
    nonuni = LatentClassModel.disjoint(zipf, [2] * m_z, within=[[0.7, 0.3]] * m_z)
    m_g, p = 4, 8
    means = np.zeros((m_g, p))
    means[np.arange(m_g), np.arange(m_g)] = 3.0
    gauss = GaussianLatentClassModel(np.array([0.4, 0.3, 0.2, 0.1]), means, 1.0)
    return {
        "uniform": (uniform, f"class-level, uniform rho, m={m_u}"),
        "zipf": (nonuni, f"disjoint, Zipf(1) rho, m={m_z}, 2 points per class (weights 0.7/0.3)"),
        "gaussian": (gauss, f"Gaussian, rho=(.4,.3,.2,.1), means 3*e_c in R^{p}, sigma=1, linear encoder"),
    }


def run_training_experiment(
    ks: Sequence[int] = (1, 4, 16, 64),
    tau: float = 1.0,
    *,
    steps: int | None = None,
    batch_size: int | None = None,
    quick: bool = False,
    heldout_size: int | None = None,
    rng: Any = 0,
    progress: Any = None,
) -> TrainingExperiment:
    """Train with sampled negatives for several ``k`` and compare with the certified optimum.

    Three models (see :func:`default_experiment_models`): (a) ``"uniform"``, class-level
    with uniform ``ρ`` (optimum: the regular simplex, SPEC §5); (b) ``"zipf"``, disjoint
    supports with Zipf ``ρ``; (c) ``"gaussian"``, a Gaussian model with a linear encoder.
    For each ``k`` the finite models are trained with :func:`train` and compared with
    ``optimal_representation(model, k, tau)``: final gap, simplex and collapse errors,
    distance of the class Gram to the optimum's, and the exact mean-classifier loss and
    accuracy (``latentclass.downstream``) of the trained table and of the optimum.  The
    Gaussian encoder gets held-out downstream estimates (:func:`heldout_mean_classifier`).

    Parameters
    ----------
    ks : sequence of int
        Numbers of negatives, each ``>= 1``.
    tau : float
    steps, batch_size : int, optional
        Default 1500 and 512 (``quick``: 300 and 256).
    quick : bool
        Small run for tests and figures (a few seconds).
    heldout_size : int, optional
        Test examples of the Gaussian held-out evaluation (default 20000; quick 4000).
    rng : seed or numpy.random.Generator
        One generator drives everything; same seed, same result (timings aside).
    progress : None, bool or callable
        Passed to :func:`train`.
    """
    from .downstream import mean_classifier_accuracy, mean_classifier_loss
    from .optimize import optimal_representation
    from .structure import structure

    if isinstance(ks, (numbers.Number, str)) or len(ks) == 0:
        raise ValueError("ks must be a non-empty sequence of integers >= 1")
    ks = tuple(check_k(k, name="ks") for k in ks)
    tau = check_tau(tau)
    steps = (300 if quick else 1500) if steps is None else check_integer(steps, "steps", minimum=1)
    batch_size = (256 if quick else 512) if batch_size is None else check_integer(batch_size, "batch_size", minimum=1)
    heldout_size = (4000 if quick else 20000) if heldout_size is None else check_integer(heldout_size, "heldout_size", minimum=2)
    gen = as_generator(rng)
    models = default_experiment_models()
    heldout_seed = int(gen.integers(2**63))  # one held-out set for every k (common random numbers)
    rows: list[TrainingRow] = []
    curves: list[TrainingCurve] = []
    results: list[TrainingResult] = []
    for label, (model, _) in models.items():
        finite = isinstance(model, LatentClassModel)
        for k in ks:
            seed = int(gen.integers(2**63))
            if finite:
                t0 = time.perf_counter()
                opt = optimal_representation(model, k, tau)
                t_opt = time.perf_counter() - t0
                res = train(model, k, tau, steps=steps, batch_size=batch_size, rng=seed,
                            progress=progress, optimum=opt)
                st, st_opt = structure(model, res.F), structure(model, opt.F)
                rows.append(TrainingRow(
                    model=label, k=k, population_loss=res.population_loss, optimum_loss=res.optimum_loss,
                    optimum_certified=res.optimum_certified, gap=res.gap, simplex_error=st.simplex_error,
                    collapse_error=st.collapse_error, optimum_simplex_error=st_opt.simplex_error,
                    gram_error=float(np.abs(st.class_gram - st_opt.class_gram).max()),
                    downstream_loss=float(mean_classifier_loss(model, res.F, tau)), downstream_loss_stderr=0.0,
                    downstream_accuracy=float(mean_classifier_accuracy(model, res.F)),
                    downstream_accuracy_stderr=0.0,
                    optimum_downstream_loss=float(mean_classifier_loss(model, opt.F, tau)),
                    optimum_downstream_accuracy=float(mean_classifier_accuracy(model, opt.F)),
                    final_batch_loss=float(res.history.batch_loss[-1]),
                    train_seconds=res.train_seconds, optimum_seconds=t_opt,
                ))
            else:
                res = train(model, k, tau, steps=steps, batch_size=batch_size, rng=seed,
                            progress=progress, lr=0.01)
                est = heldout_mean_classifier(model, res.encoder, tau, size=heldout_size,
                                              n_means=max(500, heldout_size // 10), rng=heldout_seed)
                rows.append(TrainingRow(
                    model=label, k=k, population_loss=None, optimum_loss=None, optimum_certified=None,
                    gap=None, simplex_error=None, collapse_error=None, optimum_simplex_error=None,
                    gram_error=None, downstream_loss=est.loss, downstream_loss_stderr=est.loss_stderr,
                    downstream_accuracy=est.accuracy, downstream_accuracy_stderr=est.accuracy_stderr,
                    optimum_downstream_loss=None, optimum_downstream_accuracy=None,
                    final_batch_loss=float(res.history.batch_loss[-1]),
                    train_seconds=res.train_seconds, optimum_seconds=None,
                ))
            h = res.history
            results.append(res)
            curves.append(TrainingCurve(label, k, h.step, h.batch_loss, h.gap))
    settings = {"steps": steps, "batch_size": batch_size, "optimizer": "adam", "schedule": "cosine",
                "lr_table": _DEFAULT_LR["adam"], "lr_encoder": 0.01, "encoder": "linear",
                "heldout_size": heldout_size, "quick": bool(quick)}
    return TrainingExperiment(ks, tau, tuple(models), {k: v[1] for k, v in models.items()},
                              tuple(rows), tuple(curves), tuple(results), settings)
