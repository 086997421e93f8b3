"""Internal units: data normalised by their own scale, so that numerics do not depend on the user's units.

Multiplying every observed variable by ``sqrt(s)`` (the second moment by
``s``) changes the ELBO only by a constant when the parameters and
hyper-parameters that carry data units change with it:

* a map ``A -> B`` (``B = M A``): ``M' = M s^((o_B - o_A)/2)`` with ``o = 1``
  for an observed variable, ``0`` for a latent one (decoders scale by
  ``sqrt(s)``, encoders by ``1/sqrt(s)``, maps between observed variables or
  between latents not at all);
* the noise variance of an observed variable (a hyper-parameter or a learned
  one): ``sigma2' = s sigma2``;
* the weight decay ``eta ||M||^2`` of a map ``A -> B``: ``eta' = eta s^(o_A - o_B)``;
* KL weights, latent and encoder variances: unchanged.

A run (:func:`statvae.track`, the phase diagram) therefore works on the
data divided by ``scale`` (their largest eigenvalue or diagonal entry) and
maps every number it returns back.  Tolerances, step sizes and inertia counts then see numbers of
order one whatever the units of the data.  The rule is a claim about the
graph; :func:`units_for` refuses it (identity units, with the reason) when a
hyper-parameter is shared by roles with different units, and
:meth:`Units.check_gradient` confirms it on the compiled objective.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import AnalysisError

if TYPE_CHECKING:
    from ..model.layout import Layout
    from ..model.vae import Model

__all__ = ["Units", "units_for", "data_magnitude"]


@dataclass(frozen=True)
class Units:
    """How a run's internal numbers relate to the user's.

    Attributes
    ----------
    scale : float
        Internal data = user data / ``scale`` (1 for identity).
    hyper : dict
        Hyper-parameter name -> exponent ``e``: internal value = user value * ``scale**e``.
    reason : str
        Why the units are the identity although the data are far from 1 ("" otherwise).

    Examples
    --------
    >>> import statvae
    >>> u = units_for(statvae.LinearVAE(3, 2), 1000.0)
    >>> u.scale, u.hyper["sigma2"], u.value_in("sigma2", 2000.0)
    (1000.0, -1, 2.0)
    """

    scale: float = 1.0
    hyper: dict[str, int] = field(default_factory=dict)
    reason: str = ""

    @property
    def identity(self) -> bool:
        """Whether internal and user numbers are the same (scale 1)."""
        return self.scale == 1.0

    def factor(self, name: str) -> float:
        """Internal / user for hyper-parameter ``name``.

        Parameters
        ----------
        name : str
            A hyper-parameter.

        Returns
        -------
        float
            ``scale ** e`` (1 for a hyper-parameter without units).
        """
        return self.scale ** self.hyper.get(name, 0)

    def value_in(self, name: str, value: float) -> float:
        """A user value of hyper-parameter ``name`` in internal units.

        Parameters
        ----------
        name : str
            A hyper-parameter.
        value : float
            Its value in the user's units.

        Returns
        -------
        float
            The internal value.
        """
        return float(value) * self.factor(name)

    def value_out(self, name: str, value: float) -> float:
        """An internal value of hyper-parameter ``name`` in the user's units.

        Parameters
        ----------
        name : str
            A hyper-parameter.
        value : float
            Its internal value.

        Returns
        -------
        float
            The value in the user's units.
        """
        return float(value) / self.factor(name)

    def values_in(self, values: dict[str, float | None]) -> dict[str, float | None]:
        """:meth:`value_in` of every value (None stays None).

        Parameters
        ----------
        values : dict
            User values by hyper-parameter name.

        Returns
        -------
        dict
            Internal values by name.
        """
        return {k: (None if v is None else self.value_in(k, v)) for k, v in values.items()}

    def values_out(self, values: dict[str, float | None]) -> dict[str, float | None]:
        """:meth:`value_out` of every value (None stays None).

        Parameters
        ----------
        values : dict
            Internal values by hyper-parameter name.

        Returns
        -------
        dict
            User values by name.
        """
        return {k: (None if v is None else self.value_out(k, v)) for k, v in values.items()}

    def data_in(self, a: Any) -> Any:
        """Spectra (dict or array) or second moments in internal units.

        Parameters
        ----------
        a : array_like or dict
            User data: an array, or arrays by variable name.

        Returns
        -------
        numpy.ndarray or dict
            The same divided by ``scale``, as float arrays.
        """
        if isinstance(a, dict):
            return {k: np.asarray(v, dtype=float) / self.scale for k, v in a.items()}
        return np.asarray(a, dtype=float) / self.scale

    def theta_factors(self, model: Model) -> np.ndarray:
        """Per entry of the flat parameter vector: internal = factor * user.

        Parameters
        ----------
        model : Model
            The model whose parameters are scaled.

        Returns
        -------
        numpy.ndarray
            One factor per parameter (the layout of :class:`statvae.model.layout.Layout`).
        """
        from ..model.layout import Layout

        g = model.graph
        lay = Layout(model)
        out = np.ones(lay.size)
        if self.identity:
            return out
        obs = {v.name: 1 if v.observed else 0 for v in g.variables()}
        for m in g.maps():
            out[lay.by_name[m.name].slice] = self.scale ** ((obs[m.source] - obs[m.target]) / 2)
        for v in g.variables():
            if v.variance == "learned" and v.observed:
                out[lay.by_name[g.learned_variance_name(v.name)].slice] = 1.0 / self.scale
        return out

    def to_dict(self) -> dict[str, Any]:
        """The units as plain data (:meth:`from_dict` reads them back).

        Returns
        -------
        dict
            ``scale``, ``hyper`` and ``reason``.
        """
        return {"scale": self.scale, "hyper": dict(self.hyper), "reason": self.reason}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Units:
        """Units from the plain data of :meth:`to_dict`.

        Parameters
        ----------
        d : dict
            ``scale``, ``hyper`` and optionally ``reason``.

        Returns
        -------
        Units
            The units.
        """
        return cls(float(d["scale"]), {str(k): int(v) for k, v in d["hyper"].items()}, str(d.get("reason", "")))

    def check_gradient(self, model: Model, user_bound: Any, internal_bound: Any, rtol: float = 1e-7) -> None:
        """Confirm the rule on the compiled objective: ``grad_user(theta) = T grad_internal(T theta)``.

        Parameters
        ----------
        model : Model
            The model.
        user_bound, internal_bound : BoundObjective
            Bound compiled objectives (:class:`statvae.numeric.bundle.BoundObjective`)
            at the same hyper-parameter point in the two unit systems.
        rtol : float, optional
            Tolerance relative to the size of the gradients.

        Raises
        ------
        AnalysisError
            If the rule does not hold (a bug in statvae).
        """
        if self.identity:
            return
        from ..model.layout import Layout

        f = self.theta_factors(model)
        th_in = _probe_point(Layout(model))
        g_user = np.asarray(user_bound.gradient(th_in / f))
        g_in = np.asarray(internal_bound.gradient(th_in))
        want = f * g_in
        err = np.abs(g_user - want).max()
        size = max(np.abs(want).max(), np.abs(g_user).max(), 1e-300)
        if not err <= rtol * size:
            raise AnalysisError(f"self-check failed: normalising the data by {self.scale:g} should only shift the "
                                f"ELBO, but its gradient changes by {err / size:.2g} (relative); this is a bug in "
                                f"statvae, please report it")


def _probe_point(layout: Layout) -> np.ndarray:
    """A generic interior point of the parameter space (positive variances, nonzero maps)."""
    rng = np.random.default_rng(12345)
    th = np.zeros(layout.size)
    for b in layout.blocks:
        if b.kind == "map":
            th[b.slice] = 0.3 * rng.standard_normal(b.size)
        elif b.kind == "diagonal" or b.is_scalar:
            th[b.slice] = 0.5 + rng.random(b.size)
        else:  # full: upper triangle of a dominant-diagonal matrix
            n = b.shape[0]
            m = 0.1 * rng.standard_normal((n, n))
            m = m @ m.T + np.eye(n)
            th[b.slice] = m[np.triu_indices(n)]
    return th


def data_magnitude(spectra: dict[str, Any] | None = None, covariance: Any = None) -> float:
    """The size of the data: largest eigenvalue of the spectra, or largest diagonal entry of a second moment.

    Parameters
    ----------
    spectra : dict, optional
        Eigenvalues by observed variable.
    covariance : array_like, optional
        A second moment (used instead of ``spectra`` when given).

    Returns
    -------
    float
        The largest absolute value (0 for no data).

    Examples
    --------
    >>> data_magnitude({"x": [3.0, 1.0]}), data_magnitude(covariance=[[2.0, 5.0], [5.0, 4.0]])
    (3.0, 4.0)
    """
    if covariance is not None:
        d = np.abs(np.diagonal(np.asarray(covariance, dtype=float)))
        return float(d.max()) if d.size else 0.0
    vals = [np.abs(np.asarray(v, dtype=float)).max() for v in (spectra or {}).values() if np.size(v)]
    return float(max(vals)) if vals else 0.0


def units_for(model: Model, magnitude: float) -> Units:
    """The internal units for data of size ``magnitude`` (see the module docstring).

    The scale is ``magnitude`` itself, so that data given in other units
    (multiplied by any factor) give the same internal problem to rounding,
    and the same sequence of continuation steps.

    Parameters
    ----------
    model : Model
        The model.
    magnitude : float
        The size of the data (:func:`data_magnitude`).

    Returns
    -------
    Units
        Scaled by ``magnitude``; the identity when ``magnitude`` is 1, 0 or
        not finite, or (with the reason) when a hyper-parameter plays roles
        with different units.
    """
    if not (magnitude > 0 and math.isfinite(magnitude)):
        return Units()
    if magnitude == 1.0:
        return Units()
    g = model.graph
    obs = {v.name: 1 if v.observed else 0 for v in g.variables()}
    need: dict[str, tuple[int, str]] = {}

    def want(name: str | None, e: int, what: str) -> Literal[True] | str:
        if name is None or name == "learned":
            return True
        if name in need and need[name][0] != e:
            return f"{name} is both {need[name][1]} and {what}, which carry different units"
        need.setdefault(name, (e, what))
        return True

    reasons = []
    for v in g.variables():
        r = want(v.variance, -1 if v.observed else 0, f"the noise variance of {v.name}" if v.observed
                 else f"the variance of latent {v.name}")
        reasons.append(r)
        reasons.append(want(v.beta, 0, f"the KL weight of {v.name}"))
        if v.encoder == "fixed":
            reasons.append(want(v.encoder_variance, 0, f"the encoder variance of {v.name}"))
    for m in g.maps():
        reasons.append(want(m.weight_decay, obs[m.target] - obs[m.source], f"the weight decay of map {m.name}"))
    bad = [r for r in reasons if r is not True]
    if bad:
        return Units(1.0, {}, bad[0])
    return Units(float(magnitude), {n: e for n, (e, _) in need.items()})
