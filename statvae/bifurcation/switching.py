"""Branch switching at branch points with multi-dimensional kernels, using the symmetry.

At a branch point the kernel splits over Hessian blocks (cosets of the
parent's character span).  Each block carries one candidate branch: it lives
in the fixed-point subspace obtained by adding the block's character to the
parent's span (an isotropy subspace).  Candidates that differ only by a
permutation of latents not yet involved (latent symmetry) are the same branch
up to symmetry: one representative is followed.

Along the kernel vector ``t`` of a candidate the reduced bifurcation equation
``phi(a, mu) = t . grad(theta* + a t, p* + mu)`` has the expansion
``c_ap a mu + c_2 a^2 / 2 + c_3 a^3 / 6 + ...``; when the block's character
is nontrivial the flip symmetry makes ``phi`` odd in ``a`` (``c_2 = 0``: a
pitchfork), otherwise it is generically transcritical.  The coefficients
come from finite differences of Hessian-vector products and give the
predicted amplitude ``a^2 = -6 c_ap mu / c_3`` (pitchfork) or
``a = -2 c_ap mu / c_2`` (transcritical), hence the side on which the new
branch exists and the first point on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .continuation import correct_at
from .stability import inertia

if TYPE_CHECKING:
    from .continuation import ContinuationOptions
    from .stability import Inertia
    from .locate import SpecialPoint
    from .problem import ContinuationProblem
    from .symmetry import Span

__all__ = ["candidates", "reduced_coefficients", "first_point"]


def candidates(span: Span, point: SpecialPoint) -> list[tuple[int, np.ndarray]]:
    """``[(coset key, kernel vector)]``, one per branch up to latent permutations.

    Parameters
    ----------
    span : Span
        The character span of the branch the point lies on.
    point : SpecialPoint
        A located branch point (its ``info`` holds kernel vectors and coset keys).

    Returns
    -------
    list of tuple
        Coset key and unit kernel vector of one representative per class.
    """
    seen: dict[tuple[Any, ...], tuple[int, np.ndarray]] = {}
    for key, vec in zip(point.info["coset_keys"], point.info["kernel_vectors"]):
        ck: tuple[Any, ...]
        if key == 0:
            ck = ("fixed", 0)
        else:
            ck = span.candidate_key(key)
        if ck not in seen:
            seen[ck] = (key, vec / np.linalg.norm(vec))
    return list(seen.values())


def reduced_coefficients(problem: ContinuationProblem, theta: np.ndarray, p: float, t: np.ndarray,
                         parent_at: Callable[[float], np.ndarray], h_rel: float = 1e-3) -> dict[str, float]:
    """Coefficients of the reduced bifurcation equation along the unit kernel vector ``t``.

    ``parent_at(p)`` returns the parent branch's point at ``p`` (to
    differentiate along the branch, not at frozen parameters).

    Parameters
    ----------
    problem : ContinuationProblem
        The problem.
    theta : numpy.ndarray
        The branch point (internal units).
    p : float
        The parameter at the branch point.
    t : numpy.ndarray
        Unit kernel vector.
    parent_at : callable
        ``parent_at(p)``: the parent branch's point at ``p``.
    h_rel : float
        Finite-difference step along ``t``, relative to ``max(1, max|theta|)``.

    Returns
    -------
    dict
        ``c1``, ``c2``, ``c3`` (value, first and second derivative of ``t.H t``
        along ``t``) and ``c_ap`` (its derivative in ``p`` along the parent branch).
    """
    scale = max(1.0, float(np.abs(theta).max()))
    h = h_rel * scale

    def psi(a: float, th: np.ndarray = theta, pp: float = p) -> float:
        return float(t @ problem.hvp(th + a * t, t, pp))

    c1 = psi(0.0)
    c2 = (psi(h) - psi(-h)) / (2 * h)
    c3 = (psi(h) - 2 * c1 + psi(-h)) / h**2
    # Richardson on c3 (O(h^2) error)
    h2 = h / 2
    c3b = (psi(h2) - 2 * c1 + psi(-h2)) / h2**2
    c3 = (4 * c3b - c3) / 3
    dp = 1e-4 * max(abs(p), 1e-3)
    th_plus, th_minus = parent_at(p + dp), parent_at(p - dp)
    c_ap = (float(t @ problem.hvp(th_plus, t, p + dp)) - float(t @ problem.hvp(th_minus, t, p - dp))) / (2 * dp)
    return {"c1": c1, "c2": c2, "c3": c3, "c_ap": c_ap}


def first_point(problem: ContinuationProblem, theta: np.ndarray, p: float, t: np.ndarray, coeffs: dict[str, float],
                new_span: Span, kind: str, options: ContinuationOptions,
                p_range: tuple[float, float],
                parent_at: Callable[[float], np.ndarray] | None = None,
                at_point: Inertia | None = None) -> tuple[np.ndarray, float, float, float] | None:
    """A converged point on the new branch near ``(theta, p)``, or ``None``.

    Returns ``(theta0, p0, direction, predicted_amplitude)``.

    The trial points are ``theta + a t`` at ``|p - p*| = 1e-3, 1e-2, 1e-4, 3e-2`` times ``p*`` (then
    ``1e-5 ... 1e-8`` if none of those is accepted).  A converged point counts only if it lies on the new
    branch: it must use every character of ``new_span``
    (:meth:`~statvae.bifurcation.symmetry.CharacterTable.span_of`, relative tolerance).  With
    ``at_point`` (the inertia at the branch point over the cosets of ``new_span``) it must also lie
    before any other crossing: in each block the positive eigenvalues at the branch point stay positive
    and the negative ones negative; only its zero eigenvalues there (the kernel, which the new branch
    splits) may take either sign.  So the count of positive eigenvalues is at least the count at the
    branch point, and positive plus zero at most that sum there.  Outside that range another eigenvalue
    crossed (or sits on) zero between the branch point and the trial point: a nearly coincident
    crossing, which continuing from there would never see; a trial closer to the branch point is taken
    instead.
    Where another crossing is near (two eigenvalues of the data a fraction of a percent apart), Newton
    from a trial point can slide onto a branch of a smaller subspace that also lives in ``new_span``'s
    fixed-point subspace (the parent's amplitude driven to zero: the branch of the other crossing);
    that point is rejected.  If no trial point is accepted, the trials are repeated from the parent
    branch at ``p* + mu`` (``parent_at``) instead of at ``p*``: the parent's own amplitudes then start at
    their value at the trial parameter.

    Parameters
    ----------
    problem : ContinuationProblem
        The problem.
    theta : numpy.ndarray
        The branch point (internal units).
    p : float
        The parameter at the branch point.
    t : numpy.ndarray
        Unit kernel vector (the direction of the new branch).
    coeffs : dict
        From :func:`reduced_coefficients`.
    new_span : Span
        The character span of the new branch (its fixed-point subspace).
    kind : str
        ``"pitchfork"`` (amplitude from ``c3``) or anything else (transcritical, from ``c2``).
    options : ContinuationOptions
        Newton tolerance and iterations.
    p_range : tuple of float
        ``(lo, hi)``: the first point's parameter stays inside.
    parent_at : callable, optional
        ``parent_at(p)``: the parent branch's point at ``p`` (a start for Newton), for the second round of trials.
    at_point : Inertia, optional
        :func:`~statvae.bifurcation.stability.inertia` at ``(theta, p)`` over the cosets of ``new_span``, with
        ``common_scale=True``.

    Returns
    -------
    tuple or None
        ``None`` if no trial step converged to a point of the new branch away from the parent branch.
    """
    S = new_span.fixed_subspace()
    lo, hi = p_range
    c_ap, c2, c3 = coeffs["c_ap"], coeffs["c2"], coeffs["c3"]
    tries = []
    if kind == "pitchfork":
        if c3 == 0 or c_ap == 0:
            return None
        sign = -np.sign(c_ap * c3)
        tries = [(sign, lambda mu: np.sqrt(max(-6 * c_ap * mu / c3, 0.0)))]
    else:
        if c2 == 0:
            return None
        tries = [(+1.0, lambda mu: -2 * c_ap * mu / c2), (-1.0, lambda mu: -2 * c_ap * mu / c2)]
    scale = max(abs(p), 1e-3 * (abs(lo) + abs(hi)), 1e-12)
    wanted = new_span.key()
    def before_any_other_crossing(th: np.ndarray, q: float) -> bool:
        if at_point is None:
            return True
        here = inertia(problem, th, q, new_span, common_scale=True)
        pos, zer, pos1, zer1 = at_point.counts(), at_point.zeros, here.counts(), here.zeros
        return all(pos.get(k, 0) <= pos1.get(k, 0) and pos1.get(k, 0) + zer1.get(k, 0) <= pos.get(k, 0) + zer.get(k, 0)
                   for k in set(pos) | set(zer) | set(pos1) | set(zer1))

    for from_parent in ((False, True) if parent_at is not None else (False,)):
        for sign, amp in tries:
            for eps in (1e-3, 1e-2, 1e-4, 3e-2, 1e-5, 1e-6, 1e-7, 1e-8):
                mu = sign * eps * scale
                if not lo <= p + mu <= hi:
                    continue
                a = amp(mu)
                if a == 0 or not np.isfinite(a):
                    continue
                base = parent_at(p + mu) if from_parent and parent_at is not None else theta
                th, _, ok = correct_at(problem, base + a * t, p + mu, S, options.newton_tol, options.max_newton)
                if not ok:
                    continue
                moved = float(np.abs((th - base) @ t))
                if moved > 0.1 * abs(a) and problem.characters.span_of(th).key() == wanted and \
                        before_any_other_crossing(th, p + mu):
                    return th, p + mu, float(np.sign(mu)), float(a)
    return None
