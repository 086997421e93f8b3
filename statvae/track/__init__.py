"""Bifurcation tracking: continuation, stability by inertia, special points, branch switching, diagrams."""

from .api import track
from .continuation import ContinuationOptions
from .diagram import BifurcationDiagram, Branch
from .locate import SpecialPoint
from .phase import PhaseDiagram, branch_point_loci
from .problem import ContinuationProblem

__all__ = ["track", "ContinuationOptions", "BifurcationDiagram", "Branch", "SpecialPoint", "ContinuationProblem",
           "PhaseDiagram", "branch_point_loci"]
