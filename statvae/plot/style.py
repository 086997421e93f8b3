"""Publication styles, the optional matplotlib import, axis helpers and saving.

Two styles size a figure for a journal page: ``"one-column"`` (3.4 in wide)
and ``"two-column"`` (7.0 in wide), with 8-9 pt text.  ``save_figure`` writes
PNG (300 dpi for a styled figure), or vector PDF / SVG (no raster image; PDF
with TrueType fonts), cropped to a tight bounding box.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import StatvaeError

__all__ = ["STYLES", "LOG_DECADES", "pyplot", "check_style", "figure_style", "new_figure", "use_log", "log_axis",
           "save_figure"]

#: Figure width in inches of each style.
STYLES: dict[str, float] = {"one-column": 3.4, "two-column": 7.0}

#: A parameter axis is logarithmic by default when its range spans more than this many decades.
LOG_DECADES = 1.5

_RC = {
    "font.size": 8.0, "axes.labelsize": 9.0, "axes.titlesize": 9.0, "xtick.labelsize": 8.0, "ytick.labelsize": 8.0,
    "legend.fontsize": 8.0, "legend.title_fontsize": 8.0, "axes.linewidth": 0.6, "xtick.major.width": 0.6,
    "ytick.major.width": 0.6, "xtick.minor.width": 0.4, "ytick.minor.width": 0.4, "xtick.major.size": 3.0,
    "ytick.major.size": 3.0, "xtick.minor.size": 1.8, "ytick.minor.size": 1.8, "lines.linewidth": 1.2,
    "lines.markersize": 3.5, "legend.frameon": False, "legend.handlelength": 1.8, "legend.borderaxespad": 0.3,
    "legend.columnspacing": 1.0, "legend.handletextpad": 0.4, "legend.labelspacing": 0.25,
    "axes.titlepad": 3.0, "axes.labelpad": 2.0, "xtick.major.pad": 2.0, "ytick.major.pad": 2.0,
    "savefig.dpi": 300, "pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "path",
    "mathtext.fontset": "dejavusans",
}

#: The attribute a styled figure carries (its style name), read by :func:`save_figure`.
_STYLE_ATTR = "_statvae_style"


def pyplot() -> Any:
    """``matplotlib.pyplot`` with a non-interactive backend, or a one-line error naming the extra.

    Returns
    -------
    module
        ``matplotlib.pyplot``.

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


def check_style(style: str | None) -> str | None:
    """Check a style name.

    Parameters
    ----------
    style : str or None
        ``"one-column"``, ``"two-column"`` or None (matplotlib's current settings).

    Returns
    -------
    str or None
        ``style``.

    Raises
    ------
    StatvaeError
        For another name.
    """
    if style is not None and style not in STYLES:
        raise StatvaeError(f"style must be one of {', '.join(STYLES)} (or None), got {style!r}")
    return style


@contextlib.contextmanager
def figure_style(style: str | None) -> Iterator[None]:
    """Matplotlib settings of a style, for the figures made inside the ``with`` block.

    Parameters
    ----------
    style : str or None
        ``"one-column"`` or ``"two-column"`` (8-9 pt text, thin lines); None changes nothing.

    Yields
    ------
    None

    Raises
    ------
    StatvaeError
        For an unknown style, or if matplotlib is not installed.
    """
    check_style(style)
    plt = pyplot()
    if style is None:
        yield
        return
    with plt.rc_context(_RC):
        yield


def new_figure(style: str | None, height: float, default_width: float = 7.0) -> Any:
    """A figure of the style's width (inches) and the given height, with a constrained layout.

    Parameters
    ----------
    style : str or None
        A style name, or None for ``default_width``.
    height : float
        Height in inches.
    default_width : float, optional
        Width without a style.

    Returns
    -------
    matplotlib.figure.Figure
        The figure, tagged with its style (read by :func:`save_figure`).

    Raises
    ------
    StatvaeError
        For an unknown style, or if matplotlib is not installed.
    """
    check_style(style)
    plt = pyplot()
    width = STYLES[style] if style is not None else default_width
    fig = plt.figure(figsize=(width, height), layout="constrained")
    if style is not None:
        fig.get_layout_engine().set(w_pad=0.02, h_pad=0.02, wspace=0.04, hspace=0.04)
    setattr(fig, _STYLE_ATTR, style)
    return fig


def use_log(values: Any, logx: bool | None) -> bool:
    """Whether a parameter axis is logarithmic: as asked, or automatically over more than 1.5 decades.

    Parameters
    ----------
    values : array_like
        The values on the axis (their range decides when ``logx`` is None).
    logx : bool or None
        True or False to choose; None for automatic (``max / min > 10**1.5``, all values positive).

    Returns
    -------
    bool

    Raises
    ------
    StatvaeError
        If a logarithmic axis is asked for values that are not all positive.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if logx is None:
        return bool(v.size and v.min() > 0 and v.max() / v.min() > 10 ** LOG_DECADES)
    if logx and v.size and v.min() <= 0:
        raise StatvaeError(f"a logarithmic axis needs positive values; the smallest is {v.min():.6g}")
    return bool(logx)


def log_axis(ax: Any, which: str = "x") -> None:
    """Make one axis logarithmic, with plain numbers at 1, 2 and 5 times powers of ten.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes.
    which : str, optional
        ``"x"`` or ``"y"``.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(LogLocator(base=10.0, subs=tuple(np.arange(1.0, 10.0))))
    axis.set_minor_formatter(NullFormatter())


def save_figure(ax: Any, path: str | os.PathLike[str]) -> Path:
    """Save the figure holding ``ax`` (axes, an array of axes, or the figure) and close it.

    PNG is written at 300 dpi for a styled figure (130 otherwise); PDF and SVG
    are vector output (PDF with embedded TrueType fonts); every format is
    cropped to a tight bounding box.

    Parameters
    ----------
    ax : matplotlib.axes.Axes, array of them, or matplotlib.figure.Figure
        What to save.
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
    plt = pyplot()
    fig = ax if hasattr(ax, "savefig") else np.atleast_1d(ax).flat[0].figure
    styled = getattr(fig, _STYLE_ATTR, None) is not None
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    with plt.rc_context({"pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "path"}):
        fig.savefig(path, dpi=300 if styled else 130, bbox_inches="tight", pad_inches=0.02 if styled else 0.1)
    plt.close(fig)
    return path
