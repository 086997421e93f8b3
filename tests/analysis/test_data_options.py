"""center= / standardize= through every API entry point that accepts samples: one implementation, same answers.

The test data set has features in wildly different units (1e-3, 1, 1e4); standardized thresholds must not
move when a feature is rescaled, raw ones must.  The reference is numpy: the top eigenvalue of
``numpy.corrcoef`` (standardized) or of ``numpy.cov`` (raw) over beta is the plain critical sigma2.
"""

import numpy as np
import pytest

import statvae
from statvae.bifurcation.phase import branch_point_loci
from statvae.data import synthetic
from statvae.errors import DataError


def _units(seed=4):
    return synthetic([4.0, 1.5, 0.5], samples=250, seed=seed) * np.array([1e-3, 1.0, 1e4])


def test_standardized_thresholds_are_invariant_to_the_units_raw_ones_are_not():
    x = _units()
    y = x * np.array([1.0, 1e3, 1e-4])  # the same data, two features in other units
    a = statvae.LinearVAE(3, 2, beta=2.0).collapse()
    sx = a.critical("sigma2", samples=x, standardize=True)
    sy = a.critical("sigma2", samples=y, standardize=True)
    assert sx.value == pytest.approx(sy.value, rel=1e-10)
    assert sx.value == pytest.approx(np.linalg.eigvalsh(np.corrcoef(x, rowvar=False))[-1] / 2.0, rel=1e-12)
    rx, ry = a.critical("sigma2", samples=x), a.critical("sigma2", samples=y)
    assert rx.value == pytest.approx(np.linalg.eigvalsh(np.cov(x, rowvar=False))[-1] / 2.0, rel=1e-12)
    assert abs(np.log10(rx.value / ry.value)) > 1  # raw: the threshold follows the units (here 31-fold)
    # the same options give the same answer from every method
    assert a.critical_points("sigma2", samples=y, standardize=True)[0].value == sy.value
    assert a.crossings("sigma2", samples=y, standardize=True)[-1].value == pytest.approx(sy.value, rel=1e-12)
    assert np.allclose(a.spectra(samples=y, standardize=True)["x"],
                       np.sort(np.linalg.eigvalsh(np.corrcoef(x, rowvar=False)))[::-1], rtol=1e-10)
    assert a.stable(samples=y, standardize=True, sigma2=sy.value * 1.01)
    assert not a.stable(samples=y, standardize=True, sigma2=sy.value * 0.99)
    assert a.data_form(samples=y, standardize=True).valid


def test_track_and_phase_diagrams_take_the_same_options():
    x = _units()
    y = x * np.array([7.0, 1.0, 1e-2])
    m = statvae.LinearVAE(3, 1)
    want = np.sort(np.linalg.eigvalsh(np.corrcoef(x, rowvar=False)))
    for data in (x, y):
        d = statvae.track(m, samples=data, standardize=True, start=3.0, stop=0.2)
        got = sorted(s.parameter for s in d.special_points("branch point", branch=0))
        assert np.allclose(got, want, rtol=1e-7) and d.meta["preprocessing"]["standardize"] is True
    ph = branch_point_loci(m, samples=y, standardize=True, start=3.0, stop=1.0, along_start=1.0, along_stop=1.5,
                           steps=4)
    assert ph.meta["preprocessing"]["standardize"] is True
    loc = ph.loci[0]
    assert loc["parameter"][0] == pytest.approx(want[-1], rel=1e-6)


def test_uncentred_samples_use_the_second_moment_about_zero():
    x = _units()[:, :2] + np.array([0.01, 3.0])
    a = statvae.LinearVAE(2, 1).collapse()
    r = a.critical("sigma2", samples=x, center=False, ddof=0)
    assert r.value == pytest.approx(np.linalg.eigvalsh(x.T @ x / len(x))[-1], rel=1e-12)
    assert r.value > a.critical("sigma2", samples=x).value  # the mean adds to the top direction


def test_options_that_do_not_apply_are_one_line_errors():
    a = statvae.LinearVAE(3, 1).collapse()
    x = _units()
    x[:, 1] = 2.0
    for kw, msg in [({"samples": x, "standardize": True}, "feature 1 .*constant"),
                    ({"spectrum": [3.0, 2.0, 1.0], "standardize": True}, "spectrum has no features"),
                    ({"covariance": np.eye(3), "center": False}, "center=False applies to samples only")]:
        with pytest.raises(DataError, match=msg) as e:
            a.critical("sigma2", **kw)
        assert "\n" not in str(e.value)
    with pytest.raises(DataError, match="feature 1 .*constant"):
        statvae.track(statvae.LinearVAE(3, 1), samples=x, standardize=True, start=3.0, stop=0.2)
