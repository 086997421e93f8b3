"""Compiled numerics: value, gradient, Hessian, HVP and d(gradient)/d(hyper) from the symbolic layer."""

from .bundle import BoundObjective, CompiledObjective, VerificationError, compile_model, random_parameters
from .cache import clear_cache
from ..model.layout import Layout, ParameterError

__all__ = ["BoundObjective", "CompiledObjective", "VerificationError", "compile_model", "random_parameters",
           "clear_cache", "Layout", "ParameterError"]
