"""Certification of located branch points at high precision with the mpmath backend (small models).

The point is re-located from scratch in mpmath arithmetic: for a trial
parameter the stationary point in the branch's fixed-point subspace is found
by Newton's method on the exact gradient (explicit-entry code at ``dps``
digits), the crossing eigenvalue of the kernel block comes from
``mpmath.eigsy`` on the exact Hessian block, and its zero is bracketed and
refined by the Illinois method inside the float bracket widened by a factor.
The certified value agrees with the float one to the float precision.
"""

from __future__ import annotations

import numpy as np

from ..errors import AnalysisError
from ..numeric.bundle import EXPLICIT_MAX_PARAMETERS

__all__ = ["certify_point"]


def certify_point(model, diagram, point_id: int, dps: int = 30) -> dict:
    """Re-locate special point ``point_id`` of ``diagram`` with ``dps`` digits.

    Returns ``{"value": str, "digits": dps, "difference": float}`` and marks the
    point ``certified``.  Only for branch points with a kernel block and for
    models small enough for the explicit-entry path.
    """

    sp_ = diagram.points[point_id]
    if sp_.kind != "branch point" or sp_.status == "detected" or not sp_.info.get("coset_keys"):
        raise AnalysisError(f"point {point_id} is not a located branch point")
    from ..numeric.bundle import compile_model

    f = compile_model(model, backend="mpmath", path="explicit", dps=dps + 10)
    if f.layout.size > EXPLICIT_MAX_PARAMETERS:
        raise AnalysisError("certification is for small models (explicit-entry path)")
    from ..data.resolve import resolve_spectra
    from .problem import ContinuationProblem

    if "covariance" in diagram.meta:
        raise AnalysisError("certification works in the canonical basis; these data have none for this model "
                            f"({diagram.meta.get('basis', 'correlated observed variables')})")

    spectra = {k: np.asarray(v) for k, v in diagram.meta["spectra"].items()}
    spectra = resolve_spectra(model, spectrum=spectra)
    prob = ContinuationProblem(model, spectra, diagram.parameter, diagram.meta.get("values"))
    branch = diagram.branches[sp_.branch]
    from .symmetry import Span

    span = Span(prob.characters)
    for gen in branch.span:
        span.add(int(gen))
    S = span.fixed_subspace()
    key = sp_.info["coset_keys"][0]
    block = [b for b, k in zip(span.blocks(), span.block_keys()) if k == key][0]
    mp = f.mp
    cov = np.diag(np.concatenate([spectra[v.name] for v in model.graph.observed()]))
    vals = {k: v for k, v in prob.values.items()}

    theta0 = [mp.mpf(float(x)) for x in sp_.theta]

    def stationary(p):
        b = f.bind(covariance=cov, **vals, **{diagram.parameter: 1.0})
        b._hyper_args = [mp.mpf(p) if n == diagram.parameter else mp.mpf(float(vals[n]))
                         for n in model.values]
        th = np.array(theta0, dtype=object)
        for _ in range(60):
            g = b._call("gradient", th)
            gs = [g[i] for i in S]
            if max(abs(x) for x in gs) < mp.mpf(10) ** (-(dps + 5)):
                break
            h = b._call("hessian", th)
            hs = mp.matrix([[h[i][j] for j in S] for i in S])
            step = mp.lu_solve(hs, mp.matrix([-x for x in gs]))
            for k, i in enumerate(S):
                th[i] = th[i] + step[k]
        return b, th

    def crossing(p):
        b, th = stationary(p)
        h = b._call("hessian", th)
        hb = mp.matrix([[h[i][j] for j in block] for i in block])
        return min(mp.eigsy(hb, eigvals_only=True), key=lambda e: abs(e))  # the crossing one, signed

    lo, hi = sp_.interval
    width = max(hi - lo, 1e-14 * abs(sp_.parameter))
    a, c = mp.mpf(lo) - 4 * width, mp.mpf(hi) + 4 * width
    fa, fc = crossing(a), crossing(c)
    if fa * fc > 0:
        raise AnalysisError("certification failed: the crossing eigenvalue does not change sign in the bracket")
    for _ in range(400):  # Illinois (regula falsi) to dps digits
        m = (a * fc - c * fa) / (fc - fa)
        fm = crossing(m)
        if fm * fc < 0:
            a, fa = c, fc
        else:
            fa = fa / 2
        c, fc = m, fm
        if abs(c - a) < mp.mpf(10) ** (-dps) * abs(m):
            break
    value = (a + c) / 2
    text = mp.nstr(value, dps)
    sp_.status = "certified"
    sp_.info["certified"] = {"value": text, "digits": dps, "difference": float(abs(value - sp_.parameter))}
    return sp_.info["certified"]
