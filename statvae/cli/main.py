"""The ``statvae`` command line.

Sub-commands:

``statvae derive``
    objective, collapsed point, Hessian blocks, stability condition and
    critical expression of a model (text, LaTeX or JSON);
``statvae threshold``
    the critical value of a hyper-parameter for a spectrum, covariance,
    samples or a built-in dataset;
``statvae track``
    the bifurcation diagram in one parameter (continuation, branch points,
    branch switching), saved, plotted or printed;
``statvae phase-diagram``
    loci of branch points in a two-parameter plane;
``statvae plot``
    figures of saved results;
``statvae cache``
    the cache of compiled code.

Exit status: 0 on success; 2 for bad input or an analysis that cannot be
done (one line on stderr: ``statvae: error: ...``); 3 for an internal
error (a bug: one line ``statvae: internal error: ...``; ``--debug`` shows
the traceback); 130 when interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
import warnings

from ..errors import StatvaeError
from .options import add_data_options, add_model_options, build_model, check_solve_for, latent_excess_notes, load_data
from .render import text, text_name

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line (no usage block) and exit 2."""

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {' '.join(message.split())}\n")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="statvae", description="Posterior collapse in linear VAEs as a phase transition: exact "
                "ELBOs, stability of the collapsed point, critical hyper-parameters, LaTeX.",
                epilog="Run 'statvae COMMAND --help' for the options of a command.")
    from .._version import __version__

    p.add_argument("--version", action="version", version=f"statvae {__version__}")
    p.add_argument("--debug", action="store_true", default=False,
                   help="show the full traceback of an error (for bug reports)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    d = sub.add_parser("derive", help="derive objective, collapse Hessian blocks, condition and critical expression",
                       description="Derive, for symbolic dimensions N and n, the exact objective, the collapsed "
                       "point, the per-mode Hessian blocks at collapse, the stability condition and the critical "
                       "value of the leading hyper-parameter.")
    add_model_options(d)
    d.add_argument("--format", choices=["text", "latex", "json"], default="text", help="output format (default text)")
    d.add_argument("--solve-for", metavar="PARAM", default=None,
                   help="hyper-parameter of the critical expression (default: sigma2, else beta)")
    d.add_argument("--explicit", action="store_true",
                   help="also print the explicit-entry objective for the given --data-dim and --latent-dim")
    d.set_defaults(func=_derive)

    t = sub.add_parser("threshold", help="critical value of a hyper-parameter for given data",
                       description="Critical value of a hyper-parameter where the collapsed point loses "
                       "stability, for the given data.")
    add_model_options(t)
    add_data_options(t)
    t.add_argument("--solve-for", metavar="PARAM", default=None,
                   help="hyper-parameter to solve for: sigma2, beta, weight_decay_enc, weight_decay_dec, "
                   "prior_variance, tau2, beta1, beta2, encoder_variance (default: sigma2, else beta)")
    t.add_argument("--json", action="store_true", help="print one JSON object")
    t.set_defaults(func=_threshold)
    from .tracking import add_phase_parser, add_plot_parser, add_track_parser

    add_track_parser(sub, add_model_options, add_data_options)
    add_phase_parser(sub, add_model_options, add_data_options)
    add_plot_parser(sub)
    c = sub.add_parser("cache", help="show or clear the on-disk cache of compiled code",
                       description="Show where compiled code is cached ($STATVAE_CACHE_DIR or ~/.cache/statvae) "
                       "and how many entries it holds; --clear deletes them.")
    c.add_argument("--clear", action="store_true", help="delete every cached entry")
    c.set_defaults(func=_cache)
    for cmd in sub.choices.values():  # --debug is accepted after the command too
        cmd.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                         help="show the full traceback of an error (for bug reports)")
    return p


def _cache(args) -> int:
    from ..numeric.cache import cache_dir, clear_cache, count_entries

    d = cache_dir()
    if args.clear:  # entries that cannot be removed raise StatvaeError: one line, exit status 2
        print(f"removed {clear_cache()} entries from {d}")
    else:
        print(f"{d}: {count_entries()} entries")
    return 0


#: Exit statuses of the command (see docs/cli.md).
EXIT_OK, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 0, 2, 3, 130, 141


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _print_warnings(caught) -> None:
    """Each distinct warning once, on one line ``statvae: warning: ...``."""
    seen = set()
    for w in caught:
        text = _one_line(w.message)
        if text in seen:
            continue
        seen.add(text)
        sys.stderr.write(f"statvae: warning: {text}\n")


