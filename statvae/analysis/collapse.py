"""Stability analysis of the collapsed point: ``model.collapse()``.

The analysis object holds the per-mode Hessian blocks (derived once per
model structure, for symbolic sizes, by :mod:`statvae.symbolic.modes`), the
model's hyper-parameter values, and answers:

* ``.blocks``: each independent block with its eigenvalues and determinant;
* ``.condition``: the stability condition as a sympy boolean (generic mode
  indices: it must hold for every ``i``, ``j``...);
* ``.criterion``: the same solved for the leading hyper-parameter, with the
  maximum over modes written out (``sigma'^2 > max_i xi_i^2 / beta``);
* ``.critical(parameter, spectrum=..., values=...)``: the critical value of any
  hyper-parameter for numeric data, a :class:`~statvae.analysis.results.CriticalResult`
  (numeric questions are answered in :mod:`statvae.analysis.thresholds`);
* ``.hessian()`` / ``.explicit_hessian()``: the full Hessian for explicit sizes,
  assembled from the blocks or derived entry by entry.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from ..arguments import merged_values, parameter_alias
from ..data.canonical import CanonicalForm
from ..data.resolve import known_values, resolve_data
from ..errors import AnalysisError, DataError, StatvaeError
from ..model import hyper as H
from ..model.graph import Variable
from ..model.vae import Model
from ..validate import check_analysis_data, check_parameter
from ..symbolic import names as NM
from ..symbolic.modes import ModeBlock, ModeStructure, assemble_hessian, mode_structure
from . import thresholds as T
from .results import BootstrapResult, CriticalResult, CrossingResult, NoiseReport
from .thresholds import Question, ask
from ..symbolic.stability import (
    Given,
    MaxOver,
    MinOver,
    BlockCondition,
    block_condition,
    numeric_blocks_stable,
    preference_order,
    preferred_target,
    solve_relational,
)

__all__ = ["CollapseAnalysis", "HessianBlock", "CriticalPoint", "CriticalResult", "CrossingResult", "Assumption",
           "analyse_collapse", "EXPLICIT_LIMIT"]

#: Largest number of map entries touching latents (``N*n`` for the plain model)
#: for which :meth:`CollapseAnalysis.explicit_hessian` runs without ``force=True``.
EXPLICIT_LIMIT = 24


def _tidy_identity(v: Any) -> Any:
    if isinstance(v, sp.MatMul) and len(v.args) == 2 and v.args[0] == 1:
        return v.args[1]
    return v


def analyse_collapse(model: Model) -> CollapseAnalysis:
    """Build the :class:`CollapseAnalysis` of ``model`` (what ``model.collapse()`` returns).

    Parameters
    ----------
    model : Model

    Returns
    -------
    CollapseAnalysis
    """
    return CollapseAnalysis(model)


@dataclass
class HessianBlock:
    """A Hessian block with the model's hyper-parameter values substituted.

    Attributes
    ----------
    pattern : tuple
        Coordinates touched, e.g. ``(("x", 1), ("z", 1))``.
    labels : list of str
        LaTeX names of the block's parameters (``W_{ij}``, ``V_{ji}``).
    matrix : sympy.Matrix
    multiplicity : sympy.Expr
        Number of copies (``N n``).
    touches_latent : bool
        Whether the block's parameters are odd under a latent sign flip
        (its instability is the instability of collapse).
    condition : BlockCondition
    """

    pattern: tuple[tuple[str, int], ...]
    labels: list[str]
    matrix: sp.Matrix
    multiplicity: sp.Expr
    touches_latent: bool
    condition: BlockCondition
    source: ModeBlock = field(repr=False)

    @property
    def determinant(self) -> sp.Expr:
        """The block's determinant, factored."""
        return sp.factor(sp.simplify(self.matrix.det()))

    @property
    def eigenvalues(self) -> dict[Any, Any]:
        """``{eigenvalue: multiplicity}`` (sympy closed forms)."""
        return {sp.simplify(k): v for k, v in self.matrix.eigenvals().items()}

    @property
    def name(self) -> str:
        """The block's parameter labels, joined."""
        return ", ".join(self.labels)

    def _repr_latex_(self) -> str:
        r"""The block, its number of copies and its stability condition as aligned displayed math, for Jupyter.

        Returns
        -------
        str
            ``$$\begin{aligned} H_{(...)} &= ... \\ H_{(...)} \prec 0 &\iff ... \end{aligned}$$``
            (``\preceq 0`` for a degenerate block).

        Examples
        --------
        >>> import statvae
        >>> print(statvae.LinearVAE(3, 2).collapse().blocks[1]._repr_latex_())
        $$\begin{aligned}
        H_{(D_{jj})} &= \left[\begin{matrix}- \frac{1}{2}\end{matrix}\right] \quad \left(n\text{ copies}\right) \\
        H_{(D_{jj})} \prec 0 &\iff \text{always}
        \end{aligned}$$
        """
        from ..symbolic.printing import aligned, expr_latex

        h = rf"H_{{({self.name})}}"
        definite = r"\preceq 0" if self.condition.degenerate else r"\prec 0"
        return aligned([(h, "=", rf"{expr_latex(self.matrix)} \quad {_copies(self.multiplicity)}"),
                        (f"{h} {definite}", r"\iff", self.condition._repr_latex_()[1:-1])])


