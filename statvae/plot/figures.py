"""Matplotlib figures of bifurcation diagrams and phase diagrams.

Every function takes a result object (or a saved file loaded with its
``load``) and draws it; nothing is recomputed.

The figures share one encoding:

* colour is the number of active latents (a discrete sequential colormap,
  :func:`active_colors`): of a branch in the bifurcation diagram, of the stable
  state in the observables, of a region in the phase diagram;
* line style is stability: solid where the branch is a local maximum of the
  ELBO (Morse index 0), thin dashed where it is not;
* small black dots are branch points, each drawn once (symmetry copies of
  branches are not drawn; points at the same place are merged).

A branch label such as ``x2+z1 + x1+z2`` lists the sign-symmetry characters
of its isotropy subspace: ``x<i>+z<j>`` is latent ``j`` on eigen-direction
``i`` of the data (:func:`describe_label`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import StatvaeError
from .style import figure_style, log_axis, new_figure, pyplot, save_figure, use_log

if TYPE_CHECKING:
    from ..bifurcation.diagram import BifurcationDiagram, Branch
    from ..bifurcation.locate import SpecialPoint
    from ..bifurcation.phase import PhaseDiagram

__all__ = ["plot_diagram", "plot_observables", "plot_phase_diagram", "plot_track", "save_figure", "stable_path",
           "stable_derivative", "active_count", "active_colors", "describe_label", "marked_points", "phase_regions",
           "pyplot", "NOTATION", "POINT_MODES"]

_LABELS = {
    "sigma2": r"$\sigma'^2$", "beta": r"$\beta$", "beta1": r"$\beta_1$", "beta2": r"$\beta_2$",
    "weight_decay_enc": r"$\eta_e$", "weight_decay_dec": r"$\eta_d$", "prior_variance": r"$\sigma_0^2$",
    "tau2": r"$\tau^2$", "kl_total": "KL (total)", "elbo": "ELBO", "order_parameter": r"$\max_j \|w_j\|$",
    "reconstruction": "reconstruction", "active_latents": "active latents",
}
_SHORT = {"kl_total": "KL", "elbo": "ELBO", "reconstruction": "rec."}

#: The branch-label notation in words (the legend's last entry when branches are labelled).
NOTATION = r"x$i$+z$j$: latent $j$ on eigen-direction $i$"

#: Which special points :func:`plot_diagram` marks.
POINT_MODES = ("switching", "located", "none")

_TERM = re.compile(r"^x(\d+)\+z(\d+)$")
_STABLE_LW, _UNSTABLE_LW = 1.6, 0.75
_DASHES = (0, (3.0, 1.8))


def _name(parameter: str) -> str:
    return _LABELS.get(parameter, parameter)


def _series(branch: Branch, name: str) -> np.ndarray:
    if name == "order_parameter":
        keys = [k for k in branch.data if k.startswith("w_norm_")]
        if not keys:
            return np.zeros(branch.points)
        return np.asarray(np.max(np.hstack([np.atleast_2d(branch.data[k].T).T for k in keys]), axis=1), dtype=float)
    if name not in branch.data:
        raise StatvaeError(f"no observable {name!r}; recorded: {', '.join(sorted(branch.data))}")
    v = np.asarray(branch.data[name], dtype=float)
    return v if v.ndim == 1 else v.sum(axis=1)


# -- the encoding -----------------------------------------------------------------------------------------------------
def active_count(branch: Branch) -> int:
    """The number of active latents on a branch (its largest recorded value).

    A branch starts at a branch point where its newest latent has zero
    amplitude, so the count is the largest one recorded along the branch;
    without the ``active_latents`` observable it is the number of terms of the
    label (``"collapsed"``: 0).

    Parameters
    ----------
    branch : Branch
        A branch of a diagram.

    Returns
    -------
    int
    """
    if "active_latents" in branch.data and branch.points:
        v = _series(branch, "active_latents")
        v = v[np.isfinite(v)]
        if v.size:
            return int(round(float(v.max())))
    return 0 if branch.label in ("collapsed", "start", "") else len(branch.label.split(" + "))


def active_colors(max_count: int) -> list[tuple[float, float, float, float]]:
    """The colour of each number of active latents, 0 to ``max_count``: a discrete sequential colormap.

    Viridis from dark (0, collapse) to light (``max_count``), its palest end
    left out so that thin lines stay visible on white.

    Parameters
    ----------
    max_count : int
        The largest count to colour (>= 0).

    Returns
    -------
    list of tuple
        RGBA colours; entry ``k`` is the colour of ``k`` active latents.

    Raises
    ------
    StatvaeError
        If matplotlib is not installed or ``max_count`` is negative.
    """
    if max_count < 0:
        raise StatvaeError(f"max_count must be >= 0, got {max_count}")
    pyplot()
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    out = []
    for k in range(max_count + 1):
        r, g, b, a = (float(c) for c in cmap(0.86 * k / max_count if max_count else 0.0))
        out.append((r, g, b, a))
    return out


def _tint(color: Any, amount: float = 0.7) -> tuple[float, float, float, float]:
    """``color`` mixed with white (``amount`` of white), opaque."""
    r, g, b = (float(c) for c in color[:3])
    return (r + (1 - r) * amount, g + (1 - g) * amount, b + (1 - b) * amount, 1.0)


def describe_label(label: str) -> str:
    """A branch label in words: ``"x2+z1 + x1+z2"`` -> ``"latent 1 on eigen-direction 2, latent 2 on ..."``.

    Parameters
    ----------
    label : str
        A branch label (:attr:`Branch.label`).

    Returns
    -------
    str
        ``"collapsed (no active latent)"`` for the collapsed branch; a term not of the form
        ``x<i>+z<j>`` (other models) is named as a symmetry class.

    Examples
    --------
    >>> describe_label("x1+z1 + x3+z2")
    'latent 1 on eigen-direction 1, latent 2 on eigen-direction 3'
    """
    if label == "collapsed":
        return "collapsed (no active latent)"
    words = []
    for term in label.split(" + "):
        m = _TERM.match(term.strip())
        words.append(f"latent {m[2]} on eigen-direction {m[1]}" if m else f"symmetry class {term.strip()}")
    return ", ".join(words)


def _drawn(diagram: BifurcationDiagram, max_branches: int) -> list[Branch]:
    """The branches drawn: symmetry copies left out, at most ``max_branches``."""
    return [b for b in diagram.branches.values() if b.duplicate_of is None and b.points][:max_branches]


def _sorted_branch(branch: Branch, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.argsort(branch.parameter, kind="stable")
    return branch.parameter[order], _series(branch, name)[order], branch.stable[order]


def _value_at(diagram: BifurcationDiagram, s: SpecialPoint, x: np.ndarray, y: np.ndarray, name: str) -> float:
    """The observable at a special point of a branch (``x`` ascending, ``y`` its values).

    A branch switched onto at the point starts there, with the same value (the
    branches meet); otherwise the parabola through the three nearest samples.
    """
    for c in diagram.children(s.id):
        if c.points and abs(c.parameter[0] - s.parameter) <= 1e-12 * max(abs(s.parameter), 1e-300):
            return float(_series(c, name)[0])
    if len(x) < 3:
        return float(np.interp(s.parameter, x, y))
    k = int(np.clip(np.searchsorted(x, s.parameter) - 1, 0, len(x) - 3))
    xs, ys = x[k:k + 3], y[k:k + 3]
    return float(sum(ys[i] * np.prod([(s.parameter - xs[j]) / (xs[i] - xs[j]) for j in range(3) if j != i])
                     for i in range(3)))


def _with_points(diagram: BifurcationDiagram, branch: Branch, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The branch sorted by parameter, its located points inserted so that stable parts reach them."""
    x, y, st = _sorted_branch(branch, name)
    x0, y0 = x, y
    for s in diagram.special_points(branch=branch.id):
        if s.status == "detected" or not x[0] < s.parameter < x[-1]:
            continue
        k = int(np.searchsorted(x, s.parameter))
        ys = _value_at(diagram, s, x0, y0, name)
        x, y = np.insert(x, k, s.parameter), np.insert(y, k, ys)
        st = np.insert(st, k, bool(st[k - 1] or st[k]))
    return x, y, st


