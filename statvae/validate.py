"""Shared argument checks for the public API and the command line.

Every public entry point that takes user input (``track``,
``branch_point_loci``, the analyses of :meth:`VAEModel.collapse`, the data
loaders and the CLI) calls a check from here *before* any work starts, so a
bad argument fails at once with one line naming the argument, the value and
what is allowed, as a :class:`~statvae.errors.StatvaeError`
(:class:`~statvae.errors.ModelError` for model descriptions and options,
:class:`~statvae.errors.DataError` for data), never as an ``IndexError``,
``KeyError`` or ``AttributeError`` from deep inside, a ``MemoryError`` or a
hang.

The checks are cheap (types, domains, sizes; no numerics beyond a few
comparisons), so calling them on the happy path costs nothing measurable.
This module sits at the bottom of the package (it imports only
:mod:`statvae.errors`): models are read through their public attributes
(``values``, ``graph``), never through imports of the layers above.

Size limits
-----------
:data:`TRACK_PARAMETER_LIMIT`
    Largest model ``track`` and ``branch_point_loci`` accept, in scalar
    parameters.  Measured: 2,000 parameters track in ~7 s, 20,000 in ~4 min,
    and the cost grows faster than linearly; 200,000 would take hours.
:data:`EXPLICIT_HESSIAN_LIMIT`
    Largest explicit-entry Hessian (``derive --explicit``), in entries
    (parameters squared).  Measured: 256 parameters take ~3 s, 512 ~15 s,
    1,024 ~85 s.
:data:`MEMORY_FRACTION`
    Arrays statvae is asked to create (synthetic samples, a covariance of
    samples) must fit in this fraction of the available memory.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import AnalysisError, DataError, ModelError, StatvaeError

__all__ = ["TRACK_PARAMETER_LIMIT", "EXPLICIT_HESSIAN_LIMIT", "MEMORY_FRACTION", "PHASE_STEPS_LIMIT",
           "show", "check_model", "check_name", "check_integer", "check_real", "check_flag", "check_seed",
           "real_array", "check_values", "check_data", "check_solve_for", "check_parameter", "check_analysis_data",
           "check_track_call", "check_phase_call", "check_track_options", "nonnegative", "TRACK_OPTION_RULES",
           "check_range", "parameter_count",
           "check_track_size", "check_explicit_size", "available_memory", "check_memory", "check_output_path",
           "check_input_path"]

#: Largest model (scalar parameters) the tracker accepts; see the module notes.
TRACK_PARAMETER_LIMIT = 200_000
#: Largest explicit-entry Hessian (entries = parameters squared) ``derive --explicit`` builds.
EXPLICIT_HESSIAN_LIMIT = 512 ** 2
#: Fraction of the available memory an array statvae creates may take.
MEMORY_FRACTION = 0.5
#: Largest number of points per locus of a phase diagram (measured: ~5 ms a point, so ~1 min a locus).
PHASE_STEPS_LIMIT = 10_000
#: Assumed available memory when the system does not say (bytes).
_FALLBACK_MEMORY = 4 * 2 ** 30

_ALGORITHMS = ("arclength", "natural")


# -- small helpers --------------------------------------------------------------------------------------------
def show(value: Any, limit: int = 60) -> str:
    """A short, one-line description of a bad value for an error message.

    Parameters
    ----------
    value : object
        The value to describe.
    limit : int, optional
        Longest description; a longer one is cut and ends in ``...``.

    Returns
    -------
    str
        The ``repr`` of a scalar, or the type and ``repr`` of anything else.

    Examples
    --------
    >>> show("abc")
    "'abc'"
    >>> show([1, 2])
    'a list ([1, 2])'
    >>> show(None)
    'None'
    """
    if value is None or isinstance(value, (bool, str, bytes, int, float, complex, np.generic)):
        text = repr(value)
        if isinstance(value, np.generic):
            text = repr(value.item())
    elif isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    else:
        text = f"a {type(value).__name__} ({' '.join(repr(value).split())})"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _real(value: Any) -> float | None:
    """``value`` as a float if it is a real number (not a bool, string, container or complex), else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        return float(value)
    if type(value).__module__.startswith("sympy"):
        try:
            if value.is_number and value.is_real:
                return float(value)
        except (AttributeError, TypeError, ValueError):
            return None
    return None


