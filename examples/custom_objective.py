"""Your own convex objective, optimised and certified by the library's solvers.

Anything with an attribute ``n`` and a method ``value_and_grad(G) -> (float, ndarray)``
speaks the objective protocol (``lc.GramObjective``, documented in
``latentclass/objective.py``); declare ``convex = True`` and ``lc.solve_gram`` returns its
minimiser over ``{G ⪰ 0, diag(G) ≤ 1}`` with the dual certificate of SPEC §4.

Here the objective is a *margin-weighted* k = 1 contrastive loss written from scratch,
``L(G) = Σ_x ρ_x Σ_{y≠x} ρ_y w_xy log(1 + exp((G_xy − G_xx)/τ))`` with pair weights
``w_xy`` (a practitioner who cares more about separating some classes than others).  With all
weights 1 it is the population NCE loss at k = 1, which the example checks against the
library's own engine.

Run: ``python examples/custom_objective.py`` (``LATENTCLASS_EXAMPLES_QUICK=1`` for the quick
mode, as the documentation gallery runs it).
"""

from __future__ import annotations

import os

import numpy as np
from scipy.special import expit

import latentclass as lc


class WeightedL1:
    """A convex function of the Gram matrix: log-sum-exp of affine maps, averaged."""

    convex = True

    def __init__(self, rho, weights, tau=1.0):
        self.rho = np.asarray(rho, dtype=float)
        self.w = np.asarray(weights, dtype=float) * np.outer(self.rho, self.rho)
        self.tau, self.n = float(tau), self.rho.size

    def value_and_grad(self, G):
        G = np.asarray(G, dtype=float)
        S = (G - np.diag(G)[:, None]) / self.tau
        value = float(np.sum(self.w * np.logaddexp(0.0, S)))
        s = self.w * expit(S) / self.tau
        D = s.copy()
        D[np.diag_indices(self.n)] -= s.sum(axis=1)
        return value, 0.5 * (D + D.T)


def main(quick: bool = False) -> dict:
    rho = np.array([0.4, 0.3, 0.2, 0.1])
    # all weights 1: the k = 1 population NCE loss (the y = x term is the constant log 2)
    plain = lc.solve_gram(WeightedL1(rho, np.ones((4, 4))))
    model = lc.LatentClassModel.one_point_per_class(rho)
    reference = lc.optimal_representation(model, 1)
    assert plain.certified and reference.certified
    assert abs(plain.loss - reference.loss) <= 1e-9
    # separating classes 0 and 1 matters ten times more
    weights = np.ones((4, 4))
    weights[0, 1] = weights[1, 0] = 10.0
    weighted = lc.solve_gram(WeightedL1(rho, weights))
    assert weighted.certified
    angle_plain = plain.gram[0, 1]
    angle_weighted = weighted.gram[0, 1]
    assert angle_weighted < angle_plain  # classes 0 and 1 pushed further apart
    print(f"plain:    loss {plain.loss:.10f}, gap {plain.duality_gap:.2e}, G01 {angle_plain:+.4f}")
    print(
        f"weighted: loss {weighted.loss:.10f}, gap {weighted.duality_gap:.2e}, "
        f"G01 {angle_weighted:+.4f} ({weighted.solver})"
    )
    return {
        "plain_loss": plain.loss,
        "reference_loss": reference.loss,
        "weighted_gap": weighted.duality_gap,
        "G01": (angle_plain, angle_weighted),
    }


if __name__ == "__main__":
    main(quick=os.environ.get("LATENTCLASS_EXAMPLES_QUICK") == "1")