def _segments(x: np.ndarray, y: np.ndarray, stable: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, bool]]:
    """Split a curve into runs of equal stability (each run shares its end point with the next)."""
    out, start = [], 0
    for k in range(1, len(x) + 1):
        if k == len(x) or stable[k] != stable[start]:
            hi = min(k + 1, len(x))
            out.append((x[start:hi], y[start:hi], bool(stable[start])))
            start = k
    return out


def marked_points(diagram: BifurcationDiagram, observable: str = "kl_total", points: str = "switching",
                  max_branches: int = 40) -> list[tuple[SpecialPoint, float, float]]:
    """The special points :func:`plot_diagram` marks, each place once.

    Parameters
    ----------
    diagram : BifurcationDiagram
        A tracked (or loaded) diagram.
    observable : str, optional
        The observable on the vertical axis (gives each point's height).
    points : str, optional
        ``"switching"`` (default): located points where a drawn branch emanates
        or where stability changes; ``"located"``: every located point of a drawn
        branch; ``"none"``.
    max_branches : int, optional
        As in :func:`plot_diagram`.

    Returns
    -------
    list of tuple
        ``(point, parameter, value)``; points of symmetry copies and only-bracketed
        (``detected``) points are left out, and points at the same place (to 1e-9
        relative) are kept once.

    Raises
    ------
    StatvaeError
        For another ``points`` or an observable that was not recorded.
    """
    if points not in POINT_MODES:
        raise StatvaeError(f"points must be one of {', '.join(POINT_MODES)}, got {points!r}")
    if points == "none":
        return []
    drawn = {b.id: b for b in _drawn(diagram, max_branches)}
    origins = {b.origin for b in drawn.values() if b.origin is not None}
    out: list[tuple[SpecialPoint, float, float]] = []
    seen: list[tuple[float, float]] = []
    ys = [_series(b, observable) for b in drawn.values()]
    yspan = max((float(np.nanmax(v) - np.nanmin(v)) for v in ys if v.size), default=1.0) or 1.0
    for s in sorted(diagram.points.values(), key=lambda s: (s.branch, s.parameter)):
        if s.branch not in drawn or s.status == "detected":
            continue
        if points == "switching" and not (s.info.get("stability_change") or s.id in origins):
            continue
        x, y, _ = _sorted_branch(drawn[s.branch], observable)
        v = _value_at(diagram, s, x, y, observable)
        if any(abs(s.parameter - p) <= 1e-9 * max(abs(p), 1e-300) and abs(v - w) <= 1e-9 * yspan for p, w in seen):
            continue
        seen.append((s.parameter, v))
        out.append((s, s.parameter, v))
    return out


