"""The objective protocol: a convex function of a Gram matrix that the solvers and the
certificate can use (SPEC §4).

Every solver of the library (:func:`latentclass.solve_gram`, the paths behind
:func:`latentclass.optimal_representation`) and :func:`latentclass.certify` speak only this
protocol; :class:`latentclass.NCEObjective` is one implementation, a user-written class is
another.  The required part is tiny:

``n`` : int
    The size of the Gram matrix ``G`` (``n × n``).
``value_and_grad(G) -> (float, ndarray (n, n))``
    ``L(G)`` and its gradient with respect to the symmetric matrix ``G``: the symmetric
    ``M`` with ``L(G + E) = L(G) + ⟨M, E⟩ + o(‖E‖)`` for symmetric ``E``.

Optional capabilities, used when present:

``convex`` : bool
    Must be ``True`` for :func:`~latentclass.certify` to report ``certified=True`` (the dual
    bound of SPEC §4 holds only for convex ``L``).  The library's own objectives declare it
    and prove it; for any other object it is taken on trust (and the gradient is spot-checked
    against finite differences).
``value(G) -> float``
    The value alone (default: ``value_and_grad(G)[0]``).
``unchecked_value_and_grad(G)``
    The same as ``value_and_grad`` without input validation, for the solvers' iterates
    (a float, finite, exactly symmetric ``(n, n)`` array).
``second_order(G) -> (value, M, anchors, blocks)`` and ``second_order_cost`` : int
    Second-order information for the Newton paths: the Hessian of ``L`` in the entries of
    ``G`` is block diagonal over rows, ``blocks[i] = ∂²L/∂G[anchors[i], :]²`` (``(n, n)``
    each); ``second_order_cost`` is ``len(anchors) · n²`` (the paths are used only when it is
    small).  ``second_order`` may return ``None`` (not available at this objective).  It
    may take the keyword ``need_value=False`` (then ``value`` may be ``None``): Newton's
    method on the KKT system passes it, as it uses the derivatives only.

Example
-------
A plain class for the ``k = 1`` loss of a class-level model,
``L_1(G) = Σ_{x} ρ_x Σ_y ρ_y log(1 + exp((G_xy − G_xx)/τ))``::

    class L1:
        convex = True

        def __init__(self, rho, tau=1.0):
            self.rho, self.tau, self.n = np.asarray(rho), tau, len(rho)

        def value_and_grad(self, G):
            G = np.asarray(G, dtype=float)
            S = (G - np.diag(G)[:, None]) / self.tau          # S_xy = (G_xy − G_xx)/τ
            w = self.rho[:, None] * self.rho[None, :]
            value = float(np.sum(w * np.logaddexp(0.0, S)))
            s = w * scipy.special.expit(S) / self.tau          # ∂L/∂S_xy / τ
            D = s.copy()
            D[np.diag_indices(self.n)] -= s.sum(axis=1)        # ∂/∂G_xx of −G_xx terms
            return value, 0.5 * (D + D.T)

    res = lc.solve_gram(L1([0.5, 0.3, 0.2]))     # certified optimum of the user's objective
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["GramObjective"]


@runtime_checkable
class GramObjective(Protocol):
    """A convex function of an ``n × n`` Gram matrix (see the module docstring)."""

    n: int

    def value_and_grad(self, G: np.ndarray) -> tuple[float, np.ndarray]:
        """``(L(G), ∇L(G))`` with the symmetric gradient.

        Parameters
        ----------
        G : ndarray, shape (n, n)
            A symmetric Gram matrix.

        Returns
        -------
        tuple of (float, ndarray of shape (n, n))
            ``L(G)`` and its symmetric gradient (SPEC §4.2 needs both for the certificate).
        """
        ...


def check_objective(objective: Any, name: str = "objective") -> int:
    """The protocol's required part, checked once at the public door; returns ``n``."""
    n = getattr(objective, "n", None)
    if not callable(getattr(objective, "value_and_grad", None)):
        raise TypeError(
            f"{name} must implement the GramObjective protocol (an attribute n and a method "
            f"value_and_grad(G) -> (float, ndarray)), got {type(objective).__name__}"
        )
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
        raise TypeError(f"{name}.n must be a positive integer (the matrix size), got {n!r}")
    return int(n)


def value_and_grad_fn(objective: Any):
    """``G ↦ (value, symmetric gradient)`` for the solvers' iterates (no validation when the
    objective offers ``unchecked_value_and_grad``)."""
    fast = getattr(objective, "unchecked_value_and_grad", None)
    if callable(fast):
        return fast
    vg = objective.value_and_grad

    def fg(G: np.ndarray) -> tuple[float, np.ndarray]:
        f, g = vg(G)
        g = np.asarray(g, dtype=float)
        return float(f), 0.5 * (g + g.T)

    return fg


def value_fn(objective: Any):
    """``G ↦ value``."""
    value = getattr(objective, "value", None)
    if callable(value):
        return value
    vg = objective.value_and_grad
    return lambda G: float(vg(G)[0])


def second_order_cost(objective: Any) -> int | None:
    """``len(anchors) · n²`` of the objective's row Hessians, ``None`` if it has none."""
    if not callable(getattr(objective, "second_order", None)):
        return None
    cost = getattr(objective, "second_order_cost", None)
    return None if cost is None else int(cost)
