"""Benchmark: exact population NCE loss and gradient (issues 3, 18), ratios measured in the same run.

1. Floor ratio.  Class-level model (``n = m``, Dirichlet(1) class law), random unit-norm
   representation (``d = m``), ``τ = 1``: time of ``NCEObjective(model, k).value_and_grad(G)``
   divided by the time of one ``np.exp`` over the ``m × m`` score matrix ``G / τ``, for
   ``m ∈ {100, 300, 1000}`` and ``k ∈ {1, 16, 1000, 10^6, ∞}`` (``∞``: the limit objective).
   Target (issue 18): <= 50x at ``m >= 300`` for every ``k``; a PASS/FAIL line is printed.
   Then the "middle k" band ``k ∈ {8, 16, 64, 256, 10^3, 10^4}`` at ``m ∈ {100, 300}`` for
   ``τ ∈ {1, 0.5, 0.1}`` and class laws Dirichlet(1), Dirichlet(0.5), Zipf(1.1) (goal <= 50x).
   With ``--before DIR`` (a checkout of an older commit, e.g. ``git worktree add /tmp/wt-old
   fe17ee3``) the older ``latentclass/_engines/laplace.py`` is timed in the same run,
   interleaved, as the "before" column.  Both timings are the minimum over interleaved
   repeats (robust to other load on the machine; the middle-k band uses the same number of
   repeats as the main table; each ``k`` is divided by the floor's minimum over its own
   repeats — the machine's speed drifts within a block, so a floor pooled over the block
   would compare the fastest moment's floor with ``k`` timed in slower ones); ``--cpu`` times
   the process CPU time
   (``time.process_time``, single-threaded BLAS) instead of the wall clock, which is far less
   sensitive to a loaded machine.
2. Speed-up over exact enumeration of the multisets of negatives (``method="enumerate"``,
   pair by pair) at ``m = 6``, ``k = 8`` (value only, and value and gradient) for both exact
   engines: the Laplace quadrature (``method="laplace"``) and ``method="auto"`` (which picks
   the dense multiset sum at this size); also ``k = 16`` to show the growth ``C(k+m−1, k)``
   of the enumeration against the ``k``-independent cost of the integral.
3. Speed-up over Monte-Carlo: the sampled loss (``nce_loss`` on ``model.sample``) needs ``N``
   examples to reach a relative standard error of 1e-3 (``N`` from a pilot sample's standard
   deviation); the time to draw and evaluate them is compared with one exact evaluation.

4. Engine choice of ``method="auto"``: ``value_and_grad`` of the dense multiset sum
   (:class:`latentclass._engines.multiset.MultisetTable`) and of the Laplace quadrature on class-level
   models of several ``(m, k)``, against the work measure ``P · C(k+s−1, s−1) · (s+130)``; the
   thresholds ``MULTISET_MAX_WORK`` (``k >= 2``) and ``MULTISET_MAX_WORK_K1`` sit at the
   measured crossover (the cases where auto is more than 1.15x slower are listed).

Run: ``python benchmarks/bench_population.py [--repeats R] [--quick] [--before DIR] [--cpu]``
"""

from __future__ import annotations

import argparse
import math
import time
import timeit

import numpy as np

from latentclass.model import LatentClassModel
from latentclass.nce import nce_loss
from latentclass.population import NCEObjective, population_loss


def _representation(m: int, rng: np.random.Generator) -> np.ndarray:
    F = rng.standard_normal((m, m))
    return F / np.linalg.norm(F, axis=1, keepdims=True)


def _interleaved_min(f, g, repeats: int, number_f: int, number_g: int) -> tuple[float, float]:
    """Minimum per-call times of ``f`` and ``g``, measured alternately ``repeats`` times."""
    tf, tg = math.inf, math.inf
    for _ in range(repeats):
        tf = min(tf, timeit.timeit(f, number=number_f) / number_f)
        tg = min(tg, timeit.timeit(g, number=number_g) / number_g)
    return tf, tg


