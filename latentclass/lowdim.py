"""Low-dimensional optima ``d < m − 1`` with a certified lower bound (SPEC §9.4)."""

from __future__ import annotations

__all__: list[str] = []
