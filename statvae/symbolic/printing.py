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
from sympy.printing.latex import LatexPrinter

__all__ = ["expr_latex", "paper_form", "latex_width", "break_lines",
           "hyper_latex", "critical_latex", "term_latex", "number", "text", "inline", "display",
           "aligned", "LaTeXMath", "DISPLAY_LIMIT"]

#: Longest LaTeX (characters) a ``_repr_latex_`` hands to a notebook; a longer one returns ``None`` (the notebook
#: shows the plain repr) and ``statvae.latex(obj)`` still gives the whole string.
DISPLAY_LIMIT = 20000


def expr_latex(expr: Any, symmetric: Iterable[Any] | None = None) -> str:
    r"""LaTeX of a sympy object with statvae's symbol names, in the paper's notation.

    Besides the names (:mod:`statvae.symbolic.names`), the print follows the paper: a power of a
    squared symbol is one power (``\sigma'^{4}``, not ``(\sigma'^{2})^{2}``; ``\xi_{i}`` for the
    square root of ``\xi_{i}^{2}``), traces are split over sums and a trace equal to another one by
    transposition or cyclic order is printed once with the summed coefficient
    (``tr(A) + tr(A^T) -> 2 tr(A)``; :func:`paper_form`), and a sum inside a product, a fraction or
    a maximum starts with a positive term where it has one (``\frac{\xi_{i}^{4} - a}{b}`` rather
    than ``- \frac{a - \xi_{i}^{4}}{b}``).  The value printed is the value of ``expr``.

    Parameters
    ----------
    expr : sympy.Basic or sympy.MatrixBase
        The expression, relation or matrix.
    symmetric : iterable of sympy.MatrixSymbol or str, optional
        Matrices known to be symmetric (covariances), by symbol or name: ``S^T`` is ``S`` in the
        comparison of traces.  Default: none (transposes are compared as written).

    Returns
    -------
    str
        Its LaTeX, symbols printed in the paper's notation.

    Examples
    --------
    >>> from statvae.model.hyper import symbol
    >>> print(expr_latex(symbol("beta") * symbol("sigma2")))
    \beta \sigma'^{2}
    """
    from .names import latex_names

    expr = paper_form(expr, symmetric)
    names = latex_names(expr)
    return _PaperPrinter(dict(symbol_names=names, mul_symbol=None, ln_notation=False)).doprint(expr)


class _PaperPrinter(LatexPrinter):
    """sympy's LaTeX printer with the paper's powers and sign order (see :func:`expr_latex`)."""

    def doprint(self, expr: Any) -> str:
        self._root = expr
        return super().doprint(expr)

    def _squared_stem(self, base: Any) -> str | None:
        if not isinstance(base, sp.Symbol):
            return None
        name = self._settings["symbol_names"].get(base) or str(self._print(base))
        if not name.endswith("^{2}"):
            return None
        stem = name[:-4]
        depth = 0
        for c in stem:  # the ^{2} must be the symbol's own top-level superscript
            depth += (c == "{") - (c == "}")
            if depth < 0:
                return None
        return stem if depth == 0 and stem else None

    def _print_Pow(self, expr: Any) -> str:
        stem = self._squared_stem(expr.base)
        e = expr.exp
        if stem is not None and e.is_Rational and e.is_positive and (2 * e).is_Integer:
            k = int(2 * e)
            return stem if k == 1 else f"{stem}^{{{k}}}"
        return str(super()._print_Pow(expr))

    def _print_Add(self, expr: Any, order: Any = None) -> str:
        terms = list(self._as_ordered_terms(expr, order=order))
        root = getattr(self, "_root", None)
        top = expr is root or (isinstance(root, sp.core.relational.Relational) and expr in (root.lhs, root.rhs))
        if (not top or len(terms) <= 3) and terms and terms[0].could_extract_minus_sign():
            for k, t in enumerate(terms):  # a sum starts with a positive term where it has one
                if not t.could_extract_minus_sign():
                    terms = [t] + terms[:k] + terms[k + 1:]
                    break
        tex = ""
        for i, term in enumerate(terms):
            if i > 0:
                if term.could_extract_minus_sign():
                    tex += " - "
                    term = -term
                else:
                    tex += " + "
            term_tex = self._print(term)
            if self._needs_add_brackets(term):
                term_tex = r"\left(" + term_tex + r"\right)"
            tex += term_tex
        return tex


