"""Finite samples: bootstrap intervals of thresholds, the noise edge, and large-size predictions in alpha = M / N.

Three questions a threshold computed from ``M`` samples in ``N`` dimensions raises:

* how far would it move on another sample?  :func:`bootstrap_critical`
  resamples the rows (seeded), pushes each resample through the same
  preprocessing and :meth:`~statvae.analysis.collapse.CollapseAnalysis.critical`,
  and returns a :class:`~statvae.analysis.results.BootstrapResult` with a
  percentile (or basic) interval;
* which of the directions collapse would learn are signal, and which are the
  top of the noise bulk?  :func:`noise_report` takes the active directions
  from statvae's own per-mode blocks at the hyper-parameter values given and
  compares their eigenvalues with the Marchenko-Pastur edge of the noise
  (variance given, or estimated: :func:`statvae.data.rmt.estimate_noise_variance`);
* what happens as ``alpha = M / N`` varies?
  :func:`statvae.analysis.asymptotics.finite_data_prediction` gives the top
  eigenvalue (BBP), the collapse threshold in ``beta`` and the learned
  decoder's overlap with the signal in the setting of Ichikawa and Hukushima
  (linear VAE with ridge weight decay on a spiked covariance).

The large-size predictions in ``alpha`` live in :mod:`statvae.analysis.asymptotics`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data import rmt
from ..data.resolve import data_kind, prepare_data, resolve_data
from ..errors import AnalysisError, DataError, ModelError
from ..validate import check_integer, check_real, check_seed, show
from .results import BootstrapResult, NoiseReport, ResultStatus

__all__ = ["bootstrap_critical", "noise_report", "BOOTSTRAP_METHODS"]

#: Bootstrap intervals offered.
BOOTSTRAP_METHODS = ("percentile", "basic")


def _analysis(model_or_analysis: Any) -> Any:
    """The collapse analysis of a model (or the analysis itself)."""
    if hasattr(model_or_analysis, "critical_points") and hasattr(model_or_analysis, "structure"):
        return model_or_analysis
    if hasattr(model_or_analysis, "collapse"):
        return model_or_analysis.collapse()
    raise ModelError(f"expected a statvae model or its collapse() analysis, got {show(model_or_analysis)}")


def _sample_rows(samples: Any, data: Any) -> np.ndarray:
    """The samples matrix from ``samples=`` or ``data=`` (which must be recognised as samples)."""
    from ..data.spectra import validate_samples

    if (samples is None) == (data is None):
        raise DataError("give the samples once: samples= (rows are samples), or data= recognised as samples")
    if data is not None:
        kind = data_kind(data)
        if kind != "samples":
            raise DataError(f"data= was recognised as a {kind}: this needs samples (rows), to resample or to "
                            f"count them")
        samples = data
    return validate_samples(samples)


def bootstrap_critical(model_or_analysis: Any, parameter: str | None = None, samples: Any = None, *,
                       data: Any = None, bootstrap: int = 200, seed: Any = 0, confidence: float = 0.95,
                       method: str = "percentile", ddof: int = 1, center: bool = True, standardize: bool = False,
                       values: dict[str, Any] | None = None) -> BootstrapResult:
    """The critical value of ``parameter`` for samples, with a seeded bootstrap confidence interval.

    Parameters
    ----------
    model_or_analysis : VAEModel or CollapseAnalysis
        The model (or ``model.collapse()``).
    parameter : str, optional
        The hyper-parameter solved for (as for ``critical``).
    samples : array_like
        Rows are samples.  ``data=`` works too, when recognised as samples.
    bootstrap : int
        Number of resamples ``B`` (>= 2; a few hundred for a 95% interval).
    seed : int, SeedSequence or Generator, optional
        Seed of ``numpy.random.default_rng`` for the resampling (default 0).
    confidence : float
        Nominal coverage, in (0, 1).
    method : {"percentile", "basic"}
        Percentile interval, or the basic (reflected) one.
    ddof, center, standardize
        The data options (:func:`statvae.data.resolve.prepare_data`),
        applied to the samples and to every resample alike.
    values : dict, optional
        Values of the other hyper-parameters.

    Returns
    -------
    BootstrapResult

    Raises
    ------
    DataError, ModelError
        For bad samples or options.
    AnalysisError
        If the samples, or any resample, have no single critical value (the
        message names the resample), or a resample's stable side differs.

    Notes
    -----
    The bootstrap of a top eigenvalue is only consistent when it is separated
    from the rest of the spectrum; near a degenerate or bulk-edge top
    eigenvalue the percentile interval under-covers (tests/analysis/test_finite.py
    measures the coverage on a separated spike).
    """
    a = _analysis(model_or_analysis)
    b = check_integer(bootstrap, "bootstrap", 2, error=DataError)
    conf = check_real(confidence, "confidence", "positive", error=DataError)
    if not conf < 1:
        raise DataError(f"confidence must be between 0 and 1, got {show(confidence)}")
    if method not in BOOTSTRAP_METHODS:
        raise DataError(f"the bootstrap method must be one of {', '.join(BOOTSTRAP_METHODS)}, got {show(method)}")
    seed = check_seed(seed)
    x = _sample_rows(samples, data)
    given, prep = prepare_data(samples=x, ddof=ddof, center=center, standardize=standardize)
    point = a.critical(parameter, covariance=given["covariance"], values=dict(values or {}))
    rng = np.random.default_rng(seed)
    m = x.shape[0]
    reps = []
    for k in range(b):
        idx = rng.integers(0, m, m)
        try:
            c, _ = prepare_data(samples=x[idx], ddof=ddof, center=center, standardize=standardize)
            r = a.critical(point.parameter, covariance=c["covariance"], values=dict(values or {}))
        except (AnalysisError, DataError) as exc:
            raise type(exc)(f"bootstrap resample {k + 1} of {b} (seed {show(seed)}): {exc}") from None
        if r.stable_side != point.stable_side:
            raise AnalysisError(f"bootstrap resample {k + 1} of {b} (seed {show(seed)}): collapse is stable "
                                f"{r.stable_side} {r.value:.6g} there but {point.stable_side} {point.value:.6g} "
                                f"on the samples")
        reps.append(r.value)
    lo_q, hi_q = np.quantile(reps, [(1 - conf) / 2, (1 + conf) / 2])
    interval = (lo_q, hi_q) if method == "percentile" else (2 * point.value - hi_q, 2 * point.value - lo_q)
    return BootstrapResult(point.parameter, point.value, tuple(interval), conf, method, b,
                           seed if isinstance(seed, int) or seed is None else None, tuple(reps), point.stable_side,
                           prep.to_dict(), ResultStatus.CONFIRMED)


def _active_modes(a: Any, spectra: dict[str, Any], values: dict[str, Any]) -> tuple[set[int], int]:
    """Data coordinates along which a per-mode block at collapse has a positive eigenvalue, and the Morse index."""
    from ..symbolic.stability import positive_counts
    from .permode import PerModeBlocks, latent_copies

    pm = PerModeBlocks(a.model, a.structure, None, spectra, values)
    obs = a.model.graph.observed()[0].name
    active: set[int] = set()
    index = 0
    for b, at, _, mode_ids in pm.evals:
        counts = positive_counts(at(None))
        index += int(counts.sum()) * latent_copies(a.model.graph, b.pattern)
        for k, mode in enumerate(mode_ids):
            if counts[k] > 0:
                active.update(int(i) for i in mode.get(obs, ()))
    return active, index


def noise_report(model_or_analysis: Any, samples: Any = None, *, data: Any = None,
                 noise_variance: float | None = None, estimator: str = "median", ddof: int = 1,
                 center: bool = True, standardize: bool = False,
                 values: dict[str, Any] | None = None) -> NoiseReport:
    """How many directions collapse would learn at these values lie above the noise edge, and how many below.

    Parameters
    ----------
    model_or_analysis : VAEModel or CollapseAnalysis
        A model with one observed variable, every hyper-parameter with a value
        (from the model or ``values``).
    samples : array_like
        Rows are samples (``data=`` recognised as samples works too): the
        edge needs the sample count.
    noise_variance : float, optional
        The noise variance ``eta`` in the units of the matrix analysed
        (standardized units with ``standardize=True``); estimated when omitted.
    estimator : {"median", "bulk"}
        The estimator of ``eta`` when it is not given
        (:func:`statvae.data.rmt.estimate_noise_variance`).
    ddof, center, standardize
        The data options.
    values : dict, optional
        Hyper-parameter values (override the model's).

    Returns
    -------
    NoiseReport

    Raises
    ------
    ModelError
        For a model with several observed variables.
    AnalysisError
        If a hyper-parameter has no value, the data have no canonical form, or
        the per-mode count contradicts the compiled Hessian's Morse index.
    """
    a = _analysis(model_or_analysis)
    obs = a.model.graph.observed()
    if len(obs) != 1:
        raise ModelError(f"the noise report is for models with one observed variable; this one has "
                         f"{', '.join(v.name for v in obs)}")
    values = dict(values or {})
    nums = _numbers(a.model, values)  # every hyper-parameter needs a value
    x = _sample_rows(samples, data)
    given, prep = prepare_data(samples=x, ddof=ddof, center=center, standardize=standardize)
    resolved = resolve_data(a.model, covariance=given["covariance"], values=values)
    if resolved.covariance is not None:
        raise AnalysisError(f"these data have no canonical form for this model ({resolved.reason}): the "
                            f"directions are not modes")
    spectra = resolved.spectra
    eig = np.asarray(spectra[obs[0].name], dtype=float)
    active, index = _active_modes(a, spectra, values)
    confirmed = a.ascent_directions(covariance=given["covariance"], values=values)
    if confirmed != index:
        raise AnalysisError(f"the per-mode blocks count {index} ascent directions at collapse but the compiled "
                            f"Hessian {confirmed}")
    n = eig.size
    m_eff = prep.effective_samples
    if m_eff < 1:
        raise DataError("the noise edge needs at least one sample beyond the mean")
    alpha = m_eff / n
    scale = m_eff / (prep.samples - prep.ddof)
    if noise_variance is None:
        eta = rmt.estimate_noise_variance(eig, alpha, estimator, scale)
        method = estimator
    else:
        eta = check_real(noise_variance, "noise_variance", "positive", error=DataError)
        method = "given"
    edge = scale * float(rmt.mp_edges(alpha, eta)[1])
    outliers = [i for i in range(n) if eig[i] > edge]
    spikes = [float(rmt.spike_from_outlier(eig[i] / scale, alpha, eta)) for i in outliers]
    overlaps = [float(rmt.bbp_overlap(s, alpha, eta)) for s in spikes]
    act = sorted(active)
    return NoiseReport(prep.samples, n, alpha, eta, method, edge, tuple(eig.tolist()), tuple(act),
                       tuple(i for i in act if eig[i] > edge), tuple(i for i in act if eig[i] <= edge),
                       tuple(outliers), tuple(spikes), tuple(overlaps), nums, prep.to_dict(), confirmed,
                       ResultStatus.CONFIRMED)


def _numbers(model: Any, values: dict[str, Any]) -> dict[str, float]:
    """Every hyper-parameter's value as a float (AnalysisError for one without)."""
    from .permode import hyper_numbers

    return {k.name: float(v) for k, v in hyper_numbers(model, None, values).items()}
