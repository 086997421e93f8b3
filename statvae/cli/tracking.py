"""``statvae track``, ``statvae phase-diagram`` and ``statvae plot``."""

from __future__ import annotations

import json
import sys
import time

from ..errors import DataError, StatvaeError
from .options import build_model, latent_excess_notes, load_data

__all__ = ["add_track_parser", "add_phase_parser", "add_plot_parser"]


def _range(text: str, what: str) -> tuple[float, float]:
    try:
        a, b = (float(x) for x in text.split(":"))
    except ValueError:
        raise StatvaeError(f"{what} must be START:STOP (two numbers), got {text!r}") from None
    return a, b


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
                   help="generations of branch switching to follow beyond the stable path (default 1)")
    t.add_argument("--max-steps", type=int, default=400, help="steps per branch (default 400)")
    t.add_argument("--certify", action="store_true",
                   help="re-locate the collapsed branch's branch points to 30 digits with mpmath (small models)")
    t.add_argument("--out", metavar="FILE", help="save the diagram (.json or .npz)")
    t.add_argument("--plot", metavar="FILE", help="save a figure (.png or .pdf): diagram and stable-state observables")
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
    p.add_argument("--loci", type=int, default=1, help="number of branch points to follow (default 1)")
    p.add_argument("--steps", type=int, default=30, help="points per locus (default 30)")
    p.add_argument("--out", metavar="FILE", help="save the loci (.json)")
    p.add_argument("--plot", metavar="FILE", help="save a figure (.png or .pdf)")
    p.add_argument("--json", action="store_true", help="print the loci as JSON")
    p.set_defaults(func=run_phase)


def add_plot_parser(sub):
    p = sub.add_parser("plot", help="plot a saved diagram or phase diagram (no recomputation)",
                       description="Draw a diagram saved by 'statvae track --out' or 'statvae phase-diagram --out'.")
    p.add_argument("file", help="a saved .json or .npz result")
    p.add_argument("--out", required=True, metavar="FILE", help="figure to write (.png or .pdf)")
    p.add_argument("--observable", default="kl_total",
                   help="observable of the bifurcation diagram (kl_total, elbo, order_parameter, ...)")
    p.set_defaults(func=run_plot)


def _values_for(model, args, parameter):
    vals = {n: float(v) for n, v in model.values.items() if n != parameter and v.is_number}
    missing = [n for n, v in model.values.items() if n != parameter and not v.is_number]
    if missing:
        raise StatvaeError(f"{missing[0]} has no value: pass --{missing[0].replace('_', '-')}")
    return vals


def _model_and_data(args):
    data, desc = load_data(args)
    dim = len(data["spectrum"]) if "spectrum" in data else data["covariance"].shape[0]
    return build_model(args, dim), data, desc


def run_track(args) -> int:
    from ..track import track

    start, stop = _range(args.range, "--range")
    model, data, desc = _model_and_data(args)
    if args.parameter not in model.values:
        raise StatvaeError(f"cannot continue in {args.parameter!r}: not a hyper-parameter of this model "
                           f"(its hyper-parameters are: {', '.join(model.values)})")
    values = _values_for(model, args, args.parameter)
    prog = Progress((sys.stderr.isatty() or args.progress) and not args.quiet, start, stop)
    try:
        diagram = track(model, parameter=args.parameter, start=start, stop=stop, values=values, depth=args.depth,
                        max_steps=args.max_steps, certify=args.certify, progress=prog, **data)
    finally:
        prog.done()
    diagram.meta["data"] = desc
    if args.out:
        diagram.save(args.out)
    if args.plot:
        _plot_diagram_file(diagram, args.plot, "kl_total")
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


def run_phase(args) -> int:
    from ..track import branch_point_loci

    start, stop = _range(args.range, "--range")
    a0, a1 = _range(args.along_range, "--along-range")
    model, data, desc = _model_and_data(args)
    for n in (args.parameter, args.along):
        if n not in model.values:
            raise StatvaeError(f"{n!r} is not a hyper-parameter of this model "
                               f"(its hyper-parameters are: {', '.join(model.values)})")
    values = {n: float(v) for n, v in model.values.items() if n not in (args.parameter, args.along) and v.is_number}
    missing = [n for n, v in model.values.items() if n not in (args.parameter, args.along) and not v.is_number]
    if missing:
        raise StatvaeError(f"{missing[0]} has no value: pass --{missing[0].replace('_', '-')}")
    phase = branch_point_loci(model, parameter=args.parameter, along=args.along, start=start, stop=stop,
                              along_start=a0, along_stop=a1, loci=args.loci, steps=args.steps, values=values,
                              **data)
    phase.meta["data"] = desc
    if args.out:
        phase.save(args.out)
    if args.plot:
        from ..plot import plot_phase_diagram, save_figure

        save_figure(plot_phase_diagram(phase), args.plot)
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
    from pathlib import Path

    from ..track import BifurcationDiagram, PhaseDiagram

    path = Path(args.file)
    if not path.exists():
        raise DataError(f"file not found: {path}")
    try:
        kind = json.loads(path.read_text()).get("format") if path.suffix == ".json" else "statvae-diagram-1"
    except ValueError:
        raise DataError(f"{path} is not a statvae result") from None
    if kind == "statvae-phase-1":
        from ..plot import plot_phase_diagram, save_figure

        save_figure(plot_phase_diagram(PhaseDiagram.load(path)), args.out)
    else:
        _plot_diagram_file(BifurcationDiagram.load(path), args.out, args.observable)
    print(f"wrote {args.out}")
    return 0
