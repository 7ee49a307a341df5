"""Running independent tasks serially or on an executor, with a progress bar or callback.

Every task is a module-level function (so that it pickles to process pools and Dask
workers) and a deterministic function of its arguments: solvers get the fixed seed
``_SOLVER_SEED``, and every task computes with **one BLAS / OpenMP thread** (threadpoolctl;
in serial runs too), so every executor returns the bits of the serial run.  Without the
pin the bits depend on the BLAS thread count of the process that runs the task (OpenBLAS
splits some products differently over 1 and 2 threads), which differs between a parent
and, e.g., Dask's worker processes (the nanny starts them with ``OMP_NUM_THREADS=1``).

Worker processes never outlive the process that submitted their tasks: a worker that is a
child of the submitting process (a ``ProcessPoolExecutor``'s, a local Dask cluster's)
starts a watchdog thread (:func:`_watch_parent`) with its first task, and
:func:`process_pool` starts it in the worker initializer, so that the worker exits as soon
as its parent has died (``kill -9`` included).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import os
import platform
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from .._progress import Reporter, check_progress

#: Seed passed to the optimiser by every task (results are deterministic functions of the inputs).
_SOLVER_SEED = 0
#: With ``progress=None`` a bar appears (on a terminal) only once a run has lasted this long.
_PROGRESS_DELAY = 2.0
#: How often (seconds) a worker's watchdog checks that its parent is alive.
_WATCHDOG_INTERVAL = 0.2
#: Exit status of a worker whose parent died.
_ORPHAN_EXIT_STATUS = 70

# ----------------------------------------------------------------------------- BLAS threads
# threadpoolctl (>= 3.6) lets only one thread at a time change a process-wide (pthreads)
# OpenBLAS pool: the first thread to set a limit controls it until its ``with`` block ends,
# and other threads' requests are silently ignored.  So the pin is never taken per task on
# a pool thread: the driving thread holds it around the whole run (covering serial runs and
# tasks on threads of the driving process), and a worker process pins itself once, for good.
_pin_lock = threading.Lock()
_process_pinned = False


def _one_blas_thread() -> contextlib.AbstractContextManager:
    """Context manager: one BLAS / OpenMP thread in this process while the body runs.

    Used by the driving thread around a whole run (:func:`_run_tasks`); the original limits
    are restored on exit.  Thread counts are process-wide, so tasks running on other threads
    of this process meanwhile compute with one thread too.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _pin_worker_process() -> None:
    """In a worker process: one BLAS / OpenMP thread from now on (set once, never restored),
    and glibc's malloc thresholds back to large-array values if the environment fixed
    ``MALLOC_TRIM_THRESHOLD_`` (:func:`_undo_malloc_trim_threshold`).

    A worker process exists to run tasks, so its thread count is not given back; a Dask
    worker running other work afterwards keeps one BLAS thread (Dask's nanny starts
    workers with ``OMP_NUM_THREADS=1`` etc. anyway).
    """
    global _process_pinned
    if _process_pinned:
        return
    with _pin_lock:
        if not _process_pinned:
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=1)  # not a `with`: this thread keeps control
            _undo_malloc_trim_threshold()
            _process_pinned = True


# ----------------------------------------------------------------------------- glibc malloc
#: ``mallopt`` parameters (glibc ``malloc.h``) and the values set in a worker process whose
#: environment fixes ``MALLOC_TRIM_THRESHOLD_``: the largest mmap threshold glibc's dynamic
#: rule reaches on 64-bit (``DEFAULT_MMAP_THRESHOLD_MAX``, 32 MiB) and twice that as the trim
#: threshold, the steady state of glibc's default behaviour for a numpy workload.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD = 32 << 20
_TRIM_THRESHOLD = 64 << 20


def _undo_malloc_trim_threshold() -> bool:
    """In a worker started with ``MALLOC_TRIM_THRESHOLD_`` set (Dask's nanny sets 65536 in
    every worker it spawns, and in its own process's environment, which later children
    inherit): restore glibc's large-array behaviour with ``mallopt``.  Returns whether it did.

    Setting that variable turns off glibc's dynamic mmap threshold, so every array above
    128 KiB is ``mmap``-ed, zero-filled by the kernel and unmapped again, and freed heap is
    returned to the system at once: one m = 200 solve ran 2.4× slower in a Dask worker.
    ``mallopt`` is the only way once the process runs (glibc reads the variable at start).
    No-op elsewhere (not glibc, variable unset, ``ctypes`` unavailable).
    """
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ or platform.libc_ver()[0] != "glibc":
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        ok = libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) == 1
        ok = libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD) == 1 and ok
    except (OSError, AttributeError):  # pragma: no cover - no usable libc
        return False
    return ok


# ----------------------------------------------------------------------------- parent watchdog
_watch_lock = threading.Lock()
_watched_parent: int | None = None


def _reset_watchdog_in_child() -> None:
    """After ``fork``: the child has no watchdog thread and has pinned nothing yet (fresh
    locks, which another thread of the parent may have held at the fork)."""
    global _watched_parent, _process_pinned, _pin_lock, _watch_lock
    _watched_parent, _process_pinned = None, False
    _pin_lock, _watch_lock = threading.Lock(), threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_watchdog_in_child)


def _origin() -> tuple[int, str]:
    """What identifies the submitting process to its workers: its pid and host name."""
    return os.getpid(), platform.node()


