"""Sweeps over the number of negatives ``k``: the grid, one row, the whole sweep.

The grid of ``k`` (:func:`parse_k`, :func:`parse_ks`, ``_check_ks``), one row of a sweep
(``_sweep_row``: the certified optimum, downstream metrics and published bounds at one ``k``)
and :func:`sweep_negatives` with its :class:`SweepResult`.

:func:`sweep_negatives` solves for the certified optimal representation at every ``k`` of
a grid (SPEC §4), evaluates the mean classifier on it (SPEC §6) and puts the competing
theory beside it (collision and coverage probabilities and the published upper bounds of
SPEC §7, from :mod:`latentclass.bounds`).  It runs serially or on any
:class:`concurrent.futures.Executor` (a process pool, or a Dask cluster through
``Client.get_executor()``, :mod:`latentclass.experiments.executors`), and can keep a
crash-safe checkpoint (:mod:`latentclass.experiments.storage`) so that a killed sweep
resumes where it stopped.
"""

from __future__ import annotations

import concurrent.futures
import csv
import io
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._progress import Progress
from .._provenance import versions
from .._validation import K_MAX, check_bool, check_choice, check_integer, check_k, check_tau
from ..bounds import collision_probability, published_bounds
from ..downstream import mean_classifier_metrics
from ..losses.objects import is_logistic, resolve_loss
from ..model import LatentClassModel, check_model
from ..optimize import optimal_representation
from .executors import (
    _SOLVER_SEED,
    _check_executor,
    _check_progress,
    _one_blas_thread,
    _Progress,
    _run_tasks,
)
from .storage import (
    SWEEP_COLUMNS,
    _check_out_path,
    _Checkpoint,
    _checkpoint_header,
    _csv_cell,
    _csv_comment_lines,
    _encode_row,
    _write_text,
)

# ---------------------------------------------------------------- the grid of k

#: Largest number of k a ``parse_ks`` range may expand to.
_MAX_PARSED_KS = 100_000


def _check_ks(ks: Any, name: str = "ks") -> tuple:
    """A non-empty sequence of distinct ``k`` (integers ``>= 1`` or ``math.inf``)."""
    if isinstance(ks, (str, bytes)) or not isinstance(ks, Iterable):
        raise TypeError(
            f"{name} must be a sequence of integers >= 1 (or math.inf), got {type(ks).__name__}"
        )
    values = list(np.asarray(ks, dtype=object).ravel()) if isinstance(ks, np.ndarray) else list(ks)
    if not values:
        raise ValueError(
            f"{name} must be a non-empty sequence of integers >= 1 (or math.inf), got an empty one"
        )
    out = []
    seen = set()
    for i, k in enumerate(values):
        kk = check_k(k, allow_inf=True, name=f"{name}[{i}]")
        if kk in seen:
            raise ValueError(f"{name} must not repeat a value, {kk!r} appears twice")
        seen.add(kk)
        out.append(kk)
    return tuple(out)


def parse_k(token: str, name: str = "k") -> int | float:
    """One number of negatives from text: an integer ``>= 1`` (also written ``1e18``, parsed
    exactly, never rounded through a float) or ``inf``/``infinity``.

    ``1e400`` is refused by name (beyond the float range every engine needs), never taken
    as infinity; ``2.5``, ``0`` and words are refused.  The one parser of ``k`` behind every
    command-line option (``--negatives`` of ``solve``, ``sweep`` and ``train``).
    """
    import decimal

    t = str(token).strip().lower()
    if t in ("inf", "infinity"):
        return math.inf
    rule = f"{name} must be an integer >= 1 or 'inf', got {token!r}"
    try:
        d = decimal.Decimal(t)
    except decimal.InvalidOperation:
        raise ValueError(rule) from None
    if not d.is_finite() or d != d.to_integral_value() or d < 1:
        raise ValueError(rule)
    if d > decimal.Decimal(K_MAX):
        raise ValueError(f"{name} must be at most {K_MAX:.6g} (the largest float), got {token!r}")
    return int(d)


