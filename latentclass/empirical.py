"""The certified minimiser of the *empirical* NCE loss of a drawn sample (SPEC §9.3).

For a sample of ``M`` examples ``(x_i, x_i⁺, x⁻_{i1..ik})`` of a finite model (class level
or point level) the empirical loss of a Gram matrix ``G`` is

    ``L̂(G) = (1/M) Σ_i log(1 + Σ_j exp((G[x_i, x⁻_ij] − G[x_i, x_i⁺]) / τ))``,

a convex function of ``G`` (an average of log-sum-exps of affine functions), so its minimiser
over ``{G ⪰ 0, diag G ≤ 1}`` is found and certified by the solver and the dual bound of
SPEC §4 exactly like the population optimum.

**Aggregation.** ``ℓ_i`` depends only on the anchor, the positive and the *multiset* of
negatives, i.e. on ``(x, x⁺, ν)`` with ``ν_y = #{j : x⁻_ij = y}``.  The sample is reduced once
to its distinct keys with multiplicities ``w_u`` (a lexicographic sort of the rows with sorted
negatives), and to the sparse counts ``ν_uy > 0``:

    ``L̂(G) = Σ_u (w_u / M) log(1 + Σ_y ν_uy exp((G[x_u, y] − G[x_u, x⁺_u]) / τ))``,

so one evaluation costs ``O(nnz)`` with ``nnz ≤ U · min(k, n)`` (``U`` distinct keys) and
``M = 10⁶`` is cheap.  The Hessian is block diagonal over anchor rows, provided to the
solver's Newton phase (:meth:`EmpiricalObjective.second_order`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse, special

from ._solvers.gram_newton import _gram_newton
from ._validation import as_generator, check_integer, check_tau, readonly
from .certificate import CERTIFY_TOL
from .downstream import DownstreamResult, mean_classifier_metrics
from .model import ContrastiveSample, LatentClassModel
from .optimize import OptimalRepresentation, _result, solve_gram
from .population import population_loss

__all__ = ["EmpiricalObjective", "EmpiricalOptimum", "UnsupportedLossError", "empirical_optimum"]

#: Elements per temporary block when hashing the negatives.
_KEY_BLOCK = 1 << 19
#: Count blocks are dense (BLAS) up to this many points ...
_DENSE_MAX_N = 64
#: ... and this many entries in all (80 MB of float64).
_DENSE_MAX_ENTRIES = 10**7

#: Loss families accepted so far (the loss family of ``latentclass.losses`` is not wired yet).
SUPPORTED_LOSSES = ("logistic",)


class UnsupportedLossError(ValueError):
    """``empirical_optimum`` was asked for a loss other than the logistic one."""


def _loss_name(loss: Any) -> str:
    name = loss if isinstance(loss, str) else getattr(loss, "name", None)
    if not isinstance(name, str):
        raise TypeError(f"loss must be a loss name or a loss object with .name, got {loss!r}")
    if name not in SUPPORTED_LOSSES:
        raise UnsupportedLossError(
            f"loss={name!r} is not supported by empirical_optimum yet: only 'logistic' "
            "(the losses of latentclass.losses are not wired into the empirical objective)"
        )
    return name


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


def _aggregate(sample: ContrastiveSample, n: int):
    """Distinct ``(anchor, positive, multiset of negatives)`` keys of ``sample``.

    Returns ``anchors (U,)``, ``positives (U,)``, ``counts (U,)`` and the matrix ``N``
    (``U × n``; dense when ``(k+1)^n n²`` fits an int64 key, else CSR) of negative counts
    ``ν_uy``; keys are sorted by anchor.
    """
    M, k = sample.size, sample.k
    base = k + 1
    if n * math.log2(base) + 2 * math.log2(max(n, 2)) < 62:
        # the multiset {y_1..y_k} ↦ Σ_j base^{y_j} = Σ_y ν_y base^y (digits ν_y <= k < base)
        powers = base ** np.arange(n, dtype=np.int64)
        top = powers[-1] * base  # base^n
        key = np.asarray(sample.anchors, dtype=np.int64) * n
        key += sample.positives
        key *= top
        negatives = np.asarray(sample.negatives)
        step = max(1, _KEY_BLOCK // k)
        for lo in range(0, M, step):  # blocks of examples: cache-sized temporaries
            key[lo : lo + step] += powers[negatives[lo : lo + step]].sum(axis=1)
        key.sort()
        new = np.empty(M, dtype=bool)
        new[0] = True
        np.not_equal(key[1:], key[:-1], out=new[1:])
        first = np.flatnonzero(new)
        uk = key[first]
        counts = np.diff(np.append(first, M))
        pair, negkey = np.divmod(uk, top)
        digits = negkey[:, None] // powers[None, :] % base
        return pair // n, pair % n, counts.astype(float), digits.astype(float)
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


def _as_dense(N: Any) -> np.ndarray:
    return N.toarray() if sparse.issparse(N) else np.ascontiguousarray(N)


class EmpiricalObjective:
    """The empirical logistic NCE loss of a sample as a :class:`~latentclass.GramObjective`.

    ``L̂(G) = Σ_u (w_u/M) log(1 + Σ_y ν_uy exp((G[x_u, y] − G[x_u, x⁺_u]) / τ))``
    (SPEC §9.3), the examples aggregated by ``(anchor, positive, multiset of negatives)``.
    Convex (a weighted sum of log-sum-exps of affine functions of ``G``).

    Evaluation, per anchor ``x`` (keys grouped by anchor): with
    ``b_y = exp(G_xy/τ − c_x)``, ``c_x = max_y G_xy/τ``, and ``t_u = c_x − G[x, x⁺_u]/τ``,
    ``ℓ_u = log(1 + exp(z_u))``, ``z_u = t_u + log (N_x b)_u`` — one sparse matrix-vector
    product per anchor; the gradient is ``(b/τ) ⊙ N_xᵀ(w σ / N_x b)`` on row ``x`` minus
    ``w σ/τ`` at ``(x, x⁺_u)``, ``σ = expit(z)``, symmetrised.

    Parameters
    ----------
    sample : ContrastiveSample
        From a finite model (``sample.n_points`` set).
    tau : float
        Temperature ``τ > 0``.
    n_points : int, optional
        Matrix size (default ``sample.n_points``).

    Attributes
    ----------
    n : int
        Number of points.
    n_examples, n_unique : int
        ``M`` and the number ``U`` of distinct keys.
    convex : bool
        ``True``.
    """

    convex = True

    def __init__(self, sample: ContrastiveSample, tau: float = 1.0, n_points: int | None = None):
        if not isinstance(sample, ContrastiveSample):
            raise TypeError(f"sample must be a ContrastiveSample, got {type(sample).__name__}")
        if sample.n_points is None:
            raise ValueError("sample must come from a finite model (sample.n_points is None)")
        if sample.size < 1:
            raise ValueError("sample must contain at least one example")
        self.tau = check_tau(tau)
        n = sample.n_points if n_points is None else n_points
        self.n = check_integer(n, "n_points", minimum=1)
        for name in ("anchors", "positives", "negatives"):
            a = np.asarray(getattr(sample, name))
            if a.size and (a.min() < 0 or a.max() >= self.n):
                raise ValueError(f"sample.{name} must be point indices in 0 … {self.n - 1}")
        self.k = sample.k
        self.n_examples = sample.size
        x, p, counts, N = _aggregate(sample, self.n)
        self.n_unique = int(x.size)
        self.anchors = np.unique(x)
        bounds = np.searchsorted(x, np.append(self.anchors, self.anchors[-1] + 1))
        # dense count blocks when small (BLAS products), sparse CSR otherwise
        self._dense = self.n <= _DENSE_MAX_N and self.n_unique * self.n <= _DENSE_MAX_ENTRIES
        # one block per anchor: (x, N_x, positives, weights)
        self._blocks = [
            (
                int(a),
                _as_dense(N[lo:hi]) if self._dense else sparse.csr_matrix(N[lo:hi]),
                p[lo:hi],
                counts[lo:hi] / float(sample.size),
            )
            for a, lo, hi in zip(self.anchors, bounds[:-1], bounds[1:])
        ]

    @property
    def second_order_cost(self) -> int:
        """``len(anchors) · n²`` of the row-block Hessian."""
        return int(self.anchors.size) * self.n * self.n

    def __repr__(self) -> str:
        return (
            f"EmpiricalObjective(n={self.n}, k={self.k}, tau={self.tau:g}, "
            f"n_examples={self.n_examples}, n_unique={self.n_unique})"
        )

    # ------------------------------------------------------------------ kernels
    def _block(self, G: np.ndarray, x: int, N, p: np.ndarray):
        """``(b, Nb, z)`` for the keys of anchor ``x``."""
        row = G[x] / self.tau
        c = float(row.max())
        b = np.exp(row - c)  # in (0, 1]; ≥ e^{-2/τ}
        Nb = N @ b  # > 0: every key has k ≥ 1 negatives
        z = (c - row[p]) + np.log(Nb)
        return b, Nb, z

    def unchecked_value_and_grad(self, G: np.ndarray) -> tuple[float, np.ndarray]:
        """``(L̂(G), symmetric gradient)`` without validation (solver iterates)."""
        n, tau = self.n, self.tau
        D = np.zeros((n, n))
        value = 0.0
        for x, N, p, w in self._blocks:  # loop over anchors (≤ n), vectorised over keys
            b, Nb, z = self._block(G, x, N, p)
            value += float(w @ np.logaddexp(0.0, z))
            ws = w * special.expit(z)
            D[x] += b * (N.T @ (ws / Nb)) / tau
            D[x] -= np.bincount(p, weights=ws, minlength=n) / tau
        return value, 0.5 * (D + D.T)

    def value(self, G: Any) -> float:
        """``L̂(G)``."""
        G = self._check(G)
        return float(
            sum(
                float(w @ np.logaddexp(0.0, self._block(G, x, N, p)[2]))
                for x, N, p, w in self._blocks
            )
        )

    def value_and_grad(self, G: Any) -> tuple[float, np.ndarray]:
        """``(L̂(G), ∇L̂(G))`` with the symmetric gradient convention of SPEC §3.2."""
        return self.unchecked_value_and_grad(self._check(G))

    def _check(self, G: Any) -> np.ndarray:
        G = np.asarray(G, dtype=float)
        if G.shape != (self.n, self.n):
            raise ValueError(f"G must have shape ({self.n}, {self.n}), got {G.shape}")
        if not np.all(np.isfinite(G)):
            raise ValueError("G must be finite")
        return G

    def second_order(self, G: np.ndarray):
        """``(value, M, anchors, blocks)``: ``blocks[i] = ∂²L̂/∂G[x_i, :]²`` (one-sided entries).

        For one key, ``π = ν ⊙ b / (ν·b)``, ``σ = expit(z)``: ``∇z = (π − e_p)/τ``,
        ``∇²z = (diag π − ππᵀ)/τ²``, so ``τ² H = diag(Σ wσπ) − Σ wσ² ππᵀ
        − Σ wσ(1−σ)(π e_pᵀ + e_p πᵀ) + Σ wσ(1−σ) e_p e_pᵀ``.
        """
        n, tau = self.n, self.tau
        D = np.zeros((n, n))
        blocks = np.zeros((len(self._blocks), n, n))
        value = 0.0
        for i, (x, N, p, w) in enumerate(self._blocks):  # loop over anchors (≤ n)
            b, Nb, z = self._block(G, x, N, p)
            sig = special.expit(z)
            value += float(w @ np.logaddexp(0.0, z))
            ws = w * sig
            gy = b * (N.T @ (ws / Nb))  # Σ wσ π
            gp = np.bincount(p, weights=ws, minlength=n)
            D[x] += (gy - gp) / tau
            c = w * sig * (1.0 - sig)
            H = np.diag(gy)
            if self._dense:
                # Σ wσ² ππᵀ = diag(b) Nᵀ diag(wσ²/Nb²) N diag(b): one GEMM, no π matrix
                H -= (N.T @ (N * (ws * sig / (Nb * Nb))[:, None])) * np.outer(b, b)
                cross = np.zeros((n, n))  # Σ c π e_pᵀ, column by positive
                cn = c / Nb
                if p[0] == p[-1] and np.all(p == p[0]):  # class level: one positive
                    cross[:, p[0]] = b * (N.T @ cn)
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
            H += np.diag(np.bincount(p, weights=c, minlength=n))
            blocks[i] = H / (tau * tau)
        return value, 0.5 * (D + D.T), self.anchors.copy(), blocks


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

    def __repr__(self) -> str:
        pop = "None" if self.population_loss is None else f"{self.population_loss:.10g}"
        gap = "None" if self.duality_gap is None else f"{self.duality_gap:.3g}"
        return (
            f"EmpiricalOptimum(empirical_loss={self.empirical_loss:.10g}, population_loss={pop}, "
            f"duality_gap={gap}, certified={self.certified}, n_examples={self.n_examples}, "
            f"n_unique={self.n_unique}, k={self.k}, tau={self.tau:g}, F{self.F.shape})"
        )


def _frequency_model(sample: ContrastiveSample) -> LatentClassModel | None:
    """Class-level model with the anchors' empirical frequencies (a start for the Newton
    path), or ``None`` when some point never is an anchor."""
    n = int(sample.n_points)  # type: ignore[arg-type]
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
) -> EmpiricalOptimum:
    """Certified minimiser of the empirical NCE loss of ``sample`` (SPEC §9.3).

    Minimises ``L̂(G) = (1/M) Σ_i log(1 + Σ_j e^{(G[x_i, x⁻_ij] − G[x_i, x_i⁺])/τ})`` over
    ``{G ⪰ 0, diag G ≤ 1, rank G ≤ dim}`` with :func:`latentclass.solve_gram` and certifies it
    with the dual bound of SPEC §4.2 (convex problem when ``dim`` is ``None``).  As in
    :func:`latentclass.optimal_representation`, the Gram-space Newton path is tried first
    (started from the ``ρ``-centred simplex of ``model``, or of the anchors' frequencies) and
    kept only if its certificate is tight; otherwise :func:`latentclass.solve_gram` runs.

    Parameters
    ----------
    sample : ContrastiveSample
        Drawn from a finite model (class level or point level).
    tau : float
        Temperature ``τ > 0``.
    model : LatentClassModel, optional
        The model the sample came from: adds ``population_loss`` (``L_k`` at the ERM) and
        ``downstream`` (full-task mean-classifier metrics, ``ρ``-weighted).
    loss : str or loss object
        Only ``"logistic"`` for now; any other raises :class:`UnsupportedLossError`.
    dim : int, optional
        Rank bound (``None``: ``n``, convex and certifiable).
    rng : seed or numpy.random.Generator
        Solver starts.

    Returns
    -------
    EmpiricalOptimum
    """
    _loss_name(loss)
    if not isinstance(sample, ContrastiveSample):
        raise TypeError(f"sample must be a ContrastiveSample, got {type(sample).__name__}")
    tau = check_tau(tau)
    if model is not None:
        if not isinstance(model, LatentClassModel):
            raise TypeError(f"model must be a LatentClassModel, got {type(model).__name__}")
        if sample.n_points != model.n_points:
            raise ValueError(
                f"model has {model.n_points} points but the sample indexes {sample.n_points}"
            )
    gen = as_generator(rng)
    objective = EmpiricalObjective(sample, tau)
    if dim is not None:
        dim = check_integer(dim, "dim", minimum=1)
        if dim > objective.n:
            raise ValueError(f"dim must be an integer between 1 and n_points={objective.n}")
    rep = None
    if dim is None or dim >= objective.n:  # the Gram-space Newton fast path, as in SPEC §4.3
        start_model = model if model is not None else _frequency_model(sample)
        if start_model is not None:
            run = _gram_newton(start_model, objective, 1e-3 * CERTIFY_TOL)
            if run is not None:
                rep = _result(objective, run, CERTIFY_TOL, objective.n, objective.n, 1)
    if rep is None:
        rep = solve_gram(objective, dim=dim, rng=gen)
    pop = None
    down = None
    if model is not None:
        pop = population_loss(model, rep.F, sample.k, tau)
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
    )
