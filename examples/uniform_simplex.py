"""Uniform classes: the same regular simplex is optimal for every number of negatives k.

For m = 5 equally likely classes and k from 1 to 10⁶ (and the limit k = ∞), the numerical
solver started at random points finds a certified optimum whose Gram matrix is the simplex
Gram matrix ``m/(m−1) (I − 11ᵀ/m)``, whose loss is the closed form, and whose downstream
mean-classifier loss is ``log(1 + (m−1) exp(−m/((m−1)τ)))`` — the same for every k.  The
exact symbolic KKT certificate (``latentclass.symbolic.simplex_kkt``) confirms optimality
for a few (m, k) for every temperature at once.

Run: ``python examples/uniform_simplex.py`` (``LATENTCLASS_EXAMPLES_QUICK=1`` for the quick
mode, as the documentation gallery runs it).
"""

from __future__ import annotations

import math
import os

import numpy as np

from latentclass.closed_form import simplex_gram, simplex_loss
from latentclass.downstream import mean_classifier_metrics
from latentclass.model import LatentClassModel
from latentclass.optimize import optimal_representation
from latentclass.symbolic import simplex_kkt


def main(quick: bool = False) -> dict:
    m, tau = 5, 0.5
    ks = [1, 4, 64, 10**6, math.inf] if quick else [1, 2, 4, 8, 16, 64, 256, 4096, 10**6, math.inf]
    model = LatentClassModel.one_point_per_class(np.full(m, 1.0 / m))
    target = simplex_gram(m)
    closed_downstream = math.log1p((m - 1) * math.exp(-m / ((m - 1) * tau)))
    rows = []
    for i, k in enumerate(ks):
        opt = optimal_representation(model, k, tau, method="numerical", init="random", rng=i)
        down = mean_classifier_metrics(model, opt.F, tau)
        rows.append(
            {
                "k": k,
                "gram_error": float(np.abs(opt.gram - target).max()),
                "loss_error": abs(opt.loss - simplex_loss(m, k, tau)),
                "duality_gap": opt.duality_gap,
                "downstream_loss": down.loss,
                "accuracy": down.accuracy,
            }
        )
    certificates = {(mm, kk): simplex_kkt(mm, kk).holds for mm in (3, 5) for kk in (1, 4, 16)}
    for r in rows:
        assert r["duality_gap"] <= 1e-7, r
        assert r["gram_error"] <= 1e-4, r
        assert r["loss_error"] <= 1e-9, r
        assert abs(r["downstream_loss"] - closed_downstream) <= 1e-9 and r["accuracy"] == 1.0, r
    assert all(v is True for v in certificates.values()), certificates
    return {
        "m": m,
        "tau": tau,
        "rows": rows,
        "closed_form_downstream": closed_downstream,
        "symbolic_certificates": {f"m={a}, k={b}": v for (a, b), v in certificates.items()},
    }


if __name__ == "__main__":
    out = main(quick=os.environ.get("LATENTCLASS_EXAMPLES_QUICK") == "1")
    print(
        f"m={out['m']}, tau={out['tau']}: downstream loss at the simplex = {out['closed_form_downstream']:.12f}"
    )
    print(f"{'k':>8} {'|G - G_simplex|':>16} {'|L - closed|':>13} {'gap':>9} {'downstream':>14}")
    for r in out["rows"]:
        print(
            f"{r['k']!s:>8} {r['gram_error']:16.2e} {r['loss_error']:13.2e} {r['duality_gap']:9.1e} "
            f"{r['downstream_loss']:14.12f}"
        )
    print("symbolic certificates:", out["symbolic_certificates"])
