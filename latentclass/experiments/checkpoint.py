"""The crash-safe JSON-lines checkpoint of a sweep (see :class:`_Checkpoint`)."""

from __future__ import annotations

import json
import os

from .sweep_rows import SWEEP_COLUMNS, _decode, _encode_row

_CHECKPOINT_MAGIC = "latentclass-sweep-checkpoint"
_CHECKPOINT_FORMAT = 1


def _code_version() -> str:
    try:
        from .. import __version__

        return str(__version__)
    except ImportError:  # pragma: no cover - package partly initialised
        from importlib.metadata import version

        return version("latentclass")


def _checkpoint_header(model_fingerprint: str, tau: float, dim: int | None) -> dict:
    """The first line of a checkpoint: what identifies the sweep whose rows follow."""
    return {
        "magic": _CHECKPOINT_MAGIC,
        "format": _CHECKPOINT_FORMAT,
        "model_fingerprint": model_fingerprint,
        "tau": tau,
        "dim": dim,
        "code_version": _code_version(),
        "columns": list(SWEEP_COLUMNS),
    }


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
    def open(cls, path: str, header: dict) -> _Checkpoint:
        fh = open(path, "a+b")  # noqa: SIM115 -- owned by the returned checkpoint, closed by it
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
            raise ValueError(
                f"checkpoint {path!r} is not a latentclass sweep checkpoint (bad header line)"
            )
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