def _watchdog_loop(parent: int, interval: float) -> None:
    # a multiprocessing child also knows its parent by a sentinel (portable, Windows too)
    mp_parent = multiprocessing.parent_process()
    if mp_parent is not None and mp_parent.pid != parent:
        mp_parent = None
    while True:
        if os.getppid() != parent or (mp_parent is not None and not mp_parent.is_alive()):
            os._exit(_ORPHAN_EXIT_STATUS)  # re-parented, or the sentinel fired: parent died
        time.sleep(interval)


def _watch_parent(parent: int, interval: float = _WATCHDOG_INTERVAL) -> None:
    """Exit this process (``os._exit``) within ``interval`` seconds of ``parent`` dying.

    A daemon thread polls ``os.getppid()``: when the parent dies the process is re-parented
    (to init or a subreaper) and its parent pid changes (POSIX); in a ``multiprocessing``
    child it also polls the parent's sentinel (``multiprocessing.parent_process()``, which
    works on Windows too, where nothing is re-parented).  No ``prctl(PR_SET_PDEATHSIG)``: it
    fires when the *thread* that forked the child exits, not the process, and is Linux only.  Started at most once per process; the caller makes sure that
    ``parent`` is (or was, an instant ago) this process's parent.
    """
    global _watched_parent
    with _watch_lock:
        if _watched_parent is not None:
            return
        _watched_parent = parent
    threading.Thread(
        target=_watchdog_loop,
        args=(parent, interval),
        name="latentclass-parent-watchdog",
        daemon=True,
    ).start()


def _worker_init(origin: tuple[int, str]) -> None:
    """Initializer of :func:`process_pool`'s workers: watch the parent and pin one BLAS
    thread from the start.

    The worker is the parent's child by construction, so a parent pid that is already
    another one means the parent died while the worker was starting: exit at once.  The pin
    is taken here, not at the first task: a pool starts its workers on demand and one
    started late may never receive a task of a short run, yet still run later work (it used
    to compute with the default thread count, 2 on a 2-core machine, until its first task).
    """
    if os.getppid() != origin[0]:
        os._exit(_ORPHAN_EXIT_STATUS)
    _watch_parent(origin[0])
    _pin_worker_process()


def process_pool(workers: int) -> concurrent.futures.ProcessPoolExecutor:
    """A process pool of ``workers`` processes for sweeps and searches (the CLI's ``--workers``).

    The workers are started with the ``spawn`` method, so they inherit no open file of the
    parent (in particular not a checkpoint's lock), and each runs a watchdog from its start,
    so that it exits within a fraction of a second when the parent dies, even if it is
    idle or in the middle of a task (``kill -9`` or ``SIGTERM`` of the parent leaves no
    worker behind).  Use it as a context manager; it is a plain
    :class:`concurrent.futures.ProcessPoolExecutor` otherwise.
    """
    from .._validation import check_integer

    n = check_integer(workers, "workers", minimum=1)
    return concurrent.futures.ProcessPoolExecutor(
        max_workers=n,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_init,
        initargs=(_origin(),),
    )


def _run_task(func: Callable[..., Any], args: tuple, origin: tuple[int, str] | None) -> Any:
    """``func(*args)`` as one task submitted by the process ``origin`` (``None``: serial).

    In another process (a worker): pin one BLAS thread for the process and, if the worker
    is a child of ``origin``, watch it.  In the submitting process (serial, threads) the
    driving thread already holds the pin.  Module level, so that it pickles to process
    pools and Dask workers.
    """
    if origin is not None and os.getpid() != origin[0]:
        if origin[1] == platform.node() and os.getppid() == origin[0]:
            _watch_parent(origin[0])  # a child of the submitting process
        _pin_worker_process()
    return func(*args)


def _check_executor(executor: Any) -> None:
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(
            f"executor must be a concurrent.futures.Executor (with a submit method) or None, "
            f"got {type(executor).__name__}"
        )


def _check_progress(progress: Any) -> None:
    check_progress(progress)


class _Progress(Reporter):
    """The runs' reporter (:class:`latentclass._progress.Reporter`): ``progress=None`` shows
    a bar on a terminal once the run has lasted ``_PROGRESS_DELAY`` seconds."""

    def __init__(self, progress: Any, total: int, initial: int, pending: int, desc: str):
        super().__init__(
            progress,
            total,
            desc,
            initial=initial,
            pending=pending,
            default_delay=_PROGRESS_DELAY,
        )


def _run_tasks(func, tasks: Sequence[tuple], executor, on_result) -> None:
    """Run ``func(*t)`` for every ``t``; call ``on_result(index, value)`` as each finishes.

    Serial in order without an executor; otherwise one ``submit`` per task and results in
    completion order.  On an error the pending tasks are cancelled and the error re-raised.
    Every task computes with one BLAS thread: this thread pins the process for the whole
    run (serial tasks, tasks on threads of this process) and worker processes pin
    themselves (:func:`_run_task`, which also makes child workers watch this process).
    """
    with _one_blas_thread():
        if executor is None:
            for i, t in enumerate(tasks):
                on_result(i, _run_task(func, tuple(t), None))
            return
        origin = _origin()
        futures = {}
        try:
            for i, t in enumerate(tasks):
                futures[executor.submit(_run_task, func, tuple(t), origin)] = i
            for fut in concurrent.futures.as_completed(futures):
                on_result(futures[fut], fut.result())
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
