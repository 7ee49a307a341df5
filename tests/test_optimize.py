"""Tests of latentclass.optimize: optimal representations and their certificate (SPEC §4, §5).

Independent references:
- the closed form ``simplex_loss`` / ``simplex_gram`` (uniform ρ);
- CVXPY + Clarabel on the same convex program (latentclass.conic, multiset sum);
- a private exact objective built here by enumerating multisets of negatives (value and
  gradient in closed form), used to check the gradient accuracy the certificate assumes;
- for soundness, the certified optimum itself (true suboptimality ``L(G) − L*`` measured
  from it).
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from latentclass.closed_form import simplex, simplex_gram, simplex_loss
from latentclass.conic import conic_optimum, multiset_terms
from latentclass.model import LatentClassModel
from latentclass.optimize import OptimalRepresentation, certify, optimal_representation
from latentclass.population import NCEObjective


# ----------------------------------------------------------------------------- helpers
class EnumObjective:
    """Exact ``L_k(G)`` by enumerating the multisets of negatives (SPEC §3), with gradient."""

    def __init__(self, model, k, tau=1.0):
        self.n, self.tau, self.k = model.n_points, tau, k
        D, P = np.asarray(model.marginal), np.asarray(model.pair_probs)
        self.sup = np.flatnonzero(D > 0)
        self.px, self.pxp = np.nonzero(P > 0)
        self.w = P[self.px, self.pxp]
        counts, logp = multiset_terms(k, D[self.sup])
        self.counts, self.pi = counts.astype(float), np.exp(logp)

    def value_and_grad(self, G):
        G = np.asarray(G, float)
        E = (G[self.px][:, self.sup] - G[self.px, self.pxp][:, None]) / self.tau
        A = np.exp(E)
        S = 1.0 + A @ self.counts.T  # (pairs, multisets)
        val = float(self.w @ (np.log(S) @ self.pi))
        dE = self.w[:, None] * ((self.pi / S) @ self.counts) * A
        H = np.zeros((self.n, self.n))
        np.add.at(
            H,
            (np.repeat(self.px, self.sup.size), np.tile(self.sup, self.px.size)),
            dE.ravel() / self.tau,
        )
        np.add.at(H, (self.px, self.pxp), -dE.sum(axis=1) / self.tau)
        return val, 0.5 * (H + H.T)

    def value(self, G):
        return self.value_and_grad(G)[0]

    def grad(self, G):
        return self.value_and_grad(G)[1]


def random_feasible_gram(n, rng, d=None, inside=False):
    V = rng.standard_normal((n, d or n))
    V /= np.linalg.norm(V, axis=1)[:, None]
    if inside:
        V *= rng.uniform(0.2, 1.0, size=(n, 1))
    G = V @ V.T
    return 0.5 * (G + G.T)


def assert_feasible(G):
    assert np.allclose(G, G.T, atol=1e-14, rtol=0)
    assert np.linalg.eigvalsh(G)[0] >= -1e-8
    assert np.max(np.diag(G)) <= 1 + 1e-8


def collapse_error(model, F):
    """Largest distance between the representations of two points of one class."""
    pc = model.point_classes
    dist = np.linalg.norm(F[:, None, :] - F[None, :, :], axis=-1)
    same = pc[:, None] == pc[None, :]
    return float(np.max(np.where(same, dist, 0.0)))


NONUNIFORM = [
    # (class_probs, class_conditionals or None for class level, k, tau)
    ([0.5, 0.3, 0.2], None, 1, 1.0),
    ([0.5, 0.3, 0.2], None, 3, 0.5),
    ([0.4, 0.3, 0.2, 0.1], None, 2, 1.0),
    ([0.7, 0.2, 0.1], None, 4, 0.3),
    ([0.35, 0.25, 0.15, 0.15, 0.1], None, 2, 0.7),
    ([0.6, 0.4], [[0.5, 0.3, 0.2, 0.0], [0.0, 0.0, 0.1, 0.9]], 3, 1.0),  # overlapping
]


def _model(rho, cond):
    return (
        LatentClassModel.one_point_per_class(rho) if cond is None else LatentClassModel(rho, cond)
    )


# ----------------------------------------------------------------------------- uniform ρ
@pytest.mark.parametrize("m", [2, 3, 5, 8])
@pytest.mark.parametrize("k", [1, 4, 1000, 10**6])
@pytest.mark.parametrize("tau", [1.0, 0.3])
def test_uniform_numerical_is_simplex(m, k, tau):
    model = LatentClassModel.one_point_per_class(np.full(m, 1.0 / m))
    init = "random" if (m + k) % 2 else "structured"  # half of the grid from a random start
    res = optimal_representation(model, k, tau, method="numerical", init=init, rng=m * k)
    assert res.method == "numerical" and res.certified
    assert res.duality_gap <= 1e-7
    assert res.loss == pytest.approx(simplex_loss(m, k, tau), abs=1e-9)
    assert np.max(np.abs(res.gram - simplex_gram(m))) <= 1e-4
    assert_feasible(res.gram)


def test_uniform_auto_is_closed_form_point_level():
    rho = np.full(3, 1 / 3)
    model = LatentClassModel.disjoint(rho, [2, 3, 1], within=[[0.9, 0.1], [0.2, 0.5, 0.3], [1.0]])
    for k, tau in [(1, 1.0), (7, 0.3), (10**6, 1.0), (math.inf, 0.5)]:
        res = optimal_representation(model, k, tau)
        assert res.method == "closed-form" and res.n_iter == 0 and res.certified
        np.testing.assert_array_equal(res.F, simplex(3)[model.point_classes])
        assert res.loss == pytest.approx(NCEObjective(model, k, tau).value(res.gram), abs=1e-10)
        assert res.loss == pytest.approx(simplex_loss(3, k, tau), rel=1e-15)
        num = optimal_representation(model, k, tau, method="numerical", init="random", rng=1)
        assert num.certified and num.loss == pytest.approx(res.loss, abs=1e-9)
    res = optimal_representation(model, 4, dim=6)  # dim > m - 1: padded with zeros
    assert res.F.shape == (6, 6) and res.method == "closed-form"


# ----------------------------------------------------------------------------- non-uniform ρ
@pytest.mark.parametrize("rho,cond,k,tau", NONUNIFORM)
def test_nonuniform_matches_clarabel(rho, cond, k, tau):
    model = _model(rho, cond)
    res = optimal_representation(model, k, tau)
    ref = conic_optimum(model, k, tau, tol=1e-11)
    assert ref.feasibility_residual <= 1e-8  # judged by values, not the status string
    assert res.method == "numerical" and res.certified
    assert res.loss == pytest.approx(ref.loss, abs=1e-7)
    assert res.loss <= ref.loss + 1e-9  # never worse than the interior-point solution
    assert res.loss == NCEObjective(model, k, tau).value(res.gram)  # reported loss is the gram's
    assert res.loss == pytest.approx(EnumObjective(model, k, tau).value(res.gram), abs=1e-12)
    np.testing.assert_allclose(res.F @ res.F.T, res.gram, atol=1e-15)
    assert_feasible(res.gram)


def test_gradient_accuracy_assumed_by_certificate():
    """certify assumes ‖ĝ − g‖ <= 1e-12 ‖ĝ‖_F; check NCEObjective against exact enumeration."""
    rng = np.random.default_rng(5)
    for rho, cond, k, tau in NONUNIFORM:
        model = _model(rho, cond)
        G = random_feasible_gram(model.n_points, rng, inside=True)
        g = NCEObjective(model, k, tau).grad(G)
        ref = EnumObjective(model, k, tau).grad(G)
        assert np.linalg.norm(g - ref, 2) <= 1e-12 * np.linalg.norm(g)


def test_gradient_accuracy_assumed_by_certificate_laplace_engine():
    """The same 1e-12 gradient accuracy for the Laplace engine ("auto" takes the multiset sum at
    these sizes, so the quadrature is checked explicitly)."""
    rng = np.random.default_rng(5)
    for rho, cond, k, tau in NONUNIFORM:
        model = _model(rho, cond)
        G = random_feasible_gram(model.n_points, rng, inside=True)
        g = NCEObjective(model, k, tau, method="laplace").grad(G)
        ref = EnumObjective(model, k, tau).grad(G)
        assert np.linalg.norm(g - ref, 2) <= 1e-12 * np.linalg.norm(g)


# ----------------------------------------------------------------------------- certificate
@pytest.mark.parametrize("rho,cond,k,tau", [NONUNIFORM[1], NONUNIFORM[3], NONUNIFORM[5]])
def test_certificate_soundness(rho, cond, k, tau):
    model = _model(rho, cond)
    n = model.n_points
    obj = NCEObjective(model, k, tau)
    opt = optimal_representation(model, k, tau)
    assert opt.certified
    best = opt.loss  # L* >= best − opt.duality_gap, so L(G) − L* >= L(G) − best
    rng = np.random.default_rng(11)
    V = opt.F
    candidates = []
    for t in (1e-4, 1e-2, 0.3, 1.0):
        candidates.append((1 - t) * opt.gram + t * random_feasible_gram(n, rng, inside=True))
    candidates.append(0.8 * opt.gram)
    candidates.append(random_feasible_gram(n, rng, d=1))
    for scale in (1e-3, 1e-2):
        W = V + scale * rng.standard_normal(V.shape)
        W /= np.maximum(1.0, np.linalg.norm(W, axis=1))[:, None]
        candidates.append(W @ W.T)
    for G in candidates:
        G = 0.5 * (G + G.T)
        gap, lam = certify(obj, G)
        true_subopt = obj.value(G) - best
        assert gap >= true_subopt - 1e-13
        assert np.all(lam >= 0)
        Z = obj.grad(G) + np.diag(lam)
        assert np.linalg.eigvalsh(Z)[0] >= -1e-14 * np.abs(Z).max()  # dual feasible
    # a perturbed optimum is not certified
    W = V + 1e-3 * rng.standard_normal(V.shape)
    W /= np.maximum(1.0, np.linalg.norm(W, axis=1))[:, None]
    gap, _ = certify(obj, W @ W.T)
    assert gap > 1e-7
    # and the certified optimum's bound is consistent with Clarabel's optimum
    ref = conic_optimum(model, k, tau, tol=1e-11)
    assert opt.loss - opt.duality_gap <= ref.loss + 1e-9


def test_certify_rejects_infeasible_and_bad_shapes():
    model = LatentClassModel.one_point_per_class([0.5, 0.3, 0.2])
    obj = NCEObjective(model, 2)
    with pytest.raises(ValueError, match="feasible"):
        certify(obj, 1.5 * np.eye(3))
    with pytest.raises(ValueError, match="square"):
        certify(obj, np.ones((3, 2)))


def test_closed_form_certificate_and_perturbation():
    m = 5
    model = LatentClassModel.one_point_per_class(np.full(m, 0.2))
    obj = NCEObjective(model, 100, 0.5)
    gap, lam = certify(obj, simplex_gram(m))
    assert gap <= 1e-9
    # SPEC §5 step 3: by symmetry all multipliers are equal (λ = −α)
    assert np.ptp(lam) <= 1e-12 and lam[0] > 0
    rng = np.random.default_rng(0)
    F = simplex(m) + 1e-3 * rng.standard_normal((m, m - 1))
    F /= np.linalg.norm(F, axis=1)[:, None]
    gap, _ = certify(obj, F @ F.T)
    assert gap > 1e-7


# ----------------------------------------------------------------------------- k = inf
def test_limit_optimum_is_limit_of_large_k():
    model = LatentClassModel.one_point_per_class([0.45, 0.3, 0.15, 0.1])
    tau = 0.6
    inf = optimal_representation(model, math.inf, tau)
    big = optimal_representation(model, 10**8, tau)
    assert inf.certified and big.certified
    assert np.max(np.abs(inf.gram - big.gram)) <= 1e-3
    assert big.loss - math.log(1e8) == pytest.approx(inf.loss, abs=1e-6)
    # the Gram matrices approach the limit as k grows
    errs = [
        np.max(np.abs(optimal_representation(model, k, tau).gram - inf.gram)) for k in (10, 1000)
    ]
    assert errs[0] > errs[1] > np.max(np.abs(big.gram - inf.gram))
    ref = conic_optimum(model, math.inf, tau, tol=1e-11)
    assert inf.loss == pytest.approx(ref.loss, abs=1e-7)


# ----------------------------------------------------------------------------- structure
@pytest.mark.parametrize("k", [1, 5, 1000, 10**6, math.inf])
@pytest.mark.parametrize("tau", [1.0, 0.3])
def test_disjoint_point_level_collapses(k, tau):
    """SPEC §5 expects class collapse for disjoint supports and any ρ; measured here."""
    model = LatentClassModel.disjoint(
        [0.5, 0.3, 0.2], [3, 2, 4], within=[[0.6, 0.3, 0.1], [0.8, 0.2], [0.1, 0.2, 0.3, 0.4]]
    )
    res = optimal_representation(model, k, tau, init="random", rng=3)
    assert res.certified
    assert collapse_error(model, res.F) <= 1e-6
    assert np.min(np.diag(res.gram)) >= 1 - 1e-9  # class vectors have unit norm
    # the collapsed optimum equals the class-level optimum
    cls = optimal_representation(LatentClassModel.one_point_per_class([0.5, 0.3, 0.2]), k, tau)
    assert res.loss == pytest.approx(cls.loss, abs=1e-9)
    pc = model.point_classes
    assert np.max(np.abs(res.gram - cls.gram[np.ix_(pc, pc)])) <= 1e-4


def test_class_permutation_invariance():
    rho = np.array([0.4, 0.3, 0.2, 0.1])
    perm = np.array([2, 0, 3, 1])
    for k, tau in [(3, 1.0), (1000, 0.5), (math.inf, 1.0)]:
        a = optimal_representation(LatentClassModel.one_point_per_class(rho), k, tau)
        b = optimal_representation(LatentClassModel.one_point_per_class(rho[perm]), k, tau, rng=9)
        assert a.certified and b.certified
        assert b.loss == pytest.approx(a.loss, abs=1e-10)
        assert np.max(np.abs(b.gram - a.gram[np.ix_(perm, perm)])) <= 1e-5


def test_interior_point_reaches_true_optimum():
    """A point shared by two classes prefers the inside of the ball (multiplier 0 there)."""
    model = LatentClassModel([0.5, 0.5], [[0.45, 0.0, 0.55], [0.0, 0.45, 0.55]])
    for k in (1, 3):
        res = optimal_representation(model, k, 1.0)
        ref = conic_optimum(model, k, 1.0, tol=1e-11)
        assert res.certified
        assert res.loss == pytest.approx(ref.loss, abs=1e-7)
        assert res.gram[2, 2] < 0.5 and ref.gram[2, 2] < 0.5  # strictly inside
        assert res.gram[2, 2] == pytest.approx(ref.gram[2, 2], abs=1e-4)
        assert res.multipliers[2] <= 1e-8 and res.multipliers[0] > 1e-4
        # on the unit sphere the shared point would do strictly worse
        V = res.F.copy()
        V[2] /= np.linalg.norm(V[2])
        assert NCEObjective(model, k).value(V @ V.T) > res.loss + 1e-6


# ----------------------------------------------------------------------------- low dimension
def test_low_dimension():
    m = 4
    model = LatentClassModel.one_point_per_class(np.full(m, 0.25))
    res = optimal_representation(model, 5, dim=m - 1, method="numerical", n_restarts=3, rng=2)
    assert res.certified and res.F.shape == (m, m - 1)
    assert "globally optimal" in res.message
    assert res.loss == pytest.approx(simplex_loss(m, 5), abs=1e-9)
    low = optimal_representation(model, 5, dim=1, n_restarts=4, rng=2)
    assert low.method == "numerical" and not low.certified and low.F.shape == (m, 1)
    assert "not certified" in low.message and "rank" in low.message
    assert low.loss > simplex_loss(m, 5) + 1e-3
    assert low.duality_gap >= low.loss - simplex_loss(m, 5) - 1e-12
    again = optimal_representation(model, 5, dim=1, n_restarts=4, rng=2)
    np.testing.assert_array_equal(again.gram, low.gram)  # same seed, same bits


# ----------------------------------------------------------------------------- result object
def test_result_object():
    model = LatentClassModel.one_point_per_class([0.5, 0.3, 0.2])
    res = optimal_representation(model, 2)
    assert isinstance(res, OptimalRepresentation)
    text = repr(res)
    assert "F(3, 3)" in text and "gram(3, 3)" in text and len(text) < 250 and "\n" not in text
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.loss = 0.0
    assert not res.gram.flags.writeable and res.multipliers.shape == (3,)


def test_bad_input():
    model = LatentClassModel.one_point_per_class([0.5, 0.3, 0.2])
    uniform = LatentClassModel.one_point_per_class([0.25] * 4)
    with pytest.raises(ValueError, match="dim"):
        optimal_representation(model, 2, dim=0)
    with pytest.raises(ValueError, match="dim"):
        optimal_representation(model, 2, dim=4)
    with pytest.raises(ValueError, match="method"):
        optimal_representation(model, 2, method="newton")
    with pytest.raises(ValueError, match="tol"):
        optimal_representation(model, 2, tol=0.0)
    with pytest.raises(ValueError, match="tol"):
        optimal_representation(model, 2, tol=-1e-3)
    with pytest.raises(ValueError, match="tol"):
        optimal_representation(model, 2, tol=float("nan"))
    with pytest.raises(ValueError, match="certify_tol"):
        optimal_representation(model, 2, certify_tol=0)
    with pytest.raises(ValueError, match="closed-form.*not uniform"):
        optimal_representation(model, 2, method="closed-form")
    overlapping = LatentClassModel([0.5, 0.5], [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]])
    with pytest.raises(ValueError, match="closed-form.*disjoint"):
        optimal_representation(overlapping, 2, method="closed-form")
    with pytest.raises(ValueError, match="closed-form.*dim"):
        optimal_representation(uniform, 2, dim=2, method="closed-form")
    with pytest.raises(ValueError, match="k"):
        optimal_representation(model, 0)
    with pytest.raises(ValueError, match="tau"):
        optimal_representation(model, 2, tau=0)
    with pytest.raises(ValueError, match="n_restarts"):
        optimal_representation(model, 2, dim=1, n_restarts=0)
    with pytest.raises(TypeError, match="model"):
        optimal_representation(np.eye(3), 2)


# ----------------------------------------------------------------------------- command line
def test_cli_solve(capsys):
    from latentclass.cli import main

    assert main(["solve", "--class-probs", "0.5,0.3,0.2", "--negatives", "4", "--tau", "0.5"]) == 0
    out = json.loads(capsys.readouterr().out)
    res = optimal_representation(LatentClassModel.one_point_per_class([0.5, 0.3, 0.2]), 4, 0.5)
    assert out["certified"] is True and out["method"] == "numerical"
    assert out["loss"] == pytest.approx(res.loss, abs=1e-12)
    np.testing.assert_allclose(np.array(out["gram"]), res.gram, atol=1e-12)
    for key in ("duality_gap", "n_iter", "message"):
        assert key in out
    assert main(["solve", "--class-probs", "0.25,0.25,0.25,0.25", "--negatives", "inf"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "closed-form" and out["loss"] == pytest.approx(
        simplex_loss(4, math.inf)
    )
    assert (
        main(
            ["solve", "--class-probs", "0.5,0.5", "-k", "3", "--dim", "1", "--method", "numerical"]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["dim"] == 1


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--class-probs", "0.5,0.6", "--negatives", "2"], "sum to 1"),
        (["--class-probs", "0.5,abc", "--negatives", "2"], "--class-probs"),
        (["--class-probs", "1.0", "--negatives", "2"], "at least 2"),
        (["--class-probs", "0.5,0.5", "--negatives", "zero"], "--negatives"),
        (["--class-probs", "0.5,0.5", "--negatives", "0"], "--negatives must be an integer >= 1"),
        (
            ["--class-probs", "0.6,0.4", "--negatives", "2", "--method", "closed-form"],
            "closed-form",
        ),
    ],
)
def test_cli_solve_errors(capsys, argv, needle):
    from latentclass.cli import main

    assert main(["solve", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]


def test_parse_class_probs():
    from latentclass.cli import _parse_class_probs

    np.testing.assert_array_equal(_parse_class_probs(" 0.5, 0.3,0.2 "), [0.5, 0.3, 0.2])
    for bad in ("", "0.5,,0.5", "-0.5,1.5", "0.2,0.2"):
        with pytest.raises(ValueError, match="--class-probs"):
            _parse_class_probs(bad)


# ----------------------------------------------------------------------------- Newton phase
def _zipf(m):
    p = 1.0 / np.arange(1, m + 1)
    return p / p.sum()


def test_newton_hessian_matches_finite_differences():
    """The exact Hessian on the lifted sphere (chain rule through G = V Vᵀ and the row
    normalisation) against central differences of the solver's own gradient."""
    from latentclass._solvers.lifted_sphere import _lifted_fg, _lifted_newton

    rng = np.random.default_rng(31)
    for rho, cond, k, tau in (NONUNIFORM[1], NONUNIFORM[5]):
        model = _model(rho, cond)
        n = model.n_points
        obj = NCEObjective(model, k, tau)
        for d in (n, 2):
            W = rng.standard_normal((n, d + 1))
            f, g, H, G, M = _lifted_newton(obj, W, d)
            fg = _lifted_fg(obj, n, d)
            f2, g2 = fg(W.ravel())
            assert f == f2 and np.max(np.abs(g - g2)) <= 1e-15 * max(1.0, np.max(np.abs(g2)))
            assert np.max(np.abs(H - H.T)) <= 1e-14 * np.max(np.abs(H))
            for _ in range(3):
                E = rng.standard_normal(W.size)
                h = 1e-4
                fd = (
                    -fg(W.ravel() + 2 * h * E)[1]
                    + 8 * fg(W.ravel() + h * E)[1]
                    - 8 * fg(W.ravel() - h * E)[1]
                    + fg(W.ravel() - 2 * h * E)[1]
                ) / (12 * h)
                assert np.max(np.abs(H @ E - fd)) <= 1e-7 * np.max(np.abs(fd))


