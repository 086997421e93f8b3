"""LaTeX export of every statvae object, in the paper's notation.

``statvae.latex(obj)`` accepts sympy expressions, relations and matrices,
:class:`~statvae.symbolic.objective.Objective`, Hessian blocks, block
conditions, :class:`~statvae.analysis.collapse.CollapseAnalysis`, critical
points and plain dicts of those.  Symbols print as in the paper:
``\\sigma'^{2}`` for the decoder variance, ``\\xi_{i}^{2}`` for the data
eigenvalues, ``N`` and ``n`` for dimensions.

Examples
--------
>>> import statvae
>>> a = statvae.LinearVAE(3, 2).collapse()
>>> statvae.latex(a.criterion)
"\\\\sigma'^{2} > \\\\max_{i} \\\\xi_{i}^{2}"
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from .errors import StatvaeError
from .symbolic.names import block_latex
from .symbolic.printing import LaTeXMath, critical_latex, number

__all__ = ["latex", "expr_latex", "block_latex", "latex_math"]


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
    from .symbolic.printing import expr_latex as printer

    return printer(expr)  # the one printer (symbolic layer, so results below this layer render in notebooks too)


def _lines(pairs, align: bool, env: str = "align") -> str:
    if align:
        body = " \\\\\n".join(f"{lhs} &= {rhs}" if "=" not in lhs else f"{lhs} & {rhs}" for lhs, rhs in pairs)
        return f"\\begin{{{env}}}\n{body}\n\\end{{{env}}}"
    return ",\\quad ".join(f"{lhs} = {rhs}" for lhs, rhs in pairs)


def _objective(obj, align: bool) -> str:
    model = obj.model
    pairs = [(r"\mathcal{L}", expr_latex(obj.total))]
    if align:
        for name, term in obj.terms.items():
            pairs.append((_term_name(name, model), expr_latex(term)))
    return _lines(pairs, align)


def _term_name(name: str, model) -> str:
    from .symbolic.printing import term_latex

    return term_latex(name)


def _block(b) -> str:
    labels = ", ".join(b.labels)
    return rf"H_{{({labels})}} = {expr_latex(b.matrix)}"


def _analysis(a, align: bool) -> str:
    pairs = []
    for name, val in a.collapsed_point.items():
        pairs.append((block_latex(name), expr_latex(val)))
    for b in a.blocks:
        pairs.append((rf"H_{{({', '.join(b.labels)})}}", expr_latex(b.matrix)))
    pairs.append((r"\text{stable} \iff", expr_latex(a.criterion)))
    try:
        t = a.default_parameter()
        pairs.append((critical_latex(t), expr_latex(a.critical_expression(t))))
    except StatvaeError:
        pass
    if not align:
        return ",\\quad ".join(f"{l} {r}" if l.endswith(r"\iff") else f"{l} = {r}" for l, r in pairs)
    body = " \\\\\n".join(f"{l} & {r}" if l.endswith(r"\iff") else f"{l} &= {r}" for l, r in pairs)
    return f"\\begin{{align}}\n{body}\n\\end{{align}}"


def latex(obj: Any, align: bool = False) -> str:
    """LaTeX for a statvae object.

    Parameters
    ----------
    obj
        A sympy object, an ``Objective``, a ``HessianBlock`` or ``ModeBlock``,
        a ``BlockCondition``, a ``CollapseAnalysis``, a ``CriticalPoint``, or a
        dict mapping names to any of these.
    align : bool
        Wrap multi-line results in an ``align`` environment (one line per
        term, block, or entry).

    Returns
    -------
    str
        The LaTeX (without surrounding dollar signs).

    Raises
    ------
    StatvaeError
        For objects statvae cannot print.
    """
    from .analysis.collapse import CollapseAnalysis, CriticalPoint, HessianBlock
    from .symbolic.modes import ModeBlock
    from .symbolic.objective import Objective
    from .symbolic.stability import BlockCondition

    if isinstance(obj, Objective):
        return _objective(obj, align)
    if isinstance(obj, CollapseAnalysis):
        return _analysis(obj, align)
    if isinstance(obj, (HessianBlock, ModeBlock)):
        s = _block(obj)
        return f"\\begin{{align}}\n{s.replace(' = ', ' &= ', 1)}\n\\end{{align}}" if align else s
    if isinstance(obj, BlockCondition):
        return expr_latex(obj.as_boolean())
    if isinstance(obj, CriticalPoint):
        return rf"{critical_latex(obj.parameter)} = {number(obj.value)}"
    if isinstance(obj, dict):
        pairs = [(k if isinstance(k, str) else expr_latex(k), latex(v)) for k, v in obj.items()]
        return _lines(pairs, align)
    if isinstance(obj, (sp.Basic, sp.MatrixBase)):
        s = expr_latex(obj)
        return f"\\begin{{align}}\n{s}\n\\end{{align}}" if align else s
    if isinstance(obj, (int, float)):
        return expr_latex(sp.sympify(obj))
    raise StatvaeError(f"statvae.latex cannot print objects of type {type(obj).__name__}")


def latex_math(obj: Any, align: bool = False) -> LaTeXMath:
    """:func:`latex` of ``obj`` as a string a notebook renders (displayed math).

    :func:`latex` returns plain strings, which a notebook shows as source (to copy into a paper);
    this returns the same string as a :class:`~statvae.symbolic.printing.LaTeXMath`, a ``str``
    whose ``_repr_latex_`` Jupyter renders (an ``align`` environment as ``aligned``).

    Parameters
    ----------
    obj
        Anything :func:`latex` prints.
    align : bool
        As for :func:`latex`.

    Returns
    -------
    LaTeXMath

    Examples
    --------
    >>> import statvae
    >>> m = latex_math(statvae.LinearVAE(3, 2).collapse().criterion)
    >>> m == statvae.latex(statvae.LinearVAE(3, 2).collapse().criterion), m._repr_latex_()
    (True, "$$\\\\sigma'^{2} > \\\\max_{i} \\\\xi_{i}^{2}$$")
    """
    return LaTeXMath(latex(obj, align=align))
