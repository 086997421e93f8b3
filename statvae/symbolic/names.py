"""LaTeX names of the symbols statvae creates.

sympy symbols stay plain (ASCII names, so they survive symengine and
pickling); how each prints in LaTeX is registered here and applied by
:func:`statvae.latex`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sympy as sp

from ..model import hyper as H
from ..model.naming import name_latex, registered_block_latex

if TYPE_CHECKING:
    from ..model.graph import Variable

__all__ = ["register_latex", "latex_names", "dim_symbol", "spectral_symbol", "trace_symbol", "block_latex"]

_LATEX: dict[sp.Symbol, str] = {}


def register_latex(symbol: sp.Symbol, latex: str) -> None:
    """Record how ``symbol`` prints in LaTeX (:func:`statvae.latex` applies it).

    Parameters
    ----------
    symbol : sympy.Symbol
        The symbol.
    latex : str
        Its LaTeX.
    """
    _LATEX[symbol] = latex


def latex_names(expr: Any = None) -> dict[sp.Symbol, str]:
    """Symbol -> LaTeX map (restricted to the free symbols of ``expr`` if given).

    Parameters
    ----------
    expr : sympy.Basic, optional
        Only its free symbols are mapped (None: every registered symbol).

    Returns
    -------
    dict
        LaTeX by symbol: hyper-parameters and the symbols registered here.
    """
    names = dict(H.latex_names())
    names.update(_LATEX)
    if expr is None:
        return names
    free: set[sp.Symbol] = getattr(expr, "free_symbols", set())
    return {s: t for s, t in names.items() if s in free}


def _named(name: str, latex: str, **assumptions: bool) -> sp.Symbol:
    s = sp.Symbol(name, **assumptions)
    register_latex(s, latex)
    return s


def dim_symbol(var: Variable) -> sp.Symbol:
    """Symbolic dimension of a variable (``N``, ``n``, ``N_x``, ``n_1``).

    Symbols are global by name and their LaTeX is registered by symbol, so a
    custom graph's variables (display fields filled in by default) get names
    of their own (``N_x`` rather than the presets' ``dim_x``): a preset and a
    custom model used in one session keep their notations.

    Parameters
    ----------
    var : Variable
        A variable of a validated graph.

    Returns
    -------
    sympy.Symbol
        A positive integer symbol, its LaTeX registered.
    """
    assert var.dim_latex is not None, "validation fills in dim_latex"
    if var.auto_display:
        return _named(f"{'N' if var.observed else 'n'}_{var.name}", var.dim_latex, integer=True, positive=True)
    return _named(f"dim_{var.name}", var.dim_latex, integer=True, positive=True)


def spectral_symbol(var: Variable, index: str | int) -> sp.Symbol:
    """Eigenvalue symbol of an observed variable: ``x_eig_i`` is ``xi_i^2``.

    A custom variable's eigenvalues are ``xi_x_eig_i``, printed ``\\xi_{x,i}^{2}``.

    Parameters
    ----------
    var : Variable
        An observed variable of a validated graph.
    index : str or int
        An index letter, or a 1-based position.

    Returns
    -------
    sympy.Symbol
        A positive symbol, its LaTeX registered.
    """
    if var.spectrum_latex is None:  # a custom variable: the variable names the eigenvalue
        return _named(f"xi_{var.name}_eig_{index}", f"\\xi_{{{var.latex},{index}}}^{{2}}", positive=True)
    return _named(f"{var.name}_eig_{index}", f"{var.spectrum_latex}_{{{index}}}^{{2}}", positive=True)


def trace_symbol(var: Variable) -> sp.Symbol:
    """Trace of the (residual) covariance of an observed variable.

    Parameters
    ----------
    var : Variable
        An observed variable of a validated graph.

    Returns
    -------
    sympy.Symbol
        A positive symbol, its LaTeX registered.
    """
    name = f"trSigma_{var.name}" if var.auto_display else f"tr_{var.name}"
    return _named(name, rf"\operatorname{{tr}}{var.covariance_latex}", positive=True)


def block_latex(block: str) -> str:
    """LaTeX name of a parameter block or hyper-parameter (``D1`` -> ``D_{1}``, ``sigma2`` -> ``\\sigma'^{2}``).

    Parameters
    ----------
    block : str
        A parameter block (map, encoder covariance) or hyper-parameter name.

    Returns
    -------
    str
        The LaTeX a graph declared for it, a hyper-parameter's LaTeX, or one
        derived from the name.

    Examples
    --------
    >>> block_latex("D1"), block_latex("Wx")
    ('D_{1}', 'W_{x}')
    """
    declared = registered_block_latex(block)
    if declared is not None:
        return declared
    if block in H.HYPER:
        return H.spec(block).latex
    if block[-1].isdigit() and len(block) > 1 and block[:-1].isalpha() and len(block) == 2:
        return f"{block[:-1]}_{{{block[-1]}}}"
    return name_latex(block)
