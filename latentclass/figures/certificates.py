"""Certificates: exact KKT certificates of the simplex, and the solver's duality gaps (SPEC §4, §5).

Two figures: ``symbolic_certificates`` (rational-arithmetic KKT over a grid of (m, k)) and
``solver_certificates`` (duality gaps over k = 1 … ∞; time and optimum vs CVXPY + Clarabel).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .example_models import NONUNIFORM_RHO, class_level_model, collapse_models, uniform_model
from .spec import all_true, define_figure, gaps_or_inf, k_label
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
    tolerance_line,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


# =============================================================================== symbolic certificates
def compute_symbolic_certificates(quick: bool) -> dict:
    """``symbolic.simplex_kkt(m, k)`` over a grid of ``(m, k)``: whether the exact KKT
    conditions hold for every τ > 0, and the exact margins ``−α`` and ``β`` at ``τ = 1``
    (sympy expressions evaluated to 20 digits, then rounded to floats)."""
    import sympy

    from ..symbolic import TAU, simplex_kkt

    ms = list(range(2, 7)) if quick else list(range(2, 11))
    ks = list(range(1, 13)) if quick else list(range(1, 33))
    holds, neg_alpha, beta = [], [], []
    for m in ms:
        certs = [simplex_kkt(m, k) for k in ks]
        holds.append([c.holds for c in certs])
        neg_alpha.append([-float(sympy.N(c.alpha.subs(TAU, 1), 20)) for c in certs])
        beta.append([float(sympy.N(c.beta.subs(TAU, 1), 20)) for c in certs])
    return dict(ms=ms, ks=ks, holds=holds, neg_alpha_tau1=neg_alpha, beta_tau1=beta)


def check_symbolic_certificates(data: dict) -> tuple[bool, dict]:
    cells = [
        (m, k, h) for m, row in zip(data["ms"], data["holds"]) for k, h in zip(data["ks"], row)
    ]
    failing = [dict(m=m, k=k, holds=h) for m, k, h in cells if h is not True]
    shape = (len(data["ms"]), len(data["ks"]))
    # the margins are optional in the data (older data files): without them only `holds` is checked
    neg_alpha = np.asarray(data.get("neg_alpha_tau1", np.full(shape, np.inf)), float)
    beta = np.asarray(data.get("beta_tau1", np.full(shape, np.inf)), float)
    # consistency: where the exact certificate holds (α ≤ 0 ≤ β for every τ > 0), the margins
    # evaluated at τ = 1 are non-negative
    holds = np.array([[h is True for h in row] for row in data["holds"]])
    inconsistent = [
        dict(m=m, k=k, neg_alpha=float(neg_alpha[i, j]), beta=float(beta[i, j]))
        for i, m in enumerate(data["ms"])
        for j, k in enumerate(data["ks"])
        if holds[i, j] and not (neg_alpha[i, j] >= 0 and beta[i, j] >= 0)
    ]
    passed = not failing and not inconsistent
    details = dict(
        ms=data["ms"],
        ks=data["ks"],
        n_certificates=len(cells),
        n_hold=sum(h is True for _, _, h in cells),
        not_holding=failing,
        min_neg_alpha_tau1=float(neg_alpha.min()) if "neg_alpha_tau1" in data else None,
        min_beta_tau1=float(beta.min()) if "beta_tau1" in data else None,
        margins_inconsistent_with_holds=inconsistent,
    )
    return bool(passed), details


def _margin_map(ax, values: np.ndarray, holds: list, ms: list, ks: list, label: str) -> Any:
    """Heat map of one exact margin over (m, k) (log colour scale); cells that do not hold
    are drawn vermillion (fails) or purple (undecided) on top."""
    from matplotlib.colors import ListedColormap, LogNorm

    extent = (ks[0] - 0.5, ks[-1] + 0.5, ms[0] - 0.5, ms[-1] + 0.5)
    positive = np.where(values > 0, values, np.nan)
    lo = np.nanmin(positive) if np.any(values > 0) else 1e-3
    hi = np.nanmax(positive) if np.any(values > 0) else 1.0
    im = ax.imshow(
        positive,
        cmap="cividis",
        norm=LogNorm(vmin=lo, vmax=max(hi, lo * 1.0001)),
        aspect="auto",
        origin="lower",
        extent=extent,
    )
    code = np.array(
        [[np.nan if h is True else (0.0 if h is False else 1.0) for h in row] for row in holds]
    )
    if np.any(np.isfinite(code)):
        ax.imshow(
            code,
            cmap=ListedColormap([PALETTE["vermillion"], PALETTE["purple"]]),
            vmin=0,
            vmax=1,
            aspect="auto",
            origin="lower",
            extent=extent,
        )
    ax.set_xticks(np.arange(ks[0] - 0.5, ks[-1] + 1), minor=True)
    ax.set_yticks(np.arange(ms[0] - 0.5, ms[-1] + 1), minor=True)
    ax.grid(False)
    ax.grid(which="minor", color="white", lw=0.4)
    ax.tick_params(which="minor", length=0)
    step = 1 if len(ks) <= 16 else 4
    ax.set_xticks([k for k in ks if (k - ks[0]) % step == 0 or k == ks[-1]])
    ax.set_yticks(ms)
    ax.set_xlabel(K_LABEL)
    ax.set_title(label, fontsize=7.2)
    return im


def draw_symbolic_certificates(data: dict, passed: bool, details: dict, ax: Any = None) -> Figure:
    from matplotlib.patches import Patch

    ms, ks = data["ms"], data["ks"]
    with style():
        fig, (ax1, ax2), own = panels(ax, (1, 2), width="double", height=2.3 + 0.14 * len(ms))
        for a, key, label in (
            (ax1, "neg_alpha_tau1", r"margin $-\alpha$ at $\tau=1$ (needs $\geq 0$)"),
            (ax2, "beta_tau1", r"margin $\beta$ at $\tau=1$ (needs $\geq 0$)"),
        ):
            values = np.asarray(data.get(key, np.full((len(ms), len(ks)), np.nan)), float)
            im = _margin_map(a, values, data["holds"], ms, ks, label)
            fig.colorbar(im, ax=a, shrink=0.9)  # the panel's title names the margin
        ax1.set_ylabel("number of classes $m$")
        handles = [
            Patch(color=PALETTE["vermillion"], label="certificate fails"),
            Patch(color=PALETTE["purple"], label="undecided"),
        ]
        ax2.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.25),
            ncol=2,
            fontsize=6.3,
            frameon=False,
        )
        if own:
            fig.suptitle(
                "Exact KKT certificate of the simplex (uniform ρ): stationarity and α ≤ 0 ≤ β "
                "decided\nin rational arithmetic for every τ > 0 — "
                f"{details['n_hold']} of {details['n_certificates']} (m, k) hold; "
                "colour: the exact margins at τ = 1",
                fontsize=8.0,
            )
            status_footer(
                fig,
                passed,
                f"{details['n_hold']}/{details['n_certificates']} certificates hold; "
                + (
                    f"smallest margins at τ=1: −α {details['min_neg_alpha_tau1']:.2g}, "
                    f"β {details['min_beta_tau1']:.2g}"
                    if details.get("min_beta_tau1") is not None
                    else "margins not in the data"
                ),
            )
    return fig


SYMBOLIC_CERTIFICATES = define_figure(
    "symbolic_certificates",
    globals(),
    claim=(
        "For uniform ρ the regular simplex satisfies the KKT conditions of the convex problem for "
        "every τ > 0 (stationarity and α ≤ 0 ≤ β decided exactly in rational arithmetic)."
    ),
    check=(
        "symbolic.simplex_kkt(m, k).holds is True at every (m, k) of the grid, and the exact "
        "margins −α and β evaluated at τ = 1 are ≥ 0 wherever it holds (drawn as the colour)."
    ),
)


# =============================================================================== solver certificates
GAP_TOL = 1e-7
CVXPY_TOL = 1e-7


def _timed(fn: Callable, *args, repeat: int = 1, **kwargs):
    """``(result, best wall time over repeat runs)``."""
    best = math.inf
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - t0)
    return out, best


def _solver_problems(quick: bool) -> list[tuple[str, Any, list]]:
    """``(name, model, ks)`` whose duality gaps are drawn: class level and point level."""
    from ..families import parse_class_probs

    ks = [1, 4, 16, 256, math.inf] if quick else [1, 2, 4, 8, 16, 64, 256, 4096, 10**6, math.inf]
    families = ["zipf:6:1"] + ([] if quick else ["dominant:5:0.8", "geometric:8:0.6"])
    probs = [
        ("uniform m=6", uniform_model(6)),
        ("ρ=(.4,.3,.2,.1)", class_level_model(NONUNIFORM_RHO)),
    ]
    probs += [(f, class_level_model(parse_class_probs(f))) for f in families]
    probs += [(f"point level, {k}", m) for k, m in collapse_models().items()]
    return [(name, model, ks) for name, model in probs]


def _conic_problems(quick: bool) -> list[tuple[str, Any, list]]:
    """``(name, model, ks)`` solved by both our solver and CVXPY + Clarabel, and timed."""
    rho3 = class_level_model([0.5, 0.3, 0.2])
    rho4 = class_level_model(NONUNIFORM_RHO)
    if quick:
        return [("ρ=(.5,.3,.2)", rho3, [1, 2, 4, 8]), ("ρ=(.4,.3,.2,.1)", rho4, [1, 2, 4])]
    return [
        ("ρ=(.5,.3,.2)", rho3, [1, 2, 4, 8, 16, 32, 64]),
        ("ρ=(.4,.3,.2,.1)", rho4, [1, 2, 4, 8, 16]),
        ("uniform m=5", uniform_model(5), [1, 2, 4, 8]),
        ("point level, disjoint", collapse_models()["disjoint"], [1, 2, 4]),
    ]


def compute_solver_certificates(quick: bool) -> dict:
    from ..optimize import optimal_representation

    gaps = []
    for name, model, ks in _solver_problems(quick):
        for k in ks:
            opt = optimal_representation(model, k, method="numerical")
            gaps.append(
                dict(
                    problem=name,
                    k=k,
                    gap=opt.duality_gap,
                    certified=opt.certified,
                    n_points=model.n_points,
                )
            )
    try:
        from ..conic import _import_cvxpy, conic_optimum

        _import_cvxpy()
        cvx_error = None
        # warm-up (untimed): CVXPY's first solve pays one-off import/compilation costs
        conic_optimum(uniform_model(2), 1)
    except ImportError as exc:
        cvx_error = str(exc)
    timing = []
    for name, model, ks in _conic_problems(quick):
        for k in ks:
            ours, t_ours = _timed(optimal_representation, model, k, method="numerical", repeat=3)
            row = dict(
                problem=name,
                k=k,
                ours_loss=ours.loss,
                ours_gap=ours.duality_gap,
                ours_seconds=t_ours,
                cvx_loss=None,
                cvx_seconds=None,
                cvx_status=None,
            )
            if cvx_error is None:
                with warnings.catch_warnings():  # "may be inaccurate": the status is recorded
                    warnings.simplefilter("ignore", UserWarning)
                    sol = conic_optimum(model, k)
                row.update(
                    cvx_loss=sol.loss,
                    cvx_seconds=sol.solve_time,
                    cvx_status=sol.status,
                    cvx_terms=sol.n_terms,
                )
            timing.append(row)
    return dict(gaps=gaps, timing=timing, cvxpy_error=cvx_error)


def _loss_diff(t: dict) -> float | None:
    """``|L_k(CVXPY) − L_k(ours)|`` of a timing row, ``None`` where CVXPY did not run."""
    return None if t["cvx_loss"] is None else abs(t["cvx_loss"] - t["ours_loss"])


def check_solver_certificates(data: dict) -> tuple[bool, dict]:
    gaps = gaps_or_inf(data["gaps"])
    cert = all_true(data["gaps"])
    ran = [t for t in data["timing"] if t["cvx_loss"] is not None]
    # every run in ``ran`` has a CVXPY loss, so no difference is None
    diffs = [d for d in map(_loss_diff, ran) if d is not None]
    ratios = [t["cvx_seconds"] / t["ours_seconds"] for t in ran]
    passed = bool(max(gaps) <= GAP_TOL and cert and all(d <= CVXPY_TOL for d in diffs))
    details = dict(
        n_problems=len(gaps),
        max_duality_gap=max(gaps),
        all_certified=cert,
        cvxpy_available=data["cvxpy_error"] is None,
        cvxpy_error=data["cvxpy_error"],
        n_cvxpy_runs=len(ran),
        max_abs_loss_diff_vs_cvxpy=max(diffs) if diffs else None,
        cvxpy_statuses=sorted({t["cvx_status"] for t in ran}),
        cvxpy_over_ours_time_ratio_median=float(np.median(ratios)) if ratios else None,
        cvxpy_over_ours_time_ratio_min=float(min(ratios)) if ratios else None,
        per_run=[
            dict(
                problem=t["problem"],
                k=t["k"],
                ours_seconds=t["ours_seconds"],
                cvx_seconds=t["cvx_seconds"],
                abs_loss_diff=_loss_diff(t),
            )
            for t in data["timing"]
        ],
    )
    return passed, details


def _draw_gaps(ax, gaps: list[dict]) -> None:
    """Duality gap of every solve, one marker per problem, against k (categorical axis)."""
    names = list(dict.fromkeys(g["problem"] for g in gaps))
    all_ks = sorted({g["k"] for g in gaps}, key=lambda k: (k == math.inf, k))
    pos = {k: i for i, k in enumerate(all_ks)}
    for p, name in enumerate(names):
        gs = [g for g in gaps if g["problem"] == name]
        off = (p - (len(names) - 1) / 2) * 0.09
        ax.plot(
            [pos[g["k"]] + off for g in gs],
            floor_abs([g["gap"] for g in gs], 1e-18),
            ls="none",
            marker=MARKERS[p % 8],
            ms=3.5,
            color=COLORS[p % 8],
            label=name,
        )
    tolerance_line(
        ax,
        GAP_TOL,
        "certify tolerance $10^{-7}$",
        (len(all_ks) - 0.6, GAP_TOL / 2.5),
        ha="right",
        va="top",
    )
    ax.set_yscale("log")
    ax.set_ylim(1e-16, 1e-2)
    ax.set_xticks(range(len(all_ks)))
    ax.set_xticklabels(
        [
            k_label(k)
            if k in (1, 4, 16, 256, 4096, math.inf) or len(all_ks) <= 6
            else (f"$10^{{{round(math.log10(k))}}}$" if k >= 10**5 else k_label(k))
            for k in all_ks
        ],
        fontsize=6.5,
    )
    ax.set_xlabel(K_LABEL)
    ax.set_ylabel("certified duality gap [nats]")
    ax.set_title(
        "Every optimum carries a dual certificate\n(class level and point level, k = 1 … ∞)",
        fontsize=7.5,
    )
    ax.legend(loc="upper center", fontsize=5.6, ncol=3, columnspacing=0.8, handletextpad=0.3)


def _draw_timing(ax, timing: list[dict], details: dict) -> None:
    """Wall time of ours (solid) and of CVXPY + Clarabel (dashed, where installed) against k."""
    from matplotlib.lines import Line2D

    with_cvxpy = details["cvxpy_available"]
    probs = list(dict.fromkeys(t["problem"] for t in timing))
    handles = []
    for p, name in enumerate(probs):
        ts = [t for t in timing if t["problem"] == name]
        kk = [t["k"] for t in ts]
        ax.plot(kk, [t["ours_seconds"] for t in ts], marker=MARKERS[p], ms=3.5, color=COLORS[p])
        if with_cvxpy:
            ax.plot(
                kk,
                [t["cvx_seconds"] for t in ts],
                marker=MARKERS[p],
                ms=3.5,
                mfc="none",
                color=COLORS[p],
                ls="--",
            )
        handles.append(Line2D([], [], color=COLORS[p], marker=MARKERS[p], ms=3.5, label=name))
    if with_cvxpy:  # the line-style key: solid ours, dashed CVXPY (only when both are drawn)
        handles.append(Line2D([], [], color="0.2", label="ours (certified)"))
        handles.append(
            Line2D(
                [],
                [],
                color="0.2",
                ls="--",
                marker="o",
                mfc="none",
                ms=3.5,
                label="CVXPY + Clarabel",
            )
        )
    log2_axis(ax)
    ax.set_yscale("log")
    times = [
        t[key] for t in timing for key in ("ours_seconds", "cvx_seconds") if t[key] is not None
    ]
    ax.set_ylim(min(times) / 2, max(times) * (60 if with_cvxpy else 8))
    ax.set_xlabel(K_LABEL)
    ax.set_ylabel("wall time [s] (best of 3 for ours)")
    if with_cvxpy:
        ax.set_title(
            "Time vs CVXPY + Clarabel (multiset expansion):\noptima agree to "
            f"{details['max_abs_loss_diff_vs_cvxpy']:.1e} nats; median time ratio "
            f"{details['cvxpy_over_ours_time_ratio_median']:.1f}×",
            fontsize=7.5,
        )
    else:
        ax.set_title("Time of our solver (CVXPY not installed)", fontsize=7.5)
        ax.text(
            0.5,
            0.62,
            "cross-check against CVXPY + Clarabel not run:\n"
            "CVXPY is not installed (pip install cvxpy clarabel);\n"
            "only our certified side is drawn",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=6.4,
            color="0.25",
            bbox=dict(boxstyle="round,pad=0.4", fc="white", ec="0.7", lw=0.6),
        )
    ax.legend(handles=handles, loc="upper left", fontsize=5.6, ncol=2, columnspacing=0.8)


def draw_solver_certificates(data: dict, passed: bool, details: dict, ax: Any = None) -> Figure:
    with style():
        fig, (ax, ax2), own = panels(ax, (1, 2), width="double", height=2.8, width_ratios=[1.15, 1])
        _draw_gaps(ax, data["gaps"])
        _draw_timing(ax2, data["timing"], details)
        foot = f"max duality gap {details['max_duality_gap']:.1e} ≤ {GAP_TOL:g}"
        if details["cvxpy_available"]:
            foot += f"; |ours − CVXPY| ≤ {details['max_abs_loss_diff_vs_cvxpy']:.1e}"
        else:
            foot += "; CVXPY not installed"
        if own:
            status_footer(fig, passed, foot)
    return fig


SOLVER_CERTIFICATES = define_figure(
    "solver_certificates",
    globals(),
    claim=(
        "The numerical solver returns certified global optima (duality gap ≤ 1e-7) across "
        "class-level and point-level problems and k from 1 to ∞, and its optimum matches an "
        "independent conic formulation solved by CVXPY + Clarabel."
    ),
    check=(
        f"Every duality gap ≤ {GAP_TOL:g} and certified; where CVXPY runs, |L_k(ours) − "
        f"L_k(CVXPY)| ≤ {CVXPY_TOL:g}. If CVXPY is not installed only our side is drawn and "
        "details say so."
    ),
)
