"""Independent plain-numpy reference for the linear-Gaussian VAE objectives.

This module is deliberately written *without* reading or importing anything
from the ``statvae`` package: it is an independent check of that package,
derived only from the mathematics of the three models below.  Everything is
exact (closed-form Gaussian expectations, no sampling) and in float64.

Models (all data centred, data covariance ``Sigma``)
----------------------------------------------------
``"linear"``
    x in R^N, z in R^n.  q(z|x) = N(V x, D), p(x|z) = N(W z, s I_N),
    p(z) = N(0, p I_n)::

        L = E log p(x|z) + beta (E log p(z) + H[q]) - eta_enc/2 |V|^2 - eta_dec/2 |W|^2

``"conditional"``
    (x, y) in R^Nx x R^Ny with joint covariance Sigma (x first).
    q(z|x,y) = N(A x + B y, D), p(y|z,x) = N(W z + C x, s I_Ny), p(z) = N(0, p I)::

        L = E log p(y|z,x) + beta (E log p(z) + H[q])
            - eta_enc/2 (|A|^2 + |B|^2) - eta_dec/2 |W|^2          (C not decayed)

``"hierarchical"``
    p(z2) = N(0, p I), p(z1|z2) = N(U2 z2, tau2 I), p(x|z1) = N(U1 z1, s I);
    q(z1|x) = N(W1 x, D1), q(z2|z1) = N(W2 z1, D2)::

        L = E[log p(x|z1) + beta1 (log p(z1|z2) - log q(z1|x))
              + beta2 (log p(z2) - log q(z2|z1))]
            - eta_enc/2 (|W1|^2 + |W2|^2) - eta_dec/2 (|U1|^2 + |U2|^2)

    Second moments under data x q:  C1 = Cov z1 = W1 Sigma W1^T + D1,
    C2 = Cov z2 = W2 C1 W2^T + D2,  x - U1 z1 = (I - U1 W1) x - U1 e1,
    z1 - U2 z2 = (I - U2 W2) z1 - U2 e2 with e1 ~ N(0, D1), e2 ~ N(0, D2)
    independent of everything before them.

Identities used: E log N(v; m, s I_d) = -d/2 log(2 pi s) - E|v - m|^2 / (2 s);
entropy of N(., D) in dimension n is n/2 log(2 pi e) + 1/2 log det D.
All 2 pi constants are kept.

Conventions
-----------
* ``params`` dicts hold numpy arrays: linear ``W (N,n), V (n,N), D (n,n)``;
  conditional ``A (n,Nx), B (n,Ny), W (Ny,n), C (Ny,Nx), D (n,n)``;
  hierarchical ``U1 (N,n1), U2 (n1,n2), W1 (n1,N), W2 (n2,n1), D1 (n1,n1),
  D2 (n2,n2)``.  Encoder covariances are always full (symmetric) matrices,
  whatever the encoder kind.  The key ``"sigma2"`` is present iff the decoder
  variance is learned; otherwise ``hyper["sigma2"]`` is used.
* ``hyper`` keys (defaults in :data:`DEFAULT_HYPER`): ``sigma2``, ``beta``,
  ``prior_variance``, ``weight_decay_enc``, ``weight_decay_dec``,
  ``encoder_variance`` (linear/conditional); hierarchical uses ``beta1``,
  ``beta2``, ``tau2``, ``encoder_variance1``, ``encoder_variance2`` instead of
  ``beta`` / ``encoder_variance``.  Unknown keys raise ``KeyError``.
* Invalid points (non positive-definite D, sigma2 <= 0) give ``-inf``.
* :func:`terms` returns the *positive* KL(s) and the *positive* weight-decay
  penalty, so that ``total = reconstruction - beta*kl - weight_decay``
  (hierarchical: ``reconstruction - beta1*kl1 - beta2*kl2 - weight_decay``).

Free parameters (:class:`Problem`)
----------------------------------
Order of the free-parameter vector (matrices row-major, i.e. C order):

* linear:       W, V, D-free, [sigma2]
* conditional:  A, B, W, C, D-free, [sigma2]
* hierarchical: U1, U2, W1, W2, D1-free, D2-free, [sigma2]

D-free entries by encoder kind: ``"diagonal"`` D_11..D_nn; ``"full"`` upper
triangle row-major (j <= k; an off-diagonal entry sets both D_jk and D_kj);
``"isotropic"`` the scalar d with D = d I; ``"fixed"`` none (D = d0 I with
d0 = hyper ``encoder_variance``/``encoder_variance{1,2}``).  sigma2 is last,
present iff ``decoder_variance == "learned"``.

Finite differences, collapsed point, critical points
----------------------------------------------------
* :func:`fd_gradient` / :func:`fd_hessian`: central differences with two
  Richardson extrapolations (steps h, h/2, h/4 times a per-coordinate scale),
  truncation O(step^6); the objective is a polynomial of degree <= 6 in the
  maps, so in map directions they are exact up to round-off.
* :func:`collapsed_point`: latent maps = 0, everything else maximised
  numerically (damped Newton on FD derivatives), gradient ~1e-12.
* :func:`critical_by_bisection`: root of the largest eigenvalue of the
  step-scaled Hessian at the collapsed point, with exact zero modes
  (flat directions present at both bracket ends) removed; see its docstring.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import linalg, optimize

__all__ = [
    "DEFAULT_HYPER",
    "KINDS",
    "ENCODER_KINDS",
    "objective",
    "terms",
    "objective_batch",
    "terms_batch",
    "Problem",
    "collapsed_point",
    "maximize_objective",
    "fd_gradient",
    "fd_hessian",
    "fd_hessian_diagonal",
    "balanced_fd_scale",
    "collapsed_hessian",
    "collapsed_spectrum",
    "count_zero_modes",
    "hessian_eigenvalues",
    "max_hessian_eigenvalue",
    "critical_by_bisection",
]

KINDS = ("linear", "conditional", "hierarchical")
ENCODER_KINDS = ("diagonal", "full", "isotropic", "fixed")
DECODER_VARIANCES = ("fixed", "learned")

LOG_2PI = math.log(2.0 * math.pi)
LOG_2PIE = math.log(2.0 * math.pi * math.e)

_COMMON_HYPER = {
    "sigma2": 1.0,
    "prior_variance": 1.0,
    "weight_decay_enc": 0.0,
    "weight_decay_dec": 0.0,
}
DEFAULT_HYPER: dict[str, dict[str, float]] = {
    "linear": dict(_COMMON_HYPER, beta=1.0, encoder_variance=1.0),
    "conditional": dict(_COMMON_HYPER, beta=1.0, encoder_variance=1.0),
    "hierarchical": dict(
        _COMMON_HYPER,
        beta1=1.0,
        beta2=1.0,
        tau2=1.0,
        encoder_variance1=1.0,
        encoder_variance2=1.0,
    ),
}

_MAP_NAMES = {
    "linear": ("W", "V"),
    "conditional": ("A", "B", "W", "C"),
    "hierarchical": ("U1", "U2", "W1", "W2"),
}
# maps that touch a latent variable (set to zero at the collapsed point)
_LATENT_MAPS = {
    "linear": ("W", "V"),
    "conditional": ("A", "B", "W"),
    "hierarchical": ("U1", "U2", "W1", "W2"),
}
_COV_NAMES = {"linear": ("D",), "conditional": ("D",), "hierarchical": ("D1", "D2")}


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {KINDS}")


def _merge_hyper(kind: str, hyper) -> dict[str, float]:
    _check_kind(kind)
    out = dict(DEFAULT_HYPER[kind])
    for k, v in (hyper or {}).items():
        if k not in out:
            raise KeyError(f"unknown hyper-parameter {k!r} for kind {kind!r}")
        out[k] = float(v)
    return out


# --------------------------------------------------------------------------
# batched linear-algebra helpers (leading axes are batch axes)
# --------------------------------------------------------------------------
def _T(M):
    return np.swapaxes(M, -1, -2)


def _tr(M):
    return np.trace(M, axis1=-2, axis2=-1)


def _trq(M, S):
    """tr(M S M^T), batched."""
    return np.einsum("...ij,...ij->...", M @ S, M)


def _sqnorm(M):
    return np.sum(M * M, axis=(-2, -1))


def _sym(D):
    return 0.5 * (D + _T(D))


def _logdet_pd(D):
    """log det of a symmetric matrix; nan where it is not positive definite."""
    D = _sym(D)
    ok = np.linalg.eigvalsh(D)[..., 0] > 0
    _, ld = np.linalg.slogdet(np.where(ok[..., None, None], D, np.eye(D.shape[-1])))
    return np.where(ok, ld, np.nan)


def _entropy(D):
    n = D.shape[-1]
    return 0.5 * n * LOG_2PIE + 0.5 * _logdet_pd(D)


def _exp_loggauss(sq, d, var):
    """E log N(v; m, var I_d) given E|v - m|^2 = sq."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return -0.5 * d * (LOG_2PI + np.log(var)) - sq / (2.0 * var)


