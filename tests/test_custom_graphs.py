"""Custom graphs where the per-variable reduction fails: statvae against closed forms and the reference.

The two silent wrong answers of issue 7, and their neighbours:

* two correlated views sharing a latent: the threshold is the root of
  ``lambda_max(L^-1/2 C L^-1/2) = beta`` with ``L = diag(sigma2_x I, sigma2_y I)``;
* a decoder bias from a constant input with an encoder that does not read
  it: ``s beta > lambda_max`` of the pencil ``(S^2, E[y y^T])``, ``S`` the
  centred covariance;
* a conditional VAE whose encoder ignores x: the same with the residual
  covariance of y given x.

Closed forms are computed here with numpy/scipy from the data (not by
statvae), and every case is also checked against the independent
finite-difference reference ``tests/graph_reference.py``, through
``critical()``, ``stable()``, ``crossings()`` and ``track()``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import linalg
from scipy.optimize import brentq

import graph_reference as gr
import reference as ref
import statvae
from statvae.model.graph import Map, ModelGraph, Variable
from statvae.analysis.collapse import CollapseAnalysis


def _random_cov(k, seed, scale=1.0):
    a = np.random.default_rng(seed).standard_normal((k, k + 1))
    return a @ a.T / (k + 1) * scale


def two_views():
    g = ModelGraph()
    g.add_variable(Variable("x", 3, True, variance="sigma2_x"))
    g.add_variable(Variable("y", 2, True, variance="sigma2_y"))
    g.add_variable(Variable("z", 1, False))
    g.add_map(Map("Wx", "z", "x", "generative"))
    g.add_map(Map("Wy", "z", "y", "generative"))
    g.add_map(Map("Vx", "x", "z", "inference"))
    g.add_map(Map("Vy", "y", "z", "inference"))
    return statvae.VAEModel(g)


def two_views_spec(sx, sy, beta=1.0):
    return {"hyper": {"sx": sx, "sy": sy, "beta": beta},
            "variables": [{"name": "x", "dim": 3, "observed": True, "variance": "sx"},
                          {"name": "y", "dim": 2, "observed": True, "variance": "sy"},
                          {"name": "z", "dim": 1, "observed": False, "variance": 1.0, "encoder": "diagonal",
                           "beta": "beta"}],
            "maps": [{"name": "Wx", "source": "z", "target": "x", "role": "generative"},
                     {"name": "Wy", "source": "z", "target": "y", "role": "generative"},
                     {"name": "Vx", "source": "x", "target": "z", "role": "inference"},
                     {"name": "Vy", "source": "y", "target": "z", "role": "inference"}]}


def ref_unstable(spec, S):
    """True/False: the reference finds an ascent direction at the collapsed point."""
    spec_ = ref.collapsed_spectrum(gr.GraphProblem(spec, S))
    g = ref._max_eig_without_zero_modes(spec_, ref.count_zero_modes(spec_), True)
    assert abs(g) > 1e-10 * spec_["magnitude"]
    return g > 0


@pytest.mark.parametrize("scale", [1.0, 1e-6, 1e6])
def test_two_correlated_views(scale):
    C = _random_cov(5, 3, scale)
    sy = 1.5 * np.linalg.eigvalsh(C[3:, 3:]).max()
    L = lambda s: np.diag(1 / np.sqrt([s] * 3 + [sy] * 2))
    top = lambda s: np.linalg.eigvalsh(L(s) @ C @ L(s)).max() - 1.0
    a = two_views().collapse()
    crit = a.critical("sigma2_x", covariance=C, sigma2_y=sy).value
    expected = brentq(top, 1e-9 * scale, 1e9 * scale, xtol=1e-300, rtol=1e-15)
    assert crit == pytest.approx(expected, rel=1e-10)
    # the per-view eigenvalue the old reduction returned is not the threshold, and stable() knows it
    per_view = np.linalg.eigvalsh(C[:3, :3]).max()
    between = (per_view + crit) / 2 if top((per_view + crit) / 2) > 0 else None
    if between is not None:
        assert not a.stable(covariance=C, sigma2_x=between, sigma2_y=sy)
    assert a.stable(covariance=C, sigma2_x=crit * 1.001, sigma2_y=sy)
    assert not a.stable(covariance=C, sigma2_x=crit * 0.999, sigma2_y=sy)
    # the independent reference on both sides
    assert ref_unstable(two_views_spec(crit * (1 - 1e-6), sy), C)
    assert not ref_unstable(two_views_spec(crit * (1 + 1e-6), sy), C)
    # the criterion states what it assumes, and the data check says it fails here
    from statvae.cli.render import text
    assert "for Σ_xy = 0" in text(a.criterion)
    assert r"\text{for } \Sigma_{xy} = 0" in statvae.latex(a.criterion)
    assert not a.data_form(covariance=C).valid


def test_two_views_track_and_crossings_agree():
    C = _random_cov(5, 4)
    m = two_views()
    cr = m.collapse().crossings("sigma2_x", covariance=C, sigma2_y=2 * np.trace(C))
    d = statvae.track(m, covariance=C, parameter="sigma2_x", start=30 * np.trace(C), stop=1e-3, values={"sigma2_y": 2 * np.trace(C)},
                      depth=0)
    pts = [s.parameter for s in d.special_points("branch point", branch=0)]
    assert len(pts) == len(cr)
    assert np.allclose(sorted(pts), [c.value for c in cr], rtol=1e-9)
    assert "confirmed" in d.meta["self_check"]
    assert "latent flips only" in d.meta["basis"]


def bias_model(encoder="diagonal", reads_constant=False):
    g = ModelGraph()
    g.add_variable(Variable("c", 1, True))
    g.add_variable(Variable("y", 3, True, variance="s"))
    g.add_variable(Variable("z", 2, False, encoder=encoder))
    g.add_map(Map("b", "c", "y", "generative"))
    g.add_map(Map("W", "z", "y", "generative"))
    g.add_map(Map("V", "y", "z", "inference"))
    if reads_constant:
        g.add_map(Map("a", "c", "z", "inference"))
    return statvae.VAEModel(g, {"s": None})


def bias_data(seed=5, scale=1.0):
    rng = np.random.default_rng(seed)
    cov = _random_cov(3, seed, scale)
    m = rng.standard_normal(3) * np.sqrt(scale)
    S = np.zeros((4, 4))
    S[0, 0] = 1.0
    S[0, 1:] = S[1:, 0] = m
    S[1:, 1:] = cov + np.outer(m, m)
    return S, cov


@pytest.mark.parametrize("encoder", ["diagonal", "full", "isotropic"])
@pytest.mark.parametrize("scale", [1.0, 1e-4, 1e4])
def test_decoder_bias_with_encoder_blind_to_the_constant(encoder, scale):
    S, cov = bias_data(scale=scale)
    beta = 1.3
    expected = linalg.eigvalsh(cov @ cov, S[1:, 1:]).max() / beta
    a = bias_model(encoder).collapse()
    crit = a.critical("s", covariance=S, beta=beta).value
    assert crit == pytest.approx(expected, rel=1e-10)
    assert crit != pytest.approx(np.linalg.eigvalsh(cov).max() / beta, rel=1e-3)  # the old, wrong answer
    # when the encoder also reads the constant it can absorb the mean: the centred spectrum decides
    b = bias_model(encoder, reads_constant=True).collapse()
    assert b.data_form(covariance=S).valid
    assert b.critical("s", covariance=S, beta=beta).value == pytest.approx(np.linalg.eigvalsh(cov).max() / beta, rel=1e-10)


def test_conditional_vae_whose_encoder_ignores_x():
    g = ModelGraph()
    g.add_variable(Variable("x", 2, True))
    g.add_variable(Variable("y", 3, True, variance="sigma2"))
    g.add_variable(Variable("z", 1, False))
    g.add_map(Map("C", "x", "y", "generative"))
    g.add_map(Map("W", "z", "y", "generative"))
    g.add_map(Map("B", "y", "z", "inference"))
    model = statvae.VAEModel(g)
    S = _random_cov(5, 8)
    sxx, sxy, syy = S[:2, :2], S[:2, 2:], S[2:, 2:]
    resid = syy - sxy.T @ np.linalg.solve(sxx, sxy)
    expected = linalg.eigvalsh(resid @ resid, syy).max()
    a = model.collapse()
    assert a.critical("sigma2", covariance=S).value == pytest.approx(expected, rel=1e-10)
    spec = {"hyper": {"s": 1.0},
            "variables": [{"name": "x", "dim": 2, "observed": True, "variance": None},
                          {"name": "y", "dim": 3, "observed": True, "variance": "s"},
                          {"name": "z", "dim": 1, "observed": False, "variance": 1.0, "encoder": "diagonal"}],
            "maps": [{"name": "C", "source": "x", "target": "y", "role": "generative"},
                     {"name": "W", "source": "z", "target": "y", "role": "generative"},
                     {"name": "B", "source": "y", "target": "z", "role": "inference"}]}
    spec["hyper"]["s"] = expected * (1 - 1e-6)
    assert ref_unstable(spec, S)
    spec["hyper"]["s"] = expected * (1 + 1e-6)
    assert not ref_unstable(spec, S)
    # the preset, whose encoder reads x too, is exact with the residual spectrum
    cond = statvae.ConditionalVAE(2, 3, 1)
    assert cond.collapse().critical("sigma2", covariance=S).value == pytest.approx(np.linalg.eigvalsh(resid).max(),
                                                                               rel=1e-10)


def test_two_latent_groups_with_their_own_betas_and_a_second_level():
    g = ModelGraph()
    g.add_variable(Variable("x", 3, True, variance="sigma2"))
    g.add_variable(Variable("y", 2, True, variance="sigma2"))
    g.add_variable(Variable("z1", 2, False, beta="beta_1", variance="tau2"))
    g.add_variable(Variable("z2", 1, False, beta="beta_2"))
    g.add_variable(Variable("u", 1, False, beta="beta_u"))
    g.add_map(Map("W1", "z1", "x", "generative"))
    g.add_map(Map("V1", "x", "z1", "inference"))
    g.add_map(Map("W2", "z2", "y", "generative"))
    g.add_map(Map("V2", "x", "z2", "inference"))
    g.add_map(Map("V2y", "y", "z2", "inference"))
    g.add_map(Map("U", "u", "z1", "generative"))
    g.add_map(Map("R", "z1", "u", "inference"))
    model = statvae.VAEModel(g, {"beta_1": 1.0, "beta_2": 0.7, "beta_u": 1.5})
    S = _random_cov(5, 9)
    a = model.collapse()
    pts = a.critical_points("sigma2", covariance=S)
    spec = {"hyper": {"s": 1.0},
            "variables": [{"name": "x", "dim": 3, "observed": True, "variance": "s"},
                          {"name": "y", "dim": 2, "observed": True, "variance": "s"},
                          {"name": "z1", "dim": 2, "observed": False, "variance": 1.0, "encoder": "diagonal",
                           "beta": 1.0},
                          {"name": "z2", "dim": 1, "observed": False, "variance": 1.0, "encoder": "diagonal",
                           "beta": 0.7},
                          {"name": "u", "dim": 1, "observed": False, "variance": 1.0, "encoder": "diagonal",
                           "beta": 1.5}],
            "maps": [{"name": "W1", "source": "z1", "target": "x", "role": "generative"},
                     {"name": "V1", "source": "x", "target": "z1", "role": "inference"},
                     {"name": "W2", "source": "z2", "target": "y", "role": "generative"},
                     {"name": "V2", "source": "x", "target": "z2", "role": "inference"},
                     {"name": "V2y", "source": "y", "target": "z2", "role": "inference"},
                     {"name": "U", "source": "u", "target": "z1", "role": "generative"},
                     {"name": "R", "source": "z1", "target": "u", "role": "inference"}]}
    for p in pts:
        for side, rel in (("below", 1 - 1e-6), ("above", 1 + 1e-6)):
            spec["hyper"]["s"] = p.value * rel
            assert ref_unstable(spec, S) == (side != p.stable_side)


def test_self_check_catches_a_wrong_block():
    """Inject an error into the per-mode blocks: critical(), crossings() and stable() must refuse to answer."""
    model = statvae.LinearVAE(3, 2)
    good = model.collapse()
    st = good.structure
    blocks = list(st.blocks)
    k = next(i for i, b in enumerate(blocks) if b.touches_latent)
    wrong = blocks[k].matrix.copy()
    wrong[0, 1] = wrong[1, 0] = wrong[0, 1] * 1.1  # a 10% error in the coupling
    blocks[k] = dataclasses.replace(blocks[k], matrix=wrong)
    bad = CollapseAnalysis(model, dataclasses.replace(st, blocks=blocks))
    spec = [3.0, 2.0, 1.0]
    assert good.critical("sigma2", spectrum=spec).value == 3.0
    with pytest.raises(statvae.AnalysisError, match=r"self-check failed.*3\.63.*compiled Hessian"):
        bad.critical("sigma2", spectrum=spec)
    with pytest.raises(statvae.AnalysisError, match="self-check failed"):
        bad.crossings("sigma2", spectrum=spec)
    with pytest.raises(statvae.AnalysisError, match="self-check failed"):
        bad.stable(spectrum=spec, sigma2=3.3)   # wrong block: 1 ascent direction; compiled: none
    assert good.stable(spectrum=spec, sigma2=3.3)


def test_custom_names_print_in_latex_and_text():
    m = two_views()
    tex = statvae.latex(m.objective("matrix"))
    assert "None" not in tex and r"\mathrm{" not in tex
    assert r"W_{x}" in tex and r"\sigma_{x}^{2}" in tex and r"\Sigma_{xy}" in tex
    blocks = m.collapse().blocks
    assert any(r"\left(W_{x}\right)_{" in lab for b in blocks for lab in b.labels)
    assert r"\xi_{x,i}^{2}" in statvae.latex(m.collapse().criterion)
