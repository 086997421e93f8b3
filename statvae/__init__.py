"""statvae: posterior collapse in linear VAEs as a phase transition.

Derive the exact ELBO of any linear-Gaussian VAE configuration, analyse the
stability of the collapsed point, compute critical hyper-parameters for
real data, and export every formula as LaTeX.

>>> import statvae
>>> statvae.LinearVAE(3, 2).collapse().critical("sigma2", spectrum=[3.0, 1.7, 0.9]).value
3.0

The names below are loaded on first use (PEP 562): ``import statvae`` by
itself imports neither scipy nor matplotlib, and ``statvae.track`` loads the
tracking layer only when it is first looked up.
"""

from __future__ import annotations

import sys as _sys
import types as _types
from typing import TYPE_CHECKING, Any

from .lazy import lazy_names

from ._version import __version__
from .errors import AnalysisError, DataError, ModelError, StatvaeError

if TYPE_CHECKING:  # the same names, eagerly, for type checkers
    from .analysis.diagnostics import Diagnostics, diagnose
    from .analysis.optimum import OptimumResult, optimum
    from .analysis.tracking import track
    from .api import ConditionalVAE, HierarchicalVAE, LinearVAE, VAEModel, load_model, save_model
    from .bifurcation.diagram import BifurcationDiagram
    from .bifurcation.phase import PhaseDiagram, branch_point_loci
    from .latex import latex
    from .model.graph import Map, ModelGraph, Variable
    from .training.probe import probe

__all__ = ["LinearVAE", "ConditionalVAE", "HierarchicalVAE", "ModelGraph", "Variable", "Map", "VAEModel",
           "load_model", "save_model", "latex", "track", "optimum", "OptimumResult", "diagnose", "Diagnostics",
           "branch_point_loci", "BifurcationDiagram", "PhaseDiagram", "probe",
           "StatvaeError", "ModelError", "DataError", "AnalysisError", "__version__"]

#: Public name -> the module (relative to this package) that defines it, imported on first use.
_LAZY = {
    "LinearVAE": ".api", "ConditionalVAE": ".api", "HierarchicalVAE": ".api", "VAEModel": ".api",
    "load_model": ".api", "save_model": ".api",
    "ModelGraph": ".model.graph", "Variable": ".model.graph", "Map": ".model.graph",
    "latex": ".latex",
    "track": ".analysis.tracking",
    "optimum": ".analysis.optimum", "OptimumResult": ".analysis.optimum",
    "diagnose": ".analysis.diagnostics", "Diagnostics": ".analysis.diagnostics",
    "BifurcationDiagram": ".bifurcation.diagram",
    "PhaseDiagram": ".bifurcation.phase", "branch_point_loci": ".bifurcation.phase",
    "probe": ".training.probe",
}


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals(), __all__)


class _Package(_types.ModuleType):
    """The package's module type: importing the submodule :mod:`statvae.latex` keeps ``statvae.latex`` the function.

    Python binds a submodule to its package's attribute once it is loaded;
    before the lazy loading, ``statvae.latex`` was the function
    :func:`statvae.latex.latex` whatever was imported, and so it stays.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        """Set an attribute; the submodule ``latex`` is replaced by its function ``latex``.

        Parameters
        ----------
        name : str
            The attribute.
        value : object
            Its value.
        """
        if name == "latex" and isinstance(value, _types.ModuleType):
            value = value.latex
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package

