"""The trainer interface: what every trainer (linear numpy, PyTorch MLP, ...) provides, and what it returns.

A trainer fits a VAE with a Gaussian decoder of fixed isotropic variance ``sigma2`` and a standard normal prior to
a samples matrix ``X`` (rows are samples, already preprocessed: centred, optionally standardized and scaled; the
sweep records the transform) and reports the collapse measures of the fit in one vocabulary, :class:`Fitted`.

:func:`measure_linear` computes those measures exactly for a linear VAE (decoder ``N(W z, sigma2 I)``, encoder
``N(V x, diag(d))``): every expectation over ``q`` is in closed form, the one over the data is the mean over ``X``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import DataError

__all__ = ["Trainer", "Fitted", "Progress", "MEASURES", "STOPPED", "measure_linear", "check_samples"]

#: ``progress(epoch, loss)``: called by a trainer after each epoch (``epoch`` counts from 1, ``loss`` is the
#: epoch's mean training loss, the negative objective per sample).
Progress = Callable[[int, float], None]

#: The keys every :attr:`Fitted.measures` holds.
MEASURES = ("elbo", "kl_per_latent", "posterior_variance", "activity", "epochs", "stopped")

#: The values of ``measures["stopped"]``.
STOPPED = ("epochs", "kl plateau")


@runtime_checkable
class Trainer(Protocol):
    """A VAE trainer: fits a VAE to samples at given ``sigma2`` and ``beta`` and measures the fit.

    Attributes
    ----------
    name : str
        Short name of the architecture, e.g. ``"linear"`` or ``"mlp-128x128"``.
    """

    name: str

    def config(self) -> dict[str, Any]:
        """Everything that defines the training, JSON-ready.

        Architecture, optimiser, learning rate, epochs, batch size, the ``exact`` flag, early-stop settings: enough
        to rerun the training with the same seed and get the same result.

        Returns
        -------
        dict
        """
        ...

    def fit(self, X: np.ndarray, *, sigma2: float, beta: float, seed: int, init: Any | None = None,
            progress: Progress | None = None) -> Fitted:
        """Train on ``X`` and measure the result.

        Parameters
        ----------
        X : numpy.ndarray
            Samples, shape ``(M, N)``, rows are samples, already preprocessed (centred, optionally standardized).
        sigma2 : float
            The decoder's fixed isotropic variance (positive).
        beta : float
            Weight of the KL term (positive; 1 is the plain ELBO).
        seed : int
            Seed of everything random (initialisation, minibatch order, reparameterisation noise).
        init : object, optional
            The :attr:`Fitted.state` of an earlier fit of the same trainer on data of the same shape: training
            starts there (warm start) instead of at a seeded random initialisation.
        progress : callable, optional
            ``progress(epoch, loss)`` after every epoch.

        Returns
        -------
        Fitted
        """
        ...


@dataclass
class Fitted:
    """A trained VAE: its parameters and its collapse measures.

    Parameters
    ----------
    state : object
        Picklable parameters; the same trainer accepts it back as ``init=`` (warm start).
    measures : dict
        ``"elbo"`` (float: mean per-sample objective on X, ``E_q log p(x|z) - beta KL``, as
        :attr:`statvae.OptimumResult.elbo`), ``"kl_per_latent"`` (list: ``E_x KL(q(z_j|x) || p(z_j))``),
        ``"posterior_variance"`` (list: ``E_x Var_q(z_j|x)``), ``"activity"`` (list: ``Cov_x E_q[z_j|x]``, the
        active-units statistic of Burda et al. 2016), ``"epochs"`` (int: epochs run), ``"stopped"`` (``"epochs"``
        or ``"kl plateau"``); trainers may add more keys (e.g. ``"reconstruction"``, ``"loss"``).
    """

    state: Any
    measures: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [k for k in MEASURES if k not in self.measures]
        if missing:
            raise ValueError(f"Fitted.measures lacks {', '.join(missing)}")
        if self.measures["stopped"] not in STOPPED:
            raise ValueError(f"Fitted.measures['stopped'] is {self.measures['stopped']!r}, not one of {STOPPED}")


def check_samples(X: Any) -> np.ndarray:
    """``X`` as a finite float matrix with at least two rows, or a one-line :class:`~statvae.errors.DataError`.

    Parameters
    ----------
    X : array_like
        Samples, rows are samples.

    Returns
    -------
    numpy.ndarray
        Shape ``(M, N)``, float64, C-contiguous.
    """
    a = np.ascontiguousarray(np.asarray(X, dtype=float))
    if a.ndim != 2 or a.shape[0] < 2 or a.shape[1] < 1:
        raise DataError(f"samples must be a matrix with at least 2 rows (samples) and 1 column, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise DataError("samples contain NaN or infinite values")
    return a


def measure_linear(W: np.ndarray, V: np.ndarray, d: np.ndarray, X: np.ndarray, *, sigma2: float,
                   beta: float) -> dict[str, Any]:
    """The collapse measures of a linear VAE on samples, exact in the encoder's expectation.

    Decoder ``p(x|z) = N(W z, sigma2 I)``, encoder ``q(z|x) = N(V x, diag(d))``, prior ``N(0, I)``; the data
    expectation is the mean over the rows of ``X`` (no centring is applied here: ``X`` is used as given).

    Parameters
    ----------
    W : numpy.ndarray
        Decoder weights, shape ``(N, n)``.
    V : numpy.ndarray
        Encoder weights, shape ``(n, N)``.
    d : numpy.ndarray
        Encoder variances, shape ``(n,)``, positive.
    X : numpy.ndarray
        Samples, shape ``(M, N)``.
    sigma2 : float
        Decoder variance.
    beta : float
        KL weight.

    Returns
    -------
    dict
        ``elbo`` (the beta-weighted objective per sample), ``reconstruction`` (``E log p(x|z)``), ``kl_total``,
        ``kl_per_latent``, ``posterior_variance``, ``activity``, ``activity_spectrum`` (the eigenvalues of
        ``Cov_x E_q[z|x]``, descending: the activities of the latent space's principal axes, unchanged when the
        latents are rotated among themselves), ``decoder_norms`` (``||w_j||``); the training
        keys ``epochs`` and ``stopped`` are the trainer's to add.
    """
    X = np.asarray(X, dtype=float)
    W = np.asarray(W, dtype=float)
    V = np.asarray(V, dtype=float)
    d = np.asarray(d, dtype=float)
    M, N = X.shape
    mu = X @ V.T                                    # (M, n) posterior means
    resid = X - mu @ W.T                            # x - W E[z|x]
    # E_q ||x - W z||^2 = ||x - W mu||^2 + tr(W diag(d) W^T)
    sq = float(np.einsum("ij,ij->", resid, resid)) / M + float(np.sum((W * W) @ d))
    recon = -0.5 * N * np.log(2.0 * np.pi * sigma2) - 0.5 * sq / sigma2
    kl = 0.5 * (d + np.mean(mu * mu, axis=0) - 1.0 - np.log(d))
    activity = np.var(mu, axis=0)
    spectrum = np.linalg.eigvalsh(np.atleast_2d(np.cov(mu, rowvar=False, ddof=0)))[::-1]
    return {
        "elbo": float(recon - beta * float(np.sum(kl))),
        "reconstruction": float(recon),
        "kl_total": float(np.sum(kl)),
        "kl_per_latent": [float(v) for v in kl],
        "posterior_variance": [float(v) for v in d],
        "activity": [float(v) for v in activity],
        "activity_spectrum": [max(float(v), 0.0) for v in spectrum],
        "decoder_norms": [float(v) for v in np.linalg.norm(W, axis=0)],
    }
