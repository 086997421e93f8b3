"""The matrix path: value, gradient, Hessian-vector product and d(gradient)/d(hyper) as numpy code.

The objective comes from the symbolic layer with matrix symbols
(:func:`statvae.symbolic.objective.build_objective` with ``form="matrix"``);
:mod:`statvae.numeric.tracepoly` expands and differentiates it by rule and
:mod:`statvae.numeric.codegen` writes the code.  Cost grows like the matrix
products (O(N^2 n) for the plain model), not like the number of entries.
"""

from __future__ import annotations

import re
from typing import Any

import sympy as sp

from ..model import hyper as H
from ..model.vae import Model
from ..symbolic.names import block_latex, dim_symbol
from ..symbolic.objective import build_objective
from ..symbolic.parameters import learned_variance_symbol, scale_symbol
from .codegen import ChainProgram, ScalarPrinter
from ..model.layout import Layout
from .tracepoly import Contribution, TracePolynomial, expand_objective

__all__ = ["matrix_source", "trace_polynomial", "hvp_pair_name"]


def hvp_pair_name(direction: str, out: str) -> str:
    """Name of the generated function ``H[out, direction] @ d direction`` (block ``out`` of an HVP along one block).

    Parameters
    ----------
    direction : str
        The parameter block the direction lies in.
    out : str
        The parameter block of the product returned.

    Returns
    -------
    str
        A Python identifier (block names never contain ``"__"``).

    Examples
    --------
    >>> hvp_pair_name("W", "D")
    'hvpb__W__D'
    """
    return f"hvpb__{direction}__{out}"


def _needed_lines(lines: list[str], ret: str) -> list[str]:
    """The assignments ``name = expr`` among ``lines`` that ``ret`` needs, directly or through others, in order."""
    ident = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
    need = set(ident.findall(ret))
    keep = []
    for ln in reversed(lines):
        name, expr = ln.split(" = ", 1)
        if name in need:
            keep.append(ln)
            need |= set(ident.findall(expr))
    return keep[::-1]


def _data_name(a: str, b: str) -> str:
    return f"S__{a}__{b}"  # variable names never contain "__" (see check_identifier)


def trace_polynomial(model: Model) -> tuple[TracePolynomial, dict[str, sp.Symbol]]:
    """The model's objective as a :class:`~statvae.numeric.tracepoly.TracePolynomial`.

    Parameters
    ----------
    model : Model
        The model (dimensions stay symbolic).

    Returns
    -------
    tuple
        The trace polynomial, and the dimension symbol of each variable by name.
    """
    g = model.graph
    obj = build_objective(model, "matrix", substitute=False)
    obs = g.observed()
    names: dict[str, str] = {}
    symmetric: set[str] = set()
    shapes: dict[str, tuple[Any, Any]] = {}
    matrices: dict[str, tuple[Any, Any]] = {}
    dims = {v.name: dim_symbol(v) for v in g.variables()}
    for a in obs:
        for b in obs:
            if len(obs) == 1:
                names[r"\Sigma"] = _data_name(a.name, b.name)
            else:
                names[rf"\Sigma_{{{a.name}{b.name}}}"] = _data_name(a.name, b.name)
            shapes[_data_name(a.name, b.name)] = (dims[a.name], dims[b.name])
        symmetric.add(_data_name(a.name, a.name))
    for m in g.maps():
        names[block_latex(m.name)] = m.name
        shapes[m.name] = matrices[m.name] = (dims[m.target], dims[m.source])
    scalars = []
    for z in g.latents():
        assert z.covariance_name is not None, "validation fills in covariance_name"
        if z.encoder in ("diagonal", "full"):
            names[block_latex(z.covariance_name)] = z.covariance_name
            shapes[z.covariance_name] = matrices[z.covariance_name] = (dims[z.name], dims[z.name])
            symmetric.add(z.covariance_name)
        elif z.encoder == "isotropic":
            scalars.append(scale_symbol(z))
    for v in g.variables():
        if v.variance == "learned":
            scalars.append(learned_variance_symbol(g, v))
    tp = expand_objective(obj.total, names, frozenset(symmetric), shapes, matrices, scalars)
    return tp, dims


