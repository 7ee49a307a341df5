"""latentclass: exact simulation of latent-class contrastive learning.

See ``SPEC.md`` sections cited in each docstring.  Import as ``import latentclass as lc``.
"""

from .model import ContrastiveSample, GaussianLatentClassModel, LatentClassModel
from .nce import LossEstimate, nce_loss
from .structure import StructureReport, structure

__version__ = "0.1.0"

__all__ = [
    "ContrastiveSample",
    "GaussianLatentClassModel",
    "LatentClassModel",
    "LossEstimate",
    "nce_loss",
    "StructureReport",
    "structure",
]
