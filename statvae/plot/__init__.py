"""Figures from saved results (never recomputed): bifurcation diagrams, observables, phase diagrams.

Colour is the number of active latents, solid lines are stable, dashed unstable; ``style="one-column"`` or
``"two-column"`` sizes a figure for a journal (:mod:`statvae.plot.style`).  matplotlib is an optional dependency
(``pip install 'statvae[plot]'``).
"""

from .figures import (active_colors, active_count, describe_label, plot_diagram, plot_observables,
                      plot_phase_diagram, plot_track, stable_derivative, stable_path)
from .style import STYLES, figure_style, save_figure

__all__ = ["plot_diagram", "plot_observables", "plot_phase_diagram", "plot_track", "save_figure", "stable_path",
           "stable_derivative", "active_count", "active_colors", "describe_label", "figure_style", "STYLES"]
