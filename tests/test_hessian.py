"""Exact Hessian-vector products of the class-level L_k (latentclass/_engines/hessian.py, SPEC §3.2).

Checked against central differences (Richardson-extrapolated) of the library's exact gradient
(Laplace engine), against the multiset engine's exact Hessian (an independent enumeration),
for symmetry, and by mutation: dropping any one term of the formula must fail the comparison.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import latentclass as lc
from latentclass._engines.hessian import ClassHessian, HessianTooLarge
from latentclass.population import NCEObjective


def _setup(m: int, seed: int, tau: float):
    rng = np.random.default_rng(seed)
    rho = rng.dirichlet(np.full(m, 0.7))
    F = rng.standard_normal((m, m))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    G = F @ F.T
    G = 0.5 * (G + G.T)
    V = rng.standard_normal((m, m))
    V = V + V.T
    U = rng.standard_normal((m, m))
    U = U + U.T
    return lc.LatentClassModel.one_point_per_class(rho), rho, G, V, U


def _fd(obj, G, V, e):
    """Richardson-extrapolated central difference of the symmetric gradient (error O(e⁴))."""

    def d(s):
        return (obj.value_and_grad(G + s * V)[1] - obj.value_and_grad(G - s * V)[1]) / (2 * s)

    return (4.0 * d(e / 2) - d(e)) / 3.0


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


@pytest.mark.parametrize("m", [4, 13, 40])
@pytest.mark.parametrize("k", [2, 16, 1000, 10**6])
@pytest.mark.parametrize("tau", [0.1, 1.0])
def test_hvp_matches_central_differences_of_the_exact_gradient(m, k, tau):
    model, rho, G, V, _ = _setup(m, seed=m + k % 97, tau=tau)
    obj = NCEObjective(model, k, tau, method="laplace")
    HV = ClassHessian(G, rho, k, tau).apply(V)
    fd = _fd(obj, G, V, 2e-3 * tau)
    # measured worst: 3.1e-11 (tau = 1), 5.2e-9 (tau = 0.1: the FD truncation, ~e⁴/τ⁵)
    assert _rel(HV, fd) <= (5e-8 if tau < 1 else 1e-9)


@pytest.mark.parametrize(("m", "k"), [(3, 2), (3, 7), (4, 5), (5, 3)])
@pytest.mark.parametrize("tau", [0.2, 1.0])
def test_hvp_matches_the_multiset_hessian(m, k, tau):
    # independent: the exact sum over the multisets of negatives (SPEC §3.4), its Hessian blocks
    model, rho, G, V, _ = _setup(m, seed=10 * m + k, tau=tau)
    obj = NCEObjective(model, k, tau)  # "auto": the multiset table at this size
    so = obj.second_order(G)
    assert so is not None
    _, _, anchors, blocks = so
    W = np.zeros((m, m))
    W[anchors] = np.einsum("aij,aj->ai", blocks, V[anchors])  # one-sided entries, row blocks
    ref = 0.5 * (W + W.T)
    HV = ClassHessian(G, rho, k, tau).apply(V)
    assert _rel(HV, ref) <= 1e-12  # measured worst 3.7e-15


@pytest.mark.parametrize(("m", "k"), [(3, 2), (4, 5), (5, 3)])
@pytest.mark.parametrize("tau", [0.2, 1.0])
def test_row_blocks_match_the_multiset_blocks_off_the_anchor(m, k, tau):
    # independent: the multiset table's exact blocks, on the entries y, z != x (the ones the
    # Gram-space Newton step reads); the entries at y = x or z = x are not compared
    model, rho, G, _, _ = _setup(m, seed=7 * m + k, tau=tau)
    so = NCEObjective(model, k, tau).second_order(G)
    assert so is not None
    _, _, anchors, blocks = so
    rows = ClassHessian(G, rho, k, tau).row_blocks()
    for i, x in enumerate(anchors):
        c = [y for y in range(m) if y != x]
        ref = blocks[i][np.ix_(c, c)]
        assert _rel(rows[x][np.ix_(c, c)], ref) <= 1e-12


@pytest.mark.parametrize(("m", "k"), [(10, 16), (6, 1000)])
def test_row_blocks_match_differences_of_the_gradient(m, k):
    # the off-diagonal Hessian assembled from the blocks (as kkt_newton does) against
    # Richardson central differences of the Laplace engine's symmetric gradient
    from latentclass._solvers.gram_newton import offdiag_hessian

    model, rho, G, _, _ = _setup(m, seed=m, tau=0.5)
    obj = NCEObjective(model, k, 0.5, method="laplace")
    H = offdiag_hessian(np.arange(m), ClassHessian(G, rho, k, 0.5).row_blocks(), m)
    iu, ju = np.triu_indices(m, 1)
    fd = np.empty_like(H)
    for c, (i, j) in enumerate(zip(iu, ju)):
        E = np.zeros((m, m))
        E[i, j] = E[j, i] = 1.0
        fd[:, c] = 2.0 * _fd(obj, G, E, 1e-3)[iu, ju]  # ∂M_ij/∂x = H/2 (symmetric gradient)
    assert _rel(H, fd) <= 1e-8


@pytest.mark.parametrize(("k", "tau"), [(2, 0.1), (16, 0.5), (10**6, 1.0)])
def test_hvp_is_symmetric(k, tau):
    _, rho, G, V, U = _setup(25, seed=3, tau=tau)
    H = ClassHessian(G, rho, k, tau)
    a = float(np.sum(U * H.apply(V)))
    b = float(np.sum(V * H.apply(U)))
    assert abs(a - b) <= 1e-13 * max(abs(a), 1e-300) * 25
    # and positive semidefinite (L_k is convex): ⟨V, H V⟩ >= 0
    assert float(np.sum(V * H.apply(V))) >= 0.0


_ALL = ("phi", "psi", "beta", "split", "nodes")
_EXPLICIT = ("phi", "psi", "beta")  # explicit exponentials on every node: the "R" form


@pytest.mark.parametrize("drop", ["phi", "psi", "beta"])
@pytest.mark.parametrize(
    ("k", "tau", "form", "terms"),
    [(16, 1.0, "R", _EXPLICIT), (16, 1.0, "PM", _ALL), (16, 0.2, "K", _ALL)],
)
def test_dropping_any_term_fails_the_comparison(drop, k, tau, form, terms):
    m = 13
    model, rho, G, V, _ = _setup(m, seed=5, tau=tau)
    fd = _fd(NCEObjective(model, k, tau, method="laplace"), G, V, 2e-3 * tau)
    full = ClassHessian(G, rho, k, tau, _terms=terms)
    assert {c[0] for c in full._chunks} == {form}  # each storage form is tested
    mutant = ClassHessian(G, rho, k, tau, _terms=tuple(t for t in terms if t != drop))
    assert _rel(full.apply(V), fd) <= 1e-8
    assert _rel(mutant.apply(V), fd) >= 1e-3  # far beyond the tolerance of the tests above


@pytest.mark.parametrize("k", [2, 16, 1000, 10**6])
@pytest.mark.parametrize("tau", [0.1, 0.2, 0.5, 1.0])
def test_the_compressed_forms_equal_the_explicit_nodes(k, tau):
    # the Taylor series of e^{-t a} (small scores on every node: "K"; every score on the
    # nodes with t max a <= 1.5: "PM") against explicit exponentials on every node ("R"):
    # measured <= 6e-15 relative
    _, rho, G, V, _ = _setup(60, seed=k % 89, tau=tau)
    H = ClassHessian(G, rho, k, tau)
    ref = ClassHessian(G, rho, k, tau, _terms=_EXPLICIT)
    assert all(c[0] == "R" for c in ref._chunks)
    assert all(c[0] in ("K", "PM") for c in H._chunks)
    assert H.n_nodes <= 0.6 * ref.n_nodes
    assert _rel(H.apply(V), ref.apply(V)) <= 1e-13
    assert np.max(np.abs(H.diag - ref.diag)) <= 1e-13 * np.max(np.abs(ref.diag))


def test_k_1_is_the_closed_form():
    # β vanishes and α_y = D_y σ'(ℓ_y)
    _, rho, G, V, _ = _setup(9, seed=2, tau=0.5)
    H = ClassHessian(G, rho, 1, 0.5)
    ell = (G - np.diag(G)[:, None]) / 0.5
    s = 0.5 / (1.0 + np.cosh(ell))
    assert np.allclose(H.alpha, rho[None, :] * s, rtol=1e-13, atol=0.0)


def test_offdiag_product_and_its_diagonal():
    _, rho, G, V, _ = _setup(12, seed=4, tau=0.3)
    H = ClassHessian(G, rho, 16, 0.3)
    np.fill_diagonal(V, 0.0)
    full = H.apply(V)
    np.fill_diagonal(full, 0.0)
    out = H.apply_offdiag(V, np.empty_like(V))
    assert np.allclose(out, full, rtol=0.0, atol=1e-15 * np.abs(full).max())
    i, j = 2, 7
    E = np.zeros_like(V)
    E[i, j] = E[j, i] = 1.0
    assert H.apply_offdiag(E, np.empty_like(E))[i, j] == pytest.approx(H.diag[i, j], rel=1e-12)


def test_bad_input_and_the_memory_budget():
    _, rho, G, _, _ = _setup(6, seed=1, tau=1.0)
    with pytest.raises(ValueError, match="shape"):
        ClassHessian(G[:5, :5], rho, 16, 1.0)
    with pytest.raises(ValueError, match="k must be"):
        ClassHessian(G, rho, math.inf, 1.0)
    with pytest.raises(HessianTooLarge, match="max_bytes"):
        ClassHessian(G, rho, 16, 1.0, max_bytes=1000)
