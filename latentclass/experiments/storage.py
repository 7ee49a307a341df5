"""What experiments write to disk: the row format, result files and the sweep checkpoint.

- the columns of a sweep row (``SWEEP_COLUMNS``) and their strict-JSON / CSV form
  (``_encode``, ``_decode``, ``_csv_cell``);
- result files: path checks and atomic writes (temporary file, ``fsync``, rename);
- the crash-safe JSON-lines checkpoint of a sweep (see :class:`_Checkpoint`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import math
import os
import weakref
from typing import Any

from .._provenance import versions

# ----------------------------------------------------------------- result files


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


def _csv_comment_lines(title: str, items: dict) -> str:
    """``# title`` then one ``# key: value`` line per item: the provenance block of a CSV.

    ``pandas.read_csv(path, comment="#")`` skips these lines (as do ``numpy.genfromtxt``
    and R's ``read.csv(comment.char = "#")``); with the standard ``csv`` module, skip the
    lines that start with ``#``.  Values are written with ``str`` on one line.
    """
    out = [f"# {title}\n"]
    for key, value in items.items():
        text = " ".join(str(value).split())  # one line, whatever the value
        out.append(f"# {key}: {text}\n")
    return "".join(out)


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


# --------------------------------------------------------------- the row format

#: Columns of a sweep row, in order.
SWEEP_COLUMNS: tuple[str, ...] = (
    "k",
    "loss",
    "loss_limit",
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


# --------------------------------------------------------------- the checkpoint

_CHECKPOINT_MAGIC = "latentclass-sweep-checkpoint"
_CHECKPOINT_FORMAT = 2
#: Header fields that identify a sweep: a checkpoint whose header differs in one of them is
#: refused (rows of different sweeps, or of different code or numerics, are never mixed).
#: ``versions`` (all of :func:`versions`, with the platform) is recorded, not compared.
_IDENTITY_KEYS = (
    "format",
    "model_fingerprint",
    "tau",
    "dim",
    "code_version",
    "python",
    "numpy",
    "scipy",
    "columns",
)
#: Key of a row line holding the row's integrity check.
_DIGEST_KEY = "sha256"


def _checkpoint_header(model_fingerprint: str, tau: float, dim: int | None) -> dict:
    """The first line of a checkpoint: what identifies the sweep whose rows follow."""
    v = versions()
    return {
        "magic": _CHECKPOINT_MAGIC,
        "format": _CHECKPOINT_FORMAT,
        "model_fingerprint": model_fingerprint,
        "tau": tau,
        "dim": dim,
        "code_version": v["latentclass"],
        "python": v["python"],
        "numpy": v["numpy"],
        "scipy": v["scipy"],
        "columns": list(SWEEP_COLUMNS),
        "versions": v,
    }


def _canonical(obj: Any) -> bytes:
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), allow_nan=False, ensure_ascii=True
    ).encode("ascii")


def _run_id(header: dict) -> str:
    """SHA-256 of the identifying header fields: binds every row to its sweep."""
    return hashlib.sha256(_canonical({k: header[k] for k in _IDENTITY_KEYS})).hexdigest()


def _row_digest(encoded_row: dict, run_id: str) -> str:
    """SHA-256 of ``run_id`` and the row's canonical JSON (sorted keys, no spaces)."""
    return hashlib.sha256(run_id.encode("ascii") + b"\n" + _canonical(encoded_row)).hexdigest()


_open_checkpoints: weakref.WeakSet = weakref.WeakSet()


def _drop_locks_in_child() -> None:
    for ck in list(_open_checkpoints):
        ck._drop_lock_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_locks_in_child)


