"""The fast paths of the Laplace engine (issue 18): the node cut by the computed ``φ``, the
split of the exponential nodes (moment series for small ``b``) and the doubling chains
(``e^{-2t'b} = (e^{-t'b})²`` on the lattice ``3h = log 2``), against

* the reference paths of the same engine (no cut, no split, no chain: every exponential node up
  to the a-priori ``t'_R``, one ``exp`` per node for every entry), to 1e-13 relative, entry-wise;
* exact enumeration of the multisets of negatives (value and gradient, ``method="enumerate"``);
* adaptive quadrature (``scipy.integrate.quad``) of the value and of the gradient integrals;
* finite differences of the objective.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from oracles import assert_directional_derivatives
from scipy import integrate

from latentclass._engines import laplace
from latentclass._engines.laplace import family_loss
from latentclass.model import LatentClassModel
from latentclass.population import NCEObjective


def _case(rng, m, tau, law, pairs_per_anchor=1, d=None):
    """Log-score rows ``G/τ`` of a random unit representation, a law ``D`` and anchor families."""
    F = rng.standard_normal((m, d or m))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    base = F @ F.T / tau
    if law == "zipf":
        D = 1.0 / np.arange(1, m + 1) ** 1.1
        D /= D.sum()
    elif law == "zero-mass":
        D = rng.dirichlet(np.ones(m))
        D[rng.choice(m, m // 4, replace=False)] = 0.0
        D /= D.sum()
    else:
        D = rng.dirichlet(np.full(m, 0.5))
    anchor = np.repeat(np.arange(m), pairs_per_anchor)
    pos = anchor.copy() if pairs_per_anchor == 1 else rng.integers(0, m, anchor.size)
    shift = -base[anchor, pos]
    weight = rng.random(anchor.size)
    return base, D, anchor, shift, weight


def _run(monkeypatch, args, k, *, split=None, cut=True, chain=True, spy=None):
    with monkeypatch.context() as mp:
        if split is not None:
            mp.setattr(laplace, "_SPLIT_FRACTION", split)
        mp.setattr(laplace, "_NODE_CUT", cut)
        mp.setattr(laplace, "_CHAIN", chain)
        if spy is not None:
            for name, log in spy.items():
                fn = getattr(laplace, name)

                def wrapped(*a, _fn=fn, _log=log):
                    out = _fn(*a)
                    _log.append(out)
                    return out

                mp.setattr(laplace, name, wrapped)
        return family_loss(*args[:2], k, *args[2:])


def _assert_close(got, ref, rtol):
    for g, r in zip(got, ref):
        err = np.abs(g - r)
        assert np.all(err <= rtol * np.abs(r)), float(np.max(err / np.maximum(np.abs(r), 1e-300)))


@pytest.mark.parametrize("tau", [1.0, 0.3, 0.1])
@pytest.mark.parametrize("k", [2, 5, 16, 100, 1000])
@pytest.mark.parametrize("law, ppa", [("dirichlet", 1), ("zipf", 1), ("zero-mass", 3)])
def test_fast_paths_match_reference_paths(monkeypatch, tau, k, law, ppa):
    """Default, forced split, no-cut and no-chain runs against the reference run (no split, no
    cut, no chain)."""
    rng = np.random.default_rng([181, int(100 * tau), k, ppa])
    args = _case(rng, 60, tau, law, ppa, d=int(rng.choice([3, 60])))
    ref = _run(monkeypatch, args, k, split=0.0, cut=False, chain=False)
    for split, cut, chain in [
        (None, True, True),
        (1.0, True, True),
        (1.0, False, True),
        (0.0, True, True),
        (0.0, False, True),
        (None, True, False),
    ]:
        got = _run(monkeypatch, args, k, split=split, cut=cut, chain=chain)
        _assert_close(got, ref, 1e-13)


def test_the_fast_paths_are_taken(monkeypatch):
    """The cut ends the exponential nodes at mid k (τ = 1), the split is used at τ = 0.1, the
    doubling chains at τ = 0.5, and direct nodes follow them when ``t'_R`` is large."""
    rng = np.random.default_rng(182)
    cuts: list = []
    splits: list = []
    _run(monkeypatch, _case(rng, 80, 1.0, "dirichlet"), 16, spy={"_cut_reached": cuts})
    assert any(cuts)
    _run(monkeypatch, _case(rng, 80, 0.1, "dirichlet"), 16, spy={"_split_entries": splits})
    assert any(s is not None for s in splits)
    splits.clear()
    _run(monkeypatch, _case(rng, 80, 1.0, "dirichlet"), 16, spy={"_split_entries": splits})
    assert all(s is None for s in splits)  # τ = 1: every b is large, no split
    chains: list = []
    _run(monkeypatch, _case(rng, 80, 0.5, "dirichlet"), 8, spy={"_doubling_nodes": chains})
    assert chains and all(q >= 2 * laplace.CHAIN_STRIDE for q, _ in chains)  # squared nodes used
    chains.clear()
    direct: list = []
    base, D, anchor, shift, weight = _case(rng, 80, 0.5, "dirichlet")
    args = (base, D, anchor, shift + 2.0, weight)  # s = e^2: t'_R = 45 e^2 > 2^{17/3}
    _run(monkeypatch, args, 2, spy={"_doubling_nodes": chains, "_direct_nodes": direct})
    assert chains and direct  # beyond _CHAIN_DOUBLINGS doublings: one exp per node


