"""``statvae.track``: the bifurcation diagram of a model on data, its collapsed branch self-checked.

The driver (:func:`statvae.bifurcation.api.follow`) follows the collapsed
branch, locates its special points and switches branches; here every branch
point located on the collapsed branch is confirmed by an independent
evaluation of the compiled Hessian's blocks (:mod:`statvae.analysis.selfcheck`)
and, with ``certify=True``, re-located in 30-digit arithmetic.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..bifurcation.api import follow
from ..bifurcation.certify import certify_diagram
from ..bifurcation.diagram import BifurcationDiagram
from ..data.units import Units
from ..model import hyper as H
from ..model.vae import Model
from .compiled import CompiledCollapse
from .selfcheck import confirm_crossings

__all__ = ["track"]


def track(model: Model, data: ArrayLike | None = None, *, spectrum: Any = None, covariance: ArrayLike | None = None,
          samples: ArrayLike | None = None, parameter: str = "sigma2", start: float, stop: float,
          values: dict[str, Any] | None = None, ddof: int = 1, progress: Callable[[str], object] | None = None,
          center: bool = True, standardize: bool = False, **options: Any) -> BifurcationDiagram:
    """Bifurcation diagram of the stationary points of ``model`` as ``parameter`` goes from ``start`` to ``stop``.

    Parameters
    ----------
    model : VAEModel
    data, spectrum, covariance, samples
        The data, once: a spectrum, a covariance, samples (rows), or ``data``
        (1-D: spectrum; square symmetric: covariance; else samples).
    parameter : str
        Continuation parameter (a hyper-parameter of the model).
    start, stop : float
        The range; the collapsed branch is followed from ``start`` to ``stop``.
    values : dict, optional
        Values of other hyper-parameters (the model's numbers are defaults).
    progress : callable, optional
        ``progress(message)`` is called as the run advances.
    center, standardize : bool, optional
        The data options: centre samples (default); divide each feature by
        its standard deviation (:func:`statvae.data.resolve.prepare_data`).
        What was done is in ``diagram.meta["preprocessing"]``.
    **options
        Fields of :class:`~statvae.bifurcation.continuation.ContinuationOptions`
        (``ds_max``, ``max_steps``, ``depth``, ``algorithm``, ...).

    Returns
    -------
    BifurcationDiagram

    Examples
    --------
    >>> import statvae
    >>> d = statvae.track(statvae.LinearVAE(3, 2, beta=1), spectrum=[3.0, 2.0, 1.0], start=4.0, stop=0.5)
    >>> [round(s.parameter, 12) for s in d.special_points("branch point", branch=0)]
    [1.0, 2.0, 3.0]
    """
    from ..validate import check_track_call  # every argument, before any work

    check_track_call(model, data, spectrum, covariance, samples, parameter, start, stop, values, ddof, progress,
                     options)
    t0 = time.perf_counter()
    run = follow(model, data, spectrum=spectrum, covariance=covariance, samples=samples, parameter=parameter,
                 start=start, stop=stop, values=values, ddof=ddof, progress=progress, center=center,
                 standardize=standardize, **options)
    diagram = run.diagram
    _confirm_collapsed_branch(model, diagram, run.resolved, parameter, run.problem.user_values, start, stop,
                              run.units)
    if run.options.certify:  # every located point of the collapsed branch, compiled and bound once
        certify_diagram(model, diagram, branch=0)
    diagram.meta["seconds"] = time.perf_counter() - t0
    return diagram


def _confirm_collapsed_branch(model: Model, diagram: BifurcationDiagram, resolved: Any, parameter: str,
                              values: dict[str, Any], start: float, stop: float, units: Units | None = None) -> None:
    """Self-check: the branch points located on the collapsed branch against the compiled Hessian's blocks.

    An independent evaluation (:class:`statvae.analysis.CompiledCollapse`:
    its own collapsed point, latent dimensions reduced to the block types)
    must see exactly ``kernel_dim`` eigenvalues cross zero at each located
    point; a disagreement raises :class:`~statvae.errors.AnalysisError`.
    """
    units = units or Units()
    pts = [(units.value_in(parameter, s.parameter), s.kernel_dim)
           for s in diagram.special_points("branch point", branch=0) if s.status == "located"]
    if not pts:
        return
    values = units.values_in(values)
    if resolved.covariance is not None:
        cc = CompiledCollapse(model, parameter, values, covariance=units.data_in(resolved.covariance))
    else:
        cc = CompiledCollapse(model, parameter, values, spectra=units.data_in(resolved.spectra))
    lo, hi = sorted((abs(units.value_in(parameter, start)), abs(units.value_in(parameter, stop))))
    cc.fit_affine(float(np.sqrt(lo * hi)) if lo > 0 else hi)
    confirm_crossings(cc, parameter, pts, H.spec(parameter).nonnegative)
    diagram.meta["self_check"] = f"{len(pts)} branch point(s) of the collapsed branch confirmed by the compiled Hessian"
