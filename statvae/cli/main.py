"""The ``statvae`` command line.

Sub-commands:

``statvae derive``
    objective, collapsed point, Hessian blocks, stability condition and
    critical expression of a model (text, LaTeX or JSON);
``statvae critical`` (alias ``statvae threshold``)
    the critical value of a hyper-parameter (``--parameter``) for a
    spectrum, covariance, samples or a built-in dataset;
``statvae finite``
    for samples: which directions collapse would learn lie above the
    Marchenko-Pastur noise edge and which below it (learning noise);
``statvae rmt``
    random-matrix predictions as functions of alpha = M / N (noise edge, BBP
    outlier and overlap, the finite-data threshold of Ichikawa and Hukushima);
``statvae track``
    the bifurcation diagram in one parameter (continuation, branch points,
    branch switching), saved, plotted or printed;
``statvae phase-diagram``
    loci of branch points in a two-parameter plane;
``statvae validate``
    VAEs trained across sigma2 (or beta) with warm starts: measured collapse
    thresholds against the predicted ones, locally or on a Dask cluster;
``statvae plot``
    figures of saved results;
``statvae cache``
    the on-disk cache (compiled code, derived structures, collapse plans).

Exit status: 0 on success; 2 for bad input or an analysis that cannot be
done (one line on stderr: ``statvae: error: ...``); 3 for an internal
error (a bug: one line ``statvae: internal error: ...``; ``--debug`` shows
the traceback); 130 when interrupted (Ctrl-C).

The names are those of the Python API (``parameter``, ``start``/``stop``,
``data``/``spectrum``/``covariance``/``samples``); the old spellings
``threshold``, ``--solve-for``, ``--range`` and ``--along-range`` stay as
aliases.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from ..errors import StatvaeError
from .options import (add_data_options, add_model_options, add_parameter_option, build_model, check_count,
                      check_parameter, data_dim, latent_excess_notes, load_prepared)

if TYPE_CHECKING:
    from ..api import VAEModel
    from ..data.canonical import CanonicalForm

__all__ = ["main", "build_parser", "join_number_values"]

#: Options whose value may start with "-" (a negative number or range): ``--start -1`` is read as a value.
NUMBER_OPTIONS = ("--start", "--stop", "--along-start", "--along-stop", "--range", "--along-range")


def _is_number_value(token: str) -> bool:
    """Whether ``token`` is a number or ``A:B`` range of numbers (``-1e-3``, ``-inf``, ``-1:2``)."""
    try:
        for part in token.split(":"):
            float(part)
    except ValueError:
        return False
    return True


def join_number_values(argv: Sequence[str]) -> list[str]:
    """Join ``--start -1e-3`` into ``--start=-1e-3`` so argparse reads a negative value as a value.

    argparse reads ``-1`` and ``-0.5`` after an option as values but not
    ``-1e-3``, ``-inf`` or ``-1:2``; for the options in
    :data:`NUMBER_OPTIONS` a following token that reads as numbers is
    joined to its option.  Values outside a parameter's domain are refused
    later, with the usual one-line error.

    Parameters
    ----------
    argv : sequence of str
        The command-line arguments.

    Returns
    -------
    list of str
        The arguments, with such pairs joined.

    Examples
    --------
    >>> join_number_values(["track", "--start", "-1e-3", "--stop", "2", "--range", "-1:2"])
    ['track', '--start=-1e-3', '--stop', '2', '--range=-1:2']
    """
    out: list[str] = []
    args = list(argv)
    k = 0
    while k < len(args):
        tok = args[k]
        if tok == "--":
            return out + args[k:]
        nxt = args[k + 1] if k + 1 < len(args) else None
        if tok in NUMBER_OPTIONS and nxt is not None and nxt.startswith("-") and _is_number_value(nxt):
            out.append(f"{tok}={nxt}")
            k += 2
            continue
        out.append(tok)
        k += 1
    return out


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line (no usage block) and exit 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``PROG: error: MESSAGE`` on one line and exit with status 2.

        Parameters
        ----------
        message : str
            What is wrong.
        """
        sys.stderr.write(f"{self.prog}: error: {' '.join(message.split())}\n")
        sys.exit(2)

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        """Parse as argparse does, negative values of :data:`NUMBER_OPTIONS` included.

        Parameters
        ----------
        args : sequence of str, optional
            The arguments (default ``sys.argv[1:]``).
        namespace : argparse.Namespace, optional
            Where to store them.

        Returns
        -------
        tuple
            The namespace and the arguments not recognised.
        """
        argv = join_number_values(sys.argv[1:] if args is None else args)
        return super().parse_known_args(argv, namespace)


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``statvae`` command and its sub-commands.

    Returns
    -------
    argparse.ArgumentParser
        Errors are one line and exit with status 2.
    """
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
    add_parameter_option(d, "hyper-parameter of the critical expression (default: sigma2, else beta)")
    d.add_argument("--explicit", action="store_true",
                   help="also print the explicit-entry objective for the given --data-dim and --latent-dim")
    d.add_argument("--standalone", action="store_true",
                   help="with --format latex: a complete document for pdflatex (sections, a table of symbols, "
                        "long formulas broken to the page, the condition solved for --parameter)")
    d.add_argument("--width", type=float, default=None, metavar="PT",
                   help="with --format latex: line width in points to break formulas to (default 345, "
                        "the article class's \\textwidth)")
    d.set_defaults(func=_derive)

    t = sub.add_parser("critical", aliases=["threshold"],
                       help="critical value of a hyper-parameter for given data",
                       description="Critical value of a hyper-parameter (--parameter) where the collapsed point "
                       "loses stability, for the given data: the API's model.collapse().critical().  "
                       "'statvae threshold' is the old name of this command.")
    add_model_options(t)
    add_data_options(t)
    add_parameter_option(t, "hyper-parameter to solve for: sigma2, beta, weight_decay_enc, weight_decay_dec, "
                         "prior_variance, tau2, beta1, beta2, encoder_variance, or any name of a --model-file "
                         "(default: sigma2, else beta)")
    t.add_argument("--json", action="store_true", help="print one JSON object")
    t.add_argument("--diagnostics", action="store_true",
                   help="also the certified optimum and its collapse diagnostics (statvae optimum) 5%% into the "
                   "unstable side of the critical value: which latents activate first, and how much")
    b = t.add_argument_group("bootstrap (samples only: --samples, --data with samples, --dataset)")
    b.add_argument("--bootstrap", type=int, metavar="B",
                   help="also a confidence interval from B bootstrap resamples of the samples (>= 2), seeded by "
                   "--seed; each resample goes through the same --center/--standardize and analysis")
    b.add_argument("--confidence", type=float, default=0.95, metavar="C",
                   help="nominal coverage of the bootstrap interval, between 0 and 1 (default 0.95)")
    b.add_argument("--bootstrap-method", choices=["percentile", "basic"], default="percentile",
                   help="percentile interval (default) or the basic (reflected) one")
    t.set_defaults(func=_critical)
    from .tracking import add_phase_parser, add_plot_parser, add_track_parser

    add_track_parser(sub, add_model_options, add_data_options)
    add_phase_parser(sub, add_model_options, add_data_options)
    from .finite import add_finite_parser, add_rmt_parser

    add_finite_parser(sub, add_model_options, add_data_options)
    add_rmt_parser(sub)
    from .optimum import add_optimum_parser

    add_optimum_parser(sub, add_model_options, add_data_options)
    from .validate import add_validate_parser

    add_validate_parser(sub, add_data_options)
    add_plot_parser(sub)
    c = sub.add_parser("cache", help="show or clear the on-disk cache (compiled code, derived structures, collapse "
                       "plans)",
                       description="Show where compiled code is cached ($STATVAE_CACHE_DIR or ~/.cache/statvae) "
                       "and how many entries it holds; --clear deletes them.")
    c.add_argument("--clear", action="store_true", help="delete every cached entry")
    c.set_defaults(func=_cache)
    for cmd in {id(c): c for c in sub.choices.values()}.values():  # --debug after the command too (aliases once)
        cmd.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                         help="show the full traceback of an error (for bug reports)")
    return p


def _cache(args: argparse.Namespace) -> int:
    from ..numeric.cache import cache_dir, clear_cache, count_entries

    d = cache_dir()
    if args.clear:  # entries that cannot be removed raise StatvaeError: one line, exit status 2
        print(f"removed {clear_cache()} entries from {d}")
    else:
        print(f"{d}: {count_entries()} entries")
    return 0


#: Exit statuses of the command (see docs/cli.md).
EXIT_OK, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 0, 2, 3, 130, 141


def _one_line(text: object, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _print_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Each distinct warning once, on one line ``statvae: warning: ...``."""
    seen: set[str] = set()
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``statvae`` command.

    ``--help``/``--version`` and option syntax errors exit through
    ``SystemExit`` (0 and 2).

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status. 0: success.  2: bad input or an analysis that
        cannot be done (one line ``statvae: error: ...`` on stderr).  3: an
        internal error, i.e. a bug (one line ``statvae: internal error:
        ...``; with ``--debug`` the traceback is printed first).  130:
        interrupted.  141: stdout closed early (a broken pipe).
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


