"""Hyper-parameters: their canonical sympy symbols, domains and LaTeX names.

Every hyper-parameter of every model is identified by a string name
(``"sigma2"``, ``"beta"``, ``"weight_decay_enc"``, ...).  :func:`symbol`
returns the one sympy symbol used for that name everywhere in statvae, so
expressions built by different modules can be compared and substituted.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import sympy as sp

from ..errors import ModelError

__all__ = ["HyperSpec", "HYPER", "symbol", "spec", "coerce_value", "latex_names"]


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
    """

    name: str
    latex: str
    nonnegative: bool
    description: str


def _level(base: str, latex_base: str, nonneg: bool, desc: str) -> list[HyperSpec]:
    return [HyperSpec(base, latex_base, nonneg, desc)] + [
        HyperSpec(f"{base}{k}", _sub(latex_base, k), nonneg, f"{desc} (level {k})") for k in (1, 2)
    ]


def _sub(latex_base: str, k: int) -> str:
    if latex_base.endswith("^{2}"):
        return latex_base[: -len("^{2}")] + f"_{{{k}}}^{{2}}"
    return f"{latex_base}_{{{k}}}"


_SPECS: list[HyperSpec] = [
    HyperSpec("sigma2", r"\sigma'^{2}", False, "decoder variance sigma'^2 (fixed hyper-parameter)"),
    HyperSpec("prior_variance", r"\sigma_{0}^{2}", False, "prior variance of the top latent"),
    HyperSpec("tau2", r"\tau^{2}", False, "variance of the intermediate generative layer p(z1|z2)"),
    HyperSpec("weight_decay_enc", r"\eta_{e}", True, "weight decay on encoder maps"),
    HyperSpec("weight_decay_dec", r"\eta_{d}", True, "weight decay on decoder maps"),
    *_level("beta", r"\beta", False, "KL weight beta"),
    *_level("encoder_variance", r"d_{0}", False, "fixed encoder variance d0"),
]

HYPER: dict[str, HyperSpec] = {s.name: s for s in _SPECS}

_SYMBOLS: dict[str, sp.Symbol] = {}


def spec(name: str) -> HyperSpec:
    """Return the :class:`HyperSpec` of hyper-parameter ``name``.

    Raises
    ------
    ModelError
        If ``name`` is not a hyper-parameter statvae knows.
    """
    try:
        return HYPER[name]
    except KeyError:
        raise ModelError(f"unknown hyper-parameter {name!r}; known: {', '.join(sorted(HYPER))}") from None


def symbol(name: str) -> sp.Symbol:
    """The canonical sympy symbol of hyper-parameter ``name``.

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


def coerce_value(name: str, value) -> sp.Expr:
    """Validate a user-supplied hyper-parameter value.

    ``None`` means "free": the canonical symbol is returned.  Numbers are
    checked against the domain (positive, or non-negative for weight decays)
    and returned as exact sympy numbers (floats become Rationals only when
    they are integral, otherwise sympy Floats).  sympy expressions are
    accepted as they are.
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
    """Map of every hyper-parameter symbol to its LaTeX name."""
    return {symbol(n): s.latex for n, s in HYPER.items()}
