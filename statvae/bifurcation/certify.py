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

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import AnalysisError, DataError
from ..numeric.bundle import EXPLICIT_MAX_PARAMETERS

__all__ = ["Certificate", "certify_point"]


@dataclass(frozen=True)
class Certificate:
    """A branch point re-located in high-precision arithmetic.

    Attributes
    ----------
    value : str
        The parameter value to ``digits`` significant digits (a decimal string:
        no float rounding).
    digits : int
    difference : float
        ``|certified - located|``: how far the float location was off.

    Examples
    --------
    >>> c = Certificate("1.00000000000000000000000000000", 30, 2e-16)
    >>> Certificate.from_dict(c.to_dict()) == c
    True
    """

    value: str
    digits: int
    difference: float

    def to_dict(self) -> dict:
        """The saved form (``info["certified"]`` of the point)."""
        return {"value": self.value, "digits": self.digits, "difference": self.difference}

    @classmethod
    def from_dict(cls, d: Any) -> Certificate:
        """Inverse of :meth:`to_dict`; a malformed entry raises :class:`~statvae.errors.DataError`.

        Parameters
        ----------
        d : dict
            ``value``, ``digits`` and ``difference``.

        Returns
        -------
        Certificate

        Raises
        ------
        DataError
            A key is missing or a value has the wrong type.
        """
        try:
            return cls(str(d["value"]), int(d["digits"]), float(d["difference"]))
        except (KeyError, TypeError, ValueError):
            raise DataError(f"a certificate needs value, digits and difference, got {d!r}") from None

    def mpf(self) -> Any:
        """The value as an mpmath number at ``digits`` digits."""
        import mpmath

        with mpmath.workdps(self.digits + 5):
            return mpmath.mpf(self.value)


def certify_point(model: Any, diagram: Any, point_id: int, dps: int = 30) -> Certificate:
    """Re-locate special point ``point_id`` of ``diagram`` with ``dps`` digits and mark it ``certified``.

    Only for branch points with a kernel block and for models small enough for
    the explicit-entry path.

    Parameters
    ----------
    model : Model
        The model the diagram was computed for.
    diagram : BifurcationDiagram
    point_id : int
        A located branch point of ``diagram``.
    dps : int
        Decimal digits.

    Returns
    -------
    Certificate
        Also stored in the point's ``info["certified"]`` (and saved with it).

    Raises
    ------
    AnalysisError
        If the point is not a located branch point, the model is too large,
        the data have no canonical form, or the crossing does not change sign.
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

    bound = f.bind(covariance=cov, **vals, **{diagram.parameter: 1.0})

    def stationary(p):
        b = bound.with_hyper(**{diagram.parameter: mp.mpf(p)})  # every digit of p kept
        th = np.array(theta0, dtype=object)
        for _ in range(60):
            g = b.gradient(th)
            gs = [g[i] for i in S]
            if max(abs(x) for x in gs) < mp.mpf(10) ** (-(dps + 5)):
                break
            h = b.hessian(th)
            hs = mp.matrix([[h[i][j] for j in S] for i in S])
            step = mp.lu_solve(hs, mp.matrix([-x for x in gs]))
            for k, i in enumerate(S):
                th[i] = th[i] + step[k]
        return b, th

    def crossing(p):
        b, th = stationary(p)
        h = b.hessian(th)
        hb = mp.matrix([[h[i][j] for j in block] for i in block])
        return min(mp.eigsy(hb, eigvals_only=True), key=lambda e: abs(e))  # the crossing one, signed

    lo, hi = sp_.interval
    width = max(hi - lo, 1e-14 * abs(sp_.parameter))
    a, c = mp.mpf(lo) - 4 * width, mp.mpf(hi) + 4 * width
    fa, fc = crossing(a), crossing(c)
    if fa * fc > 0:
        raise AnalysisError("certification failed: the crossing eigenvalue does not change sign in the bracket")
    value = None
    for _ in range(400):  # Illinois (regula falsi) to dps digits
        m = (a * fc - c * fa) / (fc - fa)
        fm = crossing(m)
        if fm == 0:  # an exact zero: the bracket would stop shrinking around it
            value = m
            break
        if fm * fc < 0:
            a, fa = c, fc
        else:
            fa = fa / 2
        c, fc = m, fm
        if abs(c - a) < mp.mpf(10) ** (-dps) * abs(m):
            value = (a + c) / 2
            break
    if value is None:
        raise AnalysisError(f"certification failed: the bracket of point {point_id} did not shrink to {dps} digits "
                            f"in 400 steps (it is [{mp.nstr(min(a, c), dps)}, {mp.nstr(max(a, c), dps)}])")
    text = mp.nstr(value, dps)
    cert = Certificate(text, dps, float(abs(value - sp_.parameter)))
    sp_.status = "certified"
    sp_.info["certified"] = cert.to_dict()
    return cert
