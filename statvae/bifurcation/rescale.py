"""Map a diagram computed in internal units (:mod:`statvae.data.units`) back to the user's units.

The tracker runs on data divided by a power of two near their size, so that
its tolerances, step sizes and inertia counts see numbers of order one.
Everything it records is then brought back here: parameter values,
intervals, parameter vectors, kernel vectors (``H_user = T H_int T`` with
``T`` the diagonal of :meth:`Units.theta_factors`, so null vectors map by
``T^-1``), the ``p``-offsets and the ``c_ap`` coefficient of the reduced
equations.  Observables are computed in the user's units from the start.
Amplitudes along kernel vectors (``a``, ``c2``, ``c3``) stay in the
normalised coordinates of the run, which ``meta["units"]`` records.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .locate import sparse_vector

__all__ = ["diagram_to_user"]


def diagram_to_user(diagram: Any, problem: Any, scratch: dict | None = None) -> None:
    """Rewrite ``diagram`` (in place) from ``problem``'s internal units to the user's.

    Parameters
    ----------
    diagram : BifurcationDiagram
    problem : ContinuationProblem
        Carries the :class:`~statvae.data.units.Units` of the run.
    scratch : dict, optional
        The driver's per-point samples (point id -> record with ``parent_rows``), rescaled too.
    """
    units = problem.units
    diagram.meta["units"] = units.to_dict()
    if units.identity:
        return
    f = problem.theta_factors
    k = units.factor(problem.parameter)  # internal p = k * user p

    def p_out(p):
        return float(p) / k

    for key in ("start", "stop"):
        if key in diagram.meta:
            diagram.meta[key] = p_out(diagram.meta[key])
    opts = diagram.meta.get("options")
    if opts:
        for key in ("p_min", "p_max"):
            if opts.get(key) is not None:
                opts[key] = p_out(opts[key])
    for b in diagram.branches.values():
        b.parameter = np.asarray(b.parameter, dtype=float) / k
        if b.theta is not None:
            b.theta = np.asarray(b.theta, dtype=float) / f[None, :]
    for sp in diagram.points.values():
        sp.parameter = p_out(sp.parameter)
        sp.interval = (p_out(sp.interval[0]), p_out(sp.interval[1]))
        if sp.theta is not None:
            sp.theta = np.asarray(sp.theta, dtype=float) / f
        vecs = sp.info.get("kernel_vectors")
        if vecs:
            out = []
            for v in vecs:
                w = np.asarray(v, dtype=float) / f
                out.append(w / np.linalg.norm(w))
            sp.info["kernel_vectors"] = out
            sp.kernel = [sparse_vector(w) for w in out]
        if scratch and sp.id in scratch:  # the driver's samples of the parent branch near the point
            for r in scratch[sp.id].parent_rows:
                r["p"] = p_out(r["p"])
        for br in sp.info.get("branches", []):
            for r in br.get("near_threshold", []):
                r["p"] = p_out(r["p"])
            pred = br.get("predicted_amplitude_at")
            if pred:
                pred["mu"] = float(pred["mu"]) / k
            c = br.get("coefficients")
            if c and "c_ap" in c:
                c["c_ap"] = float(c["c_ap"]) * k
                if br.get("amplitude_law") and c.get("c3"):
                    br["amplitude_law"] = (f"a^2 = {-6 * c['c_ap'] / c['c3']:.12g} * ({problem.parameter} - p*) "
                                           f"(a in normalised units, meta['units'])")
