"""Readable names from LaTeX names, without sympy (used by the warm path of ``statvae critical`` too)."""

from __future__ import annotations

import re

__all__ = ["text_name"]


_GREEK = {"sigma": "σ", "xi": "ξ", "mu": "μ", "beta": "β", "eta": "η", "tau": "τ", "Sigma": "Σ", "pi": "π"}


def text_name(latex: str) -> str:
    """A readable name from a LaTeX name: ``\\xi_{i}^{2}`` -> ``ξ_i²``.

    Parameters
    ----------
    latex : str
        A LaTeX name (plain text is returned as it is).

    Returns
    -------
    str
        Greek letters as characters, squares as ``²``, braces dropped.

    Examples
    --------
    >>> text_name(r"\\xi_{i}^{2}")
    'ξ_i²'
    >>> text_name("beta")
    'beta'
    """
    s = latex.strip()
    if "\\" not in s and "{" not in s and "_" not in s and "^" not in s:
        return s  # plain text already
    s = s.replace(r"\left(", "(").replace(r"\right)", ")").replace(r"\mathrm", "")
    tr = s.startswith(r"\operatorname{tr}")
    s = s.replace(r"\operatorname{tr}", "")
    s = re.sub(r"\^\{\((\d)\)\}", r"\1", s)  # U^{(1)}_{ij} -> U1_{ij}
    s = s.replace("^{2}", "²")
    s = re.sub(r"\\([A-Za-z]+)", lambda m: _GREEK.get(m.group(1), m.group(1)), s)
    s = s.replace("{", "").replace("}", "").replace(" ", "")
    return f"tr({s})" if tr else s
