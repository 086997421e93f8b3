"""The probe: the ELBO Hessian of a network at its own collapsed configuration, and the threshold it implies.

:func:`probe` takes a PyTorch VAE (a network of :class:`~statvae.training.torch_trainer.MLPTrainer`, the trainer
itself, or any encoder/decoder pair following the protocol below), builds the collapsed configuration *of that
network* and computes the top eigenvalues of the Hessian of the ELBO there, by Lanczos (scipy's ``eigsh`` on a
``LinearOperator``) on Hessian-vector products from ``torch.autograd`` (double backward).
:func:`probe_threshold` follows the sign of the top eigenvalue in ``sigma2`` (a bracket, then Brent's method) and
so locates the network's own collapse threshold.

The protocol
------------
The encoder has ``features`` (a module or callable ``x -> h``, the identity for a linear encoder) and the heads
``mean`` and ``logvar`` (``torch.nn.Linear``, ``h -> R^n``): ``q(z|x) = N(mean(h), diag(exp(logvar(h))))``.  The
decoder has ``first`` (``torch.nn.Linear``, ``z -> u``, the only layer that reads ``z``) and ``rest`` (``u ->
f(z)``, the identity for a linear decoder): ``p(x|z) = N(f(z), sigma2 I)``.  A module with submodules ``encoder``
and ``decoder`` of these kinds, or the pair ``(encoder, decoder)``, can be probed.

The collapsed configuration
---------------------------
The decoder ignores ``z``: ``first.weight = 0``.  Its output is then the constant ``rest(first.bias)``; the best
constant is the data mean, so the bias of the decoder's last ``Linear`` layer is shifted by ``mean(X) -
rest(first.bias)`` (a fixed offset added to the output when the decoder does not end in a ``Linear`` layer with a
bias).  The encoder sits at the prior: ``mean`` and ``logvar`` have zero weights and zero biases, so ``mu(x) = 0``
and ``log var(x) = 0`` for every x whatever the hidden layers compute (for a ReLU MLP: zero last-layer weights,
biases at the prior's mean 0 and log-variance 0).  Every other weight keeps the network's value.  The point is
stationary (checked: :attr:`ProbeResult.gradient_norm`) and does not depend on ``sigma2`` or ``beta``.

The objective and its Hessian
-----------------------------
``L = -N/2 log(2 pi sigma2) - R / (2 sigma2) - beta K`` per sample, with ``R = E_x E_z ||x - f(z)||^2`` and ``K =
E_x KL(q(z|x) || p(z))`` (exact for the Gaussian posterior).  The expectation over ``z`` uses common random numbers:
one fixed set of standard-normal draws ``eps`` (:func:`~statvae.training.torch_trainer.common_draws`: antithetic
pairs whitened to an exact identity second moment), ``z = mu(x) + exp(logvar(x)/2) eps``, the same draws in every
Hessian-vector product.  At the collapsed configuration the Hessian depends on the draws only through their mean
and second moment, so these draws make it exact for any architecture (the tests check that it does not depend on
the seed or the number of draws).  Since the point does not move with ``sigma2`` and ``beta``, the graphs of
``grad R`` and ``grad K`` are built once and every product is ``H v = -(d^2R v) / (2 sigma2) - beta (d^2K v)``.

Which parameters
----------------
``parameters="all"``: every parameter of the network.  At the collapsed configuration this Hessian has many exact
zero eigenvalues (the encoder's hidden weights do not act while the heads are zero; decoder parameters that leave
the constant output unchanged), so on the stable side its top eigenvalue is 0, not negative, and a sign cannot be
followed.  ``parameters="collapse"`` (the default) restricts to the parameters the collapse sets to zero (the
decoder's first-layer weights from ``z``, the encoder heads' weights and biases), in coordinates that drop the
directions that change no network output: ``first.weight = Q_J A`` with ``Q_J`` an orthonormal basis of the row
space of the Jacobian ``J = d rest / d u`` at ``u = first.bias`` (dead ReLU units and directions ``rest`` ignores
drop out), and ``[head.weight, head.bias] = B Q_F^T`` with ``Q_F`` an orthonormal basis of the row space of the
feature matrix ``[h(X), 1]`` (dead or redundant features drop out).  Why this loses nothing: the Hessian with
respect to the other parameters is zero (encoder hidden layers) or negative semidefinite (decoder parameters, through
the constant output), and their mixed terms with the collapse parameters vanish (they carry ``first.weight = 0`` or
the mean of the draws); the dropped directions are exact zeros.  So the positive eigenvalues of the full Hessian are
those of the reduced one (a test compares both), and the reduced Hessian is negative definite where collapse is
stable, so its top eigenvalue changes sign at the threshold.
"""

from __future__ import annotations

import copy
import enum
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import AnalysisError, DataError, ModelError
from ..validate import check_integer, check_real
from .base import check_samples
from .torch_trainer import MLPTrainer, common_draws, require_torch

__all__ = ["probe", "probe_threshold", "ProbeResult", "ProbeThreshold", "ProbeStatus", "CollapsedProblem",
           "collapsed_pair", "PARAMETER_SETS", "COORDINATES"]

#: The parameter sets the probe differentiates with respect to (module docstring, "Which parameters").
PARAMETER_SETS = ("collapse", "all")

#: The coordinates of :class:`CollapsedProblem`: the parameters' own (orthonormal), or whitened (same inertia).
COORDINATES = ("parameters", "whitened")


class ProbeStatus(str, enum.Enum):
    """What a probe result is.

    ``converged``: Lanczos (or the dense eigensolver) converged and the residuals are reported.  ``located``: a
    threshold with a sign change of the top eigenvalue on both ends of its bracket.  ``no sign change``: the top
    eigenvalue kept one sign over the whole search (no threshold in the range searched).
    """

    CONVERGED = "converged"
    LOCATED = "located"
    NO_SIGN_CHANGE = "no sign change"

    def __str__(self) -> str:
        return self.value


