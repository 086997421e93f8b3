"""Stability conditions and critical values from the Hessian blocks.

The collapsed point is a strict local maximum iff every block is negative
definite (Sylvester: the leading principal minors of ``-B`` are positive).
A block whose determinant vanishes identically for the model's values
(exactly flat directions, e.g. a hierarchical VAE with equal KL weights)
can only be negative *semi*-definite; for it the condition asks that no
eigenvalue be positive (every principal minor of ``-B`` non-negative) and
the block is reported as degenerate.

Critical values are where the number of positive Hessian eigenvalues (the
ascent directions of the ELBO) changes from zero, found from the roots of
the block determinants: in closed form when sympy can solve
``det B(p) = 0`` for the parameter, by bracketed root finding otherwise.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from ..model import hyper as H

if TYPE_CHECKING:
    from ..model.vae import Model

__all__ = ["MaxOver", "MinOver", "Given", "simplify_positive", "block_condition", "solve_relational", "BlockCondition"]


class MaxOver(sp.Function):
    """``max_i f(xi_i^2)``: maximum of an expression over a mode index (display form).

    ``MaxOver(expr, Symbol("i"))`` prints as ``\\max_{i} expr``.
    """

    nargs = 2

    def _latex(self, printer):
        expr, idx = self.args
        body = printer.parenthesize(expr, 0) if expr.is_Add else printer._print(expr)
        return rf"\max_{{{printer._print(idx)}}} {body}"

    def _sympystr(self, printer):
        expr, idx = self.args
        return f"max_{printer._print(idx)}({printer._print(expr)})"


class MinOver(MaxOver):
    """``min_i f(xi_i^2)`` (display form)."""

    def _latex(self, printer):
        expr, idx = self.args
        body = printer.parenthesize(expr, 0) if expr.is_Add else printer._print(expr)
        return rf"\min_{{{printer._print(idx)}}} {body}"

    def _sympystr(self, printer):
        expr, idx = self.args
        return f"min_{printer._print(idx)}({printer._print(expr)})"


class Given(sp.Function):
    """``condition`` holding under ``assumption`` (display form): prints ``... for Σ_xy = 0``.

    ``Given(cond, assumption).args[0]`` is the condition itself.
    """

    nargs = 2

    def _sympystr(self, printer):
        cond, assumption = self.args
        parts = assumption.args if isinstance(assumption, sp.And) else (assumption,)
        text = ", ".join(f"{printer._print(a.lhs)} = {printer._print(a.rhs)}" if isinstance(a, sp.Eq)
                         else printer._print(a) for a in parts)
        return f"{printer._print(cond)}  (for {text})"

    def _latex(self, printer):
        cond, assumption = self.args
        return rf"{printer._print(cond)} \quad \text{{for }} {printer._print(assumption)}"


def simplify_positive(expr: sp.Expr) -> tuple[sp.Expr, int]:
    """Factor ``expr`` and drop factors of known sign.

    Parameters
    ----------
    expr : sympy.Expr
        The expression.

    Returns
    -------
    tuple
        ``(core, sign)`` with ``expr = sign * (positive factor) * core``
        where ``core`` has no factor of known sign (``core == 1`` if all known).

    Examples
    --------
    >>> s, x = sp.symbols("s x", positive=True)
    >>> simplify_positive(-2 * s * (x - 1))
    (x - 1, -1)
    """
    f = sp.factor(sp.simplify(expr))
    sign = 1
    core = sp.Integer(1)
    for fac in sp.Mul.make_args(f):
        base, e = fac.as_base_exp()
        if fac.is_positive:
            continue
        if fac.is_negative:
            sign = -sign
            continue
        if e.is_Integer and e % 2 == 0 and base.is_real:
            core = core * fac
            continue
        if e.is_Integer and base.is_positive is None and base.is_negative is None:
            core = core * (base if e % 2 else base**2)
            continue
        core = core * fac
    return core, sign


@dataclass
class BlockCondition:
    """The stability condition of one block.

    Attributes
    ----------
    relations : list of sympy.Basic
        Relations (``expr > 0`` or ``expr >= 0``) that must all hold;
        ``[]`` means always satisfied, ``[sympy.false]`` never.
    degenerate : bool
        ``True`` when the block is singular for every value of its symbols
        (only negative semi-definiteness can hold).
    """

    relations: list[sp.Basic]
    degenerate: bool

    def as_boolean(self) -> sp.Basic:
        """The condition as one sympy boolean: the conjunction of :attr:`relations` (``true`` if none)."""
        return sp.And(*self.relations) if self.relations else sp.true

    def _repr_latex_(self) -> str:
        r"""The condition as inline math, for Jupyter (``statvae.latex(condition)``; ``always`` / ``never``).

        Returns
        -------
        str
            ``$...$``.

        Examples
        --------
        >>> import statvae
        >>> [b.condition._repr_latex_() for b in statvae.LinearVAE(3, 2).collapse().blocks]
        ["$\\sigma'^{2} - \\xi_{i}^{2} > 0$", '$\\text{always}$']
        """
        from .printing import expr_latex, inline, text

        cond = self.as_boolean()
        if cond is sp.true or cond is sp.false:
            return inline(text("always" if cond is sp.true else "never"))
        return inline(expr_latex(cond))


def _minor_condition(minor: sp.Expr, strict: bool) -> sp.Basic:
    core, sign = simplify_positive(minor)
    if core.is_number:
        val = sign * core
        ok = (val > 0) if strict else (val >= 0)
        return sp.true if ok else sp.false
    expr = sign * core
    return sp.Gt(expr, 0) if strict else sp.Ge(expr, 0)


def block_condition(block: sp.Matrix) -> BlockCondition:
    """Negative-definiteness condition of a symbolic block.

    Parameters
    ----------
    block : sympy.Matrix
        A symmetric block of the Hessian.

    Returns
    -------
    BlockCondition
        Leading principal minors of ``-block`` positive; for a block singular
        for every value of its symbols, every principal minor non-negative.

    Examples
    --------
    >>> s, x = sp.symbols("s x", positive=True)
    >>> block_condition(sp.Matrix([[-1/s, x/s], [x/s, -x]])).relations
    [s - x > 0]
    """
    nb = -block
    k = nb.shape[0]
    det = sp.simplify(nb.det())
    degenerate = det == 0
    rels = []
    if not degenerate:
        for m in range(1, k + 1):
            c = _minor_condition(nb[:m, :m].det(), strict=True)
            if c is sp.false:
                return BlockCondition([sp.false], False)
            if c is not sp.true:
                rels.append(c)
    else:
        for m in range(1, k + 1):
            for rows in combinations(range(k), m):
                c = _minor_condition(nb.extract(list(rows), list(rows)).det(), strict=False)
                if c is sp.false:
                    return BlockCondition([sp.false], True)
                if c is not sp.true:
                    rels.append(c)
    out = []
    for r in rels:
        if r not in out:
            out.append(r)
    return BlockCondition(out, degenerate)


def solve_relational(rel: sp.Basic, target: sp.Symbol) -> sp.Basic:
    """Rewrite ``rel`` as ``target > g`` / ``target < g`` when it is linear in ``target``.

    Parameters
    ----------
    rel : sympy.Basic
        A relation (anything else is returned unchanged).
    target : sympy.Symbol
        The symbol to isolate.

    Returns
    -------
    sympy.Basic
        ``target`` compared to a bound when ``rel`` is linear in it (or its
        numerator is, over a positive denominator) with a coefficient of known
        sign; otherwise ``rel`` unchanged.

    Examples
    --------
    >>> s, x = sp.symbols("s x", positive=True)
    >>> solve_relational(sp.Gt(2 * s - x, 0), s)
    s > x/2
    """
    if not isinstance(rel, sp.core.relational.Relational) or target not in rel.free_symbols:
        return rel
    expr = sp.expand(rel.lhs - rel.rhs)
    poly = sp.Poly(expr, target) if expr.is_polynomial(target) else None
    if poly is None or poly.degree() != 1:
        num, den = sp.fraction(sp.together(expr))
        if den.is_positive and num.is_polynomial(target) and sp.Poly(num, target).degree() == 1:
            poly = sp.Poly(sp.expand(num), target)
        else:
            return rel
    a, b = poly.all_coeffs()
    a = sp.factor(a)
    if a.is_positive:
        flip = False
    elif a.is_negative:
        flip = True
    else:
        return rel
    bound = sp.factor(sp.simplify(-b / a))
    strict = isinstance(rel, (sp.StrictGreaterThan, sp.StrictLessThan))
    greater = isinstance(rel, (sp.StrictGreaterThan, sp.GreaterThan)) != flip
    if greater:
        return sp.Gt(target, bound) if strict else sp.Ge(target, bound)
    return sp.Lt(target, bound) if strict else sp.Le(target, bound)


_PREFERENCE = ("sigma2", "beta", "beta1", "beta2", "weight_decay_dec", "weight_decay_enc", "tau2",
               "encoder_variance", "encoder_variance1", "encoder_variance2", "prior_variance")


_ROLE_RANK = {"noise_variance": 0, "kl_weight": 1, "weight_decay": 2, "latent_variance": 3, "encoder_variance": 3}


def preference_order(free: Collection[sp.Symbol], model: Model) -> list[sp.Symbol]:
    """Hyper-parameters in ``free``, in the order conditions are best solved for them.

    By role (noise variances, KL weights, weight decays, the rest), built-in names
    first within a role, then the model's order.

    Parameters
    ----------
    free : collection of sympy.Symbol
        Symbols of hyper-parameters.
    model : Model
        The model.

    Returns
    -------
    list of sympy.Symbol
        The hyper-parameters of ``model`` in ``free``, best first.
    """
    names = list(model.values)
    roles = model.graph.hyper_roles()

    def key(n: str) -> tuple[int, int, int]:
        pref = _PREFERENCE.index(n) if n in _PREFERENCE else len(_PREFERENCE)
        return (_ROLE_RANK.get(roles.get(n, ""), 4), pref, names.index(n))

    return [H.symbol(n) for n in sorted(names, key=key) if H.symbol(n) in free]


def preferred_target(free: Collection[sp.Symbol], model: Model) -> sp.Symbol | None:
    """The hyper-parameter a condition is best solved for (sigma2, then beta, ...).

    Parameters
    ----------
    free : collection of sympy.Symbol
        Symbols of hyper-parameters.
    model : Model
        The model.

    Returns
    -------
    sympy.Symbol or None
        The first of :func:`preference_order`, or None if there is none.

    Examples
    --------
    >>> from statvae.model.presets import LinearVAE
    >>> preferred_target({H.symbol("beta"), H.symbol("sigma2")}, LinearVAE(3, 2))
    sigma2
    """
    order = preference_order(free, model)
    return order[0] if order else None


#: The one zero tolerance of numeric inertia in statvae: an eigenvalue within ZERO_RTOL of zero, relative
#: to its block's scale (the diagonal after scaling here; the largest entry in the tracker, which runs in
#: units where the data are of size one), is a flat direction, not an ascent direction.
ZERO_RTOL = 1e-10


def scaled_eigenvalues(mats: np.ndarray) -> np.ndarray:
    """Eigenvalues of ``S B S`` with ``S = diag(|B_ii|^-1/2)`` for a stack of symmetric blocks.

    The congruence preserves the inertia (Sylvester) and removes the dynamic
    range of badly scaled blocks, so the signs are reliable; eigenvalues are
    relative to the diagonal (a zero diagonal entry is left unscaled).

    Parameters
    ----------
    mats : numpy.ndarray
        Symmetric blocks, shape ``(count, k, k)``.

    Returns
    -------
    numpy.ndarray
        Ascending eigenvalues, shape ``(count, k)``.

    Raises
    ------
    AnalysisError
        If a block has a NaN or infinite entry.
    """
    if not np.all(np.isfinite(mats)):
        from ..errors import AnalysisError

        raise AnalysisError("the Hessian blocks overflow at these values (data or hyper-parameters beyond "
                            "the floating-point range); rescale the data")
    d = np.abs(np.diagonal(mats, axis1=1, axis2=2))
    with np.errstate(divide="ignore"):
        s = np.where(d > 0, 1 / np.sqrt(d), 1.0)
    return np.linalg.eigvalsh(mats * s[:, :, None] * s[:, None, :])


def numeric_blocks_stable(mats: np.ndarray, rtol: float = ZERO_RTOL) -> np.ndarray:
    """For a stack of symmetric matrices, ``True`` where none has a positive eigenvalue.

    Eigenvalues within ``rtol`` of zero (after diagonal scaling) count as zero:
    exactly flat directions do not make collapse unstable.

    Parameters
    ----------
    mats : numpy.ndarray
        Symmetric blocks, shape ``(count, k, k)``.
    rtol : float, optional
        The zero tolerance (see :data:`ZERO_RTOL`).

    Returns
    -------
    numpy.ndarray
        Booleans, shape ``(count,)``.

    Raises
    ------
    AnalysisError
        If a block has a NaN or infinite entry.

    Examples
    --------
    >>> numeric_blocks_stable(np.array([[[-1.0, 0.0], [0.0, -2.0]], [[-1.0, 2.0], [2.0, -1.0]]]))
    array([ True, False])
    """
    return scaled_eigenvalues(mats).max(axis=1) <= rtol


def positive_counts(mats: np.ndarray, rtol: float = ZERO_RTOL) -> np.ndarray:
    """Number of positive eigenvalues (beyond ``rtol`` after scaling) of each block.

    Parameters
    ----------
    mats : numpy.ndarray
        Symmetric blocks, shape ``(count, k, k)``.
    rtol : float, optional
        The zero tolerance (see :data:`ZERO_RTOL`).

    Returns
    -------
    numpy.ndarray
        Integers, shape ``(count,)``.

    Raises
    ------
    AnalysisError
        If a block has a NaN or infinite entry.
    """
    return (scaled_eigenvalues(mats) > rtol).sum(axis=1)
