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

__all__ = ["confirm_boundaries", "confirm_crossings", "confirm_index", "sides"]


def sides(values: list, v: float, nonnegative: bool = False) -> tuple[float, float]:
    """Points just below and just above ``v``, closer to it than to any other of ``values``."""
    others = [abs(u - v) / abs(v) for u in values if u != v]
    d = min([1e-6] + [0.3 * g for g in others if g > 0])
    lo = v * (1 - d)
    if lo <= 0 and not nonnegative:
        lo = v / 2
    return lo, v * (1 + d)


def _fail(what: str, detail: str) -> AnalysisError:
    return AnalysisError(f"self-check failed: {what}, but {detail}; this is a bug in statvae, please report it")


def confirm_boundaries(cc: CompiledCollapse, name: str, points: list, nonnegative: bool = False) -> None:
    """Each ``(value, stable_side)`` must have 0 ascent directions on its stable side and some on the other."""
    values = [v for v, _ in points]
    for v, side in points:
        lo, hi = sides(values, v, nonnegative)
        n_lo, n_hi = cc.index(lo), cc.index(hi)
        stable_lo, stable_hi = n_lo == 0, n_hi == 0
        want_lo, want_hi = side == "below", side == "above"
        if (stable_lo, stable_hi) != (want_lo, want_hi):
            raise _fail(f"the analysis puts a critical {name} at {v:.12g} with collapse stable {side} it",
                        f"the compiled Hessian at the collapsed point has {n_lo} ascent direction(s) at "
                        f"{name} = {lo:.12g} and {n_hi} at {hi:.12g}")


def confirm_crossings(cc: CompiledCollapse, name: str, crossings: list, nonnegative: bool = False) -> None:
    """At each ``(value, kernel_dim)`` exactly ``kernel_dim`` eigenvalues of the compiled blocks must cross zero."""
    values = [v for v, _ in crossings]
    copies = cc.copies_vector()
    for v, k in crossings:
        lo, hi = sides(values, v, nonnegative)
        c_lo, c_hi = cc.count_vector(lo), cc.count_vector(hi)
        moved = int((copies * np.abs(c_hi - c_lo)).sum())  # blocks may cross both ways at once
        if moved != k:
            n_lo, n_hi = int((copies * c_lo).sum()), int((copies * c_hi).sum())
            raise _fail(f"the analysis has {k} Hessian eigenvalue(s) crossing zero at {name} = {v:.12g}",
                        f"the compiled Hessian at the collapsed point has {moved} crossing there ({n_lo} ascent "
                        f"direction(s) at {lo:.12g}, {n_hi} at {hi:.12g})")


def confirm_index(cc: CompiledCollapse, p: float, claimed: int, what: str) -> None:
    """The compiled Morse index at ``p`` must equal ``claimed``."""
    n = cc.index(p)
    if n != claimed:
        raise _fail(f"the per-mode analysis finds {claimed} ascent direction(s) of the ELBO at the collapsed "
                    f"point ({what})", f"the compiled Hessian there has {n}")
