"""``statvae track``, ``statvae phase-diagram`` and ``statvae plot``.

Ranges are given as in the API, ``--start X --stop Y`` (``start=``,
``stop=``) and ``--along-start A --along-stop B`` (``along_start=``,
``along_stop=``), or as the shorthand ``--range START:STOP`` and
``--along-range A:B``; exactly one form per range.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError, ModelError, StatvaeError
from ..validate import PHASE_STEPS_LIMIT, check_output_path, check_track_size, nonnegative
from .options import build_model, check_count, data_dim, latent_excess_notes, load_data, value_hint, write_output

if TYPE_CHECKING:
    from ..api import VAEModel
    from ..bifurcation import BifurcationDiagram, PhaseDiagram

__all__ = ["add_track_parser", "add_phase_parser", "add_plot_parser", "add_range_options", "range_from", "run_track",
           "run_phase", "run_plot", "diagram_json", "branch_diagnostics", "check_figure_path", "Progress",
           "add_figure_options"]

#: A parser factory of the sub-commands (``sub.add_parser``), and the adders of shared options.
OptionAdder = Callable[[argparse.ArgumentParser], None]

#: What ``--out`` of each command and the figure options write.
DIAGRAM_SUFFIXES = (".json", ".npz")
PHASE_SUFFIXES = (".json",)
FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


def _range(text: str, what: str) -> tuple[float, float]:
    """``START:STOP``: two finite, different numbers (their domain is checked once the model is known)."""
    try:
        a, b = (float(x) for x in text.split(":"))
    except ValueError:
        raise StatvaeError(f"{what} must be START:STOP (two numbers), got {text!r}") from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise StatvaeError(f"{what} must be two finite numbers START:STOP, got {text!r}")
    if a == b:
        raise StatvaeError(f"{what}: START and STOP must differ (a range of non-zero width), got {text!r}")
    return a, b


def _end(text: str, flag: str) -> float:
    """One end of a range (``--start``...): a finite number."""
    try:
        v = float(text)
    except ValueError:
        raise StatvaeError(f"{flag} must be a number, got {text!r}") from None
    if not math.isfinite(v):
        raise StatvaeError(f"{flag} must be a finite number, got {text!r}")
    return v


def add_range_options(p: argparse.ArgumentParser, start: str, stop: str, shorthand: str, what: str) -> None:
    """Add a range as two options (``--start X --stop Y``) and its shorthand (``--range START:STOP``).

    Parameters
    ----------
    p : argparse.ArgumentParser
        The sub-command's parser.
    start, stop, shorthand : str
        The three options (``"--start"``, ``"--stop"``, ``"--range"``).
    what : str
        What the range is, for the help.
    """
    g = p.add_argument_group(f"{what} ({start} X {stop} Y, or {shorthand} X:Y)")
    g.add_argument(start, metavar="X", default=None, help=f"first end (the API's {start[2:].replace('-', '_')}=)")
    g.add_argument(stop, metavar="Y", default=None, help=f"last end (the API's {stop[2:].replace('-', '_')}=)")
    g.add_argument(shorthand, metavar="X:Y", default=None, help=f"shorthand for {start} X {stop} Y")


def range_from(args: argparse.Namespace, start: str, stop: str, shorthand: str) -> tuple[float, float, str]:
    """The range given by ``START``/``STOP`` options or their shorthand; exactly one form.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options.
    start, stop, shorthand : str
        The options, as passed to :func:`add_range_options`.

    Returns
    -------
    start, stop : float
        Two finite, different numbers (their domain is checked once the model is known).
    given : str
        The range as given, for messages (``"--range '4:1'"``, ``"--start 4 --stop 1"``).

    Raises
    ------
    StatvaeError
        If both forms, neither, or only one end is given, or the ends are
        not two finite different numbers.
    """
    a_text, b_text = getattr(args, start[2:].replace("-", "_")), getattr(args, stop[2:].replace("-", "_"))
    r_text = getattr(args, shorthand[2:].replace("-", "_"))
    if r_text is not None:
        if a_text is not None or b_text is not None:
            both = start if a_text is not None else stop
            raise StatvaeError(f"give the range once: {both} and {shorthand} were both given (use {start} X {stop} Y "
                               f"or {shorthand} X:Y)")
        a, b = _range(r_text, shorthand)
        return a, b, f"{shorthand} {r_text!r}"
    if a_text is None and b_text is None:
        raise StatvaeError(f"a range is required: {start} X {stop} Y (or {shorthand} X:Y)")
    if b_text is None:
        raise StatvaeError(f"{start} needs {stop} (the range runs from {start} to {stop}; or give {shorthand} X:Y)")
    if a_text is None:
        raise StatvaeError(f"{stop} needs {start} (the range runs from {start} to {stop}; or give {shorthand} X:Y)")
    a, b = _end(a_text, start), _end(b_text, stop)
    if a == b:
        raise StatvaeError(f"{start} and {stop} must differ (a range of non-zero width), both are {a_text}")
    return a, b, f"{start} {a_text} {stop} {b_text}"


def _in_domain(model: VAEModel, parameter: str, bounds: tuple[float, float], given: str) -> None:
    """Both ends of a range inside the domain of ``parameter`` (> 0, or >= 0 for weight decays)."""
    nonneg = nonnegative(model, parameter)
    if any(v < 0 or (v == 0 and not nonneg) for v in bounds):
        raise StatvaeError(f"{given}: {parameter} must be {'>= 0' if nonneg else '> 0'} at both ends")


def check_figure_path(path: str, what: str) -> Path:
    """Check a figure output before any work: a writable .png/.pdf/.svg path, and matplotlib importable.

    Parameters
    ----------
    path : str
        The file to write.
    what : str
        The option that named it (``"--plot"``).

    Returns
    -------
    pathlib.Path
        The path.

    Raises
    ------
    StatvaeError
        If the path cannot be written, has another suffix, or matplotlib is missing.
    """
    from ..plot.figures import pyplot

    p = check_output_path(path, what, FIGURE_SUFFIXES, case_sensitive=False)
    pyplot()
    return p


class Progress:
    """A one-line progress indicator on stderr (only when stderr is a terminal, or forced).

    Parameters
    ----------
    enabled : bool
        Whether to write anything.
    lo, hi : float
        The range followed (either order).
    """

    def __init__(self, enabled: bool, lo: float, hi: float) -> None:
        self.enabled, self.lo, self.hi = enabled, min(lo, hi), max(lo, hi)
        self.t0 = time.perf_counter()
        self.last = 0.0

    def __call__(self, message: str) -> None:
        """Show ``message`` (at most ten times a second).

        Parameters
        ----------
        message : str
            The state of the run.
        """
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.last < 0.1:
            return
        self.last = now
        sys.stderr.write(f"\r[{now - self.t0:6.1f}s] {message[:70]:<70}")
        sys.stderr.flush()

    def done(self) -> None:
        """Erase the progress line."""
        if self.enabled:
            sys.stderr.write("\r" + " " * 80 + "\r")
            sys.stderr.flush()


def add_figure_options(p: argparse.ArgumentParser, phase: bool = False) -> None:
    """Add the figure options ``--style`` and ``--logx``/``--no-logx`` (and ``--logy`` for phase diagrams).

    Parameters
    ----------
    p : argparse.ArgumentParser
        The parser of a command that writes a figure.
    phase : bool, optional
        Also add ``--logy``/``--no-logy`` (the parameter axis of a phase diagram).
    """
    # the names of statvae.plot.style.STYLES and LOG_DECADES, spelled here so that --help imports no plotting code
    p.add_argument("--style", choices=("one-column", "two-column"), default="two-column",
                   help="figure size and fonts: one-column (3.4 in wide) or two-column (7.0 in; default), 8-9 pt text")
    p.add_argument("--logx", action=argparse.BooleanOptionalAction, default=None,
                   help="logarithmic horizontal axis (default: when its range spans more than 1.5 decades)")
    if phase:
        p.add_argument("--logy", action=argparse.BooleanOptionalAction, default=None,
                       help="phase diagrams: logarithmic --parameter axis (default: over more than 1.5 decades)")


def add_track_parser(sub: Any, add_model_options: OptionAdder, add_data_options: OptionAdder) -> None:
    """Add ``statvae track``.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The sub-commands of ``statvae``.
    add_model_options, add_data_options : callable
        Add the model and data options to a parser.
    """
    t = sub.add_parser("track", help="bifurcation diagram: follow branches of stationary points in a parameter",
                       description="Follow the collapsed branch as a hyper-parameter moves, locate every branch "
                       "point (where collapse loses stability), switch onto the emanating branches (one per "
                       "symmetry class) and follow them; save, plot or print the diagram.")
    add_model_options(t)
    add_data_options(t)
    t.add_argument("--parameter", default="sigma2", metavar="PARAM", help="continuation parameter (default sigma2)")
    add_range_options(t, "--start", "--stop", "--range", "range of --parameter, followed from X to Y")
    t.add_argument("--depth", type=int, default=1,
                   help="generations of branch switching to follow beyond the stable path, >= 0 (default 1)")
    t.add_argument("--max-steps", type=int, default=400, help="steps per branch, >= 1 (default 400)")
    t.add_argument("--certify", action="store_true",
                   help="re-locate the collapsed branch's branch points to 30 digits with mpmath (small models)")
    t.add_argument("--out", metavar="FILE", help="save the diagram (.json or .npz)")
    t.add_argument("--plot", metavar="FILE",
                   help="save a figure (.png, .pdf or .svg): diagram and stable-state observables")
    add_figure_options(t)
    t.add_argument("--json", action="store_true", help="print the special points and branches as one JSON object")
    t.add_argument("--progress", action="store_true", help="show progress even when stderr is not a terminal")
    t.add_argument("--quiet", action="store_true", help="no progress output")
    t.set_defaults(func=run_track)


def add_phase_parser(sub: Any, add_model_options: OptionAdder, add_data_options: OptionAdder) -> None:
    """Add ``statvae phase-diagram``.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The sub-commands of ``statvae``.
    add_model_options, add_data_options : callable
        Add the model and data options to a parser.
    """
    p = sub.add_parser("phase-diagram", help="loci of branch points in a two-parameter plane",
                       description="Locate the first branch points of the collapsed branch in --parameter, then "
                       "follow them as --along moves: the boundaries of the collapsed phase.")
    add_model_options(p)
    add_data_options(p)
    p.add_argument("--parameter", default="sigma2", metavar="PARAM",
                   help="parameter the branch points are located in (default sigma2)")
    add_range_options(p, "--start", "--stop", "--range", "range of --parameter searched for the first points")
    p.add_argument("--along", required=True, metavar="PARAM", help="second parameter (e.g. beta, weight_decay_dec)")
    add_range_options(p, "--along-start", "--along-stop", "--along-range", "range of --along")
    p.add_argument("--loci", type=int, default=1, help="number of branch points to follow, >= 1 (default 1)")
    p.add_argument("--steps", type=int, default=30,
                   help=f"points per locus, 2 to {PHASE_STEPS_LIMIT:,} (default 30)")
    p.add_argument("--out", metavar="FILE", help="save the loci (.json)")
    p.add_argument("--plot", metavar="FILE", help="save a figure (.png, .pdf or .svg)")
    add_figure_options(p, phase=True)
    p.add_argument("--json", action="store_true", help="print the loci as JSON")
    p.set_defaults(func=run_phase)


def add_plot_parser(sub: Any) -> None:
    """Add ``statvae plot``.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The sub-commands of ``statvae``.
    """
    p = sub.add_parser("plot", help="plot a saved diagram or phase diagram (no recomputation)",
                       description="Draw a diagram saved by 'statvae track --out' or 'statvae phase-diagram --out'.")
    p.add_argument("file", help="a saved .json or .npz result")
    p.add_argument("--out", required=True, metavar="FILE", help="figure to write (.png, .pdf or .svg)")
    p.add_argument("--observable", default="kl_total",
                   help="observable of the bifurcation diagram (kl_total, elbo, order_parameter, ...)")
    add_figure_options(p, phase=True)
    p.set_defaults(func=run_plot)


def _hyper(model: VAEModel, name: str, flag: str) -> None:
    model.require_hyper(name, what=flag)


def _values_for(model: VAEModel, parameter: str) -> dict[str, float]:
    vals = {n: float(v) for n, v in model.values.items() if n != parameter and v.is_number}
    missing = [n for n, v in model.values.items() if n != parameter and not v.is_number]
    if missing:
        raise StatvaeError(f"{missing[0]} has no value: pass {value_hint(missing[0])}")
    return vals


def _model_and_data(args: argparse.Namespace) -> tuple[VAEModel, dict[str, Any], str]:
    data, desc = load_data(args)
    return build_model(args, data_dim(data)), data, desc


def run_track(args: argparse.Namespace) -> int:
    """``statvae track``: the bifurcation diagram in ``--parameter``, printed, saved or plotted.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options.

    Returns
    -------
    int
        The exit status, 0.

    Raises
    ------
    StatvaeError
        For a bad option or data (checked before any work), or an analysis that cannot be done.
    """
    from ..analysis.tracking import track

    # every option before any work: ranges, counts, output paths, then model and data
    start, stop, given = range_from(args, "--start", "--stop", "--range")
    depth = check_count(args.depth, "--depth", 0)
    max_steps = check_count(args.max_steps, "--max-steps", 1)
    if args.out is not None:
        check_output_path(args.out, "--out", DIAGRAM_SUFFIXES)
    if args.plot is not None:
        check_figure_path(args.plot, "--plot")
        _check_log("--logx", args.logx, start, stop, "--start/--stop")
    model, data, desc = _model_and_data(args)
    model.require_hyper(args.parameter, verb="continue in")
    _in_domain(model, args.parameter, (start, stop), given)
    values = _values_for(model, args.parameter)
    check_track_size(model, "statvae track")
    if args.certify:
        _check_certify(model)
    prog = Progress((sys.stderr.isatty() or args.progress) and not args.quiet, start, stop)
    try:
        diagram = track(model, parameter=args.parameter, start=start, stop=stop, values=values, depth=depth,
                        max_steps=max_steps, certify=args.certify, progress=prog, **data)
    finally:
        prog.done()
    diagram.meta["data"] = desc
    if args.out is not None:
        write_output(args.out, "--out", lambda: diagram.save(args.out))
    if args.plot is not None:
        write_output(args.plot, "--plot", lambda: _plot_diagram_file(diagram, args.plot, "kl_total", args))
    notes = latent_excess_notes(model)
    if getattr(args, "standardize", False) or not getattr(args, "center", True):
        notes.append(f"data: {desc}")  # the data options are stated (the API records them in meta["preprocessing"])
    if args.json:
        print(json.dumps({**diagram_json(diagram), "diagnostics": branch_diagnostics(model, diagram),
                          "notes": notes}))
    else:
        print(diagram.summary())
        for n in notes:
            print(f"note: {n}")
        print(f"({diagram.meta['seconds']:.1f} s)")
    return 0


def diagram_json(diagram: BifurcationDiagram) -> dict[str, Any]:
    """The special points and branches of a diagram, as ``track --json`` prints them.

    Parameters
    ----------
    diagram : BifurcationDiagram
        The diagram.

    Returns
    -------
    dict
        ``parameter``, ``special_points``, ``branches`` and ``seconds`` (JSON-ready).
    """
    return {
        "parameter": diagram.parameter,
        "special_points": [
            {"id": s.id, "kind": s.kind, "branch": s.branch, "parameter": s.parameter, "interval": list(s.interval),
             "precision": s.precision, "status": s.status, "kernel_dim": s.kernel_dim,
             "classification": s.info.get("classification"), "exponents": s.info.get("exponents"),
             "certified": s.info.get("certified", {}).get("value")}
            for s in diagram.special_points()
        ],
        "branches": [
            {"id": b.id, "parent": b.parent, "label": b.label, "points": b.points,
             "stable_points": int(b.stable.sum()), "stop_reason": b.stop_reason}
            for b in diagram.branches.values()
        ],
        "seconds": diagram.meta.get("seconds"),
    }


def branch_diagnostics(model: VAEModel, diagram: BifurcationDiagram) -> list[dict[str, Any]]:
    """Collapse diagnostics at the last point of every branch that keeps its parameters (``track --json``).

    Parameters
    ----------
    model : VAEModel
        The model tracked.
    diagram : BifurcationDiagram
        The diagram.

    Returns
    -------
    list of dict
        ``{"branch", "label", "parameter", **Diagnostics.to_dict()}`` per branch (symmetry copies left out).
    """
    from ..analysis.diagnostics import diagnose_tracked

    out = []
    for b in diagram.branches.values():
        if b.theta is None or b.points == 0 or b.duplicate_of is not None:
            continue
        d = diagnose_tracked(model, diagram, branch=b.id, index=-1)
        out.append({"branch": b.id, "label": b.label, "parameter": float(b.parameter[-1]), **d.to_dict()})
    return out


def _plot_diagram_file(diagram: BifurcationDiagram, path: str, observable: str, args: argparse.Namespace) -> None:
    from ..plot import plot_track, save_figure

    save_figure(plot_track(diagram, observable, logx=args.logx, style=args.style), path)


def _plot_phase_file(phase: PhaseDiagram, path: str, args: argparse.Namespace) -> None:
    from ..plot import plot_phase_diagram, save_figure

    save_figure(plot_phase_diagram(phase, logx=args.logx, logy=args.logy, style=args.style), path)


def _check_log(flag: str, asked: bool | None, lo: float, hi: float, what: str) -> None:
    if asked and min(lo, hi) <= 0:
        raise StatvaeError(f"{flag} needs a positive range; {what} reach {min(lo, hi):g}")


def _check_certify(model: VAEModel) -> None:
    from ..numeric.bundle import EXPLICIT_MAX_PARAMETERS
    from ..validate import parameter_count

    n = parameter_count(model)
    if n > EXPLICIT_MAX_PARAMETERS:
        raise ModelError(f"--certify is for models with at most {EXPLICIT_MAX_PARAMETERS} parameters (30-digit "
                         f"explicit-entry arithmetic); this one has {n:,}: drop --certify")


def run_phase(args: argparse.Namespace) -> int:
    """``statvae phase-diagram``: loci of branch points in the (``--along``, ``--parameter``) plane.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options.

    Returns
    -------
    int
        The exit status, 0.

    Raises
    ------
    StatvaeError
        For a bad option or data (checked before any work), or an analysis that cannot be done.
    """
    from ..bifurcation import branch_point_loci

    # every option before any work
    start, stop, given = range_from(args, "--start", "--stop", "--range")
    a0, a1, along_given = range_from(args, "--along-start", "--along-stop", "--along-range")
    loci = check_count(args.loci, "--loci", 1)
    steps = check_count(args.steps, "--steps", 2, PHASE_STEPS_LIMIT)
    if args.out is not None:
        check_output_path(args.out, "--out", PHASE_SUFFIXES)
    if args.plot is not None:
        check_figure_path(args.plot, "--plot")
        _check_log("--logx", args.logx, a0, a1, "--along-start/--along-stop")
        _check_log("--logy", args.logy, start, stop, "--start/--stop")
    if args.along == args.parameter:
        raise StatvaeError(f"--along must differ from --parameter (both are {args.parameter!r})")
    model, data, desc = _model_and_data(args)
    _hyper(model, args.parameter, "--parameter")
    _hyper(model, args.along, "--along")
    _in_domain(model, args.parameter, (start, stop), given)
    _in_domain(model, args.along, (a0, a1), along_given)
    check_track_size(model, "statvae phase-diagram")
    values = {n: float(v) for n, v in model.values.items() if n not in (args.parameter, args.along) and v.is_number}
    missing = [n for n, v in model.values.items() if n not in (args.parameter, args.along) and not v.is_number]
    if missing:
        raise StatvaeError(f"{missing[0]} has no value: pass {value_hint(missing[0])}")
    phase = branch_point_loci(model, parameter=args.parameter, along=args.along, start=start, stop=stop,
                              along_start=a0, along_stop=a1, loci=loci, steps=steps, values=values,
                              **data)
    phase.meta["data"] = desc
    if args.out is not None:
        write_output(args.out, "--out", lambda: phase.save(args.out))
    if args.plot is not None:
        write_output(args.plot, "--plot", lambda: _plot_phase_file(phase, args.plot, args))
    d = phase.to_dict()
    if args.json:
        print(json.dumps(d))
    else:
        for k, loc in enumerate(d["loci"]):
            print(f"locus {k + 1} ({loc['label']}): {len(loc['along'])} points")
            for a, p in zip(loc["along"], loc["parameter"]):
                print(f"  {args.along} = {a:.6g}   {args.parameter} = {p:.12g}")
    return 0


def run_plot(args: argparse.Namespace) -> int:
    """``statvae plot``: a figure of a saved diagram or phase diagram, without recomputing.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options (``file``, ``--out``, ``--observable``).

    Returns
    -------
    int
        The exit status, 0.

    Raises
    ------
    StatvaeError
        If the file is not a readable statvae result or the figure cannot be written.
    """
    from ..bifurcation import BifurcationDiagram, PhaseDiagram
    from ..validate import check_input_path

    check_figure_path(args.out, "--out")
    path = check_input_path(args.file, "FILE")
    if path.suffix not in DIAGRAM_SUFFIXES:
        raise DataError(f"{path} is not a saved statvae result: use a .json or .npz written by 'statvae track --out' "
                        f"or 'statvae phase-diagram --out'")
    if path.resolve() == Path(args.out).resolve():
        raise StatvaeError(f"--out {args.out} would overwrite the input file")
    kind: object = "statvae-diagram-1"
    if path.suffix == ".json":
        try:
            head = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise DataError(f"{path} is not a statvae result (not JSON)") from None
        except OSError as exc:
            raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
        if not isinstance(head, dict):
            raise DataError(f"{path} is not a statvae result (a JSON {type(head).__name__}, not an object)")
        kind = head.get("format")
    try:
        result: PhaseDiagram | BifurcationDiagram = (PhaseDiagram.load(path) if kind == "statvae-phase-1"
                                                     else BifurcationDiagram.load(path))
    except StatvaeError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        # whatever the reader trips on in a damaged file, the file is at fault: one line naming it
        raise DataError(f"{path} is not a valid statvae result ({type(exc).__name__}: "
                        f"{' '.join(str(exc).split())[:120]})") from None
    if isinstance(result, PhaseDiagram):
        phase = result
        write_output(args.out, "--out", lambda: _plot_phase_file(phase, args.out, args))
    else:
        diagram = result
        if args.logy is not None:
            raise StatvaeError("--logy is for phase diagrams; the vertical axis of a bifurcation diagram is linear")
        if not diagram.branches:
            raise DataError(f"{path} holds a diagram without branches: nothing to plot")
        write_output(args.out, "--out", lambda: _plot_diagram_file(diagram, args.out, args.observable, args))
    print(f"wrote {args.out}")
    return 0
