"""Diagnose anyone's embeddings against the theory: neural collapse and the certified optimum.

Given ``N`` embeddings ``x_i ∈ R^d`` with class labels ``y_i`` (SPEC §10):

- class frequencies ``ρ̂_c = n_c / N``, class means ``μ_c`` and their centre
  ``μ_G = (1/C) Σ_c μ_c`` — the global mean of Papyan, Han & Donoho (2020, PNAS 117(40))
  for balanced classes; with unbalanced classes the class-mean centre keeps an exact simplex
  at NC1 = NC2 = 0 (the sample mean ``Σ_c ρ̂_c μ_c`` would not);
- **NC1** ``= (1/C) tr(Σ_W Σ_B⁺)`` with ``Σ_W = (1/N) Σ_i (x_i − μ_{y_i})(x_i − μ_{y_i})ᵀ``
  and ``Σ_B = (1/C) Σ_c (μ_c − μ_G)(μ_c − μ_G)ᵀ`` (Papyan et al.'s definitions);
- **NC2** ``= ‖Ĝ − G_Δ‖_F / ‖G_Δ‖_F``, ``Ĝ`` the cosine Gram matrix of the *centred* means
  ``μ_c − μ_G`` and ``G_Δ = C/(C−1) (I − 11ᵀ/C)`` the regular simplex; Papyan et al.'s
  equinorm (coefficient of variation of ``‖μ_c − μ_G‖``), equiangularity (standard deviation
  of the off-diagonal cosines) and max-angle (mean of ``|cos + 1/(C−1)|``) measures;
- the theory's own form (SPEC §5): the **class Gram** ``M = [μ_c·μ_j]`` of the uncentred
  means (as :func:`latentclass.structure`) and ``simplex_error = max |M̂ − G_Δ|`` on its cosine
  form ``M̂``;
- the mean classifier of SPEC §6.1 on the embeddings themselves: logits ``x_i·μ_j/τ``;
- effective ranks ``exp H(λ/Σλ)`` of ``M`` and of the embedding matrix (singular values);
- with ``tau`` and ``k``: the certified optimum of the class-level model with ``ρ = ρ̂``
  (:func:`latentclass.optimal_representation`) and ``max |M − G*|``.

Everything is vectorised and runs over blocks of rows (temporaries of at most
``_BLOCK_ELEMENTS`` entries); the memory beyond the input is ``O(block·d + d² + C·d)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import check_choice, check_k, check_tau, readonly, refuse_complex
from .closed_form import simplex_gram
from .downstream import TIE_RTOL, mean_classifier_metrics
from .model import LatentClassModel
from .optimize import OptimalRepresentation, optimal_representation

__all__ = ["Diagnosis", "class_mean_classifier", "diagnose", "read_array"]

#: Ways of normalising the embeddings before the diagnosis.
NORMALIZATIONS = ("l2", "max", "none")
#: Entries per temporary block (rows × max(d, C)).
_BLOCK_ELEMENTS = 1 << 20
#: Largest entry magnitude accepted (sums of squares of d entries stay finite).
_MAX_ABS = 1e100


@dataclass(frozen=True, eq=False, repr=False)
class Diagnosis:
    """Neural-collapse measures of embeddings and their distance to the certified optimum.

    Attributes
    ----------
    n_samples, dim, n_classes : int
    classes : ndarray, shape (C,)
        The distinct labels, sorted; class ``c`` of every array below is ``classes[c]``.
    counts : ndarray, shape (C,)
    class_probs : ndarray, shape (C,)
        Empirical frequencies ``ρ̂ = counts / N``.
    normalize : str
        ``"l2"`` (rows divided by their norm), ``"max"`` (all rows divided by the largest
        norm) or ``"none"``.
    nc1 : float
        ``(1/C) tr(Σ_W Σ_B⁺)`` (Papyan et al. 2020); ``inf`` when all class means coincide and
        the classes have spread (``Σ_B = 0 ≠ Σ_W``).
    nc2 : float
        ``‖Ĝ − G_Δ‖_F / ‖G_Δ‖_F`` on the cosine Gram ``Ĝ`` of the centred class means.
    equinorm, equiangularity, max_angle : float
        Papyan et al.'s NC2 measures on the centred means (see the module docstring).
    class_means : ndarray, shape (C, d)
    class_gram : ndarray, shape (C, C)
        ``[μ_c·μ_j]`` of the uncentred means (as :attr:`StructureReport.class_gram`).
    normalized_class_gram : ndarray, shape (C, C)
        Its cosine form (a zero mean gives a zero row and column).
    simplex_error : float
        ``max |normalized_class_gram − G_Δ|``.
    min_angle, max_angle_deg : float
        Smallest and largest angle (degrees) between two uncentred class means.
    class_mean_norms : ndarray, shape (C,)
        ``‖μ_c‖`` (1 for every class iff every class is collapsed onto a unit vector, given
        unit-norm embeddings).
    effective_rank : float
        ``exp`` of the entropy of the normalised eigenvalues of ``class_gram``.
    embedding_effective_rank : float
        ``exp`` of the entropy of the normalised singular values of the embedding matrix
        (RankMe, Garrido et al. 2023).
    mean_classifier_accuracy, balanced_accuracy : float
        Mean-classifier accuracy over the samples (``ρ̂``-weighted) and averaged per class;
        ties are errors (SPEC §6.1).
    tau : float or None
    mean_classifier_loss, balanced_loss : float or None
        Mean-classifier cross-entropy at temperature ``tau`` (``None`` without ``tau``).
    k : int, float or None
    optimum : OptimalRepresentation or None
        Certified optimum of the class-level model with ``ρ = ρ̂`` (with ``tau`` and ``k``).
    optimum_gram_error : float or None
        ``max |class_gram − optimum.gram|``.
    optimum_mean_classifier_loss, optimum_mean_classifier_accuracy : float or None
        The theory's prediction: the optimum's downstream loss and accuracy (SPEC §6.1,
        ``ρ̂``-weighted).
    """

    n_samples: int
    dim: int
    n_classes: int
    classes: np.ndarray
    counts: np.ndarray
    class_probs: np.ndarray
    normalize: str
    nc1: float
    nc2: float
    equinorm: float
    equiangularity: float
    max_angle: float
    class_means: np.ndarray
    class_gram: np.ndarray
    normalized_class_gram: np.ndarray
    simplex_error: float
    min_angle: float
    max_angle_deg: float
    class_mean_norms: np.ndarray
    effective_rank: float
    embedding_effective_rank: float
    mean_classifier_accuracy: float
    balanced_accuracy: float
    tau: float | None = None
    mean_classifier_loss: float | None = None
    balanced_loss: float | None = None
    k: int | float | None = None
    optimum: OptimalRepresentation | None = None
    optimum_gram_error: float | None = None
    optimum_mean_classifier_loss: float | None = None
    optimum_mean_classifier_accuracy: float | None = None

    def __repr__(self) -> str:
        parts = [
            f"N={self.n_samples}",
            f"d={self.dim}",
            f"C={self.n_classes}",
            f"nc1={self.nc1:.4g}",
            f"nc2={self.nc2:.4g}",
            f"simplex_error={self.simplex_error:.4g}",
            f"accuracy={self.mean_classifier_accuracy:.4g}",
        ]
        if self.mean_classifier_loss is not None:
            parts.append(f"loss={self.mean_classifier_loss:.4g} (tau={self.tau:g})")
        if self.optimum is not None:
            parts.append(
                f"optimum(k={self.k}, certified={self.optimum.certified}, "
                f"gram_error={self.optimum_gram_error:.4g})"
            )
        return "Diagnosis(" + ", ".join(parts) + ")"

    def to_dict(self) -> dict:
        """A JSON-ready dict (floats, lists; ``inf`` written as the string ``"inf"``).

        Returns
        -------
        dict
            The sample's sizes, classes, counts and class law and every measured quantity
            (numbers; arrays as lists).
        """

        def num(v: Any) -> Any:
            if v is None:
                return None
            if isinstance(v, (bool, np.bool_)):
                return bool(v)
            if isinstance(v, (int, np.integer)):
                return int(v)
            v = float(v)
            return v if math.isfinite(v) else ("inf" if v > 0 else "-inf")

        out: dict[str, Any] = {
            "n_samples": self.n_samples,
            "dim": self.dim,
            "n_classes": self.n_classes,
            "classes": self.classes.tolist(),
            "counts": self.counts.tolist(),
            "class_probs": self.class_probs.tolist(),
            "normalize": self.normalize,
        }
        for name in (
            "nc1",
            "nc2",
            "equinorm",
            "equiangularity",
            "max_angle",
            "simplex_error",
            "min_angle",
            "max_angle_deg",
            "effective_rank",
            "embedding_effective_rank",
            "mean_classifier_accuracy",
            "balanced_accuracy",
            "tau",
            "mean_classifier_loss",
            "balanced_loss",
            "k",
            "optimum_gram_error",
            "optimum_mean_classifier_loss",
            "optimum_mean_classifier_accuracy",
        ):
            out[name] = num(getattr(self, name))
        out["class_mean_norms"] = self.class_mean_norms.tolist()
        out["class_gram"] = self.class_gram.tolist()
        if self.optimum is not None:
            out["optimum"] = {
                "loss": num(self.optimum.loss),
                "certified": bool(self.optimum.certified),
                "duality_gap": num(self.optimum.duality_gap),
                "method": self.optimum.method,
                "gram": self.optimum.gram.tolist(),
            }
        return out

    def _repr_html_(self) -> str:
        """A table for Jupyter: every measured quantity (arrays by their shape)."""
        from ._html import fields_html

        return fields_html(self)


# --------------------------------------------------------------------------- validation
def _check_embeddings(embeddings: Any) -> np.ndarray:
    refuse_complex(embeddings, "embeddings")
    X = np.asarray(embeddings)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"embeddings must be an array of real numbers, got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"embeddings must be 2-D (n_samples, dim), got shape {X.shape}")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"embeddings must have at least one row and one column, got {X.shape}")
    if X.dtype.kind == "b":
        X = X.astype(float)
    if not bool(np.isfinite(X).all()):
        bad = int(np.flatnonzero(~np.isfinite(X).all(axis=1))[0])
        raise ValueError(f"embeddings must be finite (no NaN or inf): row {bad} is not")
    big = float(np.abs(X).max())
    if big > _MAX_ABS:
        raise ValueError(
            f"embeddings entries must have magnitude <= {_MAX_ABS:g} (squares must not "
            f"overflow), got {big:.3g}; rescale them"
        )
    return X


def _check_labels(labels: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(classes, codes)``: sorted distinct labels and each sample's class index."""
    refuse_complex(labels, "labels")
    y = np.asarray(labels)
    if y.ndim == 2 and 1 in y.shape:
        y = y.reshape(-1)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-D (one label per sample), got shape {y.shape}")
    if y.shape[0] != n:
        raise ValueError(
            f"labels must have one entry per embedding: {y.shape[0]} labels for {n} embeddings"
        )
    if y.dtype.kind == "f":
        if not bool(np.isfinite(y).all()):
            raise ValueError("labels must be finite (no NaN or inf)")
        if not bool((y == np.round(y)).all()):
            raise ValueError("labels must be integers or strings; float labels must be whole")
        y = y.astype(np.int64)
    elif y.dtype.kind not in "biuUS":
        raise TypeError(f"labels must be integers or strings, got dtype {y.dtype}")
    classes, codes = np.unique(y, return_inverse=True)
    return classes, codes.reshape(-1).astype(np.intp)


