"""The findings stated in README.md are recomputed here and must match the README's numbers,
rounded (not truncated) to the digits shown: a claim written once and checked."""

from __future__ import annotations

import math
import pathlib

import pytest

import latentclass as lc
from latentclass.experiments.degradation import _random_class_laws

README = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")


def _downstream(rho, k, tau, weighting):
    model = lc.LatentClassModel.one_point_per_class(rho)
    opt = lc.optimal_representation(model, k, tau)
    assert opt.certified
    return lc.mean_classifier_metrics(model, opt.F, tau, weighting=weighting).loss


def test_dominant_rise_rho_weighted():
    rho = lc.parse_class_probs("dominant:4:0.9")
    low = _downstream(rho, 12, 1.0, "class_probs")
    high = _downstream(rho, math.inf, 1.0, "class_probs")
    assert f"from {low:.5f} at `k ≤ 12` to {high:.5f} at `k = ∞`" in README
    assert high > low
    # the rare classes separate at k = 13: accuracy jumps from 0.9 to 1
    assert "share one vector up to `k = 12` and separate at `k = 13`" in " ".join(README.split())
    model = lc.LatentClassModel.one_point_per_class(rho)
    acc = {
        k: lc.mean_classifier_accuracy(model, lc.optimal_representation(model, k).F)
        for k in (12, 13)
    }
    assert acc[12] == pytest.approx(0.9, abs=1e-12) and acc[13] == pytest.approx(1.0, abs=1e-12)


def test_balanced_rise_at_tau_half():
    name, rho = _random_class_laws(40, (3, 4, 5, 6), (0.3, 1.0, 3.0), 1e-4, 1)[17]
    shown = "(" + ", ".join(f"{p:.4f}" for p in rho) + ")"
    assert f"`ρ ≈ {shown}`" in README
    vals = [_downstream(rho, k, 0.5, "balanced") for k in (1, 8, math.inf)]
    text = (
        f"{vals[0]:.5f} (`k = 1`) to {vals[1]:.5f} (`k = 8`) and rises to {vals[2]:.5f} (`k = ∞`)"
    )
    assert text in " ".join(README.split())
    assert vals[1] < vals[0] and vals[2] > vals[1]