def _quiet_stdout() -> None:
    """After a broken pipe (``statvae ... | head``): send what is left of stdout nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main(argv=None) -> int:
    """Entry point of the ``statvae`` command; returns the exit status.

    0: success.  2: bad input or an analysis that cannot be done (one line
    ``statvae: error: ...`` on stderr).  3: an internal error, i.e. a bug (one
    line ``statvae: internal error: ...``; with ``--debug`` the traceback is
    printed first).  130: interrupted.  141: stdout closed early (a broken pipe).  ``--help``/``--version`` and option
    syntax errors exit through ``SystemExit`` (0 and 2).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv  # known even if parsing fails
    try:
        args = build_parser().parse_args(argv)
        debug = debug or bool(getattr(args, "debug", False))
        if debug:  # warnings as Python prints them, when they happen
            return args.func(args) or EXIT_OK
        # warnings are held back: printed one line each after a success, dropped after an error
        # (whose one line says what went wrong)
        with warnings.catch_warnings(record=True) as caught:
            code = args.func(args) or EXIT_OK
        _print_warnings(caught)
        return code
    except StatvaeError as exc:
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"statvae: error: {_one_line(exc, 2000)}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write("statvae: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout()  # the reader went away (`| head`): nothing more to say, no traceback
        return EXIT_BROKEN_PIPE
    except SystemExit:
        raise
    except BaseException as exc:
        if debug:
            traceback.print_exc()
        hint = "the traceback is above" if debug else "run with --debug for the traceback"
        sys.stderr.write(f"statvae: internal error: {type(exc).__name__}: {_one_line(exc)} ({hint}; please report "
                         f"it)\n")
        return EXIT_INTERNAL


def _derive(args) -> int:
    from .derive import run_derive

    return run_derive(args)


def _threshold(args) -> int:
    from ..latex import latex
    from ..model import hyper as H

    data, desc = load_data(args)
    dim = len(data["spectrum"]) if "spectrum" in data else data["covariance"].shape[0]
    model = build_model(args, dim)
    check_solve_for(model, args.solve_for)
    analysis = model.collapse()
    name = args.solve_for or analysis.default_parameter()
    point = analysis.critical_points(name, **data)
    if len(point) > 1:
        desc_pts = ", ".join(f"{c.value:.10g} (stable {c.stable_side})" for c in point)
        raise StatvaeError(f"collapse changes stability at several values of {name}: {desc_pts}")
    cp = point[0]
    form = analysis.data_form(**data, parameter=name) if "covariance" in data else None
    canonical = form is None or form.valid
    spectra = form.spectra if form is not None else analysis.spectra(**data)
    # the condition solved for the parameter asked for, every other hyper-parameter at its value
    condition = model.with_values(**{name: None}).collapse().criterion_for(name)
    governing = [v.name for v in model.graph.observed() if v.variance is not None]
    notes = _threshold_notes(model, spectra, canonical, form)
    source = f" from {args.model_file}" if getattr(args, "model_file", None) else ""
    if args.json:
        out = {
            "parameter": name,
            "critical": cp.value,
            "condition_latex": latex(condition),
            "condition_text": text(condition),
            "condition_applies": canonical,
            "spectrum": [float(v) for v in spectra[governing[0]]],
            "stable_side": cp.stable_side,
            "block": cp.block,
            "mode": cp.mode,
            "method": cp.method,
            "bracket": list(cp.bracket),
            "assumptions": list(cp.assumptions),
            "status": cp.status.value,
            "model": model.kind,
            "data": desc,
            "notes": notes,
        }
        if len(spectra) > 1:
            out["spectra"] = {k: [float(x) for x in v] for k, v in spectra.items()}
        if not canonical:
            out["reason"] = form.describe()
        print(json.dumps(out))
        return 0
    pname = text_name(H.spec(name).latex)
    print(f"model:     {model.kind} VAE ({', '.join(f'{k}={v}' for k, v in model.dims.items())}){source}")
    print(f"data:      {desc}")
    for k, g in enumerate(governing):
        top = ", ".join(f"{v:.6g}" for v in spectra[g][:5])
        more = " ..." if len(spectra[g]) > 5 else ""
        label = "spectrum:  " if k == 0 else "           "
        print(f"{label}{top}{more}  ({len(spectra[g])} eigenvalues of {g})")
    print(f"condition: {text(condition)}")
    print(f"critical:  {pname} = {cp.value:.12g}  (collapse is stable {cp.stable_side} it; "
          f"block {text_name(cp.block)}, {cp.method})")
    for n in notes:
        print(f"note:      {n}")
    return 0


def _threshold_notes(model, spectra, canonical, form) -> list:
    """What the printed numbers rest on, when it is not the plain per-mode reading."""
    notes = []
    if not canonical:
        notes.append(f"these data have no canonical form for this model ({form.describe()}); the condition "
                     f"above holds only for uncorrelated observed variables, so the critical value comes from "
                     f"the compiled Hessian's latent blocks, not from it")
    return notes + latent_excess_notes(model)