def matrix_source(model: Model) -> tuple[str, dict]:
    """Generate the matrix-path source for ``model`` at its dimensions.

    Parameters
    ----------
    model : Model
        The model, at its dimensions.

    Returns
    -------
    tuple
        ``(source, meta)``; ``meta["args"]`` documents the argument order
        of the generated functions ``value``, ``gradient``, ``hvp`` and
        ``dgrad_<hyper>``.
    """
    tp, dims = trace_polynomial(model)
    g = model.graph
    dim_values = {dims[v.name]: v.dim for v in g.variables()}
    layout = Layout(model)
    shapes = {k: (int(sp.sympify(r).xreplace(dim_values)), int(sp.sympify(c).xreplace(dim_values)))
              for k, (r, c) in tp.shapes.items()}
    hyper = [H.symbol(n) for n in model.values]
    mats = [b.name for b in layout.blocks if not b.is_scalar]
    data = sorted(k for k in tp.shapes if k.startswith("S__"))
    scal = [s for s in tp.scalars]
    dscal = [sp.Symbol(f"d_{s.name}") for s in scal]
    args = mats + data + [s.name for s in scal] + [h.name for h in hyper]
    dargs = ["d" + m for m in mats] + [s.name for s in dscal]
    sub = lambda e: sp.sympify(e).xreplace(dim_values)
    printer = ScalarPrinter({"order": "none"})
    blocks_out = [b for b in layout.blocks]

    def merged(items: Any) -> list[tuple[Any, Any]]:
        """Sum coefficients of identical chains: [(coef, chain, sign)] -> [(coef, chain)]."""
        acc: dict = {}
        for coef, chain, sign in items:
            acc[chain] = acc.get(chain, 0) + sign * sub(coef)
        out = []
        for ch, cf in acc.items():
            cf = sp.cancel(cf)  # coefficients are rational in the hyper-parameters: cancel decides zero
            if cf != 0:
                out.append((cf, ch))
        return out

    def matrix_parts(c, items):
        return [(c(cf), Contribution(cf, ch)) for cf, ch in merged(items)]

    def scalar_value(prog, term):
        if term.kind == "trace":
            return prog.trace(term.chain)
        if term.kind == "logdet":
            return f"logdet({term.matrix})"
        return "1"

    def emit(fname: str, fargs: list[str], build: Any, prune: bool = False) -> str:
        prog = ChainProgram(shapes, tp.symmetric)
        coefs: list = []

        def c(expr):
            expr = sub(expr)
            coefs.append(expr)
            return f"__C{len(coefs) - 1}__"

        ret = build(prog, c)
        from .codegen import scalar_code

        clines, couts = scalar_code(coefs, prefix="k", printer=printer)
        body = prog.lines
        for i, code in enumerate(couts):
            ret = ret.replace(f"__C{i}__", f"({code})")
            body = [ln.replace(f"__C{i}__", f"({code})") for ln in body]
        needs_inv = sorted({m for m in tp.matrices if f"inv_{m}" in "\n".join(body) + ret})
        pre = [f"inv_{m} = inv({m})" for m in needs_inv]
        assigned = pre + clines + body
        if prune:  # keep only the assignments the returned expression depends on (same products, same order)
            assigned = _needed_lines(assigned, ret)
        doc = f'    """Generated by statvae. Arguments: {", ".join(fargs)}."""'
        lines = [f"def {fname}({', '.join(fargs)}):", doc] + ["    " + ln for ln in assigned]
        lines.append(f"    return {ret}")
        return "\n".join(lines)

    def value(prog, c):
        parts = [f"{c(t.coef)} * {scalar_value(prog, t)}" for t in tp.terms]
        return " + ".join(parts)

    def flatten(pieces):
        return "concat(" + ", ".join(pieces) + ")"

    def piece(b, per_matrix, per_scalar):
        """Block ``b`` of a gradient-shaped result, flat as in the layout."""
        if b.is_scalar:
            return f"col({per_scalar[b.name]})"
        expr = per_matrix[b.name]
        if b.kind == "map":
            return f"flat({expr})"
        if b.kind == "diagonal":
            return f"diag({expr})"
        return f"sym_upper({expr})"

    def collect(prog, per_matrix, per_scalar):
        return flatten([piece(b, per_matrix, per_scalar) for b in blocks_out])

    def scalar_name(b):
        return next(s for s in scal if s.name == b.name)

    def gradient(prog, c):
        per_m, per_s = {}, {}
        for b in blocks_out:
            if b.is_scalar:
                s = scalar_name(b)
                terms = tp.scalar_gradient(s)
                per_s[b.name] = " + ".join(f"{c(d)} * {scalar_value(prog, t)}" for d, t in terms) or "0"
            else:
                items = [(k.coef, k.chain, 1) for k in tp.matrix_gradient(b.name)]
                per_m[b.name] = f"({prog.matrix_sum(matrix_parts(c, items), shapes[b.name])})"
        return collect(prog, per_m, per_s)

    directions = dict(zip(scal, dscal))

    def hvp_builder(only=None, out=None):
        """HVP along all directions, or only along the block ``only`` (the others zero).

        With ``out`` (a block name) the function returns only that block of the product, flat as in the
        layout (one Hessian block ``H[out, only]`` applied to ``d only``); ``hvp.zero`` then says whether
        that block of the Hessian is identically zero.
        """
        dname = None if only is None else ("d" + only if only in mats else f"d_{only}")
        dirs = directions if only is None else {s_: d_ for s_, d_ in directions.items() if s_.name == only}

        def keep(chain):
            return dname is None or any(f.name == dname for f in chain)

        def hvp(prog, c):
            per_m, per_s = {}, {}
            for b in blocks_out:
                if b.is_scalar:
                    s = scalar_name(b)
                    parts = []
                    for d, t in tp.scalar_gradient(s):
                        dd = tp.coef_directional(d, dirs)
                        if dd != 0:
                            parts.append(f"{c(dd)} * {scalar_value(prog, t)}")
                        if t.kind == "trace":
                            for sign, ch in tp.chain_directional(t.chain):
                                if keep(ch):
                                    parts.append(f"{'-' if sign < 0 else ''}{c(d)} * {prog.trace(ch)}")
                        elif t.kind == "logdet" and (only is None or only == t.matrix):
                            parts.append(f"{c(d)} * trp(inv_{t.matrix}, d{t.matrix})")
                    per_s[b.name] = " + ".join(parts) or "0"
                else:
                    items = []
                    for k in tp.matrix_gradient(b.name):
                        dc = tp.coef_directional(k.coef, dirs)
                        if dc != 0:
                            items.append((dc, k.chain, 1))
                        items += [(k.coef, ch, sign) for sign, ch in tp.chain_directional(k.chain) if keep(ch)]
                    parts = matrix_parts(c, items)
                    if b.name == out and not parts:
                        hvp.zero = True
                    per_m[b.name] = f"({prog.matrix_sum(parts, shapes[b.name])})"
            if out is not None:  # the whole product's program, then one block returned (emit prunes the rest)
                if per_s.get(out) == "0":
                    hvp.zero = True
                return piece(next(b for b in blocks_out if b.name == out), per_m, per_s)
            return collect(prog, per_m, per_s)
        hvp.zero = False
        return hvp, dname

    def dgrad(h):
        def build(prog, c):
            per_m, per_s = {}, {}
            for b in blocks_out:
                if b.is_scalar:
                    s = scalar_name(b)
                    parts = [f"{c(sp.diff(d, h))} * {scalar_value(prog, t)}" for d, t in tp.scalar_gradient(s)
                             if sp.diff(d, h) != 0]
                    per_s[b.name] = " + ".join(parts) or "0"
                else:
                    items = [(sp.diff(k.coef, h), k.chain, 1) for k in tp.matrix_gradient(b.name)]
                    per_m[b.name] = f"({prog.matrix_sum(matrix_parts(c, items), shapes[b.name])})"
            return collect(prog, per_m, per_s)
        return build

    def value_grad(prog, c):
        return f"({value(prog, c)}), ({gradient(prog, c)})"

    funcs = [emit("value", args, value), emit("gradient", args, gradient), emit("value_grad", args, value_grad),
             emit("hvp", args + dargs, hvp_builder()[0])]
    for b in blocks_out:  # cheap HVPs along one block (sparse directions, e.g. unit vectors)
        build, dname = hvp_builder(b.name)
        funcs.append(emit(f"hvp_only_{b.name}", args + [dname], build))
    pairs = []
    for b in blocks_out:  # one Hessian block applied to a direction in one block: H[y, x] dx (Hessian blocks)
        for y in blocks_out:
            build, dname = hvp_builder(b.name, out=y.name)
            src = emit(hvp_pair_name(b.name, y.name), args + [dname], build, prune=True)
            if not build.zero:
                funcs.append(src)
                pairs.append([b.name, y.name, hvp_pair_name(b.name, y.name)])
    for h in hyper:
        funcs.append(emit(f"dgrad_{h.name}", args, dgrad(h)))
    meta = {"args": args, "dargs": dargs, "hyper": [h.name for h in hyper], "scalars": [s.name for s in scal],
            "data": data, "data_pairs": [n.split("__")[1:] for n in data], "matrices": mats, "hvp_pairs": pairs}
    return "\n\n\n".join(funcs) + "\n", meta


