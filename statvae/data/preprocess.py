"""Centring and standardisation of samples: the one place where samples become the matrix analysed.

Every entry point that accepts samples (``collapse().critical(samples=...)``,
``statvae.track``, the phase diagrams, the finite-sample analyses and the
command line's ``--samples`` / ``--data`` / ``--dataset``) reduces them here,
through :func:`statvae.data.resolve.prepare_data`, with the same two options:

``center`` (default True)
    subtract the sample mean of each feature.  With ``center=False`` the
    second moment about zero is analysed: ``X^T X / (M - ddof)``, for data
    whose mean is known to be zero or a model without biases.
``standardize`` (default False)
    divide each feature by its sample standard deviation (about its mean,
    with the same ``ddof``) before the second moment is taken.  With
    centring this analyses the correlation matrix; thresholds then do not
    depend on the units of any feature.  A constant feature cannot be
    scaled and is refused with a one-line :class:`~statvae.errors.DataError`.
    A covariance can be standardised too (to its correlation matrix); a
    spectrum cannot (it has no features).

The divisor is ``M - ddof`` in every case, as ``numpy.cov`` (``ddof=1``, the
default, is the unbiased covariance of centred data).  With the defaults the
matrix is exactly :func:`~statvae.data.spectra.covariance_from_samples`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import DataError
from ..validate import check_flag, check_memory, show
from .spectra import covariance_from_samples, validate_covariance, validate_samples

__all__ = ["Preprocessing", "sample_moment", "standardized_covariance", "check_data_options"]


@dataclass(frozen=True)
class Preprocessing:
    """How the data given became the matrix analysed.

    Attributes
    ----------
    source : str
        ``"samples"``, ``"covariance"`` or ``"spectrum"``.
    center : bool
        Samples were centred (always True for a covariance or a spectrum:
        they are taken as given).
    standardize : bool
        Each feature was divided by its standard deviation.
    ddof : int
        The divisor of the second moment is ``samples - ddof`` (samples only).
    samples : int
        Number of samples ``M`` (0 for a covariance or a spectrum).
    features : int
        Number of features ``N`` (the size of the matrix analysed; the
        length of the spectrum).
    scales : tuple of float
        The standard deviations divided out, one per feature (empty without
        ``standardize``).

    Examples
    --------
    >>> import numpy as np
    >>> c, p = sample_moment(np.array([[1.0, 10.0], [2.0, 30.0], [4.0, 20.0]]), standardize=True)
    >>> p.describe()
    '3 samples of 2 features, centred, standardized (each feature divided by its standard deviation, ddof=1)'
    >>> bool(np.allclose(np.diag(c), 1.0))
    True
    """

    source: str = "samples"
    center: bool = True
    standardize: bool = False
    ddof: int = 1
    samples: int = 0
    features: int = 0
    scales: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.source not in ("samples", "covariance", "spectrum"):
            raise DataError(f"source must be samples, covariance or spectrum, got {self.source!r}")
        object.__setattr__(self, "scales", tuple(float(s) for s in self.scales))
        object.__setattr__(self, "center", bool(self.center))
        object.__setattr__(self, "standardize", bool(self.standardize))
        object.__setattr__(self, "ddof", int(self.ddof))
        object.__setattr__(self, "samples", int(self.samples))
        object.__setattr__(self, "features", int(self.features))

    @property
    def effective_samples(self) -> int:
        """Samples left after centring: ``M - 1`` when centred (the mean used one), else ``M``; 0 without samples."""
        if self.source != "samples":
            return 0
        return self.samples - 1 if self.center else self.samples

    def describe(self) -> str:
        """One line: what was done to the data (for printed output).

        Returns
        -------
        str
        """
        if self.source == "spectrum":
            return f"spectrum of {self.features} eigenvalues, as given"
        if self.source == "covariance":
            head = f"{self.features} x {self.features} covariance, as given"
            return head + (", standardized (divided by the square roots of its diagonal: the correlation "
                           "matrix)" if self.standardize else "")
        parts = [f"{self.samples} samples of {self.features} features",
                 "centred" if self.center else f"not centred (second moment about zero, divided by "
                                               f"{self.samples - self.ddof})"]
        if self.standardize:
            parts.append(f"standardized (each feature divided by its standard deviation, ddof={self.ddof})")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields.

        Returns
        -------
        dict
        """
        d = asdict(self)
        d["scales"] = list(self.scales)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocessing:
        """Inverse of :meth:`to_dict`.

        Parameters
        ----------
        d : dict
            As returned by :meth:`to_dict`.

        Returns
        -------
        Preprocessing
        """
        return cls(**d)