def check_model(model: Any, what: str = "model") -> Any:
    """Check that ``model`` is a statvae model (a :class:`~statvae.model.vae.VAEModel`: ``values`` and ``graph``).

    Parameters
    ----------
    model : object
        The value to check.
    what : str, optional
        Its name in the error message.

    Returns
    -------
    Model
        ``model`` itself.

    Raises
    ------
    ModelError
        If ``model`` has no mapping ``values`` or no ``graph`` with observed variables.
    """
    graph = getattr(model, "graph", None)
    if not isinstance(getattr(model, "values", None), Mapping) or not callable(getattr(graph, "observed", None)):
        raise ModelError(f"{what} must be a statvae model (e.g. statvae.LinearVAE(3, 2)), got {show(model)}")
    return model


def nonnegative(model: Any, name: str) -> bool:
    """Whether hyper-parameter ``name`` of ``model`` may be 0 (weight decays) rather than only > 0.

    A validated graph gives every weight decay the domain ``>= 0`` and every
    other hyper-parameter ``> 0`` (see :func:`statvae.model.hyper.declare_for_role`).

    Parameters
    ----------
    model : Model
        A statvae model.
    name : str
        One of its hyper-parameters.

    Returns
    -------
    bool
        True for a weight decay, False otherwise.
    """
    return model.graph.hyper_roles().get(name) == "weight_decay"


def check_name(value: Any, what: str, allow_none: bool = False) -> str | None:
    """Check that ``value`` is a non-empty string (a name); ``None`` passes when ``allow_none``.

    Parameters
    ----------
    value : object
        The value to check.
    what : str
        Its name in the error message.
    allow_none : bool, optional
        Whether ``None`` is accepted.

    Returns
    -------
    str or None
        ``value``.

    Raises
    ------
    ModelError
        If ``value`` is not a string or is blank.
    """
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise ModelError(f"{what} must be a name (a string), got {show(value)}")
    if not value.strip():
        raise ModelError(f"{what} must not be empty")
    return value