def _is(e: Any, name: str) -> bool:
    """``e`` is an instance of the display class ``name`` of :mod:`statvae.symbolic.stability` (``MaxOver``,
    ``MinOver``, a subclass of it, or ``Given``), checked by name: that module imports this one."""
    return any(c.__name__ == name for c in type(e).__mro__)


def _is_symmetric(m: Any, symmetric: set[str]) -> bool:
    return isinstance(m, sp.MatrixSymbol) and (m.name in symmetric or m in symmetric)


def _factors(term: Any) -> tuple[Any, list[tuple[Any, bool]]] | None:
    """``coefficient, [(matrix symbol, transposed), ...]`` of a product of matrix symbols (None otherwise)."""
    from sympy.matrices.expressions import MatMul, MatPow, Transpose

    coeff = sp.S.One
    mats = []
    args: list[Any] = []
    for a in (term.args if isinstance(term, MatMul) else (term,)):
        if isinstance(a, MatPow) and a.exp.is_Integer and a.exp > 0:
            args += [a.base] * int(a.exp)
        else:
            args.append(a)
    for a in args:
        if not getattr(a, "is_Matrix", False):
            coeff *= a
        elif isinstance(a, sp.MatrixSymbol):
            mats.append((a, False))
        elif isinstance(a, Transpose) and isinstance(a.arg, sp.MatrixSymbol):
            mats.append((a.arg, True))
        else:
            return None
    return coeff, mats


def _split_trace(t: Any) -> list[tuple[Any, Any]]:
    """``tr(sum c_k P_k)`` as ``[(c_k, P_k), ...]`` (identity traces as their dimension)."""
    from sympy.matrices.expressions import MatAdd, MatMul

    arg = t.arg.expand()
    stack, out = [arg], []
    while stack:
        a = stack.pop(0)
        if isinstance(a, MatAdd):
            stack[:0] = list(a.args)
            continue
        coeff, rest = sp.S.One, a
        if isinstance(a, MatMul):
            scal = [x for x in a.args if not getattr(x, "is_Matrix", False)]
            mats = [x for x in a.args if getattr(x, "is_Matrix", False)]
            coeff = sp.Mul(*scal)
            rest = mats[0] if len(mats) == 1 else MatMul(*mats)
        if isinstance(rest, sp.Identity):
            out.append((coeff * rest.rows, None))
        else:
            out.append((coeff, rest))
    return out


def _orientations(mats: list[tuple[Any, bool]], symmetric: set[str]) -> list[tuple[tuple[Any, bool], ...]]:
    norm = [(m, False if _is_symmetric(m, symmetric) else t) for m, t in mats]
    back = [(m, False if _is_symmetric(m, symmetric) else not t) for m, t in reversed(mats)]
    out = []
    for seq in (norm, back):
        for k in range(len(seq)):
            out.append(tuple(seq[k:] + seq[:k]))
    return out


def _merge_traces(expr: Any, symmetric: set[str]) -> Any:
    """Split traces over sums and print equal traces (transposed, cycled) once; see :func:`paper_form`."""
    from sympy.matrices.expressions import MatMul, Trace, Transpose

    traces = [t for t in sp.preorder_traversal(expr) if isinstance(t, Trace)]
    if not traces:
        return expr
    split = {t: _split_trace(t) for t in dict.fromkeys(traces)}
    chosen: dict[frozenset[Any], tuple[tuple[Any, bool], ...]] = {}
    for parts in split.values():  # the representative of a class: fewest transposes, then first seen
        for _, p in parts:
            f = _factors(p) if p is not None else None
            if f is None or not f[1]:
                continue
            forms = _orientations(f[1], symmetric)
            key = frozenset(forms)
            mine = forms[0]
            best = chosen.get(key)
            if best is None or sum(t for _, t in mine) < sum(t for _, t in best):
                chosen[key] = mine

    def product(seq: tuple[tuple[Any, bool], ...]) -> Any:
        ms = [Transpose(m) if t else m for m, t in seq]
        return ms[0] if len(ms) == 1 else MatMul(*ms)

    repl = {}
    for t, parts in split.items():
        total = sp.S.Zero
        for c, p in parts:
            if p is None:
                total += c
                continue
            f = _factors(p)
            if f is None or not f[1]:
                total += c * Trace(p)
                continue
            total += c * f[0] * Trace(product(chosen[frozenset(_orientations(f[1], symmetric))]))
        repl[t] = total
    return sp.expand_mul(expr.xreplace(repl))  # a coefficient over a sum of traces distributed