def check_data_options(center: Any, standardize: Any) -> tuple[bool, bool]:
    """Check ``center`` and ``standardize``: each True or False.

    Parameters
    ----------
    center, standardize : object
        The values given.

    Returns
    -------
    tuple of bool

    Raises
    ------
    DataError
        If either is not a bool.
    """
    for name, v in (("center", center), ("standardize", standardize)):
        if not isinstance(v, (bool, np.bool_)):
            raise DataError(f"{name} must be True or False, got {show(v)}")
    return check_flag(center, "center"), check_flag(standardize, "standardize")


def _constant_features(x: np.ndarray) -> np.ndarray:
    """Indices of the columns of ``x`` whose entries are all equal."""
    return np.flatnonzero(np.all(x == x[:1], axis=0))


def sample_moment(samples: Any, ddof: int = 1, center: bool = True,
                  standardize: bool = False) -> tuple[np.ndarray, Preprocessing]:
    """The matrix analysed for samples: covariance (or second moment about zero), optionally standardized.

    Parameters
    ----------
    samples : array_like
        Rows are samples (validated by :func:`~statvae.data.spectra.validate_samples`).
    ddof : {0, 1}, optional
        The divisor is ``M - ddof``.
    center : bool, optional
        Subtract each feature's mean first (default).
    standardize : bool, optional
        Divide each feature by its standard deviation (about its mean, with ``ddof``).

    Returns
    -------
    matrix : numpy.ndarray
        ``N x N``, symmetric positive semi-definite.
    preprocessing : Preprocessing
        What was done.

    Raises
    ------
    DataError
        For bad samples, ``ddof`` or options, a constant feature under
        ``standardize``, or a matrix that would not fit in memory.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [3.0, 2.0]])
    >>> sample_moment(x)[0]
    array([[2., 2.],
           [2., 2.]])
    >>> sample_moment(x, ddof=0, center=False)[0]
    array([[5., 3.],
           [3., 2.]])
    """
    center, standardize = check_data_options(center, standardize)
    a = validate_samples(samples)
    m, n = a.shape
    if center and not standardize:  # the default: exactly the covariance every entry point used before
        return covariance_from_samples(a, ddof), Preprocessing("samples", True, False, int(ddof), m, n)
    if isinstance(ddof, (bool, np.bool_)) or ddof not in (0, 1):
        raise DataError(f"ddof must be 0 or 1, got {show(ddof)}")
    if m <= ddof:
        raise DataError("not enough samples for the requested ddof")
    check_memory(8.0 * (3 * n ** 2 + m * n), f"the second moment of {n:,}-dimensional samples")
    x = a.astype(float, copy=True)
    scales: tuple[float, ...] = ()
    if standardize:
        const = _constant_features(x)
        if const.size:
            which = ", ".join(str(int(k)) for k in const[:5]) + (" ..." if const.size > 5 else "")
            raise DataError(f"feature{'s' if const.size > 1 else ''} {which} (0-based) "
                            f"{'are' if const.size > 1 else 'is'} constant: standardize cannot scale a feature "
                            f"with zero variance; drop it first")
        sd = x.std(axis=0, ddof=ddof)
        scales = tuple(float(s) for s in sd)
    if center:
        x -= x.mean(axis=0)
    if standardize:
        x /= np.asarray(scales)
    c = (x.T @ x) / (m - ddof)
    c = 0.5 * c + 0.5 * c.T
    return c, Preprocessing("samples", center, standardize, int(ddof), m, n, scales)


def standardized_covariance(covariance: Any) -> tuple[np.ndarray, tuple[float, ...]]:
    """A covariance divided by the square roots of its diagonal on both sides: the correlation matrix.

    Parameters
    ----------
    covariance : array_like
        Validated by :func:`~statvae.data.spectra.validate_covariance`.

    Returns
    -------
    correlation : numpy.ndarray
    scales : tuple of float
        The square roots of the diagonal (the standard deviations).

    Raises
    ------
    DataError
        For a bad covariance or a zero variance on its diagonal.

    Examples
    --------
    >>> standardized_covariance([[4.0, 2.0], [2.0, 9.0]])[0]
    array([[1.        , 0.33333333],
           [0.33333333, 1.        ]])
    """
    c = validate_covariance(covariance)
    d = np.diag(c).copy()
    zero = np.flatnonzero(d <= 0)
    if zero.size:
        which = ", ".join(str(int(k)) for k in zero[:5]) + (" ..." if zero.size > 5 else "")
        raise DataError(f"variable{'s' if zero.size > 1 else ''} {which} (0-based) of the covariance "
                        f"{'have' if zero.size > 1 else 'has'} zero variance: standardize cannot scale "
                        f"{'them' if zero.size > 1 else 'it'}; drop {'them' if zero.size > 1 else 'it'} first")
    s = np.sqrt(d)
    out = c / s[:, None] / s[None, :]
    out = 0.5 * out + 0.5 * out.T
    np.fill_diagonal(out, 1.0)
    return out, tuple(float(v) for v in s)