def terms_batch(kind: str, params, Sigma, hyper=None) -> dict[str, np.ndarray]:
    """Batched version of :func:`terms`: arrays may carry leading batch axes."""
    h = _merge_hyper(kind, hyper)
    Sigma = np.asarray(Sigma, dtype=float)
    P = {k: np.asarray(v, dtype=float) for k, v in params.items()}
    learned = "sigma2" in P
    s = P["sigma2"] if learned else np.asarray(h["sigma2"])
    p = h["prior_variance"]
    ee, ed = h["weight_decay_enc"], h["weight_decay_dec"]
    out = {}
    if kind == "linear":
        W, V, D = P["W"], P["V"], _sym(P["D"])
        N, n = W.shape[-2], W.shape[-1]
        R = np.eye(N) - W @ V
        rec_sq = _trq(R, Sigma) + _trq(W, D)
        z_sq = _trq(V, Sigma) + _tr(D)
        rec = _exp_loggauss(rec_sq, N, s)
        kl = -(_exp_loggauss(z_sq, n, p) + _entropy(D))
        wd = 0.5 * ee * _sqnorm(V) + 0.5 * ed * _sqnorm(W)
        total = rec - h["beta"] * kl - wd
        out.update(reconstruction=rec, kl=kl)
        bad = _logdet_pd(D)
    elif kind == "conditional":
        A, B, W, C, D = P["A"], P["B"], P["W"], P["C"], _sym(P["D"])
        Ny = B.shape[-1]
        n = D.shape[-1]
        bshape = np.broadcast_shapes(A.shape[:-2], B.shape[:-2], W.shape[:-2], C.shape[:-2])
        A, B, W, C = (np.broadcast_to(M, bshape + M.shape[-2:]) for M in (A, B, W, C))
        E = np.concatenate([A, B], axis=-1)  # z = E (x,y) + e
        M = np.concatenate([-C - W @ A, np.eye(Ny) - W @ B], axis=-1)  # y - Cx - W E u
        rec_sq = _trq(M, Sigma) + _trq(W, D)
        z_sq = _trq(E, Sigma) + _tr(D)
        rec = _exp_loggauss(rec_sq, Ny, s)
        kl = -(_exp_loggauss(z_sq, n, p) + _entropy(D))
        wd = 0.5 * ee * (_sqnorm(A) + _sqnorm(B)) + 0.5 * ed * _sqnorm(W)
        total = rec - h["beta"] * kl - wd
        out.update(reconstruction=rec, kl=kl)
        bad = _logdet_pd(D)
    else:
        U1, U2, W1, W2 = P["U1"], P["U2"], P["W1"], P["W2"]
        D1, D2 = _sym(P["D1"]), _sym(P["D2"])
        N, n1 = U1.shape[-2], U1.shape[-1]
        n2 = U2.shape[-1]
        C1 = W1 @ Sigma @ _T(W1) + D1
        C2 = W2 @ C1 @ _T(W2) + D2
        rec_sq = _trq(np.eye(N) - U1 @ W1, Sigma) + _trq(U1, D1)
        r1_sq = _trq(np.eye(n1) - U2 @ W2, C1) + _trq(U2, D2)
        z2_sq = _tr(C2)
        rec = _exp_loggauss(rec_sq, N, s)
        kl1 = -(_exp_loggauss(r1_sq, n1, h["tau2"]) + _entropy(D1))
        kl2 = -(_exp_loggauss(z2_sq, n2, p) + _entropy(D2))
        wd = 0.5 * ee * (_sqnorm(W1) + _sqnorm(W2)) + 0.5 * ed * (_sqnorm(U1) + _sqnorm(U2))
        total = rec - h["beta1"] * kl1 - h["beta2"] * kl2 - wd
        out.update(reconstruction=rec, kl1=kl1, kl2=kl2)
        bad = _logdet_pd(D1) + _logdet_pd(D2)
    valid = np.isfinite(bad) & (s > 0) & np.isfinite(total)
    out["weight_decay"] = wd
    out["total"] = np.where(valid, total, -np.inf)
    return out


