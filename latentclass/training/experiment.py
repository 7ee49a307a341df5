"""The training experiment: sampled-negative training for several ``k`` against the certified optimum."""

from __future__ import annotations

import json
import numbers
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import as_generator, check_integer, check_k, check_tau
from ..model import GaussianLatentClassModel, LatentClassModel
from .evaluation import DownstreamEstimate, heldout_mean_classifier
from .loop import train
from .optimizers import _DEFAULT_LR
from .results import TrainingResult

#: Peak learning rate of the Gaussian model's linear encoder.
_ENCODER_LR = 0.01


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
        return (
            f"TrainingRow(model={self.model!r}, k={self.k}{gap}, "
            f"downstream_accuracy={self.downstream_accuracy:.4f})"
        )


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
    ("model", "{}"),
    ("k", "{}"),
    ("gap", "{:.2e}"),
    ("simplex_error", "{:.3f}"),
    ("collapse_error", "{:.3f}"),
    ("gram_error", "{:.3f}"),
    ("downstream_accuracy", "{:.4f}"),
    ("downstream_accuracy_stderr", "{:.4f}"),
    ("optimum_downstream_accuracy", "{:.4f}"),
    ("downstream_loss", "{:.4f}"),
    ("optimum_downstream_loss", "{:.4f}"),
    ("train_seconds", "{:.2f}"),
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
        """The row of one ``(model, k)``.

        Parameters
        ----------
        model : str
            A model name of the experiment (``"uniform"``, ``"zipf"``, ``"gaussian"``).
        k : int
            One of :attr:`ks`.

        Returns
        -------
        TrainingRow
            ``KeyError`` if the experiment has no such ``(model, k)``.
        """
        for r in self.rows:
            if r.model == model and r.k == k:
                return r
        raise KeyError(f"no row for model={model!r}, k={k}")

    def curve(self, model: str, k: int) -> TrainingCurve:
        """The training curve of one ``(model, k)``.

        Parameters
        ----------
        model : str
            A model name of the experiment (``"uniform"``, ``"zipf"``, ``"gaussian"``).
        k : int
            One of :attr:`ks`.

        Returns
        -------
        TrainingCurve
            ``KeyError`` if the experiment has no such ``(model, k)``.
        """
        for c in self.curves:
            if c.model == model and c.k == k:
                return c
        raise KeyError(f"no curve for model={model!r}, k={k}")

    def series(self, model: str, name: str) -> np.ndarray:
        """``np.array([getattr(row(model, k), name) for k in ks])`` (``nan`` where ``None``).

        Parameters
        ----------
        model : str
            A model name of the experiment.
        name : str
            A field of :class:`TrainingRow`.

        Returns
        -------
        ndarray, shape (len(ks),)
        """
        if name not in TrainingRow.__dataclass_fields__:
            raise ValueError(f"name must be a TrainingRow field, got {name!r}")
        vals = [getattr(self.row(model, k), name) for k in self.ks]
        return np.array([np.nan if v is None else v for v in vals], dtype=float)

    def to_pandas(self) -> Any:
        """:attr:`rows` as a :class:`pandas.DataFrame`, one row per ``(model, k)`` (needs pandas).

        Columns the fields of :class:`TrainingRow`, nullable dtypes (``Float64``, ``Int64``,
        ``boolean``, ``string``); a quantity a model does not have (e.g. ``gap`` for the
        Gaussian model) is ``pd.NA``, never NaN.  ``DataFrame.attrs`` holds ``tau``, ``ks``
        and the settings.

        Returns
        -------
        pandas.DataFrame
        """
        from .._tables import rows_to_frame

        columns = list(TrainingRow.__dataclass_fields__)
        return rows_to_frame(
            [r.as_dict() for r in self.rows],
            columns,
            float_columns=[c for c in columns if c not in ("model", "k", "optimum_certified")],
            attrs={"tau": self.tau, "ks": list(self.ks), **dict(self.settings)},
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dictionary (rows, curves, settings).

        Returns
        -------
        dict
            ``ks``, ``tau``, ``models``, ``descriptions``, ``settings``, ``rows`` and ``curves``
            as plain lists, strings and numbers.
        """
        return {
            "ks": list(self.ks),
            "tau": self.tau,
            "models": list(self.models),
            "descriptions": dict(self.descriptions),
            "settings": dict(self.settings),
            "rows": [r.as_dict() for r in self.rows],
            "curves": [
                {
                    "model": c.model,
                    "k": c.k,
                    "step": c.step.tolist(),
                    "batch_loss": c.batch_loss.tolist(),
                    "gap": None if c.gap is None else c.gap.tolist(),
                }
                for c in self.curves
            ],
        }

    def to_json(self, path: str | None = None) -> str:
        """The table as JSON (:meth:`to_dict` plus ``"versions"``, the library, Python,
        numpy and scipy versions that computed it); written to ``path`` if given.

        Parameters
        ----------
        path : str, optional
            File to write; ``None`` only returns the text.

        Returns
        -------
        str
            The JSON text.
        """
        from .._provenance import versions

        text = json.dumps({**self.to_dict(), "versions": versions()}, indent=1)
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
        return text

    def table(self) -> str:
        """Plain-text table, one line per row (``-`` where a value does not apply).

        Returns
        -------
        str
        """
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

    def _repr_html_(self) -> str:
        """A table for Jupyter: one row per ``(model, k)`` (the fields of ``TrainingRow``)."""
        from .._html import rows_html

        cols = list(TrainingRow.__dataclass_fields__)
        return rows_html(
            f"TrainingExperiment: {len(self.rows)} rows",
            cols,
            [r.as_dict() for r in self.rows],
            note=f"tau={self.tau:g}, ks={list(self.ks)}",
        )


def _table_row(
    label: str,
    model: LatentClassModel,
    k: int,
    tau: float,
    res: TrainingResult,
    opt: Any,
    optimum_seconds: float,
) -> TrainingRow:
    """The row of a finite model: the trained table beside the certified optimum ``opt``."""
    from ..downstream import mean_classifier_accuracy, mean_classifier_loss
    from ..structure import structure

    st, st_opt = structure(model, res.F), structure(model, opt.F)
    return TrainingRow(
        model=label,
        k=k,
        population_loss=res.population_loss,
        optimum_loss=res.optimum_loss,
        optimum_certified=res.optimum_certified,
        gap=res.gap,
        simplex_error=st.simplex_error,
        collapse_error=st.collapse_error,
        optimum_simplex_error=st_opt.simplex_error,
        gram_error=float(np.abs(st.class_gram - st_opt.class_gram).max()),
        downstream_loss=float(mean_classifier_loss(model, res.F, tau)),
        downstream_loss_stderr=0.0,
        downstream_accuracy=float(mean_classifier_accuracy(model, res.F)),
        downstream_accuracy_stderr=0.0,
        optimum_downstream_loss=float(mean_classifier_loss(model, opt.F, tau)),
        optimum_downstream_accuracy=float(mean_classifier_accuracy(model, opt.F)),
        final_batch_loss=float(res.history.batch_loss[-1]),
        train_seconds=res.train_seconds,
        optimum_seconds=optimum_seconds,
    )


def _encoder_row(label: str, k: int, res: TrainingResult, est: DownstreamEstimate) -> TrainingRow:
    """The row of the Gaussian model: held-out downstream estimates of the trained encoder."""
    return TrainingRow(
        model=label,
        k=k,
        population_loss=None,
        optimum_loss=None,
        optimum_certified=None,
        gap=None,
        simplex_error=None,
        collapse_error=None,
        optimum_simplex_error=None,
        gram_error=None,
        downstream_loss=est.loss,
        downstream_loss_stderr=est.loss_stderr,
        downstream_accuracy=est.accuracy,
        downstream_accuracy_stderr=est.accuracy_stderr,
        optimum_downstream_loss=None,
        optimum_downstream_accuracy=None,
        final_batch_loss=float(res.history.batch_loss[-1]),
        train_seconds=res.train_seconds,
        optimum_seconds=None,
    )


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
        "gaussian": (
            gauss,
            f"Gaussian, rho=(.4,.3,.2,.1), means 3*e_c in R^{p}, sigma=1, linear encoder",
        ),
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

    Returns
    -------
    TrainingExperiment
        One row per ``(model, k)`` (final gap, structure errors, downstream loss and accuracy of
        the trained representation and of the optimum), the training curves and the settings.
    """
    from ..optimize import optimal_representation

    if isinstance(ks, (numbers.Number, str)) or len(ks) == 0:
        raise ValueError("ks must be a non-empty sequence of integers >= 1")
    ks = tuple(check_k(k, name="ks") for k in ks)
    tau = check_tau(tau)
    steps = (300 if quick else 1500) if steps is None else check_integer(steps, "steps", minimum=1)
    batch_size = (
        (256 if quick else 512)
        if batch_size is None
        else check_integer(batch_size, "batch_size", minimum=1)
    )
    heldout_size = (
        (4000 if quick else 20000)
        if heldout_size is None
        else check_integer(heldout_size, "heldout_size", minimum=2)
    )
    gen = as_generator(rng)
    models = default_experiment_models()
    heldout_seed = int(gen.integers(2**63))  # one held-out set for every k (common random numbers)
    rows: list[TrainingRow] = []
    curves: list[TrainingCurve] = []
    results: list[TrainingResult] = []
    for label, (model, _) in models.items():
        for k in ks:
            seed = int(gen.integers(2**63))
            if isinstance(model, LatentClassModel):
                t0 = time.perf_counter()
                opt = optimal_representation(model, k, tau)
                t_opt = time.perf_counter() - t0
                res = train(
                    model,
                    k,
                    tau,
                    steps=steps,
                    batch_size=batch_size,
                    rng=seed,
                    progress=progress,
                    optimum=opt,
                )
                rows.append(_table_row(label, model, k, tau, res, opt, t_opt))
            else:
                res = train(
                    model,
                    k,
                    tau,
                    steps=steps,
                    batch_size=batch_size,
                    rng=seed,
                    progress=progress,
                    lr=_ENCODER_LR,
                )
                est = heldout_mean_classifier(
                    model,
                    res.encoder,
                    tau,
                    size=heldout_size,
                    n_means=max(500, heldout_size // 10),
                    rng=heldout_seed,
                )
                rows.append(_encoder_row(label, k, res, est))
            h = res.history
            results.append(res)
            curves.append(TrainingCurve(label, k, h.step, h.batch_loss, h.gap))
    settings = {
        "steps": steps,
        "batch_size": batch_size,
        "optimizer": "adam",
        "schedule": "cosine",
        "lr_table": _DEFAULT_LR["adam"],
        "lr_encoder": _ENCODER_LR,
        "encoder": "linear",
        "heldout_size": heldout_size,
        "quick": bool(quick),
    }
    return TrainingExperiment(
        ks,
        tau,
        tuple(models),
        {k: v[1] for k, v in models.items()},
        tuple(rows),
        tuple(curves),
        tuple(results),
        settings,
    )
