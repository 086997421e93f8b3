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
from dataclasses import dataclass

import sympy as sp

from ..model.vae import Model

__all__ = ["ExplicitAlgebra", "MatrixAlgebra", "NumpyAlgebra", "FactorTerms", "objective_terms"]


class ExplicitAlgebra:
    """Operations on explicit ``sympy.Matrix`` objects."""

    explicit = True
    log = staticmethod(sp.log)
    pi = sp.pi

    @staticmethod
    def mm(a, b):
        return a * b

    @staticmethod
    def zeros(rows, cols):
        return sp.zeros(rows, cols)

    @staticmethod
    def trace_product(a, b) -> sp.Expr:
        """``tr(a @ b)`` without forming the product."""
        return sp.Add(*[a[i, k] * b[k, i] for i in range(a.rows) for k in range(a.cols)])

    @staticmethod
    def trace(a) -> sp.Expr:
        return sp.Add(*[a[i, i] for i in range(a.rows)])

    @staticmethod
    def dim(v) -> sp.Expr:
        return sp.Integer(v.dim)

    @staticmethod
    def logdet(d, kind: str) -> sp.Expr:
        if kind in ("diagonal", "isotropic", "fixed"):
            return sp.Add(*[sp.log(d[j, j]) for j in range(d.rows)])
        return sp.log(sp.factor_terms(d.det(method="berkowitz")))

    @staticmethod
    def sqnorm(m) -> sp.Expr:
        return sp.Add(*[e**2 for e in m])


class MatrixAlgebra:
    """Operations on sympy matrix expressions with symbolic sizes (display only)."""

    explicit = False
    log = staticmethod(sp.log)
    pi = sp.pi

    @staticmethod
    def mm(a, b):
        return a * b

    def __init__(self, dims: dict):
        self.dims = dims

    @staticmethod
    def zeros(rows, cols):
        return sp.ZeroMatrix(rows, cols)

    @staticmethod
    def trace_product(a, b) -> sp.Expr:
        if isinstance(a, sp.ZeroMatrix) or isinstance(b, sp.ZeroMatrix):
            return sp.Integer(0)
        return sp.Trace(a * b)

    @staticmethod
    def trace(a) -> sp.Expr:
        if isinstance(a, sp.ZeroMatrix):
            return sp.Integer(0)
        return sp.Trace(a)

    def dim(self, v) -> sp.Expr:
        return self.dims[v.name]

    @staticmethod
    def logdet(d, kind: str) -> sp.Expr:
        if isinstance(d, sp.MatMul) and isinstance(d.args[-1], sp.Identity):
            scale = sp.Mul(*d.args[:-1])
            return d.args[-1].rows * sp.log(scale)
        return sp.log(sp.Determinant(d))

    @staticmethod
    def sqnorm(m) -> sp.Expr:
        return sp.Trace(m * m.T)


class NumpyAlgebra:
    """Operations on numpy arrays: evaluates the same formulas numerically (observables)."""

    explicit = True
    log = staticmethod(math.log)
    pi = math.pi

    @staticmethod
    def mm(a, b):
        return a @ b

    @staticmethod
    def zeros(rows, cols):
        import numpy as np

        return np.zeros((rows, cols))

    @staticmethod
    def trace_product(a, b):
        import numpy as np

        return float(np.einsum("ij,ji->", a, b))

    @staticmethod
    def trace(a):
        import numpy as np

        return float(np.trace(a))

    @staticmethod
    def dim(v):
        return v.dim

    @staticmethod
    def logdet(d, kind: str):
        import numpy as np

        sign, ld = np.linalg.slogdet(d)
        return ld if sign > 0 else float("nan")

    @staticmethod
    def sqnorm(m):
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


def objective_terms(model: Model, values: dict, observed_cov: dict, variances: dict, algebra,
                    weights: dict | None = None, hyper: dict | None = None) -> FactorTerms:
    """Compute every expectation in the objective.

    Parameters
    ----------
    model : Model
    values : dict
        Block name -> matrix (maps and encoder covariances).
    observed_cov : dict
        ``(a, b) -> Cov(a, b)`` for observed variables ``a, b`` (both orders).
    variances : dict
        Variable name -> noise variance of its generative factor.
    algebra : ExplicitAlgebra or MatrixAlgebra
    weights : dict, optional
        Variable name -> multiplicity of its (single) coordinate.  Used only
        for the collapsed objective of one-coordinate representative models,
        where every coordinate of a group contributes identically; each
        factor is a sum over the coordinates of its output variable, so it
        is multiplied by that variable's weight.
    hyper : dict, optional
        Hyper-parameter values by name (numeric evaluation); default: symbols.
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