def _legend_handles(counts: Sequence[int], unstable: bool, marks: bool, folds: bool, notation: bool,
                    colors: Sequence[Any]) -> tuple[list[Any], list[str], list[Any], list[str]]:
    """Handles of the two legends: active latents (colours), and the key (line styles, markers, notation)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    ch = [Line2D([], [], color=colors[k], lw=2.4) for k in counts]
    cl = [str(k) for k in counts]
    kh: list[Any] = [Line2D([], [], color="0.25", lw=_STABLE_LW)]
    kl = ["stable"]
    if unstable:
        kh.append(Line2D([], [], color="0.25", lw=_UNSTABLE_LW, ls=_DASHES))
        kl.append("unstable")
    if marks:
        kh.append(Line2D([], [], ls="none", marker="o", ms=3.2, mfc="black", mec="white", mew=0.4))
        kl.append("branch point")
    if folds:
        kh.append(Line2D([], [], ls="none", marker="s", ms=3.2, mfc="white", mec="black", mew=0.6))
        kl.append("fold")
    if notation:
        kh.append(Patch(visible=False))
        kl.append(NOTATION)
    return ch, cl, kh, kl


def _set_range(ax: Any, lo: float, hi: float, log: bool, which: str = "x") -> None:
    if log:
        log_axis(ax, which)
    (ax.set_xlim if which == "x" else ax.set_ylim)(lo, hi)


def _label_branches(ax: Any, drawn: Sequence[Branch], observable: str, colors: Sequence[Any],
                    counts: dict[int, int], log: bool) -> None:
    """Each branch's label at the end of its followed range, nudged apart vertically."""
    ends = []
    for b in drawn:
        k = int(np.argmax(np.abs(b.parameter - b.parameter[0]))) if b.points > 1 else 0
        ends.append((float(b.parameter[k]), float(_series(b, observable)[k]), b))
    if not ends:
        return
    y0, y1 = ax.get_ylim()
    gap = 0.045 * (y1 - y0)
    placed: list[float] = []
    for x, y, b in sorted(ends, key=lambda e: e[1]):
        ty = y
        for p in sorted(placed):
            if abs(ty - p) < gap:
                ty = p + gap
        placed.append(ty)
        x0, x1 = ax.get_xlim()
        right = (np.log(x) - np.log(x0)) / (np.log(x1) - np.log(x0)) < 0.5 if log else (x - x0) / (x1 - x0) < 0.5
        ax.annotate(b.label, (x, y), xytext=(x, ty), textcoords="data", ha="left" if right else "right",
                    va="bottom", fontsize="medium", color=colors[counts[b.id]], zorder=6,
                    bbox={"boxstyle": "square,pad=0.05", "fc": "white", "ec": "none", "alpha": 0.8})


