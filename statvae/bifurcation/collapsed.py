"""The collapsed point of a continuation problem: latent maps zero, everything else at its maximum."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AnalysisError
from .continuation import correct_at
from .symmetry import Span

if TYPE_CHECKING:
    from .problem import ContinuationProblem

__all__ = ["collapsed_start"]


def collapsed_start(problem: ContinuationProblem, p: float, newton_tol: float = 1e-11,
                    theta0: np.ndarray | None = None) -> np.ndarray:
    """The collapsed point at ``p``: latent maps zero, the rest solved by damped Newton.

    ``theta0``: a starting point (the collapsed point at a nearby parameter
    value); by default encoder covariances start at the identity and learned
    variances at the mean variance of their variable.

    Parameters
    ----------
    problem : ContinuationProblem
        The problem.
    p : float
        The parameter (internal units).
    newton_tol : float
        Convergence tolerance of Newton's method.
    theta0 : numpy.ndarray, optional
        A starting point, tried first.

    Returns
    -------
    numpy.ndarray
        The collapsed point (internal units).

    Raises
    ------
    AnalysisError
        Newton's method did not converge to the collapsed point.
    """
    span = Span(problem.chars)
    if theta0 is not None:
        th, _, ok = correct_at(problem, theta0, p, span.fixed_subspace(), newton_tol, 100, ascent=True)
        if ok:
            return th
    lay = problem.layout
    g = problem.model.graph
    blocks: dict[str, Any] = {}
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
    fixed = span.fixed_subspace()
    theta = _settle_variances(problem, theta, p, fixed, newton_tol)
    th, _, ok = correct_at(problem, theta, p, fixed, newton_tol, 100, ascent=True)
    if not ok:
        raise AnalysisError(f"could not find the collapsed point at {problem.parameter} = {p}")
    return th


def _settle_variances(problem, theta, p, fixed, newton_tol, rounds: int = 6) -> np.ndarray:
    """Bring learned noise variances to their optimum before the joint Newton solve.

    ``L(s) = -d/2 log s - R/(2 s) + ...`` is not concave in a learned
    variance ``s`` above ``2 R / d``, where Newton's method crawls.  Its
    optimum given everything else is exact: ``s* = R / d = s + 2 s^2 dL/ds / d``.
    So the other collapsed parameters are solved with the variances held,
    the variances are set to their optimum, and this is repeated until they
    settle.
    """
    g = problem.model.graph
    lay = problem.layout
    idx, dims = [], []
    for v in g.variables():
        if v.variance == "learned":
            idx.append(lay.by_name[g.learned_variance_name(v.name)].offset)
            dims.append(v.dim)
    if not idx:
        return theta
    rest = np.array([i for i in fixed if i not in idx], dtype=int)
    theta = np.array(theta, dtype=float)
    for _ in range(rounds):
        if len(rest):
            th, _, _ = correct_at(problem, theta, p, rest, newton_tol, 50, ascent=True)
            theta = th
        grad = problem.gradient(theta, p)
        change = 0.0
        for k, d in zip(idx, dims):
            s = theta[k]
            new = s + 2 * s * s * grad[k] / d
            new = new if np.isfinite(new) and new > 1e-12 * s else s / 10
            change = max(change, abs(new - s) / s)
            theta[k] = new
        if change < 1e-6:
            break
    return theta
