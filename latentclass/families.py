"""Named families of class distributions ``ρ`` (SPEC §1) and a text parser for them.

Every function returns a fresh float64 array of shape ``(m,)`` with strictly positive
entries summing to 1 (checked by :func:`latentclass._validation.check_class_probs`), classes
sorted from most to least probable where the family has an order.  Weights are formed in
log space and normalised with a log-sum-exp, so no entry overflows; an entry that would
underflow to 0 raises ``ValueError`` (a class of probability ``< 1e-300`` is not a class
the model can represent).

========================  =====================================================================
``uniform(m)``            ``ρ_c = 1/m``
``zipf(m, s)``            ``ρ_c ∝ (c + 1)^{-s}``, ``s >= 0`` (``s = 0``: uniform)
``geometric(m, r)``       ``ρ_c ∝ r^c``, ``0 < r <= 1`` (``r = 1``: uniform)
``dominant(m, p)``        ``ρ_0 = p``, ``ρ_c = (1 - p)/(m - 1)`` otherwise, ``0 < p < 1``
``two_blocks(m, f, r)``   the first ``h = ⌊f m + 1/2⌋`` classes ("heavy", ``1 <= h <= m - 1``)
                          each ``r`` times as probable as each of the other ``m - h``
``dirichlet(m, α, rng)``  one draw from ``Dirichlet(α, …, α)`` (or a vector ``α``), seeded
========================  =====================================================================

:func:`parse_class_probs` reads either a comma-separated list (``"0.5,0.3,0.2"``) or a
family spec ``name:arg:arg…`` (``"zipf:10:1.2"``, ``"uniform:5"``, ``"geometric:6:0.7"``,
``"dominant:5:0.6"``, ``"two_blocks:6:0.5:3"``, ``"dirichlet:5:0.5:42"`` — the last argument
of ``dirichlet`` is the seed, default 0).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from ._validation import as_generator, check_class_probs, check_integer

__all__ = [
    "FAMILIES",
    "dirichlet",
    "dominant",
    "geometric",
    "parse_class_probs",
    "two_blocks",
    "uniform",
    "zipf",
]


# --------------------------------------------------------------------------- helpers
def _check_m(m: Any) -> int:
    return check_integer(m, "m", minimum=2)


def _check_real(value: Any, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def _from_log_weights(logw: np.ndarray, family: str) -> np.ndarray:
    """Normalise log-weights: ``ρ = exp(logw - logsumexp(logw))``; refuse underflow."""
    logw = np.asarray(logw, dtype=float)
    top = float(logw.max())
    shifted = logw - top
    log_total = math.log(math.fsum(np.exp(shifted)))
    rho = np.exp(shifted - log_total)
    if np.any(rho <= 0.0) or np.any(rho < 1e-300):
        raise ValueError(
            f"{family}: the smallest class probability underflows (exp({float(np.min(shifted - log_total)):.4g})); "
            "use fewer classes or a flatter parameter"
        )
    rho = rho / math.fsum(rho)  # exact renormalisation up to rounding
    return np.array(check_class_probs(rho, name=family), dtype=float)


# --------------------------------------------------------------------------- families
def uniform(m: int) -> np.ndarray:
    """Uniform class law ``ρ_c = 1/m`` over ``m >= 2`` classes.

    Parameters
    ----------
    m : int
        Number of classes, ``>= 2``.

    Returns
    -------
    ndarray, shape (m,)
        The class law ``ρ`` (SPEC §1): float64, entries ``> 0`` summing to 1.
    """
    m = _check_m(m)
    return np.full(m, 1.0 / m)


def zipf(m: int, s: float = 1.0) -> np.ndarray:
    """Zipf law ``ρ_c = (c+1)^{-s} / Σ_{j=1..m} j^{-s}``, ``c = 0..m-1``, exponent ``s >= 0``.

    Parameters
    ----------
    m : int
        Number of classes, ``>= 2``.
    s : float, default 1.0
        Exponent ``>= 0`` (``s = 0``: uniform).

    Returns
    -------
    ndarray, shape (m,)
        The class law ``ρ`` (SPEC §1): float64, entries ``> 0`` summing to 1.
    """
    m = _check_m(m)
    s = _check_real(s, "s")
    if s < 0:
        raise ValueError(f"s (Zipf exponent) must be >= 0, got {s!r}")
    return _from_log_weights(-s * np.log(np.arange(1, m + 1, dtype=float)), "zipf")


def geometric(m: int, r: float = 0.5) -> np.ndarray:
    """Truncated geometric law ``ρ_c = r^c (1 - r) / (1 - r^m)``, ratio ``0 < r <= 1``.

    Parameters
    ----------
    m : int
        Number of classes, ``>= 2``.
    r : float, default 0.5
        Ratio ``ρ_{c+1} / ρ_c``, ``0 < r <= 1`` (``r = 1``: uniform).

    Returns
    -------
    ndarray, shape (m,)
        The class law ``ρ`` (SPEC §1): float64, entries ``> 0`` summing to 1.
    """
    m = _check_m(m)
    r = _check_real(r, "r")
    if not 0.0 < r <= 1.0:
        raise ValueError(f"r (geometric ratio) must satisfy 0 < r <= 1, got {r!r}")
    return _from_log_weights(np.arange(m, dtype=float) * math.log(r), "geometric")


def dominant(m: int, p: float = 0.5) -> np.ndarray:
    """One dominant class: ``ρ_0 = p``, the other ``m - 1`` classes share ``1 - p`` equally.

    Parameters
    ----------
    m : int
        Number of classes, ``>= 2``.
    p : float, default 0.5
        Probability of class 0, ``0 < p < 1``.

    Returns
    -------
    ndarray, shape (m,)
        The class law ``ρ`` (SPEC §1): float64, entries ``> 0`` summing to 1.
    """
    m = _check_m(m)
    p = _check_real(p, "p")
    if not 0.0 < p < 1.0:
        raise ValueError(f"p (probability of the dominant class) must satisfy 0 < p < 1, got {p!r}")
    rho = np.full(m, (1.0 - p) / (m - 1))
    rho[0] = p
    return np.array(check_class_probs(rho, name="dominant"), dtype=float)


def two_blocks(m: int, frac: float = 0.5, ratio: float = 4.0) -> np.ndarray:
    """Two blocks of equally likely classes.

    The first ``h = ⌊frac · m + 1/2⌋`` classes each have probability ``ratio / Z`` and the
    remaining ``m - h`` each ``1 / Z``, ``Z = h · ratio + m - h``.  Requires ``0 < frac < 1``,
    ``ratio > 0`` and ``1 <= h <= m - 1``.

    Parameters
    ----------
    m : int
        Number of classes, ``>= 2``.
    frac : float, default 0.5
        Share of heavy classes, ``0 < frac < 1``.
    ratio : float, default 4.0
        Probability of a heavy class over that of a light one, ``> 0``.

    Returns
    -------
    ndarray, shape (m,)
        The class law ``ρ`` (SPEC §1): float64, entries ``> 0`` summing to 1.
    """
    m = _check_m(m)
    frac = _check_real(frac, "frac")
    ratio = _check_real(ratio, "ratio")
    if not 0.0 < frac < 1.0:
        raise ValueError(f"frac (share of heavy classes) must satisfy 0 < frac < 1, got {frac!r}")
    if ratio <= 0:
        raise ValueError(f"ratio must be > 0, got {ratio!r}")
    h = int(math.floor(frac * m + 0.5))
    if not 1 <= h <= m - 1:
        raise ValueError(
            f"frac * m must round to a block size between 1 and m - 1 = {m - 1}, got {h} "
            f"(frac={frac!r}, m={m})"
        )
    logw = np.zeros(m)
    logw[:h] = math.log(ratio)
    return _from_log_weights(logw, "two_blocks")


def dirichlet(m: int, alpha: Any = 1.0, rng: Any = None) -> np.ndarray:
    """One draw ``ρ ~ Dirichlet(α)`` (``α`` a scalar ``> 0`` or a vector of ``m`` entries).

    Sampled as normalised Gamma variates, in log space so that small ``α`` does not
    underflow: ``log X_c = log Γ_c + log(U_c) / α_c`` with ``Γ_c ~ Gamma(α_c + 1)`` and
    ``U_c ~ Uniform(0, 1)`` (so ``X_c ~ Gamma(α_c)``), then ``ρ = X / Σ X``.  The same
    ``rng`` seed gives the same bits.  ``ValueError`` if a component still underflows
    (``α`` below about 0.02).

    Parameters
    ----------
    m : int
        Number of classes, ``>= 2``.
    alpha : float or array_like, shape (m,), default 1.0
        Concentration ``α > 0`` (one value for every class, or one per class).
    rng : seed or numpy.random.Generator, optional
        Source of the Gamma and uniform variates.

    Returns
    -------
    ndarray, shape (m,)
        The class law ``ρ`` (SPEC §1): float64, entries ``> 0`` summing to 1.
    """
    m = _check_m(m)
    if np.ndim(alpha) == 0:
        a = np.full(m, _check_real(alpha, "alpha"))
    else:
        try:
            a = np.asarray(alpha, dtype=float)
        except (TypeError, ValueError):
            raise TypeError(
                "alpha must be a positive number or a vector of m positive numbers"
            ) from None
        if a.shape != (m,):
            raise ValueError(f"alpha must be a scalar or have shape ({m},), got {a.shape}")
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"alpha must be finite and > 0, got {alpha!r}")
    gen = as_generator(rng)
    g = gen.standard_gamma(a + 1.0)
    u = gen.random(m)
    u = np.where(u > 0.0, u, np.finfo(float).tiny)  # random() may return exactly 0
    return _from_log_weights(np.log(g) + np.log(u) / a, "dirichlet")


#: Family name -> (constructor, names of its parameters after ``m``).
FAMILIES: dict[str, tuple[Callable[..., np.ndarray], tuple[str, ...]]] = {
    "uniform": (uniform, ()),
    "zipf": (zipf, ("s",)),
    "geometric": (geometric, ("r",)),
    "dominant": (dominant, ("p",)),
    "two_blocks": (two_blocks, ("frac", "ratio")),
    "dirichlet": (dirichlet, ("alpha", "seed")),
}


# --------------------------------------------------------------------------- parser
def _number(token: str, what: str, name: str, text: str) -> float:
    try:
        v = float(token)
    except ValueError:
        raise ValueError(f"{name}: {what} must be a number, got {token!r} in {text!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name}: {what} must be finite, got {token!r} in {text!r}")
    return v


def _int(token: str, what: str, name: str, text: str) -> int:
    try:
        return int(token)
    except ValueError:
        raise ValueError(f"{name}: {what} must be an integer, got {token!r} in {text!r}") from None


def parse_class_probs(text: str, name: str = "class_probs") -> np.ndarray:
    """Parse a class law from text: a list ``"0.5,0.3,0.2"`` or a family spec.

    Family specs are ``family:m[:param…]`` with the parameters of the functions of this
    module, in order: ``uniform:m``, ``zipf:m[:s]``, ``geometric:m[:r]``,
    ``dominant:m[:p]``, ``two_blocks:m[:frac[:ratio]]``, ``dirichlet:m[:alpha[:seed]]``
    (defaults as in the functions; ``dirichlet`` seed 0).  Names are case-insensitive and
    ``-`` may replace ``_``.

    Parameters
    ----------
    text : str
    name : str
        Name used in error messages (the CLI passes ``"--class-probs"``).

    Returns
    -------
    ndarray (m,)
        Entries ``> 0`` summing to 1.

    Raises
    ------
    ValueError
        Unknown family, wrong number of parameters, non-numeric or out-of-range values,
        or a list that is not a probability vector; the message names ``name`` and quotes
        the text.
    """
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a string, got {type(text).__name__}")
    t = text.strip()
    if not t:
        raise ValueError(
            f"{name} must be a comma-separated list of probabilities or a family spec "
            f"such as 'zipf:10:1.2', got {text!r}"
        )
    if ":" not in t:
        parts = [p.strip() for p in t.split(",")]
        values = [_number(p, "every entry", name, text) for p in parts]
        try:
            return np.array(check_class_probs(values, name=name), dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValueError(str(exc)) from None
    head, *args = [p.strip() for p in t.split(":")]
    family = head.lower().replace("-", "_")
    if family not in FAMILIES:
        raise ValueError(
            f"{name}: unknown family {head!r} in {text!r}; known families: {', '.join(FAMILIES)}"
        )
    func, params = FAMILIES[family]
    if not 1 <= len(args) <= 1 + len(params):
        usage = ":".join([family, "m"] + [f"[{p}]" for p in params])
        raise ValueError(
            f"{name}: {family} takes m and at most {len(params)} parameter(s) ({usage}), got {text!r}"
        )
    m = _int(args[0], "m (number of classes)", name, text)
    values = []
    for token, pname in zip(args[1:], params):
        if pname == "seed":
            values.append(_int(token, "the seed", name, text))
        else:
            values.append(_number(token, pname, name, text))
    try:
        if family == "dirichlet":
            alpha = values[0] if values else 1.0
            seed = values[1] if len(values) > 1 else 0
            return dirichlet(m, alpha, seed)
        return func(m, *values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: {exc} (in {text!r})") from None
