"""Two-parameter continuation of branch points: loci in a plane, for phase diagrams.

A branch point of the collapsed branch is the zero of the crossing eigenvalue
of one Hessian block.  Its locus in the plane (``parameter``, ``along``) is
followed by natural-parameter continuation in ``along``: at each value the
point is re-located in ``parameter`` by Brent's method on that block's
eigenvalue, in a bracket predicted by linear extrapolation from the previous
two loci points and widened until the sign changes; the step in ``along``
halves when the bracket cannot be found.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from ..errors import AnalysisError, DataError, ModelError
from ..data.resolve import resolve_data
from .api import follow
from .problem import problem_for
from .collapsed import collapsed_start
from .continuation import ContinuationOptions, correct_at
from .locate import crossing_eigenvalue
from .symmetry import Span

if TYPE_CHECKING:
    from ..data.resolve import TrackData
    from ..data.units import Units
    from ..model.vae import Model

__all__ = ["PhaseDiagram", "branch_point_loci"]


@dataclass
class PhaseDiagram:
    """Loci of branch points in the plane (``parameter``, ``along``).

    ``loci`` is a list of dicts with ``along`` and ``parameter`` arrays,
    ``label`` and ``kernel_dim``; ``meta`` records the model and data.

    Attributes
    ----------
    parameter : str
        The parameter in which the branch points are located (``sigma2``).
    along : str
        The second parameter, varied along each locus.
    loci : list of dict
        One per branch point followed.
    meta : dict
        Model, spectra and fixed values.
    """

    parameter: str
    along: str
    loci: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain, strictly JSON-compatible data (NaN and infinities as ``{"__float__": ...}`` markers).

        Returns
        -------
        dict
            ``json.dumps(d, allow_nan=False)`` succeeds; :meth:`from_dict`
            rebuilds an equal phase diagram.
        """
        from .diagram import encode_json

        return {"format": "statvae-phase-1", "parameter": str(self.parameter), "along": str(self.along),
                "meta": encode_json(self.meta),
                "loci": [{str(k): encode_json(np.asarray(v) if isinstance(v, (list, np.ndarray)) else v)
                          for k, v in loc.items()} for loc in self.loci]}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the phase diagram as strict JSON (``.json``); :meth:`load` reads it back.

        Parameters
        ----------
        path : str or os.PathLike
            Ends in ``.json``; written to a temporary name and renamed.

        Returns
        -------
        pathlib.Path

        Raises
        ------
        DataError
            Wrong suffix, missing parent directory, a directory at ``path``, or
            the file cannot be written (one line, naming the file).
        """
        from .diagram import strict_json, output_path, write_atomic

        path = output_path(path, (".json",), "phase diagram")
        data = strict_json(self.to_dict(), path).encode("utf-8")
        write_atomic(path, lambda fh: fh.write(data))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PhaseDiagram:
        """Read a phase diagram written by :meth:`save`, checking its structure.

        Parameters
        ----------
        path : str or os.PathLike
            A ``.json`` file.

        Returns
        -------
        PhaseDiagram

        Raises
        ------
        DataError
            One line naming the file: missing, a directory, unreadable, not
            JSON, not a phase diagram, or a structural problem (missing key,
            wrong type, loci arrays of different lengths).
        """
        from .diagram import read_json_result

        d = read_json_result(path, "statvae-phase-1", "phase diagram")
        return cls.from_dict(d, source=str(path))

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str | None = None) -> PhaseDiagram:
        """Rebuild a phase diagram from :meth:`to_dict` data, checking its structure.

        Parameters
        ----------
        d : dict
            As returned by :meth:`to_dict` (or read from a saved file).
        source : str, optional
            Named in error messages (the file it was read from).

        Returns
        -------
        PhaseDiagram

        Raises
        ------
        DataError
            One line saying what is wrong (``source`` names the file).
        """
        from .diagram import (InvalidData, check_array, check_value, decode_json, json_kind, plain_array,
                              required_key, take)

        try:
            d = decode_json(d)
            if not isinstance(d, dict):
                raise InvalidData(f"expected an object at the top level, got {json_kind(d)}")
            if d.get("format") != "statvae-phase-1":
                raise InvalidData(f"format {d.get('format')!r}, expected 'statvae-phase-1'")
            loci = []
            for i, loc in enumerate(take(d, "loci", "the phase diagram", "list")):
                where = f"locus {i + 1}"
                loc = check_value(loc, "dict", where)
                along = check_array(required_key(loc, "along", where), f"{where}: 'along'")
                par = check_array(required_key(loc, "parameter", where), f"{where}: 'parameter'", rows=len(along),
                                  per=f"value of {d.get('along', 'along')!s}")
                out = {k: plain_array(v) for k, v in loc.items()}
                out.update(along=along, parameter=par, kernel_dim=take(loc, "kernel_dim", where, "int"),
                           label=take(loc, "label", where, "str"))
                loci.append(out)
            return cls(take(d, "parameter", "the phase diagram", "str"), take(d, "along", "the phase diagram", "str"),
                       loci, take(d, "meta", "the phase diagram", "dict"))
        except InvalidData as exc:
            raise DataError(f"{source or 'the data'} is not a valid statvae phase diagram: {exc}") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PhaseDiagram) and json.dumps(self.to_dict(), sort_keys=True) == json.dumps(
            other.to_dict(), sort_keys=True)


def branch_point_loci(model: Model, data: ArrayLike | None = None, *, spectrum: Any = None,
                      covariance: ArrayLike | None = None, samples: ArrayLike | None = None, parameter: str = "sigma2",
                      along: str = "beta", start: float, stop: float, along_start: float, along_stop: float,
                      loci: int = 1, steps: int = 30, values: dict[str, Any] | None = None, ddof: int = 1,
                      progress: Callable[[str], object] | None = None, center: bool = True,
                      standardize: bool = False) -> PhaseDiagram:
    """Follow the first ``loci`` branch points of the collapsed branch as ``along`` varies.

    Parameters
    ----------
    model : VAEModel or Model
        The model.
    data, spectrum, covariance, samples
        The data, as for :func:`statvae.track` (one of ``data``, ``spectrum``, ``covariance``).
    parameter : str
        The parameter in which branch points are located (``sigma2``).
    along : str
        The second parameter (``beta``, ``weight_decay_dec``, ...).
    start, stop : float
        Range of ``parameter`` searched at ``along_start`` for the starting points.
    along_start, along_stop : float
        Range of the second parameter.
    loci : int
        How many branch points to follow (the first ``loci`` met from ``start``).
    steps : int
        Number of points per locus (more if steps have to be refined).
    values : dict, optional
        Values of the other hyper-parameters.
    ddof : int
        Degrees of freedom removed from the sample count (samples only), as for :func:`statvae.track`.
    progress : callable, optional
        Called with a line of text after each point of a locus.
    center, standardize : bool, optional
        The data options (:func:`statvae.data.resolve.prepare_data`); what was
        done is in ``meta["preprocessing"]``.

    Returns
    -------
    PhaseDiagram
        One locus per branch point followed; a locus stops early where the
        branch point could not be re-located even with small steps.

    Raises
    ------
    ModelError
        A bad argument (``along`` equal to ``parameter``, unknown names, ...).
    DataError
        Bad data.
    AnalysisError
        No branch point of the collapsed branch in ``[start, stop]`` at ``along_start``.
    """
    from ..validate import check_phase_call  # every argument, before any work
    check_phase_call(model, data, spectrum, covariance, samples, parameter, along, start, stop, along_start, along_stop,
                     loci, steps, values, progress, ddof)
    if along == parameter:
        raise ModelError("along must differ from parameter")
    model.require_hyper(parameter, along)
    say = progress or (lambda m: None)
    values = dict(values or {})
    resolved = resolve_data(model, data, spectrum, covariance, samples, ddof, parameter=parameter,
                            values={**values, along: None}, center=center, standardize=standardize)
    spectra = resolved.spectra
    given = {"spectrum": spectra} if resolved.covariance is None else {"covariance": resolved.covariance}
    first = follow(model, **given, parameter=parameter, start=start, stop=stop,
                   values={**values, along: along_start}, switching=False).diagram
    pts = first.special_points("branch point", branch=0)
    pts = sorted(pts, key=lambda s: abs(s.parameter - start))[:loci]
    if not pts:
        raise AnalysisError(f"no branch point of the collapsed branch for {parameter} in [{min(start, stop)}, "
                            f"{max(start, stop)}] at {along} = {along_start}")
    phase = PhaseDiagram(parameter, along, meta={"model": repr(model), "spectra": {k: v.tolist() for k, v in
                                                                                    spectra.items()},
                                                  "values": {k: float(v) for k, v in values.items()}})
    if resolved.preprocessing is not None and resolved.preprocessing.source != "spectrum":
        phase.meta["preprocessing"] = resolved.preprocessing.to_dict()
    opts = ContinuationOptions(p_min=min(start, stop), p_max=max(start, stop)).resolved()
    units = resolved.units(model)
    grid = np.linspace(along_start, along_stop, steps)
    for n, sp in enumerate(pts):
        key = sp.info.get("coset_keys", [None])[0]
        if key is None:
            continue
        xs, ys = [along_start], [sp.parameter]
        a = along_start
        k = 1
        h = grid[1] - grid[0] if steps > 1 else 0.0
        while k < len(grid) and h != 0:
            target = a + h
            if (h > 0 and target > along_stop + 1e-15) or (h < 0 and target < along_stop - 1e-15):
                target = along_stop
            guess = _extrapolate(xs, ys, target)
            root = _relocate(model, resolved, parameter, {**values, along: target}, key, guess, opts, units)
            if root is None:
                h /= 2
                if abs(h) < 1e-6 * abs(along_stop - along_start):
                    break
                continue
            xs.append(target)
            ys.append(root)
            a = target
            say(f"locus {n + 1}: {along} = {a:.6g}, {parameter} = {root:.6g}")
            if a == along_stop:
                break
            k += 1
        phase.loci.append({"along": np.array(xs), "parameter": np.array(ys), "kernel_dim": sp.kernel_dim,
                           "label": f"branch point {n + 1} ({', '.join(sp.characters[:1])}...)"})
    return phase


def _extrapolate(xs: list[float], ys: list[float], target: float) -> float:
    """Next guess on a locus: linear in log(parameter) (stays in the positive domain), else the last value."""
    if len(ys) < 2 or ys[-1] <= 0 or ys[-2] <= 0 or xs[-1] == xs[-2]:
        return ys[-1]
    slope = (np.log(ys[-1]) - np.log(ys[-2])) / (xs[-1] - xs[-2])
    step = slope * (target - xs[-1])
    return float(ys[-1] * np.exp(np.clip(step, -np.log(4.0), np.log(4.0))))  # at most a factor 4 per step


def _relocate(model: Model, resolved: TrackData, parameter: str, values: dict[str, Any], key: int, guess: float,
              opts: ContinuationOptions, units: Units) -> float | None:
    """Zero of the crossing eigenvalue of block ``key`` on the collapsed branch near ``guess`` (user units).

    Works in the internal units of the data (``units``); the bracket grows
    geometrically around the guess, so it stays inside ``parameter > 0``.
    """
    problem = problem_for(resolved, model, parameter, values, units)
    span = Span(problem.chars)
    S = span.fixed_subspace()
    g = problem.p_in(guess) if guess > 0 else problem.p_in(opts.p_max) * 1e-3
    th0 = collapsed_start(problem, g, opts.newton_tol)

    def f(p: float) -> float:
        th, _, ok = correct_at(problem, th0, p, S, opts.newton_tol, opts.max_newton)
        if not ok:
            return np.nan
        return crossing_eigenvalue(problem, th, p, span, key, 0)[0]

    width = 1e-3
    for _ in range(40):
        lo, hi = g / (1 + width), g * (1 + width)
        flo, fhi = f(lo), f(hi)
        if np.isfinite(flo) and np.isfinite(fhi) and flo * fhi < 0:
            from scipy.optimize import brentq  # scipy loads when a locus is located, not on import
            return problem.p_out(brentq(f, lo, hi, xtol=4e-16 * hi, rtol=8.9e-16, maxiter=200))
        width *= 2
    return None
