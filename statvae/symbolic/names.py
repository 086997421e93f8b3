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


class LatexSymbol(sp.Symbol):
    """A symbol that carries its own LaTeX: equal names with different LaTeX are different symbols.

    Dimensions, traces and eigenvalues of a variable are named after the
    variable (``dim_x``, ``x_eig_i``), but how they print depends on the
    model (a preset's ``x`` has eigenvalues ``\\xi_{i}^{2}``, a custom
    graph's ``\\xi_{x,i}^{2}``).  Keeping the LaTeX in the symbol's identity
    lets both live in one session without one renaming the other.
    """

    def __new__(cls, name, latex, **assumptions):
        cls._sanitize(assumptions, cls)
        return LatexSymbol.__xnew_cached_(cls, name, latex, **assumptions)

    def __xnew__(cls, name, latex, **assumptions):
        obj = sp.Symbol.__xnew__(cls, name, **assumptions)
        obj.latex_name = latex
        return obj

    __xnew_cached_ = staticmethod(sp.core.cache.cacheit(__xnew__))

    def __getnewargs_ex__(self):
        return ((self.name, self.latex_name), self._assumptions_orig)

    def _hashable_content(self):
        return (self.name, self.latex_name) + self._assumptions0

    def _latex(self, printer):
        return self.latex_name


def _named_latex(name: str, latex: str, **assumptions) -> sp.Symbol:
    s = LatexSymbol(name, latex, **assumptions)
    register_latex(s, latex)
    return s


def dim_symbol(var) -> sp.Symbol:
    """Symbolic dimension of a variable (``N``, ``n``, ``N_x``, ``n_1``)."""
    return _named_latex(f"dim_{var.name}", var.dim_latex, integer=True, positive=True)


def spectral_symbol(var, index) -> sp.Symbol:
    """Eigenvalue symbol of an observed variable: ``xi_i^2`` (``index`` a letter or 1-based int)."""
    letter = var.spectrum_latex
    if letter is None:  # a custom variable: the variable names the eigenvalue
        return _named_latex(f"{var.name}_eig_{index}", f"\\xi_{{{var.latex},{index}}}^{{2}}", positive=True)
    return _named_latex(f"{var.name}_eig_{index}", f"{letter}_{{{index}}}^{{2}}", positive=True)


def trace_symbol(var) -> sp.Symbol:
    """Trace of the (residual) covariance of an observed variable."""
    return _named_latex(f"tr_{var.name}", rf"\operatorname{{tr}}{var.covariance_latex}", positive=True)


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
