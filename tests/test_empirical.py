"""The certified empirical optimum (SPEC §9.3).

Independent references: a CVXPY + Clarabel program written here, one exponential-cone term
per *drawn example* (no aggregation); the library's per-example sampled loss
(``per_example_nce_loss``) summed with ``math.fsum``; central finite differences; the
certified population optimum for the convergence-rate test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import latentclass as lc
from latentclass.empirical import EmpiricalObjective, empirical_optimum
from latentclass.nce import per_example_nce_loss


def cvxpy_empirical(sample, tau):
    """min_G (1/M) Σ_i logsumexp([0, (G[x, y_j] − G[x, x⁺]) / τ]) s.t. G ⪰ 0, diag G ≤ 1."""
    cp = pytest.importorskip("cvxpy")
    n = sample.n_points
    G = cp.Variable((n, n), symmetric=True)
    terms = []
    for x, xp, negs in zip(sample.anchors, sample.positives, sample.negatives):
        scores = [G[int(x), int(y)] - G[int(x), int(xp)] for y in negs]
        terms.append(cp.log_sum_exp(cp.hstack([0.0] + [s / tau for s in scores])))
    prob = cp.Problem(
        cp.Minimize(cp.sum(cp.hstack(terms)) / sample.size), [G >> 0, cp.diag(G) <= 1]
    )
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11)
    return prob.value, np.asarray(G.value)


@pytest.mark.parametrize(
    ("model", "k", "tau"),
    [
        (lc.LatentClassModel.one_point_per_class([0.5, 0.3, 0.2]), 2, 1.0),
        (lc.LatentClassModel.one_point_per_class([0.4, 0.3, 0.2, 0.1]), 3, 0.5),
        (lc.LatentClassModel.disjoint([0.6, 0.4], [2, 1]), 2, 0.8),
    ],
)
def test_matches_clarabel(model, k, tau):
    sample = model.sample(150, k, rng=7)
    res = empirical_optimum(sample, tau, model=model)
    assert res.certified and res.duality_gap <= 1e-7
    ref_value, ref_G = cvxpy_empirical(sample, tau)
    assert res.empirical_loss == pytest.approx(ref_value, abs=1e-7)
    # the value we report is the empirical loss of our F, computed per example
    assert res.empirical_loss == pytest.approx(
        math.fsum(per_example_nce_loss(res.F, sample, tau)) / sample.size, abs=1e-12
    )
    assert res.population_loss == pytest.approx(lc.population_loss(model, res.F, k, tau), abs=1e-14)
    assert res.downstream is not None and 0.0 <= res.downstream.accuracy <= 1.0


def test_certificate_is_sound():
    model = lc.LatentClassModel.one_point_per_class([0.5, 0.3, 0.2])
    sample = model.sample(400, 3, rng=2)
    res = empirical_optimum(sample, 1.0)
    obj = EmpiricalObjective(sample, 1.0)
    assert lc.certify(obj, res.gram).certified
    # a feasible perturbed point: not certified, and its gap bounds its true excess
    for t in (0.05, 0.3):
        G = (1 - t) * res.gram + t * np.eye(3)
        cert = lc.certify(obj, G)
        excess = obj.value(G) - res.empirical_loss
        assert excess > 1e-6
        assert not cert.certified
        assert cert.gap >= excess - 1e-9
    # an infeasible point is refused
    with pytest.raises(ValueError):
        lc.certify(obj, 1.5 * res.gram)


@pytest.mark.parametrize(
    ("model", "k"),
    [
        (lc.LatentClassModel.one_point_per_class([0.4, 0.3, 0.2, 0.1]), 5),  # int-key path
        (lc.LatentClassModel.disjoint([0.5, 0.3, 0.2], [3, 2, 2]), 4),
        (lc.LatentClassModel.one_point_per_class(np.full(30, 1 / 30)), 8),  # sort path
    ],
)
def test_aggregation_equals_per_example_sum(model, k):
    sample = model.sample(5000, k, rng=3)
    obj = EmpiricalObjective(sample, 0.6)
    assert obj.n_unique < sample.size or model.n_points == 30
    rng = np.random.default_rng(1)
    F = rng.normal(size=(model.n_points, 4))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    F *= rng.uniform(0.3, 1.0, size=(model.n_points, 1))
    G = F @ F.T
    direct = math.fsum(per_example_nce_loss(F, sample, 0.6)) / sample.size
    assert abs(obj.value(G) - direct) <= 1e-12
    value, grad = obj.value_and_grad(G)
    assert abs(value - direct) <= 1e-12
    E = rng.normal(size=G.shape)
    E = E + E.T
    h = 1e-5
    fd = (obj.value(G + h * E) - obj.value(G - h * E)) / (2 * h)
    assert fd == pytest.approx(float(np.sum(grad * E)), abs=1e-8)
    assert np.allclose(grad, grad.T, atol=0)


def test_hessian_blocks_match_differences():
    """blocks[i] = ∂²L̂/∂G[x_i, :]²: the value depends on row x only through G[x, :] (entries
    taken as independent), so second differences of the value along row x give uᵀ H v."""
    model = lc.LatentClassModel.disjoint([0.5, 0.5], [2, 2])
    sample = model.sample(500, 3, rng=5)
    obj = EmpiricalObjective(sample, 0.7)
    G = 0.5 * np.eye(4) + 0.1
    value, M, anchors, blocks = obj.second_order(G)
    assert value == pytest.approx(obj.value(G), abs=1e-14)
    assert np.allclose(M, obj.value_and_grad(G)[1], atol=1e-15)
    h = 1e-4
    rng = np.random.default_rng(0)
    for i, x in enumerate(anchors):
        u, v = rng.normal(size=4), rng.normal(size=4)

        def f(a, b):
            Gm = G.copy()
            Gm[x] += a * u + b * v  # row x only: one-sided entries
            return obj.value(Gm)

        mixed = (f(h, h) - f(h, -h) - f(-h, h) + f(-h, -h)) / (4 * h * h)
        assert mixed == pytest.approx(float(u @ blocks[i] @ v), abs=1e-6)


def test_converges_to_population_optimum():
    """E[L_k(Ĝ_M)] − L_k* ≈ c/M (the excess of a smooth M-estimator): the mean excess over 8
    seeds at M = 10³, 10⁴, 10⁵ falls along a log-log slope within [−1.4, −0.7]."""
    model = lc.LatentClassModel.one_point_per_class([0.4, 0.3, 0.2, 0.1])
    k, tau = 4, 1.0
    opt = lc.optimal_representation(model, k, tau)
    assert opt.certified
    sizes, means = [1_000, 10_000, 100_000], []
    for M in sizes:
        vals = []
        for seed in range(8):
            res = empirical_optimum(model.sample(M, k, rng=seed), tau, model=model)
            assert res.certified
            vals.append(res.population_loss - opt.loss)
        assert min(vals) >= -2 * opt.duality_gap  # never below the certified optimum
        means.append(float(np.mean(vals)))
    assert all(m > 0 for m in means)
    slope = np.polyfit(np.log(sizes), np.log(means), 1)[0]
    assert -1.4 <= slope <= -0.7, (means, slope)


def test_same_seed_same_bits_and_dim():
    model = lc.LatentClassModel.one_point_per_class([0.5, 0.3, 0.2])
    sample = model.sample(300, 2, rng=0)
    a = empirical_optimum(sample, 1.0, dim=2, rng=4)
    b = empirical_optimum(sample, 1.0, dim=2, rng=np.random.default_rng(4))
    assert a.F.shape == (3, 2) and np.array_equal(a.F, b.F)
    full = empirical_optimum(sample, 1.0)
    assert a.empirical_loss >= full.empirical_loss - 1e-9
    assert "EmpiricalOptimum(" in repr(full)


def test_errors():
    model = lc.LatentClassModel.one_point_per_class([0.5, 0.3, 0.2])
    sample = model.sample(50, 2, rng=0)
    with pytest.raises(ValueError, match="loss"):
        empirical_optimum(sample, loss="hinges")
    with pytest.raises(TypeError, match="loss"):
        empirical_optimum(sample, loss=3)
    with pytest.raises(TypeError, match="sample"):
        empirical_optimum("sample")
    with pytest.raises(ValueError, match="model"):
        empirical_optimum(sample, model=lc.LatentClassModel.one_point_per_class([0.5, 0.5]))
    with pytest.raises(ValueError, match="dim"):
        empirical_optimum(sample, dim=4)
    with pytest.raises(ValueError, match="tau"):
        empirical_optimum(sample, tau=0.0)
    gauss = lc.GaussianLatentClassModel([0.5, 0.5], np.eye(2)).sample(10, 2, rng=0)
    with pytest.raises(ValueError, match="finite"):
        empirical_optimum(gauss)


# --------------------------------------------------------------------------- ERM vs k
def test_erm_sweep_rows_recomputed_independently(tmp_path):
    import statistics

    from oracles import brute_force_loss

    from latentclass.finite_sample import erm_sweep

    model = lc.LatentClassModel.one_point_per_class([0.5, 0.3, 0.2])
    res = erm_sweep(model, [1, 2], 1.0, n_examples=200, budget=1200, seeds=3, rng=5)
    assert [(r["regime"], r["k"], r["n_examples"]) for r in res.rows] == [
        ("fixed_M", 1, 200),
        ("fixed_M", 2, 200),
        ("fixed_budget", 1, 400),
        ("fixed_budget", 2, 300),
    ]
    row = res.rows[1]
    opt = lc.optimal_representation(model, 2, 1.0)
    assert row["optimum_loss"] == pytest.approx(brute_force_loss(model, opt.F, 2, 1.0), abs=1e-12)
    # redo seed 1 of (fixed_M, k = 2) by hand: same sample, same ERM
    gen = np.random.default_rng(np.random.SeedSequence(5, spawn_key=(0, 1, 1)))
    erm = empirical_optimum(model.sample(200, 2, rng=gen), 1.0, model=model)
    excess = brute_force_loss(model, erm.F, 2, 1.0) - brute_force_loss(model, opt.F, 2, 1.0)
    assert res.per_seed[("fixed_M", 2)]["excess"][1] == pytest.approx(excess, abs=1e-9)
    vals = res.per_seed[("fixed_M", 2)]["excess"]
    assert row["excess_mean"] == pytest.approx(statistics.fmean(vals), abs=1e-15)
    half = 4.302652729911275 * statistics.stdev(vals) / math.sqrt(3)  # t_{0.975, 2}
    assert row["excess_hi"] - row["excess_mean"] == pytest.approx(half, rel=1e-9)
    assert min(vals) >= -1e-7  # never below the certified optimum
    assert row["all_certified"]
    res.to_csv(tmp_path / "erm.csv")
    assert (tmp_path / "erm.csv").read_text().startswith("regime,k,n_examples")
    assert '"rows"' in res.to_json()


def test_erm_sweep_errors():
    from latentclass.finite_sample import erm_sweep, t_interval

    model = lc.LatentClassModel.one_point_per_class([0.5, 0.5])
    with pytest.raises(ValueError, match="n_examples"):
        erm_sweep(model, [1])
    with pytest.raises(ValueError, match="budget"):
        erm_sweep(model, [1, 8], budget=15)
    with pytest.raises(ValueError, match="seeds"):
        erm_sweep(model, [1], n_examples=10, seeds=1)
    with pytest.raises(ValueError, match="ks"):
        erm_sweep(model, [0], n_examples=10)
    with pytest.raises(ValueError, match="values"):
        t_interval([1.0])


def test_cli_erm(tmp_path, capsys):
    from latentclass.cli import main

    out = tmp_path / "erm.json"
    assert main(["erm", "--class-probs", "0.6,0.4", "-k", "1,2", "--examples", "50",
                 "--seeds", "2", "--out", str(out)]) == 0  # fmt: skip
    assert out.exists()
    for argv in (
        ["erm", "--class-probs", "0.6,0.4", "-k", "1"],
        ["erm", "--class-probs", "0.6,0.4", "-k", "1,inf", "--examples", "9"],
        ["erm", "--class-probs", "0.6,0.4", "-k", "1", "--examples", "9", "--seeds", "1"],
        ["erm", "--class-probs", "0.6,0.4", "-k", "1", "--examples", "9", "--out", str(tmp_path)],
    ):
        assert main(argv) == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_degradation_figure_check_fails_on_wrong_data():
    import copy

    from latentclass.figures.degradation_sources import check_degradation_sources

    def erm_row(k, excess):
        return dict(k=k, all_certified=True, excess_mean=excess, excess_lo=excess - 1e-4,
                    downstream_loss_mean=0.42)  # fmt: skip

    data = dict(
        model="m",
        ks=[1, 4],
        sizes=[100, 1000],
        optimum=[0.42, 0.42],
        erm={
            "100": [erm_row(1, 1e-3), erm_row(4, 2e-3)],
            "1000": [erm_row(1, 1e-4), erm_row(4, 2e-4)],
        },
        sgd=[dict(k=1, downstream=0.43, gap=1e-3), dict(k=4, downstream=0.43, gap=1e-3)],
        lowd=[dict(k=1, downstream=0.42, loss=1.0, lower_bound=0.9)] * 2,
    )
    assert check_degradation_sources(data)[0]
    bad = copy.deepcopy(data)
    bad["erm"]["1000"][0]["excess_mean"] = -1e-3  # an ERM below the certified optimum
    assert not check_degradation_sources(bad)[0]
    bad = copy.deepcopy(data)
    bad["erm"]["1000"] = [erm_row(1, 1e-2), erm_row(4, 1e-2)]  # more data, worse
    assert not check_degradation_sources(bad)[0]
    bad = copy.deepcopy(data)
    bad["sgd"][1]["gap"] = -1e-3
    assert not check_degradation_sources(bad)[0]
    bad = copy.deepcopy(data)
    bad["erm"]["100"][1]["all_certified"] = False
    assert not check_degradation_sources(bad)[0]


def test_sparse_blocks_agree_with_dense(monkeypatch):
    import latentclass.empirical as emp

    model = lc.LatentClassModel.disjoint([0.5, 0.3, 0.2], [3, 2, 2])
    sample = model.sample(3000, 4, rng=8)
    dense = EmpiricalObjective(sample, 0.6)
    monkeypatch.setattr(emp, "_DENSE_MAX_N", 0)
    sparse_obj = EmpiricalObjective(sample, 0.6)
    assert dense._dense and not sparse_obj._dense
    G = 0.4 * np.eye(7) + 0.05
    v1, g1 = dense.value_and_grad(G)
    v2, g2 = sparse_obj.value_and_grad(G)
    assert abs(v1 - v2) <= 1e-14 and np.allclose(g1, g2, atol=1e-15)
    s1, s2 = dense.second_order(G), sparse_obj.second_order(G)
    assert np.array_equal(s1[2], s2[2]) and np.allclose(s1[3], s2[3], atol=1e-14)
    res = empirical_optimum(sample, 0.6)
    monkeypatch.setattr(emp, "_DENSE_MAX_N", 64)
    assert res.certified


# --------------------------------------------------------------------------- kernels (issue 15)
def naive_aggregate(sample):
    """(anchor, positive, sorted negatives) → count, by a Python dict over the examples."""
    out: dict = {}
    for x, xp, negs in zip(sample.anchors, sample.positives, sample.negatives):
        key = (int(x), int(xp), tuple(np.bincount(negs, minlength=sample.n_points)))
        out[key] = out.get(key, 0) + 1
    return out


@pytest.mark.parametrize(
    ("model", "k", "M"),
    [
        # base 2^s (s n <= 52: bit-field digits)
        (lc.LatentClassModel.one_point_per_class([0.4, 0.3, 0.2, 0.1]), 5, 9000),
        (lc.LatentClassModel.disjoint([0.5, 0.3, 0.2], [3, 2, 2]), 4, 6000),  # p ≠ x
        # base k + 1 in float (n = 11, k = 16: 5·11 > 52, 11 log2 17 + 2 log2 11 < 52.5)
        (lc.LatentClassModel.one_point_per_class(np.full(11, 1 / 11)), 16, 6000),
        # base k + 1 in int64 (n = 12, k = 16: 12 log2 17 + 2 log2 12 ≈ 56.2)
        (lc.LatentClassModel.one_point_per_class(np.full(12, 1 / 12)), 16, 4000),
        (lc.LatentClassModel.one_point_per_class(np.full(12, 1 / 12)), 40, 3000),  # row sort
        (lc.LatentClassModel.one_point_per_class(np.full(30, 1 / 30)), 8, 2000),  # row sort
    ],
)
def test_aggregation_equals_naive_count(model, k, M, monkeypatch):
    """Keys, multiplicities and count vectors against a dict count (blocks of 1000 examples,
    so the blocked keys span several blocks)."""
    import latentclass.empirical as emp
    from latentclass.empirical import _aggregate

    monkeypatch.setattr(emp, "_KEY_ROWS", 1000)

    sample = model.sample(M, k, rng=11)
    x, p, counts, N = _aggregate(sample, model.n_points)
    N = N.toarray() if hasattr(N, "toarray") else np.asarray(N)
    got = {(int(a), int(b), tuple(int(v) for v in row)): c for a, b, row, c in zip(x, p, N, counts)}
    ref = naive_aggregate(sample)
    assert len(got) == x.size == len(ref)  # distinct keys
    assert got == ref
    assert np.all(np.diff(x) >= 0)  # sorted by anchor


@pytest.mark.parametrize(("base", "n"), [(17, 10), (2, 52), (3, 32), (33, 10), (2**26, 2)])
def test_digits_exact_near_the_float_limit(base, n):
    """``_digits`` in float is exact up to ``base^n <= 2^52`` (the extreme digits: all 0,
    all ``base − 1``, random), the int64 branch beyond (``2^53``, ``3^33``)."""
    from latentclass.empirical import _digits

    rng = np.random.default_rng(4)
    D = rng.integers(0, base, size=(500, n))
    D[0], D[1] = 0, base - 1
    key = np.array([sum(int(d) * base**y for y, d in enumerate(row)) for row in D], dtype=np.int64)
    assert np.array_equal(_digits(key, base, n), D)
    if n > 2:  # one more digit: past the float range, the int64 branch
        D2 = rng.integers(0, base, size=(200, n + 1))
        D2[0] = base - 1
        if base ** (n + 1) < 2**62:
            key2 = np.array(
                [sum(int(d) * base**y for y, d in enumerate(row)) for row in D2], dtype=np.int64
            )
            assert np.array_equal(_digits(key2, base, n + 1), D2)


@pytest.mark.parametrize(("s", "n"), [(5, 10), (1, 52), (4, 13), (13, 4)])
def test_bit_digits_exact(s, n):
    """``_bit_digits`` against Python integers, extreme digits included (``s n <= 52``, a pair
    index above the digits as in the aggregation key)."""
    from latentclass.empirical import _bit_digits

    rng = np.random.default_rng(5)
    D = rng.integers(0, 2**s, size=(400, n))
    D[0], D[1] = 0, 2**s - 1
    pair = rng.integers(0, 100, size=400)
    key = np.array(
        [
            (int(p) << (s * n)) + sum(int(d) << (s * y) for y, d in enumerate(row))
            for p, row in zip(pair, D)
        ],
        dtype=np.int64,
    )
    assert np.array_equal(_bit_digits(key, s, n), D)


@pytest.mark.parametrize(("n", "k"), [(10, 16), (13, 15), (2, 1), (26, 3), (4, 2**13 - 1)])
def test_float_key_bit_patterns_equal_the_gather(n, k):
    """The float64 bit patterns ``(1023 + s y) << 52`` give the same keys as gathering
    ``2^{s y}`` from the table, bit for bit (several blocks; extreme exponents ``s (n − 1)``)."""
    from latentclass.empirical import _float_keys

    s = k.bit_length()
    rng = np.random.default_rng(n + k)
    model = lc.LatentClassModel.one_point_per_class(rng.dirichlet(np.ones(n)))
    sample = model.sample(40000 if k < 100 else 300, k, rng=2)
    weights = np.ldexp(1.0, s * np.arange(n))
    t = max(n - 1, 1).bit_length()
    top = 1 << (s * n)
    gathered = _float_keys(sample, weights, top, 1 << t)
    assert np.array_equal(_float_keys(sample, weights, top, 1 << t, log2_step=s), gathered)


def test_sample_indices_must_be_integers():
    import dataclasses

    model = lc.LatentClassModel.one_point_per_class([0.3, 0.25, 0.2, 0.15, 0.1])
    sample = model.sample(30000, 7, rng=0)
    ref = EmpiricalObjective(sample, 1.0)
    G = 0.5 * np.eye(5) + 0.5
    for dt in (np.int8, np.uint8, np.int32, np.uint64):  # any integer dtype: the same keys
        cast = {f: getattr(sample, f).astype(dt) for f in ("anchors", "positives", "negatives")}
        obj = EmpiricalObjective(dataclasses.replace(sample, **cast), 1.0)
        assert obj.n_unique == ref.n_unique and obj.value(G) == ref.value(G)
    for field in ("anchors", "negatives"):
        bad = dataclasses.replace(sample, **{field: getattr(sample, field).astype(float)})
        with pytest.raises(TypeError, match=f"sample.{field} must be an integer array"):
            EmpiricalObjective(bad, 1.0)


def test_negatives_out_of_range_in_a_later_block():
    """The per-block index check of the float key (rows past the first block, -1 and n)."""
    import dataclasses

    model = lc.LatentClassModel.one_point_per_class([0.5, 0.3, 0.2])
    sample = model.sample(20000, 3, rng=0)
    for bad in (-1, 3):
        negs = np.array(sample.negatives)
        negs[17000, 1] = bad
        with pytest.raises(ValueError, match="negatives"):
            EmpiricalObjective(dataclasses.replace(sample, negatives=negs), 1.0)
        negs32 = negs.astype(np.int32)  # not int64: the one-pass check
        with pytest.raises(ValueError, match="negatives"):
            EmpiricalObjective(dataclasses.replace(sample, negatives=negs32), 1.0)


@pytest.mark.parametrize(
    ("model", "tau"),
    [
        (lc.LatentClassModel.one_point_per_class([0.4, 0.3, 0.2, 0.1]), 0.05),  # X < 1/4: log1p
        (lc.LatentClassModel.one_point_per_class([0.4, 0.3, 0.2, 0.1]), 2.0),  # X >= 1/4: log
        (lc.LatentClassModel.disjoint([0.5, 0.3, 0.2], [3, 2, 2]), 0.3),
        (lc.LatentClassModel.one_point_per_class([0.4, 0.3, 0.2, 0.1]), 1e-3),  # e^t overflows
    ],
)
def test_value_and_blocked_hessian_against_per_key_formulas(monkeypatch, model, tau):
    """value: per-example ``math.log1p`` summed by ``math.fsum`` (relative 1e-13);
    the blocked SYRK (``_SYRK_ROWS`` = 7: many blocks) against the Hessian written per key,
    ``τ² H = Σ_u w_u [σ diag π − σ² ππᵀ − σ(1−σ)(π e_pᵀ + e_p πᵀ) + σ(1−σ) e_p e_pᵀ]``."""
    import latentclass.empirical as emp

    sample = model.sample(3000, 4, rng=6)
    n = model.n_points
    rng = np.random.default_rng(2)
    F = rng.normal(size=(n, 3))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    G = F @ F.T
    if tau < 0.01:  # t = (G_xy − G_xx)/τ = 704 >= 700: e^t overflows, e^{−t} is still normal
        G = np.full((n, n), 0.904)
        np.fill_diagonal(G, 0.2)
    obj = EmpiricalObjective(sample, tau)
    terms = []
    for x, xp, negs in zip(sample.anchors, sample.positives, sample.negatives):
        a = [(G[x, y] - G[x, xp]) / tau for y in negs]
        m = max(0.0, *a)  # log(1 + Σ e^a) = m + log(e^{-m} + Σ e^{a − m})
        terms.append(m + math.log(math.fsum([math.exp(-m)] + [math.exp(v - m) for v in a])))
    direct = math.fsum(terms) / sample.size
    assert abs(obj.value(G) - direct) <= 1e-13 * direct
    value, M, anchors, blocks = obj.second_order(G)
    assert abs(value - direct) <= 1e-13 * direct
    monkeypatch.setattr(emp, "_SYRK_ROWS", 7)
    v7, M7, a7, b7 = obj.second_order(G)
    assert abs(v7 - direct) <= 1e-13 * direct and np.array_equal(a7, anchors)
    ref = np.zeros((anchors.size, n, n))
    grad = np.zeros((n, n))  # one-sided: row x, (σ/τ)(π − e_p) per example
    pos = {int(a): i for i, a in enumerate(anchors)}
    for x, xp, negs in zip(sample.anchors, sample.positives, sample.negatives):
        e = np.exp((G[x] - G[x].max()) / tau)
        nu = np.bincount(negs, minlength=n).astype(float)
        pi = nu * e / (nu @ e)
        z = math.log(nu @ e) + (G[x].max() - G[x, xp]) / tau
        sig = 0.5 * (1.0 + math.tanh(0.5 * z))  # expit(z), no overflow
        ep = np.zeros(n)
        ep[xp] = 1.0
        c = sig * (1.0 - sig)
        H = sig * np.diag(pi) - sig * sig * np.outer(pi, pi)
        H += c * (np.outer(ep, ep) - np.outer(pi, ep) - np.outer(ep, pi))
        ref[pos[int(x)]] += H / (tau * tau * sample.size)
        grad[x] += sig * (pi - ep) / (tau * sample.size)
    grad = 0.5 * (grad + grad.T)
    for g in (M, M7, obj.value_and_grad(G)[1]):
        assert np.abs(g - grad).max() <= 1e-13 * np.abs(grad).max()
    scale = np.abs(ref).max()
    assert np.abs(b7 - ref).max() <= 1e-13 * scale
    assert np.abs(blocks - ref).max() <= 1e-13 * scale
    # derivatives only (Newton's method): no value, the same gradient and blocks bit for bit
    # (as the blocked call above)
    nv, Mn, an, bn = obj.second_order(G, need_value=False)
    assert nv is None and np.array_equal(Mn, M7) and np.array_equal(bn, b7)


def test_frequency_model_from_the_aggregation_is_the_same():
    from latentclass.empirical import _frequency_model

    model = lc.LatentClassModel.one_point_per_class([0.4, 0.3, 0.2, 0.1])
    sample = model.sample(7000, 5, rng=9)
    obj = EmpiricalObjective(sample, 1.0)
    a, b = _frequency_model(sample), _frequency_model(sample, obj)
    assert a is not None and b is not None
    assert np.array_equal(np.asarray(a.class_probs), np.asarray(b.class_probs))
    assert np.array_equal(obj._anchor_counts, np.bincount(sample.anchors, minlength=4))


def test_gram_newton_asks_for_derivatives_only():
    """``_gram_newton`` calls ``second_order`` with ``need_value=False`` where the objective
    takes the keyword (and plainly otherwise), and the result is the same certified point."""
    from latentclass._solvers.gram_newton import _derivatives_only, _gram_newton
    from latentclass.empirical import _frequency_model

    model = lc.LatentClassModel.one_point_per_class([0.4, 0.3, 0.2, 0.1])
    sample = model.sample(4000, 6, rng=3)
    obj = EmpiricalObjective(sample, 0.5)
    seen = []

    class Spy:
        def __init__(self):
            self.n, self.convex = obj.n, True
            self.second_order_cost = obj.second_order_cost
            self.unchecked_value_and_grad = obj.unchecked_value_and_grad
            self.value_and_grad = obj.value_and_grad

        def second_order(self, G, *, need_value=True):
            seen.append({"need_value": need_value})
            return obj.second_order(G, need_value=need_value)

    class Plain(Spy):
        def second_order(self, G):  # the protocol without the keyword
            seen.append({})
            return obj.second_order(G)

    fm = _frequency_model(sample, obj)
    runs = []
    for cls in (Spy, Plain):
        seen.clear()
        runs.append(_gram_newton(fm, cls(), 1e-10))
        assert seen and all(kw == ({"need_value": False} if cls is Spy else {}) for kw in seen)
    assert runs[0] is not None and runs[1] is not None
    assert np.array_equal(runs[0].gram, runs[1].gram) and runs[0].certificate.gap <= 1e-10
    assert _derivatives_only(obj).keywords == {"need_value": False}

    class Callable:  # no __code__: the signature is read with inspect
        def __call__(self, G, need_value=True):
            return need_value

    class Wrapped:
        second_order = Callable()

    class PositionalOnly:
        def second_order(self, G):
            return "plain"

    assert _derivatives_only(Wrapped())(None) is False
    assert _derivatives_only(PositionalOnly())(None) == "plain"


def test_population_hessian_model_saves_one_exact_pass_and_changes_nothing_certified():
    """The first Newton step with the population Hessian of the anchors' frequencies: one
    exact ``second_order`` pass fewer, the same number of steps, the same certified optimum
    (to the certificate's tolerance); the gradient it uses is the objective's own."""
    from latentclass._solvers import gram_newton as gn
    from latentclass._solvers.starts import _centred_start
    from latentclass.empirical import _frequency_model, _population_hessian_model

    model = lc.LatentClassModel.one_point_per_class([0.45, 0.25, 0.15, 0.1, 0.05])
    sample = model.sample(60000, 8, rng=4)
    obj = EmpiricalObjective(sample, 0.7)
    hm = _population_hessian_model(obj)
    assert hm is not None
    G0 = _centred_start(_frequency_model(sample, obj))
    value, M, anchors, blocks = hm(G0)
    assert value is None and np.array_equal(M, obj.unchecked_value_and_grad(G0)[1])
    exact = obj.second_order(G0)[3]
    assert np.abs(blocks - exact)[:, ~np.eye(5, dtype=bool)].max() > 0  # a different model
    calls = []

    def counted(G):
        calls.append(1)
        return obj.second_order(G, need_value=False)

    runs = []
    for f, steps_of_model in ((hm, 1), (hm, 2), (None, 0)):
        calls.clear()
        out = gn.kkt_newton(counted, G0, final_step_at=1e-5, model=f, model_steps=steps_of_model)
        G, steps = out
        runs.append((gn._projected_run(obj, G, steps, 1e-10), len(calls), steps))
    (one, n1, s1), (two, n2, s2), (plain, n0, s0) = runs
    assert one is not None and two is not None and plain is not None
    assert n1 == n0 - 1 and s1 == s0  # measured: 4 exact passes, 3 with the model once
    assert n2 <= n1 and s2 <= s0 + 1
    for run in (one, two):
        assert abs(run.loss - plain.loss) <= 1e-10 and run.certificate.gap <= 1e-10


def test_population_hessian_model_only_where_it_models_the_objective():
    from latentclass.empirical import _population_hessian_model

    point = lc.LatentClassModel.disjoint([0.5, 0.5], [2, 2])  # positives differ from anchors
    assert _population_hessian_model(EmpiricalObjective(point.sample(2000, 3, rng=1), 1.0)) is None
    cls = lc.LatentClassModel.one_point_per_class([0.4, 0.3, 0.2, 0.1])
    obj = EmpiricalObjective(cls.sample(2000, 3, rng=1), 1.0)
    assert _population_hessian_model(obj) is not None
    hinge = EmpiricalObjective(cls.sample(2000, 3, rng=1), 1.0, loss="hinge")
    assert _population_hessian_model(hinge) is None  # another loss
    assert _population_hessian_model(hinge.smoothed_hinge(0.1)) is None  # another kernel


def test_a_wrong_hessian_model_cannot_reach_the_certificate(monkeypatch):
    """The model only steers the iteration: with a grossly wrong Hessian model the run either
    still converges or falls back to the plain run; either way the result is certified by the
    objective itself."""
    import latentclass.empirical as emp

    model = lc.LatentClassModel.one_point_per_class([0.4, 0.3, 0.2, 0.1])
    sample = model.sample(20000, 5, rng=8)
    good = emp.empirical_optimum(sample, 1.0)
    real = emp._population_hessian_model

    def wrong(objective):
        f = real(objective)
        assert f is not None

        def bad(G):
            v, M, a, b = f(G)
            return v, M, a, -50.0 * b  # a negative definite "Hessian"

        return bad

    monkeypatch.setattr(emp, "_population_hessian_model", wrong)
    res = emp.empirical_optimum(sample, 1.0)
    assert res.certified and res.duality_gap <= 1e-7
    assert abs(res.empirical_loss - good.empirical_loss) <= 1e-9


def test_hessian_model_after_damped_steps():
    """Slow case (k = 4, τ = 0.2, damped steps far from the solution): the model's
    derivatives are used after every damped step as well, so at most half the exact passes
    of the plain iteration remain; the certified loss is the same."""
    from latentclass._solvers import gram_newton as gn
    from latentclass._solvers.starts import _centred_start
    from latentclass.empirical import _frequency_model, _population_hessian_model
    from latentclass.families import parse_class_probs

    model = lc.LatentClassModel.one_point_per_class(parse_class_probs("dominant:10:0.5"))
    sample = model.sample(20000, 4, rng=0)
    obj = EmpiricalObjective(sample, 0.2)
    G0 = _centred_start(_frequency_model(sample, obj))
    hm = _population_hessian_model(obj)
    counts, losses = [], []
    for f in (None, hm):
        calls = []

        def counted(G):
            calls.append(1)
            return obj.second_order(G, need_value=False)

        G, steps = gn.kkt_newton(counted, G0, final_step_at=1e-5, model=f)
        run = gn._projected_run(obj, G, steps, 1e-10)
        assert run is not None
        counts.append(len(calls))
        losses.append(run.loss)
    assert counts[1] <= counts[0] // 2  # measured: 16 exact passes, then 6
    assert abs(losses[0] - losses[1]) <= 1e-12
