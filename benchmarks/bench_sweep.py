"""Benchmark: a sweep over k, serial against two workers (issue 18, item 4), ratios in one run.

``sweep_negatives(model, ks, tau)`` on class-level models (Zipf(1.1) and Dirichlet(0.5) class
laws, ``m ∈ {100, 200}``, ``τ = 1``, the grid ``ks = (1, 2, 4, 8, 16, 64, 1000, 10⁶, ∞)``), run

* serially without warm starts (``warm_start=False``: independent solves, the sweep as it
  was before warm starts),
* serially (``executor=None``; warm starts from the ``L_∞`` optimum, the default),
* on :func:`latentclass.experiments.process_pool` ``(2)``,
* on a 2-worker process ``LocalCluster`` of Dask (one thread per worker),

each pool and cluster started (and warmed by one task) before timing; minimum over
interleaved rounds.  Rows are compared bit for bit with the serial run (``seconds`` aside).
Target: two workers never slower than serial (``ratio = serial / parallel >= 1``; on an idle
2-core machine the ideal is ≈ 2 minus the imbalance of the grid's task times); the warm
start's gain is ``cold / serial`` (1 on this grid: only two k are large enough), and on a grid
of thirteen large ``k = 2⁸ … 2²⁰`` (serial, warm against cold).

Run: ``python benchmarks/bench_sweep.py [--rounds R] [--quick] [--no-dask]`` (``--quick``:
``m = 100`` only).  One BLAS thread per task is set by the sweep itself.
"""

from __future__ import annotations

import argparse
import math
import time

from bench_large_solve import class_law  # the class laws of the large-solve benchmark

import latentclass as lc
from latentclass.experiments import process_pool
from latentclass.model import LatentClassModel

KS = (1, 2, 4, 8, 16, 64, 1000, 10**6, math.inf)
#: A grid of large k only: where warm starts from the L_∞ optimum apply to every row.
KS_LARGE = tuple(2**j for j in range(8, 21))


def values(res) -> list:
    """The rows without their timing column, for a bit-for-bit comparison."""
    return [{c: v for c, v in row.items() if c != "seconds"} for row in res.rows]


def same_bits(a, b) -> bool:
    def key(v):
        return v.hex() if isinstance(v, float) else repr(v)

    return all(
        {c: key(v) for c, v in ra.items()} == {c: key(v) for c, v in rb.items()}
        for ra, rb in zip(values(a), values(b))
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-dask", action="store_true")
    a = ap.parse_args(argv)
    executors = {"process_pool(2)": process_pool(2)}
    cluster = client = None
    if not a.no_dask:
        from dask.distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
        executors["dask LocalCluster(2)"] = client.get_executor()
    try:
        warm = LatentClassModel.one_point_per_class(class_law("zipf", 10))
        for ex in executors.values():  # start the workers, import latentclass in them
            lc.sweep_negatives(warm, (1, 2), executor=ex, progress=False)
        print(f"sweep of {len(KS)} k {KS}, τ = 1; serial / parallel (>= 1: parallel faster)")
        print(
            f"{'model':>16} {'cold [s]':>9} {'serial [s]':>10} {'warm gain':>9} "
            + " ".join(f"{n:>24}" for n in executors)
        )
        worst = math.inf
        for kind in ("zipf", "dirichlet"):
            for m in (100,) if a.quick else (100, 200):
                model = LatentClassModel.one_point_per_class(class_law(kind, m))
                best = {"cold": math.inf, "serial": math.inf} | dict.fromkeys(executors, math.inf)
                ref, equal = None, True
                for _ in range(a.rounds):  # interleaved rounds: the same load for every executor
                    t = time.perf_counter()
                    lc.sweep_negatives(model, KS, progress=False, warm_start=False)
                    best["cold"] = min(best["cold"], time.perf_counter() - t)
                    t = time.perf_counter()
                    res = lc.sweep_negatives(model, KS, progress=False)
                    best["serial"] = min(best["serial"], time.perf_counter() - t)
                    ref = res if ref is None else ref
                    for name, ex in executors.items():
                        t = time.perf_counter()
                        res = lc.sweep_negatives(model, KS, executor=ex, progress=False)
                        best[name] = min(best[name], time.perf_counter() - t)
                        equal = equal and same_bits(ref, res)
                cells = []
                for name in executors:
                    r = best["serial"] / best[name]
                    worst = min(worst, r)
                    cells.append(f"{best[name]:8.2f} s = {r:5.2f}x")
                print(
                    f"{kind + ':' + str(m):>16} {best['cold']:9.2f} {best['serial']:10.2f} "
                    f"{best['cold'] / best['serial']:8.2f}x "
                    + " ".join(f"{c:>24}" for c in cells)
                    + f"  rows identical: {equal}",
                    flush=True,
                )
        print(f"warm starts on the grid of large k {KS_LARGE[0]} … {KS_LARGE[-1]} (serial)")
        for kind in ("zipf", "dirichlet"):
            for m in (100,) if a.quick else (100, 200):
                model = LatentClassModel.one_point_per_class(class_law(kind, m))
                best, steps = {True: math.inf, False: math.inf}, {}
                for _ in range(a.rounds):
                    for warm in (False, True):
                        t = time.perf_counter()
                        res = lc.sweep_negatives(model, KS_LARGE, progress=False, warm_start=warm)
                        best[warm] = min(best[warm], time.perf_counter() - t)
                        steps[warm] = sum(r["n_iter"] for r in res.rows)
                print(
                    f"{kind + ':' + str(m):>16} cold {best[False]:6.2f} s ({steps[False]} steps)"
                    f"  warm {best[True]:6.2f} s ({steps[True]} steps)"
                    f"  gain {best[False] / best[True]:5.2f}x",
                    flush=True,
                )
        verdict = "PASS" if worst >= 1.0 else "FAIL"
        print(f"{verdict}: worst serial/parallel {worst:.2f} (target >= 1)")
    finally:
        executors["process_pool(2)"].shutdown()
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
