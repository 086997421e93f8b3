"""Plain-text rendering of symbolic results (the CLI's ``--format text``)."""

from __future__ import annotations

import re
from typing import Any

import sympy as sp

from ..symbolic.names import latex_names

__all__ = ["text", "text_name"]


_GREEK = {"sigma": "σ", "xi": "ξ", "mu": "μ", "beta": "β", "eta": "η", "tau": "τ", "Sigma": "Σ", "pi": "π"}


def text_name(latex: str) -> str:
    """A readable name from a LaTeX name: ``\\xi_{i}^{2}`` -> ``ξ_i²``.

    Parameters
    ----------
    latex : str
        A LaTeX name (plain text is returned as it is).

    Returns
    -------
    str
        Greek letters as characters, squares as ``²``, braces dropped.

    Examples
    --------
    >>> text_name(r"\\xi_{i}^{2}")
    'ξ_i²'
    >>> text_name("beta")
    'beta'
    """
    s = latex.strip()
    if "\\" not in s and "{" not in s and "_" not in s and "^" not in s:
        return s  # plain text already
    s = s.replace(r"\left(", "(").replace(r"\right)", ")").replace(r"\mathrm", "")
    tr = s.startswith(r"\operatorname{tr}")
    s = s.replace(r"\operatorname{tr}", "")
    s = re.sub(r"\^\{\((\d)\)\}", r"\1", s)  # U^{(1)}_{ij} -> U1_{ij}
    s = s.replace("^{2}", "²")
    s = re.sub(r"\\([A-Za-z]+)", lambda m: _GREEK.get(m.group(1), m.group(1)), s)
    s = s.replace("{", "").replace("}", "").replace(" ", "")
    return f"tr({s})" if tr else s


class _Printer(sp.printing.str.StrPrinter):
    """sympy's string printer with statvae's names (``σ'²``) kept readable."""

    def _print_Pow(self, expr: Any, rational: bool = False) -> str:
        b = expr.base
        if isinstance(b, sp.Symbol) and ("²" in b.name or "'" in b.name) and expr.exp != sp.Rational(1, 2):
            return f"({b.name})**{self._print(expr.exp)}"
        return super()._print_Pow(expr, rational)

    def _print_Trace(self, expr: Any) -> str:
        return f"tr({self._print(expr.arg)})"

    def _print_Determinant(self, expr: Any) -> str:
        return f"det({self._print(expr.arg)})"

    def _print_MatrixSymbol(self, expr: Any) -> str:
        return text_name(expr.name)

    def _print_Transpose(self, expr: Any) -> str:
        return f"{self.parenthesize(expr.arg, 100)}^T"

    def _print_Identity(self, expr: Any) -> str:
        return "I"


def text(expr: Any) -> str:
    """Readable one-line text of ``expr`` with statvae's symbols renamed (``σ'²``, ``ξ_i²``).

    Parameters
    ----------
    expr : sympy expression, matrix, list or object
        What to print (a list or tuple is printed as a matrix; anything not
        symbolic with ``str``).

    Returns
    -------
    str
        One line.

    Examples
    --------
    >>> import sympy as sp
    >>> text(sp.Symbol("x") ** 2 + 1)
    'x**2 + 1'
    """
    if isinstance(expr, (list, tuple)):
        expr = sp.Matrix(expr)
    if not isinstance(expr, (sp.Basic, sp.MatrixBase)):
        return str(expr)
    names = latex_names(expr)
    sub = {s: sp.Symbol(text_name(t)) for s, t in names.items()}
    e = expr.xreplace(sub) if hasattr(expr, "xreplace") else expr
    if isinstance(e, sp.MatrixBase):
        return "[" + ", ".join("[" + ", ".join(_Printer().doprint(x) for x in row) + "]" for row in e.tolist()) + "]"
    return _Printer().doprint(e)
