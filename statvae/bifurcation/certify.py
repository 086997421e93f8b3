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

__all__ = ["Certificate", "Certifier", "certify_point", "certify_diagram"]


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


class Certifier:
    """Re-locates the branch points of one diagram in high-precision arithmetic, compiling and binding once.

    Parameters
    ----------
    model : Model
        The model the diagram was computed for.
    diagram : BifurcationDiagram
    dps : int
        Decimal digits of the certificates (the arithmetic carries ``dps + 10``).

    Raises
    ------
    AnalysisError
        If the model is too large for the explicit-entry path or the data have no canonical form.
    ModelError
        If ``dps`` is not an integer >= 5.

    Notes
    -----
    The certificate is of the problem as stored: the data and hyper-parameters
    are the diagram's binary floating-point numbers, taken as exact (``3.1``
    is the double nearest to 3.1).
    """

    def __init__(self, model: Any, diagram: Any, dps: int = 30) -> None:
        from ..data.resolve import resolve_spectra
        from ..numeric.bundle import compile_model
        from ..validate import check_integer
        from .problem import ContinuationProblem

        check_integer(dps, "dps", 5)  # fewer digits than a double's are no certificate
        self.model, self.diagram, self.dps = model, diagram, dps
        f = compile_model(model, backend="mpmath", path="explicit", dps=dps + 10)
        if f.layout.size > EXPLICIT_MAX_PARAMETERS:
            raise AnalysisError("certification is for small models (explicit-entry path)")
        if "covariance" in diagram.meta:
            raise AnalysisError("certification works in the canonical basis; these data have none for this model "
                                f"({diagram.meta.get('basis', 'correlated observed variables')})")
        spectra = resolve_spectra(model, spectrum={k: np.asarray(v) for k, v in diagram.meta["spectra"].items()})
        self.problem = ContinuationProblem(model, spectra, diagram.parameter, diagram.meta.get("values"))
        self.mp = f.mp
        cov = np.diag(np.concatenate([spectra[v.name] for v in model.graph.observed()]))
        self.bound = f.bind(covariance=cov, **dict(self.problem.values), **{diagram.parameter: 1.0})

    def certify(self, point_id: int) -> Certificate:
        """Re-locate special point ``point_id`` with :attr:`dps` digits and mark it ``certified``.

        The search starts from the float bracket (widened by four of its
        widths), runs the Illinois method on the signed crossing eigenvalue of
        the kernel block, and stops when the bracket is ``10^-dps`` relative,
        or when the eigenvalue is zero to the working precision.  Each
        stationary point is solved by Newton's method from the previous one.

        Parameters
        ----------
        point_id : int
            A located branch point of the diagram.

        Returns
        -------
        Certificate
            Also stored in the point's ``info["certified"]`` (and saved with it).

        Raises
        ------
        AnalysisError
            If the point is not a located branch point, the crossing does not
            change sign in the bracket, or the bracket does not shrink.
        """
        from .symmetry import Span

        mp, dps, diagram = self.mp, self.dps, self.diagram
        sp_ = diagram.points[point_id]
        if sp_.kind != "branch point" or sp_.status == "detected" or not sp_.info.get("coset_keys"):
            raise AnalysisError(f"point {point_id} is not a located branch point")
        span = Span(self.problem.characters)
        for gen in diagram.branches[sp_.branch].span:
            span.add(int(gen))
        S = span.fixed_subspace()
        key = sp_.info["coset_keys"][0]
        block = [b for b, k in zip(span.blocks(), span.block_keys()) if k == key][0]
        tol_grad = mp.mpf(10) ** (-(dps + 5))
        last = {"theta": np.array([mp.mpf(float(x)) for x in sp_.theta], dtype=object)}

        def stationary(p: Any) -> tuple[Any, np.ndarray]:
            b = self.bound.with_hyper(**{diagram.parameter: mp.mpf(p)})  # every digit of p kept
            th = last["theta"].copy()  # Newton from the previous stationary point: a few steps
            for _ in range(60):
                g = b.gradient(th)
                gs = [g[i] for i in S]
                if max(abs(x) for x in gs) < tol_grad:
                    break
                h = b.hessian(th)
                hs = mp.matrix([[h[i][j] for j in S] for i in S])
                step = mp.lu_solve(hs, mp.matrix([-x for x in gs]))
                for k, i in enumerate(S):
                    th[i] = th[i] + step[k]
            last["theta"] = th
            return b, th

        def crossing(p: Any) -> tuple[Any, Any]:
            b, th = stationary(p)
            h = b.hessian(th)
            hb = mp.matrix([[h[i][j] for j in block] for i in block])
            eig = mp.eigsy(hb, eigvals_only=True)
            scale = max(abs(e) for e in eig) or mp.mpf(1)
            return min(eig, key=lambda e: abs(e)), scale  # the crossing one, signed; the block's scale

        lo, hi = sp_.interval
        width = max(hi - lo, 1e-14 * abs(sp_.parameter))
        a, c = mp.mpf(lo) - 4 * width, mp.mpf(hi) + 4 * width
        (fa, _), (fc, _) = crossing(a), crossing(c)
        if fa * fc > 0:
            raise AnalysisError("certification failed: the crossing eigenvalue does not change sign in the bracket")
        value = None
        zero = mp.mpf(10) ** (-(dps + 5))
        for _ in range(400):  # Illinois (regula falsi) to dps digits
            m = (a * fc - c * fa) / (fc - fa)
            fm, scale = crossing(m)
            if abs(fm) <= zero * scale:  # zero to the working precision: the bracket would stop shrinking
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
            raise AnalysisError(f"certification failed: the bracket of point {point_id} did not shrink to {dps} "
                                f"digits in 400 steps (it is [{mp.nstr(min(a, c), dps)}, {mp.nstr(max(a, c), dps)}])")
        cert = Certificate(mp.nstr(value, dps), dps, float(abs(value - sp_.parameter)))
        sp_.status = "certified"
        sp_.info["certified"] = cert.to_dict()
        return cert


def certify_point(model: Any, diagram: Any, point_id: int, dps: int = 30) -> Certificate:
    """Re-locate special point ``point_id`` of ``diagram`` with ``dps`` digits and mark it ``certified``.

    Only for branch points with a kernel block and for models small enough for
    the explicit-entry path.  For every point of a diagram use
    :func:`certify_diagram` (it compiles and binds once).

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
    sp_ = diagram.points.get(point_id)
    if sp_ is None or sp_.kind != "branch point" or sp_.status == "detected" or not sp_.info.get("coset_keys"):
        raise AnalysisError(f"point {point_id} is not a located branch point")
    return Certifier(model, diagram, dps).certify(point_id)


def certify_diagram(model: Any, diagram: Any, dps: int = 30, branch: int | None = None) -> list[Certificate]:
    """Certify every located branch point of ``diagram`` (of one ``branch``, or all) in one pass.

    Parameters
    ----------
    model : Model
    diagram : BifurcationDiagram
    dps : int
        Decimal digits.
    branch : int, optional
        Only the points of this branch.

    Returns
    -------
    list of Certificate
        In the order of :meth:`BifurcationDiagram.special_points`.

    Raises
    ------
    AnalysisError
        As :func:`certify_point`.
    """
    pts = [s for s in diagram.special_points("branch point", branch=branch)
           if s.status != "detected" and s.info.get("coset_keys")]
    if not pts:
        return []
    c = Certifier(model, diagram, dps)
    return [c.certify(s.id) for s in pts]