def _quad(f, la, k):
    """``∫ f(t) dt/t`` over ``t = e^u`` by adaptive quadrature split at the transitions."""
    a = np.exp(la)
    u_lo = math.log(1e-18 / (k * a.max() + 1.0))
    u_hi = math.log(60.0 * max(1.0, 1.0 / a.max()))
    marks = np.concatenate([-np.log(k * a), -np.log(a), np.arange(math.floor(u_lo), u_hi, 0.5)])
    edges = np.unique(np.concatenate([[u_lo, u_hi], marks[(marks > u_lo) & (marks < u_hi)]]))
    return math.fsum(
        integrate.quad(lambda u: f(math.exp(u)), lo, hi, epsabs=0.0, epsrel=2e-14, limit=200)[0]
        for lo, hi in zip(edges[:-1], edges[1:])
    )


def _reference_pair(la, D, k, ys):
    """``I_k(a)`` and ``∂I_k/∂ log a_y = k D_y a_y ∫ e^{-t} e^{-t a_y} φ^{k−1} dt`` by quad."""
    a = np.exp(la)

    def phim1(t):
        return float(np.dot(D, np.expm1(-t * a)))

    def value(t):
        return math.exp(-t) * -math.expm1(k * math.log1p(phim1(t)))

    val = _quad(value, la, k)
    grads = [
        k
        * D[y]
        * a[y]
        * _quad(
            lambda t, y=y: t * math.exp(-t * (1.0 + a[y]) + (k - 1) * math.log1p(phim1(t))),
            la,
            k,
        )
        for y in ys
    ]
    return val, grads


def _assert_pairs_match_quadrature(base, D, k, shift, weight, vals, gb, rng):
    """Three anchors' values (1e-13) and three gradient entries each — the largest, the smallest
    and a random one (1e-12) — against adaptive quadrature (:func:`_reference_pair`)."""
    for x in rng.choice(base.shape[0], 3, replace=False):
        la = base[x] + shift[x]
        ys = [int(np.argmax(gb[x])), int(np.argmin(gb[x])), int(rng.integers(base.shape[1]))]
        v, g = _reference_pair(la, D, k, ys)
        assert abs(vals[x] - v) <= 1e-13 * abs(v), (x, vals[x], v)
        for y, gy in zip(ys, g):
            assert abs(gb[x, y] - weight[x] * gy) <= 1e-12 * abs(weight[x] * gy), (x, y)


@pytest.mark.parametrize("k", [4, 16, 256])
@pytest.mark.parametrize("tau", [1.0, 0.1])
def test_value_and_gradient_match_adaptive_quadrature(k, tau):
    rng = np.random.default_rng([183, k, int(10 * tau)])
    base, D, anchor, shift, weight = _case(rng, 30, tau, "dirichlet")
    vals, gb, gsh = family_loss(base, D, k, anchor, shift, weight)
    _assert_pairs_match_quadrature(base, D, k, shift, weight, vals, gb, rng)


@pytest.mark.parametrize("k", [3, 16, 300])
def test_split_gradient_matches_finite_differences(k):
    """Point level (overlapping supports), τ = 0.1: the split path, against 4th-order central
    differences of the value along random symmetric directions."""
    rng = np.random.default_rng([184, k])
    model = LatentClassModel(rng.dirichlet(np.ones(4)), rng.dirichlet(np.full(40, 0.5), size=4))
    F = rng.standard_normal((40, 5))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    G = F @ F.T
    obj = NCEObjective(model, k, 0.1, method="laplace")
    _, M = obj.value_and_grad(G)
    assert_directional_derivatives(obj, G, M, rng, n_dirs=3, h=1e-5)


