"""The certified minimiser of the *empirical* NCE loss of a drawn sample (SPEC §9.3).

For a sample of ``M`` examples ``(x_i, x_i⁺, x⁻_{i1..ik})`` of a finite model (class level
or point level) the empirical loss of a Gram matrix ``G`` is

    ``L̂(G) = (1/M) Σ_i log(1 + Σ_j exp((G[x_i, x⁻_ij] − G[x_i, x_i⁺]) / τ))``,

a convex function of ``G`` (an average of log-sum-exps of affine functions), so its minimiser
over ``{G ⪰ 0, diag G ≤ 1}`` is found and certified by the solver and the dual bound of
SPEC §4 exactly like the population optimum.

**Aggregation.** ``ℓ_i`` depends only on the anchor, the positive and the *multiset* of
negatives, i.e. on ``(x, x⁺, ν)`` with ``ν_y = #{j : x⁻_ij = y}``.  The sample is reduced once
to its distinct keys with multiplicities ``w_u`` — the key ``(x n + x⁺) B^n + Σ_j B^{y_j}``
(``ν`` in base ``B = 2^s > k`` when ``s n <= 52``, its digits bit fields, else ``B = k + 1``;
the negatives' part summed exactly in float64 by a gather and a BLAS product per block of
examples when it is below ``2^53``, in int64 below ``2^62``), sorted, or a lexicographic sort
of the rows with sorted negatives for larger ``n`` (proofs/empirical_losses.md) — and to the
counts ``ν_uy``:

    ``L̂(G) = Σ_u (w_u / M) log(1 + Σ_y ν_uy exp((G[x_u, y] − G[x_u, x⁺_u]) / τ))``,

so one evaluation costs ``O(nnz)`` with ``nnz ≤ U · min(k, n)`` (``U`` distinct keys) and
``M = 10⁶`` is cheap.  Anchors whose keys share one positive (class level) are evaluated in
one fused pass per block of keys (value, gradient and Hessian sums together).  The Hessian is block diagonal over anchor rows, provided to the
solver's Newton phase (:meth:`EmpiricalObjective.second_order`).

**Other losses** (``loss=``, SPEC §8.1): the same aggregation with the loss object's
``counts_form``; the decoupled loss is certified like the logistic one, the hinge by the
piece-weight dual bound (:meth:`EmpiricalObjective.piece_weight_bound`), the debiased and
hard-negative losses are not convex and get restarts and no certificate
(:func:`empirical_optimum`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse, special
from scipy.linalg import blas

from ._engines.hessian import ClassHessian
from ._solvers.gram_newton import _gram_newton
from ._validation import as_generator, check_integer, check_tau, readonly
from .certificate import CERTIFY_TOL, certify, feasibility
from .downstream import DownstreamResult, mean_classifier_metrics
from .losses.objects import LOSS_NAMES, Hinge, _Loss, is_logistic, resolve_loss
from .losses.population import LossObjective
from .model import ContrastiveSample, LatentClassModel, check_model
from .optimize import OptimalRepresentation, _result, solve_gram
from .population import population_loss

__all__ = ["EmpiricalObjective", "EmpiricalOptimum", "UnsupportedLossError", "empirical_optimum"]

_EPS = float(np.finfo(float).eps)

#: Examples per block of the keys, at most (and at most ``_KEY_ELEMS / k``): the block's
#: ``rows × k`` temporaries stay cache-sized.  Measured at ``M = 10⁶``, ``k = 16``: 4096 rows
#: cost about 1 ms more than 16384 (per-block call overhead); larger blocks were no faster.
_KEY_ROWS = 16384
_KEY_ELEMS = 1 << 18
#: Keys per block of the class-level passes and of the Hessian's SYRK ``Σ wσ² ππᵀ``, at most
#: (and at most ``_SYRK_ELEMS / n``: a block of ``A`` is ``rows × n`` doubles).  Measured at
#: ``U = 3.7·10⁵``, ``n = 10``: 8192 rows cost 0.3 ms more per pass than 26214.
_SYRK_ROWS = 32768
_SYRK_ELEMS = 1 << 18


def _key_rows(k: int) -> int:
    """Examples per block of the float key for ``k`` negatives."""
    return max(1, min(_KEY_ROWS, _KEY_ELEMS // max(k, 1)))


def _syrk_rows(n: int) -> int:
    """Keys per block of the class-level passes for ``n`` points."""
    return max(1, min(_SYRK_ROWS, _SYRK_ELEMS // max(n, 1)))


#: Trapezoid step of the population Hessian in the ERM's Newton model (three times the exact
#: engine's; measured relative error of its blocks 2e-5–2e-4 for τ ∈ [0.1, 1], k ∈ [4, 256],
#: far below the sampling difference 3e-3–6e-3 that the model already carries; about half the
#: cost).  It only steers steps far from the solution (:func:`_population_hessian_model`).
_MODEL_HESSIAN_STEP = 0.75
#: Count blocks are dense (BLAS) up to this many points ...
_DENSE_MAX_N = 64
#: ... and this many entries in all (80 MB of float64).
_DENSE_MAX_ENTRIES = 10**7

#: Every loss of :mod:`latentclass.losses` (by name or object).
SUPPORTED_LOSSES = LOSS_NAMES
#: Entries of one ``(positives × keys × points)`` temporary of the general-loss kernel.
_GENERIC_BLOCK = 1 << 21
#: Smoothing levels ``η`` of the hinge homotopy (SPEC §9.3), tried in turn until certified.
HINGE_ETAS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)


class UnsupportedLossError(ValueError):
    """``empirical_optimum`` was asked for a loss it cannot handle (kept for compatibility;
    every loss of :mod:`latentclass.losses` is supported)."""


def _resolve(loss: Any) -> _Loss:
    """The loss object of a name or object (``TypeError``/``ValueError`` naming ``loss``)."""
    if loss is not None and not isinstance(loss, (str, _Loss)):
        raise TypeError(
            f"loss must be one of {LOSS_NAMES} or a loss object of latentclass.losses, "
            f"got {type(loss).__name__}"
        )
    return resolve_loss(loss)


def _distinct_rows(rows: np.ndarray, base: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a non-negative int array (lexicographic order) and their counts."""
    M, width = rows.shape
    if width * math.log2(max(base, 2)) < 62:  # one int64 key per row (Horner, base ``base``)
        key = np.zeros(M, dtype=np.int64)
        for col in range(width):  # loop over the k + 2 columns, vectorised over rows
            key *= base
            key += rows[:, col]
        _, first, counts = np.unique(key, return_index=True, return_counts=True)
        return rows[first], counts
    order = np.lexsort(rows.T[::-1])
    srt = rows[order]
    new = np.ones(M, dtype=bool)
    new[1:] = np.any(srt[1:] != srt[:-1], axis=1)
    first = np.flatnonzero(new)
    return srt[first], np.diff(np.append(first, M))


def _indices_ok(a: np.ndarray, n: int) -> bool:
    """Every entry of the integer array ``a`` lies in ``0 … n − 1`` (one pass for int64: as
    unsigned, a negative index is huge, two's complement)."""
    if a.size == 0:
        return True
    if a.dtype == np.int64 and a.flags.c_contiguous:
        return int(a.view(np.uint64).max()) < n
    return bool(a.min() >= 0 and a.max() < n)


