"""Hyper-parameters: their canonical sympy symbols, domains and LaTeX names.

Every hyper-parameter of every model is identified by a string name
(``"sigma2"``, ``"beta"``, ``"weight_decay_enc"``, ...).  :func:`symbol`
returns the one sympy symbol used for that name everywhere in statvae, so
expressions built by different modules can be compared and substituted.

The registry is open: a custom model may name its own hyper-parameters (a
separate ``sigma2_x`` and ``sigma2_y`` per view, a ``beta_z1`` per latent, an
``eta_A`` per map).  A name a graph uses but nobody declared is registered
when the graph is validated, with its domain taken from the role it plays
(weight decays are ``>= 0``, everything else ``> 0``) and its LaTeX derived
from the name (:func:`name_latex`); :func:`declare` sets both explicitly.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import sympy as sp

from ..errors import ModelError
from .naming import check_identifier, name_latex

__all__ = ["HyperSpec", "HYPER", "ROLES", "symbol", "spec", "declare", "declare_for_role", "coerce_value",
           "latex_names", "name_latex", "check_identifier"]


@dataclass(frozen=True)
class HyperSpec:
    """Description of one hyper-parameter family.

    Attributes
    ----------
    name : str
        Name used in the API and on the command line (``sigma2``).
    latex : str
        LaTeX in the paper's notation (``\\sigma'^{2}``).
    nonnegative : bool
        ``True`` if zero is allowed (weight decays), ``False`` if the value
        must be strictly positive (variances, KL weights).
    description : str
        One line for help texts.
    role : str
        What it is, one of :data:`ROLES`: ``"noise_variance"`` (of an
        observed variable), ``"kl_weight"``, ``"weight_decay"``,
        ``"latent_variance"`` (prior or conditional prior of a latent) or
        ``"encoder_variance"`` (a fixed encoder covariance ``d0 I``).
    """

    name: str
    latex: str
    nonnegative: bool
    description: str
    role: str = "noise_variance"


#: Roles a hyper-parameter can play in a model graph, in the order conditions are best solved for them.
ROLES = ("noise_variance", "kl_weight", "weight_decay", "latent_variance", "encoder_variance")


def _level(base: str, latex_base: str, nonneg: bool, desc: str, role: str) -> list[HyperSpec]:
    return [HyperSpec(base, latex_base, nonneg, desc, role)] + [
        HyperSpec(f"{base}{k}", _sub(latex_base, k), nonneg, f"{desc} (level {k})", role) for k in (1, 2)
    ]


def _sub(latex_base: str, k: int) -> str:
    if latex_base.endswith("^{2}"):
        return latex_base[: -len("^{2}")] + f"_{{{k}}}^{{2}}"
    if latex_base.endswith("_{0}"):  # d_0 at level k is d_k (derivations/NOTATION.md), never d_{0}_{k}: a
        return latex_base[: -len("_{0}")] + f"_{{{k}}}"  # double subscript LaTeX refuses
    return f"{latex_base}_{{{k}}}"


_SPECS: list[HyperSpec] = [
    HyperSpec("sigma2", r"\sigma'^{2}", False, "decoder variance sigma'^2 (fixed hyper-parameter)"),
    HyperSpec("prior_variance", r"\sigma_{0}^{2}", False, "prior variance of the top latent", "latent_variance"),
    HyperSpec("tau2", r"\tau^{2}", False, "variance of the intermediate generative layer p(z1|z2)",
              "latent_variance"),
    HyperSpec("weight_decay_enc", r"\eta_{e}", True, "weight decay on encoder maps", "weight_decay"),
    HyperSpec("weight_decay_dec", r"\eta_{d}", True, "weight decay on decoder maps", "weight_decay"),
    *_level("beta", r"\beta", False, "KL weight beta", "kl_weight"),
    *_level("encoder_variance", r"d_{0}", False, "fixed encoder variance d0", "encoder_variance"),
]

HYPER: dict[str, HyperSpec] = {s.name: s for s in _SPECS}
BUILTIN = frozenset(HYPER)

_SYMBOLS: dict[str, sp.Symbol] = {}


def spec(name: str) -> HyperSpec:
    """Return the :class:`HyperSpec` of hyper-parameter ``name``.

    Parameters
    ----------
    name : str
        The hyper-parameter.

    Returns
    -------
    HyperSpec
        Its description.

    Raises
    ------
    ModelError
        If ``name`` is not a hyper-parameter statvae knows (built in, declared,
        or used by a validated graph).
    """
    try:
        return HYPER[name]
    except KeyError:
        raise ModelError(f"unknown hyper-parameter {name!r}; known: {', '.join(sorted(HYPER))}") from None


def declare(name: str, latex: str | None = None, domain: str | None = None, role: str = "noise_variance",
            description: str | None = None) -> HyperSpec:
    r"""Declare (or look up) a user-named hyper-parameter.

    Parameters
    ----------
    name : str
        An identifier (``"sigma2_x"``).
    latex : str, optional
        Its LaTeX; default :func:`name_latex` of the name.
    domain : {"positive", "nonnegative"}, optional
        Default: ``"nonnegative"`` for a weight decay, else ``"positive"``.
    role : str
        One of :data:`ROLES`.
    description : str, optional
        One line for help texts (default: from the role and name).

    Returns
    -------
    HyperSpec
        The (new, updated or existing) description.

    Raises
    ------
    ModelError
        If the name is not an identifier, the role or domain is unknown, or
        the name is already declared with another domain or LaTeX.

    Examples
    --------
    >>> declare("tau2_y", role="noise_variance").latex
    '\\tau_{y}^{2}'
    >>> symbol("tau2_y").is_positive
    True
    """
    check_identifier(name, "a hyper-parameter name")
    if role not in ROLES:
        raise ModelError(f"role of {name!r} must be one of {', '.join(ROLES)}, got {role!r}")
    if domain is None:
        domain = "nonnegative" if role == "weight_decay" else "positive"
    if domain not in ("positive", "nonnegative"):
        raise ModelError(f"domain of {name!r} must be 'positive' or 'nonnegative', got {domain!r}")
    nonneg = domain == "nonnegative"
    old = HYPER.get(name)
    if old is not None:
        if old.nonnegative != nonneg:
            raise ModelError(f"hyper-parameter {name!r} is already declared with domain "
                             f"{'nonnegative' if old.nonnegative else 'positive'}; it cannot be {domain} too")
        if latex is not None and latex != old.latex:
            if name in BUILTIN:
                raise ModelError(f"{name!r} is a built-in hyper-parameter with LaTeX {old.latex!r}; "
                                 f"choose another name for {latex!r}")
            old = HyperSpec(old.name, latex, old.nonnegative, old.description, old.role)
            HYPER[name] = old
        return old
    new = HyperSpec(name, latex if latex is not None else name_latex(name), nonneg,
                    description or f"user-declared {role.replace('_', ' ')} {name}", role)
    HYPER[name] = new
    return new


def declare_for_role(name: str, role: str) -> HyperSpec:
    """The spec of ``name`` used in ``role`` by a graph: declared on first use, domain checked.

    Parameters
    ----------
    name : str
        The hyper-parameter.
    role : str
        The role it plays in the graph, one of :data:`ROLES`.

    Returns
    -------
    HyperSpec
        Its description.

    Raises
    ------
    ModelError
        If its domain does not suit the role (a weight decay is ``>= 0``, anything else ``> 0``).
    """
    if name not in HYPER:
        return declare(name, role=role)
    s = HYPER[name]
    if (role == "weight_decay") != s.nonnegative:
        raise ModelError(f"hyper-parameter {name!r} ({'>= 0' if s.nonnegative else '> 0'}) cannot serve as a "
                         f"{role.replace('_', ' ')} ({'>= 0' if role == 'weight_decay' else '> 0'})")
    return s


def symbol(name: str) -> sp.Symbol:
    """The canonical sympy symbol of hyper-parameter ``name``.

    Parameters
    ----------
    name : str
        The hyper-parameter.

    Returns
    -------
    sympy.Symbol
        Positive, or non-negative for a weight decay.

    Raises
    ------
    ModelError
        If ``name`` is unknown.

    Examples
    --------
    >>> symbol("sigma2")
    sigma2
    >>> symbol("sigma2").is_positive
    True
    """
    if name not in _SYMBOLS:
        s = spec(name)
        _SYMBOLS[name] = sp.Symbol(name, nonnegative=True) if s.nonnegative else sp.Symbol(name, positive=True)
    return _SYMBOLS[name]


def coerce_value(name: str, value: object) -> sp.Expr:
    """Validate a user-supplied hyper-parameter value.

    Parameters
    ----------
    name : str
        The hyper-parameter.
    value : None, real number or sympy expression
        ``None`` means "free": the canonical symbol is returned.  Numbers are
        checked against the domain (positive, or non-negative for weight
        decays) and returned as sympy numbers: an Integer if integral, a
        Rational for a short decimal, else a Float.  sympy expressions are
        accepted as they are.

    Returns
    -------
    sympy.Expr
        The value.

    Raises
    ------
    ModelError
        If ``value`` is no finite number in the domain (nor None, nor a sympy expression).

    Examples
    --------
    >>> coerce_value("sigma2", 0.5), coerce_value("sigma2", 2.0), coerce_value("sigma2", None)
    (1/2, 2, sigma2)
    """
    s = spec(name)
    if value is None:
        return symbol(name)
    if isinstance(value, sp.Basic):
        if value.is_number:
            value = float(value) if not value.is_Integer else int(value)
        else:
            return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ModelError(f"{name} must be a number or a sympy symbol, got {value!r}")
    fv = float(value)
    if fv != fv or fv in (float("inf"), float("-inf")):
        raise ModelError(f"{name} must be finite, got {value!r}")
    if s.nonnegative and fv < 0:
        raise ModelError(f"{name} must be >= 0, got {value!r}")
    if not s.nonnegative and fv <= 0:
        raise ModelError(f"{name} must be > 0, got {value!r}")
    if float(fv).is_integer():
        return sp.Integer(int(fv))
    return sp.nsimplify(fv, rational=True) if _short_decimal(value) else sp.Float(fv)


def _short_decimal(value) -> bool:
    text = repr(float(value))
    return "e" not in text and len(text.split(".")[-1]) <= 6


def latex_names() -> dict[sp.Symbol, str]:
    """Map of every hyper-parameter symbol to its LaTeX name.

    Returns
    -------
    dict
        LaTeX by sympy symbol, for ``sympy.latex(..., symbol_names=...)``.
    """
    return {symbol(n): s.latex for n, s in HYPER.items()}
