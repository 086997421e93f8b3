r"""The one LaTeX printer of statvae's expressions, and the math wrappers notebooks render.

:func:`expr_latex` is the printer :func:`statvae.latex` uses (``statvae.latex.expr_latex`` is
this function): sympy's LaTeX printer with the symbol names registered in
:mod:`statvae.symbolic.names` and :mod:`statvae.model.hyper` (``\sigma'^{2}``, ``\xi_{i}^{2}``,
``N``, ``n``).  It lives in the symbolic layer so that every result object, in this layer and the
layers above it, renders in a notebook (``_repr_latex_``) in the same notation as
:func:`statvae.latex`, without importing the output layer.

The helpers below only wrap what :func:`expr_latex` prints: numbers, words, inline math
(``$...$``) and displayed, aligned math (``$$\begin{aligned} ... \end{aligned}$$``), which
Jupyter's MathJax renders.

Examples
--------
>>> from statvae.model.hyper import symbol
>>> print(inline(expr_latex(symbol("sigma2") > 2)))
$\sigma'^{2} > 2$
>>> print(aligned([(r"\mathcal{L}", "0"), (hyper_latex("beta"), number(0.5))]))
$$\begin{aligned}
\mathcal{L} &= 0 \\
\beta &= 0.5
\end{aligned}$$
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import sympy as sp

__all__ = ["expr_latex", "hyper_latex", "critical_latex", "term_latex", "number", "text", "inline", "display",
           "aligned", "LaTeXMath", "DISPLAY_LIMIT"]

#: Longest LaTeX (characters) a ``_repr_latex_`` hands to a notebook; a longer one returns ``None`` (the notebook
#: shows the plain repr) and ``statvae.latex(obj)`` still gives the whole string.
DISPLAY_LIMIT = 20000


def expr_latex(expr: Any) -> str:
    """LaTeX of a sympy object with statvae's symbol names.

    Parameters
    ----------
    expr : sympy.Basic or sympy.MatrixBase
        The expression, relation or matrix.

    Returns
    -------
    str
        Its LaTeX, symbols printed in the paper's notation.

    Examples
    --------
    >>> from statvae.model.hyper import symbol
    >>> print(expr_latex(symbol("beta") * symbol("sigma2")))
    \\beta \\sigma'^{2}
    """
    from .names import latex_names

    names = latex_names(expr)
    return sp.latex(expr, symbol_names=names, mul_symbol=None, ln_notation=False)


def hyper_latex(name: str) -> str:
    """LaTeX of a hyper-parameter by name (as registered; derived from the name when unknown).

    Parameters
    ----------
    name : str
        The hyper-parameter (``"sigma2"``, ``"beta"``, a custom graph's name).

    Returns
    -------
    str

    Examples
    --------
    >>> hyper_latex("sigma2"), hyper_latex("beta"), hyper_latex("lengthscale")  # the last one unknown
    ("\\\\sigma'^{2}", '\\\\beta', '\\\\mathrm{lengthscale}')
    """
    from ..errors import ModelError
    from ..model import hyper as H
    from ..model.naming import name_latex

    try:
        return H.spec(name).latex
    except ModelError:
        return name_latex(name)


def critical_latex(name: str) -> str:
    r"""LaTeX of the critical value of a hyper-parameter: its symbol with a subscript ``c``.

    ``\sigma'^{2}_{c}``; a symbol that has a subscript of its own is braced first
    (``{\sigma_{x}^{2}}_{c}``: two subscripts on one symbol are an error in LaTeX and MathJax).

    Parameters
    ----------
    name : str
        The hyper-parameter.

    Returns
    -------
    str

    Examples
    --------
    >>> critical_latex("sigma2"), critical_latex("sigma2_x")
    ("\\sigma'^{2}_{c}", '{\\sigma_{x}^{2}}_{c}')
    """
    symbol = hyper_latex(name)
    depth = 0
    for c in symbol:
        depth += (c == "{") - (c == "}")
        if c == "_" and depth == 0:
            return f"{{{symbol}}}_{{c}}"
    return f"{symbol}_{{c}}"


def term_latex(name: str) -> str:
    r"""LaTeX name of a term of the objective (``"reconstruction"``, ``"kl"``, ``"kl_z1"``, ``"weight_decay"``).

    Parameters
    ----------
    name : str
        A key of :attr:`statvae.symbolic.objective.Objective.terms`.

    Returns
    -------
    str

    Examples
    --------
    >>> term_latex("reconstruction"), term_latex("kl_z1")
    ('\\mathcal{L}_{\\mathrm{rec}}', '\\mathrm{KL}_{z1}')
    """
    if name == "reconstruction":
        return r"\mathcal{L}_{\mathrm{rec}}"
    if name == "weight_decay":
        return r"\mathcal{R}"
    if name == "kl":
        return r"\mathrm{KL}"
    return rf"\mathrm{{KL}}_{{{name.split('_', 1)[1]}}}"


def number(x: Any, digits: int = 12) -> str:
    r"""LaTeX of a real number to ``digits`` significant digits (``1.5``, ``2 \cdot 10^{-8}``, ``\infty``).

    Parameters
    ----------
    x : float
        The number.
    digits : int
        Significant digits (as ``format(x, f".{digits}g")``).

    Returns
    -------
    str

    Examples
    --------
    >>> number(3.0), number(-2.5e-08), number(float("inf")), number(1 / 3, 4)
    ('3', '-2.5 \\cdot 10^{-8}', '\\infty', '0.3333')
    """
    x = float(x)
    if math.isnan(x):
        return r"\mathrm{NaN}"
    if math.isinf(x):
        return r"\infty" if x > 0 else r"-\infty"
    s = format(x, f".{digits}g")
    if "e" in s:
        mantissa, _, exponent = s.partition("e")
        return rf"{mantissa} \cdot 10^{{{int(exponent)}}}"
    return s


# Characters with a meaning in LaTeX leave text mode and print as math: MathJax reads ``\text{...}`` literally
# (no escapes inside it), LaTeX does not, and both read these the same way in math mode.
_MATH_ESCAPES = {"\\": r"\backslash", "{": r"\{", "}": r"\}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#",
                 "$": r"\$", "^": r"\wedge", "~": r"\sim"}


def text(words: str) -> str:
    r"""``\text{words}``, each character special to LaTeX printed as math between text runs.

    Parameters
    ----------
    words : str
        Plain words.

    Returns
    -------
    str

    Examples
    --------
    >>> print(text("50% of x_1"))
    \text{50}\%\text{ of x}\_\text{1}
    """
    out: list[str] = []
    run: list[str] = []
    for c in str(words):
        if c in _MATH_ESCAPES:
            if run:
                out.append(r"\text{" + "".join(run) + "}")
                run = []
            out.append(_MATH_ESCAPES[c])
        else:
            run.append(c)
    if run or not out:
        out.append(r"\text{" + "".join(run) + "}")
    return "".join(out)


def inline(body: str) -> str:
    """``$body$``: inline math, as notebooks render ``_repr_latex_``.

    Parameters
    ----------
    body : str
        LaTeX math (no dollar signs).

    Returns
    -------
    str
    """
    return f"${body}$"


def display(body: str) -> str:
    """``$$body$$``: displayed math.

    Parameters
    ----------
    body : str
        LaTeX math (no dollar signs).

    Returns
    -------
    str
    """
    return f"$${body}$$"


def aligned(rows: Iterable[Sequence[str]], relation: str = "=") -> str:
    r"""Displayed rows aligned at their relation: ``$$\begin{aligned} lhs &= rhs \\ ... \end{aligned}$$``.

    Parameters
    ----------
    rows : iterable of (str, str) or (str, str, str)
        ``(lhs, rhs)`` joined by ``relation``, or ``(lhs, relation, rhs)``.
    relation : str
        The default relation.

    Returns
    -------
    str
    """
    lines = []
    for row in rows:
        lhs, rel, rhs = (row[0], relation, row[1]) if len(row) == 2 else (row[0], row[1], row[2])
        lines.append(f"{lhs} &{rel} {rhs}")
    return display("\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}")


class LaTeXMath(str):
    """A string of LaTeX math (without dollar signs) that a notebook renders as displayed math.

    It is a ``str`` (prints, compares and saves as one); ``_repr_latex_``
    wraps it in ``$$...$$`` for Jupyter.

    Parameters
    ----------
    latex : str
        LaTeX math.

    Examples
    --------
    >>> m = LaTeXMath(r"\\beta > 1")
    >>> m == r"\\beta > 1", m._repr_latex_()
    (True, '$$\\\\beta > 1$$')
    """

    def _repr_latex_(self) -> str:
        """Displayed math for Jupyter.

        Returns
        -------
        str
            ``$$...$$`` around the LaTeX (an ``align`` environment becomes ``aligned``).
        """
        body = str(self)
        for env in ("align", "align*"):
            body = body.replace(f"\\begin{{{env}}}", "\\begin{aligned}").replace(f"\\end{{{env}}}", "\\end{aligned}")
        return display(body)
