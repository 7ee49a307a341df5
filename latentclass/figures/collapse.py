"""Point level: disjoint supports collapse every class to one vector at every k (SPEC §5).

Overlapping supports are reported as measured, not checked.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .example_models import collapse_models
from .spec import all_true, define_figure, k_label
from .style import (
    COLORS,
    K_LABEL,
    MARKERS,
    floor_abs,
    k_axis,
    panels,
    status_footer,
    style,
    tolerance_line,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COLLAPSE_TOL = 1e-6
_COLLAPSE_FLOOR = 1e-16


def compute_point_collapse(quick: bool) -> dict:
    from ..optimize import optimal_representation
    from ..structure import structure

    ks = (
        [1, 2, 4, 8, 16, 64, 256, math.inf]
        if quick
        else [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128, 256, 512, 1024, 4096, 10**5, math.inf]
    )
    out = {}
    for label, model in collapse_models().items():
        rows = []
        for k in ks:
            opt = optimal_representation(model, k)
            s = structure(model, opt.F)
            rows.append(
                dict(
                    k=k,
                    collapse=s.collapse_error,
                    certified=opt.certified,
                    gap=opt.duality_gap,
                    norm_dev=float(np.abs(1 - s.norms).max()),
                    min_angle=s.min_angle,
                )
            )
        out[label] = rows
    return dict(ks=ks, models=out)


def check_point_collapse(data: dict) -> tuple[bool, dict]:
    dis, ov = data["models"]["disjoint"], data["models"]["overlapping"]
    every_row = [r for rows in data["models"].values() for r in rows]
    dis_err = [r["collapse"] for r in dis]
    cert = all_true(every_row)
    passed = bool(max(dis_err) <= COLLAPSE_TOL and cert)
    details = dict(
        ks=[k_label(k) for k in data["ks"]],
        tolerance=COLLAPSE_TOL,
        disjoint_max_collapse_error=max(dis_err),
        disjoint_collapse_error=dis_err,
        disjoint_max_norm_deviation=max(r["norm_dev"] for r in dis),
        overlapping_collapse_error=[r["collapse"] for r in ov],
        overlapping_max_norm_deviation=max(r["norm_dev"] for r in ov),
        all_certified=cert,
        max_duality_gap=max(r["gap"] for r in every_row),
    )
    return passed, details


def draw_point_collapse(data: dict, passed: bool, details: dict, ax: Any = None) -> Figure:
    ks = data["ks"]
    with style():
        fig, ax, own = panels(ax, (1, 1), width="single", height=2.8)
        xs = k_axis(ax, ks)
        for p, (label, desc) in enumerate(
            (("disjoint", "disjoint supports"), ("overlapping", "overlapping supports"))
        ):
            rows = data["models"][label]
            ax.plot(
                xs,
                floor_abs([r["collapse"] for r in rows], _COLLAPSE_FLOOR),
                marker=MARKERS[p],
                ms=4,
                color=COLORS[p],
                label=desc,
            )
        tolerance_line(
            ax,
            COLLAPSE_TOL,
            f"tolerance {COLLAPSE_TOL:g}",
            (0.98, COLLAPSE_TOL * 3),
            ha="right",
            transform=ax.get_yaxis_transform(),
        )
        ax.set_yscale("log")
        ax.set_ylim(_COLLAPSE_FLOOR / 3, 100)
        ax.set_xlabel(K_LABEL)
        ax.set_ylabel("collapse error: largest distance\n" + r"$\|f(x)-f(x')\|$ within a class")
        if own:
            fig.suptitle(
                "Point level, ρ=(.5,.3,.2), 7 points: disjoint classes collapse\n"
                f"at every k (checked, ≤ {COLLAPSE_TOL:g}); overlapping: as measured, no claim",
                fontsize=8.3,
            )
        ax.legend(
            loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=6.3, borderaxespad=0.2
        )
        if own:
            status_footer(
                fig,
                passed,
                f"disjoint: max {details['disjoint_max_collapse_error']:.1e} "
                f"≤ {COLLAPSE_TOL:g}; all certified",
            )
    return fig


POINT_COLLAPSE = define_figure(
    "point_collapse",
    globals(),
    claim=(
        "With disjoint supports (any ρ) the optimal representation maps every point of a class to "
        "one vector, at every k; with overlapping supports no structure is claimed and the "
        "collapse error is reported as measured."
    ),
    check=(
        f"Disjoint model: collapse error ≤ {COLLAPSE_TOL:g} at every k; every optimum (both "
        "models) certified. Overlapping model: collapse errors reported, not checked."
    ),
)
