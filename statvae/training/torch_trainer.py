"""Nonlinear VAEs in PyTorch (optional): MLP encoder and decoder, Gaussian decoder of fixed isotropic variance.

The model is the paper's, with multilayer perceptrons in place of the linear maps: prior ``N(0, I_n)``, encoder
``q(z|x) = N(mu(x), diag(exp(s(x))))`` whose mean and log-variance heads are linear maps of the last hidden layer,
decoder ``p(x|z) = N(f(z), sigma2 I_N)`` with ``sigma2`` fixed.  :class:`MLPTrainer` trains it as VAEs are
trained (minibatches, one reparameterised sample per data point, exact Gaussian KL, Adam) and measures the fit in
the vocabulary of :class:`~statvae.training.base.Fitted`.  ``hidden=()`` is the linear VAE (encoder mean
``V x + c``, decoder ``W z + b``), used to check the trainer against closed forms.

The network is a ``torch.nn.Module`` with two submodules, the protocol :func:`statvae.probe` reads:

* ``encoder``: ``features`` (a module, ``x -> h``; the identity for a linear encoder), ``mean`` and ``logvar``
  (``torch.nn.Linear``, ``h -> R^n``);
* ``decoder``: ``first`` (``torch.nn.Linear``, ``z -> u``: the only layer that reads ``z``) and ``rest`` (a module,
  ``u -> f(z)``; the identity for a linear decoder).

PyTorch is imported only when a trainer or a network is made: without it, ``import statvae`` and this module
work, and :class:`MLPTrainer` raises a one-line :class:`~statvae.errors.StatvaeError` saying how to install it.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import AnalysisError, DataError, ModelError, StatvaeError
from ..validate import check_integer, check_name, check_real
from .base import Fitted, Progress, check_samples

__all__ = ["MLPTrainer", "ACTIVATIONS", "TORCH_HINT", "require_torch", "build_network", "encode", "decode",
           "common_draws", "network_measures"]

#: The hidden-layer nonlinearities :class:`MLPTrainer` offers.
ACTIVATIONS = ("relu", "tanh")

#: How to get PyTorch (the pinned version is the CPU build).
TORCH_HINT = "pip install torch==2.13.0 (the CPU build), or pip install 'statvae[torch]'"


def require_torch(what: str = "this") -> Any:
    """The ``torch`` module, or a one-line :class:`~statvae.errors.StatvaeError` saying how to install it.

    Parameters
    ----------
    what : str, optional
        What needs PyTorch, for the message.

    Returns
    -------
    module
        ``torch``.

    Raises
    ------
    StatvaeError
        If PyTorch cannot be imported.
    """
    try:
        return importlib.import_module("torch")
    except ImportError:
        raise StatvaeError(f"{what} needs PyTorch, which is not installed: {TORCH_HINT}") from None


def _dtype(torch: Any, name: str) -> Any:
    return {"float32": torch.float32, "float64": torch.float64}[name]


def build_network(data_dim: int, latent_dim: int, hidden: Sequence[int] = (128, 128), activation: str = "relu",
                  *, seed: int | None = None, dtype: str = "float32") -> Any:
    """An untrained VAE network: MLP encoder with mean and log-variance heads, MLP decoder (mirrored widths).

    Parameters
    ----------
    data_dim : int
        N, the dimension of x.
    latent_dim : int
        n, the dimension of z.
    hidden : sequence of int, optional
        Hidden widths of the encoder, input side first; the decoder uses them in reverse.  ``()`` is the linear
        VAE.
    activation : {"relu", "tanh"}, optional
        The hidden nonlinearity.
    seed : int, optional
        Seed of the initialisation (PyTorch's default one for ``Linear`` layers); the global torch generator is
        left as it was.  None draws from the global generator.
    dtype : {"float32", "float64"}, optional
        Parameter type.

    Returns
    -------
    torch.nn.Module
        With submodules ``encoder`` (``features``, ``mean``, ``logvar``) and ``decoder`` (``first``, ``rest``).

    Examples
    --------
    >>> net = build_network(5, 2, (), seed=0)          # doctest: +SKIP
    >>> net.decoder.first                                # doctest: +SKIP
    Linear(in_features=2, out_features=5, bias=True)
    """
    torch = require_torch("build_network")
    nn = torch.nn
    act = {"relu": nn.ReLU, "tanh": nn.Tanh}[activation]
    widths = [int(h) for h in hidden]

    def make() -> Any:
        enc = nn.Module()
        layers: list[Any] = []
        width = data_dim
        for h in widths:
            layers += [nn.Linear(width, h), act()]
            width = h
        enc.features = nn.Sequential(*layers) if layers else nn.Identity()
        enc.mean = nn.Linear(width, latent_dim)
        enc.logvar = nn.Linear(width, latent_dim)
        dec = nn.Module()
        back = widths[::-1]
        if back:
            dec.first = nn.Linear(latent_dim, back[0])
            rest: list[Any] = [act()]
            for a, b in zip(back, back[1:]):
                rest += [nn.Linear(a, b), act()]
            rest.append(nn.Linear(back[-1], data_dim))
            dec.rest = nn.Sequential(*rest)
        else:
            dec.first = nn.Linear(latent_dim, data_dim)
            dec.rest = nn.Identity()
        net = nn.Module()
        net.encoder = enc
        net.decoder = dec
        return net.to(_dtype(torch, dtype))

    if seed is None:
        return make()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return make()


def encode(net: Any, x: Any) -> tuple[Any, Any]:
    """The encoder's posterior mean and log-variance at ``x``.

    Parameters
    ----------
    net : torch.nn.Module
        A network of :func:`build_network` (or any module with the same ``encoder`` protocol).
    x : torch.Tensor
        Inputs, shape ``(..., N)``.

    Returns
    -------
    tuple of torch.Tensor
        ``(mu, logvar)``, each of shape ``(..., n)``.
    """
    h = net.encoder.features(x)
    return net.encoder.mean(h), net.encoder.logvar(h)


def decode(net: Any, z: Any) -> Any:
    """The decoder's mean ``f(z)``.

    Parameters
    ----------
    net : torch.nn.Module
        A network of :func:`build_network` (or any module with the same ``decoder`` protocol).
    z : torch.Tensor
        Latents, shape ``(..., n)``.

    Returns
    -------
    torch.Tensor
        Shape ``(..., N)``.
    """
    return net.decoder.rest(net.decoder.first(z))


def common_draws(samples: int, latent_dim: int, seed: int = 0) -> np.ndarray:
    """A fixed set of standard-normal draws with exactly zero mean and identity second moment.

    ``samples / 2`` rows are drawn from ``N(0, I)``, whitened so that their second moment is ``I`` exactly, and
    completed by their negatives (antithetic pairs: every odd moment is zero).  An expectation over ``z`` that
    depends on the draws only through their first two moments, as the ELBO of a decoder linear in ``z`` does, is
    then exact.

    Parameters
    ----------
    samples : int
        Number of draws S: even, at least ``2 * latent_dim``.
    latent_dim : int
        n.
    seed : int, optional
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    numpy.ndarray
        Shape ``(S, n)``.

    Examples
    --------
    >>> e = common_draws(8, 3, seed=1)
    >>> bool(abs(e.mean(axis=0)).max() < 1e-15), bool(abs(e.T @ e / 8 - np.eye(3)).max() < 1e-12)
    (True, True)
    """
    S = check_integer(samples, "samples", 2)
    n = check_integer(latent_dim, "latent_dim", 1)
    if S % 2 or S < 2 * n:
        raise ModelError(f"samples must be even and at least 2 * latent_dim = {2 * n}, got {S}")
    g = np.random.default_rng(seed).standard_normal((S // 2, n))
    c = np.linalg.cholesky(g.T @ g / (S // 2))
    e = np.linalg.solve(c, g.T).T                   # whitened: e^T e / (S/2) = I
    return np.vstack([e, -e])


def network_measures(net: Any, X: np.ndarray, *, sigma2: float, beta: float, samples: int = 64,
                     seed: int = 0) -> dict[str, Any]:
    """The collapse measures of a network on samples (float64, exact Gaussian KL).

    The reconstruction term ``E_x E_q log p(x|z)`` is averaged over :func:`common_draws` (the same ``samples``
    draws for every x): exact for a decoder linear in ``z`` (``hidden=()``), a Monte Carlo estimate otherwise.
    Every other measure is exact in ``q``; the data expectation is the mean over the rows of ``X``.

    Parameters
    ----------
    net : torch.nn.Module
        A network of :func:`build_network` (not modified: a float64 copy is evaluated).
    X : numpy.ndarray
        Samples, shape ``(M, N)``.
    sigma2 : float
        Decoder variance.
    beta : float
        KL weight.
    samples : int, optional
        Draws of z per data point for the reconstruction term.
    seed : int, optional
        Seed of the draws.

    Returns
    -------
    dict
        ``elbo``, ``reconstruction``, ``kl_total``, ``kl_per_latent``, ``posterior_variance``, ``activity`` (as
        :func:`~statvae.training.base.measure_linear`) and ``eval_samples``.
    """
    torch = require_torch("network_measures")
    import copy

    X = check_samples(X)
    M, N = X.shape
    n = int(net.encoder.mean.out_features)
    eps = torch.as_tensor(common_draws(samples, n, seed), dtype=torch.float64)
    net64 = copy.deepcopy(net).to(device="cpu", dtype=torch.float64)
    sq = 0.0
    mus, lvs = [], []
    with torch.no_grad():
        for start in range(0, M, 256):
            x = torch.as_tensor(X[start:start + 256], dtype=torch.float64)
            mu, lv = encode(net64, x)
            z = mu[:, None, :] + torch.exp(0.5 * lv)[:, None, :] * eps[None, :, :]
            r = x[:, None, :] - decode(net64, z)
            sq += float((r * r).sum()) / eps.shape[0]
            mus.append(mu.numpy())
            lvs.append(lv.numpy())
    mu_all = np.concatenate(mus)
    lv_all = np.concatenate(lvs)
    var = np.exp(lv_all)
    kl = 0.5 * np.mean(mu_all ** 2 + var - 1.0 - lv_all, axis=0)
    recon = -0.5 * N * math.log(2.0 * math.pi * sigma2) - 0.5 * (sq / M) / sigma2
    return {
        "elbo": float(recon - beta * float(np.sum(kl))),
        "reconstruction": float(recon),
        "kl_total": float(np.sum(kl)),
        "kl_per_latent": [float(v) for v in kl],
        "posterior_variance": [float(v) for v in np.mean(var, axis=0)],
        "activity": [float(v) for v in np.var(mu_all, axis=0)],
        "eval_samples": int(eps.shape[0]),
    }


class MLPTrainer:
    """Trains a VAE with MLP encoder and decoder and a Gaussian decoder of fixed variance, as VAEs are trained.

    Minibatches in a seeded random order, one reparameterised sample ``z = mu + exp(s/2) eps`` per data point and
    step, the exact Gaussian KL, Adam.  The per-sample loss is ``N/2 log(2 pi sigma2) + ||x - f(z)||^2 /
    (2 sigma2) + beta KL``.  Requires PyTorch (the ``torch`` extra).

    Parameters
    ----------
    latent_dim : int, optional
        n.
    hidden : sequence of int, optional
        Hidden widths (encoder input side first; the decoder mirrors them); ``()`` is the linear VAE.
    activation : {"relu", "tanh"}, optional
        Hidden nonlinearity.
    lr : float, optional
        Adam's learning rate.
    epochs : int, optional
        Passes over the data (0 measures the initial network).
    batch_size : int, optional
        Minibatch size.
    device : str, optional
        Torch device of the training.
    dtype : {"float32", "float64"}, optional
        Parameter type during training (measures are computed in float64).
    plateau : float, optional
        Early stop on a KL plateau, the test of :class:`~statvae.training.linear.LinearTrainer`'s ``plateau_tol``:
        every ``plateau_window`` epochs the total KL on all of ``X`` (exact Gaussian KL, one encoder pass) is
        compared with its value one window earlier, and training stops when it changed by at most ``plateau *
        max(KL, plateau_floor)``.  None (default) trains all ``epochs``.
    plateau_window : int, optional
        Epochs between the KL comparisons.
    plateau_floor : float, optional
        The KL (nats) below which changes are measured absolutely.
    schedule : {"cosine", "constant"}, optional
        Learning rate over a fit: cosine decay from ``lr`` to 0 over its steps (default, as the linear trainer:
        the reparameterisation noise then settles) or constant.
    eval_samples : int, optional
        Draws of z per data point for the measured reconstruction term (:func:`network_measures`).
    threads : int, optional
        Torch intra-op threads during ``fit`` (restored afterwards); 1 (default) keeps results identical across
        processes and leaves the cores to process-level parallelism.  None leaves torch's setting.

    Examples
    --------
    >>> t = MLPTrainer(latent_dim=2, hidden=(64,), epochs=10)      # doctest: +SKIP
    >>> t.name                                                      # doctest: +SKIP
    'mlp-64'
    """

    def __init__(self, latent_dim: int = 4, hidden: Sequence[int] = (128, 128), activation: str = "relu",
                 lr: float = 1e-3, epochs: int = 100, batch_size: int = 128, device: str = "cpu",
                 dtype: str = "float32", plateau: float | None = None, plateau_window: int = 20,
                 plateau_floor: float = 1e-3, schedule: str = "cosine", eval_samples: int = 64,
                 threads: int | None = 1) -> None:
        require_torch("MLPTrainer")
        self.latent_dim = check_integer(latent_dim, "latent_dim", 1)
        if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
            raise ModelError(f"hidden must be a sequence of positive widths, e.g. (128, 128), got {hidden!r}")
        self.hidden = tuple(check_integer(h, "hidden width", 1) for h in hidden)
        act = check_name(activation, "activation")
        if act not in ACTIVATIONS:
            raise ModelError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        self.activation: str = str(act)
        self.lr = check_real(lr, "lr", "positive")
        self.epochs = check_integer(epochs, "epochs", 0)
        self.batch_size = check_integer(batch_size, "batch_size", 1)
        self.device = str(device)
        if dtype not in ("float32", "float64"):
            raise ModelError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        self.dtype = str(dtype)
        self.plateau = None if plateau is None else check_real(plateau, "plateau", "nonnegative")
        self.plateau_window = check_integer(plateau_window, "plateau_window", 1)
        self.plateau_floor = check_real(plateau_floor, "plateau_floor", "positive")
        if schedule not in ("cosine", "constant"):
            raise ModelError(f"schedule must be 'cosine' or 'constant', got {schedule!r}")
        self.schedule = str(schedule)
        self.eval_samples = check_integer(eval_samples, "eval_samples", 2 * self.latent_dim)
        if self.eval_samples % 2:
            raise ModelError(f"eval_samples must be even, got {self.eval_samples}")
        self.threads = None if threads is None else check_integer(threads, "threads", 1)
        self.name = "mlp-" + ("x".join(str(h) for h in self.hidden) if self.hidden else "linear")

    def config(self) -> dict[str, Any]:
        """Everything that defines the training, JSON-ready.

        Returns
        -------
        dict
        """
        return {"trainer": "mlp", "name": self.name, "latent_dim": self.latent_dim, "hidden": list(self.hidden),
                "activation": self.activation, "decoder": "gaussian, fixed isotropic sigma2",
                "optimizer": "adam", "lr": self.lr, "schedule": self.schedule, "epochs": self.epochs,
                "batch_size": self.batch_size, "reparameterised_samples": 1, "device": self.device,
                "dtype": self.dtype, "plateau": self.plateau, "plateau_window": self.plateau_window,
                "plateau_floor": self.plateau_floor, "eval_samples": self.eval_samples,
                "threads": self.threads, "torch": str(require_torch().__version__)}

    def network(self, data_dim: int, state: Any | None = None, *, seed: int = 0) -> Any:
        """The trainer's network: at a :attr:`Fitted.state` if given, else at the seeded initialisation of ``fit``.

        Parameters
        ----------
        data_dim : int
            N.
        state : dict, optional
            A :attr:`Fitted.state` of this trainer.
        seed : int, optional
            Seed of the initialisation (as ``fit(seed=...)``).

        Returns
        -------
        torch.nn.Module
        """
        N = check_integer(data_dim, "data_dim", 1)
        net = build_network(N, self.latent_dim, self.hidden, self.activation, seed=int(seed), dtype=self.dtype)
        if state is not None:
            self._load(net, state)
        return net.to(self.device)

    def _load(self, net: Any, state: Any) -> None:
        torch = require_torch()
        own = net.state_dict()
        if not isinstance(state, dict) or set(state) != set(own):
            raise ModelError(f"init is not a state of trainer {self.name} (expected the keys {sorted(own)})")
        for k, v in own.items():
            a = np.asarray(state[k])
            if a.shape != tuple(v.shape):
                raise ModelError(f"init does not fit trainer {self.name} on these data: {k} has shape {a.shape}, "
                                 f"expected {tuple(v.shape)}")
        net.load_state_dict({k: torch.as_tensor(np.asarray(state[k]), dtype=own[k].dtype) for k in own})

    @staticmethod
    def _kl_total(net: Any, Xt: Any) -> float:
        torch = require_torch()
        with torch.no_grad():
            mu, lv = encode(net, Xt)
            return float((0.5 * (mu * mu + torch.exp(lv) - 1.0 - lv)).sum(dim=1).mean())

    def fit(self, X: np.ndarray, *, sigma2: float, beta: float, seed: int, init: Any | None = None,
            progress: Progress | None = None) -> Fitted:
        """Train on ``X`` and measure the result.

        Parameters
        ----------
        X : numpy.ndarray
            Samples, shape ``(M, N)``, already preprocessed.
        sigma2 : float
            The decoder's fixed variance.
        beta : float
            KL weight.
        seed : int
            Seed of the initialisation, the minibatch order, the reparameterisation noise and the draws of the
            measures (``torch.manual_seed`` in a forked generator, a seeded ``torch.Generator``, numpy).
        init : dict, optional
            A :attr:`Fitted.state` of this trainer (warm start; Adam starts afresh).
        progress : callable, optional
            ``progress(epoch, loss)`` after every epoch.

        Returns
        -------
        Fitted
            ``state``: the parameters as a dict of numpy arrays (``state_dict`` names); ``measures``: those of
            :func:`network_measures` plus ``epochs``, ``stopped``, ``loss`` (the last epoch's mean loss) and
            ``kl_trace`` (the minibatch-mean KL of every epoch, during training).
        """
        torch = require_torch("MLPTrainer.fit")
        X = check_samples(X)
        s2 = check_real(sigma2, "sigma2", "positive", error=DataError)
        b = check_real(beta, "beta", "positive", error=DataError)
        sd = check_integer(seed, "seed", 0, error=DataError)
        M, N = X.shape
        old_threads = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            net = self.network(N, init, seed=sd)
            dtype = _dtype(torch, self.dtype)
            Xt = torch.as_tensor(X, dtype=dtype, device=self.device)
            gen = torch.Generator(device="cpu").manual_seed(sd)
            opt = torch.optim.Adam(net.parameters(), lr=self.lr)
            const = 0.5 * N * math.log(2.0 * math.pi * s2)
            kl_trace: list[float] = []
            loss_epoch = math.nan
            stopped = "epochs"
            epoch = 0
            step = 0
            total_steps = -(-M // self.batch_size) * self.epochs
            kl_prev = self._kl_total(net, Xt) if self.plateau is not None else 0.0
            for epoch in range(1, self.epochs + 1):
                perm = torch.randperm(M, generator=gen).to(self.device)
                total = 0.0
                kl_sum = 0.0
                for start in range(0, M, self.batch_size):
                    if self.schedule == "cosine":
                        for group in opt.param_groups:
                            group["lr"] = 0.5 * self.lr * (1.0 + math.cos(math.pi * step / total_steps))
                    step += 1
                    xb = Xt[perm[start:start + self.batch_size]]
                    mu, lv = encode(net, xb)
                    noise = torch.randn(mu.shape, generator=gen, dtype=dtype).to(self.device)
                    z = mu + torch.exp(0.5 * lv) * noise
                    r = xb - decode(net, z)
                    kl = 0.5 * (mu * mu + torch.exp(lv) - 1.0 - lv).sum(dim=1)
                    loss = (0.5 * (r * r).sum(dim=1) / s2 + b * kl).mean()
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * xb.shape[0]
                    kl_sum += float(kl.detach().sum())
                loss_epoch = const + total / M
                if not math.isfinite(loss_epoch):
                    raise AnalysisError(f"training diverged at epoch {epoch} (loss {loss_epoch}); "
                                        f"lower the learning rate (lr={self.lr:g})")
                kl_trace.append(kl_sum / M)
                if progress is not None:
                    progress(epoch, loss_epoch)
                if self.plateau is not None and epoch % self.plateau_window == 0:
                    kl_now = self._kl_total(net, Xt)
                    if abs(kl_now - kl_prev) <= self.plateau * max(kl_now, self.plateau_floor):
                        stopped = "kl plateau"
                        break
                    kl_prev = kl_now
            measures = network_measures(net, X, sigma2=s2, beta=b, samples=self.eval_samples, seed=sd)
            state = {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}
        finally:
            torch.set_num_threads(old_threads)
        measures.update(epochs=epoch, stopped=stopped, loss=loss_epoch, kl_trace=kl_trace)
        return Fitted(state=state, measures=measures)

    def __repr__(self) -> str:
        return (f"MLPTrainer(latent_dim={self.latent_dim}, hidden={self.hidden}, activation={self.activation!r}, "
                f"lr={self.lr}, epochs={self.epochs}, batch_size={self.batch_size})")
