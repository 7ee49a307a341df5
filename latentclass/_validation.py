"""Argument checks shared by every public function.

Each checker returns a normalised value (a read-only float array, a Python ``int``,
a ``float``) or raises ``ValueError``/``TypeError`` whose message names the argument
and the rule it broke, e.g. ``"class_probs must sum to 1, got 1.1"``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Literal, overload

import numpy as np

#: Tolerance on ``sum(class_probs) == 1`` and on each row of ``class_conditionals``.
PROB_SUM_TOL = 1e-9
#: Representations may exceed the unit ball by at most this much (rounding slack).
NORM_TOL = 1e-9
#: Smallest temperature accepted: scores ``G/τ`` (``|G| <= 1``, differences up to 2) stay
#: finite for ``τ >= 2 / 1.8e308 ≈ 1.1e-308``; ``1e-300`` leaves a margin.
TAU_MIN = 1e-300
#: Largest number of negatives: every engine uses ``float(k)``.
K_MAX = float(np.finfo(float).max)


def _physical_memory() -> int:
    """Total physical memory in bytes (``2**40`` if the system does not say)."""
    import os

    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 2**40


def check_memory(n_bytes: float, what: str) -> None:
    """Refuse, before allocating, work whose arrays need more than the machine's memory.

    ``ValueError`` names ``what`` and gives the estimate and the memory available.
    """
    limit = _physical_memory()
    if n_bytes > limit:
        raise ValueError(
            f"{what} needs about {n_bytes / 2**30:.3g} GiB of memory, more than this "
            f"machine's {limit / 2**30:.3g} GiB"
        )


def refuse_complex(a: Any, name: str) -> None:
    """``TypeError`` for complex input (numpy would drop the imaginary part with a warning)."""
    if np.iscomplexobj(a) or isinstance(a, complex):
        raise TypeError(f"{name} must be real, got a complex array")


def readonly(a: np.ndarray) -> np.ndarray:
    """Return ``a`` (a fresh array or view) with its ``writeable`` flag cleared."""
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


def check_integer(value: Any, name: str, *, minimum: int | None = None) -> int:
    """An integer (``int``, numpy integer, or an integral float such as ``1e6``), not a bool."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got the bool {value!r}")
    if isinstance(value, numbers.Integral):
        out = int(value)
    elif (
        isinstance(value, numbers.Real)
        and math.isfinite(float(value))
        and float(value).is_integer()
    ):
        # int() of an integral-valued real is its truncation; typeshed's ``Real.__trunc__``
        # returns an integral-like, not an ``int``, so convert that.
        out = int(math.trunc(value))
    elif isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    else:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if minimum is not None and out < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {out}")
    return out


@overload
def check_k(k: Any, *, allow_inf: Literal[False] = ..., name: str = ...) -> int: ...
@overload
def check_k(k: Any, *, allow_inf: bool, name: str = ...) -> int | float: ...
def check_k(k: Any, *, allow_inf: bool = False, name: str = "k") -> int | float:
    """Number of negatives: an integer ``>= 1`` (or ``math.inf`` when ``allow_inf``)."""
    real = isinstance(k, numbers.Real) and not isinstance(k, (bool, np.bool_))
    integral = isinstance(k, numbers.Integral)
    if real and not integral:
        if allow_inf and float(k) == math.inf:
            return math.inf
        if not math.isfinite(float(k)):
            extra = "" if allow_inf else _inf_hint(name)
            raise ValueError(f"{name} must be an integer >= 1{extra}, got {k!r}")
    if integral and not isinstance(k, (bool, np.bool_)) and int(k) > K_MAX:
        raise ValueError(
            f"{name} must be at most {K_MAX:.6g} (the largest float; every engine uses float(k)), "
            f"got an integer of about 10^{int(int(k).bit_length() * 0.30103)}"
        )
    return check_integer(k, name, minimum=1)


def _inf_hint(name: str) -> str:
    return " (math.inf is not allowed here)"


