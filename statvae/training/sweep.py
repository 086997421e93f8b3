"""Sweeps: trainers run over a grid of ``sigma2`` (or ``beta``) with warm starts; measured thresholds vs predicted.

A *chain* is one trainer and one seed taken along the grid in the order given, each point warm-started from the
previous point's parameters (the protocol of the follow-up literature).  Chains are independent: they run
serially, in local processes (:mod:`concurrent.futures`, the default) or on a Dask cluster (``client=``, a
``dask.distributed.Client``: each point is a task depending on the previous point of its chain, so the Dask
scheduler orders and places them).  Every point is fitted with a seed derived from the chain's seed and the
point's index, under one BLAS thread, so a fixed seed gives the same numbers whichever way the chains run.

Per point and seed the record holds the trainer's measures (ELBO, KL per latent, posterior variances, activities,
epochs, how training stopped), the active-unit count (latents whose activity ``Cov_x E_q[z_j|x]`` exceeds
``delta``, Burda et al. 2016) and, for a linear trainer, statvae's closed-form collapse diagnostics of the fitted
weights (:func:`statvae.analysis.diagnostics.diagnose`).

The measured threshold of the k-th latent is where the k-th largest activity (of the latent space's principal
axes when the trainer reports ``activity_spectrum``, else of the latents) falls to ``delta`` and stays there; full
collapse is where the total activity does.  Per seed: the grid bracket (last point above ``delta``, first point
at or below it for good) and the value interpolated linearly inside it; over seeds: the median, the union of the
brackets and the spread.  The predictions come from statvae's own analysis of the second moment the trainers see
(``X^T X / M``), and of the population covariance when it is known: the k-th largest crossing of the collapsed
point's Hessian (``crossings()``) for the k-th latent, the critical value (``critical()``) for full collapse.  The
theory curves are :func:`statvae.analysis.optimum.optimum` at each grid point.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import json
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import AnalysisError, DataError, ModelError
from ..validate import show
from .base import Fitted, Trainer, check_samples

__all__ = ["sweep", "SweepResult", "prepare_samples", "fit_point", "theory_point", "predicted_thresholds",
           "measure_thresholds", "estimate_threshold", "derived_seed", "FORMAT"]

#: Format tag of a saved sweep.
FORMAT = "statvae-sweep-1"

_PARAMETERS = ("sigma2", "beta")


# ------------------------------------------------------------------------------------------------ small helpers

def _clean(v: Any) -> Any:
    """JSON-ready: numpy scalars and arrays to Python, non-finite floats to None."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, np.ndarray):
        return _clean(v.tolist())
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return f if math.isfinite(f) else None
    return v


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """One BLAS thread (threadpoolctl, when installed): identical bits in every executor, no oversubscription."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with threadpool_limits(limits=1):
        yield


def derived_seed(seed: int, index: int) -> int:
    """The seed of point ``index`` of the chain seeded ``seed`` (``numpy.random.SeedSequence([seed, index])``).

    Parameters
    ----------
    seed : int
        The chain's seed.
    index : int
        The point's index along the grid.

    Returns
    -------
    int
        A non-negative 32-bit integer.
    """
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def _sorted_desc(xs: Sequence[float]) -> list[float]:
    return sorted((float(x) for x in xs), reverse=True)


def _latent_curve_values(measures: dict[str, Any]) -> list[float]:
    """The activities whose k-th largest decides the k-th latent's threshold."""
    if measures.get("activity_spectrum") is not None:
        return _sorted_desc(measures["activity_spectrum"])
    return _sorted_desc(measures["activity"])


def prepare_samples(samples: Any, *, center: bool = True, standardize: bool = False,
                    ddof: int = 1) -> tuple[np.ndarray, Any]:
    """The samples the trainers see: centred and optionally standardized as statvae's data options do.

    The same transform as :func:`statvae.data.preprocess.sample_moment` (which returns only the moment):
    ``X^T X / (M - ddof)`` of the result is that function's matrix.

    Parameters
    ----------
    samples : array_like
        Rows are samples.
    center : bool, optional
        Subtract each feature's mean.
    standardize : bool, optional
        Divide each feature by its standard deviation (about its mean, with ``ddof``).
    ddof : {0, 1}, optional
        Of the standard deviations (and recorded).

    Returns
    -------
    X : numpy.ndarray
        The transformed samples.
    preprocessing : statvae.data.preprocess.Preprocessing
        What was done.

    Raises
    ------
    DataError
        For bad samples or options, or a constant feature under ``standardize``.
    """
    from ..data.preprocess import Preprocessing, check_data_options
    from ..data.spectra import validate_samples

    center, standardize = check_data_options(center, standardize)
    if isinstance(ddof, (bool, np.bool_)) or ddof not in (0, 1):
        raise DataError(f"ddof must be 0 or 1, got {show(ddof)}")
    x = np.array(validate_samples(samples), dtype=float)
    M, N = x.shape
    scales: tuple[float, ...] = ()
    if standardize:
        sd = x.std(axis=0, ddof=ddof)
        if np.any(sd == 0):
            k = int(np.flatnonzero(sd == 0)[0])
            raise DataError(f"feature {k} (0-based) is constant: standardize cannot scale a feature with zero "
                            f"variance; drop it first")
        scales = tuple(float(v) for v in sd)
    if center:
        x -= x.mean(axis=0)
    if standardize:
        x /= np.asarray(scales)
    return x, Preprocessing("samples", center, standardize, int(ddof), M, N, scales)


