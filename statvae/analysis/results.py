"""Typed answers of the collapse analysis: critical values and crossings, each with its status.

Every numeric answer of :class:`~statvae.analysis.collapse.CollapseAnalysis`
is an object, never a bare float or tuple: it names the parameter, says how
the value was found (``method``), which Hessian block crosses, what the
answer assumes of the data, the interval on which the compiled Hessian
confirmed it, and a ``status``.  An answer that fails its self-check is
never returned (an :class:`~statvae.errors.AnalysisError` is raised), so a
returned answer is ``confirmed``; a result rebuilt from a file keeps the
status it was saved with.
"""

from __future__ import annotations

import enum
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import DataError

__all__ = ["ResultStatus", "CriticalResult", "CrossingResult"]


class ResultStatus(str, enum.Enum):
    """How far a numeric answer has been checked.

    ``confirmed``: the compiled Hessian at the collapsed point shows the
    claimed change of inertia just below and just above the value (see
    :mod:`statvae.analysis.selfcheck`).  ``unchecked``: built by hand or
    loaded from elsewhere, not checked in this process.
    """

    CONFIRMED = "confirmed"
    UNCHECKED = "unchecked"

    def __str__(self) -> str:
        return self.value


def _status(value: Any) -> ResultStatus:
    try:
        return ResultStatus(str(value))
    except ValueError:
        raise DataError(f"unknown result status {value!r}; one of "
                        f"{', '.join(s.value for s in ResultStatus)}") from None


@dataclass(frozen=True)
class CriticalResult:
    """A value of a hyper-parameter at which collapse gains or loses stability.

    Attributes
    ----------
    parameter : str
        The hyper-parameter (``"sigma2"``, ``"beta"``, ...).
    value : float
        The critical value, in the units of the data given.
    stable_side : str
        ``"above"`` if collapse is stable just above ``value``, ``"below"``
        if just below.
    block : str
        The Hessian block whose eigenvalue crosses zero (its parameter
        labels, or the compiled block's description).
    method : str
        ``"closed form"``, ``"bracketed root"``, or the compiled-Hessian
        method (``"generalized eigenvalue (compiled Hessian)"``...).
    mode : dict
        Which data coordinates (0-based, per observed variable) carry the
        crossing (empty for the compiled route).
    assumptions : tuple of str
        What the answer assumes of the data (cross-moments taken to vanish);
        empty when nothing is assumed or the compiled Hessian answered.
    bracket : tuple of float
        ``(lo, hi)`` on which the compiled Hessian saw the change.
    status : ResultStatus

    Examples
    --------
    >>> import statvae
    >>> r = statvae.LinearVAE(3, 2).collapse().critical("sigma2", spectrum=[3.0, 1.7, 0.9])
    >>> r.value, r.stable_side, r.method, str(r.status)
    (3.0, 'above', 'closed form', 'confirmed')
    >>> float(r)
    3.0
    """

    parameter: str
    value: float
    stable_side: str
    block: str
    method: str
    mode: dict[str, list[int]] = field(default_factory=dict)
    assumptions: tuple[str, ...] = ()
    bracket: tuple[float, ...] = ()
    status: ResultStatus = ResultStatus.UNCHECKED

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "status", _status(self.status))
        object.__setattr__(self, "assumptions", tuple(self.assumptions))
        object.__setattr__(self, "bracket", tuple(float(b) for b in self.bracket))
        if self.stable_side not in ("above", "below"):
            raise DataError(f"stable_side must be 'above' or 'below', got {self.stable_side!r}")

    def __float__(self) -> float:
        return float(self.value)

    def __str__(self) -> str:
        return (f"{self.parameter} = {self.value:.12g} (collapse stable {self.stable_side}; {self.method}; "
                f"block {self.block}; {self.status})")

    @property
    def precision(self) -> float:
        """Relative width of :attr:`bracket` (``nan`` without one)."""
        if len(self.bracket) != 2 or self.value == 0:
            return math.nan
        return abs(self.bracket[1] - self.bracket[0]) / abs(self.value)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (``status`` as its word)."""
        d = asdict(self)
        d["status"] = self.status.value
        d["assumptions"] = list(self.assumptions)
        d["bracket"] = list(self.bracket)
        d["mode"] = {k: list(v) for k, v in self.mode.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CriticalResult:
        """Inverse of :meth:`to_dict`.

        Parameters
        ----------
        d : dict
            As returned by :meth:`to_dict` (the fields by name).

        Returns
        -------
        CriticalResult
        """
        return cls(**{**d, "mode": {k: list(v) for k, v in d.get("mode", {}).items()}})


@dataclass(frozen=True)
class CrossingResult:
    """A value of a hyper-parameter where Hessian eigenvalues at collapse cross zero (a branch point).

    Attributes
    ----------
    parameter : str
    value : float
    kernel_dim : int
        How many eigenvalues cross there (latent copies of the crossing block
        and coinciding modes included).
    block : str
        The crossing block(s).
    method : str
    bracket : tuple of float
        ``(lo, hi)`` on which the compiled Hessian saw ``kernel_dim``
        eigenvalues cross.
    status : ResultStatus

    Examples
    --------
    >>> import statvae
    >>> [(c.value, c.kernel_dim) for c in statvae.LinearVAE(3, 2).collapse().crossings(spectrum=[3.0, 2.0, 1.0])]
    [(1.0, 2), (2.0, 2), (3.0, 2)]
    """

    parameter: str
    value: float
    kernel_dim: int
    block: str = ""
    method: str = ""
    bracket: tuple[float, ...] = ()
    status: ResultStatus = ResultStatus.UNCHECKED

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "kernel_dim", int(self.kernel_dim))
        object.__setattr__(self, "status", _status(self.status))
        object.__setattr__(self, "bracket", tuple(float(b) for b in self.bracket))

    def __float__(self) -> float:
        return float(self.value)

    def __str__(self) -> str:
        return f"{self.parameter} = {self.value:.12g} ({self.kernel_dim} eigenvalue(s) cross; {self.status})"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (``status`` as its word)."""
        d = asdict(self)
        d["status"] = self.status.value
        d["bracket"] = list(self.bracket)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CrossingResult:
        """Inverse of :meth:`to_dict`.

        Parameters
        ----------
        d : dict
            As returned by :meth:`to_dict` (the fields by name).

        Returns
        -------
        CrossingResult
        """
        return cls(**d)