def check_positive(value: Any, name: str) -> float:
    """A finite real number ``> 0`` (tolerances, learning rates)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive real number, got {type(value).__name__}")
    try:
        t = float(value)
    except OverflowError:
        raise ValueError(
            f"{name} must be a finite number > 0, got an integer too large for a float"
        ) from None
    if not math.isfinite(t) or t <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return t


def check_tau(tau: Any, name: str = "tau") -> float:
    """Temperature: a finite real number ``>= TAU_MIN`` (1e-300), so that scores stay finite."""
    t = check_positive(tau, name)
    if t < TAU_MIN:
        raise ValueError(
            f"{name} must be >= {TAU_MIN:g} (scores G/{name} overflow below about 1.1e-308), "
            f"got {tau!r}"
        )
    return t


def check_class_probs(class_probs: Any, name: str = "class_probs") -> np.ndarray:
    """A 1-D probability vector with at least two strictly positive entries summing to 1."""
    refuse_complex(class_probs, name)
    try:
        p = np.asarray(class_probs, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a 1-D array of numbers ({exc})") from None
    if p.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {p.shape}")
    if p.size < 2:
        raise ValueError(f"{name} must have at least 2 classes, got {p.size}")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name} must be finite, got {p}")
    if np.any(p <= 0):
        raise ValueError(f"{name} entries must be > 0, got min {p.min()!r}")
    total = float(p.sum())
    if abs(total - 1.0) > PROB_SUM_TOL:
        raise ValueError(f"{name} must sum to 1, got {total!r}")
    return readonly(p)


def check_class_conditionals(
    class_conditionals: Any, n_classes: int, name: str = "class_conditionals"
) -> np.ndarray:
    """A row-stochastic ``(n_classes, n_points)`` matrix."""
    refuse_complex(class_conditionals, name)
    try:
        c = np.asarray(class_conditionals, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a 2-D array of numbers ({exc})") from None
    if c.ndim != 2 or c.shape[0] != n_classes:
        raise ValueError(
            f"{name} must have shape (n_classes, n_points) = ({n_classes}, n), got {c.shape}"
        )
    if c.shape[1] < 1:
        raise ValueError(f"{name} must have at least one column (point), got shape {c.shape}")
    if not np.all(np.isfinite(c)):
        raise ValueError(f"{name} must be finite")
    if np.any(c < 0):
        raise ValueError(f"{name} must be non-negative, got min {c.min()!r}")
    sums = c.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > PROB_SUM_TOL)
    if bad.size:
        raise ValueError(f"{name} rows must sum to 1, row {bad[0]} sums to {sums[bad[0]]!r}")
    return readonly(c)


def check_size(size: Any, name: str = "size") -> int:
    """A sample size: a non-negative integer."""
    return check_integer(size, name, minimum=0)


def check_representation(F: Any, n_points: int, name: str = "F") -> np.ndarray:
    """An ``(n_points, d)`` finite array whose rows have norm ``<= 1`` (slack ``NORM_TOL``)."""
    refuse_complex(F, name)
    try:
        f = np.asarray(F, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a 2-D array of numbers ({exc})") from None
    if f.ndim == 1:
        raise ValueError(f"{name} must be 2-D (n_points, d), got a 1-D array of shape {f.shape}")
    if f.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_points, d), got shape {f.shape}")
    if f.shape[0] != n_points:
        raise ValueError(f"{name} must have one row per point ({n_points} rows), got {f.shape[0]}")
    if f.shape[1] < 1:
        raise ValueError(f"{name} must have at least one column, got shape {f.shape}")
    if not np.all(np.isfinite(f)):
        raise ValueError(f"{name} must be finite")
    norms = np.sqrt(np.einsum("ij,ij->i", f, f))
    worst = int(np.argmax(norms))
    if norms[worst] > 1.0 + NORM_TOL:
        raise ValueError(f"{name} rows must have norm <= 1, row {worst} has norm {norms[worst]!r}")
    return f


def check_gram(G: Any, n_points: int, name: str = "G", sym_tol: float = 1e-12) -> np.ndarray:
    """A square, symmetric (relative tolerance ``sym_tol``), finite ``(n_points, n_points)`` matrix."""
    refuse_complex(G, name)
    try:
        g = np.asarray(G, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a 2-D array of numbers ({exc})") from None
    if g.ndim != 2 or g.shape[0] != g.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {g.shape}")
    if g.shape[0] != n_points:
        raise ValueError(f"{name} must be ({n_points}, {n_points}) for this model, got {g.shape}")
    if not np.all(np.isfinite(g)):
        raise ValueError(f"{name} must be finite")
    scale = max(1.0, float(np.max(np.abs(g)))) if g.size else 1.0
    # g.T copied contiguously first: a strided transposed read is ~10x slower at n = 300
    asym = float(np.max(np.abs(g - np.ascontiguousarray(g.T)))) if g.size else 0.0
    if asym > sym_tol * scale:
        raise ValueError(
            f"{name} must be symmetric (relative tolerance {sym_tol}), max |G - G.T| = {asym!r}"
        )
    return g


def check_bool(value: Any, name: str) -> bool:
    """``value`` if it is ``True`` or ``False`` (numpy booleans too), else ``TypeError``."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {value!r}")


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    """One of a fixed set of strings."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def as_generator(rng: Any) -> np.random.Generator:
    """``numpy.random.default_rng(rng)``: a seed, ``None`` or an existing ``Generator``."""
    if isinstance(rng, np.random.Generator):
        return rng
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"rng must be a seed or a numpy.random.Generator ({exc})") from None
