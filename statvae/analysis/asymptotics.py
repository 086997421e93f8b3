"""Large-size predictions in alpha = M / N: the finite-data setting of Ichikawa and Hukushima.

Their model, as in their published code: data ``x = sqrt(rho) u c + sqrt(eta) n``
(``u`` a unit vector, ``c`` and ``n`` standard normal), one latent, decoder
mean ``W z / sqrt(N)``, encoder mean ``W~ x / sqrt(N)`` with a free variance,
decoder variance 1, no biases, and the *summed* training loss
``sum_mu [reconstruction + beta KL] + (lambda / 2)(||W||^2 + ||W~||^2)``
over ``M = alpha N`` samples.  Divided by ``M``, and with ``w = W / sqrt(N)``,
this is exactly statvae's objective (``sigma2 = 1``) on the uncentred second
moment ``X^T X / M`` with ``weight_decay_enc = weight_decay_dec = lambda / alpha``.
Its objective is invariant under rotations of data space, so the optimum
lies along one sample eigen-direction, the top one; hence in the limit

* the top eigenvalue is the BBP outlier (or the bulk edge below the transition);
* collapse is unstable exactly below statvae's critical ``beta`` for that
  eigenvalue and these weight decays, which tends to ``rho + eta`` as
  ``alpha -> infinity`` (the "inevitable collapse" threshold: with
  ``sigma2 = 1``, collapse for ``beta > rho + eta`` whatever the data size);
* the decoder's squared norm ``q`` solves the stationary equations of one
  mode (a cubic in ``q``, the global maximum among its roots and 0), and its
  overlap with ``u`` is ``m = sqrt(q * overlap2)``, with the BBP overlap.

This is derived here from their model, not copied from their paper (whose
replica formulas were not available to us); tests/analysis/test_finite.py
checks it against direct minimisation of their training loss on seeded samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..data import rmt
from ..errors import AnalysisError, DataError
from ..validate import check_real, show
from .collapse import analyse_collapse
from .results import FiniteDataPrediction, ResultStatus

__all__ = ["finite_data_prediction", "mode_optimum"]


def _mode_value(a: float, lam: float, beta: float, eta: float, s: float) -> tuple[float, float, float]:
    """``(ELBO gain over collapse, v, d)`` at the stationary point of one mode with ``||w||^2 = a``."""
    w = math.sqrt(a)
    v = w * lam / (a * lam + s * (beta * lam + eta))
    d = beta * s / (beta * s + a)
    val = (-((1 - w * v) ** 2 * lam + a * d) / (2 * s) - beta / 2 * (d + v * v * lam - 1 - math.log(d))
           - eta / 2 * (v * v + a))
    return val + lam / (2 * s), v, d


def mode_optimum(eigenvalue: float, beta: float, weight_decay: float = 0.0, sigma2: float = 1.0) -> float:
    """``||w||^2`` at the global maximum of one mode of the linear VAE (0: collapsed).

    One data direction of variance ``eigenvalue``, one latent with a free
    encoder variance, fixed decoder variance ``sigma2``, KL weight ``beta``
    and equal weight decays ``weight_decay`` on encoder and decoder.  The
    stationary equations reduce to a cubic in ``a = ||w||^2``:

        eta l^2 a^3 + (B l^2 + 2 eta l K) a^2 + (2 B l K + eta K^2 - (beta l + eta) l^2) a
        + beta s (beta l + eta) ((1 + eta s) s (beta l + eta) - l^2) = 0,

    with ``l`` the eigenvalue, ``s = sigma2``, ``eta`` the weight decay,
    ``K = s (beta l + eta)`` and ``B = beta (1 + eta s)``; the answer is the
    root with the largest objective, or 0 when none beats collapse.  Without
    weight decay it is ``max(0, l - beta s)``.

    Parameters
    ----------
    eigenvalue : float
        ``l > 0``.
    beta : float
        KL weight (> 0).
    weight_decay : float, optional
        ``eta >= 0`` (per sample: ``lambda / alpha`` for a summed loss).
    sigma2 : float, optional
        Decoder variance (> 0).

    Returns
    -------
    float

    Examples
    --------
    >>> mode_optimum(3.0, 1.0), mode_optimum(0.5, 1.0)
    (2.0, 0.0)
    """
    lam = check_real(eigenvalue, "eigenvalue", "positive", error=DataError)
    beta = check_real(beta, "beta", "positive")
    eta = check_real(weight_decay, "weight_decay", "nonnegative")
    s = check_real(sigma2, "sigma2", "positive")
    k = s * (beta * lam + eta)
    bb = beta * (1 + eta * s)
    coeffs = [eta * lam ** 2, bb * lam ** 2 + 2 * eta * lam * k, 2 * bb * lam * k + eta * k ** 2 - (beta * lam + eta)
              * lam ** 2, beta * s * (beta * lam + eta) * ((1 + eta * s) * s * (beta * lam + eta) - lam ** 2)]
    if abs(coeffs[0]) <= 1e-13 * max(abs(c) for c in coeffs[1:]):
        coeffs = coeffs[1:]  # a negligible weight decay: its only other root is large and negative
    roots = [float(r.real) for r in np.roots(coeffs) if abs(r.imag) <= 1e-9 * max(1.0, abs(r.real)) and r.real > 0]
    if not roots:
        return 0.0
    gains = [_mode_value(r, lam, beta, eta, s)[0] for r in roots]
    best = int(np.argmax(gains))
    unstable = coeffs[-1] < 0  # the constant term: collapse has an ascent direction
    # near the threshold the gain (of order q^2) can round to <= 0: an unstable collapse is never the optimum
    return roots[best] if gains[best] > 0 or unstable else 0.0


def _beta_critical(top: float, eff: float, s: float) -> float:
    """statvae's critical beta for a one-dimensional spectrum ``[top]`` (nan when there is none)."""
    from ..model.presets import LinearVAE

    model = LinearVAE(1, 1, sigma2=s, weight_decay_enc=eff, weight_decay_dec=eff, beta=None)
    try:
        return float(analyse_collapse(model).critical("beta", spectrum=[top]).value)
    except AnalysisError:
        return math.nan


