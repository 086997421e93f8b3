"""The tracker's driver: follow the collapsed branch, locate where it loses stability, switch branches.

The driver runs :func:`~statvae.bifurcation.continuation.continue_branch` on the
collapsed branch, locates its special points, switches onto the branches
that emanate from each branch point (one per symmetry class), and repeats on
the new branches: up to ``depth`` generations, and along the stable path
(branches that are local maxima somewhere) without limit.  Every branch
point on the starting branch and on stable branches is located precisely;
on other branches index changes are recorded with their bracketing step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from ..data.resolve import TrackData, resolve_data, resolve_spectra
from ..data.units import Units
from ..errors import ModelError
from ..model import hyper as H
from .collapsed import collapsed_start
from .continuation import ContinuationOptions, continue_branch, correct_at
from .diagram import BifurcationDiagram, Branch
from .locate import SpecialPoint, locate_branch_points, locate_fold
from .problem import ContinuationProblem, problem_for
from .switching import candidates, first_point, reduced_coefficients

if TYPE_CHECKING:
    from ..model.vae import Model

__all__ = ["follow", "TrackRun", "run_tracker", "resolve_data", "resolve_spectra", "TrackData", "collapsed_start"]


def follow(model: Model, data: ArrayLike | None = None, *, spectrum: Any = None, covariance: ArrayLike | None = None,
           samples: ArrayLike | None = None, parameter: str = "sigma2", start: float, stop: float,
           values: dict[str, Any] | None = None, ddof: int = 1, progress: Callable[[str], object] | None = None,
           center: bool = True, standardize: bool = False, **options: Any) -> TrackRun:
    """The driver behind :func:`statvae.track`: resolve, normalise, follow and map back (no self-check).

    :func:`statvae.track` (:mod:`statvae.analysis.tracking`) adds the
    self-check of the collapsed branch against the compiled Hessian and the
    certification; the phase diagram uses this directly to find its starting
    points.

    Parameters
    ----------
    model : VAEModel
        The model.
    data, spectrum, covariance, samples
        The data, once (as for :func:`statvae.track`).
    parameter : str
        Continuation parameter.
    start, stop : float
        The range, in the user's units.
    values : dict, optional
        Values of other hyper-parameters.
    ddof : int
        Degrees of freedom removed when samples are reduced to a covariance.
    progress : callable, optional
        Called with a line of text as the run advances.
    center, standardize : bool, optional
        The data options (:func:`statvae.data.resolve.prepare_data`).
    **options
        Fields of :class:`~statvae.bifurcation.continuation.ContinuationOptions`.

    Returns
    -------
    TrackRun
        The diagram (user units) with the resolved data, units, problem and options it came from.

    Raises
    ------
    ModelError
        Unknown parameter or option, a bad range, or ``certify=True`` on a model too large for it.
    DataError
        Bad data.
    """
    t0 = time.perf_counter()
    model.require_hyper(parameter, verb="continue in")
    for name, v in (("start", start), ("stop", stop)):
        if not np.isfinite(v):
            raise ModelError(f"{name} must be a finite number")
        if (v < 0) or (v == 0 and not H.spec(parameter).nonnegative):
            raise ModelError(f"{name} must be {'>= 0' if H.spec(parameter).nonnegative else '> 0'} for {parameter}")
    if start == stop:
        raise ModelError("start and stop must differ")
    unknown = sorted(set(options) - set(ContinuationOptions.__dataclass_fields__))
    if unknown:
        raise ModelError(f"unknown option(s) {', '.join(unknown)}; options are "
                         f"{', '.join(ContinuationOptions.__dataclass_fields__)}")
    resolved = resolve_data(model, data, spectrum, covariance, samples, ddof, parameter, values, center, standardize)
    spectra = resolved.spectra
    units = resolved.units(model)
    problem = problem_for(resolved, model, parameter, values, units)
    p0, p1 = problem.p_in(start), problem.p_in(stop)
    opts = ContinuationOptions(p_min=min(p0, p1), p_max=max(p0, p1), **options)
    if opts.certify:
        from ..numeric.bundle import EXPLICIT_MAX_PARAMETERS

        if problem.layout.size > EXPLICIT_MAX_PARAMETERS:
            raise ModelError(f"certify=True is for small models (at most {EXPLICIT_MAX_PARAMETERS} parameters, "
                             f"this one has {problem.layout.size}): it re-locates points in 30-digit arithmetic "
                             f"on the explicit-entry Hessian")
    meta = {"model": repr(model), "kind": model.kind, "dims": model.dims,
            "values": {k: float(v) for k, v in problem.user_values.items() if v is not None},
            "spectra": {k: v.tolist() for k, v in spectra.items()}}
    if resolved.preprocessing is not None and resolved.preprocessing.source != "spectrum":
        meta["preprocessing"] = resolved.preprocessing.to_dict()
    if resolved.covariance is not None:
        meta["covariance"] = resolved.covariance.tolist()
        meta["basis"] = f"data as given, latent flips only ({resolved.reason})"
    theta0 = collapsed_start(problem, p0, opts.newton_tol)
    diagram = run_tracker(problem, theta0, p0, p1, opts, progress, meta, label="collapsed")
    diagram.meta["seconds"] = time.perf_counter() - t0
    return TrackRun(diagram, resolved, units, problem, opts)


@dataclass
class TrackRun:
    """What :func:`follow` computed: the diagram (user units) and what it was computed from."""

    diagram: BifurcationDiagram
    resolved: TrackData
    units: Units
    problem: ContinuationProblem
    options: ContinuationOptions


@dataclass
class BranchJob:
    """A branch waiting to be followed: where it starts, in which fixed-point subspace, and whence.

    Attributes
    ----------
    theta : numpy.ndarray
        Its first stationary point.
    p : float
        The parameter there.
    span : Span
        The symmetry-breaking characters of the branch (its fixed-point subspace).
    direction : float
        +1 or -1: the way the parameter moves first.
    parent : int or None
        The branch it emanates from.
    origin : int or None
        The special point it emanates from.
    depth : int
        Generations of branch switching.
    label : str
    prefix : PointRecord or None
        The branch point itself, prepended to the branch's points.
    """

    theta: np.ndarray
    p: float
    span: Any
    direction: float
    parent: int | None = None
    origin: int | None = None
    depth: int = 0
    label: str = "start"
    prefix: Any = None


@dataclass
class _PointScratch:
    """What the driver keeps for a branch point between switching and the derivatives (never saved)."""

    parent_subspace: Any = None
    parent_rows: list = field(default_factory=list)
    sampled: bool = False


def run_tracker(problem: Any, theta0: np.ndarray, start: float, stop: float, opts: ContinuationOptions,
                progress: Callable[[str], object] | None = None, meta: dict[str, Any] | None = None,
                label: str = "start") -> BifurcationDiagram:
    """The generic driver: any problem with the tracker interface, from a stationary point ``theta0``.

    The interface (implemented by :class:`ContinuationProblem`, and by the
    normal forms in the tests): ``layout`` (``size``, ``check``),
    ``characters`` (``chars``, ``latent_bits``, ``describe``), ``parameter``,
    ``gradient``, ``hvp``, ``dgrad_dp``, ``reduced``, ``zero_modes`` and
    ``observables`` (a dict with at least ``elbo`` and ``kl_total``).

    Parameters
    ----------
    problem : ContinuationProblem or any object with the interface above
        The problem (internal units).
    theta0 : numpy.ndarray
        A stationary point at ``start``: the first branch starts there.
    start, stop : float
        The parameter range (internal units).
    opts : ContinuationOptions
        Resolved options.
    progress : callable, optional
        Called with a line of text as the run advances.
    meta : dict, optional
        Copied into the diagram's ``meta`` (with ``start``, ``stop``, ``options``, ``seconds``).
    label : str
        Label of the first branch.

    Returns
    -------
    BifurcationDiagram
        In internal units.
    """
    t0 = time.perf_counter()
    parameter = problem.parameter
    say = progress or (lambda msg: None)
    diagram = BifurcationDiagram(parameter, meta={**(meta or {}), "start": float(start), "stop": float(stop),
                                                  "options": {k: v for k, v in opts.__dict__.items()}})
    direction = 1.0 if stop > start else -1.0
    span0 = problem.characters.span_of(theta0)
    queue = [BranchJob(theta0, start, span0, direction, label=label)]
    scratch: dict[int, _PointScratch] = {}
    while queue and len(diagram.branches) < opts.max_branches:
        job = queue.pop(0)
        bid = len(diagram.branches)
        say(f"branch {bid} ({job.label}) from {parameter} = {job.p:.6g}")
        def step(p: float, b: int = bid) -> None:
            say(f"branch {b}: {parameter} = {p:.6g}")

        run = continue_branch(problem, job.theta, job.p, job.span, job.direction, opts, progress=step)
        if not run.points:
            continue
        if job.prefix is not None:  # the branch starts at its branch point
            run.points.insert(0, job.prefix)
            run.events = [(kind, k + 1) for kind, k in run.events]
        branch = _branch_table(problem, bid, job, run, opts)
        stable_somewhere = bool((branch.index == 0).any())
        precise = job.depth == 0 or stable_somewhere
        if job.origin is not None and _duplicate(diagram, branch, job.origin):
            pt = diagram.points[job.origin]
            pt.info["symmetric_copies"] = pt.info.get("symmetric_copies", 0) + 1
            continue
        diagram.branches[bid] = branch
        folds = {k for kind, k in run.events if kind == "fold"}
        for kind, k in run.events:
            if kind == "branch point" and k in folds:
                continue  # the index change of a fold itself (the branch turns back), not a branch point
            if kind == "fold":
                sp = locate_fold(problem, run, k, job.span, opts, len(diagram.points))
                if sp is not None:
                    sp.branch = bid
                    diagram.points[sp.id] = sp
                continue
            if job.prefix is not None and k == 1 and run.points[0].index == run.points[1].index:
                continue
            if precise:
                found = locate_branch_points(problem, run, k, job.span, opts, len(diagram.points))
            else:
                found = [_detected(problem, run, k, len(diagram.points))]
            before, after = run.points[k - 1].index, run.points[k].index
            loses = min(before, after) == 0 and max(before, after) > 0
            for sp in found:
                sp.branch = bid
                sp.info["stability_change"] = bool(loses)
                diagram.points[sp.id] = sp
                # follow: every generation up to `depth`; beyond it, the stable path only
                # (children of a point where a stable branch loses stability)
                follow = opts.switching and (job.depth < opts.depth or loses)
                if sp.status != "detected" and follow:
                    queue += _switch(problem, sp, job, run, opts, scratch.setdefault(sp.id, _PointScratch()))
    diagram.meta["seconds"] = time.perf_counter() - t0
    diagram.meta["evaluations"] = getattr(problem, "evaluations", None)
    if getattr(problem, "units", None) is not None:
        from .rescale import diagram_to_user

        diagram_to_user(diagram, problem, scratch)
    _derivatives_and_exponents(getattr(problem, "observables_user", problem.observables), diagram, scratch)
    return diagram


def _detected(problem, run, k, pid) -> SpecialPoint:
    a, b = run.points[k - 1], run.points[k]
    lo, hi = sorted((a.p, b.p))
    delta = b.index - a.index
    crossing = sum(abs(b.counts.get(k, 0) - a.counts.get(k, 0)) for k in set(a.counts) | set(b.counts))
    return SpecialPoint(pid, "branch point", -1, float((a.p + b.p) / 2), (float(lo), float(hi)),
                        float((hi - lo) / max(abs(b.p), 1e-300)), "detected", int(crossing), index_change=int(delta))


def _branch_table(problem, bid, job, run, opts) -> Branch:
    ps = np.array([pt.p for pt in run.points])
    index = np.array([pt.index for pt in run.points], dtype=int)
    obs = [problem.observables(pt.theta, pt.p) for pt in run.points]
    data = {}
    for key in obs[0]:
        data[key] = np.array([o[key] for o in obs], dtype=float)
    data["newton_iterations"] = np.array([pt.newton for pt in run.points], dtype=float)
    theta = np.array([pt.theta for pt in run.points]) if opts.store_parameters else None
    return Branch(bid, job.parent, job.origin, job.label, job.span.generators(), ps, index, data, theta,
                  run.stop_reason)


def _duplicate(diagram, branch, origin) -> bool:
    """A sibling with identical observables is a symmetry copy."""
    for other in diagram.branches.values():
        if other.origin != origin or other.points < 2 or branch.points < 2:
            continue
        common = np.intersect1d(np.round(other.parameter, 12), np.round(branch.parameter, 12))
        grid = np.linspace(max(other.parameter.min(), branch.parameter.min()),
                           min(other.parameter.max(), branch.parameter.max()), 5)
        if len(common) < 2 and grid[0] >= grid[-1]:
            continue
        fa = np.interp(grid, np.sort(other.parameter), other.data["elbo"][np.argsort(other.parameter)])
        fb = np.interp(grid, np.sort(branch.parameter), branch.data["elbo"][np.argsort(branch.parameter)])
        ka = np.interp(grid, np.sort(other.parameter), other.data["kl_total"][np.argsort(other.parameter)])
        kb = np.interp(grid, np.sort(branch.parameter), branch.data["kl_total"][np.argsort(branch.parameter)])
        if np.allclose(fa, fb, rtol=1e-7, atol=1e-9) and np.allclose(ka, kb, rtol=1e-7, atol=1e-9):
            return True
    return False


def _switch(problem, sp, job: BranchJob, run, opts, scratch: _PointScratch) -> list[BranchJob]:
    """Jobs for the branches emanating from ``sp`` (one per symmetry class)."""
    from .continuation import PointRecord

    span = job.span
    S = span.fixed_subspace()

    def parent_at(p):
        k = int(np.argmin([abs(pt.p - p) for pt in run.points]))
        th, _, ok = correct_at(problem, run.points[k].theta, p, S, opts.newton_tol, opts.max_newton)
        return th

    jobs = []
    scratch.parent_subspace = S
    cands = candidates(span, sp)
    sp.info["candidates"] = len(cands)
    sp.info["branches"] = []
    for key, t in cands:
        new_span = span.copy()
        if key != 0:
            new_span.add(key)
        kind = "pitchfork" if key != 0 else "transcritical"
        coeffs = reduced_coefficients(problem, sp.theta, sp.parameter, t, parent_at)
        if key == 0 and abs(coeffs["c2"]) <= 1e-6 * (abs(coeffs["c3"]) + abs(coeffs["c_ap"]) + 1e-300):
            kind = "pitchfork"
        from .stability import inertia, span_hessian

        blocks = span_hessian(problem, sp.theta, sp.parameter, new_span)
        ine = inertia(problem, sp.theta, sp.parameter, new_span, blocks=blocks)
        # the signs the new branch starts from (the kernel's eigenvalues zero against the whole Hessian's size)
        here = inertia(problem, sp.theta, sp.parameter, new_span, blocks=blocks, common_scale=True)
        start = first_point(problem, sp.theta, sp.parameter, t, coeffs, new_span, kind, opts,
                            (opts.p_min, opts.p_max), parent_at=parent_at, at_point=here)
        info = {"character": problem.characters.describe(key), "classification": kind,
                "coefficients": coeffs}
        if start is None:
            info["result"] = "no branch found near the point"
            sp.info["branches"].append(info)
            continue
        th0, p0, direction, amp = start
        info["predicted_amplitude_at"] = {"mu": p0 - sp.parameter, "a": amp}
        if kind == "pitchfork":
            info["amplitude_law"] = f"a^2 = {-6 * coeffs['c_ap'] / coeffs['c3']:.12g} * ({problem.parameter} - p*)"
        sp.info["branches"].append(info)
        sp.info["classification"] = kind
        inert_prefix = PointRecord(sp.parameter, sp.theta.copy(), np.zeros(len(new_span.fixed_subspace()) + 1),
                                   -1, {}, 0)
        inert_prefix.index, inert_prefix.counts = ine.index, ine.counts()
        _near_threshold(problem, sp, t, coeffs, new_span, kind, opts, info, scratch)
        jobs.append(BranchJob(th0, p0, new_span, direction, parent=sp.branch, origin=sp.id, depth=job.depth + 1,
                              label=(job.label + " + " if job.label != "collapsed" else "")
                              + problem.characters.describe(key), prefix=inert_prefix))
    return jobs


def _near_threshold(problem, sp, t, coeffs, new_span, kind, opts, info, scratch: _PointScratch) -> None:
    """Sample the new branch at |p - p*| = p* 10^-4 ... 10^-1 for exponents and one-sided derivatives."""
    S = new_span.fixed_subspace()
    sign = -np.sign(coeffs["c_ap"] * coeffs["c3"]) if kind == "pitchfork" else 1.0
    rows = []
    th_prev = None
    scale = max(abs(sp.parameter), 1e-3 * (abs(opts.p_min) + abs(opts.p_max)), 1e-12)
    for rel in (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1):
        mu = sign * rel * scale
        p = sp.parameter + mu
        if not opts.p_min <= p <= opts.p_max:
            continue
        if kind == "pitchfork":
            a = np.sqrt(max(-6 * coeffs["c_ap"] * mu / coeffs["c3"], 0.0))
        else:
            a = -2 * coeffs["c_ap"] * mu / coeffs["c2"] if coeffs["c2"] else 0.0
        guesses = [sp.theta + a * t]
        if th_prev is not None:  # the previous sample, rescaled to the predicted amplitude
            a_prev = float((th_prev[0] - sp.theta) @ t)
            if a_prev:
                guesses.append(sp.theta + (th_prev[0] - sp.theta) * (a / a_prev))
        for guess in guesses:
            th, _, ok = correct_at(problem, guess, p, S, opts.newton_tol, opts.max_newton)
            if ok and abs((th - sp.theta) @ t) >= 1e-3 * abs(a):
                break
        else:
            continue
        th_prev = (th, p)
        o = problem.observables(th, p)
        rows.append({"p": p, "order_parameter": float(abs((th - sp.theta) @ t)),
                     "kl_total": o["kl_total"], "elbo": o["elbo"]})
    info["near_threshold"] = rows
    if not scratch.sampled:
        # the parent branch on both sides of the point, for its one-sided derivatives
        prow = []
        for side in (-1.0, 1.0):
            for rel in (1e-4, 3e-4, 1e-3, 3e-3):
                p = sp.parameter + side * rel * scale
                if not opts.p_min <= p <= opts.p_max:
                    continue
                th, _, ok = correct_at(problem, sp.theta, p, scratch.parent_subspace, opts.newton_tol,
                                       opts.max_newton)
                if ok:
                    o = problem.observables(th, p)
                    prow.append({"p": p, "kl_total": o["kl_total"], "elbo": o["elbo"]})
        scratch.parent_rows, scratch.sampled = prow, True


def _fit_slope(x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return None
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0])


def _derivatives_and_exponents(observables, diagram, scratch: dict | None = None) -> None:
    """One-sided derivatives of KL and ELBO, their jumps, and critical exponents at located branch points.

    ``observables(theta, p)`` in the diagram's (user) units.
    """
    for sp in diagram.points.values():
        if sp.kind != "branch point" or sp.status == "detected":
            continue
        parent = diagram.branches.get(sp.branch)
        if parent is None:
            continue
        p0 = sp.parameter
        base = observables(sp.theta, p0)
        res: dict[str, dict] = {}
        prow = (scratch or {}).get(sp.id, _PointScratch()).parent_rows
        for q in ("kl_total", "elbo"):
            res[q] = {}
            for side, name in ((-1, "parent_below"), (1, "parent_above")):
                rows = [r for r in prow if np.sign(r["p"] - p0) == side]
                if len(rows) >= 3:
                    dp = np.array([r["p"] - p0 for r in rows])
                    cf = np.polyfit(dp, [r[q] - base[q] for r in rows], 2)
                    res[q][name] = float(cf[1])
                    res[q][name + "_second"] = float(2 * cf[0])
            if not res[q]:
                res[q]["parent_above"] = _local_slope(parent.parameter, parent.data[q], p0, base[q])
            res[q]["parent"] = res[q].get("parent_above", res[q].get("parent_below"))
        for b in sp.info.get("branches", []):
            rows = b.get("near_threshold", [])
            if len(rows) >= 3:
                dp = np.array([r["p"] - p0 for r in rows])
                for q in ("kl_total", "elbo"):
                    dq = np.array([r[q] - base[q] for r in rows])
                    # q(p) - q* = s dp + r dp^2 + ...: least squares on the smallest offsets
                    m = np.argsort(np.abs(dp))[:5]
                    coef = np.polyfit(dp[m], dq[m], 2)
                    res[q]["child"] = float(coef[1])
                    res[q]["child_second"] = float(2 * coef[0])
                    res[q]["jump"] = float(coef[1] - res[q]["parent"]) if res[q]["parent"] is not None else None
                    half = "parent_below" if dp[0] < 0 else "parent_above"
                    if half + "_second" in res[q]:
                        res[q]["second_jump"] = float(2 * coef[0] - res[q][half + "_second"])
                order = _fit_slope(np.abs(dp), [r["order_parameter"] for r in rows])
                klexp = _fit_slope(np.abs(dp), [r["kl_total"] - base["kl_total"] for r in rows])
                b["exponents"] = {"order_parameter": order, "kl": klexp}
                sp.info["exponents"] = b["exponents"]
                break
        sp.info["one_sided_derivatives"] = res


def _local_slope(ps, qs, p0, q0):
    ps, qs = np.asarray(ps), np.asarray(qs)
    d = ps - p0
    near = np.argsort(np.abs(d))
    near = [k for k in near if abs(d[k]) > 1e-12 * max(abs(p0), 1e-300)][:2]
    if not near:
        return None
    return float(np.mean([(qs[k] - q0) / d[k] for k in near]))
