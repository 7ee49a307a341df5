"""The exact population-loss engines behind :class:`latentclass.NCEObjective` (private;
SPEC §3).

- :mod:`.laplace`: the Frullani/Laplace quadrature ``I_k = ∫ e^{-t}(1 − φ(t)^k) dt/t``, cost
  independent of ``k``, with its gradient;
- :mod:`.multiset`: the exact sum over multisets of negatives (small ``n`` and ``k``), with
  gradient and Hessian;
- :mod:`.scores`: the log-score table shared by both (row segments, overflow limits);
- :mod:`.series`: power-series helpers of the quadrature's large-``k`` tail.
"""