# ------------------------------------------------------------------------------------------------ the tasks

_WORKER_DATA: dict[str, Any] = {}


def _set_worker_data(X: np.ndarray) -> None:
    """Process-pool initializer: keep the samples in the worker (sent once, not with every task)."""
    _WORKER_DATA["X"] = X


def _point_diagnostics(trainer: Any, state: Any, moment: np.ndarray, sigma2: float, beta: float,
                       delta: float) -> dict[str, Any] | None:
    """statvae's closed-form diagnostics of a linear fit (None for other trainers)."""
    params = getattr(trainer, "linear_parameters", None)
    if params is None:
        return None
    from ..analysis.diagnostics import diagnose
    from ..model.presets import LinearVAE

    blocks = params(state)
    N, n = blocks["W"].shape
    d = diagnose(LinearVAE(N, n, beta=None), blocks, covariance=moment, sigma2=sigma2, beta=beta, delta=delta)
    lat = d.latents["z"]
    return _clean({"active_units": d.active_units, "mutual_information": d.mutual_information,
                   "kl_quantiles": lat.kl_quantiles, "collapsed_probability": lat.collapsed_probability,
                   "collapsed": lat.collapsed, "active": lat.active})


def fit_point(trainer: Trainer, X: np.ndarray | None, *, parameter: str, value: float, values: dict[str, float],
              seed: int, index: int, previous: dict[str, Any] | None = None, delta: float = 0.01,
              diagnostics: bool = True, moment: np.ndarray | None = None) -> dict[str, Any]:
    """One point of a chain: fit (warm-started from ``previous``), measure, record.

    Parameters
    ----------
    trainer : Trainer
        The trainer.
    X : numpy.ndarray or None
        The samples (None: the worker's copy, set by the process pool's initializer).
    parameter : {"sigma2", "beta"}
        The hyper-parameter swept.
    value : float
        Its value at this point.
    values : dict
        The other hyper-parameter (``{"beta": ...}`` or ``{"sigma2": ...}``).
    seed : int
        The chain's seed (the fit's seed is :func:`derived_seed` of it and ``index``).
    index : int
        The point's index along the grid.
    previous : dict, optional
        The previous point's record (its ``state`` is the warm start).
    delta : float, optional
        Activity threshold of an active unit.
    diagnostics : bool, optional
        Add statvae's diagnostics of the fitted weights (linear trainers only).
    moment : numpy.ndarray, optional
        ``X^T X / M`` for the diagnostics (computed once by the driver, so that every executor uses the same
        bits; default: computed here).

    Returns
    -------
    dict
        The record; ``state`` holds the fitted parameters (dropped from the saved result).
    """
    if X is None:
        X = _WORKER_DATA["X"]
    hyper = dict(values)
    hyper[parameter] = float(value)
    fseed = derived_seed(seed, index)
    t0 = time.process_time()
    with _one_blas_thread():
        fitted = trainer.fit(X, sigma2=hyper["sigma2"], beta=hyper["beta"], seed=fseed,
                             init=None if previous is None else previous["state"])
        if not isinstance(fitted, Fitted):
            raise ModelError(f"trainer {trainer.name!r} returned {type(fitted).__name__}, not Fitted")
        if diagnostics and moment is None:
            moment = X.T @ X / X.shape[0]
            moment = 0.5 * (moment + moment.T)
        diag = _point_diagnostics(trainer, fitted.state, moment, hyper["sigma2"], hyper["beta"], delta) \
            if diagnostics and moment is not None else None
    m = _clean(fitted.measures)
    act = [float(a) for a in m["activity"]]
    rec = {"trainer": trainer.name, "seed": int(seed), "index": int(index), "value": float(value),
           "sigma2": hyper["sigma2"], "beta": hyper["beta"], "fit_seed": fseed, "measures": m,
           "active_units": int(sum(a > delta for a in act)),
           "active_dimensions": int(sum(a > delta for a in _latent_curve_values(m))),
           "diagnostics": diag, "cpu_seconds": time.process_time() - t0, "state": fitted.state}
    return rec