def _copies(multiplicity: Any) -> str:
    from ..symbolic.printing import expr_latex, text

    word = text(" copy" if multiplicity == 1 else " copies")
    return rf"\left({expr_latex(multiplicity)}{word}\right)"


#: The old name of :class:`~statvae.analysis.results.CriticalResult`.
CriticalPoint = CriticalResult


@dataclass(frozen=True)
class Assumption:
    """A cross-moment of two observed variables that the per-mode condition takes to be zero.

    Attributes
    ----------
    a, b : Variable
    unless : tuple of str
        Weight decays whose vanishing would remove the assumption (a
        regression shift then makes the cross-moment zero).
    """

    a: Variable
    b: Variable
    unless: tuple[str, ...] = ()

    @property
    def equation(self) -> sp.Eq:
        """``Eq(Sigma_ab, 0)`` with a symbol printed as ``\\Sigma_{ab}``."""
        s = sp.Symbol(f"Sigma_{self.a.name}_{self.b.name}")
        NM.register_latex(s, rf"\Sigma_{{{self.a.latex}{self.b.latex}}}")
        return sp.Eq(s, 0)

    def __repr__(self) -> str:
        return f"Assumption({str(self)!r})"

    def _repr_latex_(self) -> str:
        r"""The assumption as inline math, for Jupyter (``$\Sigma_{xy} = 0$``, with the weight decays that lift it).

        Returns
        -------
        str
        """
        from ..symbolic.printing import expr_latex, hyper_latex, inline, text

        out = expr_latex(self.equation)
        if self.unless:
            out += r" \quad " + text("(or ") + " = ".join(hyper_latex(n) for n in self.unless) + " = 0" + text(")")
        return inline(out)

    def __str__(self) -> str:
        out = f"Σ_{self.a.name}{self.b.name} = 0"
        if self.unless:
            out += f" (or {' = '.join(self.unless)} = 0)"
        return out


