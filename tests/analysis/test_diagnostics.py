"""Collapse diagnostics: closed forms against seeded Monte Carlo, and at the optimum against the literature."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import statvae
from statvae.analysis.diagnostics import Diagnostics, diagnose
from statvae.analysis.optimum import optimum
from statvae.errors import DataError, ModelError, StatvaeError

M = 200_000  # Monte Carlo samples: relative errors of a few 1e-3


def random_linear(rng, N, n):
    a = rng.standard_normal((N, N))
    S = a @ a.T / N + 0.1 * np.eye(N)
    W = rng.standard_normal((N, n))
    V = 0.5 * rng.standard_normal((n, N))
    D = np.diag(rng.uniform(0.1, 1.5, n))
    return S, W, V, D


def gaussian_mi(x, z):
    """I(x; z) of jointly Gaussian samples, from their empirical covariances."""
    j = np.cov(np.hstack([x, z]), rowvar=False)
    k = x.shape[1]
    ld = lambda m: np.linalg.slogdet(np.atleast_2d(m))[1]
    return 0.5 * (ld(j[:k, :k]) + ld(j[k:, k:]) - ld(j))


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), N=st.integers(2, 4), n=st.integers(1, 3), pv=st.floats(0.5, 2.0))
def test_linear_diagnostics_match_monte_carlo(seed, N, n, pv):
    rng = np.random.default_rng(seed)
    S, W, V, D = random_linear(rng, N, n)
    m = statvae.LinearVAE(N, n, sigma2=0.7, prior_variance=pv)
    d = diagnose(m, {"W": W, "V": V, "D": D}, covariance=S, epsilon=0.3, delta=0.2)
    x = rng.multivariate_normal(np.zeros(N), S, size=M)
    mean = x @ V.T
    z = mean + rng.standard_normal((M, n)) * np.sqrt(np.diag(D))
    lat = d.latents["z"]
    np.testing.assert_allclose(lat.activity, mean.var(axis=0), rtol=0.03)
    c = np.diag(D)
    kl = 0.5 * ((c + mean ** 2) / pv - 1 - np.log(c / pv))  # per-sample Gaussian KL, coordinate by coordinate
    np.testing.assert_allclose(lat.kl_mean, kl.mean(axis=0), rtol=0.03)
    for q, vals in lat.kl_quantiles.items():
        np.testing.assert_allclose(vals, np.quantile(kl, float(q), axis=0), rtol=0.05, atol=1e-3)
    np.testing.assert_allclose(lat.collapsed_probability, (kl < 0.3).mean(axis=0), atol=0.01)
    assert d.mutual_information == pytest.approx(gaussian_mi(x, z), rel=0.03, abs=3e-3)
    lam, Q = np.linalg.eigh(S)
    Q = Q[:, ::-1]
    res = ((x - z @ W.T) @ Q) ** 2
    np.testing.assert_allclose(d.reconstruction["x"]["residual"], res.mean(axis=0), rtol=0.03)


def test_hierarchical_diagnostics_match_monte_carlo():
    rng = np.random.default_rng(5)
    m = statvae.HierarchicalVAE(3, (2, 1), sigma2=0.5)
    S = np.diag([3.0, 2.0, 1.0])
    p = {"U1": rng.standard_normal((3, 2)), "U2": rng.standard_normal((2, 1)), "W1": 0.5 * rng.standard_normal((2, 3)),
         "W2": 0.5 * rng.standard_normal((1, 2)), "D1": np.diag([0.3, 0.6]), "D2": np.diag([0.8])}
    d = diagnose(m, p, covariance=S)
    x = rng.multivariate_normal(np.zeros(3), S, size=M)
    z1 = x @ p["W1"].T + rng.standard_normal((M, 2)) * np.sqrt([0.3, 0.6])
    z2 = z1 @ p["W2"].T + rng.standard_normal((M, 1)) * math.sqrt(0.8)
    np.testing.assert_allclose(d.latents["z1"].activity, (x @ p["W1"].T).var(axis=0), rtol=0.03)
    np.testing.assert_allclose(d.latents["z2"].activity, (x @ (p["W2"] @ p["W1"]).T).var(axis=0), rtol=0.03)
    np.testing.assert_allclose(d.latents["z2"].posterior_variance,
                               [0.8 + p["W2"][0] ** 2 @ np.array([0.3, 0.6])], rtol=1e-12)
    assert d.mutual_information == pytest.approx(gaussian_mi(x, np.hstack([z1, z2])), rel=0.03)
    res = (x - z1 @ p["U1"].T) ** 2
    np.testing.assert_allclose(d.reconstruction["x"]["residual"], res.mean(axis=0), rtol=0.03)


@settings(max_examples=10, deadline=None)
@given(spec=st.lists(st.floats(0.2, 8.0), min_size=2, max_size=4).map(lambda xs: np.array(sorted(xs)[::-1])),
       s2=st.floats(0.3, 5.0))
def test_at_the_optimum(spec, s2):
    """At the plain optimum: active units are the directions above sigma'^2 (up to n), the mutual information
    equals the total KL, and each active direction keeps sigma'^2 of its variance unexplained."""
    n = 2
    gaps = np.abs(spec - s2) / spec[0]
    if gaps.min() < 0.05 or (np.diff(spec) == 0).any():
        return
    m = statvae.LinearVAE(spec.size, n)
    r = optimum(m, spectrum=spec, sigma2=s2)
    d = diagnose(m, r, spectrum=spec)
    above = spec[spec > s2][:n]
    assert d.active_units == above.size == r.active_latents
    assert d.mutual_information == pytest.approx(r.kl_total, rel=1e-9, abs=1e-12)
    res = np.array(d.reconstruction["x"]["residual"])
    np.testing.assert_allclose(res[:above.size], s2, rtol=1e-8)
    np.testing.assert_allclose(res[above.size:], spec[above.size:], rtol=1e-8)
    assert sorted(d.latents["z"].collapsed) == sorted(set(range(n)) - set(d.latents["z"].active))


