"""Matrix-form derivatives: the objective as a trace polynomial, differentiated by rule.

The symbolic layer writes the objective with matrix symbols (symbolic
sizes).  Expanded, it is a sum of three kinds of term::

    c(s) * tr(F_1 F_2 ... F_k)      F_i a parameter, data block, or transpose
    c(s) * log det D                D an encoder covariance
    c(s)                            scalars (dimensions, logs of variances)

where ``c`` depends on scalars only (hyper-parameters, a learned variance, an
isotropic encoder scale).  Derivatives follow from three rules, applied
mechanically here (sympy's own matrix calculus is not used: it is wrong for
some of these expressions, see THEORY.md section 5):

* ``d tr(A X B) / dX = (B A)^T`` for every occurrence of ``X`` (and
  ``d tr(A X^T B)/dX = B A``), by cyclic rotation of the trace;
* ``d log det D / dD = D^{-1}`` and ``d D^{-1} = -D^{-1} dD D^{-1}``;
* scalar coefficients are differentiated by sympy.

Gradients are sums of ``coefficient x matrix chain``; Hessian-vector
products replace one factor of a chain by its direction.  Nothing here is
evaluated: :mod:`statvae.numeric.codegen` turns chains into numpy code, and
:mod:`statvae.numeric.bundle` checks every matrix-form result against the
explicit-entry path on a small model before trusting it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from ..errors import StatvaeError

__all__ = ["Factor", "Term", "Contribution", "TracePolynomial", "expand_objective"]


@dataclass(frozen=True)
class Factor:
    """One matrix in a chain.

    ``name`` is a parameter (``W``), a data block (``S__x__x``), a direction
    (``dW``) or an inverse (``inv_D``); ``t`` marks a transpose.
    """

    name: str
    t: bool = False

    def transpose(self, symmetric: frozenset[str]) -> Factor:
        """The transposed factor (itself for a symmetric matrix).

        Parameters
        ----------
        symmetric : frozenset of str
            Names of symmetric matrices.

        Returns
        -------
        Factor
            The transpose.
        """
        return self if self.name in symmetric else Factor(self.name, not self.t)

    def __repr__(self) -> str:
        return self.name + ("'" if self.t else "")


def transpose_chain(chain: tuple[Factor, ...], symmetric: frozenset[str]) -> tuple[Factor, ...]:
    """The chain of the transposed product: factors reversed and transposed.

    Parameters
    ----------
    chain : tuple of Factor
        The factors, left to right.
    symmetric : frozenset of str
        Names of symmetric matrices.

    Returns
    -------
    tuple of Factor
        The chain of ``product(chain)^T``.

    Examples
    --------
    >>> transpose_chain((Factor("W"), Factor("S__x__x")), frozenset({"S__x__x"}))
    (S__x__x, W')
    """
    return tuple(f.transpose(symmetric) for f in reversed(chain))


@dataclass(frozen=True)
class Term:
    """``coef * tr(chain)`` (kind ``trace``), ``coef * log det matrix`` (``logdet``) or ``coef`` (``scalar``).

    An empty trace chain stands for an identity of size ``eye``.
    """

    coef: sp.Expr
    kind: str
    chain: tuple = ()
    matrix: str | None = None
    eye: object = None


@dataclass
class Contribution:
    """``coef * product(chain)`` (an identity of size ``eye`` if the chain is empty), or
    ``coef * trace(chain)`` when used in a scalar output."""

    coef: sp.Expr
    chain: tuple
    eye: object = None
    sign: int = 1


@dataclass
class TracePolynomial:
    """An objective as a list of :class:`Term` and the rules to differentiate it.

    Attributes
    ----------
    terms : list of Term
        The terms of the objective.
    matrices : dict
        Matrix parameter name -> shape (rows, cols), sympy dimension symbols allowed.
    scalars : list of sympy.Symbol
        Scalar parameters (learned variances, isotropic scales).
    symmetric : frozenset
        Names of symmetric matrices (data auto-covariances, encoder covariances).
    shapes : dict
        Every matrix name (parameters and data) -> shape.
    """

    terms: list
    matrices: dict
    scalars: list
    symmetric: frozenset
    shapes: dict = field(default_factory=dict)

    # -- first derivatives --------------------------------------------------
    def matrix_gradient(self, name: str) -> list[Contribution]:
        """Contributions whose sum is ``dL/dX`` for the matrix parameter ``X`` (as a full matrix).

        Parameters
        ----------
        name : str
            A matrix parameter.

        Returns
        -------
        list of Contribution
            The contributions of every term that contains ``X``.
        """
        out = []
        for term in self.terms:
            if term.kind == "trace":
                for p, f in enumerate(term.chain):
                    if f.name != name:
                        continue
                    rest = term.chain[p + 1:] + term.chain[:p]
                    if f.t or f.name in self.symmetric and False:
                        out.append(Contribution(term.coef, rest, eye=self.shapes[name][0]))
                    else:
                        out.append(Contribution(term.coef, transpose_chain(rest, self.symmetric),
                                                eye=self.shapes[name][0]))
            elif term.kind == "logdet" and term.matrix == name:
                out.append(Contribution(term.coef, (Factor("inv_" + name),), eye=None))
        return out

    def scalar_gradient(self, symbol: sp.Symbol) -> list[tuple[sp.Expr, Term]]:
        """``(d coef/d s, term)`` pairs whose sum of ``coef' * value(term)`` is ``dL/ds``.

        Parameters
        ----------
        symbol : sympy.Symbol
            A scalar parameter or hyper-parameter ``s``.

        Returns
        -------
        list of tuple
            One pair per term whose coefficient depends on ``s``.
        """
        out = []
        for term in self.terms:
            d = sp.diff(term.coef, symbol)
            if d != 0:
                out.append((d, term))
        return out

    # -- second derivatives along a direction -----------------------------------
    def chain_directional(self, chain: tuple[Factor, ...]) -> list[tuple[int, tuple[Factor, ...]]]:
        """``d/dt product(chain)(theta + t v)`` as signed chains (directions are ``d<name>``).

        Parameters
        ----------
        chain : tuple of Factor
            The factors, left to right.

        Returns
        -------
        list of tuple
            ``(sign, chain)`` pairs: one per parameter factor (replaced by its
            direction), and ``-inv_X dX inv_X`` per inverse.
        """
        out: list[tuple[int, tuple[Factor, ...]]] = []
        for q, f in enumerate(chain):
            if f.name in self.matrices:
                out.append((1, chain[:q] + (Factor("d" + f.name, f.t),) + chain[q + 1:]))
            elif f.name.startswith("inv_"):
                m = f.name[4:]
                out.append((-1, chain[:q] + (Factor(f.name), Factor("d" + m), Factor(f.name)) + chain[q + 1:]))
        return out

    def coef_directional(self, coef: sp.Expr, directions: dict[sp.Symbol, sp.Symbol]) -> sp.Expr:
        """``sum_s d coef/d s * ds`` for scalar parameters ``s``.

        Parameters
        ----------
        coef : sympy.Expr
            A coefficient.
        directions : dict
            Scalar parameter ``s`` -> the symbol ``ds`` of its direction.

        Returns
        -------
        sympy.Expr
            The directional derivative of ``coef``.
        """
        return sp.Add(*[sp.diff(coef, s) * ds for s, ds in directions.items()])


def _expand(expr: Any, symmetric: frozenset[str], names: dict[str, str]) -> list[tuple[Any, tuple[Factor, ...], Any]]:
    """Expand a matrix expression into ``[(coef, chain, eye_size)]``."""
    if isinstance(expr, sp.MatrixSymbol):
        return [(sp.Integer(1), (Factor(names[expr.name]),), None)]
    if isinstance(expr, sp.Identity):
        return [(sp.Integer(1), (), expr.rows)]
    if isinstance(expr, sp.ZeroMatrix):
        return []
    if isinstance(expr, sp.Transpose):
        return [(c, transpose_chain(ch, symmetric), e) for c, ch, e in _expand(expr.arg, symmetric, names)]
    if isinstance(expr, sp.MatAdd):
        out: list[tuple[Any, tuple[Factor, ...], Any]] = []
        for a in expr.args:
            out += _expand(a, symmetric, names)
        return out
    if isinstance(expr, sp.MatMul):
        coef = sp.Integer(1)
        items: list[tuple[Any, tuple[Factor, ...], Any]] = [(sp.Integer(1), (), None)]
        for a in expr.args:
            if not getattr(a, "is_Matrix", False):
                coef = coef * a
                continue
            new = []
            for c1, ch1, e1 in items:
                for c2, ch2, e2 in _expand(a, symmetric, names):
                    ch = ch1 + ch2
                    new.append((c1 * c2, ch, (e1 if e1 is not None else e2) if not ch else None))
            items = new
        return [(coef * c, ch, e) for c, ch, e in items]
    raise StatvaeError(f"cannot expand matrix expression of type {type(expr).__name__}: {expr}")


def expand_objective(total: sp.Expr, names: dict[str, str], symmetric: frozenset[str], shapes: dict[str, Any],
                     matrices: dict[str, Any], scalars: list[sp.Symbol]) -> TracePolynomial:
    """Turn a matrix-form objective into a :class:`TracePolynomial`.

    Parameters
    ----------
    total : sympy.Expr
        The objective built with matrix symbols.
    names : dict
        MatrixSymbol name -> internal name used in generated code.
    symmetric : frozenset
        Internal names of symmetric matrices.
    shapes, matrices, scalars
        See :class:`TracePolynomial`.

    Returns
    -------
    TracePolynomial
        The terms and the rules to differentiate them.

    Raises
    ------
    StatvaeError
        If a term is not linear in traces and log-determinants, or has a
        matrix expression that cannot be expanded.
    """
    terms = []
    for t in sp.Add.make_args(sp.expand(total)):
        coef, traces, logdets = sp.Integer(1), [], []
        for f in sp.Mul.make_args(t):
            if isinstance(f, sp.Trace):
                traces.append(f)
            elif isinstance(f, sp.log) and isinstance(f.args[0], sp.Determinant):
                logdets.append(f.args[0].arg)
            else:
                coef = coef * f
        if len(traces) + len(logdets) > 1:
            raise StatvaeError(f"term {t} is not linear in traces")
        if traces:
            for c, ch, e in _expand(traces[0].arg, symmetric, names):
                if ch:
                    terms.append(Term(coef * c, "trace", ch))
                else:
                    terms.append(Term(coef * c * e, "scalar"))
        elif logdets:
            m = logdets[0]
            if not isinstance(m, sp.MatrixSymbol):
                raise StatvaeError(f"log det of a non-symbol matrix {m}")
            terms.append(Term(coef, "logdet", matrix=names[m.name]))
        else:
            terms.append(Term(coef, "scalar"))
    return TracePolynomial(terms, matrices, scalars, symmetric, shapes)
