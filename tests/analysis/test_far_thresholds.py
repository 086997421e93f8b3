"""Thresholds far from the data's scale, badly scaled blocks and clusters of equal values.

* :func:`statvae.analysis.scan.adaptive_scan` extends past its core window until the
  eigenvalues settle (a sign change 20 decades away is found) or its stated bound.
* The affine pencil of the compiled route is refitted near roots far from the
  fit's scale: a conditional model with nearly collinear inputs, a tiny noise
  variance and an encoder weight decay has its crossings at ~1e-8, where the
  global fit cancels.  Checked against a brute-force sign scan of the directly
  compiled Hessian blocks (no affine fit, no pencil).
* Values equal to rounding are one threshold: the largest.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import statvae
from statvae.analysis.compiled import CompiledCollapse
from statvae.analysis.scan import CORE_DECADES, MAX_DECADES, adaptive_scan
from statvae.symbolic.stability import scaled_eigenvalues


@settings(max_examples=25, deadline=None)
@given(st.floats(-18, 18), st.floats(0.01, 100.0))
def test_scan_finds_a_sign_change_far_from_the_scale(decades, scale):
    """Eigenvalues are rational in p: a Moebius function with its root up to 18 decades away is found."""
    root = scale * 10.0 ** decades
    res = adaptive_scan(lambda p: np.array([(p - root) / (p + root)]), scale)
    vals = np.array([v[0] for v in res.values])
    changes = np.nonzero(np.diff(vals > 0))[0]
    assert len(changes) == 1
    a, b = res.grid[changes[0]], res.grid[changes[0] + 1]
    assert a <= root <= b
    assert res.ends == ("settled", "settled")


def test_scan_stops_at_its_bound_when_nothing_settles():
    res = adaptive_scan(lambda p: np.array([np.sin(np.log(p))]), 1.0, per_decade=4)
    assert res.ends == ("bound", "bound")
    assert res.grid[0] == pytest.approx(10.0 ** -MAX_DECADES) and res.grid[-1] == pytest.approx(10.0 ** MAX_DECADES)
    settled = adaptive_scan(lambda p: np.array([-1.0]), 1.0)
    assert settled.grid[0] == pytest.approx(10.0 ** -CORE_DECADES) and settled.ends == ("settled", "settled")


def _collinear():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4000, 2))
    y = x @ np.array([[1.0, 0.3], [0.2, 1.0]]) + 1e-4 * rng.standard_normal((4000, 2))
    z = np.hstack([x, y])
    return z.T @ z / 4000


def _brute_force_crossings(model, parameter, values, cov, lo, hi, n=400):
    """Sign changes of the directly compiled latent blocks' scaled eigenvalues on a fine log grid."""
    cc = CompiledCollapse(model, parameter, values, covariance=cov)  # no fit_affine: every block compiled
    keys = cc.latent_keys()
    grid = np.geomspace(lo, hi, n)
    counts = [sum(int((scaled_eigenvalues(cc._compiled_blocks(p, keys)[k][None])[0] > 1e-10).sum())
                  for k in keys) for p in grid]
    return [(a, b, cb - ca) for a, b, ca, cb in zip(grid, grid[1:], counts, counts[1:]) if ca != cb]


def test_crossings_far_below_the_fit_scale_are_refitted_not_lost():
    cov = _collinear()
    model = statvae.ConditionalVAE(2, 2, 1, weight_decay_enc=0.1)
    analysis = model.collapse()
    got = [(c.value, c.kernel_dim) for c in analysis.crossings("weight_decay_enc", covariance=cov, sigma2=1e-9)]
    brute = _brute_force_crossings(model, "weight_decay_enc", {"beta": 1.0, "prior_variance": 1.0, "sigma2": 1e-9,
                                                               "weight_decay_dec": 0.0}, cov, 1e-8, 1e-7, n=21)
    assert len(got) == len(brute) == 2
    for (v, k), (a, b, change) in zip(got, brute):
        assert a <= v <= b and k == abs(change)
    crit = analysis.critical("weight_decay_enc", covariance=cov, sigma2=1e-9).value
    assert crit == got[-1][0]


def test_a_cluster_of_equal_eigenvalues_is_one_threshold_its_largest():
    lam = 2.0
    spec = [lam * (1 + 4e-16), lam, lam * (1 - 2e-16), 0.5]
    a = statvae.LinearVAE(4, 2).collapse()
    assert a.critical(spectrum=spec).value == max(spec)
    cross = a.crossings(spectrum=spec)
    assert (cross[-1].value, cross[-1].kernel_dim) == (max(spec), 6)  # three modes x two latent copies cross together