def theory_point(spectrum: Sequence[float], latent_dim: int, *, parameter: str, value: float,
                 values: dict[str, float]) -> dict[str, Any]:
    """statvae's optimum (and its activities) at one grid point, for the theory curves.

    Parameters
    ----------
    spectrum : sequence of float
        Eigenvalues of the data's second moment (the objective depends on nothing else).
    latent_dim : int
        ``n``.
    parameter : {"sigma2", "beta"}
        The hyper-parameter swept.
    value : float
        Its value.
    values : dict
        The other hyper-parameter.

    Returns
    -------
    dict
        ``value``, ``elbo``, ``kl_total``, ``kl_per_latent`` (descending), ``posterior_variance`` (ascending),
        ``activity`` (descending), ``active`` (count), ``status``.
    """
    from ..analysis.diagnostics import diagnose
    from ..analysis.optimum import optimum
    from ..model.presets import LinearVAE

    hyper = dict(values)
    hyper[parameter] = float(value)
    ev = np.asarray(spectrum, dtype=float)
    model = LinearVAE(ev.size, int(latent_dim), beta=None)
    with _one_blas_thread():
        r = optimum(model, spectrum=ev, values=hyper, starts=1)
        d = diagnose(model, r, spectrum=ev)
    lat = d.latents["z"]
    return _clean({"value": float(value), "elbo": r.elbo, "kl_total": r.kl_total,
                   "kl_per_latent": _sorted_desc(r.kl_per_latent["z"]),
                   "posterior_variance": sorted(float(v) for v in lat.posterior_variance),
                   "activity": _sorted_desc(lat.activity), "active": len(r.active["z"]), "status": r.status})


# ------------------------------------------------------------------------------------------------ predictions