def objective_batch(kind: str, params, Sigma, hyper=None) -> np.ndarray:
    """Batched :func:`objective` (returns an array over the batch axes)."""
    return terms_batch(kind, params, Sigma, hyper)["total"]


def terms(kind: str, params, Sigma, hyper=None) -> dict[str, float]:
    """Exact decomposition of the objective.

    Returns a dict of floats with ``reconstruction`` (E log p of the observed
    factor), ``kl`` (linear/conditional: E[log q(z|.) - log p(z)]) or
    ``kl1``/``kl2`` (hierarchical: E[log q(z1|x) - log p(z1|z2)],
    E[log q(z2|z1) - log p(z2)]), ``weight_decay`` (the non-negative penalty)
    and ``total`` (the objective).  ``total`` is ``-inf`` at invalid points.
    """
    return {k: float(v) for k, v in terms_batch(kind, params, Sigma, hyper).items()}


def objective(kind: str, params, Sigma, hyper=None) -> float:
    """The (maximised) objective L of model ``kind`` at ``params``; see module doc."""
    return terms(kind, params, Sigma, hyper)["total"]


# --------------------------------------------------------------------------
# free-parameter layer
# --------------------------------------------------------------------------
def _parse_dims(kind, dims):
    keys = {"linear": ("N", "n"), "conditional": ("Nx", "Ny", "n"), "hierarchical": ("N", "n1", "n2")}[kind]
    if isinstance(dims, dict):
        vals = tuple(int(dims[k]) for k in keys)
    else:
        vals = tuple(int(d) for d in dims)
        if len(vals) != len(keys):
            raise ValueError(f"dims for {kind!r} must be {keys}, got {dims!r}")
    if min(vals) < 1:
        raise ValueError("all dimensions must be >= 1")
    return dict(zip(keys, vals))


