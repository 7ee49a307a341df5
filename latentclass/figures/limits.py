"""The large-k limit: ``L_k − log k − L_∞ = O(1/k)``, a fitted log-log slope of −1 (SPEC §3)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .example_models import NONUNIFORM_RHO, class_level_model
from .spec import define_figure
from .style import (
    COLORS,
    K_LABEL,
    MARKERS,
    PALETTE,
    floor_abs,
    log2_axis,
    panels,
    status_footer,
    style,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SLOPE_TOL = 0.1
SLOPE_FIT_KMIN = 64


def _gap_or_inf(gap: float | None) -> float:
    """A duality gap, a missing one (``None``) counted as ``inf`` (as :func:`.spec.gaps_or_inf`)."""
    return math.inf if gap is None else gap


def compute_large_k_limit(quick: bool) -> dict:
    """``L_k − log k − L_∞`` for the simplex, a non-uniform optimum, and a fixed representation."""
    from ..closed_form import simplex_loss
    from ..optimize import optimal_representation
    from ..population import population_loss, population_loss_limit

    ks = [2**j for j in (range(0, 17, 2) if quick else range(23))]
    m = 5
    model = class_level_model(NONUNIFORM_RHO)
    opt_inf = optimal_representation(model, math.inf)
    F = np.asarray(opt_inf.F)
    lim_fixed = population_loss_limit(model, F)
    series: dict[str, dict[str, Any]] = {
        "simplex": dict(label=f"uniform, m={m}: simplex (closed form)", values=[], certified=True),
        "optimum": dict(
            label="ρ=(.4,.3,.2,.1): optimum $L_k^*$", values=[], certified=bool(opt_inf.certified)
        ),
        "fixed": dict(label=r"ρ=(.4,.3,.2,.1): fixed $F^*_\infty$", values=[], certified=True),
    }
    lim_simplex = simplex_loss(m, math.inf)
    gaps = [_gap_or_inf(opt_inf.duality_gap)]
    for k in ks:
        series["simplex"]["values"].append(simplex_loss(m, k) - math.log(k) - lim_simplex)
        o = optimal_representation(model, k)
        gaps.append(_gap_or_inf(o.duality_gap))
        series["optimum"]["certified"] &= bool(o.certified)
        series["optimum"]["values"].append(o.loss - math.log(k) - opt_inf.loss)
        series["fixed"]["values"].append(population_loss(model, F, k) - math.log(k) - lim_fixed)
    return dict(ks=ks, series=series, max_gap=max(gaps), kmin=SLOPE_FIT_KMIN)


def check_large_k_limit(data: dict) -> tuple[bool, dict]:
    ks = np.asarray(data["ks"], float)
    sel = ks >= data["kmin"]
    details = dict(
        ks=[int(k) for k in ks],
        fit_k_min=data["kmin"],
        max_duality_gap=data["max_gap"],
        slopes={},
        positive={},
        certified={},
    )
    passed = True
    for key, s in data["series"].items():
        v = np.asarray(s["values"], float)
        positive = bool(np.all(v > 0))
        details["positive"][key] = positive
        details["certified"][key] = bool(s["certified"])
        if positive and sel.sum() >= 2:
            slope, intercept = np.polyfit(np.log(ks[sel]), np.log(v[sel]), 1)
            details["slopes"][key] = float(slope)
            details.setdefault("intercepts", {})[key] = float(intercept)
            ok = abs(slope + 1.0) <= SLOPE_TOL
        else:
            details["slopes"][key] = None
            ok = False
        passed &= ok and bool(s["certified"])
    return bool(passed), details


def draw_large_k_limit(data: dict, passed: bool, details: dict, ax: Any = None) -> Figure:
    ks = np.asarray(data["ks"], float)
    with style():
        fig, (ax, ax2), own = panels(
            ax, (2, 1), width="single", height=5.0, sharex=True, height_ratios=[2.0, 1.3]
        )
        for p, (key, s) in enumerate(data["series"].items()):
            v = np.asarray(s["values"], float)
            slope = details["slopes"][key]
            lab = s["label"] + ("" if slope is None else f", slope {slope:.3f}".replace("-", "−"))
            ax.plot(
                ks,
                floor_abs(v, 1e-300),
                ls="none",
                marker=MARKERS[p],
                mfc="none" if p == 1 else None,
                ms=4.5 - p,
                color=COLORS[p],
                label=lab,
                zorder=3 + p,
            )
            if slope is not None:
                kk = ks[ks >= data["kmin"]]
                ax.plot(
                    kk,
                    np.exp(details["intercepts"][key]) * kk**slope,
                    color=COLORS[p],
                    lw=0.8,
                    ls="--",
                    zorder=2,
                )
        log2_axis(ax, numticks=9, powers=True)
        ax.set_yscale("log")
        ax.axvspan(data["kmin"], ks.max() * 1.5, color=PALETTE["sky"], alpha=0.08, lw=0)
        ax.set_xlim(ks.min() / 1.5, ks.max() * 1.5)
        ax.set_ylabel(r"$L_k - \log k - L_\infty$ [nats]")
        ax.set_title(
            r"$L_k - \log k \to L_\infty$ at rate $1/k$ (checked: fitted slope $-1$"
            f" ± {SLOPE_TOL:g})\n"
            + "below, k × difference → the first-order coefficient (the optimum\n"
            r"and the fixed $F^*_\infty$ share it: they differ by $O(1/k^2)$)",
            fontsize=7.2,
        )
        # k (L_k − log k − L_∞) → the first-order coefficient: flat iff the rate is 1/k, and
        # it separates series that coincide on the log scale above.
        for p, (_key, s) in enumerate(data["series"].items()):
            v = np.asarray(s["values"], float)
            ax2.plot(
                ks,
                ks * v,
                marker=MARKERS[p],
                mfc="none" if p == 1 else None,
                ms=4.0 - 0.5 * p,
                lw=0.9,
                color=COLORS[p],
                zorder=3 + p,
            )
        ax2.axvspan(data["kmin"], ks.max() * 1.5, color=PALETTE["sky"], alpha=0.08, lw=0)
        log2_axis(ax2, numticks=9, powers=True)
        ax2.set_xlim(ks.min() / 1.5, ks.max() * 1.5)
        ax2.set_ylabel(r"$k\,(L_k - \log k - L_\infty)$")
        ax2.set_xlabel(K_LABEL)
        ax2.legend(
            [line for line in ax.lines if not line.get_label().startswith("_")],
            [line.get_label() for line in ax.lines if not line.get_label().startswith("_")],
            loc="upper center",
            bbox_to_anchor=(0.5, -0.32),
            fontsize=6.0,
            borderaxespad=0.0,
        )
        ax.text(
            data["kmin"] * 1.2,
            0.03,
            f"fit range k ≥ {data['kmin']}",
            transform=ax.get_xaxis_transform(),
            fontsize=6.0,
            color="0.35",
            va="bottom",
        )
        if own:
            status_footer(fig, passed, f"|slope + 1| ≤ {SLOPE_TOL:g} for all three series")
    return fig


LARGE_K_LIMIT = define_figure(
    "large_k_limit",
    globals(),
    claim=(
        "L_k − log k converges to the limit objective L_∞ with error O(1/k) (SPEC §3), for a fixed "
        "representation and for the optimal values."
    ),
    check=(
        f"Least-squares slope of log(L_k − log k − L_∞) on log k for k ≥ {SLOPE_FIT_KMIN} within "
        f"{SLOPE_TOL:g} of −1 for each series; all differences positive; optima certified."
    ),
)
