"""Point level: with disjoint class supports the optimum collapses every class to one vector.

A model with three classes (ρ = 0.6, 0.3, 0.1) owning 2, 3 and 2 points (unequal weights
within each class) is solved at the point level (a 7 × 7 Gram matrix, certified) for
several k.  The example checks that at every k

- all points of a class get the same vector (collapse error ≤ 1e-6) of unit norm, and
- the point-level optimum has the same loss as the class-level optimum for the same ρ
  (solved independently on a 3 × 3 Gram matrix), as collapse implies.

It also reports, without asserting anything (SPEC §5 claims no structure there), the
collapse error of a model whose class supports overlap.

Run: ``python examples/point_collapse.py`` (``LATENTCLASS_EXAMPLES_QUICK=1`` for the quick
mode, as the documentation gallery runs it).
"""

from __future__ import annotations

import math
import os

import numpy as np

from latentclass.model import LatentClassModel
from latentclass.optimize import optimal_representation
from latentclass.structure import structure


def main(quick: bool = False) -> dict:
    rho = np.array([0.6, 0.3, 0.1])
    disjoint = LatentClassModel.disjoint(
        rho, [2, 3, 2], within=[[0.8, 0.2], [0.5, 0.3, 0.2], [0.5, 0.5]]
    )
    cond = np.array(disjoint.class_conditionals)
    cond[0, 2] = 0.3  # class 0 also draws point 2, a point of class 1: supports overlap
    cond /= cond.sum(axis=1, keepdims=True)
    overlapping = LatentClassModel(rho, cond)
    class_level = LatentClassModel.one_point_per_class(rho)
    ks = [1, 8, math.inf] if quick else [1, 2, 4, 8, 16, 64, 256, 4096, math.inf]
    rows = []
    for k in ks:
        opt = optimal_representation(disjoint, k)
        ref = optimal_representation(class_level, k)
        s = structure(disjoint, opt.F)
        ov = optimal_representation(overlapping, k)
        rows.append(
            {
                "k": k,
                "collapse_error": s.collapse_error,
                "max_norm_deviation": float(np.abs(1.0 - s.norms).max()),
                "loss_point_level": opt.loss,
                "loss_class_level": ref.loss,
                "duality_gaps": (opt.duality_gap, ref.duality_gap),
                "overlapping_collapse_error": structure(overlapping, ov.F).collapse_error,
                "overlapping_certified": ov.certified,
            }
        )
    for r in rows:
        assert max(r["duality_gaps"]) <= 1e-7, r
        assert r["collapse_error"] <= 1e-6 and r["max_norm_deviation"] <= 1e-6, r
        assert abs(r["loss_point_level"] - r["loss_class_level"]) <= 2e-7, r
    return {"class_probs": rho.tolist(), "rows": rows}


if __name__ == "__main__":
    out = main(quick=os.environ.get("LATENTCLASS_EXAMPLES_QUICK") == "1")
    print(
        f"{'k':>6} {'collapse':>10} {'|1-norm|':>10} {'L point':>12} {'L class':>12} {'overlap collapse':>17}"
    )
    for r in out["rows"]:
        print(
            f"{r['k']!s:>6} {r['collapse_error']:10.1e} {r['max_norm_deviation']:10.1e} "
            f"{r['loss_point_level']:12.9f} {r['loss_class_level']:12.9f} {r['overlapping_collapse_error']:17.3f}"
        )
