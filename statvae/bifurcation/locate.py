"""Location of special points detected between two accepted points of a branch.

Branch points: for every Hessian block whose count of positive eigenvalues
changed, the crossing eigenvalue (the ``k``-th largest, ``k`` fixed by the
counts on both sides) is a continuous function of ``p`` along the branch;
Brent's method finds its zero, each trial point being corrected back onto
the branch at fixed ``p``.  Crossings of different blocks at the same ``p``
(symmetry copies: latent permutations, repeated eigenvalues) are merged
into one special point whose kernel dimension is the number of eigenvalues
that cross.  The bracket is then tightened and *verified* (the crossing
eigenvalue has opposite signs at its ends), which gives the point's
interval and precision.  Nearly coincident crossings stay separate points
unless the later one is singular at the earlier one's root too (then one
degenerate point with both kernels), and every located point is verified
(:func:`verify_branch_point`: stationary, singular, index jump = kernel
dimension); a contradiction raises :class:`ContradictionError`.

Folds: the extremum of ``p`` along the branch, located by Brent on the
p-component of the tangent as a function of arclength.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from ..errors import AnalysisError, DataError

from .continuation import newton_corrector, unit_tangent, correct_at
from ..symbolic.stability import ZERO_RTOL
from .stability import symmetry_complement, block_eigenvalues, block_hessians

if TYPE_CHECKING:
    from .continuation import BranchRun, ContinuationOptions
    from .problem import ContinuationProblem
    from .symmetry import Span

__all__ = ["SpecialPoint", "PointKind", "PointStatus", "locate_branch_points", "locate_fold", "crossing_eigenvalue",
           "crossing_eigenvalues", "verify_branch_point", "ContradictionError", "SINGULAR_RTOL"]

#: A crossing eigenvalue within this fraction of its block's largest entry is zero at a located point: the
#: Hessian times each kernel vector must be that small, and a crossing located within 1e-9 of another
#: joins it (a degenerate point with both kernels) only if it is that singular at the other's root.
SINGULAR_RTOL = 1e-8


class ContradictionError(AnalysisError):
    """A located point contradicts what was located (not stationary, not singular, or the index does not jump
    by its kernel dimension): an internal error, raised rather than returned."""


class _Named(str, Enum):
    """A string enum that prints as its value (``"branch point"``), so text and JSON keep the plain words."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class PointKind(_Named):
    """What a special point is."""

    BRANCH_POINT = "branch point"
    FOLD = "fold"


class PointStatus(_Named):
    """How well a special point is known (BifurcationKit style)."""

    LOCATED = "located"      # precision reached
    DETECTED = "detected"    # bracket only
    CERTIFIED = "certified"  # re-located with the mpmath backend


