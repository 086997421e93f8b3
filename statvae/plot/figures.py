"""Matplotlib figures of bifurcation diagrams and phase diagrams.

Every function takes a result object (or a saved file loaded with its
``load``) and draws it; nothing is recomputed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import StatvaeError

if TYPE_CHECKING:
    from ..bifurcation.diagram import BifurcationDiagram
    from ..bifurcation.phase import PhaseDiagram

__all__ = ["plot_diagram", "plot_observables", "plot_phase_diagram", "save_figure", "stable_path"]

_LABELS = {
    "sigma2": r"$\sigma'^2$", "beta": r"$\beta$", "beta1": r"$\beta_1$", "beta2": r"$\beta_2$",
    "weight_decay_enc": r"$\eta_e$", "weight_decay_dec": r"$\eta_d$", "prior_variance": r"$\sigma_0^2$",
    "tau2": r"$\tau^2$", "kl_total": "KL (total)", "elbo": "ELBO", "order_parameter": r"$\max_j \|w_j\|$",
    "reconstruction": "reconstruction", "active_latents": "active latents",
}


def pyplot() -> Any:
    """``matplotlib.pyplot`` with a non-interactive backend, or a one-line error naming the extra.

    Returns
    -------
    module

    Raises
    ------
    StatvaeError
        If matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise StatvaeError("plotting needs matplotlib: pip install 'statvae[plot]' (or pip install matplotlib)") \
            from None
    return plt


def _series(branch, name):
    if name == "order_parameter":
        keys = [k for k in branch.data if k.startswith("w_norm_")]
        if not keys:
            return np.zeros(branch.points)
        return np.max(np.hstack([np.atleast_2d(branch.data[k].T).T for k in keys]), axis=1)
    if name not in branch.data:
        raise StatvaeError(f"no observable {name!r}; recorded: {', '.join(sorted(branch.data))}")
    v = np.asarray(branch.data[name], dtype=float)
    return v if v.ndim == 1 else v.sum(axis=1)


def _segments(x, y, stable):
    """Split a curve into runs of equal stability (each run shares its end point with the next)."""
    out, start = [], 0
    for k in range(1, len(x) + 1):
        if k == len(x) or stable[k] != stable[start]:
            hi = min(k + 1, len(x))
            out.append((x[start:hi], y[start:hi], bool(stable[start])))
            start = k
    return out


def plot_diagram(diagram: BifurcationDiagram, observable: str = "kl_total", ax: Any = None,
                 max_branches: int = 40, legend: bool = True) -> Any:
    """Bifurcation diagram: ``observable`` against the parameter on every branch.

    Stable parts (Morse index 0) solid, unstable dashed; branch points as
    circles, folds as squares.

    Parameters
    ----------
    diagram : BifurcationDiagram
        A tracked (or loaded) diagram.
    observable : str, optional
        A recorded observable, or ``"order_parameter"`` (the largest decoder column norm).
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure).
    max_branches : int, optional
        Draw at most this many branches.
    legend : bool, optional
        Add a legend (only for 12 branches or fewer).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    Raises
    ------
    StatvaeError
        If matplotlib is not installed or the observable was not recorded.
    """
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for n, b in enumerate(list(diagram.branches.values())[:max_branches]):
        y = _series(b, observable)
        order = np.argsort(b.parameter)
        x, y, st = b.parameter[order], y[order], b.stable[order]
        # insert the located points of this branch so that stable parts reach them
        for s in diagram.special_points(branch=b.id):
            if s.status == "detected" or not x[0] < s.parameter < x[-1]:
                continue
            k = int(np.searchsorted(x, s.parameter))
            ys = float(np.interp(s.parameter, x, y))
            x, y = np.insert(x, k, s.parameter), np.insert(y, k, ys)
            st = np.insert(st, k, bool(st[k - 1] or st[k]))
        c = colors[n % len(colors)]
        for k, (xs, ys, stable) in enumerate(_segments(x, y, st)):
            ax.plot(xs, ys, "-" if stable else "--", color=c, lw=2 if stable else 1,
                    label=(b.label if k == 0 else None))
    for s in diagram.points.values():
        on = diagram.branches.get(s.branch)  # a name of its own: ``b`` above is a Branch, this may be None
        if on is None or on.id >= max_branches or s.status == "detected":
            continue
        y = np.interp(s.parameter, np.sort(on.parameter), _series(on, observable)[np.argsort(on.parameter)])
        ax.plot([s.parameter], [y], "o" if s.kind == "branch point" else "s", ms=5, mfc="white", mec="black",
                zorder=5)
    ax.set_xlabel(_LABELS.get(diagram.parameter, diagram.parameter))
    ax.set_ylabel(_LABELS.get(observable, observable))
    ax.set_title("bifurcation diagram (solid: stable, dashed: unstable; o: branch points)")
    if legend and len(diagram.branches) <= 12:
        ax.legend(fontsize=7, loc="best")
    return ax