def parse_ks(text: str, name: str = "ks") -> tuple:
    """Parse a grid of ``k`` from text: ``"1,2,4,8"``, ``"1..64"``, ``"1..8,16,32,inf"``.

    Items are separated by commas; each is an integer ``>= 1``, ``inf`` (the limit
    objective), or an inclusive range ``a..b`` of every integer from ``a`` to ``b``.  The
    result must be non-empty with no repeated ``k`` (as for :func:`sweep_negatives`).
    ``ValueError`` naming ``name`` (the CLI passes ``"--negatives"``) on bad text.
    """
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ValueError(
            f"{name} must list the numbers of negatives, e.g. '1,2,4' or '1..64', got {text!r}"
        )
    out: list = []

    def as_int(tok: str) -> int:
        try:
            v = parse_k(tok, name)
        except ValueError as exc:
            raise ValueError(f"{exc} (in {text!r})") from None
        if v == math.inf:
            raise ValueError(f"{name}: a range a..b needs finite ends, got {tok!r} (in {text!r})")
        return int(v)

    for item in (t.strip() for t in text.split(",")):
        if item.lower() in ("inf", "infinity"):
            out.append(math.inf)
        elif ".." in item:
            lo, _, hi = item.partition("..")
            a, b = as_int(lo.strip()), as_int(hi.strip())
            if b < a:
                raise ValueError(f"{name}: range {item!r} must have start <= end (in {text!r})")
            if b - a + 1 + len(out) > _MAX_PARSED_KS:
                raise ValueError(f"{name}: more than {_MAX_PARSED_KS} values of k (in {text!r})")
            out.extend(range(a, b + 1))
        else:
            out.append(as_int(item))
    return _check_ks(out, name=name)


# ----------------------------------------------------------- one row of a sweep


def _sweep_row(
    model: LatentClassModel,
    k: int | float,
    tau: float,
    dim: int | None,
    loss: Any = None,
    start: np.ndarray | None = None,
) -> dict:
    """One row of :func:`sweep_negatives` (module level so that it pickles to workers).

    A deterministic function of ``(model, k, tau, dim, loss, start)``: the optimiser gets the
    fixed seed ``_SOLVER_SEED`` (and the executors pin one BLAS thread), so every executor
    returns the bits of the serial run; ``start`` is the sweep's warm start (or ``None``).  ``loss`` is ``L_k`` for finite ``k`` (``None`` at
    ``k = inf``); ``loss_limit`` is ``L_∞`` at ``k = inf`` (``None`` for finite ``k``).
    """
    t0 = time.perf_counter()
    init = "structured" if start is None else start
    opt = optimal_representation(model, k, tau=tau, dim=dim, rng=_SOLVER_SEED, loss=loss, init=init)
    weighted = mean_classifier_metrics(model, opt.F, tau, weighting="class_probs")
    balanced = mean_classifier_metrics(model, opt.F, tau, weighting="balanced")
    rho = np.asarray(model.class_probs, dtype=float)
    row: dict[str, Any] = {
        "k": k if k == math.inf else int(k),
        "loss": None if k == math.inf else float(opt.loss),
        "loss_limit": float(opt.loss) if k == math.inf else None,
        "duality_gap": None if opt.duality_gap is None else float(opt.duality_gap),
        "certified": bool(opt.certified),
        "method": str(opt.method),
        "n_iter": int(opt.n_iter),
        "mean_classifier_loss": float(weighted.loss),
        "mean_classifier_accuracy": float(weighted.accuracy),
        "balanced_mean_classifier_loss": float(balanced.loss),
        "balanced_mean_classifier_accuracy": float(balanced.accuracy),
    }
    if k == math.inf:
        # the bounds are stated for finite k; the limit objective has no R to plug in
        row.update(
            collision_probability=float(collision_probability(rho, k)),
            coverage_probability=1.0,
            expected_log_collisions=None,
            bound_saunshi=None,
            bound_ash=None,
            bound_nozawa_sato=None,
            bound_bao=None,
            bound_bao_lower=None,
        )
    else:
        b = published_bounds(rho, k, float(opt.loss), tau)
        row.update(
            collision_probability=float(b.collision),
            coverage_probability=float(b.coverage),
            expected_log_collisions=float(b.coll_k),
            bound_saunshi=None if b.saunshi is None else float(b.saunshi),
            bound_ash=None if b.ash is None else float(b.ash),
            bound_nozawa_sato=float(b.nozawa_sato),
            bound_bao=float(b.bao),
            bound_bao_lower=float(b.bao_lower),
        )
    row["seconds"] = time.perf_counter() - t0
    return {c: row[c] for c in SWEEP_COLUMNS}


