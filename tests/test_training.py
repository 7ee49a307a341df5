"""Training with sampled negatives (issue 8).

Independent references: the sampled loss of ``latentclass.nce`` (values; central finite
differences of it for every gradient), the closed-form simplex loss and Gram matrix
(SPEC §5), Gaussian tail probabilities (scipy.stats.norm) for the held-out evaluator,
and the certified optimum for the experiment.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from oracles import simplex_gram as _simplex_gram
from scipy.stats import norm

from latentclass.closed_form import simplex_loss
from latentclass.model import GaussianLatentClassModel, LatentClassModel
from latentclass.nce import nce_loss
from latentclass.training import (
    SGD,
    Adam,
    LinearEncoder,
    MLPEncoder,
    TrainingResult,
    default_experiment_models,
    encoder_loss_and_grad,
    heldout_mean_classifier,
    run_training_experiment,
    sampled_loss_and_grad,
    train,
)
from latentclass.training.sampled_gradients import _table_loss_and_grad


def _ball_table(n, d, rng, lo=0.3, hi=0.9):
    F = rng.standard_normal((n, d))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    return F * rng.uniform(lo, hi, size=(n, 1))


def _central_fd(fun, x, h=1e-6):
    """Central differences of a scalar function of the array ``x`` (all entries)."""
    g = np.empty_like(x)
    for idx in np.ndindex(x.shape):  # test-only reference: one entry at a time
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        g[idx] = (fun(xp) - fun(xm)) / (2 * h)
    return g


def _gauss_model(sep=6.0, m=3, p=5):
    means = np.zeros((m, p))
    means[np.arange(m), np.arange(m)] = sep
    return GaussianLatentClassModel(np.array([0.5, 0.3, 0.2])[:m], means, 1.0)


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("tau", [1.0, 0.3])
def test_table_gradient_matches_finite_differences(tau):
    rng = np.random.default_rng(1)
    model = LatentClassModel([0.2, 0.5, 0.3], rng.dirichlet(np.ones(7), size=3))
    F = _ball_table(7, 4, rng)
    s = model.sample(64, 5, rng=2)
    loss, grad = sampled_loss_and_grad(F, s, tau)
    assert loss == pytest.approx(nce_loss(F, s, tau).mean, rel=1e-13)
    fd = _central_fd(lambda X: nce_loss(X, s, tau).mean, F)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9 * np.abs(fd).max())
    # the two scatter routes (Gram gradient + bincount, rows + add.at) agree
    for route in ("gram", "rows"):
        l2, g2 = _table_loss_and_grad(F, s.anchors, s.positives, s.negatives, tau, route=route)
        assert l2 == pytest.approx(loss, rel=1e-13)
        np.testing.assert_allclose(g2, grad, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_encoder_gradient_matches_finite_differences(kind):
    rng = np.random.default_rng(3)
    model = GaussianLatentClassModel([0.6, 0.4], rng.standard_normal((2, 3)), 0.8)
    s = model.sample(32, 4, rng=4)
    tau = 0.7
    if kind == "linear":
        params = [rng.standard_normal((3, 4)), 0.3 * rng.standard_normal(4)]
        make = LinearEncoder
    else:
        params = [
            rng.standard_normal((3, 5)),
            0.3 * rng.standard_normal(5),
            rng.standard_normal((5, 4)),
            0.3 * rng.standard_normal(4),
        ]
        make = MLPEncoder
    enc = make(*params)
    loss, grads = encoder_loss_and_grad(enc, s, tau)
    assert loss == pytest.approx(nce_loss(enc, s, tau).mean, rel=1e-13)
    assert len(grads) == len(params)
    for i, p in enumerate(params):

        def f(x, i=i):
            ps = list(params)
            ps[i] = x
            return nce_loss(make(*ps), s, tau).mean

        fd = _central_fd(f, p)
        np.testing.assert_allclose(grads[i], fd, rtol=1e-6, atol=1e-8 * np.abs(fd).max())


def test_blocked_computation_matches_one_block(monkeypatch):
    import latentclass.training.sampled_gradients as tr

    rng = np.random.default_rng(9)
    model = LatentClassModel([0.5, 0.5], rng.dirichlet(np.ones(5), size=2))
    F = _ball_table(5, 3, rng)
    s = model.sample(50, 3, rng=1)
    gm = GaussianLatentClassModel([0.5, 0.5], rng.standard_normal((2, 3)))
    sg = gm.sample(50, 3, rng=2)
    enc = MLPEncoder(
        rng.standard_normal((3, 4)), np.zeros(4), rng.standard_normal((4, 2)), np.zeros(2)
    )
    whole = _table_loss_and_grad(F, s.anchors, s.positives, s.negatives, 1.0, route="rows")
    whole_enc = encoder_loss_and_grad(enc, sg)
    monkeypatch.setattr(tr, "_BLOCK_ELEMENTS", 37)  # blocks of one or two examples
    assert len(tr._blocks(50, 3, 4)) > 10
    part = _table_loss_and_grad(F, s.anchors, s.positives, s.negatives, 1.0, route="rows")
    part_enc = encoder_loss_and_grad(enc, sg)
    assert part[0] == pytest.approx(whole[0], rel=1e-13)
    np.testing.assert_allclose(part[1], whole[1], rtol=1e-12, atol=1e-15)
    assert part_enc[0] == pytest.approx(whole_enc[0], rel=1e-13)
    for a, b in zip(part_enc[1], whole_enc[1]):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-14)


def test_encoder_outputs_on_unit_sphere():
    rng = np.random.default_rng(5)
    enc = MLPEncoder(
        rng.standard_normal((3, 6)), np.zeros(6), rng.standard_normal((6, 2)), np.zeros(2)
    )
    out = enc(rng.standard_normal((50, 3)))
    assert out.shape == (50, 2)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-14)
    with pytest.raises(ValueError, match="X must have shape"):
        enc(np.zeros((4, 5)))


def test_encoder_parameter_shapes_are_checked():
    with pytest.raises(ValueError, match="bias"):
        LinearEncoder(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="weight2"):
        MLPEncoder(np.zeros((3, 4)), np.zeros(4), np.zeros((5, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="weight must be 2-D"):
        LinearEncoder(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="encoder expects 2"):
        encoder_loss_and_grad(
            LinearEncoder(np.eye(2), np.zeros(2)), _gauss_model().sample(4, 2, rng=0)
        )


def test_loss_is_stable_for_extreme_temperatures():
    rng = np.random.default_rng(6)
    model = LatentClassModel.one_point_per_class([0.5, 0.5])
    F = np.array([[1.0, 0.0], [-1.0, 0.0]])
    s = model.sample(200, 8, rng=rng)
    loss, grad = sampled_loss_and_grad(F, s, 1e-3)  # scores up to ±2000
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    assert loss == pytest.approx(nce_loss(F, s, 1e-3).mean, rel=1e-12)


# --------------------------------------------------------------------------- optimisers
def test_optimizers_match_their_update_formulas():
    g = np.array([0.5, -2.0])
    p = np.array([1.0, 1.0])
    adam = Adam(0.1)
    adam.update([p], [g])  # first step: m̂ = g, v̂ = g², step = lr·g/(|g| + eps)
    np.testing.assert_allclose(
        p, [1.0 - 0.1 * 0.5 / (0.5 + 1e-8), 1.0 + 0.1 * 2.0 / (2.0 + 1e-8)], rtol=1e-15
    )
    q = np.array([1.0, 1.0])
    sgd = SGD(0.1, momentum=0.5)
    sgd.update([q], [g])
    sgd.update([q], [g])  # v = g, then 1.5 g
    np.testing.assert_allclose(q, 1.0 - 0.1 * g - 0.1 * 1.5 * g, rtol=1e-15)


# --------------------------------------------------------------------------- training (finite)
M6 = LatentClassModel.one_point_per_class(np.full(6, 1 / 6))


@pytest.fixture(scope="module")
def uniform_run():
    return train(M6, 4, 0.5, steps=600, batch_size=256, rng=7, optimum=simplex_loss(6, 4, 0.5))


def test_uniform_training_reaches_the_simplex(uniform_run):
    from latentclass.population import population_loss

    r = uniform_run
    L_star = simplex_loss(6, 4, 0.5)
    pop = population_loss(M6, r.F, 4, 0.5)
    assert pop == r.population_loss
    assert 0.0 <= pop - L_star < 5e-3
    assert r.gap == pytest.approx(pop - L_star, abs=1e-15)
    assert np.abs(r.F @ r.F.T - _simplex_gram(6)).max() < 0.05
    assert np.all(np.linalg.norm(r.F, axis=1) <= 1.0 + 1e-12)


def test_same_seed_same_bits(uniform_run):
    again = train(M6, 4, 0.5, steps=600, batch_size=256, rng=7, optimum=simplex_loss(6, 4, 0.5))
    assert again.F.tobytes() == uniform_run.F.tobytes()
    for name in ("step", "batch_loss", "population_loss", "gap"):
        assert (
            getattr(again.history, name).tobytes() == getattr(uniform_run.history, name).tobytes()
        )
    other = train(M6, 4, 0.5, steps=600, batch_size=256, rng=8, optimum=None)
    assert other.F.tobytes() != uniform_run.F.tobytes()
    assert other.gap is None and other.history.gap is None


def test_history_records_population_loss_at_eval_steps():
    from latentclass.population import population_loss

    seen = []
    r = train(
        M6,
        2,
        1.0,
        steps=25,
        batch_size=32,
        eval_every=10,
        rng=0,
        optimum=None,
        progress=lambda p: seen.append((p.done, p.detail)),
    )
    assert r.history.step.tolist() == [10, 20, 25]
    assert [s for s, _ in seen] == list(range(1, 26))
    # the batch loss column is the mean of the batch losses since the previous record
    losses = np.array([l for _, l in seen])
    np.testing.assert_allclose(
        r.history.batch_loss,
        [losses[:10].mean(), losses[10:20].mean(), losses[20:].mean()],
        rtol=1e-15,
    )
    assert r.history.population_loss[-1] == population_loss(M6, r.F, 2, 1.0)
    assert np.all(np.diff(r.history.train_seconds) >= 0)
    assert r.train_seconds > 0 and r.seconds_per_step == pytest.approx(r.train_seconds / 25)
    assert "TrainingResult(" in repr(r) and "array(6, 6)" in repr(r)
    assert isinstance(r, TrainingResult)


def test_sgd_and_tqdm_progress(capsys):
    r = train(
        M6,
        4,
        0.5,
        steps=400,
        batch_size=256,
        optimizer="sgd",
        rng=1,
        optimum=simplex_loss(6, 4, 0.5),
        progress=True,
    )
    assert r.gap < 5e-3
    assert "train" in capsys.readouterr().err


# --------------------------------------------------------------------------- Gaussian
def test_heldout_evaluator_matches_closed_form():
    # 1-D, two classes at ±μ, encoder f(x) = sign(x): accuracy Φ(μ/σ) exactly; loss
    # Φ log(1+e^{-2r/τ}) + (1-Φ) log(1+e^{2r/τ}) with r = 2Φ - 1 (class means ±r).
    mu, sigma, tau = 1.2, 1.0, 0.5
    model = GaussianLatentClassModel([0.5, 0.5], [[-mu], [mu]], sigma)
    enc = LinearEncoder(np.ones((1, 1)), np.zeros(1))
    est = heldout_mean_classifier(model, enc, tau, size=40000, n_means=40000, rng=11)
    Phi = norm.cdf(mu / sigma)
    r = 2 * Phi - 1

    def loss(r):
        return Phi * math.log1p(math.exp(-2 * r / tau)) + (1 - Phi) * math.log1p(
            math.exp(2 * r / tau)
        )

    assert abs(est.accuracy - Phi) < 4 * est.accuracy_stderr
    # class-mean estimation error: se(r̂) = sqrt(1 - r²)/sqrt(n_means) per class
    se_r = math.sqrt(1 - r * r) / math.sqrt(est.n_means)
    dloss = abs(loss(r + 1e-6) - loss(r - 1e-6)) / 2e-6
    assert abs(est.loss - loss(r)) < 4 * est.loss_stderr + 4 * dloss * se_r
    np.testing.assert_allclose(np.abs(est.class_means[:, 0]), r, atol=5 * se_r)


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_gaussian_training_well_separated_accuracy(kind):
    model = _gauss_model(sep=6.0)
    r = train(model, 4, 1.0, steps=150, batch_size=128, encoder=kind, hidden=16, rng=0)
    assert r.F is None and r.population_loss is None and r.gap is None
    assert r.encoder.dim == 3 and r.encoder.input_dim == 5
    again = train(model, 4, 1.0, steps=150, batch_size=128, encoder=kind, hidden=16, rng=0)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(again.encoder.params, r.encoder.params))
    est = heldout_mean_classifier(model, r.encoder, 1.0, size=5000, n_means=1000, rng=1)
    assert est.accuracy - 3 * est.accuracy_stderr > 0.95
    # training, not the architecture, did it: the initial encoder (same seed, no real step)
    # has a clearly larger held-out downstream loss
    init = train(model, 4, 1.0, steps=1, batch_size=2, lr=1e-12, encoder=kind, hidden=16, rng=0)
    est0 = heldout_mean_classifier(model, init.encoder, 1.0, size=5000, n_means=1000, rng=1)
    assert est.loss + 5 * (est.loss_stderr + est0.loss_stderr) < est0.loss
    # the trained encoder improved the sampled loss on held-out data
    fresh = model.sample(4000, 4, rng=2)
    assert nce_loss(r.encoder, fresh).mean < r.history.batch_loss[0]


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"steps": 0}, ValueError, "steps"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"lr": 0.0}, ValueError, "lr"),
        ({"lr": -1.0}, ValueError, "lr"),
        ({"optimizer": "rmsprop"}, ValueError, "optimizer"),
        ({"dim": 0}, ValueError, "dim"),
        ({"schedule": "step"}, ValueError, "schedule"),
        ({"eval_every": 0}, ValueError, "eval_every"),
        ({"final_lr_fraction": 2.0}, ValueError, "final_lr_fraction"),
        ({"progress": "yes"}, TypeError, "progress"),
        ({"optimum": "best"}, ValueError, "optimum"),
        ({"steps": 2.5}, ValueError, "steps"),
    ],
)
def test_bad_input_is_named(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        train(M6, 2, 1.0, **{"optimum": None, **kwargs})


def test_bad_model_k_tau():
    with pytest.raises(TypeError, match="model"):
        train(np.eye(3), 2)
    with pytest.raises(ValueError, match="k"):
        train(M6, 0, optimum=None)
    with pytest.raises(ValueError, match="tau"):
        train(M6, 2, -1.0, optimum=None)
    with pytest.raises(ValueError, match="encoder"):
        train(_gauss_model(), 2, encoder="cnn")
    with pytest.raises(ValueError, match="sample"):
        sampled_loss_and_grad(np.zeros((3, 2)), _gauss_model().sample(4, 2, rng=0))
    with pytest.raises(ValueError, match="F rows must have norm"):
        sampled_loss_and_grad(np.full((6, 2), 1.0), M6.sample(4, 2, rng=0))


# --------------------------------------------------------------------------- experiment + CLI
@pytest.fixture(scope="module")
def quick_experiment():
    return run_training_experiment(ks=(1, 8), quick=True, rng=0)


def test_experiment_against_certified_optimum(quick_experiment):
    from latentclass.optimize import optimal_representation

    ex = quick_experiment
    assert ex.models == ("uniform", "zipf", "gaussian")
    assert len(ex.rows) == len(ex.curves) == 6
    from latentclass.downstream import mean_classifier_accuracy
    from latentclass.population import population_loss

    models = default_experiment_models()
    for k in ex.ks:
        u = ex.row("uniform", k)
        F = ex.results[ex.rows.index(u)].F
        assert u.optimum_loss == pytest.approx(simplex_loss(6, k, 1.0), abs=1e-8)
        assert u.optimum_simplex_error < 1e-5
        assert u.gap == pytest.approx(
            population_loss(models["uniform"][0], F, k, 1.0) - u.optimum_loss, abs=1e-12
        )
        assert 0 <= u.gap < 5e-3
        assert u.simplex_error == pytest.approx(np.abs(F @ F.T - _simplex_gram(6)).max(), abs=1e-12)
        z = ex.row("zipf", k)
        zm = models["zipf"][0]
        Fz = ex.results[ex.rows.index(z)].F
        opt = optimal_representation(zm, k, 1.0)
        assert z.optimum_loss == pytest.approx(opt.loss, abs=1e-12)
        assert z.gap == pytest.approx(population_loss(zm, Fz, k, 1.0) - opt.loss, abs=1e-12)
        assert -1e-9 <= z.gap < 1e-3
        pairs = np.linalg.norm(Fz[0::2] - Fz[1::2], axis=1)  # class c owns points 2c, 2c+1
        assert z.collapse_error == pytest.approx(pairs.max(), abs=1e-12)
        assert z.downstream_accuracy == mean_classifier_accuracy(zm, Fz)
        g = ex.row("gaussian", k)
        assert g.gap is None and 0 < g.downstream_accuracy <= 1 and g.downstream_accuracy_stderr > 0
        c = ex.curve("zipf", k)
        assert c.gap is not None and c.step[-1] == ex.settings["steps"]
    acc = ex.series("gaussian", "downstream_accuracy")
    assert acc.shape == (2,) and np.all(acc > 0.5)
    d = json.loads(ex.to_json())
    assert d["rows"][0]["model"] == "uniform" and "gap" in d["curves"][0]
    assert d["versions"]["numpy"] == np.__version__
    assert "downstream_accuracy" in ex.table().splitlines()[0]


def test_cli_train(tmp_path, capsys):
    from latentclass.cli import main

    out = tmp_path / "train.json"
    assert main(["train", "--quick", "--negatives", "1,2", "--steps", "60", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "uniform" in printed and "gaussian" in printed
    data = json.loads(out.read_text())
    assert data["ks"] == [1, 2] and data["settings"]["steps"] == 60
    assert main(["train", "--negatives", "0,2"]) == 2
    assert "negatives" in capsys.readouterr().err
