"""Where a Hessian block at the collapsed point changes inertia, for any graph and any data.

For every representative block ``H(p)`` of :class:`~statvae.analysis.compiled.CompiledCollapse`
that couples a latent, the values of the hyper-parameter ``p`` at which an
eigenvalue crosses zero are found in one of two ways:

* **generalized eigenvalues** when the block is affine in ``p`` or in ``1/p``
  (a fixed decoder variance, a KL weight, a weight decay, a fixed encoder
  variance: the collapsed point does not move with ``p``).  The affinity is
  *checked* at three further values of ``p``; then ``H(p) = A + t B`` and the
  crossings are the real generalized eigenvalues ``t`` of the pencil
  ``(A, -B)`` after the common kernel of ``A`` and ``B`` (flat directions for
  every ``p``) is removed.  Nothing is scanned, so no crossing is missed and
  the scale of the data does not matter.
* **a scan and Brent's method** otherwise: the number of ascent directions of
  each block on an adaptive logarithmic grid around the reference scale
  (:func:`statvae.analysis.scan.adaptive_scan`: extended outward until the
  eigenvalues settle, up to a stated bound), every change located by Brent's
  method on the crossing eigenvalue.

Each crossing is then *verified*: the block's count of ascent directions
must differ just below and just above it (a relative offset of at most
1e-6, smaller than the gap to any neighbouring crossing).  A root where it
does not (an eigenvalue touching zero) is not a crossing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import AnalysisError
from .compiled import RTOL, WINDOW, BlockKey, CompiledCollapse, balance
from .scan import adaptive_scan

__all__ = ["Crossing", "find_crossings"]


@dataclass(frozen=True)
class Crossing:
    """A value of the hyper-parameter where one block of the collapse Hessian changes inertia.

    Attributes
    ----------
    value : float
    key : BlockKey
        The block (its ``copies`` identical blocks cross together).
    count_below, count_above : int
        Ascent directions of one copy of the block just below and just above.
    kernel_dim : int
        Eigenvalues crossing zero in the real model (``|change| * copies``).
    interval : tuple
        A bracket ``(lo, hi)`` on which the count was seen to change.
    method : str
        ``"generalized eigenvalue"`` or ``"bracketed root"``.
    """

    value: float
    key: BlockKey
    count_below: int
    count_above: int
    kernel_dim: int
    interval: tuple
    method: str


def _pencil_roots(a: np.ndarray, b: np.ndarray, scale: np.ndarray | None = None) -> list:
    """Real finite ``t`` with ``det(A + t B) = 0`` on the complement of the common kernel of A and B.

    ``scale``: a congruence ``S`` (``S A S``, ``S B S`` have the same roots) that balances the
    entries, so that blocks mixing curvatures of very different sizes keep their precision.
    """
    if scale is not None:
        a, b = scale[:, None] * a * scale[None, :], scale[:, None] * b * scale[None, :]
    m = np.vstack([a, b])
    if not np.any(m):
        return []
    _, s, vt = np.linalg.svd(m)
    rank = int((s > 1e-12 * s[0]).sum())
    q = vt[:rank].T
    a2, b2 = q.T @ a @ q, q.T @ b @ q
    a2, b2 = (a2 + a2.T) / 2, (b2 + b2.T) / 2
    definite = _semidefinite_roots(a2, b2)
    if definite is not None:
        return definite
    from scipy import linalg  # scipy loads when crossings are sought, not on import
    w = linalg.eigvals(a2, -b2, homogeneous_eigvals=True)
    alpha, beta = w[0], w[1]
    norm = np.sqrt(np.abs(alpha) ** 2 + np.abs(beta) ** 2)
    out = []
    for al, be, nr in zip(alpha, beta, norm):
        if nr == 0 or abs(be) <= 1e-13 * nr:
            continue
        t = al / be
        if abs(t.imag) <= 1e-7 * max(abs(t.real), 1e-300) or abs(t.imag) <= 1e-12:
            out.append(float(t.real))
    return out


def _semidefinite_roots(a: np.ndarray, b: np.ndarray) -> list | None:
    """Roots of ``det(A + t B)`` when ``B`` is semidefinite, as a symmetric-definite problem (else None).

    With ``B = U diag(w) U^T`` split into its range ``R`` (``w`` of one sign) and
    null space ``N``, ``A + t B`` is singular iff the Schur complement
    ``S = A_RR - A_RN A_NN^-1 A_NR`` has ``S x = -t B_RR x``: a symmetric-definite
    generalized eigenproblem, accurate even when the blocks mix curvatures of
    very different sizes (a tiny noise variance), where the general QZ pencil
    loses the small roots.  Needs ``A_NN`` well conditioned.
    """
    w, u = np.linalg.eigh(b)
    top = float(np.abs(w).max()) if w.size else 0.0
    if top == 0:
        return None
    rng = np.abs(w) > 1e-12 * top
    if not (np.all(w[rng] > 0) or np.all(w[rng] < 0)):
        return None
    sign = 1.0 if np.all(w[rng] > 0) else -1.0
    a_r = u.T @ a @ u
    r, n = np.nonzero(rng)[0], np.nonzero(~rng)[0]
    if len(n):
        ann = a_r[np.ix_(n, n)]
        if np.linalg.cond(ann) > 1e12:
            return None
        s_ = a_r[np.ix_(r, r)] - a_r[np.ix_(r, n)] @ np.linalg.solve(ann, a_r[np.ix_(n, r)])
    else:
        s_ = a_r[np.ix_(r, r)]
    s_ = (s_ + s_.T) / 2
    d = np.diag(w[r])
    # (S + t D) x = 0  <=>  S x = -t D x;  with sign*D positive definite: eigh(-sign*S, sign*D) gives t
    try:
        from scipy import linalg
        t = linalg.eigh(-sign * s_, sign * d, eigvals_only=True)
    except (np.linalg.LinAlgError, ValueError):
        return None
    return [float(x) for x in t]


def _cluster(values: list, rtol: float = 1e-9) -> list:
    out: list = []
    for v in sorted(values):
        if out and abs(v - out[-1]) <= rtol * max(abs(v), 1e-300):
            continue
        out.append(v)
    return out


def _verify(cc, key, v, neighbours, method, nonnegative):
    """A verified Crossing at ``v`` for one block, or None if the block's count does not change there."""
    others = [u for u in neighbours if u != v]
    gap = min([abs(u - v) / abs(v) for u in others] + [1.0])
    for rel in (1e-6, 1e-4):
        d = min(rel, 0.3 * gap)
        lo, hi = v * (1 - d), v * (1 + d)
        if lo <= 0 and not nonnegative:
            continue
        try:
            cb = cc.counts(lo, [key])[key]
            ca = cc.counts(hi, [key])[key]
        except AnalysisError:
            return None
        if cb != ca:
            return Crossing(float(v), key, cb, ca, abs(ca - cb) * key.copies, (float(lo), float(hi)), method)
    return None


