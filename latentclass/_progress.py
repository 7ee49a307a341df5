"""One progress convention for every long run: figures, sweeps, searches and training.

Every ``progress=`` argument of the package takes the same values:

- ``False``: silent;
- ``True``: a tqdm bar on stderr;
- ``None`` (the default): the function's default (a bar only on a terminal, for sweeps and
  searches after 2 s; silent for training and figures);
- a callable: called as ``progress(p)`` with one :class:`Progress` after each unit of work
  (a figure made, a sweep row or search point computed, a training step taken).

This module is the bottom layer: it imports nothing of the package (tqdm lazily).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Progress", "Reporter", "check_progress"]


@dataclass(frozen=True)
class Progress:
    """What a ``progress`` callable receives after each unit of work.

    Attributes
    ----------
    done : int
        Units finished so far (a resumed sweep starts at the rows reused from its checkpoint).
    total : int or None
        Units in the whole run, ``None`` if not known in advance.
    stage : str
        What is running: ``"figures"``, ``"sweep over k"``, ``"degradation search"``,
        ``"train"``.
    detail : object
        The unit just finished: the figure's manifest record (figures), the new row (sweeps),
        ``None`` (search points), the batch loss as a float (training).
    """

    done: int
    total: int | None
    stage: str
    detail: Any = None


def check_progress(progress: Any, name: str = "progress") -> None:
    """``TypeError`` unless ``progress`` is ``None``, a bool or a callable ``progress(Progress)``.

    Parameters
    ----------
    progress : object
        The argument to check.
    name : str
        Its name in the message.

    Returns
    -------
    None
    """
    if progress is None or isinstance(progress, (bool, np.bool_)) or callable(progress):
        return
    raise TypeError(
        f"{name} must be None, a bool or a callable(Progress), got {type(progress).__name__}"
    )


class Reporter:
    """A tqdm bar on stderr or calls of a ``progress`` callable, per :func:`check_progress`.

    ``default_delay``: what ``progress=None`` means — ``None`` silent, a number: a bar on a
    terminal only, shown once the run has lasted that many seconds (and removed at the end).
    ``pending == 0`` (nothing to compute) is silent whatever ``progress`` is.
    """

    def __init__(
        self,
        progress: Any,
        total: int | None,
        stage: str,
        *,
        initial: int = 0,
        pending: int | None = None,
        unit: str = "task",
        default_delay: float | None = None,
    ) -> None:
        self.callback: Callable[[Progress], Any] | None = None
        self.bar: Any = None
        self.done, self.total, self.stage = initial, total, stage
        off = progress is False or (isinstance(progress, np.bool_) and not progress)
        if pending == 0 or off:
            return
        if callable(progress) and not isinstance(progress, (bool, np.bool_)):
            self.callback = progress
            return
        if progress is None:
            stderr = sys.stderr
            tty = bool(stderr is not None and getattr(stderr, "isatty", lambda: False)())
            if default_delay is None or not tty:
                return
        from tqdm import tqdm

        self.bar = tqdm(
            total=total,
            initial=initial,
            desc=stage,
            unit=unit,
            file=sys.stderr,
            delay=0.0 if progress else float(default_delay or 0.0),
            leave=bool(progress),
        )

    def update(self, detail: Any = None, postfix: str | None = None) -> None:
        """One more unit done: advance the bar (with ``postfix`` if given) or call back."""
        self.done += 1
        if self.bar is not None:
            if postfix is not None:
                self.bar.set_postfix_str(postfix, refresh=False)
            self.bar.update(1)
        if self.callback is not None:
            self.callback(Progress(self.done, self.total, self.stage, detail))

    def label(self, text: str) -> None:
        """Show ``text`` beside the bar (e.g. the figure being made); no-op without a bar."""
        if self.bar is not None:
            self.bar.set_postfix_str(text)

    def close(self) -> None:
        """Close the bar, if any."""
        if self.bar is not None:
            self.bar.close()
