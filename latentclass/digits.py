"""The paper's empirical question on real images: scikit-learn's bundled hand-written digits.

Awasthi, Dikkala & Kamath (ICML 2022) ask whether more negatives hurt downstream; they train
on CIFAR.  Here the data are the UCI digits that ship inside scikit-learn's wheel
(:func:`sklearn.datasets.load_digits`: 1797 images of 8×8 pixels, 10 classes, no download),
split once, stratified, into a training and a held-out part.  Training follows the latent-
class recipe (SPEC §1, §2): an anchor image drawn from the training split, its **positive
another image of the same digit**, and ``k`` negatives drawn uniformly from the training split
(collisions with the anchor's class included).  The encoders are the library's normalised
linear map and one-hidden-layer ``tanh`` MLP (:mod:`latentclass.training.encoders`), trained
with Adam and a cosine schedule for a **fixed number of steps** whatever ``k``.

For every encoder, ``k`` and seed the experiment records the held-out mean-classifier loss and
accuracy (class means from the training embeddings, SPEC §6.1), :func:`latentclass.diagnose`
of the held-out embeddings (SPEC §10), and beside them the theory's prediction for the
empirical class frequencies ``ρ̂`` of the training split: the certified optimum of the
class-level model (:func:`latentclass.optimal_representation`), its downstream loss and
accuracy, and the distance ``max |M − G*|`` of the measured class Gram matrix to it.
Summaries over seeds carry 95% Student-t confidence intervals.

scikit-learn is an optional dependency: ``pip install 'latentclass[data]'``.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._provenance import versions
from ._validation import check_integer, check_positive, check_tau
from .diagnose import class_mean_classifier, diagnose
from .downstream import mean_classifier_metrics
from .model import LatentClassModel
from .optimize import optimal_representation
from .training.encoders import _encoder_backward, _encoder_forward, _init_encoder
from .training.optimizers import Adam, _schedule_scale
from .training.sampled_gradients import _encoder_batch_loss_and_grad, _features_loss_and_grad

__all__ = [
    "DATA_EXTRA_HINT",
    "DigitsData",
    "DigitsExperiment",
    "load_digits_split",
    "run_digits_experiment",
    "sklearn_available",
]

#: How to install the optional dependency (one line, shown wherever it is missing).
DATA_EXTRA_HINT = "scikit-learn is not installed: pip install 'latentclass[data]'"
#: The default grid of negatives (up to 256).
DEFAULT_KS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
#: The grid of the quick mode.
QUICK_KS = (1, 16, 256)
_ENCODERS = ("linear", "mlp")


def sklearn_available() -> bool:
    """Whether scikit-learn (the ``data`` extra) can be imported."""
    import importlib.util

    return importlib.util.find_spec("sklearn") is not None


@dataclass(frozen=True, eq=False, repr=False)
class DigitsData:
    """A stratified split of the bundled digits, scaled to ``[0, 1]`` and centred on the
    training mean pixel (training statistics only).

    Attributes
    ----------
    X_train, X_test : ndarray, shape (N, 64)
    y_train, y_test : ndarray of int, shape (N,)
    seed : int
        The seed of the split.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    seed: int

    def __repr__(self) -> str:
        return (
            f"DigitsData(train={self.X_train.shape[0]}, test={self.X_test.shape[0]}, "
            f"pixels={self.X_train.shape[1]}, classes={np.unique(self.y_train).size}, "
            f"seed={self.seed})"
        )


def load_digits_split(test_fraction: float = 0.3, seed: int = 0) -> DigitsData:
    """The bundled digits (no download), split per class into training and held-out images.

    Parameters
    ----------
    test_fraction : float
        Fraction of each class held out, in ``(0, 1)``.
    seed : int
        Seed of the split (a permutation within each class).

    Returns
    -------
    DigitsData
        Pixels divided by 16 (their maximum) and centred on the training mean image.
    """
    if not sklearn_available():
        raise ImportError(DATA_EXTRA_HINT)
    f = check_positive(test_fraction, "test_fraction")
    if not f < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    seed = check_integer(seed, "seed", minimum=0)
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X = np.asarray(bunch.data, dtype=float) / 16.0
    y = np.asarray(bunch.target, dtype=np.int64)
    gen = np.random.default_rng(seed)
    # per class: a random permutation; the first round(f · n_c) images are held out
    keys = gen.random(y.size)
    order = np.lexsort((keys, y))  # by class, random within class
    counts = np.bincount(y)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(y.size, dtype=np.int64)
    rank[order] = np.arange(y.size) - np.repeat(starts, counts)
    held = rank < np.round(f * counts)[y]
    centre = X[~held].mean(axis=0)
    from ._validation import readonly

    return DigitsData(
        readonly(X[~held] - centre),
        readonly(y[~held]),
        readonly(X[held] - centre),
        readonly(y[held]),
        seed,
    )


