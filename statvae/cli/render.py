"""Plain-text rendering of symbolic results (the CLI's ``--format text``)."""

from __future__ import annotations

import re

import sympy as sp

from ..symbolic.names import latex_names

__all__ = ["text", "text_name"]



_GREEK = {"sigma": "σ", "xi": "ξ", "mu": "μ", "beta": "β", "eta": "η", "tau": "τ", "Sigma": "Σ", "pi": "π"}


def text_name(latex: str) -> str:
    """A readable name from a LaTeX name: ``\\xi_{i}^{2}`` -> ``ξ_i²``."""
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
    def _print_Pow(self, expr, rational=False):
        b = expr.base
        if isinstance(b, sp.Symbol) and ("²" in b.name or "'" in b.name) and expr.exp != sp.Rational(1, 2):
            return f"({b.name})**{self._print(expr.exp)}"
        return super()._print_Pow(expr, rational)

    def _print_Trace(self, expr):
        return f"tr({self._print(expr.arg)})"

    def _print_Determinant(self, expr):
        return f"det({self._print(expr.arg)})"

    def _print_MatrixSymbol(self, expr):
        return text_name(expr.name)

    def _print_Transpose(self, expr):
        return f"{self.parenthesize(expr.arg, 100)}^T"

    def _print_Identity(self, expr):
        return "I"


def text(expr) -> str:
    """Readable one-line text of ``expr`` with statvae's symbols renamed (``σ'²``, ``ξ_i²``)."""
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
