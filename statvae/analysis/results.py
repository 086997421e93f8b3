"""Typed answers of the collapse analysis: critical values and crossings, each with its status.

Every numeric answer of :class:`~statvae.analysis.collapse.CollapseAnalysis`
is an object, never a bare float or tuple: it names the parameter, says how
the value was found (``method``), which Hessian block crosses, what the
answer assumes of the data, the interval on which the compiled Hessian
confirmed it, and a ``status``.  An answer that fails its self-check is
never returned (an :class:`~statvae.errors.AnalysisError` is raised), so a
returned answer is ``confirmed``; a result rebuilt from a file keeps the
status it was saved with.
"""

from __future__ import annotations

import enum
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import DataError

__all__ = ["ResultStatus", "CriticalResult", "CrossingResult", "BootstrapResult", "NoiseReport", "FiniteDataPrediction"]


class ResultStatus(str, enum.Enum):
    """How far a numeric answer has been checked.

    ``confirmed``: the compiled Hessian at the collapsed point shows the
    claimed change of inertia just below and just above the value (see
    :mod:`statvae.analysis.selfcheck`).  ``unchecked``: built by hand or
    loaded from elsewhere, not checked in this process.
    """

    CONFIRMED = "confirmed"
    UNCHECKED = "unchecked"

    def __str__(self) -> str:
        return self.value


def _block_latex(block: str, method: str) -> str:
    """The crossing block(s) for display: ``H_{(W_{ij}, V_{ji})}`` for per-mode labels (LaTeX), words otherwise."""
    from ..symbolic.printing import text

    if not block:
        return ""
    if "compiled" in method:  # the compiled Hessian's description of its block: words
        return text(f"; block {block}")
    return text("; block ") + ", ".join(rf"H_{{({b.strip()})}}" for b in block.split(";"))


def _status(value: Any) -> ResultStatus:
    try:
        return ResultStatus(str(value))
    except ValueError:
        raise DataError(f"unknown result status {value!r}; one of "
                        f"{', '.join(s.value for s in ResultStatus)}") from None