def _status(value: Any) -> ProbeStatus:
    try:
        return ProbeStatus(str(value))
    except ValueError:
        raise DataError(f"unknown probe status {value!r}; one of {', '.join(s.value for s in ProbeStatus)}") from None


# -- the network and its collapsed configuration ----------------------------------------------------------------
def _describe(module: Any) -> str:
    torch = require_torch()
    mods = list(module) if isinstance(module, torch.nn.Sequential) else [module]
    out = []
    for m in mods:
        if isinstance(m, torch.nn.Linear):
            out.append(f"Linear({m.in_features}->{m.out_features})")
        else:
            out.append(type(m).__name__)
    return " ".join(out)


def _pair(vae: Any, data_dim: int, seed: int) -> tuple[Any, Any]:
    """``(encoder, decoder)`` of ``vae``, checked against the protocol."""
    torch = require_torch("probe")
    if isinstance(vae, MLPTrainer):
        net = vae.network(data_dim, seed=seed)
        enc, dec = net.encoder, net.decoder
    elif isinstance(vae, (tuple, list)) and len(vae) == 2:
        enc, dec = vae
    elif hasattr(vae, "encoder") and hasattr(vae, "decoder"):
        enc, dec = vae.encoder, vae.decoder
    else:
        raise ModelError("probe needs an MLPTrainer, a module with submodules encoder and decoder, or a pair "
                         f"(encoder, decoder); got {type(vae).__name__}")
    lin = torch.nn.Linear
    ok = (all(hasattr(enc, a) for a in ("features", "mean", "logvar"))
          and all(hasattr(dec, a) for a in ("first", "rest"))
          and isinstance(getattr(enc, "mean", None), lin) and isinstance(getattr(enc, "logvar", None), lin)
          and isinstance(getattr(dec, "first", None), lin) and callable(enc.features) and callable(dec.rest))
    if not ok:
        raise ModelError("the network does not follow the probe's protocol: encoder.features (callable), "
                         "encoder.mean and encoder.logvar (torch.nn.Linear), decoder.first (torch.nn.Linear), "
                         "decoder.rest (callable); see statvae.training.probe")
    n = enc.mean.out_features
    if enc.logvar.out_features != n or dec.first.in_features != n or enc.logvar.in_features != enc.mean.in_features:
        raise ModelError(f"encoder heads and decoder.first disagree on the latent dimension: mean {n}, logvar "
                         f"{enc.logvar.out_features}, decoder.first reads {dec.first.in_features}")
    if dec.first.bias is None or enc.mean.bias is None or enc.logvar.bias is None:
        raise ModelError("the probe needs biases in encoder.mean, encoder.logvar and decoder.first")
    return enc, dec


def _output_layer(dec: Any) -> Any:
    """The decoder's last ``Linear`` layer with a bias, if its output is that layer's output; else None."""
    torch = require_torch()
    rest = dec.rest
    if isinstance(rest, torch.nn.Identity):
        return dec.first
    if isinstance(rest, torch.nn.Linear) and rest.bias is not None:
        return rest
    if isinstance(rest, torch.nn.Sequential) and len(rest) and isinstance(rest[-1], torch.nn.Linear) \
            and rest[-1].bias is not None:
        return rest[-1]
    return None


def collapsed_pair(vae: Any, data: Any, *, seed: int = 0) -> tuple[Any, Any, Any]:
    """A float64 copy of the network at its collapsed configuration (the module docstring says how).

    Parameters
    ----------
    vae : MLPTrainer, torch.nn.Module or tuple
        The network (an :class:`MLPTrainer` gives its seeded initial network for these data).
    data : numpy.ndarray
        Samples, shape ``(M, N)``: the best constant output is their mean.
    seed : int, optional
        Seed of an :class:`MLPTrainer`'s initialisation.

    Returns
    -------
    tuple
        ``(encoder, decoder, offset)``: copies (the network given is not modified) and the constant added to the
        decoder's output (zero when the decoder ends in a ``Linear`` layer with a bias, whose bias absorbs it).
    """
    torch = require_torch("probe")
    X = check_samples(data)
    enc, dec = _pair(vae, X.shape[1], seed)
    enc = copy.deepcopy(enc).to(device="cpu", dtype=torch.float64)
    dec = copy.deepcopy(dec).to(device="cpu", dtype=torch.float64)
    N = X.shape[1]
    with torch.no_grad():
        for head in (enc.mean, enc.logvar):
            head.weight.zero_()
            head.bias.zero_()
        dec.first.weight.zero_()
        const = dec.rest(dec.first.bias)
        if tuple(const.shape) != (N,):
            raise ModelError(f"the decoder's output has shape {tuple(const.shape)}, the data have {N} columns")
        mean = torch.as_tensor(X.mean(axis=0), dtype=torch.float64)
        out = _output_layer(dec)
        offset = mean - const
        if out is not None:
            out.bias += offset
            offset = torch.zeros(N, dtype=torch.float64)
        got = dec.rest(dec.first.bias) + offset
        if float((got - mean).abs().max()) > 1e-9 * max(1.0, float(mean.abs().max())):
            raise AnalysisError("the collapsed decoder does not reproduce the data mean (internal contradiction)")
    for p in list(enc.parameters()) + list(dec.parameters()):
        p.requires_grad_(False)
    return enc, dec, offset


