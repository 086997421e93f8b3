"""``statvae track``, ``statvae phase-diagram`` and ``statvae plot``."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

from ..errors import DataError, ModelError, StatvaeError
from ..validate import PHASE_STEPS_LIMIT, check_output_path, check_track_size, nonnegative
from .options import build_model, check_count, latent_excess_notes, load_data, value_hint, write_output

__all__ = ["add_track_parser", "add_phase_parser", "add_plot_parser"]

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


def _in_domain(model, parameter: str, bounds: tuple[float, float], what: str, text: str) -> None:
    """Both ends of a range inside the domain of ``parameter`` (> 0, or >= 0 for weight decays)."""
    nonneg = nonnegative(model, parameter)
    if any(v < 0 or (v == 0 and not nonneg) for v in bounds):
        raise StatvaeError(f"{what} {text!r}: {parameter} must be {'>= 0' if nonneg else '> 0'} at both ends")


def check_figure_path(path, what: str):
    """A figure output: a writable .png/.pdf/.svg path, and matplotlib importable (before any work)."""
    from ..plot.figures import _plt

    p = check_output_path(path, what, FIGURE_SUFFIXES, case_sensitive=False)
    _plt()
    return p


class Progress:
    """A one-line progress indicator on stderr (only when stderr is a terminal, or forced)."""

    def __init__(self, enabled: bool, lo: float, hi: float):
        self.enabled, self.lo, self.hi = enabled, min(lo, hi), max(lo, hi)
        self.t0 = time.perf_counter()
        self.last = 0.0

    def __call__(self, message: str) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.last < 0.1:
            return
        self.last = now
        sys.stderr.write(f"\r[{now - self.t0:6.1f}s] {message[:70]:<70}")
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 80 + "\r")
            sys.stderr.flush()


def add_track_parser(sub, add_model_options, add_data_options):
    t = sub.add_parser("track", help="bifurcation diagram: follow branches of stationary points in a parameter",
                       description="Follow the collapsed branch as a hyper-parameter moves, locate every branch "
                       "point (where collapse loses stability), switch onto the emanating branches (one per "
                       "symmetry class) and follow them; save, plot or print the diagram.")
    add_model_options(t)
    add_data_options(t)
    t.add_argument("--parameter", default="sigma2", help="continuation parameter (default sigma2)")
    t.add_argument("--range", required=True, metavar="START:STOP",
                   help="parameter range, followed from START to STOP (e.g. 2:0.1)")
    t.add_argument("--depth", type=int, default=1,
                   help="generations of branch switching to follow beyond the stable path, >= 0 (default 1)")
    t.add_argument("--max-steps", type=int, default=400, help="steps per branch, >= 1 (default 400)")
    t.add_argument("--certify", action="store_true",
                   help="re-locate the collapsed branch's branch points to 30 digits with mpmath (small models)")
    t.add_argument("--out", metavar="FILE", help="save the diagram (.json or .npz)")
    t.add_argument("--plot", metavar="FILE",
                   help="save a figure (.png, .pdf or .svg): diagram and stable-state observables")
    t.add_argument("--json", action="store_true", help="print the special points and branches as one JSON object")
    t.add_argument("--progress", action="store_true", help="show progress even when stderr is not a terminal")
    t.add_argument("--quiet", action="store_true", help="no progress output")
    t.set_defaults(func=run_track)


def add_phase_parser(sub, add_model_options, add_data_options):
    p = sub.add_parser("phase-diagram", help="loci of branch points in a two-parameter plane",
                       description="Locate the first branch points of the collapsed branch in --parameter, then "
                       "follow them as --along moves: the boundaries of the collapsed phase.")
    add_model_options(p)
    add_data_options(p)
    p.add_argument("--parameter", default="sigma2", help="parameter the branch points are located in")
    p.add_argument("--range", required=True, metavar="START:STOP", help="range searched for the first points")
    p.add_argument("--along", required=True, help="second parameter (e.g. beta, weight_decay_dec)")
    p.add_argument("--along-range", required=True, metavar="START:STOP", help="range of the second parameter")
    p.add_argument("--loci", type=int, default=1, help="number of branch points to follow, >= 1 (default 1)")
    p.add_argument("--steps", type=int, default=30,
                   help=f"points per locus, 2 to {PHASE_STEPS_LIMIT:,} (default 30)")
    p.add_argument("--out", metavar="FILE", help="save the loci (.json)")
    p.add_argument("--plot", metavar="FILE", help="save a figure (.png, .pdf or .svg)")
    p.add_argument("--json", action="store_true", help="print the loci as JSON")
    p.set_defaults(func=run_phase)


def add_plot_parser(sub):
    p = sub.add_parser("plot", help="plot a saved diagram or phase diagram (no recomputation)",
                       description="Draw a diagram saved by 'statvae track --out' or 'statvae phase-diagram --out'.")
    p.add_argument("file", help="a saved .json or .npz result")
    p.add_argument("--out", required=True, metavar="FILE", help="figure to write (.png, .pdf or .svg)")
    p.add_argument("--observable", default="kl_total",
                   help="observable of the bifurcation diagram (kl_total, elbo, order_parameter, ...)")
    p.set_defaults(func=run_plot)


def _hyper(model, name: str, flag: str) -> None:
    if name not in model.values:
        raise StatvaeError(f"{flag} {name!r} is not a hyper-parameter of this model "
                           f"(its hyper-parameters are: {', '.join(model.values)})")


def _values_for(model, args, parameter):
    vals = {n: float(v) for n, v in model.values.items() if n != parameter and v.is_number}
    missing = [n for n, v in model.values.items() if n != parameter and not v.is_number]
    if missing:
        raise StatvaeError(f"{missing[0]} has no value: pass {value_hint(missing[0])}")
    return vals


def _model_and_data(args):
    data, desc = load_data(args)
    dim = len(data["spectrum"]) if "spectrum" in data else data["covariance"].shape[0]
    return build_model(args, dim), data, desc


def run_track(args) -> int:
    from ..analysis.tracking import track

    # every option before any work: ranges, counts, output paths, then model and data
    start, stop = _range(args.range, "--range")
    depth = check_count(args.depth, "--depth", 0)
    max_steps = check_count(args.max_steps, "--max-steps", 1)
    if args.out is not None:
        check_output_path(args.out, "--out", DIAGRAM_SUFFIXES)
    if args.plot is not None:
        check_figure_path(args.plot, "--plot")
    model, data, desc = _model_and_data(args)
    if args.parameter not in model.values:
        raise StatvaeError(f"cannot continue in {args.parameter!r}: not a hyper-parameter of this model "
                           f"(its hyper-parameters are: {', '.join(model.values)})")
    _in_domain(model, args.parameter, (start, stop), "--range", args.range)
    values = _values_for(model, args, args.parameter)
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
        write_output(args.plot, "--plot", lambda: _plot_diagram_file(diagram, args.plot, "kl_total"))
    notes = latent_excess_notes(model)
    if args.json:
        print(json.dumps({**diagram_json(diagram), "notes": notes}))
    else:
        print(diagram.summary())
        for n in notes:
            print(f"note: {n}")
        print(f"({diagram.meta['seconds']:.1f} s)")
    return 0


def diagram_json(diagram) -> dict:
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


def _plot_diagram_file(diagram, path, observable):
    from ..plot import plot_diagram, plot_observables, save_figure
    from ..plot.figures import _plt

    plt = _plt()
    fig = plt.figure(figsize=(12, 7))
    gs = fig.add_gridspec(3, 2)
    ax = fig.add_subplot(gs[:, 0])
    plot_diagram(diagram, observable, ax=ax)
    axes = [fig.add_subplot(gs[k, 1]) for k in range(3)]
    plot_observables(diagram, axes=axes)
    save_figure(ax, path)


def _check_certify(model) -> None:
    from ..numeric.bundle import EXPLICIT_MAX_PARAMETERS
    from ..validate import parameter_count

    n = parameter_count(model)
    if n > EXPLICIT_MAX_PARAMETERS:
        raise ModelError(f"--certify is for models with at most {EXPLICIT_MAX_PARAMETERS} parameters (30-digit "
                         f"explicit-entry arithmetic); this one has {n:,}: drop --certify")


def run_phase(args) -> int:
    from ..bifurcation import branch_point_loci

    # every option before any work
    start, stop = _range(args.range, "--range")
    a0, a1 = _range(args.along_range, "--along-range")
    loci = check_count(args.loci, "--loci", 1)
    steps = check_count(args.steps, "--steps", 2, PHASE_STEPS_LIMIT)
    if args.out is not None:
        check_output_path(args.out, "--out", PHASE_SUFFIXES)
    if args.plot is not None:
        check_figure_path(args.plot, "--plot")
    if args.along == args.parameter:
        raise StatvaeError(f"--along must differ from --parameter (both are {args.parameter!r})")
    model, data, desc = _model_and_data(args)
    _hyper(model, args.parameter, "--parameter")
    _hyper(model, args.along, "--along")
    _in_domain(model, args.parameter, (start, stop), "--range", args.range)
    _in_domain(model, args.along, (a0, a1), "--along-range", args.along_range)
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
        from ..plot import plot_phase_diagram, save_figure

        write_output(args.plot, "--plot", lambda: save_figure(plot_phase_diagram(phase), args.plot))
    d = phase.to_dict()
    if args.json:
        print(json.dumps(d))
    else:
        for k, loc in enumerate(d["loci"]):
            print(f"locus {k + 1} ({loc['label']}): {len(loc['along'])} points")
            for a, p in zip(loc["along"], loc["parameter"]):
                print(f"  {args.along} = {a:.6g}   {args.parameter} = {p:.12g}")
    return 0


def run_plot(args) -> int:
    from ..bifurcation import BifurcationDiagram, PhaseDiagram
    from ..validate import check_input_path

    check_figure_path(args.out, "--out")
    path = check_input_path(args.file, "FILE")
    if path.suffix not in DIAGRAM_SUFFIXES:
        raise DataError(f"{path} is not a saved statvae result: use a .json or .npz written by 'statvae track --out' "
                        f"or 'statvae phase-diagram --out'")
    if path.resolve() == Path(args.out).resolve():
        raise StatvaeError(f"--out {args.out} would overwrite the input file")
    kind = "statvae-diagram-1"
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
        if kind == "statvae-phase-1":
            result = PhaseDiagram.load(path)
        else:
            result = BifurcationDiagram.load(path)
    except StatvaeError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        # whatever the reader trips on in a damaged file, the file is at fault: one line naming it
        raise DataError(f"{path} is not a valid statvae result ({type(exc).__name__}: "
                        f"{' '.join(str(exc).split())[:120]})") from None
    if kind == "statvae-phase-1":
        from ..plot import plot_phase_diagram, save_figure

        write_output(args.out, "--out", lambda: save_figure(plot_phase_diagram(result), args.out))
    else:
        if not result.branches:
            raise DataError(f"{path} holds a diagram without branches: nothing to plot")
        write_output(args.out, "--out", lambda: _plot_diagram_file(result, args.out, args.observable))
    print(f"wrote {args.out}")
    return 0
