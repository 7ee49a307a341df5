"""The latent-class model and its sampler (SPEC §1): structure, law of the draws, determinism."""

import itertools

import numpy as np
import pytest
from scipy import stats

import latentclass as lc

P_MIN = 1e-4  # fixed threshold for every goodness-of-fit test below (fixed seeds)


def overlapping_model():
    rho = np.array([0.5, 0.3, 0.2])
    cond = np.array(
        [
            [0.4, 0.3, 0.2, 0.1, 0.0],
            [0.0, 0.25, 0.25, 0.25, 0.25],
            [0.7, 0.0, 0.0, 0.0, 0.3],
        ]
    )
    return lc.LatentClassModel(rho, cond)


MODELS = {
    "class-level": lambda: lc.LatentClassModel.one_point_per_class([0.1, 0.2, 0.3, 0.4]),
    "disjoint": lambda: lc.LatentClassModel.disjoint(
        [0.6, 0.4], [3, 2], within=[[1, 2, 3], [5, 1]]
    ),
    "overlapping": overlapping_model,
}


# ------------------------------------------------------------------ structure
def test_derived_quantities_match_definitions():
    m = overlapping_model()
    rho, C = m.class_probs, m.class_conditionals
    assert m.n_classes == 3 and m.n_points == 5
    marg = sum(rho[c] * C[c] for c in range(3))
    np.testing.assert_allclose(m.marginal, marg, rtol=0, atol=1e-15)
    pair = np.zeros((5, 5))
    for c, x, y in itertools.product(range(3), range(5), range(5)):
        pair[x, y] += rho[c] * C[c, x] * C[c, y]
    np.testing.assert_allclose(m.pair_probs, pair, rtol=0, atol=1e-15)
    assert abs(m.pair_probs.sum() - 1) < 1e-14
    assert not m.is_disjoint
    with pytest.raises(ValueError, match="point_classes is defined only"):
        _ = m.point_classes


def test_disjoint_constructor():
    m = lc.LatentClassModel.disjoint([0.6, 0.4], [3, 2], within=[[1, 2, 3], [5, 1]])
    assert m.is_disjoint and m.n_points == 5
    np.testing.assert_array_equal(m.point_classes, [0, 0, 0, 1, 1])
    np.testing.assert_allclose(m.class_conditionals[0, :3], np.array([1, 2, 3]) / 6)
    np.testing.assert_allclose(m.class_conditionals[1, 3:], np.array([5, 1]) / 6)
    u = lc.LatentClassModel.disjoint([0.5, 0.5], [2, 4])
    np.testing.assert_allclose(u.class_conditionals[1, 2:], 0.25)


def test_class_level_model():
    m = lc.LatentClassModel.one_point_per_class([0.25, 0.75])
    np.testing.assert_array_equal(m.class_conditionals, np.eye(2))
    np.testing.assert_array_equal(m.point_classes, [0, 1])
    np.testing.assert_allclose(m.pair_probs, np.diag([0.25, 0.75]))


def test_model_is_immutable():
    m = overlapping_model()
    with pytest.raises(ValueError):
        m.class_probs[0] = 0.9
    with pytest.raises(ValueError):
        m.marginal[0] = 0.9
    with pytest.raises(AttributeError):
        m.class_probs = np.array([0.5, 0.5])


def test_input_arrays_are_copied():
    rho = np.array([0.5, 0.5])
    m = lc.LatentClassModel.one_point_per_class(rho)
    rho[0] = 0.9
    assert m.class_probs[0] == 0.5


def test_repr_is_short():
    r = repr(overlapping_model())
    assert "n_classes=3" in r and "overlapping" in r and len(r) < 100


# ------------------------------------------------------------------ law of the draws
@pytest.mark.parametrize("name", sorted(MODELS))
def test_classes_follow_class_probs(name):
    m = MODELS[name]()
    s = m.sample(40_000, 3, rng=11)
    for counts in (
        np.bincount(s.classes, minlength=m.n_classes),
        np.bincount(s.negative_classes.ravel(), minlength=m.n_classes),
    ):
        assert stats.chisquare(counts, counts.sum() * m.class_probs).pvalue > P_MIN


@pytest.mark.parametrize("name", sorted(MODELS))
def test_points_given_class_follow_conditionals(name):
    m = MODELS[name]()
    s = m.sample(40_000, 3, rng=12)
    draws = [
        (s.classes, s.anchors),
        (s.classes, s.positives),
        (s.negative_classes.ravel(), s.negatives.ravel()),
    ]
    for cls, pts in draws:
        for c in range(m.n_classes):
            support = np.flatnonzero(m.class_conditionals[c])
            got = pts[cls == c]
            assert np.isin(got, support).all(), "a draw fell outside supp(D_c)"
            if support.size < 2:
                continue
            counts = np.array([(got == x).sum() for x in support])
            expected = counts.sum() * m.class_conditionals[c, support]
            assert stats.chisquare(counts, expected).pvalue > P_MIN


