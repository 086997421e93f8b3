"""Continuation of one branch of stationary points: pseudo-arclength or natural parameter.

Unknowns are the entries of the branch's fixed-point subspace ``S`` (see
:mod:`statvae.bifurcation.symmetry`) and the parameter ``p``.  A step is a
predictor along the tangent and a Newton corrector on::

    g_S(theta, p) = 0,    tau . (y - y_pred) = 0       (pseudo-arclength)
    g_S(theta, p) = 0,    p = p_pred                     (natural parameter)

solved by least squares, so the minimum-norm step is taken if the reduced
Jacobian is singular (continuous symmetries left inside ``S``).  The step
grows after fast Newton convergence, shrinks after slow convergence, a
failure, a turn of the tangent by more than ``angle_max``, or a corrected point
that no longer uses every character the branch's start uses (it slid onto the
branch of a nearby crossing in a smaller subspace inside ``S``).  Every accepted
point records its Morse index (block inertia); changes of the index per
block mark branch points, sign changes of the tangent's p-component folds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AnalysisError
from .stability import fixed_block, inertia, span_hessian

if TYPE_CHECKING:
    from .problem import ContinuationProblem
    from .symmetry import Span

__all__ = ["ContinuationOptions", "BranchRun", "PointRecord", "continue_branch", "correct_at"]


@dataclass
class ContinuationOptions:
    """Options of the continuation (BifurcationKit's ``ContinuationPar``).

    Attributes
    ----------
    p_min, p_max : float
        Parameter range; the branch stops on leaving it.
    ds, ds_min, ds_max : float or None
        Initial, smallest and largest step in arclength (``None``: 1 %, 1e-9
        and 5 % of the range).
    newton_tol : float
        Newton stops when ``|g_S| <= newton_tol * (1 + |theta|)``.
    max_newton : int
    max_steps : int
    angle_max : float
        Largest accepted turn of the tangent per step (radians).
    algorithm : {"arclength", "natural"}
    locate_tol : float
        Relative precision asked of located special points.
    depth : int
        How many generations of branch switching to follow (1: only branches
        emanating from the starting branch).  Stable children are always
        followed, to any depth, up to ``max_branches``.
    max_branches : int
    store_parameters : bool
        Keep the parameter vector of every point (needed to plot weights;
        costs memory for large models).
    switching : bool
        Switch onto emanating branches at all (``False``: follow the starting
        branch only).
    certify : bool
        Re-locate the branch points of the starting branch with the mpmath
        backend to 30 digits (small models only).
    """

    p_min: float = 0.0
    p_max: float = 1.0
    ds: float | None = None
    ds_min: float | None = None
    ds_max: float | None = None
    newton_tol: float = 1e-11
    max_newton: int = 12
    max_steps: int = 400
    angle_max: float = 0.5
    algorithm: str = "arclength"
    locate_tol: float = 1e-11
    depth: int = 1
    max_branches: int = 200
    store_parameters: bool = True
    switching: bool = True
    certify: bool = False

    def resolved(self) -> ContinuationOptions:
        """A copy with the step lengths left at None set from the width of the range.

        Returns
        -------
        ContinuationOptions
        """
        width = abs(self.p_max - self.p_min)
        o = ContinuationOptions(**self.__dict__)
        o.ds = self.ds if self.ds is not None else 0.01 * width
        o.ds_min = self.ds_min if self.ds_min is not None else 1e-9 * width
        o.ds_max = self.ds_max if self.ds_max is not None else 0.05 * width
        return o

    def steps(self) -> tuple[float, float, float]:
        """``(ds, ds_min, ds_max)`` as numbers (the defaults of :meth:`resolved` where None).

        Returns
        -------
        tuple of float
        """
        o = self.resolved()
        assert o.ds is not None and o.ds_min is not None and o.ds_max is not None
        return o.ds, o.ds_min, o.ds_max


@dataclass
class PointRecord:
    """One accepted point of a branch."""

    p: float
    theta: np.ndarray
    tangent: np.ndarray
    index: int
    counts: dict
    newton: int


@dataclass
class BranchRun:
    """Raw output of :func:`continue_branch`."""

    points: list = field(default_factory=list)
    stop_reason: str = ""
    events: list = field(default_factory=list)   # (kind, i) : between points i-1 and i


def correct_at(problem: ContinuationProblem, theta: np.ndarray, p: float, S: np.ndarray, tol: float, max_iter: int,
               jac: np.ndarray | None = None, ascent: bool = False) -> tuple[np.ndarray, int, bool]:
    """Newton on ``g_S(theta, p) = 0`` at fixed ``p`` (least-squares steps).

    With ``jac`` (a reduced Hessian from a nearby point) the chord method is
    used: the Jacobian is kept while the residual falls by half per
    iteration, and recomputed otherwise.  With ``ascent=True`` (the point
    sought is a maximum in ``S``, as the collapsed point is) a step is only
    accepted if it does not decrease the objective.

    Parameters
    ----------
    problem : ContinuationProblem
        The problem.
    theta : numpy.ndarray
        Starting point (internal units).
    p : float
        The parameter, held fixed.
    S : numpy.ndarray
        Indices of the free entries (a fixed-point subspace); the others stay as in ``theta``.
    tol : float
        Convergence tolerance on the reduced gradient.
    max_iter : int
        Newton iterations at most.
    jac : numpy.ndarray, optional
        A reduced Hessian to start the chord method with.
    ascent : bool
        Accept only steps that do not decrease the objective.

    Returns
    -------
    tuple
        ``(theta, iterations, converged)``; an evaluation outside the domain
        returns ``(theta, 0, False)`` instead of raising.
    """
    try:
        return _correct_at(problem, theta, p, S, tol, max_iter, jac, ascent)
    except AnalysisError:  # an evaluation outside the domain or the floating-point range
        return np.array(theta, dtype=float), 0, False


def _correct_at(problem, theta, p, S, tol, max_iter, jac, ascent):
    theta = np.array(theta, dtype=float)
    h = jac
    last = first = np.inf
    g_full = None  # the gradient at theta when the damped search below already computed it
    for it in range(max_iter + 1):
        if g_full is None:
            g_full = problem.gradient(theta, p)
        g = g_full[S]
        norm = np.linalg.norm(g)
        first = min(first, norm) if it == 0 else first
        if norm <= tol * (1 + np.linalg.norm(theta[S])):
            if h is not None and norm > 0:  # one polishing step: Newton's last step is nearly free accuracy
                trial = theta.copy()
                trial[S] += np.linalg.lstsq(h, -g, rcond=None)[0]
                if _valid(problem, trial) and np.linalg.norm(_gradient(problem, trial, p)[S]) < norm:
                    theta = trial
            return theta, it, True
        if h is None or norm > 0.5 * last:
            h = _reduced_hessian(problem, theta, p, S)
        last = norm
        hh = h
        if ascent:  # modified Newton: an ascent direction even where the Hessian is not negative definite
            top = float(np.linalg.eigvalsh(h).max()) if h.size else -1.0
            if top >= 0:
                hh = h - (top + 1e-3 * max(1.0, float(np.abs(h).max()))) * np.eye(len(h))
        step = np.linalg.lstsq(hh, -g, rcond=None)[0]
        if it > 0 and np.linalg.norm(step) <= 1e-14 * (1 + np.linalg.norm(theta[S])) and norm <= 1e-9 * first:
            return theta, it, True  # converged to round-off (badly scaled gradients), residual down 1e9-fold
        here = problem.value(theta, p) if ascent else 0.0
        for _ in range(30):  # damped: stay inside the domain and do not let the residual explode
            trial = theta.copy()
            trial[S] += step
            try:
                if np.all(np.isfinite(trial)) and _valid(problem, trial):
                    g_trial = _gradient(problem, trial, p)
                    if np.linalg.norm(g_trial[S]) < 10 * norm + 1e-300 and \
                            (not ascent or problem.value(trial, p) >= here - 1e-12 * (1 + abs(here))):
                        break
            except AnalysisError:
                pass
            step = step / 2
        else:
            return theta, it, False
        theta, g_full = trial, g_trial
    return theta, max_iter, False


def _tangent_system(problem, theta, p, S, span=None, blocks=None):
    """``(H_SS, dg_S/dp)`` at a validated ``theta`` (the reduced gradient is not needed for a tangent).

    With ``blocks`` (:func:`span_hessian` at ``theta``) ``H_SS`` is their trivial coset's block.
    """
    if hasattr(problem, "reduced_hessian"):
        h = fixed_block(span, blocks) if blocks is not None else problem.reduced_hessian(theta, p, S)
        return h, problem.dgrad_dp(theta, p, check=False)[S]
    _, h, gp = problem.reduced(theta, p, S)
    return h, gp


def _gradient(problem, theta, p):
    """The gradient at a ``theta`` already validated (:func:`_valid`): unchecked where the problem allows it."""
    if hasattr(problem, "reduced_hessian"):
        return problem.gradient(theta, p, check=False)
    return problem.gradient(theta, p)


def _reduced_hessian(problem, theta, p, S):
    """``H_SS`` at a validated ``theta`` (without the gradient where the problem can)."""
    if hasattr(problem, "reduced_hessian"):
        return problem.reduced_hessian(theta, p, S)
    return problem.reduced(theta, p, S, with_dp=False)[1]


def _valid(problem, theta) -> bool:
    valid = getattr(problem, "valid", None)
    if valid is not None:
        return bool(valid(theta))
    try:
        problem.layout.check(theta)
    except Exception:
        return False
    return True


def unit_tangent(h: np.ndarray, gp: np.ndarray | None, prev: np.ndarray | None = None,
                 direction: float = 1.0) -> np.ndarray:
    """Unit null vector of ``[H_SS | g_p]``, oriented along ``prev`` (or with ``sign(dp) = direction``).

    Parameters
    ----------
    h : numpy.ndarray
        The reduced Hessian ``H_SS``.
    gp : numpy.ndarray
        The reduced ``d gradient / d p`` (required; None is accepted only in the type, as
        :meth:`ContinuationProblem.reduced` returns it).
    prev : numpy.ndarray, optional
        The previous tangent (the new one points the same way).
    direction : float
        Without ``prev``: the sign of the tangent's p-component.

    Returns
    -------
    numpy.ndarray
        ``(d theta_S, d p)`` of unit length.
    """
    assert gp is not None  # reduced(..., with_dp=True) gives it
    j = np.hstack([h, gp[:, None]])
    _, _, vt = np.linalg.svd(j)
    t = vt[-1]
    if prev is not None:
        if t @ prev < 0:
            t = -t
    elif t[-1] * direction < 0:
        t = -t
    return t / np.linalg.norm(t)


def continue_branch(problem: ContinuationProblem, theta0: np.ndarray, p0: float, span: Span, direction: float,
                    options: ContinuationOptions, progress: Callable[[float], object] | None = None) -> BranchRun:
    """Follow the branch through ``(theta0, p0)`` in the direction of increasing (``+1``) or decreasing p.

    Parameters
    ----------
    problem : ContinuationProblem
        The problem.
    theta0 : numpy.ndarray
        A point on the branch, or near it (corrected first).
    p0 : float
        The parameter there (internal units).
    span : Span
        The character span of the branch (its fixed-point subspace).
    direction : float
        ``+1`` or ``-1``: the way the parameter moves first.
    options : ContinuationOptions
        Step lengths, tolerances, limits.
    progress : callable, optional
        Called with the parameter (internal units) before each step.

    Returns
    -------
    BranchRun
        The accepted points and why the run stopped (``stop_reason``).
    """
    o = options.resolved()
    ds, ds_min, ds_max = o.steps()
    S = span.fixed_subspace()
    shared = hasattr(problem, "reduced_hessian")  # the tangent's H_SS is the inertia's trivial block: computed once
    run = BranchRun()
    theta, it, ok = correct_at(problem, theta0, p0, S, o.newton_tol, o.max_newton)
    if not ok:
        run.stop_reason = "the starting point did not converge"
        return run
    wanted = problem.characters.span_of(theta).key()  # every accepted point uses the characters the start uses
    _, h, gp = problem.reduced(theta, p0, S)
    tau = unit_tangent(h, gp, direction=direction)
    inert = inertia(problem, theta, p0, span)
    run.points.append(PointRecord(p0, theta.copy(), tau, inert.index, inert.counts(), it))
    p = p0
    lo, hi = min(o.p_min, o.p_max), max(o.p_min, o.p_max)
    for step in range(o.max_steps):
        if progress is not None:
            progress(p)
        y = np.concatenate([theta[S], [p]])
        accepted = False
        while not accepted:
            if ds < ds_min:
                run.stop_reason = "step size fell below ds_min"
                return run
            # land exactly on the end of the range
            p_pred = p + ds * tau[-1]
            last = False
            if (p_pred > hi or p_pred < lo) and abs(tau[-1]) > 1e-12:
                edge = hi if p_pred > hi else lo
                ds_edge = (edge - p) / tau[-1]
                if ds_edge <= ds_min:
                    run.stop_reason = "reached the end of the parameter range"
                    return run
                ds, last = ds_edge, True
            y_pred = y + ds * tau
            new, its, ok = newton_corrector(problem, theta, y_pred, tau, S, o, natural=(o.algorithm == "natural"),
                                      fixed_p=(edge if last else None))
            if not ok:
                ds *= 0.5
                continue
            th_new, p_new = new
            if problem.characters.span_of(th_new).key() != wanted:
                # slid onto a branch of a smaller subspace inside S (an amplitude of this branch driven to zero:
                # the branch of a nearby crossing); a shorter step stays on this one
                ds *= 0.5
                continue
            blocks = span_hessian(problem, th_new, p_new, span) if shared else None
            h, gp = _tangent_system(problem, th_new, p_new, S, span, blocks)
            tau_new = unit_tangent(h, gp, prev=tau)
            angle = np.arccos(np.clip(tau_new @ tau, -1, 1))
            if angle > o.angle_max and ds > ds_min * 4:
                ds *= 0.5
                continue
            accepted = True
        fold = np.sign(tau_new[-1]) != np.sign(tau[-1]) and abs(tau[-1]) > 1e-12 and abs(tau_new[-1]) > 1e-12
        theta, p, tau = th_new, p_new, tau_new
        inert = inertia(problem, theta, p, span, blocks=blocks)
        run.points.append(PointRecord(p, theta.copy(), tau, inert.index, inert.counts(), its))
        k = len(run.points) - 1
        if run.points[k].counts != run.points[k - 1].counts:
            run.events.append(("branch point", k))
        if fold:
            run.events.append(("fold", k))
        if last:
            run.stop_reason = "reached the end of the parameter range"
            return run
        if its <= 2:
            ds = min(ds * 1.6, ds_max)
        elif its >= 6:
            ds = max(ds * 0.5, ds_min)
    run.stop_reason = "reached max_steps"
    return run


def newton_corrector(problem: Any, theta: np.ndarray, y_pred: np.ndarray, tau: np.ndarray, S: np.ndarray,
                     o: ContinuationOptions, natural: bool = False,
                     fixed_p: float | None = None) -> tuple[tuple[np.ndarray, float], int, bool]:
    """Newton's method from a predicted point back onto the branch (pseudo-arclength or natural).

    Parameters
    ----------
    problem : ContinuationProblem
    theta : numpy.ndarray
        The last accepted point (its entries outside ``S`` are kept).
    y_pred : numpy.ndarray
        The predicted ``(theta_S, p)``.
    tau : numpy.ndarray
        The tangent at the last point (the arclength constraint is orthogonal to it).
    S : numpy.ndarray
        Indices of the fixed-point subspace followed.
    o : ContinuationOptions
        ``newton_tol`` and ``max_newton`` are used.
    natural : bool
        Keep ``p`` at its predicted value (natural continuation) instead of the arclength constraint.
    fixed_p : float, optional
        Land exactly on this ``p`` (the end of the range).

    Returns
    -------
    tuple
        ``((theta, p), iterations, converged)``; a step outside the domain is not converged.
    """
    m = len(S)
    th = theta.copy()
    th[S] = y_pred[:m]
    p = y_pred[-1] if fixed_p is None else fixed_p
    y = np.concatenate([th[S], [p]])
    for it in range(o.max_newton + 1):
        try:
            g, h, gp = problem.reduced(th, p, S)
        except AnalysisError:  # outside the domain or the floating-point range: a failed step
            return (th, p), it, False
        res = np.concatenate([g, [0.0 if (natural or fixed_p is not None) else tau @ (y - y_pred)]])
        if natural or fixed_p is not None:
            jac = np.hstack([h, np.zeros((m, 1))])
            jac = np.vstack([jac, np.eye(1, m + 1, m)])
        else:
            jac = np.vstack([np.hstack([h, gp[:, None]]), tau[None, :]])
        dy = np.linalg.lstsq(jac, -res, rcond=None)[0]
        if np.linalg.norm(g) <= o.newton_tol * (1 + np.linalg.norm(th[S])) and abs(res[-1]) <= 1e-12 * (
                1 + np.linalg.norm(y)):
            polished = th.copy()
            polished[S] = (y + dy)[:m]
            if _valid(problem, polished):  # one polishing step (quadratic convergence)
                return (polished, (y + dy)[-1]), it, True
            return (th, p), it, True
        y = y + dy
        th = th.copy()
        th[S] = y[:m]
        p = y[-1]
        if not np.all(np.isfinite(y)) or not _valid(problem, th):
            return (th, p), it, False
    return (th, p), o.max_newton, False
