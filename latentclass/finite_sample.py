"""Finite samples: does the empirical risk minimiser degrade with k? (SPEC §9.3)

For each number of negatives ``k`` and each seed, draw ``M`` examples, compute the certified
minimiser ``Ĝ`` of their empirical loss (:func:`latentclass.empirical_optimum`) and report
its **population excess loss** ``L_k(Ĝ) − L_k*`` and its downstream metrics (full task and
2-way tasks, ``ρ``-weighted), beside the certified population optimum's.  Two regimes:

- ``fixed_M``: the same number of examples ``M`` at every ``k``;
- ``fixed_budget``: the same number of drawn points ``B = M (k + 2)``, so ``M = ⌊B/(k+2)⌋``.

Means over seeds come with two-sided 95 % Student-t confidence intervals
``mean ± t_{0.975, s−1} · sd / √s``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from ._provenance import versions
from ._validation import check_integer, check_tau
from .downstream import mean_classifier_metrics
from .empirical import empirical_optimum
from .model import LatentClassModel, check_model
from .optimize import optimal_representation

__all__ = ["ErmSweepResult", "erm_sweep", "t_interval"]

REGIMES = ("fixed_M", "fixed_budget")


def t_interval(values: Any, level: float = 0.95) -> tuple[float, float, float, float]:
    """``(mean, standard error, lower, upper)``: the two-sided Student-t interval.

    ``mean ± t_{(1+level)/2, s−1} · sd(ddof=1)/√s`` for ``s >= 2`` values.

    Parameters
    ----------
    values : array_like, shape (s,)
    level : float
        Confidence level in ``(0, 1)``.

    Returns
    -------
    tuple of float
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or v.size < 2:
        raise ValueError("values must be a 1-d array of at least 2 numbers")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    mean = float(v.mean())
    se = float(v.std(ddof=1) / math.sqrt(v.size))
    half = float(stats.t.ppf(0.5 + level / 2.0, v.size - 1)) * se
    return mean, se, mean - half, mean + half


@dataclass(frozen=True, eq=False, repr=False)
class ErmSweepResult:
    """ERM vs population optimum across ``k`` (SPEC §9.3).

    Attributes
    ----------
    rows : list of dict
        One per ``(regime, k)``: ``regime``, ``k``, ``n_examples``, ``seeds``, and for the
        ERM the mean, standard error and 95 % interval (``_mean``, ``_se``, ``_lo``, ``_hi``)
        of ``excess`` (population excess loss), ``downstream_loss``, ``two_way_loss`` and
        ``accuracy``; for the population optimum ``optimum_loss``, ``optimum_downstream_loss``,
        ``optimum_two_way_loss``, ``optimum_accuracy``; ``all_certified``; ``seconds``.
    per_seed : dict
        ``(regime, k) -> {"excess": [...], "downstream_loss": [...], ...}``.
    tau : float
    class_probs : tuple of float
    versions : dict
    """

    rows: list
    per_seed: dict
    tau: float
    class_probs: tuple
    versions: dict

    def __repr__(self) -> str:
        return (
            f"ErmSweepResult({len(self.rows)} rows, regimes="
            f"{sorted({r['regime'] for r in self.rows})}, tau={self.tau:g})"
        )

    def to_csv(self, path: Any = None) -> str:
        """The rows as CSV (written to ``path`` if given); returns the text.

        Parameters
        ----------
        path : str or os.PathLike, optional
            File to write; ``None`` only returns the text.

        Returns
        -------
        str
            The CSV text: a header line and one line per row.
        """
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(self.rows[0]))
        writer.writeheader()
        writer.writerows(self.rows)
        text = buf.getvalue()
        if path is not None:
            with open(path, "w", newline="") as fh:
                fh.write(text)
        return text

    def to_json(self, path: Any = None) -> str:
        """Rows, settings and versions as JSON (written to ``path`` if given).

        Parameters
        ----------
        path : str or os.PathLike, optional
            File to write; ``None`` only returns the text.

        Returns
        -------
        str
            The JSON text (keys ``tau``, ``class_probs``, ``versions``, ``rows``).
        """
        text = json.dumps(
            dict(
                tau=self.tau,
                class_probs=list(self.class_probs),
                versions=self.versions,
                rows=self.rows,
            ),
            indent=1,
        )
        if path is not None:
            with open(path, "w") as fh:
                fh.write(text)
        return text

    def _repr_html_(self) -> str:
        """A table for Jupyter: one row per ``(regime, k)``."""
        from ._html import rows_html

        cols = list(self.rows[0]) if self.rows else []
        return rows_html(
            f"ErmSweepResult: {len(self.rows)} rows", cols, self.rows, note=f"tau={self.tau:g}"
        )


