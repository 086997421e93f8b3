"""Branch points of the collapsed branch by numerics alone, in any data basis.

Used by :meth:`statvae.symbolic.collapse.CollapseAnalysis.critical_points`
when the per-mode reduction does not apply (a conditional VAE whose encoder
maps are weight-decayed while x and y are correlated: the regression gauge is
then not a symmetry).  Only latent flips are used: the Hessian at collapse is
block diagonal per latent coordinate (and the collapsed manifold), each block
of size ``Nx + 2 Ny`` or so.  The collapsed point is solved by Newton's method
at each parameter value, the Morse index is scanned on a logarithmic grid,
and every change is located by Brent's method on the crossing block
eigenvalue.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from .api import collapsed_start
from .continuation import ContinuationOptions
from .locate import _crossing_eigenvalue
from .problem import ContinuationProblem
from .stability import inertia

__all__ = ["numeric_crossings"]


def numeric_crossings(model, covariance, parameter: str, values: dict, lo: float, hi: float,
                      points: int = 160) -> list:
    """``[(value, index_below, index_above, kernel_dim)]`` for every index change of collapse in ``[lo, hi]``."""
    problem = ContinuationProblem(model, None, parameter, values, covariance=covariance)
    opts = ContinuationOptions(p_min=lo, p_max=hi).resolved()
    span = problem.chars.span_of(np.zeros(problem.layout.size))
    grid = np.geomspace(lo, hi, points) if lo > 0 else np.concatenate([[0.0], np.geomspace(hi * 1e-9, hi, points)])
    cache = {}

    def state(p):
        if p not in cache:
            th = collapsed_start(problem, p, opts)
            cache[p] = (th, inertia(problem, th, p, span))
        return cache[p]

    out = []
    prev = None
    for p in grid:
        th, ine = state(p)
        if prev is not None and ine.counts() != prev[1].counts():
            a, b = prev[0], p
            ca, cb = prev[1].positive, ine.positive
            roots = []
            for key in sorted(set(ca) | set(cb)):
                if ca.get(key, 0) == cb.get(key, 0):
                    continue
                rank = min(ca.get(key, 0), cb.get(key, 0))

                def f(q, key=key, rank=rank):
                    return _crossing_eigenvalue(problem, state(q)[0], q, span, key, rank)[0]

                roots.append(brentq(f, a, b, xtol=4e-16 * b, rtol=8.9e-16, maxiter=200))
            roots.sort()
            for r in roots:
                if out and abs(r - out[-1][0]) <= 1e-10 * r:
                    out[-1] = (out[-1][0], out[-1][1], out[-1][2], out[-1][3] + 1)
                else:
                    out.append((r, prev[1].index, ine.index, 1))
        prev = (p, ine)
    return [(r, below, above, k) for r, below, above, k in out]
