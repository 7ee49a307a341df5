"""Named class distributions and the class-law parser (latentclass.families).

Each family is checked against its defining formula written out independently here
(exact rational arithmetic with ``fractions`` where the law is rational), the Dirichlet
sampler against its closed-form moments by Monte Carlo (5 standard errors), and every
malformed text against a ValueError that names the argument.
"""

import math
from fractions import Fraction

import numpy as np
import pytest

from latentclass.families import (
    FAMILIES,
    dirichlet,
    dominant,
    geometric,
    parse_class_probs,
    two_blocks,
    uniform,
    zipf,
)


def _assert_prob_vector(p, m):
    assert isinstance(p, np.ndarray) and p.dtype == np.float64 and p.shape == (m,)
    assert np.all(p > 0)
    assert abs(math.fsum(p) - 1.0) <= 1e-15 * m


# ----------------------------------------------------------------------------- families
@pytest.mark.parametrize("m", [2, 3, 7, 50])
def test_uniform(m):
    p = uniform(m)
    _assert_prob_vector(p, m)
    assert np.all(p == 1.0 / m)


@pytest.mark.parametrize("m,s", [(2, 1.0), (5, 1.2), (10, 2.0), (40, 0.5), (6, 0.0)])
def test_zipf_matches_power_law(m, s):
    p = zipf(m, s)
    _assert_prob_vector(p, m)
    w = [(c + 1) ** (-s) for c in range(m)]
    total = math.fsum(w)
    np.testing.assert_allclose(p, [x / total for x in w], rtol=1e-14, atol=0)
    assert np.all(np.diff(p) <= 0)


@pytest.mark.parametrize("m,r", [(2, 0.5), (6, 0.7), (9, 0.25), (4, 1.0)])
def test_geometric_matches_closed_form(m, r):
    p = geometric(m, r)
    _assert_prob_vector(p, m)
    if r == 1.0:
        expected = [1.0 / m] * m
    else:  # r^c (1 - r) / (1 - r^m), exactly in rationals
        R = Fraction(r)
        expected = [float(R**c * (1 - R) / (1 - R**m)) for c in range(m)]
    np.testing.assert_allclose(p, expected, rtol=1e-14, atol=0)


@pytest.mark.parametrize("m,p0", [(2, 0.3), (5, 0.6), (8, 0.95)])
def test_dominant(m, p0):
    p = dominant(m, p0)
    _assert_prob_vector(p, m)
    assert p[0] == p0
    np.testing.assert_allclose(p[1:], (1 - p0) / (m - 1), rtol=1e-15)


@pytest.mark.parametrize(
    "m,frac,ratio,h", [(6, 0.5, 3.0, 3), (5, 0.2, 10.0, 1), (4, 0.75, 0.5, 3), (7, 0.5, 2.0, 4)]
)
def test_two_blocks(m, frac, ratio, h):
    p = two_blocks(m, frac, ratio)
    _assert_prob_vector(p, m)
    Z = Fraction(ratio) * h + (m - h)
    expected = [float(Fraction(ratio) / Z)] * h + [float(1 / Z)] * (m - h)
    np.testing.assert_allclose(p, expected, rtol=1e-14, atol=0)


def test_dirichlet_is_reproducible_and_valid():
    a, b = dirichlet(5, 0.7, rng=3), dirichlet(5, 0.7, rng=3)
    assert a.tobytes() == b.tobytes()
    assert dirichlet(5, 0.7, rng=4).tobytes() != a.tobytes()
    _assert_prob_vector(a, 5)
    gen = np.random.default_rng(0)
    for _ in range(200):  # small alpha: log-space sampling keeps every class > 0
        _assert_prob_vector(dirichlet(6, 0.05, gen), 6)


def test_dirichlet_moments_monte_carlo():
    """Mean α_c/α_0 and variance α_c(α_0−α_c)/(α_0²(α_0+1)) of Dirichlet(α), within 5 SE."""
    alpha = np.array([0.5, 1.0, 2.5])
    a0 = alpha.sum()
    gen = np.random.default_rng(12345)
    N = 6000
    X = np.array([dirichlet(3, alpha, gen) for _ in range(N)])
    mean = alpha / a0
    var = alpha * (a0 - alpha) / (a0**2 * (a0 + 1))
    se_mean = X.std(axis=0, ddof=1) / math.sqrt(N)
    assert np.all(np.abs(X.mean(axis=0) - mean) <= 5 * se_mean)
    d2 = (X - mean) ** 2  # unbiased for the variance since the mean is known
    se_var = d2.std(axis=0, ddof=1) / math.sqrt(N)
    assert np.all(np.abs(d2.mean(axis=0) - var) <= 5 * se_var)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: uniform(1), "m"),
        (lambda: uniform(2.5), "m"),
        (lambda: zipf(4, -1.0), "s"),
        (lambda: zipf(4, math.nan), "s"),
        (lambda: geometric(4, 0.0), "r"),
        (lambda: geometric(4, 1.5), "r"),
        (lambda: dominant(4, 1.0), "p"),
        (lambda: dominant(4, 0.0), "p"),
        (lambda: two_blocks(4, 0.05, 2.0), "frac"),
        (lambda: two_blocks(4, 0.5, -1.0), "ratio"),
        (lambda: two_blocks(4, 1.0, 2.0), "frac"),
        (lambda: dirichlet(3, 0.0), "alpha"),
        (lambda: dirichlet(3, [1.0, 2.0]), "alpha"),
        (lambda: geometric(3000, 1e-3), "underflow"),
    ],
)
def test_bad_parameters_raise_named_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------- parser
def test_parse_list():
    p = parse_class_probs(" 0.5, 0.3,0.2 ")
    assert p.tolist() == [0.5, 0.3, 0.2]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("uniform:5", lambda: uniform(5)),
        ("zipf:10:1.2", lambda: zipf(10, 1.2)),
        ("ZIPF:4", lambda: zipf(4)),
        ("geometric:6:0.7", lambda: geometric(6, 0.7)),
        ("dominant:5:0.6", lambda: dominant(5, 0.6)),
        ("two_blocks:6:0.5:3", lambda: two_blocks(6, 0.5, 3.0)),
        ("two-blocks:6", lambda: two_blocks(6)),
        ("dirichlet:5:0.5:42", lambda: dirichlet(5, 0.5, 42)),
        ("dirichlet:4", lambda: dirichlet(4, 1.0, 0)),
    ],
)
def test_parse_family_specs(text, expected):
    assert parse_class_probs(text).tobytes() == expected().tobytes()


def test_every_family_is_parsable():
    for name in FAMILIES:
        assert parse_class_probs(f"{name}:4").shape == (4,)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "0.5,0.6",
        "0.5,abc",
        "1.0",
        "0.5,-0.1,0.6",
        "0.5,nan,0.5",
        "zipf",
        "zipf:x",
        "zipf:5:abc",
        "zipf:5:-1",
        "zipf:3:1:2",
        "foo:3",
        "uniform:1",
        "uniform:2.5",
        "geometric:5:1.5",
        "dominant:4:1",
        "two_blocks:4:0.01:2",
        "dirichlet:4:1:seed",
        "dirichlet:4:0",
    ],
)
def test_parse_errors_name_the_argument(text):
    with pytest.raises(ValueError, match="--class-probs") as exc:
        parse_class_probs(text, name="--class-probs")
    assert "\n" not in str(exc.value)


def test_parse_rejects_non_strings():
    with pytest.raises(TypeError, match="class_probs"):
        parse_class_probs([0.5, 0.5])
