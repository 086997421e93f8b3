"""Bifurcation tracking: continuation, stability by inertia, special points, branch switching, diagrams."""

from .api import TrackRun, follow, run_tracker
from .continuation import ContinuationOptions
from .diagram import BifurcationDiagram, Branch
from .locate import PointKind, PointStatus, SpecialPoint
from .phase import PhaseDiagram, branch_point_loci
from .problem import ContinuationProblem

__all__ = ["follow", "TrackRun", "run_tracker", "ContinuationOptions", "BifurcationDiagram", "Branch", "SpecialPoint",
           "PointKind", "PointStatus", "ContinuationProblem",
           "PhaseDiagram", "branch_point_loci"]
