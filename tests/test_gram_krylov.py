"""The Gram-space Newton–Krylov path (latentclass/_solvers/gram_krylov.py, SPEC §4).

Its model Hessian is checked by finite differences of the exact gradients; its optima against
CVXPY + Clarabel (values and Gram matrices) and against the general Burer–Monteiro solver run
on the same objective; every result it returns is feasible and judged by the certificate.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import latentclass as lc
from latentclass._solvers.gram_krylov import _ModelHessian, gram_krylov
from latentclass.certificate import feasibility
from latentclass.population import NCEObjective


def _class_model(kind: str, m: int, seed: int = 0) -> lc.LatentClassModel:
    if kind == "zipf":
        rho = np.arange(1, m + 1) ** -1.1
    else:
        rho = np.random.default_rng(seed).dirichlet(np.full(m, 0.5))
    return lc.LatentClassModel.one_point_per_class(rho / rho.sum())


def _gram(m: int, rng) -> np.ndarray:
    F = rng.standard_normal((m, m))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    return F @ F.T


@pytest.mark.parametrize("k", [1, math.inf])
@pytest.mark.parametrize("tau", [0.3, 1.0])
def test_model_hessian_is_the_exact_hessian_for_k_1_and_infinity(k, tau):
    rng = np.random.default_rng(1)
    m = 7
    model = _class_model("dirichlet", m, seed=2)
    G = _gram(m, rng)
    X = rng.standard_normal((m, m))
    X = X + X.T
    np.fill_diagonal(X, 0.0)
    H = _ModelHessian(G, model.class_probs, tau, k)
    out = np.empty((m, m))
    HX = H.apply(X, out)
    obj = NCEObjective(model, k, tau)
    e = 1e-5
    fd = (obj.value_and_grad(G + e * X)[1] - obj.value_and_grad(G - e * X)[1]) / (2 * e)
    np.fill_diagonal(fd, 0.0)
    assert np.max(np.abs(HX - fd)) <= 1e-8 * np.max(np.abs(fd))
    # the diagonal used by the preconditioner is the diagonal of this operator
    i, j = 2, 5
    E = np.zeros((m, m))
    E[i, j] = E[j, i] = 1.0
    assert H.apply(E, np.empty((m, m)))[i, j] == pytest.approx(H.diag[i, j], rel=1e-12)


@pytest.mark.parametrize(
    ("kind", "m", "k", "tau"),
    [
        ("zipf", 8, 5, 1.0),
        ("dirichlet", 6, 4, 1.0),
        ("dirichlet", 30, math.inf, 0.5),
        ("zipf", 30, 1, 1.0),
    ],
)
def test_krylov_optimum_matches_clarabel(kind, m, k, tau):
    pytest.importorskip("cvxpy")
    from latentclass.conic import conic_optimum

    model = _class_model(kind, m)
    obj = NCEObjective(model, k, tau)
    run = gram_krylov(model, obj, k, tau, target=1e-10)
    assert run is not None and run.solver == "gram-newton-krylov"
    assert feasibility(run.gram).feasible
    assert run.certificate.gap <= 1e-8
    ref = conic_optimum(model, k, tau)
    assert run.loss == pytest.approx(ref.loss, abs=1e-7)


@pytest.mark.parametrize(
    ("kind", "m", "k", "tau"),
    [
        ("zipf", 40, 16, 0.5),
        ("dirichlet", 40, 64, 1.0),
        ("dirichlet", 40, 10**6, 0.5),
        ("zipf", 40, 65536, 0.5),
    ],
)
def test_optimal_representation_takes_the_krylov_path_and_agrees_with_burer_monteiro(
    kind, m, k, tau
):
    model = _class_model(kind, m)
    res = lc.optimal_representation(model, k, tau)
    assert res.solver == "gram-newton-krylov"
    assert res.certified and feasibility(res.gram).feasible
    # independent: the general solver (L-BFGS on the lifted sphere) on the same objective
    obj = NCEObjective(model, k, tau)
    bm = lc.optimal_representation(model, k, tau, init="random", rng=3)
    assert bm.solver.startswith("lifted-lbfgs")
    # weak duality both ways: neither solver's point is below the other's certified bound
    assert res.loss - res.duality_gap <= bm.loss + 1e-14
    assert bm.loss - bm.duality_gap <= res.loss + 1e-14
    # and the certificate recomputed from scratch by the public door
    cert = lc.certify(obj, res.gram)
    assert cert.certified and cert.gap <= 1e-8


def test_issue_18_dirichlet_case_is_certified():
    # Dirichlet(0.5) seed 0, m = 200, τ = 0.5, k = 10⁶: gap 1.05e-7 > 1e-7 before this path
    model = _class_model("dirichlet", 200, seed=0)
    res = lc.optimal_representation(model, 10**6, 0.5)
    assert res.certified and res.duality_gap <= 1e-8
    assert res.solver == "gram-newton-krylov"


def test_a_declined_or_unconverged_run_is_never_reported_as_certified():
    # small τ and small k: the limit Hessian is a poor model; whatever path runs, the
    # public result is certified only by the certificate
    model = _class_model("zipf", 60)
    res = lc.optimal_representation(model, 16, 0.1)
    cert = lc.certify(NCEObjective(model, 16, 0.1), res.gram)
    assert res.certified == (cert.gap <= 1e-7)


def test_warm_start_from_the_limit_optimum_is_certified_in_fewer_steps():
    # the certified k = ∞ optimum as the start of k = 65536: measured 1–2 Newton steps (cold: 3–4)
    model = _class_model("zipf", 40)
    tau = 0.5
    cold_inf = gram_krylov(model, NCEObjective(model, math.inf, tau), math.inf, tau, 1e-10)
    assert cold_inf is not None and cold_inf.certificate.gap <= 1e-8
    obj = NCEObjective(model, 65536, tau)
    cold = gram_krylov(model, obj, 65536, tau, 1e-10)
    warm = gram_krylov(model, obj, 65536, tau, 1e-10, start=cold_inf.gram)
    assert cold is not None and warm is not None
    assert warm.certificate.gap <= 1e-8 and feasibility(warm.gram).feasible
    assert warm.n_iter < cold.n_iter
    # the same optimum (values within both certified gaps)
    assert abs(warm.loss - cold.loss) <= warm.certificate.gap + cold.certificate.gap + 1e-12
    cert = lc.certify(obj, warm.gram)
    assert cert.certified


@pytest.mark.parametrize(
    ("start", "match"),
    [
        (np.eye(5), "shape"),
        (np.full((6, 6), np.nan), "finite"),
        (np.triu(np.ones((6, 6))), "symmetric"),
        (2.0 * np.eye(6), "unit diagonal"),
    ],
)
def test_a_bad_start_is_refused_by_name(start, match):
    model = _class_model("zipf", 6)
    with pytest.raises(ValueError, match=match):
        gram_krylov(model, NCEObjective(model, 16, 1.0), 16, 1.0, 1e-10, start=start)


@pytest.mark.parametrize(("kind", "tau"), [("zipf", 0.1), ("dirichlet", 0.1), ("zipf", 0.5)])
def test_exact_hessian_certifies_where_the_limit_model_declines_or_crawls(kind, tau):
    # k = 16: the limit model converges linearly (rate ≈ 0.3–0.9) and at τ = 0.1 declines;
    # with the exact Hessian the path converges quadratically and is certified
    import latentclass._solvers.gram_krylov as gk

    model = _class_model(kind, 40)
    k = 16
    obj = NCEObjective(model, k, tau)
    run = gram_krylov(model, obj, k, tau, 1e-10)
    assert run is not None and "exact Hessian" in run.status
    assert run.certificate.gap <= 1e-9 and feasibility(run.gram).feasible
    assert run.n_iter <= 8
    cert = lc.certify(obj, run.gram)
    assert cert.certified and cert.gap <= 1e-9
    # independent: the general solver on the same objective; weak duality both ways
    saved = gk._HESSIAN
    try:
        gk._HESSIAN = "model"
        bm = lc.optimal_representation(model, k, tau, init="random", rng=3)
    finally:
        gk._HESSIAN = saved
    assert bm.certified
    assert run.loss - run.certificate.gap <= bm.loss + 1e-14
    assert bm.loss - bm.duality_gap <= run.loss + 1e-14


def test_a_failing_warm_start_falls_back_to_the_cold_start():
    # Dirichlet τ = 0.1, k = 16: Newton from the k = ∞ optimum fails to backtrack (measured);
    # the cold start then runs, and the result is the cold one, certified
    model = _class_model("dirichlet", 60)
    tau = 0.1
    inf = gram_krylov(model, NCEObjective(model, math.inf, tau), math.inf, tau, 1e-10)
    assert inf is not None
    obj = NCEObjective(model, 16, tau)
    from latentclass._solvers.gram_krylov import _guarded

    assert _guarded(model, obj, 16, tau, 1e-10, inf.gram) is None  # the warm run alone fails
    warm = gram_krylov(model, obj, 16, tau, 1e-10, start=inf.gram)
    cold = gram_krylov(model, obj, 16, tau, 1e-10)
    assert warm is not None and cold is not None
    assert warm.certificate.gap <= 1e-9
    assert lc.certify(obj, warm.gram).certified
    assert abs(warm.loss - cold.loss) <= warm.certificate.gap + cold.certificate.gap + 1e-12
