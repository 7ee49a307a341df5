"""The class of contrastive losses: logistic (InfoNCE), hinge, decoupled, debiased and
hard-negative, exactly for every ``k`` (SPEC §8).

- loss objects :class:`Logistic`, :class:`Hinge`, :class:`Decoupled`, :class:`Debiased`,
  :class:`HardNegative` (callables on scores divided by ``τ``);
- :class:`LossObjective`: the exact population loss of any of them as a function of the Gram
  matrix (also reached through ``loss=`` on :func:`latentclass.population_loss` and
  :class:`latentclass.NCEObjective`);
- :func:`check_averaging_property`: randomized and adversarial search for violations of the
  averaging property;
- :func:`hinge_dual_bound`: the dual certificate of the hinge (piece weights, then polymatroid
  weights by an LP; proofs/loss_family.md §5); :func:`refine_hinge_gram`: the hinge problem
  as an LP over the PSD cone (cutting planes, SciPy's HiGHS) from a starting Gram matrix.
"""

from .averaging import AveragingCheck, check_averaging_property
from .hinge_dual import HingeDualBound, HingeRefinement, hinge_dual_bound, refine_hinge_gram
from .objects import (
    LOSS_NAMES,
    Debiased,
    Decoupled,
    HardNegative,
    Hinge,
    Logistic,
    is_logistic,
    resolve_loss,
)
from .population import LossObjective

__all__ = [
    "LOSS_NAMES",
    "AveragingCheck",
    "Debiased",
    "Decoupled",
    "HardNegative",
    "Hinge",
    "HingeDualBound",
    "HingeRefinement",
    "Logistic",
    "LossObjective",
    "check_averaging_property",
    "hinge_dual_bound",
    "is_logistic",
    "refine_hinge_gram",
    "resolve_loss",
]