def _float_keys(
    sample: ContrastiveSample,
    weights: np.ndarray,
    top: int,
    stride: int | None = None,
    log2_step: int | None = None,
) -> np.ndarray:
    """``(x S + x⁺) top + Σ_j weights[negatives[i, j]]`` per example as int64 (``S = stride``,
    default ``n``), exact when the negatives' sum is an integer below ``2^53`` and the key
    below ``2^63`` (the negatives' sum: a float64 gather and one BLAS
    matrix-vector product per block of :func:`_key_rows` examples, the block's temporaries
    cache-resident; no Python loop over examples).  Raises ``ValueError`` for a negative
    outside ``0 … n − 1``.

    ``log2_step = s`` when ``weights[y] = 2^{s y}`` (``s (n − 1) < 1024``): the weights are
    then written as float64 bit patterns, ``(1023 + s y) · 2^52`` — an integer multiply and
    add per entry instead of the gather, exact (a power of two has a zero mantissa), about
    twice as fast as ``np.take`` from a table here (measured 70 against 135 µs per block of
    16384 × 16)."""
    negatives = np.asarray(sample.negatives)
    anchors = np.asarray(sample.anchors, dtype=np.int64)
    positives = np.asarray(sample.positives, dtype=np.int64)
    M, k = negatives.shape
    n = weights.size
    stride = n if stride is None else stride
    # int64 rows: checked per block (in cache; as unsigned, a negative index is huge)
    per_block = negatives.dtype == np.int64 and negatives.flags.c_contiguous
    if not per_block and not _indices_ok(negatives, n):
        raise ValueError(f"sample.negatives must be point indices in 0 … {n - 1}")
    key = np.empty(M, dtype=np.int64)
    step = min(M, _key_rows(k))
    buf, s, ones = np.empty((step, k)), np.empty(step), np.ones(k)
    bits = buf.view(np.int64)  # the float64 bit patterns of 2^{s y} (log2_step)
    for lo in range(0, M, step):  # blocks of examples: cache-sized temporaries
        hi = min(lo + step, M)
        h = hi - lo
        blk = negatives[lo:hi]
        if per_block and int(blk.view(np.uint64).max()) >= n:
            raise ValueError(f"sample.negatives must be point indices in 0 … {n - 1}")
        if log2_step is not None:  # 2^{s y} as (1023 + s y) << 52: exact, 0 <= s y < 1024
            # an int64 loop whatever the index dtype (the indices are checked: < n, >= 0)
            np.multiply(
                blk, np.int64(log2_step << 52), out=bits[:h], dtype=np.int64, casting="unsafe"
            )
            bits[:h] += 1023 << 52
        else:  # indices checked: mode="clip" never clips (and, unlike "raise", is unbuffered)
            np.take(weights, blk, out=buf[:h], mode="clip")
        np.dot(buf[:h], ones, out=s[:h])
        kb = key[lo:hi]
        np.multiply(anchors[lo:hi], stride, out=kb)
        kb += positives[lo:hi]
        kb *= top
        kb += s[:h].astype(np.int64)  # an exact integer < 2^53
    return key


