"""Normalised encoders ``f(x) = z(x) / ‖z(x)‖``: a linear map or a one-hidden-layer ``tanh`` MLP.

Forward and backward passes are functions of ``(kind, params)`` so that training can update
plain arrays in place and wrap them in an encoder object only at the end.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import readonly

#: Floor on ‖z‖ in the encoders' normalisation (never reached in practice).
_NORM_FLOOR = 1e-12


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
            raise ValueError(
                f"{name} must have {prev} rows to match the previous layer, got {a.shape}"
            )
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


def _encoder_backward(
    kind: str, params: Sequence[np.ndarray], cache, gf: np.ndarray
) -> list[np.ndarray]:
    if kind == "linear":
        X, f, r = cache
        gz = _normalise_backward(f, r, gf)
        return [X.T @ gz, gz.sum(axis=0)]
    X, h, f, r = cache
    W2 = params[2]
    gz = _normalise_backward(f, r, gf)
    gpre = (gz @ W2.T) * (1.0 - h * h)
    return [X.T @ gpre, gpre.sum(axis=0), h.T @ gz, gz.sum(axis=0)]


def _init_encoder(
    gen: np.random.Generator, kind: str, p: int, d: int, hidden: int
) -> list[np.ndarray]:
    if kind == "linear":
        return [gen.standard_normal((p, d)) / math.sqrt(p), np.zeros(d)]
    return [
        gen.standard_normal((p, hidden)) / math.sqrt(p),
        np.zeros(hidden),
        gen.standard_normal((hidden, d)) / math.sqrt(hidden),
        np.zeros(d),
    ]
