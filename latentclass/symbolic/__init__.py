"""Exact (sympy) certificates for the uniform latent-class model (SPEC §5).

Setting: the class-level model with ``n = m`` points, ``D_c = δ_c`` and uniform ``ρ``,
so that ``P(x, x⁺) = δ_{x x⁺} / m`` and the negatives are uniform on the ``m`` points.
Its population loss (SPEC §3) is

    L_k(G) = (1/m) Σ_x E log(1 + Σ_{i=1..k} exp((G[x,Y_i] − G[x,x]) / τ)),   Y_i ~ U{0..m−1}.

On the symmetric family ``G(s) = (1 − s) I + s 11ᵀ`` every anchor sees ``a_x = 1`` for a
negative equal to itself and ``a_y = r := exp((s − 1)/τ)`` for every other negative; at the
regular simplex ``s = −1/(m−1)`` this is ``r = q := exp(−m / ((m−1) τ))``.

Layout
------
* :mod:`~latentclass.symbolic.symbols` — the symbols ``TAU``, ``Q``, ``S`` and exact-input checks;
* :mod:`~latentclass.symbolic.exact_sums` — the exact gradient at ``G(s)``, every entry computed
  separately (row ``x`` from anchor ``x``'s term, each entry an explicit sum over the joint law
  of two class counts, for any exact class law ``ρ``), as integer coefficient vectors;
* :mod:`~latentclass.symbolic.signs` — the exact sign / zero decision procedure (``True``,
  ``False`` or ``None``; ``None`` is never promoted to ``True``);
* :mod:`~latentclass.symbolic.kkt` — :func:`kkt_at`, :class:`KKTCheck`, :func:`simplex_kkt`,
  :class:`SimplexCertificate`;
* :mod:`~latentclass.symbolic.family` — :func:`symmetric_family`, :class:`SymmetricFamily`,
  :func:`simplex_loss_expr`.
"""

from __future__ import annotations

from .exact_sums import _binomial_weights, _gradient_terms, _pair_moment  # noqa: F401 (tests)
from .family import SymmetricFamily, simplex_loss_expr, symmetric_family
from .kkt import KKTCheck, SimplexCertificate, kkt_at, simplex_kkt
from .signs import _and, _sign  # noqa: F401 (tests)
from .symbols import TAU, Q, S

__all__ = [
    "TAU",
    "KKTCheck",
    "Q",
    "S",
    "SimplexCertificate",
    "SymmetricFamily",
    "kkt_at",
    "simplex_kkt",
    "simplex_loss_expr",
    "symmetric_family",
]
