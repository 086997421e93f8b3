"""Analysis of collapse on the data in hand: compiled-Hessian blocks, crossings, self-checks.

This layer sits above the symbolic, numeric and tracking layers: it answers
"is collapse stable for these data, and where does it stop being stable"
from the compiled objective alone (:mod:`statvae.analysis.compiled`,
:mod:`statvae.analysis.crossings`), and confirms every threshold the per-mode
closed forms give against the compiled Hessian (:mod:`statvae.analysis.selfcheck`).
"""

from .collapse import CollapseAnalysis, CriticalPoint, HessianBlock, analyse_collapse
from .compiled import BlockKey, CompiledCollapse
from .crossings import Crossing, find_crossings
from .results import CriticalResult, CrossingResult, ResultStatus

__all__ = ["CollapseAnalysis", "CriticalPoint", "HessianBlock", "analyse_collapse", "BlockKey", "CompiledCollapse",
           "Crossing", "find_crossings", "CriticalResult", "CrossingResult", "ResultStatus"]
