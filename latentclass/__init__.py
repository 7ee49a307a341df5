"""latentclass: exact simulation of latent-class contrastive learning.

Import as ``import latentclass as lc``; the exact symbolic checks are ``lc.symbolic``.
Modules, in the order imports flow (SPEC sections in each docstring):

- ``model``: the latent-class model and its sampler (SPEC §1);
- ``nce``, ``population``: the sampled and the exact population NCE loss (SPEC §2–3);
- ``closed_form``, ``optimize``, ``certificate``, ``conic``: optimal representations and their
  certificates (SPEC §4–5);
- ``structure``, ``symbolic``, ``downstream``, ``bounds``, ``families``, ``experiments``,
  ``training``: analysis (SPEC §5–7);
- ``plots``, ``figures``, ``cli``: theorem-check figures and the command line.
"""

from . import families, losses
from .bounds import (
    BoundValues,
    IllConditionedBoundError,
    ash_bound,
    bao_bound,
    bao_lower_bound,
    collision_probability,
    coverage_probability,
    expected_log_collisions,
    harmonic_number,
    nozawa_sato_bound,
    published_bounds,
    saunshi_bound,
)
from .certificate import Certificate, certify
from .closed_form import simplex, simplex_gram, simplex_loss
from .conic import ConicSolution, conic_optimum
from .diagnose import Diagnosis, diagnose
from .downstream import (
    BinaryTaskIdentity,
    BinaryTaskOrdering,
    DownstreamResult,
    TaskProfile,
    binary_task_identity,
    binary_task_ordering,
    mean_classifier_accuracy,
    mean_classifier_loss,
    mean_classifier_metrics,
    task_size_profile,
)
from .empirical import EmpiricalObjective, EmpiricalOptimum, empirical_optimum
from .experiments import (
    DegradationSearchResult,
    SweepResult,
    search_degradation,
    sweep_negatives,
)
from .families import parse_class_probs
from .finite_sample import ErmSweepResult, erm_sweep
from .lowdim import LowDimOptimum, low_dim_optimum, regular_polygon
from .model import ContrastiveSample, GaussianLatentClassModel, LatentClassModel
from .nce import LossEstimate, nce_loss
from .objective import GramObjective
from .optimize import OptimalRepresentation, optimal_representation, solve_gram
from .population import NCEObjective, population_loss, population_loss_limit
from .structure import StructureReport, structure
from .training import (
    TrainingExperiment,
    TrainingResult,
    run_training_experiment,
    train,
)

try:  # the installed distribution's version (one source of truth: pyproject.toml)
    from importlib.metadata import PackageNotFoundError as _NotFound
    from importlib.metadata import version as _dist_version

    __version__ = _dist_version("latentclass")
except _NotFound:  # pragma: no cover - running from a source tree that is not installed
    __version__ = "0.1.0"


_LAZY = {  # heavy imports (sympy, matplotlib) deferred to first use
    "symbolic": ("symbolic", None),
    "make_figures": ("figures", "make_figures"),
    "figure_names": ("figures", "figure_names"),
    "run_figure": ("figures", "run_figure"),
}


def __getattr__(name: str):
    """``lc.symbolic`` and the figure functions are imported on first use, not at import."""
    if name not in _LAZY:
        raise AttributeError(f"module 'latentclass' has no attribute {name!r}")
    import importlib

    module_name, attr = _LAZY[name]
    module = importlib.import_module(f".{module_name}", __name__)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


__all__ = [
    "BinaryTaskIdentity",
    "BinaryTaskOrdering",
    "BoundValues",
    "Certificate",
    "ConicSolution",
    "ContrastiveSample",
    "DegradationSearchResult",
    "Diagnosis",
    "DownstreamResult",
    "EmpiricalObjective",
    "EmpiricalOptimum",
    "ErmSweepResult",
    "GaussianLatentClassModel",
    "GramObjective",
    "IllConditionedBoundError",
    "LatentClassModel",
    "LossEstimate",
    "LowDimOptimum",
    "NCEObjective",
    "OptimalRepresentation",
    "StructureReport",
    "SweepResult",
    "TaskProfile",
    "TrainingExperiment",
    "TrainingResult",
    "ash_bound",
    "bao_bound",
    "bao_lower_bound",
    "binary_task_identity",
    "binary_task_ordering",
    "certify",
    "collision_probability",
    "conic_optimum",
    "coverage_probability",
    "diagnose",
    "empirical_optimum",
    "erm_sweep",
    "expected_log_collisions",
    "families",
    "figure_names",
    "harmonic_number",
    "losses",
    "low_dim_optimum",
    "make_figures",
    "mean_classifier_accuracy",
    "mean_classifier_loss",
    "mean_classifier_metrics",
    "nce_loss",
    "nozawa_sato_bound",
    "optimal_representation",
    "parse_class_probs",
    "population_loss",
    "population_loss_limit",
    "published_bounds",
    "regular_polygon",
    "run_figure",
    "run_training_experiment",
    "saunshi_bound",
    "search_degradation",
    "simplex",
    "simplex_gram",
    "simplex_loss",
    "solve_gram",
    "structure",
    "sweep_negatives",
    "symbolic",
    "task_size_profile",
    "train",
]