class Problem:
    """A model together with its free parameters.

    ``Problem(kind, dims, encoder, decoder_variance, hyper, Sigma)``

    * ``dims``: linear ``(N, n)``, conditional ``(Nx, Ny, n)``, hierarchical
      ``(N, n1, n2)`` (tuple or dict with those keys).
    * ``encoder``: one of :data:`ENCODER_KINDS`; for hierarchical either one
      string (used for both levels) or a pair ``(encoder1, encoder2)``.
    * ``decoder_variance``: ``"fixed"`` or ``"learned"``.

    Attributes: ``size`` (number of free parameters), ``labels`` (one string
    per coordinate), ``blocks`` (list of ``(name, role, slice, shape)``) and
    ``latent_index`` (indices of maps that touch a latent).
    """

    def __init__(self, kind, dims, encoder="diagonal", decoder_variance="fixed", hyper=None, Sigma=None):
        _check_kind(kind)
        self.kind = kind
        self.dims = _parse_dims(kind, dims)
        self.hyper = _merge_hyper(kind, hyper)
        if decoder_variance not in DECODER_VARIANCES:
            raise ValueError(f"decoder_variance must be one of {DECODER_VARIANCES}")
        self.decoder_variance = decoder_variance
        self.learned = decoder_variance == "learned"
        ncov = len(_COV_NAMES[kind])
        if isinstance(encoder, str):
            encs = (encoder,) * ncov
        else:
            encs = tuple(encoder)
        if len(encs) != ncov or any(e not in ENCODER_KINDS for e in encs):
            raise ValueError(f"bad encoder specification {encoder!r}")
        self.encoders = encs
        self.encoder = encs[0] if ncov == 1 else encs
        if Sigma is None:
            raise ValueError("Sigma is required")
        Sigma = np.asarray(Sigma, dtype=float)
        d = self.dims
        ndata = {"linear": d.get("N"), "conditional": d.get("Nx", 0) + d.get("Ny", 0), "hierarchical": d.get("N")}[kind]
        if Sigma.shape != (ndata, ndata):
            raise ValueError(f"Sigma must be {ndata}x{ndata}, got {Sigma.shape}")
        if not np.allclose(Sigma, Sigma.T, rtol=1e-12, atol=1e-12 * max(1.0, np.abs(Sigma).max())):
            raise ValueError("Sigma must be symmetric")
        self.Sigma = 0.5 * (Sigma + Sigma.T)
        ev = np.linalg.eigvalsh(self.Sigma)
        if ev[0] < -1e-12 * max(1.0, abs(ev[-1])):
            raise ValueError("Sigma must be positive semi-definite")

        if kind == "linear":
            N, n = d["N"], d["n"]
            shapes = {"W": (N, n), "V": (n, N), "D": (n, n)}
        elif kind == "conditional":
            Nx, Ny, n = d["Nx"], d["Ny"], d["n"]
            shapes = {"A": (n, Nx), "B": (n, Ny), "W": (Ny, n), "C": (Ny, Nx), "D": (n, n)}
        else:
            N, n1, n2 = d["N"], d["n1"], d["n2"]
            shapes = {"U1": (N, n1), "U2": (n1, n2), "W1": (n1, N), "W2": (n2, n1), "D1": (n1, n1), "D2": (n2, n2)}
        self.shapes = shapes

        blocks = []
        labels = []
        pos = 0
        for name in _MAP_NAMES[kind]:
            shp = shapes[name]
            size = shp[0] * shp[1]
            role = "latent_map" if name in _LATENT_MAPS[kind] else "direct_map"
            blocks.append((name, role, slice(pos, pos + size), shp))
            labels += [f"{name}[{i},{j}]" for i in range(shp[0]) for j in range(shp[1])]
            pos += size
        self._cov = []  # (name, encoder kind, slice, n, d0)
        for idx, (name, enc) in enumerate(zip(_COV_NAMES[kind], encs)):
            n = shapes[name][0]
            if enc == "diagonal":
                size = n
                lab = [f"{name}[{i},{i}]" for i in range(n)]
            elif enc == "full":
                size = n * (n + 1) // 2
                lab = [f"{name}[{i},{j}]" for i in range(n) for j in range(i, n)]
            elif enc == "isotropic":
                size = 1
                lab = [f"{name}:d"]
            else:
                size = 0
                lab = []
            if kind == "hierarchical":
                d0 = self.hyper[f"encoder_variance{idx + 1}"]
            else:
                d0 = self.hyper["encoder_variance"]
            sl = slice(pos, pos + size)
            blocks.append((name, "cov:" + enc, sl, (n, n)))
            self._cov.append((name, enc, sl, n, d0))
            labels += lab
            pos += size
        if self.learned:
            blocks.append(("sigma2", "sigma2", slice(pos, pos + 1), ()))
            labels.append("sigma2")
            pos += 1
        self.blocks = blocks
        self.labels = labels
        self.size = pos
        self.latent_index = np.array(
            [i for (nm, role, sl, _) in blocks if role == "latent_map" for i in range(sl.start, sl.stop)], dtype=int
        )
        mask = np.ones(self.size, dtype=bool)
        mask[self.latent_index] = False
        self.free_index = np.flatnonzero(mask)  # parameters optimised at collapse
        self.map_fd_scale = 10.0

    def __repr__(self):
        return (
            f"Problem({self.kind!r}, {self.dims}, encoder={self.encoder!r}, "
            f"decoder_variance={self.decoder_variance!r}, hyper={self.hyper})"
        )

    # ---- packing --------------------------------------------------------
    def pack(self, params) -> np.ndarray:
        """params dict -> free-parameter vector (see module doc for the order).

        For the isotropic encoder the mean of the diagonal of D is taken; for
        the fixed encoder D is ignored."""
        theta = np.zeros(self.size)
        for name, role, sl, shp in self.blocks:
            if role in ("latent_map", "direct_map"):
                M = np.asarray(params[name], dtype=float)
                if M.shape != shp:
                    raise ValueError(f"{name} must have shape {shp}, got {M.shape}")
                theta[sl] = M.ravel()
            elif role == "sigma2":
                theta[sl] = float(np.asarray(params["sigma2"], dtype=float))
        for name, enc, sl, n, _ in self._cov:
            D = np.asarray(params[name], dtype=float)
            if D.shape != (n, n):
                raise ValueError(f"{name} must have shape {(n, n)}, got {D.shape}")
            if enc == "diagonal":
                theta[sl] = np.diag(D)
            elif enc == "full":
                theta[sl] = D[np.triu_indices(n)]
            elif enc == "isotropic":
                theta[sl] = np.mean(np.diag(D))
        return theta

    def unpack_batch(self, Theta) -> dict[str, np.ndarray]:
        """(m, size) array -> dict of arrays with leading batch axis m."""
        Theta = np.asarray(Theta, dtype=float)
        if Theta.ndim != 2 or Theta.shape[1] != self.size:
            raise ValueError(f"expected an (m, {self.size}) array, got {Theta.shape}")
        m = Theta.shape[0]
        out = {}
        for name, role, sl, shp in self.blocks:
            if role in ("latent_map", "direct_map"):
                out[name] = Theta[:, sl].reshape((m,) + shp)
            elif role == "sigma2":
                out["sigma2"] = Theta[:, sl.start]
        for name, enc, sl, n, d0 in self._cov:
            vals = Theta[:, sl]
            D = np.zeros((m, n, n))
            if enc == "diagonal":
                i = np.arange(n)
                D[:, i, i] = vals
            elif enc == "full":
                iu, ju = np.triu_indices(n)
                D[:, iu, ju] = vals
                D[:, ju, iu] = vals
            elif enc == "isotropic":
                D[:] = vals[:, 0, None, None] * np.eye(n)
            else:
                D[:] = d0 * np.eye(n)
            out[name] = D
        return out

    def unpack(self, theta) -> dict[str, np.ndarray]:
        """free-parameter vector -> params dict (full D matrices always)."""
        theta = np.asarray(theta, dtype=float).reshape(1, -1)
        P = self.unpack_batch(theta)
        out = {k: v[0] for k, v in P.items()}
        if "sigma2" in out:
            out["sigma2"] = float(out["sigma2"])
        return out

    # ---- objective ------------------------------------------------------
    def f(self, theta) -> float:
        """Objective at the free-parameter vector ``theta``."""
        return float(self.f_batch(np.asarray(theta, dtype=float).reshape(1, -1))[0])

    __call__ = f

    def f_batch(self, Theta) -> np.ndarray:
        """Objective for each row of the (m, size) array ``Theta``."""
        return objective_batch(self.kind, self.unpack_batch(Theta), self.Sigma, self.hyper)

    def terms(self, theta) -> dict[str, float]:
        return terms(self.kind, self.unpack(theta), self.Sigma, self.hyper)

    def magnitude(self, theta) -> float:
        """Round-off scale F of the objective at theta: the sum of the
        magnitudes of its terms (reconstruction, beta-weighted KLs, weight
        decay), at least 1."""
        T = self.terms(theta)
        h = self.hyper
        if self.kind == "hierarchical":
            F = abs(T["reconstruction"]) + h["beta1"] * abs(T["kl1"]) + h["beta2"] * abs(T["kl2"])
        else:
            F = abs(T["reconstruction"]) + h["beta"] * abs(T["kl"])
        F += abs(T["weight_decay"])
        return float(max(F, 1.0)) if np.isfinite(F) else float("inf")

    def fd_scale(self, theta) -> np.ndarray:
        """Per-coordinate length scale for finite differences.

        Maps: ``self.map_fd_scale`` (default 10, i.e. base step 0.1 with
        h = 1e-2).  The objective is a polynomial of degree <= 6 in the maps
        for fixed covariances, so three Richardson levels make map-map
        differences exact up to round-off and a large step only reduces
        round-off.  Covariance entries of one encoder: the mean |diagonal| of
        that D (so that perturbations keep it positive definite).  sigma2: its
        value."""
        theta = np.asarray(theta, dtype=float)
        scale = np.full(self.size, float(self.map_fd_scale))
        P = self.unpack(theta)
        for name, enc, sl, n, _ in self._cov:
            if sl.stop > sl.start:
                c = float(np.mean(np.abs(np.diag(P[name]))))
                scale[sl] = c if c > 0 else 1.0
        if self.learned:
            c = abs(float(theta[-1]))
            scale[-1] = c if c > 0 else 1.0
        return scale