def _digits(negkey: np.ndarray, base: int, n: int) -> np.ndarray:
    """``(U, n)`` column-major float digits ``ν_y`` of ``negkey = Σ_y ν_y base^y``.

    When ``base^n <= 2^52``, in float, digit by digit: for an integer ``0 <= r < 2^53 − base``
    the correctly rounded ``r / base`` never rounds up to the next integer (a non-integer
    quotient is at least ``1/base`` below it, more than half an ulp), so ``⌊fl(r / base)⌋ =
    ⌊r / base⌋`` and ``ν = r − base ⌊r / base⌋`` is an exact float operation (float division
    is several times faster than int64 floor division); else int64 arithmetic."""
    if 2.0 * float(base) ** n > 2.0**53:  # beyond the float range: exact int64 digits
        powers = base ** np.arange(n, dtype=np.int64)
        return np.asfortranarray((negkey[:, None] // powers[None, :] % base).astype(float))
    out = np.empty((n, negkey.size))
    rest = negkey.astype(float)  # exact: < base^n
    q = np.empty_like(rest)
    for y in range(n):  # loop over the n digits, vectorised over keys (cache-sized rows)
        np.divide(rest, base, out=q)
        np.floor(q, out=q)  # ⌊rest / base⌋ exactly
        np.multiply(q, -base, out=out[y])
        out[y] += rest  # rest − base ⌊rest / base⌋: exact integers < 2^53
        rest, q = q, rest
    return out.T


def _bit_digits(key: np.ndarray, s: int, n: int) -> np.ndarray:
    """``(U, n)`` column-major float digits ``ν_y = ⌊key / 2^{s y}⌋ mod 2^s`` (bit fields of
    the int64 ``key``: shifts and masks, exact; one loop over the ``n`` digits)."""
    out = np.empty((n, key.size))
    tmp = np.empty_like(key)
    for y in range(n):
        np.right_shift(key, s * y, out=tmp)
        np.bitwise_and(tmp, (1 << s) - 1, out=tmp)
        out[y] = tmp
    return out.T


def _sorted_unique(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of ``key`` (sorted in place) and their counts."""
    key.sort()
    new = np.empty(key.size, dtype=bool)
    new[0] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    first = np.flatnonzero(new)
    return key[first], np.diff(np.append(first, key.size))


def _aggregate(sample: ContrastiveSample, n: int):
    """Distinct ``(anchor, positive, multiset of negatives)`` keys of ``sample``.

    Returns ``anchors (U,)``, ``positives (U,)``, ``counts (U,)`` and the matrix ``N``
    (``U × n``; dense when ``(k+1)^n n²`` fits an int64 key, else CSR) of negative counts
    ``ν_uy``; keys are sorted by anchor.

    The key of an example is ``(x n + x⁺) B^n + Σ_j B^{y_j}``: the negatives' count vector
    ``ν`` written in base ``B`` (digits ``ν_y <= k < B``), so equal keys are exactly equal
    ``(x, x⁺, ν)``; sorting the keys aggregates.  ``B = 2^s``, ``2^s > k``, when ``s n <= 52``
    (the digits are bit fields, and so are ``x`` and ``x⁺`` above them: the key is
    ``(x 2^t + x⁺) 2^{s n} + Σ_j 2^{s y_j}``, ``2^t >= n``, decoded by shifts and masks),
    else ``B = k + 1``.
    """
    M, k = sample.size, sample.k
    base = k + 1
    negatives = np.asarray(sample.negatives)
    s = k.bit_length()  # 2^s > k: the digits ν_y <= k fit s bits
    t = max(n - 1, 1).bit_length()  # 2^t >= n: a point index fits t bits
    if s * n <= 52 and s * n + 2 * t <= 62:
        # base 2^s: Σ_j 2^{s y_j} < 2^{s n} <= 2^52 is an exact float64 sum (BLAS), the key
        # (x 2^t + x⁺) 2^{s n} + Σ_j 2^{s y_j} < 2^62 an int64; x, x⁺ and the digits are bit
        # fields (shifts and masks, no integer division)
        top = 1 << (s * n)
        weights = np.ldexp(1.0, s * np.arange(n))  # exact powers of two
        uk, counts = _sorted_unique(_float_keys(sample, weights, top, 1 << t, log2_step=s))
        pair = uk >> (s * n)
        return pair >> t, pair & ((1 << t) - 1), counts.astype(float), _bit_digits(uk, s, n)
    if n * math.log2(base) + 2 * math.log2(max(n, 2)) < 52.5:
        # every key < 2^53: the negatives' part is an exact float64 sum (BLAS)
        powers = base ** np.arange(n, dtype=np.int64)
        top = int(powers[-1]) * base  # base^n
        uk, counts = _sorted_unique(_float_keys(sample, powers.astype(float), top))
        pair, negkey = np.divmod(uk, top)
        return pair // n, pair % n, counts.astype(float), _digits(negkey, base, n)
    if negatives.size and (negatives.min() < 0 or negatives.max() >= n):
        raise ValueError(f"sample.negatives must be point indices in 0 … {n - 1}")
    if n * math.log2(base) + 2 * math.log2(max(n, 2)) < 62:
        # the multiset {y_1..y_k} ↦ Σ_j base^{y_j} = Σ_y ν_y base^y (digits ν_y <= k < base)
        powers = base ** np.arange(n, dtype=np.int64)
        top = powers[-1] * base  # base^n
        key = np.asarray(sample.anchors, dtype=np.int64) * n
        key += sample.positives
        key *= top
        step = _key_rows(k)
        for lo in range(0, M, step):  # blocks of examples: cache-sized temporaries
            key[lo : lo + step] += powers[negatives[lo : lo + step]].sum(axis=1)
        uk, counts = _sorted_unique(key)
        pair, negkey = np.divmod(uk, top)
        return pair // n, pair % n, counts.astype(float), _digits(negkey, base, n)
    rows = np.empty((M, k + 2), dtype=np.int64)
    rows[:, 0] = sample.anchors
    rows[:, 1] = sample.positives
    rows[:, 2:] = np.sort(np.asarray(sample.negatives, dtype=np.int64), axis=1)
    uniq, counts = _distinct_rows(rows, n)
    U = uniq.shape[0]
    negs = uniq[:, 2:]  # sorted within each row
    fresh = np.ones((U, k), dtype=bool)
    if k > 1:
        fresh[:, 1:] = negs[:, 1:] != negs[:, :-1]
    flat = np.flatnonzero(fresh.ravel())
    # run lengths never cross rows: every row starts a new run (fresh[:, 0] is True)
    run = np.diff(np.append(flat, U * k)).astype(float)
    indptr = np.searchsorted(flat // k, np.arange(U + 1))
    N = sparse.csr_matrix((run, negs.ravel()[flat], indptr), shape=(U, n))
    return uniq[:, 0], uniq[:, 1], counts.astype(float), N


def _column_major(A: np.ndarray) -> np.ndarray:
    """``A`` itself when its columns are contiguous (a row slice of a column-major array: BLAS
    takes the leading dimension as is), else a column-major copy."""
    if A.ndim == 2 and A.strides[0] == A.itemsize and A.strides[1] >= A.shape[0] * A.itemsize:
        return A
    return np.asfortranarray(A)


def _weighted_gram(N: np.ndarray, r: np.ndarray, work: np.ndarray) -> np.ndarray:
    """Upper triangle of ``Aᵀ A``, ``A = diag(r) N`` (``N`` column-major ``(U, n)``): one SYRK
    per block of :func:`_syrk_rows` rows accumulated in place, the block of ``A`` formed in
    ``work`` (``>= _syrk_rows(n) · n`` doubles, cache-sized) instead of the whole ``A`` in
    memory."""
    U, n = N.shape
    S = np.zeros((n, n), order="F")
    step = _syrk_rows(n)
    for lo in range(0, U, step):  # blocks of keys
        hi = min(lo + step, U)
        A = work[: (hi - lo) * n].reshape((hi - lo, n), order="F")
        np.multiply(N[lo:hi], r[lo:hi, None], out=A)
        S = blas.dsyrk(1.0, A, beta=1.0, c=S, trans=1, overwrite_c=1)
    return S


def _as_dense(N: Any) -> np.ndarray:
    return N.toarray() if sparse.issparse(N) else np.ascontiguousarray(N)


class EmpiricalObjective:
    """The empirical loss of a sample as a :class:`~latentclass.GramObjective` (SPEC §9.3).

    ``L̂(G) = Σ_u (w_u/M) ℓ(G[x_u, x⁺_u]/τ, ν_u; G[x_u, :]/τ)``: the loss ``ℓ`` of
    :mod:`latentclass.losses` of the example whose negatives take the score ``G[x_u, y]/τ``
    exactly ``ν_uy`` times, the examples aggregated by ``(anchor, positive, multiset of
    negatives)``.  Convex for the logistic, hinge and decoupled losses (each ``ℓ`` is convex in
    the scores, which are linear in ``G``); not for the debiased and hard-negative losses.

    Logistic (the fast kernel), per anchor ``x`` (keys grouped by anchor): with
    ``b_y = exp(G_xy/τ − c_x)``, ``c_x = max_y G_xy/τ``, and ``t_u = c_x − G[x, x⁺_u]/τ``,
    ``ℓ_u = log(1 + exp(z_u))``, ``z_u = t_u + log (N_x b)_u`` — one matrix-vector product per
    anchor; the gradient is ``(b/τ) ⊙ N_xᵀ(w σ / N_x b)`` on row ``x`` minus ``w σ/τ`` at
    ``(x, x⁺_u)``, ``σ = expit(z)``, symmetrised.  Other losses: the loss object's
    ``counts_form`` (SPEC §8.2) per anchor, vectorised over keys (the hinge: its subgradient
    at the first maximising negative).

    Parameters
    ----------
    sample : ContrastiveSample
        From a finite model (``sample.n_points`` set).
    tau : float
        Temperature ``τ > 0``.
    n_points : int, optional
        Matrix size (default ``sample.n_points``).
    loss : str or loss object
        Any loss of :mod:`latentclass.losses` (default logistic).

    Attributes
    ----------
    n : int
        Number of points.
    n_examples, n_unique : int
        ``M`` and the number ``U`` of distinct keys.
    convex : bool
        ``loss.convex``.
    loss : loss object
    """

    def __init__(
        self,
        sample: ContrastiveSample,
        tau: float = 1.0,
        n_points: int | None = None,
        *,
        loss: Any = "logistic",
    ):
        if not isinstance(sample, ContrastiveSample):
            raise TypeError(f"sample must be a ContrastiveSample, got {type(sample).__name__}")
        if sample.n_points is None:
            raise ValueError("sample must come from a finite model (sample.n_points is None)")
        if sample.size < 1:
            raise ValueError("sample must contain at least one example")
        self.loss: _Loss = _resolve(loss)
        self.convex = bool(self.loss.convex)
        self._logistic = is_logistic(self.loss)
        self.tau = check_tau(tau)
        n = sample.n_points if n_points is None else n_points
        self.n = check_integer(n, "n_points", minimum=1)
        for name in ("anchors", "positives", "negatives"):
            a = np.asarray(getattr(sample, name))
            if not np.issubdtype(a.dtype, np.integer):
                raise TypeError(f"sample.{name} must be an integer array of point indices")
            if name != "negatives" and not _indices_ok(a, self.n):  # negatives: while hashing
                raise ValueError(f"sample.{name} must be point indices in 0 … {self.n - 1}")
        self.k = sample.k
        self.n_examples = sample.size
        # the logistic kernel: ℓ = scale · log(1 + e^{offset} Σ ν e^{(G_xy − G_xp)/ktau})
        self._offset, self._scale, self._ktau = 0.0, 1.0, self.tau
        self._safe = False  # per-key shifted kernel (the smoothed hinge)
        x, p, counts, N = _aggregate(sample, self.n)
        self.n_unique = int(x.size)
        # keys come sorted by anchor: the anchors are where x changes
        starts = np.flatnonzero(np.append(True, x[1:] != x[:-1]))
        self.anchors = x[starts]
        bounds = np.append(starts, x.size)
        # examples per anchor point (exact integers: sums of integer counts below 2^53)
        self._anchor_counts = np.zeros(self.n)
        self._anchor_counts[self.anchors] = np.add.reduceat(counts, starts)
        # dense count blocks when small (BLAS products), sparse CSR otherwise
        self._dense = self.n <= _DENSE_MAX_N and self.n_unique * self.n <= _DENSE_MAX_ENTRIES
        if not self._logistic:
            self._dense = True  # counts_form takes dense count vectors
        w = counts / float(sample.size)
        ranges = list(zip(self.anchors.tolist(), bounds[:-1].tolist(), bounds[1:].tolist()))
        # the one positive of each anchor's keys (class level), or −1 if they differ
        self._single = [
            int(p[lo]) if p[lo] == p[hi - 1] and np.all(p[lo:hi] == p[lo]) else -1
            for _, lo, hi in ranges
        ]
        # one block per anchor: (x, N_x, positives, weights)
        self._blocks = [
            (
                a,
                # column-major: the products N b, Nᵀ v and Nᵀ diag(v) N stream each column
                _column_major(N[lo:hi].toarray() if sparse.issparse(N) else N[lo:hi])
                if self._dense
                else sparse.csr_matrix(N[lo:hi]),
                p[lo:hi],
                w[lo:hi],
            )
            for a, lo, hi in ranges
        ]
        # the distinct positives of each anchor's keys and each key's index among them
        self._positives = (
            []
            if self._logistic
            else [np.unique(p, return_inverse=True) for _, _, p, _ in self._blocks]
        )

    @property
    def second_order_cost(self) -> int | None:
        """``len(anchors) · n²`` of the row-block Hessian (``None``: no Hessian, losses other
        than the logistic and the smoothed hinge)."""
        if not self._logistic:
            return None
        return int(self.anchors.size) * self.n * self.n

    def __repr__(self) -> str:
        return (
            f"EmpiricalObjective(n={self.n}, k={self.k}, tau={self.tau:g}, "
            f"loss={self.loss.name!r}, n_examples={self.n_examples}, n_unique={self.n_unique})"
        )

    # ------------------------------------------------------------------ kernels
    def _safe_block(self, G: np.ndarray, x: int, N: np.ndarray, p: np.ndarray):
        """``(z, Π)`` for the keys of anchor ``x``, shifted per key by the largest drawn score
        (the smoothed hinge: temperatures ``τη`` far below the score range), ``Π`` dense
        ``(U_x, n)``, ``Π_uy = ν_uy e^{u_y} / Σ ν e^{u}``."""
        row = G[x] / self._ktau
        present = N > 0
        cu = np.max(np.where(present, row[None, :], -np.inf), axis=1)
        E = N * np.exp(np.where(present, row[None, :] - cu[:, None], -np.inf))
        S = E.sum(axis=1)  # >= 1: the largest drawn term is 1
        z = (cu - row[p]) + np.log(S) + self._offset
        return z, E / S[:, None]

    def _terms(self, G: np.ndarray, x: int, N, p: np.ndarray, q: int):
        """``(b, Nb, ℓ, σ, 1 − σ)`` for the keys of anchor ``x`` (logistic kernel, not the
        smoothed hinge): ``ℓ_u = log(1 + X_u)``, ``σ_u = X_u/(1 + X_u)`` with
        ``X_u = e^{t_u} (N_x b)_u = e^{z_u}``, ``t_u = c_x − G[x, x⁺_u]/τ`` (one ``log1p`` per key
        instead of ``log``, ``logaddexp`` and ``expit``); ``q`` the anchor's one positive or −1."""
        row = G[x] / self._ktau
        c = float(row.max())
        b = np.exp(row - c)  # in (0, 1]
        Nb = N @ b  # > 0: every key has k ≥ 1 negatives
        t = ((c - row[q]) if q >= 0 else (c - row[p])) + self._offset  # >= 0 (offset 0)
        if float(np.max(t)) < 700.0:  # e^t · Nb stays finite
            X = np.exp(t) * Nb
            X1 = 1.0 + X
            om = 1.0 / X1
            # X >= 1/4: log of the rounded 1 + X is within (ε/2)/log(5/4) + ε <= 3.3ε of ℓ
            # (relative), else log1p (slower, exact to an ulp for every X)
            ell = np.log(X1) if float(X.min()) >= 0.25 else np.log1p(X)
            return b, Nb, ell, X * om, om
        z = t + np.log(Nb)
        sig = special.expit(z)
        return b, Nb, np.logaddexp(0.0, z), sig, special.expit(-z)

    def _class_level_pass(
        self,
        G: np.ndarray,
        x: int,
        N: np.ndarray,
        w: np.ndarray,
        q: int,
        hessian: bool,
        work: np.ndarray,
        need_value: bool = True,
    ):
        """The sums of one anchor's keys, all sharing the positive ``q`` (dense ``N``, the
        logistic kernel, not the smoothed hinge), fused per block of :func:`_syrk_rows` keys
        (the block of ``N`` read from memory once, its temporaries cache-resident):
        ``(b, Σ wℓ, Nᵀ(wσ/Nb), Σ wσ)`` and, with ``hessian``, ``(Nᵀ(c/Nb), Σ c, S)`` —
        ``c = wσ(1−σ)``, ``S = Σ wσ² π πᵀ``, ``π = ν ⊙ b / Nb``.  The same formulas
        as :meth:`_terms` and :func:`_weighted_gram`, the sums split over blocks.  Without
        ``need_value`` the value is not computed (``0.0``; no logarithms).  When
        ``min b >= 1e-150`` the blocks of ``A`` are ``√w σ ν/Nb`` (entries ``<= √w / b_y <=
        1e150``, no overflow) and ``S`` is scaled by ``b bᵀ`` once at the end, one pass over
        each block fewer; else ``A = √w σ π`` as formed (entries in ``[0, 1]``)."""
        n = self.n
        row = G[x] / self._ktau
        cmax = float(row.max())
        b = np.exp(row - cmax)  # in (0, 1]
        t = (cmax - row[q]) + self._offset  # >= 0 (offset 0)
        et = math.exp(t) if t < 700.0 else math.inf  # e^t · Nb finite below 700
        value, gsum, csum = 0.0, 0.0, 0.0
        g = np.zeros(n)
        cr = np.zeros(n) if hessian else None
        S = np.zeros((n, n)) if hessian else None
        U = N.shape[0]
        # every key has k negatives, so X_u = e^t (N b)_u >= e^t k min b: log(1 + X) for all
        all_log = et * self.k * float(b.min()) >= 0.25
        scale_after = float(b.min()) >= 1e-150  # S' = S / (b bᵀ) cannot overflow
        step = _syrk_rows(n)
        for lo in range(0, U, step):  # blocks of keys
            hi = min(lo + step, U)
            Nc, wc = N[lo:hi], w[lo:hi]
            Nb = Nc @ b  # > 0: every key has k ≥ 1 negatives
            if et < math.inf:
                # σ/Nb = e^t/(1 + X): wσ/Nb = w e^t ω, c/Nb = wσ(1−σ)/Nb = w e^t ω²,
                # √(wσ²)/Nb = √w e^t ω (ω = 1/(1 + X)), no division by Nb
                X = et * Nb
                X1 = 1.0 + X
                om = 1.0 / X1
                # X >= 1/4: log of the rounded 1 + X is within (ε/2)/log(5/4) + ε <= 3.3ε
                # of ℓ (relative), else log1p
                if need_value:
                    ell = np.log(X1) if all_log or float(X.min()) >= 0.25 else np.log1p(X)
                    value += float(wc @ ell)
                eo = et * om
                v1 = wc * eo  # wσ/Nb
                gsum += float(v1 @ Nb)  # Σ wσ
                g += v1 @ Nc
                if S is None or cr is None:
                    continue
                v2 = v1 * om  # c/Nb
                csum += float(v2 @ Nb)  # Σ c
                cr += v2 @ Nc
                r = np.sqrt(wc)
                r *= eo
            else:
                z = t + np.log(Nb)
                sig, om = special.expit(z), special.expit(-z)
                if need_value:
                    value += float(wc @ np.logaddexp(0.0, z))
                ws = wc * sig
                gsum += float(ws.sum())
                g += (ws / Nb) @ Nc
                if S is None or cr is None:
                    continue
                c = ws * om
                csum += float(c.sum())
                cr += (c / Nb) @ Nc
                r = np.sqrt(ws * sig) / Nb
            A = work[: (hi - lo) * n].reshape((hi - lo, n), order="F")
            np.multiply(Nc, r[:, None], out=A)
            if not scale_after:
                A *= b  # rows √w σ π_u, entries in [0, 1]: no overflow for a tiny Nb
            S += A.T @ A  # numpy: one SYRK, mirrored (exactly symmetric)
        if S is not None and scale_after:
            S *= np.outer(b, b)  # b_y b_z = b_z b_y: S stays exactly symmetric
        return b, value, g, gsum, cr, csum, S

    def _generic(self, G: np.ndarray, need_grad: bool) -> tuple[float, np.ndarray | None]:
        """Value (and symmetric (sub)gradient) through ``loss.counts_form``, per anchor."""
        n, tau, lo = self.n, self.tau, self.loss
        D = np.zeros((n, n)) if need_grad else None
        value = 0.0
        for (x, N, p, w), (upos, pidx) in zip(self._blocks, self._positives):  # anchors
            row = G[x] / tau
            step = max(1, _GENERIC_BLOCK // (upos.size * n))
            for a in range(0, p.size, step):  # chunks of keys bound the (P, T, n) temporaries
                sl = slice(a, a + step)
                Ns, ps, ws, ix = N[sl], p[sl], w[sl], pidx[sl]
                vals = np.broadcast_to(row, (upos.size, n))
                out = lo.counts_form(row[upos], vals, Ns, tau, need_grad)
                t = np.arange(ps.size)
                value += float(ws @ out[0][ix, t])
                if D is not None:
                    D[x] += (ws @ out[2][ix, t, :]) / tau
                    D[x] += np.bincount(ps, weights=ws * out[1][ix, t], minlength=n) / tau
        if D is None:
            return value, None
        return value, 0.5 * (D + D.T)

    def unchecked_value_and_grad(self, G: np.ndarray) -> tuple[float, np.ndarray]:
        """``(L̂(G), symmetric gradient)`` without validation (solver iterates).

        Parameters
        ----------
        G : ndarray, shape (n, n)
            A float, finite, exactly symmetric Gram matrix (not validated).

        Returns
        -------
        tuple of (float, ndarray of shape (n, n))
            As :meth:`value_and_grad`.
        """
        return self._value_and_grad(G, True)

    def _gradient(self, G: np.ndarray) -> np.ndarray:
        """The symmetric gradient alone (no logarithms in the fused class-level pass)."""
        return self._value_and_grad(G, False)[1]

    def _value_and_grad(self, G: np.ndarray, need_value: bool) -> tuple[float, np.ndarray]:
        """:meth:`unchecked_value_and_grad`; without ``need_value`` the class-level keys'
        share of the value is skipped (the value returned is then not the loss)."""
        if not self._logistic:
            value, grad = self._generic(G, True)
            assert grad is not None
            return value, grad
        n, tau, s = self.n, self._ktau, self._scale
        D = np.zeros((n, n))
        value = 0.0
        work = np.empty(_syrk_rows(n) * n)
        for (x, N, p, w), q in zip(self._blocks, self._single):  # loop over anchors (≤ n)
            if self._safe:
                z, Pi = self._safe_block(G, x, N, p)
                ws = w * special.expit(z)
                D[x] += (ws @ Pi) / tau
                value += float(w @ np.logaddexp(0.0, z))
            elif self._dense and q >= 0:  # class level: the fused blocked pass
                b, v, g, gsum = self._class_level_pass(G, x, N, w, q, False, work, need_value)[:4]
                D[x] += b * g / tau
                D[x, q] -= gsum / tau
                value += v
                continue
            else:
                b, Nb, ell, sig, _ = self._terms(G, x, N, p, q)
                ws = w * sig
                D[x] += b * (N.T @ (ws / Nb)) / tau
                value += float(w @ ell)
            if q >= 0:
                D[x, q] -= ws.sum() / tau
            else:
                D[x] -= np.bincount(p, weights=ws, minlength=n) / tau
        D *= s
        return s * value, 0.5 * (D + D.T)

    def value(self, G: Any) -> float:
        """``L̂(G)``.

        Parameters
        ----------
        G : array_like, shape (n, n)
            A finite Gram matrix of the sample's distinct inputs.

        Returns
        -------
        float
            The empirical loss ``L̂(G)`` of the sample (SPEC §9.3).
        """
        G = self._check(G)
        if not self._logistic:
            return self._generic(G, False)[0]
        if self._safe:
            zs = ((self._safe_block(G, x, N, p)[0], w) for x, N, p, w in self._blocks)
            return self._scale * float(sum(float(w @ np.logaddexp(0.0, z)) for z, w in zs))
        return self._scale * float(
            sum(
                float(w @ self._terms(G, x, N, p, q)[2])
                for (x, N, p, w), q in zip(self._blocks, self._single)
            )
        )

    def value_and_grad(self, G: Any) -> tuple[float, np.ndarray]:
        """``(L̂(G), ∇L̂(G))`` with the symmetric gradient convention of SPEC §3.2 (a
        subgradient for the hinge).

        Parameters
        ----------
        G : array_like, shape (n, n)
            A finite Gram matrix of the sample's distinct inputs.

        Returns
        -------
        tuple of (float, ndarray of shape (n, n))
            ``L̂(G)`` and its symmetric (sub)gradient.
        """
        return self.unchecked_value_and_grad(self._check(G))

    def _check(self, G: Any) -> np.ndarray:
        G = np.asarray(G, dtype=float)
        if G.shape != (self.n, self.n):
            raise ValueError(f"G must have shape ({self.n}, {self.n}), got {G.shape}")
        if not np.all(np.isfinite(G)):
            raise ValueError("G must be finite")
        return G

    def second_order(self, G: np.ndarray, *, need_value: bool = True):
        """``(value, M, anchors, blocks)``: ``blocks[i] = ∂²L̂/∂G[x_i, :]²`` (one-sided entries);
        ``None`` for losses other than the logistic (and the smoothed hinge).

        For one key, ``π = ν ⊙ b / (ν·b)``, ``σ = expit(z)``: ``∇z = (π − e_p)/τ``,
        ``∇²z = (diag π − ππᵀ)/τ²``, so ``τ² H = diag(Σ wσπ) − Σ wσ² ππᵀ
        − Σ wσ(1−σ)(π e_pᵀ + e_p πᵀ) + Σ wσ(1−σ) e_p e_pᵀ``.

        Parameters
        ----------
        G : ndarray, shape (n, n)
            A float, finite, exactly symmetric Gram matrix (not validated).
        need_value : bool
            ``False``: the loss is not computed and ``value`` is ``None`` (Newton's method on
            the KKT system uses the derivatives only; the fused class-level pass then needs no
            logarithm).

        Returns
        -------
        tuple or None
            ``(value, M, anchors, blocks)``: the loss, the symmetric gradient, the anchor rows and
            one Hessian block ``(n, n)`` per anchor; ``None`` for the other losses.
        """
        if not self._logistic:
            return None
        n, tau = self.n, self._ktau
        D = np.zeros((n, n))
        blocks = np.zeros((len(self._blocks), n, n))
        work = np.empty(_syrk_rows(n) * n)  # a block of A (column-major)
        value = 0.0
        for i, (x, N, p, w) in enumerate(self._blocks):  # loop over anchors (≤ n)
            q1 = self._single[i]
            if self._safe:  # explicit Π (smoothed hinge)
                z, Pi = self._safe_block(G, x, N, p)
                sig = special.expit(z)
                value += float(w @ np.logaddexp(0.0, z))
                ws = w * sig
                c = ws * (1.0 - sig)
                gy = ws @ Pi
                D[x] += (gy - np.bincount(p, weights=ws, minlength=n)) / tau
                cross = np.zeros((n, n))  # Σ c π e_pᵀ
                np.add.at(cross.T, p, c[:, None] * Pi)
                H = np.diag(gy) - Pi.T @ (Pi * (ws * sig)[:, None]) - cross - cross.T
                H += np.diag(np.bincount(p, weights=c, minlength=n))
                blocks[i] = H * (self._scale / (tau * tau))
                continue
            if self._dense and q1 >= 0:  # class level: the fused blocked pass
                b, v, g, gsum, cr, csum, S = self._class_level_pass(
                    G, x, N, w, q1, True, work, need_value
                )
                assert S is not None and cr is not None
                value += v
                gy = b * g  # Σ wσ π
                D[x] += gy / tau
                D[x, q1] -= gsum / tau
                H = np.diag(gy) - S
                H[:, q1] -= b * cr  # Σ c π e_qᵀ and its transpose
                H[q1, :] -= b * cr
                H[q1, q1] += csum
                blocks[i] = H * (self._scale / (tau * tau))
                continue
            b, Nb, ell, sig, om = self._terms(G, x, N, p, q1)
            value += float(w @ ell)
            ws = w * sig
            c = ws * om
            gp: np.ndarray = np.zeros(n)
            cp: np.ndarray = np.zeros(n)
            if q1 >= 0:  # class level: one positive
                gp[q1] = ws.sum()
                cp[q1] = c.sum()
            else:
                gp = np.bincount(p, weights=ws, minlength=n).astype(float)
                cp = np.bincount(p, weights=c, minlength=n).astype(float)
            gy = b * (N.T @ (ws / Nb))  # Σ wσ π
            D[x] += (gy - gp) / tau
            H = np.diag(gy)
            if self._dense:
                # Σ wσ² ππᵀ = diag(b) AᵀA diag(b), A = diag(√(wσ²)/Nb) N: SYRKs (upper)
                # accumulated over blocks of _syrk_rows(n) keys (each block of A cache-resident)
                S = _weighted_gram(N, np.sqrt(ws * sig) / Nb, work)
                S = np.triu(S)  # dsyrk computes the upper triangle
                S = S + S.T - np.diag(np.diag(S))
                H -= S * np.outer(b, b)
                cross = np.zeros((n, n))  # Σ c π e_pᵀ, column by positive
                cn = c / Nb
                if q1 >= 0:  # class level: one positive
                    cross[:, q1] = b * (N.T @ cn)
                else:
                    for q in np.unique(p):  # positives of this anchor
                        sel = p == q
                        cross[:, q] = b * (N[sel].T @ cn[sel])
            else:
                Ns = sparse.csr_matrix(N)
                Pi = sparse.csr_matrix(Ns.multiply(b[None, :]).multiply(1.0 / Nb[:, None]))
                H -= (Pi.T @ Pi.multiply((w * sig * sig)[:, None])).toarray()
                onehot = sparse.csr_matrix((c, (np.arange(p.size), p)), shape=(p.size, n))
                cross = (Pi.T @ onehot).toarray()  # Σ c π e_pᵀ
            H -= cross + cross.T
            H += np.diag(cp)
            blocks[i] = H * (self._scale / (tau * tau))
        s = self._scale
        D *= s
        loss = s * value if need_value else None
        return loss, 0.5 * (D + D.T), self.anchors.copy(), blocks

    # ------------------------------------------------------------------ the hinge
    def smoothed_hinge(self, eta: float) -> EmpiricalObjective:
        """The smoothed empirical hinge ``L̂_η(G) = Σ_u w_u η log(1 + Σ_{y: ν_uy > 0}
        e^{(margin + (G_xy − G_xp)/τ)/η})`` (SPEC §9.3), a convex objective with the logistic
        kernel (counts ``1[ν_uy > 0]``, offset ``margin/η``, temperature ``τη``, scale ``η``).

        ``L̂ <= L̂_η <= L̂ + η log(1 + k)``; its gradient at ``G`` is ``∇ℓ_θ`` of the
        piece-weight minorant of :meth:`piece_weight_bound`.

        Parameters
        ----------
        eta : float
            Smoothing level ``η > 0``.

        Returns
        -------
        EmpiricalObjective
        """
        if not isinstance(self.loss, Hinge):
            raise ValueError(
                f"smoothed_hinge needs the hinge loss, this objective has {self.loss!r}"
            )
        eta = check_tau(eta, "eta")
        sm = object.__new__(EmpiricalObjective)
        sm.__dict__.update(self.__dict__)
        sm.loss = resolve_loss("logistic")
        sm.convex = True
        sm._logistic = True
        sm._offset = self.loss.margin / eta
        sm._scale = eta
        sm._ktau = self.tau * eta
        sm._safe = True
        sm._blocks = [(x, (_as_dense(N) > 0).astype(float), p, w) for x, N, p, w in self._blocks]
        return sm

    def piece_weight_bound(self, G: np.ndarray, eta: float) -> tuple[float, float, Any]:
        """Certified ``(L̂(G), gap, certificate)`` for the empirical hinge (SPEC §9.3).

        The pieces of key ``u`` are ``a_u0 = 0`` and ``a_uy = margin + (G_xy − G_xp)/τ`` for
        the drawn ``y``; with the softmax weights ``θ_u = softmax(a_u(G)/η)`` (any convex
        weights would do), ``L̂(G') >= ℓ_θ(G') = Σ_u w_u θ_u · a_u(G') = c + ⟨M, G'⟩`` for every
        symmetric ``G'`` (a maximum is at least any average of its terms).  :func:`certify`
        applied to the linear ``ℓ_θ`` gives ``min ℓ_θ >= ℓ_θ(G) − gap_θ``, so

            ``L̂(G) − min L̂ <= Σ_u w_u Σ_j θ_uj (max_j a_uj − a_uj) + gap_θ``

        (plus rounding margins), and also ``<= L̂(G)`` (the hinge is ``>= 0``).

        Parameters
        ----------
        G : ndarray (n, n)
            Feasible Gram matrix.
        eta : float
            Smoothing level of the weights.

        Returns
        -------
        tuple
            ``(value, gap, certificate of ℓ_θ)``.
        """
        assert isinstance(self.loss, Hinge)
        sm = self.smoothed_hinge(eta)
        _, M = sm.unchecked_value_and_grad(G)
        n, tau, margin = self.n, self.tau, self.loss.margin
        c = 0.0
        excess = 0.0
        scale = 0.0
        for x, N, p, w in sm._blocks:  # anchors; N is the 0/1 indicator of drawn negatives
            Nd = _as_dense(N)
            row = G[x] / tau
            a = margin + row[None, :] - row[p][:, None]  # (U_x, n) pieces of every point
            present = Nd > 0
            amax = np.maximum(np.max(np.where(present, a, -np.inf), axis=1), 0.0)
            z, pi = sm._safe_block(G, x, Nd, p)  # pi: θ_uy / σ_u
            sig = special.expit(z)  # total weight of the non-zero pieces
            c += float(w @ sig) * margin
            ex = (1.0 - sig) * amax + sig * np.sum(pi * (amax[:, None] - a), axis=1)
            excess += float(w @ ex)
            scale += float(w @ (amax + sig * np.sum(pi * np.abs(a), axis=1)))
        lin = _Linear(n, c, M)
        cert = certify(lin, G)
        value = self.value(G)
        err = _gamma(8 * n + 32) * (scale + abs(c) + float(np.abs(M).sum()) + value)
        gap = max(0.0, excess) + cert.gap + err
        gap = min(gap, value * (1.0 + _gamma(4 * n + 8)) + err)  # the hinge is >= 0
        return value, float(gap), cert


def _gamma(n: float) -> float:
    ne = n * _EPS
    return ne / (1.0 - ne) if ne < 0.5 else math.inf


class _Linear:
    """``ℓ(G) = c + ⟨M, G⟩`` as a convex :class:`~latentclass.GramObjective`."""

    convex = True

    def __init__(self, n: int, c: float, M: np.ndarray):
        self.n, self.c, self.M = n, float(c), M

    def value_and_grad(self, G: np.ndarray) -> tuple[float, np.ndarray]:
        return self.c + float(np.sum(self.M * G)), self.M


@dataclass(frozen=True, eq=False, repr=False)
class EmpiricalOptimum:
    """The certified minimiser of the empirical loss of a sample (SPEC §9.3).

    Attributes
    ----------
    F : ndarray (n, d)
        Representation, ``gram = F Fᵀ``.
    gram : ndarray (n, n)
    empirical_loss : float
        ``L̂(gram)``.
    population_loss : float or None
        ``L_k(gram)`` for the model's population (when ``model`` was given).
    duality_gap : float or None
        Certified bound on ``empirical_loss − min L̂`` (SPEC §4.2).
    certified : bool
    downstream : DownstreamResult or None
        Full-task mean-classifier metrics on ``model`` (when given).
    n_examples, n_unique : int
        ``M`` and the number of distinct (anchor, positive, negative multiset) keys.
    k : int
    tau : float
    solver : str
        The solver path that ran.
    representation : OptimalRepresentation
        The solver's result (certificate, multipliers, message).
    loss : str
        Name of the loss minimised.
    message : str
        What was done and what the certificate says.
    """

    F: np.ndarray
    gram: np.ndarray
    empirical_loss: float
    population_loss: float | None
    duality_gap: float | None
    certified: bool
    downstream: DownstreamResult | None
    n_examples: int
    n_unique: int
    k: int
    tau: float
    solver: str
    representation: OptimalRepresentation
    loss: str = "logistic"
    message: str = ""

    def __repr__(self) -> str:
        pop = "None" if self.population_loss is None else f"{self.population_loss:.10g}"
        gap = "None" if self.duality_gap is None else f"{self.duality_gap:.3g}"
        return (
            f"EmpiricalOptimum(loss={self.loss!r}, empirical_loss={self.empirical_loss:.10g}, "
            f"population_loss={pop}, "
            f"duality_gap={gap}, certified={self.certified}, n_examples={self.n_examples}, "
            f"n_unique={self.n_unique}, k={self.k}, tau={self.tau:g}, F{self.F.shape})"
        )

    def _repr_html_(self) -> str:
        """A table for Jupyter: losses, gap, certification, sample sizes (arrays by their shape)."""
        from ._html import fields_html

        return fields_html(self)


def _frequency_model(
    sample: ContrastiveSample, objective: EmpiricalObjective | None = None
) -> LatentClassModel | None:
    """Class-level model with the anchors' empirical frequencies (a start for the Newton
    path), or ``None`` when some point never is an anchor (the counts read from
    ``objective``'s aggregation when given: the same integers)."""
    n = int(sample.n_points)  # type: ignore[arg-type]
    if objective is not None and objective.n == n:
        freq = np.array(objective._anchor_counts, dtype=float)
    else:
        freq = np.bincount(np.asarray(sample.anchors), minlength=n).astype(float)
    if n < 2 or not np.all(freq > 0):
        return None
    return LatentClassModel.one_point_per_class(freq / freq.sum())


def empirical_optimum(
    sample: ContrastiveSample,
    tau: float = 1.0,
    *,
    model: LatentClassModel | None = None,
    loss: Any = "logistic",
    dim: int | None = None,
    rng: Any = 0,
    n_restarts: int = 5,
) -> EmpiricalOptimum:
    """Certified minimiser of the empirical contrastive loss of ``sample`` (SPEC §9.3).

    Minimises ``L̂(G) = (1/M) Σ_i ℓ(G[x_i, x_i⁺]/τ, (G[x_i, x⁻_ij]/τ)_j)`` over
    ``{G ⪰ 0, diag G ≤ 1, rank G ≤ dim}`` for the loss ``ℓ`` (logistic:
    ``log(1 + Σ_j e^{(G[x_i, x⁻_ij] − G[x_i, x_i⁺])/τ})``), the examples aggregated by
    ``(anchor, positive, multiset of negatives)`` (:class:`EmpiricalObjective`).  Per loss:

    - ``"logistic"``, ``"decoupled"`` (smooth, convex): :func:`latentclass.solve_gram`
      (logistic: the Gram-space Newton path first, started from the ``ρ``-centred simplex of
      ``model`` or of the anchors' frequencies, kept only if its certificate is tight) and the
      dual bound of :func:`latentclass.certify` (SPEC §4.2);
    - ``"hinge"`` (convex, piecewise linear): the smoothed hinge
      ``η log(1 + Σ_{drawn y} e^{(margin + (G_xy − G_xp)/τ)/η})`` minimised for
      ``η ∈`` :data:`HINGE_ETAS` in turn, each minimiser certified for the *hinge* by the
      piece-weight (subgradient) dual bound of :meth:`EmpiricalObjective.piece_weight_bound`
      (the softmax weights as convex piece weights, :func:`~latentclass.certify` on the
      linear minorant — the empirical analogue of
      :func:`latentclass.losses.hinge_dual_bound`); the first with gap ``<= 1e-7`` is kept,
      else the one with the smallest gap, ``certified=False``;
    - ``"debiased"``, ``"hard_negative"`` (not convex): ``n_restarts`` random starts of
      :func:`~latentclass.solve_gram` and the certified logistic ERM as a structured start
      candidate; the lowest value is returned with ``certified=False`` and
      ``duality_gap=None`` (no certificate of global optimality exists for them).

    Parameters
    ----------
    sample : ContrastiveSample
        Drawn from a finite model (class level or point level).
    tau : float
        Temperature ``τ > 0``.
    model : LatentClassModel, optional
        The model the sample came from: adds ``population_loss`` (``L_k`` of the same loss at
        the ERM, where an exact engine exists) and ``downstream`` (full-task mean-classifier
        metrics, ``ρ``-weighted).
    loss : str or loss object
        ``"logistic"`` (default), ``"hinge"``, ``"decoupled"``, ``"debiased"``,
        ``"hard_negative"`` or an object of :mod:`latentclass.losses`.
    dim : int, optional
        Rank bound (``None``: ``n``, convex and certifiable for the convex losses).
    rng : seed or numpy.random.Generator
        Solver starts.
    n_restarts : int
        Random starts for the non-convex losses (and for ``dim < n``).

    Returns
    -------
    EmpiricalOptimum
    """
    lo = _resolve(loss)
    if not isinstance(sample, ContrastiveSample):
        raise TypeError(f"sample must be a ContrastiveSample, got {type(sample).__name__}")
    tau = check_tau(tau)
    n_restarts = check_integer(n_restarts, "n_restarts", minimum=1)
    if model is not None:
        check_model(model)
        if sample.n_points != model.n_points:
            raise ValueError(
                f"model has {model.n_points} points but the sample indexes {sample.n_points}"
            )
    gen = as_generator(rng)
    objective = EmpiricalObjective(sample, tau, loss=lo)
    if dim is not None:
        dim = check_integer(dim, "dim", minimum=1)
        if dim > objective.n:
            raise ValueError(f"dim must be an integer between 1 and n_points={objective.n}")
    if is_logistic(lo):
        rep = _solve_logistic(objective, sample, model, dim, gen)
    elif isinstance(lo, Hinge):
        rep = _solve_hinge(objective, sample, model, dim, gen)
    elif lo.convex:
        rep = solve_gram(objective, dim=dim, rng=gen)
    else:
        rep = _solve_nonconvex(objective, sample, model, dim, gen, n_restarts)
    if lo.convex and dim is not None and dim < objective.n and not rep.certified:
        # rank-constrained: the convex relaxation's certified value bounds it too (SPEC §4.2)
        relax = empirical_optimum(sample, tau, loss=lo, rng=gen)
        lb = relax.representation.lower_bound
        if lb is not None and (rep.lower_bound is None or lb > rep.lower_bound):
            rep = dataclasses.replace(
                rep,
                lower_bound=lb,
                message=rep.message + f"; convex relaxation's certified lower bound {lb:.10g}",
            )
    pop = None
    down = None
    if model is not None:
        pop = _population_value(model, rep, sample.k, tau, lo)
        down = mean_classifier_metrics(model, rep.F, tau)
    return EmpiricalOptimum(
        readonly(np.array(rep.F)),
        readonly(np.array(rep.gram)),
        float(rep.loss),
        pop,
        rep.duality_gap,
        bool(rep.certified),
        down,
        sample.size,
        objective.n_unique,
        sample.k,
        tau,
        rep.solver,
        rep,
        lo.name,
        rep.message,
    )


def _population_value(model, rep, k, tau, lo) -> float | None:
    """``L_k`` of the loss at the ERM (``None`` where no exact engine applies)."""
    if is_logistic(lo):
        return population_loss(model, rep.F, k, tau)
    try:
        return float(LossObjective(model, k, tau, lo).value(np.asarray(rep.gram)))
    except ValueError:  # e.g. debiased with large k at a general G: no exact engine
        return None


def _population_hessian_model(objective: EmpiricalObjective):
    """Cheap derivatives for the first Newton steps (:func:`kkt_newton`'s ``model``), or
    ``None``.

    For a class-level sample (every anchor's keys have the anchor itself as positive) and the
    plain logistic loss: the empirical gradient with the Hessian of the *population* loss
    ``L_k`` of the anchors' frequencies ``ρ̂`` (exact class-level Hessian,
    :meth:`~latentclass._engines.hessian.ClassHessian.row_blocks`) instead of the empirical
    Hessian — half the cost of a :meth:`~EmpiricalObjective.second_order` pass.  The two
    Hessians differ by the sampling error (measured 3e-3–6e-3 relative at ``M = 10⁶``,
    ``m = 10``): a step with it reduces the residual by about that factor more than the
    exact step's quadratic error, harmless far from the solution (residuals ~1e-3 after the
    ρ-centred start) and never used near it (:func:`kkt_newton` evaluates points with a
    small residual exactly; the final step and the certificate use the empirical objective
    only, so the model cannot affect what is certified)."""
    n = objective.n
    if not (objective._logistic and not objective._safe and objective._offset == 0.0):
        return None
    if objective._scale != 1.0 or objective.anchors.size != n or n < 2:
        return None
    if not all(q == x for q, x in zip(objective._single, objective.anchors.tolist())):
        return None
    rho = objective._anchor_counts / float(objective.n_examples)
    k, tau = objective.k, objective.tau

    def derivatives(G: np.ndarray):
        try:
            with np.errstate(divide="raise", over="raise", invalid="raise", under="ignore"):
                blocks = ClassHessian(G, rho, k, tau, step=_MODEL_HESSIAN_STEP).row_blocks()
        except (FloatingPointError, ArithmeticError, MemoryError, ValueError):
            return objective.second_order(G, need_value=False)  # no model: the exact pass
        M = objective._gradient(G)
        return None, M, np.arange(n), blocks

    return derivatives


def _solve_logistic(objective, sample, model, dim, gen) -> OptimalRepresentation:
    rep = None
    if dim is None or dim >= objective.n:  # the Gram-space Newton fast path, as in SPEC §4.3
        start_model = model if model is not None else _frequency_model(sample, objective)
        if start_model is not None:
            run = _gram_newton(
                start_model,
                objective,
                1e-3 * CERTIFY_TOL,
                final_step_at=1e-5,
                hessian_model=_population_hessian_model(objective),
            )
            if run is not None:
                rep = _result(objective, run, CERTIFY_TOL, objective.n, objective.n, 1)
    if rep is None:
        rep = solve_gram(objective, dim=dim, rng=gen)
    return rep


def _feasible_factor(G: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """A feasible rank-``<= d`` point near ``G``: the top ``d`` eigenpairs (negative eigenvalues
    clipped), rows longer than 1 scaled to 1; ``(F, F Fᵀ)``."""
    w, U = np.linalg.eigh(0.5 * (G + G.T))
    w, U = w[::-1][:d], U[:, ::-1][:, :d]
    F = U * np.sqrt(np.maximum(w, 0.0))
    F = F / np.maximum(np.sqrt(np.einsum("ij,ij->i", F, F)), 1.0)[:, None]
    Gf = F @ F.T
    return F, 0.5 * (Gf + Gf.T)


def _solve_hinge(objective, sample, model, dim, gen) -> OptimalRepresentation:
    """Smoothing homotopy + piece-weight dual bound (see :func:`empirical_optimum`).

    Each level ``η`` gives a certified lower bound (:meth:`EmpiricalObjective.piece_weight_bound`,
    the largest is kept) and primal candidates: the smoothed minimiser ``G_η`` and the
    extrapolation ``G_η − (G_η' − G_η)/(η'/η − 1)`` along the path from the previous level
    ``η'`` (the minimisers approach a hinge minimiser linearly in ``η``), made feasible
    (:func:`_feasible_factor`).  The gap is the lowest feasible hinge value minus the largest
    bound, both exact statements whatever the candidates are."""
    n = objective.n
    d = n if dim is None else dim
    lower, cert, eta_lb = -math.inf, None, None
    best: tuple[float, np.ndarray, np.ndarray, str] | None = None
    rep = None
    prev = None
    gap = math.inf
    for eta in HINGE_ETAS:
        smooth = objective.smoothed_hinge(eta)
        # at small η the Newton attempt may overflow on its way to refusing the step; it
        # checks finiteness itself and the result is judged only by the bound below
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                run = _solve_logistic(smooth, sample, model, dim, gen)
        except ValueError:
            # certify's finite-difference spot check of the gradient (taken when the solver
            # returns no certificate, e.g. dim < n) cannot resolve the curvature 1/(τη) of a
            # small η: this level gives no point; the others stand on their own
            continue
        rep = run if rep is None else rep
        G_eta = np.asarray(run.gram)
        value, g_eta, c_eta = objective.piece_weight_bound(G_eta, eta)
        if value - g_eta > lower:
            lower, cert, eta_lb = value - g_eta, c_eta, eta
        cands = [(value, np.asarray(run.F), G_eta, f"smoothed minimiser (eta={eta:g})")]
        if prev is not None:
            eta_p, G_p = prev
            F_x, G_x = _feasible_factor(G_eta - (G_p - G_eta) / (eta_p / eta - 1.0), d)
            if feasibility(G_x).feasible:
                cands.append(
                    (objective.value(G_x), F_x, G_x, f"extrapolated from eta={eta_p:g}, {eta:g}")
                )
        for c in cands:
            if best is None or c[0] < best[0]:
                best = c
                rep = run
        assert best is not None
        gap = max(0.0, best[0] * (1.0 + _gamma(8 * n + 32)) - lower)
        if gap <= CERTIFY_TOL:
            break
        prev = (eta, G_eta)
    if best is None or cert is None or rep is None:  # pragma: no cover - every level refused
        raise RuntimeError("no smoothing level of the empirical hinge could be solved")
    value, F, G, origin = best
    certified = bool(cert.feasible and gap <= CERTIFY_TOL)
    rel = "<=" if certified else ">"
    msg = (
        f"{'certified' if certified else 'not certified'}: {origin} of the smoothed hinge "
        f"({rep.solver}); piece-weight dual bound of the empirical hinge (softmax piece "
        f"weights at eta={eta_lb:g}, certify on the linear minorant, SPEC §9.3): gap "
        f"{gap:.3g} {rel} certify_tol={CERTIFY_TOL:.3g}"
    )
    if dim is not None and dim < n and certified:
        # the bound is against the convex problem, whose optimum is <= the rank-constrained one
        msg += f"; rank-{dim} solution within the gap of the convex optimum"
    return dataclasses.replace(
        rep,
        F=readonly(np.array(F)),
        gram=readonly(np.array(G)),
        loss=float(value),
        duality_gap=float(gap),
        certified=certified,
        multipliers=cert.multipliers,
        message=msg,
        lower_bound=float(lower),
    )


def _solve_nonconvex(objective, sample, model, dim, gen, n_restarts) -> OptimalRepresentation:
    """Restarts of :func:`solve_gram` and the logistic ERM as a start; best found."""
    cands = []
    # independent child streams drawn from gen (Generator.spawn needs numpy >= 1.25)
    seeds = gen.integers(0, np.iinfo(np.int64).max, size=n_restarts, dtype=np.int64)
    for child in (np.random.default_rng(int(s)) for s in seeds):
        # no polish towards a certificate: none exists for a non-convex loss
        rep = solve_gram(objective, dim=dim, rng=child, polish_target=1e12)
        cands.append((float(objective.value(np.asarray(rep.gram))), rep, "random start"))
    logistic = EmpiricalObjective(sample, objective.tau)
    lrep = _solve_logistic(logistic, sample, model, dim, gen)
    cands.append((float(objective.value(np.asarray(lrep.gram))), lrep, "logistic ERM"))
    value, rep, origin = min(cands, key=lambda c: c[0])
    msg = (
        f"not certified: the {objective.loss.name} loss is not convex, so no certificate of "
        f"global optimality exists; best found of {n_restarts} random starts and the "
        f"logistic ERM (lowest: {origin}) (SPEC §9.3)"
    )
    return dataclasses.replace(
        rep,
        loss=value,
        duality_gap=None,
        certified=False,
        multipliers=None,
        message=msg,
        lower_bound=None,
    )
