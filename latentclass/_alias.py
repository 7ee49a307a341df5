"""Walker/Vose alias tables: O(1) vectorised draws from a finite law (the sampler of SPEC §1).

Set-up is ``O(N)`` once per law (cached on the model); every draw then costs one uniform
double, one multiply, one cast, one comparison and two gathers, whatever ``N``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["AliasTable", "ModelSampler"]


def _alias_table(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vose's alias table for the probability vector ``p`` (entries > 0).

    Returns ``(accept, alias)``: entry ``j`` is kept with probability ``accept[j]``,
    otherwise ``alias[j]`` is returned.  Built once per model (O(len(p)) set-up).
    """
    n = p.size
    scaled = p * (n / p.sum())
    accept = np.ones(n)
    alias = np.arange(n)
    small = list(np.flatnonzero(scaled < 1.0))
    large = list(np.flatnonzero(scaled >= 1.0))
    while small and large:  # set-up only; sampling itself is vectorised
        s, l = small.pop(), large[-1]
        accept[s] = scaled[s]
        alias[s] = l
        scaled[l] -= 1.0 - scaled[s]
        if scaled[l] < 1.0:
            large.pop()
            small.append(l)
    return accept, alias  # leftovers keep accept = 1 (rounding residue)


@dataclass(frozen=True, eq=False)
class AliasTable:
    """One alias table in "threshold" form, ready for vectorised draws.

    Bucket ``j = ⌊u·N⌋`` of a uniform ``u`` keeps ``j`` iff ``u·N < threshold[j]`` with
    ``threshold[j] = j + accept[j]``, else returns ``alias[j]``.  ``lookup`` stores
    ``[0..N, alias]`` so that the choice is one gather at ``j + (N+1)·[u·N >= threshold[j]]``
    (branch-free).  A sentinel bucket ``N`` (never kept, alias ``N − 1``) absorbs the case
    where ``u·N`` rounds up to ``N``.
    """

    threshold: np.ndarray
    lookup: np.ndarray

    @classmethod
    def build(cls, p: np.ndarray) -> AliasTable:
        accept, alias = _alias_table(p)
        n = p.size
        threshold = np.append(np.arange(n) + accept, -np.inf)
        return cls(threshold, np.concatenate([np.arange(n + 1), alias, [n - 1]]))

    @property
    def size(self) -> int:
        return self.threshold.size - 1

    def draw(self, u: np.ndarray) -> np.ndarray:
        n = self.size
        x = u * n
        j = x.astype(np.intp)
        j += (x >= self.threshold[j]) * np.intp(n + 1)
        return self.lookup[j]


@dataclass(frozen=True, eq=False)
class ModelSampler:
    """Alias tables for ``c ~ ρ``, ``x ~ D_c`` (all classes at once) and ``(c, x) ~ ρ_c D_c``.

    The support entries ``(c, x)`` with ``D_c(x) > 0`` are listed point by point, so for a
    disjoint model entry ``e`` *is* point ``e``.  The per-class tables are concatenated:
    class ``c`` owns entries ``offset[c] .. offset[c] + count[c] − 1`` of ``cond_*``.
    """

    classes_table: AliasTable
    joint_table: AliasTable
    entry_point: np.ndarray
    entry_class: np.ndarray
    cond_offset: np.ndarray
    cond_count: np.ndarray
    cond_threshold: np.ndarray  # global entry index + acceptance probability
    cond_alias: np.ndarray  # global entry index
    cond_point: np.ndarray

    @classmethod
    def build(cls, rho: np.ndarray, cond: np.ndarray) -> ModelSampler:
        points, classes = np.nonzero(cond.T)  # entries sorted by point
        joint = AliasTable.build(rho[classes] * cond[classes, points])
        rows, cols = np.nonzero(cond)  # entries sorted by class
        counts = np.bincount(rows, minlength=rho.size)
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
        thr = np.empty(rows.size)
        ali = np.empty(rows.size, dtype=np.intp)
        for c in range(rho.size):  # one table per class: a loop over classes, not points
            sl = slice(offsets[c], offsets[c] + counts[c])
            acc, al = _alias_table(cond[c, cols[sl]])
            thr[sl] = offsets[c] + np.arange(counts[c]) + acc
            ali[sl] = offsets[c] + al
        return cls(AliasTable.build(rho), joint, points, classes, offsets, counts, thr, ali, cols)

    def classes(self, u: np.ndarray) -> np.ndarray:
        return self.classes_table.draw(u)

    def points_given_class(self, u: np.ndarray, c: np.ndarray) -> np.ndarray:
        count = self.cond_count[c]
        x = u * count
        j = x.astype(np.intp)
        np.minimum(j, count - 1, out=j)  # u·count may round up to count
        x += self.cond_offset[c]
        j += self.cond_offset[c]
        e = np.where(x < self.cond_threshold[j], j, self.cond_alias[j])
        return self.cond_point[e]

    def joint(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        e = self.joint_table.draw(u)
        return self.entry_point[e], self.entry_class[e]