# --------------------------------------------------------------------------
# finite differences
# --------------------------------------------------------------------------
def _richardson(estimates):
    """Neville-Richardson table for estimates at h, h/2, h/4, ... whose error
    is a series in h^2, h^4, ...; returns the most extrapolated value."""
    T = [np.asarray(e, dtype=float) for e in estimates]
    k = 1
    while len(T) > 1:
        fac = 4.0**k
        T = [(fac * T[i + 1] - T[i]) / (fac - 1.0) for i in range(len(T) - 1)]
        k += 1
    return T[0]


def _evaluate(f, X, vectorized):
    if vectorized:
        return np.asarray(f(X), dtype=float).reshape(X.shape[0])
    return np.array([f(x) for x in X], dtype=float)


def _steps(theta, h, scale):
    if scale is None:
        scale = np.where(theta != 0, np.abs(theta), 1.0)
    return h * np.broadcast_to(np.asarray(scale, dtype=float), theta.shape)


def fd_gradient(f: Callable, theta, h: float = 1e-2, scale=None, levels: int = 3, vectorized: bool = False):
    """Central-difference gradient with Richardson extrapolation.

    Steps are ``h * scale / 2**l`` for ``l = 0..levels-1`` (``scale`` defaults
    to |theta_i|, or 1 where theta_i == 0); the central differences have an
    error series in even powers of the step, which Richardson removes up to
    O(step^(2 levels)).  If ``vectorized``, ``f`` maps an (m, P) array to m
    values (one call in total)."""
    theta = np.asarray(theta, dtype=float)
    P = theta.size
    base = _steps(theta, h, scale)
    pts = []
    for l in range(levels):
        E = np.diag(base / 2.0**l)
        pts += [theta + E, theta - E]
    vals = _evaluate(f, np.vstack(pts), vectorized).reshape(levels, 2, P)
    est = [(vals[l, 0] - vals[l, 1]) / (2.0 * base / 2.0**l) for l in range(levels)]
    return _richardson(est)


def fd_hessian_diagonal(f: Callable, theta, h: float = 1e-2, scale=None, levels: int = 3, vectorized: bool = False):
    """Diagonal of :func:`fd_hessian` only (2 P levels + 1 evaluations)."""
    theta = np.asarray(theta, dtype=float)
    P = theta.size
    base = _steps(theta, h, scale)
    pts = [theta[None, :]]
    for l in range(levels):
        E = np.diag(base / 2.0**l)
        pts += [theta + E, theta - E]
    vals = _evaluate(f, np.vstack(pts), vectorized)
    est = []
    for l in range(levels):
        d = base / 2.0**l
        fp = vals[1 + 2 * l * P : 1 + (2 * l + 1) * P]
        fm = vals[1 + (2 * l + 1) * P : 1 + (2 * l + 2) * P]
        est.append((fp - 2.0 * vals[0] + fm) / d**2)
    return _richardson(est)


def fd_hessian(f: Callable, theta, h: float = 1e-2, scale=None, levels: int = 3, vectorized: bool = False):
    """Central-difference Hessian with Richardson extrapolation (symmetric).

    Diagonal: (f(x+d_i) - 2 f(x) + f(x-d_i)) / d_i^2; off-diagonal:
    (f(++) - f(+-) - f(-+) + f(--)) / (4 d_i d_j).  Steps and extrapolation as
    in :func:`fd_gradient` (default 3 levels -> truncation O(step^6)); only
    i < j is computed and mirrored, then the result is symmetrised."""
    theta = np.asarray(theta, dtype=float)
    P = theta.size
    base = _steps(theta, h, scale)
    iu, ju = np.triu_indices(P, 1)
    npair = iu.size
    pts = [theta[None, :]]
    for l in range(levels):
        d = base / 2.0**l
        E = np.diag(d)
        pts += [theta + E, theta - E]
        Ei, Ej = E[iu], E[ju]
        pts += [theta + Ei + Ej, theta + Ei - Ej, theta - Ei + Ej, theta - Ei - Ej]
    vals = _evaluate(f, np.vstack(pts), vectorized)
    f0 = vals[0]
    off = 1
    est = []
    for l in range(levels):
        d = base / 2.0**l
        fp, fm = vals[off : off + P], vals[off + P : off + 2 * P]
        off += 2 * P
        q = vals[off : off + 4 * npair].reshape(4, npair)
        off += 4 * npair
        H = np.zeros((P, P))
        H[np.arange(P), np.arange(P)] = (fp - 2.0 * f0 + fm) / d**2
        H[iu, ju] = (q[0] - q[1] - q[2] + q[3]) / (4.0 * d[iu] * d[ju])
        H[ju, iu] = H[iu, ju]
        est.append(H)
    H = _richardson(est)
    return 0.5 * (H + H.T)


