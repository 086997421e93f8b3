"""A linear VAE trained as VAEs are: minibatches, reparameterised samples, Adam, seeded (numpy only).

Model (the seed paper's, on centred data, so without biases): decoder ``p(x|z) = N(W z, sigma2 I)`` with a fixed
isotropic variance, encoder ``q(z|x) = N(V x, diag(d))``, prior ``N(0, I)``.  The loss of a minibatch is the
negative of the ``beta``-weighted ELBO per sample, with the reconstruction term estimated by one (or
``mc_samples``) reparameterised draw ``z = V x + sqrt(d) * eps`` and the Gaussian KL in closed form (the estimator
of Kingma and Welling 2014 that VAE code uses).  The encoder variances are trained as log variances.

``exact=True`` replaces the sampled reconstruction by its exact expectation over ``q``: the gradient of the
objective at the minibatch's second moment ``X_b^T X_b / B``, from statvae's compiled objective (the model
:func:`statvae.model.presets.LinearVAE` compiled by :func:`statvae.numeric.bundle.compile_model` and bound to the
minibatch).  Only the minibatch noise is left.

Early stop on a KL plateau (``plateau_tol``): every ``plateau_window`` epochs the total KL on all of ``X`` is
compared with its value one window earlier; training stops when it changed by less than
``plateau_tol * max(KL, plateau_floor)``.  Near a threshold the KL moves slowly (critical slowing down), so a
plateau stop there is premature by construction: it is off by default.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ModelError
from ..validate import show
from .base import Fitted, Progress, check_samples, measure_linear

__all__ = ["LinearTrainer", "sampled_loss_and_gradient", "exact_loss_and_gradient", "initial_state"]

#: The parameter blocks of a state, in the order of the flat vector used by Adam.
_BLOCKS = ("W", "V", "log_d")


def _positive(name: str, v: Any, integer: bool = False) -> Any:
    ok = isinstance(v, (int, np.integer)) if integer else isinstance(v, (int, float, np.integer, np.floating))
    if isinstance(v, (bool, np.bool_)) or not ok or not math.isfinite(float(v)) or v <= 0:
        kind = "a positive integer" if integer else "a positive number"
        raise ModelError(f"{name} must be {kind}, got {show(v)}")
    return int(v) if integer else float(v)


def initial_state(data_dim: int, latent_dim: int, rng: np.random.Generator, scale: float = 0.1) -> dict[str, Any]:
    """A seeded random starting point: small Gaussian weights, encoder variances 1.

    Parameters
    ----------
    data_dim, latent_dim : int
        ``N`` and ``n``.
    rng : numpy.random.Generator
        Source of the weights.
    scale : float, optional
        Standard deviation of the weights, relative to ``1 / sqrt(N)``.

    Returns
    -------
    dict
        ``{"W": (N, n), "V": (n, N), "log_d": (n,)}``.
    """
    s = scale / math.sqrt(data_dim)
    return {"W": rng.normal(0.0, s, (data_dim, latent_dim)), "V": rng.normal(0.0, s, (latent_dim, data_dim)),
            "log_d": np.zeros(latent_dim)}


def sampled_loss_and_gradient(state: dict[str, Any], Xb: np.ndarray, eps: np.ndarray, *, sigma2: float,
                              beta: float) -> tuple[float, dict[str, np.ndarray]]:
    """The reparameterised minibatch loss and its exact gradient for the given noise.

    ``loss = mean_b [ N/2 log(2 pi sigma2) + mean_s ||x_b - W z_bs||^2 / (2 sigma2) + beta KL(q(z|x_b) || p(z)) ]``
    with ``z_bs = V x_b + sqrt(d) eps_bs``; for fixed ``eps`` it is a smooth function of the parameters and this is
    its gradient (checked against finite differences in the tests).

    Parameters
    ----------
    state : dict
        ``W`` (N, n), ``V`` (n, N), ``log_d`` (n,).
    Xb : numpy.ndarray
        The minibatch, shape (B, N).
    eps : numpy.ndarray
        Standard normal draws, shape (S, B, n) (S draws per sample) or (B, n).
    sigma2 : float
        Decoder variance.
    beta : float
        KL weight.

    Returns
    -------
    loss : float
    gradient : dict
        By block, the shapes of ``state``.
    """
    W, V, log_d = state["W"], state["V"], state["log_d"]
    e = eps if eps.ndim == 3 else eps[None]
    S, B = e.shape[0], Xb.shape[0]
    N = Xb.shape[1]
    d = np.exp(log_d)
    sd = np.sqrt(d)
    mu = Xb @ V.T                                           # (B, n)
    z = mu[None] + sd * e                                   # (S, B, n)
    r = Xb[None] - z @ W.T                                  # (S, B, N)
    kl = 0.5 * (d + mu * mu - 1.0 - log_d)                  # (B, n)
    loss = (0.5 * N * math.log(2.0 * math.pi * sigma2) + 0.5 * float(np.einsum("sbi,sbi->", r, r)) / (S * B * sigma2)
            + beta * float(kl.sum()) / B)
    gz = -(r @ W) / sigma2                                  # d(per-draw loss)/dz, (S, B, n)
    gW = -np.einsum("sbi,sbj->ij", r, z) / (S * B * sigma2)
    gmu = gz.mean(axis=0) + beta * mu                       # (B, n)
    gV = gmu.T @ Xb / B
    glog_d = 0.5 * sd * np.einsum("sbj,sbj->j", gz, e) / (S * B) + 0.5 * beta * (d - 1.0)
    return loss, {"W": gW, "V": gV, "log_d": glog_d}


def exact_loss_and_gradient(state: dict[str, Any], bound: Any) -> tuple[float, dict[str, np.ndarray]]:
    """The loss (negative objective) and its gradient from a bound compiled objective, exact in ``q``.

    Parameters
    ----------
    state : dict
        ``W``, ``V``, ``log_d``.
    bound : statvae.numeric.bundle.BoundObjective
        The compiled objective of ``LinearVAE(N, n)`` bound to the minibatch's second moment, ``sigma2`` and
        ``beta``.

    Returns
    -------
    loss : float
    gradient : dict
        By block (the encoder variances by the chain rule through ``d = exp(log_d)``).
    """
    owner = bound.owner
    d = np.exp(state["log_d"])
    theta = owner.pack(W=state["W"], V=state["V"], D=np.diag(d))
    value, grad = bound.value_and_gradient(theta)
    g = owner.unpack(-np.asarray(grad, dtype=float))
    return -float(value), {"W": g["W"], "V": g["V"], "log_d": np.diag(g["D"]) * d}


class LinearTrainer:
    """Trains the linear VAE with Adam on minibatches (see the module's documentation).

    Parameters
    ----------
    latent_dim : int
        ``n``.
    epochs : int, optional
        Epochs per fit (each a pass over a seeded permutation of the samples).
    batch_size : int, optional
        Minibatch size (the last, smaller batch of an epoch is used too).
    lr : float, optional
        Adam's learning rate.
    adam : tuple of float, optional
        Adam's ``(beta1, beta2, eps)``.
    exact : bool, optional
        Use the exact expectation over ``q`` (the compiled objective's gradient at the minibatch's second moment)
        instead of reparameterised samples.
    mc_samples : int, optional
        Reparameterised draws per sample (ignored with ``exact``).
    plateau_tol : float, optional
        Relative change of the total KL over ``plateau_window`` epochs below which training stops (``None``:
        never).
    plateau_window : int, optional
        Epochs between the KL comparisons of the plateau test.
    plateau_floor : float, optional
        The KL below which changes are measured absolutely (a collapsed fit's KL is near 0).
    init_scale : float, optional
        Scale of the random initial weights (relative to ``1 / sqrt(N)``).
    schedule : {"cosine", "constant"}, optional
        Learning rate over a fit: cosine decay from ``lr`` to 0 over its steps (default; the reparameterisation
        noise then settles, so collapsed latents read as collapsed), or constant.
    """

    def __init__(self, latent_dim: int, *, epochs: int = 300, batch_size: int = 128, lr: float = 2e-3,
                 adam: tuple[float, float, float] = (0.9, 0.999, 1e-8), exact: bool = False, mc_samples: int = 1,
                 plateau_tol: float | None = None, plateau_window: int = 20, plateau_floor: float = 1e-3,
                 init_scale: float = 0.1, schedule: str = "cosine") -> None:
        self.latent_dim = _positive("latent_dim", latent_dim, integer=True)
        self.epochs = _positive("epochs", epochs, integer=True)
        self.batch_size = _positive("batch_size", batch_size, integer=True)
        self.lr = _positive("lr", lr)
        if len(adam) != 3 or not (0 <= adam[0] < 1 and 0 <= adam[1] < 1 and adam[2] > 0):
            raise ModelError(f"adam must be (beta1, beta2, eps) with 0 <= beta1, beta2 < 1 < and eps > 0, got {adam}")
        self.adam = (float(adam[0]), float(adam[1]), float(adam[2]))
        if not isinstance(exact, (bool, np.bool_)):
            raise ModelError(f"exact must be True or False, got {show(exact)}")
        self.exact = bool(exact)
        self.mc_samples = _positive("mc_samples", mc_samples, integer=True)
        self.plateau_tol = None if plateau_tol is None else _positive("plateau_tol", plateau_tol)
        self.plateau_window = _positive("plateau_window", plateau_window, integer=True)
        self.plateau_floor = _positive("plateau_floor", plateau_floor)
        self.init_scale = _positive("init_scale", init_scale)
        if schedule not in ("constant", "cosine"):
            raise ModelError(f"schedule must be 'constant' or 'cosine', got {show(schedule)}")
        self.schedule = schedule
        self.name = "linear-exact" if self.exact else "linear"
        self._compiled: dict[int, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        s = dict(self.__dict__)
        s["_compiled"] = {}  # compiled code is rebuilt (from the on-disk cache) in another process
        return s

    def config(self) -> dict[str, Any]:
        """The training's definition, JSON-ready.

        Returns
        -------
        dict
        """
        return {"trainer": "linear", "architecture": f"linear VAE, {self.latent_dim} latent(s), diagonal encoder "
                                                     "covariance, no biases (centred data)",
                "latent_dim": self.latent_dim, "optimizer": "adam", "lr": self.lr, "schedule": self.schedule,
                "adam": list(self.adam),
                "epochs": self.epochs, "batch_size": self.batch_size, "exact": self.exact,
                "mc_samples": self.mc_samples, "plateau_tol": self.plateau_tol, "plateau_window": self.plateau_window,
                "plateau_floor": self.plateau_floor, "init_scale": self.init_scale}

    def _bound_factory(self, data_dim: int) -> Any:
        if data_dim not in self._compiled:
            from ..model.presets import LinearVAE
            from ..numeric.bundle import compile_model

            self._compiled[data_dim] = compile_model(LinearVAE(data_dim, self.latent_dim, beta=None))
        return self._compiled[data_dim]

    def fit(self, X: np.ndarray, *, sigma2: float, beta: float, seed: int, init: Any | None = None,
            progress: Progress | None = None) -> Fitted:
        """Train on ``X`` and measure the result.

        Parameters
        ----------
        X : numpy.ndarray
            Samples (M, N), preprocessed.
        sigma2 : float
            Decoder variance.
        beta : float
            KL weight.
        seed : int
            Seed of the initialisation, the minibatch order and the reparameterisation noise.
        init : dict, optional
            A previous fit's state (warm start).
        progress : callable, optional
            ``progress(epoch, mean loss)`` after every epoch.

        Returns
        -------
        Fitted
            ``state`` is ``{"W", "V", "log_d"}``; the measures are :func:`~statvae.training.base.measure_linear`'s
            on all of ``X`` (exact in ``q``), plus ``epochs``, ``stopped`` and ``loss`` (the last epoch's mean).
        """
        X = check_samples(X)
        sigma2 = _positive("sigma2", sigma2)
        beta = _positive("beta", beta)
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ModelError(f"seed must be a non-negative integer, got {show(seed)}")
        M, N = X.shape
        n = self.latent_dim
        rng = np.random.default_rng([int(seed), 0x5EED])
        if init is None:
            state = initial_state(N, n, rng, self.init_scale)
        else:
            state = {k: np.array(init[k], dtype=float) for k in _BLOCKS}
            if state["W"].shape != (N, n) or state["V"].shape != (n, N) or state["log_d"].shape != (n,):
                raise ModelError(f"init does not fit {N} features and {n} latent(s): shapes "
                                 f"{[state[k].shape for k in _BLOCKS]}")
        compiled = self._bound_factory(N) if self.exact else None
        b1, b2, aeps = self.adam
        m1 = {k: np.zeros_like(v) for k, v in state.items()}
        m2 = {k: np.zeros_like(v) for k, v in state.items()}
        step = 0
        stopped, epochs_run, loss_epoch = "epochs", 0, float("nan")
        kl_prev = float(measure_linear(state["W"], state["V"], np.exp(state["log_d"]), X, sigma2=sigma2,
                                       beta=beta)["kl_total"]) if self.plateau_tol is not None else 0.0
        per_epoch = -(-M // self.batch_size)
        total_steps = per_epoch * self.epochs
        for epoch in range(1, self.epochs + 1):
            perm = rng.permutation(M)
            total = 0.0
            for start in range(0, M, self.batch_size):
                Xb = X[perm[start:start + self.batch_size]]
                if compiled is not None:
                    Cb = Xb.T @ Xb / Xb.shape[0]
                    loss, grad = exact_loss_and_gradient(state, compiled.bind(covariance=0.5 * (Cb + Cb.T),
                                                                              sigma2=sigma2, beta=beta))
                else:
                    eps = rng.standard_normal((self.mc_samples, Xb.shape[0], n))
                    loss, grad = sampled_loss_and_gradient(state, Xb, eps, sigma2=sigma2, beta=beta)
                total += loss * Xb.shape[0]
                step += 1
                c1, c2 = 1.0 - b1 ** step, 1.0 - b2 ** step
                lr = self.lr if self.schedule == "constant" else \
                    0.5 * self.lr * (1.0 + math.cos(math.pi * (step - 1) / total_steps))
                for k in _BLOCKS:
                    g = grad[k]
                    m1[k] = b1 * m1[k] + (1.0 - b1) * g
                    m2[k] = b2 * m2[k] + (1.0 - b2) * g * g
                    state[k] = state[k] - lr * (m1[k] / c1) / (np.sqrt(m2[k] / c2) + aeps)
            loss_epoch = total / M
            epochs_run = epoch
            if not math.isfinite(loss_epoch):
                raise ModelError(f"training diverged at epoch {epoch} (loss {loss_epoch}); lower lr (now {self.lr})")
            if progress is not None:
                progress(epoch, loss_epoch)
            if self.plateau_tol is not None and epoch % self.plateau_window == 0:
                kl = float(measure_linear(state["W"], state["V"], np.exp(state["log_d"]), X, sigma2=sigma2,
                                          beta=beta)["kl_total"])
                if abs(kl - kl_prev) <= self.plateau_tol * max(kl, self.plateau_floor):
                    stopped = "kl plateau"
                    break
                kl_prev = kl
        with np.errstate(all="ignore"):
            measures = measure_linear(state["W"], state["V"], np.exp(state["log_d"]), X, sigma2=sigma2, beta=beta)
        if not (math.isfinite(measures["elbo"]) and all(math.isfinite(v) for v in measures["kl_per_latent"])):
            raise ModelError(f"training diverged (ELBO {measures['elbo']}); lower lr (now {self.lr})")
        measures.update(epochs=epochs_run, stopped=stopped, loss=float(loss_epoch))
        return Fitted(state=state, measures=measures)

    def linear_parameters(self, state: dict[str, Any]) -> dict[str, np.ndarray]:
        """The fitted parameters as statvae's blocks ``{"W", "V", "D"}`` (for :func:`statvae.diagnose`).

        Parameters
        ----------
        state : dict
            A :attr:`Fitted.state` of this trainer.

        Returns
        -------
        dict
        """
        return {"W": np.asarray(state["W"]), "V": np.asarray(state["V"]), "D": np.diag(np.exp(state["log_d"]))}
