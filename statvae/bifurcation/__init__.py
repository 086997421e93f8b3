"""Bifurcation tracking: continuation, stability by inertia, special points, branch switching, diagrams.

The names below are loaded on first use (PEP 562), so that importing one
module of the package (as the collapse analysis does) does not import the
tracker, the diagrams and scipy with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_names

if TYPE_CHECKING:  # the same names, eagerly, for type checkers
    from .api import TrackRun, follow, run_tracker
    from .continuation import ContinuationOptions
    from .diagram import BifurcationDiagram, Branch
    from .locate import PointKind, PointStatus, SpecialPoint
    from .phase import PhaseDiagram, branch_point_loci
    from .problem import ContinuationProblem

__all__ = ["follow", "TrackRun", "run_tracker", "ContinuationOptions", "BifurcationDiagram", "Branch", "SpecialPoint",
           "PointKind", "PointStatus", "ContinuationProblem",
           "PhaseDiagram", "branch_point_loci"]

#: Public name -> the module of this package that defines it, imported on first use.
_LAZY = {"follow": ".api", "TrackRun": ".api", "run_tracker": ".api", "ContinuationOptions": ".continuation",
         "BifurcationDiagram": ".diagram", "Branch": ".diagram", "SpecialPoint": ".locate", "PointKind": ".locate",
         "PointStatus": ".locate", "ContinuationProblem": ".problem", "PhaseDiagram": ".phase",
         "branch_point_loci": ".phase"}


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals(), __all__)

