"""What is analysed: model graphs, presets and hyper-parameters."""

from .graph import ENCODER_KINDS, Map, ModelGraph, Variable
from .presets import ConditionalVAE, HierarchicalVAE, LinearVAE
from .vae import VAEModel

__all__ = ["ENCODER_KINDS", "Map", "ModelGraph", "Variable", "VAEModel", "LinearVAE", "ConditionalVAE",
           "HierarchicalVAE"]