def _positive_lead(e: Any) -> Any:
    """``-(a - b)/c`` as ``(b - a)/c``: a leading minus taken into the one sum of a product."""
    if not isinstance(e, sp.Mul) or not e.could_extract_minus_sign():
        return e
    adds = [a for a in e.args if isinstance(a, sp.Add)]
    if len(adds) != 1 or all(t.could_extract_minus_sign() for t in adds[0].args):
        return e
    rest = [a for a in e.args if a is not adds[0]]
    return -sp.Mul(*rest) * sp.Add(*[-t for t in adds[0].args])


def paper_form(expr: Any, symmetric: Iterable[Any] | None = None) -> Any:
    r"""``expr`` rewritten for print in the paper's notation (equal to ``expr``).

    Traces are split over sums (``tr(A + 2 B) -> tr(A) + 2 tr(B)``, ``tr(c I_n) -> c n``), and traces
    of products equal by cyclic order or transposition (``tr(A B) = tr(B A) = tr(B^T A^T)``, symmetric
    matrices as given) are written one way, the one with the fewest transposes first met, so that sympy
    adds them: ``tr(A) + tr(A^T) -> 2 tr(A)``.  A negative product with one sum (the whole expression,
    a side of a relation, the argument of a maximum) takes its sign into the sum.

    Parameters
    ----------
    expr : sympy.Basic
        Any expression, relation or boolean (a matrix is returned unchanged).
    symmetric : iterable of sympy.MatrixSymbol or str, optional
        Matrices equal to their transpose.

    Returns
    -------
    sympy.Basic

    Examples
    --------
    >>> A, B = sp.MatrixSymbol("A", 3, 3), sp.MatrixSymbol("B", 3, 3)
    >>> paper_form(sp.Trace(A * B) + sp.Trace(B.T * A.T) + sp.Trace(A + B))
    2*Trace(A*B) + Trace(A) + Trace(B)
    """
    if not isinstance(expr, sp.Basic) or isinstance(expr, sp.MatrixBase):
        return expr
    sym = {getattr(m, "name", m) for m in (symmetric or ())}
    out = _merge_traces(expr, sym)
    def lead(e: Any) -> Any:
        if isinstance(e, sp.core.relational.Relational):
            return e.func(lead(e.lhs), lead(e.rhs), evaluate=False)
        if isinstance(e, (sp.And, sp.Or)):
            return e.func(*[lead(a) for a in e.args])
        if _is(e, "Given"):
            return e.func(lead(e.args[0]), e.args[1])
        if _is(e, "MaxOver"):  # MinOver is a MaxOver
            return e.func(lead(e.args[0]), e.args[1])
        if isinstance(e, (sp.Max, sp.Min)):
            return e.func(*[lead(a) for a in e.args], evaluate=False)
        return _positive_lead(e)

    return lead(out)


# -- widths and line breaks --------------------------------------------------------------------------------------
# Widths (pt) of glyphs in Computer Modern math at 10 pt, rounded up: the estimate is meant to be an upper bound of
# what TeX sets (tests/test_latex_document.py measures it against pdflatex).
_UPPER = {"W": 11.0, "M": 10.0, "N": 8.9, "V": 8.0, "U": 7.7, "D": 8.3, "H": 8.9, "K": 8.9, "Q": 8.0, "X": 8.4,
          "Y": 6.4, "A": 7.6, "B": 8.0, "C": 7.2, "I": 4.5, "J": 5.6, "L": 6.9, "E": 7.7, "F": 6.5, "G": 8.0,
          "O": 7.7, "P": 6.5, "R": 7.7, "S": 6.2, "T": 6.0, "Z": 6.9}
