"""The sampled NCE loss of a batch and its exact gradient, for tables and encoders.

For one example with anchor ``a``, positive ``p`` and negatives ``n_1..n_k`` the loss is
``ℓ = log(1 + Σ_i e^{s_i})`` with ``s_i = (f(a)·f(n_i) − f(a)·f(p)) / τ`` (SPEC §2), computed
as a log-sum-exp over ``[0, s_1, …, s_k]``.  With the softmax weights
``w_i = e^{s_i} / (1 + Σ_j e^{s_j})`` and ``W = Σ_i w_i`` its gradient is::

    ∂ℓ/∂f(a)   = (Σ_i w_i f(n_i) − W f(p)) / τ
    ∂ℓ/∂f(p)   = −W f(a) / τ
    ∂ℓ/∂f(n_i) = w_i f(a) / τ.

Everything is vectorised over the batch; the gradient of a table is scattered with
``numpy.bincount`` (no Python loop over examples), that of an encoder goes back through
its layers (:mod:`.encoders`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_representation, check_tau
from ..model import ContrastiveSample
from .encoders import LinearEncoder, MLPEncoder, _encoder_backward, _encoder_forward

#: Number of points up to which the table gradient goes through the ``n × n`` Gram
#: gradient (``bincount`` over ``n²`` cells, then one ``(n, n) @ (n, d)`` product).
_GRAM_ROUTE_MAX_N = 512
#: Feature entries per block of examples in the row-gather and encoder paths (bounds memory).
_BLOCK_ELEMENTS = 1 << 21


def _lse_weights(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row ``log(1 + Σ_i e^{s_i})`` and the softmax weights ``w_i`` (zero column implicit)."""
    mx = np.maximum(s.max(axis=1), 0.0)
    e = np.exp(s - mx[:, None])
    denom = np.exp(-mx) + e.sum(axis=1)
    losses = mx + np.log(denom)
    return losses, e / denom[:, None]


def _features_loss_and_grad(
    fa: np.ndarray, fp: np.ndarray, fn: np.ndarray, tau: float, total: int, loss: Any = None
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Losses of a block of examples and the gradients of ``(1/total) Σ ℓ`` w.r.t. the features.

    Returns ``(sum of ℓ over the block, ∂/∂fa, ∂/∂fp, ∂/∂fn)``.  ``loss``: a non-logistic
    loss object of :mod:`latentclass.losses` (SPEC §8.1; ``None`` is the logistic loss).
    """
    pos = np.einsum("bd,bd->b", fa, fp)
    neg = np.einsum("bd,bkd->bk", fa, fn)
    if loss is not None:
        # ℓ(fa·fp/τ, fa·fn/τ): ∂/∂fa = (g⁺ fp + Σ g_i fn_i)/τ, ∂/∂fp = g⁺ fa/τ, ∂/∂fn_i = g_i fa/τ
        vals, gp, gn = loss._value_and_grad(pos / tau, neg / tau, tau, True)
        c = 1.0 / (tau * total)
        g_fa = (np.einsum("bk,bkd->bd", gn, fn) + gp[:, None] * fp) * c
        g_fp = c * gp[:, None] * fa
        g_fn = (c * gn)[:, :, None] * fa[:, None, :]
        return float(vals.sum()), g_fa, g_fp, g_fn
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
    F: np.ndarray,
    anchors: np.ndarray,
    positives: np.ndarray,
    negatives: np.ndarray,
    tau: float,
    route: str = "auto",
    loss: Any = None,
) -> tuple[float, np.ndarray]:
    """Mean sampled loss of a table and its gradient ``(n, d)`` (no validation); ``loss`` a
    non-logistic loss object (``None``: the logistic loss)."""
    n, d = F.shape
    b, k = negatives.shape
    if route == "auto":
        route = "gram" if n <= _GRAM_ROUTE_MAX_N else "rows"
    if route == "gram" and loss is not None:
        G = F @ F.T
        pos = G[anchors, positives]
        neg = G[anchors[:, None], negatives]
        vals, gp, gn = loss._value_and_grad(pos / tau, neg / tau, tau, True)
        cells = np.concatenate(
            [(anchors[:, None] * n + negatives).ravel(), anchors * n + positives]
        )
        weights = np.concatenate([gn.ravel(), gp])
        dG = np.bincount(cells, weights=weights, minlength=n * n).reshape(n, n) / (tau * b)
        return float(vals.mean()), (dG + dG.T) @ F
    if route == "gram":
        # ℓ depends on F only through G = F Fᵀ: s_i = (G[a, n_i] − G[a, p]) / τ, so
        # ∂L/∂G is a sparse n × n matrix of softmax weights and ∂L/∂F = (Ĝ + Ĝᵀ) F.
        G = F @ F.T
        pos = G[anchors, positives]
        neg = G[anchors[:, None], negatives]
        losses, w = _lse_weights((neg - pos[:, None]) / tau)
        wsum = w.sum(axis=1)
        cells = np.concatenate(
            [(anchors[:, None] * n + negatives).ravel(), anchors * n + positives]
        )
        weights = np.concatenate([w.ravel(), -wsum])
        dG = np.bincount(cells, weights=weights, minlength=n * n).reshape(n, n) / (tau * b)
        return float(losses.mean()), (dG + dG.T) @ F
    # gather rows, scatter the row gradients with np.add.at; blocks of examples bound memory
    grad = np.zeros_like(F)
    total = 0.0
    for sl in _blocks(b, k, d):
        a, p, neg = anchors[sl], positives[sl], negatives[sl]
        loss_sum, g_fa, g_fp, g_fn = _features_loss_and_grad(F[a], F[p], F[neg], tau, b, loss)
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
        raise ValueError(
            "sample must come from a continuous model (GaussianLatentClassModel) for an encoder"
        )
    return sample


def sampled_loss_and_grad(
    F: Any, sample: ContrastiveSample, tau: float = 1.0
) -> tuple[float, np.ndarray]:
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
        Its exact gradient with respect to ``F`` (softmax weights, see :mod:`.sampled_gradients`).
    """
    sample = _check_sample(sample, True)
    assert sample.n_points is not None  # a finite model's sample (checked above)
    F = check_representation(F, sample.n_points)
    tau = check_tau(tau)
    return _table_loss_and_grad(F, sample.anchors, sample.positives, sample.negatives, tau)


def _encoder_batch_loss_and_grad(kind, params, anchors, positives, negatives, tau, loss=None):
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
        loss_sum, g_fa, g_fp, g_fn = _features_loss_and_grad(fa, fp, fn, tau, b, loss)
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
        raise TypeError(
            f"encoder must be a LinearEncoder or MLPEncoder, got {type(encoder).__name__}"
        )
    sample = _check_sample(sample, False)
    tau = check_tau(tau)
    if sample.anchors.shape[1] != encoder.input_dim:
        raise ValueError(
            f"sample inputs have dimension {sample.anchors.shape[1]}, encoder expects {encoder.input_dim}"
        )
    loss, grads = _encoder_batch_loss_and_grad(
        encoder.kind, encoder.params, sample.anchors, sample.positives, sample.negatives, tau
    )
    return loss, tuple(grads)
