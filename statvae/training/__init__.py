"""Training VAEs the way people train them, and comparing the collapse they show with statvae's predictions.

``base`` defines the interface (:class:`Trainer`, :class:`Fitted`); ``linear`` is a numpy linear VAE trainer;
``torch_trainer`` (optional, needs PyTorch) holds nonlinear trainers; ``sweep`` runs trainers over a grid of
``sigma2`` or ``beta`` with warm starts and estimates the measured thresholds.  Importing this package loads
numpy only.
"""

from __future__ import annotations

from .base import Fitted, Trainer, measure_linear

__all__ = ["Fitted", "Trainer", "measure_linear"]