def plot_diagram(diagram: BifurcationDiagram, observable: str = "kl_total", ax: Any = None,
                 max_branches: int = 40, legend: bool = True, *, logx: bool | None = None, points: str = "switching",
                 labels: bool | None = None, style: str | None = None) -> Any:
    """Bifurcation diagram: ``observable`` against the parameter on every branch.

    Colour is the number of active latents of the branch (legend "active
    latents"); stable parts (Morse index 0) are solid, unstable ones thin and
    dashed; branch points are small black dots, each place drawn once; symmetry
    copies of branches are not drawn.

    Parameters
    ----------
    diagram : BifurcationDiagram
        A tracked (or loaded) diagram.
    observable : str, optional
        A recorded observable, or ``"order_parameter"`` (the largest decoder column norm).
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure of the style's width).
    max_branches : int, optional
        Draw at most this many branches.
    legend : bool, optional
        Add the legends (active latents; line styles, markers and the label notation).
    logx : bool or None, optional
        Logarithmic parameter axis; None (default) chooses it when the range
        spans more than 1.5 decades.
    points : str, optional
        Which special points to mark (:func:`marked_points`): ``"switching"``
        (default), ``"located"`` or ``"none"``.
    labels : bool or None, optional
        Write each branch's label at the end of its range; None (default) does
        so for 8 drawn branches or fewer.  The legend then explains the notation.
    style : str or None, optional
        ``"one-column"`` or ``"two-column"`` (:mod:`statvae.plot.style`), for a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    Raises
    ------
    StatvaeError
        If matplotlib is not installed, the observable was not recorded, an
        option is not one of its values, or a log axis is asked for non-positive values.
    """
    with figure_style(style):
        if ax is None:
            fig = new_figure(style, 2.8 if style == "one-column" else 4.2)
            ax = fig.add_subplot()
        drawn = _drawn(diagram, max_branches)
        counts = {b.id: active_count(b) for b in drawn}
        colors = active_colors(max(counts.values(), default=0))
        marks = marked_points(diagram, observable, points, max_branches)
        xs_all = np.concatenate([b.parameter for b in drawn]) if drawn else np.ones(1)
        log = use_log(xs_all, logx)
        any_unstable = False
        for b in drawn:
            x, y, st = _with_points(diagram, b, observable)
            for xs, ys, stable in _segments(x, y, st):
                any_unstable |= not stable
                ax.plot(xs, ys, color=colors[counts[b.id]], lw=_STABLE_LW if stable else _UNSTABLE_LW,
                        ls="-" if stable else _DASHES, zorder=3 if stable else 2, solid_capstyle="butt",
                        gid=f"branch {b.id} {'stable' if stable else 'unstable'}")
        folds = False
        for s, px, py in marks:
            is_fold = s.kind != "branch point"
            folds |= is_fold
            if is_fold:
                ax.plot([px], [py], "s", ms=3.2, mfc="white", mec="black", mew=0.6, zorder=5, gid=f"point {s.id}")
            else:
                ax.plot([px], [py], "o", ms=3.2, mfc="black", mec="white", mew=0.4, zorder=5, gid=f"point {s.id}")
        _set_range(ax, float(xs_all.min()), float(xs_all.max()), log)
        ax.set_xlabel(_name(diagram.parameter))
        ax.set_ylabel(_LABELS.get(observable, observable))
        show_labels = len(drawn) <= 8 if labels is None else labels
        if show_labels:
            y0, y1 = ax.get_ylim()
            ax.set_ylim(y0, y1 + 0.06 * (y1 - y0))  # room for the top label
            _label_branches(ax, drawn, observable, colors, counts, log)
        if legend:
            ch, cl, kh, kl = _legend_handles(sorted(set(counts.values())), any_unstable, bool(marks), folds,
                                             show_labels, colors)
            first = ax.legend(ch, cl, title="active latents", loc="upper right", ncol=min(len(ch), 3),
                              handlelength=1.4, columnspacing=0.8)
            ax.add_artist(first)
            ax.legend(kh, kl, loc="center right", handlelength=2.2)
    return ax


# -- the stable state -------------------------------------------------------------------------------------------------
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


def _stable_runs(diagram: BifurcationDiagram, observable: str, with_points: bool,
                 max_branches: int = 10 ** 9) -> list[tuple[Branch, np.ndarray, np.ndarray]]:
    """Runs of consecutive stable samples of every drawn branch, sorted by parameter."""
    out = []
    for b in _drawn(diagram, max_branches):
        x, y, st = _with_points(diagram, b, observable) if with_points else _sorted_branch(b, observable)
        for xs, ys, stable in _segments(x, y, st):
            if stable:
                out.append((b, xs, ys))
    return out


def stable_derivative(diagram: BifurcationDiagram, observable: str = "kl_total", log: bool = False
                      ) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """The derivative of an observable of the stable state in the parameter, one piece per stable run.

    Each run of consecutive stable samples of one branch is differentiated on
    its own (second-order finite differences on the recorded samples,
    :func:`numpy.gradient`), so a jump of the derivative at a branch point (the
    KL's kink) stays a jump.  A run that stops short of a located branch point
    of its branch is extended to it with the one-sided derivative the tracker
    recorded there (``info["one_sided_derivatives"]``).

    Parameters
    ----------
    diagram : BifurcationDiagram
        A tracked (or loaded) diagram.
    observable : str, optional
        A recorded observable (default the total KL).
    log : bool, optional
        The derivative in the logarithm of the parameter, ``p * dy/dp``
        (differences in ``log p``; needs a positive parameter).  For a linear
        VAE the total KL then falls by exactly 1/2 per active latent.

    Returns
    -------
    list of tuple
        ``(parameter, derivative, active_count)`` per run, ascending in the
        parameter; runs of a single sample are left out.

    Raises
    ------
    StatvaeError
        If the observable was not recorded, or ``log`` is asked for a non-positive parameter.
    """
    out = []
    for b, x, y in _stable_runs(diagram, observable, with_points=False):
        keep = np.concatenate([[True], np.diff(x) > 0])  # a repeated parameter has no difference quotient
        x, y = x[keep], y[keep]
        if len(x) < 2:
            continue
        if log and x[0] <= 0:
            raise StatvaeError(f"a derivative in log {diagram.parameter} needs positive values; got {x[0]:.6g}")
        t = np.log(x) if log else x
        d = np.gradient(y, t, edge_order=2 if len(x) > 2 else 1)
        x, d = _one_sided_ends(diagram, b, observable, x, d, log)
        out.append((x, d, active_count(b)))
    return out


