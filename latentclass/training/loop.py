"""The training loop: stochastic gradient steps on fresh sampled NCE batches."""

from __future__ import annotations

import math
import numbers
import time
from typing import Any

import numpy as np

from .._progress import Reporter, check_progress
from .._validation import (
    as_generator,
    check_choice,
    check_integer,
    check_k,
    check_positive,
    check_tau,
    readonly,
)
from ..model import GaussianLatentClassModel, LatentClassModel, check_model
from .encoders import LinearEncoder, MLPEncoder, _init_encoder
from .optimizers import _DEFAULT_LR, _OPTIMIZERS, _SCHEDULES, SGD, Adam, _schedule_scale
from .results import TrainingHistory, TrainingResult
from .sampled_gradients import _encoder_batch_loss_and_grad, _table_loss_and_grad
from .unit_ball import _init_table, _project_rows, _tangent_cone


def _resolve_optimum(model: LatentClassModel, k: int, tau: float, optimum: Any, loss: Any = None):
    """``(loss, certified)`` of the reference optimum, or ``(None, None)``."""
    if optimum is None:
        return None, None
    if isinstance(optimum, str):
        if optimum != "auto":
            raise ValueError(
                f"optimum must be 'auto', None, a float or an OptimalRepresentation, got {optimum!r}"
            )
        from ..optimize import optimal_representation

        opt = optimal_representation(model, k, tau, loss=loss)
        return float(opt.loss), bool(opt.certified)
    if isinstance(optimum, numbers.Real) and not isinstance(optimum, (bool, np.bool_)):
        v = float(optimum)
        if not math.isfinite(v):
            raise ValueError(f"optimum must be finite, got {optimum!r}")
        return v, None
    if hasattr(optimum, "loss"):
        return float(optimum.loss), bool(getattr(optimum, "certified", False))
    raise TypeError(
        f"optimum must be 'auto', None, a float or an OptimalRepresentation, got {type(optimum).__name__}"
    )


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
    loss: Any = None,
) -> TrainingResult:
    """Train a representation by stochastic gradient steps on sampled NCE batches.

    Each step draws ``batch_size`` fresh examples with ``k`` negatives from ``model``
    (SPEC §1), computes the mean loss ``ℓ`` (SPEC §2) and its exact gradient, and takes
    one optimiser step.  Finite models train an embedding table ``F (n × d)`` whose rows
    are *projected* back onto the unit ball after every step (the optimiser receives the
    gradient projected onto the tangent cone of the ball, see :mod:`.unit_ball`);
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
        ``True``: a tqdm bar on stderr; ``None``/``False``: silent; a callable is called
        as ``progress(p)`` after every step with a :class:`~latentclass._progress.Progress`
        ``p``: ``p.done`` steps of ``p.total``, ``p.stage == "train"``, ``p.detail`` the
        batch loss (a float).
    eval_every : int, optional
        Record the history every this many steps (default ``max(1, steps // 100)``); the
        last step is always recorded.
    optimum : "auto", None, float or OptimalRepresentation
        Finite models: the reference optimum for the gap.  ``"auto"`` computes
        ``optimal_representation(model, k, tau)`` (its time is *not* counted in the
        timings); ``None`` records no gap.
    loss : loss object or name, optional
        The contrastive loss of :mod:`latentclass.losses` (SPEC §8; default logistic, every
        result unchanged); its (sub)gradient in the scores drives the steps, and the
        population loss, optimum and gap are those of this loss.

    Returns
    -------
    TrainingResult
    """
    check_model(model, gaussian=True)
    finite = isinstance(model, LatentClassModel)
    k = check_k(k)
    tau = check_tau(tau)
    steps = check_integer(steps, "steps", minimum=1)
    batch_size = check_integer(batch_size, "batch_size", minimum=1)
    optimizer = check_choice(optimizer, "optimizer", _OPTIMIZERS)
    schedule = check_choice(schedule, "schedule", _SCHEDULES)
    lr = _DEFAULT_LR[optimizer] if lr is None else check_positive(lr, "lr")
    final = check_positive(final_lr_fraction, "final_lr_fraction")
    if final > 1.0:
        raise ValueError(f"final_lr_fraction must be in (0, 1], got {final_lr_fraction!r}")
    if dim is not None:
        dim = check_integer(dim, "dim", minimum=1)
    eval_every = (
        max(1, steps // 100)
        if eval_every is None
        else check_integer(eval_every, "eval_every", minimum=1)
    )
    check_progress(progress)
    gen = as_generator(rng)
    from ..losses.objects import is_logistic, resolve_loss

    lo = resolve_loss(loss)
    other = None if is_logistic(lo) else lo

    if isinstance(model, LatentClassModel):  # finite
        from ..population import population_loss

        d = model.n_points if dim is None else dim
        opt_loss, certified = _resolve_optimum(model, k, tau, optimum, other)
        params = [_init_table(gen, model.n_points, d, 0.5)]
        kind = "table"

        def batch_step(batch):
            loss, grad = _table_loss_and_grad(
                params[0], batch.anchors, batch.positives, batch.negatives, tau, loss=other
            )
            return loss, [_tangent_cone(params[0], grad)]
    else:
        kind = check_choice(encoder, "encoder", ("linear", "mlp"))
        hidden = check_integer(hidden, "hidden", minimum=1)
        d = model.n_classes if dim is None else dim
        opt_loss, certified = None, None
        params = _init_encoder(gen, kind, model.dim, d, hidden)

        def batch_step(batch):
            return _encoder_batch_loss_and_grad(
                kind, params, batch.anchors, batch.positives, batch.negatives, tau, other
            )

    opt = Adam(lr) if optimizer == "adam" else SGD(lr, momentum=0.9)
    rec_step, rec_loss, rec_time, rec_pop = [], [], [], []
    window: list[float] = []
    t_train = t_eval = 0.0
    bar = Reporter(False if progress is None else progress, steps, "train")
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
            bar.update(loss, f"loss={loss:.4f}" if (step + 1) % 50 == 0 else None)
            if (step + 1) % eval_every == 0 or step + 1 == steps:
                t1 = time.perf_counter()
                rec_step.append(step + 1)
                rec_loss.append(float(np.mean(window)))
                rec_time.append(t_train)
                window = []
                if isinstance(model, LatentClassModel):  # finite
                    rec_pop.append(float(population_loss(model, params[0], k, tau, loss=other)))
                t_eval += time.perf_counter() - t1
    finally:
        bar.close()

    pop = readonly(np.array(rec_pop)) if finite else None
    gap = readonly(pop - opt_loss) if (finite and opt_loss is not None) else None
    history = TrainingHistory(
        readonly(np.array(rec_step)),
        readonly(np.array(rec_loss)),
        readonly(np.array(rec_time)),
        pop,
        gap,
    )
    if finite:
        assert pop is not None  # recorded for finite models
        F, enc = readonly(params[0]), None
        final_pop = float(pop[-1])
    else:
        F = None
        enc = LinearEncoder(*params) if kind == "linear" else MLPEncoder(*params)
        final_pop = None
    return TrainingResult(
        k=k,
        tau=tau,
        F=F,
        encoder=enc,
        history=history,
        population_loss=final_pop,
        optimum_loss=opt_loss,
        optimum_certified=certified,
        gap=None if gap is None else float(gap[-1]),
        steps=steps,
        batch_size=batch_size,
        optimizer=optimizer,
        schedule=schedule,
        lr=lr,
        train_seconds=t_train,
        eval_seconds=t_eval,
        seconds_per_step=t_train / steps,
    )