@pytest.mark.parametrize("k", [8, 16])
@pytest.mark.parametrize("tau", [1.0, 0.5])
@pytest.mark.parametrize("kind", ["class", "point"])
def test_doubling_chains_match_enumeration(k, tau, kind):
    """The default path (doubling chains at mid k) against exact enumeration of the multisets
    of negatives, value and gradient, entry-wise."""
    rng = np.random.default_rng([185, k, int(10 * tau), len(kind)])
    if kind == "class":
        model = LatentClassModel.one_point_per_class(rng.dirichlet(np.ones(6)))
    else:
        model = LatentClassModel(rng.dirichlet(np.ones(2)), rng.dirichlet(np.ones(5), size=2))
    n = model.n_points
    F = rng.standard_normal((n, n))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    F *= rng.uniform(0.8, 1.2, (n, 1))  # s != 1: the pairs do not share one node range
    G = F @ F.T
    chains: list = []
    with pytest.MonkeyPatch.context() as mp:
        fn = laplace._doubling_nodes

        def spy(*a):
            chains.append(fn(*a))
            return chains[-1]

        mp.setattr(laplace, "_doubling_nodes", spy)
        v, M = NCEObjective(model, k, tau, method="laplace").value_and_grad(G)
    assert (
        chains and max(q for q, _ in chains) > laplace.CHAIN_STRIDE
    )  # the chains ran past their seeds
    ve, Me = NCEObjective(model, k, tau, method="enumerate").value_and_grad(G)
    assert abs(v - ve) <= 1e-14 * abs(ve)
    np.testing.assert_allclose(M, Me, rtol=1e-13, atol=1e-15 * np.abs(Me).max())


@pytest.mark.parametrize("shift", [0.0, 0.12, 1.0])
def test_doubling_chains_match_adaptive_quadrature(shift):
    """τ = 0.5, k = 8, with ``t'_R = 45 s`` (``s = e^{shift}``): chains only, chains to their
    full length (``s = e^{0.12}``), chains then direct nodes (``s = e``); value and gradient
    entries against adaptive quadrature."""
    rng = np.random.default_rng([186, int(100 * shift)])
    base, D, anchor, shift_, weight = _case(rng, 30, 0.5, "dirichlet")
    shift_ = shift_ + shift
    k = 8
    vals, gb, _ = family_loss(base, D, k, anchor, shift_, weight)
    _assert_pairs_match_quadrature(base, D, k, shift_, weight, vals, gb, rng)


@pytest.mark.parametrize("b_low, b_high", [(0.5, 1.0), (0.045, 1.0), (1e-6, 1.0), (1e-6, 1e-3)])
def test_doubling_chain_nodes_match_mpmath(b_low, b_high):
    """The chain itself (``E − 1`` seeds when every ``t'b >= 1/16``, else ``expm1`` seeds) against
    mpmath at 30 digits on the chain's nodes (``2^s`` times the rounded seed ``t'_0``): ``E``
    within its bound ``(2^{s+1} + t'b) ε`` after ``s`` doublings, ``φ − 1`` relatively within
    ``(17.5 + 2s) ε`` (``E − 1`` seeds when every ``t'_0 b >= 1/16``: the first two cases)."""
    import mpmath

    mpmath.mp.dps = 30
    rng = np.random.default_rng([187, int(b_low * 10), int(b_high * 10)])
    Ac, n, Qe = 3, 40, 3 * (laplace._CHAIN_DOUBLINGS + 1)
    bb = np.exp(rng.uniform(math.log(b_low), math.log(b_high), (Ac, n)))
    bb[:, 0] = b_high  # (b_high, b_high = 1e-3: φ − 1 ≈ −t'μ_1 is small, E − 1 would not do)
    D = rng.dirichlet(np.ones(n))
    h = laplace.STEP
    ut = h * np.arange(2, 2 + Qe)
    E = np.empty((Qe, Ac, n))
    phim1 = np.empty((Ac, Qe))
    q, done = laplace._doubling_nodes(E, bb, D, ut, h, phim1, np.full(Ac, -np.inf), Qe)
    assert (q, done) == (Qe, False)
    u = 2.0**-52  # ε of the module docstring (machine epsilon)
    for j in range(Qe):
        s, q0 = divmod(j, laplace.CHAIN_STRIDE)
        t = mpmath.mpf(float(np.exp(ut[q0]))) * 2**s  # the chain's node: 2^s × the rounded seed
        for a in range(Ac):
            ex = [mpmath.e ** (-t * mpmath.mpf(float(v))) for v in bb[a]]
            for y in range(n):
                bound = (2 ** (s + 1) + float(t) * bb[a, y]) * u
                assert abs(E[j, a, y] - ex[y]) <= bound * ex[y], (j, a, y)
            ref = mpmath.fsum(mpmath.mpf(float(d)) * (e - 1) for d, e in zip(D, ex))
            assert abs(phim1[a, j] - ref) <= (17.5 + 2 * s) * u * abs(ref), (j, a)
