"""Collapse diagnostics as papers report them, in closed form for linear-Gaussian VAEs.

For any parameters (an optimum, a tracked stationary point, or the weights of a VAE
trained elsewhere) and data with covariance ``S``, every quantity below is exact under
the model's Gaussian encoder, with the data taken Gaussian with covariance ``S``
(their only moments the objective sees):

* **active units** (Burda et al. 2016): ``A_u = Cov_x(E_q[z_u | x]) > delta``;
* **KL per latent coordinate** ``KL(q(z_u | x) || p(z_u))``, its mean and its distribution over data:
  ``(m_u(x)^2 / p)`` is ``b_u chi^2_1`` with ``b_u = A_u / p``, so
  ``KL_u(x) = a_u + b_u chi^2_1 / 2`` with ``a_u = (c_u / p - 1 - log(c_u / p)) / 2``;
* **(epsilon, delta)-collapse** (Lucas et al. 2019): coordinate ``u`` is collapsed when
  ``P_x[KL_u(x) < epsilon] >= 1 - delta``; the probability is a chi-square CDF;
* **mutual information** ``I(x; z) = (log det Cov(z) - log det Cov(z | x)) / 2`` under q;
* **reconstruction error per direction**: the residual second moment ``E||x - E[x | z]||^2`` of each
  observed variable along the eigen-directions of its data covariance, and the fraction of each
  direction's variance left unexplained.

``Cov(z | x)`` is the posterior covariance (for nested latents, the covariance given the data
propagated through the encoder); ``Cov(E[z | x]) = Cov(z) - Cov(z | x)``, both from
:func:`statvae.numeric.observables.terms` (with the data, and with zero data).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DataError, ModelError
from ..model.vae import Model

__all__ = ["Diagnostics", "LatentDiagnostics", "diagnose", "diagnose_tracked"]


@dataclass
class LatentDiagnostics:
    """Diagnostics of one latent variable (one entry per coordinate).

    Attributes
    ----------
    activity : list of float
        ``A_u = Cov_x(E_q[z_u | x])``.
    active : list of int
        Coordinates with ``A_u > delta * prior variance``.
    posterior_variance : list of float
        ``Var_q(z_u | x)``.
    kl_mean : list of float or None
        ``E_x KL(q(z_u | x) || p(z_u))`` (root latents; None for nested ones, whose prior is conditional).
    kl_quantiles : dict or None
        Quantile level -> KL per coordinate at that quantile of the data distribution.
    collapsed_probability : list of float or None
        ``P_x[KL_u(x) < epsilon]``.
    collapsed : list of int or None
        Coordinates that are (epsilon, delta)-collapsed.
    mutual_information : float
        ``I(x; z)`` of this variable, in nats.
    """

    activity: list[float]
    active: list[int]
    posterior_variance: list[float]
    kl_mean: list[float] | None
    kl_quantiles: dict[str, list[float]] | None
    collapsed_probability: list[float] | None
    collapsed: list[int] | None
    mutual_information: float


@dataclass
class Diagnostics:
    """Collapse diagnostics of a parameter set on data.

    Attributes
    ----------
    latents : dict
        Latent variable -> :class:`LatentDiagnostics`.
    mutual_information : float
        ``I(x; z)`` of all latents jointly, in nats.
    reconstruction : dict
        Observed variable (with a decoder) -> ``{"eigenvalues", "residual", "unexplained"}``: per eigen-direction
        of its data covariance (descending), the data variance, the residual second moment
        ``E (e^T (x - E[x | z]))^2`` and their ratio.
    epsilon, delta : float
        The (epsilon, delta)-collapse thresholds used (``delta`` also the activity threshold, relative to the
        prior variance).
    """

    latents: dict[str, LatentDiagnostics]
    mutual_information: float
    reconstruction: dict[str, dict[str, list[float | None]]]
    epsilon: float
    delta: float
    quantiles: tuple[float, ...] = field(default=(0.05, 0.5, 0.95))

    @property
    def active_units(self) -> int:
        """Active coordinates over all latents (Burda et al.)."""
        return sum(len(d.active) for d in self.latents.values())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict.

        Returns
        -------
        dict
        """
        return {"kind": "diagnostics", "epsilon": self.epsilon, "delta": self.delta,
                "quantiles": list(self.quantiles), "active_units": self.active_units,
                "mutual_information": self.mutual_information, "reconstruction": self.reconstruction,
                "latents": {k: dict(v.__dict__) for k, v in self.latents.items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Diagnostics:
        """Read back :meth:`to_dict`.

        Parameters
        ----------
        d : dict
            As written by :meth:`to_dict`.

        Returns
        -------
        Diagnostics

        Raises
        ------
        DataError
            If ``d`` is not a diagnostics dict.
        """
        if not isinstance(d, dict) or d.get("kind") != "diagnostics":
            raise DataError("not saved diagnostics (kind 'diagnostics' expected)")
        try:
            return cls({k: LatentDiagnostics(**v) for k, v in d["latents"].items()}, d["mutual_information"],
                       d["reconstruction"], d["epsilon"], d["delta"], tuple(d["quantiles"]))
        except (KeyError, TypeError) as e:
            raise DataError(f"saved diagnostics are incomplete: {e}") from None


def _chi2_1_cdf(x: np.ndarray) -> np.ndarray:
    """CDF of chi-square with one degree of freedom (``erf(sqrt(x / 2))``; 0 for x <= 0)."""
    from scipy.special import erf

    return np.where(x > 0, erf(np.sqrt(np.maximum(x, 0.0) / 2.0)), 0.0)


def _chi2_1_ppf(q: float) -> float:
    from scipy.special import erfinv

    return float(2.0 * erfinv(q) ** 2)


def _logdet(m: np.ndarray) -> float:
    sign, ld = np.linalg.slogdet(m)
    if sign <= 0:
        raise ModelError("a latent covariance is not positive definite at these parameters")
    return float(ld)


def diagnose(model: Model, parameters: Any, data: Any = None, *, spectrum: Any = None, covariance: Any = None,
             samples: Any = None, ddof: int = 1, values: dict[str, Any] | None = None, epsilon: float = 0.01,
             delta: float = 0.01, quantiles: tuple[float, ...] = (0.05, 0.5, 0.95), **keywords: Any) -> Diagnostics:
    """Collapse diagnostics of parameters on data (closed forms; see the module docstring).

    Parameters
    ----------
    model : Model
        The model the parameters belong to.
    parameters : dict, array_like or OptimumResult
        Parameter blocks by name (``W``, ``V``, ``D`` ... as :meth:`Layout.unpack` gives them), a flat
        parameter vector, or an :class:`~statvae.analysis.optimum.OptimumResult` (its parameters and values).
    data, spectrum, covariance, samples : array_like, optional
        The data, exactly one.
    ddof : {0, 1}, optional
        Delta degrees of freedom of the covariance of samples.
    values : dict, optional
        Hyper-parameter values (keywords merged in).
    epsilon : float, optional
        KL threshold of (epsilon, delta)-collapse, in nats.
    delta : float, optional
        Probability of (epsilon, delta)-collapse, and the activity threshold (relative to the prior variance).
    quantiles : tuple of float, optional
        Quantile levels of the KL distribution reported.
    **keywords
        Hyper-parameter values.

    Returns
    -------
    Diagnostics

    Raises
    ------
    ModelError
        For parameters that do not fit the model, a hyper-parameter without a value, or bad thresholds.
    DataError
        For missing or invalid data.

    Examples
    --------
    >>> import statvae
    >>> m = statvae.LinearVAE(2, 1)
    >>> d = statvae.diagnose(m, {"W": [[1.0], [0.0]], "V": [[0.5, 0.0]], "D": [[0.5]]}, spectrum=[2.0, 1.0],
    ...                      sigma2=1.0)
    >>> d.latents["z"].activity, d.active_units
    ([0.5], 1)
    """
    from ..arguments import merged_values
    from ..numeric.bundle import compile_model
    from ..numeric.observables import block_values, covariance_blocks, terms
    from .optimum import OptimumResult, _hyper_values, user_covariance

    for name, x, lo, hi in (("epsilon", epsilon, 0.0, math.inf), ("delta", delta, 0.0, 1.0)):
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not (lo < x < hi):
            raise ModelError(f"{name} must be a number in ({lo}, {hi}), got {x!r}")
    if any(not (0 < q < 1) for q in quantiles):
        raise ModelError("quantile levels must lie in (0, 1)")
    vals = merged_values(values, keywords)
    if isinstance(parameters, OptimumResult):
        vals = {**{k: v for k, v in parameters.values.items() if k in model.values}, **vals}
        parameters = parameters.parameters
    hyper = _hyper_values(model, vals)
    cov = user_covariance(model, data, spectrum, covariance, samples, ddof)
    layout = compile_model(model).layout
    try:
        theta = layout.pack(**parameters) if isinstance(parameters, dict) else np.asarray(parameters, dtype=float)
        _, blocks = layout.check_unpack(theta)
    except ModelError:
        raise
    except Exception as e:  # a layout's own errors are statvae errors; anything else is a bad argument
        if isinstance(e, DataError):
            raise
        raise ModelError(f"parameters do not fit the model: {e}") from None
    g = model.graph
    t_data = terms(model, blocks, hyper, cov)
    zero = {k: np.zeros_like(v) for k, v in covariance_blocks(model, cov).items()}
    t_cond = terms(model, blocks, hyper, zero)
    values_, variances = block_values(model, blocks, hyper)
    latents = g.latents()
    out: dict[str, LatentDiagnostics] = {}
    for z in latents:
        total = np.asarray(t_data.covariances[(z.name, z.name)], dtype=float)
        cond = np.asarray(t_cond.covariances[(z.name, z.name)], dtype=float)
        A = np.diag(total - cond).clip(min=0.0)
        c = np.diag(cond)
        root = not g.parents(z.name, "generative")
        pv = float(variances[z.name]) if root else 1.0
        active = [int(i) for i in np.flatnonzero(A > delta * pv)]
        mi = 0.5 * (_logdet(total) - _logdet(cond))
        kl_mean = kl_q = prob = collapsed = None
        if root:
            a = 0.5 * (c / pv - 1.0 - np.log(c / pv))
            b = A / pv
            kl_mean = (a + 0.5 * b).tolist()
            kl_q = {f"{q:g}": (a + 0.5 * b * _chi2_1_ppf(q)).tolist() for q in quantiles}
            with np.errstate(divide="ignore", invalid="ignore"):
                cut = np.where(b > 0, 2.0 * (epsilon - a) / np.where(b > 0, b, 1.0),
                               np.where(a < epsilon, np.inf, -1.0))
            p = np.where(np.isinf(cut), 1.0, _chi2_1_cdf(cut))
            prob = p.tolist()
            collapsed = [int(i) for i in np.flatnonzero(p >= 1.0 - delta)]
        out[z.name] = LatentDiagnostics(A.tolist(), active, c.tolist(), kl_mean, kl_q, prob, collapsed, float(mi))
    joint = np.block([[np.asarray(t_data.covariances[(a.name, b.name)] if (a.name, b.name) in t_data.covariances
                                  else np.asarray(t_data.covariances[(b.name, a.name)]).T, dtype=float)
                       for b in latents] for a in latents])
    joint_c = np.block([[np.asarray(t_cond.covariances[(a.name, b.name)] if (a.name, b.name) in t_cond.covariances
                                    else np.asarray(t_cond.covariances[(b.name, a.name)]).T, dtype=float)
                         for b in latents] for a in latents])
    mi_all = 0.5 * (_logdet(joint) - _logdet(joint_c))
    recon: dict[str, dict[str, list[float | None]]] = {}
    cb = covariance_blocks(model, cov)
    for v in g.observed():
        parents = g.parents(v.name, "generative")
        if not parents or v.variance is None:
            continue

        def get(a: str, b: str) -> np.ndarray:
            c_ = t_data.covariances
            return np.asarray(c_[(a, b)] if (a, b) in c_ else np.asarray(c_[(b, a)]).T, dtype=float)

        R = np.asarray(cb[(v.name, v.name)], dtype=float).copy()
        for m in parents:
            M = values_[m.name]
            cross = M @ get(m.source, v.name)
            R -= cross + cross.T
            for m2 in parents:
                R += M @ get(m.source, m2.source) @ values_[m2.name].T
        lam, Q = np.linalg.eigh(np.asarray(cb[(v.name, v.name)], dtype=float))
        lam, Q = lam[::-1], Q[:, ::-1]
        res = np.einsum("ij,ik,kj->j", Q, R, Q)
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(lam > 0, res / np.where(lam > 0, lam, 1.0), np.nan)
        recon[v.name] = {"eigenvalues": lam.tolist(), "residual": res.tolist(),
                         "unexplained": [None if not np.isfinite(f) else float(f) for f in frac]}
    return Diagnostics(out, float(mi_all), recon, float(epsilon), float(delta), tuple(float(q) for q in quantiles))


def diagnose_tracked(model: Model, diagram: Any, point: int | None = None, branch: int | None = None,
                     index: int = -1, epsilon: float = 0.01, delta: float = 0.01,
                     quantiles: tuple[float, ...] = (0.05, 0.5, 0.95)) -> Diagnostics:
    """Collapse diagnostics at a point of a bifurcation diagram (:func:`statvae.track`).

    The data are those the diagram was tracked on (its canonical spectra, or the covariance it kept),
    the hyper-parameters its values with the continuation parameter at the point's value.

    Parameters
    ----------
    model : Model
        The model the diagram was tracked for.
    diagram : BifurcationDiagram
        The diagram (computed, or loaded from a file).
    point : int, optional
        Id of a special point (``diagram.points``).
    branch : int, optional
        Id of a branch, with ``index`` the point along it (default its last point); used when ``point`` is None.
    index : int, optional
        Position along ``branch``.
    epsilon, delta, quantiles
        As :func:`diagnose`.

    Returns
    -------
    Diagnostics

    Raises
    ------
    ModelError
        If the point or branch names nothing, holds no parameters, or the diagram is of another model.
    """
    meta = diagram.meta
    if meta.get("dims") is not None and dict(meta["dims"]) != dict(model.dims):
        raise ModelError(f"the diagram was tracked for dimensions {meta['dims']}, the model has {model.dims}")
    if point is not None:
        if point not in diagram.points:
            raise ModelError(f"the diagram has no special point {point!r} (ids {sorted(diagram.points)})")
        sp_ = diagram.points[point]
        theta, p = sp_.theta, sp_.parameter
    else:
        if branch not in diagram.branches:
            raise ModelError(f"the diagram has no branch {branch!r} (ids {sorted(diagram.branches)})")
        b = diagram.branches[branch]
        if b.theta is None or not (-b.points <= index < b.points):
            raise ModelError(f"branch {branch} holds no parameters at index {index} ({b.points} point(s))")
        theta, p = b.theta[index], float(b.parameter[index])
    if theta is None:
        raise ModelError("this point holds no parameters (track with theta kept)")
    values = {k: v for k, v in meta.get("values", {}).items() if k in model.values}
    values[diagram.parameter] = float(p)
    if meta.get("covariance") is not None:
        data: dict[str, Any] = {"covariance": np.asarray(meta["covariance"], dtype=float)}
    else:
        data = {"spectrum": {k: np.asarray(v, dtype=float) for k, v in meta["spectra"].items()}}
    return diagnose(model, np.asarray(theta, dtype=float), **data, values=values, epsilon=epsilon, delta=delta,
                    quantiles=quantiles)
