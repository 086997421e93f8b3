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

import re
from typing import Any

import sympy as sp

from .errors import StatvaeError
from .symbolic.names import block_latex
from .symbolic.printing import LaTeXMath, break_lines, critical_latex, latex_width, number

__all__ = ["symmetric_matrices", "latex", "expr_latex", "block_latex", "latex_math", "latex_width", "break_lines",
           "display_latex", "display_items", "solved_condition", "document", "symbol_table", "tex_text", "TEXTWIDTH"]

#: ``\textwidth`` of LaTeX's ``article`` class at 10 pt (points): the default line width of the displays.
TEXTWIDTH = 345.0


def expr_latex(expr: Any, symmetric: Any = None) -> str:
    """LaTeX of a sympy object with statvae's symbol names, in the paper's notation.

    Powers of squared symbols as one power (``\\sigma'^{4}``), traces split over sums and a trace and its
    transpose printed once (see :func:`statvae.symbolic.printing.expr_latex`).

    Parameters
    ----------
    expr : sympy.Basic or sympy.MatrixBase
        The expression, relation or matrix.
    symmetric : iterable of sympy.MatrixSymbol or str, optional
        Matrices known to be symmetric (covariances).

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

    return printer(expr, symmetric)  # the one printer (symbolic layer: results below this layer render in notebooks)


def _lines(pairs, align: bool, env: str = "align") -> str:
    if align:
        body = " \\\\\n".join(f"{lhs} &= {rhs}" if "=" not in lhs else f"{lhs} & {rhs}" for lhs, rhs in pairs)
        return f"\\begin{{{env}}}\n{body}\n\\end{{{env}}}"
    return ",\\quad ".join(f"{lhs} = {rhs}" for lhs, rhs in pairs)


def symmetric_matrices(model: Any) -> list[str]:
    """Names of the matrices of ``model``'s matrix-form objective that are symmetric (covariances).

    Parameters
    ----------
    model : Model
        A model.

    Returns
    -------
    list of str
        The data covariance blocks of each observed variable and the encoder covariances.
    """
    g = model.graph
    obs = g.observed()
    out = [r"\Sigma" if len(obs) == 1 else rf"\Sigma_{{{v.name}{v.name}}}" for v in obs]
    out += [block_latex(z.covariance_name) for z in g.latents() if z.covariance_name]
    return out


def _objective(obj, align: bool) -> str:
    model = obj.model
    sym = symmetric_matrices(model)
    pairs = [(r"\mathcal{L}", expr_latex(obj.total, sym))]
    if align:
        for name, term in obj.terms.items():
            pairs.append((_term_name(name, model), expr_latex(term, sym)))
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


def display_latex(lhs: str, rhs: Any, relation: str = "=", *, width: float = TEXTWIDTH, label: str | None = None,
                  note: str = "", symmetric: Any = None) -> str:
    r"""A displayed formula ``lhs relation rhs`` that fits ``width`` points: one line, or broken over lines.

    A formula that fits (by :func:`latex_width`) is one line: ``\[ ... \]``, or ``equation`` with
    ``\label`` when ``label`` is given (only a formula the text refers to is numbered).  A longer one is
    broken by :func:`break_lines` at top-level ``+``/``-`` (and ``\wedge``) in ``align*`` (``align`` with
    one number, on the last line, when labelled): aligned at the relation when the left-hand side is short,
    under it otherwise; room for the number is kept, and with ``\allowdisplaybreaks`` a formula longer than
    a page continues on the next.  A matrix too wide for a line is displayed entry by entry.  It needs
    amsmath.

    Parameters
    ----------
    lhs : str
        LaTeX of the left-hand side (may be empty).
    rhs : sympy.Basic or str
        The right-hand side; a string is set as given (never broken).
    relation : str
        LaTeX of the relation (``=``, ``\iff``, ``>``).
    width : float
        Points available (``\textwidth``; default :data:`TEXTWIDTH`).
    label : str, optional
        Number the formula and label it.
    note : str, optional
        Words set after the formula (``\quad\text{note}``).
    symmetric : iterable, optional
        Symmetric matrices, as for :func:`expr_latex`.

    Returns
    -------
    str
        The LaTeX of the display (environment included).

    Examples
    --------
    >>> import statvae
    >>> print(display_latex(r"\sigma'^{2}_{c}", statvae.LinearVAE(3, 2).collapse().critical_expression()))
    \[
    \sigma'^{2}_{c} = \max_{i} \xi_{i}^{2}
    \]
    >>> obj = statvae.LinearVAE(3, 2).objective(form="matrix")
    >>> tex = display_latex(r"\mathcal{L}", obj.total, width=200)
    >>> tex.splitlines()[0], tex.count(r"\\") + 1 > 2
    ('\\begin{align*}', True)
    """
    tag = 22.0 if label else 0.0
    head = f"{lhs} {relation} " if lhs else ""
    tail = rf"\quad\text{{{note}}}" if note else ""
    whole = head + (rhs if isinstance(rhs, str) else expr_latex(rhs, symmetric)) + tail
    star = "" if label else "*"
    lab = rf"\label{{{label}}}" if label else ""
    if isinstance(rhs, str) or latex_width(whole) <= width - tag:
        if label:
            return "\n".join([r"\begin{equation}" + lab, whole, r"\end{equation}"])
        return "\n".join([r"\[", whole, r"\]"])
    if isinstance(rhs, sp.MatrixBase) and rhs.shape != (1, 1):  # too wide: entry by entry
        return _matrix_entries(lhs, rhs, relation, width, label, note, symmetric)
    width -= 3.0  # the estimate's own margin: a line TeX sets a little wider than estimated still fits
    wl = latex_width(head)
    wt = latex_width(tail)
    short = wl <= 0.3 * width
    if short:  # aligned at the relation; continuation lines indented by a quad
        budget = width - tag - wl - 10.0
        lines = break_lines(rhs, budget, first=-10.0, symmetric=symmetric)
        rows = [f"{lhs} &{relation} {lines[0]}" if lhs else f"&{lines[0]}"]
    else:  # a long left-hand side: the lines start under it, a quad in
        budget = width - tag - 10.0
        lines = break_lines(rhs, budget, first=wl - 10.0, symmetric=symmetric)
        rows = [f"&{head}{lines[0]}"]
    rows += [rf"&\quad {{}} {ln}" if ln[:1] in "+-" else rf"&\quad {ln}" for ln in lines[1:]]
    if tail:
        if latex_width(lines[-1]) + wt <= budget:
            rows[-1] += " " + tail
        else:
            rows.append(rf"&\quad {tail}")
    if label:  # one number, on the last line
        rows = [r + r" \notag" for r in rows[:-1]] + [rows[-1] + lab]
    # align, not split or multline: with \allowdisplaybreaks a long formula may continue on the next page
    return "\n".join([rf"\begin{{align{star}}}", " \\\\\n".join(rows), rf"\end{{align{star}}}"])


def _matrix_entries(lhs: str, m: Any, relation: str, width: float, label: str | None, note: str,
                    symmetric: Any) -> str:
    """A matrix too wide for a line, one display per entry (the upper triangle of a symmetric one)."""
    name = lhs if lhs else "M"
    base = rf"\left({name}\right)" if "_" in name or "^" in name else name
    sym = m.is_square and m == m.T
    out: list[str] = []
    for a in range(m.rows):
        for b in range(a if sym else 0, m.cols):
            first = not out
            out.append(display_latex(f"{base}_{{{a + 1}{b + 1}}}", m[a, b], relation, width=width,
                                     label=label if first else None, note=note if first else "",
                                     symmetric=symmetric))
    return "\n".join(out)


def display_items(items: Any, width: float = TEXTWIDTH, sep: str = r",\quad ") -> str:
    r"""Short formulas displayed side by side, as many on a line as fit ``width`` points (``gather*``).

    Parameters
    ----------
    items : iterable of str
        LaTeX of each formula (``W = 0``).
    width : float
        Points available.
    sep : str
        LaTeX between two formulas on one line.

    Returns
    -------
    str
        ``\[ ... \]`` for one line, ``gather*`` for several.

    Examples
    --------
    >>> print(display_items(["W = 0", "V = 0"]))
    \[
    W = 0,\quad V = 0
    \]
    """
    rows: list[str] = []
    for item in items:
        if rows and latex_width(rows[-1] + sep + item) <= width:
            rows[-1] += sep + item
        else:
            rows.append(item)
    if len(rows) <= 1:
        return "\n".join([r"\[", rows[0] if rows else "", r"\]"])
    end = "," if sep.lstrip().startswith(",") else ""  # a line ends with the separator's punctuation
    return "\n".join([r"\begin{gather*}", f"{end} \\\\\n".join(rows), r"\end{gather*}"])


def _solve_one(rel: Any, p: Any) -> Any:
    """``rel`` (a relation, maybe ``x > max_i f_i``) solved for ``p``, or None."""
    import random

    from .symbolic.stability import MaxOver, MinOver, solve_relational

    if not isinstance(rel, sp.core.relational.Relational) or p not in rel.free_symbols:
        return None
    if rel.lhs == p and p not in rel.rhs.free_symbols:
        return rel
    idx = None
    lhs, rhs = rel.lhs, rel.rhs
    for side in ("lhs", "rhs"):  # a maximum (minimum) over modes: the relation holds mode by mode
        e = getattr(rel, side)
        if isinstance(e, MaxOver):
            if side == "lhs":
                lhs = e.args[0]
            else:
                rhs = e.args[0]
            idx = e.args[1]
    inner = rel.func(lhs, rhs)
    if inner in (sp.true, sp.false):
        return None
    spectral = {x for x in inner.free_symbols if "_eig_" in x.name}
    if idx is None and spectral:  # an unquantified condition holds for every mode index
        if len(spectral) != 1:
            return None
        idx = sp.Symbol(next(iter(spectral)).name.split("_eig_")[1])
    solved = solve_relational(inner, p)
    if solved is inner or solved.lhs != p:
        f = sp.together(inner.lhs - inner.rhs)
        num, den = sp.fraction(f)
        try:
            roots = sp.solve(num, p)
        except NotImplementedError:
            return None
        rng = random.Random(1)
        others = sorted(f.free_symbols - {p}, key=str)
        samples = [{s: sp.Rational(rng.randint(2, 60), 13) for s in others} for _ in range(4)]
        good = []
        for r in roots:
            try:
                vals = [complex(r.xreplace(smp).evalf()) for smp in samples]
            except (TypeError, ValueError):
                return None
            if all(abs(v.imag) < 1e-12 and v.real > 0 for v in vals):
                good.append(r)
        if len(good) != 1:
            return None
        root = sp.factor(sp.simplify(good[0]))
        above = set()
        for smp in samples:  # which side of the root the relation holds on, the same at every sample
            try:
                r0 = float(root.xreplace(smp))
                hi = bool(inner.xreplace({**smp, p: sp.Float(r0 * 1.25, 30)}))
                lo = bool(inner.xreplace({**smp, p: sp.Float(r0 * 0.8, 30)}))
            except (TypeError, ValueError):  # a symbol left over, or no real value: no closed form claimed
                return None
            if hi == lo:
                return None
            above.add(hi)
        if len(above) != 1:
            return None
        strict = isinstance(inner, (sp.StrictGreaterThan, sp.StrictLessThan))
        if above.pop():
            solved = sp.Gt(p, root) if strict else sp.Ge(p, root)
        else:
            solved = sp.Lt(p, root) if strict else sp.Le(p, root)
    if idx is None:
        return solved
    if isinstance(solved, (sp.StrictGreaterThan, sp.GreaterThan)):
        return solved.func(p, MaxOver(solved.rhs, idx))
    return solved.func(p, MinOver(solved.rhs, idx))


def solved_condition(condition: Any, parameter: str) -> Any:
    r"""A stability condition solved for one hyper-parameter where a closed form exists.

    ``\beta > \max_i f_i(\sigma'^2)`` becomes ``\sigma'^2 > \max_i g_i`` (``\min`` for an upper
    bound): each relation of the condition that involves the parameter is solved for it mode by mode
    (linear: exactly; otherwise the one positive root of the boundary, the side taken from the relation at
    points on both sides of it, the same at every sample).  Given a
    :class:`~statvae.analysis.collapse.CollapseAnalysis`, its :meth:`criterion_for` is solved and the
    bound is checked against its ``critical_expression``: they must be equal at random points.  A relation
    without a closed form is left as it was; relations that do not involve the parameter are kept.

    Parameters
    ----------
    condition : sympy.Basic or CollapseAnalysis
        A relation, a conjunction of relations (maybe wrapped in ``Given``), or an analysis.
    parameter : str
        The hyper-parameter (``"sigma2"``).

    Returns
    -------
    sympy.Basic
        The same condition, solved where possible.

    Raises
    ------
    AnalysisError
        If the bound solved from an analysis' condition differs from its critical expression.

    Examples
    --------
    >>> import statvae
    >>> a = statvae.LinearVAE(3, 2, beta=None, weight_decay_dec=None).collapse()
    >>> print(latex(a.criterion_for("beta")))
    \beta > \max_{i} \frac{\xi_{i}^{2}}{\sigma'^{2} \left(\sigma'^{2} \eta_{d} + 1\right)}
    >>> print(latex(solved_condition(a, "sigma2")))
    \sigma'^{2} > \max_{i} \frac{\sqrt{\beta + 4 \eta_{d} \xi_{i}^{2}} - \sqrt{\beta}}{2 \sqrt{\beta} \eta_{d}}
    """
    from .analysis.collapse import CollapseAnalysis
    from .errors import AnalysisError
    from .model import hyper as H
    from .symbolic.stability import Given

    analysis = condition if isinstance(condition, CollapseAnalysis) else None
    if analysis is not None:
        condition = analysis.criterion_for(parameter)
    p = H.symbol(parameter)
    given = None
    if isinstance(condition, Given):
        condition, given = condition.args
    rels = list(condition.args) if isinstance(condition, sp.And) else [condition]
    out = []
    for r in rels:
        s = _solve_one(r, p)
        out.append(r if s is None else s)
    result = sp.And(*out) if len(out) > 1 else out[0]
    if analysis is not None:
        try:
            crit = analysis.critical_expression(parameter)
        except StatvaeError:
            crit = None
        bounds = [r.rhs for r in out if isinstance(r, sp.core.relational.Relational) and r.lhs == p]
        if crit is not None and len(bounds) == 1 and not _same(bounds[0], crit):
            raise AnalysisError(f"the condition solved for {parameter} disagrees with its critical expression")
    return Given(result, given) if given is not None else result


def _same(a: Any, b: Any) -> bool:
    import random

    from .symbolic.stability import MaxOver

    if type(a) is not type(b):  # a maximum against a minimum or a bare bound
        return False
    strip = lambda e: e.args[0] if isinstance(e, MaxOver) else e
    a, b = strip(a), strip(b)
    rng = random.Random(2)
    free = sorted(a.free_symbols | b.free_symbols, key=str)
    for _ in range(4):
        pt = {s: sp.Rational(rng.randint(2, 60), 13) for s in free}
        va, vb = complex(a.xreplace(pt).evalf(30)), complex(b.xreplace(pt).evalf(30))
        if abs(va - vb) > 1e-12 * max(1.0, abs(vb)):
            return False
    return True


_PREAMBLE = [r"\documentclass[10pt]{article}", r"\usepackage[T1]{fontenc}", r"\usepackage{amsmath,amssymb}",
             r"\usepackage{longtable}", r"\allowdisplaybreaks"]


def tex_text(words: str) -> str:
    r"""Plain words for LaTeX text mode: the characters special to LaTeX escaped.

    Parameters
    ----------
    words : str
        Plain words.

    Returns
    -------
    str

    Examples
    --------
    >>> print(tex_text("50% of x_1 & y"))
    50\% of x\_1 \& y
    """
    out = []
    for c in str(words):
        if c in "&%$#_{}":
            out.append("\\" + c)
        elif c == "~":
            out.append(r"\textasciitilde{}")
        elif c == "^":
            out.append(r"\textasciicircum{}")
        elif c == "\\":
            out.append(r"\textbackslash{}")
        else:
            out.append(c)
    return "".join(out)


def symbol_table(rows: Any, width: float = TEXTWIDTH) -> str:
    r"""A table of symbols: a ``longtable`` (it continues on the next page) as wide as the text, the symbol
    (math) in a column as wide as the widest one and its meaning (text, wrapped) in the rest.

    Parameters
    ----------
    rows : iterable of (str, str)
        ``(LaTeX math of the symbol, meaning in LaTeX text)``.
    width : float
        ``\textwidth`` in points.

    Returns
    -------
    str
        The table (package longtable).

    Examples
    --------
    >>> print(symbol_table([(r"\beta", "weight of the KL term")]))
    \begin{longtable}{@{}l p{299.3pt}@{}}
    symbol & meaning \\ \hline
    \endhead
    $\beta$ & weight of the KL term \\
    \end{longtable}
    """
    rows = list(rows)
    first = max([latex_width(sym, display_style=False) for sym, _ in rows] + [latex_width(r"\text{symbol}")])
    meaning = max(width - first - 12.0 - 3.0, 0.3 * width)  # the column gap, and the estimate's margin
    out = [rf"\begin{{longtable}}{{@{{}}l p{{{meaning:.1f}pt}}@{{}}}}", r"symbol & meaning \\ \hline", r"\endhead"]
    out += [f"${sym}$ & {text} \\\\" for sym, text in rows]
    out.append(r"\end{longtable}")
    return "\n".join(out)


def _entries(block: str) -> str:
    """How the Hessian blocks name the entries of ``block``, when not by its own symbol."""
    from .symbolic.parameters import entry_latex_base

    base = entry_latex_base(block)
    return "" if base == block_latex(block) else f"; its entries are ${base}_{{ij}}$ in the Hessian blocks"


def _model_symbols(model: Any, exprs: list[Any]) -> list[tuple[str, str]]:
    from .model import hyper as H
    from .symbolic.names import dim_symbol, latex_names, spectral_symbol

    g = model.graph
    rows: list[tuple[str, str]] = []
    obs = g.observed()
    for v in g.variables():
        d = latex_names(dim_symbol(v)).get(dim_symbol(v), v.dim_latex or "")
        kind = "observed variable" if v.observed else "latent variable"
        rows.append((rf"{v.latex} \in \mathbb{{R}}^{{{d}}}", f"{kind} {tex_text(v.name)} and its dimension"))
    for v in obs:
        cov = r"\Sigma" if len(obs) == 1 else (v.covariance_latex or rf"\Sigma_{{{v.name}{v.name}}}")
        eig = latex_names(spectral_symbol(v, "i"))[spectral_symbol(v, "i")]
        rows.append((cov, f"covariance of the centred data {tex_text(v.name)}"))
        rows.append((eig, f"eigenvalues of ${cov}$ (largest first)"))
    if len(obs) > 1:
        rows.append((r"\Sigma_{ab}", "cross-covariance of observed variables $a$ and $b$"))
    for m in g.maps():
        role = "decoder" if m.role == "generative" else "encoder"
        rows.append((block_latex(m.name), f"{role} weight from {tex_text(m.source)} to {tex_text(m.target)} "
                                          f"(map {tex_text(m.name)})" + _entries(m.name)))
    for z in g.latents():
        if z.covariance_name:
            rows.append((block_latex(z.covariance_name), f"encoder covariance of {tex_text(z.name)}"
                         + _entries(z.covariance_name)))
    free: set[Any] = set()
    for e in exprs:
        free |= getattr(e, "free_symbols", set())
    for name in model.values:
        try:
            spec = H.spec(name)
        except StatvaeError:
            continue
        if H.symbol(name) in free:  # the description without its ASCII spelling of the symbol beside it
            words = re.sub(r" (sigma'\^2|beta|d0)(?=$| \()", "", spec.description)
            rows.append((spec.latex, tex_text(words)))
    rows.append((r"\mathcal{L}", "the objective (ELBO), maximised"))
    rows.append((r"\operatorname{tr}, \left|\cdot\right|", "trace and determinant"))
    return rows


def document(model: Any, parameter: str | None = None, *, title: str | None = None,
             width: float = TEXTWIDTH) -> str:
    r"""A complete LaTeX document of ``model``'s symbolic results, ready for pdflatex.

    The article class with amsmath and amssymb; sections for the model and its symbols (a table
    of every symbol used), the objective (matrix form, symbolic sizes), the collapsed point, the Hessian
    blocks at collapse, and the stability condition solved for ``parameter`` (:func:`solved_condition`)
    with the critical value.  Long formulas are broken to ``width`` (:func:`display_latex`); only the
    formulas the text refers to are numbered.

    Parameters
    ----------
    model : VAEModel or Model
        The model.
    parameter : str, optional
        The hyper-parameter of the condition and the critical value (default: the analysis' default one).
    title : str, optional
        The document's title.
    width : float
        ``\textwidth`` in points (the article class at 10 pt: :data:`TEXTWIDTH`; another value is set in the
        preamble).

    Returns
    -------
    str
        The ``.tex`` source.

    Raises
    ------
    StatvaeError
        For a parameter that is not a hyper-parameter of the model.

    Examples
    --------
    >>> import statvae
    >>> tex = document(statvae.LinearVAE(3, 2))
    >>> tex.startswith(r"\documentclass"), r"\usepackage{amsmath,amssymb}" in tex, tex.count(r"\label{")
    (True, True, 2)
    """
    from .analysis.collapse import analyse_collapse
    from .symbolic.objective import build_objective
    from .symbolic.printing import term_latex

    analysis = analyse_collapse(model)
    obj = build_objective(model, form="matrix")
    sym = symmetric_matrices(model)
    name = None
    critical = None
    note = ""
    try:
        name = parameter or analysis.default_parameter()
        free = model.with_values(**{name: None}) if model.values[name].is_number else model
        fa = analyse_collapse(free) if free is not model else analysis
        critical = fa.critical_expression(name)
        condition = solved_condition(fa, name)
    except StatvaeError as exc:
        if parameter:
            raise
        condition = analysis.criterion
        note = str(exc)
    exprs = [obj.total, condition] + [b.matrix for b in analysis.blocks] + ([critical] if critical is not None
                                                                           else [])
    kind = "" if model.kind in ("linear", "custom") else f"{model.kind} "
    title = title or f"Posterior collapse in a {kind}linear VAE"
    size = [] if width == TEXTWIDTH else [rf"\setlength{{\textwidth}}{{{width:g}pt}}"]
    out = list(_PREAMBLE) + size + [rf"\title{{{tex_text(title)}}}", r"\author{statvae}", r"\date{}",
                             r"\begin{document}", r"\sloppy", r"\maketitle", ""]
    out += [r"\section{Model and symbols}", "",
            "Hyper-parameters: " + ", ".join(_hyper_text(k, v) for k, v in model.values.items()) + ".",
            "", symbol_table(_model_symbols(model, exprs), width), ""]
    out += [r"\section{Objective}", "",
            "For symbolic sizes, in matrix form, with centred data and optimal biases:", "",
            display_latex(r"\mathcal{L}", obj.total, width=width, symmetric=sym), ""]
    if len(obj.terms) > 1:
        out += ["Its terms:", ""]
        for k, t in obj.terms.items():
            if t != 0:
                out += [display_latex(term_latex(k), t, width=width, symmetric=sym), ""]
    out += [r"\section{The collapsed point and its Hessian}", "", "The collapsed point:", ""]
    out += [display_items([f"{block_latex(k)} = {expr_latex(v)}" for k, v in analysis.collapsed_point.items()],
                          width), ""]
    out += ["At the collapsed point the Hessian splits into independent blocks, one per mode:", ""]
    for b in analysis.blocks:
        lhs = rf"H_{{({', '.join(b.labels)})}}"
        out += [display_latex(lhs, b.matrix, width=width, note=f"({_copies_text(b.multiplicity)})"), ""]
    out += [r"\section{Stability of collapse}", ""]
    if critical is not None and name is not None:
        out += [r"Collapse is a local maximum of $\mathcal{L}$ if and only if \eqref{eq:condition} holds, "
                r"so that the critical value is \eqref{eq:critical}:", "",
                display_latex("", condition, width=width, label="eq:condition"), "",
                display_latex(critical_latex(name), critical, width=width, label="eq:critical"), ""]
    else:
        out += [r"Collapse is a local maximum of $\mathcal{L}$ if and only if", "",
                display_latex("", condition, width=width), ""]
        if note:
            out += [tex_text(f"No closed-form critical value: {note}."), ""]
    out += [r"\end{document}", ""]
    return "\n".join(out)


def _hyper_text(name: str, value: Any) -> str:
    from .symbolic.printing import hyper_latex

    if isinstance(value, sp.Basic) and not value.is_number:
        return f"${hyper_latex(name)}$ free"
    return f"${hyper_latex(name)} = {expr_latex(sp.sympify(value))}$"


def _copies_text(multiplicity: Any) -> str:
    return rf"$\times {expr_latex(multiplicity)}$"