def _one_sided_ends(diagram: BifurcationDiagram, branch: Branch, observable: str, x: np.ndarray, d: np.ndarray,
                    log: bool) -> tuple[np.ndarray, np.ndarray]:
    """Extend a stable run to the located points just beyond its ends, with the tracker's one-sided derivatives.

    The tracker records at each located branch point the derivative of the
    parent branch from below and from above (``info["one_sided_derivatives"]``);
    the side the run lies on closes the gap between its last sample and the point.
    """
    lo, hi = float(x[0]), float(x[-1])
    below = [s for s in diagram.special_points(branch=branch.id) if s.status != "detected" and s.parameter < lo]
    above = [s for s in diagram.special_points(branch=branch.id) if s.status != "detected" and s.parameter > hi]
    for pts, side, at_end in ((above, "parent_below", True), (below, "parent_above", False)):
        if not pts:
            continue
        s = min(pts, key=lambda s: abs(s.parameter - (hi if at_end else lo)))
        v = s.info.get("one_sided_derivatives", {}).get(observable, {}).get(side)
        if v is None or not np.isfinite(v):
            continue
        # only a point next to the run: no recorded sample of the branch lies between them
        inside = branch.parameter[(branch.parameter > min(s.parameter, hi if at_end else lo))
                                  & (branch.parameter < max(s.parameter, hi if at_end else lo))]
        if inside.size:
            continue
        v = float(v) * (s.parameter if log else 1.0)
        x, d = (np.append(x, s.parameter), np.append(d, v)) if at_end else (np.insert(x, 0, s.parameter),
                                                                            np.insert(d, 0, v))
    return x, d


def _critical(diagram: BifurcationDiagram) -> list[float]:
    return sorted({s.parameter for s in diagram.special_points("branch point") if s.status != "detected"
                   and s.info.get("stability_change")})


def _derivative_label(observable: str, parameter: str, log: bool) -> str:
    top = _SHORT.get(observable, observable).replace("_", r"\_")
    p = _name(parameter).strip("$") if _name(parameter).startswith("$") else rf"\mathrm{{{parameter}}}"
    return rf"$d\,\mathrm{{{top}}}/d\ln {p}$" if log else rf"$d\,\mathrm{{{top}}}/d{p}$"


def plot_observables(diagram: BifurcationDiagram,
                     observables: Sequence[str] = ("elbo", "kl_total", "order_parameter"), axes: Any = None, *,
                     derivative: str | None = "kl_total", logx: bool | None = None,
                     log_derivative: bool | None = None, legend: bool = True, style: str | None = None) -> Any:
    """Observables of the stable state against the parameter, and the derivative that shows the kink.

    One panel per observable, then (unless ``derivative`` is None) a panel
    with the derivative of ``derivative`` in the parameter
    (:func:`stable_derivative`): the KL is continuous at each threshold and its
    derivative jumps there.  Each piece is coloured by the number of active
    latents of the stable state; dotted lines mark the located points where
    stability changes.

    Parameters
    ----------
    diagram : BifurcationDiagram
        A tracked (or loaded) diagram.
    observables : sequence of str, optional
        One panel per observable (see :func:`stable_path`).
    axes : array of matplotlib.axes.Axes, optional
        One per panel (``len(observables)``, plus one for the derivative); default a new figure.
    derivative : str or None, optional
        The observable whose derivative gets the last panel (default ``"kl_total"``); None for no such panel.
    logx : bool or None, optional
        Logarithmic parameter axis; None (default): over more than 1.5 decades.
    log_derivative : bool or None, optional
        Differentiate in ``ln p`` rather than ``p``; None (default): when the axis is logarithmic.
    legend : bool, optional
        On a new figure, add the legend of the colours ("active latents") above the panels.
    style : str or None, optional
        ``"one-column"`` or ``"two-column"``, for a new figure.

    Returns
    -------
    numpy.ndarray
        The axes drawn on.

    Raises
    ------
    StatvaeError
        If matplotlib is not installed, an observable was not recorded, or
        ``axes`` has the wrong length.
    """
    n = len(observables) + (derivative is not None)
    with figure_style(style):
        own = axes is None
        if axes is None:
            fig = new_figure(style, (1.05 if style else 1.9) * n + 0.5)
            axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
        axes = np.atleast_1d(axes)
        if len(axes) != n:
            extra = " and the derivative" if derivative is not None else ""
            raise StatvaeError(f"axes: {n} needed (one per observable{extra}), got {len(axes)}")
        drawn = _drawn(diagram, 10 ** 9)
        colors = active_colors(max((active_count(b) for b in drawn), default=0))
        xs_all = np.concatenate([b.parameter for b in drawn]) if drawn else np.ones(1)
        log = use_log(xs_all, logx)
        crit = _critical(diagram)
        for ax, name in zip(axes, observables):
            for b, x, y in _stable_runs(diagram, name, with_points=True):
                ax.plot(x, y, "-", color=colors[active_count(b)], lw=_STABLE_LW)
            ax.set_ylabel(_LABELS.get(name, name))
        if derivative is not None:
            ax = axes[-1]
            dlog = log if log_derivative is None else bool(log_derivative)
            for x, d, k in stable_derivative(diagram, derivative, log=dlog):
                ax.plot(x, d, "-", color=colors[k], lw=_STABLE_LW)
            ax.set_ylabel(_derivative_label(derivative, diagram.parameter, dlog))
        for ax in axes:
            for c in crit:
                ax.axvline(c, color="0.55", lw=0.5, ls=":", zorder=0)
            _set_range(ax, float(xs_all.min()), float(xs_all.max()), log)
        for ax in axes[:-1]:
            ax.tick_params(labelbottom=False)
        axes[-1].set_xlabel(_name(diagram.parameter))
        if own and legend:
            counts = sorted({active_count(b) for b in drawn})
            ch, cl, _, _ = _legend_handles(counts, False, False, False, False, colors)
            _count_legend(axes[0].figure, ch, cl, style == "one-column")
    return axes


