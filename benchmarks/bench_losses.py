"""Benchmark: population loss + (sub)gradient of the hinge and decoupled losses against the
logistic loss (issue 14), ratios measured in the same run.

Class-level model (``n = m``), ρ a seeded Dirichlet draw, random unit-norm representation
(``d = m``), ``τ = 1``.  For ``m ∈ {30, 100, 300}`` and ``k ∈ {1, 10, 10^3, 10^6}``:
time of ``NCEObjective(model, k, loss=L).value_and_grad(G)`` for ``L`` = hinge and decoupled
divided by the time of the logistic ``NCEObjective(model, k).value_and_grad(G)``; both are the
minimum over interleaved repeats.  Target (issue 14): ratio <= 2 at ``m = 300``, any ``k``.

Run: ``python benchmarks/bench_losses.py [--repeats R] [--quick]``
"""

from __future__ import annotations

import argparse
import math
import timeit

import numpy as np

from latentclass.model import LatentClassModel
from latentclass.population import NCEObjective


def _interleaved_min(fs, repeats: int, number: int) -> list[float]:
    best = [math.inf] * len(fs)
    for _ in range(repeats):
        for i, f in enumerate(fs):
            best[i] = min(best[i], timeit.timeit(f, number=number) / number)
    return best


def ratios(ms=(30, 100, 300), ks=(1, 10, 10**3, 10**6), repeats=5) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    print("value_and_grad time relative to the logistic loss (class level, τ = 1)")
    print(
        f"{'m':>5} {'k':>9} {'logistic':>12} {'hinge':>12} {'decoupled':>12} {'h/l':>6} {'d/l':>6}"
    )
    for m in ms:
        model = LatentClassModel.one_point_per_class(rng.dirichlet(np.ones(m)))
        F = rng.standard_normal((m, m))
        F /= np.linalg.norm(F, axis=1, keepdims=True)
        G = F @ F.T
        G = 0.5 * (G + G.T)
        for k in ks:
            objs = [
                NCEObjective(model, k, 1.0, loss=name)
                for name in ("logistic", "hinge", "decoupled")
            ]
            for o in objs:
                o.value_and_grad(G)  # warm-up (and engine set-up)
            number = 3 if m >= 300 else 10
            t = _interleaved_min([lambda o=o: o.value_and_grad(G) for o in objs], repeats, number)
            row = dict(
                m=m,
                k=k,
                logistic_s=t[0],
                hinge_s=t[1],
                decoupled_s=t[2],
                hinge_ratio=t[1] / t[0],
                decoupled_ratio=t[2] / t[0],
            )
            rows.append(row)
            print(
                f"{m:>5} {k:>9} {t[0] * 1e3:>9.2f} ms {t[1] * 1e3:>9.2f} ms {t[2] * 1e3:>9.2f} ms "
                f"{row['hinge_ratio']:>6.2f} {row['decoupled_ratio']:>6.2f}"
            )
    big = [r for r in rows if r["m"] == max(ms)]
    print(
        f"worst at m = {max(ms)}: hinge {max(r['hinge_ratio'] for r in big):.2f}x, "
        f"decoupled {max(r['decoupled_ratio'] for r in big):.2f}x (target <= 2x)"
    )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="m in {30, 100} only")
    a = p.parse_args()
    ratios(ms=(30, 100) if a.quick else (30, 100, 300), repeats=a.repeats)


if __name__ == "__main__":
    main()
