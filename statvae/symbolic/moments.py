"""Gaussian second-moment algebra: the exact objective of a model graph.

Under the data distribution (centred, covariance ``Sigma``) and the encoder
``q``, every latent is a linear function of its inference parents plus
independent Gaussian noise, so all variables are jointly Gaussian with
zero mean.  Their joint covariance follows in the inference order::

    Cov(z, u) = sum_p A_p Cov(p, u),   Cov(z, z) = sum_{p,p'} A_p Cov(p, p') A_p'^T + D_z

and every term of the objective is an expectation of a Gaussian
log-density, exact in these moments::

    E log N(v; sum_p M_p p, s I_d) = -d/2 log(2 pi s)
        - 1/(2 s) [tr Cov(v,v) - 2 sum_p tr(M_p Cov(p,v)) + sum_{p,p'} tr(M_p Cov(p,p') M_p'^T)]
    H[q(z|pa)] = d/2 log(2 pi e) + 1/2 log det D_z

The same code runs on explicit sympy matrices (every entry a symbol) and
on sympy matrix expressions with symbolic dimensions (used only to
*display* the objective; it is never differentiated, see THEORY.md
section 5).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sympy as sp

from ..model.vae import Model

__all__ = ["Algebra", "ExplicitAlgebra", "MatrixAlgebra", "NumpyAlgebra", "FactorTerms", "objective_terms"]


class Algebra:
    """The operations :func:`objective_terms` needs; each subclass implements them on one kind of matrix.

    Attributes
    ----------
    explicit : bool
        Whether matrices have explicit entries (False for matrix expressions of symbolic size).
    log : callable
        The logarithm of a scalar.
    pi : object
        The number pi.
    """

    explicit: bool
    log: Callable[[Any], Any]
    pi: Any

    def mm(self, a: Any, b: Any) -> Any:
        """The matrix product ``a @ b``.

        Parameters
        ----------
        a, b : matrix
            The factors.

        Returns
        -------
        matrix
            The product.
        """
        raise NotImplementedError

    def zeros(self, rows: Any, cols: Any) -> Any:
        """A zero matrix.

        Parameters
        ----------
        rows, cols : int or sympy.Expr
            Its shape.

        Returns
        -------
        matrix
            The zero matrix.
        """
        raise NotImplementedError

    def trace_product(self, a: Any, b: Any) -> Any:
        """``tr(a @ b)``.

        Parameters
        ----------
        a, b : matrix
            The factors.

        Returns
        -------
        scalar
            The trace of the product.
        """
        raise NotImplementedError

    def trace(self, a: Any) -> Any:
        """``tr(a)``.

        Parameters
        ----------
        a : matrix
            A square matrix.

        Returns
        -------
        scalar
            Its trace.
        """
        raise NotImplementedError

    def dim(self, v: Any) -> Any:
        """The dimension of a variable.

        Parameters
        ----------
        v : Variable
            A variable of the graph.

        Returns
        -------
        int or sympy.Expr
            Its dimension (a symbol for symbolic sizes).
        """
        raise NotImplementedError

    def logdet(self, d: Any, kind: str) -> Any:
        """``log det d`` of an encoder covariance.

        Parameters
        ----------
        d : matrix
            The covariance.
        kind : str
            Its kind (``"diagonal"``, ``"full"``, ``"isotropic"`` or ``"fixed"``).

        Returns
        -------
        scalar
            The log-determinant.
        """
        raise NotImplementedError

    def sqnorm(self, m: Any) -> Any:
        """The squared Frobenius norm ``||m||_F^2``.

        Parameters
        ----------
        m : matrix
            The matrix.

        Returns
        -------
        scalar
            The sum of its squared entries.
        """
        raise NotImplementedError


class ExplicitAlgebra(Algebra):
    """Operations on explicit ``sympy.Matrix`` objects."""

    explicit = True
    log = staticmethod(sp.log)
    pi = sp.pi

    @staticmethod
    def mm(a: Any, b: Any) -> Any:
        return a * b

    @staticmethod
    def zeros(rows: Any, cols: Any) -> Any:
        return sp.zeros(rows, cols)

    @staticmethod
    def trace_product(a: Any, b: Any) -> sp.Expr:  # tr(a @ b) without forming the product
        return sp.Add(*[a[i, k] * b[k, i] for i in range(a.rows) for k in range(a.cols)])

    @staticmethod
    def trace(a: Any) -> sp.Expr:
        return sp.Add(*[a[i, i] for i in range(a.rows)])

    @staticmethod
    def dim(v: Any) -> sp.Expr:
        return sp.Integer(v.dim)

    @staticmethod
    def logdet(d: Any, kind: str) -> sp.Expr:
        if kind in ("diagonal", "isotropic", "fixed"):
            return sp.Add(*[sp.log(d[j, j]) for j in range(d.rows)])
        return sp.log(sp.factor_terms(d.det(method="berkowitz")))

    @staticmethod
    def sqnorm(m: Any) -> sp.Expr:
        return sp.Add(*[e**2 for e in m])


class MatrixAlgebra(Algebra):
    """Operations on sympy matrix expressions with symbolic sizes (display only).

    Parameters
    ----------
    dims : dict
        Variable name -> its symbolic dimension.
    """

    explicit = False
    log = staticmethod(sp.log)
    pi = sp.pi

    @staticmethod
    def mm(a: Any, b: Any) -> Any:
        return a * b

    def __init__(self, dims: dict[str, sp.Expr]) -> None:
        self.dims = dims

    @staticmethod
    def zeros(rows: Any, cols: Any) -> Any:
        return sp.ZeroMatrix(rows, cols)

    @staticmethod
    def trace_product(a: Any, b: Any) -> sp.Expr:
        if isinstance(a, sp.ZeroMatrix) or isinstance(b, sp.ZeroMatrix):
            return sp.Integer(0)
        return sp.Trace(a * b)

    @staticmethod
    def trace(a: Any) -> sp.Expr:
        if isinstance(a, sp.ZeroMatrix):
            return sp.Integer(0)
        return sp.Trace(a)

    def dim(self, v: Any) -> sp.Expr:
        return self.dims[v.name]

    @staticmethod
    def logdet(d: Any, kind: str) -> sp.Expr:
        if isinstance(d, sp.MatMul) and isinstance(d.args[-1], sp.Identity):
            scale = sp.Mul(*d.args[:-1])
            return d.args[-1].rows * sp.log(scale)
        return sp.log(sp.Determinant(d))

    @staticmethod
    def sqnorm(m: Any) -> sp.Expr:
        return sp.Trace(m * m.T)


class NumpyAlgebra(Algebra):
    """Operations on numpy arrays: evaluates the same formulas numerically (observables)."""

    explicit = True
    log = staticmethod(math.log)
    pi = math.pi

    @staticmethod
    def mm(a: Any, b: Any) -> Any:
        return a @ b

    @staticmethod
    def zeros(rows: Any, cols: Any) -> Any:
        import numpy as np

        return np.zeros((rows, cols))

    @staticmethod
    def trace_product(a: Any, b: Any) -> float:
        import numpy as np

        return float(np.einsum("ij,ji->", a, b))

    @staticmethod
    def trace(a: Any) -> float:
        import numpy as np

        return float(np.trace(a))

    @staticmethod
    def dim(v: Any) -> int:
        return v.dim

    @staticmethod
    def logdet(d: Any, kind: str) -> float:
        import numpy as np

        sign, ld = np.linalg.slogdet(d)
        return ld if sign > 0 else float("nan")

    @staticmethod
    def sqnorm(m: Any) -> float:
        import numpy as np

        return float(np.sum(np.asarray(m) ** 2))


@dataclass
class FactorTerms:
    """The pieces of the objective, before they are weighted and combined.

    Attributes
    ----------
    log_p : dict
        Variable name -> ``E log p(v | pa)`` for every variable with a
        generative factor.
    entropy : dict
        Latent name -> ``H[q(z | pa)]``.
    weight_decay : sympy.Expr
        ``sum_M (eta_M / 2) ||M||_F^2``.
    covariances : dict
        ``(a, b) -> Cov(a, b)`` under data x q.
    """

    log_p: dict
    entropy: dict
    weight_decay: sp.Expr
    covariances: dict


def objective_terms(model: Model, values: dict[str, Any], observed_cov: dict[tuple[str, str], Any],
                    variances: dict[str, Any], algebra: Any,
                    weights: dict[str, Any] | None = None, hyper: dict[str, Any] | None = None) -> FactorTerms:
    """Compute every expectation in the objective.

    Parameters
    ----------
    model : Model
        The model.
    values : dict
        Block name -> matrix (maps and encoder covariances).
    observed_cov : dict
        ``(a, b) -> Cov(a, b)`` for observed variables ``a, b`` (both orders).
    variances : dict
        Variable name -> noise variance of its generative factor.
    algebra : Algebra
        The operations (:class:`ExplicitAlgebra` and :class:`NumpyAlgebra`
        may be passed as classes, :class:`MatrixAlgebra` as an instance).
    weights : dict, optional
        Variable name -> multiplicity of its (single) coordinate.  Used only
        for the collapsed objective of one-coordinate representative models,
        where every coordinate of a group contributes identically; each
        factor is a sum over the coordinates of its output variable, so it
        is multiplied by that variable's weight.
    hyper : dict, optional
        Hyper-parameter values by name (numeric evaluation); default: symbols.

    Returns
    -------
    FactorTerms
        The expectations, entropies, weight decay and joint covariances.
    """
    g = model.graph
    weights = weights or {}
    cov = dict(observed_cov)

    def get(a, b):
        if (a, b) in cov:
            return cov[(a, b)]
        if (b, a) in cov:
            return cov[(b, a)].T
        raise KeyError((a, b))

    done = [v.name for v in g.observed()]
    for name in g.inference_order():
        v = g.variable(name)
        if v.observed:
            continue
        parents = g.parents(name, "inference")
        assert v.covariance_name is not None, "validation fills in covariance_name"
        for u in done:
            acc = None
            for m in parents:
                t = algebra.mm(values[m.name], get(m.source, u))
                acc = t if acc is None else acc + t
            cov[(name, u)] = acc
        acc = values[v.covariance_name]
        for m in parents:
            for m2 in parents:
                acc = acc + algebra.mm(algebra.mm(values[m.name], get(m.source, m2.source)), values[m2.name].T)
        cov[(name, name)] = acc
        done.append(name)

    log_p, entropy = {}, {}
    for v in g.variables():
        parents = g.parents(v.name, "generative")
        if v.variance is None:
            continue
        s = variances[v.name]
        err = algebra.trace(get(v.name, v.name))
        for m in parents:
            err = err - 2 * algebra.trace_product(values[m.name], get(m.source, v.name))
            for m2 in parents:
                err = err + algebra.trace_product(algebra.mm(values[m.name], get(m.source, m2.source)),
                                                  values[m2.name].T)
        d = algebra.dim(v)
        term = -d / 2 * (algebra.log(2 * algebra.pi) + algebra.log(s)) - err / (2 * s)
        log_p[v.name] = weights.get(v.name, 1) * term
    for v in g.latents():
        assert v.covariance_name is not None and v.encoder is not None, "validation fills them in"
        d = algebra.dim(v)
        h = d / 2 * (1 + algebra.log(2 * algebra.pi)) + algebra.logdet(values[v.covariance_name], v.encoder) / 2
        entropy[v.name] = weights.get(v.name, 1) * h
    wd = sp.Integer(0) if hyper is None else 0.0
    from ..model import hyper as H

    for m in g.maps():
        if m.weight_decay is None:
            continue
        w = weights.get(m.source, 1) * weights.get(m.target, 1)
        eta = H.symbol(m.weight_decay) if hyper is None else hyper[m.weight_decay]
        wd = wd + w * eta / 2 * algebra.sqnorm(values[m.name])
    return FactorTerms(log_p, entropy, wd, cov)
