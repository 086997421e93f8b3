"""The optimum of the objective at given hyper-parameters: what the VAE learns, certified.

:func:`optimum` maximises the compiled objective with scipy's trust-region solver
(``trust-krylov``: the exact gradient and Hessian-vector products of
:mod:`statvae.numeric`), in unconstrained coordinates (:mod:`statvae.analysis.reparam`)
scaled to the data's units, from several starts: the aligned start (each latent on
one top eigen-direction of the data, the structure of the per-mode analysis) and
seeded random starts.  The best point is then certified:

* as a local maximum by the inertia of the compiled Hessian (no positive eigenvalue
  beyond rounding; flat directions, from continuous symmetries, are counted);
* as the best stationary point found by comparing the ELBOs of all starts (the
  stationary branches reached), reported in :attr:`OptimumResult.stationary_elbos`.

A positive Hessian eigenvalue at the best point sends the solver down along its
eigenvector; if none of that helps, the result says so (``success=False``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import AnalysisError, DataError, ModelError
from ..model.vae import Model
from .closedform import per_mode_point
from .reparam import Unconstrained

__all__ = ["OptimumResult", "optimum", "user_covariance"]

#: Gradient tolerance of the trust-region solver (scaled coordinates, objective divided by its size at the
#: start); the dense Newton polish takes it to rounding.
GTOL = 1e-6
#: Dense Hessians (for the inertia) up to this many parameters; above, Lanczos on Hessian-vector products.
DENSE_HESSIAN_LIMIT = 2500
#: Coordinates per latent variable shown by :meth:`OptimumResult._repr_latex_` (the result holds them all).
DISPLAY_COORDINATES = 16


def _coordinate(latex: str, j: int) -> str:
    """Coordinate ``j`` of a latent printed as ``latex``: ``z_{j}``, or ``z_{1,j}`` for ``z_{1}``."""
    if latex.endswith("}") and "_{" in latex:
        return f"{latex[:-1]},{j}}}"
    return f"{latex}_{{{j}}}"


@dataclass
class OptimumResult:
    """The optimum of a model on data at fixed hyper-parameters.

    Attributes
    ----------
    parameters : dict
        Parameter blocks by name (maps, encoder covariances, learned variances), in the data's basis and units.
    elbo : float
        The objective at the optimum (ELBO with beta and weight decay, as maximised).
    reconstruction : float
        ``E log p(x | z)`` summed over the observed variables.
    kl_total : float
        Total KL divergence (unweighted by beta).
    kl_per_latent : dict
        Latent variable -> KL per coordinate (root latents) or for the whole variable.
    variances : dict
        Learned variances by variable (empty when none is learned).
    active : dict
        Latent variable -> indices of its active coordinates (decoder column norm above ``active_rtol`` of
        the data's scale).
    values : dict
        The hyper-parameter values used.
    success : bool
        Whether the point is certified a local maximum (no positive Hessian eigenvalue).
    status : str
        One line: what was certified.
    method : str
        How it was found.
    inertia : tuple of int
        ``(positive, zero, negative)`` Hessian eigenvalue counts (``zero``: within ``rtol`` of the largest
        magnitude); from Lanczos above :data:`DENSE_HESSIAN_LIMIT` parameters (then only the positive count
        is exact and the others are ``-1``).
    largest_eigenvalue : float
        The largest Hessian eigenvalue (relative to the largest magnitude; <= rounding at a maximum).
    gradient_norm : float
        Norm of the gradient at the optimum, relative to the gradient's scale at the start.
    stationary_elbos : list of float
        The distinct objective values of the points the starts converged to, best first.
    starts : int
        Number of starts.
    """

    parameters: dict[str, Any]
    elbo: float
    reconstruction: float
    kl_total: float
    kl_per_latent: dict[str, list[float]]
    variances: dict[str, float]
    active: dict[str, list[int]]
    values: dict[str, float]
    success: bool
    status: str
    method: str
    inertia: tuple[int, int, int]
    largest_eigenvalue: float
    gradient_norm: float
    stationary_elbos: list[float] = field(default_factory=list)
    starts: int = 0

    @property
    def active_latents(self) -> int:
        """The number of active latent coordinates."""
        return sum(len(v) for v in self.active.values())

    def __repr__(self) -> str:
        return (f"OptimumResult(elbo={self.elbo:.10g}, active={self.active_latents}, kl_total={self.kl_total:.6g}, "
                f"success={self.success}, status={self.status!r})")

    def _repr_latex_(self) -> str:
        r"""A summary as aligned displayed math, for Jupyter.

        The ELBO and its reconstruction term, the total KL, the learned variances, then a small table
        with one row per latent variable: the KL of each coordinate (the first
        :data:`DISPLAY_COORDINATES`) and the active coordinates (numbered from 1, as in
        :func:`statvae.latex`'s ``W_{11}``); then the hyper-parameter values and the status in words.

        Returns
        -------
        str
            ``$$\begin{aligned} ... \end{aligned}$$``.

        Examples
        --------
        >>> import statvae
        >>> r = statvae.optimum(statvae.LinearVAE(3, 2), spectrum=[3.0, 1.7, 0.9], sigma2=2.0)
        >>> s = r._repr_latex_()
        >>> print(s.splitlines()[1])
        \mathcal{L} &= -5.149268925 \\
        >>> r"\mathcal{A} = \left\{z_{1}\right\}" in s
        True
        """
        from ..model.naming import name_latex
        from ..symbolic.printing import aligned, hyper_latex, number, text

        rows: list[tuple[str, str, str]] = [
            (r"\mathcal{L}", "=", number(self.elbo, 10)),
            (r"\mathcal{L}_{\mathrm{rec}}", "=", number(self.reconstruction, 10)),
            (r"\mathrm{KL}", "=", number(self.kl_total, 6))]
        for var, value in self.variances.items():
            rows.append((text("variance of ") + name_latex(var), "=", number(value, 10)))
        table = [r"\text{latent} & \mathrm{KL}\text{ per coordinate} & \text{active}", r"\hline"]
        for z, kls in self.kl_per_latent.items():
            zl = name_latex(z)
            shown = ", ".join(number(k, 4) for k in kls[:DISPLAY_COORDINATES])
            if len(kls) > DISPLAY_COORDINATES:
                shown += r", \ldots" + text(f" ({len(kls)} coordinates)")
            active = self.active.get(z, [])
            coords = ", ".join(_coordinate(zl, j + 1) for j in active[:DISPLAY_COORDINATES])
            if len(active) > DISPLAY_COORDINATES:
                coords += r", \ldots"
            table.append(rf"{zl} & \left({shown}\right) & \mathcal{{A}} = \left\{{{coords}\right\}}"
                         + text(f" ({len(active)} of {len(kls)})"))
        body = r"\begin{array}{lll}" + r" \\ ".join(table).replace(r"\hline \\ ", r"\hline ") + r"\end{array}"
        rows.append((text("latents"), ":", body))
        if self.values:
            rows.append((text("at"), ":", r",\ ".join(f"{hyper_latex(k)} = {number(v, 6)}"
                                                        for k, v in self.values.items())))
        rows.append((text("certified" if self.success else "not certified"), ":", text(self.status)))
        return aligned(rows)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (arrays as nested lists); :meth:`from_dict` reads it back exactly.

        Returns
        -------
        dict
        """
        out: dict[str, Any] = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["parameters"] = {k: np.asarray(v, dtype=float).tolist() for k, v in self.parameters.items()}
        out["inertia"] = list(self.inertia)
        out["kind"] = "optimum"
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OptimumResult:
        """Read back :meth:`to_dict`.

        Parameters
        ----------
        d : dict
            As written by :meth:`to_dict`.

        Returns
        -------
        OptimumResult

        Raises
        ------
        DataError
            If ``d`` is not an optimum's dict.
        """
        if not isinstance(d, dict) or d.get("kind") != "optimum":
            raise DataError("not a saved optimum (kind 'optimum' expected)")
        try:
            kw = {k: d[k] for k in cls.__dataclass_fields__}
        except KeyError as e:
            raise DataError(f"the saved optimum lacks {e.args[0]!r}") from None
        kw["parameters"] = {k: np.asarray(v, dtype=float) if np.ndim(v) else float(v)
                            for k, v in kw["parameters"].items()}
        kw["inertia"] = tuple(int(x) for x in kw["inertia"])
        return cls(**kw)

    def save(self, path: str) -> None:
        """Write the result as JSON (exact: floats round-trip).

        Parameters
        ----------
        path : str
            The file.
        """
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.to_dict(), fh, indent=1, allow_nan=False)

    @classmethod
    def load(cls, path: str) -> OptimumResult:
        """Read a result written by :meth:`save`.

        Parameters
        ----------
        path : str
            The file.

        Returns
        -------
        OptimumResult
        """
        try:
            with open(path, encoding="utf-8") as fh:
                d = json.load(fh)
        except (OSError, ValueError) as e:
            raise DataError(f"cannot read the optimum from {path}: {e}") from None
        return cls.from_dict(d)


def user_covariance(model: Model, data: Any = None, spectrum: Any = None, covariance: Any = None,
                    samples: Any = None, ddof: int = 1) -> np.ndarray:
    """The joint second moment of the observed variables, in the data's own basis and units.

    A spectrum stands for a covariance diagonal in the canonical basis.

    Parameters
    ----------
    model : Model
        The model.
    data, spectrum, covariance, samples : array_like, optional
        The data, exactly one given (``data`` is read by its shape, as everywhere in statvae).
    ddof : {0, 1}, optional
        Delta degrees of freedom of the covariance of samples.

    Returns
    -------
    numpy.ndarray
        A validated covariance.

    Raises
    ------
    DataError
        For missing, doubled or invalid data, or data of the wrong dimension.
    """
    from ..data.resolve import data_kind, spectrum_dict
    from ..data.spectra import covariance_from_samples, validate_covariance

    given = [x is not None for x in (data, spectrum, covariance, samples)]
    if sum(given) != 1:
        raise DataError("give the data once: a spectrum, a covariance or samples")
    if data is not None:
        a = np.asarray(data, dtype=float)
        kind = data_kind(a)
        spectrum, covariance, samples = (a if kind == k else None for k in ("spectrum", "covariance", "samples"))
    if samples is not None:
        c = covariance_from_samples(samples, ddof)
    elif covariance is not None:
        c = validate_covariance(covariance)
    else:
        spec = spectrum_dict(model, spectrum)
        c = np.diag(np.concatenate([spec[v.name] for v in model.graph.observed()]))
    k = sum(v.dim for v in model.graph.observed())
    if c.shape != (k, k):
        raise DataError(f"the data must be {k}-dimensional for this model, got {c.shape[0]}")
    return c


def _hyper_values(model: Model, values: dict[str, Any]) -> dict[str, float]:
    model.require_hyper(*sorted(values), verb="set")
    out: dict[str, float] = {}
    for n, v in model.values.items():
        v = values.get(n, v)
        if v is None or (hasattr(v, "is_number") and not v.is_number):
            raise ModelError(f"{n} has no value: pass {n}=...")
        try:
            a = float(v)
        except (TypeError, ValueError):
            raise ModelError(f"{n} must be a number, got {v!r}") from None
        if not math.isfinite(a):
            raise ModelError(f"{n} must be finite, got {v!r}")
        out[n] = a
    return out


def _role_scales(model: Model, layout: Any, data_scale: float, hyper: dict[str, float]) -> np.ndarray:
    """Typical magnitude of each parameter in the data's units (the optimiser's coordinate scaling)."""
    g = model.graph
    observed = {v.name for v in g.observed()}
    s = np.ones(layout.size)
    root = math.sqrt(data_scale)
    for b in layout.blocks:
        if b.kind != "map":
            continue
        m = next(m for m in g.maps() if m.name == b.name)
        if m.target in observed and m.source not in observed:
            s[b.slice] = root
        elif m.source in observed and m.target not in observed:
            s[b.slice] = 1.0 / root
    return s


def _starts(model: Model, layout: Any, cov: np.ndarray, hyper: dict[str, float], count: int,
            rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    """Starting points in ``theta``: the aligned start (when the graph has one observed variable) and random ones."""
    g = model.graph
    lam, Q = np.linalg.eigh(cov)
    lam, Q = lam[::-1], Q[:, ::-1]
    scale = max(float(lam[0]), np.finfo(float).tiny)
    observed = {v.name for v in g.observed()}
    out: list[tuple[str, np.ndarray]] = []

    def fill(kind: str) -> np.ndarray:
        blocks: dict[str, Any] = {}
        for b in layout.blocks:
            if b.kind == "map":
                m = next(m for m in g.maps() if m.name == b.name)
                r, c = b.shape
                if kind == "aligned" and len(observed) == 1:
                    if m.target in observed and m.source not in observed:
                        k = min(r, c)
                        M = np.zeros((r, c))
                        M[:, :k] = Q[:, :k] * np.sqrt(np.maximum(lam[:k], 1e-3 * scale))
                        blocks[b.name] = 0.7 * M
                        continue
                    if m.source in observed and m.target not in observed:
                        k = min(r, c)
                        M = np.zeros((r, c))
                        M[:k, :] = (Q[:, :k] / np.sqrt(np.maximum(lam[:k], 1e-3 * scale))).T
                        blocks[b.name] = 0.7 * M
                        continue
                    blocks[b.name] = 0.5 * np.eye(r, c)
                    continue
                role = np.sqrt(scale) if (m.target in observed) else (1 / np.sqrt(scale) if m.source in observed else 1)
                blocks[b.name] = role * 0.5 * rng.standard_normal((r, c))
            elif b.kind in ("diagonal", "full"):
                n = b.shape[0]
                blocks[b.name] = np.diag(np.exp(0.3 * rng.standard_normal(n)) * (0.5 if kind == "aligned" else 1.0))
            elif b.kind == "variance":
                jitter = 0.5 if kind == "aligned" else math.exp(0.3 * rng.standard_normal())
                blocks[b.name] = float(np.mean(lam)) * jitter
            else:
                blocks[b.name] = 0.5 if kind == "aligned" else math.exp(0.3 * rng.standard_normal())
        return np.asarray(layout.pack(**blocks), dtype=float)

    if len(observed) == 1:
        out.append(("aligned", fill("aligned")))
    while len(out) < count:
        out.append(("random", fill("random")))
    return out


class _Problem:
    """The objective in scaled free coordinates ``y`` (``u = s * y``), negated and normalised for scipy."""

    def __init__(self, bound: Any, reparam: Unconstrained, s: np.ndarray, norm: float) -> None:
        self.b, self.r, self.s, self.norm = bound, reparam, s, norm
        self._key: bytes | None = None
        self._vg: tuple[float, np.ndarray] = (0.0, np.zeros(0))

    def _eval(self, y: np.ndarray) -> tuple[float, np.ndarray]:
        key = y.tobytes()
        if key != self._key:
            theta = self.r.theta(self.s * y)
            v, g = self.b.value_and_gradient(theta, check=False)
            self._key, self._vg = key, (float(v), np.asarray(g, dtype=float))
        return self._vg

    def fun(self, y: np.ndarray) -> float:
        v, _ = self._eval(y)
        return -v / self.norm if math.isfinite(v) else math.inf

    def jac(self, y: np.ndarray) -> np.ndarray:
        _, g = self._eval(y)
        return -self.s * self.r.vjp(self.s * y, g) / self.norm

    def hessp(self, y: np.ndarray, p: np.ndarray) -> np.ndarray:
        _, g = self._eval(y)
        u = self.s * y
        theta = self.r.theta(u)
        h = self.r.hvp(u, g, lambda v: self.b.hvp(theta, v, check=False), self.s * p)
        return -self.s * h / self.norm


def _maximise(prob: _Problem, y0: np.ndarray, gtol: float, maxiter: int) -> Any:
    from scipy.optimize import minimize

    with np.errstate(all="ignore"):
        return minimize(prob.fun, y0, jac=prob.jac, hessp=prob.hessp, method="trust-krylov",
                        options={"gtol": gtol, "maxiter": maxiter})


def _inertia(bound: Any, theta: np.ndarray, rtol: float, scales: np.ndarray | None = None
             ) -> tuple[tuple[int, int, int], float, np.ndarray]:
    """``((positive, zero, negative), largest eigenvalue / largest magnitude, eigenvector of the largest)``.

    The Hessian is taken in the data's units (``S H S`` with ``S = diag(scales)``): a congruence, so the
    inertia is the same (Sylvester), but the eigenvalues of differently scaled parameters become
    comparable and ``rtol`` means the same for all of them.  The eigenvector is returned in ``theta``.
    """
    n = theta.size
    s = np.ones(n) if scales is None else scales
    if n <= DENSE_HESSIAN_LIMIT:
        H = bound.hessian(theta) * s[:, None] * s[None, :]
        H = 0.5 * (H + H.T)
        w, V = np.linalg.eigh(H)
        V = V * s[:, None]
        big = max(float(np.abs(w).max()), np.finfo(float).tiny)
        pos = int((w > rtol * big).sum())
        neg = int((w < -rtol * big).sum())
        return (pos, n - pos - neg, neg), float(w[-1] / big), V[:, -1]
    from scipy.sparse.linalg import LinearOperator, eigsh

    op = LinearOperator((n, n), matvec=lambda v: bound.hvp(theta, np.ravel(v), check=False), dtype=float)
    big = float(abs(eigsh(op, k=1, which="LM", return_eigenvectors=False, tol=1e-6)[0]))
    w, V = eigsh(op, k=min(6, n - 1), which="LA", tol=1e-10)
    pos = int((w > rtol * big).sum())
    return (pos, -1, -1), float(w.max() / big), V[:, int(np.argmax(w))]


def _polish(bound: Any, reparam: Unconstrained, theta: np.ndarray, value: float,
            scales: np.ndarray) -> tuple[np.ndarray, float]:
    """Damped Newton steps in ``theta`` (least squares across flat directions) down to rounding.

    The trust-region solver stops at a relative gradient of about 1e-6; Newton steps from there reach
    rounding, also along nearly flat directions (a near-symmetry, where the solver's progress is slow).
    A step is halved until it raises the objective, or keeps it within rounding and lowers the gradient;
    a step that leaves the domain is refused.  Only for models small enough for a dense Hessian.
    """
    if theta.size > DENSE_HESSIAN_LIMIT:
        return theta, value
    g = np.asarray(bound.gradient(theta, check=False), dtype=float)
    eps = 1e-11 * max(abs(value), 1.0)  # the objective's rounding: its terms cancel (tr(S)/sigma2 and the like)
    for _ in range(60):  # a nearly flat direction converges linearly
        H = bound.hessian(theta) * scales[:, None] * scales[None, :]  # in the data's units (well scaled)
        step = scales * np.linalg.lstsq(0.5 * (H + H.T), -g * scales, rcond=1e-13)[0]
        gmax = np.abs(g * scales).max()
        for _half in range(12):
            t = theta + step
            ok = False
            with np.errstate(all="ignore"):
                try:
                    ok = bool(np.all(np.isfinite(reparam.from_theta(t))))
                except np.linalg.LinAlgError:
                    ok = False
                if ok:
                    v = float(bound.value(t, check=False))
                    g2 = np.asarray(bound.gradient(t, check=False), dtype=float)
                    ok = math.isfinite(v) and (v > value + eps or (v >= value - eps
                                                                  and np.abs(g2 * scales).max() < gmax))
            if ok:
                break
            step = step / 2
        if not ok:
            break
        done = np.abs(g2 * scales).max() >= gmax and v <= value + eps  # no more progress (at rounding)
        theta, value, g = t, v, g2
        if done:
            break
    return theta, value


def optimum(model: Model, data: Any = None, *, spectrum: Any = None, covariance: Any = None, samples: Any = None,
            ddof: int = 1, values: dict[str, Any] | None = None, starts: int = 4, seed: int = 0,
            rtol: float = 1e-8, active_rtol: float = 1e-4, maxiter: int = 300, method: str = "auto",
            **keywords: Any) -> OptimumResult:
    """The maximum of the model's objective on data at fixed hyper-parameters, certified.

    Parameters
    ----------
    model : Model
        Any linear VAE (preset or custom graph); every hyper-parameter must have a value (from the model,
        ``values`` or keywords).
    data, spectrum, covariance, samples : array_like, optional
        The data, exactly one (``data`` read by its shape).  A spectrum means data diagonal in their basis.
    ddof : {0, 1}, optional
        Delta degrees of freedom of the covariance of samples.
    values : dict, optional
        Hyper-parameter values by name (keywords are merged in).
    starts : int, optional
        Number of starts (the aligned start counts as one when the model has one observed variable).
    seed : int, optional
        Seed of the random starts.
    rtol : float, optional
        Hessian eigenvalues within ``rtol`` of the largest magnitude count as zero.
    active_rtol : float, optional
        A latent coordinate is active when its decoder column norm exceeds ``active_rtol`` times the square
        root of the data's largest variance.
    maxiter : int, optional
        Iterations per start.
    method : {"auto", "closed-form", "numeric"}, optional
        ``auto`` starts from the per-mode closed form where the model has one
        (:mod:`statvae.analysis.closedform`) and uses the trust-region solver otherwise; ``closed-form``
        insists on it; ``numeric`` never uses it.
    **keywords
        Hyper-parameter values (as ``values``).

    Returns
    -------
    OptimumResult
        The best point found, its observables, and what was certified.

    Raises
    ------
    ModelError
        For a hyper-parameter without a value or one that names nothing, or bad ``starts``.
    DataError
        For missing or invalid data.
    AnalysisError
        If no start converges to a finite point.

    Examples
    --------
    >>> import statvae
    >>> r = statvae.optimum(statvae.LinearVAE(3, 2), spectrum=[4.0, 2.0, 1.0], sigma2=1.5)
    >>> r.active_latents, round(r.kl_total, 6), r.success
    (2, 0.634256, True)
    """
    from ..arguments import merged_values
    from ..numeric.observables import observables

    if method not in ("auto", "closed-form", "numeric"):
        raise ModelError(f"method must be 'auto', 'closed-form' or 'numeric', got {method!r}")
    if isinstance(starts, bool) or not isinstance(starts, (int, np.integer)) or starts < 1:
        raise ModelError(f"starts must be a positive integer, got {starts!r}")
    if not (isinstance(rtol, (int, float)) and 0 < rtol < 1) or not (isinstance(active_rtol, (int, float))
                                                                     and 0 < active_rtol < 1):
        raise ModelError("rtol and active_rtol must be numbers in (0, 1)")
    from ..numeric.bundle import compile_model

    vals = merged_values(values, keywords)
    hyper = _hyper_values(model, vals)
    cov = user_covariance(model, data, spectrum, covariance, samples, ddof)
    f = compile_model(model)
    bound = f.bind(covariance=cov, structure="auto", **{k: hyper[k] for k in model.values})
    layout = f.layout
    lam_max = max(float(np.linalg.eigvalsh(cov)[-1]), np.finfo(float).tiny)
    reparam = Unconstrained(layout)
    s = _role_scales(model, layout, lam_max, hyper)
    rng = np.random.default_rng(seed)
    found: list[tuple[float, np.ndarray, str]] = []
    unconverged: list[tuple[float, np.ndarray, str]] = []
    closed = per_mode_point(model, layout, hyper, cov) if method != "numeric" else None
    if method == "closed-form" and closed is None:
        raise ModelError("this model has no per-mode closed form here (it needs one observed and one latent "
                         "variable, a diagonal or full encoder, a fixed decoder variance and no weight decay); "
                         "use method='auto'")
    candidates = _starts(model, layout, cov, hyper, int(starts), rng)
    if closed is not None:  # the closed form replaces the aligned start: it is that point, solved exactly
        candidates = [("per-mode", closed[0])] + [c for c in candidates if c[0] != "aligned"][:max(int(starts) - 1, 0)]
    for kind, theta0 in candidates:
        if kind == "per-mode":
            v = float(bound.value(theta0, check=False))
            if math.isfinite(v):
                found.append((v, theta0, kind))
            continue
        u0 = reparam.from_theta(theta0)
        v0 = float(bound.value(theta0))
        norm = max(abs(v0), 1.0)
        prob = _Problem(bound, reparam, s, norm)
        res = _maximise(prob, u0 / s, GTOL, maxiter)
        theta = reparam.theta(s * res.x)
        v = float(bound.value(theta, check=False))
        if math.isfinite(v) and res.status in (0, 2):  # converged, or stalled at rounding (then polished)
            found.append((v, theta, kind))
        elif math.isfinite(v):
            unconverged.append((v, theta, kind))
    if not found:  # no start met the tolerance: polish the best of them (certified below, or not a success)
        found = sorted(unconverged, key=lambda t: -t[0])[:1]
    if not found:
        raise AnalysisError("no start converged to a finite point: the objective may be unbounded here "
                            "(check the hyper-parameters, e.g. a variance of zero)")
    found.sort(key=lambda t: -t[0])
    best_v, best, kind = found[0]
    theta_scales = s.copy()
    for blk in layout.blocks:
        if blk.kind == "variance":
            theta_scales[blk.slice] = lam_max
    best, best_v = _polish(bound, reparam, best, best_v, theta_scales)
    inertia, top, vec = _inertia(bound, best, rtol, theta_scales)
    escapes = 0
    while inertia[0] > 0 and escapes < 3:  # a saddle: go down its positive direction and solve again
        escapes += 1
        step = 1e-3 * np.sqrt(np.maximum(s * s, 1e-12)) * vec / max(np.abs(vec).max(), 1e-300)
        cands = []
        for sign in (1.0, -1.0):
            t0 = best + sign * step
            try:
                u0 = reparam.from_theta(t0)
            except np.linalg.LinAlgError:
                continue
            v0 = float(bound.value(t0, check=False))
            prob = _Problem(bound, reparam, s, max(abs(v0), 1.0))
            res = _maximise(prob, u0 / s, GTOL, maxiter)
            t = reparam.theta(s * res.x)
            cands.append((float(bound.value(t, check=False)), t))
        if not cands:
            break
        v, t = max(cands, key=lambda c: c[0])
        if v > best_v:
            best_v, best = v, t
            found.insert(0, (v, t, "escape"))
        inertia, top, vec = _inertia(bound, best, rtol, theta_scales)
    g0 = np.abs(bound.gradient(found[-1][1], check=False)).max()
    gnorm = float(np.abs(bound.gradient(best, check=False)).max() / max(g0, 1.0))
    blocks = layout.unpack(best)
    obs = observables(model, blocks, hyper, cov, active_rtol=active_rtol)
    g = model.graph
    scale = math.sqrt(max(float(np.max(np.diag(cov))), np.finfo(float).tiny))
    active = {z.name: [int(i) for i in np.flatnonzero(np.array(obs[f"w_norm_{z.name}"]) > active_rtol * scale)]
              for z in g.latents()}
    kl_per = {z.name: list(obs.get(f"kl_per_latent_{z.name}", [obs[f"kl_{z.name}"]])) for z in g.latents()}
    variances = {v.name: float(blocks[g.learned_variance_name(v.name)]) for v in g.variables()
                 if v.variance == "learned"}
    if abs(obs["elbo"] - best_v) > 1e-9 * max(abs(best_v), 1.0):
        raise AnalysisError(f"internal contradiction: the compiled objective ({best_v!r}) and the observables "
                            f"({obs['elbo']!r}) disagree at the optimum")
    distinct: list[float] = []
    for v, _, _ in found:
        if all(abs(v - d) > 1e-7 * max(abs(d), 1.0) for d in distinct):
            distinct.append(v)
    pos, zero, neg = inertia
    success = pos == 0
    if success:
        flat = f" ({zero} directions flat to {rtol:g} of the largest curvature)" if zero > 0 else ""
        status = (f"local maximum{flat}; best of {len(distinct)} stationary value(s) reached from "
                  f"{len(found)} of {len(found) + len(unconverged)} start(s)")
    else:
        status = f"not a maximum: the Hessian has {pos} positive eigenvalue(s) (largest {top:.3g} relative)"
    if kind == "per-mode" and closed is not None:
        method = closed[1] + ", Newton-polished on the compiled objective"
    else:
        method = "trust-krylov from " + ("the aligned start" if kind == "aligned" else f"a {kind} start")
    return OptimumResult(parameters=blocks, elbo=float(obs["elbo"]), reconstruction=float(obs["reconstruction"]),
                         kl_total=float(obs["kl_total"]), kl_per_latent=kl_per, variances=variances, active=active,
                         values=hyper, success=success, status=status, method=method, inertia=inertia,
                         largest_eigenvalue=top, gradient_norm=gnorm, stationary_elbos=distinct,
                         starts=len(found) + len(unconverged))
