"""The figure of a sweep, from its saved numbers only: measured points over the theory curves.

Four panels against the swept hyper-parameter: KL per latent, ELBO, posterior variances and the active count.
Points are the trained VAEs (every seed; the k-th largest KL, the k-th smallest posterior variance), lines are
statvae's optimum at each grid point (solid: the sample second moment the trainers see; dashed: the population,
when known).  Vertical lines mark the predicted thresholds (grey; dotted for the population), shaded bands the
measured brackets and thin coloured lines the measured values.  matplotlib is an optional dependency
(``pip install 'statvae[plot]'``).
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import StatvaeError

__all__ = ["plot_sweep"]

_MARKERS = "os^Dv<>p*h"


def _pyplot() -> Any:
    try:
        import matplotlib

        if os.environ.get("MPLBACKEND") is None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise StatvaeError("plotting needs matplotlib: pip install 'statvae[plot]' (or pip install matplotlib)") \
            from None
    return plt


def plot_sweep(result: Any, path: str | os.PathLike[str] | None = None, *,
               trainer: str | None = None) -> Any:
    """Plot a sweep (nothing is recomputed).

    Parameters
    ----------
    result : SweepResult
        The sweep (e.g. :meth:`SweepResult.load`).
    path : str or os.PathLike, optional
        Write the figure there (format from the suffix: png, pdf, svg).
    trainer : str, optional
        One trainer only (default: all).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    StatvaeError
        Without matplotlib, or for a trainer the sweep does not have.
    """
    plt = _pyplot()
    names = list(result.trainers)
    if trainer is not None:
        if trainer not in names:
            raise StatvaeError(f"the sweep has no trainer {trainer!r}; it has {', '.join(names)}")
        names = [trainer]
    n = result.latent_dim
    par = result.parameter
    label = {"sigma2": r"$\sigma'^2$", "beta": r"$\beta$"}[par]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    col = [colours[k % len(colours)] for k in range(max(n, 1))]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharex=True)
    ax_kl, ax_elbo, ax_var, ax_act = axes[0, 0], axes[0, 1], axes[1, 0], axes[1, 1]

    for src, style in (("sample", "-"), ("population", "--")):
        curve = (result.theory or {}).get(src)
        if not curve:
            continue
        xs = [p["value"] for p in curve]
        order = sorted(range(len(xs)), key=lambda i: xs[i])
        xs = [xs[i] for i in order]
        pts = [curve[i] for i in order]
        tag = f"theory ({src})"
        for k in range(n):
            ax_kl.plot(xs, [p["kl_per_latent"][k] for p in pts], style, color=col[k], lw=1.2,
                       label=tag if k == 0 else None)
            ax_var.plot(xs, [p["posterior_variance"][k] for p in pts], style, color=col[k], lw=1.2,
                        label=tag if k == 0 else None)
        ax_elbo.plot(xs, [p["elbo"] for p in pts], style, color="k", lw=1.2, label=tag)
        pred = (result.predicted or {}).get(src)
        if pred:  # the optimum's active count changes exactly at the predicted thresholds
            cuts = sorted(v for v in pred["latents"] if v is not None and xs[0] < v < xs[-1])
            edges = [xs[0], *cuts, xs[-1]]
            counts = [sum(1 for v in pred["latents"] if v is not None and v > e) for e in edges[:-1]]
            ax_act.stairs(counts, edges, baseline=None, ls=style, color="k", lw=1.2, label=tag)
        else:
            ax_act.step(xs, [p["active"] for p in pts], style, where="mid", color="k", lw=1.2, label=tag)

    for j, name in enumerate(names):
        mk = _MARKERS[j % len(_MARKERS)]
        pts = [p for p in result.points if p["trainer"] == name]
        for k in range(n):
            ax_kl.scatter([p["value"] for p in pts], [sorted(p["measures"]["kl_per_latent"], reverse=True)[k]
                                                      for p in pts], s=12, marker=mk, color=col[k], alpha=0.6,
                          label=f"trained ({name})" if k == 0 else None)
            ax_var.scatter([p["value"] for p in pts], [sorted(p["measures"]["posterior_variance"])[k] for p in pts],
                           s=12, marker=mk, color=col[k], alpha=0.6, label=f"trained ({name})" if k == 0 else None)
        ax_elbo.scatter([p["value"] for p in pts], [p["measures"]["elbo"] for p in pts], s=12, marker=mk,
                        color="C3", alpha=0.6, label=f"trained ({name})")
        seeds = sorted({p["seed"] for p in pts})
        jitter = {s: (i - (len(seeds) - 1) / 2) * 0.06 for i, s in enumerate(seeds)}
        ax_act.scatter([p["value"] for p in pts], [p["active_dimensions"] + jitter[p["seed"]] for p in pts], s=12,
                       marker=mk, color="C3", alpha=0.6, label=f"trained ({name}; activity > {result.delta:g})")

    for src, ls in (("sample", "--"), ("population", ":")):
        p = (result.predicted or {}).get(src)
        if not p:
            continue
        for ax in axes.flat:
            for k, v in enumerate(p["latents"]):
                if v is not None:
                    ax.axvline(v, color="0.45", ls=ls, lw=0.9,
                               label=f"predicted ({src})" if (ax is ax_act and k == 0) else None)
    lo_g, hi_g = min(result.grid), max(result.grid)
    for name in names:
        m = result.measured.get(name)
        if not m:
            continue
        for k, lat in enumerate(m["latents"]):
            lo, hi = lat["bracket"]
            for ax in axes.flat:
                ax.axvspan(lo_g if lo is None else lo, hi_g if hi is None else hi, color=col[k], alpha=0.08, lw=0)
                if lat["value"] is not None:
                    ax.axvline(lat["value"], color=col[k], lw=0.8, alpha=0.8)
    ax_kl.set_ylabel(r"KL per latent, $E_x KL(q(z_j|x)\,\|\,p(z_j))$")
    ax_elbo.set_ylabel("ELBO per sample" + (r" ($\beta$-weighted)" if par == "beta" or result.values.get("beta", 1)
                                             != 1 else ""))
    ax_var.set_ylabel(r"posterior variance $E_x Var_q(z_j|x)$")
    ax_act.set_ylabel("active latents")
    for ax in axes[1]:
        ax.set_xlabel(label)
    other = ", ".join(f"{k} = {v:g}" for k, v in result.values.items())
    fig.suptitle(f"{result.data.get('name', 'data')}: {result.data.get('samples')} x {result.data.get('features')}, "
                 f"{result.latent_dim} latents, {other}, {len(result.seeds)} seed(s); "
                 + ", ".join(names), fontsize=10)
    for ax in (ax_kl, ax_act):
        ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    if path is not None:
        fig.savefig(os.fspath(path), dpi=120)
    return fig