@dataclass(frozen=True)
class CriticalResult:
    """A value of a hyper-parameter at which collapse gains or loses stability.

    Attributes
    ----------
    parameter : str
        The hyper-parameter (``"sigma2"``, ``"beta"``, ...).
    value : float
        The critical value, in the units of the data given.
    stable_side : str
        ``"above"`` if collapse is stable just above ``value``, ``"below"``
        if just below.
    block : str
        The Hessian block whose eigenvalue crosses zero (its parameter
        labels, or the compiled block's description).
    method : str
        ``"closed form"``, ``"bracketed root"``, or the compiled-Hessian
        method (``"generalized eigenvalue (compiled Hessian)"``...).
    mode : dict
        Which data coordinates (0-based, per observed variable) carry the
        crossing (empty for the compiled route).
    assumptions : tuple of str
        What the answer assumes of the data (cross-moments taken to vanish);
        empty when nothing is assumed or the compiled Hessian answered.
    bracket : tuple of float
        ``(lo, hi)`` on which the compiled Hessian saw the change.
    status : ResultStatus

    Examples
    --------
    >>> import statvae
    >>> r = statvae.LinearVAE(3, 2).collapse().critical("sigma2", spectrum=[3.0, 1.7, 0.9])
    >>> r.value, r.stable_side, r.method, str(r.status)
    (3.0, 'above', 'closed form', 'confirmed')
    >>> float(r)
    3.0
    """

    parameter: str
    value: float
    stable_side: str
    block: str
    method: str
    mode: dict[str, list[int]] = field(default_factory=dict)
    assumptions: tuple[str, ...] = ()
    bracket: tuple[float, ...] = ()
    status: ResultStatus = ResultStatus.UNCHECKED

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "status", _status(self.status))
        object.__setattr__(self, "assumptions", tuple(self.assumptions))
        object.__setattr__(self, "bracket", tuple(float(b) for b in self.bracket))
        if self.stable_side not in ("above", "below"):
            raise DataError(f"stable_side must be 'above' or 'below', got {self.stable_side!r}")

    def __float__(self) -> float:
        return float(self.value)

    def __str__(self) -> str:
        return (f"{self.parameter} = {self.value:.12g} (collapse stable {self.stable_side}; {self.method}; "
                f"block {self.block}; {self.status})")

    def _repr_latex_(self) -> str:
        r"""The critical value as inline math, for Jupyter.

        ``\sigma'^{2}_{c} = 3`` (what ``statvae.latex(result)`` prints), then in words the stable
        side, the method, the block and the status.

        Returns
        -------
        str
            ``$...$``.

        Examples
        --------
        >>> import statvae
        >>> r = statvae.LinearVAE(3, 2).collapse().critical("sigma2", spectrum=[3.0, 1.7, 0.9])
        >>> print(r._repr_latex_()[:52])
        $\sigma'^{2}_{c} = 3 \quad \text{collapse stable abo
        """
        from ..symbolic.printing import critical_latex, inline, number, text

        words = text(f"collapse stable {self.stable_side}; {self.method}") + _block_latex(self.block, self.method)
        if self.assumptions:
            words += text(f"; assuming {', '.join(self.assumptions)}")
        return inline(rf"{critical_latex(self.parameter)} = {number(self.value)} \quad {words}"
                      + text(f"; {self.status}"))

    @property
    def precision(self) -> float:
        """Relative width of :attr:`bracket` (``nan`` without one)."""
        if len(self.bracket) != 2 or self.value == 0:
            return math.nan
        return abs(self.bracket[1] - self.bracket[0]) / abs(self.value)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (``status`` as its word)."""
        d = asdict(self)
        d["status"] = self.status.value
        d["assumptions"] = list(self.assumptions)
        d["bracket"] = list(self.bracket)
        d["mode"] = {k: list(v) for k, v in self.mode.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CriticalResult:
        """Inverse of :meth:`to_dict`.

        Parameters
        ----------
        d : dict
            As returned by :meth:`to_dict` (the fields by name).

        Returns
        -------
        CriticalResult
        """
        return cls(**{**d, "mode": {k: list(v) for k, v in d.get("mode", {}).items()}})


@dataclass(frozen=True)
class CrossingResult:
    """A value of a hyper-parameter where Hessian eigenvalues at collapse cross zero (a branch point).

    Attributes
    ----------
    parameter : str
    value : float
    kernel_dim : int
        How many eigenvalues cross there (latent copies of the crossing block
        and coinciding modes included).
    block : str
        The crossing block(s).
    method : str
    bracket : tuple of float
        ``(lo, hi)`` on which the compiled Hessian saw ``kernel_dim``
        eigenvalues cross.
    status : ResultStatus

    Examples
    --------
    >>> import statvae
    >>> [(c.value, c.kernel_dim) for c in statvae.LinearVAE(3, 2).collapse().crossings(spectrum=[3.0, 2.0, 1.0])]
    [(1.0, 2), (2.0, 2), (3.0, 2)]
    """

    parameter: str
    value: float
    kernel_dim: int
    block: str = ""
    method: str = ""
    bracket: tuple[float, ...] = ()
    status: ResultStatus = ResultStatus.UNCHECKED

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "kernel_dim", int(self.kernel_dim))
        object.__setattr__(self, "status", _status(self.status))
        object.__setattr__(self, "bracket", tuple(float(b) for b in self.bracket))

    def __float__(self) -> float:
        return float(self.value)

    def __str__(self) -> str:
        return f"{self.parameter} = {self.value:.12g} ({self.kernel_dim} eigenvalue(s) cross; {self.status})"

    def _repr_latex_(self) -> str:
        r"""The crossing as inline math, for Jupyter: the value and ``\dim \ker H``, the block and the status.

        Returns
        -------
        str
            ``$...$``.

        Examples
        --------
        >>> import statvae
        >>> c = statvae.LinearVAE(3, 2).collapse().crossings(spectrum=[3.0, 2.0, 1.0])[-1]
        >>> print(c._repr_latex_()[:64])
        $\sigma'^{2} = 3, \quad \dim \ker H = 2 \quad \text{closed form}
        """
        from ..symbolic.printing import hyper_latex, inline, number, text

        words = text(self.method) + _block_latex(self.block, self.method) + text(f"; {self.status}")
        return inline(rf"{hyper_latex(self.parameter)} = {number(self.value)}, \quad \dim \ker H = {self.kernel_dim}"
                      rf" \quad {words}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (``status`` as its word)."""
        d = asdict(self)
        d["status"] = self.status.value
        d["bracket"] = list(self.bracket)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CrossingResult:
        """Inverse of :meth:`to_dict`.

        Parameters
        ----------
        d : dict
            As returned by :meth:`to_dict` (the fields by name).

        Returns
        -------
        CrossingResult
        """
        return cls(**d)