def _derive(args: argparse.Namespace) -> int:
    from .derive import run_derive

    return run_derive(args)


def _critical(args: argparse.Namespace) -> int:
    """``statvae critical`` (alias ``threshold``): the critical value of ``--parameter`` for the data given.

    A warm run answers from the collapse plan of its specification (:mod:`statvae.cli.fastpath`: no sympy, the
    same self-check, the same output); otherwise the full analysis answers and writes that plan.
    """
    from .fastpath import answer_from_plan, render_critical, write_plan

    if not args.diagnostics and answer_from_plan(args):
        return 0
    from ..latex import latex
    from ..model import hyper as H
    from .render import text, text_name

    if args.bootstrap is not None:
        check_count(args.bootstrap, "--bootstrap", 2)
    data, desc, prep, samples = load_prepared(args)
    if args.bootstrap is not None and samples is None:
        raise StatvaeError(f"--bootstrap needs samples (--samples FILE, --data FILE with samples, or --dataset); "
                           f"the data here are a {prep.source}")
    model = build_model(args, data_dim(data))
    check_parameter(model, args.parameter, args.parameter_flag)
    analysis = model.collapse()
    name = args.parameter or analysis.default_parameter()
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
    source = f" from {args.model_file}" if getattr(args, "model_file", None) else ""
    record: dict[str, Any] = {
        "parameter": name,
        "critical": cp.value,
        "condition_latex": latex(condition),
        "condition_text": text(condition),
        "condition_applies": canonical,
        "governing": governing,
        "spectra": {k: [float(x) for x in v] for k, v in spectra.items()},
        "stable_side": cp.stable_side,
        "block": cp.block,
        "mode": cp.mode,
        "method": cp.method,
        "bracket": list(cp.bracket),
        "assumptions": list(cp.assumptions),
        "status": cp.status.value,
        "model": model.kind,
        "dims": [[k, v] for k, v in model.dims.items()],
        "data": desc,
        "notes": _critical_notes(model, form),
        "source": source,
        "pname": text_name(H.spec(name).latex),
        "reason": form.describe() if form is not None and not form.valid else None,
    }
    if prep.source != "spectrum":  # a spectrum's answer stays the plan's record, field for field
        record["preprocessing"] = prep.to_dict()
    if args.bootstrap is not None:
        boot = analysis.bootstrap_critical(name, samples=samples, bootstrap=args.bootstrap, seed=args.seed,
                                           confidence=args.confidence, method=args.bootstrap_method, ddof=args.ddof,
                                           center=args.center, standardize=args.standardize)
        if boot.value != cp.value:
            from ..errors import AnalysisError

            raise AnalysisError(f"internal contradiction: the bootstrap's point estimate {boot.value!r} is not the "
                               f"critical value {cp.value!r}")
        record["bootstrap"] = boot.to_dict()
        lo, hi = boot.interval
        if not lo <= cp.value <= hi:
            record["notes"] = record["notes"] + [
                f"the critical value lies outside its bootstrap interval (bootstrap bias {boot.bias:.3g}): the "
                f"bootstrap of a top eigenvalue is unreliable when it is not well separated from the rest of the "
                f"spectrum, e.g. at the noise edge (see 'statvae finite')"]
    if args.diagnostics:
        from .optimum import unstable_side_diagnostics

        extra = unstable_side_diagnostics(model, data, name, cp)
        if args.json:
            print(json.dumps({**json.loads(render_critical(record, True)), "diagnostics": extra}, allow_nan=False))
        else:
            print(render_critical(record, False))
            print(extra["text"])
    else:
        print(render_critical(record, bool(args.json)))
    write_plan(args, model, analysis, name, record)
    return 0


def _critical_notes(model: VAEModel, form: CanonicalForm | None) -> list[str]:
    """What the printed numbers rest on, when it is not the plain per-mode reading."""
    notes = []
    if form is not None and not form.valid:
        notes.append(f"these data have no canonical form for this model ({form.describe()}); the condition "
                     f"above holds only for uncorrelated observed variables, so the critical value comes from "
                     f"the compiled Hessian's latent blocks, not from it")
    return notes + latent_excess_notes(model)
