"""The tracker against problems with known answers: normal forms, a diagonal operator, linear VAEs."""

import numpy as np
import pytest

import statvae
from problems import DiagonalOperator, Fold, Pitchfork, Transcritical
from statvae.bifurcation.api import run_tracker
from statvae.bifurcation.continuation import ContinuationOptions


def run(problem, theta0, start, stop, **kw):
    opts = ContinuationOptions(p_min=min(start, stop), p_max=max(start, stop), **kw)
    return run_tracker(problem, np.asarray(theta0, float), start, stop, opts)


def test_pitchfork():
    d = run(Pitchfork(), [0.0], -1.0, 1.0)
    (bp,) = d.special_points("branch point", branch=0)
    assert abs(bp.parameter) < 1e-10 and bp.kernel_dim == 1 and bp.status == "located"
    assert bp.info["classification"] == "pitchfork"
    child = d.children(bp.id)[0]
    x2 = child.data["kl_total"]  # x^2
    np.testing.assert_allclose(x2[1:], child.parameter[1:], rtol=1e-9)
    assert child.stable[1:].all() and not d.branches[0].stable[d.branches[0].parameter > 1e-9].any()
    assert abs(bp.info["exponents"]["order_parameter"] - 0.5) < 1e-3


def test_transcritical():
    d = run(Transcritical(), [0.0], -1.0, 1.0)
    bps = d.special_points("branch point", branch=0)
    assert len(bps) == 1 and abs(bps[0].parameter) < 1e-10
    assert bps[0].info["classification"] == "transcritical"
    child = d.children(bps[0].id)[0]
    x = np.sqrt(child.data["kl_total"]) * np.sign(child.parameter)
    np.testing.assert_allclose(x[1:], child.parameter[1:], rtol=1e-8, atol=1e-12)


def test_fold():
    d = run(Fold(), [1.0], 1.0, -1.0)
    folds = d.special_points("fold")
    assert len(folds) == 1 and abs(folds[0].parameter) < 1e-10
    b = d.branches[0]
    assert b.parameter.min() >= -1e-12  # the branch turns back at the fold
    assert b.stable[0] and not b.stable[-1]


@pytest.mark.parametrize("mults", [(1, 2, 3, 4, 5), (3, 1)])
def test_diagonal_operator_multiplicities(mults):
    prob = DiagonalOperator(mults)
    d = run(prob, np.zeros(sum(mults)), 0.0, len(mults) + 0.5)
    bps = d.special_points("branch point", branch=0)
    assert [round(s.parameter, 10) for s in bps] == [float(k + 1) for k in range(len(mults))]
    assert [s.kernel_dim for s in bps] == list(mults)
    assert all(s.precision < 1e-12 for s in bps)
    for s in bps:  # one emanating branch per eigen-group, up to the group's symmetry
        kids = d.children(s.id)
        assert len(kids) == 1
        k = kids[0]
        np.testing.assert_allclose(k.data["kl_total"][1:], k.parameter[1:] - s.parameter, rtol=1e-8)
        assert s.index_change == s.kernel_dim


@pytest.mark.parametrize("encoder", ["diagonal", "full", "isotropic", 0.8])
def test_linear_vae_branch_points_match_symbolic(encoder):
    model = statvae.LinearVAE(4, 3, encoder=encoder, beta=1.3)
    spectrum = [3.0, 2.0, 2.0, 0.7]
    d = statvae.track(model, spectrum=spectrum, start=5.0, stop=0.3, depth=1)
    bps = d.special_points("branch point", branch=0)
    expect = [(c.value, c.kernel_dim) for c in model.collapse().crossings("sigma2", spectrum=spectrum)]
    assert [(round(s.parameter, 9), s.kernel_dim) for s in bps] == [(round(v, 9), k) for v, k in expect]
    for s, (v, k) in zip(bps, expect):
        assert abs(s.parameter - v) <= 1e-10 * v and s.status == "located"
        assert abs(s.index_change) == s.kernel_dim


def test_weight_decay_thresholds_come_from_the_symbolic_layer():
    model = statvae.LinearVAE(3, 2, weight_decay_enc=0.2, weight_decay_dec=0.1, beta=0.9)
    spectrum = [2.5, 1.2, 0.6]
    d = statvae.track(model, spectrum=spectrum, start=4.0, stop=0.1, depth=0)
    got = [(s.parameter, s.kernel_dim) for s in d.special_points("branch point", branch=0)]
    expect = [(c.value, c.kernel_dim) for c in model.collapse().crossings("sigma2", spectrum=spectrum)]
    assert len(got) == len(expect)
    for (g, kg), (e, ke) in zip(got, expect):
        assert abs(g - e) <= 1e-10 * e and kg == ke
    # the symbolic critical value is where the tracker's collapsed branch loses stability
    crit = model.collapse().critical("sigma2", spectrum=spectrum).value
    assert [s for s in d.special_points("branch point", branch=0) if s.info["stability_change"]][0].parameter \
        == pytest.approx(crit, rel=1e-10)


def test_hierarchical_and_beta_continuation():
    model = statvae.HierarchicalVAE(3, (2, 1), betas=(None, 2.0), sigma2=1.0)
    d = statvae.track(model, spectrum=[2.0, 1.5, 0.5], parameter="beta1", start=0.2, stop=1.9, depth=0)
    expect = [(c.value, c.kernel_dim) for c in model.collapse().crossings("beta1", spectrum=[2.0, 1.5, 0.5], sigma2=1.0)
              if 0.2 < c.value < 1.9]
    got = [(s.parameter, s.kernel_dim) for s in d.special_points("branch point", branch=0)]
    assert [k for _, k in got] == [k for _, k in expect]
    for (g, _), (e, _) in zip(got, expect):
        assert abs(g - e) <= 1e-10 * e


def test_conditional_without_canonical_basis_tracks_in_the_raw_basis():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 4))
    cov = a @ a.T
    model = statvae.ConditionalVAE(2, 2, 1, weight_decay_enc=0.3)
    d = statvae.track(model, covariance=cov, start=2.0, stop=0.01)
    got = [(s.parameter, s.kernel_dim) for s in d.special_points("branch point", branch=0)]
    expect = [(c.value, c.kernel_dim) for c in model.collapse().crossings("sigma2", covariance=cov)]
    assert [k for _, k in got] == [k for _, k in expect]
    np.testing.assert_allclose([g for g, _ in got], [e for e, _ in expect], rtol=1e-10)
