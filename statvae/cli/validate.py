"""``statvae validate``: train VAEs across sigma2 (or beta) and compare the collapse they show with the prediction.

``statvae validate --dataset digits --latent-dim 4 --sigma2 0.3:0.9:25 [--trainer linear|mlp] [--hidden 128,128]
[--epochs E] [--seeds 3] [--scheduler ADDRESS] [--exact] [--out results.json] [--plot validate.png] [--json]``

Chains (one per trainer and seed) run in local processes, or on a Dask cluster with ``--scheduler``; the result
saves as JSON (:meth:`statvae.training.sweep.SweepResult.load` reads it back) and plots without recomputation.
Everything heavy is imported when the command runs, not for ``--help``.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from typing import Any

from ..errors import DataError, ModelError, StatvaeError

__all__ = ["add_validate_parser", "run_validate", "parse_grid", "TORCH_HINT", "SCHEDULER_TIMEOUT"]

#: Seconds to wait for a Dask scheduler named by ``--scheduler``.
SCHEDULER_TIMEOUT = 20.0

OptionAdder = Callable[[argparse.ArgumentParser], None]

#: How to get PyTorch (the CPU build; an unpinned torch pulls a multi-GB CUDA build).
TORCH_HINT = ("--trainer mlp needs PyTorch: pip install torch==2.13.0 (the CPU build), or "
              "pip install 'statvae[torch]'")


def parse_grid(text: str, flag: str) -> list[float]:
    """A grid from ``START:STOP:COUNT`` (evenly spaced, both ends included) or a comma-separated list.

    Parameters
    ----------
    text : str
        The option's value.
    flag : str
        The option, for messages.

    Returns
    -------
    list of float

    Raises
    ------
    ModelError
        For anything else, a count below 2 or a value that is not a positive finite number.
    """
    t = str(text).strip()
    if ":" in t:
        parts = t.split(":")
        try:
            if len(parts) != 3:
                raise ValueError
            start, stop, count = float(parts[0]), float(parts[1]), float(parts[2])
        except ValueError:
            raise ModelError(f"{flag} takes START:STOP:COUNT (e.g. 0.3:0.9:25) or a list, got {text!r}") from None
        if not count.is_integer() or count < 2 or count > 10_000:
            raise ModelError(f"{flag}: COUNT must be an integer between 2 and 10,000, got {parts[2]!r}")
        k = int(count)
        vals = [start + (stop - start) * i / (k - 1) for i in range(k)]
    else:
        try:
            vals = [float(p) for p in t.split(",")]
        except ValueError:
            raise ModelError(f"{flag} takes START:STOP:COUNT (e.g. 0.3:0.9:25) or a list, got {text!r}") from None
    if not all(math.isfinite(v) and v > 0 for v in vals):
        raise ModelError(f"{flag} values must be positive finite numbers, got {text!r}")
    return vals


def add_validate_parser(sub: Any, add_data_options: OptionAdder) -> None:
    """Register ``statvae validate``.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The sub-command registry.
    add_data_options : callable
        The shared data option adder of :mod:`statvae.cli.options`.
    """
    p = sub.add_parser("validate", help="train VAEs across sigma2 (or beta) and compare the measured collapse "
                       "thresholds with the predicted ones",
                       description="Train VAEs the way they are trained (minibatches, reparameterised samples, "
                       "Adam) at every value of a grid of sigma2 or beta, each point warm-started from the "
                       "previous one, for several seeds; measure where each latent switches off (its activity "
                       "Cov_x E[z|x] falls to --delta) and where the whole model collapses, with grid brackets "
                       "and the spread over seeds; compare with statvae's predictions from the sample second "
                       "moment the trainers see and, for --dataset synthetic, from the population covariance. "
                       "Samples are centred (--no-center keeps them) and optionally standardized before "
                       "training; the transform is recorded.")
    add_data_options(p)
    m = p.add_argument_group("model and sweep")
    m.add_argument("--latent-dim", type=int, default=4, metavar="n", help="number of latents (default 4)")
    m.add_argument("--sigma2", metavar="GRID|VALUE",
                   help="decoder variance: a grid START:STOP:COUNT or a list to sweep, or one value when sweeping "
                   "--beta")
    m.add_argument("--beta", metavar="GRID|VALUE", default=None,
                   help="KL weight: one value (default 1) when sweeping --sigma2, or a grid to sweep")
    m.add_argument("--seeds", type=int, default=3, metavar="K", help="seeds (chains) per trainer, 0..K-1 (default 3)")
    m.add_argument("--delta", type=float, default=0.01, metavar="D",
                   help="activity threshold of an active latent, relative to the prior variance (default 0.01)")
    t = p.add_argument_group("training")
    t.add_argument("--trainer", choices=["linear", "mlp"], default="linear",
                   help="linear VAE (numpy, default) or MLP encoder and decoder (PyTorch)")
    t.add_argument("--hidden", action="append", metavar="W1,W2,...",
                   help="hidden widths of an MLP trainer (default 128,128); repeat for several architectures")
    t.add_argument("--epochs", type=int, default=None, metavar="E",
                   help="epochs per grid point (default: linear 400, mlp 100)")
    t.add_argument("--lr", type=float, default=None, metavar="LR",
                   help="Adam's learning rate (default: linear 0.002, mlp 0.001)")
    t.add_argument("--batch-size", type=int, default=128, metavar="B", help="minibatch size (default 128)")
    t.add_argument("--exact", action="store_true",
                   help="linear trainer: exact expectation over q (the compiled objective's gradient at each "
                   "minibatch's moment) instead of reparameterised samples")
    t.add_argument("--plateau", type=float, default=None, metavar="TOL",
                   help="stop a fit early once its total KL changes by less than TOL (relative) over a window")
    r = p.add_argument_group("execution and output")
    r.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="run the chains on this Dask scheduler (e.g. tcp://10.0.0.5:8786; needs "
                   "dask[distributed]); default: local processes")
    r.add_argument("--workers", type=int, default=None, metavar="K",
                   help="local processes (default: the CPU count); 1 runs in this process")
    r.add_argument("--no-theory", action="store_true",
                   help="skip the theory curves (statvae's optimum at every grid point)")
    r.add_argument("--out", metavar="FILE", default=None, help="save the sweep as JSON")
    r.add_argument("--plot", metavar="FILE", default=None, help="write the figure (png, pdf, svg)")
    r.add_argument("--json", action="store_true",
                   help="print one JSON object: predicted, measured (with brackets and seed spread), points")
    r.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run_validate)


def _grids(args: argparse.Namespace) -> tuple[str, list[float], dict[str, float]]:
    if args.sigma2 is None:
        raise ModelError("--sigma2 is required: a grid START:STOP:COUNT (or a list) to sweep, or one value with a "
                         "--beta grid")
    s = parse_grid(args.sigma2, "--sigma2")
    b = parse_grid(args.beta, "--beta") if args.beta is not None else [1.0]
    if len(s) > 1 and len(b) > 1:
        raise ModelError("sweep one hyper-parameter: give --sigma2 or --beta as a grid, the other as one value")
    if len(b) > 1:
        return "beta", b, {"sigma2": s[0]}
    if len(s) == 1:
        raise ModelError(f"nothing to sweep: --sigma2 {args.sigma2} is one value; give a grid START:STOP:COUNT")
    return "sigma2", s, {"beta": b[0]}


def _trainers(args: argparse.Namespace, n: int) -> list[Any]:
    from .options import check_count

    bs = check_count(args.batch_size, "--batch-size", 1)
    if args.epochs is not None:
        check_count(args.epochs, "--epochs", 1, 10**7)
    if args.lr is not None and not (math.isfinite(args.lr) and args.lr > 0):
        raise ModelError(f"--lr must be a positive number, got {args.lr}")
    if args.trainer == "linear":
        if args.hidden:
            raise ModelError("--hidden applies to --trainer mlp only")
        from ..training.linear import LinearTrainer

        return [LinearTrainer(n, epochs=args.epochs or 400, batch_size=bs, lr=args.lr or 2e-3, exact=args.exact,
                              plateau_tol=args.plateau)]
    if args.exact:
        raise ModelError("--exact applies to --trainer linear only")
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        raise StatvaeError(TORCH_HINT)
    from ..training.torch_trainer import MLPTrainer

    out = []
    for h in args.hidden or ["128,128"]:
        try:
            widths = tuple(int(w) for w in h.split(",")) if h.strip() else ()
        except ValueError:
            raise ModelError(f"--hidden takes widths W1,W2,..., got {h!r}") from None
        out.append(MLPTrainer(latent_dim=n, hidden=widths, epochs=args.epochs or 100, batch_size=bs,
                              lr=args.lr or 1e-3, plateau=args.plateau))
    return out


def run_validate(args: argparse.Namespace) -> int:
    """``statvae validate``.

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
        For bad options or data, a missing optional dependency (with how to install it), or a failed training.
    """
    from ..validate import check_output_path
    from .options import check_count, read_data, write_output

    n = check_count(args.latent_dim, "--latent-dim", 1, 10_000)
    seeds = check_count(args.seeds, "--seeds", 1, 1000)
    if args.workers is not None:
        check_count(args.workers, "--workers", 1, 1024)
    if not (0 < args.delta < 1):
        raise ModelError(f"--delta must be between 0 and 1, got {args.delta}")
    parameter, grid, values = _grids(args)
    if args.out:
        check_output_path(args.out, "--out", (".json",))
    if args.plot:
        check_output_path(args.plot, "--plot", (".png", ".pdf", ".svg"))
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise StatvaeError("--plot needs matplotlib: pip install 'statvae[plot]' (or pip install matplotlib)") \
                from None
    trainers = _trainers(args, n)
    kind, raw, desc = read_data(args)
    if kind != "samples":
        raise DataError(f"validate trains on samples: give --samples, --data with samples or --dataset, not a {kind}")
    from ..training.sweep import SweepResult, prepare_samples, sweep

    X, prep = prepare_samples(raw, center=args.center, standardize=args.standardize, ddof=args.ddof)
    population = None
    transform = prep.describe()
    name = args.dataset or (args.samples or args.data)
    if args.dataset == "synthetic" and not args.standardize:
        from .options import _floats

        population = _floats(args.synthetic_spectrum, "--synthetic-spectrum")
    elif args.dataset == "digits":
        transform = "pixels / 16; " + transform
    client = None
    if args.scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise StatvaeError("--scheduler needs dask.distributed: pip install 'dask[distributed]' "
                               "(or pip install 'statvae[dask]')") from None
        try:
            client = Client(args.scheduler, timeout=f"{SCHEDULER_TIMEOUT}s")
        except (OSError, TimeoutError) as e:
            raise StatvaeError(f"cannot reach the Dask scheduler {args.scheduler}: {e}") from None
    try:
        result: SweepResult = sweep(trainers, X, grid=grid, parameter=parameter, values=values, seeds=seeds,
                                    latent_dim=n, population=population, data_name=str(name), transform=transform,
                                    preprocessing=prep, delta=args.delta,
                                    executor="serial" if args.workers == 1 else "processes", workers=args.workers,
                                    client=client, theory=not args.no_theory, progress=not args.quiet)
    finally:
        if client is not None:
            client.close()
    if args.out:
        write_output(args.out, "--out", lambda: result.save(args.out))
    if args.plot:
        def _plot() -> None:
            import matplotlib.pyplot as plt

            fig = result.plot(args.plot)
            plt.close(fig)

        write_output(args.plot, "--plot", _plot)
    if args.json:
        c = result.comparison()
        print(json.dumps({"parameter": parameter, "grid": grid, "values": values, "latent_dim": n, "data": result.data,
                          "trainers": result.trainers, "seeds": result.seeds, "delta": result.delta,
                          "predicted": c["predicted"], "measured": c["measured"], "points": result.points,
                          "execution": result.execution}, allow_nan=False))
        return 0
    other = ", ".join(f"{k} = {v:g}" for k, v in values.items())
    print(f"data:      {desc}; {prep.describe()}")
    print(f"sweep:     {parameter} over {len(grid)} values {min(grid):g} .. {max(grid):g} ({other}), {n} latents, "
          f"{seeds} seed(s); {', '.join(result.trainers)}; ran {result.execution['kind']} in "
          f"{result.execution['wall_seconds']:.0f} s")
    for line in result.summary():
        print(line)
    if args.out:
        print(f"saved:     {args.out}")
    if args.plot:
        print(f"figure:    {args.plot}")
    return 0
