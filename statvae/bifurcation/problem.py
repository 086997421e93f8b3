"""The continuation problem: the compiled objective in the canonical basis, one free hyper-parameter.

Data are rotated to the canonical basis (eigenbasis of each observed
variable; for a conditional model the residual of y given x), where the
objective has the coordinate-flip symmetries of :mod:`statvae.bifurcation.symmetry`.
ELBO, KL and every other recorded observable are invariant under that change
of basis.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import os

import numpy as np
from numpy.typing import ArrayLike

from ..errors import AnalysisError, DataError, ModelError
from ..numeric.bundle import compile_model
from ..numeric.codegen import DiagonalBlock
from ..model import hyper as H
from ..model.layout import scale_name
from ..symbolic.moments import NumpyAlgebra, objective_terms
from .symmetry import Characters, rotation_generators

if TYPE_CHECKING:
    from ..data.resolve import TrackData
    from ..data.units import Units
    from ..model.vae import Model
    from ..numeric.bundle import BlockPlan, BoundObjective

_T = TypeVar("_T")

__all__ = ["ContinuationProblem", "OutOfDomain", "problem_for"]


class OutOfDomain(AnalysisError):
    """An evaluation outside the parameter's domain or the floating-point range (a failed step, or the answer)."""


class ContinuationProblem:
    """Objective, derivatives and stability along one hyper-parameter.

    Parameters
    ----------
    model : VAEModel
    spectra : dict
        Canonical eigenvalues per observed variable (see
        :func:`statvae.data.canonical_form`).
    parameter : str
        The continuation parameter (a hyper-parameter of ``model``).
    values : dict
        Values of the other hyper-parameters (the model's numbers are defaults).
    covariance : array_like, optional
        The data's second moment in its own basis, instead of ``spectra``
        (then only latent flips are symmetries).
    units : Units, optional
        Internal units of the data (identity if omitted).
    structure : {"auto", "dense", "diagonal"}, optional
        Products by the data in the compiled code (:meth:`statvae.numeric.CompiledObjective.bind`).
        Default: the environment variable ``STATVAE_DATA_STRUCTURE`` if set, else ``"diagonal"`` in the
        canonical basis (``spectra``: the covariance is diagonal there, so every product by it costs
        O(N n) instead of O(N^2 n)) and ``"auto"`` for a ``covariance`` (diagonal if it is).  ``"dense"``
        gives the same results with dense products (kept for comparison).

    Attributes
    ----------
    structure : str
        ``"diagonal"`` or ``"dense"``: the products the bound objective uses.

    Raises
    ------
    ModelError
        ``parameter`` or a name in ``values`` is not a hyper-parameter, or neither spectra nor covariance is given.
    DataError
        The spectra do not match the model's dimensions.
    AnalysisError
        A hyper-parameter other than ``parameter`` has no value.
    """

    def __init__(self, model: Model, spectra: Mapping[str, ArrayLike] | None, parameter: str,
                 values: dict[str, Any] | None = None, covariance: ArrayLike | None = None,
                 units: Units | None = None, structure: str | None = None):
        model.require_hyper(parameter, verb="continue in")
        self.model = model
        self.parameter = parameter
        g = model.graph
        if covariance is not None:  # any basis: only latent flips are symmetries
            from ..data.spectra import validate_covariance

            self.spectra = None
            self.covariance = validate_covariance(covariance)
        else:
            if spectra is None:
                raise ModelError("a continuation problem needs spectra or a covariance")
            self.spectra = {k: np.asarray(v, dtype=float) for k, v in spectra.items()}
            diag = np.concatenate([self.spectra[v.name] for v in g.observed()])
            if diag.size != sum(v.dim for v in g.observed()):
                raise DataError("the spectra do not match the model's dimensions")
            self.covariance = np.diag(diag)
        vals: dict[str, float | None] = {}
        for n, v in model.values.items():
            if n == parameter:
                continue
            v = (values or {}).get(n, v)
            if hasattr(v, "is_number") and not v.is_number:
                raise AnalysisError(f"{n} has no value: pass {n}=...")
            vals[n] = float(v)
        model.require_hyper(*sorted(values or {}))
        from ..data.units import Units

        self.units = units if units is not None else Units()
        self.user_values = vals
        self.user_covariance = self.covariance
        self.values = self.units.values_in(vals)
        self.covariance = self.units.data_in(self.user_covariance)
        self.compiled = compile_model(model)
        self.layout = self.compiled.layout
        self.theta_factors = self.units.theta_factors(model)
        self.chars = Characters(model, canonical=covariance is None)
        if structure is None:
            structure = os.environ.get("STATVAE_DATA_STRUCTURE") or ("auto" if covariance is not None else "diagonal")
        self._base = self.compiled.bind(covariance=self.covariance, structure=structure, **self.values,
                                        **{parameter: 1.0})
        self.structure = self._base.structure
        if not self.units.identity:
            user = self.compiled.bind(covariance=self.user_covariance, **vals,
                                      **{parameter: self.units.value_out(parameter, 1.0)})
            self.units.check_gradient(model, user, self._base)
        self._cache: dict[float, BoundObjective] = {}
        self._plans: dict[Any, BlockPlan] = {}
        #: Whether some latent group has continuous rotation symmetry (else :meth:`zero_modes` is always empty).
        self._rotations = any(z.encoder in ("full", "isotropic", "fixed") and z.dim >= 2 for z in g.latents())
        self.evaluations = 0

    # -- evaluation --------------------------------------------------------------
    def at(self, p: float) -> BoundObjective:
        """The compiled objective bound at parameter ``p`` (internal units); the last 64 are cached.

        Parameters
        ----------
        p : float
            The continuation parameter, in internal units.

        Returns
        -------
        BoundObjective
        """
        b = self._cache.get(p)
        if b is None:
            b = self._base.with_hyper(**{self.parameter: p})
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[p] = b
        return b

    def p_ok(self, p: float) -> bool:
        """Whether ``p`` (internal units) is in the parameter's domain.

        Parameters
        ----------
        p : float
            The continuation parameter, in internal units.

        Returns
        -------
        bool
            Finite, and positive (or nonnegative for a parameter that may be 0).
        """
        return bool(np.isfinite(p)) and (p >= 0 if H.spec(self.parameter).nonnegative else p > 0)

    def _guard(self, what: str, p: float, fn: Callable[[], _T]) -> _T:
        if not self.p_ok(p):
            raise OutOfDomain(f"{self.parameter} = {self.p_out(p):.6g} is outside its domain")
        try:
            with np.errstate(over="raise", divide="raise", invalid="ignore"):
                return fn()
        except (OverflowError, ZeroDivisionError, FloatingPointError) as exc:
            raise OutOfDomain(f"the {what} at {self.parameter} = {self.p_out(p):.6g} is beyond the floating-point "
                              f"range for these data ({type(exc).__name__}); narrow the parameter range") from None

    def valid(self, theta: ArrayLike) -> bool:
        """Whether ``theta`` is a valid parameter vector (:meth:`statvae.model.layout.Layout.check` passes).

        Parameters
        ----------
        theta : array_like
            Flat parameter vector.

        Returns
        -------
        bool
        """
        try:
            self.compiled._fast_check_unpack(theta)
        except Exception:  # as Layout.check's callers took it: anything wrong is invalid
            return False
        return True

    def value(self, theta: ArrayLike, p: float) -> Any:
        """The objective (ELBO) at ``theta``, ``p`` (internal units).

        Parameters
        ----------
        theta : array_like
            Flat parameter vector.
        p : float
            The continuation parameter.

        Returns
        -------
        float

        Raises
        ------
        OutOfDomain
            ``p`` is outside the domain, or the evaluation overflows.
        """
        return self._guard("objective", p, lambda: self.at(p).value(theta))

    def gradient(self, theta: ArrayLike, p: float, check: bool = True) -> np.ndarray:
        """Gradient of the objective in ``theta`` (counted in :attr:`evaluations`).

        Parameters
        ----------
        theta : array_like
            Flat parameter vector.
        p : float
            The continuation parameter.
        check : bool, optional
            Validate ``theta`` (default); ``False`` skips it for a ``theta`` already known valid
            (:meth:`statvae.numeric.BoundObjective.gradient`).

        Returns
        -------
        numpy.ndarray

        Raises
        ------
        OutOfDomain
            As for :meth:`value`.
        """
        self.evaluations += 1
        return self._guard("gradient", p, lambda: self.at(p).gradient(theta, check=check))

    def hvp(self, theta: ArrayLike, v: ArrayLike, p: float, check: bool = True) -> np.ndarray:
        """Hessian-vector product(s) at ``theta`` (counted in :attr:`evaluations`).

        Parameters
        ----------
        theta : array_like
            Flat parameter vector.
        v : array_like
            A direction, or directions as rows.
        p : float
            The continuation parameter.
        check : bool, optional
            Validate ``theta`` (default); ``False`` skips it for a ``theta`` already known valid
            (:meth:`statvae.numeric.BoundObjective.gradient`).

        Returns
        -------
        numpy.ndarray
            Same shape as ``v``.

        Raises
        ------
        OutOfDomain
            As for :meth:`value`.
        """
        self.evaluations += 1
        return self._guard("Hessian", p, lambda: self.at(p).hvp(theta, v, check=check))

    def dgrad_dp(self, theta: ArrayLike, p: float, check: bool = True) -> np.ndarray:
        """Derivative of the gradient with respect to the continuation parameter.

        Parameters
        ----------
        theta : array_like
            Flat parameter vector.
        p : float
            The continuation parameter.
        check : bool, optional
            Validate ``theta`` (default); ``False`` skips it for a ``theta`` already known valid
            (:meth:`statvae.numeric.BoundObjective.gradient`).

        Returns
        -------
        numpy.ndarray

        Raises
        ------
        OutOfDomain
            As for :meth:`value`.
        """
        return self._guard("gradient", p, lambda: self.at(p).gradient_hyper(theta, self.parameter, check=check))

    def reduced(self, theta: ArrayLike, p: float, S: np.ndarray,
                with_dp: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(g_S, H_SS, dg_S/dp)`` restricted to the entries ``S`` (``dg_S/dp`` is None if not asked).

        Parameters
        ----------
        theta : array_like
            Flat parameter vector.
        p : float
            The continuation parameter.
        S : numpy.ndarray
            Indices of the entries kept (a fixed-point subspace).
        with_dp : bool
            Also compute ``dg_S/dp``.

        Returns
        -------
        tuple
            Gradient, symmetrised Hessian block and parameter derivative on ``S``.
        """
        g = self.gradient(theta, p)[S]  # validates theta once: the Hessian block and dg/dp below skip the check
        return g, self.reduced_hessian(theta, p, S), (self.dgrad_dp(theta, p, check=False)[S] if with_dp else None)

    def reduced_hessian(self, theta: ArrayLike, p: float, S: np.ndarray) -> np.ndarray:
        """The symmetrised Hessian block ``H_SS`` (as :meth:`reduced` gives it) at a ``theta`` known valid.

        ``theta`` is not validated (the caller's promise, as ``check=False`` of :meth:`gradient`).

        Parameters
        ----------
        theta : array_like
            Flat parameter vector.
        p : float
            The continuation parameter.
        S : numpy.ndarray
            Indices of the entries kept.

        Returns
        -------
        numpy.ndarray
            ``(len(S), len(S))``, symmetric.
        """
        S = np.asarray(S)
        if not len(S):
            return np.zeros((0, 0))
        plan_key = ("reduced", S.tobytes())
        h = self.hessian_blocks(theta, p, plan_key, lambda: {len(S): S[None, :]}, check=False)[len(S)][0]
        return (h + h.T) / 2

    def hessian_blocks(self, theta: ArrayLike, p: float, key: Any,
                       blocks: Callable[[], list[np.ndarray] | dict[int, np.ndarray]],
                       check: bool = True) -> dict[int, np.ndarray]:
        """Diagonal Hessian blocks ``H[b, b]`` (:meth:`statvae.numeric.BoundObjective.hessian_blocks`).

        Only the requested entries are computed: no full-width HVP row.  Counted in :attr:`evaluations`.

        Parameters
        ----------
        theta : array_like
            Flat parameter vector.
        p : float
            The continuation parameter.
        key : hashable
            Identifies the set of blocks (its evaluation plan is made once and kept).
        blocks : callable
            Returns the index blocks (called only when the plan for ``key`` is made), as a list of arrays or
            grouped by size (size -> ``(count, size)`` array): disjoint, and the Hessian block diagonal over
            them (e.g. the cosets of a character span) unless there is one.
        check : bool, optional
            Validate ``theta`` (default).

        Returns
        -------
        dict
            Block size -> ``(blocks, size, size)`` array, ``[k, i, j] = H[b_i, b_j]``, not symmetrised.

        Raises
        ------
        OutOfDomain
            As for :meth:`value`.
        """
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) > 4096:
                self._plans.clear()
            plan = self._plans[key] = self.compiled.block_plan(blocks())
        self.evaluations += 1
        return self._guard("Hessian", p, lambda: self.at(p).hessian_blocks(theta, plan, check=check))

    # -- symmetry -----------------------------------------------------------------
    @property
    def characters(self) -> Characters:
        """The symmetry characters of the parameter entries (same as :attr:`chars`)."""
        return self.chars

    def zero_modes(self, theta: ArrayLike) -> np.ndarray:
        """Exact zero modes from latent rotations at ``theta`` (rows).

        Parameters
        ----------
        theta : array_like
            Flat parameter vector.

        Returns
        -------
        numpy.ndarray
            One row per rotation generator (no rows if there is none).
        """
        if not self._rotations:
            return np.zeros((0, self.layout.size))
        return rotation_generators(self.model, theta)

    # -- observables -------------------------------------------------------------------
    def p_out(self, p: float) -> float:
        """An internal parameter value in the user's units.

        Parameters
        ----------
        p : float
            In internal units.

        Returns
        -------
        float
        """
        return self.units.value_out(self.parameter, p)

    def p_in(self, p: float) -> float:
        """A parameter value in the user's units, in internal units.

        Parameters
        ----------
        p : float
            In the user's units.

        Returns
        -------
        float
        """
        return self.units.value_in(self.parameter, p)

    def theta_out(self, theta: ArrayLike) -> np.ndarray:
        """An internal parameter vector in the user's units.

        Parameters
        ----------
        theta : array_like
            Flat parameter vector in internal units.

        Returns
        -------
        numpy.ndarray
        """
        return np.asarray(theta, dtype=float) / self.theta_factors

    def observables(self, theta: ArrayLike, p: float) -> dict[str, Any]:
        """Observables (in the user's units) at an internal point; see :meth:`observables_user`.

        Parameters
        ----------
        theta : array_like
            Flat parameter vector in internal units.
        p : float
            The continuation parameter in internal units.

        Returns
        -------
        dict
            As :meth:`observables_user`.
        """
        if self.units.identity:
            return self.observables_user(theta, p)
        return self.observables_user(self.theta_out(theta), self.p_out(p))

    def observables_user(self, theta: ArrayLike, p: float) -> dict[str, Any]:
        """ELBO, its terms, KL per level and per latent coordinate, posterior variances, ||w_j||.

        ``theta`` and ``p`` in the user's units; the data are the user's.

        Parameters
        ----------
        theta : array_like
            Flat parameter vector in the user's units.
        p : float
            The continuation parameter in the user's units.

        Returns
        -------
        dict
            ``elbo``, ``reconstruction``, ``weight_decay``, ``kl_total``,
            ``active_latents`` and, per latent ``z``, ``kl_z``,
            ``posterior_variance_z``, ``kl_per_latent_z`` (root latents) and
            ``w_norm_z`` (lists, one entry per coordinate).
        """
        g = self.model.graph
        blocks: dict[Any, Any] = self.layout.unpack(np.asarray(theta, dtype=float))
        hyper: dict[Any, Any] = dict(self.user_values)  # indexed by the graph's names (str | None to mypy)
        hyper[self.parameter] = p
        values: dict[Any, Any] = {}
        for m in g.maps():
            values[m.name] = blocks[m.name]
        for z in g.latents():
            if z.encoder in ("diagonal", "full"):
                values[z.covariance_name] = blocks[z.covariance_name]
            elif z.encoder == "isotropic":
                assert z.covariance_name is not None  # completed by the validated graph
                values[z.covariance_name] = float(blocks[scale_name(z.covariance_name)]) * np.eye(z.dim)
            else:
                values[z.covariance_name] = hyper[z.encoder_variance] * np.eye(z.dim)
        variances = {}
        for v in g.variables():
            if v.variance == "learned":
                variances[v.name] = float(blocks[g.learned_variance_name(v.name)])
            elif v.variance is not None:
                variances[v.name] = hyper[v.variance]
        obs = g.observed()
        off, sl = 0, {}
        for v in obs:
            sl[v.name] = slice(off, off + v.dim)
            off += v.dim
        cov: dict[tuple[str, str], Any] = {(a.name, b.name): self.user_covariance[sl[a.name], sl[b.name]]
                                           for a in obs for b in obs}
        if self.structure == "diagonal":  # the same products as the bound objective: O(N n), not O(N^2 n)
            cov = {k: DiagonalBlock.from_dense(c) for k, c in cov.items()}
        t = objective_terms(self.model, values, cov, variances, NumpyAlgebra, hyper=hyper)
        out: dict[str, Any] = {}
        recon = sum(t.log_p[v.name] for v in obs if v.name in t.log_p)
        kls = {z.name: -(t.log_p[z.name] + t.entropy[z.name]) for z in g.latents()}
        out["reconstruction"] = float(recon)
        out["weight_decay"] = float(t.weight_decay)
        out["elbo"] = float(recon - sum(hyper[z.beta] * kls[z.name] for z in g.latents()) - t.weight_decay)
        out["kl_total"] = float(sum(kls.values()))
        for z in g.latents():
            out[f"kl_{z.name}"] = float(kls[z.name])
            d = np.diag(values[z.covariance_name])
            out[f"posterior_variance_{z.name}"] = d.tolist()
            root = not g.parents(z.name, "generative")
            if root:
                pv = variances[z.name]
                c = np.diag(t.covariances[(z.name, z.name)])
                out[f"kl_per_latent_{z.name}"] = (0.5 * (c / pv - 1 - np.log(d / pv))).tolist()
            dec = [m for m in g.maps("generative") if m.source == z.name]
            norms = np.sqrt(sum(np.sum(blocks[m.name] ** 2, axis=0) for m in dec)) if dec else np.zeros(z.dim)
            out[f"w_norm_{z.name}"] = norms.tolist()
        scale = max([1.0] + [float(max(out[f"w_norm_{z.name}"])) for z in g.latents()])
        out["active_latents"] = int(sum((np.array(out[f"w_norm_{z.name}"]) > 1e-6 * scale).sum()
                                        for z in g.latents()))
        return out


def problem_for(resolved: TrackData, model: Model, parameter: str, values: dict[str, Any] | None,
                units: Units | None = None) -> ContinuationProblem:
    """The continuation problem in the basis resolved data allow (:func:`statvae.data.resolve.resolve_data`).

    Canonical spectra give the canonical basis (every coordinate flip is a
    symmetry); a raw second moment gives the data's own basis (latent flips only).

    Parameters
    ----------
    resolved : TrackData
        The resolved data.
    model : VAEModel
        The model.
    parameter : str
        The continuation parameter.
    values : dict or None
        Values of the other hyper-parameters.
    units : Units, optional
        Internal units of the data.

    Returns
    -------
    ContinuationProblem
    """
    if resolved.covariance is not None:
        return ContinuationProblem(model, None, parameter, values, covariance=resolved.covariance, units=units)
    return ContinuationProblem(model, resolved.spectra, parameter, values, units=units)