def _floats(values: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def _ints(values: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


@dataclass(frozen=True)
class BootstrapResult:
    """A critical value from samples with its bootstrap confidence interval.

    The samples are resampled with replacement ``resamples`` times (a
    ``numpy.random.default_rng(seed)`` stream); each resample goes through
    the same preprocessing (centring, standardisation) and the same
    :meth:`~statvae.analysis.collapse.CollapseAnalysis.critical` as the
    samples themselves, so every replicate is a confirmed critical value.

    Attributes
    ----------
    parameter : str
    value : float
        The critical value of all the samples (the point estimate).
    interval : tuple of float
        ``(lo, hi)``, the confidence interval.
    confidence : float
        Its nominal coverage (0.95: a 95% interval).
    method : str
        ``"percentile"`` (the ``(1 -+ confidence) / 2`` quantiles of the
        replicates) or ``"basic"`` (those quantiles reflected about ``value``).
    resamples : int
        Number of bootstrap resamples ``B``.
    seed : int or None
        The seed of the resampling.
    replicates : tuple of float
        The critical value of each resample, in the order drawn.
    stable_side : str
        ``"above"`` or ``"below"``, as for :class:`CriticalResult` (the same for every replicate).
    preprocessing : dict
        How the samples became the matrix analysed
        (:meth:`statvae.data.preprocess.Preprocessing.to_dict`).
    status : ResultStatus
        ``confirmed``: the value and every replicate were confirmed by the compiled Hessian.

    Examples
    --------
    >>> import statvae
    >>> from statvae.data import synthetic
    >>> x = synthetic([4.0, 1.0, 0.5], samples=400, seed=1)
    >>> r = statvae.LinearVAE(3, 1).collapse().bootstrap_critical("sigma2", samples=x, bootstrap=50, seed=0)
    >>> r.interval[0] < r.value < r.interval[1], r.resamples, str(r.status)
    (True, 50, 'confirmed')
    """

    parameter: str
    value: float
    interval: tuple[float, ...]
    confidence: float
    method: str
    resamples: int
    seed: int | None
    replicates: tuple[float, ...]
    stable_side: str
    preprocessing: dict[str, Any] = field(default_factory=dict)
    status: ResultStatus = ResultStatus.UNCHECKED

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "interval", _floats(self.interval))
        object.__setattr__(self, "replicates", _floats(self.replicates))
        object.__setattr__(self, "confidence", float(self.confidence))
        object.__setattr__(self, "resamples", int(self.resamples))
        object.__setattr__(self, "status", _status(self.status))
        if len(self.interval) != 2 or not self.interval[0] <= self.interval[1]:
            raise DataError(f"interval must be (lo, hi) with lo <= hi, got {self.interval!r}")
        if not 0 < self.confidence < 1:
            raise DataError(f"confidence must be between 0 and 1, got {self.confidence!r}")
        if self.method not in ("percentile", "basic"):
            raise DataError(f"method must be 'percentile' or 'basic', got {self.method!r}")
        if self.stable_side not in ("above", "below"):
            raise DataError(f"stable_side must be 'above' or 'below', got {self.stable_side!r}")
        if len(self.replicates) != self.resamples:
            raise DataError(f"{len(self.replicates)} replicates for {self.resamples} resamples")

    def __float__(self) -> float:
        return float(self.value)

    def __str__(self) -> str:
        lo, hi = self.interval
        return (f"{self.parameter} = {self.value:.8g}, {100 * self.confidence:g}% bootstrap interval "
                f"[{lo:.8g}, {hi:.8g}] ({self.method}, {self.resamples} resamples, seed {self.seed}; "
                f"standard error {self.standard_error:.3g}; {self.status})")

    def _repr_latex_(self) -> str:
        r"""The point estimate and its interval as inline math, for Jupyter.

        Returns
        -------
        str
            ``$...$``: ``\sigma'^{2}_{c} = v \in [lo, hi]`` (the confidence, method, resamples and status in
            words).
        """
        from ..symbolic.printing import critical_latex, inline, number, text

        lo, hi = self.interval
        return inline(rf"{critical_latex(self.parameter)} = {number(self.value, 8)}, \quad "
                      rf"\left[{number(lo, 8)},\ {number(hi, 8)}\right] \quad "
                      + text(f"{100 * self.confidence:g}% bootstrap interval ({self.method}, {self.resamples} "
                             f"resamples, seed {self.seed}; standard error {self.standard_error:.3g}; {self.status})"))

    @property
    def standard_error(self) -> float:
        """Standard deviation of the replicates (``ddof=1``; ``nan`` for one resample)."""
        n = len(self.replicates)
        if n < 2:
            return math.nan
        mean = sum(self.replicates) / n
        return math.sqrt(sum((r - mean) ** 2 for r in self.replicates) / (n - 1))

    @property
    def bias(self) -> float:
        """Mean of the replicates minus :attr:`value` (the bootstrap estimate of the bias)."""
        return sum(self.replicates) / len(self.replicates) - self.value

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (``status`` as its word), with ``standard_error`` and ``bias``."""
        d = asdict(self)
        d["status"] = self.status.value
        d["interval"] = list(self.interval)
        d["replicates"] = list(self.replicates)
        d["standard_error"] = self.standard_error
        d["bias"] = self.bias
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BootstrapResult:
        """Inverse of :meth:`to_dict` (the derived ``standard_error`` and ``bias`` are recomputed).

        Parameters
        ----------
        d : dict
            As returned by :meth:`to_dict`.

        Returns
        -------
        BootstrapResult
        """
        return cls(**{k: v for k, v in d.items() if k not in ("standard_error", "bias")})


@dataclass(frozen=True)
class NoiseReport:
    """Which directions of a sample spectrum collapse would learn, and how many of them are noise.

    A direction (a sample eigenvalue, with its eigenvector) is *active* when
    collapse is unstable along it at the hyper-parameter values given: its
    per-mode Hessian block at the collapsed point has a positive eigenvalue
    (statvae's own blocks, confirmed by the compiled Hessian's Morse index).
    It is *above* the noise edge when its eigenvalue exceeds the top of the
    Marchenko-Pastur bulk of the noise, and *below* it otherwise: an active
    direction below the edge is noise the VAE would learn.

    Attributes
    ----------
    samples : int
        ``M``.
    features : int
        ``N``.
    alpha : float
        Effective samples per dimension, ``M_eff / N`` (``M_eff = M - 1`` after centring).
    noise_variance : float
        The noise variance ``eta`` (given, or estimated by ``noise_method``).
    noise_method : str
        ``"given"``, ``"median"`` or ``"bulk"`` (see
        :func:`statvae.data.rmt.estimate_noise_variance`).
    edge : float
        The noise edge in the units of the matrix analysed:
        ``scale * eta * (1 + sqrt(1 / alpha))^2``, ``scale = M_eff / (M - ddof)``.
    eigenvalues : tuple of float
        The sample spectrum analysed, descending.
    active : tuple of int
        Indices (into ``eigenvalues``) of the active directions.
    above, below : tuple of int
        The active directions above the edge, and at or below it.
    outliers : tuple of int
        Every eigenvalue above the edge, active or not.
    spikes : tuple of float
        For each outlier, the population spike above the noise whose BBP
        outlier it is (:func:`statvae.data.rmt.spike_from_outlier`).
    overlaps : tuple of float
        For each outlier, the predicted squared overlap of its sample
        eigenvector with the population direction.
    values : dict
        The hyper-parameter values the active set was computed at.
    preprocessing : dict
        How the samples became the matrix analysed.
    ascent_directions : int
        The Morse index of the collapsed point (confirmed by the compiled Hessian).
    status : ResultStatus

    Examples
    --------
    >>> import numpy as np, statvae
    >>> x = np.random.default_rng(0).standard_normal((2000, 50))
    >>> x[:, 0] *= 2.0
    >>> r = statvae.LinearVAE(50, 50).collapse().noise_report(samples=x, sigma2=1.2)
    >>> len(r.above), len(r.below) > 0, r.outliers
    (1, True, (0,))
    """

    samples: int
    features: int
    alpha: float
    noise_variance: float
    noise_method: str
    edge: float
    eigenvalues: tuple[float, ...]
    active: tuple[int, ...]
    above: tuple[int, ...]
    below: tuple[int, ...]
    outliers: tuple[int, ...]
    spikes: tuple[float, ...]
    overlaps: tuple[float, ...]
    values: dict[str, float] = field(default_factory=dict)
    preprocessing: dict[str, Any] = field(default_factory=dict)
    ascent_directions: int = 0
    status: ResultStatus = ResultStatus.UNCHECKED

    def __post_init__(self) -> None:
        for name in ("eigenvalues", "spikes", "overlaps"):
            object.__setattr__(self, name, _floats(getattr(self, name)))
        for name in ("active", "above", "below", "outliers"):
            object.__setattr__(self, name, _ints(getattr(self, name)))
        for name in ("alpha", "noise_variance", "edge"):
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "status", _status(self.status))
        if self.noise_method not in ("given", "median", "bulk"):
            raise DataError(f"noise_method must be given, median or bulk, got {self.noise_method!r}")
        if sorted(self.above + self.below) != sorted(self.active):
            raise DataError("above and below must split the active directions")
        if len(self.spikes) != len(self.outliers) or len(self.overlaps) != len(self.outliers):
            raise DataError("one spike and one overlap per outlier")

    def _repr_latex_(self) -> str:
        r"""The active directions against the noise edge as inline math, for Jupyter.

        Returns
        -------
        str
            ``$...$``: the counts, the edge ``\lambda_{+}`` and the noise variance ``\eta``.
        """
        from ..symbolic.printing import inline, number, text

        return inline(text(f"{len(self.active)} active: {len(self.above)} above the noise edge ")
                      + rf"\lambda_{{+}} = {number(self.edge, 6)}"
                      + text(f", {len(self.below)} below it (learning noise); ")
                      + rf"\eta = {number(self.noise_variance, 6)}" + text(f" ({self.noise_method}); {self.status}"))

    def __str__(self) -> str:
        return (f"{len(self.active)} active direction(s): {len(self.above)} above the noise edge "
                f"{self.edge:.6g}, {len(self.below)} below it (learning noise); noise variance "
                f"{self.noise_variance:.6g} ({self.noise_method}); {self.status}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (``status`` as its word; NaN spikes as None)."""
        d = asdict(self)
        d["status"] = self.status.value
        for k in ("eigenvalues", "active", "above", "below", "outliers", "overlaps"):
            d[k] = list(getattr(self, k))
        d["spikes"] = [None if math.isnan(v) else v for v in self.spikes]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NoiseReport:
        """Inverse of :meth:`to_dict`.

        Parameters
        ----------
        d : dict
            As returned by :meth:`to_dict`.

        Returns
        -------
        NoiseReport
        """
        return cls(**{**d, "spikes": [math.nan if v is None else v for v in d.get("spikes", [])]})


@dataclass(frozen=True)
class FiniteDataPrediction:
    """The large-size prediction for a linear VAE trained on ``M = alpha N`` samples of a spiked covariance.

    The setting of Ichikawa and Hukushima (one latent, fixed decoder
    variance ``sigma2``, ridge weight decay ``weight_decay`` on the summed
    training loss, no biases, data ``sqrt(rho) u c + sqrt(eta) noise``); see
    :func:`statvae.analysis.finite.finite_data_prediction` for the derivation.

    Attributes
    ----------
    alpha, rho, eta, beta, weight_decay, sigma2 : float
        The setting.
    top_eigenvalue : float
        The top eigenvalue of the sample second moment (BBP outlier, or the bulk edge).
    visible : bool
        Whether the spike is above the BBP transition.
    overlap2 : float
        Squared overlap of the top sample eigenvector with the spike direction.
    effective_weight_decay : float
        ``weight_decay / alpha``: the weight decay per sample, statvae's ``weight_decay_enc/dec``.
    beta_critical : float
        The ``beta`` below which collapse is unstable (statvae's critical value at the top eigenvalue);
        ``nan`` if collapse is stable (or unstable) for every ``beta``.
    collapsed : bool
        Whether the global optimum at ``beta`` is the collapsed point.
    q : float
        ``||w||^2`` of the decoder at the optimum (0 when collapsed).
    m : float
        ``|<w, u>|``, the decoder's overlap with the spike direction.
    generalization_error : float
        ``||sqrt(rho) u - w||^2`` with the sign of ``w`` aligned: ``rho - 2 sqrt(rho) m + q``.
    status : ResultStatus
    """

    alpha: float
    rho: float
    eta: float
    beta: float
    weight_decay: float
    sigma2: float
    top_eigenvalue: float
    visible: bool
    overlap2: float
    effective_weight_decay: float
    beta_critical: float
    collapsed: bool
    q: float
    m: float
    generalization_error: float
    status: ResultStatus = ResultStatus.UNCHECKED

    def __post_init__(self) -> None:
        for name in ("alpha", "rho", "eta", "beta", "weight_decay", "sigma2", "top_eigenvalue", "overlap2",
                     "effective_weight_decay", "beta_critical", "q", "m", "generalization_error"):
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "visible", bool(self.visible))
        object.__setattr__(self, "collapsed", bool(self.collapsed))
        object.__setattr__(self, "status", _status(self.status))

    def _repr_latex_(self) -> str:
        r"""The prediction as aligned displayed math, for Jupyter.

        Returns
        -------
        str
            ``$$\begin{aligned} ... \end{aligned}$$``: the top eigenvalue, the squared overlap,
            ``\beta_{c}``, and ``q``, ``m`` and the generalization error at ``beta``.
        """
        from ..symbolic.printing import aligned, number, text

        rows = [(r"\alpha", number(self.alpha, 6)),
                (r"\lambda_{\max}", number(self.top_eigenvalue, 6)
                 + r" \quad " + text("outlier" if self.visible else "bulk edge")),
                (r"\langle u, \hat{u} \rangle^{2}", number(self.overlap2, 6)),
                (r"\beta_{c}", number(self.beta_critical, 6)),
                (r"q = \|w\|^{2}", number(self.q, 6)),
                (r"m = |\langle w, u \rangle|", number(self.m, 6)),
                (r"\epsilon_{g}", number(self.generalization_error, 6)
                 + r" \quad " + text("at ") + rf"\beta = {number(self.beta, 6)}"
                 + text(f": {'collapsed' if self.collapsed else 'not collapsed'}"))]
        return aligned(rows)

    def __str__(self) -> str:
        return (f"alpha = {self.alpha:g}: top eigenvalue {self.top_eigenvalue:.6g} "
                f"({'outlier' if self.visible else 'bulk edge'}), overlap^2 {self.overlap2:.4g}, beta_c "
                f"{self.beta_critical:.6g}, {'collapsed' if self.collapsed else f'q {self.q:.4g}, m {self.m:.4g}'}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (``status`` as its word; NaN as None)."""
        d = asdict(self)
        d["status"] = self.status.value
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FiniteDataPrediction:
        """Inverse of :meth:`to_dict`.

        Parameters
        ----------
        d : dict
            As returned by :meth:`to_dict`.

        Returns
        -------
        FiniteDataPrediction
        """
        fields: dict[str, Any] = {k: (math.nan if v is None else v) for k, v in d.items()}
        return cls(**fields)
