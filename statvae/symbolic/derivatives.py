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
    try:
        import symengine  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_backend(backend: str) -> str:
    if backend == "auto":
        return "symengine" if have_symengine() else "sympy"
    if backend == "symengine" and not have_symengine():
        raise StatvaeError("backend 'symengine' needs the symengine package: pip install 'statvae[fast]'")
    if backend not in ("sympy", "symengine"):
        raise StatvaeError(f"backend must be 'auto', 'sympy' or 'symengine', got {backend!r}")
    return backend


def _back(expr_se, names: dict) -> sp.Expr:
    e = sp.sympify(expr_se)
    return e.xreplace({s: names[s.name] for s in e.free_symbols if s.name in names})


def gradient(expr: sp.Expr, symbols: list, backend: str = "auto") -> sp.Matrix:
    """Column vector of first derivatives of ``expr`` with respect to ``symbols``."""
    if resolve_backend(backend) == "sympy":
        return sp.Matrix([sp.diff(expr, s) for s in symbols])
    import symengine as se

    names = {s.name: s for s in expr.free_symbols | set(symbols)}
    e = se.sympify(expr)
    return sp.Matrix([_back(e.diff(se.Symbol(s.name)), names) for s in symbols])


def hessian(expr: sp.Expr, symbols: list, backend: str = "auto") -> sp.Matrix:
    """Symmetric matrix of second derivatives of ``expr`` with respect to ``symbols``."""
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
