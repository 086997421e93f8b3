"""Exact objectives from Gaussian moments, derivatives, and the collapse analysis."""

from .modes import ModeBlock, ModeStructure, assemble_hessian, mode_structure
from .objective import Objective, build_objective

__all__ = ["ModeBlock", "ModeStructure",
           "assemble_hessian", "mode_structure", "Objective", "build_objective"]