# --------------------------------------------------------------------------- training
def _positive_sampler(y: np.ndarray):
    """``sample(anchors, gen)``: for each anchor another index of the same class, uniformly."""
    order = np.argsort(y, kind="stable")
    counts = np.bincount(y)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(y.size, dtype=np.int64)
    rank[order] = np.arange(y.size) - np.repeat(starts, counts)

    def sample(anchors: np.ndarray, gen: np.random.Generator) -> np.ndarray:
        c = y[anchors]
        j = (gen.random(anchors.size) * (counts[c] - 1)).astype(np.int64)
        j += j >= rank[anchors]  # skip the anchor itself
        return order[starts[c] + j]

    return sample


def _batch_loss_and_grad(
    kind: str,
    params: Sequence[np.ndarray],
    X: np.ndarray,
    a: np.ndarray,
    pos: np.ndarray,
    neg: np.ndarray,
    tau: float,
    route: str = "auto",
) -> tuple[float, list[np.ndarray]]:
    """Mean sampled NCE loss (SPEC §2) of a batch indexed into ``X`` and its parameter gradient.

    ``route="gather"`` encodes the ``B(k + 2)`` rows of the batch
    (:func:`latentclass.training.sampled_gradients._encoder_batch_loss_and_grad`);
    ``route="table"`` encodes every row of ``X`` once, gathers the batch's features from that
    table and scatters their gradients back before one backward pass — the same gradient at
    a cost independent of ``k``.  ``"auto"`` takes the cheaper one (``table`` when
    ``B(k + 2) > n``).
    """
    b, k = neg.shape
    if route == "auto":
        route = "table" if b * (k + 2) > X.shape[0] else "gather"
    if route == "gather":
        return _encoder_batch_loss_and_grad(kind, params, X[a], X[pos], X[neg], tau)
    F, cache = _encoder_forward(kind, params, X)
    loss_sum, g_fa, g_fp, g_fn = _features_loss_and_grad(F[a], F[pos], F[neg], tau, b)
    gF = np.zeros_like(F)
    np.add.at(
        gF,
        np.concatenate([a, pos, neg.ravel()]),
        np.concatenate([g_fa, g_fp, g_fn.reshape(-1, F.shape[1])]),
    )
    return loss_sum / b, _encoder_backward(kind, params, cache, gF)


def _train_encoder(
    data: DigitsData,
    kind: str,
    k: int,
    tau: float,
    *,
    dim: int,
    hidden: int,
    steps: int,
    batch_size: int,
    lr: float,
    init_seed: Sequence[int],
    batch_seed: Sequence[int],
) -> list[np.ndarray]:
    """Parameters after ``steps`` Adam steps on latent-class batches (unchecked)."""
    X, y = data.X_train, data.y_train
    n, p = X.shape
    params = _init_encoder(np.random.default_rng(list(init_seed)), kind, p, dim, hidden)
    gen = np.random.default_rng(list(batch_seed))
    positives = _positive_sampler(y)
    opt = Adam(lr)
    for step in range(steps):  # optimiser steps (each vectorised over the batch)
        a = gen.integers(0, n, size=batch_size)
        pos = positives(a, gen)
        neg = gen.integers(0, n, size=(batch_size, k))
        _, grads = _batch_loss_and_grad(kind, params, X, a, pos, neg, tau)
        opt.update(params, grads, _schedule_scale("cosine", step, steps, 0.01))
    return params