# -------------------------------------------------------------------- the sweep

#: Warm starts of a sweep: rows with ``k >= _WARM_START_K`` start from the ``L_∞`` optimum,
#: for models of at most ``_WARM_START_MAX_N`` points (the start is sent with every task).
#: Measured (``benchmarks/bench_large_solve.py --warm``, m = 100 and 200): from the ``L_∞``
#: optimum the Newton–Krylov path saves 2–5 steps at k = 65536 and goes from 3–9 to 1–2 at
#: k = 10⁶, but saves 0–3 at k = 64 and 0–1 at k = 16 (and, at τ = 0.1, fails there and is
#: re-run from the cold start) — so only large k are warm-started.
#: Whole sweeps (``benchmarks/bench_sweep.py``): the shared ``L_∞`` solve costs about one row,
#: so a grid with two such k gained nothing (0.85–1.0x), thirteen k from 256 to 2^20 at
#: m = 200 gained 1.4–1.5x: warm starts need at least ``_WARM_START_MIN_ROWS`` such rows.
_WARM_START_K = 256
_WARM_START_MIN_ROWS = 4
_WARM_START_MAX_N = 2000


def _warm_k(k: int | float) -> bool:
    return k != math.inf and k >= _WARM_START_K


def _warm_start(
    model: LatentClassModel, todo: Sequence, tau: float, dim: int | None, other: Any
) -> np.ndarray | None:
    """The sweep's warm start (``warm_start`` of :func:`sweep_negatives`): the Gram matrix of
    the certified ``L_∞`` optimum, computed with one BLAS thread (so its bits do not depend on
    the driving process's thread count), or ``None`` where it does not apply."""
    if other is not None or dim is not None or model.n_points > _WARM_START_MAX_N:
        return None
    if model.is_uniform and model.is_disjoint:  # the closed form: nothing to solve
        return None
    if sum(1 for k in todo if _warm_k(k)) < _WARM_START_MIN_ROWS:
        return None
    with _one_blas_thread():
        anchor = optimal_representation(model, math.inf, tau=tau, rng=_SOLVER_SEED)
    return anchor.gram if anchor.certified else None


_log = logging.getLogger("latentclass.experiments")
#: ``"format"`` of the JSON object written by :meth:`SweepResult.to_json`.
SWEEP_JSON_FORMAT = "latentclass-sweep"


def _check_dim(dim: Any, model: LatentClassModel) -> int | None:
    if dim is None:
        return None
    d = check_integer(dim, "dim", minimum=1)
    if d > model.n_points:
        raise ValueError(f"dim must be an integer between 1 and n_points={model.n_points}, got {d}")
    return d


