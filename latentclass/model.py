"""The latent-class generative model (SPEC §1) and its contrastive sampler.

A finite model has classes ``c ∈ {0..m-1}`` with law ``ρ`` (``class_probs``) and
class-conditional laws ``D_c`` over the points ``{0..n-1}`` (rows of
``class_conditionals``). One contrastive example draws ``c ~ ρ``, an anchor and a
positive ``x, x⁺ ~ D_c`` independently, and ``k`` negatives ``x⁻_i ~ D`` iid, where
``D = Σ_c ρ_c D_c`` is the marginal (each negative first draws its class
``c_i ~ ρ``).  The Gaussian variant replaces ``D_c`` by ``N(μ_c, σ_c² I_p)``.

Sampling is vectorised with Walker/Vose alias tables: every draw costs one uniform
double, one multiply, one comparison and two gathers, whatever the number of points.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, overload

import numpy as np

from ._alias import AliasTable, ModelSampler
from ._validation import (
    as_generator,
    check_class_conditionals,
    check_class_probs,
    check_integer,
    check_k,
    check_memory,
    check_size,
    readonly,
)

__all__ = ["ContrastiveSample", "GaussianLatentClassModel", "LatentClassModel"]

#: Draws generated per block when sampling negatives (bounds temporary memory).
_BLOCK = 1 << 16


# --------------------------------------------------------------------------- samples
@dataclass(frozen=True, eq=False)
class ContrastiveSample:
    """A batch of contrastive examples drawn from a latent-class model.

    Attributes
    ----------
    anchors, positives : ndarray
        ``(size,)`` point indices (finite model) or ``(size, p)`` inputs (Gaussian model).
    negatives : ndarray
        ``(size, k)`` point indices or ``(size, k, p)`` inputs.
    classes : ndarray
        ``(size,)`` latent class of each example.
    negative_classes : ndarray
        ``(size, k)`` latent class of each negative (a collision is ``== classes[:, None]``).
    n_points : int or None
        Number of points of the finite model the sample came from (``None`` for Gaussian).
    """

    anchors: np.ndarray
    positives: np.ndarray
    negatives: np.ndarray
    classes: np.ndarray
    negative_classes: np.ndarray
    n_points: int | None = None

    @property
    def size(self) -> int:
        return int(self.classes.shape[0])

    @property
    def k(self) -> int:
        return int(self.negative_classes.shape[1])

    def __repr__(self) -> str:
        kind = "finite" if self.n_points is not None else "continuous"
        return (
            f"ContrastiveSample(size={self.size}, k={self.k}, {kind}, "
            f"anchors{self.anchors.shape}, negatives{self.negatives.shape})"
        )


# --------------------------------------------------------------------------- finite model
@dataclass(frozen=True, eq=False, repr=False)
class LatentClassModel:
    """Finite latent-class model (SPEC §1).

    Parameters
    ----------
    class_probs : array_like, shape (m,)
        Class law ``ρ``: entries > 0 summing to 1 (tolerance 1e-9), ``m >= 2``.
    class_conditionals : array_like, shape (m, n)
        Row ``c`` is ``D_c``, a law over the ``n`` points.

    Attributes
    ----------
    n_classes, n_points : int
    marginal : ndarray, shape (n,)
        ``D(x) = Σ_c ρ_c D_c(x)``.
    pair_probs : ndarray, shape (n, n)
        ``P(x, x⁺) = Σ_c ρ_c D_c(x) D_c(x⁺)`` (symmetric, sums to 1).
    is_disjoint : bool
        Every point has positive mass under exactly one class.
    point_classes : ndarray, shape (n,)
        ``class_of(x)``; only for disjoint models (``ValueError`` otherwise).

    All arrays are read-only; the model is immutable.
    """

    class_probs: np.ndarray
    class_conditionals: np.ndarray

    def __post_init__(self) -> None:
        rho = check_class_probs(self.class_probs)
        cond = check_class_conditionals(self.class_conditionals, rho.size)
        n = cond.shape[1]
        check_memory(2 * 8.0 * n * n, f"the model's (n, n) pair law with n={n} points")
        object.__setattr__(self, "class_probs", rho)
        object.__setattr__(self, "class_conditionals", cond)

    # ---- constructors
    @classmethod
    def one_point_per_class(cls, class_probs: Any) -> LatentClassModel:
        """The class-level model: ``n = m`` and ``D_c = δ_c``.

        Parameters
        ----------
        class_probs : array_like, shape (m,)
            Class law ``ρ`` (entries ``> 0`` summing to 1, SPEC §1).

        Returns
        -------
        LatentClassModel
            ``m`` points, class ``c`` supported on point ``c``.
        """
        rho = check_class_probs(class_probs)
        m = rho.size
        # class_conditionals and pair_probs are both dense (m, m) float arrays
        check_memory(3 * 8.0 * m * m, f"the class-level model with m={m} classes")
        return cls(rho, np.eye(m))

    @classmethod
    def disjoint(
        cls,
        class_probs: Any,
        points_per_class: Sequence[int],
        within: Sequence[Any] | None = None,
    ) -> LatentClassModel:
        """Disjoint supports: class ``c`` owns ``points_per_class[c]`` consecutive points.

        ``within[c]`` (optional) gives the weights of class ``c`` on its own points
        (non-negative, normalised here); default uniform within each class.

        Parameters
        ----------
        class_probs : array_like, shape (m,)
            Class law ``ρ`` (SPEC §1).
        points_per_class : sequence of int
            Number of points of each class, each ``>= 1``.
        within : sequence of array_like, optional
            ``within[c]`` of length ``points_per_class[c]``: non-negative weights, not all 0.

        Returns
        -------
        LatentClassModel
            ``n = Σ points_per_class`` points, the supports disjoint.
        """
        rho = check_class_probs(class_probs)
        if isinstance(points_per_class, (str, bytes)) or np.ndim(points_per_class) != 1:
            raise ValueError("points_per_class must be a sequence of ints, one per class")
        counts = [check_integer(c, "points_per_class", minimum=1) for c in points_per_class]
        if len(counts) != rho.size:
            raise ValueError(
                f"points_per_class must have one entry per class ({rho.size}), got {len(counts)}"
            )
        if within is not None and len(within) != rho.size:
            raise ValueError(
                f"within must have one weight array per class ({rho.size}), got {len(within)}"
            )
        n = sum(counts)
        check_memory(8.0 * (rho.size * n + 2 * n * n), f"the disjoint model with n={n} points")
        cond = np.zeros((rho.size, n))
        start = 0
        for c, size in enumerate(counts):  # loop over classes
            if within is None:
                w = np.full(size, 1.0 / size)
            else:
                w = np.asarray(within[c], dtype=float)
                if w.shape != (size,):
                    raise ValueError(f"within[{c}] must have shape ({size},), got {w.shape}")
                if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
                    raise ValueError(f"within[{c}] must be finite, non-negative and not all zero")
                w = w / w.sum()
            cond[c, start : start + size] = w
            start += size
        return cls(rho, cond)

    # ---- derived quantities
    @property
    def n_classes(self) -> int:
        return int(self.class_conditionals.shape[0])

    @property
    def n_points(self) -> int:
        return int(self.class_conditionals.shape[1])

    @cached_property
    def marginal(self) -> np.ndarray:
        return readonly(self.class_probs @ self.class_conditionals)

    @cached_property
    def pair_probs(self) -> np.ndarray:
        c = self.class_conditionals
        p = (c.T * self.class_probs) @ c
        return readonly(0.5 * (p + p.T))

    @cached_property
    def is_disjoint(self) -> bool:
        return bool(np.all(np.count_nonzero(self.class_conditionals, axis=0) == 1))

    @cached_property
    def point_classes(self) -> np.ndarray:
        if not self.is_disjoint:
            raise ValueError("point_classes is defined only for models with disjoint supports")
        return readonly(np.argmax(self.class_conditionals > 0, axis=0))

    @cached_property
    def is_uniform(self) -> bool:
        """``ρ`` is uniform (to 1e-12)."""
        return bool(np.ptp(self.class_probs) <= 1e-12)

    @cached_property
    def _sampler(self) -> ModelSampler:
        return ModelSampler.build(self.class_probs, self.class_conditionals)

    def fingerprint(self) -> str:
        """SHA-256 of the model's arrays: equal models have equal fingerprints.

        Returns
        -------
        str
            64 hexadecimal digits.
        """
        h = hashlib.sha256(b"LatentClassModel")
        for a in (self.class_probs, self.class_conditionals):
            h.update(repr(a.shape).encode())
            h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
        return h.hexdigest()

    # ---- sampling
    def sample(self, size: int, k: int, rng: Any = None) -> ContrastiveSample:
        """Draw ``size`` contrastive examples with ``k`` negatives each (SPEC §1).

        One ``numpy.random.Generator`` (``default_rng(rng)``) is used; the same seed
        gives bit-identical arrays.  Cost: one uniform double per draw.

        Parameters
        ----------
        size : int
            Number of examples, ``>= 1``.
        k : int
            Negatives per example, ``>= 1``.
        rng : seed or numpy.random.Generator, optional
            Source of randomness.

        Returns
        -------
        ContrastiveSample
            Point indices of anchors and positives ``(size,)`` and negatives ``(size, k)``, with
            their classes.
        """
        size, k = check_size(size), check_k(k)
        # anchors, positives, classes (size,) and negatives, negative classes (size, k), intp
        check_memory(8.0 * size * (2 * k + 3), f"sample(size={size}, k={k})")
        gen = as_generator(rng)
        s = self._sampler
        classes = s.classes(gen.random(size))
        anchors = s.points_given_class(gen.random(size), classes)
        positives = s.points_given_class(gen.random(size), classes)
        negatives = np.empty((size, k), dtype=np.intp)
        neg_classes = np.empty((size, k), dtype=np.intp)
        flat_x, flat_c = negatives.reshape(-1), neg_classes.reshape(-1)
        for start in range(
            0, size * k, _BLOCK
        ):  # blocks of 2^16 draws (cache-sized), not a loop over points
            stop = min(start + _BLOCK, size * k)
            flat_x[start:stop], flat_c[start:stop] = s.joint(gen.random(stop - start))
        return ContrastiveSample(anchors, positives, negatives, classes, neg_classes, self.n_points)

    def __repr__(self) -> str:
        kind = "disjoint" if self.is_disjoint else "overlapping"
        return f"LatentClassModel(n_classes={self.n_classes}, n_points={self.n_points}, {kind})"


# --------------------------------------------------------------------------- Gaussian model
@dataclass(frozen=True, eq=False, repr=False)
class GaussianLatentClassModel:
    """Continuous latent-class model: class ``c`` draws ``x ~ N(μ_c, σ_c² I_p)`` (SPEC §1).

    Parameters
    ----------
    class_probs : array_like, shape (m,)
    means : array_like, shape (m, p)
        Class means ``μ_c``.
    scale : float or array_like, shape (m,)
        Standard deviation ``σ`` shared by all classes, or one per class (> 0).
    """

    class_probs: np.ndarray
    means: np.ndarray
    scale: Any = 1.0

    def __post_init__(self) -> None:
        rho = check_class_probs(self.class_probs)
        try:
            mu = np.asarray(self.means, dtype=float)
        except (TypeError, ValueError):
            raise TypeError("means must be a 2-D array of numbers") from None
        if mu.ndim != 2 or mu.shape[0] != rho.size or mu.shape[1] < 1:
            raise ValueError(
                f"means must have shape (n_classes, p) = ({rho.size}, p), got {mu.shape}"
            )
        if not np.all(np.isfinite(mu)):
            raise ValueError("means must be finite")
        sc = np.asarray(self.scale, dtype=float)
        if sc.ndim == 0:
            sc = np.full(rho.size, float(sc))
        if sc.shape != (rho.size,):
            raise ValueError(f"scale must be a number or have shape ({rho.size},), got {sc.shape}")
        if not np.all(np.isfinite(sc)) or np.any(sc <= 0):
            raise ValueError(f"scale must be finite and > 0, got {sc}")
        object.__setattr__(self, "class_probs", rho)
        object.__setattr__(self, "means", readonly(mu))
        object.__setattr__(self, "scale", readonly(sc))

    @property
    def n_classes(self) -> int:
        return int(self.means.shape[0])

    @property
    def dim(self) -> int:
        """Input dimension ``p``."""
        return int(self.means.shape[1])

    @cached_property
    def _class_table(self) -> AliasTable:
        return AliasTable.build(self.class_probs)

    def _classes(self, gen: np.random.Generator, shape) -> np.ndarray:
        return self._class_table.draw(gen.random(shape))

    def draw_inputs(self, classes: np.ndarray, rng: Any = None) -> np.ndarray:
        """Inputs ``x ~ N(μ_c, σ_c² I)`` for an integer array of classes; shape ``classes.shape + (p,)``.

        Parameters
        ----------
        classes : ndarray of int
            Class labels, any shape.
        rng : seed or numpy.random.Generator, optional
            Source of the normal variates.

        Returns
        -------
        ndarray, shape ``classes.shape + (p,)``
            One input per label.
        """
        gen = as_generator(rng)
        c = np.asarray(classes)
        z = gen.standard_normal(c.shape + (self.dim,))
        return self.means[c] + self.scale[c][..., None] * z

    def sample(self, size: int, k: int, rng: Any = None) -> ContrastiveSample:
        """Draw ``size`` examples: anchors/positives ``(size, p)``, negatives ``(size, k, p)``.

        Parameters
        ----------
        size : int
            Number of examples, ``>= 1``.
        k : int
            Negatives per example, ``>= 1``.
        rng : seed or numpy.random.Generator, optional
            One generator draws classes and inputs; the same seed gives the same bits.

        Returns
        -------
        ContrastiveSample
            Anchors and positives ``(size, p)``, negatives ``(size, k, p)`` and their classes.
        """
        size, k = check_size(size), check_k(k)
        # negatives (size, k, p) and anchors, positives (size, p) float, classes intp
        check_memory(
            8.0 * size * ((k + 2) * self.dim + k + 1), f"sample(size={size}, k={k}, p={self.dim})"
        )
        gen = as_generator(rng)
        classes = self._classes(gen, size)
        anchors = self.draw_inputs(classes, gen)
        positives = self.draw_inputs(classes, gen)
        neg_classes = self._classes(gen, (size, k))
        negatives = self.draw_inputs(neg_classes, gen)
        return ContrastiveSample(anchors, positives, negatives, classes, neg_classes, None)

    def fingerprint(self) -> str:
        """SHA-256 of the model's arrays (``class_probs``, ``means``, ``scale``).

        Returns
        -------
        str
            64 hexadecimal digits; equal models have equal fingerprints.
        """
        h = hashlib.sha256(b"GaussianLatentClassModel")
        for a in (self.class_probs, self.means, self.scale):
            h.update(repr(a.shape).encode())
            h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
        return h.hexdigest()

    def __repr__(self) -> str:
        return f"GaussianLatentClassModel(n_classes={self.n_classes}, dim={self.dim})"


@overload
def check_model(
    model: Any, name: str = ..., *, gaussian: Literal[False] = ...
) -> LatentClassModel: ...
@overload
def check_model(
    model: Any, name: str = ..., *, gaussian: bool
) -> LatentClassModel | GaussianLatentClassModel: ...
def check_model(
    model: Any, name: str = "model", *, gaussian: bool = False
) -> LatentClassModel | GaussianLatentClassModel:
    """Return ``model`` if it is a :class:`LatentClassModel`, else raise ``TypeError``.

    The one check of the model argument at every public door (``"model must be a
    LatentClassModel, got list"``).  With ``gaussian=True`` a
    :class:`GaussianLatentClassModel` is accepted too (the message then names both).

    Parameters
    ----------
    model : object
        The argument to check.
    name : str
        The argument's name in the message.
    gaussian : bool
        Also accept a :class:`GaussianLatentClassModel`.

    Returns
    -------
    LatentClassModel or GaussianLatentClassModel
        ``model`` itself.
    """
    if isinstance(model, LatentClassModel):
        return model
    if gaussian:
        if isinstance(model, GaussianLatentClassModel):
            return model
        raise TypeError(
            f"{name} must be a LatentClassModel or GaussianLatentClassModel, "
            f"got {type(model).__name__}"
        )
    raise TypeError(f"{name} must be a LatentClassModel, got {type(model).__name__}")
