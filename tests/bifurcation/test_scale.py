"""The headline runs: scikit-learn's digits (64 dims, 8 latents) and a 784-dimensional synthetic model."""

import time

import numpy as np
import pytest

import statvae


def test_digits_every_branch_point_located_against_symbolic():
    pytest.importorskip("sklearn")
    from statvae.data import covariance_from_samples, digits

    cov = covariance_from_samples(digits())
    model = statvae.LinearVAE(64, 8)
    t = time.perf_counter()
    d = statvae.track(model, covariance=cov, start=1.0, stop=0.05)
    elapsed = time.perf_counter() - t
    got = d.special_points("branch point", branch=0)
    expect = [(c.value, c.kernel_dim) for c in model.collapse().crossings("sigma2", covariance=cov) if 0.05 < c.value < 1.0]
    assert len(got) == len(expect) == 18
    for s, (v, k) in zip(got, expect):
        assert abs(s.parameter - v) <= 1e-10 * v
        assert s.kernel_dim == k == 8
        assert s.status == "located" and s.precision < 1e-10
    path = [s for s in d.special_points("branch point") if s.info.get("stability_change")]
    assert len(path) == 8  # one latent switches on at each of the 8 largest eigenvalues
    assert elapsed < 60


@pytest.mark.slow
def test_synthetic_784_with_16_latents():
    from statvae.data import covariance_from_samples, synthetic

    cov = covariance_from_samples(synthetic(5.0 / np.arange(1, 785), samples=4000, seed=0))
    model = statvae.LinearVAE(784, 16)
    t = time.perf_counter()
    d = statvae.track(model, covariance=cov, start=6.0, stop=0.5)
    elapsed = time.perf_counter() - t
    expect = [(c.value, c.kernel_dim) for c in model.collapse().crossings("sigma2", covariance=cov) if 0.5 < c.value < 6.0]
    got = d.special_points("branch point", branch=0)
    assert [s.kernel_dim for s in got] == [k for _, k in expect]
    np.testing.assert_allclose([s.parameter for s in got], [v for v, _ in expect], rtol=1e-10)
    assert elapsed < 180
