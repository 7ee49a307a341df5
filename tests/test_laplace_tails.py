"""The left tail of the Laplace engine (issue 18: interpolation at the Chebyshev points instead of
the Taylor-series recursions) against mpmath: the lattice sums ``Σ_{j>=0} g(t_* e^{-jh})`` of the
value, of ``∂/∂ log s`` and of the gradient polynomial, summed term by term at 40 digits over
the infinite lattice, to 1e-14 relative to the tail itself (the tail is a fraction ~``δ`` of the
integral, so this is far stricter than the end-to-end checks of test_engines_laplace.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from latentclass._engines import laplace


def _reference(b, D, k, t_star, r, h, dps=40):
    """``Σ_j g``, ``Σ_j r t' g`` and ``y ↦ h Σ_j t' e^{-rt'} φ^{k−1} e^{-t' b_y}`` by mpmath."""
    import mpmath

    mpmath.mp.dps = dps
    bm = [mpmath.mpf(float(v)) for v in b]
    Dm = [mpmath.mpf(float(v)) for v in D]
    rm, hm = mpmath.mpf(float(r)), mpmath.mpf(float(h))
    val = gsh = mpmath.mpf(0)
    poly = [mpmath.mpf(0)] * len(bm)
    j = 0
    while True:
        t = t_star * mpmath.exp(-j * hm)
        if t < mpmath.mpf(10) ** (-dps):
            break
        ex = [mpmath.exp(-t * v) for v in bm]
        # φ = 1 + Σ D (e^{-tb} − 1): the law sums to one (the float D only to rounding)
        phi = 1 + mpmath.fsum(d * (e - 1) for d, e in zip(Dm, ex))
        er = mpmath.exp(-rm * t)
        g = er * (1 - phi**k)
        val += g
        gsh += rm * t * g
        H = er * phi ** (k - 1)
        poly = [p + hm * t * H * e for p, e in zip(poly, ex)]
        j += 1
    return val, gsh, poly


@pytest.mark.parametrize("k", [2, 16, 10**4])
@pytest.mark.parametrize("log_s", [-3.0, 0.0, 4.0])
@pytest.mark.parametrize("stretch, rtol", [(0, 1e-14), (8, 1e-12)])
def test_left_tail_matches_mpmath(k, log_s, stretch, rtol):
    """At the engine's ``t_*`` (``stretch = 0``) to 1e-14; with ``t_*`` e^{8h} ≈ 6.3 times larger
    (``max(1, kμ_1, 1/s) t_*`` up to 0.32: the interpolation error shows) to 1e-12, which fails
    with one point fewer (``TAIL_ORDER = 8``)."""
    import mpmath

    rng = np.random.default_rng([211, k, int(log_s) + 10])
    n = 6
    h = laplace.STEP
    A = 3
    b = np.exp(rng.uniform(math.log(1e-3), 0.0, (A, n)))
    b[:, 0] = 1.0
    D = rng.dirichlet(np.ones(n))
    mu = np.stack([(b**i) @ D for i in range(laplace.NODE_ORDER + 1)], axis=1)
    # the engine's first lattice index of the nodes: t'_{JL} <= δ / max(1, k μ1, 1/s)
    log_left = max(0.0, math.log(k * float(mu[:, 1].max())), -log_s)
    JL = int(math.floor((math.log(laplace.LEFT_DELTA) - log_left) / h)) + stretch
    rts = np.full(A, math.exp((JL - 1) * h - log_s))
    left, gl, beta = laplace._left_tail(mu, k, JL, h, rts, None, True)
    t_star = mpmath.exp((JL - 1) * mpmath.mpf(h))
    for a in range(A):
        val, gsh, poly = _reference(b[a], D, k, t_star, math.exp(-log_s), h)
        assert abs(left[a] - float(val)) <= rtol * float(val)
        assert abs(gl[a] - float(gsh)) <= rtol * float(gsh)
        got = np.polynomial.polynomial.polyval(b[a], beta[a])
        ref = np.array([float(p) for p in poly])
        assert np.all(np.abs(got - ref) <= rtol * ref)


def test_left_tail_with_pairs_per_anchor():
    """``ap`` maps pairs to their anchor row: the same numbers as one pair per anchor."""
    rng = np.random.default_rng(212)
    n, h, k = 5, laplace.STEP, 16
    b = rng.random((2, n))
    D = rng.dirichlet(np.ones(n))
    mu = np.stack([(b**i) @ D for i in range(laplace.NODE_ORDER + 1)], axis=1)
    JL = -40
    rts = np.exp((JL - 1) * h - np.array([0.3, -0.2, 1.1]))
    ap = np.array([0, 1, 1])
    got = laplace._left_tail(mu, k, JL, h, rts, ap, True)
    for p, a in enumerate(ap):
        one = laplace._left_tail(mu[a : a + 1], k, JL, h, rts[p : p + 1], None, True)
        for x, y in zip(got, one):
            np.testing.assert_allclose(x[p], y[0], rtol=1e-15, atol=0)