def _affine_roots(kind: str, a: np.ndarray, b: np.ndarray, center: float) -> list:
    """Positive parameter values where ``A + t B`` is singular (``t = p`` or ``1/p``)."""
    t0 = center if kind == "linear" else 1.0 / center
    ts = _pencil_roots(a, b, balance(a + t0 * b))
    ps = [t if kind == "linear" else (1.0 / t if t != 0 else np.inf) for t in ts]
    return [p for p in ps if np.isfinite(p) and p > 0]


def _centers(values: list) -> list:
    """Geometric centres of groups of positive values, each group spanning less than WINDOW / 10."""
    out: list = []
    group: list = []
    for v in sorted(values):
        if group and v > group[0] * WINDOW / 10:
            out.append(float(np.sqrt(group[0] * group[-1])))
            group = []
        group.append(v)
    if group:
        out.append(float(np.sqrt(group[0] * group[-1])))
    return out


def gap_probes(values: list[float]) -> list[float]:
    """One probe in each gap of sorted distinct ``values``: below the first, between each pair, above the last.

    Parameters
    ----------
    values : list of float
        Sorted, distinct parameter values.

    Returns
    -------
    list of float
        ``len(values) + 1`` probes.

    The same probes :meth:`CollapseAnalysis._boundaries` uses, so the compiled
    counts computed here are reused there (``CompiledCollapse.count_vector`` caches them).
    """
    return [values[0] / 2] + [(a + b) / 2 for a, b in zip(values, values[1:])] + [values[-1] * 2 + 1]


