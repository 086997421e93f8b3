"""The objects users hold: :class:`VAEModel`, the presets and model files that return it.

:class:`VAEModel` is a :class:`statvae.model.vae.Model` (graph and values, the
description every layer takes) with the conveniences that call up the layers:
``objective()`` (symbolic), ``compile()`` (numeric) and ``collapse()``
(analysis).  It is defined here, in the top layer, so that the model layer
never imports the layers above it.  The presets and :func:`load_model` are the
model layer's, returning a :class:`VAEModel`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .model import files as _files
from .model import presets as _presets
from .model.graph import ModelGraph
from .model.vae import DEFAULTS, Model

if TYPE_CHECKING:  # for annotations only: the layers above are imported when called
    from .analysis.collapse import CollapseAnalysis
    from .numeric.bundle import CompiledObjective
    from .symbolic.objective import Objective

__all__ = ["VAEModel", "LinearVAE", "ConditionalVAE", "HierarchicalVAE", "load_model", "save_model", "DEFAULTS"]


class VAEModel(Model):
    """A linear-Gaussian VAE: a :class:`~statvae.model.vae.Model` (graph and values, same constructor and
    defaults) with ``objective()``, ``compile()`` and ``collapse()``.

    Examples
    --------
    >>> import statvae
    >>> m = statvae.LinearVAE(3, 2)
    >>> m.values["beta"], m.values["sigma2"]
    (1, sigma2)
    >>> m.free_hyper()
    ['sigma2']
    >>> m.collapse().critical("sigma2", spectrum=[3.0, 2.0, 1.0]).value
    3.0
    """

    def objective(self, form: str = "eigen", covariance: Any = None) -> Objective:
        """The exact symbolic objective; see :func:`statvae.symbolic.objective.build_objective`.

        The entry-by-entry forms (``"eigen"``, ``"explicit"``) are refused
        above :data:`statvae.validate.EXPLICIT_HESSIAN_LIMIT` (their cost
        grows with the square of the number of parameters); ``"matrix"``
        holds for every size.

        Parameters
        ----------
        form : {"eigen", "explicit", "matrix"}
            Data in the eigenbasis (spectral symbols), explicit entries with a
            symbolic covariance, or matrix symbols (any size).
        covariance : sympy.Matrix, optional
            A covariance to use instead of the symbols.

        Returns
        -------
        Objective
        """
        from .symbolic.objective import build_objective
        from .validate import check_explicit_size

        if form != "matrix":
            check_explicit_size(self, f"objective(form={form!r})", "use form='matrix' (it holds for every size)")
        return build_objective(self, form=form, covariance=covariance)

    def compile(self, backend: str = "numpy", path: str = "auto", cache: bool = True, dps: int = 30,
                verify: bool = True) -> CompiledObjective:
        """Compiled numeric objective; see :func:`statvae.numeric.bundle.compile_model`.

        Parameters
        ----------
        backend : {"numpy", "mpmath", ...}
        path : {"auto", "explicit", "matrix"}
            Explicit entries (small models) or matrix expressions (any size).
        cache : bool
            Reuse compiled code from the on-disk cache.
        dps : int
            Digits of the mpmath backend.
        verify : bool
            Check the compiled gradient against finite differences once.

        Returns
        -------
        CompiledObjective
        """
        from .numeric.bundle import compile_model

        return compile_model(self, backend=backend, path=path, cache=cache, dps=dps, verify=verify)

    def collapse(self) -> CollapseAnalysis:
        """Stability analysis of the collapsed point; see :class:`statvae.analysis.collapse.CollapseAnalysis`.

        Returns
        -------
        CollapseAnalysis
        """
        from .analysis.collapse import analyse_collapse

        return analyse_collapse(self)

    @classmethod
    def of(cls, model: Model) -> VAEModel:
        """``model`` as a :class:`VAEModel` (itself if it already is one).

        Parameters
        ----------
        model : Model

        Returns
        -------
        VAEModel
        """
        out: VAEModel = model.as_type(cls)
        return out


def _user(preset: Callable[..., Model]) -> Callable[..., VAEModel]:
    @functools.wraps(preset)
    def make(*args: Any, **kwargs: Any) -> VAEModel:
        return VAEModel.of(preset(*args, **kwargs))

    return make


LinearVAE = _user(_presets.LinearVAE)
ConditionalVAE = _user(_presets.ConditionalVAE)
HierarchicalVAE = _user(_presets.HierarchicalVAE)
load_model = _user(_files.load_model)
model_from_dict = _user(_files.model_from_dict)
save_model = _files.save_model

_ = ModelGraph  # re-exported by statvae
