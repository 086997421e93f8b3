"""What is analysed: model graphs, presets and hyper-parameters."""

from .graph import ENCODER_KINDS, Map, ModelGraph, Variable
from .presets import ConditionalVAE, HierarchicalVAE, LinearVAE
from .layout import Layout
from .vae import Model

__all__ = ["ENCODER_KINDS", "Map", "ModelGraph", "Variable", "Model", "Layout", "LinearVAE", "ConditionalVAE",
           "HierarchicalVAE"]