def _verify_gaps(cc, keys, roots: dict) -> list:
    """Crossings among every block's pencil roots, confirmed by the compiled counts in the gaps between them.

    An affine block's eigenvalues cross zero only at its pencil roots, so the
    count is constant in each gap of the union of all roots: one evaluation
    per gap (not two per root) confirms every crossing and its kernel size,
    and drops roots where no eigenvalue changes sign (touches).
    """
    allv = _cluster([v for vs in roots.values() for v in vs], rtol=1e-12)
    if not allv:
        return []
    probes = gap_probes(allv)
    pos = {k: i for i, k in enumerate(cc.keys)}
    counts = [cc.count_vector(q) for q in probes]
    out = []
    for k in keys:
        for v in roots[k]:
            i = int(np.argmin([abs(u - v) for u in allv]))
            cb, ca = int(counts[i][pos[k]]), int(counts[i + 1][pos[k]])
            if cb != ca:
                out.append(Crossing(float(v), k, cb, ca, abs(ca - cb) * k.copies, (float(probes[i]),
                                    float(probes[i + 1])), "generalized eigenvalue"))
    return sorted(out, key=lambda c: c.value)


def _safe(f, p):
    try:
        return f(p)
    except AnalysisError:
        return None


def _bracketed(cc, key, a, b, rank):
    """Root of the ``rank``-th eigenvalue of one block between ``a`` and ``b`` (their counts differ)."""
    def f(q):
        return cc.crossing_eigenvalue(q, key, rank)

    fa, fb = f(a), f(b)
    if fa * fb < 0:
        from scipy.optimize import brentq
        return brentq(f, a, b, xtol=4e-16 * max(abs(a), abs(b)), rtol=8.9e-16, maxiter=200)
    ca = cc.counts(a, [key])[key]
    for _ in range(200):  # the eigenvalue hugs zero on one side: bisect on the count instead
        m = 0.5 * (a + b)
        if m in (a, b):
            break
        if cc.counts(m, [key])[key] == ca:
            a = m
        else:
            b = m
    return 0.5 * (a + b)


def find_crossings(cc: CompiledCollapse, scale: float, nonnegative: bool = False, keys=None,
                   progress=None) -> list:
    """Every crossing of the latent blocks of ``cc``, sorted by value.

    Parameters
    ----------
    cc : CompiledCollapse
    scale : float
        Reference scale of the parameter (where the affinity test and the
        scan are centred); crossings far from it are still found exactly in
        the affine case.
    nonnegative : bool
        The parameter may be zero (weight decays).
    keys : list of BlockKey, optional
        Blocks to search (default: every latent block).
    progress : callable, optional
        ``progress(message)`` during a scan.

    Returns
    -------
    list of Crossing
    """
    keys = cc.latent_keys() if keys is None else list(keys)
    if not keys:
        return []
    kind = cc.fit_affine(scale)
    out = []
    if kind is not None:
        forms = cc.affine[1]
        roots = {}
        for k in keys:
            a, b = forms[k]
            ps = _affine_roots(kind, a, b, scale)
            far = [p for p in ps if not cc.in_window(p)]
            if far:  # far from the fit, A + t B cancels: refit around each group of far roots
                ps = [p for p in ps if cc.in_window(p)]
                for center in _centers(far):
                    local = cc.local_affine(center, [k], kind=kind)
                    if local is None:
                        ps += [p for p in far if center / WINDOW <= p <= center * WINDOW]
                        continue
                    la, lb = local[1][k]
                    ps += [p for p in _affine_roots(kind, la, lb, center)
                           if center / WINDOW <= p <= center * WINDOW]
            roots[k] = _cluster([p for p in ps if np.isfinite(p) and p > 0])
        return _verify_gaps(cc, keys, roots)
    def eig(p):
        return cc.eigenvalues(p, keys)

    def flat(p):
        e = eig(p)
        return np.concatenate([e[k] for k in keys])

    res = adaptive_scan(lambda p: _safe(flat, p), scale, nonnegative, per_decade=10, progress=progress)
    roots = {k: [] for k in keys}
    sizes = [len(k.indices) for k in keys]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    for a, b, fa, fb in zip(res.grid, res.grid[1:], res.values, res.values[1:]):
        if fa is None or fb is None:
            continue
        for n, k in enumerate(keys):
            ca = int((fa[offsets[n]:offsets[n + 1]] > RTOL).sum())
            cb = int((fb[offsets[n]:offsets[n + 1]] > RTOL).sum())
            lo_c, hi_c = sorted((ca, cb))
            for rank in range(lo_c, hi_c):
                roots[k].append(_bracketed(cc, k, a, b, rank))
    for k in keys:
        ps = _cluster([p for p in roots[k] if p > 0])
        for v in ps:
            c = _verify(cc, k, v, ps, "bracketed root", nonnegative)
            if c is not None:
                out.append(c)
    return sorted(out, key=lambda c: c.value)
