"""Benchmark of latentclass.optimize (issue 4, "Performance").

1. Against CVXPY + Clarabel on the same convex program (SPEC §4; multiset sum, small k).
   Timed on our side: one complete ``optimal_representation(model, k)`` call as a user makes
   it — argument checks, building the ``NCEObjective``, the solve (at these sizes the fast
   path: Newton's method on the optimality conditions in Gram space with the exact Hessian of
   the multiset engine, then the feasible factor; otherwise L-BFGS and lifted-sphere Newton)
   and the final certificate (duality-gap bound) and loss; the "solver" column says which.
   Timed on the CVXPY side: one complete ``conic_optimum(model, k, tol=1e-10)`` call —
   enumerating the multisets, building the CVXPY problem, CVXPY's canonicalisation and the
   Clarabel solve (``import cvxpy`` excluded, done once before).
   Both are the minimum over repeated runs in this process.  Also reported: Clarabel's own
   solve time (``ratio*``) and the difference of the optima (target: same optimum to 1e-7).
   Issue targets: m = 8, k = 3 and m = 10, k = 2; larger k shows how the ratio grows
   (Clarabel's program has C(k + m − 1, m − 1) terms per class).
2. Scale: certified optimum at k = 10^6 for m in {50, 100, 200} classes (uniform ρ solved
   numerically, and a Zipf(1.1) ρ); target m = 200 in under 60 s.

Run: ``python benchmarks/bench_optimize.py [--quick]``.  BLAS is limited to one thread
(set before numpy is imported) because oversubscribed OpenBLAS threads on a shared 2-core
machine make small matrix products 10-50x slower; override with OPENBLAS_NUM_THREADS.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from latentclass.conic import conic_optimum  # noqa: E402
from latentclass.model import LatentClassModel  # noqa: E402
from latentclass.optimize import optimal_representation  # noqa: E402


def zipf(m: int, s: float) -> np.ndarray:
    p = 1.0 / np.arange(1, m + 1) ** s
    return p / p.sum()


def best_of(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def conic_table(cases, repeats):
    print("\n1. certified optimum vs CVXPY+Clarabel, class level, rho = Zipf(1), tau = 1")
    head = (
        f"{'m':>3} {'k':>2} {'terms':>6} {'ours [ms]':>9} {'cvxpy [s]':>9} {'clarabel [s]':>12} "
        f"{'ratio':>7} {'ratio*':>7} {'|dL|':>8} {'gap':>8} cert solver"
    )
    print(head)
    print("-" * len(head))
    rows = []
    for m, k in cases:
        model = LatentClassModel.one_point_per_class(zipf(m, 1.0))
        t_ours, res = best_of(lambda: optimal_representation(model, k), repeats)
        t_cvx, ref = best_of(lambda: conic_optimum(model, k, tol=1e-10), max(2, repeats // 2))
        dl = abs(res.loss - ref.loss)
        ratio = t_cvx / t_ours
        ratio_solver = ref.solver_time / t_ours
        print(
            f"{m:>3} {k:>2} {ref.n_terms:>6} {1e3 * t_ours:>9.3f} {t_cvx:>9.3f} {ref.solver_time:>12.3f} "
            f"{ratio:>7.1f} {ratio_solver:>7.1f} {dl:>8.1e} {res.duality_gap:>8.1e} {res.certified!s:>4} "
            f"{'gram-newton' if 'Gram-space' in res.message else 'lifted'}"
        )
        rows.append((m, k, ratio, dl, res.certified))
    print(
        "ours = full optimal_representation call (objective, solve, certificate); "
        "cvxpy = full conic_optimum call (multisets, CVXPY build + canonicalisation, Clarabel solve);\n"
        "ratio = cvxpy / ours; ratio* = Clarabel's own solve time / ours; "
        "|dL| = |our optimum - Clarabel's| (target <= 1e-7); times are minima over repeats"
    )
    return rows


def scale_table(ms, k, tau=1.0):
    print(f"\n2. certified optimum at k = {k:g}, tau = {tau} (class level, numerical solver)")
    head = f"{'m':>4} {'rho':>9} {'time [s]':>9} {'n_iter':>7} {'loss':>14} {'gap':>9} cert"
    print(head)
    print("-" * len(head))
    rows = []
    for m in ms:
        for name, rho in (("uniform", np.full(m, 1.0 / m)), ("zipf1.1", zipf(m, 1.1))):
            model = LatentClassModel.one_point_per_class(rho)
            t = time.perf_counter()
            res = optimal_representation(model, k, tau, method="numerical")
            t = time.perf_counter() - t
            print(
                f"{m:>4} {name:>9} {t:>9.2f} {res.n_iter:>7} {res.loss:>14.10f} "
                f"{res.duality_gap:>9.2e} {res.certified}"
            )
            rows.append((m, name, t, res.certified))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small cases only (seconds)")
    args = ap.parse_args(argv)
    print(
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, "
        f"cpus={os.cpu_count()}, load={os.getloadavg()[0]:.1f}"
    )
    import cvxpy  # noqa: F401  (imported once, outside every timing)

    if args.quick:
        conic_table([(8, 3), (10, 2)], repeats=3)
        scale_table([50], 10**6)
        return 0
    rows = conic_table([(8, 3), (10, 2), (8, 5), (10, 4), (8, 7)], repeats=7)
    srows = scale_table([50, 100, 200], 10**6)
    print("\nsummary")
    for m, k, ratio, dl, cert in rows[:2]:
        print(
            f"  m={m}, k={k}: ratio {ratio:.1f}x (target >= 100x: {'met' if ratio >= 100 else 'NOT met'}), "
            f"|dL| = {dl:.1e} ({'<=' if dl <= 1e-7 else '>'} 1e-7), certified={cert}"
        )
    for m, name, t, cert in srows:
        if m == 200:
            print(
                f"  m=200 ({name}): {t:.1f} s (target < 60 s: {'met' if t < 60 and cert else 'NOT met'})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
