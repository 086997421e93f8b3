"""LaTeX names of the symbols statvae creates.

sympy symbols stay plain (ASCII names, so they survive symengine and
pickling); how each prints in LaTeX is registered here and applied by
:func:`statvae.latex`.
"""

from __future__ import annotations

import sympy as sp

from ..model import hyper as H
from ..model.naming import name_latex, registered_block_latex

__all__ = ["register_latex", "latex_names", "dim_symbol", "spectral_symbol", "trace_symbol", "block_latex"]

_LATEX: dict[sp.Symbol, str] = {}


def register_latex(symbol: sp.Symbol, latex: str) -> None:
    _LATEX[symbol] = latex


def latex_names(expr=None) -> dict[sp.Symbol, str]:
    """Symbol -> LaTeX map (restricted to the free symbols of ``expr`` if given)."""
    names = dict(H.latex_names())
    names.update(_LATEX)
    if expr is None:
        return names
    free = getattr(expr, "free_symbols", set())
    return {s: t for s, t in names.items() if s in free}


def _named(name: str, latex: str, **assumptions) -> sp.Symbol:
    s = sp.Symbol(name, **assumptions)
    register_latex(s, latex)
    return s


def dim_symbol(var) -> sp.Symbol:
    """Symbolic dimension of a variable (``N``, ``n``, ``N_x``, ``n_1``).

    Symbols are global by name and their LaTeX is registered by symbol, so a
    custom graph's variables (display fields filled in by default) get names
    of their own (``N_x`` rather than the presets' ``dim_x``): a preset and a
    custom model used in one session keep their notations.
    """
    if var.auto_display:
        return _named(f"{'N' if var.observed else 'n'}_{var.name}", var.dim_latex, integer=True, positive=True)
    return _named(f"dim_{var.name}", var.dim_latex, integer=True, positive=True)


def spectral_symbol(var, index) -> sp.Symbol:
    """Eigenvalue symbol of an observed variable: ``x_eig_i`` is ``xi_i^2`` (``index`` a letter or 1-based int).

    A custom variable's eigenvalues are ``xi_x_eig_i``, printed ``\\xi_{x,i}^{2}``.
    """
    if var.spectrum_latex is None:  # a custom variable: the variable names the eigenvalue
        return _named(f"xi_{var.name}_eig_{index}", f"\\xi_{{{var.latex},{index}}}^{{2}}", positive=True)
    return _named(f"{var.name}_eig_{index}", f"{var.spectrum_latex}_{{{index}}}^{{2}}", positive=True)


def trace_symbol(var) -> sp.Symbol:
    """Trace of the (residual) covariance of an observed variable."""
    name = f"trSigma_{var.name}" if var.auto_display else f"tr_{var.name}"
    return _named(name, rf"\operatorname{{tr}}{var.covariance_latex}", positive=True)


def block_latex(block: str) -> str:
    """LaTeX name of a parameter block or hyper-parameter (``D1`` -> ``D_{1}``, ``sigma2`` -> ``\\sigma'^{2}``)."""
    declared = registered_block_latex(block)
    if declared is not None:
        return declared
    if block in H.HYPER:
        return H.spec(block).latex
    if block[-1].isdigit() and len(block) > 1 and block[:-1].isalpha() and len(block) == 2:
        return f"{block[:-1]}_{{{block[-1]}}}"
    return name_latex(block)
