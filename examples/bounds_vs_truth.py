"""Published downstream bounds vs the exact downstream loss of the optimum (uniform ρ).

For m = 10 equally likely classes the optimal representation is the same simplex for every
k, so the mean-classifier loss is flat in k.  The bounds of Saunshi et al. (2019), Ash et
al. (2022), Nozawa & Sato (2021) and Bao et al. (2022) — evaluated at the exact
population loss R = L_k* of the optimum (``latentclass.bounds``) — are printed beside it.
The example checks that

- the truth is flat in k and equals ``log(1 + (m−1) exp(−m/((m−1)τ)))``;
- every finite upper bound lies above the truth and Bao et al.'s lower bound below it;
- the Saunshi, Ash and Nozawa–Sato bounds grow again at large k (their value at the largest
  k exceeds their minimum over k): they predict a degradation the truth does not show.

Run: ``python examples/bounds_vs_truth.py`` (``LATENTCLASS_EXAMPLES_QUICK=1`` for the quick
mode, as the documentation gallery runs it).
"""

from __future__ import annotations

import math
import os

import numpy as np

from latentclass.bounds import published_bounds
from latentclass.downstream import mean_classifier_metrics
from latentclass.model import LatentClassModel
from latentclass.optimize import optimal_representation

BOUNDS = ("saunshi", "ash", "nozawa_sato", "bao")


def main(quick: bool = False) -> dict:
    m, tau = 10, 1.0
    rho = np.full(m, 1.0 / m)
    model = LatentClassModel.one_point_per_class(rho)
    ks = [1, 4, 16, 64, 256] if quick else [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024]
    truth_closed = math.log1p((m - 1) * math.exp(-m / ((m - 1) * tau)))
    rows = []
    for k in ks:
        opt = optimal_representation(model, k, tau, method="numerical", init="random", rng=k)
        truth = mean_classifier_metrics(model, opt.F, tau).loss
        b = published_bounds(rho, k, opt.loss, tau)
        rows.append(
            {
                "k": k,
                "R": opt.loss,
                "truth": truth,
                "bao_lower": b.bao_lower,
                **{name: getattr(b, name) for name in BOUNDS},
            }
        )
    truths = np.array([r["truth"] for r in rows])
    assert np.abs(truths - truth_closed).max() <= 1e-9, truths
    for r in rows:
        for name in BOUNDS:
            if r[name] is not None:
                assert r[name] >= r["truth"], (name, r)
        assert r["bao_lower"] <= r["truth"], r
    growth = {}
    for name in ("saunshi", "ash", "nozawa_sato"):
        vals = [r[name] for r in rows if r[name] is not None and math.isfinite(r[name])]
        growth[name] = (min(vals), vals[-1])
        assert vals[-1] > min(vals), (name, vals)
    return {
        "m": m,
        "tau": tau,
        "truth_closed_form": truth_closed,
        "rows": rows,
        "min_and_last": growth,
    }


if __name__ == "__main__":
    out = main(quick=os.environ.get("LATENTCLASS_EXAMPLES_QUICK") == "1")
    print(
        f"uniform rho, m={out['m']}: downstream loss of the optimum = {out['truth_closed_form']:.6f} for every k"
    )
    print(f"{'k':>5} {'truth':>9} " + " ".join(f"{n:>12}" for n in BOUNDS) + f" {'bao_lower':>10}")
    fmt = lambda v: f"{'-':>12}" if v is None else f"{v:12.4g}"  # noqa: E731
    for r in out["rows"]:
        print(
            f"{r['k']:>5} {r['truth']:9.6f} "
            + " ".join(fmt(r[n]) for n in BOUNDS)
            + f" {r['bao_lower']:10.4f}"
        )
