"""Benchmark of latentclass.empirical (issue 15, "Performance").

``empirical_optimum`` on ``M = 10⁶`` class-level examples, ``m = 10``, ``k = 16``, ``τ = 1``,
against ``optimal_representation`` on the population problem of the same model, timed in
the same run (ratio; target: within 10×).  Timed on the empirical side: one complete
``empirical_optimum(sample)`` call — aggregation of the sample into distinct
(anchor, positive, multiset of negatives) keys, the solve (Gram-space Newton from the
frequency-centred simplex — its first steps with the population Hessian of the anchors'
frequencies and the empirical gradient, the steps near the solution with the empirical
Hessian — or L-BFGS on the lifted sphere) and the certificate; drawing the
sample is excluded (reported separately).  Both sides: minimum over repeats, the two
calls interleaved; ``ratio`` is of wall-clock times (minimum over minimum; the target),
``paired`` the median of the per-repeat ratios (each ERM call over the population call timed
right after it: less sensitive to the machine's drift), ``cpu`` of process CPU times (less
sensitive to other load on a shared machine).  ``agg`` is the share of one ERM call spent
aggregating the sample (``EmpiricalObjective``; minimum of ``repeats`` constructions), the
rest being the Newton solve and the certificate.

Run: ``python benchmarks/bench_empirical.py [--quick] [--repeats R] [--rho SPEC ...]``
(``--quick``: M = 10⁵).  BLAS is limited
to one thread (set before numpy is imported), as in the other benchmarks.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

from latentclass.empirical import EmpiricalObjective, empirical_optimum  # noqa: E402
from latentclass.families import parse_class_probs  # noqa: E402
from latentclass.model import LatentClassModel  # noqa: E402
from latentclass.optimize import optimal_representation  # noqa: E402


def interleaved(fa, fb, repeats: int):
    """Minimum times of ``fa`` and ``fb`` run alternately (the same machine load for both)."""
    ta, tb, ca, cb, out = [], [], [], [], None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        out = fa()
        ta.append(time.perf_counter() - t)
        ca.append(time.process_time() - c)
        t, c = time.perf_counter(), time.process_time()
        fb()
        tb.append(time.perf_counter() - t)
        cb.append(time.process_time() - c)
    paired = sorted(a / b for a, b in zip(ta, tb))
    return min(ta), min(tb), min(ca) / min(cb), paired[len(paired) // 2], out


def _timed(f) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--rho", nargs="*", default=["zipf:10:1", "dominant:10:0.5", "geometric:10:0.7"]
    )
    args = parser.parse_args()
    M = 10**5 if args.quick else 10**6
    k, tau, repeats = 16, 1.0, args.repeats
    print(f"empirical_optimum vs optimal_representation, m = 10, k = {k}, M = {M}")
    print(
        f"{'rho':>12} {'draw [s]':>8} {'unique':>8} {'ERM [s]':>8} {'pop [s]':>8} {'ratio':>6} "
        f"{'paired':>6} {'cpu':>6} {'agg':>5} {'gap':>8} cert solver"
    )
    for spec in args.rho:
        model = LatentClassModel.one_point_per_class(parse_class_probs(spec))
        t = time.perf_counter()
        sample = model.sample(M, k, rng=0)
        draw = time.perf_counter() - t
        t_erm, t_pop, cpu_ratio, paired, res = interleaved(
            lambda: empirical_optimum(sample, tau),
            lambda: optimal_representation(model, k, tau),
            repeats,
        )
        t_agg = min(_timed(lambda: EmpiricalObjective(sample, tau)) for _ in range(repeats))
        print(
            f"{spec:>12} {draw:8.2f} {res.n_unique:8d} {t_erm:8.2f} {t_pop:8.3f} "
            f"{t_erm / t_pop:6.1f} {paired:6.1f} {cpu_ratio:6.1f} {t_agg / t_erm:5.0%} {res.duality_gap:8.1e} {res.certified!s:>4} "
            f"{res.solver}"
        )


if __name__ == "__main__":
    main()
