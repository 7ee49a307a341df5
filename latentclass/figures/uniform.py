"""Uniform ρ: the loss, Gram matrix and downstream loss of the optimum, across k (SPEC §3, §5–§7).

Three figures: ``population_loss`` (closed form = certified optimum = Monte-Carlo),
``gram_across_k`` (the simplex at every k; non-uniform Gram matrices move) and
``downstream_uniform`` (downstream loss flat in k; the published bounds overlaid).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .example_models import NONUNIFORM_RHO, class_level_model, uniform_model
from .spec import all_true, define_figure, gaps_or_inf, k_label
from .style import (
    COLORS,
    K_LABEL,
    MARKERS,
    PALETTE,
    floor_abs,
    k_axis,
    log2_axis,
    new_figure,
    panels,
    status_footer,
    style,
    tolerance_line,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# =============================================================================== population loss
POP_TOL_NUMERICAL = 1e-9
POP_Z_MAX = 5.0


def compute_population_loss(quick: bool) -> dict:
    """Closed form, certified numerical optimum and Monte-Carlo NCE loss, uniform ρ."""
    from ..closed_form import simplex_loss
    from ..nce import nce_loss
    from ..optimize import optimal_representation

    m, tau = 5, 1.0
    model = uniform_model(m)
    ks = (
        [1, 2, 4, 8, 16, 32, 64, 128]
        if quick
        else [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 512, 1024]
    )
    size = 4000 if quick else 20000
    budget = 1_000_000 if quick else 4_000_000  # negatives drawn per k (memory bound)
    rows = []
    for i, k in enumerate(ks):
        opt = optimal_representation(model, k, tau, method="numerical", init="random", rng=100 + i)
        n = max(2000, min(size, budget // k))
        est = nce_loss(opt.F, model.sample(n, k, rng=1000 + i), tau)
        rows.append(
            dict(
                k=k,
                closed=simplex_loss(m, k, tau),
                numerical=opt.loss,
                gap=opt.duality_gap,
                certified=opt.certified,
                mc=est.mean,
                mc_se=est.stderr,
                mc_n=est.n,
            )
        )
    dense = np.unique(np.round(np.geomspace(1, max(ks), 80)).astype(int))
    return dict(
        m=m,
        tau=tau,
        rows=rows,
        dense_k=dense.tolist(),
        dense_closed=[simplex_loss(m, int(k), tau) for k in dense],
    )


def _mc_z_scores(rows: list[dict]) -> list[float]:
    """Monte-Carlo estimate minus closed form, in standard errors."""
    return [(r["mc"] - r["closed"]) / r["mc_se"] for r in rows]


def check_population_loss(data: dict) -> tuple[bool, dict]:
    rows = data["rows"]
    diff = [abs(r["numerical"] - r["closed"]) for r in rows]
    z = _mc_z_scores(rows)
    certified = all_true(rows)
    passed = bool(max(diff) <= POP_TOL_NUMERICAL and certified and max(map(abs, z)) <= POP_Z_MAX)
    details = dict(
        m=data["m"],
        tau=data["tau"],
        ks=[r["k"] for r in rows],
        max_abs_numerical_minus_closed=max(diff),
        max_duality_gap=max(gaps_or_inf(rows)),
        all_certified=certified,
        max_abs_mc_z=max(map(abs, z)),
        mc_samples=[r["mc_n"] for r in rows],
    )
    return passed, details


def draw_population_loss(data: dict, passed: bool, details: dict, ax: Any = None) -> Figure:
    rows = data["rows"]
    ks = np.array([r["k"] for r in rows], float)
    with style():
        fig, axs, own = panels(
            ax, (3, 1), width="single", height=4.3, sharex=True, height_ratios=[2.2, 1.1, 1.1]
        )
        ax = axs[0]
        ax.plot(
            data["dense_k"],
            data["dense_closed"],
            color=COLORS[0],
            lw=1.2,
            label="closed form (SPEC §5)",
            zorder=2,
        )
        ax.plot(
            ks,
            [r["numerical"] for r in rows],
            ls="none",
            marker="o",
            mfc="none",
            mec=COLORS[1],
            ms=5.5,
            mew=1.0,
            label="certified numerical optimum",
            zorder=3,
        )
        ax.errorbar(
            ks,
            [r["mc"] for r in rows],
            yerr=[2 * r["mc_se"] for r in rows],
            ls="none",
            marker=".",
            color=COLORS[2],
            ms=3,
            label=r"Monte-Carlo $\pm 2$ SE",
            zorder=4,
        )
        log2_axis(ax)
        ax.set_ylabel(r"$L_k^*$ [nats]")
        ax.legend(loc="upper left")
        ax.set_title(
            f"Uniform ρ (m={data['m']}, τ={data['tau']:g}): $L_k$ of the optimum\n"
            "= closed form = Monte-Carlo, at every k",
            fontsize=8.3,
        )

        ax = axs[1]
        ax.axhspan(-POP_Z_MAX, POP_Z_MAX, color=PALETTE["sky"], alpha=0.15, lw=0)
        ax.axhline(0, color="0.4", lw=0.6)
        ax.plot(ks, _mc_z_scores(rows), ls="none", marker="s", color=COLORS[2], ms=3.5)
        ax.set_ylim(-POP_Z_MAX * 1.25, POP_Z_MAX * 1.25)
        ax.set_ylabel("MC − closed\n[SE]")
        ax.text(0.01, 0.93, r"band: $\pm 5$ SE", transform=ax.transAxes, fontsize=6.5, va="top")

        ax = axs[2]
        diff = floor_abs([r["numerical"] - r["closed"] for r in rows])
        ax.plot(ks, diff, ls="none", marker="o", mfc="none", mec=COLORS[1], ms=4)
        tolerance_line(
            ax,
            POP_TOL_NUMERICAL,
            "tolerance $10^{-9}$",
            (ks[0], POP_TOL_NUMERICAL * 2.5),
            fontsize=6.5,
            va="bottom",
        )
        ax.set_yscale("log")
        ax.set_ylim(1e-18, 1e-6)
        ax.set_ylabel("|numerical −\nclosed| [nats]")
        ax.set_xlabel(K_LABEL)
        ax.text(
            0.99,
            0.62,
            r"(exact 0 drawn at $10^{-17}$)",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=6.0,
            color="0.35",
        )
        if own:
            status_footer(
                fig,
                passed,
                f"max |numerical − closed| {details['max_abs_numerical_minus_closed']:.1e}, "
                f"max |z| {details['max_abs_mc_z']:.1f}",
            )
        fig.align_ylabels(axs)
    return fig


POPULATION_LOSS = define_figure(
    "population_loss",
    globals(),
    claim=(
        "For uniform ρ the population NCE loss of the optimal representation equals the closed "
        "form of SPEC §5 at every k; the certified numerical optimum (from a random start) and "
        "Monte-Carlo estimates of the NCE loss at it agree with it."
    ),
    check=(
        f"|numerical − closed form| ≤ {POP_TOL_NUMERICAL:g} and certified at every k; every "
        f"Monte-Carlo estimate within {POP_Z_MAX:g} standard errors of the closed form."
    ),
)


# =============================================================================== Gram across k
GRAM_TOL = 1e-4
GRAM_NONUNIFORM_RHO = NONUNIFORM_RHO


def compute_gram_across_k(quick: bool) -> dict:
    """Optimal Gram matrices (numerical solver) for uniform and non-uniform ρ, m = 4."""
    from ..closed_form import simplex_gram
    from ..optimize import optimal_representation

    m = 4
    shown = [1, 8, 64, math.inf]
    ks = (
        [1, 4, 8, 64, 256, math.inf]
        if quick
        else [
            1,
            2,
            3,
            4,
            6,
            8,
            12,
            16,
            24,
            32,
            48,
            64,
            128,
            256,
            512,
            1024,
            4096,
            16384,
            10**6,
            math.inf,
        ]
    )
    uni = uniform_model(m)
    non = class_level_model(GRAM_NONUNIFORM_RHO)
    target = np.asarray(simplex_gram(m))
    rows = []
    for i, k in enumerate(ks):
        ou = optimal_representation(uni, k, method="numerical", init="random", rng=200 + i)
        on = optimal_representation(non, k, rng=0)
        rows.append(
            dict(
                k=k,
                uniform=np.asarray(ou.gram),
                uniform_certified=ou.certified,
                uniform_gap=ou.duality_gap,
                uniform_error=float(np.abs(ou.gram - target).max()),
                nonuniform=np.asarray(on.gram),
                nonuniform_certified=on.certified,
                nonuniform_gap=on.duality_gap,
            )
        )
    return dict(m=m, rho=GRAM_NONUNIFORM_RHO, ks=ks, shown=shown, rows=rows, simplex=target)


def check_gram_across_k(data: dict) -> tuple[bool, dict]:
    rows = data["rows"]
    errs = [
        float(np.abs(np.asarray(r["uniform"]) - np.asarray(data["simplex"])).max()) for r in rows
    ]
    uni_cert = all_true(rows, "uniform_certified")
    g_inf = np.asarray(rows[-1]["nonuniform"])
    moves = [float(np.abs(np.asarray(r["nonuniform"]) - g_inf).max()) for r in rows]
    passed = bool(max(errs) <= GRAM_TOL and uni_cert)
    details = dict(
        m=data["m"],
        ks=[k_label(r["k"]) for r in rows],
        uniform_max_error_vs_simplex=max(errs),
        uniform_error_per_k=errs,
        uniform_all_certified=uni_cert,
        nonuniform_rho=list(data["rho"]),
        nonuniform_all_certified=all_true(rows, "nonuniform_certified"),
        nonuniform_max_abs_change_vs_k_inf=moves,
        nonuniform_gram_k1=np.asarray(rows[0]["nonuniform"]).round(6),
        nonuniform_gram_kinf=g_inf.round(6),
    )
    return passed, details


def _gram_heatmap(ax, G: np.ndarray):
    """``G`` as a red-blue image with every entry written in its cell."""
    m = G.shape[0]
    im = ax.imshow(G, cmap="RdBu_r", vmin=-1, vmax=1)
    for i in range(m):
        for j in range(m):
            ax.text(
                j,
                i,
                f"{G[i, j]:+.2f}",
                ha="center",
                va="center",
                fontsize=6.3,
                color="white" if abs(G[i, j]) > 0.6 else "black",
            )
    ax.set_xticks(range(m))
    ax.set_yticks(range(m))
    ax.tick_params(length=0, labelsize=6)
    ax.grid(False)
    for s in ax.spines.values():
        s.set_visible(False)
    return im


def draw_gram_across_k(data: dict, passed: bool, details: dict, ax: Any = None) -> Figure:
    rows = {r["k"]: r for r in data["rows"]}
    shown = data["shown"]
    m = data["m"]
    with style():
        if ax is None:
            fig = new_figure("double", 5.0)
            subfigs = fig.subfigures(2, 1, height_ratios=[2.35, 1.0])
            assert isinstance(subfigs, np.ndarray)  # 2 x 1 (squeezed): an array of 2 subfigures
            top, bottom = subfigs
            axs = top.subplots(2, len(shown))
            bottom_ax = bottom.subplots(1, 1)
            own = True
        else:  # the caller's 2 x len(shown) heat maps, then the curve panel
            top, given, own = panels(ax, (1, 2 * len(shown) + 1))
            fig = top
            axs = np.asarray(given[:-1], dtype=object).reshape(2, len(shown))
            bottom_ax = given[-1]
        im = None
        for row, key, label in (
            (0, "uniform", "uniform ρ"),
            (1, "nonuniform", "ρ = (" + ", ".join(f"{p:g}" for p in data["rho"]) + ")"),
        ):
            for col, k in enumerate(shown):
                ax = axs[row, col]
                im = _gram_heatmap(ax, np.asarray(rows[k][key]))
                if row == 0:
                    ax.set_title(f"$k$ = {k_label(k)}")
                if col == 0:
                    ax.set_ylabel(label + "\nclass $c$")
                if row == 1:
                    ax.set_xlabel("class $j$")
        top.colorbar(im, ax=list(axs.ravel()), shrink=0.85, label=r"$G^*_{cj} = v_c\cdot v_j$")
        if own:
            top.suptitle(
                f"Optimal Gram matrices (m={m}, τ=1): uniform ρ gives the same regular simplex at "
                "every k;\nnon-uniform ρ gives Gram matrices that move with k",
                fontsize=8.5,
            )

        ax = bottom_ax
        ks = data["ks"]
        xs = k_axis(ax, ks)
        pairs = [(i, j) for i in range(m) for j in range(i + 1, m)]
        for p, (i, j) in enumerate(pairs):
            ax.plot(
                xs,
                [np.asarray(rows[k]["nonuniform"])[i, j] for k in ks],
                marker=MARKERS[p % 8],
                ms=3,
                color=COLORS[p % 8],
                label=f"$G_{{{i}{j}}}$",
            )
        ax.axhline(-1 / (m - 1), color="0.3", ls="--", lw=0.8, label=r"simplex $-1/(m-1)$")
        ax.set_ylabel("off-diagonal\n$G^*_{cj}$ (non-uniform ρ)")
        ax.set_xlabel(K_LABEL)
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), ncol=2, fontsize=6.3)
        if own:
            status_footer(
                fig,
                passed,
                f"uniform: max |G* − G_simplex| = "
                f"{details['uniform_max_error_vs_simplex']:.1e} ≤ {GRAM_TOL:g} at all "
                f"{len(details['ks'])} k",
            )
    return fig


GRAM_ACROSS_K = define_figure(
    "gram_across_k",
    globals(),
    claim=(
        "The optimal Gram matrix for uniform ρ is the regular simplex m/(m−1)(I − 11ᵀ/m) for "
        "every k (found by the numerical solver from a random start); for non-uniform ρ the "
        "optimal Gram matrix depends on k."
    ),
    check=(
        f"max |G*_k − G_simplex| ≤ {GRAM_TOL:g} and certified at every k of the grid (uniform ρ); "
        "the non-uniform Gram matrices and their change are reported."
    ),
)


# =============================================================================== downstream, uniform
DOWN_TOL = 1e-9
_BOUND_NAMES = (
    ("saunshi", "Saunshi et al. 2019"),
    ("ash", "Ash et al. 2022"),
    ("nozawa_sato", "Nozawa & Sato 2021"),
    ("bao", "Bao et al. 2022"),
)
_BOUND_YMAX = 1e3


def downstream_closed_form(m: int, tau: float) -> float:
    """Mean-classifier loss at the simplex: ``log(1 + (m−1) exp(−m/((m−1)τ)))`` (SPEC §5, §6)."""
    return math.log1p((m - 1) * math.exp(-m / ((m - 1) * tau)))


def compute_downstream_uniform(quick: bool) -> dict:
    """Downstream metrics of the certified numerical optimum and the published bounds, uniform ρ."""
    from ..bounds import collision_probability, published_bounds
    from ..downstream import mean_classifier_metrics
    from ..optimize import optimal_representation

    m, tau = 5, 1.0
    model = uniform_model(m)
    rho = np.full(m, 1.0 / m)
    ks = (
        [1, 2, 4, 8, 16, 32, 64, 128, 256]
        if quick
        else [1, 2, 3, 4, 5, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256, 512, 1024, 4096]
    )
    rows = []
    for i, k in enumerate(ks):
        opt = optimal_representation(model, k, tau, method="numerical", init="random", rng=300 + i)
        d = mean_classifier_metrics(model, opt.F, tau)
        b = published_bounds(rho, k, opt.loss, tau)
        rows.append(
            dict(
                k=k,
                loss=d.loss,
                accuracy=d.accuracy,
                R=opt.loss,
                certified=opt.certified,
                collision=collision_probability(rho, k),
                bounds={name: getattr(b, name) for name, _ in _BOUND_NAMES},
                bao_lower=b.bao_lower,
                notes=list(b.notes),
            )
        )
    return dict(m=m, tau=tau, rows=rows, closed=downstream_closed_form(m, tau))


def _bound_status(rows: list[dict]) -> tuple[list, list, list]:
    """``(violations, vacuous, undefined)``: bounds on the wrong side of the truth, ``inf``, ``None``."""
    violations, vacuous, undefined = [], [], []
    for r in rows:
        for name, _ in _BOUND_NAMES:
            v = r["bounds"][name]
            if v is None:
                undefined.append(dict(bound=name, k=r["k"]))
            elif v == math.inf:
                vacuous.append(dict(bound=name, k=r["k"]))
            elif v < r["loss"]:
                violations.append(dict(bound=name, k=r["k"], bound_value=v, truth=r["loss"]))
        if r["bao_lower"] > r["loss"]:
            violations.append(
                dict(
                    bound="bao_lower (lower bound)",
                    k=r["k"],
                    bound_value=r["bao_lower"],
                    truth=r["loss"],
                )
            )
    return violations, vacuous, undefined


def _bound_trend(ks: list, values: list) -> str:
    """How one bound moves with ``k``, as measured: ``"grows"``, ``"falls"``,
    ``"falls to k=16, then grows"``, … over its finite values, plus where it is ∞ or undefined."""
    finite = [(k, v) for k, v in zip(ks, values) if v is not None and v != math.inf]
    notes = []
    inf_ks = [k for k, v in zip(ks, values) if v == math.inf]
    none_ks = [k for k, v in zip(ks, values) if v is None]

    def where(kk: list) -> str:
        if len(kk) <= 3:
            return "k = " + ", ".join(k_label(k) for k in kk)
        return f"{len(kk)} k from {k_label(kk[0])} to {k_label(kk[-1])}"

    if inf_ks:
        notes.append(f"∞ at {where(inf_ks)}")
    if none_ks:
        notes.append(f"undefined at {where(none_ks)}")
    if len(finite) < 2:
        trend = "too few finite values"
    else:
        v = np.array([x for _, x in finite])
        d = np.diff(v)
        if np.all(d >= 0):
            trend = "grows"
        elif np.all(d <= 0):
            trend = "falls"
        else:
            lo, hi = int(np.argmin(v)), int(np.argmax(v))
            if 0 < lo < len(v) - 1 and np.all(d[:lo] <= 0) and np.all(d[lo:] >= 0):
                trend = f"falls to k={k_label(finite[lo][0])}, then grows"
            elif 0 < hi < len(v) - 1 and np.all(d[:hi] >= 0) and np.all(d[hi:] <= 0):
                trend = f"grows to k={k_label(finite[hi][0])}, then falls"
            else:
                trend = "not monotone"
    return trend + "".join(f" ({n})" for n in notes)


def check_downstream_uniform(data: dict) -> tuple[bool, dict]:
    rows = data["rows"]
    closed = data["closed"]
    losses = np.array([r["loss"] for r in rows])
    accs = np.array([r["accuracy"] for r in rows])
    dev = float(np.abs(losses - closed).max())
    spread = float(losses.max() - losses.min())
    acc_spread = float(accs.max() - accs.min())
    certified = all_true(rows)
    violations, vacuous, undefined = _bound_status(rows)
    passed = bool(dev <= DOWN_TOL and spread <= DOWN_TOL and acc_spread <= DOWN_TOL and certified)
    details = dict(
        m=data["m"],
        tau=data["tau"],
        ks=[r["k"] for r in rows],
        closed_form=closed,
        max_abs_loss_minus_closed_form=dev,
        loss_spread_over_k=spread,
        accuracy=float(accs.mean()),
        accuracy_spread_over_k=acc_spread,
        all_certified=certified,
        bound_below_truth=violations,
        bound_vacuous_inf=vacuous,
        bound_undefined=undefined,
        bounds_per_k={str(r["k"]): r["bounds"] for r in rows},
        bound_trend_with_k={
            name: _bound_trend([r["k"] for r in rows], [r["bounds"][name] for r in rows])
            for name, _ in _BOUND_NAMES
        },
    )
    return passed, details


def draw_downstream_uniform(data: dict, passed: bool, details: dict, ax: Any = None) -> Figure:
    rows = data["rows"]
    ks = np.array([r["k"] for r in rows], float)
    with style():
        fig, (ax, ax2), own = panels(
            ax, (2, 1), width="single", height=4.6, sharex=True, height_ratios=[2.4, 1.0]
        )
        ax.plot(
            ks,
            [r["loss"] for r in rows],
            color=PALETTE["black"],
            marker="o",
            ms=3.5,
            lw=1.6,
            label="truth: mean classifier at $F^*_k$",
            zorder=5,
        )
        off_scale = []
        for p, (name, label) in enumerate(_BOUND_NAMES):
            vals = np.array(
                [np.nan if r["bounds"][name] is None else r["bounds"][name] for r in rows], float
            )
            ok = np.isfinite(vals) & (vals <= _BOUND_YMAX)
            if np.any(~ok):
                off_scale.append(label.split()[0])
            ax.plot(
                ks,
                np.where(ok, vals, np.nan),
                color=COLORS[p + 1],
                marker=MARKERS[p + 1],
                ms=3,
                lw=1.0,
                label=f"bound: {label}",
            )
        lower = np.array([r["bao_lower"] for r in rows], float)
        lower_label = "Bao et al. lower bound" + ("" if np.any(lower > 0) else " (≤ 0: not drawn)")
        ax.plot(
            ks, np.where(lower > 0, lower, np.nan), color="0.45", lw=0.9, ls="--", label=lower_label
        )
        ax.set_yscale("log")
        ax.set_ylim(0.1, _BOUND_YMAX)
        log2_axis(ax)
        ax.set_ylabel("supervised loss [nats]")
        if off_scale:
            ax.text(
                0.99,
                0.02,
                "points not drawn (> $10^3$, ∞ or undefined):\n" + ", ".join(off_scale),
                transform=ax.transAxes,
                ha="right",
                va="bottom",
                fontsize=5.8,
                color="0.3",
            )
        ax.legend(
            loc="lower center",
            bbox_to_anchor=(0.5, 1.05),
            ncol=2,
            fontsize=5.9,
            handlelength=1.6,
            columnspacing=1.0,
            borderaxespad=0.0,
        )
        if own:
            trends = details.get("bound_trend_with_k", {})
            short = {"saunshi": "Saunshi", "ash": "Ash", "nozawa_sato": "Nozawa–Sato", "bao": "Bao"}
            trend_text = "; ".join(
                f"{short[n]} {trends[n].split(' (')[0]}" for n, _ in _BOUND_NAMES if n in trends
            )
            import textwrap

            fig.suptitle(
                f"Uniform ρ (m={data['m']}, τ={data['tau']:g}): downstream loss = closed form,\n"
                "flat in k (checked). Upper bounds, as computed:\n"
                + "\n".join(textwrap.wrap(trend_text, 62)),
                fontsize=7.4,
            )
        ax2.plot(
            ks,
            [r["accuracy"] for r in rows],
            color=PALETTE["black"],
            marker="o",
            ms=3,
            label="accuracy at $F^*_k$",
        )
        ax2.plot(
            ks,
            [r["collision"] for r in rows],
            color=PALETTE["orange"],
            marker="^",
            ms=3,
            label=r"collision prob. $\tau_k$",
        )
        ax2.set_ylim(-0.05, 1.1)
        ax2.set_ylabel("probability")
        ax2.set_xlabel(K_LABEL)
        ax2.legend(loc="lower right", fontsize=6.0)
        if own:
            status_footer(
                fig,
                passed,
                f"max |loss − closed form| = {details['max_abs_loss_minus_closed_form']:.1g}, "
                f"spread over k {details['loss_spread_over_k']:.1g}",
            )
        fig.align_ylabels([ax, ax2])
    return fig


DOWNSTREAM_UNIFORM = define_figure(
    "downstream_uniform",
    globals(),
    claim=(
        "For uniform ρ the mean-classifier loss and accuracy of the optimal representation do not "
        "depend on k and equal log(1 + (m−1)e^{−m/((m−1)τ)}) and 1; published upper bounds "
        "evaluated at R = L_k* are drawn beside it, and how each moves with k is reported as "
        "measured (the title and details name which grow and which fall)."
    ),
    check=(
        f"|downstream loss − closed form| ≤ {DOWN_TOL:g}, loss and accuracy spread over k ≤ "
        f"{DOWN_TOL:g}, every optimum certified (numerical solver, random start). Bounds are "
        "drawn as computed; any upper bound below the truth is listed in details, not checked."
    ),
)