# --------------------------------------------------------------------------
# collapsed point
# --------------------------------------------------------------------------
class _Reparam:
    """Unconstrained parametrisation of the non-latent free parameters, used
    only for the robust first optimisation stage: positive scalars (diagonal
    / isotropic D entries, sigma2) as exp(u); a full D as L L^T with L lower
    triangular with exp diagonal; direct maps (C) unchanged."""

    def __init__(self, problem: Problem):
        self.problem = problem
        free = problem.free_index
        self.k = free.size
        self.pieces = []  # (type, positions in reduced vector, extra)
        pos_of = {g: i for i, g in enumerate(free)}
        for name, role, sl, shp in problem.blocks:
            idx = np.array([pos_of[g] for g in range(sl.start, sl.stop) if g in pos_of], dtype=int)
            if idx.size == 0:
                continue
            if role == "direct_map":
                self.pieces.append(("id", idx, None))
            elif role == "sigma2" or role in ("cov:diagonal", "cov:isotropic"):
                self.pieces.append(("exp", idx, None))
            elif role == "cov:full":
                self.pieces.append(("chol", idx, shp[0]))

    def start(self):
        u = np.zeros(self.k)  # D = I, sigma2 = 1, C = 0
        return u

    def __call__(self, U):
        U = np.atleast_2d(U)
        Y = np.empty_like(U)
        for typ, idx, n in self.pieces:
            if typ == "id":
                Y[:, idx] = U[:, idx]
            elif typ == "exp":
                Y[:, idx] = np.exp(U[:, idx])
            else:
                iu, ju = np.triu_indices(n)  # row-major upper triangle
                # u entries fill L^T's upper triangle (i.e. L lower) row-major
                Lt = np.zeros((U.shape[0], n, n))
                Lt[:, iu, ju] = U[:, idx]
                diag = np.arange(n)
                Lt[:, diag, diag] = np.exp(Lt[:, diag, diag])
                D = _T(Lt) @ Lt
                Y[:, idx] = D[:, iu, ju]
        return Y


def _newton_ascent(F, y, scale_fn, max_iter, gstop, h=1e-2):
    """Damped Newton maximisation of the vectorised function F from y.

    Uses Richardson FD gradients/Hessians with steps ``h * scale_fn(y)``; if
    the Hessian is not negative definite it is shifted (Levenberg-Marquardt)
    to be so; backtracking keeps F finite and non-decreasing.  Stops when
    max|grad| <= gstop(f) or no further progress is possible.  Returns
    (y, f, grad, iterations)."""
    fy = float(F(y[None])[0])
    if not np.isfinite(fy):
        raise RuntimeError("starting point of the collapsed-point search is infeasible")
    g = fd_gradient(F, y, h=h, scale=scale_fn(y), vectorized=True)
    it = 0
    for it in range(1, max_iter + 1):
        gn = np.max(np.abs(g))
        if gn <= gstop(fy):
            it -= 1
            break
        H = fd_hessian(F, y, h=h, scale=scale_fn(y), vectorized=True)
        ev = np.linalg.eigvalsh(H)
        big = max(np.abs(ev).max(), 1e-300)
        shift = 0.0 if ev[-1] < -1e-12 * big else ev[-1] + 1e-3 * big
        try:
            step = -np.linalg.solve(H - shift * np.eye(y.size), g)
        except np.linalg.LinAlgError:
            step = g / big
        t, accepted = 1.0, False
        for _ in range(80):
            y_new = y + t * step
            f_new = float(F(y_new[None])[0])
            if np.isfinite(f_new) and f_new >= fy - 1e-14 * max(1.0, abs(fy)):
                accepted = True
                break
            t *= 0.5
        if not accepted:
            break
        g_new = fd_gradient(F, y_new, h=h, scale=scale_fn(y_new), vectorized=True)
        if np.max(np.abs(g_new)) >= gn and f_new <= fy:
            break  # round-off floor reached
        y, fy, g = y_new, f_new, g_new
    return y, fy, g, it


def collapsed_point(problem: Problem, gtol: float = 1e-12, return_info: bool = False, max_newton: int = 200):
    """The collapsed stationary point, found numerically (nothing typed in).

    All maps touching a latent are fixed at zero; the remaining free
    parameters (encoder-covariance entries, learned sigma2, the conditional
    direct map C) are maximised by damped Newton iterations on Richardson FD
    derivatives: first in an unconstrained parametrisation (positive scalars
    as exp(u), a full D as L L^T with exp diagonal; start D = I, sigma2 = 1,
    C = 0; in these coordinates the collapsed problem is essentially
    concave), then polished in the original parametrisation until the FD
    gradient (original coordinates, max-norm) is <= ``gtol * max(1, |f|)`` or
    stops decreasing (round-off floor; typically ~1e-13).  A RuntimeError is
    raised if it stays above 1e-6 * max(1, |f|).

    Returns the full free-parameter vector (and an info dict with
    ``grad_norm`` and iteration counts if ``return_info``)."""
    theta = np.zeros(problem.size)
    free = problem.free_index
    info = {"grad_norm": 0.0, "iterations_u": 0, "newton_iterations": 0}
    if free.size == 0:
        return (theta, info) if return_info else theta

    def full(Y):
        Y = np.atleast_2d(Y)
        T = np.zeros((Y.shape[0], problem.size))
        T[:, free] = Y
        return T

    def f_red(Y):
        return problem.f_batch(full(Y))

    rep = _Reparam(problem)

    def f_u(U):
        with np.errstate(over="ignore", invalid="ignore"):
            v = f_red(rep(U))
        return np.where(np.isfinite(v), v, -np.inf)

    u, _, _, info["iterations_u"] = _newton_ascent(
        f_u, rep.start(), lambda u: np.ones_like(u), max_newton, lambda f: 1e-9 * max(1.0, abs(f))
    )
    y = rep(u[None])[0]

    def scale_of(y):
        return problem.fd_scale(full(y)[0])[free]

    y, fy, g, info["newton_iterations"] = _newton_ascent(
        f_red, y, scale_of, max_newton, lambda f: gtol * max(1.0, abs(f))
    )
    info["grad_norm"] = float(np.max(np.abs(g)))
    if info["grad_norm"] > 1e-6 * max(1.0, abs(fy)):
        raise RuntimeError(f"collapsed_point did not converge (|grad| = {info['grad_norm']:.3g}) for {problem!r}")
    theta = full(y)[0]
    return (theta, info) if return_info else theta


