"""Stability analysis of the collapsed point: ``model.collapse()``.

The analysis object holds the per-mode Hessian blocks (derived once per
model structure, for symbolic sizes, by :mod:`statvae.symbolic.modes`), the
model's hyper-parameter values, and answers:

* ``.blocks``: each independent block with its eigenvalues and determinant;
* ``.condition``: the stability condition as a sympy boolean (generic mode
  indices: it must hold for every ``i``, ``j``...);
* ``.criterion``: the same solved for the leading hyper-parameter, with the
  maximum over modes written out (``sigma'^2 > max_i xi_i^2 / beta``);
* ``.critical(solve_for, spectrum=..., **values)``: the critical value of any
  hyper-parameter for numeric data;
* ``.hessian()`` / ``.explicit_hessian()``: the full Hessian for explicit sizes,
  assembled from the blocks or derived entry by entry.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from itertools import combinations, product

import numpy as np
import sympy as sp

from ..errors import AnalysisError, DataError, ModelError
from ..model import hyper as H
from ..data.resolve import known_values, spectrum_dict
from ..model.vae import Model
from ..validate import check_analysis_data, check_solve_for
from ..symbolic import names as NM
from ..symbolic.modes import ModeBlock, ModeStructure, assemble_hessian, mode_structure
from ..symbolic.stability import (
    Given,
    MaxOver,
    MinOver,
    BlockCondition,
    block_condition,
    numeric_blocks_stable,
    positive_counts,
    scaled_eigenvalues,
    preference_order,
    preferred_target,
    solve_relational,
)

__all__ = ["CollapseAnalysis", "HessianBlock", "CriticalPoint", "Assumption", "analyse_collapse", "EXPLICIT_LIMIT"]

#: Largest number of map entries touching latents (``N*n`` for the plain model)
#: for which :meth:`CollapseAnalysis.explicit_hessian` runs without ``force=True``.
EXPLICIT_LIMIT = 24


def _tidy_identity(v):
    if isinstance(v, sp.MatMul) and len(v.args) == 2 and v.args[0] == 1:
        return v.args[1]
    return v


def analyse_collapse(model: Model) -> CollapseAnalysis:
    """Build the :class:`CollapseAnalysis` of ``model``."""
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

    pattern: tuple
    labels: list
    matrix: sp.Matrix
    multiplicity: sp.Expr
    touches_latent: bool
    condition: BlockCondition
    source: ModeBlock = field(repr=False)

    @property
    def determinant(self) -> sp.Expr:
        return sp.factor(sp.simplify(self.matrix.det()))

    @property
    def eigenvalues(self) -> dict:
        """``{eigenvalue: multiplicity}`` (sympy closed forms)."""
        return {sp.simplify(k): v for k, v in self.matrix.eigenvals().items()}

    @property
    def name(self) -> str:
        return ", ".join(self.labels)


@dataclass
class CriticalPoint:
    """A value of a hyper-parameter where collapse gains or loses stability.

    Attributes
    ----------
    parameter : str
    value : float
    stable_side : str
        ``"above"`` if collapse is stable just above ``value``, ``"below"`` if
        just below.
    block : str
        Labels of the block whose eigenvalue crosses zero.
    mode : dict
        Which coordinates (0-based, per observed variable) carry the crossing.
    method : str
        ``"closed form"`` or ``"bracketed root"``.
    """

    parameter: str
    value: float
    stable_side: str
    block: str
    mode: dict
    method: str


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

    a: object
    b: object
    unless: tuple = ()

    @property
    def equation(self) -> sp.Eq:
        """``Eq(Sigma_ab, 0)`` with a symbol printed as ``\\Sigma_{ab}``."""
        s = sp.Symbol(f"Sigma_{self.a.name}_{self.b.name}")
        NM.register_latex(s, rf"\Sigma_{{{self.a.latex}{self.b.latex}}}")
        return sp.Eq(s, 0)

    def __repr__(self) -> str:
        return f"Assumption({str(self)!r})"

    def __str__(self) -> str:
        out = f"Σ_{self.a.name}{self.b.name} = 0"
        if self.unless:
            out += f" (or {' = '.join(self.unless)} = 0)"
        return out


@dataclass
class _Data:
    """Data resolved for one analysis: canonical spectra, and the canonical form when a covariance was given."""

    given_spectra: dict | None
    form: object = None

    @property
    def canonical(self) -> bool:
        return self.form is None or self.form.valid

    @property
    def spectra(self) -> dict:
        return self.given_spectra if self.given_spectra is not None else self.form.spectra


class CollapseAnalysis:
    """Stability of the collapsed point of a linear-Gaussian VAE.

    Obtain it with ``model.collapse()``.

    Examples
    --------
    >>> import statvae
    >>> a = statvae.LinearVAE(3, 2).collapse()
    >>> a.criterion
    sigma2 > max_i(x_eig_i)
    >>> a.critical("sigma2", spectrum=[3.0, 1.7, 0.9])
    3.0
    >>> statvae.LinearVAE(3, 2, beta=2).collapse().critical("sigma2", spectrum=[3.0, 1.7, 0.9])
    1.5
    """

    def __init__(self, model: Model, structure: ModeStructure | None = None):
        self.model = model
        self._structure = structure
        self._blocks = None
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
    def collapsed_point(self) -> dict:
        """Block name -> value at the collapsed point (generic sizes)."""
        return {k: _tidy_identity(v.xreplace(self._sub)) for k, v in self.structure.collapsed.items()}

    def __repr__(self) -> str:
        return f"<CollapseAnalysis of {self.model!r}: {len(self.blocks)} block types; condition {self.condition}>"

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

    def _given(self, cond):
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

    def criterion_for(self, name: str | None) -> sp.Basic:
        """:attr:`condition` solved for hyper-parameter ``name`` where it can be (others as the model has them).

        For the condition on ``name`` with the other hyper-parameters at
        numbers, free ``name`` first: ``model.with_values(name=None).collapse()``.

        Examples
        --------
        >>> import statvae
        >>> statvae.LinearVAE(3, 2, beta=None, sigma2=100).with_values(beta=None).collapse().criterion_for("beta")
        beta > max_i(x_eig_i/100)
        """
        if name is not None:
            self._target_symbol(name)
        rels = []
        for b in self.blocks:
            for r in b.condition.relations:
                rels.append(self._quantified(r, b, name))
        out = []
        for r in rels:
            if r is not sp.true and r not in out:
                out.append(r)
        return self._given(sp.And(*out) if out else sp.true)

    def _quantified(self, rel, block: HessianBlock, first: str | None = None):
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

    def critical_expression(self, solve_for: str | None = None) -> sp.Expr:
        """Closed-form critical value of ``solve_for`` for symbolic data.

        The largest (or smallest) root over modes of the block determinants,
        written with :class:`MaxOver`.  Raises :class:`AnalysisError` when no
        closed form is available.

        Examples
        --------
        >>> import statvae
        >>> statvae.LinearVAE(4, 2, beta=None).collapse().critical_expression("sigma2")
        max_i(x_eig_i/beta)
        """
        check_solve_for(self.model, solve_for)
        name = solve_for or self._default_target()
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

    def _default_target(self) -> str:
        t = preferred_target({H.symbol(n) for n in self.model.values}, self.model)
        if t is None:
            raise AnalysisError("the model has no hyper-parameter to solve for")
        return t.name

    def _target_symbol(self, name: str) -> sp.Symbol:
        if name not in self.model.values:
            raise ModelError(
                f"cannot solve for {name!r}: not a hyper-parameter of this model "
                f"(its hyper-parameters are: {', '.join(self.model.values)})"
            )
        return H.symbol(name)

    # -- explicit sizes -------------------------------------------------------
    def hessian(self, spectra: dict | None = None) -> sp.Matrix:
        """The full Hessian at the collapsed point for the model's dimensions.

        Assembled from the blocks, rows in the parameter order of
        :func:`statvae.symbolic.parameters.build_parameters`; eigenvalues are
        the ``"eigen"``-form symbols unless ``spectra`` (``{variable:
        values}``) is given.
        """
        return assemble_hessian(self.structure, self.model, spectra)

    def explicit_hessian(self, form: str = "eigen", covariance=None, force: bool = False, backend: str = "auto"):
        """Derive the collapsed point and Hessian entry by entry (small models).

        Independent of the per-mode derivation: the objective of the model
        at its real size is differentiated and the stationary equations are
        solved directly.  Returns ``(point, hessian, objective)``.

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
    def _spectrum_dict(self, spectrum) -> dict:
        """Validated canonical spectra (:func:`statvae.data.resolve.spectrum_dict`)."""
        return spectrum_dict(self.model, spectrum)

    def _data(self, solve_for, spectrum, covariance, samples, values) -> _Data:
        """The data in the model's canonical gauge, or the raw second moment when it has none."""
        check_analysis_data(self.model, spectrum, covariance, samples, values)
        from ..data.canonical import canonical_form
        from ..data.spectra import covariance_from_samples

        if sum(x is not None for x in (spectrum, covariance, samples)) != 1:
            raise DataError("give exactly one of spectrum=, covariance= or samples=")
        if spectrum is not None:
            return _Data(self._spectrum_dict(spectrum), None)
        if samples is not None:
            covariance = covariance_from_samples(samples)
        return _Data(None, canonical_form(self.model.graph, covariance, self._known_values(solve_for, values)))

    def data_form(self, covariance=None, samples=None, solve_for: str | None = None, **values):
        """The canonical form of these data for this model, and why it has none if so.

        See :func:`statvae.data.canonical.canonical_form`: when
        ``.valid`` is false the per-mode closed forms do not apply to these
        data (``.describe()`` says why) and every numeric answer comes from the
        compiled Hessian instead.

        Examples
        --------
        >>> import numpy as np, statvae
        >>> a = statvae.ConditionalVAE(1, 1, 1, weight_decay_enc=0.1).collapse()
        >>> f = a.data_form(covariance=np.array([[2.0, 1.0], [1.0, 3.0]]), sigma2=1)
        >>> f.valid
        False
        """
        return self._data(solve_for, None, covariance, samples, values).form

    def _known_values(self, solve_for, values) -> dict:
        """Hyper-parameter name -> float, or None where unknown (:func:`statvae.data.resolve.known_values`)."""
        return known_values(self.model, solve_for, values)

    def spectra(self, spectrum=None, covariance=None, samples=None, **values) -> dict:
        """Eigenvalues per observed variable in the canonical gauge, validated.

        For a covariance the valid regression shifts are applied first (see
        :meth:`data_form`); if the data have no canonical form these are the
        eigenvalues of each variable's own block, which alone do not decide
        stability.
        """
        return self._data(None, spectrum, covariance, samples, values).spectra

    def _numeric_values(self, solve_for: str | None, values: dict) -> dict:
        vals = {}
        for n, v in self.model.values.items():
            if n in values:
                vals[n] = H.coerce_value(n, values[n])
            else:
                vals[n] = v
        extra = sorted(set(values) - set(self.model.values))
        if extra:
            raise ModelError(f"{', '.join(extra)} is not a hyper-parameter of this model; "
                             f"its hyper-parameters are: {', '.join(self.model.values)}")
        out = {}
        for n, v in vals.items():
            if n == solve_for:
                continue
            if not v.is_number:
                raise AnalysisError(f"{n} has no value: pass {n}=... (or --{n.replace('_', '-')} on the command line)")
            out[H.symbol(n)] = v
        return out

    def _mode_arrays(self, block: ModeBlock, spectra: dict):
        """Arrays of spectral values for every mode of a block, and the mode indices."""
        g = self.model.graph
        per_var = []
        for var_name, count in block.pattern:
            var = g.variable(var_name)
            if var.observed:
                per_var.append((var, list(combinations(range(var.dim), count))))
        if not per_var:
            return {}, [dict()]
        modes = list(product(*[c for _, c in per_var]))
        arrays = {}
        for k, (var, _) in enumerate(per_var):
            for r in range(max(len(m[k]) for m in modes)):
                sym = NM.spectral_symbol(var, var.index + "'" * r)
                arrays[sym] = np.array([spectra[var.name][m[k][r]] for m in modes], dtype=float)
        mode_ids = [{var.name: m[k] for k, (var, _) in enumerate(per_var)} for m in modes]
        return arrays, mode_ids

    def _block_function(self, block: ModeBlock, p: sp.Symbol | None):
        st = self.structure
        args = ([p] if p is not None else []) + block.spectral + [H.symbol(n) for n in self.model.values] \
            + list(st.dims.values()) + list(st.traces.values())
        args = list(dict.fromkeys(args))
        return sp.lambdify(args, list(block.matrix), "numpy"), args

    def _compiled(self, solve_for: str | None, data: _Data, values: dict):
        """``(CompiledCollapse, p)``: the compiled analysis for these data (``p`` the value of its parameter)."""
        from .compiled import CompiledCollapse

        hv = {k.name: float(v) for k, v in self._numeric_values(solve_for, values).items()}
        name = solve_for or next(iter(self.model.values))
        p = hv.pop(name, None)
        if data.canonical:
            cc = CompiledCollapse(self.model, name, hv, spectra=data.spectra)
        else:
            cc = CompiledCollapse(self.model, name, hv, covariance=data.form.covariance)
        return cc, p

    def _scale(self, name: str, data: _Data, values: dict) -> float:
        """Reference scale of a hyper-parameter for these data (where numeric searches are centred)."""
        top = max(float(np.max(s)) if len(s) else 0.0 for s in data.spectra.values())
        if data.form is not None:
            top = max(top, float(np.linalg.eigvalsh(data.form.covariance).max()))
        return self._scale_for_top(name, top, values)

    def _scale_for_top(self, name: str, top: float, values: dict) -> float:
        top = top if top > 0 and np.isfinite(top) else 1.0
        role = self.model.graph.hyper_roles().get(name)
        if role == "noise_variance":
            return top
        if role in ("kl_weight", "weight_decay"):
            noise = [float(v) for n, v in self._known_values(name, values).items()
                     if v is not None and self.model.graph.hyper_roles()[n] == "noise_variance"]
            return top / (np.mean(noise) if noise else top)
        return 1.0

    def _evaluator(self, solve_for: str | None, spectra: dict, values):
        hv = self._numeric_values(solve_for, values)
        st = self.structure
        env = {k: float(v) for k, v in hv.items()}
        g = self.model.graph
        for v in g.variables():
            env[st.dims[v.name]] = float(v.dim)
        for v in g.observed():
            env[st.traces[v.name]] = float(np.sum(spectra[v.name]))
        p = H.symbol(solve_for) if solve_for else None
        evals = []
        for b in self.structure.blocks:
            f, args = self._block_function(b, p)
            arrays, mode_ids = self._mode_arrays(b, spectra)
            nmodes = len(mode_ids)

            def at(pv, f=f, args=args, arrays=arrays, nmodes=nmodes, b=b):
                vals = []
                for a in args:
                    if a is p:
                        vals.append(np.full(nmodes, pv, dtype=float))
                    elif a in arrays:
                        vals.append(arrays[a])
                    else:
                        vals.append(np.full(nmodes, env[a], dtype=float))
                with np.errstate(all="ignore"):
                    entries = f(*vals)
                k = b.matrix.shape[0]
                out = np.empty((nmodes, k, k))
                for idx, e in enumerate(entries):
                    out[:, idx // k, idx % k] = np.broadcast_to(np.asarray(e, dtype=float), (nmodes,))
                return out

            evals.append((b, at, arrays, mode_ids))
        return hv, env, evals

    def _mode_index(self, spectra: dict, values: dict) -> int:
        """Ascent directions at collapse from the per-mode blocks."""
        _, _, evals = self._evaluator(None, spectra, values)
        g = self.model.graph
        total = 0
        for b, at, _, _ in evals:
            pos = int(positive_counts(at(None)).sum())
            copies = 1
            for var_name, count in b.pattern:
                var = g.variable(var_name)
                if not var.observed:
                    copies *= int(sp.binomial(var.dim, count))
            total += pos * copies
        return total

    def ascent_directions(self, spectrum=None, covariance=None, samples=None, **values) -> int:
        """Number of positive Hessian eigenvalues at collapse (the Morse index of the ELBO).

        From the per-mode blocks when the data have a canonical form (and
        confirmed by the compiled Hessian), else from the compiled Hessian.
        """
        from .selfcheck import confirm_index

        data = self._data(None, spectrum, covariance, samples, values)
        cc, p = self._compiled(None, data, values)
        if not data.canonical:
            return cc.index(p)
        n = self._mode_index(data.spectra, values)
        if n != cc.index(p) and n not in (cc.index(p * (1 - 1e-8)), cc.index(p * (1 + 1e-8))):
            confirm_index(cc, p, n, f"{cc.parameter} = {p:.12g}")
        return n

    def stable(self, spectrum=None, covariance=None, samples=None, **values) -> bool:
        """Whether collapse has no ascent direction for numeric data and values (self-checked)."""
        return self.ascent_directions(spectrum, covariance, samples, **values) == 0

    def critical_points(self, solve_for: str | None = None, spectrum=None, covariance=None, samples=None,
                        **values) -> list[CriticalPoint]:
        """Every value of ``solve_for`` at which collapse gains or loses stability.

        The per-mode closed forms answer when the data have a canonical form
        (see :meth:`data_form`); otherwise the compiled Hessian's latent blocks
        do (:func:`statvae.analysis.find_crossings`).  Either way every value is
        confirmed by the compiled Hessian just below and above it.
        """
        from .selfcheck import confirm_boundaries

        name, nonneg, data, cc = self._prepare(solve_for, spectrum, covariance, samples, values)
        if data.canonical:
            hv, cands, evals = self._candidates(name, data.spectra, values)

            def stable_at(v):
                return all(numeric_blocks_stable(at(v)).all() for _, at, _, _ in evals)

            cands.sort(key=lambda c: c[0])
            uniq = []
            for c in cands:  # a cluster of equal values (to rounding) is one value: its largest
                if uniq and abs(c[0] - uniq[-1][0]) <= 1e-12 * max(abs(c[0]), 1e-300):
                    uniq[-1] = c
                    continue
                uniq.append(c)
            if not uniq:
                raise AnalysisError(f"collapse is {'stable' if stable_at(1.0) else 'unstable'} for every "
                                    f"{name} {'>= 0' if nonneg else '> 0'}: no critical value")
            out = self._boundaries(name, [(v, ", ".join(b.labels), {n: list(ix) for n, ix in mode.items()}, m)
                                          for v, b, mode, m, _ in uniq], stable_at, nonneg)
        else:
            found = self._compiled_crossings(cc, name, data, values, nonneg)
            if not found:
                probe = self._scale(name, data, values)
                raise AnalysisError(f"collapse is {'stable' if cc.stable(probe) else 'unstable'} for every "
                                    f"{name} {'>= 0' if nonneg else '> 0'}: no critical value "
                                    f"(compiled Hessian; {data.form.describe()})")
            out = self._boundaries(name, [(c.value, c.key.describe(), {}, f"{c.method} (compiled Hessian)")
                                          for c in found], cc.stable, nonneg)
        confirm_boundaries(cc, name, [(c.value, c.stable_side) for c in out], nonneg)
        return out

    def _prepare(self, solve_for, spectrum, covariance, samples, values) -> tuple:
        """``(name, nonnegative, data, CompiledCollapse)`` for a numeric question about ``solve_for``."""
        check_solve_for(self.model, solve_for)
        name = solve_for or self._default_target()
        self._target_symbol(name)
        data = self._data(name, spectrum, covariance, samples, values)
        cc, _ = self._compiled(name, data, values)
        return name, H.spec(name).nonnegative, data, cc

    def _compiled_crossings(self, cc, name, data, values, nonneg) -> list:
        from .crossings import find_crossings

        found = find_crossings(cc, self._scale(name, data, values), nonneg)
        uniq = []
        for c in found:  # a cluster is one value: its largest
            if uniq and abs(c.value - uniq[-1].value) <= 1e-12 * abs(c.value):
                uniq[-1] = c
                continue
            uniq.append(c)
        return uniq

    def crossings(self, solve_for: str | None = None, spectrum=None, covariance=None, samples=None,
                  **values) -> list[tuple]:
        """Every value of ``solve_for`` where a Hessian eigenvalue at collapse crosses zero.

        These are the branch points of the collapsed branch.  Returns sorted
        ``(value, kernel_dim)`` pairs; the kernel dimension counts the latent
        copies of each crossing block and coinciding modes (repeated
        eigenvalues).  Each is confirmed by the compiled Hessian.
        """
        from .crossings import find_crossings
        from .selfcheck import confirm_crossings

        name, nonneg, data, cc = self._prepare(solve_for, spectrum, covariance, samples, values)
        out: list = []
        if data.canonical:
            _, cands, evals = self._candidates(name, data.spectra, values)
            g = self.model.graph
            items = []
            for (v, b, mode, _, _), change in self._changes(cands, evals, nonneg):
                if not change:
                    continue  # an eigenvalue touching zero (a degenerate point), not a crossing
                copies = 1
                for var_name, count in b.pattern:
                    var = g.variable(var_name)
                    if not var.observed:
                        copies *= int(sp.binomial(var.dim, count))
                items.append((v, change * copies))
        else:
            items = [(c.value, c.kernel_dim) for c in find_crossings(cc, self._scale(name, data, values), nonneg)]
        for v, k in sorted(items):
            if out and abs(v - out[-1][0]) <= 1e-12 * max(abs(v), 1e-300):
                out[-1] = (float(v), out[-1][1] + k)  # a cluster: its largest value, all its kernel
            else:
                out.append((float(v), k))
        cc.fit_affine(self._scale(name, data, values))
        confirm_crossings(cc, name, out, nonneg)
        return out

    def _candidates(self, name, spectra, values):
        """Roots of the block determinants in ``name``: ``(exact values, [(value, block, mode, method)], evals)``."""
        p = self._target_symbol(name)
        hv, env, evals = self._evaluator(name, spectra, values)
        nonneg = H.spec(name).nonnegative
        cands = []  # (value, block, mode, method)
        for b, at, arrays, mode_ids in evals:
            if p not in b.matrix.free_symbols:
                continue
            roots, method = self._det_roots(b, p, hv)
            for k, mode in enumerate(mode_ids):
                sub_env = dict(env)
                for sym, arr in arrays.items():
                    sub_env[sym] = arr[k]
                if roots is not None:
                    for r in roots:
                        v = complex(r(*[sub_env[a] for a in self._root_args(b, p)]))
                        if abs(v.imag) <= 1e-12 * max(1, abs(v.real)) and (v.real > 0 or (nonneg and v.real == 0)):
                            cands.append((v.real, b, mode, method, k))
                else:
                    top = max([float(np.max(a)) for a in spectra.values() if len(a)] + [0.0])
                    for v in self._numeric_roots(at, k, nonneg, self._scale_for_top(name, top, values)):
                        cands.append((v, b, mode, "bracketed root", k))
        return hv, cands, evals

    @staticmethod
    def _changes(cands, evals, nonneg) -> list:
        """``[(candidate, change)]``: how many eigenvalues of its block cross at each root (0: a touch)."""
        from .selfcheck import sides

        at_of = {id(b): at for b, at, _, _ in evals}
        roots: dict = {}
        for c in cands:
            roots.setdefault((id(c[1]), c[4]), []).append(c[0])
        out = []
        for c in cands:
            v, b, _, _, k = c
            if v <= 0:
                out.append((c, 0))
                continue
            lo, hi = sides(roots[(id(b), k)], v, nonneg)
            at = at_of[id(b)]
            n_lo = int(positive_counts(at(lo)[k:k + 1])[0])
            n_hi = int(positive_counts(at(hi)[k:k + 1])[0])
            out.append((c, abs(n_hi - n_lo)))
        return out

    def _boundaries(self, name, uniq, stable_at, nonneg):
        """CriticalPoints where stability changes among sorted distinct ``(value, block, mode, method)``."""
        from .crossings import gap_probes

        vals = [c[0] for c in uniq]
        probes = gap_probes(vals)
        if nonneg:
            probes[0] = 0.0
        status = [stable_at(v) for v in probes]
        out = []
        for k, (v, block, mode, method) in enumerate(uniq):
            if status[k] != status[k + 1]:
                out.append(CriticalPoint(name, float(v), "above" if status[k + 1] else "below", block, mode, method))
        if not out:
            raise AnalysisError(
                f"collapse is {'stable' if status[0] else 'unstable'} for every {name} "
                f"{'>= 0' if nonneg else '> 0'}: no critical value"
            )
        return out

    def critical(self, solve_for: str | None = None, spectrum=None, covariance=None, samples=None,
                 **values) -> float:
        """Critical value of one hyper-parameter where collapse loses stability.

        Parameters
        ----------
        solve_for : str
            A hyper-parameter of the model (``"sigma2"``, ``"beta"``,
            ``"weight_decay_enc"``...).  Default: the first free noise
            variance, else the first KL weight (``sigma2``, else ``beta``).
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
        **values
            Values of the other hyper-parameters (override the model's).

        Returns
        -------
        float

        Raises
        ------
        AnalysisError
            If collapse is stable (or unstable) for every value, the stable
            set has several boundaries (see :meth:`critical_points`), or the
            self-check against the compiled Hessian fails.
        """
        pts = self.critical_points(solve_for, spectrum, covariance, samples, **values)
        if len(pts) > 1:
            desc = ", ".join(f"{c.value:.6g} (stable {c.stable_side})" for c in pts)
            raise AnalysisError(f"collapse changes stability at several values of {pts[0].parameter}: {desc}")
        return pts[0].value

    # -- helpers for the root finding --------------------------------------
    def _root_args(self, b: ModeBlock, p):
        st = self.structure
        return list(dict.fromkeys(b.spectral + list(st.dims.values()) + list(st.traces.values())))

    _roots_cache: dict = {}

    def _det_roots(self, b: ModeBlock, p, exact: dict):
        """Roots of ``det B = 0`` in ``p`` with the other hyper-parameters substituted exactly."""
        key = (id(b), p, tuple(sorted((k.name, sp.srepr(v)) for k, v in exact.items())))
        if key in CollapseAnalysis._roots_cache:
            return CollapseAnalysis._roots_cache[key]
        if len(CollapseAnalysis._roots_cache) > 256:  # one entry per (block, parameter, values): keep it bounded
            CollapseAnalysis._roots_cache.clear()
        det = sp.numer(sp.together(sp.simplify(b.matrix.xreplace(exact).det())))
        try:
            roots = sp.solve(det, p)
            fns = [sp.lambdify(self._root_args(b, p), r, modules=["numpy", {"sqrt": np.emath.sqrt}]) for r in roots]
            res = (fns, "closed form")
        except (NotImplementedError, sp.PolynomialError):
            res = (None, "bracketed root")
        CollapseAnalysis._roots_cache[key] = res
        return res

    @staticmethod
    def _numeric_roots(at, k, nonneg, scale=1.0):
        """Every value where an eigenvalue of mode ``k``'s block changes sign (adaptive scan + Brent)."""
        from scipy.optimize import brentq

        from .scan import adaptive_scan

        def eig(v):
            return scaled_eigenvalues(at(v)[k:k + 1])[0]

        res = adaptive_scan(eig, scale, nonneg)
        out = []
        for a, b, fa, fb in zip(res.grid, res.grid[1:], res.values, res.values[1:]):
            if fa is None or fb is None:
                continue
            for r in range(len(fa)):  # eigenvalues sorted: the r-th changes sign (counts differ)
                if (fa[r] > 0) != (fb[r] > 0):
                    out.append(brentq(lambda v, r=r: float(eig(v)[r]), a, b, xtol=1e-300, rtol=4e-16,
                                      maxiter=500))
        return out
