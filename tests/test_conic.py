"""Tests of latentclass.conic, the CVXPY + Clarabel cross-check of SPEC §4.

Independent references: the loss at Clarabel's Gram matrix recomputed by brute force over
all *ordered* k-tuples of negatives (``itertools.product``, no multiset code); the closed
form ``simplex_loss`` for uniform classes; exact multinomial probabilities.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from oracles import brute_force_limit, brute_force_loss_tuples

from latentclass.closed_form import simplex_gram, simplex_loss
from latentclass.conic import conic_optimum, multiset_terms
from latentclass.model import LatentClassModel

brute_force_loss = brute_force_loss_tuples


def test_multiset_terms():
    w = np.array([0.5, 0.3, 0.2])
    for k in (1, 2, 5):
        counts, logp = multiset_terms(k, w)
        assert counts.shape == (math.comb(k + 2, 2), 3)
        assert np.all(counts.sum(axis=1) == k)
        assert len({tuple(r) for r in counts}) == counts.shape[0]
        assert math.fsum(np.exp(logp)) == pytest.approx(1.0, abs=1e-14)
    # an explicit multinomial probability
    counts, logp = multiset_terms(4, w)
    i = int(np.flatnonzero((counts == [2, 1, 1]).all(axis=1))[0])
    assert math.exp(logp[i]) == pytest.approx(12 * 0.25 * 0.3 * 0.2, rel=1e-14)


@pytest.mark.parametrize("m,k,tau", [(2, 1, 1.0), (3, 2, 1.0), (4, 3, 0.5), (5, 2, 0.3)])
def test_uniform_matches_simplex(m, k, tau):
    model = LatentClassModel.one_point_per_class(np.full(m, 1.0 / m))
    sol = conic_optimum(model, k, tau)
    assert sol.feasibility_residual <= 1e-8  # judged by values, not the status string
    assert sol.loss == pytest.approx(simplex_loss(m, k, tau), abs=1e-9)
    assert np.max(np.abs(sol.gram - simplex_gram(m))) < 1e-4


@pytest.mark.parametrize(
    "rho,cond,k",
    [
        ([0.5, 0.3, 0.2], np.eye(3), 3),
        ([0.6, 0.4], [[0.7, 0.0, 0.3], [0.0, 0.5, 0.5]], 2),  # overlapping supports
        ([0.2, 0.8], [[0.5, 0.5, 0.0], [0.0, 0.1, 0.9]], 3),
    ],
)
def test_reported_loss_is_loss_of_gram(rho, cond, k):
    model = LatentClassModel(rho, cond)
    sol = conic_optimum(model, k, 0.7)
    assert sol.feasibility_residual <= 1e-8  # judged by values, not the status string
    G = sol.gram
    assert np.linalg.eigvalsh(G)[0] >= -1e-8 and np.max(np.diag(G)) <= 1 + 1e-8
    assert sol.loss == pytest.approx(brute_force_loss(model, G, k, 0.7), abs=1e-8)


def test_limit_objective():
    m = 4
    model = LatentClassModel.one_point_per_class(np.full(m, 1.0 / m))
    sol = conic_optimum(model, math.inf, 0.5)
    assert sol.loss == pytest.approx(simplex_loss(m, math.inf, 0.5), abs=1e-9)
    model = LatentClassModel.one_point_per_class([0.5, 0.3, 0.2])
    sol = conic_optimum(model, math.inf, 1.0)
    assert sol.loss == pytest.approx(brute_force_limit(model, sol.gram, 1.0), abs=1e-8)


def test_refuses_large_programs():
    model = LatentClassModel.one_point_per_class(np.full(10, 0.1))
    with pytest.raises(ValueError, match="too large.*max_terms"):
        conic_optimum(model, 50)
    with pytest.raises(ValueError, match="k"):
        conic_optimum(model, 0)
    with pytest.raises(ValueError, match="tol"):
        conic_optimum(model, 2, tol=0.0)


def test_missing_cvxpy_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "cvxpy", None)  # makes `import cvxpy` raise ImportError
    model = LatentClassModel.one_point_per_class([0.5, 0.5])
    with pytest.raises(ImportError, match=r"pip install 'latentclass\[test\]'"):
        conic_optimum(model, 2)


def test_package_imports_without_cvxpy():
    import subprocess

    code = (
        "import sys; sys.modules['cvxpy'] = None; sys.modules['clarabel'] = None\n"
        "import latentclass, latentclass.conic, latentclass.optimize\n"
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