_LOWER = {"m": 8.8, "w": 7.3, "n": 6.1, "i": 3.6, "j": 4.2, "l": 3.1, "r": 4.6, "t": 3.7, "f": 5.0, "k": 5.3,
          "x": 5.8, "z": 4.7, "q": 4.7, "y": 4.9, "v": 4.9, "u": 5.8, "c": 4.4, "s": 4.7, "o": 4.9, "e": 4.7,
          "a": 5.3, "b": 4.3, "d": 5.3, "g": 4.8, "h": 5.8, "p": 5.1}
_COMMANDS = {"alpha": 6.5, "beta": 5.7, "gamma": 5.2, "delta": 4.5, "epsilon": 4.1, "varepsilon": 4.7, "zeta": 4.6,
             "eta": 5.0, "theta": 4.7, "iota": 3.5, "kappa": 5.8, "lambda": 5.9, "mu": 6.1, "nu": 5.2, "xi": 4.6,
             "pi": 5.8, "rho": 5.2, "sigma": 5.8, "tau": 4.4, "upsilon": 5.8, "phi": 5.3, "varphi": 6.6,
             "chi": 6.3, "psi": 6.9, "omega": 6.3, "Gamma": 6.3, "Delta": 8.4, "Theta": 7.8, "Lambda": 6.9,
             "Xi": 6.7, "Pi": 7.6, "Sigma": 7.3, "Phi": 7.3, "Psi": 7.8, "Omega": 7.3, "infty": 10.0,
             "partial": 5.8, "ell": 4.2, "nabla": 8.4, "prime": 2.8, "cdot": 7.8, "times": 12.3, "pm": 12.3,
             "mp": 12.3, "|": 5.0, "{": 5.0, "}": 5.0, "_": 5.0, "%": 8.4, "&": 7.8, "#": 8.4, "$": 5.0,
             "backslash": 5.0, "wedge": 12.3, "vee": 12.3, "sim": 13.4, "approx": 13.4, "to": 15.6,
             "iff": 22.4, "implies": 22.4, "Rightarrow": 15.6, "in": 12.3, "le": 13.4, "ge": 13.4, "leq": 13.4,
             "geq": 13.4, "neq": 13.4, "ne": 13.4, "dots": 13.4, "ldots": 13.4, "cdots": 13.4, "quad": 10.0,
             "qquad": 20.0, ",": 1.7, ":": 2.3, ";": 2.8, "!": -1.7, " ": 3.4, "log": 15.0, "ln": 11.3,
             "exp": 17.0, "det": 15.5, "max": 21.5, "min": 19.5, "sqrt": 8.4, "mathbb": 0.0, "lambda_": 0.0}
_BIN = 12.3  # + or - between terms: the glyph (7.8) and two medium spaces
_REL = 13.4  # =, <, >: the glyph and two thick spaces


def _group(s: str, i: int) -> tuple[str, int]:
    """The argument starting at ``s[i]``: a braced group or one token; (text, index after it)."""
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s):
        return "", i
    if s[i] == "{":
        depth = 0
        for j in range(i, len(s)):
            depth += (s[j] == "{") - (s[j] == "}")
            if depth == 0:
                return s[i + 1:j], j + 1
        return s[i + 1:], len(s)
    if s[i] == "\\":
        j = i + 1
        while j < len(s) and s[j].isalpha():
            j += 1
        return s[i:max(j, i + 2)], max(j, i + 2)
    return s[i], i + 1


def _env(s: str, i: int, name: str) -> tuple[str, int]:
    end = s.find(f"\\end{{{name}}}", i)
    depth_end = end
    # nested environments of the same name
    nested = s.count(f"\\begin{{{name}}}", i, end)
    while nested and end >= 0:
        end = s.find(f"\\end{{{name}}}", end + 1)
        nested -= 1
        depth_end = end
    return s[i:depth_end], depth_end + len(f"\\end{{{name}}}")


