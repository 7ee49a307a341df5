"""Running independent tasks serially or on an executor, with a progress bar or callback.

Every task is a module-level function (so that it pickles to process pools and Dask
workers) and a deterministic function of its arguments: solvers get the fixed seed
``_SOLVER_SEED``, so every executor returns the bits of the serial run.
"""

from __future__ import annotations

import concurrent.futures
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

#: Seed passed to the optimiser by every task (results are deterministic functions of the inputs).
_SOLVER_SEED = 0
#: With ``progress=None`` a bar appears (on a terminal) only once a run has lasted this long.
_PROGRESS_DELAY = 2.0


def _check_executor(executor: Any) -> None:
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(
            f"executor must be a concurrent.futures.Executor (with a submit method) or None, "
            f"got {type(executor).__name__}"
        )


def _check_progress(progress: Any) -> None:
    if progress is None or isinstance(progress, (bool, np.bool_)) or callable(progress):
        return
    raise TypeError(
        f"progress must be None, a bool or a callable(done, total), got {type(progress).__name__}"
    )


class _Progress:
    """tqdm bar on stderr (``True``, or ``None`` on a terminal after a delay), or a callback."""

    def __init__(self, progress: Any, total: int, initial: int, pending: int, desc: str):
        self.callback: Callable[[int, int], Any] | None = None
        self.bar = None
        self.done, self.total = initial, total
        if pending == 0 or progress is False or (isinstance(progress, np.bool_) and not progress):
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
            total=total,
            initial=initial,
            desc=desc,
            unit="task",
            file=stderr,
            delay=0.0 if progress else _PROGRESS_DELAY,
            leave=bool(progress),
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