def plot_track(diagram: BifurcationDiagram, observable: str = "kl_total", *, logx: bool | None = None,
               style: str | None = "two-column", observables: Sequence[str] = ("kl_total", "order_parameter"),
               derivative: str | None = "kl_total", points: str = "switching", labels: bool | None = None,
               max_branches: int = 40) -> Any:
    """The figure of ``statvae track --plot``: the diagram, and the stable state with the KL's derivative.

    Two-column style: the bifurcation diagram left, the stable-state panels
    right; one-column style: the diagram above them.  One legend above the
    panels says what colour (active latents), line style (stability) and dots
    (branch points) mean.

    Parameters
    ----------
    diagram : BifurcationDiagram
        A tracked (or loaded) diagram.
    observable : str, optional
        The observable of the bifurcation diagram.
    logx : bool or None, optional
        Logarithmic parameter axis on every panel; None: over more than 1.5 decades.
    style : str or None, optional
        ``"two-column"`` (default, 7.0 in wide), ``"one-column"`` (3.4 in) or None
        (matplotlib's settings, 12 in wide).
    observables : sequence of str, optional
        The stable-state panels (see :func:`plot_observables`).
    derivative : str or None, optional
        The observable whose derivative gets a panel (None: no such panel).
    points : str, optional
        Which special points to mark (:func:`marked_points`).
    labels : bool or None, optional
        Write branch labels (None: for 8 drawn branches or fewer).
    max_branches : int, optional
        Draw at most this many branches.

    Returns
    -------
    matplotlib.figure.Figure
        Save it with :func:`save_figure`.

    Raises
    ------
    StatvaeError
        As :func:`plot_diagram` and :func:`plot_observables`.
    """
    n = len(observables) + (derivative is not None)
    with figure_style(style):
        if style == "one-column":
            fig = new_figure(style, 2.4 + 0.95 * n + 0.9)
            gs = fig.add_gridspec(n + 1, 1, height_ratios=[2.4] + [0.95] * n)
            ax = fig.add_subplot(gs[0])
            first = fig.add_subplot(gs[1])
            axes = np.asarray([first] + [fig.add_subplot(gs[k + 1], sharex=first) for k in range(1, n)],
                              dtype=object)
        else:
            fig = new_figure(style, max(3.9, 1.15 * n + 0.9) if style else 7.0, default_width=12.0)
            left, right = fig.subfigures(1, 2, width_ratios=[1.15, 1.0])
            ax = left.add_subplot()
            axes = right.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
        plot_diagram(diagram, observable, ax=ax, max_branches=max_branches, legend=False, logx=logx, points=points,
                     labels=labels)
        plot_observables(diagram, observables, axes=axes, derivative=derivative, logx=logx)
        ax.set_title("all branches (stationary points)", loc="left")
        axes[0].set_title("stable state", loc="left")
        drawn = _drawn(diagram, max_branches)
        counts = sorted({active_count(b) for b in drawn})
        colors = active_colors(max(counts, default=0))
        marks = marked_points(diagram, observable, points, max_branches)
        unstable = any(not b.stable.all() for b in drawn)
        show_labels = len(drawn) <= 8 if labels is None else labels
        ch, cl, kh, kl = _legend_handles(counts, unstable, bool(marks), any(s.kind != "branch point" for s, _, _ in
                                                                             marks), show_labels, colors)
        _count_legend(fig, ch, cl, style == "one-column")
        if show_labels:  # the notation is the key legend's title
            kh, kl = kh[:-1], kl[:-1]
        fig.legend(kh, kl, loc="outside lower center", ncol=len(kh), title=NOTATION if show_labels else None)
    return fig