def predicted_thresholds(latent_dim: int, *, parameter: str, values: dict[str, float], samples: Any = None,
                         covariance: Any = None, spectrum: Any = None) -> dict[str, Any]:
    """The thresholds statvae predicts: per latent (the crossings) and for full collapse (the critical value).

    The k-th latent switches off at the k-th largest crossing of the collapsed point's Hessian (in ``parameter``)
    with an eigenvalue of the data; full collapse is the critical value above which collapse is stable.

    Parameters
    ----------
    latent_dim : int
        ``n``.
    parameter : {"sigma2", "beta"}
        The hyper-parameter.
    values : dict
        The other hyper-parameter.
    samples : array_like, optional
        Samples used as given (second moment ``X^T X / M``: no centring, ``ddof=0``, as the trainers see them).
    covariance, spectrum : array_like, optional
        A covariance or its eigenvalues instead (e.g. the population's).

    Returns
    -------
    dict
        ``latents`` (n values, descending; None where the data have fewer crossings), ``full_collapse``,
        ``stable_side``, ``method``, ``status``, ``crossings`` (every crossing, as
        :meth:`CrossingResult.to_dict`).
    """
    from ..analysis.collapse import analyse_collapse
    from ..model.presets import LinearVAE

    if samples is not None:
        a = np.asarray(samples, dtype=float)
        N = a.shape[1]
        data: dict[str, Any] = {"samples": a, "ddof": 0, "center": False}
    elif covariance is not None:
        cov = np.asarray(covariance, dtype=float)
        N = cov.shape[0]
        data = {"covariance": cov}
    else:
        s = np.asarray(spectrum, dtype=float)
        N = s.size
        data = {"spectrum": s}
    an = analyse_collapse(LinearVAE(N, int(latent_dim), beta=None))
    crit = an.critical(parameter, values=dict(values), **data)
    cross = an.crossings(parameter, values=dict(values), **data)
    by_value = sorted(cross, key=lambda c: -c.value)
    latents: list[float | None] = []
    for c in by_value:
        latents.extend([float(c.value)] * max(1, c.kernel_dim // int(latent_dim)))
        if len(latents) >= latent_dim:
            break
    latents = (latents + [None] * latent_dim)[:latent_dim]
    return _clean({"latents": latents, "full_collapse": crit.value, "stable_side": crit.stable_side,
                   "method": crit.method, "status": str(crit.status.value),
                   "crossings": [c.to_dict() for c in sorted(cross, key=lambda c: c.value)]})


# ------------------------------------------------------------------------------------------------ measurement

def estimate_threshold(grid: Sequence[float], curve: Sequence[float], delta: float) -> dict[str, Any]:
    """Where a decreasing activity curve falls to ``delta`` for good: grid bracket and interpolated value.

    Parameters
    ----------
    grid : sequence of float
        Parameter values, ascending.
    curve : sequence of float
        The activity at each of them.
    delta : float
        The activity threshold.

    Returns
    -------
    dict
        ``value`` (None outside the grid), ``bracket`` ``[lo, hi]`` (None for an open end), ``status``:
        ``"measured"``, ``"below grid"`` (inactive at every point) or ``"above grid"`` (active at the last point).
    """
    g = [float(v) for v in grid]
    a = [float(v) for v in curve]
    j = len(a)
    while j > 0 and a[j - 1] <= delta:
        j -= 1
    if j == len(a):
        return {"value": None, "bracket": [g[-1], None], "status": "above grid"}
    if j == 0:
        return {"value": None, "bracket": [None, g[0]], "status": "below grid"}
    lo, hi, alo, ahi = g[j - 1], g[j], a[j - 1], a[j]
    frac = (alo - delta) / (alo - ahi) if alo > ahi else 0.5
    return {"value": lo + min(max(frac, 0.0), 1.0) * (hi - lo), "bracket": [lo, hi], "status": "measured"}


def _combine(per_seed: list[dict[str, Any]], seeds: list[int]) -> dict[str, Any]:
    vals = [p["value"] for p in per_seed if p["value"] is not None]
    los = [p["bracket"][0] for p in per_seed]
    his = [p["bracket"][1] for p in per_seed]
    statuses = sorted({p["status"] for p in per_seed})
    out: dict[str, Any] = {
        "value": float(np.median(vals)) if vals else None,
        "bracket": [None if any(v is None for v in los) else min(los),
                    None if any(v is None for v in his) else max(his)],
        "status": statuses[0] if len(statuses) == 1 else "mixed: " + ", ".join(statuses),
        "per_seed": [{"seed": s, **p} for s, p in zip(seeds, per_seed)],
        "spread": {"std": float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0 if vals else None,
                   "min": min(vals) if vals else None, "max": max(vals) if vals else None},
    }
    return out


def measure_thresholds(points: list[dict[str, Any]], grid: Sequence[float], latent_dim: int,
                       delta: float) -> dict[str, Any]:
    """Measured thresholds per trainer: each latent's and full collapse's, with brackets and seed spread.

    Parameters
    ----------
    points : list of dict
        The sweep's records.
    grid : sequence of float
        The grid (any order).
    latent_dim : int
        ``n``.
    delta : float
        The activity threshold.

    Returns
    -------
    dict
        Trainer name -> ``{"latents": [...], "full_collapse": {...}}``, each entry as :func:`estimate_threshold`
        per seed, combined: ``value`` (median over seeds), ``bracket`` (union), ``spread``, ``per_seed``.
    """
    order = sorted(range(len(grid)), key=lambda i: float(grid[i]))
    g = [float(grid[i]) for i in order]
    out: dict[str, Any] = {}
    for name in dict.fromkeys(p["trainer"] for p in points):
        seeds = sorted({p["seed"] for p in points if p["trainer"] == name})
        lat_seed: list[list[dict[str, Any]]] = [[] for _ in range(latent_dim)]
        full_seed: list[dict[str, Any]] = []
        for s in seeds:
            by_index = {p["index"]: p for p in points if p["trainer"] == name and p["seed"] == s}
            recs = [by_index[i] for i in order]
            curves = [_latent_curve_values(r["measures"]) for r in recs]
            for k in range(latent_dim):
                lat_seed[k].append(estimate_threshold(g, [c[k] if k < len(c) else 0.0 for c in curves], delta))
            full_seed.append(estimate_threshold(g, [float(sum(r["measures"]["activity"])) for r in recs], delta))
        out[name] = {"latents": [{"latent": k + 1, **_combine(lat_seed[k], seeds)} for k in range(latent_dim)],
                     "full_collapse": _combine(full_seed, seeds)}
    return _clean(out)


# ------------------------------------------------------------------------------------------------ progress

class _Progress:
    """tqdm when installed, else one line on stderr at most every 2 s; nothing when disabled."""

    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        self.total, self.desc, self.enabled, self.done = total, desc, enabled, 0
        self.t0 = self.last = time.monotonic()
        self.bar: Any = None
        if enabled:
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, desc=desc, unit="fit", file=sys.stderr, leave=False)
            except ImportError:
                self.bar = None

    def update(self, note: str = "") -> None:
        self.done += 1
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(1)
            if note:
                self.bar.set_postfix_str(note, refresh=False)
            return
        now = time.monotonic()
        tty = bool(getattr(sys.stderr, "isatty", lambda: False)())
        if now - self.last >= (2.0 if tty else 10.0) or self.done == self.total:
            self.last = now
            line = f"{self.desc}: {self.done}/{self.total} fits ({now - self.t0:.0f} s) {note}"
            if tty:  # one line, rewritten in place
                print("\r" + line.ljust(79)[:79], end="\n" if self.done == self.total else "", file=sys.stderr,
                      flush=True)
            else:
                print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled and self.done < self.total and bool(getattr(sys.stderr, "isatty", lambda: False)()):
            print(file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------ the result

@dataclass
class SweepResult:
    """A sweep: every point's measures, the theory curves, the predicted and the measured thresholds.

    Saves to JSON and loads back exactly (:meth:`save`, :meth:`load`); plots without recomputation
    (:meth:`plot`).

    Parameters
    ----------
    parameter : {"sigma2", "beta"}
        The hyper-parameter swept.
    grid : list of float
        Its values, in the order swept.
    values : dict
        The other hyper-parameter's value.
    latent_dim : int
        ``n``.
    delta : float
        Activity threshold of an active unit.
    seeds : list of int
        The chains' seeds.
    trainers : dict
        Trainer name -> its :meth:`Trainer.config`.
    data : dict
        ``name``, ``samples``, ``features``, ``transform`` (what was done to the raw data), ``preprocessing``
        (:meth:`statvae.data.preprocess.Preprocessing.to_dict` or None), ``moment`` (the matrix the trainers see).
    points : list of dict
        One record per trainer, seed and grid point (:func:`fit_point`, without the state).
    theory : dict
        ``"sample"`` and ``"population"`` (or None): :func:`theory_point` at each grid point.
    predicted : dict
        ``"sample"`` and ``"population"`` (or None): :func:`predicted_thresholds`.
    measured : dict
        :func:`measure_thresholds`.
    execution : dict
        How the chains ran (``kind``: serial, processes or dask; workers; scheduler address), wall seconds.
    meta : dict
        statvae's version, the date.
    """

    parameter: str
    grid: list[float]
    values: dict[str, float]
    latent_dim: int
    delta: float
    seeds: list[int]
    trainers: dict[str, Any]
    data: dict[str, Any]
    points: list[dict[str, Any]]
    theory: dict[str, Any] = field(default_factory=dict)
    predicted: dict[str, Any] = field(default_factory=dict)
    measured: dict[str, Any] = field(default_factory=dict)
    execution: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (with a ``format`` tag).

        Returns
        -------
        dict
        """
        d = {"format": FORMAT}
        d.update({k: getattr(self, k) for k in self.__dataclass_fields__})
        return dict(_clean(d))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SweepResult:
        """Inverse of :meth:`to_dict`.

        Parameters
        ----------
        d : dict
            As returned by :meth:`to_dict`.

        Returns
        -------
        SweepResult

        Raises
        ------
        DataError
            If ``d`` is not a saved sweep.
        """
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise DataError(f"not a statvae sweep (format {show(d.get('format') if isinstance(d, dict) else d)}, "
                            f"expected {FORMAT})")
        try:
            return cls(**{k: d[k] for k in cls.__dataclass_fields__})
        except KeyError as e:
            raise DataError(f"saved sweep lacks the field {e.args[0]}") from None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the result as JSON (floats round-trip exactly).

        Parameters
        ----------
        path : str or os.PathLike
            The file.
        """
        text = json.dumps(self.to_dict(), indent=1, allow_nan=False)
        tmp = f"{os.fspath(path)}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SweepResult:
        """Read a result written by :meth:`save`.

        Parameters
        ----------
        path : str or os.PathLike
            The file.

        Returns
        -------
        SweepResult

        Raises
        ------
        DataError
            If the file cannot be read or is not a saved sweep.
        """
        try:
            with open(path, encoding="utf-8") as fh:
                d = json.load(fh)
        except (OSError, ValueError) as e:
            raise DataError(f"cannot read sweep {os.fspath(path)!r}: {e}") from None
        return cls.from_dict(d)

    def comparison(self) -> dict[str, Any]:
        """Predicted and measured thresholds side by side, with relative errors (the CLI's ``--json`` fields).

        Returns
        -------
        dict
            ``predicted`` (``sample``, ``population``: ``latents`` and ``full_collapse``), ``measured`` (per
            trainer: ``latents`` and ``full_collapse``, each with ``value``, ``bracket``, ``spread``, ``per_seed``,
            and ``error`` relative to each prediction: ``(measured - predicted) / predicted``).
        """
        pred = {k: (None if v is None else {"latents": v["latents"], "full_collapse": v["full_collapse"]})
                for k, v in self.predicted.items()}
        meas: dict[str, Any] = {}
        for name, m in self.measured.items():
            entry: dict[str, Any] = {"latents": [], "full_collapse": None}
            for k, lat in enumerate(m["latents"]):
                entry["latents"].append({**lat, "error": self._errors(lat["value"], "latents", k)})
            fc = m["full_collapse"]
            entry["full_collapse"] = {**fc, "error": self._errors(fc["value"], "full_collapse", None)}
            meas[name] = entry
        return dict(_clean({"parameter": self.parameter, "predicted": pred, "measured": meas}))

    def _errors(self, value: float | None, key: str, k: int | None) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for src, p in self.predicted.items():
            if p is None:
                continue
            ref = p[key][k] if k is not None else p[key]
            out[src] = None if value is None or ref is None else (value - ref) / ref
        return out

    def summary(self) -> list[str]:
        """Lines of text: the predicted and measured thresholds, with errors.

        Returns
        -------
        list of str
        """
        c = self.comparison()
        lines = []
        for src, p in c["predicted"].items():
            if p is not None:
                lat = ", ".join("-" if v is None else f"{v:.5g}" for v in p["latents"])
                lines.append(f"predicted ({src} covariance): latents {lat}; full collapse {p['full_collapse']:.5g}")
        for name, m in c["measured"].items():
            for lat in m["latents"] + [dict(m["full_collapse"], latent="full collapse")]:
                label = f"latent {lat['latent']}" if lat["latent"] != "full collapse" else "full collapse"
                v = lat["value"]
                br = ", ".join("-" if b is None else f"{b:.4g}" for b in lat["bracket"])
                err = "; ".join(f"{s} {e:+.1%}" for s, e in lat["error"].items() if e is not None)
                sd = lat["spread"]["std"]
                lines.append(f"measured {name} {label}: " + ("-" if v is None else f"{v:.5g}")
                             + f" (bracket [{br}]" + ("" if sd is None else f", seed spread {sd:.2g}")
                             + f"; {lat['status']})" + (f" error {err}" if err else ""))
        return lines

    def plot(self, path: str | os.PathLike[str] | None = None, *, trainer: str | None = None) -> Any:
        """The figure of the sweep from the saved numbers (nothing is recomputed); see :mod:`.figure`.

        Parameters
        ----------
        path : str or os.PathLike, optional
            Write the figure there (format from the suffix).
        trainer : str, optional
            Plot one trainer only (default: all).

        Returns
        -------
        matplotlib.figure.Figure
        """
        from .figure import plot_sweep

        return plot_sweep(self, path, trainer=trainer)


# ------------------------------------------------------------------------------------------------ the driver

def _check_grid(grid: Any, parameter: str) -> list[float]:
    try:
        g = [float(v) for v in grid]
    except (TypeError, ValueError):
        raise ModelError(f"grid must be a sequence of numbers, got {show(grid)}") from None
    if len(g) < 2:
        raise ModelError(f"the grid of {parameter} needs at least 2 values, got {len(g)}")
    if not all(math.isfinite(v) and v > 0 for v in g):
        raise ModelError(f"every {parameter} on the grid must be a positive number, got {show(grid)}")
    if len(set(g)) != len(g):
        raise ModelError(f"the grid of {parameter} repeats a value")
    return g


def _chains_serial(trainers: list[Any], X: np.ndarray, seeds: list[int], kw: dict[str, Any], grid: list[float],
                   bar: _Progress) -> list[dict[str, Any]]:
    out = []
    for t in trainers:
        for s in seeds:
            prev = None
            for i, v in enumerate(grid):
                prev = fit_point(t, X, value=v, seed=s, index=i, previous=prev, **kw)
                out.append(prev)
                bar.update(f"{t.name} seed {s} {kw['parameter']}={v:.4g}")
    return out


def _chains_processes(trainers: list[Any], X: np.ndarray, seeds: list[int], kw: dict[str, Any], grid: list[float],
                      bar: _Progress, workers: int | None, theory_jobs: list[tuple[str, int, dict[str, Any]]],
                      theory_out: dict[str, list[Any]]) -> list[dict[str, Any]]:
    chains = [(t, s) for t in trainers for s in seeds]
    n = workers or max(1, min(len(chains) + (1 if theory_jobs else 0), os.cpu_count() or 1))
    out: list[dict[str, Any]] = []
    with cf.ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context(), initializer=_set_worker_data,
                                initargs=(X,)) as ex:
        pending: dict[cf.Future[Any], tuple[str, Any]] = {}
        for c, (t, s) in enumerate(chains):
            pending[ex.submit(fit_point, t, None, value=grid[0], seed=s, index=0, previous=None, **kw)] = ("fit", c)
        for src, i, args in theory_jobs:
            pending[ex.submit(theory_point, **args)] = ("theory", (src, i))
        while pending:
            done, _ = cf.wait(list(pending), return_when=cf.FIRST_COMPLETED)
            for f in done:
                kind, tag = pending.pop(f)
                rec = f.result()
                if kind == "theory":
                    src, i = tag
                    theory_out[src][i] = rec
                    continue
                out.append(rec)
                t, s = chains[tag]
                bar.update(f"{t.name} seed {s} {kw['parameter']}={rec['value']:.4g}")
                i = rec["index"] + 1
                if i < len(grid):
                    nxt = ex.submit(fit_point, t, None, value=grid[i], seed=s, index=i, previous=rec, **kw)
                    pending[nxt] = ("fit", tag)
    return out


def _chains_dask(trainers: list[Any], X: np.ndarray, seeds: list[int], kw: dict[str, Any], grid: list[float],
                 bar: _Progress, client: Any, theory_jobs: list[tuple[str, int, dict[str, Any]]],
                 theory_out: dict[str, list[Any]]) -> list[dict[str, Any]]:
    try:
        from distributed import as_completed
    except ImportError:
        raise ModelError("a Dask client needs dask.distributed: pip install 'dask[distributed]' "
                         "(or pip install 'statvae[dask]')") from None
    import uuid

    run = uuid.uuid4().hex[:12]
    xf = client.scatter(X, broadcast=True)
    futures: dict[Any, tuple[str, Any]] = {}
    for t in trainers:
        for s in seeds:
            prev = None
            for i, v in enumerate(grid):
                prev = client.submit(fit_point, t, xf, value=v, seed=s, index=i, previous=prev, **kw,
                                     key=f"statvae-fit-{run}-{t.name}-{s}-{i}", pure=False)
                futures[prev] = ("fit", None)
    for src, i, args in theory_jobs:
        futures[client.submit(theory_point, **args, key=f"statvae-theory-{run}-{src}-{i}", pure=False)] = \
            ("theory", (src, i))
    out: list[dict[str, Any]] = []
    for f in as_completed(list(futures)):
        kind, tag = futures[f]
        rec = f.result()
        if kind == "theory":
            theory_out[tag[0]][tag[1]] = rec
            continue
        out.append(rec)
        bar.update(f"{rec['trainer']} seed {rec['seed']} {kw['parameter']}={rec['value']:.4g}")
    return out


def sweep(trainers: Trainer | Sequence[Trainer], X: Any, *, grid: Sequence[float], parameter: str = "sigma2",
          values: dict[str, float] | None = None, seeds: int | Sequence[int] = 3, latent_dim: int | None = None,
          population: Any = None, data_name: str = "samples", transform: str = "",
          preprocessing: Any = None, delta: float = 0.01, executor: str = "processes", workers: int | None = None,
          client: Any = None, theory: bool = True, diagnostics: bool = True,
          progress: bool | None = None) -> SweepResult:
    """Train along a grid of ``sigma2`` or ``beta`` with warm starts; measure the thresholds; compare.

    Parameters
    ----------
    trainers : Trainer or sequence of Trainer
        One chain per trainer and seed (names must differ).
    X : array_like
        Samples (M, N), already preprocessed (the trainers see ``X`` as given).
    grid : sequence of float
        Values of ``parameter``, swept in this order (ascending: from the active side to collapse).
    parameter : {"sigma2", "beta"}, optional
        The hyper-parameter swept.
    values : dict, optional
        The other one (default ``{"beta": 1.0}`` when sweeping ``sigma2``; sweeping ``beta`` needs ``sigma2``).
    seeds : int or sequence of int, optional
        Seeds of the chains (an int ``k``: ``0 .. k-1``).
    latent_dim : int, optional
        ``n`` (default: the trainers' ``latent_dim`` or ``config()["latent_dim"]``).
    population : array_like, optional
        The population covariance (matrix) or its eigenvalues, in the units of ``X``: adds its predictions and
        theory curves.
    data_name : str, optional
        What the data are (recorded).
    transform : str, optional
        What was done to the raw data to get ``X`` (recorded).
    preprocessing : Preprocessing or dict, optional
        statvae's record of the centring/standardisation (recorded).
    delta : float, optional
        Activity threshold of an active unit (relative to the prior variance 1).
    executor : {"processes", "serial"}, optional
        Where chains run without ``client``: local processes (default) or this process.
    workers : int, optional
        Number of local processes (default: the CPU count, at most one per chain plus one).
    client : dask.distributed.Client, optional
        Run on this Dask cluster instead.
    theory : bool, optional
        Compute the theory curves (statvae's optimum at every grid point).
    diagnostics : bool, optional
        statvae's diagnostics of each fitted linear VAE.
    progress : bool, optional
        Progress on stderr (tqdm when installed); default: when stderr is a terminal.

    Returns
    -------
    SweepResult

    Raises
    ------
    ModelError
        For a bad grid, parameter, value, seed list, trainer set or executor.
    DataError
        For bad samples or population.
    """
    from .._version import __version__

    ts = [trainers] if not isinstance(trainers, Sequence) else list(trainers)
    if not ts:
        raise ModelError("give at least one trainer")
    names = [t.name for t in ts]
    if len(set(names)) != len(names):
        raise ModelError(f"trainer names must differ, got {names}")
    if parameter not in _PARAMETERS:
        raise ModelError(f"parameter must be 'sigma2' or 'beta', got {show(parameter)}")
    other = "beta" if parameter == "sigma2" else "sigma2"
    vals = dict(values or ({"beta": 1.0} if parameter == "sigma2" else {}))
    if set(vals) != {other}:
        raise ModelError(f"sweeping {parameter} needs values={{'{other}': ...}} and nothing else, got {show(vals)}")
    v = vals[other]
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(v)) or v <= 0:
        raise ModelError(f"{other} must be a positive number, got {show(v)}")
    vals = {other: float(v)}
    g = _check_grid(grid, parameter)
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, (bool, np.bool_)):
        if seeds < 1:
            raise ModelError(f"seeds must be at least 1, got {seeds}")
        seed_list = list(range(int(seeds)))
    else:
        try:
            seed_list = [int(s) for s in seeds]  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise ModelError(f"seeds must be a count or a list of integers, got {show(seeds)}") from None
        if not seed_list or len(set(seed_list)) != len(seed_list) or min(seed_list) < 0:
            raise ModelError(f"seeds must be distinct non-negative integers, got {show(seeds)}")
    if not (isinstance(delta, (int, float)) and 0 < delta < 1):
        raise ModelError(f"delta must be a number in (0, 1), got {show(delta)}")
    if executor not in ("processes", "serial"):
        raise ModelError(f"executor must be 'processes' or 'serial', got {show(executor)}")
    Xa = check_samples(X)
    M, N = Xa.shape
    if latent_dim is None:
        dims = {getattr(t, "latent_dim", None) or t.config().get("latent_dim") for t in ts}
        if len(dims) != 1 or None in dims:
            raise ModelError(f"give latent_dim: the trainers report {sorted(map(str, dims))}")
        latent_dim = int(dims.pop())  # type: ignore[arg-type]
    n = int(latent_dim)
    pop = None
    if population is not None:
        p = np.asarray(population, dtype=float)
        if p.ndim == 2:
            if p.shape != (N, N):
                raise DataError(f"the population covariance must be {N} x {N}, got {p.shape}")
            pop = np.linalg.eigvalsh(0.5 * (p + p.T))[::-1]
        elif p.ndim == 1 and p.size == N:
            pop = np.sort(p)[::-1]
        else:
            raise DataError(f"population must be an {N} x {N} covariance or {N} eigenvalues, got shape {p.shape}")
        if not np.all(np.isfinite(pop)) or pop.min() < -1e-12 * max(pop.max(), 1.0):
            raise DataError("the population covariance must be finite and positive semi-definite")
        pop = np.clip(pop, 0.0, None)
    if preprocessing is not None and hasattr(preprocessing, "to_dict"):
        preprocessing = preprocessing.to_dict()
    if progress is None:
        progress = bool(getattr(sys.stderr, "isatty", lambda: False)())

    moment = Xa.T @ Xa / M
    moment = 0.5 * (moment + moment.T)
    sample_spectrum = np.clip(np.linalg.eigvalsh(0.5 * (moment + moment.T))[::-1], 0.0, None)
    predicted: dict[str, Any] = {
        "sample": predicted_thresholds(n, parameter=parameter, values=vals, samples=Xa),
        "population": None if pop is None else predicted_thresholds(n, parameter=parameter, values=vals,
                                                                    spectrum=pop)}
    theory_jobs: list[tuple[str, int, dict[str, Any]]] = []
    theory_out: dict[str, Any] = {"sample": [None] * len(g) if theory else None,
                                  "population": [None] * len(g) if theory and pop is not None else None}
    if theory:
        for src, spec in (("sample", sample_spectrum), ("population", pop)):
            if spec is None:
                continue
            for i, val in enumerate(g):
                theory_jobs.append((src, i, {"spectrum": [float(x) for x in spec], "latent_dim": n,
                                             "parameter": parameter, "value": val, "values": vals}))
    kw = {"parameter": parameter, "values": vals, "delta": float(delta), "diagnostics": bool(diagnostics),
          "moment": moment if diagnostics else None}
    bar = _Progress(len(ts) * len(seed_list) * len(g), f"sweep {parameter}", bool(progress))
    t0 = time.monotonic()
    try:
        if client is not None:
            kind = "dask"
            recs = _chains_dask(ts, Xa, seed_list, kw, g, bar, client, theory_jobs, theory_out)
            address = getattr(getattr(client, "scheduler", None), "address", None)
            info: dict[str, Any] = client.scheduler_info() if hasattr(client, "scheduler_info") else {}
            execution: dict[str, Any] = {"kind": kind, "scheduler": address, "workers": len(info.get("workers", {}))}
        elif executor == "processes" and len(ts) * len(seed_list) > 1:
            recs = _chains_processes(ts, Xa, seed_list, kw, g, bar, workers, theory_jobs, theory_out)
            execution = {"kind": "processes", "workers": workers or None}
        else:
            recs = _chains_serial(ts, Xa, seed_list, kw, g, bar)
            for src, i, args in theory_jobs:
                theory_out[src][i] = theory_point(**args)
            execution = {"kind": "serial", "workers": 1}
    finally:
        bar.close()
    execution["wall_seconds"] = time.monotonic() - t0
    order = {(t.name, s, i): k for k, (t, s, i) in enumerate((t, s, i) for t in ts for s in seed_list
                                                             for i in range(len(g)))}
    recs.sort(key=lambda r: order[(r["trainer"], r["seed"], r["index"])])
    for r in recs:
        r.pop("state", None)
    points = [dict(_clean(r)) for r in recs]
    if theory and any(v is None for src in theory_out.values() if src is not None for v in src):
        raise AnalysisError("a theory point is missing after the sweep (internal error)")
    measured = measure_thresholds(points, g, n, float(delta))
    data = {"name": data_name, "samples": M, "features": N, "transform": transform, "preprocessing": preprocessing,
            "moment": "X^T X / M: the trainers' mean over the rows of X (no further centring, ddof=0)",
            "population": None if pop is None else [float(x) for x in pop]}
    meta = {"statvae": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    return SweepResult(parameter=parameter, grid=g, values=vals, latent_dim=n, delta=float(delta), seeds=seed_list,
                       trainers={t.name: _clean(t.config()) for t in ts}, data=_clean(data), points=points,
                       theory=_clean(theory_out), predicted=predicted, measured=measured, execution=_clean(execution),
                       meta=meta)
