"""An adaptive logarithmic scan: around the data's scale, extended outward until nothing changes any more.

Where a block is not affine in the hyper-parameter, its crossings are found
by scanning.  A fixed window misses thresholds that lie far from the data's
scale (a conditional model with nearly collinear inputs has one at
``2e-9 lambda_max``), so the scan starts at :data:`CORE_DECADES` decades either
side of the reference scale and extends each end, :data:`EXTEND_DECADES` at a
time, until the scaled eigenvalues have *settled* there (they change by less
than :data:`SETTLE` over the last decade and none is within :data:`SETTLE` of
zero), or :data:`MAX_DECADES` decades from the scale are reached: the stated
bound.  An eigenvalue that is a rational function of ``p`` with a root ``r``
moves by about ``p / r`` per decade, so every root within about 20 decades
of the scale is reached.  :class:`ScanResult` says which end stopped for
which reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ScanResult", "adaptive_scan", "CORE_DECADES", "EXTEND_DECADES", "MAX_DECADES", "SETTLE"]

#: Decades on each side of the reference scale that are always scanned.
CORE_DECADES = 8
#: Decades added at an end while the eigenvalues there still move.
EXTEND_DECADES = 4
#: The bound: no scan goes further than this many decades from the reference scale.
MAX_DECADES = 40
#: Change over the last decade (and distance from zero) below which an end counts as settled.
SETTLE = 1e-12


@dataclass
class ScanResult:
    """Grid and values of an adaptive scan.

    Attributes
    ----------
    grid : numpy.ndarray
        Increasing parameter values (0 first when the parameter may be 0).
    values : list
        ``f(p)`` at each grid point (None where it could not be evaluated).
    ends : tuple
        ``(low end, high end)``: ``"settled"`` or ``"bound"`` (the stated bound was reached).
    """

    grid: np.ndarray
    values: list
    ends: tuple

    def describe(self) -> str:
        """The positive range scanned and how each end was reached, in one line."""
        lo, hi = self.grid[self.grid > 0][[0, -1]]
        return f"scanned [{lo:.3g}, {hi:.3g}] ({', '.join(f'{e}' for e in self.ends)})"


def _settled(vals: list, per_decade: int) -> bool:
    tail = [v for v in vals[-(per_decade + 1):] if v is not None]
    if len(tail) < per_decade + 1:
        return False
    a = np.array([np.ravel(v) for v in tail], dtype=float)
    if a.ndim != 2 or not np.all(np.isfinite(a)):
        return False
    moved = float(np.abs(a - a[-1]).max())
    return moved <= SETTLE and float(np.abs(a[-1]).min()) > SETTLE if a.size else True


def adaptive_scan(f, scale: float, nonnegative: bool = False, per_decade: int = 20, progress=None) -> ScanResult:
    """Evaluate ``f`` (a vector of normalised eigenvalues, or None) on an adaptive log grid around ``scale``.

    Parameters
    ----------
    f : callable
        ``f(p)`` -> 1-D array (e.g. diagonally scaled eigenvalues, sorted) or None.
    scale : float
        Reference scale of the parameter (> 0).
    nonnegative : bool
        Also evaluate at ``p = 0``.
    per_decade : int
        Grid points per decade.
    progress : callable, optional
        ``progress(message)`` once per decade.
    """
    if not (scale > 0 and np.isfinite(scale)):
        raise ValueError(f"scale must be positive and finite, got {scale!r}")

    def evaluate(ps):
        out = []
        for n, p in enumerate(ps):
            if progress is not None and n % per_decade == 0:
                progress(f"scanning {p:.3g}")
            try:
                out.append(f(p))
            except (ArithmeticError, ValueError, np.linalg.LinAlgError):
                out.append(None)
        return out

    lo_dec, hi_dec = -CORE_DECADES, CORE_DECADES
    grid = list(scale * np.logspace(lo_dec, hi_dec, (hi_dec - lo_dec) * per_decade + 1))
    vals = evaluate(grid)
    ends = ["bound", "bound"]
    while True:  # extend the high end
        if _settled(vals, per_decade):
            ends[1] = "settled"
            break
        if hi_dec >= MAX_DECADES or scale * 10.0 ** (hi_dec + EXTEND_DECADES) > 1e300:
            break
        new = list(scale * np.logspace(hi_dec, hi_dec + EXTEND_DECADES, EXTEND_DECADES * per_decade + 1)[1:])
        grid += new
        vals += evaluate(new)
        hi_dec += EXTEND_DECADES
    while True:  # extend the low end
        if _settled(vals[::-1], per_decade):
            ends[0] = "settled"
            break
        if lo_dec <= -MAX_DECADES or scale * 10.0 ** (lo_dec - EXTEND_DECADES) < 1e-300:
            break
        new = list(scale * np.logspace(lo_dec - EXTEND_DECADES, lo_dec, EXTEND_DECADES * per_decade + 1)[:-1])
        grid = new + grid
        vals = evaluate(new) + vals
        lo_dec -= EXTEND_DECADES
    if nonnegative:
        grid = [0.0] + grid
        vals = evaluate([0.0]) + vals
    return ScanResult(np.array(grid), vals, tuple(ends))
