"""The collapsed point of a continuation problem: latent maps zero, everything else at its maximum."""

from __future__ import annotations

import numpy as np

from ..errors import AnalysisError
from .continuation import correct_at
from .symmetry import Span

__all__ = ["collapsed_start"]


def collapsed_start(problem, p: float, newton_tol: float = 1e-11) -> np.ndarray:
    """The collapsed point at ``p``: latent maps zero, the rest solved by damped Newton."""
    lay = problem.layout
    g = problem.model.graph
    blocks = {}
    off, start_var = 0, {}
    for v in g.observed():  # a learned variance starts at the mean variance of its own variable
        if v.variance == "learned":
            start_var[g.learned_variance_name(v.name)] = float(
                np.mean(np.diag(problem.covariance)[off:off + v.dim])) or 1.0
        off += v.dim
    for b in lay.blocks:
        if b.kind == "map":
            blocks[b.name] = np.zeros(b.shape)
        elif b.kind in ("diagonal", "full"):
            blocks[b.name] = np.eye(b.shape[0])
        elif b.kind == "isotropic":
            blocks[b.name] = 1.0
        else:
            blocks[b.name] = max(start_var.get(b.name, 1.0), 1e-6)
    theta = lay.pack(**blocks)
    span = Span(problem.chars)
    th, _, ok = correct_at(problem, theta, p, span.fixed_subspace(), newton_tol, 100, ascent=True)
    if not ok:
        raise AnalysisError(f"could not find the collapsed point at {problem.parameter} = {p}")
    return th
