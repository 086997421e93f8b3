"""The free coordinates of the optimiser: exact derivatives against finite differences."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import statvae
from statvae.analysis.reparam import Unconstrained

LAYOUTS = {k: statvae.LinearVAE(3, 3, **kw).compile().layout for k, kw in {
    "diagonal": dict(sigma2=1.0), "full": dict(encoder="full", decoder_variance="learned"),
    "isotropic": dict(encoder="isotropic", sigma2=1.0)}.items()}


@settings(max_examples=30, deadline=None)
@given(kind=st.sampled_from(sorted(LAYOUTS)), seed=st.integers(0, 10_000))
def test_map_derivatives_match_finite_differences(kind, seed):
    r = Unconstrained(LAYOUTS[kind])
    rng = np.random.default_rng(seed)
    u, du = 0.5 * rng.standard_normal(r.size), rng.standard_normal(r.size)
    g = rng.standard_normal(r.size)  # a linear functional of theta: F(u) = g . theta(u)
    h = 1e-5
    fd_j = (r.theta(u + h * du) - r.theta(u - h * du)) / (2 * h)
    np.testing.assert_allclose(r.jvp(u, du), fd_j, rtol=1e-6, atol=1e-8)
    # <vjp(g), du> = <g, jvp(du)>
    lhs, rhs = np.dot(r.vjp(u, g), du), np.dot(g, r.jvp(u, du))
    assert abs(lhs - rhs) < 1e-10 * (1 + abs(rhs))
    # the curvature: d/du of vjp(u, g) along du, with g fixed
    fd_c = (r.vjp(u + h * du, g) - r.vjp(u - h * du, g)) / (2 * h)
    np.testing.assert_allclose(r.curvature(u, g, du), fd_c, rtol=1e-6, atol=1e-7)
    # the inverse
    np.testing.assert_allclose(r.from_theta(r.theta(u)), u, rtol=1e-10, atol=1e-12)
    # the curvature is symmetric: <C dv, du> = <C du, dv>
    dv = rng.standard_normal(r.size)
    a, b = np.dot(r.curvature(u, g, du), dv), np.dot(r.curvature(u, g, dv), du)
    assert abs(a - b) < 1e-10 * (1 + abs(a))
