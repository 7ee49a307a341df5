"""Benchmark: certified optima at hundreds to thousands of classes (issue 18), ratios in one run.

1. Class level.  ``optimal_representation(model, k, τ)`` on Zipf(1.1) and Dirichlet(0.5) class
   laws; reported: the solve time divided by the median time of one
   ``NCEObjective(model, k, τ).value_and_grad`` at the optimum (the "evaluations' worth" of
   the solve; issue target <= 600, ambition ≈ 100), the path, its steps, the certified gap.
   "before": the same call with the Gram-space Newton–Krylov path switched off (the general
   Burer–Monteiro solver that ran before it), on the cases where that finishes in minutes.
2. Disjoint point level.  ``n`` points in ``m`` classes solved through the class level and
   lifted (``proofs/class_collapse.md``, Proposition 5): time divided by the class-level solve
   time (target <= 20; minimum of three interleaved repeats, the first call also reported:
   it pays the kernel's first touch of the returned ``n × n`` Gram matrix), and by the time to fill a fresh ``n × n`` array (the cost of the
   returned Gram matrix alone).
3. No regression at small m: the CVXPY + Clarabel ratio at m = 8, k = 3
   (:func:`bench_optimize.conic_table`, target >= 100).
4. ``--hessian``: the Hessian used by the Newton–Krylov path per regime
   (:data:`latentclass._solvers.gram_krylov._HESSIAN`): ``model`` (the limit Hessian; the
   general solver when it declines — the behaviour before the exact Hessian-vector products),
   ``exact`` (:class:`latentclass._engines.hessian.ClassHessian` on every step) and ``auto``
   (the default), on Zipf(1.1) and Dirichlet(0.5) seed 0, ``m ∈ {100, 200}``,
   ``τ ∈ {0.1, 0.5, 1}``, ``k ∈ {16, 65536, 10⁶, ∞}``, plus Zipf ``m = 1000, τ = 0.5,
   k = 65536`` and Dirichlet ``m = 200, τ = 1, k = 64``; the three modes interleaved, minimum of
   ``--repeats`` solves each, divided by the median ``value_and_grad`` time at the optimum.
5. ``--warm``: Newton steps of the path from the ρ-centred simplex, from the certified ``k = ∞``
   optimum, and from the previous ``k`` of the grid (``start=``).

Run: ``python benchmarks/bench_large_solve.py [--quick | --full | --hessian | --warm]``
(``--quick``: m <= 500; ``--full`` adds m = 2000 and the "before" run at m = 1000, ~2 minutes).
One BLAS thread.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from contextlib import contextmanager  # noqa: E402

import numpy as np  # noqa: E402

import latentclass.optimize as opt  # noqa: E402
from latentclass.model import LatentClassModel  # noqa: E402
from latentclass.population import NCEObjective  # noqa: E402


def class_law(kind: str, m: int) -> np.ndarray:
    if kind == "zipf":
        rho = np.arange(1, m + 1, dtype=float) ** -1.1
    else:
        rho = np.random.default_rng(0).dirichlet(np.full(m, 0.5))
    return rho / rho.sum()


@contextmanager
def krylov_off():
    """The solver as it was before the Newton–Krylov path (the general solver takes over)."""
    saved = opt.gram_krylov
    opt.gram_krylov = lambda *args, **kwargs: None
    try:
        yield
    finally:
        opt.gram_krylov = saved


def solve_row(kind: str, m: int, k, tau: float, before: bool = False) -> dict:
    model = LatentClassModel.one_point_per_class(class_law(kind, m))
    t0 = time.perf_counter()
    if before:
        with krylov_off():
            res = opt.optimal_representation(model, k, tau)
    else:
        res = opt.optimal_representation(model, k, tau)
    t_solve = time.perf_counter() - t0
    obj = NCEObjective(model, k, tau)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        obj.value_and_grad(res.gram)
        times.append(time.perf_counter() - t0)
    t_vg = statistics.median(times)
    row = {
        "law": kind,
        "m": m,
        "k": k,
        "tau": tau,
        "before": before,
        "solve_s": t_solve,
        "vg_s": t_vg,
        "ratio": t_solve / t_vg,
        "n_iter": res.n_iter,
        "gap": res.duality_gap,
        "certified": res.certified,
        "solver": res.solver,
    }
    tag = "before" if before else "now"
    print(
        f"{tag:>6} {kind:>9} m={m:>5} k={k!s:>8} τ={tau:<4} solve {t_solve:8.2f} s  "
        f"value_and_grad {t_vg * 1e3:8.1f} ms  ratio {t_solve / t_vg:7.0f}  "
        f"iters {res.n_iter:>5}  gap {res.duality_gap:.2e}  certified {res.certified}  "
        f"{res.solver}",
        flush=True,
    )
    return row


def class_level(quick: bool, full: bool) -> list[dict]:
    print("1. class level: solve time / median value_and_grad time (target <= 600, ambition 100)")
    cases = [
        ("zipf", 100, 65536, 0.5),
        ("dirichlet", 200, 64, 1.0),
        ("dirichlet", 200, 10**6, 0.5),
        ("zipf", 500, 65536, 0.5),
        ("zipf", 500, 16, 0.5),
    ]
    if not quick:
        cases += [("zipf", 1000, 65536, 0.5), ("zipf", 1000, math.inf, 0.5)]
    if full:
        cases += [("zipf", 2000, 65536, 0.5)]
    rows = [solve_row(*c) for c in cases]
    before = [
        ("zipf", 100, 65536, 0.5),
        ("dirichlet", 200, 64, 1.0),
        ("dirichlet", 200, 10**6, 0.5),
    ]
    if full:
        before += [("zipf", 1000, 65536, 0.5)]
    for c in before:  # before and now back to back; both divided by the same evaluation time
        now, old = solve_row(*c), solve_row(*c, before=True)
        vg = min(now["vg_s"], old["vg_s"])
        print(
            f"  same evaluation time {vg * 1e3:.1f} ms: now {now['solve_s'] / vg:.0f}, "
            f"before {old['solve_s'] / vg:.0f} evaluations; before/now = "
            f"{old['solve_s'] / now['solve_s']:.1f}x",
            flush=True,
        )
        rows.append(old)
    return rows


def point_level(quick: bool) -> list[dict]:
    print("2. disjoint point level through the class level (target <= 20x the class-level time)")
    rows = []
    cases = [(10, 100), (100, 10)] + ([] if quick else [(10, 1000), (100, 100)])
    for m, per in cases:
        rho = class_law("dirichlet", m)
        model = LatentClassModel.disjoint(rho, [per] * m)
        cls = LatentClassModel.one_point_per_class(rho)
        n = model.n_points
        t_cls, t_pt, t_fill, first = math.inf, math.inf, math.inf, None
        for _ in range(3):  # interleaved repeats, minimum of each (the first call pays page faults)
            t0 = time.perf_counter()
            rc = opt.optimal_representation(cls, 10**6, 1.0)
            t_cls = min(t_cls, time.perf_counter() - t0)
            t0 = time.perf_counter()
            rp = opt.optimal_representation(model, 10**6, 1.0)
            t = time.perf_counter() - t0
            first = t if first is None else first
            t_pt = min(t_pt, t)
            t0 = time.perf_counter()
            a = np.empty((n, n))
            a[:] = 1.0
            t_fill = min(t_fill, time.perf_counter() - t0)
            del a
        print(
            f"  n={n:>6} (m={m:>3}): point level {t_pt:7.3f} s, class level {t_cls:7.3f} s "
            f"= {t_pt / t_cls:6.1f}x (first call {first:.3f} s); fresh n×n fill {t_fill:6.3f} s; gap {rp.duality_gap:.2e} "
            f"(class {rc.duality_gap:.2e}) certified {rp.certified} {rp.solver}",
            flush=True,
        )
        rows.append(
            {"n": n, "m": m, "point_s": t_pt, "first_s": first, "class_s": t_cls, "fill_s": t_fill}
        )
    return rows


def small_m() -> None:
    print("3. small m, against CVXPY + Clarabel (target ratio >= 100)")
    sys.path.insert(0, os.path.dirname(__file__))
    import bench_optimize

    bench_optimize.conic_table([(8, 3)], repeats=3)


def _vg_time(model, k, tau, G) -> float:
    obj = NCEObjective(model, k, tau)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        obj.value_and_grad(G)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def hessian_table(repeats: int, quick: bool) -> list[dict]:
    """Section 4: solve time / value_and_grad time per Hessian mode (interleaved minimum)."""
    import latentclass._solvers.gram_krylov as gk

    print(
        "4. Newton–Krylov Hessian per regime: solve / value_and_grad (min of interleaved repeats)"
    )
    cases = [
        (kind, m, k, tau)
        for m in ((100,) if quick else (100, 200))
        for kind in ("zipf", "dirichlet")
        for tau in (0.1, 0.5, 1.0)
        for k in (16, 65536, 10**6, math.inf)
    ]
    cases += [("zipf", 1000, 65536, 0.5), ("dirichlet", 200, 64, 1.0)]
    modes = ("model", "exact", "auto")
    saved = gk._HESSIAN
    rows = []
    try:
        for kind, m, k, tau in cases:
            model = LatentClassModel.one_point_per_class(class_law(kind, m))
            best = dict.fromkeys(modes, math.inf)
            info = {}
            for _ in range(repeats):
                for md in modes:
                    gk._HESSIAN = md
                    t0 = time.perf_counter()
                    res = opt.optimal_representation(model, k, tau)
                    best[md] = min(best[md], time.perf_counter() - t0)
                    info[md] = res
            vg = _vg_time(model, k, tau, info["auto"].gram)
            row = {"law": kind, "m": m, "k": k, "tau": tau, "vg_s": vg}
            parts = []
            for md in modes:
                res = info[md]
                row[md] = best[md] / vg
                row[md + "_certified"] = res.certified
                path = "NK" if res.solver == "gram-newton-krylov" else res.solver
                steps = res.n_iter if res.solver == "gram-newton-krylov" else "-"
                parts.append(
                    f"{md} {best[md] / vg:6.0f} ({path}, {steps} steps, gap {res.duality_gap:.0e}"
                    f"{'' if res.certified else ' NOT certified'})"
                )
            print(f"  {kind:>9} m={m:>4} τ={tau:<4} k={k!s:>8}: " + "; ".join(parts), flush=True)
            rows.append(row)
    finally:
        gk._HESSIAN = saved
    for md in modes:
        print(f"  worst {md}: {max(r[md] for r in rows):.0f}")
    return rows


def warm_table() -> None:
    """Section 5: Newton steps saved by warm starts (``gram_krylov(..., start=)``)."""
    from latentclass._solvers.gram_krylov import gram_krylov

    print(
        "5. Newton steps: cold (ρ-centred simplex) / from the k = ∞ optimum / from the previous k"
    )
    ks = [16, 64, 65536, 10**6, math.inf]
    for kind in ("zipf", "dirichlet"):
        for m in (100, 200):
            for tau in (0.1, 0.5, 1.0):
                model = LatentClassModel.one_point_per_class(class_law(kind, m))
                runs = {
                    k: gram_krylov(model, NCEObjective(model, k, tau), k, tau, 1e-9) for k in ks
                }
                parts = []
                for i, k in enumerate(ks):
                    obj = NCEObjective(model, k, tau)

                    def steps(run):
                        if run is None or run.certificate.gap > 1e-7:
                            return "x"
                        return str(run.n_iter)

                    w_inf = w_prev = "-"
                    if k != math.inf and runs[math.inf] is not None:
                        w_inf = steps(
                            gram_krylov(model, obj, k, tau, 1e-9, start=runs[math.inf].gram)
                        )
                    if i and runs[ks[i - 1]] is not None:
                        w_prev = steps(
                            gram_krylov(model, obj, k, tau, 1e-9, start=runs[ks[i - 1]].gram)
                        )
                    parts.append(f"k={k}: {steps(runs[k])}/{w_inf}/{w_prev}")
                print(f"  {kind:>9} m={m} τ={tau}: " + "  ".join(parts), flush=True)
    print("  (x: not certified from that start)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--hessian", action="store_true", help="only section 4")
    ap.add_argument("--warm", action="store_true", help="only section 5")
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args(argv)
    if a.hessian or a.warm:
        if a.hessian:
            hessian_table(a.repeats, a.quick)
        if a.warm:
            warm_table()
        return 0
    rows = class_level(a.quick, a.full)
    now = [r for r in rows if not r["before"]]
    worst = max(r["ratio"] for r in now)
    print(
        f"worst ratio (now): {worst:.0f} (target <= 600); all certified: "
        f"{all(r['certified'] for r in now)}"
    )
    point_level(a.quick)
    small_m()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
