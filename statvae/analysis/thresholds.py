"""Numeric questions about collapse on the data in hand: critical values, crossings, the Morse index.

One :class:`Question` holds what every answer needs: the parameter, the data
resolved once (:func:`statvae.data.resolve.resolve_data`, the canonical form
checked on the data), the other hyper-parameters' values, and the compiled
Hessian at collapse (:class:`~statvae.analysis.compiled.CompiledCollapse`).
The per-mode closed forms (:mod:`statvae.analysis.permode`) answer when the
data have a canonical form, the compiled blocks (:mod:`statvae.analysis.crossings`)
when they do not; either way every answer is confirmed by the compiled
Hessian just below and above it (:mod:`statvae.analysis.selfcheck`) before it
is returned as a typed result (:mod:`statvae.analysis.results`).
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable
from typing import Any

import numpy as np

from ..data.resolve import ResolvedData, known_values, resolve_data
from ..errors import AnalysisError
from ..model import hyper as H
from .compiled import CompiledCollapse
from .permode import PerModeBlocks, hyper_numbers, latent_copies
from .results import CriticalResult, CrossingResult, ResultStatus

__all__ = ["Question", "ask", "critical_points", "crossings", "ascent_directions", "reference_scale"]

#: Values closer than this (relative) are one value: a cluster of equal roots up to rounding.
CLUSTER_RTOL = 1e-12


@dataclass
class Question:
    """One numeric question about collapse: a parameter, resolved data, values and the compiled Hessian.

    Attributes
    ----------
    analysis : CollapseAnalysis
    parameter : str
    nonnegative : bool
        The parameter may be zero (weight decays).
    data : ResolvedData
    values : dict
        Values of the other hyper-parameters (override the model's).
    compiled : CompiledCollapse
    assumptions : tuple of str
        What the per-mode answer assumes of the data: the analysis'
        assumptions when a spectrum was given, nothing when a covariance was
        (its canonical form is checked on it).
    """

    analysis: Any
    parameter: str
    nonnegative: bool
    data: ResolvedData
    values: dict
    compiled: CompiledCollapse
    assumptions: tuple = ()

    @property
    def canonical(self) -> bool:
        """Whether the per-mode reduction holds for these data."""
        return self.data.covariance is None

    @property
    def scale(self) -> float:
        """Reference scale of the parameter for these data (:func:`reference_scale`)."""
        return reference_scale(self.analysis.model, self.parameter, self.data, self.values)

    def per_mode(self) -> PerModeBlocks:
        """The per-mode blocks as functions of the parameter (canonical data only)."""
        return PerModeBlocks(self.analysis.model, self.analysis.structure, self.parameter, self.data.spectra,
                             self.values)

    def no_value(self, stable: bool, where: str = "") -> AnalysisError:
        """The error for a stability that never changes.

        Parameters
        ----------
        stable : bool
            Whether collapse is stable everywhere (else unstable everywhere).
        where : str
            Appended to the message (``" in the range scanned"``).

        Returns
        -------
        AnalysisError
            To be raised by the caller.
        """
        sign = ">= 0" if self.nonnegative else "> 0"
        return AnalysisError(f"collapse is {'stable' if stable else 'unstable'} for every {self.parameter} "
                             f"{sign}: no critical value{where}")


def ask(analysis: Any, parameter: str, data: Any = None, spectrum: Any = None, covariance: Any = None,
        samples: Any = None, ddof: int = 1, values: dict | None = None, center: bool = True,
        standardize: bool = False) -> Question:
    """Resolve the data and compile the Hessian at collapse for a question about ``parameter``.

    Parameters
    ----------
    analysis : CollapseAnalysis
    parameter : str
        A hyper-parameter of the model (checked by the caller).
    data, spectrum, covariance, samples, ddof
        The data, once (see :func:`statvae.data.resolve.resolve_data`).
    values : dict, optional
        Values of the other hyper-parameters.
    center, standardize : bool, optional
        The data options (:func:`statvae.data.resolve.prepare_data`).

    Returns
    -------
    Question
    """
    model = analysis.model
    values = dict(values or {})
    resolved = resolve_data(model, data, spectrum, covariance, samples, ddof, parameter, values, center, standardize)
    cc = _compiled(model, parameter, hyper_numbers(model, parameter, values), resolved)
    given_spectrum = spectrum is not None or (data is not None and np.ndim(data) == 1)
    assumed = tuple(str(a) for a in analysis.assumptions) if given_spectrum else ()
    return Question(analysis, parameter, H.spec(parameter).nonnegative, resolved, values, cc, assumed)


def _compiled(model: Any, parameter: str, numbers: dict, resolved: ResolvedData) -> CompiledCollapse:
    """The compiled Hessian at collapse as a function of ``parameter`` (other values: ``numbers``)."""
    others = {k.name: float(v) for k, v in numbers.items() if k.name != parameter}
    if resolved.covariance is None:
        return CompiledCollapse(model, parameter, others, spectra=resolved.spectra)
    return CompiledCollapse(model, parameter, others, covariance=resolved.covariance)


def reference_scale(model: Any, parameter: str, data: ResolvedData, values: dict) -> float:
    """Where numeric searches in ``parameter`` are centred: the data's scale in the parameter's units.

    A noise variance scales like the data; a KL weight or weight decay like
    the data over the noise variance; anything else is taken at 1.

    Parameters
    ----------
    model : VAEModel
        The model.
    parameter : str
        The hyper-parameter searched.
    data : ResolvedData
        The resolved data (spectra, or a covariance).
    values : dict
        Values of the other hyper-parameters.

    Returns
    -------
    float
    """
    top = max([float(np.max(s)) for s in data.spectra.values() if len(s)] + [0.0])
    if data.covariance is not None:
        top = max(top, float(np.linalg.eigvalsh(data.covariance).max()))
    top = top if top > 0 and np.isfinite(top) else 1.0
    roles = model.graph.hyper_roles()
    role = roles.get(parameter)
    if role == "noise_variance":
        return top
    if role in ("kl_weight", "weight_decay"):
        noise = [v for n, v in known_values(model, parameter, values).items()
                 if v is not None and roles[n] == "noise_variance"]
        return top / (float(np.mean(noise)) if noise else top)
    return 1.0


def _cluster(items: list, value: Any) -> list:
    """Sorted items with values equal up to :data:`CLUSTER_RTOL` merged into groups (lists)."""
    groups: list = []
    for it in sorted(items, key=value):
        v = value(it)
        if groups and abs(v - value(groups[-1][-1])) <= CLUSTER_RTOL * max(abs(v), 1e-300):
            groups[-1].append(it)
        else:
            groups.append([it])
    return groups


def critical_points(q: Question) -> list[CriticalResult]:
    """Every value of the parameter at which collapse gains or loses stability, confirmed.

    Parameters
    ----------
    q : Question

    Returns
    -------
    list of CriticalResult
        Sorted by value.

    Raises
    ------
    AnalysisError
        If stability never changes, or the compiled Hessian contradicts a value.
    """
    from .crossings import find_crossings
    from .selfcheck import confirm_boundaries

    if q.canonical:
        pm = q.per_mode()
        cands = [g[-1] for g in _cluster(pm.candidates(q.nonnegative, q.scale), lambda c: c.value)]
        if not cands:
            raise q.no_value(pm.stable_at(1.0))
        found = [(c.value, ", ".join(c.block.labels), {n: list(ix) for n, ix in c.mode.items()}, c.method)
                 for c in cands]
        stable_at: Callable[[float], bool] = pm.stable_at
    else:
        crossed = [g[-1] for g in _cluster(find_crossings(q.compiled, q.scale, q.nonnegative), lambda c: c.value)]
        if not crossed:
            raise q.no_value(q.compiled.stable(q.scale), f" (compiled Hessian; {q.data.reason})")
        found = [(c.value, c.key.describe(), {}, f"{c.method} (compiled Hessian)") for c in crossed]
        stable_at = q.compiled.stable
    out = _boundaries(q, found, stable_at)
    brackets = confirm_boundaries(q.compiled, q.parameter, [(c.value, c.stable_side) for c in out], q.nonnegative)
    return [CriticalResult(c.parameter, c.value, c.stable_side, c.block, c.method, c.mode, c.assumptions, br,
                           ResultStatus.CONFIRMED) for c, br in zip(out, brackets)]


def _boundaries(q: Question, found: list, stable_at: Any) -> list[CriticalResult]:
    """Results where stability changes among sorted distinct ``(value, block, mode, method)``."""
    from .crossings import gap_probes

    probes = gap_probes([c[0] for c in found])
    if q.nonnegative:
        probes[0] = 0.0
    status = [stable_at(v) for v in probes]
    out = []
    for k, (v, block, mode, method) in enumerate(found):
        if status[k] != status[k + 1]:
            out.append(CriticalResult(q.parameter, v, "above" if status[k + 1] else "below", block, method, mode,
                                      q.assumptions if q.canonical else ()))
    if not out:
        raise q.no_value(status[0])
    return out


def crossings(q: Question) -> list[CrossingResult]:
    """Every value of the parameter where Hessian eigenvalues at collapse cross zero (branch points), confirmed.

    Parameters
    ----------
    q : Question

    Returns
    -------
    list of CrossingResult
        Sorted by value; a cluster of equal values (to rounding) is one
        crossing at its largest value carrying the whole kernel.
    """
    from .crossings import find_crossings
    from .selfcheck import confirm_crossings

    items: list = []  # (value, kernel, block, method)
    if q.canonical:
        pm = q.per_mode()
        g = q.analysis.model.graph
        cands = pm.candidates(q.nonnegative, q.scale)
        for c, change in pm.changes(cands, q.nonnegative):
            if change:  # 0: an eigenvalue touching zero (a degenerate point), not a crossing
                items.append((c.value, change * latent_copies(g, c.block.pattern), ", ".join(c.block.labels),
                              c.method))
    else:
        items = [(c.value, c.kernel_dim, c.key.describe(), f"{c.method} (compiled Hessian)")
                 for c in find_crossings(q.compiled, q.scale, q.nonnegative)]
    merged = []
    for grp in _cluster(items, lambda it: it[0]):
        blocks = list(dict.fromkeys(it[2] for it in grp))
        methods = list(dict.fromkeys(it[3] for it in grp))
        merged.append((float(grp[-1][0]), sum(it[1] for it in grp), "; ".join(blocks), ", ".join(methods)))
    q.compiled.fit_affine(q.scale)
    brackets = confirm_crossings(q.compiled, q.parameter, [(v, k) for v, k, _, _ in merged], q.nonnegative)
    return [CrossingResult(q.parameter, v, k, b, m, br, ResultStatus.CONFIRMED)
            for (v, k, b, m), br in zip(merged, brackets)]


def ascent_directions(analysis: Any, data: Any = None, spectrum: Any = None, covariance: Any = None,
                      samples: Any = None, ddof: int = 1, values: dict | None = None, center: bool = True,
                      standardize: bool = False) -> int:
    """Positive Hessian eigenvalues at collapse (the Morse index of the ELBO) at the given values, confirmed.

    From the per-mode blocks when the data have a canonical form (and then
    confirmed by the compiled Hessian), else from the compiled Hessian.

    Parameters
    ----------
    analysis : CollapseAnalysis
        The collapse analysis of the model.
    data, spectrum, covariance, samples
        The data, once.
    ddof : int
        Degrees of freedom removed when samples are reduced to a covariance.
    values : dict, optional
        Values of the hyper-parameters (all must have one).
    center, standardize : bool, optional
        The data options (:func:`statvae.data.resolve.prepare_data`).

    Returns
    -------
    int
    """
    from .selfcheck import confirm_index

    model = analysis.model
    values = dict(values or {})
    numbers = hyper_numbers(model, None, values)  # every hyper-parameter needs a value here
    resolved = resolve_data(model, data, spectrum, covariance, samples, ddof, None, values, center, standardize)
    parameter = next(iter(model.values))
    p = float(numbers[H.symbol(parameter)])
    cc = _compiled(model, parameter, numbers, resolved)
    if resolved.covariance is not None:
        return cc.index(p)
    n = PerModeBlocks(model, analysis.structure, None, resolved.spectra, values).index()
    if n != cc.index(p) and n not in (cc.index(p * (1 - 1e-8)), cc.index(p * (1 + 1e-8))):
        confirm_index(cc, p, n, f"{parameter} = {p:.12g}")
    return n
