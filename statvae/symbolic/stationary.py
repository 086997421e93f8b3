"""Finding the collapsed point: solve the reduced stationary equations.

The collapsed point is the fixed point of the latent sign flips
``z_j -> -z_j``: every parameter that is odd under some flip (maps into or
out of a latent, off-diagonal encoder covariances) is zero there.  The
remaining parameters (encoder variances, learned decoder variances, maps
between observed variables) are *solved for* from their stationary
equations, component by component (networkx finds which equations share
unknowns), and the full gradient is then checked to vanish.
"""

from __future__ import annotations

from collections.abc import Collection

import networkx as nx
import sympy as sp

from ..errors import AnalysisError

__all__ = ["solve_stationary", "verify_stationary"]


def solve_stationary(grad: dict[sp.Symbol, sp.Expr], unknowns: list[sp.Symbol],
                     fixed: dict[sp.Symbol, sp.Expr]) -> dict[sp.Symbol, sp.Expr]:
    """Solve ``grad[u] == 0`` for ``unknowns`` with ``fixed`` substituted.

    Parameters
    ----------
    grad : dict
        Symbol -> derivative of the objective with respect to it.
    unknowns : list of sympy.Symbol
        Parameters to solve for.
    fixed : dict
        Values of the other parameters (the zero parameters).

    Returns
    -------
    dict
        ``{symbol: value}`` for every unknown.

    Raises
    ------
    AnalysisError
        If some component has no admissible solution or more than one.
    """
    eqs = {u: sp.together(grad[u].xreplace(fixed)) for u in unknowns}
    g = nx.Graph()
    g.add_nodes_from(unknowns)
    for u, e in eqs.items():
        for v in e.free_symbols & set(unknowns):
            g.add_edge(u, v)
    solution: dict[sp.Symbol, sp.Expr] = {}
    for comp in nx.connected_components(g):
        comp = sorted(comp, key=lambda s: unknowns.index(s))
        system = [sp.numer(eqs[u]) for u in comp]
        system = [e for e in system if e != 0]
        if not system:
            raise AnalysisError(f"the objective does not depend on {', '.join(map(str, comp))} at the collapsed point")
        sols = sp.solve(system, comp, dict=True)
        admissible = [s for s in sols if _admissible(s, comp)]
        if len(admissible) != 1:
            raise AnalysisError(
                f"could not determine the collapsed value of {', '.join(map(str, comp))}: "
                f"{len(admissible)} admissible solutions of the stationary equations"
            )
        solution.update({k: sp.simplify(v) for k, v in admissible[0].items()})
    return solution


def _admissible(sol: dict[sp.Symbol, sp.Expr], unknowns: list[sp.Symbol]) -> bool:
    if set(sol) != set(unknowns):
        return False
    for k, v in sol.items():
        if v.has(sp.I) or v.is_real is False:
            return False
        if k.is_positive and v.is_positive is False:
            return False
        if k.is_positive and v.is_nonpositive:
            return False
    return True


def verify_stationary(grad: dict[sp.Symbol, sp.Expr], point: dict[sp.Symbol, sp.Expr],
                      skip: Collection[sp.Symbol] = (), tol: float = 1e-9) -> None:
    """Check that every gradient component vanishes at ``point``.

    Parameters
    ----------
    grad : dict
        Symbol -> derivative of the objective with respect to it.
    point : dict
        Values of the parameters.
    skip : collection of sympy.Symbol, optional
        Components not checked.
    tol : float, optional
        Tolerance on a component that evaluates to a floating-point number
        (numeric data); symbolic components must simplify to exactly 0.

    Raises
    ------
    AnalysisError
        If a component does not vanish.
    """
    for s, d in grad.items():
        if s in skip:
            continue
        r = sp.simplify(d.xreplace(point))
        if r.is_number and r.has(sp.Float) and abs(complex(r)) <= tol:
            continue  # numeric data: round-off only
        if r != 0:
            raise AnalysisError(f"the collapsed point is not stationary: dL/d{s} = {r}")
