"""Scale invariance: the same model on data in other units gives the same answers, mapped by the units rule.

Data multiplied by ``c`` with every hyper-parameter that carries data units
multiplied by ``c**-e`` (``e`` its exponent in :mod:`statvae.data.units`:
noise variances ``-1``, decoder weight decays ``+1``, encoder weight decays
``-1``) is the same problem; branch points, kernels, KL and critical values
must agree to 1e-10 relative for ``c = 10**k``, ``k`` in -8..8.  The
reference is the run at ``k = 0``, itself checked against the per-mode
analysis elsewhere (tests/bifurcation/test_properties.py).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import statvae
from statvae.data.units import Units, units_for
from statvae.errors import AnalysisError
from statvae.model.graph import Map, ModelGraph, Variable

_A = np.random.default_rng(1).standard_normal((5, 7))
C0 = _A @ _A.T / 7


def _twoview():
    g = ModelGraph()
    g.add_variable(Variable("x", 3, True, variance="sigma2"))
    g.add_variable(Variable("y", 2, True, variance="tau2"))
    g.add_variable(Variable("z", 2, False))
    for name, s, t, role in [("Wx", "z", "x", "generative"), ("Wy", "z", "y", "generative"),
                             ("Vx", "x", "z", "inference"), ("Vy", "y", "z", "inference")]:
        g.add_map(Map(name, s, t, role))
    return statvae.VAEModel(g)


# name: (model, parameter, its exponent, {other hyper: (value at k = 0, exponent)}, (start, stop) at k = 0)
CASES = {
    "weight decays": (lambda: statvae.LinearVAE(5, 2, weight_decay_dec=0.1, weight_decay_enc=0.2), "sigma2", -1,
                      {"weight_decay_dec": (0.1, 1), "weight_decay_enc": (0.2, -1)}, (3.0, 0.02)),
    "encoder decay": (lambda: statvae.LinearVAE(5, 2, weight_decay_enc=0.2), "weight_decay_enc", -1,
                      {"sigma2": (0.5, -1)}, (3.0, 0.01)),
    "beta": (lambda: statvae.LinearVAE(5, 2), "beta", 0, {"sigma2": (0.5, -1)}, (30.0, 0.05)),
    "conditional": (lambda: statvae.ConditionalVAE(2, 3, 1), "sigma2", -1, {}, (3.0, 0.02)),
    "two correlated views": (_twoview, "sigma2", -1, {"tau2": (10.0, -1)}, (8.0, 0.1)),
}
_REF: dict = {}


def _run(name, k, **opts):
    make, par, e_p, vals, (start, stop) = CASES[name]
    c = 10.0 ** k
    values = {n: v * c ** (-e) for n, (v, e) in vals.items()}
    d = statvae.track(make(), covariance=C0 * c, parameter=par, start=start * c ** (-e_p),
                      stop=stop * c ** (-e_p), values=values, **opts)
    pts = d.special_points("branch point", branch=0)
    return ([s.parameter * c ** e_p for s in pts], [s.kernel_dim for s in pts],
            d.branches[0].data["kl_total"], [s.status for s in pts])


def _reference(name, **opts):
    key = (name, tuple(sorted(opts.items())))
    if key not in _REF:
        _REF[key] = _run(name, 0, **opts)
    return _REF[key]


def _same(got, ref):
    assert got[1] == ref[1]
    assert all(s == "located" for s in got[3])
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-10)
    np.testing.assert_allclose(got[2], ref[2], rtol=1e-8, atol=1e-10)


@settings(max_examples=6, deadline=None)
@given(st.sampled_from(sorted(CASES)), st.integers(-8, 8))
def test_collapsed_branch_is_the_same_in_any_units(name, k):
    _same(_run(name, k, switching=False), _reference(name, switching=False))


@pytest.mark.parametrize("k", [-8, 8])
def test_whole_diagram_at_the_extremes(k):
    """Switching, child branches and their step control too, not only the collapsed branch."""
    make = lambda: statvae.LinearVAE(3, 2)
    spec = np.array([3.0, 2.0, 1.0])
    ref = statvae.track(make(), spectrum=spec, start=4.0, stop=0.5)
    c = 10.0 ** k
    d = statvae.track(make(), spectrum=spec * c, start=4.0 * c, stop=0.5 * c)
    assert len(d.branches) == len(ref.branches) and len(d.points) == len(ref.points)
    for a, b in zip(sorted(ref.points.values(), key=lambda s: (s.branch, s.parameter)),
                    sorted(d.points.values(), key=lambda s: (s.branch, s.parameter))):
        assert (a.kind, a.kernel_dim, a.status) == (b.kind, b.kernel_dim, b.status)
        assert b.parameter == pytest.approx(a.parameter * c, rel=1e-10)
    for bid, b in ref.branches.items():
        np.testing.assert_allclose(d.branches[bid].data["kl_total"], b.data["kl_total"], rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("k", [-8, -3, 3, 8])
def test_pixel_scale_and_cli_scale_examples(k):
    """The failures reported in issue 8: large and small units find every threshold."""
    spec = np.array([3.0, 2.0, 1.0]) * 10.0 ** k
    d = statvae.track(statvae.LinearVAE(3, 2), spectrum=spec, start=4 * 10.0 ** k, stop=0.5 * 10.0 ** k,
                      switching=False)
    got = [s.parameter for s in d.special_points("branch point", branch=0)]
    np.testing.assert_allclose(got, sorted(spec), rtol=1e-12)


@settings(max_examples=6, deadline=None)
@given(st.sampled_from(sorted(CASES)), st.integers(-8, 8))
def test_critical_and_crossings_are_the_same_in_any_units(name, k):
    make, par, e_p, vals, _ = CASES[name]
    out = []
    for kk in (0, k):
        c = 10.0 ** kk
        values = {n: v * c ** (-e) for n, (v, e) in vals.items()}
        a = make().collapse()
        try:
            crit = a.critical(par, covariance=C0 * c, **values).value * c ** e_p
        except AnalysisError as exc:
            crit = str(exc)
        cross = [(r.value * c ** e_p, r.kernel_dim) for r in a.crossings(par, covariance=C0 * c, **values)]
        out.append((crit, cross))
    (c0, x0), (c1, x1) = out
    if isinstance(c0, str):
        assert c1 == c0
    else:
        assert c1 == pytest.approx(c0, rel=1e-10)
    assert [n for _, n in x1] == [n for _, n in x0]
    np.testing.assert_allclose([v for v, _ in x1], [v for v, _ in x0], rtol=1e-10)


def test_units_rule():
    m = statvae.LinearVAE(4, 2, weight_decay_dec=0.1, weight_decay_enc=0.2)
    u = units_for(m, 3000.0)
    assert u.scale == 3000.0
    assert u.hyper == {"sigma2": -1, "beta": 0, "prior_variance": 0, "weight_decay_dec": 1, "weight_decay_enc": -1}
    f = u.theta_factors(m)
    lay = m.compile().layout
    assert np.allclose(f[lay.by_name["W"].slice], 3000.0 ** -0.5)
    assert np.allclose(f[lay.by_name["V"].slice], 3000.0 ** 0.5)
    assert np.allclose(f[lay.by_name["D"].slice], 1.0)
    assert units_for(m, 1.0).identity and units_for(m, 0.0).identity and units_for(m, np.inf).identity
    assert Units.from_dict(u.to_dict()) == u


def test_a_hyper_parameter_with_two_units_keeps_the_user_units():
    g = ModelGraph()
    g.add_variable(Variable("x", 3, True, variance="sigma2"))
    g.add_variable(Variable("z", 2, False, variance="sigma2"))  # the latent's prior variance, by the same name
    g.add_map(Map("W", "z", "x", "generative"))
    g.add_map(Map("V", "x", "z", "inference"))
    u = units_for(statvae.VAEModel(g), 1e6)
    assert u.identity and "sigma2" in u.reason


def test_the_units_rule_is_checked_on_the_compiled_objective(monkeypatch):
    """A wrong exponent is caught by the gradient self-check, never used."""
    from statvae.bifurcation.problem import ContinuationProblem

    m = statvae.LinearVAE(3, 2)
    u = units_for(m, 1e4)
    bad = Units(u.scale, {**u.hyper, "sigma2": 0})
    with pytest.raises(AnalysisError, match="self-check failed"):
        ContinuationProblem(m, {"x": np.array([3e4, 2e4, 1e4])}, "beta", {"sigma2": 5e3}, units=bad)


@pytest.mark.parametrize("along, e_a, arange", [("beta", 0, (0.5, 20.0)), ("weight_decay_dec", 1, (0.0, 0.5))])
def test_phase_loci_are_the_same_in_any_units(along, e_a, arange):
    """The continuation of a branch point in a second parameter, including the default 30 steps over a wide
    range of beta (the extrapolation used to leave the domain: "sigma2 must be > 0")."""
    from statvae.bifurcation.phase import branch_point_loci

    spec = np.array([3.0, 2.0, 1.0])
    out = []
    for k in (0, -8, 8):
        c = 10.0 ** k
        ph = branch_point_loci(statvae.LinearVAE(3, 2), spectrum=spec * c, start=8.0 * c, stop=0.01 * c,
                               along=along, along_start=arange[0] * c ** (-e_a),
                               along_stop=arange[1] * c ** (-e_a), loci=2)
        out.append([(loc["along"] * c ** e_a, loc["parameter"] / c) for loc in ph.loci])
    for other in out[1:]:
        assert len(other) == len(out[0]) == 2
        for (a0, p0), (a1, p1) in zip(out[0], other):
            np.testing.assert_allclose(a1, a0, rtol=1e-12, atol=1e-300)
            np.testing.assert_allclose(p1, p0, rtol=1e-10)
    if along == "beta":  # sigma2* = lambda_max / beta on the first locus (the seed paper's criterion)
        a0, p0 = out[0][0]
        np.testing.assert_allclose(p0, 3.0 / a0, rtol=1e-10)
        assert len(a0) == 30 and a0[-1] == 20.0
