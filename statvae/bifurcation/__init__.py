"""Bifurcation tracking: continuation, stability by inertia, special points, branch switching, diagrams.

The names below are loaded on first use (PEP 562), so that importing one
module of the package (as the collapse analysis does) does not import the
tracker, the diagrams and scipy with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    """Import the module defining the public ``name`` on first access, and keep the name here.

    Parameters
    ----------
    name : str
        An attribute of the package.

    Returns
    -------
    object
        The public object.

    Raises
    ------
    AttributeError
        If ``name`` is not a public name of the package.
    """
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(where, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The package's attributes, the lazily loaded public names included.

    Returns
    -------
    list of str
        Sorted names.
    """
    return sorted(set(globals()) | set(__all__))