def _class_law(kind: str, m: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "dirichlet1":
        return rng.dirichlet(np.ones(m))
    if kind == "dirichlet0.5":
        return rng.dirichlet(0.5 * np.ones(m))
    if kind == "zipf1.1":
        r = 1.0 / np.arange(1, m + 1) ** 1.1
        return r / r.sum()
    raise ValueError(f"unknown class law {kind!r}")


def _load_before(before: str | None):
    """``family_loss`` of ``<before>/latentclass/_engines/laplace.py`` (or ``None``)."""
    if before is None:
        return None
    import importlib.util
    import pathlib
    import sys

    path = pathlib.Path(before) / "latentclass" / "_engines" / "laplace.py"
    name = "latentclass._engines._laplace_before"  # relative imports resolve in the package
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod.family_loss


#: Timer of the floor tables (``--cpu``: ``time.process_time``).
_TIMER = time.perf_counter


def floor_ratios(
    ms=(100, 300, 1000),
    ks=(1, 16, 10**3, 10**6, math.inf),
    tau=1.0,
    law="dirichlet1",
    repeats=9,
    before=None,
    target=50.0,
    target_m=300,
) -> list[dict]:
    """value_and_grad / one ``np.exp`` over the score matrix; ``before``: a checkout to compare."""
    import latentclass.population as population

    new_fl = population.family_loss
    old_fl = _load_before(before)
    rows = []
    rng = np.random.default_rng(0)
    clock = "CPU time" if _TIMER is time.process_time else "wall clock"
    print(
        f"value_and_grad time / one np.exp over the m×m score matrix "
        f"(class level, {law}, τ = {tau}, {clock})" + (f"; before = {before}" if old_fl else "")
    )
    head = f"{'m':>5} {'k':>9} {'value_and_grad':>15} {'np.exp':>10} {'ratio':>8}"
    print(head + (f" {'before':>8} {'speed-up':>9}" if old_fl else ""))
    for m in ms:
        model = LatentClassModel.one_point_per_class(_class_law(law, m, rng))
        F = _representation(m, rng)
        G = F @ F.T
        G = 0.5 * (G + G.T)
        S = G / tau
        # each k's ratio pairs its minimum with the floor's minimum over the same interleaved
        # repeats (the machine's speed drifts over a block: a floor pooled over the whole block
        # would be compared with times taken in slower moments)
        n_floor = max(1, int(2e-3 / max(1e-7, timeit.timeit(lambda: np.exp(S), number=3) / 3)))
        block = []

        def per_call(f, number):
            return timeit.timeit(f, number=number, timer=_TIMER) / number

        for k in ks:
            obj = NCEObjective(model, k, tau)
            obj.value_and_grad(G)  # warm-up
            t_obj, t_old, t_exp = math.inf, math.inf, math.inf
            for _ in range(repeats):
                t_exp = min(t_exp, per_call(lambda: np.exp(S), n_floor))
                t_obj = min(t_obj, per_call(lambda: obj.value_and_grad(G), 2))
                if old_fl is not None:
                    population.family_loss = old_fl
                    try:
                        t_old = min(t_old, per_call(lambda: obj.value_and_grad(G), 2))
                    finally:
                        population.family_loss = new_fl
            block.append((k, obj.engine, t_obj, t_old, t_exp))
        for k, engine, t_obj, t_old, t_exp in block:
            row = {
                "m": m,
                "k": k,
                "tau": tau,
                "law": law,
                "engine": engine,
                "value_and_grad_s": t_obj,
                "exp_s": t_exp,
                "ratio": t_obj / t_exp,
            }
            line = f"{m:>5} {k:>9} {t_obj * 1e3:>12.3f} ms {t_exp * 1e6:>7.1f} us {t_obj / t_exp:>7.1f}x"
            if old_fl is not None:
                row["ratio_before"] = t_old / t_exp
                line += f" {t_old / t_exp:>7.1f}x {t_old / t_obj:>8.2f}x"
            rows.append(row)
            print(line, flush=True)
    judged = [r for r in rows if r["m"] >= target_m]
    if judged:
        worst = max(judged, key=lambda r: r["ratio"])
        verdict = "PASS" if worst["ratio"] <= target else "FAIL"
        print(
            f"{verdict}: worst ratio at m >= {target_m}: {worst['ratio']:.1f}x "
            f"(m = {worst['m']}, k = {worst['k']}; target <= {target:.0f}x)"
        )
    return rows


def middle_k(
    ms=(100, 300),
    ks=(8, 16, 64, 256, 10**3, 10**4),
    taus=(1.0, 0.5, 0.1),
    laws=("dirichlet1", "dirichlet0.5", "zipf1.1"),
    repeats=5,
    before=None,
) -> list[dict]:
    """The floor ratio over the middle ``k`` for several temperatures and class laws."""
    rows = []
    for law in laws:
        for tau in taus:
            rows += floor_ratios(
                ms=ms, ks=ks, tau=tau, law=law, repeats=repeats, before=before, target_m=100
            )
    worst = max(rows, key=lambda r: r["ratio"])
    print(
        f"middle k: worst ratio {worst['ratio']:.1f}x at m = {worst['m']}, k = {worst['k']}, "
        f"τ = {worst['tau']}, {worst['law']} (goal <= 50x)"
    )
    return rows


def versus_enumeration(m=6, k=8, tau=1.0, repeats=5) -> dict:
    rng = np.random.default_rng(1)
    model = LatentClassModel.one_point_per_class(rng.dirichlet(np.ones(m)))
    F = _representation(m, rng)
    G = F @ F.T
    G = 0.5 * (G + G.T)
    slow = NCEObjective(model, k, tau, method="enumerate")
    out = {"m": m, "k": k}
    for method in ("laplace", "auto"):
        fast = NCEObjective(model, k, tau, method=method)
        rel = abs(fast.value(G) - slow.value(G)) / slow.value(G)
        t_fast, t_slow = _interleaved_min(
            lambda: fast.value(G), lambda: slow.value(G), repeats, 5, 1
        )
        tg_fast, tg_slow = _interleaved_min(
            lambda: fast.value_and_grad(G), lambda: slow.value_and_grad(G), repeats, 5, 1
        )
        n_multisets = math.comb(k + m - 1, k)
        print(
            f"enumeration vs method={method!r} (engine {fast.engine}), m={m}, k={k} ({n_multisets} multisets "
            f"per pair): value {t_slow * 1e3:.2f} ms vs {t_fast * 1e3:.3f} ms = {t_slow / t_fast:.1f}x; "
            f"value_and_grad {tg_slow * 1e3:.2f} ms vs {tg_fast * 1e3:.3f} ms = {tg_slow / tg_fast:.1f}x; "
            f"relative difference {rel:.1e}"
        )
        out[method] = {
            "value_speedup": t_slow / t_fast,
            "grad_speedup": tg_slow / tg_fast,
            "rel_diff": rel,
        }
    return out


def engine_crossover(
    cases=(
        (4, 8),
        (8, 3),
        (10, 2),
        (6, 8),
        (10, 4),
        (20, 2),
        (8, 7),
        (6, 12),
        (9, 7),
        (10, 6),
        (5, 20),
        (6, 14),
        (6, 16),
        (12, 5),
        (25, 3),
        (40, 2),
        (50, 2),
        (60, 2),
        (60, 1),
        (100, 1),
        (150, 1),
        (200, 1),
    ),
    tau=1.0,
    repeats=5,
    slack=1.15,
) -> list[dict]:
    """value_and_grad of the multiset engine vs the Laplace engine, and which one "auto" picks;
    prints the cases where the engine of "auto" is more than ``slack`` times slower."""
    from latentclass._engines.multiset import (
        MULTISET_MAX_WORK,
        MULTISET_MAX_WORK_K1,
        MultisetTable,
        multiset_work,
    )

    rng = np.random.default_rng(3)
    print(
        f"engine of method='auto' (multiset if k < 64 and work <= MULTISET_MAX_WORK = "
        f"{MULTISET_MAX_WORK}; k = 1: {MULTISET_MAX_WORK_K1}):"
    )
    print(
        f"{'m':>4} {'k':>3} {'work':>9} {'multiset':>11} {'laplace':>11} {'lap/mult':>9} {'auto':>9}"
    )
    rows = []
    for m, k in cases:
        model = LatentClassModel.one_point_per_class(rng.dirichlet(np.ones(m)))
        F = _representation(m, rng)
        G = F @ F.T
        G = 0.5 * (G + G.T)
        lap = NCEObjective(model, k, tau, method="laplace")
        mult = NCEObjective(model, k, tau, method="laplace")
        mult._table = MultisetTable(m, lap._D, k, lap._px, lap._pp, lap._pw)  # the engine alone
        work = multiset_work(m, m, k)
        t_m, t_l = _interleaved_min(
            lambda: mult.value_and_grad(G), lambda: lap.value_and_grad(G), repeats, 3, 3
        )
        auto = NCEObjective(model, k, tau).engine
        print(
            f"{m:>4} {k:>3} {work:>9} {t_m * 1e6:>8.1f} us {t_l * 1e6:>8.1f} us {t_l / t_m:>8.2f}x {auto:>9}"
        )
        rows.append(
            {"m": m, "k": k, "work": work, "multiset_s": t_m, "laplace_s": t_l, "auto": auto}
        )
    bad = [
        r
        for r in rows
        if (r["multiset_s"] if r["auto"] == "multiset" else r["laplace_s"])
        > slack * min(r["multiset_s"], r["laplace_s"])
    ]
    if bad:
        print(
            f"auto slower than the other engine by more than {slack}x at (m, k) = "
            + ", ".join(f"({r['m']}, {r['k']})" for r in bad)
        )
    else:
        print(f"auto within {slack}x of the faster engine on every case")
    return rows


def versus_monte_carlo(cases=((6, 8), (30, 1000)), tau=1.0, target=1e-3, repeats=3) -> list[dict]:
    rows = []
    for m, k in cases:
        rng = np.random.default_rng(2)
        model = LatentClassModel.one_point_per_class(rng.dirichlet(np.ones(m)))
        F = _representation(m, rng)
        exact = population_loss(model, F, k, tau)
        t_exact = (
            min(timeit.repeat(lambda: population_loss(model, F, k, tau), number=3, repeat=repeats))
            / 3
        )
        pilot = nce_loss(F, model.sample(20_000, k, rng=3), tau)
        rel_sd = pilot.stderr * math.sqrt(pilot.n) / pilot.mean
        N = int(math.ceil((rel_sd / target) ** 2))
        t0 = time.perf_counter()
        est = nce_loss(F, model.sample(N, k, rng=4), tau)
        t_mc = time.perf_counter() - t0
        z = est.z_score(exact)
        print(
            f"Monte-Carlo, m={m}, k={k}: N={N} examples for relative s.e. {est.stderr / est.mean:.2e}: "
            f"{t_mc:.2f} s vs exact {t_exact * 1e3:.3f} ms = {t_mc / t_exact:.0f}x; z = {z:+.2f}"
        )
        rows.append(
            {
                "m": m,
                "k": k,
                "N": N,
                "mc_s": t_mc,
                "exact_s": t_exact,
                "speedup": t_mc / t_exact,
                "z": z,
            }
        )
    return rows


def main(repeats: int = 9, quick: bool = False, before: str | None = None) -> dict:
    ms = (100, 300) if quick else (100, 300, 1000)
    out = {"floor": floor_ratios(ms=ms, repeats=repeats, before=before)}
    if not quick:
        out["middle_k"] = middle_k(repeats=repeats, before=before)
    out["enumeration"] = [versus_enumeration(k=k) for k in ((8,) if quick else (8, 16))]
    out["monte_carlo"] = versus_monte_carlo(cases=((6, 8),) if quick else ((6, 8), (30, 1000)))
    out["engines"] = engine_crossover(repeats=3 if quick else 5)
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument(
        "--quick",
        action="store_true",
        help="skip m = 1000, the middle-k grid and the larger Monte-Carlo case",
    )
    ap.add_argument(
        "--before", default=None, help="checkout of an older commit to time in the same run"
    )
    ap.add_argument(
        "--cpu", action="store_true", help="floor tables in process CPU time (loaded machines)"
    )
    a = ap.parse_args()
    if a.cpu:
        _TIMER = time.process_time
    main(repeats=a.repeats, quick=a.quick, before=a.before)
