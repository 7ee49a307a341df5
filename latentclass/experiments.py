"""Sweeps over the number of negatives ``k`` and a search for downstream degradation.

:func:`sweep_negatives` solves for the certified optimal representation at every ``k`` of
a grid (SPEC §4), evaluates the mean classifier on it (SPEC §6) and puts the competing
theory beside it (collision and coverage probabilities and the published upper bounds of
SPEC §7, from :mod:`latentclass.bounds`).  It runs serially or on any
:class:`concurrent.futures.Executor` (a process pool, or a Dask cluster through
``Client.get_executor()``), and can keep a crash-safe checkpoint so that a killed sweep
resumes where it stopped.

:func:`search_degradation` looks for counterexamples to the conjecture of SPEC §5
(non-uniform ``ρ``: the mean-classifier loss of the optimum is non-increasing in ``k``): over
named class distributions and seeded Dirichlet draws it computes the downstream loss curve
``k ↦ ℓ(k)`` at the certified optimum of the class-level model and reports the largest
rise ``max_{i<j} ℓ(k_j) − ℓ(k_i)`` (:func:`largest_rise`), without assuming monotonicity and
without smoothing.

Why the curve is well defined: at the class level the NCE loss and the mean-classifier
loss both depend on ``G`` only through the row differences ``G[x, y] − G[x, x]``, and the
NCE loss is strictly convex in those differences (``log(1 + Σ_y e^{u_y})`` has Hessian
``diag(p) − p pᵀ`` with ``Σ p < 1``; for ``k = ∞`` the ``y = x`` term is pinned at 0).  So
every optimum has the same downstream loss, even where the optimal ``G`` is not unique.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import csv
import io
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ._validation import (
    as_generator,
    check_choice,
    check_class_probs,
    check_integer,
    check_k,
    check_tau,
    readonly,
)
from .bounds import collision_probability, published_bounds
from .downstream import mean_classifier_metrics
from .families import dirichlet, parse_class_probs
from .model import LatentClassModel
from .optimize import optimal_representation

__all__ = [
    "DEFAULT_FAMILIES",
    "DEFAULT_KS",
    "SWEEP_COLUMNS",
    "DegradationCase",
    "DegradationSearchResult",
    "SweepResult",
    "largest_rise",
    "parse_ks",
    "search_degradation",
    "sweep_negatives",
]

#: Columns of a sweep row, in order.
SWEEP_COLUMNS: tuple[str, ...] = (
    "k",
    "loss",
    "duality_gap",
    "certified",
    "method",
    "n_iter",
    "mean_classifier_loss",
    "mean_classifier_accuracy",
    "balanced_mean_classifier_loss",
    "balanced_mean_classifier_accuracy",
    "collision_probability",
    "coverage_probability",
    "expected_log_collisions",
    "bound_saunshi",
    "bound_ash",
    "bound_nozawa_sato",
    "bound_bao",
    "bound_bao_lower",
    "seconds",
)
_STRING_COLUMNS = frozenset({"method"})
#: Seed passed to the optimiser for every k (rows are deterministic functions of (model, k, tau, dim)).
_SOLVER_SEED = 0
#: With ``progress=None`` a bar appears (on a terminal) only once a sweep has run this long.
_PROGRESS_DELAY = 2.0
_CHECKPOINT_MAGIC = "latentclass-sweep-checkpoint"
_CHECKPOINT_FORMAT = 1
_WEIGHTINGS = ("class_probs", "balanced")


# =========================================================================== helpers
def _code_version() -> str:
    try:
        from . import __version__

        return str(__version__)
    except ImportError:  # pragma: no cover - package partly initialised
        from importlib.metadata import version

        return version("latentclass")


def _check_ks(ks: Any, name: str = "ks") -> tuple:
    """A non-empty sequence of distinct ``k`` (integers ``>= 1`` or ``math.inf``)."""
    if isinstance(ks, (str, bytes)) or not isinstance(ks, Iterable):
        raise TypeError(f"{name} must be a sequence of integers >= 1 (or math.inf), got {type(ks).__name__}")
    values = list(np.asarray(ks, dtype=object).ravel()) if isinstance(ks, np.ndarray) else list(ks)
    if not values:
        raise ValueError(f"{name} must be a non-empty sequence of integers >= 1 (or math.inf), got an empty one")
    out = []
    seen = set()
    for i, k in enumerate(values):
        kk = check_k(k, allow_inf=True, name=f"{name}[{i}]")
        if kk in seen:
            raise ValueError(f"{name} must not repeat a value, {kk!r} appears twice")
        seen.add(kk)
        out.append(kk)
    return tuple(out)


#: Largest number of k a ``parse_ks`` range may expand to.
_MAX_PARSED_KS = 100_000


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
        raise ValueError(f"{name} must list the numbers of negatives, e.g. '1,2,4' or '1..64', got {text!r}")
    out: list = []

    def as_int(tok: str) -> int:
        try:
            v = int(tok)
        except ValueError:
            raise ValueError(f"{name}: {tok!r} is not an integer >= 1 or 'inf' (in {text!r})") from None
        if v < 1:
            raise ValueError(f"{name}: every k must be an integer >= 1, got {v} (in {text!r})")
        return v

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


def _check_dim(dim: Any, model: LatentClassModel) -> int | None:
    if dim is None:
        return None
    d = check_integer(dim, "dim", minimum=1)
    if d > model.n_points:
        raise ValueError(f"dim must be an integer between 1 and n_points={model.n_points}, got {d}")
    return d


def _check_executor(executor: Any) -> None:
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(
            f"executor must be a concurrent.futures.Executor (with a submit method) or None, "
            f"got {type(executor).__name__}"
        )


def _check_progress(progress: Any) -> None:
    if progress is None or isinstance(progress, (bool, np.bool_)) or callable(progress):
        return
    raise TypeError(f"progress must be None, a bool or a callable(done, total), got {type(progress).__name__}")


def _check_out_path(path: Any, name: str) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {type(path).__name__}")
    p = os.fspath(path)
    if not p:
        raise ValueError(f"{name} must be a non-empty path")
    parent = os.path.dirname(os.path.abspath(p))
    if not os.path.isdir(parent):
        raise ValueError(f"{name}: the directory of {p!r} does not exist ({parent!r})")
    if os.path.isdir(p):
        raise ValueError(f"{name}: {p!r} is a directory, expected a file path")
    return p


class _Progress:
    """tqdm bar on stderr (``True``, or ``None`` on a terminal after a delay), or a callback."""

    def __init__(self, progress: Any, total: int, initial: int, pending: int, desc: str):
        self.callback: Callable[[int, int], Any] | None = None
        self.bar = None
        self.done, self.total = initial, total
        if pending == 0 or progress is False or isinstance(progress, np.bool_) and not progress:
            return
        if callable(progress) and not isinstance(progress, (bool, np.bool_)):
            self.callback = progress
            return
        stderr = sys.stderr
        tty = bool(stderr is not None and getattr(stderr, "isatty", lambda: False)())
        if progress is None and not tty:
            return
        from tqdm import tqdm

        self.bar = tqdm(
            total=total, initial=initial, desc=desc, unit="task", file=stderr,
            delay=0.0 if progress else _PROGRESS_DELAY, leave=bool(progress),
        )

    def update(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
        if self.callback is not None:
            self.callback(self.done, self.total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _run_tasks(func, tasks: Sequence[tuple], executor, on_result) -> None:
    """Run ``func(*t)`` for every ``t``; call ``on_result(index, value)`` as each finishes.

    Serial in order without an executor; otherwise one ``submit`` per task and results in
    completion order.  On an error the pending tasks are cancelled and the error re-raised.
    """
    if executor is None:
        for i, t in enumerate(tasks):
            on_result(i, func(*t))
        return
    futures = {}
    try:
        for i, t in enumerate(tasks):
            futures[executor.submit(func, *t)] = i
        for fut in concurrent.futures.as_completed(futures):
            on_result(futures[fut], fut.result())
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise


# =========================================================================== encoding
def _encode(value: Any) -> Any:
    """Strict-JSON form of a row value: non-finite floats become ``"inf"``/``"-inf"``."""
    if isinstance(value, float) and not math.isfinite(value):
        if math.isnan(value):  # pragma: no cover - rows never hold NaN
            raise ValueError("a sweep row holds NaN")
        return "inf" if value > 0 else "-inf"
    return value


def _decode(column: str, value: Any) -> Any:
    if column not in _STRING_COLUMNS and value in ("inf", "-inf"):
        return float(value)
    return value


def _encode_row(row: dict) -> dict:
    return {c: _encode(row[c]) for c in SWEEP_COLUMNS}


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest repr: round-trips exactly; inf -> "inf"
    return str(value)


# =========================================================================== sweep rows
def _sweep_row(model: LatentClassModel, k: int | float, tau: float, dim: int | None) -> dict:
    """One row of :func:`sweep_negatives` (module level so that it pickles to workers).

    A deterministic function of ``(model, k, tau, dim)``: the optimiser gets the fixed seed
    ``_SOLVER_SEED``, so every executor returns the bits of the serial run.
    """
    t0 = time.perf_counter()
    opt = optimal_representation(model, k, tau=tau, dim=dim, rng=_SOLVER_SEED)
    weighted = mean_classifier_metrics(model, opt.F, tau, weighting="class_probs")
    balanced = mean_classifier_metrics(model, opt.F, tau, weighting="balanced")
    rho = np.asarray(model.class_probs, dtype=float)
    row: dict[str, Any] = {
        "k": k if k == math.inf else int(k),
        "loss": float(opt.loss),
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
            bound_saunshi=None, bound_ash=None, bound_nozawa_sato=None, bound_bao=None,
            bound_bao_lower=None,
        )
    else:
        b = published_bounds(rho, k, row["loss"], tau)
        row.update(
            collision_probability=float(b.collision),
            coverage_probability=float(b.coverage),
            expected_log_collisions=float(b.coll_k),
            bound_saunshi=float(b.saunshi),
            bound_ash=None if b.ash is None else float(b.ash),
            bound_nozawa_sato=float(b.nozawa_sato),
            bound_bao=float(b.bao),
            bound_bao_lower=float(b.bao_lower),
        )
    row["seconds"] = time.perf_counter() - t0
    return {c: row[c] for c in SWEEP_COLUMNS}


# =========================================================================== checkpoint
class _Checkpoint:
    """Append-only JSON-lines checkpoint: a header line, then one line per completed row.

    Each row is written with one ``write`` of ``json + "\\n"``, then ``flush`` and
    ``os.fsync``, so after a ``kill -9`` the file holds every completed row plus at most one
    torn (newline-less or unparsable) last line, which :meth:`open` drops (truncating the
    file back to the last complete line before appending).  An advisory ``flock`` (POSIX)
    refuses a second sweep writing the same file concurrently.
    """

    def __init__(self, path: str, fh, rows: dict):
        self.path, self._fh, self.rows = path, fh, rows

    @classmethod
    def open(cls, path: str, header: dict) -> "_Checkpoint":
        fh = open(path, "a+b")
        try:
            cls._lock(fh, path)
            fh.seek(0)
            data = fh.read()
            rows, keep, has_header = cls._parse(data, path, header)
            if keep < len(data):  # drop a torn last line
                fh.truncate(keep)
                fh.flush()
                os.fsync(fh.fileno())
            if not has_header:
                fh.seek(0, os.SEEK_END)
                fh.write((json.dumps(header, allow_nan=False) + "\n").encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
                cls._fsync_dir(path)
        except BaseException:
            fh.close()
            raise
        return cls(path, fh, rows)

    @staticmethod
    def _lock(fh, path: str) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ValueError(
                f"checkpoint {path!r} is in use by another running sweep (file lock held)"
            ) from None

    @staticmethod
    def _fsync_dir(path: str) -> None:
        try:
            fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
        except OSError:  # pragma: no cover - e.g. Windows
            return
        try:
            os.fsync(fd)
        except OSError:  # pragma: no cover
            pass
        finally:
            os.close(fd)

    @staticmethod
    def _parse(data: bytes, path: str, header: dict) -> tuple[dict, int, bool]:
        """Completed rows by k, the byte length to keep, and whether a valid header is kept."""
        lines = data.split(b"\n")  # the last element is b"" iff the file ends with "\n"
        offsets = []
        pos = 0
        for ln in lines:
            offsets.append(pos)
            pos += len(ln) + 1
        parsed = []
        for i, ln in enumerate(lines):
            last = i == len(lines) - 1
            if last and ln == b"":
                break
            try:
                obj = json.loads(ln.decode("utf-8"))
                if not isinstance(obj, dict):
                    raise ValueError("not a JSON object")
                if last:  # complete JSON but no newline: a write cut exactly before "\n"
                    raise ValueError("no newline")
            except (ValueError, UnicodeDecodeError):
                is_last_line = last or (i == len(lines) - 2 and lines[-1] == b"")
                if is_last_line and not parsed:
                    # only a torn copy of *this* sweep's header may be dropped: never truncate
                    # a file that is not ours
                    ours = (json.dumps(header, allow_nan=False) + "\n").encode("utf-8")
                    if not ours.startswith(ln):
                        raise ValueError(
                            f"checkpoint {path!r} is not a latentclass sweep checkpoint of this sweep "
                            "(its first line is neither a header nor a torn copy of this sweep's header)"
                        ) from None
                if is_last_line:
                    return _Checkpoint._rows_of(parsed, path, header), offsets[i], bool(parsed)
                if not parsed:
                    raise ValueError(
                        f"checkpoint {path!r} is not a latentclass sweep checkpoint (line 1 is not a header)"
                    ) from None
                raise ValueError(
                    f"checkpoint {path!r} is corrupt: line {i + 1} is not a JSON object "
                    "(only a torn last line is tolerated)"
                ) from None
            parsed.append(obj)
        keep = len(data)
        return _Checkpoint._rows_of(parsed, path, header), keep, bool(parsed)

    @staticmethod
    def _rows_of(objs: list, path: str, header: dict) -> dict:
        if not objs:
            return {}
        head = objs[0]
        if head.get("magic") != _CHECKPOINT_MAGIC:
            raise ValueError(f"checkpoint {path!r} is not a latentclass sweep checkpoint (bad header line)")
        diffs = [
            f"{key}: file has {head.get(key)!r}, this sweep has {header[key]!r}"
            for key in ("format", "model_fingerprint", "tau", "dim", "code_version", "columns")
            if head.get(key) != header[key]
        ]
        if diffs:
            raise ValueError(
                f"checkpoint {path!r} belongs to a different sweep and is not mixed with this one "
                f"({'; '.join(diffs)}); use another checkpoint path or delete the file"
            )
        rows: dict = {}
        for i, obj in enumerate(objs[1:], start=2):
            if set(obj) != set(SWEEP_COLUMNS):
                raise ValueError(f"checkpoint {path!r} is corrupt: line {i} is not a sweep row")
            row = {c: _decode(c, obj[c]) for c in SWEEP_COLUMNS}
            k = row["k"]
            rows.setdefault(k, row)  # a duplicate (never written by us) keeps the first
        return rows

    def append(self, row: dict) -> None:
        line = json.dumps(_encode_row(row), allow_nan=False) + "\n"
        self._fh.seek(0, os.SEEK_END)
        self._fh.write(line.encode("utf-8"))
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()  # also releases the lock


# =========================================================================== sweep result
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

    Column meanings: ``loss`` is the exact population loss ``L_k`` of the optimum
    (``L_∞`` for ``k = inf``), ``duality_gap`` its certified sub-optimality bound and
    ``certified`` whether it is within tolerance (SPEC §4); ``mean_classifier_*`` are SPEC
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

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def ks(self) -> tuple:
        """The swept ``k`` in row order."""
        return tuple(r["k"] for r in self.rows)

    def column(self, name: str) -> tuple:
        """The values of one column, in row order."""
        check_choice(name, "name", self.columns)
        return tuple(r[name] for r in self.rows)

    def to_csv(self, path: Any) -> None:
        """Write the table as CSV (header line of column names) to a path or text stream.

        ``None`` is an empty cell, floats are written with ``repr`` (they read back
        exactly; ``inf`` for infinity), booleans as ``True``/``False``.  A path is written
        to a temporary file and renamed into place; an object with a ``write`` method
        (e.g. ``sys.stdout``) is written to directly.
        """
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.columns)
        for r in self.rows:
            w.writerow([_csv_cell(r[c]) for c in self.columns])
        _write_text(path, buf.getvalue())

    def to_json(self, path: Any) -> None:
        """Write the table as a strict-JSON list of row objects (``pandas.read_json`` reads it).

        Infinite values (``k = inf``, vacuous bounds) are the strings ``"inf"``/``"-inf"``,
        ``None`` is ``null``.  ``path`` is a path (atomic write) or a text stream.
        """
        text = json.dumps([_encode_row(r) for r in self.rows], indent=1, allow_nan=False)
        _write_text(path, text + "\n")

    def __repr__(self) -> str:
        ks = ", ".join("inf" if k == math.inf else str(k) for k in self.ks[:8])
        more = ", ..." if len(self.rows) > 8 else ""
        cert = sum(bool(r["certified"]) for r in self.rows)
        return (
            f"SweepResult({len(self.rows)} rows, k=[{ks}{more}], tau={self.tau:g}, dim={self.dim}, "
            f"certified {cert}/{len(self.rows)}, {len(self.columns)} columns)"
        )


def _write_text(target: Any, text: str) -> None:
    if not isinstance(target, (str, os.PathLike)) and callable(getattr(target, "write", None)):
        target.write(text)
        return
    _atomic_write(_check_out_path(target, "path"), text)


def _atomic_write(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


# =========================================================================== sweep
def sweep_negatives(
    model: LatentClassModel,
    ks: Sequence[int | float],
    tau: float = 1.0,
    *,
    dim: int | None = None,
    executor: concurrent.futures.Executor | None = None,
    checkpoint: str | os.PathLike | None = None,
    progress: bool | Callable[[int, int], Any] | None = None,
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
    checkpoint : path, optional
        JSON-lines file: a header identifying the sweep (model fingerprint, ``tau``,
        ``dim``, code version, columns), then one line per completed row, each appended
        with ``flush`` + ``os.fsync`` as soon as it is known.  If the file exists, its rows
        are reused (the ``k`` it holds are not recomputed), a torn last line left by a
        ``kill -9`` is dropped, and a header from a different sweep raises ``ValueError``
        naming the checkpoint.  The result equals that of an uninterrupted run.  ``ks`` may
        differ between runs; only the requested ``k`` are returned.
    progress : bool or callable, optional
        ``True``: a tqdm bar on stderr; ``False``: none; ``None`` (default): a bar only when
        stderr is a terminal and the sweep runs longer than 2 s; a callable is called as
        ``progress(done, total)`` after each newly computed row.

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
    if not isinstance(model, LatentClassModel):
        raise TypeError(f"model must be a LatentClassModel, got {type(model).__name__}")
    ks = _check_ks(ks)
    tau = check_tau(tau)
    dim = _check_dim(dim, model)
    _check_executor(executor)
    _check_progress(progress)
    fingerprint = model.fingerprint()
    ck = None
    if checkpoint is not None:
        path = _check_out_path(checkpoint, "checkpoint")
        header = {
            "magic": _CHECKPOINT_MAGIC,
            "format": _CHECKPOINT_FORMAT,
            "model_fingerprint": fingerprint,
            "tau": tau,
            "dim": dim,
            "code_version": _code_version(),
            "columns": list(SWEEP_COLUMNS),
        }
        ck = _Checkpoint.open(path, header)
    try:
        rows = {k: ck.rows[k] for k in ks if k in ck.rows} if ck is not None else {}
        todo = [k for k in ks if k not in rows]
        bar = _Progress(progress, len(ks), len(rows), len(todo), "sweep over k")

        def record(i: int, row: dict) -> None:
            rows[todo[i]] = row
            if ck is not None:
                ck.append(row)
            bar.update()

        try:
            _run_tasks(_sweep_row, [(model, k, tau, dim) for k in todo], executor, record)
        finally:
            bar.close()
    finally:
        if ck is not None:
            ck.close()
    return SweepResult(tuple(rows[k] for k in ks), SWEEP_COLUMNS, tau, dim, fingerprint)


# =========================================================================== degradation
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
            {"k": k, "loss": float(l), "accuracy": float(a), "contrastive_loss": float(c),
             "duality_gap": float(g), "certified": bool(ok)}
            for k, l, a, c, g, ok in zip(self.ks, self.losses, self.accuracies,
                                         self.contrastive_losses, self.duality_gaps, self.certified)
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
    """

    cases: tuple
    worst: dict
    max_rise: dict
    ks: tuple
    tau: float
    n_distributions: int
    all_certified: bool

    def summary(self) -> str:
        """A plain-text table of the worst cases."""
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


