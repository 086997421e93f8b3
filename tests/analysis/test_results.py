"""Typed answers of the collapse analysis: fields, status, brackets, save/load, the one vocabulary."""

import json
import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import statvae
from statvae.analysis import CriticalResult, CrossingResult, ResultStatus
from statvae.errors import DataError, ModelError

spectra = st.lists(st.floats(0.05, 20.0), min_size=2, max_size=5, unique=True).map(lambda v: sorted(v, reverse=True))


@settings(max_examples=15, deadline=None)
@given(spectra, st.floats(0.3, 3.0))
def test_critical_result_fields_and_bracket(spec, beta):
    """The value is the largest eigenvalue / beta (closed form of the literature), bracketed and confirmed."""
    r = statvae.LinearVAE(len(spec), 2, beta=beta).collapse().critical("sigma2", spectrum=spec)
    assert isinstance(r, CriticalResult) and r.parameter == "sigma2"
    assert r.value == pytest.approx(max(spec) / beta, rel=1e-12)
    assert r.stable_side == "above" and r.status is ResultStatus.CONFIRMED and float(r) == r.value
    lo, hi = r.bracket
    assert lo < r.value < hi and 0 < r.precision <= 2.1e-2
    # the bracket is honest: the compiled Hessian has an ascent direction below, none above
    a = statvae.LinearVAE(len(spec), 2, beta=beta).collapse()
    assert a.ascent_directions(spectrum=spec, sigma2=lo) > 0 and a.ascent_directions(spectrum=spec, sigma2=hi) == 0


@settings(max_examples=15, deadline=None)
@given(spectra)
@example([0.05000000000000001, 0.05])  # equal to rounding: one crossing, kernel 4
def test_crossing_results_match_the_spectrum(spec):
    cs = statvae.LinearVAE(len(spec), 2).collapse().crossings(spectrum=spec)
    assert all(isinstance(c, CrossingResult) and c.status == "confirmed" for c in cs)
    # eigenvalues equal to rounding (1e-12 relative) are one crossing carrying both kernels
    groups: list = []
    for v in sorted(spec):
        if groups and abs(v - groups[-1][-1]) <= 1e-12 * v:
            groups[-1].append(v)
        else:
            groups.append([v])
    np.testing.assert_allclose([c.value for c in cs], [g[-1] for g in groups], rtol=1e-12)
    assert [c.kernel_dim for c in cs] == [2 * len(g) for g in groups]  # two latent copies of each mode
    assert all(c.bracket[0] < c.value < c.bracket[1] for c in cs)


@settings(max_examples=25, deadline=None)
@given(st.floats(1e-300, 1e300), st.sampled_from(["above", "below"]), st.text(max_size=8),
       st.lists(st.text(max_size=6), max_size=3), st.sampled_from(list(ResultStatus)))
def test_results_round_trip_through_json(value, side, block, assumptions, status):
    r = CriticalResult("beta", value, side, block, "closed form", {"x": [0, 2]}, tuple(assumptions),
                       (value * 0.9, value * 1.1), status)
    back = CriticalResult.from_dict(json.loads(json.dumps(r.to_dict())))
    assert back == r
    c = CrossingResult("sigma2", value, 3, block, "closed form", (value / 2, value * 2), status)
    assert CrossingResult.from_dict(json.loads(json.dumps(c.to_dict()))) == c


def test_bad_result_fields_are_refused():
    with pytest.raises(DataError, match="stable_side"):
        CriticalResult("beta", 1.0, "left", "", "closed form")
    with pytest.raises(DataError, match="status"):
        CrossingResult("beta", 1.0, 2, status="maybe")


def test_spectrum_results_state_their_assumptions_covariance_results_do_not():
    m = statvae.ConditionalVAE(1, 2, 1, weight_decay_enc=None)
    r = m.collapse().critical("weight_decay_enc", spectrum={"x": [1.0], "y": [3.0, 2.0]}, sigma2=1.0)
    assert r.assumptions == ("Σ_xy = 0 (or weight_decay_enc = 0)",)
    cov = np.diag([1.0, 3.0, 2.0])
    r2 = m.collapse().critical("weight_decay_enc", covariance=cov, sigma2=1.0)
    assert r2.assumptions == () and r2.value == pytest.approx(r.value, rel=1e-10)


def test_one_vocabulary_parameter_values_and_data():
    a = statvae.LinearVAE(3, 2, beta=None).collapse()
    spec = [3.0, 2.0, 1.0]
    by_kw = a.critical("beta", spectrum=spec, sigma2=2.0)
    by_dict = a.critical(parameter="beta", spectrum=spec, values={"sigma2": 2.0})
    by_data = a.critical(parameter="beta", data=np.array(spec), values={"sigma2": 2.0})
    assert by_kw == by_dict == by_data
    with pytest.warns(DeprecationWarning, match="parameter="):
        old = a.critical(solve_for="beta", spectrum=spec, sigma2=2.0)
    assert old == by_kw
    with warnings.catch_warnings(), pytest.raises(ModelError, match="disagree"):
        warnings.simplefilter("ignore")
        a.critical(parameter="beta", solve_for="sigma2", spectrum=spec, sigma2=2.0)
