"""statvae: posterior collapse in linear VAEs as a phase transition.

Derive the exact ELBO of any linear-Gaussian VAE configuration, analyse the
stability of the collapsed point, compute critical hyper-parameters for
real data, and export every formula as LaTeX.

>>> import statvae
>>> statvae.LinearVAE(3, 2).collapse().critical("sigma2", spectrum=[3.0, 1.7, 0.9]).value
3.0
"""

from .errors import AnalysisError, DataError, ModelError, StatvaeError
from .api import ConditionalVAE, HierarchicalVAE, LinearVAE, VAEModel, load_model, save_model
from .model import Map, ModelGraph, Variable
from .latex import latex
from .analysis.tracking import track
from .bifurcation import BifurcationDiagram, PhaseDiagram, branch_point_loci

from ._version import __version__

__all__ = ["LinearVAE", "ConditionalVAE", "HierarchicalVAE", "ModelGraph", "Variable", "Map", "VAEModel",
           "load_model", "save_model", "latex", "track",
           "branch_point_loci", "BifurcationDiagram", "PhaseDiagram",
           "StatvaeError", "ModelError", "DataError", "AnalysisError", "__version__"]