#: Named families searched by default (small m: each point is one certified solve).
DEFAULT_FAMILIES: tuple[str, ...] = (
    "zipf:3:1", "zipf:4:1", "zipf:5:0.5", "zipf:5:1.5", "zipf:6:1", "zipf:6:2", "zipf:8:1",
    "geometric:3:0.3", "geometric:4:0.5", "geometric:6:0.7", "geometric:6:0.4",
    "dominant:3:0.6", "dominant:4:0.9", "dominant:5:0.5", "dominant:6:0.75",
    "dominant:3:0.1", "dominant:5:0.05",
    "two_blocks:4:0.5:4", "two_blocks:6:0.5:10", "two_blocks:6:0.17:20", "two_blocks:6:0.83:20",
)
#: Default k grid (math.inf is the limit objective).
DEFAULT_KS: tuple = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128, 512, 4096, math.inf)


def _degradation_point(
    class_probs: tuple, k: Any, tau: float, weightings: tuple, init: str = "structured",
    seed: int = _SOLVER_SEED,
) -> dict:
    """Certified optimum of the class-level model at one ``k`` and its downstream metrics."""
    model = LatentClassModel.one_point_per_class(np.asarray(class_probs, dtype=float))
    opt = optimal_representation(model, k, tau=tau, rng=seed, init=init)
    out = {
        "contrastive_loss": float(opt.loss),
        "duality_gap": math.inf if opt.duality_gap is None else float(opt.duality_gap),
        "certified": bool(opt.certified),
    }
    for w in weightings:
        r = mean_classifier_metrics(model, opt.F, tau, weighting=w)
        out[w] = (float(r.loss), float(r.accuracy))
    return out