# --------------------------------------------------------------------------- results
def _mean_ci(values: Sequence[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% Student-t confidence interval (0 for one value)."""
    v = np.asarray(values, dtype=float)
    if v.size < 2:
        return float(v.mean()), 0.0
    from scipy.stats import t as student_t

    half = float(student_t.ppf(0.975, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return float(v.mean()), half


@dataclass(frozen=True, eq=False, repr=False)
class DigitsExperiment:
    """Held-out results per encoder, ``k`` and seed, their summaries and the theory beside them.

    Attributes
    ----------
    rows : list of dict
        One per (encoder, k, seed): ``heldout_accuracy``, ``heldout_loss`` (class means from
        the training embeddings), ``nc1``, ``nc2``, ``simplex_error``,
        ``optimum_gram_error`` and ``embedding_effective_rank`` of the held-out embeddings.
    summary : list of dict
        One per (encoder, k): the mean and 95% CI half-width (``*_ci``) of every row value
        over seeds, and the theory: ``optimum_loss``, ``optimum_certified``,
        ``predicted_loss``, ``predicted_accuracy`` (the optimum's mean classifier, SPEC §6.1).
    class_probs : ndarray
        Empirical class frequencies of the training split.
    settings : dict
        Everything that determines the run (encoders, ks, seeds, steps, batch size, τ,
        dimension, hidden width, learning rate, split).
    versions : dict
    """

    rows: list = field(default_factory=list)
    summary: list = field(default_factory=list)
    class_probs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    settings: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"DigitsExperiment(encoders={s.get('encoders')}, ks={s.get('ks')}, "
            f"seeds={s.get('seeds')}, steps={s.get('steps')}, rows={len(self.rows)})"
        )

    def curve(self, encoder: str, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ks, means, ci half-widths)`` of summary value ``name`` for one encoder."""
        rows = [r for r in self.summary if r["encoder"] == encoder]
        return (
            np.array([r["k"] for r in rows]),
            np.array([r[name] for r in rows]),
            np.array([r.get(name + "_ci", 0.0) for r in rows]),
        )

    def table(self) -> str:
        """A plain-text table of the summary."""
        head = (
            f"{'encoder':<7} {'k':>4}  {'held-out acc (95% CI)':<22} {'held-out loss':<18} "
            f"{'NC1':>7} {'simplex err':>11}  {'theory: loss':>12} {'acc':>5}"
        )
        lines = [head, "-" * len(head)]
        for r in self.summary:
            lines.append(
                f"{r['encoder']:<7} {r['k']:>4}  "
                f"{r['heldout_accuracy']:.4f} ± {r['heldout_accuracy_ci']:.4f}{'':<7} "
                f"{r['heldout_loss']:.4f} ± {r['heldout_loss_ci']:.4f}  "
                f"{r['nc1']:7.3f} {r['simplex_error']:11.4f}  "
                f"{r['predicted_loss']:12.4f} {r['predicted_accuracy']:5.3f}"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-ready: rows, summary, class frequencies, settings and versions."""
        return {
            "settings": self.settings,
            "class_probs": np.asarray(self.class_probs).tolist(),
            "summary": self.summary,
            "rows": self.rows,
            "versions": self.versions,
        }

    def to_json(self, path: str | None = None) -> str:
        """The JSON text of :meth:`to_dict`; written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=1, allow_nan=False)
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
        return text


_ROW_VALUES = (
    "heldout_accuracy",
    "heldout_loss",
    "nc1",
    "nc2",
    "simplex_error",
    "optimum_gram_error",
    "embedding_effective_rank",
)


def _run_all(runs, data, rho, theory, tau, dim, hidden, steps, batch_size, lr, root, bar):
    """Train and evaluate every (encoder, k, seed) of ``runs``; one row each (unchecked)."""
    rows: list[dict[str, Any]] = []
    for enc, k, s in runs:  # one training run each
        e_idx = _ENCODERS.index(enc)
        params = _train_encoder(
            data,
            enc,
            k,
            tau,
            dim=dim,
            hidden=hidden,
            steps=steps,
            batch_size=batch_size,
            lr=lr,
            init_seed=(root, s, e_idx),
            batch_seed=(root, s, e_idx, k),
        )
        f_train = _encoder_forward(enc, params, data.X_train)[0]
        f_test = _encoder_forward(enc, params, data.X_test)[0]
        counts = np.bincount(data.y_train, minlength=rho.size)
        means = np.zeros((rho.size, f_train.shape[1]))
        np.add.at(means, data.y_train, f_train)
        means /= counts[:, None]
        loss, acc = class_mean_classifier(f_test, data.y_test, means, tau)
        diag = diagnose(f_test, data.y_test, tau=tau, normalize="none")
        opt = theory[k][0]
        rows.append(
            dict(
                encoder=enc,
                k=k,
                seed=s,
                heldout_accuracy=acc,
                heldout_loss=loss,
                nc1=diag.nc1,
                nc2=diag.nc2,
                simplex_error=diag.simplex_error,
                optimum_gram_error=float(np.max(np.abs(diag.class_gram - opt.gram))),
                embedding_effective_rank=diag.embedding_effective_rank,
            )
        )
        if bar is not None:
            bar.update()
    return rows


def run_digits_experiment(
    ks: Sequence[int] | None = None,
    *,
    encoders: Sequence[str] = _ENCODERS,
    seeds: int | None = None,
    steps: int | None = None,
    batch_size: int | None = None,
    tau: float = 0.5,
    dim: int = 16,
    hidden: int = 64,
    lr: float = 0.01,
    test_fraction: float = 0.3,
    quick: bool = False,
    rng: Any = 0,
    progress: Any = None,
) -> DigitsExperiment:
    """Train encoders on the bundled digits for each ``k`` and seed; evaluate held out.

    Parameters
    ----------
    ks : sequence of int, optional
        Numbers of negatives (each ``>= 1``); default ``1, 2, 4, …, 256`` (quick:
        ``1, 16, 256``).
    encoders : sequence of {"linear", "mlp"}
        Normalised encoders ``f(x) = z/‖z‖`` (SPEC §2).
    seeds : int, optional
        Independent runs per (encoder, k), ``>= 2`` for a confidence interval; default 5
        (quick: 3).
    steps, batch_size : int, optional
        The fixed budget, the same for every ``k``: default 600 steps of 64 anchors (quick:
        40 of 16).
    tau : float
        Temperature of training, of the mean classifier and of the optimum.
    dim, hidden : int
        Output dimension (``>= 9`` leaves room for the 10-class simplex) and MLP width.
    lr : float
        Peak Adam learning rate (cosine decay to 1% of it).
    test_fraction : float
        Fraction of each class held out.
    quick : bool
        Small defaults (a few seconds) for tests and figures.
    rng : int or numpy.random.Generator
        Root seed: the split, every initialisation and every batch derive from it, so the
        same seed gives the same bits.  Initialisations depend on (seed, encoder) only, so
        the runs of one seed share them across ``k`` (paired comparisons).
    progress : None or bool
        A tqdm bar over the runs on stderr; ``None``: only when stderr is a terminal.

    Returns
    -------
    DigitsExperiment
    """
    if ks is None:
        ks = QUICK_KS if quick else DEFAULT_KS
    ks = [check_integer(k, "ks", minimum=1) for k in ks]
    if not ks:
        raise ValueError("ks must name at least one number of negatives")
    if len(set(ks)) != len(ks):
        raise ValueError(f"ks must not repeat a value, got {ks}")
    encoders = list(encoders)
    for e in encoders:
        if e not in _ENCODERS:
            raise ValueError(f"encoders must be among {', '.join(_ENCODERS)}, got {e!r}")
    if not encoders:
        raise ValueError("encoders must name at least one encoder")
    if seeds is None:
        seeds = 3 if quick else 5
    if steps is None:
        steps = 40 if quick else 600
    if batch_size is None:
        batch_size = 16 if quick else 64
    seeds = check_integer(seeds, "seeds", minimum=1)
    steps = check_integer(steps, "steps", minimum=1)
    batch_size = check_integer(batch_size, "batch_size", minimum=1)
    tau = check_tau(tau)
    dim = check_integer(dim, "dim", minimum=2)
    hidden = check_integer(hidden, "hidden", minimum=1)
    lr = check_positive(lr, "lr")
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be None or a bool, got {type(progress).__name__}")
    if not sklearn_available():
        raise ImportError(DATA_EXTRA_HINT)
    if isinstance(rng, np.random.Generator):
        root = int(rng.integers(0, 2**62))
    else:
        root = check_integer(0 if rng is None else rng, "rng", minimum=0)

    data = load_digits_split(test_fraction, seed=root % (2**32))
    rho = np.bincount(data.y_train) / data.y_train.size
    model = LatentClassModel.one_point_per_class(rho)
    theory = {}
    for k in ks:  # the certified optimum for the empirical frequencies, once per k
        opt = optimal_representation(model, k, tau)
        dm = mean_classifier_metrics(model, opt.F, tau)
        theory[k] = (opt, float(dm.loss), float(dm.accuracy))

    show = sys.stderr is not None and sys.stderr.isatty() if progress is None else progress
    runs = [(e, k, s) for e in encoders for k in ks for s in range(seeds)]
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=len(runs), desc="digits", unit="run", file=sys.stderr, leave=False)
    # small matrices: one BLAS thread is several times faster than two (thread hand-offs
    # dominate a 1257 x 64 product, worse on a loaded machine)
    from threadpoolctl import threadpool_limits

    try:
        with threadpool_limits(limits=1, user_api="blas"):
            rows = _run_all(
                runs, data, rho, theory, tau, dim, hidden, steps, batch_size, lr, root, bar
            )
    finally:
        if bar is not None:
            bar.close()

    summary = []
    for enc in encoders:
        for k in ks:
            sel = [r for r in rows if r["encoder"] == enc and r["k"] == k]
            rec: dict[str, Any] = {"encoder": enc, "k": k, "n_seeds": len(sel)}
            for name in _ROW_VALUES:
                rec[name], rec[name + "_ci"] = _mean_ci([r[name] for r in sel])
            opt, pl, pa = theory[k]
            rec.update(
                optimum_loss=float(opt.loss),
                optimum_certified=bool(opt.certified),
                predicted_loss=pl,
                predicted_accuracy=pa,
            )
            summary.append(rec)
    settings = dict(
        dataset="sklearn.datasets.load_digits",
        encoders=encoders,
        ks=ks,
        seeds=seeds,
        steps=steps,
        batch_size=batch_size,
        tau=tau,
        dim=dim,
        hidden=hidden,
        lr=lr,
        test_fraction=test_fraction,
        rng=root,
        n_train=int(data.y_train.size),
        n_test=int(data.y_test.size),
        quick=bool(quick),
    )
    return DigitsExperiment(rows, summary, rho, settings, versions())
