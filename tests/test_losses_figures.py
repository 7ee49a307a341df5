"""The loss-family figures (issue 14): each check passes on its computed data and fails on
wrong data."""

from __future__ import annotations

import copy

import pytest

from latentclass.figures import REGISTRY
from latentclass.figures.loss_family import (
    LOSS_FAMILY_AVERAGING,
    LOSS_FAMILY_DOWNSTREAM,
    LOSS_FAMILY_POINT_LEVEL,
    LOSS_FAMILY_SIMPLEX,
)


@pytest.fixture(scope="module")
def data():
    return {
        spec.name: spec.compute(True)
        for spec in (
            LOSS_FAMILY_SIMPLEX,
            LOSS_FAMILY_AVERAGING,
            LOSS_FAMILY_DOWNSTREAM,
            LOSS_FAMILY_POINT_LEVEL,
        )
    }


def test_registered():
    for name in (
        "loss_family_simplex",
        "loss_family_averaging",
        "loss_family_downstream",
        "loss_family_point_level",
    ):
        assert name in REGISTRY


def test_simplex_figure_check(data):
    d = data["loss_family_simplex"]
    ok, details = LOSS_FAMILY_SIMPLEX.verify(d)
    assert ok, details
    assert details["simplex_not_optimal"]  # the hard-negative finding is reported
    assert all(r["loss"] == "hard_negative" for r in details["simplex_not_optimal"])
    bad = copy.deepcopy(d)
    bad["gaps"]["hinge"]["0.5"]["4"] = 1e-3  # an uncertified convex point
    assert not LOSS_FAMILY_SIMPLEX.verify(bad)[0]
    bad = copy.deepcopy(d)
    for r in bad["hinge"]:
        r["downstream"] = 0.5  # no spread: the non-uniqueness claim fails
    assert not LOSS_FAMILY_SIMPLEX.verify(bad)[0]
    bad = copy.deepcopy(d)
    r = next(r for r in bad["nonconvex"] if r["found"] is not None)
    r["found"] = r["simplex"] - 1.0  # a claimed improvement that re-evaluation refutes
    assert not LOSS_FAMILY_SIMPLEX.verify(bad)[0]
    LOSS_FAMILY_SIMPLEX.draw(d, ok, details)


def test_averaging_figure_check(data):
    d = data["loss_family_averaging"]
    ok, details = LOSS_FAMILY_AVERAGING.verify(d)
    assert ok and details["holds"]["hinge"] and not details["holds"]["hard_negative"]
    bad = copy.deepcopy(d)
    bad["worst"]["decoupled"][1] = -0.01
    assert not LOSS_FAMILY_AVERAGING.verify(bad)[0]
    bad = copy.deepcopy(d)
    bad["worst"]["hard_negative"] = [0.0] * len(d["ks"])
    assert not LOSS_FAMILY_AVERAGING.verify(bad)[0]
    LOSS_FAMILY_AVERAGING.draw(d, ok, details)


def test_downstream_figure_check(data):
    d = data["loss_family_downstream"]
    ok, details = LOSS_FAMILY_DOWNSTREAM.verify(d)
    assert ok, details
    rise = details["largest_rise"]["dominant:4:0.9/logistic"]
    assert rise == pytest.approx(0.426065 - 0.420951, abs=2e-6)  # the README finding
    bad = copy.deepcopy(d)
    c = next(c for c in bad["curves"] if c["loss"] == "decoupled")
    c["points"][0]["certified"] = False
    assert not LOSS_FAMILY_DOWNSTREAM.verify(bad)[0]
    bad = copy.deepcopy(d)
    c = next(c for c in bad["curves"] if c["loss"] == "debiased")
    c["points"][0]["certified"] = True  # a certificate for a non-convex loss is refused
    assert not LOSS_FAMILY_DOWNSTREAM.verify(bad)[0]
    LOSS_FAMILY_DOWNSTREAM.draw(d, ok, details)


def test_point_level_figure_check(data):
    d = data["loss_family_point_level"]
    ok, details = LOSS_FAMILY_POINT_LEVEL.verify(d)
    assert ok, details
    assert details["strict_max_collapse_error"] <= 1e-4
    assert all(r["certified"] for r in details["hinge_numerical"])
    bad = copy.deepcopy(d)
    bad["gaps"]["hinge"]["2.0"]["inf"] = 1e-3  # an uncertified collapsed simplex
    assert not LOSS_FAMILY_POINT_LEVEL.verify(bad)[0]
    bad = copy.deepcopy(d)
    r = next(r for r in bad["numeric"] if r["loss"] == "logistic")
    r["collapse"] = 0.01  # a strictly convex optimum that does not collapse
    assert not LOSS_FAMILY_POINT_LEVEL.verify(bad)[0]
    bad = copy.deepcopy(d)
    r = next(r for r in bad["numeric"] if r["loss"] == "decoupled")
    r["certified"] = False
    assert not LOSS_FAMILY_POINT_LEVEL.verify(bad)[0]
    bad = copy.deepcopy(d)
    for r in bad["numeric"]:
        if r["loss"] == "hinge":
            r["collapse"] = 0.5  # the hinge is reported, not checked
    assert LOSS_FAMILY_POINT_LEVEL.verify(bad)[0]
    LOSS_FAMILY_POINT_LEVEL.draw(d, ok, details)