def _metrics(model: LatentClassModel, F: np.ndarray, tau: float) -> tuple[float, float, float]:
    full = mean_classifier_metrics(model, F, tau)
    two = mean_classifier_metrics(model, F, tau, 2) if model.n_classes > 2 else full
    return full.loss, two.loss, full.accuracy


def erm_sweep(
    model: LatentClassModel,
    ks: Any,
    tau: float = 1.0,
    *,
    n_examples: int | None = None,
    budget: int | None = None,
    seeds: int = 5,
    rng: int = 0,
) -> ErmSweepResult:
    """Certified ERM vs certified population optimum across ``k`` (SPEC §9.3).

    For each ``k`` and seed ``s``: ``Ĝ = argmin L̂_M`` on ``M`` fresh examples (certified),
    then ``L_k(Ĝ) − L_k(G_k*)``, the full-task and 2-way mean-classifier losses and the
    accuracy of ``Ĝ``; averaged over seeds with 95 % t-intervals (:func:`t_interval`).

    Parameters
    ----------
    model : LatentClassModel
        Finite model.
    ks : iterable of int
        Numbers of negatives (``>= 1``).
    tau : float
    n_examples : int, optional
        ``M`` for the ``fixed_M`` regime.
    budget : int, optional
        Drawn points ``B`` for the ``fixed_budget`` regime, ``M = ⌊B / (k + 2)⌋ >= 2``.
    seeds : int
        Independent samples per ``(regime, k)``, ``>= 2``.
    rng : int
        Root seed (``numpy.random.SeedSequence``); the sample of ``(regime, k, s)`` uses the
        spawn key ``(regime, index of k, s)``, so rows are reproducible one by one.

    Returns
    -------
    ErmSweepResult
    """
    check_model(model)
    tau = check_tau(tau)
    try:
        kk = [check_integer(k, "ks", minimum=1) for k in ks]
    except TypeError as exc:
        if "ks" in str(exc):
            raise
        raise TypeError("ks must be an iterable of integers >= 1") from None
    if not kk:
        raise ValueError("ks must not be empty")
    if n_examples is None and budget is None:
        raise ValueError("give n_examples (fixed M) or budget (fixed M·(k+2)), or both")
    if n_examples is not None:
        n_examples = check_integer(n_examples, "n_examples", minimum=2)
    if budget is not None:
        budget = check_integer(budget, "budget", minimum=1)
        worst = budget // (max(kk) + 2)
        if worst < 2:
            raise ValueError(
                f"budget must give at least 2 examples at every k: budget // (k + 2) = {worst} "
                f"at k = {max(kk)}"
            )
    seeds = check_integer(seeds, "seeds", minimum=2)
    root = check_integer(rng, "rng", minimum=0)

    optima = {}
    for k in kk:  # one certified population optimum per k
        opt = optimal_representation(model, k, tau)
        optima[k] = (opt, _metrics(model, np.asarray(opt.F), tau))
    rows, per_seed = [], {}
    plan = [("fixed_M", n_examples), ("fixed_budget", budget)]
    for r_index, (regime, size) in enumerate(plan):
        if size is None:
            continue
        for ik, k in enumerate(kk):
            t0 = time.perf_counter()
            M = size if regime == "fixed_M" else size // (k + 2)
            opt, (o_down, o_two, o_acc) = optima[k]
            rec: dict[str, list] = {
                "excess": [],
                "downstream_loss": [],
                "two_way_loss": [],
                "accuracy": [],
            }
            certified = bool(opt.certified)
            for s in range(seeds):  # one sample and one certified ERM per seed
                gen = np.random.default_rng(
                    np.random.SeedSequence(root, spawn_key=(r_index, ik, s))
                )
                erm = empirical_optimum(model.sample(M, k, rng=gen), tau, model=model)
                certified &= bool(erm.certified)
                down, two, acc = _metrics(model, np.asarray(erm.F), tau)
                assert erm.population_loss is not None
                rec["excess"].append(erm.population_loss - opt.loss)
                rec["downstream_loss"].append(down)
                rec["two_way_loss"].append(two)
                rec["accuracy"].append(acc)
            row: dict[str, Any] = dict(regime=regime, k=k, n_examples=M, seeds=seeds)
            for name, vals in rec.items():
                mean, se, lo, hi = t_interval(vals)
                row.update(
                    {f"{name}_mean": mean, f"{name}_se": se, f"{name}_lo": lo, f"{name}_hi": hi}
                )
            row.update(
                optimum_loss=float(opt.loss),
                optimum_downstream_loss=o_down,
                optimum_two_way_loss=o_two,
                optimum_accuracy=o_acc,
                all_certified=certified,
                seconds=time.perf_counter() - t0,
            )
            rows.append(row)
            per_seed[(regime, k)] = {name: list(v) for name, v in rec.items()}
    return ErmSweepResult(
        rows, per_seed, tau, tuple(float(p) for p in model.class_probs), versions()
    )
