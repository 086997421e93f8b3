"""A model description: a validated graph plus hyper-parameter values.

:class:`Model` is what the lower layers (data, symbolic, numeric, bifurcation,
analysis) take.  The object users hold, :class:`statvae.VAEModel`, subclasses
it in :mod:`statvae.api` (the top layer) and adds the conveniences that call
up the layers (``objective()``, ``compile()``, ``collapse()``), so no layer
imports one above it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import sympy as sp

from ..errors import ModelError
from ..validate import show as _show
from . import hyper as H
from .graph import ModelGraph

__all__ = ["Model", "DEFAULTS"]

#: Default value of a hyper-parameter by its role (``None``: free), the same as the presets'.
DEFAULTS: dict[str, int | None] = {"kl_weight": 1, "latent_variance": 1, "weight_decay": 0, "noise_variance": None,
            "encoder_variance": None}

_M = TypeVar("_M", bound="Model")


class Model:
    """A linear-Gaussian VAE: structure (a :class:`ModelGraph`) and values.

    Hyper-parameter values are numbers or sympy expressions; a value set to
    ``None`` is free: the canonical symbol of that hyper-parameter (see
    :func:`statvae.model.hyper.symbol`).  A hyper-parameter not mentioned in
    ``values`` gets the presets' default for its role: KL weights 1, prior
    and conditional-prior variances 1, weight decays 0; observed noise
    variances and fixed encoder variances stay free.

    Parameters
    ----------
    graph : ModelGraph
        The structure; validated here.
    values : dict, optional
        Hyper-parameter values by name.  Names the graph does not use raise
        :class:`~statvae.errors.ModelError`.
    kind : str
        Short name of the preset (``"linear"``, ``"conditional"``,
        ``"hierarchical"``) or ``"custom"``.

    Examples
    --------
    >>> from statvae.model.presets import LinearVAE
    >>> m = LinearVAE(3, 2)
    >>> m.values["beta"], m.values["sigma2"]
    (1, sigma2)
    >>> m.free_hyper()
    ['sigma2']
    """

    def __init__(self, graph: ModelGraph, values: Mapping[str, Any] | None = None, kind: str = "custom") -> None:
        if not isinstance(graph, ModelGraph):
            raise ModelError(f"VAEModel takes a ModelGraph (or use a preset such as statvae.LinearVAE), got "
                             f"{_show(graph)}")
        if values is not None and not isinstance(values, Mapping):
            raise ModelError(f"values must be a dict of hyper-parameter values by name, got {_show(values)}")
        if not isinstance(kind, str):
            raise ModelError(f"kind must be a string, got {_show(kind)}")
        bad = [k for k in (values or {}) if not isinstance(k, str)]
        if bad:
            raise ModelError(f"hyper-parameter names must be strings, got {_show(bad[0])}")
        graph.validate()
        self.graph = graph
        self.kind = kind
        names = graph.hyper_names()
        values = dict(values or {})
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise ModelError(
                f"{', '.join(unknown)} is not a hyper-parameter of this model; its hyper-parameters are: "
                f"{', '.join(names)}"
            )
        roles = graph.hyper_roles()
        for n in names:
            if n not in values:
                values[n] = DEFAULTS.get(roles[n])
        self.values: dict[str, sp.Expr] = {n: H.coerce_value(n, values[n]) for n in names}

    # -- descriptions -------------------------------------------------
    @property
    def dims(self) -> dict[str, int]:
        """Dimension of every variable, by name."""
        return {v.name: v.dim for v in self.graph.variables()}

    def hyper_names(self) -> list[str]:
        """Names of the hyper-parameters, in the graph's stable order."""
        return list(self.values)

    def require_hyper(self, *names: str, verb: str | None = None, what: str | None = None) -> None:
        """Raise unless every name is a hyper-parameter of this model (the one wording of that error).

        Parameters
        ----------
        *names : str
            Names to check.
        verb : str, optional
            What would be done (``"solve for"``): ``cannot solve for 'x': not a hyper-parameter ...``.
        what : str, optional
            What the name is (``"--along"``): ``--along 'x' is not a hyper-parameter ...``.

        Raises
        ------
        ModelError
            Naming the unknown names and listing the model's hyper-parameters.

        Examples
        --------
        >>> from statvae.model.presets import LinearVAE
        >>> LinearVAE(3, 2).require_hyper("gamma", verb="solve for")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        statvae.errors.ModelError: cannot solve for 'gamma': not a hyper-parameter of this model (its ...: sigma2, ...)
        """
        unknown = [n for n in names if n not in self.values]
        if not unknown:
            return
        known = ", ".join(self.values)
        if verb is not None:
            raise ModelError(f"cannot {verb} {unknown[0]!r}: not a hyper-parameter of this model "
                             f"(its hyper-parameters are: {known})")
        if what is not None:
            raise ModelError(f"{what} {unknown[0]!r} is not a hyper-parameter of this model "
                             f"(its hyper-parameters are: {known})")
        raise ModelError(f"{', '.join(map(str, unknown))} is not a hyper-parameter of this model; "
                         f"its hyper-parameters are: {known}")

    def free_hyper(self) -> list[str]:
        """Hyper-parameters whose value is still their own symbol."""
        return [n for n, v in self.values.items() if v == H.symbol(n)]

    def substitutions(self, **overrides: Any) -> dict[sp.Symbol, sp.Expr]:
        """Map canonical symbols to the model's values (plus overrides).

        Parameters
        ----------
        **overrides
            Values replacing the model's, by hyper-parameter name (``None`` frees one).

        Returns
        -------
        dict
            Value by canonical symbol, for every hyper-parameter that is not free.

        Raises
        ------
        ModelError
            If an override names no hyper-parameter of the model, or its value is bad.
        """
        vals = self.with_values(**overrides).values if overrides else self.values
        return {H.symbol(n): v for n, v in vals.items() if v != H.symbol(n)}

    def with_values(self: _M, **values: Any) -> _M:
        """A copy with some hyper-parameter values replaced (``None`` frees one).

        Parameters
        ----------
        **values
            New values by hyper-parameter name.

        Returns
        -------
        Model
            A new model of the same class.

        Raises
        ------
        ModelError
            If a name is no hyper-parameter of the model, or a value is bad.

        Examples
        --------
        >>> from statvae.model.presets import LinearVAE
        >>> LinearVAE(3, 2).with_values(sigma2=0.5).free_hyper()
        []
        """
        self.require_hyper(*values)
        merged = dict(self.values)
        for n, v in values.items():
            merged[n] = v
        return type(self)(self.graph, {n: (None if v == H.symbol(n) else v) for n, v in merged.items()}, self.kind)

    def resized(self: _M, **dims: int) -> _M:
        """The same model with other dimensions.

        Parameters
        ----------
        **dims
            New dimension by variable name (``x=5``); variables not named keep theirs.

        Returns
        -------
        Model
            A new model of the same class, with the same values.

        Raises
        ------
        ModelError
            If a dimension is bad.
        """
        g = self.graph.resized(dims)
        return type(self)(g, self.given_values(), self.kind)

    def given_values(self) -> dict[str, Any]:
        """The values as a constructor takes them (``None`` for a free hyper-parameter)."""
        return {n: (None if v == H.symbol(n) else v) for n, v in self.values.items()}

    def as_type(self, cls: type[_M]) -> _M:
        """The same model as an instance of ``cls`` (a subclass of :class:`Model`, e.g. ``statvae.VAEModel``).

        Parameters
        ----------
        cls : type
            :class:`Model` or a subclass.

        Returns
        -------
        Model
            ``self`` if it is exactly of class ``cls``, else a new ``cls`` with the same graph, values and kind.
        """
        return self if type(self) is cls else cls(self.graph, self.given_values(), self.kind)

    def structure_key(self) -> tuple[Any, ...]:
        """Hashable key of the structure (kind and graph; not dimensions nor values)."""
        return (self.kind, self.graph.structure_key())

    def key(self) -> tuple[Any, ...]:
        """Hashable key of the full description (structure, dimensions, values)."""
        values = tuple(sorted((n, sp.srepr(v)) for n, v in self.values.items()))
        return (self.structure_key(), self.graph.dims_key(), values)

    def __repr__(self) -> str:
        dims = ", ".join(f"{k}={v}" for k, v in self.dims.items())
        vals = ", ".join(f"{k}={v}" for k, v in self.values.items())
        return f"<{self.kind} VAE: {dims}; {vals}>"
