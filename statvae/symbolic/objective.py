"""The exact symbolic objective of a model, in several forms.

Forms
-----
``"eigen"``
    Data covariance diagonal, ``diag(xi_1^2, ..., xi_N^2)`` per observed
    variable.  The objective is invariant under rotations of each observed
    variable, so for the plain and hierarchical models this is general.
    For a conditional model the ``y`` symbols are the eigenvalues of the
    residual covariance ``Sigma_{y|x}`` and ``x`` and ``y`` are uncorrelated
    (the canonical gauge ``y -> y - C* x``, see ``docs/theory.md``).
``"explicit"``
    Every entry ``Sigma_ab`` of the joint covariance of the observed
    variables is a symbol.
``"matrix"``
    Matrix expressions with symbolic dimensions (``N``, ``n``), for display
    and LaTeX only.
``covariance=array``
    A numeric covariance (validated: symmetric positive semi-definite).

The objective (maximised) is::

    L = sum_{observed v} E log p(v|pa) - sum_{latent z} beta_z KL_z - weight decay,
    KL_z = -(E log p(z|pa) + H[q(z|pa)])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from ..errors import DataError, ModelError
from ..model import hyper as H
from ..model.vae import Model
from .moments import ExplicitAlgebra, MatrixAlgebra, objective_terms
from .names import block_latex, dim_symbol, register_latex, spectral_symbol
from .parameters import ParameterSet, build_parameters, variance_of

__all__ = ["Objective", "build_objective", "observed_covariance_blocks"]

FORMS = ("eigen", "explicit", "matrix")


@dataclass
class Objective:
    """An exact symbolic objective.

    Attributes
    ----------
    model : Model
        The model.
    form : str
        ``"eigen"``, ``"explicit"``, ``"matrix"`` or ``"numeric"``.
    total : sympy.Expr
        The objective ``L`` (maximised).
    terms : dict
        ``"reconstruction"``, one ``"kl"`` entry per latent (``"kl"`` for a
        single latent, ``"kl_z1"``, ``"kl_z2"`` otherwise) and
        ``"weight_decay"``; ``total = reconstruction - sum beta KL - weight_decay``.
    parameters : ParameterSet or None
        Explicit-entry parameters (``None`` for the matrix form).
    data_symbols : list of sympy.Symbol
        Symbols standing for the data (eigenvalues or covariance entries).
    covariance : sympy.Matrix or None
        Joint covariance of the observed variables used.
    kl : dict
        Latent name -> its KL term (unweighted).
    """

    model: Model
    form: str
    total: sp.Expr
    terms: dict
    parameters: ParameterSet | None
    data_symbols: list
    covariance: Any
    kl: dict = field(default_factory=dict)

    @property
    def symbols(self) -> list:
        """Free parameters in the documented flat order."""
        if self.parameters is None:
            raise ModelError("the matrix form has no explicit parameters; use form='eigen' or 'explicit'")
        return self.parameters.symbols

    def gradient(self, backend: str = "auto") -> sp.Matrix:
        """Gradient with respect to :attr:`symbols` (a column Matrix).

        Parameters
        ----------
        backend : {"auto", "sympy", "symengine"}, optional
            Who differentiates (see :func:`statvae.symbolic.derivatives.resolve_backend`).

        Returns
        -------
        sympy.Matrix
            One row per parameter.

        Raises
        ------
        ModelError
            For the matrix form (it has no explicit parameters).
        """
        from .derivatives import gradient

        return gradient(self.total, self.symbols, backend=backend)

    def hessian(self, backend: str = "auto") -> sp.Matrix:
        """Hessian with respect to :attr:`symbols` (symmetric Matrix).

        Parameters
        ----------
        backend : {"auto", "sympy", "symengine"}, optional
            Who differentiates (see :func:`statvae.symbolic.derivatives.resolve_backend`).

        Returns
        -------
        sympy.Matrix
            Square, one row and column per parameter.

        Raises
        ------
        ModelError
            For the matrix form (it has no explicit parameters).
        """
        from .derivatives import hessian

        return hessian(self.total, self.symbols, backend=backend)

    def stationary_equations(self, backend: str = "auto") -> list[sp.Eq]:
        """``[Eq(dL/dtheta_k, 0), ...]`` for every free parameter.

        Parameters
        ----------
        backend : {"auto", "sympy", "symengine"}, optional
            Who differentiates (see :func:`statvae.symbolic.derivatives.resolve_backend`).

        Returns
        -------
        list of sympy.Eq
            One equation per parameter, in :attr:`symbols` order.

        Raises
        ------
        ModelError
            For the matrix form (it has no explicit parameters).
        """
        return [sp.Eq(g, 0) for g in self.gradient(backend=backend)]

    def substitute(self, mapping: dict[Any, Any]) -> Objective:
        """The same objective with symbols replaced (e.g. hyper-parameter values).

        Parameters
        ----------
        mapping : dict
            Symbol -> replacement (``xreplace``: exact matches only).

        Returns
        -------
        Objective
            A new objective; the parameters, data symbols and covariance are shared.
        """
        sub = lambda e: e.xreplace(mapping) if hasattr(e, "xreplace") else e
        return Objective(self.model, self.form, sub(self.total), {k: sub(v) for k, v in self.terms.items()},
                         self.parameters, self.data_symbols, self.covariance, {k: sub(v) for k, v in self.kl.items()})

    def __repr__(self) -> str:
        n = "symbolic" if self.parameters is None else len(self.parameters)
        return f"<Objective {self.form} of {self.model!r}; {n} parameters>"

    def _repr_latex_(self) -> str | None:
        r"""The objective and its terms as aligned displayed math, for Jupyter.

        The LaTeX is :func:`statvae.latex`'s (``statvae.latex(objective, align=True)``), one row per
        term.  An objective whose LaTeX exceeds :data:`~statvae.symbolic.printing.DISPLAY_LIMIT`
        characters (explicit entries of a large model) returns ``None``, and the notebook shows the
        plain repr; the matrix form (``model.objective(form="matrix")``) reads best.

        Returns
        -------
        str or None
            ``$$\begin{aligned} ... \end{aligned}$$``.

        Examples
        --------
        >>> import statvae
        >>> s = statvae.LinearVAE(3, 2).objective(form="matrix")._repr_latex_()
        >>> s.startswith(r"$$\begin{aligned}"), r"\mathrm{KL} &=" in s, s.endswith(r"\end{aligned}$$")
        (True, True, True)
        """
        from .printing import DISPLAY_LIMIT, aligned, expr_latex, term_latex

        rows = [(r"\mathcal{L}", expr_latex(self.total))]
        rows += [(term_latex(name), expr_latex(term)) for name, term in self.terms.items()]
        out = aligned(rows)
        return out if len(out) <= DISPLAY_LIMIT else None


def observed_covariance_blocks(model: Model, cov: sp.Matrix) -> dict[tuple[str, str], sp.ImmutableMatrix]:
    """Split a joint covariance (observed variables in graph order) into blocks.

    Parameters
    ----------
    model : Model
        The model.
    cov : sympy.Matrix
        Joint covariance of its observed variables, in graph order.

    Returns
    -------
    dict
        ``(a, b)`` -> the block of rows of ``a`` and columns of ``b``, for every pair of observed variables.

    Raises
    ------
    DataError
        If ``cov`` is not of the observed variables' total size.
    """
    obs = model.graph.observed()
    offsets, k = {}, 0
    for v in obs:
        offsets[v.name] = (k, k + v.dim)
        k += v.dim
    if cov.shape != (k, k):
        raise DataError(f"covariance must be {k}x{k} for this model, got {cov.shape[0]}x{cov.shape[1]}")
    out = {}
    for a in obs:
        for b in obs:
            (a0, a1), (b0, b1) = offsets[a.name], offsets[b.name]
            out[(a.name, b.name)] = sp.ImmutableMatrix(cov[a0:a1, b0:b1])
    return out


def _eigen_covariance(model: Model):
    diag, syms = [], []
    for v in model.graph.observed():
        for i in range(v.dim):
            s = spectral_symbol(v, i + 1)
            diag.append(s)
            syms.append(s)
    return sp.diag(*diag), syms


def _explicit_covariance(model: Model):
    k = sum(v.dim for v in model.graph.observed())
    m = sp.zeros(k, k)
    syms = []
    for a in range(k):
        for b in range(a, k):
            name = f"Sigma_{a + 1}_{b + 1}"
            s = sp.Symbol(name, positive=True) if a == b else sp.Symbol(name, real=True)
            register_latex(s, rf"\Sigma_{{{a + 1}{b + 1}}}" if k < 10 else rf"\Sigma_{{{a + 1},{b + 1}}}")
            m[a, b] = m[b, a] = s
            syms.append(s)
    return m, syms


def _numeric_covariance(model: Model, covariance):
    from ..data.spectra import validate_covariance

    c = validate_covariance(covariance)
    k = sum(v.dim for v in model.graph.observed())
    if c.shape[0] != k:
        raise DataError(f"covariance must be {k}x{k} for this model, got {c.shape[0]}x{c.shape[1]}")
    return sp.Matrix(c.tolist()), []


def build_objective(model: Model, form: str = "eigen", covariance: Any = None, substitute: bool = True,
                    weights: dict | None = None) -> Objective:
    """Build the exact objective of ``model``.

    Parameters
    ----------
    model : Model
        The model.
    form : {"eigen", "explicit", "matrix"}
        See the module docstring.  Ignored when ``covariance`` is given.
    covariance : array_like, optional
        A numeric joint covariance of the observed variables.
    substitute : bool
        Replace hyper-parameter symbols by the model's values.
    weights : dict, optional
        Coordinate multiplicities (internal; see
        :func:`statvae.symbolic.moments.objective_terms`).

    Returns
    -------
    Objective
        The objective and its terms.

    Raises
    ------
    ModelError
        For an unknown form.
    DataError
        For an invalid covariance.

    Examples
    --------
    >>> import statvae
    >>> obj = statvae.LinearVAE(1, 1).objective()
    >>> obj.symbols
    [W_1_1, V_1_1, D_1_1]
    >>> obj.terms["kl"].subs({obj.symbols[1]: 0, obj.symbols[2]: 1})
    0
    """
    if covariance is None and form not in FORMS:
        raise ModelError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
    g = model.graph
    if covariance is None and form == "matrix":
        return _matrix_objective(model, substitute)
    params = build_parameters(model)
    if covariance is not None:
        cov, data_syms = _numeric_covariance(model, covariance)
        form = "numeric"
    elif form == "eigen":
        cov, data_syms = _eigen_covariance(model)
    else:
        cov, data_syms = _explicit_covariance(model)
    values = {name: b.value for name, b in params.blocks.items() if b.kind != "variance"}
    variances = {v.name: variance_of(model, params, v) for v in g.variables() if v.variance is not None}
    t = objective_terms(model, values, observed_covariance_blocks(model, cov), variances, ExplicitAlgebra, weights)
    obj = _combine(model, form, t, params, data_syms, cov)
    return obj.substitute(model.substitutions()) if substitute else obj


def _combine(model, form, t, params, data_syms, cov) -> Objective:
    g = model.graph
    recon = sp.Add(*[t.log_p[v.name] for v in g.observed() if v.name in t.log_p])
    lat = g.latents()
    kl = {z.name: -(t.log_p[z.name] + t.entropy[z.name]) for z in lat}
    terms = {"reconstruction": recon}
    for z in lat:
        terms["kl" if len(lat) == 1 else f"kl_{z.name}"] = kl[z.name]
    terms["weight_decay"] = t.weight_decay
    total = recon - sp.Add(*[H.symbol(z.beta) * kl[z.name] for z in lat]) - t.weight_decay
    return Objective(model, form, total, terms, params, data_syms, cov, kl)


def _matrix_objective(model: Model, substitute: bool) -> Objective:
    g = model.graph
    dims = {v.name: dim_symbol(v) for v in g.variables()}
    obs = g.observed()
    blocks: dict[tuple[str, str], Any] = {}
    for a in obs:
        for b in obs:
            if a.name == b.name:
                name = r"\Sigma" if len(obs) == 1 else rf"\Sigma_{{{a.name}{a.name}}}"
            else:
                name = rf"\Sigma_{{{a.name}{b.name}}}"
            if (b.name, a.name) in blocks:
                blocks[(a.name, b.name)] = blocks[(b.name, a.name)].T
            else:
                blocks[(a.name, b.name)] = sp.MatrixSymbol(name, dims[a.name], dims[b.name])
    values = {}
    for m in g.maps():
        values[m.name] = sp.MatrixSymbol(block_latex(m.name), dims[m.target], dims[m.source])
    for z in g.latents():
        n = dims[z.name]
        assert z.covariance_name is not None, "validation fills in covariance_name"
        if z.encoder in ("diagonal", "full"):
            values[z.covariance_name] = sp.MatrixSymbol(block_latex(z.covariance_name), n, n)
        elif z.encoder == "isotropic":
            from .parameters import scale_symbol

            values[z.covariance_name] = scale_symbol(z) * sp.Identity(n)
        else:
            assert z.encoder_variance is not None, "validation fills in encoder_variance of a fixed encoder"
            values[z.covariance_name] = H.symbol(z.encoder_variance) * sp.Identity(n)
    variances = {}
    for v in g.variables():
        if v.variance == "learned":
            from .parameters import learned_variance_symbol

            variances[v.name] = learned_variance_symbol(g, v)
        elif v.variance is not None:
            variances[v.name] = H.symbol(v.variance)
    t = objective_terms(model, values, blocks, variances, MatrixAlgebra(dims))
    obj = _combine(model, "matrix", t, None, [], None)
    # tidy the constants: the log(2 pi) of the prior and of the entropy cancel
    c = sp.Dummy("c")
    tidy = lambda e: sp.expand(e.xreplace({sp.log(2 * sp.pi): c})).xreplace({c: sp.log(2 * sp.pi)})
    obj = Objective(obj.model, obj.form, tidy(obj.total), {k: tidy(v) for k, v in obj.terms.items()}, None, [], None,
                    {k: tidy(v) for k, v in obj.kl.items()})
    return obj.substitute(model.substitutions()) if substitute else obj
