"""The optimum in closed form, where the per-mode structure gives one.

For a model with one observed and one latent variable, a decoder and an encoder map,
a diagonal or full encoder covariance, a fixed decoder variance and no weight decay,
the objective in the data's eigenbasis splits into independent one-mode problems:
latent ``j`` either stays collapsed or sits on one eigen-direction ``a_j``.  The
stationary equations of the one-coordinate model (``model.resized(x=1, z=1)``, every
hyper-parameter a symbol) are solved once by sympy; every solution is then evaluated
on each eigenvalue, and the latents take the directions with the largest gains of
the objective over the collapsed mode.  Nothing here is a formula written in by
hand: the solutions come from the model's own symbolic objective.

Models outside that class (learned variances and weight decay couple the modes or
make the one-mode equations too hard for a quick solve) return None, and
:func:`statvae.analysis.optimum.optimum` uses its trust-region solver.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..model.vae import Model

__all__ = ["ModeSolutions", "mode_solutions", "per_mode_point"]


@dataclass
class ModeSolutions:
    """The one-mode stationary points of a model, as numeric functions.

    Attributes
    ----------
    names : list of str
        Argument order of every function: the eigenvalue, then the hyper-parameters.
    trivial : callable
        Arguments -> ``(w, v, d)`` of the collapsed mode.
    active : list of callable
        Arguments -> ``(w, v, d)`` of each non-trivial solution.
    objective : callable
        ``(w, v, d, *arguments) -> `` the one-mode objective.
    text : list of str
        The solutions, as sympy printed them (for the record).
    """

    names: list[str]
    trivial: Callable[..., tuple[float, float, float]]
    active: list[Callable[..., tuple[float, float, float]]]
    objective: Callable[..., float]
    text: list[str]


_CACHE: dict[str, ModeSolutions | None] = {}


def _eligible(model: Model, hyper: dict[str, float]) -> tuple[Any, Any, Any, Any] | None:
    g = model.graph
    obs, lat, maps = g.observed(), g.latents(), g.maps()
    if len(obs) != 1 or len(lat) != 1 or len(maps) != 2:
        return None
    x, z = obs[0], lat[0]
    dec = [m for m in maps if m.source == z.name and m.target == x.name]
    enc = [m for m in maps if m.source == x.name and m.target == z.name]
    if len(dec) != 1 or len(enc) != 1 or z.encoder not in ("diagonal", "full"):
        return None
    if x.variance in (None, "learned") or z.variance == "learned":
        return None
    if any(m.weight_decay is not None and hyper.get(m.weight_decay, 0.0) != 0.0 for m in maps):
        return None
    return x, z, dec[0], enc[0]


def mode_solutions(model: Model) -> ModeSolutions | None:
    """The stationary points of the one-coordinate model of ``model`` (cached per graph).

    Parameters
    ----------
    model : Model
        A model of the class described in the module docstring (weight decays are taken as zero).

    Returns
    -------
    ModeSolutions or None
        None when sympy finds no closed form.
    """
    import sympy as sp

    from ..symbolic.objective import build_objective

    g = model.graph
    key = repr(sorted((v.name, v.encoder, v.variance) for v in g.variables())) + repr(
        sorted((m.name, m.source, m.target, m.weight_decay) for m in g.maps()))
    if key in _CACHE:
        return _CACHE[key]
    decays = {m.weight_decay for m in g.maps() if m.weight_decay is not None}
    rep = model.with_values(**{n: (0 if n in decays else None) for n in model.values})
    rep = rep.resized(**{v.name: 1 for v in g.variables()})
    obj = build_objective(rep, form="eigen")
    if obj.parameters is None:
        _CACHE[key] = None
        return None
    syms = list(obj.parameters.symbols)
    try:
        sols = sp.solve(list(obj.gradient()), syms, dict=True)
    except (NotImplementedError, ValueError):
        sols = []
    xi = sp.Symbol(f"{g.observed()[0].name}_eig_1", positive=True)
    data_syms = [s for s in obj.total.free_symbols if s.name == xi.name]
    hyper_syms = sorted((s for s in obj.total.free_symbols if s not in syms and s not in data_syms), key=str)
    args = data_syms[:1] + hyper_syms
    if len(data_syms) != 1 or len(syms) != 3 or not sols:
        _CACHE[key] = None
        return None
    trivial, active, text = None, [], []
    w_sym, v_sym, d_sym = syms

    def fn(sol: dict) -> Callable[..., tuple[float, float, float]]:
        exprs = [sol.get(s, s) for s in syms]
        return sp.lambdify(args, exprs, modules=["math"])  # type: ignore[no-any-return]

    for sol in sols:
        if set(sol) != set(syms):
            continue
        if sol[w_sym] == 0 and sol[v_sym] == 0:
            trivial = fn(sol)
        else:
            active.append(fn(sol))
            text.append(str(sol))
    if trivial is None:
        _CACHE[key] = None
        return None
    objective = sp.lambdify([w_sym, v_sym, d_sym] + args, obj.total, modules=["math"])
    out = ModeSolutions([str(a) for a in args], trivial, active, objective, text)
    _CACHE[key] = out
    return out


def per_mode_point(model: Model, layout: Any, hyper: dict[str, float], covariance: np.ndarray
                   ) -> tuple[np.ndarray, str] | None:
    """The best aligned stationary point from the one-mode closed forms, in the data's basis.

    Parameters
    ----------
    model : Model
        The model.
    layout : Layout
        Its compiled layout.
    hyper : dict
        Numeric hyper-parameter values.
    covariance : numpy.ndarray
        The data's covariance (its eigenvectors carry the solution to the data's basis).

    Returns
    -------
    (numpy.ndarray, str) or None
        The parameter vector and a one-line description, or None where the structure gives no closed form.
    """
    roles = _eligible(model, hyper)
    if roles is None:
        return None
    x, z, dec, enc = roles
    sols = mode_solutions(model)
    if sols is None:
        return None
    lam, Q = np.linalg.eigh(covariance)
    lam, Q = lam[::-1], Q[:, ::-1]
    hyper_args = [hyper[n] for n in sols.names[1:]]
    gains: list[tuple[float, int, tuple[float, float, float]]] = []
    for i, li in enumerate(lam):
        if li <= 0:
            continue
        base = sols.trivial(float(li), *hyper_args)
        f0 = sols.objective(*base, float(li), *hyper_args)
        best: tuple[float, tuple[float, float, float]] | None = None
        for act in sols.active:
            try:
                w, v, d = (complex(t) for t in act(float(li), *hyper_args))
            except (ValueError, ZeroDivisionError, OverflowError):
                continue
            if any(abs(t.imag) > 0 for t in (w, v, d)) or not d.real > 0:
                continue
            point = (w.real, v.real, d.real)
            if not all(math.isfinite(t) for t in point):
                continue
            gain = sols.objective(*point, float(li), *hyper_args) - f0
            if gain > 0 and (best is None or gain > best[0]):
                best = (gain, point)
        if best is not None:
            gains.append((best[0], i, best[1]))
    gains.sort(key=lambda t: -t[0])
    n = z.dim
    base = sols.trivial(float(lam[0]), *hyper_args)  # the collapsed mode does not depend on the eigenvalue
    W = np.zeros((x.dim, n))
    V = np.zeros((n, x.dim))
    D = np.diag(np.full(n, float(base[2])))
    for j, (_, i, (w, v, d)) in enumerate(gains[:n]):
        W[:, j] = w * Q[:, i]
        V[j, :] = v * Q[:, i]
        D[j, j] = d
    blocks = {dec.name: W, enc.name: V, str(z.covariance_name): D}
    theta = np.asarray(layout.pack(**blocks), dtype=float)
    k = min(n, len(gains))
    return theta, f"per-mode closed form ({k} latent(s) on eigen-directions {[g[1] for g in gains[:k]]})"
