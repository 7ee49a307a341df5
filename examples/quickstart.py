"""Quickstart: the optimal representation for uniform classes is the regular simplex.

Builds the class-level latent-class model with m = 4 equally likely classes, solves for the
representation minimising the population NCE loss with k = 8 negatives (numerical solver,
random start), and checks it three ways:

- its loss equals the closed form ``simplex_loss`` (SPEC §5) and it carries a dual
  certificate of global optimality (SPEC §4);
- its class vectors form a regular simplex (``structure``);
- a Monte-Carlo estimate of the NCE loss on sampled examples agrees with the exact loss
  within 5 standard errors.

Run: ``python examples/quickstart.py`` (``LATENTCLASS_EXAMPLES_QUICK=1`` for the quick
mode, as the documentation gallery runs it).
"""

from __future__ import annotations

import os

import numpy as np

from latentclass.closed_form import simplex_loss
from latentclass.model import LatentClassModel
from latentclass.nce import nce_loss
from latentclass.optimize import optimal_representation
from latentclass.population import population_loss
from latentclass.structure import structure


def main(quick: bool = False) -> dict:
    m, k, tau = 4, 8, 1.0
    model = LatentClassModel.one_point_per_class(np.full(m, 1.0 / m))
    opt = optimal_representation(model, k, tau, method="numerical", init="random", rng=1)
    closed = simplex_loss(m, k, tau)
    exact = population_loss(model, opt.F, k, tau)
    report = structure(model, opt.F)
    sample = model.sample(5_000 if quick else 100_000, k, rng=2)
    est = nce_loss(opt.F, sample, tau)
    out = {
        "loss": opt.loss,
        "closed_form": closed,
        "population_loss": exact,
        "duality_gap": opt.duality_gap,
        "certified": opt.certified,
        "simplex_error": report.simplex_error,
        "mc_mean": est.mean,
        "mc_stderr": est.stderr,
    }
    assert opt.certified and opt.duality_gap <= 1e-7, out
    assert abs(opt.loss - closed) <= 1e-9 and abs(exact - closed) <= 1e-9, out
    assert report.is_regular_simplex(1e-6), out
    assert abs(est.mean - closed) <= 5 * est.stderr, out
    return out


if __name__ == "__main__":
    for key, value in main(quick=os.environ.get("LATENTCLASS_EXAMPLES_QUICK") == "1").items():
        print(f"{key:>16}: {value}")