def check_integer(value: Any, what: str, minimum: int | None = None, maximum: int | None = None,
                  error: type[StatvaeError] = ModelError) -> int:
    """Check that ``value`` is an integer (an integral float is accepted, a bool is not) within ``[minimum, maximum]``.

    Parameters
    ----------
    value : object
        The value to check.
    what : str
        Its name in the error message.
    minimum, maximum : int or None, optional
        Inclusive bounds (None: unbounded).
    error : type, optional
        The :class:`~statvae.errors.StatvaeError` subclass raised.

    Returns
    -------
    int
        ``value`` as an int.

    Raises
    ------
    ModelError
        (or ``error``) If ``value`` is no integer or is out of bounds.

    Examples
    --------
    >>> check_integer(3.0, "steps", 2)
    3
    >>> check_integer(1, "steps", 2)
    Traceback (most recent call last):
    ...
    statvae.errors.ModelError: steps must be an integer >= 2, got 1
    """
    bound = ""
    if minimum is not None and maximum is not None:
        bound = f" between {minimum:,} and {maximum:,}"
    elif minimum is not None:
        bound = f" >= {minimum}"
    elif maximum is not None:
        bound = f" <= {maximum}"
    v: int | None = None
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        v = int(value)
    else:
        f = _real(value)
        if f is not None and math.isfinite(f) and f.is_integer():
            v = int(f)
    if v is None or (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
        raise error(f"{what} must be an integer{bound}, got {show(value)}")
    return v


def check_real(value: Any, what: str, domain: str | None = None, error: type[StatvaeError] = ModelError) -> float:
    """Check that ``value`` is a finite real number, in ``domain`` if given.

    Parameters
    ----------
    value : object
        The value to check.
    what : str
        Its name in the error message.
    domain : {None, "positive", "nonnegative"}, optional
        None for any finite number, ``"positive"`` for > 0, ``"nonnegative"`` for >= 0.
    error : type, optional
        The :class:`~statvae.errors.StatvaeError` subclass raised.

    Returns
    -------
    float
        ``value`` as a float.

    Raises
    ------
    ModelError
        (or ``error``) If ``value`` is no finite real number in the domain.

    Examples
    --------
    >>> check_real(0.5, "ds", "positive")
    0.5
    >>> check_real("1", "ds", "positive")
    Traceback (most recent call last):
    ...
    statvae.errors.ModelError: ds must be a finite number > 0, got '1'
    """
    need = {"positive": " > 0", "nonnegative": " >= 0", None: ""}[domain]
    f = _real(value)
    if f is None or not math.isfinite(f) or (domain == "positive" and f <= 0) or (domain == "nonnegative" and f < 0):
        raise error(f"{what} must be a finite number{need}, got {show(value)}")
    return f


def check_flag(value: Any, what: str) -> bool:
    """Check that ``value`` is ``True`` or ``False`` (numpy bools too).

    Parameters
    ----------
    value : object
        The value to check.
    what : str
        Its name in the error message.

    Returns
    -------
    bool
        ``value`` as a Python bool.

    Raises
    ------
    ModelError
        If ``value`` is not a bool.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise ModelError(f"{what} must be True or False, got {show(value)}")
    return bool(value)


def check_seed(seed: Any, what: str = "seed") -> Any:
    """Check a seed for ``numpy.random.default_rng``: None, an integer >= 0, a SeedSequence or a Generator.

    Parameters
    ----------
    seed : object
        The value to check.
    what : str, optional
        Its name in the error message.

    Returns
    -------
    None, int, numpy.random.SeedSequence, numpy.random.BitGenerator or numpy.random.Generator
        ``seed`` (an integral float as an int).

    Raises
    ------
    DataError
        If ``seed`` is none of these.
    """
    if seed is None or isinstance(seed, (np.random.SeedSequence, np.random.Generator, np.random.BitGenerator)):
        return seed
    return check_integer(seed, what, 0, error=DataError)


# -- arrays ---------------------------------------------------------------------------------------------------
def real_array(value: Any, what: str, ndim: tuple[int, ...] = (), allow_bool: bool = False) -> np.ndarray:
    """Convert ``value`` to a float array, refusing what numpy would cast silently or fail on deep inside.

    NaN and infinities are left to the callers' validators, whose messages
    say where they are.

    Parameters
    ----------
    value : array_like
        The numbers.
    what : str
        Their name in the error message.
    ndim : tuple of int, optional
        The numbers of dimensions allowed (empty: any).
    allow_bool : bool, optional
        Whether booleans are accepted (as 0 and 1).

    Returns
    -------
    numpy.ndarray
        ``value`` as a float array.

    Raises
    ------
    DataError
        For ``None``, strings, dicts, sets, ragged nesting, non-numeric
        entries, complex numbers (the imaginary part would be dropped),
        booleans (unless ``allow_bool``), or a number of dimensions not in ``ndim``.

    Examples
    --------
    >>> real_array([3, 1], "spectrum", (1,))
    array([3., 1.])
    >>> real_array([1j, 2], "spectrum")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    statvae.errors.DataError: spectrum has complex entries; statvae needs real numbers ...
    """
    if value is None:
        raise DataError(f"{what} is None; give an array of numbers")
    if isinstance(value, (str, bytes)):
        raise DataError(f"{what} must be an array of numbers, got the string {show(value)}")
    if isinstance(value, (Mapping, set, frozenset)):
        raise DataError(f"{what} must be an array of numbers, got {show(value)}")
    if isinstance(value, np.ndarray):
        a = value
    else:
        try:
            a = np.asarray(value)
        except (TypeError, ValueError, OverflowError):
            raise DataError(f"{what} must be a rectangular array of numbers, got {show(value)}") from None
    if a.dtype.kind == "O":
        if any(isinstance(x, (complex, np.complexfloating)) for x in a.ravel()[:100000]):
            raise DataError(f"{what} has complex entries; statvae needs real numbers (pass .real if the imaginary "
                            f"parts are rounding)")
        if any(isinstance(x, (bool, np.bool_)) for x in a.ravel()[:100000]) and not allow_bool:
            raise DataError(f"{what} has booleans where numbers are expected")
        try:
            a = a.astype(float)
        except (TypeError, ValueError, OverflowError):
            raise DataError(f"{what} must be an array of numbers, got {show(value)}") from None
    if a.dtype.kind == "c":
        raise DataError(f"{what} has complex entries; statvae needs real numbers (pass .real if the imaginary "
                        f"parts are rounding)")
    if a.dtype.kind == "b" and not allow_bool:
        raise DataError(f"{what} has booleans where numbers are expected")
    if a.dtype.kind not in "biuf":
        raise DataError(f"{what} must be an array of numbers, got an array of dtype {a.dtype}")
    if ndim and a.ndim not in ndim:
        want = " or ".join(f"{d}-D" for d in ndim)
        raise DataError(f"{what} must be {want}, got shape {a.shape}")
    return a.astype(float, copy=False)


# -- memory ---------------------------------------------------------------------------------------------------
def available_memory() -> int:
    """Bytes of memory available to a new allocation (``MemAvailable``; a fallback of 4 GiB if unknown).

    Returns
    -------
    int
        Available memory in bytes.
    """
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return _FALLBACK_MEMORY


def _bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def check_memory(nbytes: float, what: str, advice: str = "", error: type[StatvaeError] = DataError) -> None:
    """Refuse to allocate ``nbytes`` if it exceeds :data:`MEMORY_FRACTION` of the available memory.

    Parameters
    ----------
    nbytes : float
        Size of the allocation in bytes.
    what : str
        What would be allocated, for the error message.
    advice : str, optional
        Appended to the error message (how to need less).
    error : type, optional
        The :class:`~statvae.errors.StatvaeError` subclass raised.

    Raises
    ------
    DataError
        (or ``error``) If the allocation is too large.
    """
    limit = MEMORY_FRACTION * available_memory()
    if nbytes > limit:
        raise error(f"{what} would need about {_bytes(nbytes)} of memory, more than the limit of {_bytes(limit)} "
                    f"({MEMORY_FRACTION:.0%} of the available memory){'; ' + advice if advice else ''}")


# -- model sizes ----------------------------------------------------------------------------------------------
def parameter_count(model: Any) -> int:
    """Number of scalar parameters of ``model`` at its dimensions (map entries, encoder covariances, variances).

    The size of :class:`statvae.model.layout.Layout` (its vector of
    parameters), counted from the graph without building it.

    Parameters
    ----------
    model : Model
        A statvae model.

    Returns
    -------
    int
        The number of scalar parameters.
    """
    g = model.graph
    n = sum(g.variable(m.source).dim * g.variable(m.target).dim for m in g.maps())
    for z in g.latents():
        n += {"diagonal": z.dim, "full": z.dim * (z.dim + 1) // 2, "isotropic": 1}.get(z.encoder, 0)
    return int(n + sum(1 for v in g.variables() if v.variance == "learned"))


def check_track_size(model: Any, what: str = "tracking") -> int:
    """Refuse models with more than :data:`TRACK_PARAMETER_LIMIT` parameters.

    Parameters
    ----------
    model : Model
        A statvae model.
    what : str, optional
        The analysis, for the error message.

    Returns
    -------
    int
        The number of parameters.

    Raises
    ------
    ModelError
        If the model is too large.
    """
    n = parameter_count(model)
    if n > TRACK_PARAMETER_LIMIT:
        dims = ", ".join(f"{k}={v}" for k, v in model.dims.items())
        raise ModelError(f"{what} is limited to models with at most {TRACK_PARAMETER_LIMIT:,} parameters; this one "
                         f"({dims}) has {n:,} (the cost grows faster than linearly: 20,000 take minutes); the "
                         f"collapse analysis (statvae critical, model.collapse().critical()) works at any size")
    return n


def check_explicit_size(model: Any, what: str = "--explicit",
                        advice: str = "use smaller dimensions or drop --explicit (the per-mode derivation holds "
                                      "for every size)") -> int:
    """Refuse an explicit-entry derivation whose Hessian would exceed :data:`EXPLICIT_HESSIAN_LIMIT` entries.

    Parameters
    ----------
    model : Model
        A statvae model.
    what : str, optional
        The derivation, for the error message.
    advice : str, optional
        Appended to the error message.

    Returns
    -------
    int
        The number of parameters.

    Raises
    ------
    ModelError
        If the Hessian would be too large.
    """
    n = parameter_count(model)
    if n * n > EXPLICIT_HESSIAN_LIMIT:
        dims = ", ".join(f"{k}={v}" for k, v in model.dims.items())
        raise ModelError(f"{what} derives every entry of a {n:,}-parameter model ({dims}): its Hessian would have "
                         f"{n * n:,} entries, more than the limit of {EXPLICIT_HESSIAN_LIMIT:,} "
                         f"({math.isqrt(EXPLICIT_HESSIAN_LIMIT)} parameters, ~15 s); {advice}")
    return n


# -- hyper-parameters -----------------------------------------------------------------------------------------
def check_hyper_name(model: Any, name: Any, what: str, verb: str = "use") -> str:
    """Check that ``name`` names a hyper-parameter of ``model`` (message as the analyses word it).

    Parameters
    ----------
    model : Model
        A statvae model.
    name : object
        The value to check.
    what : str
        Its name in the error message.
    verb : str, optional
        What would be done with it, for the error message (``cannot <verb> ...``).

    Returns
    -------
    str
        ``name``.

    Raises
    ------
    ModelError
        If ``name`` is not a hyper-parameter of ``model``.
    """
    check_name(name, what)
    model.require_hyper(name, verb=verb)
    return name


def check_values(model: Any, values: Any, free: tuple[str, ...] = (), what: str = "values",
                 require: bool = True) -> dict[str, float]:
    """Check a dict of hyper-parameter values: known names, finite numbers in each one's domain.

    Parameters
    ----------
    model : Model
        A statvae model.
    values : Mapping or None
        Hyper-parameter values by name.
    free : tuple of str, optional
        The parameters being varied: they may be absent or None.
    what : str, optional
        Their name in the error message.
    require : bool, optional
        Whether every other hyper-parameter must have a number, given here or by the model.

    Returns
    -------
    dict
        The values (as floats) of the names not in ``free``.

    Raises
    ------
    ModelError
        For an unknown name or a bad value.
    AnalysisError
        If ``require`` and a hyper-parameter has no value.
    """
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise ModelError(f"{what} must be a dict of hyper-parameter values, got {show(values)}")
    out: dict[str, float] = {}
    for k, v in values.items():
        if not isinstance(k, str):
            raise ModelError(f"{what} keys must be hyper-parameter names (strings), got {show(k)}")
        model.require_hyper(k)
        if k in free:
            continue
        if v is None:
            raise ModelError(f"{what}[{k!r}] is None; give it a number (only {' and '.join(free) or 'nothing'} "
                             f"varies here)")
        out[k] = check_real(v, f"{what}[{k!r}]", "nonnegative" if nonnegative(model, k) else "positive")
    if require:
        for n, v in model.values.items():
            if n in free or n in out:
                continue
            if not getattr(v, "is_number", False):
                raise AnalysisError(f"{n} has no value: pass {what}={{{n!r}: ...}} (or give the model a value)")
    return out


def check_range(model: Any, parameter: str, start: Any, stop: Any,
                names: tuple[str, str] = ("start", "stop")) -> tuple[float, float]:
    """Check a range of a hyper-parameter: finite numbers in its domain, of non-zero width.

    Parameters
    ----------
    model : Model
        A statvae model.
    parameter : str
        The hyper-parameter.
    start, stop : object
        The ends of the range.
    names : tuple of str, optional
        The names of the ends in the error message.

    Returns
    -------
    tuple of float
        ``(start, stop)`` as floats.

    Raises
    ------
    ModelError
        If an end is no finite number in the domain, or the ends are equal.
    """
    nonneg = nonnegative(model, parameter)
    out = []
    for name, v in zip(names, (start, stop)):
        f = _real(v)
        if f is None or not math.isfinite(f):
            raise ModelError(f"{name} must be a finite number, got {show(v)}")
        if f < 0 or (f == 0 and not nonneg):
            raise ModelError(f"{name} must be {'>= 0' if nonneg else '> 0'} for {parameter}, got {show(v)}")
        out.append(f)
    if out[0] == out[1]:
        raise ModelError(f"{names[0]} and {names[1]} must differ (both are {show(start)}): the range of "
                         f"{parameter} has zero width")
    return out[0], out[1]


# -- data -----------------------------------------------------------------------------------------------------
def _spectrum(model: Any, spectrum: Any, what: str = "spectrum") -> None:
    obs = model.graph.observed()
    if isinstance(spectrum, Mapping):
        for k in spectrum:
            if not isinstance(k, str):
                raise DataError(f"{what} keys must be names of observed variables "
                                f"({', '.join(v.name for v in obs)}), got {show(k)}")
        missing = [v.name for v in obs if v.name not in spectrum]
        if missing:
            raise DataError(f"spectrum lacks the observed variable(s) {', '.join(missing)}")
        extra = sorted(set(spectrum) - {v.name for v in obs})
        if extra:
            raise DataError(f"spectrum names {', '.join(extra)}, which the model does not observe "
                            f"(it observes {', '.join(v.name for v in obs)})")
        for v in obs:
            real_array(spectrum[v.name], f"spectrum of {v.name}", (1,))
        return
    real_array(spectrum, what, (1,))


def _covariance(covariance: Any, what: str = "covariance") -> None:
    a = real_array(covariance, what, (2,))
    if a.shape[0] != a.shape[1]:
        raise DataError(f"{what} must be a square matrix, got shape {a.shape}")


def _samples(samples: Any, what: str = "samples") -> None:
    a = real_array(samples, what, (1, 2), allow_bool=True)
    dim = a.shape[1] if a.ndim == 2 else 1
    check_memory(8.0 * dim * dim * 3, f"the covariance of {dim:,}-dimensional {what}")


def check_data(model: Any, data: Any = None, spectrum: Any = None, covariance: Any = None, samples: Any = None,
               ddof: Any = 1) -> None:
    """Check the data arguments of an analysis: given once, of the right kind and shape (values not yet checked).

    Parameters
    ----------
    model : Model
        A statvae model.
    data, spectrum, covariance, samples : array_like or None, optional
        The data, exactly one of them given (``spectrum`` may be a dict by observed variable).
    ddof : {0, 1} or None, optional
        Delta degrees of freedom of a covariance of samples (None: not checked).

    Raises
    ------
    DataError
        If the data are given more than once or not at all, or are of the wrong kind or shape.
    """
    given = [n for n, x in (("data", data), ("spectrum", spectrum), ("covariance", covariance),
                            ("samples", samples)) if x is not None]
    if len(given) != 1:
        raise DataError(f"give the data exactly once (spectrum=, covariance= or samples=), got "
                        f"{' and '.join(given) if given else 'none'}")
    if ddof is not None and (isinstance(ddof, (bool, np.bool_)) or ddof not in (0, 1)):
        raise DataError(f"ddof must be 0 or 1, got {show(ddof)}")
    if data is not None:
        a = real_array(data, "data", (1, 2), allow_bool=True)
        if a.ndim == 1:
            _spectrum(model, a, "data")
        return
    if spectrum is not None:
        _spectrum(model, spectrum)
    elif covariance is not None:
        _covariance(covariance)
    else:
        _samples(samples)


# -- entry points ---------------------------------------------------------------------------------------------
def check_parameter(model: Any, parameter: Any) -> None:
    """Check the ``parameter`` of an analysis: None (the default parameter) or the name of a hyper-parameter.

    Parameters
    ----------
    model : Model
        A statvae model.
    parameter : object
        The value to check.

    Raises
    ------
    ModelError
        If it names no hyper-parameter of ``model``.
    """
    if parameter is None:
        return
    check_hyper_name(model, parameter, "parameter", "solve for")


#: The old name of :func:`check_parameter`.
check_solve_for = check_parameter


def check_analysis_data(model: Any, spectrum: Any = None, covariance: Any = None, samples: Any = None,
                        values: Any = None, *, data: Any = None, ddof: Any = None) -> None:
    """Check the data and hyper-parameter values given to ``collapse().critical/stable/crossings/...``.

    Parameters
    ----------
    model : Model
        A statvae model.
    spectrum, covariance, samples : array_like or None, optional
        The data, exactly one of them (or ``data``) given.
    values : Mapping or None, optional
        Hyper-parameter values by name (None entries allowed).
    data : array_like or None, optional
        Any of the three, recognised by shape.
    ddof : int or None, optional
        Degrees of freedom removed from the sample count.

    Raises
    ------
    DataError
        If the data are not given exactly once or are of the wrong kind or shape.
    ModelError
        If a value is not a number.
    """
    check_data(model, data, spectrum, covariance, samples, ddof)
    for k, v in (values or {}).items():
        if v is not None and isinstance(v, (str, bytes, list, tuple, dict, set, complex, np.ndarray)):
            raise ModelError(f"{k} must be a number, got {show(v)}")


#: Options of the continuation checked here (fields of :class:`statvae.bifurcation.continuation.ContinuationOptions`;
#: a name that is no field is refused by :func:`statvae.track` itself).
TRACK_OPTION_RULES: dict[str, tuple[str, Any]] = {
    "max_steps": ("integer", 1), "max_newton": ("integer", 1), "max_branches": ("integer", 1), "depth": ("integer", 0),
    "newton_tol": ("positive", None), "locate_tol": ("positive", None), "angle_max": ("positive", None),
    "ds": ("step", None), "ds_min": ("step", None), "ds_max": ("step", None),
    "algorithm": ("choice", _ALGORITHMS),
    "store_parameters": ("flag", None), "switching": ("flag", None), "certify": ("flag", None),
}


def check_track_options(options: dict[str, Any], start: float, stop: float) -> None:
    """Check options of the continuation (see :data:`TRACK_OPTION_RULES`) and their consistency with the range.

    Parameters
    ----------
    options : dict
        Options by name (names without a rule pass unchecked).
    start, stop : float
        The range of the continuation.

    Raises
    ------
    ModelError
        For a bad option value or steps inconsistent with each other or the range.
    """
    lo, hi = min(start, stop), max(start, stop)
    for k in ("p_min", "p_max"):
        if k in options:
            raise ModelError(f"{k} is set by start and stop (here [{lo:g}, {hi:g}]); pass start= and stop= only")
    for k, v in options.items():
        rule: tuple[str | None, Any] = TRACK_OPTION_RULES.get(k, (None, None))
        kind, arg = rule
        if kind == "integer":
            check_integer(v, k, arg)
        elif kind == "positive" or (kind == "step" and v is not None):
            check_real(v, k, "positive")
        elif kind == "choice" and v not in arg:
            raise ModelError(f"{k} must be one of {', '.join(arg)}, got {show(v)}")
        elif kind == "flag":
            check_flag(v, k)
    if "angle_max" in options and options["angle_max"] > math.pi:
        raise ModelError(f"angle_max must be at most pi (radians), got {show(options['angle_max'])}")
    steps = {k: float(options[k]) for k in ("ds", "ds_min", "ds_max") if options.get(k) is not None}
    if "ds_min" in steps and "ds_max" in steps and steps["ds_min"] > steps["ds_max"]:
        raise ModelError(f"ds_min ({steps['ds_min']:g}) must not exceed ds_max ({steps['ds_max']:g})")
    if "ds" in steps:
        if "ds_min" in steps and steps["ds"] < steps["ds_min"]:
            raise ModelError(f"ds ({steps['ds']:g}) must not be below ds_min ({steps['ds_min']:g})")
        if "ds_max" in steps and steps["ds"] > steps["ds_max"]:
            raise ModelError(f"ds ({steps['ds']:g}) must not exceed ds_max ({steps['ds_max']:g})")
    if "ds_min" in steps and steps["ds_min"] >= hi - lo:
        raise ModelError(f"ds_min ({steps['ds_min']:g}) must be smaller than the width of the range "
                         f"({hi - lo:g})")


def check_track_call(model: Any, data: Any = None, spectrum: Any = None, covariance: Any = None,
                     samples: Any = None, parameter: Any = "sigma2", start: Any = None, stop: Any = None,
                     values: Any = None, ddof: Any = 1, progress: Any = None, options: Any = None) -> None:
    """Check every argument of :func:`statvae.track` before any work (see the module notes for the limits).

    Parameters
    ----------
    model, data, spectrum, covariance, samples, parameter, start, stop, values, ddof, progress, options
        The arguments of :func:`statvae.track` (``options`` its keyword options, as a dict).

    Raises
    ------
    ModelError
        For a bad model, parameter, range, value or option, or a model too large to track.
    DataError
        For bad data.
    AnalysisError
        If a hyper-parameter has no value.
    """
    check_model(model)
    check_hyper_name(model, parameter, "parameter", "continue in")
    a, b = check_range(model, parameter, start, stop)
    check_values(model, values, (parameter,))
    if progress is not None and not callable(progress):
        raise ModelError(f"progress must be a function of one message (or None), got {show(progress)}")
    options = dict(options or {})
    check_track_options(options, a, b)
    check_data(model, data, spectrum, covariance, samples, ddof)
    check_track_size(model)


def check_phase_call(model: Any, data: Any = None, spectrum: Any = None, covariance: Any = None,
                     samples: Any = None, parameter: Any = "sigma2", along: Any = "beta", start: Any = None,
                     stop: Any = None, along_start: Any = None, along_stop: Any = None, loci: Any = 1,
                     steps: Any = 30, values: Any = None, progress: Any = None, ddof: Any = 1) -> None:
    """Check every argument of :func:`statvae.bifurcation.phase.branch_point_loci` before any work.

    Parameters
    ----------
    model, data, spectrum, covariance, samples, parameter, along, start, stop
        The arguments of :func:`~statvae.bifurcation.phase.branch_point_loci`.
    along_start, along_stop, loci, steps, values, progress, ddof
        Likewise.

    Raises
    ------
    ModelError
        For a bad model, parameter, range, count or value, or a model too large.
    DataError
        For bad data.
    AnalysisError
        If a hyper-parameter has no value.
    """
    check_model(model)
    check_hyper_name(model, parameter, "parameter", "locate branch points in")
    check_hyper_name(model, along, "along", "follow loci along")
    if along == parameter:
        raise ModelError(f"along must differ from parameter (both are {parameter!r})")
    check_range(model, parameter, start, stop)
    check_range(model, along, along_start, along_stop, ("along_start", "along_stop"))
    check_integer(loci, "loci", 1)
    check_integer(steps, "steps", 2, PHASE_STEPS_LIMIT)  # more would take hours
    check_values(model, values, (parameter, along))
    if progress is not None and not callable(progress):
        raise ModelError(f"progress must be a function of one message (or None), got {show(progress)}")
    check_data(model, data, spectrum, covariance, samples, ddof)
    check_track_size(model, "a phase diagram")


# -- files ----------------------------------------------------------------------------------------------------
def check_output_path(path: Any, what: str, suffixes: tuple[str, ...], case_sensitive: bool = True) -> Path:
    """Check an output file that can be written: known suffix, existing writable directory, not a directory itself.

    Checked before any computation, so a typo in ``--out`` does not cost a
    whole run.  The directory is probed by creating (and removing) a
    temporary file in it; an existing file must be writable.

    Parameters
    ----------
    path : str or os.PathLike
        The file name.
    what : str
        What is written, for the error message.
    suffixes : tuple of str
        The allowed suffixes (with the dot).
    case_sensitive : bool, optional
        Whether the suffix must match in case.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    StatvaeError
        If the file cannot be written there.
    """
    import tempfile

    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise StatvaeError(f"{what} needs a file name, got {show(path)}")
    p = Path(path)
    allowed = suffixes[0] if len(suffixes) == 1 else ", ".join(suffixes[:-1]) + " or " + suffixes[-1]
    suffix = p.suffix if case_sensitive else p.suffix.lower()
    if p.exists() and p.is_dir():
        raise StatvaeError(f"{what} {p} is a directory; give a file name ending in {allowed}")
    if suffix not in suffixes:
        raise StatvaeError(f"{what} {p}: unknown file type {p.suffix or '(no suffix)'}; use {allowed}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        raise StatvaeError(f"{what} {p}: the directory {parent} does not exist")
    if not parent.is_dir():
        raise StatvaeError(f"{what} {p}: {parent} is not a directory")
    if p.exists() and not os.access(p, os.W_OK):
        raise StatvaeError(f"{what} {p}: the file exists and is not writable")
    try:
        fd, probe = tempfile.mkstemp(prefix=".statvae-probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise StatvaeError(f"{what} {p}: cannot write in {parent} ({exc.strerror or exc})") from None
    return p


def check_input_path(path: Any, what: str, error: type[StatvaeError] = DataError) -> Path:
    """Check an input file: it exists, is a regular file and can be read.

    Parameters
    ----------
    path : str or os.PathLike
        The file name.
    what : str
        What is read, for the error message.
    error : type, optional
        The :class:`~statvae.errors.StatvaeError` subclass raised.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    DataError
        (or ``error``) If the file cannot be read.
    """
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise error(f"{what} must be a file name, got {show(path)}")
    p = Path(path)
    if not p.exists():
        raise error(f"file not found: {p}")
    if p.is_dir():
        raise error(f"{p} is a directory, not a file")
    if not os.access(p, os.R_OK):
        raise error(f"{p} is not readable")
    return p
