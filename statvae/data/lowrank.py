"""Covariances given as a low-rank factor plus a diagonal: ``diag(d) + U U^T``.

A covariance of ``M`` samples in ``N`` dimensions has rank below ``M``; when
``M`` is small against ``N`` the ``N x N`` matrix need never be formed.
:class:`LowRankPlusDiagonal` holds the factor ``U`` (``N x r``) and the
diagonal ``d`` (``N`` entries, ``>= 0``), so the matrix is positive
semi-definite by construction.  The compiled objective binds it with
products that cost O((r + 1) N n) instead of O(N^2 n)
(:meth:`statvae.numeric.bundle.CompiledObjective.bind`, ``structure=``);
anything else that takes a covariance materialises it (``numpy.asarray``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DataError
from ..validate import real_array, show
from .spectra import validate_samples

__all__ = ["LowRankPlusDiagonal"]


class LowRankPlusDiagonal:
    """The covariance ``diag(diagonal) + factor @ factor.T``, kept in that form.

    The arrays are copied and made read-only, so an object may be bound (and
    its binding cached) by identity.

    Parameters
    ----------
    factor : array_like
        ``U``, of shape ``(N, r)`` (``r >= 0``; a 1-D array is one column).
    diagonal : array_like, optional
        ``d``, ``N`` finite entries ``>= 0`` (default: zeros).

    Attributes
    ----------
    factor : numpy.ndarray
        ``U``, read-only, ``(N, r)``.
    diagonal : numpy.ndarray
        ``d``, read-only, ``(N,)``.

    Raises
    ------
    DataError
        If the factor is not a finite real matrix, the diagonal has the wrong
        length, or has a NaN, infinite or negative entry.

    Examples
    --------
    >>> c = LowRankPlusDiagonal([[1.0], [2.0]], diagonal=[0.5, 0.0])
    >>> c.shape, c.rank
    ((2, 2), 1)
    >>> c.toarray()
    array([[1.5, 2. ],
           [2. , 4. ]])
    """

    def __init__(self, factor: Any, diagonal: Any = None) -> None:
        u = real_array(factor, "factor", (1, 2))
        if u.ndim == 1:
            u = u[:, None]
        if u.shape[0] == 0:
            raise DataError("factor has no rows: it must be N x r with N >= 1")
        if not np.all(np.isfinite(u)):
            raise DataError("factor has a NaN or infinite entry")
        n = u.shape[0]
        if diagonal is None:
            d = np.zeros(n)
        else:
            d = real_array(diagonal, "diagonal", (1,))
            if d.shape != (n,):
                raise DataError(f"diagonal must have {n} entries (the rows of the factor), got {d.size}")
            if not np.all(np.isfinite(d)):
                raise DataError("diagonal has a NaN or infinite entry")
            if np.any(d < 0):
                raise DataError(f"diagonal has a negative entry ({d.min():g}): the covariance must be "
                                f"positive semi-definite")
        self.factor = np.array(u, dtype=float, order="C")
        self.diagonal = np.array(d, dtype=float)
        self.factor.flags.writeable = False
        self.diagonal.flags.writeable = False

    @classmethod
    def from_samples(cls, samples: Any, ddof: int = 1) -> LowRankPlusDiagonal:
        """The covariance of samples as the centred samples, without the ``N x N`` matrix.

        ``factor = (x - mean)^T / sqrt(M - ddof)`` (``M`` samples, rows of ``x``), so
        ``factor @ factor.T`` is ``numpy.cov(x, rowvar=False, ddof=ddof)`` to rounding.

        Parameters
        ----------
        samples : array_like
            ``M x N``, rows are samples (validated as :func:`statvae.data.validate_samples`).
        ddof : {0, 1}, optional
            Delta degrees of freedom (1: unbiased, as ``numpy.cov``).

        Returns
        -------
        LowRankPlusDiagonal
            Rank ``M`` (at most ``M - 1`` numerically), zero diagonal.

        Raises
        ------
        DataError
            For bad samples or ``ddof``.

        Examples
        --------
        >>> LowRankPlusDiagonal.from_samples([[1.0, 0.0], [3.0, 2.0]]).toarray()
        array([[2., 2.],
               [2., 2.]])
        """
        a = validate_samples(samples)
        if isinstance(ddof, (bool, np.bool_)) or ddof not in (0, 1):
            raise DataError(f"ddof must be 0 or 1, got {show(ddof)}")
        if a.shape[0] <= ddof:
            raise DataError("not enough samples for the requested ddof")
        centred = a - a.mean(axis=0)
        return cls(centred.T / np.sqrt(a.shape[0] - ddof))

    def __repr__(self) -> str:
        return f"LowRankPlusDiagonal(N={self.dim}, rank={self.rank})"

    @property
    def dim(self) -> int:
        """``N``, the dimension of the covariance."""
        return int(self.factor.shape[0])

    @property
    def rank(self) -> int:
        """``r``, the number of columns of the factor."""
        return int(self.factor.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        """``(N, N)``."""
        return (self.dim, self.dim)

    def toarray(self) -> np.ndarray:
        """The dense ``N x N`` covariance.

        Returns
        -------
        numpy.ndarray
            ``diag(d) + U U^T``, exactly symmetric.
        """
        u = self.factor
        c = u @ u.T
        c = 0.5 * c + 0.5 * c.T
        c[np.diag_indices(self.dim)] += self.diagonal
        return c

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = self.toarray()
        return a if dtype is None else a.astype(dtype)
