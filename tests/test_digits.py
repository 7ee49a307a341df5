"""The digits experiment (issue 16) on the real bundled data: split, sampler, gradients,
reproducibility, held-out numbers recomputed independently, the figure's check and the
missing-scikit-learn path."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

pytest.importorskip("sklearn")

from scipy import stats

import latentclass.digits as dg
from latentclass.cli import main
from latentclass.figures import digits as fig_digits
from latentclass.training.encoders import _encoder_forward, _init_encoder

TINY = dict(ks=(1, 8), encoders=("linear",), seeds=2, steps=8, batch_size=8)


@pytest.fixture(scope="module")
def quick():
    return dg.run_digits_experiment(quick=True, rng=0, progress=False)


def test_split_is_stratified_centred_and_seeded():
    from sklearn.datasets import load_digits

    d = dg.load_digits_split(0.3, seed=1)
    y_all = load_digits().target
    n_c = np.bincount(y_all)
    assert d.X_train.shape[1] == 64 and d.X_train.shape[0] + d.X_test.shape[0] == 1797
    assert np.array_equal(np.bincount(d.y_test), np.round(0.3 * n_c).astype(int))
    assert np.abs(d.X_train.mean(axis=0)).max() <= 1e-12  # centred on the training mean
    e = dg.load_digits_split(0.3, seed=1)
    assert np.array_equal(d.X_test, e.X_test) and np.array_equal(d.y_train, e.y_train)
    f = dg.load_digits_split(0.3, seed=2)
    assert not np.array_equal(d.X_test, f.X_test)
    # the two parts together are the dataset (as multisets of images, up to the shift)
    X = load_digits().data / 16.0
    centre = X.mean(axis=0) - (d.X_train.sum(0) + d.X_test.sum(0)) / 1797
    both = np.vstack([d.X_train, d.X_test]) + centre
    key = lambda A: np.sort(np.round(A @ np.arange(1, 65), 6))
    assert np.allclose(key(both), key(X), atol=1e-6)
    with pytest.raises(ValueError, match="test_fraction"):
        dg.load_digits_split(1.0)


def test_positives_are_another_image_of_the_same_class_uniformly():
    y = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    sample = dg._positive_sampler(y)
    gen = np.random.default_rng(0)
    anchors = np.repeat(np.arange(y.size), 4000)
    pos = sample(anchors, gen)
    assert np.all(y[pos] == y[anchors]) and np.all(pos != anchors)
    for a in range(y.size):  # uniform over the n_c − 1 other images (5 standard errors)
        others = np.flatnonzero((y == y[a]) & (np.arange(y.size) != a))
        got = pos[anchors == a]
        p = 1 / others.size
        for o in others:
            freq = np.mean(got == o)
            assert abs(freq - p) <= 5 * math.sqrt(p * (1 - p) / got.size)


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_table_route_gradient_equals_gather_route_and_finite_differences(kind):
    gen = np.random.default_rng(1)
    X = gen.standard_normal((30, 6))
    params = _init_encoder(gen, kind, 6, 4, 5)
    a, p = gen.integers(0, 30, 5), gen.integers(0, 30, 5)
    neg = gen.integers(0, 30, (5, 7))
    l1, g1 = dg._batch_loss_and_grad(kind, params, X, a, p, neg, 0.7, "gather")
    l2, g2 = dg._batch_loss_and_grad(kind, params, X, a, p, neg, 0.7, "table")
    assert abs(l1 - l2) <= 1e-13
    for x, z in zip(g1, g2):
        assert np.allclose(x, z, atol=1e-13, rtol=0)

    def loss(ps):  # the loss from its definition (SPEC §2), not from the library
        F = _encoder_forward(kind, ps, X)[0]
        s = (
            np.einsum("bd,bkd->bk", F[a], F[neg]) - np.einsum("bd,bd->b", F[a], F[p])[:, None]
        ) / 0.7
        return float(np.mean(np.log1p(np.exp(s).sum(axis=1))))

    assert loss(params) == pytest.approx(l2, rel=1e-12)
    h = 1e-6
    for i, P in enumerate(params):
        for idx in [tuple(gen.integers(0, s) for s in P.shape) for _ in range(3)]:
            up = [q.copy() for q in params]
            dn = [q.copy() for q in params]
            up[i][idx] += h
            dn[i][idx] -= h
            fd = (loss(up) - loss(dn)) / (2 * h)
            assert fd == pytest.approx(g2[i][idx], abs=1e-7, rel=1e-5)


def test_quick_run_on_the_real_data(quick):
    s = quick.settings
    assert s["ks"] == [1, 16, 256] and s["encoders"] == ["linear", "mlp"] and s["seeds"] == 3
    assert len(quick.rows) == 2 * 3 * 3 and len(quick.summary) == 2 * 3
    assert abs(quick.class_probs.sum() - 1) <= 1e-12 and quick.class_probs.size == 10
    for r in quick.rows:
        assert 0.5 < r["heldout_accuracy"] <= 1.0  # far above chance (0.1) even in quick mode
        assert r["heldout_loss"] > 0 and r["nc1"] > 0 and 0 <= r["simplex_error"] <= 2
    for r in quick.summary:
        assert r["optimum_certified"] and r["predicted_accuracy"] == 1.0
        sel = [
            x["heldout_accuracy"]
            for x in quick.rows
            if x["encoder"] == r["encoder"] and x["k"] == r["k"]
        ]
        lo, hi = stats.t.interval(0.95, len(sel) - 1, loc=np.mean(sel), scale=stats.sem(sel))
        assert r["heldout_accuracy"] == pytest.approx(np.mean(sel), abs=1e-15)
        assert r["heldout_accuracy_ci"] == pytest.approx((hi - lo) / 2, rel=1e-12)
    text = quick.table()
    assert "linear" in text and "256" in text
    doc = json.loads(quick.to_json())
    assert doc["settings"]["dataset"] == "sklearn.datasets.load_digits" and "versions" in doc


def test_predicted_values_are_the_optimum_of_the_empirical_class_law(quick):
    import latentclass as lc

    model = lc.LatentClassModel.one_point_per_class(quick.class_probs)
    r = next(x for x in quick.summary if x["k"] == 16)
    opt = lc.optimal_representation(model, 16, quick.settings["tau"])
    assert r["optimum_loss"] == pytest.approx(opt.loss, abs=1e-9)
    # the class law is near uniform: the prediction is within rounding of the simplex value
    m, tau = 10, quick.settings["tau"]
    simplex_value = math.log1p((m - 1) * math.exp(-m / ((m - 1) * tau)))
    assert abs(r["predicted_loss"] - simplex_value) <= 5e-3


def test_heldout_numbers_recomputed_independently():
    exp = dg.run_digits_experiment(**TINY, rng=3, progress=False)
    data = dg.load_digits_split(0.3, seed=3)
    row = exp.rows[1]  # linear, k = 1, seed 1
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):  # as the experiment runs
        params = dg._train_encoder(
            data,
            "linear",
            row["k"],
            0.5,
            dim=16,
            hidden=64,
            steps=8,
            batch_size=8,
            lr=0.01,
            init_seed=(3, row["seed"], 0),
            batch_seed=(3, row["seed"], 0, row["k"]),
        )
    f_tr = _encoder_forward("linear", params, data.X_train)[0]
    f_te = _encoder_forward("linear", params, data.X_test)[0]
    means = [f_tr[data.y_train == c].mean(axis=0) for c in range(10)]
    right, nll = 0, 0.0
    for x, c in zip(f_te, data.y_test):  # one held-out image at a time
        s = [float(x @ mu) / 0.5 for mu in means]
        right += int(max(range(10), key=lambda j: s[j]) == c and sorted(s)[-1] > sorted(s)[-2])
        top = max(s)
        nll += top + math.log(math.fsum(math.exp(v - top) for v in s)) - s[c]
    assert row["heldout_accuracy"] == pytest.approx(right / len(data.y_test), abs=1e-15)
    assert row["heldout_loss"] == pytest.approx(nll / len(data.y_test), rel=1e-12)


def test_reproducible_from_its_seed():
    a = dg.run_digits_experiment(**TINY, rng=5, progress=False)
    b = dg.run_digits_experiment(**TINY, rng=5, progress=False)
    c = dg.run_digits_experiment(**TINY, rng=6, progress=False)
    assert a.rows == b.rows and a.summary == b.summary
    assert a.rows != c.rows


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(ks=(0,)), "ks"),
        (dict(ks=(4, 4)), "repeat"),
        (dict(encoders=("cnn",)), "encoders"),
        (dict(seeds=0), "seeds"),
        (dict(steps=0), "steps"),
        (dict(tau=-1.0), "tau"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dg.run_digits_experiment(**kwargs)


def test_figure_check_passes_on_the_data_and_fails_on_a_significant_drop(quick):
    data = dict(
        summary=[dict(r) for r in quick.summary],
        rows=quick.rows,
        settings=quick.settings,
        class_probs=quick.class_probs,
    )
    passed, details = fig_digits.check_digits(data)
    assert passed, details["verdict"]
    bad = [dict(r) for r in quick.summary]
    last = max(r["k"] for r in bad)
    for r in bad:
        if r["encoder"] == "mlp" and r["k"] == last:
            r["heldout_accuracy"], r["heldout_accuracy_ci"] = 0.3, 0.01
    passed, details = fig_digits.check_digits(dict(data, summary=bad))
    assert not passed and details["significant_drops"]
    assert "DROPS" in details["verdict"]
    uncertified = [dict(r, optimum_certified=False) for r in quick.summary]
    assert not fig_digits.check_digits(dict(data, summary=uncertified))[0]


def test_without_scikit_learn_the_figure_is_skipped_and_the_rest_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(dg, "sklearn_available", lambda: False)
    argv = ["figures", "--quick", "--out", str(tmp_path), "--only", "digits", "large_k_limit"]
    code = main(argv)
    out = capsys.readouterr().out
    assert code == 0 and "skipped: scikit-learn is not installed" in out
    records = json.loads((tmp_path / "manifest.json").read_text())["figures"]
    by = {r["name"]: r for r in records}
    assert by["large_k_limit"]["passed"] and by["large_k_limit"]["files"]
    assert by["digits"]["skipped"] == dg.DATA_EXTRA_HINT and by["digits"]["files"] == []
    assert "pip install 'latentclass[data]'" in by["digits"]["skipped"]
    assert main(["digits", "--quick"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'latentclass[data]'" in err


def test_cli_digits(tmp_path, capsys):
    out = tmp_path / "d.json"
    argv = [
        "digits",
        "-k",
        "1,4",
        "--encoders",
        "linear",
        "--seeds",
        "2",
        "--steps",
        "5",
        "--batch-size",
        "8",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "held-out acc" in text and "# wrote" in text
    doc = json.loads(out.read_text())
    assert doc["settings"]["ks"] == [1, 4] and len(doc["rows"]) == 4
    for bad, match in (
        (["digits", "-k", "0"], "--negatives"),
        (["digits", "--encoders", "cnn"], "--encoders"),
        (["digits", "--seeds", "0"], "--seeds"),
        (["digits", "--out", str(tmp_path / "x.txt")], "--out"),
    ):
        assert main(bad) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and match in err
