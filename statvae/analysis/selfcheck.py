"""Self-checks: every threshold a closed form gives is confirmed by the compiled Hessian.

A per-mode closed form rests on a derivation (and on the data having a
canonical form); the compiled objective rests on neither.  So every critical
value, crossing and stability verdict that statvae returns is checked here
against the inertia of the compiled Hessian at the collapsed point, just
below and just above the value (a relative offset of at most 1e-6, less than
the gap to any neighbouring value).  A disagreement raises
:class:`~statvae.errors.AnalysisError` naming both numbers; it is never
returned.  The check costs two block evaluations per value (two matrix sums
per block when the blocks are affine in the parameter).
"""

from __future__ import annotations

import numpy as np

from ..errors import AnalysisError
from .compiled import CompiledCollapse

__all__ = ["confirm_boundaries", "confirm_crossings", "confirm_index", "sides", "OFFSETS"]


#: Relative offsets tried on each side of a value, smallest first (capped at 0.3 x the gap to a neighbour).
OFFSETS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2)


def sides(values: list, v: float, nonnegative: bool = False, offset: float = 1e-6) -> tuple[float, float]:
    """Points just below and just above ``v``, closer to it than to any other of ``values``.

    Parameters
    ----------
    values : list of float
        All the values being checked (``v`` among them).
    v : float
        The value.
    nonnegative : bool
        The parameter may be 0 (else the lower side stays positive: ``v / 2`` at worst).
    offset : float
        Relative offset, reduced to 0.3 of the relative gap to the nearest other value.

    Returns
    -------
    tuple of float
        ``(lo, hi)``.

    Examples
    --------
    >>> sides([1.0, 2.0], 1.0)
    (0.999999, 1.000001)
    """
    others = [abs(u - v) / abs(v) for u in values if u != v]
    d = min([offset] + [0.3 * g for g in others if g > 0])
    lo = v * (1 - d)
    if lo <= 0 and not nonnegative:
        lo = v / 2
    return lo, v * (1 + d)


def _offsets(values: list, v: float, nonnegative: bool) -> list:
    """The distinct side pairs to try for ``v``: the smallest offset first.

    An eigenvalue crossing at ``v`` moves by about ``offset x v x slope``; where the
    slope is tiny (a threshold set by a small difference of large terms) it stays
    within the zero tolerance at 1e-6 and only a larger offset resolves it.
    """
    out = []
    for d in OFFSETS:
        pair = sides(values, v, nonnegative, d)
        if pair not in out:
            out.append(pair)
    return out


def _fail(what: str, detail: str) -> AnalysisError:
    return AnalysisError(f"self-check failed: {what}, but {detail}; this is a bug in statvae, please report it")


def confirm_boundaries(cc: CompiledCollapse, name: str, points: list,
                       nonnegative: bool = False) -> list[tuple[float, float]]:
    """Each ``(value, stable_side)`` must have 0 ascent directions on its stable side and some on the other.

    Checked at the smallest offset of :data:`OFFSETS` that resolves the crossing.

    Parameters
    ----------
    cc : CompiledCollapse
        The compiled Hessian of the collapsed point.
    name : str
        The parameter's name, for the message.
    points : list of (float, str)
        Critical values and the side (``"below"``/``"above"``) where collapse is stable.
    nonnegative : bool
        The parameter may be 0.

    Returns
    -------
    list of (float, float)
        The bracket ``(lo, hi)`` of each value on which the change was seen.

    Raises
    ------
    AnalysisError
        The compiled Hessian disagrees (a bug in statvae).
    """
    values = [v for v, _ in points]
    brackets = []
    for v, side in points:
        first = None
        for lo, hi in _offsets(values, v, nonnegative):
            n_lo, n_hi = cc.index(lo), cc.index(hi)
            if ((n_lo == 0), (n_hi == 0)) == ((side == "below"), (side == "above")):
                brackets.append((lo, hi))
                break
            first = first or (lo, hi, n_lo, n_hi)
        else:
            assert first is not None  # OFFSETS is not empty
            lo, hi, n_lo, n_hi = first
            raise _fail(f"the analysis puts a critical {name} at {v:.12g} with collapse stable {side} it",
                        f"the compiled Hessian at the collapsed point has {n_lo} ascent direction(s) at "
                        f"{name} = {lo:.12g} and {n_hi} at {hi:.12g}")
    return brackets


def confirm_crossings(cc: CompiledCollapse, name: str, crossings: list,
                      nonnegative: bool = False) -> list[tuple[float, float]]:
    """At each ``(value, kernel_dim)`` exactly ``kernel_dim`` eigenvalues of the compiled blocks must cross zero.

    Checked at the smallest offset of :data:`OFFSETS` that resolves the crossing.

    Parameters
    ----------
    cc : CompiledCollapse
        The compiled Hessian of the collapsed point.
    name : str
        The parameter's name, for the message.
    crossings : list of (float, int)
        Values and the number of eigenvalues crossing there.
    nonnegative : bool
        The parameter may be 0.

    Returns
    -------
    list of (float, float)
        The bracket ``(lo, hi)`` of each crossing on which the change was seen.

    Raises
    ------
    AnalysisError
        The compiled Hessian disagrees (a bug in statvae).
    """
    values = [v for v, _ in crossings]
    copies = cc.copies_vector()
    brackets = []
    for v, k in crossings:
        first = None
        for lo, hi in _offsets(values, v, nonnegative):
            c_lo, c_hi = cc.count_vector(lo), cc.count_vector(hi)
            moved = int((copies * np.abs(c_hi - c_lo)).sum())  # blocks may cross both ways at once
            if moved == k:
                brackets.append((lo, hi))
                break
            first = first or (lo, hi, c_lo, c_hi, moved)
        else:
            assert first is not None  # OFFSETS is not empty
            lo, hi, c_lo, c_hi, moved = first
            n_lo, n_hi = int((copies * c_lo).sum()), int((copies * c_hi).sum())
            raise _fail(f"the analysis has {k} Hessian eigenvalue(s) crossing zero at {name} = {v:.12g}",
                        f"the compiled Hessian at the collapsed point has {moved} crossing there ({n_lo} ascent "
                        f"direction(s) at {lo:.12g}, {n_hi} at {hi:.12g})")
    return brackets


def confirm_index(cc: CompiledCollapse, p: float, claimed: int, what: str) -> None:
    """The compiled Morse index at ``p`` must equal ``claimed``.

    Parameters
    ----------
    cc : CompiledCollapse
        The compiled Hessian of the collapsed point.
    p : float
        The parameter value.
    claimed : int
        The index found by the per-mode analysis.
    what : str
        Where, for the message.

    Raises
    ------
    AnalysisError
        The indices differ (a bug in statvae).
    """
    n = cc.index(p)
    if n != claimed:
        raise _fail(f"the per-mode analysis finds {claimed} ascent direction(s) of the ELBO at the collapsed "
                    f"point ({what})", f"the compiled Hessian there has {n}")
