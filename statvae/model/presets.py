"""Preset model descriptions: thin functions that build a :class:`ModelGraph`.

Each preset only lays out variables and maps; every formula is derived
later by the symbolic layer from the graph.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import sympy as sp

from ..errors import ModelError
from ..validate import show
from .graph import ENCODER_KINDS, Map, ModelGraph, Variable, check_dim
from .vae import Model

__all__ = ["LinearVAE", "ConditionalVAE", "HierarchicalVAE", "parse_encoder"]


def parse_encoder(encoder: Any, level: str = "") -> tuple[str, object]:
    """Normalise an encoder option.

    Parameters
    ----------
    encoder : str, float or sympy expression
        A kind (``"diagonal"``, ``"full"``, ``"isotropic"``, ``"fixed"``),
        ``"fixed:VALUE"``, or a fixed encoder variance (a positive number or a
        sympy expression).
    level : str, optional
        Suffix of ``encoder`` in the error message (``"1"`` for level 1).

    Returns
    -------
    tuple
        ``(kind, fixed_value)``: ``kind`` is one of
        ``diagonal/full/isotropic/fixed``; ``fixed_value`` is the fixed encoder
        variance (a number, a sympy expression, or ``None`` for a free symbol)
        when ``kind == "fixed"``, else ``None``.

    Raises
    ------
    ModelError
        For an unknown kind or a fixed variance that is no finite positive number.

    Examples
    --------
    >>> parse_encoder("full")
    ('full', None)
    >>> parse_encoder(0.5)
    ('fixed', 0.5)
    >>> parse_encoder("fixed:2")
    ('fixed', 2.0)
    """
    if isinstance(encoder, sp.Basic):
        return "fixed", encoder
    if isinstance(encoder, numbers.Real) and not isinstance(encoder, bool):
        if not (float(encoder) > 0 and float(encoder) < float("inf")):
            raise ModelError(f"a fixed encoder variance must be a finite number > 0, got {encoder!r}")
        return "fixed", encoder
    if isinstance(encoder, str):
        e = encoder.strip().lower()
        if e.startswith("fixed:"):
            try:
                val = float(e.split(":", 1)[1])
            except ValueError:
                raise ModelError(f"fixed encoder variance must be a number, got {encoder!r}") from None
            return parse_encoder(val, level)
        if e in ENCODER_KINDS:
            return e, None
    raise ModelError(
        f"encoder{level} must be one of diagonal, full, isotropic, fixed, fixed:VALUE or a positive number, "
        f"got {encoder!r}"
    )


def _decoder_variance(option) -> str:
    if option not in ("fixed", "learned"):
        raise ModelError(f"decoder_variance must be 'fixed' or 'learned', got {option!r}")
    return "sigma2" if option == "fixed" else "learned"


def _set_sigma2(values: dict, dv: str, sigma2) -> None:
    """``sigma2`` is a hyper-parameter for a fixed decoder variance, a parameter when learned."""
    if dv == "sigma2":
        values["sigma2"] = sigma2
    elif sigma2 is not None:
        raise ModelError("sigma2 is a free parameter when decoder_variance='learned'; do not give it a value")


def _latent(name, dim, latex, index, variance, encoder, beta, cov, ev_name, dim_latex="n"):
    kind, fixed = parse_encoder(encoder, "" if not name[-1].isdigit() else name[-1])
    var = Variable(
        name, check_dim(name, dim), False, latex, index, variance=variance, encoder=kind,
        encoder_variance=ev_name if kind == "fixed" else None, beta=beta, covariance_name=cov,
        dim_latex=dim_latex,
    )
    return var, ({ev_name: fixed} if kind == "fixed" else {})


def LinearVAE(
    data_dim: int,
    latent_dim: int,
    *,
    encoder: str | float | sp.Expr = "diagonal",
    decoder_variance: str = "fixed",
    beta: float | sp.Expr | None = 1,
    prior_variance: float | sp.Expr | None = 1,
    weight_decay_enc: float | sp.Expr | None = 0,
    weight_decay_dec: float | sp.Expr | None = 0,
    sigma2: float | sp.Expr | None = None,
) -> Model:
    """The linear VAE of the seed paper.

    Encoder ``q(z|x) = N(V x, D)``, decoder ``p(x|z) = N(W z, sigma'^2 I)``,
    prior ``N(0, prior_variance I)``, objective ``E log p(x|z) - beta KL -
    weight decay``.  Data are centred; biases sit at their optimum.

    Parameters
    ----------
    data_dim, latent_dim : int
        ``N`` and ``n`` (``n > N`` is allowed: extra latents stay collapsed).
    encoder : {"diagonal", "full", "isotropic", "fixed"} or float
        Encoder covariance ``D``; a positive number fixes ``D = d0 I``.
    decoder_variance : {"fixed", "learned"}
        ``sigma'^2`` a hyper-parameter, or a free parameter.
    beta, prior_variance, weight_decay_enc, weight_decay_dec, sigma2 : number, sympy expression or None
        Hyper-parameter values; ``None`` leaves the symbol free.  ``sigma2``
        is free by default.

    Returns
    -------
    Model
        The model (:func:`statvae.LinearVAE` returns it as a :class:`statvae.VAEModel`).

    Raises
    ------
    ModelError
        For a bad dimension, option or value.

    Examples
    --------
    >>> m = LinearVAE(4, 2, beta=2)
    >>> m.dims
    {'x': 4, 'z': 2}
    """
    g = ModelGraph()
    dv = _decoder_variance(decoder_variance)
    g.add_variable(Variable("x", check_dim("data_dim", data_dim), True, "x", "i", variance=dv, spectrum_latex=r"\xi",
                            dim_latex="N", covariance_latex=r"\Sigma"))
    z, extra = _latent("z", check_dim("latent_dim", latent_dim), "z", "j", "prior_variance", encoder, "beta", "D",
                       "encoder_variance")
    g.add_variable(z)
    g.add_map(Map("W", "z", "x", "generative", "weight_decay_dec"))
    g.add_map(Map("V", "x", "z", "inference", "weight_decay_enc"))
    values = dict(beta=beta, prior_variance=prior_variance, weight_decay_enc=weight_decay_enc,
                  weight_decay_dec=weight_decay_dec, **extra)
    _set_sigma2(values, dv, sigma2)
    return Model(g, values, kind="linear")


def ConditionalVAE(
    x_dim: int,
    y_dim: int,
    latent_dim: int,
    *,
    encoder: str | float | sp.Expr = "diagonal",
    decoder_variance: str = "fixed",
    beta: float | sp.Expr | None = 1,
    prior_variance: float | sp.Expr | None = 1,
    weight_decay_enc: float | sp.Expr | None = 0,
    weight_decay_dec: float | sp.Expr | None = 0,
    sigma2: float | sp.Expr | None = None,
) -> Model:
    """Conditional linear VAE.

    Encoder ``q(z|x,y) = N(A x + B y, D)``, decoder ``p(y|z,x) = N(W z + C x,
    sigma'^2 I)``, prior ``N(0, prior_variance I)``.  Data enter through the
    joint covariance of ``(x, y)``, ``x`` first.  Weight decay on the encoder
    acts on ``A`` and ``B``, on the decoder on ``W``; the direct map ``C``
    (a regression of ``y`` on ``x``) is not decayed.

    Parameters
    ----------
    x_dim, y_dim, latent_dim : int
        Dimensions of the input ``x``, the output ``y`` and the latent ``z``.
    encoder : {"diagonal", "full", "isotropic", "fixed"} or float
        Encoder covariance ``D``; a positive number fixes ``D = d0 I``.
    decoder_variance : {"fixed", "learned"}
        ``sigma'^2`` a hyper-parameter, or a free parameter.
    beta, prior_variance, weight_decay_enc, weight_decay_dec, sigma2 : number, sympy expression or None
        Hyper-parameter values; ``None`` leaves the symbol free.  ``sigma2``
        is free by default.

    Returns
    -------
    Model
        The model.

    Raises
    ------
    ModelError
        For a bad dimension, option or value.

    Examples
    --------
    >>> ConditionalVAE(2, 3, 1).dims
    {'x': 2, 'y': 3, 'z': 1}
    """
    g = ModelGraph()
    dv = _decoder_variance(decoder_variance)
    g.add_variable(Variable("x", check_dim("x_dim", x_dim), True, "x", "k", spectrum_latex=r"\mu",
                            dim_latex="N_{x}", covariance_latex=r"\Sigma_{xx}"))
    g.add_variable(Variable("y", check_dim("y_dim", y_dim), True, "y", "i", variance=dv, spectrum_latex=r"\xi",
                            dim_latex="N_{y}", covariance_latex=r"\Sigma_{y|x}"))
    z, extra = _latent("z", check_dim("latent_dim", latent_dim), "z", "j", "prior_variance", encoder, "beta", "D",
                       "encoder_variance")
    g.add_variable(z)
    g.add_map(Map("A", "x", "z", "inference", "weight_decay_enc"))
    g.add_map(Map("B", "y", "z", "inference", "weight_decay_enc"))
    g.add_map(Map("W", "z", "y", "generative", "weight_decay_dec"))
    g.add_map(Map("C", "x", "y", "generative", None))
    values = dict(beta=beta, prior_variance=prior_variance, weight_decay_enc=weight_decay_enc,
                  weight_decay_dec=weight_decay_dec, **extra)
    _set_sigma2(values, dv, sigma2)
    return Model(g, values, kind="conditional")


def HierarchicalVAE(
    data_dim: int,
    latent_dims: Sequence[int] = (1, 1),
    *,
    betas: Sequence[float | sp.Expr | None] = (1, 1),
    encoders: Sequence[str | float | sp.Expr] = ("diagonal", "diagonal"),
    tau2: float | sp.Expr | None = 1,
    decoder_variance: str = "fixed",
    prior_variance: float | sp.Expr | None = 1,
    weight_decay_enc: float | sp.Expr | None = 0,
    weight_decay_dec: float | sp.Expr | None = 0,
    sigma2: float | sp.Expr | None = None,
) -> Model:
    """Two-level hierarchical linear VAE.

    ``p(z2) = N(0, prior_variance I)``, ``p(z1|z2) = N(U2 z2, tau2 I)``,
    ``p(x|z1) = N(U1 z1, sigma'^2 I)``; ``q(z1|x) = N(W1 x, D1)``,
    ``q(z2|z1) = N(W2 z1, D2)``.  Objective ``E_q[log p(x|z1) + beta1 (log
    p(z1|z2) - log q(z1|x)) + beta2 (log p(z2) - log q(z2|z1))]`` minus
    weight decay on encoder maps (W1, W2) and decoder maps (U1, U2).

    Parameters
    ----------
    data_dim : int
        Dimension ``N`` of ``x``.
    latent_dims : pair of int
        Dimensions of ``z1`` and ``z2``.
    betas : pair of number, sympy expression or None
        KL weights ``beta1`` and ``beta2``.
    encoders : pair of str or float
        Encoder covariances ``D1`` and ``D2`` (as ``encoder`` of :func:`LinearVAE`).
    tau2, prior_variance, weight_decay_enc, weight_decay_dec, sigma2 : number, sympy expression or None
        Hyper-parameter values; ``None`` leaves the symbol free.  ``sigma2``
        is free by default.
    decoder_variance : {"fixed", "learned"}
        ``sigma'^2`` a hyper-parameter, or a free parameter.

    Returns
    -------
    Model
        The model.

    Raises
    ------
    ModelError
        For a bad dimension, pair, option or value.

    Examples
    --------
    >>> HierarchicalVAE(4, (2, 1)).dims
    {'x': 4, 'z1': 2, 'z2': 1}
    """
    pairs: list[tuple[Any, ...]] = []
    for label, seq in (("latent_dims", latent_dims), ("betas", betas), ("encoders", encoders)):
        if (isinstance(seq, (str, bytes, Mapping, set, frozenset)) or not isinstance(seq, Sequence | np.ndarray)
                or len(seq) != 2):
            raise ModelError(f"{label} must be a pair (level 1, level 2), got {show(seq)}")
        pairs.append(tuple(seq))
    latent_dims, betas, encoders = pairs
    g = ModelGraph()
    dv = _decoder_variance(decoder_variance)
    g.add_variable(Variable("x", check_dim("data_dim", data_dim), True, "x", "i", variance=dv, spectrum_latex=r"\xi",
                            dim_latex="N", covariance_latex=r"\Sigma"))
    z1, e1 = _latent("z1", check_dim("latent_dims[0]", latent_dims[0]), "z_{1}", "j", "tau2", encoders[0], "beta1",
                     "D1", "encoder_variance1", "n_{1}")
    z2, e2 = _latent("z2", check_dim("latent_dims[1]", latent_dims[1]), "z_{2}", "k", "prior_variance", encoders[1],
                     "beta2", "D2", "encoder_variance2", "n_{2}")
    g.add_variable(z1)
    g.add_variable(z2)
    g.add_map(Map("U1", "z1", "x", "generative", "weight_decay_dec"))
    g.add_map(Map("U2", "z2", "z1", "generative", "weight_decay_dec"))
    g.add_map(Map("W1", "x", "z1", "inference", "weight_decay_enc"))
    g.add_map(Map("W2", "z1", "z2", "inference", "weight_decay_enc"))
    values = dict(beta1=betas[0], beta2=betas[1], tau2=tau2, prior_variance=prior_variance,
                  weight_decay_enc=weight_decay_enc, weight_decay_dec=weight_decay_dec, **e1, **e2)
    _set_sigma2(values, dv, sigma2)
    return Model(g, values, kind="hierarchical")
