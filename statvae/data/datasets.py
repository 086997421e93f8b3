"""Built-in datasets and data files.

* ``digits``: scikit-learn's bundled 8x8 handwritten digits (1797 samples,
  64 pixels, real data shipped with scikit-learn, no download), pixels
  divided by 16 so they lie in [0, 1].  Needs the optional extra
  ``pip install 'statvae[data]'``.
* ``synthetic``: Gaussian samples with a chosen covariance spectrum, seeded.
* files: ``.npy`` arrays, ``.csv``/``.txt`` tables of numbers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..validate import check_flag, check_input_path, check_memory, check_seed, real_array, show
from .spectra import validate_samples, validate_spectrum

__all__ = ["digits", "synthetic", "load_array", "load_samples", "load_covariance"]


def digits() -> np.ndarray:
    """The scikit-learn digits, shape (1797, 64), scaled to [0, 1].

    Returns
    -------
    numpy.ndarray
        One row per image, one column per pixel.

    Raises
    ------
    DataError
        If scikit-learn is not installed (with the command that installs it).
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError(
            "the digits dataset needs scikit-learn: pip install 'statvae[data]' (or pip install scikit-learn)"
        ) from None
    return load_digits().data.astype(float) / 16.0


def synthetic(spectrum: Any, samples: int = 2000, seed: Any = 0, rotate: bool = True) -> np.ndarray:
    """Gaussian samples whose population covariance has the given eigenvalues.

    Parameters
    ----------
    spectrum : array_like
        Population eigenvalues (non-negative).
    samples : int
        Number of rows.
    seed : int, numpy.random.SeedSequence, numpy.random.Generator or None
        Seed of ``numpy.random.default_rng``.
    rotate : bool
        Apply a random orthogonal rotation (so the covariance is not diagonal).

    Returns
    -------
    numpy.ndarray
        ``samples`` rows of ``len(spectrum)`` columns.

    Raises
    ------
    DataError
        For a bad spectrum, count or seed, or samples that would not fit in memory.

    Examples
    --------
    >>> x = synthetic([4.0, 1.0], samples=20000, seed=1)
    >>> x.shape
    (20000, 2)
    >>> bool(np.allclose(np.linalg.eigvalsh(np.cov(x, rowvar=False))[::-1], [4, 1], rtol=0.05))
    True
    """
    s = validate_spectrum(spectrum, "synthetic spectrum")
    if isinstance(samples, (bool, np.bool_)) or not isinstance(samples, (int, np.integer)) or samples < 2:
        raise DataError(f"samples must be an integer >= 2, got {show(samples)}")
    seed = check_seed(seed)
    rotate = check_flag(rotate, "rotate")
    check_synthetic_size(int(samples), s.size)
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((int(samples), s.size)) * np.sqrt(s)
    if rotate:
        q, r = np.linalg.qr(rng.standard_normal((s.size, s.size)))
        q = q * np.sign(np.diag(r))
        z = z @ q.T
    return z


def check_synthetic_size(samples: int, dim: int, what: str = "samples") -> None:
    """Refuse synthetic data that would not fit in memory (samples, their rotation and their covariance).

    Parameters
    ----------
    samples : int
        Number of samples.
    dim : int
        Their dimension.
    what : str, optional
        What to ask fewer of, for the error message.

    Raises
    ------
    DataError
        If they would need more than :data:`statvae.validate.MEMORY_FRACTION` of the available memory.
    """
    check_memory(8.0 * (3 * samples * dim + 3 * dim * dim), f"{samples:,} synthetic samples of dimension {dim:,}",
                 f"ask for fewer {what}")


def load_array(path: str | os.PathLike[str]) -> np.ndarray:
    """Load a numeric array from ``.npy``, ``.csv`` or ``.txt`` (whitespace/comma separated).

    A first line of a text file that is not numbers is skipped (a header).

    Parameters
    ----------
    path : str or os.PathLike
        The file (``.npy``, ``.csv``, ``.txt``, ``.tsv`` or ``.dat``).

    Returns
    -------
    numpy.ndarray
        The numbers, as floats.

    Raises
    ------
    DataError
        If the path is not a readable file, the type is unknown, the file
        would not fit in memory, or it does not hold real numbers.
    """
    p = check_input_path(path, "data file")
    suffix = p.suffix.lower()
    check_memory(p.stat().st_size * (1.0 if suffix == ".npy" else 4.0), f"reading {p}")
    try:
        if suffix == ".npy":
            a = np.load(p, allow_pickle=False)
        elif suffix in (".csv", ".txt", ".tsv", ".dat"):
            a = _load_text(p)
        else:
            raise DataError(f"unsupported file type {suffix or '(none)'} for {p}: use .npy or .csv")
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"could not read {p}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if isinstance(a, np.ndarray) and a.dtype.kind not in "biufc":
        raise DataError(f"{p} does not hold numbers (dtype {a.dtype})")
    return real_array(a, str(p), allow_bool=True)


def _numeric_row(line: str, delim: str | None) -> bool:
    try:
        [float(x) for x in line.split(delim) if x.strip()]
    except ValueError:
        return False
    return True


def _load_text(p: Path) -> np.ndarray:
    text = p.read_text().strip()
    if not text:
        raise DataError(f"{p} is empty")
    lines = text.splitlines()
    delim = "," if "," in lines[0] else None
    skip = 0 if _numeric_row(lines[0], delim) else 1  # a header line, if the first row is not numbers
    if skip and len(lines) < 2:
        raise DataError(f"{p} has a header line and no numbers")
    try:
        return np.loadtxt(p, delimiter=delim, ndmin=2, skiprows=skip)
    except ValueError as exc:
        raise DataError(f"{p} is not a table of numbers ({str(exc).splitlines()[0]})") from None


def load_samples(path: str | os.PathLike[str]) -> np.ndarray:
    """Samples from a file (rows are samples), validated.

    Parameters
    ----------
    path : str or os.PathLike
        The file (as for :func:`load_array`).

    Returns
    -------
    numpy.ndarray
        A 2-D array of at least two finite rows.

    Raises
    ------
    DataError
        If the file cannot be read or does not hold valid samples.
    """
    return validate_samples(load_array(path))


def load_covariance(path: str | os.PathLike[str]) -> np.ndarray:
    """A covariance matrix from a file, validated (symmetric PSD).

    Parameters
    ----------
    path : str or os.PathLike
        The file (as for :func:`load_array`).

    Returns
    -------
    numpy.ndarray
        The symmetrised covariance.

    Raises
    ------
    DataError
        If the file cannot be read or does not hold a valid covariance.
    """
    from .spectra import validate_covariance

    return validate_covariance(load_array(path))
