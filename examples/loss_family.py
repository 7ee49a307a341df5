"""The family of contrastive losses: which ones keep the regular simplex optimal?

For uniform classes the library's theorem (SPEC §8.5, proofs/loss_family.md) says that every
convex loss of the margins that is non-increasing in them — logistic (InfoNCE), hinge,
decoupled — is minimised by the regular simplex, for every number of negatives ``k``.  The
example

1. evaluates every loss exactly at the simplex for k = 1 … 10⁶ and checks it against
   Monte-Carlo ``nce_loss`` with the same loss;
2. certifies the simplex for the three convex losses (the hinge through its LP-over-PSD dual
   bound) and shows two *different* certified hinge optima (the minimiser is not unique);
3. runs the averaging-property checker on each loss;
4. finds a representation with a lower hard-negative loss than the simplex (β = 1): for that
   loss the simplex is not optimal.

Run: ``python examples/loss_family.py`` (``LATENTCLASS_EXAMPLES_QUICK=1`` for the quick mode).
"""

from __future__ import annotations

import os

import numpy as np

import latentclass as lc
from latentclass.losses import HardNegative, check_averaging_property, hinge_dual_bound

NAMES = ("logistic", "hinge", "decoupled", "debiased", "hard_negative")


def main(quick: bool = False) -> dict:
    m, tau = 4, 0.5
    model = lc.LatentClassModel.one_point_per_class([1.0 / m] * m)
    F = lc.simplex(m)
    ks = (1, 4, 64) if quick else (1, 4, 64, 10**6)
    exact = {name: [lc.population_loss(model, F, k, tau, loss=name) for k in ks] for name in NAMES}
    sample = model.sample(4000 if quick else 40000, 4, rng=0)
    z = {name: lc.nce_loss(F, sample, tau, loss=name).z_score(exact[name][1]) for name in NAMES}
    assert all(abs(v) < 5 for v in z.values())
    print("population loss at the simplex (τ = 0.5):")
    for name in NAMES:
        row = ", ".join(f"k={k}: {v:.6f}" for k, v in zip(ks, exact[name]))
        print(f"  {name:13s} {row}   (Monte-Carlo z at k=4: {z[name]:+.2f})")

    certified = {}
    for name in ("logistic", "decoupled", "hinge"):
        opt = lc.optimal_representation(model, 16, tau, loss=name)
        certified[name] = (opt.certified, opt.duality_gap)
        assert opt.certified
    print(
        "certified at the simplex, k = 16:", {n: f"gap {g:.1e}" for n, (_, g) in certified.items()}
    )

    # the hinge optimum is not unique: G(s) = (1 − s) I + s 11ᵀ for s up to 1 − τ·margin
    other = 0.6 * np.eye(m) + 0.4 * np.ones((m, m))  # s = 0.4 <= 1 − τ·margin = 0.5
    b_simplex = hinge_dual_bound(model, lc.simplex_gram(m), 16, tau)
    b_other = hinge_dual_bound(model, other, 16, tau)
    assert b_other.gap < 1e-9 and abs(b_other.value - b_simplex.value) < 1e-12
    w, U = np.linalg.eigh(other)
    F_other = U * np.sqrt(np.maximum(w, 0))
    down = (lc.mean_classifier_loss(model, F, tau), lc.mean_classifier_loss(model, F_other, tau))
    print(
        f"two certified hinge optima: loss {b_simplex.value:.6f} = {b_other.value:.6f}, "
        f"downstream {down[0]:.4f} vs {down[1]:.4f}"
    )

    trials = 2000 if quick else 20000
    avg = {n: check_averaging_property(n, 6, rng=0, n_trials=trials, n_polish=2) for n in NAMES}
    print("averaging property (k = 6):", {n: r.holds for n, r in avg.items()})
    assert avg["logistic"].holds and avg["hinge"].holds and avg["decoupled"].holds
    assert not avg["hard_negative"].holds

    m3 = lc.LatentClassModel.one_point_per_class([1 / 3] * 3)
    hn = HardNegative(1.0)
    best = lc.optimal_representation(m3, 4, 0.5, loss=hn, n_restarts=3, rng=1)
    at_simplex = lc.population_loss(m3, lc.simplex(3), 4, 0.5, loss=hn)
    assert best.loss < at_simplex and not best.certified
    print(f"hard-negative (m=3, k=4, τ=0.5): simplex {at_simplex:.6f} > found {best.loss:.6f}")
    return {
        "exact": exact,
        "z": z,
        "certified": certified,
        "hinge_downstream": down,
        "averaging_worst": {n: r.worst for n, r in avg.items()},
        "hard_negative": (at_simplex, best.loss),
    }


if __name__ == "__main__":
    main(quick=os.environ.get("LATENTCLASS_EXAMPLES_QUICK") == "1")
