"""Data options: centring and standardisation of samples, one implementation (statvae.data.preprocess).

Each matrix is checked against an independent numpy computation (``numpy.cov``, ``numpy.corrcoef``,
an explicit second moment); the invariance claims are hypothesis properties.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statvae.data.preprocess import Preprocessing, sample_moment, standardized_covariance
from statvae.data.resolve import prepare_data, resolve_data
from statvae.data.spectra import covariance_from_samples
from statvae.errors import DataError
import statvae


def _units_data(m=300, seed=0):
    """Features in wildly different units: metres, micrograms, thousands of dollars, a ratio."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((m, 4)) @ np.array([[1.0, 0.5, 0.0, 0.2], [0.0, 1.0, 0.3, 0.0],
                                                [0.0, 0.0, 1.0, 0.4], [0.0, 0.0, 0.0, 1.0]])
    return z * np.array([1e-3, 1e4, 2.5e2, 1.0]) + np.array([5.0, -3e4, 1e3, 0.0])


@pytest.mark.parametrize("ddof", [0, 1])
def test_default_is_exactly_the_covariance_used_before(ddof):
    x = _units_data()
    c, p = sample_moment(x, ddof)
    assert np.array_equal(c, covariance_from_samples(x, ddof))
    assert p == Preprocessing("samples", True, False, ddof, 300, 4)
    assert np.allclose(c, np.cov(x, rowvar=False, ddof=ddof), rtol=1e-12, atol=0)


@pytest.mark.parametrize("ddof", [0, 1])
def test_no_centering_is_the_second_moment_about_zero(ddof):
    x = _units_data(50)
    c, p = sample_moment(x, ddof, center=False)
    ref = sum(np.outer(r, r) for r in x) / (50 - ddof)
    assert np.allclose(c, ref, rtol=1e-12, atol=0) and not p.center and p.effective_samples == 50


@pytest.mark.parametrize("ddof", [0, 1])
def test_standardized_centred_samples_give_the_correlation_matrix(ddof):
    x = _units_data()
    c, p = sample_moment(x, ddof, standardize=True)
    assert np.allclose(c, np.corrcoef(x, rowvar=False), rtol=0, atol=1e-12)
    assert np.allclose(p.scales, x.std(axis=0, ddof=ddof), rtol=1e-13)
    assert "standardized" in p.describe() and p.to_dict()["standardize"] is True
    assert Preprocessing.from_dict(p.to_dict()) == p


def test_standardized_uncentred_samples_divide_by_the_standard_deviation():
    x = _units_data(80)
    c, _ = sample_moment(x, 1, center=False, standardize=True)
    y = x / x.std(axis=0, ddof=1)
    assert np.allclose(c, y.T @ y / 79, rtol=1e-12, atol=0)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 3), st.floats(1e-6, 1e6), st.floats(-100.0, 100.0), st.booleans())
def test_standardized_matrix_is_invariant_to_the_units_of_a_feature(k, factor, shift, center):
    """Rescaling (and, centred, shifting) one feature leaves the standardized matrix unchanged.

    The shift is a multiple of the feature's spread: a shift many orders of magnitude above the spread
    cancels digits in any centring (floating point, not the method)."""
    x = _units_data(60, seed=3)
    y = x.copy()
    y[:, k] = y[:, k] * factor + (shift * factor * x[:, k].std() if center else 0.0)
    a, _ = sample_moment(x, 1, center, True)
    b, _ = sample_moment(y, 1, center, True)
    assert np.allclose(a, b, rtol=1e-8, atol=1e-10)


def test_a_constant_feature_under_standardize_is_a_one_line_error():
    x = _units_data(20)
    x[:, 2] = 7.0
    for center in (True, False):
        with pytest.raises(DataError, match="feature 2 .*constant") as e:
            sample_moment(x, standardize=True, center=center)
        assert "\n" not in str(e.value)
    sample_moment(x)  # without standardize a constant feature is fine (a zero eigenvalue)


def test_standardized_covariance_and_the_options_that_do_not_apply():
    c = np.array([[4.0, 1.0], [1.0, 0.25]])
    r, s = standardized_covariance(c)
    assert np.allclose(r, [[1.0, 1.0], [1.0, 1.0]]) and s == (2.0, 0.5)
    d, p = prepare_data(covariance=c, standardize=True)
    assert np.allclose(d["covariance"], r) and p.source == "covariance" and p.standardize
    with pytest.raises(DataError, match="zero variance"):
        standardized_covariance([[0.0, 0.0], [0.0, 1.0]])
    with pytest.raises(DataError, match="spectrum has no features"):
        prepare_data(spectrum=[3.0, 1.0], standardize=True)
    with pytest.raises(DataError, match="center=False applies to samples only"):
        prepare_data(covariance=c, center=False)
    with pytest.raises(DataError, match="center must be True or False"):
        prepare_data(samples=_units_data(5), center="no")
    with pytest.raises(DataError, match="standardize must be True or False"):
        prepare_data(samples=_units_data(5), standardize=1)
    d, p = prepare_data(data=_units_data(9), center=False)  # data= recognised as samples
    assert p.source == "samples" and not p.center


def test_resolve_data_carries_the_preprocessing():
    m = statvae.LinearVAE(4, 2)
    r = resolve_data(m, samples=_units_data(), standardize=True)
    assert r.preprocessing.standardize and r.preprocessing.samples == 300
    assert np.isclose(sum(r.spectra["x"]), 4.0)  # the trace of a correlation matrix is N
    assert resolve_data(m, spectrum=[3, 2, 1, 0.5]).preprocessing.source == "spectrum"