def maximize_objective(problem: Problem, theta0, gtol: float = 1e-10, maxiter: int = 20000):
    """Maximise the objective over *all* free parameters from ``theta0`` with
    L-BFGS-B (positivity bounds on diagonal/isotropic D entries and sigma2;
    FD-Richardson gradients).  Returns ``(theta, value)``.  A full encoder is
    not bounded (an infeasible step just returns -inf)."""
    theta0 = np.asarray(theta0, dtype=float)
    bounds = [(None, None)] * problem.size
    for name, role, sl, shp in problem.blocks:
        if role in ("cov:diagonal", "cov:isotropic", "sigma2"):
            for i in range(sl.start, sl.stop):
                bounds[i] = (1e-10, None)

    def neg(T):
        v = problem.f_batch(T)
        return np.where(np.isfinite(v), -v, np.inf)

    def fun(th):
        val = float(neg(th[None])[0])
        if not np.isfinite(val):
            return 1e300, np.zeros_like(th)
        return val, fd_gradient(neg, th, scale=problem.fd_scale(th), vectorized=True)

    res = optimize.minimize(
        fun, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
        options={"maxiter": maxiter, "maxfun": 4 * maxiter, "ftol": 1e-16, "gtol": gtol, "maxcor": 30},
    )
    return res.x, problem.f(res.x)


# --------------------------------------------------------------------------
# stability of the collapsed point
# --------------------------------------------------------------------------
BALANCE = 100.0  # target f-change of one map step: h^2 * BALANCE * F


def balanced_fd_scale(problem: Problem, theta, h: float = 1e-2) -> np.ndarray:
    """FD scales with the map coordinates equilibrated by curvature.

    Starts from :meth:`Problem.fd_scale`; for every map coordinate (latent or
    direct map) with a non-zero diagonal curvature H_ii (cheap FD estimate)
    the scale becomes sqrt(BALANCE * F / |H_ii|), F = :meth:`Problem.magnitude`,
    so that one step changes f by ~h^2 BALANCE F (1 % of F for the defaults)
    in every map direction.  The objective is a
    polynomial of degree <= 6 in the maps, so the size of a map step does
    not affect the (Richardson-exact) truncation error, only round-off; this
    balancing keeps badly scaled problems (e.g. p/s or Sigma/p far from 1)
    accurate.  Covariance and sigma2 scales are left relative to their values
    (their truncation error is what limits those steps)."""
    theta = np.asarray(theta, dtype=float)
    sc = problem.fd_scale(theta).copy()
    F = problem.magnitude(theta)
    maps = np.array(
        [i for (nm, role, sl, _) in problem.blocks if role in ("latent_map", "direct_map") for i in range(sl.start, sl.stop)],
        dtype=int,
    )
    if maps.size == 0 or not np.isfinite(F):
        return sc
    Hd = fd_hessian_diagonal(problem.f_batch, theta, h=h, scale=sc, vectorized=True)[maps]
    ok = np.abs(Hd) > 1e-14 * F / (h * h)
    sc[maps[ok]] = np.sqrt(BALANCE * F / np.abs(Hd[ok]))
    return sc


def collapsed_hessian(problem: Problem, h: float = 1e-2, levels: int = 3, return_scale: bool = False):
    """(theta*, H): the collapsed point and the FD Hessian of the objective
    over all free parameters there (steps ``h * balanced_fd_scale``).  With
    ``return_scale`` also the scale vector used."""
    theta = collapsed_point(problem)
    sc = balanced_fd_scale(problem, theta, h=h)
    H = fd_hessian(problem.f_batch, theta, h=h, scale=sc, levels=levels, vectorized=True)
    return (theta, H, sc) if return_scale else (theta, H)


def collapsed_spectrum(problem: Problem, h: float = 1e-2) -> dict[str, np.ndarray]:
    """Hessian spectrum at the collapsed point, raw and step-scaled.

    Returns a dict with ``theta``, ``H``, ``steps`` (d = h * balanced_fd_scale),
    ``eigenvalues`` (of H, ascending), ``scaled_eigenvalues`` (of
    diag(d) H diag(d), ascending; same inertia as H by Sylvester's law, but
    with FD round-off of uniform size ~ eps * F in every entry),
    ``scaled_vectors`` and ``magnitude`` F = :meth:`Problem.magnitude`."""
    theta, H, sc = collapsed_hessian(problem, h=h, return_scale=True)
    d = h * sc
    Ht = H * np.outer(d, d)
    evt, vect = np.linalg.eigh(Ht)
    return {
        "theta": theta,
        "H": H,
        "steps": d,
        "eigenvalues": np.linalg.eigvalsh(H),
        "scaled_eigenvalues": evt,
        "scaled_vectors": vect,
        "magnitude": problem.magnitude(theta),
    }


def hessian_eigenvalues(problem_factory: Callable[[float], Problem], value: float, h: float = 1e-2) -> np.ndarray:
    """Ascending eigenvalues of the FD Hessian at the collapsed point of
    ``problem_factory(value)``."""
    return collapsed_spectrum(problem_factory(value), h=h)["eigenvalues"]


def count_zero_modes(spec: dict[str, np.ndarray], zero_tol: float = 1e-10) -> int:
    """Number of numerically-zero Hessian eigenvalues in a
    :func:`collapsed_spectrum` result: |scaled eigenvalue| <= zero_tol * F.

    In step-scaled coordinates an eigenvalue is the second-order change of f
    over one FD step along that direction; the FD round-off there is about
    25 eps F per entry (~ 3e-13 F for 50 parameters), so the default
    1e-10 leaves a margin of several hundred while any physical curvature
    that changes f by more than 1e-10 relative over a step counts as
    non-zero."""
    return int(np.sum(np.abs(spec["scaled_eigenvalues"]) <= zero_tol * spec["magnitude"]))


def _drop_zero_modes(ev, k0):
    """Largest eigenvalue after discarding the k0 eigenvalues of smallest |.|."""
    if k0 <= 0:
        return float(ev[-1])
    keep = np.argsort(np.abs(ev))[k0:]
    if keep.size == 0:
        return 0.0
    return float(np.max(ev[keep]))


