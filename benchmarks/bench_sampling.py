"""Benchmark: contrastive sampling vs raw uniform integers (issue: foundation).

Draws 10^6 examples with k = 16 negatives from a disjoint model with n = 1000 points and
reports the time as a ratio to drawing the same number of raw uniform integers
(size·(k + 2) + size, one per anchor class, anchor, positive and negative) with the same
Generator type, measured in the same run (minimum over repeats).  Target: <= 5x.

Run: ``python benchmarks/bench_sampling.py [--size N] [--repeats R]``
"""

from __future__ import annotations

import argparse
import timeit

import numpy as np

import latentclass as lc


def main(
    size: int = 10**6, k: int = 16, n_points: int = 1000, n_classes: int = 10, repeats: int = 5
) -> dict:
    rng = np.random.default_rng(0)
    within = [rng.random(n_points // n_classes) + 0.1 for _ in range(n_classes)]
    model = lc.LatentClassModel.disjoint(
        rng.dirichlet(np.ones(n_classes)), [n_points // n_classes] * n_classes, within
    )
    model.sample(10, k, rng=0)  # build the alias tables once (set-up, not per sample)
    n_draws = size * (k + 3)
    gen = np.random.default_rng(1)
    t_raw = min(
        timeit.repeat(lambda: gen.integers(0, n_points, size=n_draws), number=1, repeat=repeats)
    )
    t_sample = min(timeit.repeat(lambda: model.sample(size, k, rng=gen), number=1, repeat=repeats))
    out = {
        "size": size,
        "k": k,
        "n_points": n_points,
        "raw_integers_s": t_raw,
        "sample_s": t_sample,
        "ratio": t_sample / t_raw,
    }
    print(
        f"sampling {size} examples, k={k}, n={n_points}: {t_sample:.3f} s; "
        f"{n_draws} raw integers: {t_raw:.3f} s; ratio {t_sample / t_raw:.2f}x (target <= 5x)"
    )
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=10**6)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    main(size=a.size, repeats=a.repeats)