def _count_legend(fig: Any, handles: Sequence[Any], names: Sequence[str], narrow: bool) -> Any:
    """The figure's legend "active latents: 0, 1, 2, ..." above the panels, in two rows when narrow."""
    from matplotlib.lines import Line2D

    rows = 2 if narrow and len(handles) > 5 else 1
    per_row = -(-len(handles) // rows)
    blank = Line2D([], [], ls="none")
    grid: list[list[tuple[Any, str]]] = []
    for r in range(rows):
        chunk = list(zip(handles, names))[r * per_row:(r + 1) * per_row]
        grid.append([(blank, "active latents:" if r == 0 else "")] + chunk + [(blank, "")] * (per_row - len(chunk)))
    # a legend fills its columns first: list the grid column by column so that it reads row by row
    cells = [grid[r][c] for c in range(per_row + 1) for r in range(rows)]
    return fig.legend([h for h, _ in cells], [t for _, t in cells], loc="outside upper center", ncol=per_row + 1,
                      handlelength=1.2, columnspacing=0.9)


# -- phase diagrams ---------------------------------------------------------------------------------------------------
def _latent_count(meta: dict[str, Any]) -> int | None:
    """The number of latents of a linear VAE from a result's ``meta`` (None for other models)."""
    dims = meta.get("dims")
    if isinstance(dims, dict) and meta.get("kind") == "linear" and isinstance(dims.get("z"), int):
        return int(dims["z"])
    m = re.match(r"<linear VAE: .*?\bz=(\d+)[;,>]", str(meta.get("model", "")))
    return int(m[1]) if m else None


def phase_regions(phase: PhaseDiagram, x: Any, latents: int | None = None
                  ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, bool]]:
    """The regions of a phase diagram at the abscissae ``x``: bounds and number of active latents.

    Collapse is stable above every locus (larger ``parameter``).  Crossing a
    locus downwards switches on ``kernel_dim / latents`` more latents (one for
    a simple eigenvalue of a linear VAE; one per locus when ``latents`` is not
    known), at most ``latents`` in all.

    Parameters
    ----------
    phase : PhaseDiagram
        A computed (or loaded) phase diagram.
    x : array_like
        Values of ``along``.
    latents : int, optional
        Number of latents (default: read from ``phase.meta`` for a linear VAE).

    Returns
    -------
    list of tuple
        ``(lower, upper, count, exact)`` per region from the top (collapsed,
        count 0) down: lower and upper bounds at each ``x`` (``-inf`` / ``+inf``
        for the open ends, NaN where a locus is not known), the count at each
        ``x``, and whether the count is exact (False below the last locus when
        there may be more latents to switch on).
    """
    x = np.asarray(x, dtype=float)
    n = latents if latents is not None else _latent_count(phase.meta)
    vals, incs = [], []
    for loc in phase.loci:
        lx, ly = _sorted(loc)
        ok = np.isfinite(lx) & np.isfinite(ly)
        lx, ly = lx[ok], ly[ok]
        v = np.interp(x, lx, ly) if lx.size else np.full(x.shape, np.nan)
        if lx.size:
            v[(x < lx[0] - 1e-12 * abs(lx[0])) | (x > lx[-1] + 1e-12 * abs(lx[-1]))] = np.nan
        vals.append(v)
        kd = int(loc.get("kernel_dim", 0) or 0)
        incs.append(max(1, kd // n) if n and kd else 1)
    if not vals:
        return [(np.full(x.shape, -np.inf), np.full(x.shape, np.inf), np.zeros(x.shape, int), True)]
    V = np.vstack(vals)                              # loci x abscissae
    order = np.argsort(-np.where(np.isnan(V), -np.inf, V), axis=0, kind="stable")
    B = np.take_along_axis(V, order, axis=0)        # descending; NaN last
    inc = np.asarray(incs)[order]
    cum = np.cumsum(inc, axis=0)
    out = []
    L = len(vals)
    for k in range(L + 1):
        upper = np.full(x.shape, np.inf) if k == 0 else B[k - 1]
        lower = B[k] if k < L else np.full(x.shape, -np.inf)
        count = np.zeros(x.shape, int) if k == 0 else cum[k - 1]
        if n is not None:
            count = np.minimum(count, n)
        exact = k < L or (n is not None and bool(np.all(count >= n)))
        out.append((lower, upper, count, exact))
    return out


def _sorted(loc: Any) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(loc["along"], float), np.asarray(loc["parameter"], float)
    order = np.argsort(x)
    return x[order], y[order]


def plot_phase_diagram(phase: PhaseDiagram, ax: Any = None, *, logx: bool | None = None, logy: bool | None = None,
                       latents: int | None = None, legend: bool = True, style: str | None = None) -> Any:
    """Phase diagram: loci of branch points in a two-parameter plane, regions labelled by active latents.

    Each region between loci is shaded over the whole plotted range in the
    colour of its number of active latents (the same colours as
    :func:`plot_diagram`) and labelled with it; collapse (0 active latents) is
    stable above the first locus.  The count below the last locus followed is
    written ``>= k`` unless every latent is on there.

    Parameters
    ----------
    phase : PhaseDiagram
        A computed (or loaded) phase diagram.
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure).
    logx, logy : bool or None, optional
        Logarithmic ``along`` / ``parameter`` axis; None (default): when the range
        spans more than 1.5 decades.
    latents : int, optional
        Number of latents (default: read from ``phase.meta`` for a linear VAE); see :func:`phase_regions`.
    legend : bool, optional
        Add the legend of the loci.
    style : str or None, optional
        ``"one-column"`` or ``"two-column"``, for a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    Raises
    ------
    StatvaeError
        If matplotlib is not installed or the phase diagram has no locus.
    """
    if not phase.loci:
        raise StatvaeError("the phase diagram has no locus: nothing to plot")
    with figure_style(style):
        if ax is None:
            fig = new_figure(style, 2.6 if style == "one-column" else 4.2, default_width=6.0)
            ax = fig.add_subplot()
        xs = np.concatenate([np.asarray(loc["along"], float) for loc in phase.loci])
        ys = np.concatenate([np.asarray(loc["parameter"], float) for loc in phase.loci])
        xs, ys = xs[np.isfinite(xs)], ys[np.isfinite(ys)]
        lx, ly = use_log(xs, logx), use_log(ys, logy)
        x0, x1 = float(xs.min()), float(xs.max())
        if ly:
            y0, y1 = float(ys.min()) / 10 ** 0.2, float(ys.max()) * 10 ** 0.2
        else:
            y0, y1 = (0.0 if ys.min() > 0 else float(ys.min())), float(ys.max()) * 1.22
        grid = np.geomspace(x0, x1, 400) if lx else np.linspace(x0, x1, 400)
        grid = np.unique(np.concatenate([grid, xs]))
        regions = phase_regions(phase, grid, latents)
        top = max(int(r[2].max()) for r in regions)
        colors = active_colors(top)
        texts = []
        for k, (lower, upper, count, exact) in enumerate(regions):
            lo, hi = np.clip(np.nan_to_num(lower, nan=np.nan, neginf=y0), y0, y1), np.clip(upper, y0, y1)
            known = np.isfinite(lo) & np.isfinite(hi)
            for c in np.unique(count[known]):
                ax.fill_between(grid, lo, hi, where=known & (count == c), color=_tint(colors[int(c)]), lw=0,
                                zorder=0, interpolate=False, label=f"_region {k}: {int(c)}")
            if not known.all():
                ax.fill_between(grid, y0, y1, where=~known, facecolor="white", edgecolor="0.7", hatch="////", lw=0,
                                zorder=0, label="_not followed")
            texts.append((grid, lo, hi, count, exact, k))
        for k, loc in enumerate(phase.loci):
            x, y = _sorted(loc)
            ax.plot(x, y, "-", color="black", lw=1.5 if k == 0 else 0.8, zorder=3,
                    label="collapse boundary" if k == 0 else ("later branch points" if k == 1 else None))
        _set_range(ax, x0, x1, lx, "x")
        _set_range(ax, y0, y1, ly, "y")
        ax.margins(0)
        ax.set_xlabel(_name(phase.along))
        ax.set_ylabel(_name(phase.parameter))
        for args in texts:
            _region_text(ax, *args, lx, ly)
        if legend:
            ax.legend(loc="upper right", handlelength=1.6)
    return ax


def _region_text(ax: Any, x: np.ndarray, lo: np.ndarray, hi: np.ndarray, count: np.ndarray, exact: bool, k: int,
                 logx: bool, logy: bool) -> None:
    """Write a region's count where the band free of its bounds is widest over the label's width.

    The label is measured, then slid along the region (clear of the edges and
    of the legend in the upper right); it goes where the gap between the
    highest lower bound and the lowest upper bound under it is largest.  Where
    ``"k active"`` does not fit anywhere, the bare count is written.
    """
    c = int(np.max(count)) if count.size else 0
    full = "collapse stable\n0 active" if k == 0 else f"{'' if exact else '≥ '}{c} active"
    short = "0" if k == 0 else f"{'' if exact else '≥'}{c}"
    f = np.log if logy else (lambda v: v)
    y0, y1 = (f(v) for v in ax.get_ylim())
    with np.errstate(invalid="ignore", divide="ignore"):
        flo, fhi = (f(lo) - y0) / (y1 - y0), (f(hi) - y0) / (y1 - y0)  # axes fractions
    # positions along x as axes fractions (the grid is uniform in the axis' scale, up to the loci's own abscissae)
    xf = (np.log(x) - np.log(x[0])) / (np.log(x[-1]) - np.log(x[0])) if logx else (x - x[0]) / (x[-1] - x[0])
    renderer = ax.figure.canvas.get_renderer()
    for word in (full, short):
        text = ax.text(0.5, 0.5, word, transform=ax.transAxes, ha="center", va="center", fontsize="medium", zorder=4,
                       bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.65})
        box = text.get_window_extent(renderer=renderer).transformed(ax.transAxes.inverted())
        half = 0.55 * box.width
        best, at = -np.inf, None
        for i in np.flatnonzero((xf >= 0.02 + half) & (xf <= 0.98 - half)):
            seg = (xf >= xf[i] - half) & (xf <= xf[i] + half)
            if not (np.all(np.isfinite(flo[seg])) and np.all(np.isfinite(fhi[seg]))):
                continue
            bottom, top = float(flo[seg].max()), float(fhi[seg].min())
            if k == 0:
                top = min(top, 0.8)  # below the legend
            if top - bottom > best + 1e-9:
                best, at = top - bottom, (int(i), (bottom + top) / 2)
        if at is None or (best < 1.05 * box.height and word == full):
            text.remove()
            continue
        j, yf = at
        yv = y0 + yf * (y1 - y0)
        text.set_transform(ax.transData)
        text.set_position((float(x[j]), float(np.exp(yv) if logy else yv)))
        return