def _max_eig_without_zero_modes(spec, k0, scaled):
    if scaled:
        return _drop_zero_modes(spec["scaled_eigenvalues"], k0)
    if k0 <= 0:
        return float(spec["eigenvalues"][-1])
    evt, vect, d, H = spec["scaled_eigenvalues"], spec["scaled_vectors"], spec["steps"], spec["H"]
    idx = np.argsort(np.abs(evt))[:k0]
    Z = d[:, None] * vect[:, idx]  # (near-)null vectors of H in original coordinates
    Q = linalg.null_space(Z.T)  # orthonormal basis of their complement
    if Q.shape[1] == 0:
        return 0.0
    return float(np.linalg.eigvalsh(Q.T @ H @ Q)[-1])


def max_hessian_eigenvalue(
    problem_factory: Callable[[float], Problem], value: float, zero_modes=0, h: float = 1e-2,
    scaled: bool = False, zero_tol: float = 1e-10,
) -> float:
    """Largest eigenvalue of the FD Hessian at the collapsed point of
    ``problem_factory(value)``.

    ``zero_modes``: ``0`` (default) plain largest eigenvalue; an int k > 0:
    the k directions whose step-scaled eigenvalues have the smallest |.| are
    treated as exact flat directions and removed (the Hessian is restricted to
    the Euclidean complement of those null vectors, which leaves the other
    eigenvalues unchanged when they span an exact null space); ``"auto"``:
    k = :func:`count_zero_modes` at this value.  ``scaled=True`` returns the
    eigenvalue of diag(d) H diag(d) instead (same sign)."""
    spec = collapsed_spectrum(problem_factory(value), h=h)
    k0 = count_zero_modes(spec, zero_tol) if zero_modes == "auto" else int(zero_modes)
    return _max_eig_without_zero_modes(spec, k0, scaled)


def critical_by_bisection(
    problem_factory: Callable[[float], Problem],
    lo: float,
    hi: float,
    tol: float = 1e-10,
    zero_modes="auto",
    zero_tol: float = 1e-10,
    method: str = "brentq",
    h: float = 1e-2,
    full_output: bool = False,
):
    """Parameter value at which the collapsed point changes stability.

    For a value v let ``ev~(v)`` be the spectrum of the step-scaled Hessian
    diag(d) H diag(d) at the collapsed point of ``problem_factory(v)`` (same
    signs as H by Sylvester's law of inertia, better conditioned, FD noise of
    uniform size ~eps F) and ``g(v)`` its largest eigenvalue after the ``k0``
    eigenvalues of smallest |.| have been discarded (exact zero modes, i.e.
    flat directions that exist for every v).  One end of ``[lo, hi]`` must be
    unstable (``g > zero_tol * F``) and the other clearly stable
    (``g < -zero_tol * F``; a stable end whose largest kept eigenvalue is only
    ~0 means unremoved zero modes or a marginal bracket, and is rejected),
    where F = :meth:`Problem.magnitude`.  Either end may be the unstable one.
    The root of g in between is returned, found with ``brentq`` (default;
    relative tolerance ``tol``) or plain bisection on the sign of g
    (``method="bisect"``, same tolerance).

    ``zero_modes``:
      * ``"auto"`` (default): k0 = min over the two ends of
        :func:`count_zero_modes` -- modes that are numerically zero at both
        ends are treated as exact zero modes (e.g. n1*n2 of them in the
        hierarchical model with beta1 == beta2, or n per null direction of a
        singular Sigma in the linear model).  With none this is plain root
        finding on the largest eigenvalue.
      * an int: use that k0 (``0`` = plain largest eigenvalue).

    Near the root the crossing eigenvalue becomes as small as the zero modes
    and cannot be told apart from them; this only happens inside the FD-noise
    band, so the root is still located to about noise / |dg/dv| (observed
    ~1e-11 relative for well-scaled problems).  Raises ValueError if the
    bracket is not valid.

    Returns the critical value (or ``(value, info)`` if ``full_output``)."""
    lo, hi = float(lo), float(hi)
    spec_lo = collapsed_spectrum(problem_factory(lo), h=h)
    spec_hi = collapsed_spectrum(problem_factory(hi), h=h)
    if zero_modes == "auto":
        k0 = min(count_zero_modes(spec_lo, zero_tol), count_zero_modes(spec_hi, zero_tol))
    else:
        k0 = int(zero_modes)
    g_lo = _max_eig_without_zero_modes(spec_lo, k0, True)
    g_hi = _max_eig_without_zero_modes(spec_hi, k0, True)
    thr_lo = zero_tol * spec_lo["magnitude"]
    thr_hi = zero_tol * spec_hi["magnitude"]
    unstable_lo, stable_lo = g_lo > thr_lo, g_lo < -thr_lo
    unstable_hi, stable_hi = g_hi > thr_hi, g_hi < -thr_hi
    if not ((unstable_lo and stable_hi) or (unstable_hi and stable_lo)):
        raise ValueError(
            f"invalid bracket: scaled g({lo}) = {g_lo:.3g}, g({hi}) = {g_hi:.3g} "
            f"(k0 = {k0} zero modes removed); need one end > +zero_tol*F "
            f"({max(thr_lo, thr_hi):.2g}) and the other < -zero_tol*F"
        )
    nev = [2]

    def g(v):
        nev[0] += 1
        return _max_eig_without_zero_modes(collapsed_spectrum(problem_factory(v), h=h), k0, True)

    xtol = 1e-15 * max(abs(lo), abs(hi), 1e-300)
    if method == "brentq":
        root = optimize.brentq(g, lo, hi, xtol=xtol, rtol=max(tol, 4.5e-16), maxiter=200)
    elif method == "bisect":
        a, b = lo, hi
        sa = unstable_lo
        while abs(b - a) > tol * max(abs(a), abs(b)) + xtol:
            m = 0.5 * (a + b)
            if (g(m) > 0) == sa:
                a = m
            else:
                b = m
        root = 0.5 * (a + b)
    else:
        raise ValueError("method must be 'brentq' or 'bisect'")
    if full_output:
        return root, {
            "zero_modes": k0,
            "g_lo": g_lo,
            "g_hi": g_hi,
            "evaluations": nev[0],
            "unstable_end": "lo" if unstable_lo else "hi",
        }
    return root
