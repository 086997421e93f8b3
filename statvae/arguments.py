"""The shared vocabulary of the public API: one name per concept, old spellings mapped onto it.

Every entry point names the hyper-parameter it solves for, varies or
continues in ``parameter``; hyper-parameter values are a ``values`` dict
(keywords also accepted where a function takes no other keywords); data are
``data`` / ``spectrum`` / ``covariance`` / ``samples`` with ``ddof``; ranges
are ``start`` and ``stop``.  The functions here map the old spellings
(``solve_for=``) onto that vocabulary, with a :class:`DeprecationWarning`.
"""

from __future__ import annotations

import warnings
from typing import Any

from .errors import ModelError

__all__ = ["parameter_alias", "merged_values"]


def parameter_alias(parameter: str | None, solve_for: str | None, stacklevel: int = 3) -> str | None:
    """``parameter``, or the deprecated ``solve_for`` spelling of it.

    Parameters
    ----------
    parameter : str or None
    solve_for : str or None
        The old keyword; warns when given.
    stacklevel : int
        Passed to :func:`warnings.warn`.

    Returns
    -------
    str or None

    Raises
    ------
    ModelError
        If both are given and differ.

    Examples
    --------
    >>> parameter_alias("beta", None)
    'beta'
    """
    if solve_for is None:
        return parameter
    warnings.warn("solve_for= is deprecated; the keyword is parameter=", DeprecationWarning, stacklevel=stacklevel)
    if parameter is not None and parameter != solve_for:
        raise ModelError(f"parameter={parameter!r} and solve_for={solve_for!r} disagree; pass parameter= only")
    return solve_for


def merged_values(values: dict[str, Any] | None, keywords: dict[str, Any]) -> dict[str, Any]:
    """Hyper-parameter values from a ``values`` dict and keyword arguments, one dict.

    Parameters
    ----------
    values : dict or None
    keywords : dict

    Returns
    -------
    dict

    Raises
    ------
    ModelError
        If ``values`` is not a dict, or a name is given both ways.

    Examples
    --------
    >>> merged_values({"beta": 2}, {"sigma2": 1.0})
    {'beta': 2, 'sigma2': 1.0}
    """
    if values is None:
        return dict(keywords)
    if not isinstance(values, dict):
        raise ModelError(f"values must be a dict of hyper-parameter values, got {type(values).__name__}")
    both = sorted(set(values) & set(keywords))
    if both:
        raise ModelError(f"{', '.join(both)} given both in values= and as a keyword; give it once")
    return {**values, **keywords}
