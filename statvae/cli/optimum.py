"""``statvae optimum``: what the VAE learns at given hyper-parameters, and its collapse diagnostics.

``statvae optimum --dataset digits --latent-dim 8 --sigma2 0.5 [--json] [--output FILE]``
    the certified optimum (:func:`statvae.optimum`) and the diagnostics at it
    (:func:`statvae.diagnose`): ELBO, KL per latent, active units, (epsilon, delta)-collapse,
    I(x; z), residual variance per eigen-direction.
Everything heavy is imported when the command runs, not for ``--help``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from .options import build_model, data_dim, load_prepared, write_output

__all__ = ["add_optimum_parser", "run_optimum", "unstable_side_diagnostics"]

OptionAdder = Callable[[argparse.ArgumentParser], None]


def add_optimum_parser(sub: Any, add_model_options: OptionAdder, add_data_options: OptionAdder) -> None:
    """Register ``statvae optimum``.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The sub-command registry.
    add_model_options, add_data_options : callable
        The shared option adders of :mod:`statvae.cli.options`.
    """
    p = sub.add_parser("optimum", help="the optimum at given hyper-parameters and its collapse diagnostics",
                       description="Maximise the model's objective on the data at the given hyper-parameter "
                       "values (per-mode closed form where the model has one, else scipy's trust-region solver "
                       "on the compiled gradient and Hessian-vector products, from several starts), certify it "
                       "by the inertia of the compiled Hessian, and report the collapse diagnostics at it: "
                       "active units, KL per latent and its spread over the data, (epsilon, delta)-collapse, "
                       "the mutual information I(x; z) and the residual variance per eigen-direction.")
    add_model_options(p)
    add_data_options(p)
    s = p.add_argument_group("solver")
    s.add_argument("--starts", type=int, default=4, metavar="K",
                   help="number of starts (default 4); --seed seeds the random ones")
    s.add_argument("--method", choices=["auto", "closed-form", "numeric"], default="auto",
                   help="closed form where the model has one (auto, default), insist on it, or never use it")
    d = p.add_argument_group("diagnostics")
    d.add_argument("--epsilon", type=float, default=0.01, metavar="E",
                   help="KL threshold (nats) of (epsilon, delta)-collapse (default 0.01)")
    d.add_argument("--delta", type=float, default=0.01, metavar="D",
                   help="probability of (epsilon, delta)-collapse, and the activity threshold relative to the prior "
                   "variance (default 0.01)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--output", metavar="FILE", default=None,
                   help="also save the optimum as JSON (statvae.OptimumResult.load reads it back)")
    p.set_defaults(func=run_optimum)


def _vals(xs: list[Any] | None, fmt: str = ".4g") -> str:
    if xs is None:
        return "-"
    return ", ".join("-" if x is None else format(x, fmt) for x in xs)


def run_optimum(args: argparse.Namespace) -> int:
    """``statvae optimum``.

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
        For bad options or data, or a hyper-parameter without a value.
    """
    from ..analysis.diagnostics import diagnose
    from ..analysis.optimum import optimum
    from .options import check_count

    starts = check_count(args.starts, "--starts", 1, 1000)
    data, desc, _, _ = load_prepared(args)
    model = build_model(args, data_dim(data))
    r = optimum(model, **data, starts=starts, seed=args.seed, method=args.method)
    d = diagnose(model, r, **data, epsilon=args.epsilon, delta=args.delta)
    if args.output:
        write_output(args.output, "--output", lambda: r.save(args.output))
    if args.json:
        print(json.dumps({"model": model.kind, "dims": model.dims, "data": desc, "optimum": r.to_dict(),
                          "diagnostics": d.to_dict()}, allow_nan=False))
        return 0
    print(f"model:       {model.kind} VAE ({', '.join(f'{k}={v}' for k, v in model.dims.items())}); "
          f"{', '.join(f'{k}={v:g}' for k, v in r.values.items())}")
    print(f"data:        {desc}")
    print(f"method:      {r.method}")
    print(f"status:      {r.status}")
    print(f"ELBO:        {r.elbo:.12g} (reconstruction {r.reconstruction:.12g}, KL {r.kl_total:.8g})")
    for name, v in r.variances.items():
        print(f"learned:     variance of {name} = {v:.12g}")
    for name, lat in d.latents.items():
        print(f"latent {name}:")
        print(f"  KL mean:     {_vals(lat.kl_mean)}")
        if lat.kl_quantiles:
            for q, vals in lat.kl_quantiles.items():
                print(f"  KL q{float(q) * 100:g}%:  {_vals(vals)}")
        print(f"  activity:    {_vals(lat.activity)} (active: {lat.active or 'none'})")
        if lat.collapsed is not None:
            print(f"  collapsed:   {lat.collapsed or 'none'} ((epsilon, delta) = ({d.epsilon:g}, {d.delta:g}))")
        print(f"  I(x; {name}):  {lat.mutual_information:.6g} nats")
    print(f"I(x; z):     {d.mutual_information:.6g} nats; active units {d.active_units}")
    for name, rec in d.reconstruction.items():
        k = min(len(rec["eigenvalues"]), 8)
        more = " ..." if len(rec["eigenvalues"]) > k else ""
        fractions = _vals(rec["unexplained"][:k], ".3g")
        print(f"residual {name}:  unexplained fraction per eigen-direction {fractions}{more}")
    if args.output:
        print(f"saved:       {args.output}")
    return 0


def unstable_side_diagnostics(model: Any, data: dict[str, Any], name: str, critical: Any,
                              offset: float = 0.05) -> dict[str, Any]:
    """The optimum and its diagnostics ``offset`` (relative) into the unstable side of a critical value.

    Parameters
    ----------
    model : VAEModel
        The model (every hyper-parameter but ``name`` has a value).
    data : dict
        The data keywords (``spectrum=`` or ``covariance=``).
    name : str
        The hyper-parameter solved for.
    critical : CriticalResult
        Its critical value and stable side.
    offset : float, optional
        Relative distance from the critical value.

    Returns
    -------
    dict
        ``parameter``, ``value``, ``optimum`` (:meth:`OptimumResult.to_dict`), ``diagnostics``
        (:meth:`Diagnostics.to_dict`) and ``text`` (lines for the text output).
    """
    from ..analysis.diagnostics import diagnose
    from ..analysis.optimum import optimum

    c = float(critical.value)
    value = c * (1 - offset) if critical.stable_side == "above" else c * (1 + offset)
    r = optimum(model, **data, values={name: value})
    d = diagnose(model, r, **data)
    lines = [f"unstable side: at {name} = {value:.6g} ({offset:.0%} into it) the optimum ({r.status}) has "
             f"{r.active_latents} active latent(s), KL {r.kl_total:.4g}, I(x; z) {d.mutual_information:.4g} nats"]
    for zname, lat in d.latents.items():
        if lat.kl_mean is not None:
            lines.append(f"  KL per coordinate of {zname}: {_vals(lat.kl_mean)}")
    return {"parameter": name, "value": value, "optimum": r.to_dict(), "diagnostics": d.to_dict(),
            "text": "\n".join(lines)}
