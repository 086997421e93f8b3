"""Names: identifiers used in generated code, and the LaTeX derived from them.

Every variable, map, parameter block and hyper-parameter of a model has an
identifier (it names arguments of generated code) and a LaTeX name (it is
what formulas print).  :func:`name_latex` derives a LaTeX name from an
identifier; a map or variable may set its own, which the graph registers
here on validation (:func:`register_block_latex`), so every formula prints
the same name for the same block.
"""

from __future__ import annotations

from ..errors import ModelError

__all__ = ["check_identifier", "name_latex", "register_block_latex", "registered_block_latex"]

_GREEK = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu",
          "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega")
_SQUARED = ("sigma", "tau", "s", "v", "nu", "omega")


def check_identifier(name: object, what: str = "name") -> str:
    """Check that a name used in generated code is a Python identifier (letters, digits, ``_``).

    Parameters
    ----------
    name : object
        The value to check.
    what : str, optional
        Its name in the error message.

    Returns
    -------
    str
        ``name``.

    Raises
    ------
    ModelError
        If ``name`` is no identifier, starts with ``_``, contains ``__`` or is a keyword.

    Examples
    --------
    >>> check_identifier("sigma2_x")
    'sigma2_x'
    """
    import keyword

    if (not isinstance(name, str) or not name.isidentifier() or name.startswith("_") or "__" in name
            or keyword.iskeyword(name)):
        raise ModelError(f"{what} must be a Python identifier (letters, digits and single '_', not starting "
                         f"with '_', not a keyword), got {name!r}")
    return name


def _word_latex(word: str) -> str:
    if word in _GREEK or (word[:1].isupper() and word.lower() in _GREEK and word.lower() not in ("alpha", "beta")):
        return "\\" + word
    if len(word) == 1:
        return word
    return rf"\mathrm{{{word}}}"


def name_latex(name: str) -> str:
    r"""LaTeX derived from an identifier: Greek words, a squared variance, subscripts.

    ``sigma2`` -> ``\sigma^{2}``, ``sigma2_x`` -> ``\sigma_{x}^{2}``, ``beta1`` ->
    ``\beta_{1}``, ``eta_A`` -> ``\eta_{A}``, ``Wx`` -> ``W_{x}``, ``z1`` -> ``z_{1}``,
    ``gain`` -> ``\mathrm{gain}``.

    Parameters
    ----------
    name : str
        An identifier.

    Returns
    -------
    str
        Its LaTeX.

    Examples
    --------
    >>> name_latex("sigma2_x"), name_latex("beta_z1"), name_latex("Va"), name_latex("rate")
    ('\\sigma_{x}^{2}', '\\beta_{z_{1}}', 'V_{a}', '\\mathrm{rate}')
    """
    head, _, tail = name.partition("_")
    m = len(head)
    while m > 0 and head[m - 1].isdigit():
        m -= 1
    base, digits = head[:m], head[m:]
    squared = False
    if base in _GREEK or base in _SQUARED:
        out = _word_latex(base)
        if digits == "2" and base in _SQUARED:
            squared, digits = True, ""
    elif len(base) >= 2 and base[0].isalpha() and base[1:].isalnum() and len(base) <= 3 and not tail and not digits:
        out, digits = base[0], base[1:]  # Wx -> W_{x}, Va -> V_{a}
    else:
        out = _word_latex(base) if base else ""
    subs = [s for s in (digits, name_latex(tail) if tail else "") if s]
    if subs:
        out += "_{" + ",".join(subs) + "}"
    return out + ("^{2}" if squared else "")




_BLOCK_LATEX: dict[str, str] = {}


def register_block_latex(name: str, latex: str) -> None:
    """Record the LaTeX of a parameter block (a map) declared by a graph.

    Parameters
    ----------
    name : str
        The block (map) name.
    latex : str
        Its LaTeX.
    """
    _BLOCK_LATEX[name] = latex


def registered_block_latex(name: str) -> str | None:
    """The LaTeX a graph declared for block ``name``, if any.

    Parameters
    ----------
    name : str
        The block (map) name.

    Returns
    -------
    str or None
        The LaTeX registered by :func:`register_block_latex`, or None.
    """
    return _BLOCK_LATEX.get(name)
