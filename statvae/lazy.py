"""Public names of a package loaded on first use (PEP 562), for `statvae` and `statvae.bifurcation`.

A package lists its public names and the submodule defining each; importing the package then costs
nothing, and the first access to a name imports its module and keeps the name in the package.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(package: str, table: dict[str, str], namespace: dict[str, Any],
               public: list[str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of a package whose public names load on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    table : dict
        Public name -> the submodule defining it, relative to the package (``".api"``).
    namespace : dict
        The package's ``globals()``: a loaded name is kept there, so later lookups are plain reads.
    public : list of str
        The package's ``__all__`` (listed by ``dir()`` before they are loaded).

    Returns
    -------
    tuple
        ``(__getattr__, __dir__)`` to assign in the package.

    Examples
    --------
    >>> ns = {}
    >>> get, names = lazy_names("statvae", {"ModelError": ".errors"}, ns, ["ModelError"])
    >>> get("ModelError").__name__, "ModelError" in ns
    ('ModelError', True)
    """

    def __getattr__(name: str) -> Any:
        where = table.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where, package), name)
        namespace[name] = value  # later lookups are plain attribute reads
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(public))

    return __getattr__, __dir__
