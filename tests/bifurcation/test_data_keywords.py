"""One vocabulary across entry points: the same data keywords (with ddof) give the same answers everywhere."""

import numpy as np
import pytest

import statvae


@pytest.fixture(scope="module")
def samples():
    rng = np.random.default_rng(3)
    return rng.normal(size=(40, 3)) * np.array([1.8, 1.2, 0.6])


@pytest.mark.parametrize("ddof", [0, 1])
def test_samples_with_ddof_equal_their_covariance(samples, ddof):
    cov = np.cov(samples, rowvar=False, ddof=ddof)
    m = statvae.LinearVAE(3, 1)
    a = m.collapse()
    assert a.critical(samples=samples, ddof=ddof).value == pytest.approx(a.critical(covariance=cov).value, rel=1e-12)
    top = float(np.linalg.eigvalsh(cov).max())
    kw = dict(parameter="sigma2", along="beta", start=2 * top, stop=top / 2, along_start=1.0, along_stop=1.5,
              steps=3)
    by_samples = statvae.branch_point_loci(m, samples=samples, ddof=ddof, **kw)
    by_cov = statvae.branch_point_loci(m, covariance=cov, **kw)
    np.testing.assert_allclose(by_samples.loci[0]["parameter"], by_cov.loci[0]["parameter"], rtol=1e-10)
    np.testing.assert_allclose(by_samples.loci[0]["parameter"][0], top, rtol=1e-10)  # sigma2_c = lambda_max at beta 1