@dataclass
class SpecialPoint:
    """A special point of a branch (BifurcationKit style: never a bare float).

    Attributes
    ----------
    id : int
    kind : str
        ``"branch point"`` or ``"fold"``.
    branch : int
        Id of the branch it lies on.
    parameter : float
        Located value of the continuation parameter.
    interval : tuple
        A bracket ``(lo, hi)`` on which the defining function changes sign.
    precision : float
        ``(hi - lo) / |parameter|``.
    status : str
        ``"located"`` (precision reached), ``"detected"`` (bracket only) or
        ``"certified"`` (re-located with the mpmath backend).
    kernel_dim : int
        Number of eigenvalues crossing zero (branch point) or 1 (fold).
    kernel : list
        Kernel basis vectors as ``{index: value}`` dicts of the nonzero entries.
    index_change : int
        Morse index after minus before, in the direction of continuation.
    characters : list
        Coset characters (as names) of the blocks that carry the kernel.
    theta : numpy.ndarray or None
        The stationary point at the located parameter.
    info : dict
        Classification, reduced-equation coefficients, one-sided derivatives,
        jumps, fitted exponents, certification (filled in later).
    """

    id: int
    kind: str
    branch: int
    parameter: float
    interval: tuple
    precision: float
    status: str
    kernel_dim: int
    kernel: list = field(default_factory=list)
    index_change: int = 0
    characters: list = field(default_factory=list)
    theta: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            self.kind = PointKind(self.kind)
            self.status = PointStatus(self.status)
        except ValueError:
            raise DataError(f"a special point is a {' or a '.join(k.value for k in PointKind)} with status "
                            f"{', '.join(s.value for s in PointStatus)}; got {self.kind!r} / {self.status!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "status" and not isinstance(value, PointStatus):  # also the dataclass __init__'s assignment
            try:
                value = PointStatus(value)
            except ValueError:
                raise DataError(f"a special point's status is one of {', '.join(s.value for s in PointStatus)}; "
                                f"got {value!r}") from None
        super().__setattr__(name, value)

    @property
    def certificate(self) -> Any:
        """The :class:`~statvae.bifurcation.certify.Certificate` of a certified point, else None."""
        from .certify import Certificate

        d = self.info.get("certified")
        return None if d is None else Certificate.from_dict(d)

    @property
    def stability_change(self) -> bool | None:
        """Whether a stable branch gains or loses stability here (None where not recorded)."""
        v = self.info.get("stability_change")
        return None if v is None else bool(v)


def sparse_vector(v: Any, tol: float = 1e-12) -> dict[int, float]:
    """The entries of ``v`` above ``tol`` times its largest, as ``{index: value}``.

    Parameters
    ----------
    v : array_like
    tol : float
        Relative threshold.

    Returns
    -------
    dict
    """
    v = np.asarray(v, dtype=float)
    idx = np.nonzero(np.abs(v) > tol * max(np.abs(v).max(), 1e-300))[0]
    return {int(i): float(v[i]) for i in idx}


def _point_at(problem, run_points, k, p, S, options):
    """Correct onto the branch at parameter ``p`` between points ``k-1`` and ``k`` (interpolated start).

    A ``p`` in the step before (``k-2, k-1``) or after (``k, k+1``) is interpolated on that step.
    """
    a, b = run_points[k - 1], run_points[k]
    if not min(a.p, b.p) <= p <= max(a.p, b.p):
        for j in (k - 1, k + 1):
            if 1 <= j < len(run_points) and min(run_points[j - 1].p, run_points[j].p) <= p <= \
                    max(run_points[j - 1].p, run_points[j].p):
                a, b = run_points[j - 1], run_points[j]
                break
    w = 0.0 if b.p == a.p else (p - a.p) / (b.p - a.p)
    guess = a.theta + w * (b.theta - a.theta)
    th, _, ok = correct_at(problem, guess, p, S, options.newton_tol, options.max_newton)
    if not ok:  # near a branch point of its own the branch bends (square-root amplitude): Newton converges slowly
        th, _, ok = correct_at(problem, guess, p, S, options.newton_tol, 4 * options.max_newton)
    return th if ok else None


def crossing_eigenvalue(problem: ContinuationProblem, theta: np.ndarray, p: float, span: Span, key: int,
                         rank: int) -> tuple[float, np.ndarray, np.ndarray, np.ndarray | None]:
    """The ``rank``-th largest eigenvalue of block ``key`` (symmetry zero modes removed), relative to scale.

    Parameters
    ----------
    problem : ContinuationProblem
    theta : numpy.ndarray
        A stationary point.
    p : float
        The parameter there.
    span : Span
        The branch's symmetry-breaking characters.
    key : int
        The coset character of the block.
    rank : int
        0 for the largest eigenvalue.

    Returns
    -------
    tuple
        ``(eigenvalue / scale, eigenvector, block indices, complement basis or None)``.
    """
    ((_, b, hb),) = block_hessians(problem, theta, p, span, only={key})
    q, _ = symmetry_complement(problem.zero_modes(theta), b)
    ev = block_eigenvalues(hb, q)
    scale = max(float(np.abs(hb).max()), 1e-300)
    return float(ev[rank]) / scale, b, hb, q


def crossing_eigenvalues(problem: ContinuationProblem, theta: np.ndarray, p: float, span: Span,
                         wanted: list[tuple[int, int]]) -> dict[tuple[int, int], tuple[float, np.ndarray, np.ndarray,
                                                                                    np.ndarray | None]]:
    """:func:`crossing_eigenvalue` for several ``(key, rank)`` pairs at one point, the blocks evaluated together.

    Parameters
    ----------
    problem : ContinuationProblem
    theta : numpy.ndarray
        A stationary point.
    p : float
        The parameter there.
    span : Span
        The branch's symmetry-breaking characters.
    wanted : list of tuple
        ``(coset key, rank)`` pairs.

    Returns
    -------
    dict
        ``(key, rank)`` -> as :func:`crossing_eigenvalue` returns.
    """
    keys = sorted({key for key, _ in wanted})
    blocks = {key: (b, hb) for key, b, hb in block_hessians(problem, theta, p, span, only=keys)}
    gens = problem.zero_modes(theta)
    out = {}
    for key, rank in wanted:
        b, hb = blocks[key]
        q, _ = symmetry_complement(gens, b)
        ev = block_eigenvalues(hb, q)
        scale = max(float(np.abs(hb).max()), 1e-300)
        out[(key, rank)] = (float(ev[rank]) / scale, b, hb, q)
    return out


def locate_branch_points(problem: ContinuationProblem, run: BranchRun, k: int, span: Span,
                         options: ContinuationOptions, next_id: int) -> list[SpecialPoint]:
    """Locate every crossing between points ``k-1`` and ``k`` of ``run``; returns SpecialPoints.

    Parameters
    ----------
    problem : ContinuationProblem
        The problem.
    run : BranchRun
        The branch followed so far.
    k : int
        Index of the point after the change of block counts.
    span : Span
        The character span of the branch.
    options : ContinuationOptions
        Tolerances (Newton, location precision).
    next_id : int
        Id of the first special point returned (the next ones count up).

    Returns
    -------
    list of SpecialPoint
        One per crossing, symmetry copies merged; their ``branch`` is -1 (set by the caller).
    """
    S = span.fixed_subspace()
    a, b = run.points[k - 1], run.points[k]
    memo: dict[float, Any] = {}

    def point(p):
        """The branch point at ``p`` (Newton from the interpolated start: deterministic, so computed once)."""
        if p not in memo:
            memo[p] = _point_at(problem, run.points, k, p, S, options)
        return memo[p]

    seen: dict[tuple[float, tuple[int, int]], tuple[float, float]] = {}  # (p, (key, rank)) -> (value, size)

    def values(p, wanted):
        """``{(key, rank): crossing eigenvalue / scale}`` at ``p`` for every wanted pair (NaN off the branch)."""
        th = point(p)
        if th is None:
            return {kr: np.nan for kr in wanted}
        out = {}
        for kr, v in crossing_eigenvalues(problem, th, p, span, wanted).items():
            out[kr] = v[0]
            seen[(p, kr)] = (v[0], float(np.abs(v[2]).max()) if v[2].size else 0.0)
        return out

    def known(p, wanted):
        """As :func:`values` with their block sizes, from what Brent and the brackets computed where they did
        (the checks only read signs and sizes, so a value from another set of blocks serves as well)."""
        missing = [kr for kr in wanted if (p, kr) not in seen]
        if missing:
            if point(p) is None:
                return {kr: (np.nan, 0.0) for kr in wanted}
            values(p, missing)
        return {kr: seen[(p, kr)] for kr in wanted}

    def _locate_one(key, rank, delta, cls):
        """Brent on the crossing eigenvalue of ``(key, rank)`` between the two points, then its verified bracket."""
        def f(p):
            return values(p, [(key, rank)])[(key, rank)]

        pa, pb = a.p, b.p
        fa, fb = f(pa), f(pb)
        if np.isfinite(fa) and np.isfinite(fb) and fa * fb > 0:
            # the count changed but the eigenvalue did not change sign: it sits on zero (within the counts'
            # tolerance) at one end of the step, and changes sign in the step before or after that end
            if abs(fa) <= ZERO_RTOL and k >= 2:
                pa = run.points[k - 2].p
                fa = f(pa)
            elif abs(fb) <= ZERO_RTOL and k + 1 < len(run.points):
                pb = run.points[k + 1].p
                fb = f(pb)
        if not (np.isfinite(fa) and np.isfinite(fb)) or fa * fb > 0:
            return
        try:
            from scipy.optimize import brentq  # scipy loads when a point is located, not on import
            root = brentq(f, pa, pb, xtol=4e-16 * max(abs(pa), abs(pb)), rtol=8.9e-16, maxiter=200)
            if point(root) is None:
                raise RuntimeError("the branch cannot be followed to the root")
            lo, hi = _verified_bracket(f, root, pa, pb)
        except (ValueError, RuntimeError):  # the branch cannot be followed in p here: bracket only
            root, lo, hi = (pa + pb) / 2, min(pa, pb), max(pa, pb)
        located.setdefault(cls, (root, lo, hi, pa, pb))
        found.append((root, lo, hi, key, rank, delta, pa, pb))

    crossings = []   # (class, key, rank, delta) in the order of the keys
    for key in sorted(set(a.counts) | set(b.counts)):
        ca, cb = a.counts.get(key, 0), b.counts.get(key, 0)
        for rank in range(min(ca, cb), max(ca, cb)):
            crossings.append(((span.candidate_key(key) if key else (0, ()), ca, cb, rank), key, rank, cb - ca))
    found = []
    located: dict = {}   # symmetry class -> (root, lo, hi): blocks related by a latent permutation cross together
    pending = list(crossings)
    while pending:
        cls, key, rank, delta = pending.pop(0)
        if cls in located:  # verify every remaining copy of the class in the same bracket, all at once
            copies = [(key, rank, delta)] + [(k2, r2, d2) for c2, k2, r2, d2 in pending if c2 == cls]
            pending = [c for c in pending if c[0] != cls]
            root, lo, hi, pa, pb = located[cls]
            wanted = [(k2, r2) for k2, r2, _ in copies]
            vlo, vhi = values(lo, wanted), values(hi, wanted)
            for k2, r2, d2 in copies:
                flo, fhi = vlo[(k2, r2)], vhi[(k2, r2)]
                if np.isfinite(flo) and np.isfinite(fhi) and flo * fhi <= 0:
                    found.append((root, lo, hi, k2, r2, d2, pa, pb))
                else:
                    _locate_one(k2, r2, d2, cls)
            continue
        _locate_one(key, rank, delta, cls)
    # merge crossings at the same parameter: within 1e-9 of each other and singular at the common root
    # (symmetry copies, repeated eigenvalues); a nearly coincident but distinct crossing is its own point
    found.sort()
    groups: list[list] = []
    for f in found:
        if groups and abs(f[0] - groups[-1][0][0]) <= 1e-9 * max(abs(f[0]), 1e-300):
            groups[-1].append(f)
        else:
            groups.append([f])
    # the size of each crossing block near the point: its largest entry at either end of its step (at the point
    # itself a block can be as small as its vanishing eigenvalue: a 1 x 1 block is that eigenvalue)
    step_scale: dict[int, float] = {}
    for e in {f[6] for f in found} | {f[7] for f in found}:
        for (key, _), (_, size) in known(e, sorted({(f[3], f[4]) for f in found if e in (f[6], f[7])})).items():
            step_scale[key] = max(step_scale.get(key, 0.0), size)
    out: list = []
    while groups:
        grp = groups.pop(0)
        p, lo0, hi0 = grp[0][0], grp[0][1], grp[0][2]
        prec = (hi0 - lo0) / max(abs(p), 1e-3 * (abs(grp[0][6]) + abs(grp[0][7])), 1e-300)
        status = "located" if prec <= options.locate_tol else "detected"
        th = point(p)
        if th is None:
            raise ContradictionError(f"a branch point located at {problem.parameter} = {p:.17g} is not on the "
                                     f"branch (Newton at fixed {problem.parameter} did not converge there)")
        blocks = crossing_eigenvalues(problem, th, p, span, [(key, rank) for _, _, _, key, rank, *_ in grp])
        if status == "located" and len(grp) > 1:
            apart = [f for f in grp[1:] if abs(_eigenvalue(blocks[(f[3], f[4])], f[4])) >
                     SINGULAR_RTOL * max(step_scale.get(f[3], 0.0), 1e-300)]
            if apart:  # not singular here: located at its own root
                grp = [f for f in grp if f not in apart]
                groups.insert(0, apart)
        keys = [(key, rank) for _, _, _, key, rank, *_ in grp]
        lo, hi = min(f[1] for f in grp), max(f[2] for f in grp)
        delta = sum(1 if f[5] > 0 else -1 for f in grp)
        if len(grp) > 1:
            prec = (hi - lo) / max(abs(p), 1e-3 * (abs(grp[0][6]) + abs(grp[0][7])), 1e-300)
            status = "located" if prec <= options.locate_tol else "detected"
        kernel = []
        for key, rank in keys:
            _, blk, hb, q = blocks[(key, rank)]
            m = hb if q is None else q.T @ hb @ q
            w, v = np.linalg.eigh(m)
            vec_b = v[:, np.argsort(w)[::-1][rank]]
            if q is not None:
                vec_b = q @ vec_b
            full = np.zeros(problem.layout.size)
            full[blk] = vec_b
            kernel.append(full)
        sp = SpecialPoint(next_id + len(out), "branch point", -1, float(p), (float(lo), float(hi)),
                          float(prec), status, len(keys),
                          kernel=[sparse_vector(v) for v in kernel], index_change=int(delta),
                          characters=[problem.characters.describe(key) for key, _ in keys], theta=th)
        sp.info["kernel_vectors"] = kernel
        sp.info["coset_keys"] = [key for key, _ in keys]
        if status == "located":
            f_lo, f_hi = known(lo, keys), known(hi, keys)
            at = {e: known(e, [kr for kr, f in zip(keys, grp) if e in (f[6], f[7])])
                  for e in {f[6] for f in grp} | {f[7] for f in grp}}
            ends = {kr: (at[f[6]][kr][0], at[f[7]][kr][0]) for kr, f in zip(keys, grp)}
            sizes = {key: max(step_scale.get(key, 0.0), float(np.abs(blocks[(key, rank)][2]).max()))
                     for key, rank in keys}
            verify_branch_point(problem, sp, span, [(kr, f[5]) for kr, f in zip(keys, grp)],
                                bracket={kr: (f_lo[kr][0], f_hi[kr][0]) for kr in keys}, step=ends,
                                newton_tol=options.newton_tol, scales=sizes)
        out.append(sp)
    out.sort(key=lambda sp: sp.parameter)
    for i, sp in enumerate(out):
        sp.id = next_id + i
    return out


def _eigenvalue(block: tuple[float, np.ndarray, np.ndarray, np.ndarray | None], rank: int) -> float:
    """The ``rank``-th largest eigenvalue itself (not relative) of a :func:`crossing_eigenvalues` entry."""
    _, _, hb, q = block
    return float(block_eigenvalues(hb, q)[rank])


def verify_branch_point(problem: ContinuationProblem, sp: SpecialPoint, span: Span,
                        crossings: list[tuple[tuple[int, int], int]],
                        bracket: dict[tuple[int, int], tuple[float, float]],
                        step: dict[tuple[int, int], tuple[float, float]], newton_tol: float,
                        scales: dict[int, float] | None = None) -> None:
    """Check a located branch point; raise :class:`ContradictionError` on any contradiction.

    Three checks, each relative to the size of the numbers it compares (never an absolute threshold):

    * **stationary**: ``|grad| <= 10 newton_tol (1 + |theta|)`` at the point (the corrector's tolerance);
    * **singular**: every kernel vector ``v`` (unit) has ``|H v| <= SINGULAR_RTOL`` times the size of its
      Hessian block (``scales``, else its largest entry at the point), by a Hessian-vector product of the
      whole objective (not the block it was taken from);
    * **index jump = kernel dimension**: each crossing eigenvalue changes sign across the bracket
      ``(lo, hi)``, and between the two points of the step it goes up through zero (from not positive to not
      negative; zero at a step's end is the end of the range) where its block's count of positive
      eigenvalues rose, down where it fell, so the Morse index changes
      by one per kernel vector (``index_change`` is their signed sum, ``kernel_dim`` their number).  The
      direction is read at the step's points, not at the bracket's ends: there, within a few ulps of the
      root, the eigenvalue is round-off and its sign says nothing about the direction.

    Parameters
    ----------
    problem : ContinuationProblem
        The problem (internal units).
    sp : SpecialPoint
        The located point (``theta``, ``parameter``, ``interval``, ``info["kernel_vectors"]``).
    span : Span
        The character span of its branch.
    crossings : list of tuple
        ``((coset key, rank), delta)`` per kernel vector, ``delta`` the change of the block's count along the
        branch (positive: an eigenvalue becomes positive in the direction of continuation).
    bracket : dict
        ``(key, rank)`` -> the crossing eigenvalue (any positive multiple) at ``lo`` and at ``hi``.
    step : dict
        ``(key, rank)`` -> the same at the step's point before the crossing and at the one after it, in the
        direction of continuation.
    newton_tol : float
        The corrector's tolerance.
    scales : dict, optional
        Coset key -> the size of its block near the point (the largest entry at the ends of the step and at
        the point); computed at the point where not given.

    Raises
    ------
    ContradictionError
        The point is not stationary, a kernel vector is not a null vector, or a crossing eigenvalue does not
        change sign across the bracket as the counts say.
    """
    name, p, th = problem.parameter, sp.parameter, sp.theta
    assert th is not None
    g = problem.gradient(th, p)
    if not np.linalg.norm(g) <= 10 * newton_tol * (1 + np.linalg.norm(th)):
        raise ContradictionError(f"the branch point at {name} = {p:.17g} is not stationary "
                                 f"(|gradient| = {np.linalg.norm(g):.3g})")
    vecs = np.asarray(sp.info["kernel_vectors"], dtype=float).reshape(len(crossings), -1)
    if len(vecs):
        hv = np.atleast_2d(problem.hvp(th, vecs, p))
        if scales is None or any(key not in scales for (key, _), _ in crossings):
            blocks = crossing_eigenvalues(problem, th, p, span, [kr for kr, _ in crossings])
            scales = {key: max((scales or {}).get(key, 0.0), float(np.abs(blocks[(key, rank)][2]).max()))
                      for (key, rank), _ in crossings}
        for ((key, rank), _), v, row in zip(crossings, vecs, hv):
            scale = max(scales[key], 1e-300)
            r = float(np.linalg.norm(row)) / (scale * float(np.linalg.norm(v)))
            if not r <= SINGULAR_RTOL:
                raise ContradictionError(f"the branch point at {name} = {p:.17g} is not singular along its kernel "
                                         f"vector of block {problem.characters.describe(key)} (|H v| = {r:.3g} "
                                         f"of the block's size)")
    lo, hi = sp.interval
    for kr, delta in crossings:
        f_lo, f_hi = bracket[kr]
        f0, f1 = step[kr] if delta > 0 else (-step[kr][0], -step[kr][1])
        what = f"the branch point at {name} = {p:.17g}: the eigenvalue of block {problem.characters.describe(kr[0])}"
        if not (np.isfinite(f_lo) and np.isfinite(f_hi) and f_lo * f_hi <= 0 and (f_lo or f_hi)):
            raise ContradictionError(f"{what} does not change sign in the bracket [{lo:.17g}, {hi:.17g}]")
        if not (np.isfinite(f0) and np.isfinite(f1) and f0 <= 0 <= f1 and f0 < f1):  # 0 at a step's end: the range's
            raise ContradictionError(f"{what} does not cross zero between the points of the step as the index "
                                     f"change {delta:+d} says")
    if len(crossings) != sp.kernel_dim or abs(sp.index_change) > sp.kernel_dim or \
            sp.index_change != sum(1 if d > 0 else -1 for _, d in crossings):
        raise ContradictionError(f"the branch point at {name} = {p:.17g}: index change {sp.index_change} does not "
                                 f"match its {sp.kernel_dim} crossing eigenvalue(s)")


def _verified_bracket(f, root, a, b):
    """A small interval around ``root`` on which ``f`` changes sign (checked)."""
    lo_end, hi_end = min(a, b), max(a, b)
    step = 4 * np.finfo(float).eps * max(abs(root), 1e-3 * (abs(a) + abs(b)), 1e-300)
    for _ in range(60):
        lo, hi = max(root - step, lo_end), min(root + step, hi_end)
        flo, fhi = f(lo), f(hi)
        if np.isfinite(flo) and np.isfinite(fhi) and flo * fhi <= 0:
            return lo, hi
        step *= 4
    return lo_end, hi_end


def locate_fold(problem: ContinuationProblem, run: BranchRun, k: int, span: Span, options: ContinuationOptions,
                next_id: int) -> SpecialPoint | None:
    """Locate a fold between points ``k-1`` and ``k``: zero of the tangent's p-component in arclength.

    Parameters
    ----------
    problem : ContinuationProblem
        The problem.
    run : BranchRun
        The branch followed so far.
    k : int
        Index of the point after the turn of the parameter.
    span : Span
        The character span of the branch.
    options : ContinuationOptions
        Tolerances.
    next_id : int
        Id given to the fold.

    Returns
    -------
    SpecialPoint or None
        ``None`` if the fold could not be located.
    """
    S = span.fixed_subspace()
    a = run.points[k - 1]
    o = options.resolved()
    y0 = np.concatenate([a.theta[S], [a.p]])
    b = run.points[k]
    y1 = np.concatenate([b.theta[S], [b.p]])
    total = float(np.linalg.norm(y1 - y0))

    def at(s):
        y_pred = y0 + s * a.tangent
        (th, p), _, ok = newton_corrector(problem, a.theta, y_pred, a.tangent, S, o)
        if not ok:
            return None
        _, h, gp = problem.reduced(th, p, S)
        return th, p, unit_tangent(h, gp, prev=a.tangent)

    def f(s):
        r = at(s)
        return np.nan if r is None else r[2][-1]

    fa, fb = f(0.0), f(total)
    if not (np.isfinite(fa) and np.isfinite(fb)) or fa * fb > 0:
        return None
    from scipy.optimize import brentq  # scipy loads when a point is located, not on import
    s = brentq(f, 0.0, total, xtol=1e-15 * max(total, 1e-300), rtol=8.9e-16, maxiter=200)
    th, p, _ = at(s)
    lo_s, hi_s = _verified_bracket(f, s, 0.0, total)
    ps = [at(x)[1] for x in (lo_s, hi_s)]
    width = abs(max(ps + [p]) - min(ps + [p]))
    prec = max(width, 4 * np.finfo(float).eps * abs(p)) / max(abs(p), 1e-300)
    return SpecialPoint(next_id, "fold", -1, float(p), (float(min(ps + [p])), float(max(ps + [p]))), float(prec),
                        "located" if prec <= options.locate_tol else "detected", 1, theta=th,
                        info={"arclength_bracket": (float(lo_s), float(hi_s))})
