"""The downstream-loss curves of a degradation search and their largest rise."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._provenance import versions
from .output_files import _csv_comment_lines, _write_text
from .sweep_rows import _csv_cell, _encode

#: Columns of :meth:`DegradationSearchResult.rows` (one row per case and ``k``), in order.
DEGRADATION_COLUMNS: tuple[str, ...] = (
    "name",
    "weighting",
    "class_probs",
    "k",
    "mean_classifier_loss",
    "mean_classifier_accuracy",
    "contrastive_loss",
    "contrastive_loss_limit",
    "duality_gap",
    "certified",
    "rise",
    "rise_from",
    "rise_to",
    "certified_rise",
    "resolution",
)
#: ``"format"`` of the JSON object written by :meth:`DegradationSearchResult.to_json`.
DEGRADATION_JSON_FORMAT = "latentclass-degradation-search"


def largest_rise(values: Any) -> tuple[float, int, int]:
    """Largest increase along a curve: ``max_{i<j} (v_j − v_i)`` and its ``(i, j)``.

    No monotonicity is assumed and nothing is smoothed; the value is negative when the
    curve strictly decreases everywhere (it is then the smallest decrease between two
    points).  Computed in one pass with a running minimum; among equal maxima the
    earliest ``j`` and, for it, the earliest minimising ``i`` are returned.

    Parameters
    ----------
    values : array_like, shape (n,), n >= 2, finite

    Returns
    -------
    (rise, i, j) : (float, int, int)
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or v.size < 2:
        raise ValueError(f"values must be a 1-D curve with at least 2 points, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("values must be finite")
    head = v[:-1]
    run_min = np.minimum.accumulate(head)
    idx = np.arange(head.size)
    # index of the first occurrence of the running minimum
    is_new_min = np.concatenate([[True], head[1:] < run_min[:-1]])
    arg_min = np.maximum.accumulate(np.where(is_new_min, idx, 0))
    gains = v[1:] - run_min
    j = int(np.argmax(gains)) + 1
    return float(gains[j - 1]), int(arg_min[j - 1]), j


@dataclass(frozen=True, eq=False, repr=False)
class DegradationCase:
    """The downstream-loss curve of one class law under one weighting.

    Attributes
    ----------
    name : str
        Family spec (e.g. ``"zipf:5:1.5"``) or Dirichlet draw description.
    class_probs : ndarray (m,)
    weighting : str
        ``"class_probs"`` or ``"balanced"`` (SPEC §6).
    ks : tuple
        The ``k`` grid (``math.inf`` allowed).
    losses, accuracies : ndarray (len(ks),)
        Mean-classifier loss / accuracy of the optimum at each ``k``.
    contrastive_losses : ndarray (len(ks),)
        ``L_k`` at the optimum (``L_∞`` for ``k = inf``).
    duality_gaps : ndarray (len(ks),)
        Certified sub-optimality bounds (``inf`` where none exists).
    certified : ndarray of bool (len(ks),)
    rise : float
        :func:`largest_rise` of ``losses`` (all points).
    rise_from, rise_to : int or float
        The ``k < k'`` realising ``rise``.
    certified_rise : float or None
        The same over the certified points only (``None`` if fewer than 2).
    resolution : float or None
        For the cases in ``DegradationSearchResult.worst``: the largest difference, over the
        curve, between this downstream loss and the one of an independent re-solve from a
        random start (``init="random"``, another seed) — an empirical error bar on every
        point.  ``None`` for the other cases.
    task_rises : dict or None
        ``t -> largest rise`` of the ``t``-way task-averaged loss (SPEC §9.1, ``ρ``-conditioned
        tasks, same weighting) along the curve, for ``t = 2 … m − 1`` (``t = m`` is ``rise``).
    """

    name: str
    class_probs: np.ndarray
    weighting: str
    ks: tuple
    losses: np.ndarray
    accuracies: np.ndarray
    contrastive_losses: np.ndarray
    duality_gaps: np.ndarray
    certified: np.ndarray
    rise: float
    rise_from: Any
    rise_to: Any
    certified_rise: float | None
    resolution: float | None = None
    task_rises: dict | None = None

    @property
    def all_certified(self) -> bool:
        return bool(np.all(self.certified))

    @property
    def significant(self) -> bool | None:
        """``rise > 2 · resolution + 1e-12`` (``None`` when no resolution was measured)."""
        if self.resolution is None:
            return None
        return bool(self.rise > 2.0 * self.resolution + 1e-12)

    def curve(self) -> list[dict]:
        """The curve as rows ``{k, loss, accuracy, contrastive_loss, duality_gap, certified}``."""
        return [
            {
                "k": k,
                "loss": float(l),
                "accuracy": float(a),
                "contrastive_loss": float(c),
                "duality_gap": float(g),
                "certified": bool(ok),
            }
            for k, l, a, c, g, ok in zip(
                self.ks,
                self.losses,
                self.accuracies,
                self.contrastive_losses,
                self.duality_gaps,
                self.certified,
            )
        ]

    def __repr__(self) -> str:
        return (
            f"DegradationCase({self.name!r}, weighting={self.weighting!r}, m={self.class_probs.size}, "
            f"rise={self.rise:.3g} (k={self.rise_from}->{self.rise_to}), "
            f"certified={int(self.certified.sum())}/{self.certified.size})"
        )


@dataclass(frozen=True, eq=False, repr=False)
class DegradationSearchResult:
    """Outcome of :func:`search_degradation`.

    Attributes
    ----------
    cases : tuple of DegradationCase
        Every (distribution, weighting) curve, sorted by ``rise`` (largest first).
    worst : dict
        ``weighting -> tuple`` of the ``top`` cases with the largest rise.
    max_rise : dict
        ``weighting -> float``, the largest rise found.
    ks : tuple
    tau : float
    n_distributions : int
    all_certified : bool
        Every point of every curve is a certified optimum.
    versions : dict
        :func:`latentclass._provenance.versions` of the process that ran the search;
        written into the files of :meth:`to_csv` and :meth:`to_json`.
    """

    cases: tuple
    worst: dict
    max_rise: dict
    ks: tuple
    tau: float
    n_distributions: int
    all_certified: bool
    versions: dict = field(default_factory=versions)

    def rows(self) -> list[dict]:
        """One row per (case, ``k``), cases in the order of :attr:`cases`; keys
        :data:`DEGRADATION_COLUMNS`.

        ``mean_classifier_loss`` / ``mean_classifier_accuracy`` are the downstream loss and
        accuracy under the case's ``weighting``; ``contrastive_loss`` is ``L_k`` of the
        optimum for finite ``k`` (``None`` at ``k = inf``) and ``contrastive_loss_limit``
        is ``L_∞`` at ``k = inf`` (``None`` otherwise), as in a sweep table; ``duality_gap``
        is ``inf`` where no certificate exists.  ``class_probs`` is the class law as a
        space-separated list of ``repr`` floats; ``rise`` … ``resolution`` are the case's
        (repeated on each of its rows; ``None`` when not measured).

        Returns
        -------
        list of dict
            One mapping per (case, ``k``), keys :data:`DEGRADATION_COLUMNS`.
        """
        out = []
        for c in self.cases:
            rho = " ".join(repr(float(p)) for p in c.class_probs)
            for i, k in enumerate(c.ks):
                closs = float(c.contrastive_losses[i])
                out.append(
                    {
                        "name": c.name,
                        "weighting": c.weighting,
                        "class_probs": rho,
                        "k": k,
                        "mean_classifier_loss": float(c.losses[i]),
                        "mean_classifier_accuracy": float(c.accuracies[i]),
                        "contrastive_loss": None if k == math.inf else closs,
                        "contrastive_loss_limit": closs if k == math.inf else None,
                        "duality_gap": float(c.duality_gaps[i]),
                        "certified": bool(c.certified[i]),
                        "rise": float(c.rise),
                        "rise_from": c.rise_from,
                        "rise_to": c.rise_to,
                        "certified_rise": c.certified_rise,
                        "resolution": c.resolution,
                    }
                )
        return out

    def _metadata(self) -> dict:
        return {
            **self.versions,
            "tau": self.tau,
            "n_distributions": self.n_distributions,
            "all_certified": self.all_certified,
        }

    def to_csv(self, path: Any) -> None:
        """Write :meth:`rows` as CSV to a path (atomic write) or text stream.

        As :meth:`SweepResult.to_csv`: first ``# key: value`` comment lines (the versions
        that computed the search — ``latentclass``, ``python``, ``numpy``, ``scipy``,
        ``platform`` — then ``tau``, ``n_distributions``, ``all_certified``), read with
        ``pandas.read_csv(path, comment="#")``; then the column names and one line per row
        (``None`` empty, floats with ``repr``, ``inf`` for infinity).

        Parameters
        ----------
        path : str, os.PathLike or text stream
            Destination: a path (written atomically) or an object with a ``write`` method.

        Returns
        -------
        None
        """
        buf = io.StringIO()
        buf.write(
            _csv_comment_lines(
                'latentclass degradation search; read with pandas.read_csv(path, comment="#")',
                self._metadata(),
            )
        )
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(DEGRADATION_COLUMNS)
        for r in self.rows():
            w.writerow([_csv_cell(r[c]) for c in DEGRADATION_COLUMNS])
        _write_text(path, buf.getvalue())

    def to_json(self, path: Any) -> None:
        """Write the search as one strict-JSON object to a path (atomic write) or text stream.

        Keys: ``"format"`` (``"latentclass-degradation-search"``), ``"versions"``,
        ``"tau"``, ``"ks"``, ``"n_distributions"``, ``"all_certified"``, ``"max_rise"``,
        ``"worst"`` (weighting -> the names of its worst cases, worst first), ``"columns"``
        and ``"rows"`` (:meth:`rows`).  Infinity is the string ``"inf"``, ``None`` is
        ``null``.

        Parameters
        ----------
        path : str, os.PathLike or text stream
            Destination: a path (written atomically) or an object with a ``write`` method.

        Returns
        -------
        None
        """
        obj = {
            "format": DEGRADATION_JSON_FORMAT,
            "versions": dict(self.versions),
            "tau": self.tau,
            "ks": [_encode(k) for k in self.ks],
            "n_distributions": self.n_distributions,
            "all_certified": self.all_certified,
            "max_rise": {w: float(v) for w, v in self.max_rise.items()},
            "worst": {w: [c.name for c in cases] for w, cases in self.worst.items()},
            "columns": list(DEGRADATION_COLUMNS),
            "rows": [{c: _encode(r[c]) for c in DEGRADATION_COLUMNS} for r in self.rows()],
        }
        _write_text(path, json.dumps(obj, indent=1, allow_nan=False) + "\n")

    def to_pandas(self) -> Any:
        """:meth:`rows` as a :class:`pandas.DataFrame` (needs pandas).

        Columns :data:`DEGRADATION_COLUMNS`, nullable dtypes: ``k``, ``rise_from`` and
        ``rise_to`` are ``Float64`` (``inf`` for ``k = ∞``), the other numbers ``Float64``,
        ``certified`` ``boolean``, names ``string``; ``None`` is ``pd.NA``, never NaN.
        ``DataFrame.attrs`` holds the provenance of :meth:`to_csv`.

        Returns
        -------
        pandas.DataFrame
        """
        from .._tables import rows_to_frame

        return rows_to_frame(
            self.rows(),
            DEGRADATION_COLUMNS,
            float_columns=("k", "rise_from", "rise_to"),
            attrs=self._metadata(),
        )

    def summary(self) -> str:
        """A plain-text table of the worst cases.

        Returns
        -------
        str
            The header line (distributions, ``k``, ``τ``, certification) and the worst cases.
        """
        lines = [
            f"search_degradation: {self.n_distributions} distributions x {len(self.ks)} k, tau={self.tau:g}, "
            f"all points certified: {self.all_certified}"
        ]
        for w, cases in self.worst.items():
            lines.append(f"[{w}] largest rise {self.max_rise[w]:.6g}")
            for c in cases:
                res = "" if c.resolution is None else f"  resolution {c.resolution:.1e}"
                lines.append(
                    f"  {c.name:<40s} rise {c.rise:+.3e}  k {c.rise_from} -> {c.rise_to}  "
                    f"loss {c.losses[0]:.6f} ... {c.losses[-1]:.6f}  "
                    f"certified {int(c.certified.sum())}/{c.certified.size}{res}"
                )
        return "\n".join(lines)

    def __repr__(self) -> str:
        rises = ", ".join(f"{w}: {r:.3g}" for w, r in self.max_rise.items())
        return (
            f"DegradationSearchResult({self.n_distributions} distributions, {len(self.ks)} k, "
            f"max rise {{{rises}}}, all_certified={self.all_certified})"
        )

    def _repr_html_(self) -> str:
        """A table for Jupyter: one row per (case, ``k``) (the columns of :meth:`rows`)."""
        from .._html import rows_html

        return rows_html(
            f"DegradationSearchResult: {self.n_distributions} distributions x {len(self.ks)} k",
            DEGRADATION_COLUMNS,
            self.rows(),
            note=f"tau={self.tau:g}, all certified: {self.all_certified}, max rise {self.max_rise}",
        )