@dataclass(frozen=True, eq=False, repr=False)
class SweepResult:
    """Table of a sweep over ``k``: one row (a plain ``dict``) per ``k``, in the order asked.

    Attributes
    ----------
    rows : tuple of dict
        Keys :data:`SWEEP_COLUMNS`.  Values are ``int``, ``float``, ``bool``, ``str`` or
        ``None`` (a quantity that is not defined, e.g. Ash et al.'s bound for non-uniform
        ``ρ``, or the bounds at ``k = inf``); ``k`` is an ``int`` or ``math.inf``; a vacuous
        bound is ``math.inf``.  Never NaN.
    columns : tuple of str
        Column names in order.
    tau : float
    dim : int or None
    model_fingerprint : str
        :meth:`LatentClassModel.fingerprint` of the swept model.
    versions : dict
        :func:`latentclass._provenance.versions` of the process that ran the sweep
        (``latentclass``, ``python``, ``numpy``, ``scipy``, ``platform``); written into
        every file :meth:`to_csv` / :meth:`to_json` produce.  Rows reused from a checkpoint
        were computed with the same versions (the checkpoint is refused otherwise).
    checkpoint_rejected : tuple of dict
        Lines of the checkpoint that were not reused: ``{"line", "k", "reason"}`` (``k``
        ``None`` when unreadable) — damaged or edited rows whose integrity check failed.
        Their ``k`` were computed again; also logged as warnings on the
        ``latentclass.experiments`` logger.  Empty without a checkpoint.

    Column meanings: ``loss`` is the exact population loss ``L_k`` of the optimum for a
    finite ``k`` and ``None`` in the ``k = inf`` row; ``loss_limit`` is the limit objective
    ``L_∞`` of the optimum in the ``k = inf`` row and ``None`` in the others (``L_k`` grows
    like ``log k``, so the two are kept in separate columns: ``L_k − log k → L_∞``).
    ``duality_gap`` is the certified sub-optimality bound of whichever objective the row
    optimises and ``certified`` whether it is within tolerance (SPEC §4); ``mean_classifier_*`` are SPEC
    §6 with ``ρ``-weighted classes, ``balanced_*`` with uniform weights;
    ``collision_probability`` is ``τ_k``, ``coverage_probability`` is ``υ_{k+1}``
    (``k + 1`` draws), ``expected_log_collisions`` is ``Coll_k`` and ``bound_*`` are the
    published upper bounds (and Bao et al.'s lower companion) of
    :mod:`latentclass.bounds` evaluated at ``R = loss``; ``seconds`` is the wall time of the
    row (the only column that is not reproducible).
    """

    rows: tuple
    columns: tuple
    tau: float
    dim: int | None
    model_fingerprint: str
    versions: dict = field(default_factory=versions)
    checkpoint_rejected: tuple = ()

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def ks(self) -> tuple:
        """The swept ``k`` in row order."""
        return tuple(r["k"] for r in self.rows)

    def column(self, name: str) -> tuple:
        """The values of one column, in row order.

        Parameters
        ----------
        name : str
            One of :attr:`columns`.

        Returns
        -------
        tuple
            ``tuple(row[name] for row in rows)``.
        """
        check_choice(name, "name", self.columns)
        return tuple(r[name] for r in self.rows)

    def _metadata(self) -> dict:
        return {
            **self.versions,
            "model_fingerprint": self.model_fingerprint,
            "tau": self.tau,
            "dim": self.dim,
        }

    def to_csv(self, path: Any) -> None:
        """Write the table as CSV to a path or text stream, provenance first.

        The file starts with comment lines ``# key: value``: the versions that computed the
        table (``latentclass``, ``python``, ``numpy``, ``scipy``, ``platform``), then
        ``model_fingerprint``, ``tau`` and ``dim``.  Read it with
        ``pandas.read_csv(path, comment="#")``; with the standard :mod:`csv` module, skip
        the lines starting with ``#``.  Then a line of column names and one line per row:
        ``None`` is an empty cell, floats are written with ``repr`` (they read back
        exactly; ``inf`` for infinity), booleans as ``True``/``False``.  A path is written
        to a temporary file and renamed into place; an object with a ``write`` method
        (e.g. ``sys.stdout``) is written to directly.

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
                'latentclass sweep over k; read with pandas.read_csv(path, comment="#")',
                self._metadata(),
            )
        )
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.columns)
        for r in self.rows:
            w.writerow([_csv_cell(r[c]) for c in self.columns])
        _write_text(path, buf.getvalue())

    def to_json(self, path: Any) -> None:
        """Write the table as one strict-JSON object: versions, metadata and the rows.

        Keys: ``"format"`` (``"latentclass-sweep"``), ``"versions"`` (the versions that
        computed it, as in :attr:`versions`), ``"model_fingerprint"``, ``"tau"``,
        ``"dim"``, ``"columns"`` and ``"rows"``, a list of row objects.  Infinite values
        (``k = inf``, vacuous bounds) are the strings ``"inf"``/``"-inf"``, ``None`` is
        ``null``.  With pandas: ``pandas.DataFrame(json.load(fh)["rows"])``.  ``path`` is
        a path (atomic write) or a text stream.

        Parameters
        ----------
        path : str, os.PathLike or text stream
            Destination: a path (written atomically) or an object with a ``write`` method.

        Returns
        -------
        None
        """
        obj = {
            "format": SWEEP_JSON_FORMAT,
            "versions": dict(self.versions),
            "model_fingerprint": self.model_fingerprint,
            "tau": self.tau,
            "dim": self.dim,
            "columns": list(self.columns),
            "rows": [_encode_row(r) for r in self.rows],
        }
        text = json.dumps(obj, indent=1, allow_nan=False)
        _write_text(path, text + "\n")

    def to_pandas(self) -> Any:
        """The table as a :class:`pandas.DataFrame`, one row per ``k`` (needs pandas).

        Columns :attr:`columns`, in order, with nullable dtypes: ``k`` is ``Float64`` (the
        integers and ``inf`` for ``k = ∞``), numbers ``Float64`` (vacuous bounds ``inf``),
        ``certified`` ``boolean``, ``n_iter`` ``Int64``, ``method`` ``string``; a ``None``
        cell (an undefined quantity) is ``pd.NA``, never NaN.  ``DataFrame.attrs`` holds the
        provenance written into :meth:`to_csv` (versions, ``model_fingerprint``, ``tau``,
        ``dim``).  The same values as ``pandas.read_csv(path, comment="#")`` of
        :meth:`to_csv`, with ``None`` kept apart from numbers.

        Returns
        -------
        pandas.DataFrame
        """
        from .._tables import rows_to_frame

        return rows_to_frame(self.rows, self.columns, float_columns=("k",), attrs=self._metadata())

    def __repr__(self) -> str:
        ks = ", ".join("inf" if k == math.inf else str(k) for k in self.ks[:8])
        more = ", ..." if len(self.rows) > 8 else ""
        cert = sum(bool(r["certified"]) for r in self.rows)
        return (
            f"SweepResult({len(self.rows)} rows, k=[{ks}{more}], tau={self.tau:g}, dim={self.dim}, "
            f"certified {cert}/{len(self.rows)}, {len(self.columns)} columns)"
        )

    def _repr_html_(self) -> str:
        """A table for Jupyter: one row per ``k`` (every column; ``None`` as ``None``)."""
        from .._html import rows_html

        cert = sum(bool(r["certified"]) for r in self.rows)
        return rows_html(
            f"SweepResult: {len(self.rows)} rows",
            self.columns,
            self.rows,
            note=(
                f"tau={self.tau:g}, dim={self.dim}, certified {cert}/{len(self.rows)}, "
                f"model {self.model_fingerprint[:12]}"
            ),
        )


def sweep_negatives(
    model: LatentClassModel,
    ks: Sequence[int | float],
    tau: float = 1.0,
    *,
    dim: int | None = None,
    executor: concurrent.futures.Executor | None = None,
    checkpoint: str | os.PathLike | None = None,
    progress: bool | Callable[[Progress], Any] | None = None,
    loss: Any = None,
    warm_start: bool = True,
) -> SweepResult:
    """Certified optimum, downstream metrics and published bounds at every ``k`` of ``ks``.

    For each ``k``: ``optimal_representation(model, k, tau, dim, rng=0)`` (SPEC §4) gives
    ``F*`` and its certificate; the mean classifier on ``F*`` (SPEC §6), under both
    weightings; ``τ_k``, ``υ_{k+1}``, ``Coll_k`` and the published bounds at
    ``R = L_k(F*)`` (SPEC §7).  See :class:`SweepResult` for the columns.

    Parameters
    ----------
    model : LatentClassModel
    ks : sequence of int or math.inf
        Non-empty, distinct; each an integer ``>= 1`` or ``math.inf`` (limit objective).
        Rows come back in this order.
    tau : float
        Temperature.
    dim : int, optional
        Representation dimension (``None``: unconstrained, a certified convex solve).
    executor : concurrent.futures.Executor, optional
        Each ``k`` is one ``executor.submit`` of a module-level function of
        ``(model, k, tau, dim)``, so a ``ProcessPoolExecutor``, a thread pool or Dask's
        ``Client.get_executor()`` (local or a multi-machine cluster) all work.  Every row is
        a deterministic function of its inputs (fixed solver seed): the values equal those
        of the serial run bit for bit (``seconds`` aside).  The executor is not shut down.
    loss : loss object or name, optional
        The contrastive loss (SPEC §8; default logistic, every row unchanged).  For another
        loss, ``loss`` is its population value at its optimum (certified only for the convex
        losses), the checkpoint identifies it (with the model), and the published bounds are evaluated at
        that value although they are theorems about the logistic loss only.
    checkpoint : path, optional
        JSON-lines file: a header identifying the sweep (model fingerprint, ``tau``,
        ``dim``, code version, columns), then one line per completed row, each appended
        with ``flush`` + ``os.fsync`` as soon as it is known.  If the file exists, its rows
        are reused (the ``k`` it holds are not recomputed), a torn last line left by a
        ``kill -9`` is dropped, and a header from a different sweep (or of other versions
        of latentclass, Python, numpy or scipy) raises ``ValueError`` naming the
        checkpoint.  Every row line carries a SHA-256 integrity check; a row that fails it
        (damaged, edited) is never reused: its ``k`` is computed again and the line is
        reported in ``checkpoint_rejected`` and logged.  The result equals that of an
        uninterrupted run.  ``ks`` may differ between runs; only the requested ``k`` are
        returned.  The file is locked (``flock``) by this process alone: workers never
        hold it.
    progress : bool or callable, optional
        ``True``: a tqdm bar on stderr; ``False``: none; ``None`` (default): a bar only when
        stderr is a terminal and the sweep runs longer than 2 s; a callable is called as
        ``progress(p)`` after each newly computed row, with a
        :class:`~latentclass._progress.Progress` ``p``: ``p.done`` rows of ``p.total``
        (counting rows reused from a checkpoint), ``p.stage == "sweep over k"``,
        ``p.detail`` the new row.
    warm_start : bool
        Start every ``k >= 256`` from the certified optimum of the limit objective ``L_∞``
        (SPEC §3; within ``O(1/k)`` of the optimum of ``L_k``), solved once by the driving
        process with one BLAS thread before the rows are dispatched, instead of from the
        structured start (``optimal_representation(..., init=start)``).  Used for the logistic
        loss, ``dim=None``, models solved numerically (not the closed form) with at most
        2000 points, and when at least four such ``k`` remain to be computed (the shared solve
        costs about one row); it saves Newton steps (``docs/sweeps.md`` gives the measured
        effect).  Every row is still a
        deterministic function of the sweep's inputs (the same bits with every executor and
        after a resumed checkpoint); ``False`` gives the rows of independent
        ``optimal_representation(model, k, ...)`` calls and is part of the checkpoint's identity.

    Returns
    -------
    SweepResult

    Raises
    ------
    ValueError
        Empty ``ks``, a ``k`` that is not an integer ``>= 1`` or ``inf``, repeated ``k``,
        bad ``tau``/``dim``, a checkpoint in a missing directory, or one that belongs to a
        different sweep.
    """
    check_model(model)
    ks = _check_ks(ks)
    tau = check_tau(tau)
    dim = _check_dim(dim, model)
    _check_executor(executor)
    _check_progress(progress)
    warm_start = check_bool(warm_start, "warm_start")
    fingerprint = model.fingerprint()
    lo = resolve_loss(loss)
    other = None if is_logistic(lo) else lo
    if other is not None:  # the loss is part of the sweep's identity (checkpoints)
        fingerprint = f"{fingerprint}|loss={other!r}"
    if not warm_start:  # cold starts give other bits: a different sweep for checkpoints
        fingerprint = f"{fingerprint}|warm_start=False"
    ck = None
    if checkpoint is not None:
        path = _check_out_path(checkpoint, "checkpoint")
        ck = _Checkpoint.open(path, _checkpoint_header(fingerprint, tau, dim))
    try:
        rows = {k: ck.rows[k] for k in ks if k in ck.rows} if ck is not None else {}
        todo = [k for k in ks if k not in rows]
        rejected = tuple(dict(r) for r in ck.rejected) if ck is not None else ()
        for r in rejected:
            again = " (its k is computed again)" if r["k"] in todo else ""
            _log.warning(
                "checkpoint %r: line %d (k=%s) not reused: %s%s",
                ck.path if ck is not None else None,
                r["line"],
                r["k"],
                r["reason"],
                again,
            )
        bar = _Progress(progress, len(ks), len(rows), len(todo), "sweep over k")

        def record(i: int, row: dict) -> None:
            rows[todo[i]] = row
            if ck is not None:
                ck.append(row)
            bar.update(row)

        try:
            start = _warm_start(model, todo, tau, dim, other) if warm_start else None
            tasks = [(model, k, tau, dim, other, start if _warm_k(k) else None) for k in todo]
            _run_tasks(_sweep_row, tasks, executor, record)
        finally:
            bar.close()
    finally:
        if ck is not None:
            ck.close()
    return SweepResult(
        tuple(rows[k] for k in ks),
        SWEEP_COLUMNS,
        tau,
        dim,
        fingerprint,
        versions=versions(),
        checkpoint_rejected=rejected,
    )