# --------------------------------------------------------------------------- kernels
def _blocks(n: int, width: int) -> list[slice]:
    step = max(1, _BLOCK_ELEMENTS // max(1, width))
    return [slice(s, min(n, s + step)) for s in range(0, n, step)]


def _normalised_block(X: np.ndarray, blk: slice, inv: np.ndarray | None) -> np.ndarray:
    """Rows ``blk`` of ``X`` as floats, multiplied by ``inv[blk]`` (never modifies ``X``)."""
    if inv is None:
        return np.asarray(X[blk], dtype=float)
    return X[blk] * inv[blk, None]


def _logit_metrics(
    Xb: np.ndarray, yb: np.ndarray, means: np.ndarray, tau: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample cross-entropy ``-log softmax_{y}(x·μ/τ)`` and correctness (ties are errors)."""
    S = Xb @ means.T  # (B, C) scores before the temperature
    rows = np.arange(S.shape[0])
    own = S[rows, yb]
    top = S.max(axis=1)
    scale = np.maximum(top, -S.min(axis=1))  # max_j |s_j|
    # -log softmax_y = (top − own)/τ + log Σ_j e^{(s_j − top)/τ}; the sum is >= 1
    Z = np.exp((S - top[:, None]) / tau)
    nll = np.log(Z.sum(axis=1)) + (top - own) / tau
    S[rows, yb] = -np.inf  # S is ours: the largest score of another class
    second = S.max(axis=1)
    correct = (own - second) > TIE_RTOL * scale
    return nll, correct


def class_mean_classifier(
    embeddings: Any,
    labels: Any,
    means: Any,
    tau: float = 1.0,
) -> tuple[float, float]:
    """Loss and accuracy of the mean classifier with given class means (SPEC §6.1, §10).

    Parameters
    ----------
    embeddings : array_like, shape (N, d)
        Used as given (no normalisation).
    labels : array_like of int, shape (N,)
        Class indices ``0 <= y < C`` (rows of ``means``).
    means : array_like, shape (C, d)
        Class means, e.g. computed on a training split.
    tau : float
        Temperature of the logits ``x·μ_j/τ``.

    Returns
    -------
    loss, accuracy : float
        ``(1/N) Σ_i [log Σ_j e^{x_i·μ_j/τ} − x_i·μ_{y_i}/τ]`` and the fraction of samples
        whose own class is the strict winner (ties are errors).
    """
    X = _check_embeddings(embeddings)
    M = _check_embeddings(means)
    if M.shape[1] != X.shape[1]:
        raise ValueError(f"means must have {X.shape[1]} columns, got shape {M.shape}")
    y = np.asarray(labels)
    if y.shape != (X.shape[0],) or y.dtype.kind not in "iu":
        raise ValueError(f"labels must be {X.shape[0]} integers, got shape {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= M.shape[0]):
        raise ValueError(f"labels must be in [0, {M.shape[0]}), got {y.min()}..{y.max()}")
    tau = check_tau(tau)
    M = M.astype(float)
    total = right = 0.0
    for blk in _blocks(X.shape[0], max(X.shape[1], M.shape[0])):
        nll, ok = _logit_metrics(np.asarray(X[blk], dtype=float), y[blk], M, tau)
        total += float(nll.sum())
        right += float(ok.sum())
    return total / X.shape[0], right / X.shape[0]


def _entropy_rank(values: np.ndarray) -> float:
    v = np.clip(values, 0.0, None)
    s = v.sum()
    if s <= 0:
        return 0.0
    p = v[v > 0] / s
    return float(np.exp(-(p * np.log(p)).sum()))


def _cosine_gram(V: np.ndarray) -> np.ndarray:
    norms = np.sqrt(np.einsum("ij,ij->i", V, V))
    live = norms > 1e-300 * max(1.0, float(norms.max(initial=0.0)))
    U = np.zeros_like(V)
    U[live] = V[live] / norms[live, None]
    G = U @ U.T
    np.clip(G, -1.0, 1.0, out=G)
    idx = np.flatnonzero(live)
    G[idx, idx] = 1.0
    return G


def diagnose(
    embeddings: Any,
    labels: Any,
    *,
    tau: float | None = None,
    k: Any = None,
    normalize: str = "l2",
) -> Diagnosis:
    """Neural-collapse diagnosis of labelled embeddings, and their distance to the optimum.

    Parameters
    ----------
    embeddings : array_like, shape (N, d)
        One embedding per row, finite real numbers (any float or integer dtype; not copied
        as a whole).
    labels : array_like, shape (N,)
        Class labels: integers, whole floats or strings; at least two classes, each with at
        least two samples.
    tau : float, optional
        Temperature ``τ > 0`` of the mean classifier's logits ``x·μ_j/τ`` and of the
        optimum; without it no loss is reported (the accuracy does not depend on ``τ``).
    k : int or math.inf, optional
        Number of negatives; with ``tau`` it asks for the certified optimum of the
        class-level model with the empirical class frequencies (SPEC §4, §5).
    normalize : {"l2", "max", "none"}
        ``"l2"`` (default): each row divided by its norm (the unit sphere of contrastive
        training; zero rows are refused); ``"max"``: every row divided by the largest row
        norm (the unit ball, directions and norm ratios kept); ``"none"``: as given (the
        optimum comparison then needs rows of norm ``<= 1`` to be meaningful).

    Returns
    -------
    Diagnosis
        See :class:`Diagnosis`; the definitions are SPEC §10:
        ``NC1 = (1/C) tr(Σ_W Σ_B⁺)``, ``NC2 = ‖Ĝ − G_Δ‖_F / ‖G_Δ‖_F``,
        ``simplex_error = max |M̂ − G_Δ|``, ``optimum_gram_error = max |M − G*|``.

    Notes
    -----
    ``Σ_B⁺`` is the Moore–Penrose pseudo-inverse; it is applied through the singular value
    decomposition of the centred means, dropping singular values below
    ``s_max · max(C, d) · eps`` (numpy's rank tolerance).
    """
    X = _check_embeddings(embeddings)
    N, d = X.shape
    classes, y = _check_labels(labels, N)
    C = classes.size
    if C < 2:
        raise ValueError(f"labels must name at least two classes, got {C}")
    counts = np.bincount(y, minlength=C)
    if counts.min() < 2:
        lone = classes[int(np.argmin(counts))]
        raise ValueError(
            f"labels: every class needs at least two samples; class {lone!r} has "
            f"{int(counts.min())}"
        )
    check_choice(normalize, "normalize", NORMALIZATIONS)
    if tau is not None:
        tau = check_tau(tau)
    if k is not None:
        if tau is None:
            raise ValueError("k needs tau: the optimum is defined for a temperature")
        k = check_k(k, allow_inf=True)
    inv = None  # per-row factor applied to the embeddings
    if normalize in ("l2", "max"):
        sq = np.empty(N)
        for blk in _blocks(N, d):
            Xb = np.asarray(X[blk], dtype=float)
            sq[blk] = np.einsum("ij,ij->i", Xb, Xb)
        if normalize == "l2":
            if not bool((sq > 0).all()):
                raise ValueError(
                    f"embeddings: row {int(np.flatnonzero(sq <= 0)[0])} has norm 0 and cannot "
                    "be normalised (normalize='l2'); use normalize='max' or 'none'"
                )
            inv = 1.0 / np.sqrt(sq)
        else:
            top = float(np.sqrt(sq.max()))
            if top == 0.0:
                raise ValueError("embeddings are all zero; normalize='max' cannot scale them")
            inv = np.full(N, 1.0 / top)
    return _diagnose(X, y, classes, counts, normalize, inv, tau, k)


def _diagnose(X, y, classes, counts, normalize, inv, tau, k) -> Diagnosis:
    """Unchecked kernel of :func:`diagnose` (two passes over row blocks)."""
    N, d = X.shape
    C = classes.size
    blocks = _blocks(N, max(d, C))
    # pass 1: class sums
    sums = np.zeros(C * d)
    cols = np.arange(d)
    for blk in blocks:
        Xb = _normalised_block(X, blk, inv)
        idx = (y[blk][:, None] * d + cols[None, :]).ravel()
        sums += np.bincount(idx, weights=Xb.ravel(), minlength=C * d)
    means = sums.reshape(C, d) / counts[:, None]
    # pass 2: within-class scatter and the mean classifier on the same blocks
    SW = np.zeros((d, d))
    t = 1.0 if tau is None else tau
    nll_c = np.zeros(C)
    ok_c = np.zeros(C)
    for blk in blocks:
        Xb = _normalised_block(X, blk, inv)
        yb = y[blk]
        R = Xb - means[yb]
        SW += R.T @ R
        nll, ok = _logit_metrics(Xb, yb, means, t)
        nll_c += np.bincount(yb, weights=nll, minlength=C)
        ok_c += np.bincount(yb, weights=ok.astype(float), minlength=C)
    SW /= N
    rho = counts / N

    # NC1 through the SVD of the centred means: Σ_B = (1/C) McᵀMc, Σ_B⁺ = C V S⁻² Vᵀ
    mu_g = means.mean(axis=0)  # the centre of the class means (SPEC §10)
    Mc = means - mu_g
    _, s, Vt = np.linalg.svd(Mc, full_matrices=False)
    keep = s > s.max(initial=0.0) * max(C, d) * np.finfo(float).eps
    within = float(np.trace(SW))
    if not keep.any():
        nc1 = 0.0 if within <= 0.0 else math.inf
    else:
        V = Vt[keep]
        nc1 = float(np.einsum("ij,jk,ik->i", V, SW, V) @ (1.0 / s[keep] ** 2))
        nc1 = max(nc1, 0.0)

    # NC2 and Papyan's measures on the centred means
    G_delta = simplex_gram(C)
    G_c = _cosine_gram(Mc)
    nc2 = float(np.linalg.norm(G_c - G_delta) / np.linalg.norm(G_delta))
    cn = np.sqrt(np.einsum("ij,ij->i", Mc, Mc))
    equinorm = float(cn.std() / cn.mean()) if cn.mean() > 0 else 0.0
    off = ~np.eye(C, dtype=bool)
    cos_c = G_c[off]
    equiangularity = float(cos_c.std())
    max_angle = float(np.abs(cos_c + 1.0 / (C - 1)).mean())

    # the theory's form: uncentred class means
    gram = means @ means.T
    G_u = _cosine_gram(means)
    simplex_error = float(np.max(np.abs(G_u - G_delta)))
    mean_norms = np.sqrt(np.clip(np.diag(gram), 0.0, None))
    live = np.flatnonzero(mean_norms > 1e-12)
    if live.size >= 2:
        sub = G_u[np.ix_(live, live)][~np.eye(live.size, dtype=bool)]
        angles = np.degrees(np.arccos(np.clip(sub, -1.0, 1.0)))
        min_angle, max_angle_deg = float(angles.min()), float(angles.max())
    else:
        min_angle = max_angle_deg = 0.0
    eff_rank = _entropy_rank(np.linalg.eigvalsh(gram))
    second = SW + (means * rho[:, None]).T @ means  # (1/N) XᵀX
    emb_rank = _entropy_rank(np.sqrt(np.clip(np.linalg.eigvalsh(second), 0.0, None)))

    acc = float(ok_c.sum() / N)
    bal_acc = float((ok_c / counts).mean())
    loss = bal_loss = None
    if tau is not None:
        loss = float(nll_c.sum() / N)
        bal_loss = float((nll_c / counts).mean())

    opt = opt_err = opt_loss = opt_acc = None
    if k is not None:
        assert tau is not None  # checked by diagnose
        model = LatentClassModel.one_point_per_class(rho)
        opt = optimal_representation(model, k, tau)
        opt_err = float(np.max(np.abs(gram - opt.gram)))
        dm = mean_classifier_metrics(model, opt.F, tau)
        opt_loss, opt_acc = float(dm.loss), float(dm.accuracy)

    return Diagnosis(
        n_samples=N,
        dim=d,
        n_classes=C,
        classes=readonly(classes),
        counts=readonly(counts),
        class_probs=readonly(rho),
        normalize=normalize,
        nc1=nc1,
        nc2=nc2,
        equinorm=equinorm,
        equiangularity=equiangularity,
        max_angle=max_angle,
        class_means=readonly(means),
        class_gram=readonly(gram),
        normalized_class_gram=readonly(G_u),
        simplex_error=simplex_error,
        min_angle=min_angle,
        max_angle_deg=max_angle_deg,
        class_mean_norms=readonly(mean_norms),
        effective_rank=eff_rank,
        embedding_effective_rank=emb_rank,
        mean_classifier_accuracy=acc,
        balanced_accuracy=bal_acc,
        tau=tau,
        mean_classifier_loss=loss,
        balanced_loss=bal_loss,
        k=k,
        optimum=opt,
        optimum_gram_error=opt_err,
        optimum_mean_classifier_loss=opt_loss,
        optimum_mean_classifier_accuracy=opt_acc,
    )


# --------------------------------------------------------------------------- files
#: File types :func:`read_array` reads.
ARRAY_SUFFIXES = (".npy", ".npz", ".csv")


def read_array(path: str, what: str = "array", *, text: bool = False) -> np.ndarray:
    """Read one array from ``.npy``, ``.npz`` (exactly one array inside, or ``FILE.npz:KEY``)
    or ``.csv`` — never unpickling (``allow_pickle=False``).

    Parameters
    ----------
    path : str
        The file; for ``.npz`` an optional ``:KEY`` suffix names the array.
    what : str
        What the array is, for error messages (``"EMB"``, ``"LABELS"``).
    text : bool
        ``.csv`` only: read the cells as strings (labels); whole numbers become integers.
        Otherwise cells are floats.  A first row that does not parse as numbers is taken as
        a header (for string labels a header cannot be told from a label: write none).

    Returns
    -------
    ndarray

    Raises
    ------
    ValueError
        One line naming ``what`` and the file: missing file, unknown suffix, a pickled
        (object) array, an ``.npz`` with several arrays and no key, unparsable CSV.
    """
    import os
    import zipfile

    key = None
    base = str(path)
    if not base.lower().endswith(".npz") and ".npz:" in base.lower():
        cut = base.lower().rindex(".npz:") + 4
        base, key = base[:cut], base[cut + 1 :]
    suffix = os.path.splitext(base)[1].lower()
    if suffix not in ARRAY_SUFFIXES:
        raise ValueError(
            f"{what}: {path!r} must end in {', '.join(ARRAY_SUFFIXES)} (got {suffix or 'no suffix'!r})"
        )
    if not os.path.isfile(base):
        raise ValueError(f"{what}: no such file {base!r}")
    try:
        if suffix == ".npy":
            return np.load(base, allow_pickle=False)
        if suffix == ".npz":
            with np.load(base, allow_pickle=False) as z:
                names = list(z.files)
                if key is None:
                    if len(names) != 1:
                        raise ValueError(
                            f"{what}: {base!r} holds {len(names)} arrays ({', '.join(names)}); "
                            f"name one as {base}:KEY"
                        )
                    key = names[0]
                if key not in names:
                    raise ValueError(
                        f"{what}: {base!r} has no array {key!r} (it has {', '.join(names)})"
                    )
                return z[key]
        return _read_csv(base, what, text)
    except ValueError as exc:
        msg = " ".join(str(exc).split())
        if msg.startswith(f"{what}:"):
            raise
        if "allow_pickle" in msg or "pickle" in msg.lower():
            raise ValueError(
                f"{what}: {base!r} holds a pickled (object) array; save plain numbers or strings"
            ) from None
        raise ValueError(f"{what}: cannot read {base!r} ({msg})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{what}: cannot read {base!r} ({type(exc).__name__}: {exc})") from None


def _read_csv(path: str, what: str, text: bool) -> np.ndarray:
    """numpy's C reader (``np.loadtxt``); a first row that does not parse is a header."""
    if text:
        arr = np.loadtxt(path, delimiter=",", dtype=str, ndmin=2, encoding="utf-8")
        if arr.size == 0:
            raise ValueError(f"{what}: {path!r} is empty")
        if arr.shape[1] != 1:
            raise ValueError(f"{what}: {path!r} must hold one column of labels, got {arr.shape}")
        flat = np.char.strip(arr[:, 0])
        try:
            return flat.astype(np.int64)
        except ValueError:
            pass
        try:  # a header over whole-number labels
            return flat[1:].astype(np.int64)
        except ValueError:
            return flat
    try:
        arr = np.loadtxt(path, delimiter=",", dtype=float, ndmin=2, encoding="utf-8")
    except ValueError:
        try:
            arr = np.loadtxt(
                path, delimiter=",", dtype=float, ndmin=2, skiprows=1, encoding="utf-8"
            )
        except ValueError as exc:
            raise ValueError(
                f"{what}: {path!r} is not a CSV table of numbers ({' '.join(str(exc).split())})"
            ) from None
    if arr.size == 0:
        raise ValueError(f"{what}: {path!r} is empty")
    return arr
