"""``statvae finite`` (the noise report of samples) and ``statvae rmt`` (random-matrix predictions in alpha).

``statvae finite --samples FILE --sigma2 S ...``
    which directions collapse would learn at the model's hyper-parameter
    values (the API's ``model.collapse().noise_report(...)``) lie above the
    Marchenko-Pastur edge of the noise and which below it, with the noise
    variance given (``--noise-variance``) or estimated (``--noise-estimator``).
``statvae rmt --alpha 10,4,2 --rho 1 --eta 1 [--beta B --weight-decay L]``
    the predictions as functions of ``alpha = M / N``
    (:mod:`statvae.data.rmt`, :func:`statvae.analysis.asymptotics.finite_data_prediction`).

The bootstrap interval of a threshold is an option of ``statvae critical``
(``--bootstrap B --seed S``), beside the value it is an interval for.
Everything heavy is imported when a command runs, not for ``--help``.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from typing import Any

from ..errors import DataError
from .options import _floats, build_model, data_dim, load_prepared

__all__ = ["add_finite_parser", "add_rmt_parser", "run_finite", "run_rmt"]

OptionAdder = Callable[[argparse.ArgumentParser], None]

#: How each estimator of the noise variance is described in the output.
ESTIMATOR_TEXT = {
    "given": "given (--noise-variance)",
    "median": "estimated: the median of the non-zero eigenvalues matched to the Marchenko-Pastur median",
    "bulk": "estimated: the mean of the eigenvalues in the bulk (at or below the edge, iterated)",
}


def add_finite_parser(sub: Any, add_model_options: OptionAdder, add_data_options: OptionAdder) -> None:
    """Register ``statvae finite``.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The sub-command registry.
    add_model_options, add_data_options : callable
        The shared option adders of :mod:`statvae.cli.options`.
    """
    p = sub.add_parser("finite", help="active directions above and below the noise edge of samples",
                       description="For samples: the directions along which collapse is unstable at the model's "
                       "hyper-parameter values (statvae's per-mode blocks, confirmed by the compiled Hessian), "
                       "how many lie above the Marchenko-Pastur edge of the noise (signal) and how many at or below "
                       "it (learning noise), and for each eigenvalue above the edge the spike it comes from (BBP) "
                       "and the predicted squared overlap of its eigenvector with the population direction.")
    add_model_options(p)
    add_data_options(p)
    p.add_argument("--noise-variance", type=float, metavar="V",
                   help="the noise variance in the units analysed (standardized units with --standardize); "
                   "estimated when omitted")
    p.add_argument("--noise-estimator", choices=["median", "bulk"], default="median",
                   help="estimator of the noise variance: the median of the non-zero eigenvalues matched to the "
                   "Marchenko-Pastur median (default), or the mean of the bulk below the edge")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run_finite)


def add_rmt_parser(sub: Any) -> None:
    """Register ``statvae rmt``.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The sub-command registry.
    """
    p = sub.add_parser("rmt", help="random-matrix predictions as functions of alpha = M/N",
                       description="For M = alpha N samples of a spiked covariance eta I + rho u u^T: the "
                       "Marchenko-Pastur edge of the noise, the BBP transition, the top sample eigenvalue and the "
                       "squared overlap of its eigenvector with u, and, for the linear VAE with one latent, ridge "
                       "weight decay lambda on the summed training loss and decoder variance sigma2 (the setting of "
                       "Ichikawa and Hukushima), the critical beta, whether the optimum is collapsed, q = ||w||^2, "
                       "m = |<w, u>| and the generalization error.")
    p.add_argument("--alpha", required=True, metavar="A1,A2,...", help="samples per dimension, M / N (> 0)")
    p.add_argument("--rho", type=float, default=1.0, help="the spike above the noise, >= 0 (default 1)")
    p.add_argument("--eta", type=float, default=1.0, help="the noise variance, > 0 (default 1)")
    p.add_argument("--beta", type=float, default=1.0, help="KL weight of the VAE, > 0 (default 1)")
    p.add_argument("--weight-decay", type=float, default=0.0, metavar="LAMBDA",
                   help="ridge weight decay lambda of the summed training loss, >= 0 (default 0); statvae's "
                   "per-sample weight decays are lambda / alpha")
    p.add_argument("--sigma2", type=float, default=1.0, help="decoder variance, > 0 (default 1, as in the paper)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run_rmt)


def _fmt(v: float | None, spec: str = ".6g") -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def run_finite(args: argparse.Namespace) -> int:
    """``statvae finite``: the noise report of samples.

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
        For bad options or data, a hyper-parameter without a value, or data with no canonical form.
    """
    nv = args.noise_variance
    if nv is not None and not (math.isfinite(nv) and nv > 0):
        raise DataError(f"--noise-variance must be a finite number > 0, got {nv}")
    data, desc, prep, samples = load_prepared(args)
    if samples is None:
        raise DataError(f"statvae finite needs samples (--samples FILE, --data FILE with samples, or --dataset): "
                        f"the noise edge depends on their number; the data here are a {prep.source}")
    model = build_model(args, data_dim(data))
    r = model.collapse().noise_report(samples=samples, noise_variance=nv, estimator=args.noise_estimator,
                                      ddof=args.ddof, center=args.center, standardize=args.standardize)
    if args.json:
        out = {"model": model.kind, "dims": model.dims, "data": desc, **r.to_dict(),
               "noise_estimator": ESTIMATOR_TEXT[r.noise_method]}
        print(json.dumps(out))
        return 0
    values = ", ".join(f"{k}={v:g}" for k, v in r.values.items())
    eig = r.eigenvalues
    print(f"model:     {model.kind} VAE ({', '.join(f'{k}={v}' for k, v in model.dims.items())})")
    print(f"data:      {desc}")
    print(f"alpha:     {r.alpha:.6g} ({prep.effective_samples} samples{' after centring' if prep.center else ''} / "
          f"{r.features} features)")
    print(f"noise:     variance {r.noise_variance:.6g} ({ESTIMATOR_TEXT[r.noise_method]}); Marchenko-Pastur edge "
          f"{r.edge:.6g}")
    print(f"active:    {len(r.active)} direction(s) along which collapse is unstable at {values}: "
          f"{len(r.above)} above the edge, {len(r.below)} at or below it (learning noise)")
    if r.below:
        print(f"           the noise learned: eigenvalues {', '.join(f'{eig[i]:.6g}' for i in r.below[:5])}"
              f"{' ...' if len(r.below) > 5 else ''}")
    for k, i in enumerate(r.outliers):
        label = "outliers:  " if k == 0 else "           "
        print(f"{label}eigenvalue {eig[i]:.6g} (index {i}{', active' if i in r.active else ''}): spike "
              f"{_fmt(r.spikes[k])} above the noise, predicted overlap^2 {_fmt(r.overlaps[k], '.3g')}")
    if not r.outliers:
        print("outliers:  none: no eigenvalue above the noise edge")
    latents = sum(z.dim for z in model.graph.latents())
    if len(r.active) > latents:
        print(f"note:      the model has {latents} latent coordinate(s): its optimum keeps the top {latents} "
              f"active direction(s)")
    print(f"status:    {r.status} (the per-mode count of ascent directions, {r.ascent_directions}, agrees with "
          f"the compiled Hessian)")
    return 0


def run_rmt(args: argparse.Namespace) -> int:
    """``statvae rmt``: random-matrix and finite-data predictions for each alpha.

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
        For a bad option.
    """
    from ..analysis.asymptotics import finite_data_prediction
    from ..data import rmt

    alphas = _floats(args.alpha, "--alpha")
    preds = finite_data_prediction(alphas, beta=args.beta, rho=args.rho, eta=args.eta,
                                   weight_decay=args.weight_decay, sigma2=args.sigma2)
    edges = [float(rmt.mp_edges(a, args.eta)[1]) for a in alphas]
    ac = float(rmt.bbp_critical_alpha(args.rho, args.eta)) if args.rho > 0 else math.inf
    if args.json:
        print(json.dumps({"rho": args.rho, "eta": args.eta, "beta": args.beta, "weight_decay": args.weight_decay,
                          "sigma2": args.sigma2, "bbp_critical_alpha": None if math.isinf(ac) else ac,
                          "predictions": [{**p.to_dict(), "mp_edge": e} for p, e in zip(preds, edges)]}))
        return 0
    print(f"data:      spiked covariance eta I + rho u u^T, eta = {args.eta:g} (noise), rho = {args.rho:g} "
          f"(spike above it); BBP transition at alpha_c = (eta / rho)^2 = {_fmt(ac)}")
    print(f"VAE:       one latent, beta = {args.beta:g}, decoder variance {args.sigma2:g}, weight decay lambda = "
          f"{args.weight_decay:g} on the summed loss (lambda / alpha per sample)")
    print(f"{'alpha':>10} {'MP edge':>10} {'top eig':>10} {'overlap^2':>10} {'beta_c':>10} {'q':>10} {'m':>10} "
          f"{'eps_g':>10}")
    for p, e in zip(preds, edges):
        q = "collapsed" if p.collapsed else _fmt(p.q, ".4g")
        print(f"{p.alpha:>10.4g} {e:>10.4g} {p.top_eigenvalue:>10.4g} {p.overlap2:>10.4g} "
              f"{_fmt(p.beta_critical, '.4g'):>10} {q:>10} {_fmt(p.m, '.4g'):>10} "
              f"{_fmt(p.generalization_error, '.4g'):>10}")
    return 0
