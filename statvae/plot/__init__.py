"""Figures from saved results (never recomputed): bifurcation diagrams, observables, phase diagrams.

matplotlib is an optional dependency (``pip install 'statvae[plot]'``).
"""

from .figures import plot_diagram, plot_observables, plot_phase_diagram, save_figure

__all__ = ["plot_diagram", "plot_observables", "plot_phase_diagram", "save_figure"]
