"""The sampled NCE (InfoNCE) loss of a representation on a contrastive sample (SPEC §2).

For one example ``(x, x⁺, x⁻_1..x⁻_k)`` and temperature ``τ``::

    ℓ = log(1 + Σ_i exp((f(x)·f(x⁻_i) − f(x)·f(x⁺)) / τ))

computed as ``logsumexp([0, z_1, ..., z_k])`` so that large scores never overflow.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import logsumexp

from ._validation import NORM_TOL, check_representation, check_tau
from .losses.objects import is_logistic, resolve_loss
from .model import ContrastiveSample

__all__ = ["LossEstimate", "nce_loss", "per_example_nce_loss"]

#: Examples processed per block (bounds the ``(block, k, d)`` temporary).
_BLOCK_ELEMENTS = 1 << 22


@dataclass(frozen=True)
class LossEstimate:
    """A Monte-Carlo estimate: sample ``mean``, its standard error ``stderr``, sample size ``n``."""

    mean: float
    stderr: float
    n: int

    def z_score(self, value: float) -> float:
        """``(mean − value) / stderr``: how many standard errors ``value`` lies from the estimate.

        Parameters
        ----------
        value : float
            A reference value (e.g. the exact population loss).

        Returns
        -------
        float
            The z-score; ``0`` if ``stderr = 0`` and ``value == mean``, else ``inf`` when
            ``stderr = 0``.
        """
        return (
            (self.mean - value) / self.stderr
            if self.stderr > 0
            else (0.0 if self.mean == value else math.inf)
        )

    def __repr__(self) -> str:
        return f"LossEstimate(mean={self.mean:.6g}, stderr={self.stderr:.2g}, n={self.n})"

    def _repr_html_(self) -> str:
        """A table for Jupyter: mean, standard error, sample size."""
        from ._tables import html_table

        return html_table(
            "LossEstimate", [("mean", self.mean), ("stderr", self.stderr), ("n", self.n)]
        )


def _scores_to_losses(pos: np.ndarray, neg: np.ndarray, tau: float, loss: Any = None) -> np.ndarray:
    """``logsumexp([0, (neg − pos)/τ])`` row by row; ``pos`` (b,), ``neg`` (b, k); for another
    ``loss`` object, ``loss(pos/τ, neg/τ, tau)`` (SPEC §8.1)."""
    if loss is not None:
        return loss._value_and_grad(pos / tau, neg / tau, tau, False)[0]
    z = np.empty((neg.shape[0], neg.shape[1] + 1))
    z[:, 0] = 0.0
    np.subtract(neg, pos[:, None], out=z[:, 1:])
    z[:, 1:] /= tau
    return logsumexp(z, axis=1)


def _encode(F: Callable, X: np.ndarray, name: str = "F") -> np.ndarray:
    """Apply an encoder to an ``(N, p)`` array and check its output is ``(N, d)`` in the unit ball."""
    out = np.asarray(F(X), dtype=float)
    if out.ndim != 2 or out.shape[0] != X.shape[0]:
        raise ValueError(
            f"{name} must map an (N, p) array to an (N, d) array, got shape {out.shape} for N={X.shape[0]}"
        )
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} returned non-finite representations")
    norms = np.sqrt(np.einsum("ij,ij->i", out, out))
    if norms.size and norms.max() > 1.0 + NORM_TOL:
        raise ValueError(f"{name} outputs must have norm <= 1, got norm {norms.max()!r}")
    return out


def per_example_nce_loss(
    F: Any, sample: ContrastiveSample, tau: float = 1.0, *, loss: Any = None
) -> np.ndarray:
    """The loss ``ℓ`` of every example of ``sample``, shape ``(size,)`` (SPEC §2).

    ``F`` is an ``(n, d)`` array with rows in the unit ball for a finite model, or a
    callable encoder mapping ``(N, p)`` inputs to ``(N, d)`` for a continuous model.
    ``loss`` (object or name, default logistic) is any loss of :mod:`latentclass.losses`
    (SPEC §8.1).
    """
    if not isinstance(sample, ContrastiveSample):
        raise TypeError(f"sample must be a ContrastiveSample, got {type(sample).__name__}")
    tau = check_tau(tau)
    lo = resolve_loss(loss)
    other = None if is_logistic(lo) else lo
    size, k = sample.size, sample.k
    out = np.empty(size)
    if sample.n_points is not None:
        if callable(F) and not isinstance(F, np.ndarray):
            raise TypeError(
                "F must be an (n, d) array for a sample from a finite model, got a callable"
            )
        F = check_representation(F, sample.n_points)
        d = F.shape[1]
        block = max(1, _BLOCK_ELEMENTS // max(1, k * d))
        for start in range(0, size, block):  # blocks of examples bound memory
            sl = slice(start, start + block)
            fa = F[sample.anchors[sl]]
            pos = np.einsum("bd,bd->b", fa, F[sample.positives[sl]])
            neg = np.einsum("bd,bkd->bk", fa, F[sample.negatives[sl]])
            out[sl] = _scores_to_losses(pos, neg, tau, other)
        return out
    if not callable(F):
        raise TypeError("F must be a callable encoder for a sample from a continuous model")
    p = sample.anchors.shape[1]
    block = max(1, _BLOCK_ELEMENTS // max(1, (k + 2) * p))
    for start in range(0, size, block):
        sl = slice(start, start + block)
        fa = _encode(F, sample.anchors[sl])
        fp = _encode(F, sample.positives[sl])
        b = fa.shape[0]
        fn = _encode(F, sample.negatives[sl].reshape(b * k, p)).reshape(b, k, -1)
        if fn.shape[2] != fa.shape[1] or fp.shape[1] != fa.shape[1]:
            raise ValueError("F must return the same output dimension for every input")
        pos = np.einsum("bd,bd->b", fa, fp)
        neg = np.einsum("bd,bkd->bk", fa, fn)
        out[sl] = _scores_to_losses(pos, neg, tau, other)
    return out


def nce_loss(
    F: Any, sample: ContrastiveSample, tau: float = 1.0, *, loss: Any = None
) -> LossEstimate:
    """Empirical NCE loss of ``F`` on ``sample`` with its standard error (SPEC §2).

    Parameters
    ----------
    F : ndarray of shape (n, d) or callable
        Representation of a finite model (rows of norm ``<= 1``) or an encoder for a
        continuous model, mapping ``(N, p)`` inputs to ``(N, d)`` outputs of norm ``<= 1``.
    sample : ContrastiveSample
        At least two examples (the standard error needs two).
    tau : float
        Temperature ``τ > 0``.
    loss : loss object or name, optional
        Default the logistic (InfoNCE) loss; any loss of :mod:`latentclass.losses` (SPEC §8.1),
        applied to the scores divided by ``τ``.

    Returns
    -------
    LossEstimate
        ``mean = (1/N) Σ ℓ_i``, ``stderr = std(ℓ, ddof=1) / √N``, ``n = N``.
    """
    if isinstance(sample, ContrastiveSample) and sample.size < 2:
        raise ValueError(
            f"sample must have at least 2 examples to estimate a standard error, got {sample.size}"
        )
    losses = per_example_nce_loss(F, sample, tau, loss=loss)
    n = losses.size
    return LossEstimate(float(losses.mean()), float(losses.std(ddof=1) / math.sqrt(n)), int(n))
