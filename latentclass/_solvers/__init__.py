"""The solvers behind :func:`latentclass.optimal_representation` and
:func:`latentclass.solve_gram` (private; SPEC §4).  They speak only the objective protocol
of :mod:`latentclass.objective`, and every path returns a :class:`run.SolverRun`.

- :mod:`.burer_monteiro`: the general solver, Burer–Monteiro on the lifted sphere with
  L-BFGS, Newton steps where the objective has a Hessian, a gradient-only polish, restarts;
- :mod:`.lifted_sphere`: the lifted-sphere parametrisation, its gradient and exact Hessian;
- :mod:`.gram_newton`: Newton's method on the KKT conditions in Gram space (the fast path for
  small class-level problems);
- :mod:`.starts`: start points (structured, centred simplex, random);
- :mod:`.run`: the result type shared by every path.

The certificate that judges every result lives in :mod:`latentclass.certificate`.
"""