def _split_top(s: str, sep: str) -> list[str]:
    out, depth, start, i = [], 0, 0, 0
    while i < len(s):
        if s.startswith("\\begin", i):
            depth += 1
        elif s.startswith("\\end", i):
            depth -= 1
        c = s[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif depth == 0 and s.startswith(sep, i) and (sep != "\\\\" or True):
            out.append(s[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    out.append(s[start:])
    return out


def latex_width(tex: str, size: float = 1.0, display_style: bool = True) -> float:
    r"""Estimated width in points of LaTeX math as TeX sets it at 10 pt (Computer Modern), rounded up.

    The estimate reads the LaTeX statvae's printer writes (symbols, ``\frac``, sub- and superscripts,
    ``\left( ... \right)``, ``\sqrt``, ``\operatorname``, ``\text``, matrices, operators with their
    spacing): glyph widths are rounded up and a fraction is as wide as its wider part, so it errs on
    the wide side; ``tests/test_latex_document.py`` checks it against the widths pdflatex measures.
    Scale it by ``font size / 10 pt`` for another size.

    Parameters
    ----------
    tex : str
        LaTeX math (no dollar signs).
    size : float
        Relative size (1 for text, 0.7 in a first-level script, 0.5 below it).
    display_style : bool
        Display style (a fraction's parts at text size) rather than text style (at script size).

    Returns
    -------
    float
        Points.

    Examples
    --------
    >>> 8 < latex_width(r"\frac{\xi_{i}^{2}}{\beta}") < latex_width(r"\frac{\xi_{i}^{2} + 1}{\beta}") < 60
    True
    """
    sub = 0.7 if size >= 1.0 else 0.6  # scriptscript glyphs (cmr5/cmmi5) are wider than half their 10 pt size
    frac = size if display_style else sub
    w, i, s, n = 0.0, 0, tex, len(tex)
    last_script = 0.0  # a subscript and a superscript on one base overlap
    prev_operand = False  # for binary vs unary +/-
    while i < n:
        c = s[i]
        if c in " \n\t":
            i += 1
            continue
        if c in "^_":
            arg, i = _group(s, i + 1)
            ws = latex_width(arg, sub, False) + 0.9 * size
            if last_script:
                w += max(0.0, ws - last_script)
                last_script = 0.0
            else:
                w += ws
                last_script = ws
            continue
        last_script = 0.0
        if c == "\\":
            cmd, j = _group(s, i)
            name = cmd[1:]
            i = j
            if name in ("frac", "dfrac", "tfrac"):
                num, i = _group(s, i)
                den, i = _group(s, i)
                fs = size if name == "dfrac" else (sub if name == "tfrac" else frac)
                w += max(latex_width(num, fs, False), latex_width(den, fs, False)) + 2.4 * size
                prev_operand = True
            elif name in ("left", "right", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "Biggl", "Biggr",
                          "big", "Big", "bigg", "Bigg"):
                delim, i = _group(s, i)
                w += (0.0 if delim == "." else (3.3 if delim in ("|", "\\|") else 6.0)) * size
                prev_operand = name.startswith("right") or name.endswith("r")
            elif name in ("operatorname", "mathrm", "text", "textrm", "mathit", "mathbf", "mathcal", "mathbb",
                          "mathsf", "boldsymbol"):
                arg, i = _group(s, i)
                if name == "operatorname":
                    w += latex_width(f"\\mathrm{{{arg}}}", size) + 1.7 * size
                elif name in ("text", "textrm", "mathrm"):
                    w += sum(_LOWER.get(ch, 5.0) if ch.islower() else
                             (_UPPER.get(ch, 7.5) if ch.isupper() else (3.4 if ch == " " else 5.0))
                             for ch in arg) * size
                else:
                    w += latex_width(arg, size, display_style) * (1.15 if name in ("mathcal", "mathbb") else 1.0)
                prev_operand = True
            elif name == "sqrt":
                if i < n and s[i] == "[":
                    k = s.index("]", i)
                    i = k + 1
                    w += 5.0 * size
                arg, i = _group(s, i)
                w += latex_width(arg, size, display_style) + 9.0 * size
                prev_operand = True
            elif name == "begin":
                env, i = _group(s, i)
                body, i = _env(s, i, env)
                if env in ("matrix", "pmatrix", "bmatrix", "smallmatrix", "array"):
                    if env == "array":
                        _, body_start = _group(body, 0)
                        body = body[body_start:]
                    rows = [r for r in _split_top(body, "\\\\") if r.strip()]
                    cells = [_split_top(r, "&") for r in rows]
                    ncol = max(len(r) for r in cells) if cells else 0
                    cols = [max(latex_width(r[k], size, False) if k < len(r) else 0.0 for r in cells)
                            for k in range(ncol)]
                    w += sum(cols) + 12.0 * size * max(ncol - 1, 0) + (12.0 * size if env != "matrix" else 0.0)
                else:
                    w += max((latex_width(r, size, display_style) for r in _split_top(body, "\\\\")), default=0.0)
                prev_operand = True
            elif name in ("max", "min", "sup", "inf", "lim") and i < n and s[i:i + 1] == "_":
                arg, i = _group(s, i + 1)
                w += max(_COMMANDS.get(name, 20.0) * size, latex_width(arg, sub, False)) + 1.7 * size
                prev_operand = False
            elif name in ("iff", "implies", "to", "in", "le", "ge", "leq", "geq", "neq", "ne", "sim", "approx"):
                w += _COMMANDS[name] * size
                prev_operand = False
            elif name in ("cdot", "times", "wedge", "vee", "pm", "mp"):
                w += _COMMANDS[name] * size
                prev_operand = False
            elif name in ("label", "tag", "nonumber", "notag"):
                if name in ("label", "tag"):
                    _, i = _group(s, i)
            else:
                w += _COMMANDS.get(name, 8.0) * size
                prev_operand = name not in ("quad", "qquad", ",", ":", ";", "!", " ")
            continue
        if c == "{":
            arg, i = _group(s, i)
            w += latex_width(arg, size, display_style)
            prev_operand = True
            continue
        i += 1
        if c in "+-":
            w += (_BIN if prev_operand else 7.8) * size
            prev_operand = False
        elif c in "=<>":
            w += _REL * size
            prev_operand = False
        elif c == "&":
            pass
        elif c in "()[]|":
            w += (3.9 if c in "()[]" else 2.8) * size
            prev_operand = c in ")]|"
        elif c == "'":
            w += 2.8 * sub
        elif c.isdigit() or c == ".":
            w += 5.0 * size
            prev_operand = True
        elif c.isupper():
            w += _UPPER.get(c, 8.0) * size
            prev_operand = True
        elif c.islower():
            w += _LOWER.get(c, 5.5) * size
            prev_operand = True
        elif c == ",":
            w += 4.5 * size
            prev_operand = False
        else:
            w += 7.8 * size
            prev_operand = True
    return w


def _printer(expr: Any) -> _PaperPrinter:
    from .names import latex_names

    p = _PaperPrinter(dict(symbol_names=latex_names(expr), mul_symbol=None, ln_notation=False))
    p._root = expr
    return p


def _signed_terms(expr: Any) -> list[tuple[str, Any]]:
    """The top-level terms of a sum as ``(sign, term)`` in the order :func:`expr_latex` prints them."""
    p = _printer(expr)
    terms = list(p._as_ordered_terms(expr))
    if len(terms) <= 3 and terms and terms[0].could_extract_minus_sign():
        for k, t in enumerate(terms):
            if not t.could_extract_minus_sign():
                terms = [t] + terms[:k] + terms[k + 1:]
                break
    out = []
    for t in terms:
        out.append(("-", -t) if t.could_extract_minus_sign() else ("+", t))
    return out


_RELATIONS = {">": ">", "<": "<", ">=": r"\geq", "<=": r"\leq", "==": "=", "!=": r"\neq"}


def _pieces(expr: Any, budget: float) -> list[str]:
    r"""``expr`` (already in :func:`paper_form`) as LaTeX pieces to set on separate lines, each but the first
    starting with its operator (``+ ...``, ``- ...``, ``\wedge ...``); a term wider than ``budget`` is opened
    (``\frac{c}{d} \biggl( ... \biggr)``) when it has a sum inside."""
    if _is(expr, "Given"):
        return _pieces(expr.args[0], budget) + [r"\quad \text{for } " + _print_plain(expr.args[1])]
    if isinstance(expr, sp.And):
        out = []
        for k, a in enumerate(expr.args):
            ps = _pieces(a, budget)
            out += ([r"\wedge " + ps[0]] if k else [ps[0]]) + ps[1:]
        return out
    if isinstance(expr, (sp.Max, sp.Min)) and latex_width(_print_plain(expr)) > budget:
        name = r"\max" if isinstance(expr, sp.Max) else r"\min"
        out = []
        args = list(expr.args)
        for k, a in enumerate(args):
            ps = _pieces(a, budget - 20.0)
            if k == 0:
                ps[0] = name + r"\Bigl(" + ps[0]
            else:
                out[-1] += ","
            out += ps
        out[-1] += r"\Bigr)"
        return out
    if isinstance(expr, sp.core.relational.Relational):
        rel = _RELATIONS.get(expr.rel_op, expr.rel_op)
        rhs = _pieces(expr.rhs, budget)
        return [_print_plain(expr.lhs) + f" {rel} " + rhs[0]] + rhs[1:]
    if isinstance(expr, sp.Add):
        out = []
        for k, (sign, t) in enumerate(_signed_terms(expr)):
            tex = _print_term(t)
            lead = "" if k == 0 and sign == "+" else f"{sign} "
            if latex_width(lead + tex) > budget:
                opened = _opened(t, budget)
                if opened:
                    out += [lead + opened[0]] + opened[1:]
                    continue
            out.append(lead + tex)
        return out
    tex = _print_plain(expr)
    if latex_width(tex) > budget:
        if _is(expr, "MaxOver"):
            opened = _opened(expr.args[0], budget - latex_width(r"\max_{i}"))
            if opened:
                head = tex[:tex.index("}") + 1] + " "  # \max_{i} or \min_{i}
                return [head + opened[0]] + opened[1:]
        opened = _opened(expr, budget)
        if opened:
            return opened
    return [tex]


def _print_plain(expr: Any) -> str:
    return str(_printer(expr).doprint(expr))


def _print_term(t: Any) -> str:
    p = _printer(t)
    tex = str(p.doprint(t))
    return r"\left(" + tex + r"\right)" if p._needs_add_brackets(t) else tex


def _opened(t: Any, budget: float) -> list[str] | None:
    r"""A product with one sum in its numerator as ``prefix \biggl( sum \biggr)``, the sum broken."""
    num, den = sp.fraction(t)
    factors = sp.Mul.make_args(num)
    adds = [f for f in factors if isinstance(f, sp.Add)]
    if len(adds) != 1:
        return None
    coeff = sp.Mul(*[f for f in factors if f is not adds[0]]) / den
    head = "" if coeff == 1 else ("- " if coeff == -1 else _print_plain(coeff) + " ")
    inner = _pieces(adds[0], budget - 12.0)
    if len(inner) < 2:
        return None
    return [head + r"\biggl(" + inner[0]] + inner[1:-1] + [inner[-1] + r"\biggr)"]


def break_lines(expr: Any, width: float, first: float = 0.0, symmetric: Iterable[Any] | None = None) -> list[str]:
    r"""``expr``'s LaTeX cut into lines no wider than ``width`` points (by :func:`latex_width`).

    Cuts fall between the top-level terms of a sum (before their ``+`` or ``-``), between the parts of a
    conjunction (before ``\wedge``), and, for a term too wide on its own, inside it:
    ``\frac{1}{d} \biggl( a + b \\ - c \biggr)``.  Terms are packed greedily.  A single term that still does
    not fit stays whole (its line is then wider than ``width``; :func:`latex_width` tells).  Joined with
    spaces the lines are :func:`expr_latex` of ``expr``, apart from the opened terms.

    Parameters
    ----------
    expr : sympy.Basic
        An expression, relation or conjunction.
    width : float
        Points available on every line.
    first : float
        Points already used on the first line (its left-hand side and relation).
    symmetric : iterable, optional
        As for :func:`expr_latex`.

    Returns
    -------
    list of str
        The lines; the second and later start with their operator (``+``, ``-``, ``\wedge``).

    Examples
    --------
    >>> x = sp.symbols("x0:12", positive=True)
    >>> lines = break_lines(sp.Add(*[(k + 1) * s ** 2 for k, s in enumerate(x)]), 80)
    >>> len(lines) > 1 and all(latex_width(line) <= 80 for line in lines)
    True
    """
    e = paper_form(expr, symmetric)
    pieces = _pieces(e, width)
    lines: list[str] = []
    cur, used = "", first
    for p in pieces:
        w = latex_width("{} " + p if p[:1] in "+-" else p)  # an operator between terms is binary
        if cur and used + w > width:
            lines.append(cur)
            cur, used = p, w
        else:
            cur = f"{cur} {p}" if cur else p
            used += w
    if cur:
        lines.append(cur)
    return lines


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