@pytest.mark.parametrize("name", ["disjoint", "overlapping"])
def test_anchor_and_positive_independent_given_class(name):
    m = MODELS[name]()
    s = m.sample(60_000, 1, rng=13)
    for c in range(m.n_classes):
        support = np.flatnonzero(m.class_conditionals[c])
        if support.size < 2:
            continue
        sel = s.classes == c
        table = np.zeros((support.size, support.size))
        ia = np.searchsorted(support, s.anchors[sel])
        ip = np.searchsorted(support, s.positives[sel])
        np.add.at(table, (ia, ip), 1)
        assert stats.chi2_contingency(table).pvalue > P_MIN


def test_negatives_are_independent_of_the_anchor_class():
    m = overlapping_model()
    s = m.sample(60_000, 2, rng=14)
    table = np.zeros((3, 3))
    np.add.at(table, (s.classes, s.negative_classes[:, 0]), 1)
    assert stats.chi2_contingency(table).pvalue > P_MIN


def test_a_wrong_law_is_detected():
    """The goodness-of-fit test above can fail: draws from ρ are tested against another law."""
    m = MODELS["class-level"]()
    s = m.sample(40_000, 1, rng=15)
    counts = np.bincount(s.classes, minlength=4)
    wrong = np.array([0.12, 0.2, 0.3, 0.38])
    assert stats.chisquare(counts, counts.sum() * wrong).pvalue < P_MIN


def test_tiny_probabilities_are_respected():
    m = lc.LatentClassModel.one_point_per_class([1e-12, 1 - 1e-12])
    s = m.sample(100_000, 4, rng=0)
    assert (s.classes == 1).all() and (s.negative_classes == 1).all()


# ------------------------------------------------------------------ shapes, determinism
def test_sample_shapes_and_dtypes():
    m = overlapping_model()
    s = m.sample(7, 4, rng=0)
    assert s.anchors.shape == s.positives.shape == s.classes.shape == (7,)
    assert s.negatives.shape == s.negative_classes.shape == (7, 4)
    assert all(np.issubdtype(a.dtype, np.integer) for a in (s.anchors, s.negatives, s.classes))
    assert s.size == 7 and s.k == 4 and s.n_points == 5
    empty = m.sample(0, 2, rng=0)
    assert empty.negatives.shape == (0, 2)


def _arrays(s):
    return (s.anchors, s.positives, s.negatives, s.classes, s.negative_classes)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_same_seed_same_bits(name):
    m = MODELS[name]()
    a, b = m.sample(5000, 5, rng=7), m.sample(5000, 5, rng=7)
    for x, y in zip(_arrays(a), _arrays(b)):
        np.testing.assert_array_equal(x, y)
    c = m.sample(5000, 5, rng=np.random.default_rng(7))
    for x, y in zip(_arrays(a), _arrays(c)):
        np.testing.assert_array_equal(x, y)
    d = m.sample(5000, 5, rng=8)
    assert any(not np.array_equal(x, y) for x, y in zip(_arrays(a), _arrays(d)))


def test_blocked_negatives_do_not_change_the_stream(monkeypatch):
    """Drawing negatives in blocks gives the same bits as one draw."""
    import latentclass.model as model

    m = overlapping_model()
    a = m.sample(300, 7, rng=3)
    monkeypatch.setattr(model, "_BLOCK", 64)
    b = m.sample(300, 7, rng=3)
    for x, y in zip(_arrays(a), _arrays(b)):
        np.testing.assert_array_equal(x, y)