def stable_path(diagram: BifurcationDiagram, observable: str) -> tuple[np.ndarray, np.ndarray]:
    """The observable of the stable state (Morse index 0) as a function of the parameter.

    Parameters
    ----------
    diagram : BifurcationDiagram
        A tracked (or loaded) diagram.
    observable : str
        A recorded observable, or ``"order_parameter"``.

    Returns
    -------
    tuple of numpy.ndarray
        The parameter values (ascending) and the observable, over the stable points of every branch.

    Raises
    ------
    StatvaeError
        If the observable was not recorded.
    """
    xs, ys = [], []
    for b in diagram.branches.values():
        y = _series(b, observable)
        m = b.stable
        xs.append(b.parameter[m])
        ys.append(y[m])
    if not xs:
        return np.zeros(0), np.zeros(0)
    x, y = np.concatenate(xs), np.concatenate(ys)
    order = np.argsort(x)
    return x[order], y[order]


def plot_observables(diagram: BifurcationDiagram,
                     observables: Sequence[str] = ("elbo", "kl_total", "order_parameter"), axes: Any = None) -> Any:
    """Observables of the stable state against the parameter, located branch points marked (the kinks).

    Parameters
    ----------
    diagram : BifurcationDiagram
        A tracked (or loaded) diagram.
    observables : sequence of str, optional
        One panel per observable (see :func:`stable_path`).
    axes : array of matplotlib.axes.Axes, optional
        One per observable (default: a new figure).

    Returns
    -------
    numpy.ndarray
        The axes drawn on.

    Raises
    ------
    StatvaeError
        If matplotlib is not installed or an observable was not recorded.
    """
    plt = pyplot()
    if axes is None:
        _, axes = plt.subplots(len(observables), 1, figsize=(7, 2.4 * len(observables)), sharex=True)
    axes = np.atleast_1d(axes)
    crit = [s.parameter for s in diagram.special_points("branch point") if s.status != "detected"
            and s.info.get("stability_change")]
    for ax, name in zip(axes, observables):
        x, y = stable_path(diagram, name)
        ax.plot(x, y, ".-", ms=3, lw=1.2)
        for c in crit:
            ax.axvline(c, color="0.6", lw=0.8, ls=":")
        ax.set_ylabel(_LABELS.get(name, name))
    axes[0].set_title("stable state; dotted: located branch points (kinks)")
    axes[-1].set_xlabel(_LABELS.get(diagram.parameter, diagram.parameter))
    return axes


def plot_phase_diagram(phase: PhaseDiagram, ax: Any = None) -> Any:
    """Loci of branch points in a two-parameter plane; collapse is stable above the first one.

    Parameters
    ----------
    phase : PhaseDiagram
        A computed (or loaded) phase diagram.
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    Raises
    ------
    StatvaeError
        If matplotlib is not installed.
    """
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    for k, loc in enumerate(phase.loci):
        x, y = np.asarray(loc["along"]), np.asarray(loc["parameter"])
        ax.plot(x, y, "-", lw=2 if k == 0 else 1, label=loc.get("label", f"locus {k + 1}"))
    if phase.loci:
        # collapse is stable beyond the outermost locus (upper envelope over the loci)
        xs = np.unique(np.concatenate([np.asarray(loc["along"], float) for loc in phase.loci]))
        env = np.max([np.interp(xs, *_sorted(loc), left=np.nan, right=np.nan) for loc in phase.loci], axis=0)
        ok = np.isfinite(env)
        top = float(np.nanmax(env)) * 1.3
        ax.fill_between(xs[ok], env[ok], top, color="0.9", zorder=0, label="collapse stable")
    ax.set_xlabel(_LABELS.get(phase.along, phase.along))
    ax.set_ylabel(_LABELS.get(phase.parameter, phase.parameter))
    ax.set_title("phase diagram: loci of branch points of the collapsed branch")
    ax.legend(fontsize=7)
    return ax


def _sorted(loc: Any) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(loc["along"], float), np.asarray(loc["parameter"], float)
    order = np.argsort(x)
    return x[order], y[order]


def save_figure(ax: Any, path: str | os.PathLike[str]) -> Path:
    """Save the figure holding ``ax`` (or an array of axes) as PNG, PDF or SVG, and close it.

    Parameters
    ----------
    ax : matplotlib.axes.Axes or array of them
        Axes of the figure.
    path : str or os.PathLike
        The file; its suffix (``.png``, ``.pdf`` or ``.svg``) sets the format.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    StatvaeError
        For another suffix, or if matplotlib is not installed.
    """
    path = Path(path)
    if path.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise StatvaeError(f"figures are saved as .png, .pdf or .svg, got {path.name}")
    fig = np.atleast_1d(ax)[0].figure
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    pyplot().close(fig)
    return path
