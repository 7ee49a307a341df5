"""Training with sampled negatives, compared with the certified population optimum.

Practitioners minimise the NCE loss (SPEC §2) by stochastic gradient steps on batches
of contrastive examples, each with ``k`` sampled negatives.  This package does the same
on data drawn from a latent-class model (SPEC §1) and measures how far the trained
representation is from the *certified* optimum of the population loss (SPEC §3–§4):

- finite models: an embedding table ``F`` (``n × d``), rows kept in the unit ball by
  *projection* after every step (rows of norm ``> 1`` are divided by their norm); before
  the optimiser sees it, the gradient of a row lying on the sphere loses its outward
  radial part (projection onto the tangent cone of the ball), which the projection would
  undo anyway and which would otherwise swamp Adam's second-moment estimate;
  the exact population loss ``L_k(F)`` and the gap ``L_k(F) − L_k*`` are recorded
  along the way;
- Gaussian models: an encoder (a linear map or a one-hidden-layer ``tanh`` MLP) whose
  outputs are *normalised* to the unit sphere, ``f(x) = z(x) / ‖z(x)‖``.

Modules, one concept each:

- :mod:`.sampled_gradients` — the sampled loss and its exact gradient, for tables and encoders;
- :mod:`.encoders` — :class:`LinearEncoder`, :class:`MLPEncoder`: forward and backward passes;
- :mod:`.optimizers` — :class:`Adam`, :class:`SGD` and the learning-rate schedules;
- :mod:`.unit_ball` — keeping the rows of a table in the unit ball;
- :mod:`.results` — :class:`TrainingHistory`, :class:`TrainingResult`;
- :mod:`.loop` — :func:`train`;
- :mod:`.evaluation` — :func:`heldout_mean_classifier` for encoders;
- :mod:`.experiment` — :func:`run_training_experiment` and its result objects.
"""

from .encoders import LinearEncoder, MLPEncoder
from .evaluation import DownstreamEstimate, heldout_mean_classifier
from .experiment import (
    TrainingCurve,
    TrainingExperiment,
    TrainingRow,
    default_experiment_models,
    run_training_experiment,
)
from .loop import train
from .optimizers import SGD, Adam
from .results import TrainingHistory, TrainingResult
from .sampled_gradients import encoder_loss_and_grad, sampled_loss_and_grad

__all__ = [
    "SGD",
    "Adam",
    "DownstreamEstimate",
    "LinearEncoder",
    "MLPEncoder",
    "TrainingCurve",
    "TrainingExperiment",
    "TrainingHistory",
    "TrainingResult",
    "TrainingRow",
    "default_experiment_models",
    "encoder_loss_and_grad",
    "heldout_mean_classifier",
    "run_training_experiment",
    "sampled_loss_and_grad",
    "train",
]