# ------------------------------------------------------------------ Gaussian model
def test_gaussian_sampler_law_and_shapes():
    means = np.array([[0.0, 0.0, 0.0], [5.0, 0.0, 0.0], [0.0, 5.0, 0.0]])
    g = lc.GaussianLatentClassModel([0.2, 0.3, 0.5], means, scale=[0.5, 1.0, 2.0])
    s = g.sample(30_000, 2, rng=0)
    assert s.anchors.shape == (30_000, 3) and s.negatives.shape == (30_000, 2, 3)
    assert s.negative_classes.shape == (30_000, 2) and s.n_points is None
    counts = np.bincount(s.classes, minlength=3)
    assert stats.chisquare(counts, counts.sum() * g.class_probs).pvalue > P_MIN
    for c in range(3):
        z = (s.anchors[s.classes == c] - means[c]) / g.scale[c]
        # standardised draws are N(0, 1) in every coordinate
        for j in range(3):
            assert stats.kstest(z[:, j], "norm").pvalue > P_MIN
        zn = (s.negatives[s.negative_classes == c] - means[c]) / g.scale[c]
        assert stats.kstest(zn[:, 0], "norm").pvalue > P_MIN
    # anchor and positive are independent given the class: their noises are uncorrelated
    sel = s.classes == 2
    r = stats.pearsonr(s.anchors[sel, 0], s.positives[sel, 0])
    assert r.pvalue > P_MIN
    a, b = g.sample(100, 3, rng=5), g.sample(100, 3, rng=5)
    np.testing.assert_array_equal(a.negatives, b.negatives)


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "rho, match",
    [
        ([[0.5, 0.5]], "class_probs must be 1-D"),
        ([1.0], "at least 2 classes"),
        ([0.5, np.nan], "class_probs must be finite"),
        ([1.2, -0.2], r"class_probs entries must be > 0"),
        ([0.5, 0.0, 0.5], r"class_probs entries must be > 0"),
        ([0.6, 0.5], "class_probs must sum to 1, got 1.1"),
    ],
)
def test_bad_class_probs(rho, match):
    with pytest.raises(ValueError, match=match):
        lc.LatentClassModel.one_point_per_class(rho)


def test_class_probs_sum_tolerance():
    lc.LatentClassModel.one_point_per_class([0.5, 0.5 + 5e-10])
    with pytest.raises(ValueError, match="must sum to 1"):
        lc.LatentClassModel.one_point_per_class([0.5, 0.5 + 2e-9])


@pytest.mark.parametrize(
    "cond, match",
    [
        (np.ones((3, 2)) / 2, r"class_conditionals must have shape \(n_classes, n_points\)"),
        (np.ones(2) / 2, r"class_conditionals must have shape"),
        ([[1.5, -0.5], [0.5, 0.5]], "class_conditionals must be non-negative"),
        ([[np.inf, 0.0], [0.5, 0.5]], "class_conditionals must be finite"),
        ([[0.5, 0.4], [0.5, 0.5]], "class_conditionals rows must sum to 1, row 0"),
    ],
)
def test_bad_class_conditionals(cond, match):
    with pytest.raises(ValueError, match=match):
        lc.LatentClassModel([0.5, 0.5], cond)


@pytest.mark.parametrize(
    "ppc, match",
    [
        ([2, 2, 2], "points_per_class must have one entry per class"),
        ([2, 0], "points_per_class must be an integer >= 1"),
        ([2, 1.5], "points_per_class must be an integer"),
        (3, "points_per_class must be a sequence"),
    ],
)
def test_bad_points_per_class(ppc, match):
    with pytest.raises(ValueError, match=match):
        lc.LatentClassModel.disjoint([0.5, 0.5], ppc)


def test_bad_within():
    with pytest.raises(ValueError, match=r"within\[1\] must have shape \(2,\)"):
        lc.LatentClassModel.disjoint([0.5, 0.5], [1, 2], within=[[1.0], [1.0]])
    with pytest.raises(ValueError, match=r"within\[0\] must be finite, non-negative"):
        lc.LatentClassModel.disjoint([0.5, 0.5], [1, 2], within=[[-1.0], [1.0, 1.0]])


@pytest.mark.parametrize(
    "size, k, exc, match",
    [
        (-1, 2, ValueError, "size must be an integer >= 0"),
        (2.5, 2, ValueError, "size must be an integer"),
        ("10", 2, TypeError, "size must be an integer"),
        (10, 0, ValueError, "k must be an integer >= 1"),
        (10, -1, ValueError, "k must be an integer >= 1"),
        (10, 2.5, ValueError, "k must be an integer"),
        (10, True, TypeError, "k must be an integer, got the bool"),
        (10, float("inf"), ValueError, "k must be an integer >= 1"),
    ],
)
def test_bad_size_and_k(size, k, exc, match):
    m = lc.LatentClassModel.one_point_per_class([0.5, 0.5])
    with pytest.raises(exc, match=match):
        m.sample(size, k, rng=0)
    g = lc.GaussianLatentClassModel([0.5, 0.5], [[0.0], [1.0]])
    with pytest.raises(exc, match=match):
        g.sample(size, k, rng=0)


@pytest.mark.parametrize(
    "means, scale, match",
    [
        ([[0.0], [1.0], [2.0]], 1.0, r"means must have shape \(n_classes, p\)"),
        ([[0.0], [np.nan]], 1.0, "means must be finite"),
        ([[0.0], [1.0]], 0.0, "scale must be finite and > 0"),
        ([[0.0], [1.0]], [1.0, 1.0, 1.0], r"scale must be a number or have shape \(2,\)"),
    ],
)
def test_bad_gaussian_model(means, scale, match):
    with pytest.raises(ValueError, match=match):
        lc.GaussianLatentClassModel([0.5, 0.5], means, scale)
