"""Plain-text rendering of symbolic results (the CLI's ``--format text``)."""

from __future__ import annotations

from typing import Any

import sympy as sp

from ..symbolic.names import latex_names
from .names import text_name

__all__ = ["text", "text_name"]


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