class CollapseAnalysis:
    """Stability of the collapsed point of a linear-Gaussian VAE.

    Obtain it with ``model.collapse()``.

    Examples
    --------
    >>> import statvae
    >>> a = statvae.LinearVAE(3, 2).collapse()
    >>> a.criterion
    sigma2 > max_i(x_eig_i)
    >>> a.critical("sigma2", spectrum=[3.0, 1.7, 0.9]).value
    3.0
    >>> statvae.LinearVAE(3, 2, beta=2).collapse().critical("sigma2", spectrum=[3.0, 1.7, 0.9]).value
    1.5
    """

    def __init__(self, model: Model, structure: ModeStructure | None = None):
        self.model = model
        self._structure = structure
        self._blocks: list[HessianBlock] | None = None
        self._sub = model.substitutions()

    @property
    def structure(self) -> ModeStructure:
        """The per-mode structure (derived on first use: numeric answers for data without a canonical form
        never need it)."""
        if self._structure is None:
            self._structure = mode_structure(self.model)
        return self._structure

    @property
    def blocks(self) -> list[HessianBlock]:
        """Each independent Hessian block at collapse, with the model's values substituted."""
        if self._blocks is None:
            out = []
            for b in self.structure.blocks:
                mat = b.matrix.xreplace(self._sub).applyfunc(lambda e: sp.factor(sp.simplify(e)))
                out.append(HessianBlock(b.pattern, b.labels, mat, b.multiplicity, b.touches_latent,
                                        block_condition(mat), b))
            self._blocks = out
        return self._blocks

    @property
    def collapsed_point(self) -> dict[str, Any]:
        """Block name -> value at the collapsed point (generic sizes)."""
        return {k: _tidy_identity(v.xreplace(self._sub)) for k, v in self.structure.collapsed.items()}

    def __repr__(self) -> str:
        return f"<CollapseAnalysis of {self.model!r}: {len(self.blocks)} block types; condition {self.condition}>"

    def _repr_latex_(self) -> str:
        r"""The analysis as aligned displayed math, for Jupyter.

        The rows of ``statvae.latex(analysis, align=True)``: the collapsed point, each Hessian block
        with its number of copies, the stability criterion (:attr:`criterion`, the assumptions on the
        data it relies on included) and the critical expression of :meth:`default_parameter` where a
        closed form exists.

        Returns
        -------
        str
            ``$$\begin{aligned} ... \end{aligned}$$``.

        Examples
        --------
        >>> import statvae
        >>> s = statvae.LinearVAE(3, 2).collapse()._repr_latex_()
        >>> print("\n".join(s.splitlines()[-3:]))
        \text{stable} &\iff \sigma'^{2} > \max_{i} \xi_{i}^{2} \\
        \sigma'^{2}_{c} &= \max_{i} \xi_{i}^{2}
        \end{aligned}$$
        """
        from ..symbolic.printing import aligned, critical_latex, expr_latex

        rows: list[tuple[str, str, str]] = []
        for name, val in self.collapsed_point.items():
            rows.append((NM.block_latex(name), "=", expr_latex(val)))
        for b in self.blocks:
            rows.append((rf"H_{{({b.name})}}", "=", rf"{expr_latex(b.matrix)} \quad {_copies(b.multiplicity)}"))
        rows.append((r"\text{stable}", r"\iff", expr_latex(self.criterion)))
        try:
            t = self.default_parameter()
            rows.append((critical_latex(t), "=", expr_latex(self.critical_expression(t))))
        except StatvaeError:  # no closed form, or no hyper-parameter to solve for
            pass
        return aligned(rows)

    # -- symbolic results ---------------------------------------------------
    @property
    def latent_blocks(self) -> list[HessianBlock]:
        """Blocks whose parameters are odd under a latent flip (the collapse directions)."""
        return [b for b in self.blocks if b.touches_latent]

    @property
    def degenerate_blocks(self) -> list[HessianBlock]:
        """Blocks singular for every value of their symbols (flat directions)."""
        return [b for b in self.blocks if b.condition.degenerate]

    @property
    def assumptions(self) -> list[Assumption]:
        """What the per-mode condition assumes about the data: cross-moments that must vanish.

        The per-mode blocks hold in the canonical gauge, where observed
        variables are uncorrelated.  A regression shift removes the
        cross-moment of an output and its observed parents when every map
        that reads the output can absorb it (see
        :mod:`statvae.data.canonical`); every other pair of observed
        variables must be uncorrelated in the data.  Numeric entry points
        check this on the data they are given and use the compiled Hessian
        when it fails.

        Examples
        --------
        >>> import statvae
        >>> statvae.ConditionalVAE(1, 2, 1).collapse().assumptions
        []
        >>> [str(a) for a in statvae.ConditionalVAE(1, 2, 1, weight_decay_enc=None).collapse().assumptions]
        ['Σ_xy = 0 (or weight_decay_enc = 0)']
        """
        from ..data.canonical import shift_decays

        g = self.model.graph
        known = {n: (float(v) if v.is_number else None) for n, v in self.model.values.items()}
        obs = g.observed()
        out = []
        for i, a in enumerate(obs):
            for b in obs[i + 1:]:
                unless, removable = [], False
                for y, x in ((a.name, b.name), (b.name, a.name)):
                    d = shift_decays(g, y, x)
                    if d is None:
                        continue
                    blocking = [n for n in d if known.get(n) != 0.0]
                    if not blocking:
                        removable = True
                    unless += [n for n in blocking if n not in unless]
                if not removable:
                    out.append(Assumption(a, b, tuple(unless)))
        return out

    def _given(self, cond: Any) -> Any:
        """``cond``, stating the assumptions it relies on (see :attr:`assumptions`)."""
        eqs = [a.equation for a in self.assumptions]
        if not eqs or cond in (sp.true, sp.false):
            return cond
        return Given(cond, sp.And(*eqs) if len(eqs) > 1 else eqs[0])

    @property
    def condition(self) -> sp.Basic:
        """Collapse is a local maximum: every block negative definite.

        A sympy boolean in the generic mode symbols (``x_eig_i`` is
        ``xi_i^2``); it must hold for every mode index.  When it relies on
        uncorrelated observed variables it is wrapped in :class:`Given`
        (``.args[0]`` is the condition).
        """
        return self._given(sp.And(*[b.condition.as_boolean() for b in self.blocks]))

    @property
    def criterion(self) -> sp.Basic:
        """:attr:`condition` solved for the leading hyper-parameter, maxima over modes explicit."""
        return self.criterion_for(None)

    def criterion_for(self, parameter: str | None) -> sp.Basic:
        """:attr:`condition` solved for ``parameter`` where it can be (others as the model has them).

        For the condition on ``parameter`` with the other hyper-parameters at
        numbers, free it first: ``model.with_values(beta=None).collapse()``.

        Parameters
        ----------
        parameter : str or None
            A hyper-parameter of the model (None: the preferred one).

        Returns
        -------
        sympy.Basic

        Examples
        --------
        >>> import statvae
        >>> statvae.LinearVAE(3, 2, beta=None, sigma2=100).with_values(beta=None).collapse().criterion_for("beta")
        beta > max_i(x_eig_i/100)
        """
        if parameter is not None:
            self._target_symbol(parameter)
        rels = []
        for b in self.blocks:
            for r in b.condition.relations:
                rels.append(self._quantified(r, b, parameter))
        out = []
        for r in rels:
            if r is not sp.true and r not in out:
                out.append(r)
        return self._given(sp.And(*out) if out else sp.true)

    def _quantified(self, rel: Any, block: HessianBlock, first: str | None = None) -> Any:
        if rel in (sp.true, sp.false):
            return rel
        spectral = [s for s in rel.free_symbols if "_eig_" in s.name]
        solved = rel
        order = preference_order(rel.free_symbols, self.model)
        if first is not None and H.symbol(first) in rel.free_symbols:
            order = [H.symbol(first)] + [t for t in order if t != H.symbol(first)]
        for target in order:
            solved = solve_relational(rel, target)
            if solved is not rel:
                break
        if len(spectral) == 1 and solved is rel:  # no hyper-parameter left free: bound the spectrum instead
            on = solve_relational(rel, spectral[0])
            if on is not rel and on.lhs == spectral[0]:
                idx = sp.Symbol(spectral[0].name.split("_eig_")[1])
                if isinstance(on, (sp.StrictLessThan, sp.LessThan)):
                    return on.func(MaxOver(on.lhs, idx), on.rhs)
                return on.func(MinOver(on.lhs, idx), on.rhs)
        if not spectral or solved is rel or len(spectral) != 1:
            return solved
        idx = sp.Symbol(spectral[0].name.split("_eig_")[1])
        if isinstance(solved, (sp.StrictGreaterThan, sp.GreaterThan)):
            return solved.func(solved.lhs, MaxOver(solved.rhs, idx))
        return solved.func(solved.lhs, MinOver(solved.rhs, idx))

    def critical_expression(self, parameter: str | None = None, *, solve_for: str | None = None) -> sp.Expr:
        """Closed-form critical value of ``parameter`` for symbolic data.

        The largest (or smallest) root over modes of the block determinants,
        written with :class:`MaxOver`.

        Parameters
        ----------
        parameter : str, optional
            Default: :meth:`default_parameter`.  ``solve_for=`` is the old
            spelling (deprecated).

        Returns
        -------
        sympy.Expr

        Raises
        ------
        AnalysisError
            When no closed form is available.

        Examples
        --------
        >>> import statvae
        >>> statvae.LinearVAE(4, 2, beta=None).collapse().critical_expression("sigma2")
        max_i(x_eig_i/beta)
        """
        parameter = parameter_alias(parameter, solve_for)
        check_parameter(self.model, parameter)
        name = parameter or self.default_parameter()
        p = self._target_symbol(name)
        parts = []
        rng = random.Random(0)
        for b in self.latent_blocks:
            det = sp.numer(sp.together(b.matrix.det()))
            if p not in det.free_symbols:
                continue
            try:
                roots = sp.solve(det, p)
            except NotImplementedError:
                raise AnalysisError(f"no closed form for the critical {name}; use critical() with numeric "
                                    f"data") from None
            sample = {s: sp.Rational(rng.randint(2, 40), 7) for s in b.matrix.free_symbols if s != p}
            good = []
            for r in roots:
                v = complex(r.xreplace(sample).evalf())
                if abs(v.imag) < 1e-12 and v.real > 0:
                    good.append(sp.factor(sp.simplify(r)))
            if len(good) != 1:
                raise AnalysisError(f"no unique closed form for the critical {name} of block {b.name}")
            root = good[0]
            vr = float(root.xreplace(sample))
            f = sp.lambdify([p], b.matrix.xreplace(sample), "numpy")
            above = numeric_blocks_stable(np.array([f(vr * 1.5)], dtype=float))[0]
            spectral = sorted({s for s in root.free_symbols if "_eig_" in s.name}, key=str)
            if not spectral:
                parts.append(root)
            elif len(spectral) == 1:
                idx = sp.Symbol(spectral[0].name.split("_eig_")[1])
                parts.append(MaxOver(root, idx) if above else MinOver(root, idx))
            else:
                raise AnalysisError(f"no closed form for the critical {name}: block {b.name} mixes modes")
        if not parts:
            raise AnalysisError(f"the stability of collapse does not depend on {name}")
        return parts[0] if len(parts) == 1 else sp.Max(*parts)

    def default_parameter(self) -> str:
        """The hyper-parameter solved for by default: the first free noise variance, else KL weight.

        Returns
        -------
        str

        Raises
        ------
        AnalysisError
            If the model has no hyper-parameter.
        """
        t = preferred_target({H.symbol(n) for n in self.model.values}, self.model)
        if t is None:
            raise AnalysisError("the model has no hyper-parameter to solve for")
        return str(t.name)

    def _target_symbol(self, name: str) -> sp.Symbol:
        self.model.require_hyper(name, verb="solve for")
        return H.symbol(name)

    # -- explicit sizes -------------------------------------------------------
    def hessian(self, spectra: dict[str, Any] | None = None) -> sp.Matrix:
        """The full Hessian at the collapsed point for the model's dimensions.

        Assembled from the blocks, rows in the parameter order of
        :func:`statvae.symbolic.parameters.build_parameters`; eigenvalues are
        the ``"eigen"``-form symbols unless ``spectra`` (``{variable:
        values}``) is given.

        Parameters
        ----------
        spectra : dict, optional
            Eigenvalues per observed variable to substitute.

        Returns
        -------
        sympy.Matrix
        """
        return assemble_hessian(self.structure, self.model, spectra)

    def explicit_hessian(self, form: str = "eigen", covariance: Any = None, force: bool = False,
                         backend: str = "auto") -> tuple[dict[Any, Any], sp.Matrix, Any]:
        """Derive the collapsed point and Hessian entry by entry (small models).

        Independent of the per-mode derivation: the objective of the model
        at its real size is differentiated and the stationary equations are
        solved directly.

        Parameters
        ----------
        form : {"eigen", "explicit"}
            Data as eigenvalue symbols, or a symbolic (or given) covariance.
        covariance : sympy.Matrix, optional
            The covariance for ``form="explicit"``.
        force : bool
            Run above :data:`EXPLICIT_LIMIT`.
        backend : {"auto", "sympy", "symengine"}
            Differentiation backend.

        Returns
        -------
        tuple
            ``(point, hessian, objective)``: the collapsed point (symbol ->
            value), the Hessian there, and the :class:`Objective`.

        Raises
        ------
        AnalysisError
            If the model has more than :data:`EXPLICIT_LIMIT` latent map
            entries per map and ``force`` is false (the cost grows like the
            square of the number of parameters; see docs/performance.md).
        """
        from ..symbolic.derivatives import gradient, hessian
        from ..symbolic.objective import build_objective
        from ..symbolic.stationary import solve_stationary, verify_stationary

        size = max(self.model.graph.variable(m.source).dim * self.model.graph.variable(m.target).dim
                   for m in self.model.graph.maps())
        if size > EXPLICIT_LIMIT and not force:
            raise AnalysisError(
                f"explicit-entry Hessian of a model with {size} entries per map is slow "
                f"(limit {EXPLICIT_LIMIT}); use .hessian() (per-mode) or force=True"
            )
        obj = build_objective(self.model, form=form, covariance=covariance)
        params = obj.parameters
        assert params is not None  # the eigen and explicit forms have explicit parameters
        latents = {v.name for v in self.model.graph.latents()}
        zero = {e.symbol: 0 for e in params.latent_odd(latents)}
        rest = [s for s in params.symbols if s not in zero]
        grad = dict(zip(params.symbols, gradient(obj.total, params.symbols, backend=backend)))
        point = {**zero, **(solve_stationary(grad, rest, zero) if rest else {})}
        verify_stationary(grad, point)
        h = hessian(obj.total, params.symbols, backend=backend).xreplace(point)
        h = h.applyfunc(sp.simplify)
        return point, h, obj

    # -- numeric data ---------------------------------------------------------
    def _question(self, parameter: str | None, data: Any, spectrum: Any, covariance: Any, samples: Any, ddof: int,
                  values: dict[str, Any], center: bool = True, standardize: bool = False) -> Question:
        """Check the arguments of a numeric question, resolve the data and compile (:func:`thresholds.ask`)."""
        check_parameter(self.model, parameter)
        name = parameter or self.default_parameter()
        self._target_symbol(name)
        check_analysis_data(self.model, spectrum, covariance, samples, values, data=data, ddof=ddof)
        return ask(self, name, data, spectrum, covariance, samples, ddof, values, center, standardize)

    def data_form(self, covariance: Any = None, samples: Any = None, parameter: str | None = None, *,
                  ddof: int = 1, values: dict[str, Any] | None = None, solve_for: str | None = None,
                  center: bool = True, standardize: bool = False, **kw: Any) -> CanonicalForm:
        """The canonical form of these data for this model, and why it has none if so.

        Parameters
        ----------
        covariance, samples : array_like
            The data, once.
        parameter : str, optional
            A hyper-parameter to treat as unknown (it varies).
        ddof : int
            Degrees of freedom removed from the sample count (samples only).
        values : dict, optional
            Values of the hyper-parameters (override the model's); also as
            keywords.
        center, standardize : bool, optional
            The data options: centre samples (default), divide each feature
            by its standard deviation (see :func:`statvae.data.resolve.prepare_data`).

        Returns
        -------
        CanonicalForm
            See :func:`statvae.data.canonical.canonical_form`: when ``.valid``
            is false the per-mode closed forms do not apply to these data
            (``.describe()`` says why) and every numeric answer comes from the
            compiled Hessian instead.

        Examples
        --------
        >>> import numpy as np, statvae
        >>> a = statvae.ConditionalVAE(1, 1, 1, weight_decay_enc=0.1).collapse()
        >>> f = a.data_form(covariance=np.array([[2.0, 1.0], [1.0, 3.0]]), sigma2=1)
        >>> f.valid
        False
        """
        from ..data.canonical import canonical_form
        from ..data.resolve import prepare_data

        parameter = parameter_alias(parameter, solve_for)
        values = merged_values(values, kw)
        check_analysis_data(self.model, None, covariance, samples, values, ddof=ddof)
        if (covariance is None) == (samples is None):
            raise DataError("give the data once: a covariance or samples")
        covariance = prepare_data(covariance=covariance, samples=samples, ddof=ddof, center=center,
                                  standardize=standardize)[0]["covariance"]
        return canonical_form(self.model.graph, covariance, known_values(self.model, parameter, values))

    def spectra(self, spectrum: Any = None, covariance: Any = None, samples: Any = None, *, data: Any = None,
                ddof: int = 1, values: dict[str, Any] | None = None, center: bool = True, standardize: bool = False,
                **kw: Any) -> dict[str, Any]:
        """Eigenvalues per observed variable in the canonical gauge, validated.

        For a covariance the valid regression shifts are applied first (see
        :meth:`data_form`); if the data have no canonical form these are the
        eigenvalues of each variable's own block, which alone do not decide
        stability.

        Parameters
        ----------
        spectrum, covariance, samples, data, ddof
            The data, once (as for :meth:`critical`).
        values : dict, optional
            Values of the hyper-parameters (also as keywords).
        center, standardize : bool, optional
            The data options: centre samples (default), divide each feature
            by its standard deviation (see :func:`statvae.data.resolve.prepare_data`).

        Returns
        -------
        dict
            Observed variable name -> eigenvalues.
        """
        values = merged_values(values, kw)
        check_analysis_data(self.model, spectrum, covariance, samples, values, data=data, ddof=ddof)
        return resolve_data(self.model, data, spectrum, covariance, samples, ddof, None, values, center,
                            standardize).spectra

    def ascent_directions(self, spectrum: Any = None, covariance: Any = None, samples: Any = None, *,
                          data: Any = None, ddof: int = 1, values: dict[str, Any] | None = None,
                          center: bool = True, standardize: bool = False, **kw: Any) -> int:
        """Number of positive Hessian eigenvalues at collapse (the Morse index of the ELBO).

        From the per-mode blocks when the data have a canonical form (and
        confirmed by the compiled Hessian), else from the compiled Hessian.

        Parameters
        ----------
        spectrum, covariance, samples, data, ddof
            The data, once (as for :meth:`critical`).
        values : dict, optional
            Values of the hyper-parameters (also as keywords); every one needs
            a value.
        center, standardize : bool, optional
            The data options: centre samples (default), divide each feature
            by its standard deviation (see :func:`statvae.data.resolve.prepare_data`).

        Returns
        -------
        int
        """
        values = merged_values(values, kw)
        check_analysis_data(self.model, spectrum, covariance, samples, values, data=data, ddof=ddof)
        return T.ascent_directions(self, data, spectrum, covariance, samples, ddof, values, center, standardize)

    def stable(self, spectrum: Any = None, covariance: Any = None, samples: Any = None, *, data: Any = None,
               ddof: int = 1, values: dict[str, Any] | None = None, center: bool = True, standardize: bool = False,
               **kw: Any) -> bool:
        """Whether collapse has no ascent direction for numeric data and values (self-checked).

        Parameters
        ----------
        spectrum, covariance, samples, data, ddof, values, center, standardize
            As for :meth:`ascent_directions`.

        Returns
        -------
        bool
        """
        return self.ascent_directions(spectrum, covariance, samples, data=data, ddof=ddof, values=values,
                                      center=center, standardize=standardize, **kw) == 0

    def critical_points(self, parameter: str | None = None, spectrum: Any = None, covariance: Any = None,
                        samples: Any = None, *, data: Any = None, ddof: int = 1, values: dict[str, Any] | None = None,
                        solve_for: str | None = None, center: bool = True, standardize: bool = False,
                        **kw: Any) -> list[CriticalResult]:
        """Every value of ``parameter`` at which collapse gains or loses stability.

        The per-mode closed forms answer when the data have a canonical form
        (see :meth:`data_form`); otherwise the compiled Hessian's latent blocks
        do (:func:`statvae.analysis.find_crossings`).  Either way every value is
        confirmed by the compiled Hessian just below and above it.

        Parameters
        ----------
        parameter, spectrum, covariance, samples, data, ddof, values, center, standardize
            As for :meth:`critical`.

        Returns
        -------
        list of CriticalResult
            Sorted by value.
        """
        q = self._question(parameter_alias(parameter, solve_for), data, spectrum, covariance, samples, ddof,
                           merged_values(values, kw), center, standardize)
        return T.critical_points(q)

    def crossings(self, parameter: str | None = None, spectrum: Any = None, covariance: Any = None,
                  samples: Any = None, *, data: Any = None, ddof: int = 1, values: dict[str, Any] | None = None,
                  solve_for: str | None = None, center: bool = True, standardize: bool = False,
                  **kw: Any) -> list[CrossingResult]:
        """Every value of ``parameter`` where a Hessian eigenvalue at collapse crosses zero.

        These are the branch points of the collapsed branch.  The kernel
        dimension of each counts the latent copies of each crossing block and
        coinciding modes (repeated eigenvalues).  Each is confirmed by the
        compiled Hessian.

        Parameters
        ----------
        parameter, spectrum, covariance, samples, data, ddof, values, center, standardize
            As for :meth:`critical`.

        Returns
        -------
        list of CrossingResult
            Sorted by value.
        """
        q = self._question(parameter_alias(parameter, solve_for), data, spectrum, covariance, samples, ddof,
                           merged_values(values, kw), center, standardize)
        return T.crossings(q)

    def critical(self, parameter: str | None = None, spectrum: Any = None, covariance: Any = None,
                 samples: Any = None, *, data: Any = None, ddof: int = 1, values: dict[str, Any] | None = None,
                 solve_for: str | None = None, center: bool = True, standardize: bool = False,
                 **kw: Any) -> CriticalResult:
        """Critical value of one hyper-parameter where collapse loses stability.

        Parameters
        ----------
        parameter : str, optional
            A hyper-parameter of the model (``"sigma2"``, ``"beta"``,
            ``"weight_decay_enc"``...).  Default: the first free noise
            variance, else the first KL weight (``sigma2``, else ``beta``).
            ``solve_for=`` is the old spelling (deprecated).
        spectrum : array_like or dict, optional
            Eigenvalues of the data covariance in the canonical gauge (for
            several observed variables: ``{"x": ..., "y": ...}``, or their
            concatenation in graph order; they are then taken as
            uncorrelated).
        covariance : array_like, optional
            The joint second moment of the observed variables instead (any
            basis; rotated and regressed internally where that is a symmetry,
            otherwise analysed through the compiled Hessian).
        samples : array_like, optional
            Samples (rows) whose covariance is used.
        data : array_like, optional
            Any of the three, recognised by shape (1-D: spectrum; square
            symmetric: covariance; else samples), as for :func:`statvae.track`.
        ddof : int
            Degrees of freedom removed from the sample count (samples only).
        values : dict, optional
            Values of the other hyper-parameters (override the model's); they
            may also be given as keywords (``sigma2=1.0``).
        center : bool, optional
            Centre samples (default); ``False`` analyses their second moment
            about zero.  Refused for a spectrum or a covariance.
        standardize : bool, optional
            Divide each feature of samples by its standard deviation (a
            covariance: analyse its correlation matrix), so the value does not
            depend on the features' units.  For a bootstrap interval see
            :meth:`bootstrap_critical`.

        Returns
        -------
        CriticalResult
            The value with its parameter, stable side, method, block,
            assumptions, bracket and status (``float(result)`` is the value).

        Raises
        ------
        AnalysisError
            If collapse is stable (or unstable) for every value, the stable
            set has several boundaries (see :meth:`critical_points`), or the
            self-check against the compiled Hessian fails.

        Examples
        --------
        >>> import statvae
        >>> r = statvae.LinearVAE(3, 2, beta=2).collapse().critical("sigma2", spectrum=[3.0, 1.7, 0.9])
        >>> r.value, r.stable_side
        (1.5, 'above')
        """
        pts = self.critical_points(parameter_alias(parameter, solve_for), spectrum, covariance, samples, data=data,
                                   ddof=ddof, values=values, center=center, standardize=standardize, **kw)
        if len(pts) > 1:
            desc = ", ".join(f"{c.value:.6g} (stable {c.stable_side})" for c in pts)
            raise AnalysisError(f"collapse changes stability at several values of {pts[0].parameter}: {desc}")
        return pts[0]

    # -- finite samples -------------------------------------------------------
    def bootstrap_critical(self, parameter: str | None = None, samples: Any = None, *, data: Any = None,
                           bootstrap: int = 200, seed: Any = 0, confidence: float = 0.95, method: str = "percentile",
                           ddof: int = 1, center: bool = True, standardize: bool = False,
                           values: dict[str, Any] | None = None, solve_for: str | None = None,
                           **kw: Any) -> BootstrapResult:
        """The critical value for samples with a seeded bootstrap confidence interval.

        See :func:`statvae.analysis.finite.bootstrap_critical`.

        Parameters
        ----------
        parameter : str, optional
            As for :meth:`critical`.
        samples : array_like
            Rows are samples (``data=`` recognised as samples works too).
        bootstrap : int
            Number of resamples (>= 2).
        seed : int, optional
            Seed of the resampling (default 0).
        confidence : float
            Nominal coverage of the interval (default 0.95).
        method : {"percentile", "basic"}
            The interval.
        ddof, center, standardize
            The data options, applied to every resample alike.
        values : dict, optional
            Values of the other hyper-parameters (also as keywords).

        Returns
        -------
        BootstrapResult
        """
        from .finite import bootstrap_critical

        values = merged_values(values, kw)
        check_parameter(self.model, parameter_alias(parameter, solve_for))
        check_analysis_data(self.model, None, None, samples, values, data=data, ddof=ddof)
        return bootstrap_critical(self, parameter_alias(parameter, solve_for), samples, data=data,
                                  bootstrap=bootstrap, seed=seed, confidence=confidence, method=method, ddof=ddof,
                                  center=center, standardize=standardize, values=values)

    def noise_report(self, samples: Any = None, *, data: Any = None, noise_variance: float | None = None,
                     estimator: str = "median", ddof: int = 1, center: bool = True, standardize: bool = False,
                     values: dict[str, Any] | None = None, **kw: Any) -> NoiseReport:
        """Active directions at these values above and below the noise edge of the samples.

        See :func:`statvae.analysis.finite.noise_report`.

        Parameters
        ----------
        samples : array_like
            Rows are samples (``data=`` recognised as samples works too).
        noise_variance : float, optional
            The noise variance (in the units analysed); estimated when omitted.
        estimator : {"median", "bulk"}
            Its estimator.
        ddof, center, standardize
            The data options.
        values : dict, optional
            Hyper-parameter values (also as keywords); every one needs a value.

        Returns
        -------
        NoiseReport
        """
        from .finite import noise_report

        values = merged_values(values, kw)
        check_analysis_data(self.model, None, None, samples, values, data=data, ddof=ddof)
        return noise_report(self, samples, data=data, noise_variance=noise_variance, estimator=estimator, ddof=ddof,
                            center=center, standardize=standardize, values=values)