@pytest.mark.parametrize("m, k", [(8, 3), (10, 2)])
def test_benchmark_cases_match_clarabel(m, k):
    """The issue's benchmark programs (class level, ρ = Zipf(1)): Newton-finished, certified,
    the same optimum as CVXPY+Clarabel to 1e-7, and the reported loss re-evaluated by the
    independent Laplace engine."""
    model = LatentClassModel.one_point_per_class(_zipf(m))
    res = optimal_representation(model, k)
    assert res.certified and res.duality_gap <= 1e-9
    assert res.solver in ("gram-newton", "lifted-lbfgs+newton")
    ref = conic_optimum(model, k, tol=1e-10)
    assert ref.feasibility_residual <= 1e-8  # judged by values, not the status string
    assert res.loss == pytest.approx(ref.loss, abs=1e-7)
    assert res.loss <= ref.loss + 1e-9
    lap = NCEObjective(model, k, method="laplace").value(res.gram)
    assert res.loss == pytest.approx(lap, rel=1e-12)
    assert_feasible(res.gram)
    # the reported bound is the certificate of the reported Gram matrix (recomputed publicly),
    # and it also holds with the independent engine's gradient
    obj = NCEObjective(model, k)
    assert certify(obj, res.gram).gap == res.duality_gap
    assert certify(NCEObjective(model, k, method="laplace"), res.gram).gap <= 1e-9


def test_lower_bound_is_certified_and_below_the_low_dimensional_optimum():
    """``lower_bound`` (weak duality): below the certified optimum at full rank, below the best
    rank-d value for d < m − 1, and never above the pentagon (m = 5, d = 2, uniform ρ)."""
    import math

    from latentclass.conic import conic_optimum

    model = LatentClassModel.one_point_per_class([0.2] * 5)
    full = optimal_representation(model, 4, method="numerical")
    ref = conic_optimum(model, 4, tol=1e-10)
    assert full.lower_bound <= ref.loss + 1e-9 <= full.loss + 1e-7
    low = optimal_representation(model, 4, dim=2, rng=0)
    assert low.lower_bound is not None and low.lower_bound <= low.loss
    # the regular pentagon, evaluated by the exact engine, is a feasible rank-2 point
    ang = 2 * math.pi * np.arange(5) / 5
    P = np.stack([np.cos(ang), np.sin(ang)], axis=1)
    assert low.lower_bound <= NCEObjective(model, 4).value(P @ P.T) + 1e-12
    closed = optimal_representation(model, 4)
    assert closed.lower_bound == pytest.approx(closed.loss, abs=1e-9)
