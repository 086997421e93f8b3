"""Validation of spectra, covariances and samples.

Everything numeric that enters statvae passes through here first, so bad
input fails early with a one-line :class:`~statvae.errors.DataError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DataError
from ..validate import check_memory, real_array, show

__all__ = [
    "validate_spectrum",
    "validate_covariance",
    "validate_samples",
    "covariance_from_samples",
]


def validate_spectrum(spectrum: Any, name: str = "spectrum") -> np.ndarray:
    """Return a spectrum as a float array sorted in descending order.

    Parameters
    ----------
    spectrum : array_like
        Eigenvalues of a covariance.
    name : str, optional
        Its name in the error message.

    Returns
    -------
    numpy.ndarray
        A new 1-D float array, descending.

    Raises
    ------
    DataError
        If it is empty, not one-dimensional, or has a NaN, infinite or
        negative entry.

    Examples
    --------
    >>> validate_spectrum([1, 3, 2])
    array([3., 2., 1.])
    """
    s = real_array(spectrum, name)
    if s.ndim != 1:
        raise DataError(f"{name} must be one-dimensional, got shape {s.shape}")
    if s.size == 0:
        raise DataError(f"{name} is empty")
    if not np.all(np.isfinite(s)):
        raise DataError(f"{name} has a NaN or infinite entry")
    if np.any(s < 0):
        raise DataError(f"{name} has a negative entry ({s.min():g}): eigenvalues of a covariance are >= 0")
    return np.sort(s)[::-1].copy()


def validate_covariance(cov: Any, rtol: float = 1e-8) -> np.ndarray:
    """Check that ``cov`` is a finite, symmetric, positive semi-definite matrix.

    Parameters
    ----------
    cov : array_like
        The matrix.
    rtol : float, optional
        Tolerance of the symmetry and definiteness tests, relative to the
        largest absolute entry.

    Returns
    -------
    numpy.ndarray
        The symmetrised matrix.

    Raises
    ------
    DataError
        If it is not square, is empty, has a NaN or infinite entry, or is not
        symmetric or positive semi-definite to ``rtol``.

    Examples
    --------
    >>> validate_covariance([[2, 1], [1, 2]])
    array([[2., 1.],
           [1., 2.]])
    """
    c = real_array(cov, "covariance")
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise DataError(f"covariance must be a square matrix, got shape {c.shape}")
    if c.size == 0:
        raise DataError("covariance is empty")
    if not np.all(np.isfinite(c)):
        raise DataError("covariance has a NaN or infinite entry")
    scale = max(np.abs(c).max(), np.finfo(float).tiny)
    if np.abs(c - c.T).max() > rtol * scale:
        raise DataError(f"covariance is not symmetric (max |C - C^T| = {np.abs(c - c.T).max():.3g})")
    c = 0.5 * c + 0.5 * c.T  # not (c + c.T) / 2: that overflows near the largest floats
    lo = np.linalg.eigvalsh(c / scale).min() * scale  # scaled, for the same reason
    if lo < -rtol * scale * max(1, c.shape[0]):
        raise DataError(f"covariance is not positive semi-definite (smallest eigenvalue {lo:.3g})")
    return c


def validate_samples(x: Any) -> np.ndarray:
    """Check a samples matrix (rows are samples): 2-D, finite, at least two rows.

    Parameters
    ----------
    x : array_like
        The samples; a 1-D array is one column.

    Returns
    -------
    numpy.ndarray
        A 2-D float array.

    Raises
    ------
    DataError
        If it is not 2-D, has fewer than two rows, or has a NaN or infinite entry.
    """
    a = real_array(x, "data", allow_bool=True)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[1] == 0:
        raise DataError(f"data must be a 2-D matrix (rows are samples), got shape {a.shape}")
    if a.shape[0] < 2:
        raise DataError(f"data need at least 2 samples to estimate a covariance, got {a.shape[0]}")
    if not np.all(np.isfinite(a)):
        bad = int((~np.isfinite(a)).any(axis=1).sum())
        raise DataError(f"data have NaN or infinite entries in {bad} row(s)")
    return a


def covariance_from_samples(x: Any, ddof: int = 1) -> np.ndarray:
    """Sample covariance of the rows of ``x`` (``ddof=1``: unbiased, as ``numpy.cov``).

    Parameters
    ----------
    x : array_like
        The samples (rows), validated by :func:`validate_samples`.
    ddof : {0, 1}, optional
        Delta degrees of freedom.

    Returns
    -------
    numpy.ndarray
        A square covariance matrix.

    Raises
    ------
    DataError
        For bad samples or ``ddof``, or a covariance that would not fit in memory.

    Examples
    --------
    >>> covariance_from_samples([[1.0, 0.0], [3.0, 2.0]])
    array([[2., 2.],
           [2., 2.]])
    """
    a = validate_samples(x)
    if isinstance(ddof, (bool, np.bool_)) or ddof not in (0, 1):
        raise DataError(f"ddof must be 0 or 1, got {show(ddof)}")
    check_memory(8.0 * 3 * a.shape[1] ** 2, f"the covariance of {a.shape[1]:,}-dimensional samples")
    if a.shape[0] <= ddof:
        raise DataError("not enough samples for the requested ddof")
    return np.atleast_2d(np.cov(a, rowvar=False, ddof=ddof))