def _row_basis(a: np.ndarray, whitened: bool = False) -> np.ndarray:
    """A basis (as columns) of the row space of ``a``, numerical rank as numpy's ``matrix_rank``.

    Orthonormal, or (``whitened``) each right singular vector divided by its singular value, so that ``a`` maps
    the basis to orthonormal vectors.
    """
    if a.size == 0:
        return np.zeros((a.shape[1], 0))
    _, s, vt = np.linalg.svd(a, full_matrices=False)
    tol = (s[0] if s.size else 0.0) * max(a.shape) * np.finfo(float).eps
    keep = s > tol
    basis = vt[keep].T.copy()
    return basis / s[keep] if whitened else basis


class CollapsedProblem:
    """The ELBO of a network around its collapsed configuration, as a function of a flat coordinate vector.

    ``y = 0`` is the collapsed configuration.  With ``parameters="collapse"``, ``y`` holds ``(A, B_mean,
    B_logvar)`` (module docstring); with ``"all"``, every parameter of the network, flattened, minus its value at
    the collapsed configuration.

    Parameters
    ----------
    vae : MLPTrainer, torch.nn.Module or tuple
        The network.
    data : numpy.ndarray
        Samples, shape ``(M, N)``.
    samples : int, optional
        Number of common draws of ``eps`` (even, at least ``2 n``; default ``max(2 n, 8)``).
    seed : int, optional
        Seed of the draws (and of an :class:`MLPTrainer`'s initialisation).
    parameters : {"collapse", "all"}, optional
        The parameter set (module docstring).
    coordinates : {"parameters", "whitened"}, optional
        ``"parameters"``: orthonormal coordinates of the parameters, so the eigenvalues are the Hessian's.
        ``"whitened"`` (``parameters="collapse"`` only): the collapse parameters scaled so that a unit step changes
        the outputs by one unit (``first.weight = Q_J S_J^-1 A`` with ``S_J`` the nonzero singular values of
        ``J``; the heads ``B S_F^-1 Q_F^T`` with ``S_F`` those of ``[h(X), 1] / sqrt(M)``): a congruent matrix,
        so with the same inertia (Sylvester's law) and the same sign of its top eigenvalue, but without the
        cluster of tiny eigenvalues that low-variance directions of the data put next to zero.
    """

    def __init__(self, vae: Any, data: Any, *, samples: int | None = None, seed: int = 0,
                 parameters: str = "collapse", coordinates: str = "parameters") -> None:
        torch = require_torch("probe")
        self._torch = torch
        if parameters not in PARAMETER_SETS:
            raise ModelError(f"parameters must be one of {', '.join(PARAMETER_SETS)}, got {parameters!r}")
        self.parameters = parameters
        if coordinates not in COORDINATES or (coordinates == "whitened" and parameters != "collapse"):
            raise ModelError(f"coordinates must be one of {', '.join(COORDINATES)} ('whitened' with "
                             f"parameters='collapse' only), got {coordinates!r}")
        self.coordinates = coordinates
        X = check_samples(data)
        self.seed = check_integer(seed, "seed", 0, error=DataError)
        enc, dec, offset = collapsed_pair(vae, X, seed=self.seed)
        self.encoder, self.decoder, self.offset = enc, dec, offset
        n = int(enc.mean.out_features)
        self.latent_dim = n
        self.data_dim = X.shape[1]
        self.samples = max(2 * n, 8) if samples is None else check_integer(samples, "samples", 2)
        f64 = torch.float64
        self.X = torch.as_tensor(X, dtype=f64)
        self.eps = torch.as_tensor(common_draws(self.samples, n, self.seed), dtype=f64)
        self.architecture = {
            "data_dim": self.data_dim, "latent_dim": n,
            "encoder": f"{_describe(enc.features)} | heads Linear({enc.mean.in_features}->{n})",
            "decoder": f"Linear({n}->{dec.first.out_features}) | {_describe(dec.rest)}",
        }
        with torch.no_grad():
            if parameters == "collapse":
                h = enc.features(self.X)
                F = np.hstack([h.numpy(), np.ones((X.shape[0], 1))])
                white = coordinates == "whitened"
                QF = _row_basis(F / math.sqrt(X.shape[0]), white)
                jac = torch.autograd.functional.jacobian(dec.rest, dec.first.bias.detach().clone())
                QJ = _row_basis(np.asarray(jac.numpy(), dtype=float).reshape(self.data_dim, -1), white)
                self._FQ = torch.as_tensor(F @ QF, dtype=f64)
                self._QJ = torch.as_tensor(QJ, dtype=f64)
                rF, rJ = QF.shape[1], QJ.shape[1]
                self._sizes = (rJ * n, n * rF, n * rF)
                self.dimension = sum(self._sizes)
                full = dec.first.weight.numel() + 2 * (enc.mean.weight.numel() + n)
                self.flat_directions = full - self.dimension
                self._y0 = torch.zeros(self.dimension, dtype=f64)
            else:
                self._names = [k for k, _ in self._named()]
                self._shapes = [tuple(p.shape) for _, p in self._named()]
                self._y0 = torch.cat([p.detach().reshape(-1) for _, p in self._named()])
                self.dimension = int(self._y0.numel())
                self.flat_directions = 0
        if self.dimension == 0:
            raise AnalysisError("no parameter direction changes the network at its collapsed configuration "
                                "(every decoder unit reading z is dead, or the encoder's features are all zero)")
        self._graph: tuple[Any, Any, Any] | None = None
        self.hvps = 0

    def _named(self) -> list[tuple[str, Any]]:
        return ([("encoder." + k, p) for k, p in self.encoder.named_parameters()]
                + [("decoder." + k, p) for k, p in self.decoder.named_parameters()])

    # -- the objective --------------------------------------------------------------------------------------
    def terms(self, y: Any) -> tuple[Any, Any]:
        """``(R, K)`` at coordinates ``y``: mean squared reconstruction error over data and draws, and mean KL.

        Parameters
        ----------
        y : torch.Tensor
            Coordinates, shape ``(dimension,)``, float64 (0 is the collapsed configuration).

        Returns
        -------
        tuple of torch.Tensor
            Scalars ``R = E_x E_eps ||x - f(z)||^2`` and ``K = E_x KL(q(z|x) || p(z))``.
        """
        torch = self._torch
        n = self.latent_dim
        if self.parameters == "collapse":
            sa, sm, _ = self._sizes
            A = y[:sa].reshape(-1, n)                       # (rJ, n): first.weight = QJ A
            Bm = y[sa:sa + sm].reshape(n, -1)               # (n, rF): [mean.weight, mean.bias] = Bm QF^T
            Bs = y[sa + sm:].reshape(n, -1)
            mu = self._FQ @ Bm.T
            lv = self._FQ @ Bs.T
            z = mu[:, None, :] + torch.exp(0.5 * lv)[:, None, :] * self.eps[None, :, :]
            u = (z @ A.T) @ self._QJ.T + self.decoder.first.bias
            out = self.decoder.rest(u) + self.offset
        else:
            params = dict(zip(self._names, self._split(self._y0 + y)))
            call = torch.func.functional_call

            def sub(prefix: str) -> dict[str, Any]:
                return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}

            h = call(self.encoder.features, sub("encoder.features."), (self.X,))
            mu = call(self.encoder.mean, sub("encoder.mean."), (h,))
            lv = call(self.encoder.logvar, sub("encoder.logvar."), (h,))
            z = mu[:, None, :] + torch.exp(0.5 * lv)[:, None, :] * self.eps[None, :, :]
            u = call(self.decoder.first, sub("decoder.first."), (z,))
            out = call(self.decoder.rest, sub("decoder.rest."), (u,)) + self.offset
        r = self.X[:, None, :] - out
        R = (r * r).sum(dim=-1).mean()
        K = 0.5 * (mu * mu + torch.exp(lv) - 1.0 - lv).sum(dim=-1).mean()
        return R, K

    def _split(self, flat: Any) -> list[Any]:
        out, at = [], 0
        for shape in self._shapes:
            size = int(np.prod(shape)) if shape else 1
            out.append(flat[at:at + size].reshape(shape))
            at += size
        return out

    def objective(self, y: Any, sigma2: float, beta: float) -> Any:
        """The ELBO per sample at coordinates ``y``: ``-N/2 log(2 pi sigma2) - R / (2 sigma2) - beta K``.

        Parameters
        ----------
        y : torch.Tensor
            Coordinates.
        sigma2 : float
            Decoder variance.
        beta : float
            KL weight.

        Returns
        -------
        torch.Tensor
            A scalar.
        """
        R, K = self.terms(y)
        return -0.5 * self.data_dim * math.log(2.0 * math.pi * sigma2) - R / (2.0 * sigma2) - beta * K

    def gradient(self, y: np.ndarray, sigma2: float, beta: float) -> np.ndarray:
        """The gradient of :meth:`objective` at ``y`` (a fresh graph: any ``y``, not only the collapsed point).

        Parameters
        ----------
        y : numpy.ndarray
            Coordinates, shape ``(dimension,)``.
        sigma2 : float
            Decoder variance.
        beta : float
            KL weight.

        Returns
        -------
        numpy.ndarray
        """
        torch = self._torch
        yt = torch.as_tensor(np.asarray(y, dtype=float)).clone().requires_grad_(True)
        (g,) = torch.autograd.grad(self.objective(yt, sigma2, beta), yt)
        return np.asarray(g.detach().numpy(), dtype=float)

    def _build(self) -> tuple[Any, Any, Any]:
        if self._graph is None:
            torch = self._torch
            y = self._y0.clone() * 0.0
            y.requires_grad_(True)
            R, K = self.terms(y)
            gR = torch.autograd.grad(R, y, create_graph=True)[0]
            gK = torch.autograd.grad(K, y, create_graph=True)[0]
            self._graph = (y, gR, gK)
        return self._graph

    def hvp(self, v: np.ndarray, sigma2: float, beta: float) -> np.ndarray:
        """The Hessian of :meth:`objective` at the collapsed configuration times ``v`` (double backward).

        The graphs of ``grad R`` and ``grad K`` at ``y = 0`` are built on the first call and kept;
        ``H v = -(d^2R v) / (2 sigma2) - beta (d^2K v)``.

        Parameters
        ----------
        v : numpy.ndarray
            Shape ``(dimension,)``.
        sigma2 : float
            Decoder variance.
        beta : float
            KL weight.

        Returns
        -------
        numpy.ndarray
        """
        torch = self._torch
        y, gR, gK = self._build()
        vt = torch.as_tensor(np.asarray(v, dtype=float).reshape(-1))
        s = -(gR @ vt) / (2.0 * sigma2) - beta * (gK @ vt)
        (hv,) = torch.autograd.grad(s, y, retain_graph=True)
        self.hvps += 1
        return np.asarray(hv.detach().numpy(), dtype=float)

    def collapsed_gradient(self, sigma2: float, beta: float) -> np.ndarray:
        """The gradient of the objective at the collapsed configuration (zero up to rounding: it is stationary).

        Parameters
        ----------
        sigma2 : float
            Decoder variance.
        beta : float
            KL weight.

        Returns
        -------
        numpy.ndarray
        """
        _, gR, gK = self._build()
        return np.asarray((-gR / (2.0 * sigma2) - beta * gK).detach().numpy(), dtype=float)

    def dense_hessian(self, sigma2: float, beta: float) -> np.ndarray:
        """The whole Hessian at the collapsed configuration, one product per column (small problems).

        Parameters
        ----------
        sigma2 : float
            Decoder variance.
        beta : float
            KL weight.

        Returns
        -------
        numpy.ndarray
            Shape ``(dimension, dimension)``, symmetrised.
        """
        d = self.dimension
        H = np.empty((d, d))
        for i in range(d):
            e = np.zeros(d)
            e[i] = 1.0
            H[:, i] = self.hvp(e, sigma2, beta)
        return 0.5 * (H + H.T)

    def _lanczos(self, sigma2: float, beta: float, k: int, tol: float, start: np.ndarray, maxiter: int | None,
                 scale: float, found: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ARPACK on ``H + scale I``, with the columns of ``found`` (orthonormal) sent far below the spectrum."""
        from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

        d = self.dimension
        far = 1e3 * scale

        def mv(x: np.ndarray) -> np.ndarray:
            x = np.ravel(x)
            if not found.shape[1]:
                return self.hvp(x, sigma2, beta) + scale * x
            c = found.T @ x
            px = x - found @ c
            hx = self.hvp(px, sigma2, beta)
            hx -= found @ (found.T @ hx)
            return hx + scale * px - far * (found @ c)

        if k < 1:
            return np.zeros(0), np.zeros((d, 0))
        try:
            w, V = eigsh(LinearOperator((d, d), matvec=mv, dtype=float), k=k, which="LA", tol=tol, v0=start,
                         maxiter=maxiter)
        except ArpackNoConvergence as err:
            raise AnalysisError(f"Lanczos did not converge at sigma2={sigma2:g} ({len(err.eigenvalues)} of {k} "
                                "eigenvalues); raise maxiter or lower k") from None
        order = np.argsort(w)[::-1]
        return w[order] - scale, V[:, order]

    def top_eigenvalues(self, sigma2: float, beta: float, k: int = 4, *, tol: float = 1e-10,
                        v0: np.ndarray | None = None, maxiter: int | None = None,
                        dense_below: int = 24) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, float]:
        """The ``k`` algebraically largest eigenvalues of the Hessian at the collapsed configuration.

        Lanczos: scipy's ``eigsh`` (ARPACK, ``which="LA"``) on a ``LinearOperator`` of :meth:`hvp`, shifted by a
        positive multiple ``c`` of the spectral scale so that ARPACK's relative stopping test also holds near a
        zero eigenvalue (Krylov spaces do not change under a shift).  A Krylov space holds one copy of a repeated
        eigenvalue (the latent symmetry repeats each one ``n`` times), so for ``k > 1`` the eigenvectors found are
        deflated and Lanczos runs again, until no new eigenvalue enters the top ``k``.  Problems with fewer than
        ``dense_below`` coordinates use the dense Hessian and ``numpy.linalg.eigvalsh``.

        Parameters
        ----------
        sigma2 : float
            Decoder variance.
        beta : float
            KL weight.
        k : int, optional
            How many eigenvalues.
        tol : float, optional
            ARPACK's relative tolerance (on the shifted operator).
        v0 : numpy.ndarray, optional
            Starting vector (default: seeded normal).
        maxiter : int, optional
            ARPACK's limit on restarts.
        dense_below : int, optional
            Dimension below which the dense Hessian is used.

        Returns
        -------
        tuple
            ``(eigenvalues descending, eigenvectors as columns, residual norms ||H x - lambda x||, method,
            scale c)``.

        Raises
        ------
        AnalysisError
            If Lanczos does not converge.
        """
        d = self.dimension
        k = min(k, d)
        rng = np.random.default_rng(self.seed)
        if d < dense_below or k >= d - 1:
            H = self.dense_hessian(sigma2, beta)
            w, V = np.linalg.eigh(H)
            order = np.argsort(w)[::-1][:k]
            w, V = w[order], V[:, order]
            scale = float(np.max(np.abs(w))) if w.size else 0.0
            method = "dense"
        else:
            probe_v = rng.standard_normal(d)
            scale = 2.0 * float(np.linalg.norm(self.hvp(probe_v, sigma2, beta)) / np.linalg.norm(probe_v))
            scale = scale if scale > 0 else 1.0
            start = rng.standard_normal(d) if v0 is None else np.asarray(v0, dtype=float)
            w = np.zeros(0)
            V = np.zeros((d, 0))
            for _ in range(k if k > 1 else 1):
                nw, nV = self._lanczos(sigma2, beta, min(k, d - V.shape[1] - 1), tol, start, maxiter, scale, V)
                if V.shape[1] and (not nw.size or nw[0] <= w[-1] + 1e-9 * scale):
                    break                   # nothing new enters the top k: every copy found
                allw, allV = np.concatenate([w, nw]), np.hstack([V, nV])
                order = np.argsort(allw)[::-1][:k]
                w, V = allw[order], allV[:, order]
                start = rng.standard_normal(d)
            method = "lanczos"
        res = np.array([np.linalg.norm(self.hvp(V[:, i], sigma2, beta) - w[i] * V[:, i]) for i in range(len(w))])
        return w, V, res, method, scale


# -- results ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProbeResult:
    """The top Hessian eigenvalues of a network's ELBO at its collapsed configuration.

    Attributes
    ----------
    sigma2, beta : float
        The decoder variance and the KL weight.
    eigenvalues : tuple of float
        The top eigenvalues, descending (of the Hessian of the per-sample ELBO).
    residuals : tuple of float
        ``||H x - lambda x||`` of each eigenpair: every exact eigenvalue lies within it of a reported one.
    parameters : str
        ``"collapse"`` or ``"all"`` (:mod:`statvae.training.probe`).
    coordinates : str
        ``"parameters"`` (the Hessian's eigenvalues) or ``"whitened"`` (a congruent matrix's: same signs).
    dimension : int
        Number of coordinates.
    flat_directions : int
        Coordinates of the collapse parameters dropped as exact zero directions (``"collapse"`` only).
    method : str
        ``"lanczos"`` or ``"dense"``.
    hvps : int
        Hessian-vector products used.
    samples, seed : int
        Common draws and their seed.
    gradient_norm : float
        Norm of the ELBO's gradient at the collapsed configuration (zero up to rounding).
    scale : float
        The spectral scale used as the shift (a zero test is relative to it).
    architecture : dict
        Dimensions and layers of the network.
    seconds : float
        CPU time.
    status : ProbeStatus

    Examples
    --------
    >>> r = ProbeResult(sigma2=1.0, beta=1.0, eigenvalues=(0.5, -0.1), residuals=(1e-12, 1e-12),
    ...                 parameters="collapse", dimension=10, status="converged")
    >>> r.stable, ProbeResult.from_dict(r.to_dict()) == r
    (False, True)
    """

    sigma2: float
    beta: float
    eigenvalues: tuple[float, ...]
    residuals: tuple[float, ...]
    parameters: str
    dimension: int
    coordinates: str = "parameters"
    flat_directions: int = 0
    method: str = "lanczos"
    hvps: int = 0
    samples: int = 0
    seed: int = 0
    gradient_norm: float = 0.0
    scale: float = 0.0
    architecture: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    status: ProbeStatus = ProbeStatus.CONVERGED

    def __post_init__(self) -> None:
        object.__setattr__(self, "eigenvalues", tuple(float(v) for v in self.eigenvalues))
        object.__setattr__(self, "residuals", tuple(float(v) for v in self.residuals))
        object.__setattr__(self, "status", _status(self.status))

    @property
    def top(self) -> float:
        """The largest eigenvalue."""
        return self.eigenvalues[0]

    @property
    def stable(self) -> bool:
        """True if the top eigenvalue is not positive (beyond its residual and 1e-9 of the scale)."""
        return self.top <= max(self.residuals[0], 1e-9 * self.scale)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (:meth:`from_dict` rebuilds the result).

        Returns
        -------
        dict
        """
        return {"sigma2": self.sigma2, "beta": self.beta, "eigenvalues": list(self.eigenvalues),
                "residuals": list(self.residuals), "parameters": self.parameters,
                "coordinates": self.coordinates, "dimension": self.dimension,
                "flat_directions": self.flat_directions, "method": self.method, "hvps": self.hvps,
                "samples": self.samples, "seed": self.seed, "gradient_norm": self.gradient_norm,
                "scale": self.scale, "architecture": dict(self.architecture), "seconds": self.seconds,
                "status": str(self.status), "stable": self.stable}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProbeResult:
        """Rebuild from :meth:`to_dict`.

        Parameters
        ----------
        d : dict
            As written by :meth:`to_dict`.

        Returns
        -------
        ProbeResult
        """
        d = {k: v for k, v in d.items() if k != "stable"}
        return cls(**d)

    def __str__(self) -> str:
        ev = ", ".join(f"{v:.6g}" for v in self.eigenvalues)
        return (f"probe at sigma2={self.sigma2:g}, beta={self.beta:g}: top eigenvalues [{ev}] "
                f"({'stable' if self.stable else 'unstable'}; {self.parameters}, {self.dimension} coordinates, "
                f"{self.method}, {self.hvps} HVPs)")


@dataclass(frozen=True)
class ProbeThreshold:
    """A network's own collapse threshold in ``sigma2``: where the top Hessian eigenvalue changes sign.

    Attributes
    ----------
    value : float
        The threshold (``nan`` without a sign change).
    bracket : tuple of float
        ``(lo, hi)``: the top eigenvalue is positive at ``lo`` and negative at ``hi`` (collapse stable above).
    beta : float
        The KL weight.
    evaluations : tuple of (float, float)
        Every ``(sigma2, top eigenvalue)`` evaluated, in order.
    parameter : str
        ``"sigma2"``.
    stable_side : str
        ``"above"``.
    method : str
        How the value was found.
    parameters : str
        The parameter set (``"collapse"``, in whitened coordinates: the signs are those of the Hessian).
    dimension, flat_directions, samples, seed, hvps : int
        As in :class:`ProbeResult`; ``hvps`` counts every product of the search.
    architecture : dict
        Dimensions and layers of the network.
    seconds : float
        CPU time of the search.
    status : ProbeStatus
        ``located`` or ``no sign change``.

    Examples
    --------
    >>> t = ProbeThreshold(value=0.5, bracket=(0.49, 0.51), beta=1.0, status="located")
    >>> float(t), round(t.precision, 3), ProbeThreshold.from_dict(t.to_dict()) == t
    (0.5, 0.04, True)
    """

    value: float
    bracket: tuple[float, ...]
    beta: float
    evaluations: tuple[tuple[float, float], ...] = ()
    parameter: str = "sigma2"
    stable_side: str = "above"
    method: str = "bracket, then Brent's method on the sign of the top Hessian eigenvalue (Lanczos on torch HVPs)"
    parameters: str = "collapse"
    dimension: int = 0
    flat_directions: int = 0
    samples: int = 0
    seed: int = 0
    hvps: int = 0
    architecture: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    status: ProbeStatus = ProbeStatus.LOCATED

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "bracket", tuple(float(b) for b in self.bracket))
        object.__setattr__(self, "evaluations", tuple((float(a), float(b)) for a, b in self.evaluations))
        object.__setattr__(self, "status", _status(self.status))

    def __float__(self) -> float:
        return self.value

    @property
    def precision(self) -> float:
        """Relative width of :attr:`bracket` (``nan`` without a value)."""
        if len(self.bracket) != 2 or not math.isfinite(self.value) or self.value == 0:
            return math.nan
        return abs(self.bracket[1] - self.bracket[0]) / abs(self.value)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (:meth:`from_dict` rebuilds the result).

        Returns
        -------
        dict
        """
        return {"parameter": self.parameter, "value": self.value, "bracket": list(self.bracket),
                "beta": self.beta, "stable_side": self.stable_side, "method": self.method,
                "evaluations": [list(e) for e in self.evaluations], "parameters": self.parameters,
                "dimension": self.dimension, "flat_directions": self.flat_directions, "samples": self.samples,
                "seed": self.seed, "hvps": self.hvps, "architecture": dict(self.architecture),
                "seconds": self.seconds, "status": str(self.status)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProbeThreshold:
        """Rebuild from :meth:`to_dict`.

        Parameters
        ----------
        d : dict
            As written by :meth:`to_dict`.

        Returns
        -------
        ProbeThreshold
        """
        d = dict(d)
        d["bracket"] = tuple(d.get("bracket", ()))
        d["evaluations"] = tuple(tuple(e) for e in d.get("evaluations", ()))
        return cls(**d)

    def __str__(self) -> str:
        if self.status is ProbeStatus.NO_SIGN_CHANGE:
            return f"probe threshold: no sign change of the top eigenvalue on sigma2 in {self.bracket}"
        return (f"probe threshold sigma2 = {self.value:.10g} (beta={self.beta:g}; collapse stable above; bracket "
                f"[{self.bracket[0]:.10g}, {self.bracket[1]:.10g}]; {self.status})")


# -- entry points ----------------------------------------------------------------------------------------------
class _Threads:
    """Torch intra-op threads set for a block and restored after it."""

    def __init__(self, threads: int | None) -> None:
        self.threads = None if threads is None else check_integer(threads, "threads", 1)
        self.old = 0

    def __enter__(self) -> None:
        torch = require_torch("probe")
        self.old = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)

    def __exit__(self, *exc: Any) -> None:
        require_torch().set_num_threads(self.old)


def _check(sigma2: Any, beta: Any, k: Any) -> tuple[float | None, float, int]:
    s2 = None if sigma2 is None else check_real(sigma2, "sigma2", "positive", error=DataError)
    b = check_real(beta, "beta", "positive", error=DataError)
    kk = check_integer(k, "k", 1)
    return s2, b, kk


def probe(vae: Any, data: Any, *, sigma2: float, beta: float = 1.0, k: int = 4, samples: int | None = None,
          seed: int = 0, parameters: str = "collapse", coordinates: str = "parameters", tol: float = 1e-10,
          threads: int | None = 1) -> ProbeResult:
    """Top eigenvalues of the ELBO Hessian of a PyTorch VAE at its own collapsed configuration.

    See :mod:`statvae.training.probe` for the protocol a network follows, how its collapsed configuration is
    built, the common random numbers and the parameter sets.  Needs PyTorch.

    Parameters
    ----------
    vae : MLPTrainer, torch.nn.Module or tuple
        The network: a module with submodules ``encoder`` and ``decoder``, the pair ``(encoder, decoder)``, or an
        :class:`~statvae.training.torch_trainer.MLPTrainer` (its network at the seeded initialisation of
        ``fit(seed=seed)``).  Not modified.
    data : numpy.ndarray
        Samples, shape ``(M, N)``, preprocessed as for training (the ELBO is their mean).
    sigma2 : float
        The decoder variance.
    beta : float, optional
        KL weight.
    k : int, optional
        How many eigenvalues.
    samples : int, optional
        Common draws of the reparameterisation noise (even, at least ``2 n``; default ``max(2 n, 8)``).
    seed : int, optional
        Seed of the draws, of Lanczos's starting vector and of an MLPTrainer's initialisation.
    parameters : {"collapse", "all"}, optional
        Differentiate with respect to the collapse parameters without their exact zero directions (default) or
        every parameter of the network.
    coordinates : {"parameters", "whitened"}, optional
        The Hessian's own eigenvalues (default), or those of the congruent whitened matrix
        (:class:`CollapsedProblem`): the same signs, and much faster Lanczos where collapse is stable (the
        parameters' Hessian then has a cluster of tiny negative eigenvalues from low-variance data directions).
    tol : float, optional
        Lanczos tolerance (relative to the spectral scale).
    threads : int, optional
        Torch intra-op threads while probing (restored afterwards); None leaves torch's setting.  One thread is
        the default because, measured on two loaded cores, two threads made each product 8x dearer in CPU time.

    Returns
    -------
    ProbeResult

    Examples
    --------
    >>> import statvae                                                   # doctest: +SKIP
    >>> X = statvae.training.torch_trainer.common_draws(200, 5, seed=1) * [3, 2, 1, 1, 1]      # doctest: +SKIP
    >>> statvae.probe(MLPTrainer(2, hidden=()), X, sigma2=8.0).stable   # doctest: +SKIP
    True
    """
    t0 = time.process_time()
    s2, b, kk = _check(sigma2, beta, k)
    assert s2 is not None
    with _Threads(threads):
        prob = CollapsedProblem(vae, data, samples=samples, seed=seed, parameters=parameters,
                                coordinates=coordinates)
        w, _, res, method, scale = prob.top_eigenvalues(s2, b, kk, tol=check_real(tol, "tol", "positive"))
        g = float(np.linalg.norm(prob.collapsed_gradient(s2, b)))
    return ProbeResult(sigma2=s2, beta=b, eigenvalues=tuple(w), residuals=tuple(res), parameters=parameters,
                       coordinates=coordinates, dimension=prob.dimension, flat_directions=prob.flat_directions,
                       method=method, hvps=prob.hvps,
                       samples=prob.samples, seed=prob.seed, gradient_norm=g, scale=scale,
                       architecture=prob.architecture, seconds=time.process_time() - t0,
                       status=ProbeStatus.CONVERGED)


def probe_threshold(vae: Any, data: Any, *, beta: float = 1.0, bracket: tuple[float, float] | None = None,
                    samples: int | None = None, seed: int = 0, xtol: float = 1e-10, tol: float = 1e-10,
                    expand: int = 40, progress: Callable[[float, float], None] | None = None,
                    threads: int | None = 1) -> ProbeThreshold:
    """A network's own collapse threshold in ``sigma2``: the sign change of its top Hessian eigenvalue at collapse.

    The collapsed configuration and the Hessian's graphs are built once (they do not depend on ``sigma2``).  The
    function followed is ``g(sigma2) = sigma2 * lambda_max(H(sigma2)) = lambda_max(A + beta sigma2 B)`` (same sign;
    ``A = -d^2R / 2``, ``B = -d^2K``): convex in ``sigma2``, positive where collapse is unstable, negative where it
    is stable.  The bracket starts at ``(s/2, 1.05 s)`` with ``s`` the largest eigenvalue of the data covariance
    over ``beta`` (the linear VAE's threshold, which bounds any network's: module docstring of the docs) and is
    widened by factors of 2 until the signs differ (at most ``expand`` times each way), then Brent's method (scipy's
    ``brentq``) narrows it; the top eigenvector of one evaluation starts Lanczos at the next.

    Parameters
    ----------
    vae : MLPTrainer, torch.nn.Module or tuple
        The network (as :func:`probe`).
    data : numpy.ndarray
        Samples, shape ``(M, N)``.
    beta : float, optional
        KL weight.
    bracket : tuple of float, optional
        A starting ``(lo, hi)`` instead of the default.
    samples : int, optional
        Common draws (as :func:`probe`).
    seed : int, optional
        Seed (as :func:`probe`).
    xtol : float, optional
        Brent's tolerance relative to the bracket's upper end.
    tol : float, optional
        Lanczos tolerance.
    expand : int, optional
        Widening steps allowed on each side.
    progress : callable, optional
        ``progress(sigma2, top_eigenvalue)`` after each evaluation.
    threads : int, optional
        Torch intra-op threads (as :func:`probe`).

    Returns
    -------
    ProbeThreshold
        ``located`` with the bracket from the last evaluations of either sign, or ``no sign change`` (value
        ``nan``) if the top eigenvalue keeps its sign over the widened range.
    """
    with _Threads(threads):
        return _probe_threshold(vae, data, beta=beta, bracket=bracket, samples=samples, seed=seed, xtol=xtol,
                                tol=tol, expand=expand, progress=progress)


def _probe_threshold(vae: Any, data: Any, *, beta: float, bracket: tuple[float, float] | None,
                     samples: int | None, seed: int, xtol: float, tol: float, expand: int,
                     progress: Callable[[float, float], None] | None) -> ProbeThreshold:
    from scipy.optimize import brentq

    t0 = time.process_time()
    _, b, _ = _check(None, beta, 1)
    X = check_samples(data)
    prob = CollapsedProblem(vae, X, samples=samples, seed=seed, parameters="collapse", coordinates="whitened")
    evals: list[tuple[float, float]] = []
    last: dict[str, Any] = {"v": None}

    seen: dict[float, float] = {}

    def top(s2: float) -> float:
        if s2 in seen:                  # brentq evaluates the bracket's ends again
            return seen[s2]
        w, V, _, _, _ = prob.top_eigenvalues(s2, b, 1, tol=tol, v0=last["v"])
        seen[s2] = float(w[0])
        last["v"] = V[:, 0]
        evals.append((s2, float(w[0])))
        if progress is not None:
            progress(s2, float(w[0]))
        return float(w[0])

    def g(s2: float) -> float:
        return s2 * top(s2)

    if bracket is None:
        Xc = X - X.mean(axis=0)
        s = float(np.linalg.eigvalsh(Xc.T @ Xc / X.shape[0])[-1]) / b
        if not s > 0:
            raise DataError("the data have zero variance: no threshold")
        lo, hi = 0.5 * s, 1.05 * s
    else:
        lo = check_real(bracket[0], "bracket[0]", "positive", error=DataError)
        hi = check_real(bracket[1], "bracket[1]", "positive", error=DataError)
        if not lo < hi:
            raise DataError(f"bracket must have lo < hi, got {bracket}")
    ghi = g(hi)
    for _ in range(expand):
        if ghi < 0:
            break
        lo, hi = hi, 2.0 * hi
        ghi = g(hi)
    glo = g(lo)
    for _ in range(expand):
        if glo > 0 or ghi >= 0:
            break
        hi, ghi = lo, glo
        lo = 0.5 * lo
        glo = g(lo)
    common = {"beta": b, "parameters": "collapse", "dimension": prob.dimension,
              "flat_directions": prob.flat_directions, "samples": prob.samples, "seed": prob.seed,
              "architecture": prob.architecture}
    if not (glo > 0 > ghi):
        return ProbeThreshold(value=math.nan, bracket=(lo, hi), evaluations=tuple(evals), hvps=prob.hvps,
                              seconds=time.process_time() - t0, status=ProbeStatus.NO_SIGN_CHANGE, **common)
    root = float(brentq(g, lo, hi, xtol=xtol * hi, rtol=8 * np.finfo(float).eps))
    pos = [s for s, v in evals if v > 0]
    neg = [s for s, v in evals if v < 0]
    lo_b, hi_b = max(pos), min(neg)
    if not lo_b <= root <= hi_b or lo_b >= hi_b:
        raise AnalysisError(f"the top eigenvalue's signs are not ordered in sigma2 (positive up to {lo_b:g}, "
                            f"negative from {hi_b:g}, root {root:g}): internal contradiction")
    return ProbeThreshold(value=root, bracket=(lo_b, hi_b), evaluations=tuple(evals), hvps=prob.hvps,
                          seconds=time.process_time() - t0, status=ProbeStatus.LOCATED, **common)
