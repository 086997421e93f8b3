"""Random-matrix predictions for sample covariances, as functions of alpha = M / N.

M samples of N-dimensional data with population covariance ``eta I`` (isotropic
noise of variance ``eta``) give a sample covariance whose eigenvalues, as
``M, N -> infinity`` with ``alpha = M / N`` fixed, follow the Marchenko-Pastur
law: the bulk lies on ``eta (1 -+ sqrt(1/alpha))^2`` (with ``N - M`` zero
eigenvalues when ``alpha < 1``).

A spiked covariance ``eta I + rho u u^T`` (one direction ``u`` with variance
``eta + rho``, i.e. a spike ``rho`` above the noise) is visible in the sample
spectrum only above the BBP transition (Baik, Ben Arous and Peche 2005;
Paul 2007), ``rho > eta / sqrt(alpha)``, equivalently ``alpha > (eta / rho)^2``.
Above it the top sample eigenvalue separates from the bulk at ::

    lambda = (eta + rho) (1 + eta / (alpha rho)),

and the squared overlap of its eigenvector with ``u`` is ::

    |<u, v>|^2 = (1 - eta^2 / (alpha rho^2)) / (1 + eta / (alpha rho));

below it the top eigenvalue sticks to the bulk edge and the overlap vanishes.
At ``rho = eta = 1`` the outlier is 2.2, 2.5, 3.0 and the squared overlap
0.818, 0.6, 0.333 at ``alpha = 10, 4, 2``.  These are limits: at finite size
the top eigenvalue fluctuates around them on the scale ``N^(-2/3)`` at the
edge and ``M^(-1/2)`` for an outlier (tests/data/test_rmt.py measures it).

Every function here takes and returns plain numbers (arrays broadcast), so it
sits in the data layer; :mod:`statvae.analysis.finite` builds the finite-sample
reports on it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import DataError
from ..validate import show

__all__ = ["mp_edges", "mp_cdf", "mp_median", "mp_nonzero_median", "bbp_outlier", "bbp_overlap",
           "bbp_critical_spike", "bbp_critical_alpha", "spike_from_outlier", "estimate_noise_variance",
           "NOISE_ESTIMATORS"]

#: Estimators of the noise variance from a sample spectrum (see :func:`estimate_noise_variance`).
NOISE_ESTIMATORS = ("median", "bulk")


def _positive(value: Any, what: str, allow_zero: bool = False) -> np.ndarray:
    """``value`` as a float array, every entry finite and > 0 (>= 0 with ``allow_zero``)."""
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{what} must be a number (or an array of numbers), got {show(value)}") from None
    if a.dtype.kind not in "fiu" or not np.all(np.isfinite(a)) or np.any(a < 0) or (not allow_zero and np.any(a == 0)):
        raise DataError(f"{what} must be finite and {'>= 0' if allow_zero else '> 0'}, got {show(value)}")
    return a


def _out(a: np.ndarray) -> Any:
    """A 0-d result as a float, else the array."""
    return float(a) if np.ndim(a) == 0 else a


def mp_edges(alpha: Any, variance: Any = 1.0) -> tuple[Any, Any]:
    """Edges of the Marchenko-Pastur bulk: ``variance (1 -+ sqrt(1/alpha))^2``.

    Parameters
    ----------
    alpha : float or array_like
        Samples per dimension, ``M / N`` (> 0).
    variance : float or array_like, optional
        The noise variance ``eta`` (> 0).

    Returns
    -------
    lower, upper : float or numpy.ndarray
        The edges of the support of the non-zero eigenvalues.

    Examples
    --------
    >>> mp_edges(4.0)
    (0.25, 2.25)
    """
    a, v = _positive(alpha, "alpha"), _positive(variance, "the noise variance")
    g = np.sqrt(1.0 / a)
    return _out(v * (1 - g) ** 2), _out(v * (1 + g) ** 2)


def _ratio(alpha: float) -> tuple[float, float]:
    """``(r, c)``: the non-zero eigenvalues are ``c`` times a unit Marchenko-Pastur law of ratio ``r <= 1``."""
    return (1.0 / alpha, 1.0) if alpha >= 1 else (alpha, 1.0 / alpha)


def _unit_cdf(x: float, r: float) -> float:
    """CDF of the Marchenko-Pastur law of ratio ``r <= 1`` and unit variance (no atom), by quadrature."""
    from scipy.integrate import quad

    lo, hi = (1 - math.sqrt(r)) ** 2, (1 + math.sqrt(r)) ** 2
    if x <= lo:
        return 0.0
    if x >= hi:
        return 1.0

    # x = lo + (hi - lo) sin^2(t): the square-root zeros at both edges become smooth
    def f(t: float) -> float:
        s = lo + (hi - lo) * math.sin(t) ** 2
        return (hi - lo) ** 2 * (math.sin(t) * math.cos(t)) ** 2 * 2 / (2 * math.pi * r * s)

    t = math.asin(math.sqrt((x - lo) / (hi - lo)))
    # near r = 1 the lower edge lo -> 0 and the integrand rises from 0 to its plateau over t ~ sqrt(lo / hi),
    # a feature adaptive quadrature can step over: break the interval at that scale
    tc = math.sqrt(lo / (hi - lo))
    points = [p for p in (tc, 10 * tc, 100 * tc) if 0.0 < p < t] or None
    return float(min(1.0, quad(f, 0.0, t, epsabs=1e-13, epsrel=1e-12, limit=200, points=points)[0]))


def mp_cdf(x: Any, alpha: float, variance: float = 1.0) -> Any:
    """CDF of the Marchenko-Pastur law of all ``N`` eigenvalues (the atom ``1 - alpha`` at 0 when ``alpha < 1``).

    Parameters
    ----------
    x : float or array_like
        Where to evaluate.
    alpha : float
        ``M / N`` (> 0).
    variance : float, optional
        The noise variance (> 0).

    Returns
    -------
    float or numpy.ndarray

    Examples
    --------
    >>> mp_cdf(2.25, 4.0), mp_cdf(0.0, 0.5)
    (1.0, 0.5)
    """
    a = float(_positive(alpha, "alpha"))
    v = float(_positive(variance, "the noise variance"))
    xs = np.asarray(x, dtype=float)
    r, c = _ratio(a)
    atom = max(0.0, 1.0 - a)
    out = np.array([atom + (1 - atom) * _unit_cdf(float(t) / (v * c), r) if t >= 0 else 0.0
                    for t in xs.ravel()]).reshape(xs.shape)
    return _out(out)


def mp_nonzero_median(alpha: float, variance: float = 1.0) -> float:
    """Median of the non-zero eigenvalues under the Marchenko-Pastur law (all of them when ``alpha >= 1``).

    Parameters
    ----------
    alpha : float
        ``M / N`` (> 0).
    variance : float, optional
        The noise variance (> 0).

    Returns
    -------
    float

    Examples
    --------
    >>> round(mp_nonzero_median(1e9), 4)
    1.0
    """
    from scipy.optimize import brentq

    a = float(_positive(alpha, "alpha"))
    v = float(_positive(variance, "the noise variance"))
    r, c = _ratio(a)
    lo, hi = (1 - math.sqrt(r)) ** 2, (1 + math.sqrt(r)) ** 2
    if hi - lo < 1e-12:
        return v * c
    return v * c * float(brentq(lambda t: _unit_cdf(t, r) - 0.5, lo, hi, xtol=1e-14, rtol=1e-13))


def mp_median(alpha: float, variance: float = 1.0) -> float:
    """Median of all ``N`` eigenvalues under the Marchenko-Pastur law (0 when the zero atom holds half).

    Parameters
    ----------
    alpha : float
        ``M / N`` (> 0).
    variance : float, optional
        The noise variance (> 0).

    Returns
    -------
    float
    """
    from scipy.optimize import brentq

    a = float(_positive(alpha, "alpha"))
    v = float(_positive(variance, "the noise variance"))
    if a <= 0.5:
        return 0.0
    r, c = _ratio(a)
    atom = max(0.0, 1.0 - a)
    lo, hi = (1 - math.sqrt(r)) ** 2, (1 + math.sqrt(r)) ** 2
    if hi - lo < 1e-12:
        return v * c
    target = (0.5 - atom) / (1 - atom)
    return v * c * float(brentq(lambda t: _unit_cdf(t, r) - target, lo, hi, xtol=1e-14, rtol=1e-13))


def bbp_critical_spike(alpha: Any, eta: Any = 1.0) -> Any:
    """The smallest visible spike: ``rho_c = eta / sqrt(alpha)`` (BBP transition).

    Parameters
    ----------
    alpha : float or array_like
        ``M / N`` (> 0).
    eta : float or array_like, optional
        The noise variance (> 0).

    Returns
    -------
    float or numpy.ndarray

    Examples
    --------
    >>> bbp_critical_spike(4.0)
    0.5
    """
    a, e = _positive(alpha, "alpha"), _positive(eta, "eta")
    return _out(e / np.sqrt(a))


def bbp_critical_alpha(rho: Any, eta: Any = 1.0) -> Any:
    """The fewest samples per dimension at which a spike ``rho`` is visible: ``alpha_c = (eta / rho)^2``.

    Parameters
    ----------
    rho : float or array_like
        The spike above the noise (> 0).
    eta : float or array_like, optional
        The noise variance (> 0).

    Returns
    -------
    float or numpy.ndarray

    Examples
    --------
    >>> bbp_critical_alpha(0.5)
    4.0
    """
    r, e = _positive(rho, "rho"), _positive(eta, "eta")
    return _out((e / r) ** 2)


def bbp_outlier(rho: Any, alpha: Any, eta: Any = 1.0) -> Any:
    """Top sample eigenvalue for a spike ``rho`` above noise ``eta``: the outlier, or the bulk edge below BBP.

    Parameters
    ----------
    rho : float or array_like
        The spike above the noise (>= 0; population eigenvalue ``eta + rho``).
    alpha : float or array_like
        ``M / N`` (> 0).
    eta : float or array_like, optional
        The noise variance (> 0).

    Returns
    -------
    float or numpy.ndarray
        ``(eta + rho)(1 + eta / (alpha rho))`` above the transition, ``eta (1 + sqrt(1/alpha))^2`` below.

    Examples
    --------
    >>> [round(bbp_outlier(1.0, a), 12) for a in (10.0, 4.0, 2.0)]
    [2.2, 2.5, 3.0]
    """
    r = _positive(rho, "rho", allow_zero=True)
    a, e = _positive(alpha, "alpha"), _positive(eta, "eta")
    r, a, e = np.broadcast_arrays(r, a, e)
    above = r > e / np.sqrt(a)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # rho -> 0 lanes, dropped by np.where
        spike = (e + r) * (1 + e / (a * r))
    return _out(np.where(above, spike, e * (1 + np.sqrt(1 / a)) ** 2))


def bbp_overlap(rho: Any, alpha: Any, eta: Any = 1.0) -> Any:
    """Squared overlap of the top sample eigenvector with the spike direction (0 below the BBP transition).

    Parameters
    ----------
    rho : float or array_like
        The spike above the noise (>= 0).
    alpha : float or array_like
        ``M / N`` (> 0).
    eta : float or array_like, optional
        The noise variance (> 0).

    Returns
    -------
    float or numpy.ndarray
        ``(1 - eta^2 / (alpha rho^2)) / (1 + eta / (alpha rho))`` above the transition, else 0.

    Examples
    --------
    >>> [round(bbp_overlap(1.0, a), 3) for a in (10.0, 4.0, 2.0)]
    [0.818, 0.6, 0.333]
    """
    r = _positive(rho, "rho", allow_zero=True)
    a, e = _positive(alpha, "alpha"), _positive(eta, "eta")
    r, a, e = np.broadcast_arrays(r, a, e)
    above = r > e / np.sqrt(a)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # rho -> 0 lanes, dropped by np.where
        ov = (1 - e ** 2 / (a * r ** 2)) / (1 + e / (a * r))
    return _out(np.where(above, ov, 0.0))


def spike_from_outlier(eigenvalue: Any, alpha: Any, eta: Any = 1.0) -> Any:
    """Invert :func:`bbp_outlier`: the spike ``rho`` whose outlier is ``eigenvalue`` (NaN at or below the edge).

    Solves ``alpha rho^2 + (eta alpha + eta - lambda alpha) rho + eta^2 = 0`` for
    its root above the transition.

    Parameters
    ----------
    eigenvalue : float or array_like
        A sample eigenvalue (>= 0).
    alpha : float or array_like
        ``M / N`` (> 0).
    eta : float or array_like, optional
        The noise variance (> 0).

    Returns
    -------
    float or numpy.ndarray
        The spike above the noise, NaN where the eigenvalue is not above the bulk edge.

    Examples
    --------
    >>> round(spike_from_outlier(2.5, 4.0), 12)
    1.0
    """
    lam = _positive(eigenvalue, "eigenvalue", allow_zero=True)
    a, e = _positive(alpha, "alpha"), _positive(eta, "eta")
    lam, a, e = np.broadcast_arrays(lam, a, e)
    edge = e * (1 + np.sqrt(1 / a)) ** 2
    b = lam * a - e * a - e
    disc = b ** 2 - 4 * a * e ** 2
    with np.errstate(invalid="ignore"):
        rho = (b + np.sqrt(np.maximum(disc, 0.0))) / (2 * a)
    return _out(np.where(lam > edge, rho, np.nan))


def estimate_noise_variance(eigenvalues: Any, alpha: float, method: str = "median", scale: float = 1.0) -> float:
    """The noise variance ``eta`` for which the sample spectrum's bulk matches the Marchenko-Pastur law.

    ``"median"``: the median of the non-zero sample eigenvalues (the top
    ``min(N, M)``) divided by the median of the non-zero part of the
    Marchenko-Pastur law of unit variance (:func:`mp_nonzero_median`); a few
    spikes move it by O(1/N).  ``"bulk"``: the mean of the eigenvalues at or
    below the bulk edge (the law's mean is ``eta``, zero eigenvalues
    included), iterated from the median estimate until the set of
    eigenvalues below the edge stops changing.

    Parameters
    ----------
    eigenvalues : array_like
        All ``N`` eigenvalues of the sample second moment.
    alpha : float
        Effective samples per dimension, ``M_eff / N`` (``M - 1`` samples after centring).
    method : {"median", "bulk"}
        The estimator.
    scale : float, optional
        The eigenvalues are ``scale`` times a Wishart matrix divided by its
        sample count (``M_eff / (M - ddof)``; 1 for the unbiased covariance).

    Returns
    -------
    float

    Raises
    ------
    DataError
        For a bad spectrum, ``alpha`` or method, or a spectrum with no positive eigenvalue.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((4000, 400)) * np.sqrt(2.0)
    >>> eig = np.linalg.eigvalsh(x.T @ x / 4000)
    >>> round(estimate_noise_variance(eig, 10.0), 2)
    2.0
    """
    from .spectra import validate_spectrum

    if method not in NOISE_ESTIMATORS:
        raise DataError(f"the noise estimator must be one of {', '.join(NOISE_ESTIMATORS)}, got {show(method)}")
    raw = np.asarray(eigenvalues, dtype=float)
    if raw.size and np.all(np.isfinite(raw)):  # rounding makes zero eigenvalues slightly negative
        raw = np.where((raw < 0) & (raw >= -1e-10 * np.abs(raw).max()), 0.0, raw)
    ev = validate_spectrum(raw, "eigenvalues")
    a = float(_positive(alpha, "alpha"))
    sc = float(_positive(scale, "scale"))
    n = ev.size
    k = min(n, max(1, int(round(a * n))))
    nonzero = ev[:k] / sc
    if not np.any(nonzero > 0):
        raise DataError("the spectrum has no positive eigenvalue: no noise variance to estimate")
    eta = float(np.median(nonzero)) / mp_nonzero_median(a)
    if method == "median":
        return eta
    all_ev = ev / sc
    below = None
    for _ in range(100):
        edge = eta * (1 + math.sqrt(1 / a)) ** 2
        now = all_ev <= edge
        if below is not None and np.array_equal(now, below):
            break
        below = now
        if not np.any(now):
            raise DataError("no eigenvalue lies in the bulk: no noise variance to estimate")
        # the bulk of the law has mean eta over all N eigenvalues; the ones above the edge are spikes
        eta = float(np.sum(all_ev[now]) / now.sum())
    return eta
