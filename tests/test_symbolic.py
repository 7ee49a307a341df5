"""Tests of latentclass.symbolic (exact certificates, SPEC §5), the `check` command, and the
class-collapse theorem of proofs/class_collapse.md.

Independent computations used here:
* an enumeration of the multisets of negatives (SPEC §3, last bullet), in numpy, accepting a
  complex Gram matrix so that gradients come from the complex-step derivative (no
  subtractive cancellation, accurate to ~1e-15);
* scipy.stats.binom for the SPEC §5 binomial sum;
* latentclass.closed_form.simplex_loss and latentclass.population.NCEObjective.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from oracles import simplex_gram as _simplex_gram
from scipy import stats

from latentclass import symbolic
from latentclass.cli import main
from latentclass.model import LatentClassModel
from latentclass.symbolic import TAU, kkt_at, simplex_kkt, simplex_loss_expr, symmetric_family


# ----------------------------------------------------------------------------- independent helpers
def _compositions(n: int, k: int) -> np.ndarray:
    """All count vectors ν ∈ N^n with Σ ν = k, shape (#, n)."""
    out = []
    for bars in itertools.combinations(range(k + n - 1), n - 1):
        prev, nu = -1, []
        for b in bars:
            nu.append(b - prev - 1)
            prev = b
        nu.append(k + n - 1 - prev - 1)
        out.append(nu)
    return np.array(out, dtype=float)


def _enum_loss(pair_probs, marginal, G, k, tau):
    """L_k(G) = Σ P(x,x⁺) Σ_ν Mult(ν; k, D) log(1 + Σ_y ν_y a_y) by enumeration (SPEC §3)."""
    n = marginal.size
    nu = _compositions(n, k)
    with np.errstate(divide="ignore"):
        logw = (
            math.lgamma(k + 1)
            - np.sum([[math.lgamma(v + 1) for v in row] for row in nu], axis=1)
            + nu @ np.log(marginal)
        )
    w = np.exp(logw)
    G = np.asarray(G)
    # A[x, p, y] = exp((G[x,y] - G[x,p]) / tau)
    A = np.exp((G[:, None, :] - G[:, :, None]) / tau)
    S = A @ nu.T  # (n, n, #ν)
    return np.sum(pair_probs * (np.log(1.0 + S) @ w))


def _uniform_class_level(m):
    model = LatentClassModel.one_point_per_class(np.full(m, 1.0 / m))
    return model


def _complex_step_gradient(model, G, k, tau, h=1e-30):
    """Symmetric gradient M (L(G+E) = L(G) + <M,E>) by complex steps along symmetric E."""
    n = G.shape[0]
    M = np.empty((n, n))
    for x in range(n):
        for y in range(x, n):
            E = np.zeros((n, n), dtype=complex)
            E[x, y] = E[y, x] = 1j * h
            d = _enum_loss(model.pair_probs, model.marginal, G + E, k, tau).imag / h
            # <M, E> = M[x,x] h (diagonal) or 2 M[x,y] h (off-diagonal)
            M[x, y] = M[y, x] = d if x == y else d / 2
    return M


def _binomial_sum(m, k, tau):
    q = math.exp(-m / ((m - 1) * tau))
    j = np.arange(k + 1)
    return math.fsum(stats.binom.pmf(j, k, 1.0 / m) * np.log1p(j + (k - j) * q))


def _sub_tau(expr, tau):
    return float(expr.subs(TAU, tau).evalf(30))


# ----------------------------------------------------------------------------- the certificate
def test_certificate_holds_on_grid():
    """Must show: simplex_kkt(m, k).holds is True for m in 2..8, k in 1..16 (exactly)."""
    for m in range(2, 9):
        for k in range(1, 17):
            cert = simplex_kkt(m, k)
            assert cert.holds is True, (m, k, cert)
            assert cert.stationary is True and cert.dual_feasible is True
            assert cert.check.gradient_form is True and cert.check.primal_feasible is True


def test_certificate_fields_and_repr():
    cert = simplex_kkt(4, 3)
    assert cert.tau is TAU and cert.tau.is_positive and cert.q.is_positive
    assert cert.q_of_tau == sp.exp(-sp.Rational(4, 3) / TAU)
    assert cert.multiplier == -cert.alpha or sp.expand(cert.multiplier + cert.alpha) == 0
    # α, β as rational combinations of manifestly positive functions of q
    for c, f in cert.alpha_terms:
        assert isinstance(c, sp.Rational) and c < 0 and f.is_positive
    for c, f in cert.beta_terms:
        assert isinstance(c, sp.Rational) and c > 0 and f.is_positive
    assert "SimplexCertificate(m=4, k=3" in repr(cert) and "holds=True" in repr(cert)
    with pytest.raises(AttributeError):
        cert.holds = False  # frozen


def test_pair_moment_matches_conditional_mean_identity():
    """The explicit sum d^k E[ν_y; ν_x = i] equals the closed forms used in the proof."""
    for m in range(2, 7):
        for k in range(1, 10):
            w = symbolic._binomial_weights(m, k)
            # uniform: P(N = i)(k − i)/(m − 1), d = m, p = 1
            off = symbolic._pair_moment(k, 1, 1, m - 2)
            assert all(
                Fraction(off[i], m**k) == w[i] * Fraction(k - i, m - 1) for i in range(k + 1)
            )
            assert sum(w) == 1
    # any law: C(k,i) p_x^i (k − i) p_y (d − p_x)^{k−i−1}
    for k, (px, py, pr) in itertools.product(range(1, 8), [(1, 2, 3), (5, 1, 0), (2, 7, 4)]):
        d = px + py + pr
        got = symbolic._pair_moment(k, px, py, pr)
        ref = [
            math.comb(k, i) * px**i * (k - i) * py * (d - px) ** max(k - i - 1, 0)
            for i in range(k + 1)
        ]
        assert list(got) == ref


def _gradient_by_multisets(rho, G, k):
    """τ·∇L at G (one off-diagonal gap) on the basis b_i, by enumerating every multiset ν.

    Independent of latentclass.symbolic: the loss Σ_x ρ_x E log(1 + Σ_z ν_z a_xz) is
    differentiated term by term for each multiset (Fractions, itertools).
    """
    m = len(rho)
    D = [[[Fraction(0)] * (k + 1) for _ in range(m)] for _ in range(m)]
    for nu in _compositions(m, k).astype(int):
        weight = Fraction(math.factorial(k))
        for z in range(m):
            weight *= rho[z] ** int(nu[z]) / math.factorial(int(nu[z]))
        for x in range(m):
            i = int(nu[x])  # denominator 1 + ν_x + (k − ν_x) r  ↔  basis b_i
            for y in range(m):
                if y == x:
                    D[x][x][i] -= rho[x] * weight * sum(int(nu[z]) for z in range(m) if z != x)
                else:
                    D[x][y][i] += rho[x] * weight * int(nu[y])
    return [
        [[(D[x][y][i] + D[y][x][i]) / 2 for i in range(k + 1)] for y in range(m)] for x in range(m)
    ]


@pytest.mark.parametrize(
    "rho,k,s",
    [
        ((Fraction(1, 3),) * 3, 3, Fraction(-1, 2)),
        ((Fraction(1, 2), Fraction(1, 3), Fraction(1, 6)), 4, Fraction(-1, 2)),
        ((Fraction(1, 10), Fraction(2, 5), Fraction(1, 4), Fraction(1, 4)), 3, Fraction(1, 7)),
        ((Fraction(3, 4), Fraction(1, 4)), 5, Fraction(-1)),
    ],
)
def test_entrywise_gradient_matches_multiset_enumeration(rho, k, s):
    """Every entry of the exact gradient equals the multiset enumeration, for any ρ (exactly)."""
    m = len(rho)
    G = [[Fraction(1) if x == y else s for y in range(m)] for x in range(m)]
    delta, M, scale = symbolic._gradient_terms(G, k, rho)
    assert delta == s - 1
    ref = _gradient_by_multisets(rho, G, k)
    for x in range(m):
        for y in range(m):
            assert [Fraction(a, scale) for a in M[x][y]] == ref[x][y], (x, y)


def test_nonuniform_gradient_matches_complex_step():
    """kkt_at(..., class_probs=ρ): the entry-wise gradient against complex steps (1e-12)."""
    rho = (Fraction(1, 2), Fraction(1, 3), Fraction(1, 6))
    m, k, s, tau = 3, 3, Fraction(-1, 2), 0.7
    chk = kkt_at(m, k, s, class_probs=rho)
    Gs = (1 - float(s)) * np.eye(m) + float(s)
    model = LatentClassModel.one_point_per_class([float(c) for c in rho])
    M_enum = _complex_step_gradient(model, Gs, k, tau)
    M_sym = np.array(chk.gradient().subs(TAU, sp.nsimplify(tau)).evalf(30), dtype=float)
    assert np.max(np.abs(M_sym - M_enum)) <= 1e-12
    # and the entries really differ: not αI + β11ᵀ
    assert np.ptp(np.diag(M_enum)) > 1e-3


@pytest.mark.parametrize(
    "rho",
    [
        (Fraction(1, 2), Fraction(1, 3), Fraction(1, 6)),
        (Fraction(1, 4), Fraction(1, 4), Fraction(1, 2)),
        (Fraction(1, 5), Fraction(1, 5), Fraction(1, 5), Fraction(2, 5)),
        (Fraction(2, 3), Fraction(1, 3)),
    ],
)
def test_gradient_form_check_can_fail(rho):
    """Must show: with a non-uniform ρ the entry-wise check reports the form αI + β11ᵀ False."""
    m = len(rho)
    for k in (2, 5) if m == 2 else (1, 2, 5):
        chk = kkt_at(m, k, Fraction(-1, m - 1), class_probs=rho)
        assert chk.gradient_form is False, (rho, k)
        assert chk.diagonal_equal is False  # row sums differ with ρ_x
        assert chk.holds is not True and chk.dual_feasible is None
    # the same ρ made uniform: the form holds
    uniform = kkt_at(m, 2, Fraction(-1, m - 1), class_probs=[Fraction(1, m)] * m)
    assert uniform.gradient_form is True and uniform.holds is True
    assert uniform.alpha_coefficients == simplex_kkt(m, 2).check.alpha_coefficients


def test_gradient_form_true_for_nonuniform_rho_when_it_holds():
    """m = 2, k = 1: τD = ρ_0ρ_1 b_0(r) (−I + J − I + …) is symmetric in ρ, so the form holds.

    The check is decided on the computed entries, not on the uniformity of ρ.
    """
    chk = kkt_at(2, 1, -1, class_probs=[Fraction(2, 3), Fraction(1, 3)])
    assert chk.gradient_form is True and chk.holds is True
    # τ D[0,0] = −ρ_0 ρ_1 b_0, τ D[0,1] = ρ_0 ρ_1 b_0: α = −4/9 b_0, β = 2/9 b_0
    assert chk.alpha_coefficients == (Fraction(-4, 9), 0)
    assert chk.beta_coefficients == (Fraction(2, 9), 0)


def test_gradient_form_reports_offdiagonal_failure_separately():
    """m = 2: the single off-diagonal pair is always 'equal'; only the diagonal can fail."""
    chk = kkt_at(2, 3, -1, class_probs=[Fraction(1, 3), Fraction(2, 3)])
    assert chk.offdiagonal_equal is True and chk.diagonal_equal is False
    assert chk.gradient_form is False
    chk = kkt_at(
        3, 2, Fraction(-1, 2), class_probs=[Fraction(1, 2), Fraction(1, 3), Fraction(1, 6)]
    )
    assert chk.offdiagonal_equal is False and chk.diagonal_equal is False


def test_bad_class_probs():
    with pytest.raises(ValueError, match="sum to exactly 1"):
        kkt_at(3, 2, 0, class_probs=[Fraction(1, 3), Fraction(1, 3), Fraction(1, 4)])
    with pytest.raises(ValueError, match="3 entries"):
        kkt_at(3, 2, 0, class_probs=[Fraction(1, 2), Fraction(1, 2)])
    with pytest.raises(ValueError, match="positive"):
        kkt_at(3, 2, 0, class_probs=[Fraction(1, 2), Fraction(1, 2), 0])
    with pytest.raises(TypeError, match="exact rational"):
        kkt_at(3, 2, 0, class_probs=[0.5, 0.25, 0.25])
    with pytest.raises(TypeError, match="sequence"):
        kkt_at(3, 2, 0, class_probs="1/3")


@pytest.mark.parametrize(
    "m,k,tau",
    [
        (2, 1, sp.Rational(1)),
        (3, 5, sp.Rational(1, 2)),
        (5, 16, sp.Rational(3, 2)),
        (8, 11, sp.Rational(1, 5)),
        (4, 40, sp.Rational(7, 3)),
    ],
)
def test_symbolic_loss_matches_closed_form(m, k, tau):
    """The exact loss at a rational tau equals simplex_loss and the scipy binomial sum to 1e-12."""
    from latentclass.closed_form import simplex_loss

    val = _sub_tau(simplex_kkt(m, k).loss, tau)
    ref_scipy = _binomial_sum(m, k, float(tau))
    ref_lib = simplex_loss(m, k, float(tau))
    assert abs(val - ref_scipy) <= 1e-12 * max(1.0, abs(ref_scipy))
    assert abs(val - ref_lib) <= 1e-12 * max(1.0, abs(ref_lib))
    # loss_q is the same sum in the symbol q
    qv = sp.exp(-sp.Rational(m, m - 1) / tau)
    assert abs(float(simplex_kkt(m, k).loss_q.subs(symbolic.Q, qv).evalf(30)) - val) <= 1e-14


@pytest.mark.parametrize(
    "m,k,tau", [(2, 1, 1.0), (3, 2, 0.5), (4, 3, 1.0), (3, 5, 2.0), (5, 2, 0.7)]
)
def test_symbolic_loss_and_gradient_match_enumeration(m, k, tau):
    """Loss, α and β against the multiset enumeration and its complex-step gradient (1e-12)."""
    model = _uniform_class_level(m)
    G = _simplex_gram(m)
    cert = simplex_kkt(m, k)
    t = sp.nsimplify(tau)
    loss_enum = _enum_loss(model.pair_probs, model.marginal, G, k, tau)
    assert abs(_sub_tau(cert.loss, t) - loss_enum) <= 1e-12
    M = _complex_step_gradient(model, G, k, tau)
    alpha, beta = _sub_tau(cert.alpha, t), _sub_tau(cert.beta, t)
    assert np.max(np.abs(M - (alpha * np.eye(m) + beta))) <= 1e-12
    assert alpha < 0 < beta


@pytest.mark.parametrize(
    "m,k,tau", [(2, 1, 1.0), (3, 4, 0.5), (6, 16, 1.0), (8, 9, 2.0), (4, 300, 0.3)]
)
def test_alpha_beta_match_nce_objective_gradient(m, k, tau):
    """Must show: symbolic α, β agree with NCEObjective.grad at the simplex to 1e-10."""
    from latentclass.population import NCEObjective

    model = _uniform_class_level(m)
    grad = NCEObjective(model, k, tau).grad(_simplex_gram(m))
    cert = simplex_kkt(m, k)
    t = sp.nsimplify(tau)
    alpha, beta = _sub_tau(cert.alpha, t), _sub_tau(cert.beta, t)
    assert np.max(np.abs(grad - (alpha * np.eye(m) + beta))) <= 1e-10


def test_gradient_matrix_at_wrong_point_matches_enumeration():
    """kkt_at's entry-by-entry gradient at G(s), s ≠ −1/(m−1), against complex steps."""
    m, k, s, tau = 3, 3, Fraction(1, 4), 0.8
    chk = kkt_at(m, k, s)
    Gs = (1 - float(s)) * np.eye(m) + float(s)
    M_enum = _complex_step_gradient(_uniform_class_level(m), Gs, k, tau)
    M_sym = np.array(chk.gradient().subs(TAU, sp.nsimplify(tau)).evalf(30), dtype=float)
    assert np.max(np.abs(M_sym - M_enum)) <= 1e-12


def _limit_gradient_at(rho, G):
    """∇L_∞ at G by sympy.diff of L_∞ = Σ_x ρ_x log Σ_y ρ_y e^{(g_xy − g_xx)/τ}, m² free symbols."""
    m = len(rho)
    g = sp.Matrix(m, m, lambda x, y: sp.Symbol(f"g_{x}_{y}", real=True))
    L = sum(
        rho[x] * sp.log(sum(rho[y] * sp.exp((g[x, y] - g[x, x]) / TAU) for y in range(m)))
        for x in range(m)
    )
    D = sp.Matrix(m, m, lambda x, y: sp.diff(L, g[x, y]))
    point = {g[x, y]: G[x, y] for x in range(m) for y in range(m)}
    return ((D + D.T) / 2).subs(point), L.subs(point)


@pytest.mark.parametrize("m", [2, 3, 4, 5])
def test_limit_objective_kkt_at_simplex(m):
    """proofs/uniform_simplex.md, k = ∞: every entry of ∇L_∞(G*) by sympy.diff; the form
    αI + β11ᵀ, β = q/(mτ(1 + (m−1)q)) > 0, α = −mβ, stationarity and the loss, exactly;
    and agreement with NCEObjective(model, inf).grad."""
    from latentclass.closed_form import simplex_loss
    from latentclass.population import NCEObjective

    rho = [sp.Rational(1, m)] * m
    Gs = sp.Matrix(m, m, lambda x, y: 1 if x == y else sp.Rational(-1, m - 1))
    M, loss = _limit_gradient_at(rho, Gs)
    q = sp.exp(-sp.Rational(m, m - 1) / TAU)
    beta = q / (m * TAU * (1 + (m - 1) * q))
    alpha = -m * beta
    assert all(sp.simplify(e) == 0 for e in M - alpha * sp.eye(m) - beta * sp.ones(m, m))
    assert sp.simplify((M - alpha * sp.eye(m)) * Gs) == sp.zeros(m, m)
    assert sp.simplify(loss - sp.log((1 + (m - 1) * q) / m)) == 0
    tau = 0.6
    assert abs(float(loss.subs(TAU, sp.nsimplify(tau))) - simplex_loss(m, math.inf, tau)) <= 1e-14
    grad = NCEObjective(_uniform_class_level(m), math.inf, tau).grad(_simplex_gram(m))
    M_num = np.array(M.subs(TAU, sp.nsimplify(tau)).evalf(30), dtype=float)
    assert np.max(np.abs(grad - M_num)) <= 1e-13


def test_limit_objective_form_fails_for_nonuniform_rho():
    """The same k = ∞ computation with ρ = (1/2, 1/3, 1/6): the diagonal entries differ."""
    rho = [sp.Rational(1, 2), sp.Rational(1, 3), sp.Rational(1, 6)]
    Gs = sp.Matrix(3, 3, lambda x, y: 1 if x == y else sp.Rational(-1, 2))
    M, _ = _limit_gradient_at(rho, Gs)
    assert abs(float((M[0, 0] - M[1, 1]).subs(TAU, 1))) > 1e-3


# ----------------------------------------------------------------------------- the check can fail
@pytest.mark.parametrize("m", [2, 3, 5, 8])
def test_check_fails_at_wrong_point(m):
    """Must show: the same machinery at G(s), s ≠ −1/(m−1), reports stationary False."""
    k = 4
    right = Fraction(-1, m - 1)
    assert kkt_at(m, k, right).holds is True
    for s in [right / 2, Fraction(0), Fraction(1, 3), Fraction(1), right + Fraction(1, 10**9)]:
        chk = kkt_at(m, k, s)
        assert chk.stationary is False and chk.holds is False, (m, s)
        assert chk.residual_entry is not None
        assert chk.gradient_form is True  # the gradient still has the form αI + β11ᵀ
    # outside the feasible set: not primal feasible
    assert kkt_at(m, k, right - 1).primal_feasible is False
    assert kkt_at(m, k, 2).primal_feasible is False


def test_sign_procedure_is_exact_and_honest():
    """_sign: coefficient signs first, numerator polynomial next, None when undecided."""
    sign = symbolic._sign
    z = Fraction(0)
    assert sign((z, z), 1, False) == 0
    assert sign((Fraction(1), Fraction(2)), 1, False) == 1
    assert sign((Fraction(-1), z), 1, False) == -1
    # k = 1: −b_0 + 2 b_1 = −r/(1+r) + r = r²/(1+r) > 0: mixed coefficients, decided by Q[r]
    assert sign((Fraction(-1), Fraction(2)), 1, False) == 1
    # b_0 − b_1 = r(1 − r)/(2(1 + r)) changes sign at r = 1: undecided, never True
    assert sign((Fraction(1), Fraction(-1)), 1, False) is None
    # r ≡ 1 (s = 1): exact rational evaluation
    assert sign((Fraction(1), Fraction(-1)), 1, True) == 0
    assert symbolic._and(True, None) is None and symbolic._and(None, False) is False


# ----------------------------------------------------------------------------- symmetric family
@pytest.mark.parametrize("m,k", [(2, 1), (3, 4), (5, 9), (8, 16)])
def test_symmetric_family_increasing(m, k):
    fam = symmetric_family(m, k)
    assert fam.derivative_verified is True and fam.increasing is True
    assert fam.minimiser == sp.Rational(-1, m - 1) and fam.interval == (sp.Rational(-1, m - 1), 1)
    for c, f in fam.derivative_terms:
        assert c > 0 and f.is_positive
    # independent checks: at the simplex the family's loss is the SPEC §5 sum, and the
    # derivative agrees with a central difference of the loss and is positive on a grid.
    tau = 0.7
    t = sp.nsimplify(tau)
    lo = fam.loss.subs(TAU, t)
    assert abs(float(lo.subs(fam.s, fam.minimiser).evalf(30)) - _binomial_sum(m, k, tau)) <= 1e-12
    f = sp.lambdify(fam.s, lo, "mpmath")
    df = sp.lambdify(fam.s, fam.derivative.subs(TAU, t), "mpmath")
    import mpmath

    with mpmath.workdps(40):
        for s in np.linspace(-1 / (m - 1), 1, 7):
            s = mpmath.mpf(s)
            h = mpmath.mpf("1e-12")
            fd = (f(s + h) - f(s - h)) / (2 * h)
            assert df(s) > 0
            assert abs(fd - df(s)) <= 1e-15


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("func", [simplex_kkt, symmetric_family, lambda m, k: kkt_at(m, k, 0)])
def test_bad_input(func):
    with pytest.raises(ValueError, match="m must"):
        func(1, 3)
    with pytest.raises(ValueError, match="k must"):
        func(3, 0)
    with pytest.raises(ValueError, match="m must be an integer"):
        func(2.5, 3)
    with pytest.raises(ValueError, match="k must be an integer"):
        func(3, 1.5)
    with pytest.raises(TypeError, match="m must"):
        func("3", 2)
    with pytest.raises(TypeError, match="k must"):
        func(3, True)


def test_bad_s():
    with pytest.raises(TypeError, match="s must be an exact rational"):
        kkt_at(3, 2, 0.5)
    with pytest.raises(ValueError, match="s must be an exact rational"):
        kkt_at(3, 2, "half")
    with pytest.raises(TypeError, match="s must"):
        kkt_at(3, 2, None)
    assert kkt_at(3, 2, "-1/2").holds is True
    assert kkt_at(3, 2, sp.Rational(-1, 2)).holds is True


def test_loss_expression_helper():
    expr = simplex_loss_expr(3, 2, sp.Rational(1, 2))
    ref = sum(
        math.comb(2, j) * (1 / 3) ** j * (2 / 3) ** (2 - j) * math.log(1 + j + (2 - j) / 2)
        for j in range(3)
    )
    assert abs(float(expr) - ref) <= 1e-15


# ----------------------------------------------------------------------------- CLI
def test_cli_check_table(capsys):
    assert main(["check", "--classes", "2..4", "--negatives", "1..3"]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in out[2:-1]]
    assert [(int(r[0]), int(r[1])) for r in rows] == [
        (m, k) for m in range(2, 5) for k in range(1, 4)
    ]
    assert all(r[2:] == ["True", "True", "True"] for r in rows)
    assert out[0].split() == ["m", "k", "stationary", "dual_feasible", "holds"]
    assert main(["check", "--classes", "5", "--negatives", "7"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2].split() == ["5", "7", "True", "True", "True"]


@pytest.mark.parametrize(
    "args",
    [
        ["--classes", "1"],
        ["--classes", "5..2"],
        ["--negatives", "0..3"],
        ["--negatives", "a..b"],
        ["--negatives", "1..2..3"],
        ["--classes", "2.5"],
    ],
)
def test_cli_check_bad_range(args, capsys):
    assert main(["check", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error:" in err[0] and args[0] in err[0]


def test_cli_check_exits_nonzero_on_failure(monkeypatch, capsys):
    real = symbolic.simplex_kkt

    def fake(m, k):
        cert = real(m, k)
        if k == 2:  # pretend the certificate at k = 2 is undecided
            return type("C", (), {"stationary": True, "dual_feasible": None, "holds": None})()
        return cert

    monkeypatch.setattr(symbolic, "simplex_kkt", fake)
    assert main(["check", "--classes", "3", "--negatives", "1..3"]) == 1
    out = capsys.readouterr().out
    assert "1 of 3 certificates do not hold" in out


# ----------------------------------------------------------------------------- class collapse
def _random_disjoint(rng, m, sizes):
    rho = rng.dirichlet(np.ones(m))
    within = [rng.dirichlet(np.ones(s)) for s in sizes]
    return LatentClassModel.disjoint(rho, sizes, within)


def _random_F(rng, n, d):
    F = rng.normal(size=(n, d))
    F *= (rng.uniform(0.2, 1.0, size=n) / np.linalg.norm(F, axis=1))[:, None]
    return F


def _collapse(model, F):
    """F̄: every point replaced by its class mean μ_c = Σ_x D_c(x) f(x)."""
    means = model.class_conditionals @ F
    return means[model.point_classes]


@pytest.mark.parametrize("seed", range(6))
def test_collapse_does_not_increase_loss(seed):
    """proofs/class_collapse.md, Theorem 1: L_k(F̄) < L_k(F) unless F is collapsed."""
    rng = np.random.default_rng(seed)
    m = int(rng.integers(2, 4))
    sizes = [int(v) for v in rng.integers(1, 3, size=m)]
    sizes[0] = 2  # at least one class with two points
    model = _random_disjoint(rng, m, sizes)
    k = int(rng.integers(1, 4))
    tau = float(rng.choice([0.3, 1.0, 2.5]))
    F = _random_F(rng, model.n_points, int(rng.integers(1, 5)))
    Fbar = _collapse(model, F)
    assert np.all(np.linalg.norm(Fbar, axis=1) <= 1 + 1e-12)
    L = _enum_loss(model.pair_probs, model.marginal, F @ F.T, k, tau)
    Lbar = _enum_loss(model.pair_probs, model.marginal, Fbar @ Fbar.T, k, tau)
    assert Lbar < L - 1e-9
    # already collapsed: equality (collapsing is idempotent)
    assert np.allclose(_collapse(model, Fbar), Fbar, atol=1e-15)


def test_unit_norm_lemma_class_level():
    """proofs/class_collapse.md, Lemma 3: raising one diagonal entry strictly lowers the loss."""
    rng = np.random.default_rng(11)
    for _ in range(5):
        m = 3
        model = LatentClassModel.one_point_per_class(rng.dirichlet(np.ones(m)))
        F = _random_F(rng, m, 3)
        G = F @ F.T
        c = int(rng.integers(m))
        eps = 0.5 * (1 - G[c, c])
        G2 = G.copy()
        G2[c, c] += eps
        assert np.min(np.linalg.eigvalsh(G2)) >= -1e-12 and np.max(np.diag(G2)) <= 1
        k, tau = 2, 0.8
        assert (
            _enum_loss(model.pair_probs, model.marginal, G2, k, tau)
            < _enum_loss(model.pair_probs, model.marginal, G, k, tau) - 1e-9
        )


@pytest.mark.parametrize("k", [1, 7, 10**6, math.inf])
def test_collapse_inequality_with_library_loss(k):
    """Theorem 1 (and its k = ∞ remark) with the library's exact population loss."""
    from latentclass.population import population_loss, population_loss_limit

    rng = np.random.default_rng(5)
    model = LatentClassModel.disjoint(
        [0.5, 0.3, 0.2], [3, 2, 4], within=[[0.6, 0.3, 0.1], [0.8, 0.2], [0.1, 0.2, 0.3, 0.4]]
    )
    tau = 0.6
    for _ in range(3):
        F = _random_F(rng, model.n_points, 3)
        Fbar = _collapse(model, F)
        if k == math.inf:
            L, Lbar = population_loss_limit(model, F, tau), population_loss_limit(model, Fbar, tau)
        else:
            L, Lbar = population_loss(model, F, k, tau), population_loss(model, Fbar, k, tau)
        assert Lbar < L - 1e-9
    # agreement of the enumeration used above with the library on one instance (k small)
    if k == 1:
        G = F @ F.T
        assert abs(_enum_loss(model.pair_probs, model.marginal, G, 1, tau) - L) <= 1e-12