def finite_data_prediction(alpha: float | Sequence[float], beta: float = 1.0, rho: float = 1.0, eta: float = 1.0,
                           weight_decay: float = 0.0, sigma2: float = 1.0) -> list[FiniteDataPrediction]:
    """The large-size predictions of the setting of Ichikawa and Hukushima, for each ``alpha``.

    See the module notes for the setting and the derivation.

    Parameters
    ----------
    alpha : float or sequence of float
        Samples per dimension, ``M / N`` (> 0).
    beta : float
        KL weight (> 0).
    rho : float
        The spike above the noise (>= 0; population eigenvalue ``eta + rho``).
    eta : float
        The noise variance (> 0).
    weight_decay : float
        ``lambda >= 0``, the ridge weight decay of the summed training loss
        (statvae's per-sample weight decays are ``lambda / alpha``).
    sigma2 : float
        Decoder variance (1 in the paper).

    Returns
    -------
    list of FiniteDataPrediction
        One per ``alpha``.

    Raises
    ------
    DataError, ModelError
        For a bad argument.
    AnalysisError
        If the global optimum and the stability of collapse contradict each other.

    Examples
    --------
    >>> [round(p.top_eigenvalue, 12) for p in finite_data_prediction([10, 4, 2])]
    [2.2, 2.5, 3.0]
    >>> p = finite_data_prediction(4, beta=1.0, weight_decay=1.0)[0]
    >>> round(p.beta_critical, 6), p.collapsed, round(p.overlap2, 3)
    (1.9, False, 0.6)
    """
    alphas = np.atleast_1d(np.asarray(alpha, dtype=float)) if not isinstance(alpha, str) else None
    if alphas is None or alphas.ndim != 1 or alphas.size == 0:
        raise DataError(f"alpha must be a number or a list of numbers, got {show(alpha)}")
    for v in alphas:
        check_real(float(v), "alpha", "positive", error=DataError)
    beta = check_real(beta, "beta", "positive")
    rho = check_real(rho, "rho", "nonnegative", error=DataError)
    eta = check_real(eta, "eta", "positive", error=DataError)
    lam = check_real(weight_decay, "weight_decay", "nonnegative")
    s = check_real(sigma2, "sigma2", "positive")
    out = []
    for al in alphas:
        al = float(al)
        top = float(rmt.bbp_outlier(rho, al, eta))
        ov = float(rmt.bbp_overlap(rho, al, eta))
        visible = rho > float(rmt.bbp_critical_spike(al, eta))
        eff = lam / al
        bc = _beta_critical(top, eff, s)
        q = mode_optimum(top, beta, eff, s)
        unstable = top ** 2 > s * (1 + eff * s) * (beta * top + eff)  # the 2x2 block at collapse
        if unstable and q == 0.0:
            raise AnalysisError(f"alpha = {al:g}: collapse is unstable but no non-collapsed optimum was found")
        if not math.isnan(bc) and unstable != (beta < bc):
            raise AnalysisError(f"alpha = {al:g}: statvae's critical beta {bc:.12g} and the block at collapse "
                                f"disagree at beta = {beta:g}")
        mm = math.sqrt(q * ov)
        out.append(FiniteDataPrediction(al, rho, eta, beta, lam, s, top, visible, ov, eff, bc, q == 0.0, q, mm,
                                        rho - 2 * math.sqrt(rho) * mm + q, ResultStatus.CONFIRMED))
    return out