def test_round_trip_and_json():
    m = statvae.LinearVAE(3, 2, sigma2=1.0)
    r = optimum(m, spectrum=[3.0, 2.0, 0.5])
    d = diagnose(m, r, spectrum=[3.0, 2.0, 0.5])
    back = Diagnostics.from_dict(json.loads(json.dumps(d.to_dict())))
    assert back.to_dict() == d.to_dict()


@pytest.mark.parametrize("kw,kind", [
    (dict(parameters={"W": [[1.0]], "V": [[1.0, 0.0]], "D": [[1.0]]}), ModelError),  # W has the wrong shape
    (dict(parameters={"W": [[1.0], [0.0]], "V": [[1.0, 0.0]], "D": [[-1.0]]}), ModelError),  # negative variance
    (dict(epsilon=-1.0), ModelError),
    (dict(delta=1.5), ModelError),
    (dict(spectrum=[1.0, np.nan]), DataError),
])
def test_bad_input(kw, kind):
    base = dict(parameters={"W": [[1.0], [0.0]], "V": [[1.0, 0.0]], "D": [[1.0]]}, spectrum=[2.0, 1.0], sigma2=1.0)
    base.update(kw)
    params = base.pop("parameters")
    with pytest.raises(kind) as e:
        diagnose(statvae.LinearVAE(2, 1), params, **base)
    assert isinstance(e.value, StatvaeError) and "\n" not in str(e.value)


def test_tracked_points(tmp_path):
    """At points of tracked branches: I(x; z) equals the tracker's KL (stationary points of the plain model), the
    active units its count, and a saved-then-loaded diagram gives the same diagnostics."""
    from statvae.analysis.diagnostics import diagnose_tracked

    m = statvae.LinearVAE(3, 2)
    dgm = statvae.track(m, spectrum=[3.0, 2.0, 1.0], parameter="sigma2", start=4, stop=0.5)
    path = tmp_path / "d.json"
    dgm.save(path)
    back = statvae.BifurcationDiagram.load(path)
    checked = 0
    for bid, b in dgm.branches.items():
        if b.theta is None or b.label == "collapsed":
            continue
        for i in (0, b.points // 2, -1):
            dg = diagnose_tracked(m, dgm, branch=bid, index=i)
            assert dg.mutual_information == pytest.approx(b.data["kl_total"][i], rel=1e-9, abs=1e-12)
            assert dg.active_units == b.data["active_latents"][i]
            assert diagnose_tracked(m, back, branch=bid, index=i).to_dict() == dg.to_dict()
            checked += 1
    assert checked >= 6
    with pytest.raises(ModelError, match="no branch"):
        diagnose_tracked(m, dgm, branch=99)
    with pytest.raises(ModelError, match="dimensions"):
        diagnose_tracked(statvae.LinearVAE(4, 2), dgm, branch=1)
