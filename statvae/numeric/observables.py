"""What a VAE's parameters mean, numerically: the ELBO's terms, KL per latent, posterior moments.

One definition shared by the tracker's observables, the optimum and the collapse
diagnostics: the parameter blocks are read into the matrices of the objective
(:func:`block_values`), and every expectation under data x q comes from
:func:`statvae.symbolic.moments.objective_terms` with numpy algebra.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..model.layout import scale_name
from ..model.vae import Model
from ..symbolic.moments import FactorTerms, NumpyAlgebra, objective_terms

__all__ = ["block_values", "covariance_blocks", "terms", "observables"]


def block_values(model: Model, blocks: dict[str, Any], hyper: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The matrices of the objective and the noise variances, from parameter blocks and hyper-parameters.

    Parameters
    ----------
    model : Model
        The model.
    blocks : dict
        Parameter blocks by name (:meth:`statvae.model.layout.Layout.unpack`).
    hyper : dict
        Numeric hyper-parameter values by name.

    Returns
    -------
    values : dict
        Map name -> matrix, encoder covariance name -> matrix.
    variances : dict
        Variable name -> its noise (or prior) variance.
    """
    g = model.graph
    values: dict[str, Any] = {m.name: np.asarray(blocks[m.name], dtype=float) for m in g.maps()}
    for z in g.latents():
        assert z.covariance_name is not None  # completed by the validated graph
        if z.encoder in ("diagonal", "full"):
            values[z.covariance_name] = np.asarray(blocks[z.covariance_name], dtype=float)
        elif z.encoder == "isotropic":
            values[z.covariance_name] = float(blocks[scale_name(z.covariance_name)]) * np.eye(z.dim)
        else:
            assert z.encoder_variance is not None  # a fixed encoder names its variance
            values[z.covariance_name] = float(hyper[z.encoder_variance]) * np.eye(z.dim)
    variances: dict[str, Any] = {}
    for v in g.variables():
        if v.variance == "learned":
            variances[v.name] = float(blocks[g.learned_variance_name(v.name)])
        elif v.variance is not None:
            variances[v.name] = float(hyper[v.variance])
    return values, variances


def covariance_blocks(model: Model, covariance: Any) -> dict[tuple[str, str], Any]:
    """The joint second moment of the observed variables, split into blocks ``(a, b) -> Cov(a, b)``.

    Parameters
    ----------
    model : Model
        The model.
    covariance : numpy.ndarray
        Joint second moment of the observed variables, in graph order.

    Returns
    -------
    dict
    """
    obs = model.graph.observed()
    off, sl = 0, {}
    for v in obs:
        sl[v.name] = slice(off, off + v.dim)
        off += v.dim
    c = np.asarray(covariance, dtype=float)
    return {(a.name, b.name): c[sl[a.name], sl[b.name]] for a in obs for b in obs}


def terms(model: Model, blocks: dict[str, Any], hyper: dict[str, Any], covariance: Any) -> FactorTerms:
    """Every expectation of the objective at given parameters, and the joint covariances under data x q.

    Parameters
    ----------
    model : Model
        The model.
    blocks : dict
        Parameter blocks by name.
    hyper : dict
        Numeric hyper-parameter values by name.
    covariance : numpy.ndarray or dict
        Joint second moment of the observed variables (or its blocks, :func:`covariance_blocks`).

    Returns
    -------
    FactorTerms
    """
    values, variances = block_values(model, blocks, hyper)
    cov = covariance if isinstance(covariance, dict) else covariance_blocks(model, covariance)
    return objective_terms(model, values, cov, variances, NumpyAlgebra, hyper=hyper)


def observables(model: Model, blocks: dict[str, Any], hyper: dict[str, Any], covariance: Any,
                active_rtol: float = 1e-6) -> dict[str, Any]:
    """ELBO, its terms, KL per level and per latent coordinate, posterior variances, ``||w_j||``.

    Parameters
    ----------
    model : Model
        The model.
    blocks : dict
        Parameter blocks by name.
    hyper : dict
        Numeric hyper-parameter values by name.
    covariance : numpy.ndarray or dict
        Joint second moment of the observed variables (or its blocks; a block may be a
        :class:`statvae.numeric.codegen.DiagonalBlock`).
    active_rtol : float, optional
        A latent coordinate is active when its decoder column norm exceeds ``active_rtol`` times the
        square root of the largest variance of the data (relative: the data's units do not matter).

    Returns
    -------
    dict
        ``elbo``, ``reconstruction``, ``weight_decay``, ``kl_total``, ``active_latents`` and, per latent
        ``z``, ``kl_z``, ``posterior_variance_z``, ``kl_per_latent_z`` (root latents) and ``w_norm_z``
        (lists, one entry per coordinate).
    """
    g = model.graph
    values, variances = block_values(model, blocks, hyper)
    cov = covariance if isinstance(covariance, dict) else covariance_blocks(model, covariance)
    t = objective_terms(model, values, cov, variances, NumpyAlgebra, hyper=hyper)
    obs = g.observed()
    out: dict[str, Any] = {}
    recon = sum(t.log_p[v.name] for v in obs if v.name in t.log_p)
    kls = {z.name: -(t.log_p[z.name] + t.entropy[z.name]) for z in g.latents()}
    out["reconstruction"] = float(recon)
    out["weight_decay"] = float(t.weight_decay)
    out["elbo"] = float(recon - sum(hyper[str(z.beta)] * kls[z.name] for z in g.latents()) - t.weight_decay)
    out["kl_total"] = float(sum(kls.values()))
    for z in g.latents():
        out[f"kl_{z.name}"] = float(kls[z.name])
        d = np.diag(values[str(z.covariance_name)])
        out[f"posterior_variance_{z.name}"] = d.tolist()
        if not g.parents(z.name, "generative"):
            pv = variances[z.name]
            c = np.diag(t.covariances[(z.name, z.name)])
            out[f"kl_per_latent_{z.name}"] = (0.5 * (c / pv - 1 - np.log(d / pv))).tolist()
        dec = [m for m in g.maps("generative") if m.source == z.name]
        norms = np.sqrt(sum(np.sum(values[m.name] ** 2, axis=0) for m in dec)) if dec else np.zeros(z.dim)
        out[f"w_norm_{z.name}"] = np.asarray(norms, dtype=float).tolist()
    scale = np.sqrt(max(_largest_diagonal(cov[(v.name, v.name)]) for v in obs))
    out["active_latents"] = int(sum((np.array(out[f"w_norm_{z.name}"]) > active_rtol * scale).sum()
                                    for z in g.latents()))
    return out


def _largest_diagonal(block: Any) -> float:
    """The largest diagonal entry of a data block (dense, or a structured block of the compiled code)."""
    if isinstance(block, np.ndarray):
        d = np.diagonal(block)
    elif type(block).__name__ == "DiagonalBlock":
        d = block.d
    else:
        d = np.diagonal(block.toarray())
    return float(np.max(d)) if d.size else 0.0