class _Checkpoint:
    """Append-only JSON-lines checkpoint: a header line, then one line per completed row.

    Each row is written with one ``write`` of ``json + "\\n"``, then ``flush`` and
    ``os.fsync``, so after a ``kill -9`` the file holds every completed row plus at most one
    torn (newline-less or unparsable) last line, which :meth:`open` drops (truncating the
    file back to the last complete line before appending).

    Every row line carries ``"sha256"``: the SHA-256 of the run id (the SHA-256 of the
    header's identifying fields) and of the row's canonical JSON.  A complete line that is
    not a row of this sweep with a matching digest (damaged, edited by hand, not JSON) is
    never reused: it is listed in :attr:`rejected` (line number, ``k`` when readable,
    reason), left in the file, and its ``k`` is computed again.  The digest detects
    accidental damage and edits; it is not a signature.

    Locking: an advisory ``flock`` (POSIX) on a file descriptor of its own refuses a second
    sweep writing the same file.  The lock is the opening process's alone: the descriptor
    is close-on-exec (not inherited by ``spawn``/``forkserver``/``subprocess`` children),
    and a child made by ``fork`` (a fork-based process pool started during the sweep)
    closes its copy at once (``os.register_at_fork``) — a ``flock`` lives as long as any
    copy of its descriptor, so otherwise a worker surviving its parent would keep the lock.
    When the process dies (``kill -9`` included) the kernel releases the lock.
    """

    def __init__(self, path: str, fh, lock_fd: int, rows: dict, rejected: list[dict]):
        self.path, self._fh, self._lock_fd = path, fh, lock_fd
        self.rows, self.rejected = rows, rejected
        self._run_id = ""
        self._owner = os.getpid()
        _open_checkpoints.add(self)

    @classmethod
    def open(cls, path: str, header: dict) -> _Checkpoint:
        lock_fd = cls._lock(path)
        fh = None
        try:
            fh = open(path, "a+b")  # noqa: SIM115 -- owned by the returned checkpoint, closed by it
            fh.seek(0)
            data = fh.read()
            rows, keep, has_header, rejected = cls._parse(data, path, header)
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
            if fh is not None:
                fh.close()
            if lock_fd >= 0:
                os.close(lock_fd)
            raise
        ck = cls(path, fh, lock_fd, rows, rejected)
        ck._run_id = _run_id(header)
        return ck

    @staticmethod
    def _lock(path: str) -> int:
        """Open ``path`` for locking only (creating it) and ``flock`` it; ``-1`` off POSIX."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return -1
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ValueError(
                f"checkpoint {path!r} is in use by another running sweep (file lock held)"
            ) from None
        return fd

    def _drop_lock_in_child(self) -> None:
        """In a forked child: close the inherited lock descriptor (the parent keeps the lock)."""
        if self._lock_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = -1

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
    def _parse(data: bytes, path: str, header: dict) -> tuple[dict, int, bool, list[dict]]:
        """Verified rows by k, the byte length to keep, whether a valid header is kept, and
        the rejected lines."""
        lines = data.split(b"\n")  # the last element is b"" iff the file ends with "\n"
        offsets = []
        pos = 0
        for ln in lines:
            offsets.append(pos)
            pos += len(ln) + 1
        complete, tail = lines[:-1], lines[-1]
        # the byte length to keep: a newline-less tail is a torn write
        keep = offsets[-1] if tail else len(data)
        if not complete:
            _Checkpoint._check_torn_header(tail, path, header)
            return {}, 0, False, []
        head = _Checkpoint._json_object(complete[0])
        if head is None:
            if len(complete) == 1 and not tail:  # only a header, unparsable: torn?
                _Checkpoint._check_torn_header(complete[0], path, header)
                return {}, 0, False, []
            raise ValueError(
                f"checkpoint {path!r} is not a latentclass sweep checkpoint (line 1 is not a header)"
            )
        _Checkpoint._check_header(head, path, header)
        run_id = _run_id(header)
        rows: dict = {}
        rejected: list[dict] = []
        for i, ln in enumerate(complete[1:], start=2):
            obj = _Checkpoint._json_object(ln)
            if obj is None and i == len(complete) and not tail:
                # the last line, complete but unparsable: a torn write (e.g. zeros after a
                # machine crash); dropped like a newline-less one
                keep = offsets[i - 1]
                break
            row, reason = _Checkpoint._verified_row(obj, run_id)
            if row is None:
                k = obj.get("k") if isinstance(obj, dict) else None
                k = _decode("k", k) if isinstance(k, (int, str)) else None
                rejected.append({"line": i, "k": k, "reason": reason})
                continue
            rows.setdefault(row["k"], row)  # a duplicate (never written by us) keeps the first
        return rows, keep, True, rejected

    @staticmethod
    def _json_object(ln: bytes) -> dict | None:
        try:
            obj = json.loads(ln.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None
        return obj if isinstance(obj, dict) else None

    @staticmethod
    def _check_torn_header(fragment: bytes, path: str, header: dict) -> None:
        """Only a torn copy of *this* sweep's header may be dropped: never truncate a file
        that is not ours."""
        ours = (json.dumps(header, allow_nan=False) + "\n").encode("utf-8")
        if not ours.startswith(fragment):
            raise ValueError(
                f"checkpoint {path!r} is not a latentclass sweep checkpoint of this sweep "
                "(its first line is neither a header nor a torn copy of this sweep's header)"
            )

    @staticmethod
    def _check_header(head: dict, path: str, header: dict) -> None:
        if head.get("magic") != _CHECKPOINT_MAGIC:
            raise ValueError(
                f"checkpoint {path!r} is not a latentclass sweep checkpoint (bad header line)"
            )
        diffs = [
            f"{key}: file has {head.get(key)!r}, this sweep has {header[key]!r}"
            for key in _IDENTITY_KEYS
            if head.get(key) != header[key]
        ]
        if diffs:
            raise ValueError(
                f"checkpoint {path!r} belongs to a different sweep and is not mixed with this one "
                f"({'; '.join(diffs)}); use another checkpoint path or delete the file"
            )

    @staticmethod
    def _verified_row(obj: dict | None, run_id: str) -> tuple[dict | None, str]:
        """The decoded row of a row line whose digest matches, else ``(None, reason)``."""
        if obj is None:
            return None, "not a JSON object"
        if set(obj) != {*SWEEP_COLUMNS, _DIGEST_KEY}:
            return None, "not a sweep row (wrong fields)"
        digest = obj[_DIGEST_KEY]
        encoded = {c: obj[c] for c in SWEEP_COLUMNS}
        try:
            expected = _row_digest(encoded, run_id)
        except (TypeError, ValueError):  # pragma: no cover - json.loads output always encodes
            return None, "not a sweep row (unencodable values)"
        if not isinstance(digest, str) or not hmac.compare_digest(digest, expected):
            return None, "integrity check failed (sha256 does not match: damaged or edited)"
        return {c: _decode(c, encoded[c]) for c in SWEEP_COLUMNS}, ""

    def append(self, row: dict) -> None:
        if os.getpid() != self._owner:  # pragma: no cover - a forked child never writes
            raise RuntimeError("a checkpoint is written only by the process that opened it")
        encoded = _encode_row(row)
        line = json.dumps(
            {**encoded, _DIGEST_KEY: _row_digest(encoded, self._run_id)}, allow_nan=False
        )
        self._fh.seek(0, os.SEEK_END)
        self._fh.write((line + "\n").encode("utf-8"))
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        _open_checkpoints.discard(self)
        self._fh.close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = -1
