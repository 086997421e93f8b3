"""Gradients and Hessians of explicit-entry expressions.

Two backends: ``"sympy"`` (always there) and ``"symengine"`` (optional,
about 50x faster on Hessians; install ``statvae[fast]``).  ``"auto"`` picks
symengine when it is importable.  Results are sympy objects in both cases,
expressed in the caller's own symbols (symengine round trips drop
assumptions, so symbols are mapped back by name).
"""

from __future__ import annotations

import sympy as sp

from ..errors import StatvaeError

__all__ = ["gradient", "hessian", "have_symengine", "resolve_backend"]


def have_symengine() -> bool:
    """Whether the optional symengine package is importable.

    Returns
    -------
    bool
        True if ``import symengine`` works.
    """
    try:
        import symengine  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_backend(backend: str) -> str:
    """The differentiation backend to use for ``backend``.

    Parameters
    ----------
    backend : {"auto", "sympy", "symengine"}
        The backend asked for; ``"auto"`` picks symengine when it is importable.

    Returns
    -------
    str
        ``"sympy"`` or ``"symengine"``.

    Raises
    ------
    StatvaeError
        For an unknown backend, or ``"symengine"`` when it is not installed.

    Examples
    --------
    >>> resolve_backend("sympy")
    'sympy'
    """
    if backend == "auto":
        return "symengine" if have_symengine() else "sympy"
    if backend == "symengine" and not have_symengine():
        raise StatvaeError("backend 'symengine' needs the symengine package: pip install 'statvae[fast]'")
    if backend not in ("sympy", "symengine"):
        raise StatvaeError(f"backend must be 'auto', 'sympy' or 'symengine', got {backend!r}")
    return backend


def _back(expr_se: object, names: dict[str, sp.Symbol]) -> sp.Expr:
    e = sp.sympify(expr_se)
    return e.xreplace({s: names[s.name] for s in e.free_symbols if s.name in names})


def gradient(expr: sp.Expr, symbols: list[sp.Symbol], backend: str = "auto") -> sp.Matrix:
    """Column vector of first derivatives of ``expr`` with respect to ``symbols``.

    Parameters
    ----------
    expr : sympy.Expr
        The expression.
    symbols : list of sympy.Symbol
        The variables, in order.
    backend : {"auto", "sympy", "symengine"}, optional
        Who differentiates (see :func:`resolve_backend`).

    Returns
    -------
    sympy.Matrix
        ``len(symbols) x 1``, in the caller's symbols.

    Raises
    ------
    StatvaeError
        For a bad backend.

    Examples
    --------
    >>> import sympy as sp
    >>> a, b = sp.symbols("a b")
    >>> gradient(a**2 * b, [a, b], "sympy").T
    Matrix([[2*a*b, a**2]])
    """
    if resolve_backend(backend) == "sympy":
        return sp.Matrix([sp.diff(expr, s) for s in symbols])
    import symengine as se

    names = {s.name: s for s in expr.free_symbols | set(symbols)}
    e = se.sympify(expr)
    return sp.Matrix([_back(e.diff(se.Symbol(s.name)), names) for s in symbols])


def hessian(expr: sp.Expr, symbols: list[sp.Symbol], backend: str = "auto") -> sp.Matrix:
    """Symmetric matrix of second derivatives of ``expr`` with respect to ``symbols``.

    Parameters
    ----------
    expr : sympy.Expr
        The expression.
    symbols : list of sympy.Symbol
        The variables, in order.
    backend : {"auto", "sympy", "symengine"}, optional
        Who differentiates (see :func:`resolve_backend`).

    Returns
    -------
    sympy.Matrix
        ``len(symbols) x len(symbols)``, in the caller's symbols.

    Raises
    ------
    StatvaeError
        For a bad backend.

    Examples
    --------
    >>> import sympy as sp
    >>> a, b = sp.symbols("a b")
    >>> hessian(a**2 * b, [a, b], "sympy")
    Matrix([
    [2*b, 2*a],
    [2*a,   0]])
    """
    k = len(symbols)
    h = sp.zeros(k, k)
    if resolve_backend(backend) == "sympy":
        firsts = [sp.diff(expr, s) for s in symbols]
        for a in range(k):
            for b in range(a, k):
                h[a, b] = h[b, a] = sp.diff(firsts[a], symbols[b])
        return h
    import symengine as se

    names = {s.name: s for s in expr.free_symbols | set(symbols)}
    e = se.sympify(expr)
    ses = [se.Symbol(s.name) for s in symbols]
    firsts = [e.diff(s) for s in ses]
    for a in range(k):
        for b in range(a, k):
            h[a, b] = h[b, a] = _back(firsts[a].diff(ses[b]), names)
    return h