def _normalise_families(families: Any) -> list[tuple[str, np.ndarray]]:
    if isinstance(families, str):
        families = [families]
    if isinstance(families, dict):
        items = list(families.items())
    else:
        if not isinstance(families, Iterable):
            raise TypeError(f"families must be a sequence of family specs, got {type(families).__name__}")
        items = []
        for i, f in enumerate(families):
            if isinstance(f, str):
                items.append((f, f))
            elif isinstance(f, tuple) and len(f) == 2 and isinstance(f[0], str):
                items.append(f)
            else:
                items.append((f"class_probs[{i}]", f))
    out = []
    for name, spec in items:
        if isinstance(spec, str):
            rho = parse_class_probs(spec, name=f"families[{name!r}]")
        else:
            rho = np.array(check_class_probs(spec, name=f"families[{name!r}]"), dtype=float)
        out.append((str(name), rho))
    return out


def search_degradation(
    families: Any = DEFAULT_FAMILIES,
    ks: Sequence[int | float] = DEFAULT_KS,
    tau: float = 1.0,
    *,
    n_random: int = 20,
    random_classes: Sequence[int] = (3, 4, 5, 6),
    random_alpha: Sequence[float] = (0.3, 1.0, 3.0),
    min_class_prob: float = 1e-4,
    rng: Any = 0,
    weighting: str | Sequence[str] = ("class_probs", "balanced"),
    executor: concurrent.futures.Executor | None = None,
    top: int = 5,
    progress: bool | Callable[[int, int], Any] | None = None,
) -> DegradationSearchResult:
    """Search class distributions for a rise of the downstream loss with ``k`` (SPEC §5).

    For every class law ``ρ`` (the named ``families`` plus ``n_random`` seeded Dirichlet
    draws) and every ``k`` of ``ks``, the class-level model ``one_point_per_class(ρ)`` is
    solved to its certified optimum (``optimal_representation(model, k, tau, rng=0)``),
    and the mean-classifier loss ``ℓ_w(k)`` (SPEC §6) is evaluated on it under each
    weighting ``w``.  Each curve's largest rise ``max_{i<j} ℓ_w(k_j) − ℓ_w(k_i)``
    (:func:`largest_rise`) is reported; a positive rise is degradation with ``k``.  The
    curves are raw: not smoothed, not assumed monotone; each point says whether its
    optimum was certified.

    Parameters
    ----------
    families : sequence or dict
        Items are family specs for :func:`latentclass.families.parse_class_probs`
        (``"zipf:5:1.5"``), ``(name, class_probs)`` pairs, or probability vectors; or a
        dict ``name -> spec or vector``.  Default :data:`DEFAULT_FAMILIES`.
    ks : sequence of int or math.inf
        The grid: at least 2 distinct values, given in any order (sorted increasingly
        here, so a rise always means ``k < k'``).  Default :data:`DEFAULT_KS`.
    tau : float
    n_random : int
        Number of Dirichlet draws; draw ``i`` has ``m`` and ``α`` chosen from
        ``random_classes`` and ``random_alpha`` by the generator seeded with ``rng``.
    min_class_prob : float
        A draw with a class below this probability is rejected and redrawn (at most 1000
        tries per draw).  Such classes barely enter the contrastive loss, so the certificate
        does not pin their vectors down and the balanced downstream loss is not resolved.
    rng : seed or numpy.random.Generator
        Seeds the Dirichlet draws (same seed, same distributions).
    weighting : str or sequence of str
        ``"class_probs"`` and/or ``"balanced"``.
    executor : concurrent.futures.Executor, optional
        One task per (distribution, k), as in :func:`sweep_negatives`.
    top : int
        Number of worst cases kept per weighting in ``worst``; each of their curves is
        re-solved from a random start to measure its ``resolution``.
    progress : bool or callable, optional
        As in :func:`sweep_negatives`.

    Returns
    -------
    DegradationSearchResult
    """
    ks = tuple(sorted(_check_ks(ks)))
    if len(ks) < 2:
        raise ValueError(f"ks must hold at least 2 distinct values to measure a rise, got {ks}")
    tau = check_tau(tau)
    n_random = check_integer(n_random, "n_random", minimum=0)
    top = check_integer(top, "top", minimum=1)
    if isinstance(weighting, str):
        weighting = (weighting,)
    weightings = tuple(weighting)
    if not weightings:
        raise ValueError("weighting must name at least one of 'class_probs', 'balanced'")
    for w in weightings:
        check_choice(w, "weighting", _WEIGHTINGS)
    if len(set(weightings)) != len(weightings):
        raise ValueError(f"weighting must not repeat a value, got {weightings}")
    _check_executor(executor)
    _check_progress(progress)
    dists = _normalise_families(families)
    if n_random:
        classes = [check_integer(c, "random_classes", minimum=2) for c in random_classes]
        alphas = [float(a) for a in random_alpha]
        if not classes or not alphas or any(not (math.isfinite(a) and a > 0) for a in alphas):
            raise ValueError("random_classes and random_alpha must be non-empty; every alpha finite and > 0")
        floor = float(min_class_prob)
        if not (math.isfinite(floor) and 0.0 <= floor < 1.0 / max(classes)):
            raise ValueError(
                f"min_class_prob must be >= 0 and < 1/max(random_classes) = {1.0 / max(classes):g}, "
                f"got {min_class_prob!r}"
            )
        gen = as_generator(rng)
        seed_txt = f"seed={rng}, " if isinstance(rng, (int, np.integer)) else ""
        for i in range(n_random):
            m = classes[int(gen.integers(len(classes)))]
            a = alphas[int(gen.integers(len(alphas)))]
            for _ in range(1000):
                rho = dirichlet(m, a, gen)
                if rho.min() >= floor:
                    break
            else:
                raise ValueError(
                    f"no Dirichlet(alpha={a:g}) draw over m={m} classes had every class >= "
                    f"min_class_prob={floor:g} in 1000 tries; lower min_class_prob or raise alpha"
                )
            dists.append((f"dirichlet(m={m}, alpha={a:g}, {seed_txt}draw={i})", rho))
    if not dists:
        raise ValueError("families is empty and n_random = 0: nothing to search")

    tasks = [(tuple(rho.tolist()), k, tau, weightings) for _, rho in dists for k in ks]
    results: list = [None] * len(tasks)
    bar = _Progress(progress, len(tasks), 0, len(tasks), "degradation search")

    def record(i: int, value: dict) -> None:
        results[i] = value
        bar.update()

    try:
        _run_tasks(_degradation_point, tasks, executor, record)
    finally:
        bar.close()

    nk = len(ks)
    rises = {}  # (distribution index, weighting) -> (rise, i, j)
    for d in range(len(dists)):
        for w in weightings:
            rises[d, w] = largest_rise([p[w][0] for p in results[d * nk : (d + 1) * nk]])
    order = sorted(rises, key=lambda key: (-rises[key][0], key[0], weightings.index(key[1])))
    worst_keys = {w: [key for key in order if key[1] == w][:top] for w in weightings}

    # independent re-solve (random start, other seed) of the worst curves: an error bar
    check = sorted({d for keys in worst_keys.values() for d, _ in keys})
    vtasks = [(tuple(dists[d][1].tolist()), k, tau, weightings, "random", _SOLVER_SEED + 1)
              for d in check for k in ks]
    vresults: list = [None] * len(vtasks)

    def vrecord(i: int, value: dict) -> None:
        vresults[i] = value

    _run_tasks(_degradation_point, vtasks, executor, vrecord)
    resolution = {}
    for pos, d in enumerate(check):
        for w in weightings:
            main = np.array([p[w][0] for p in results[d * nk : (d + 1) * nk]])
            alt = np.array([p[w][0] for p in vresults[pos * nk : (pos + 1) * nk]])
            resolution[d, w] = float(np.max(np.abs(main - alt)))

    made = {}
    for d, w in order:
        name, rho = dists[d]
        pts = results[d * nk : (d + 1) * nk]
        cert = np.array([p["certified"] for p in pts], dtype=bool)
        gaps = np.array([p["duality_gap"] for p in pts])
        closs = np.array([p["contrastive_loss"] for p in pts])
        losses = np.array([p[w][0] for p in pts])
        accs = np.array([p[w][1] for p in pts])
        rise, i, j = rises[d, w]
        crise = largest_rise(losses[cert])[0] if cert.sum() >= 2 else None
        made[d, w] = DegradationCase(
            name, readonly(rho), w, ks, readonly(losses), readonly(accs), readonly(closs),
            readonly(gaps), readonly(cert), rise, ks[i], ks[j], crise, resolution.get((d, w)),
        )
    cases = tuple(made[key] for key in order)
    worst = {w: tuple(made[key] for key in worst_keys[w]) for w in weightings}
    max_rise = {w: worst[w][0].rise for w in weightings}
    all_cert = all(c.all_certified for c in cases)
    return DegradationSearchResult(cases, worst, max_rise, ks, tau, len(dists), all_cert)
