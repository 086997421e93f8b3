"""Random valid graphs: statvae's thresholds and stability against the independent reference.

Every graph :mod:`graphs` draws is built twice, as a statvae model and as a
spec for ``tests/graph_reference.py`` (plain numpy, finite-difference
Hessian, written without reading statvae).  For the data drawn (a random
joint second moment with cross-moments, in any of three units; sometimes
block diagonal so that the per-mode closed forms apply) statvae's critical
values must be confirmed by the reference just below and just above each
(a relative offset of 1e-6: agreement to 1e-6), and its stability verdicts
must agree with the reference's.

The default run draws a few examples from each of eleven skeletons
(structures and dimensions) so that compiled code is reused; ``pytest -m slow``
draws 200 examples from a pool of 24 skeletons and thousands of examples from
every structure.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graph_reference as gr
import graphs
import reference as ref
import statvae
from strength import full_strength

#: Skeletons of the pool run (structures and dimensions; the values and data are drawn per example).
POOL = list(range(24))
#: The default run's skeletons, each drawn a few times: cheap ones from POOL, chosen to cover two levels,
#: learned variances, constant and conditioning inputs, direct maps, every encoder kind, shared and per-output
#: noise variances, shared and per-latent KL weights and three latents.  Skeleton 14 reaches a critical beta of
#: 0.0027 whose crossing eigenvalue at +-1e-6 is below the reference's zero-mode threshold; reference_sides widens
#: the offset until the reference's zero modes are its flat directions proper (see there).
DEFAULT_POOL = [1, 2, 4, 8, 9, 10, 11, 14, 16, 19, 22, 23]
DELTA = 1e-6


def reference_sign(desc, S, name, value, zero_modes=False):
    """+1 if the reference finds an ascent direction at collapse, -1 if none, 0 if it cannot tell.

    With ``zero_modes=True``: ``(sign, number of eigenvalues the reference takes for flat directions)``.
    """
    prob = gr.GraphProblem(graphs.to_spec(desc, **{name: value}), S)
    spec = ref.collapsed_spectrum(prob)
    k0 = ref.count_zero_modes(spec)
    g = ref._max_eig_without_zero_modes(spec, k0, True)
    thr = 1e-10 * spec["magnitude"]
    sign = 1 if g > thr else (-1 if g < -thr else 0)
    return (sign, k0) if zero_modes else sign


def reference_sides(desc, S, name, v, gap):
    """Reference signs just below and above ``v`` (offset DELTA, widened up to 1e-3 while it cannot tell).

    Close to a slow crossing the crossing eigenvalues are so small that the reference counts them
    among its flat directions (zero modes) and reads its sign from the others; the offset is widened
    until the zero modes on both sides are those it finds farther away (0.3 x the gap), the flat
    directions proper.
    """
    far = min(0.3 * gap, 0.1)
    _, k_far_lo = reference_sign(desc, S, name, v * (1 - far), True)
    _, k_far_hi = reference_sign(desc, S, name, v * (1 + far), True)
    for d in (DELTA, 1e-4, 1e-3):
        d = min(d, 0.3 * gap)
        lo, k_lo = reference_sign(desc, S, name, v * (1 - d), True)
        hi, k_hi = reference_sign(desc, S, name, v * (1 + d), True)
        if lo and hi and (k_lo, k_hi) == (k_far_lo, k_far_hi):
            return lo, hi, d
    return lo, hi, d


def check(desc):
    model = graphs.to_statvae(desc)
    S = graphs.second_moment(desc)
    names = graphs.solvable(desc)
    if not names:
        return
    name = names[desc["seed"] % len(names)]
    others = {k: v for k, v in desc["hyper"].items() if k != name}
    a = model.collapse()
    try:
        pts = a.critical_points(name, covariance=S, **others)
    except statvae.AnalysisError as exc:
        msg = str(exc)
        assert "for every" in msg, msg
        stable = "is stable" in msg
        scale = float(np.linalg.eigvalsh(S).max()) if name.startswith("sigma2") else 1.0
        for v in (0.05 * scale, 20 * scale):
            s = reference_sign(desc, S, name, v)
            assert s != (-1 if not stable else 1), f"statvae: {msg}; reference disagrees at {name} = {v}"
        return
    values = [p.value for p in pts]
    for p in pts:
        gap = min([abs(u - p.value) / p.value for u in values if u != p.value] + [1.0])
        lo, hi, d = reference_sides(desc, S, name, p.value, gap)
        want_lo, want_hi = (1, -1) if p.stable_side == "above" else (-1, 1)
        assert (lo, hi) == (want_lo, want_hi), (
            f"{name} = {p.value!r} (stable {p.stable_side}, {p.method}): reference signs {lo}, {hi} at +-{d:g}")
    # stability verdicts at a value between or beyond the thresholds
    probe = values[0] * 0.5
    want = pts[0].stable_side == "below"
    assert a.stable(covariance=S, **others, **{name: probe}) == want
    assert reference_sign(desc, S, name, probe) == (-1 if want else 1)


@pytest.mark.parametrize("skeleton", DEFAULT_POOL)
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=st.data())
def test_random_graphs_against_reference(skeleton, data):
    check(data.draw(graphs.descriptions(skeletons=[skeleton], max_dim=2)))


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(graphs.descriptions(skeletons=POOL, max_dim=2))
def test_random_graphs_against_reference_pool(desc):
    check(desc)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(graphs.descriptions())
def test_random_graphs_against_reference_many(desc):
    check(desc)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(graphs.descriptions(skeletons=DEFAULT_POOL, max_dim=2))
def test_random_graphs_track_locates_the_same_points(desc):
    """track() on the collapsed branch finds exactly the crossings critical_points/crossings report."""
    model = graphs.to_statvae(desc)
    S = graphs.second_moment(desc)
    names = graphs.solvable(desc)
    if not names:
        return
    name = names[desc["seed"] % len(names)]
    others = {k: v for k, v in desc["hyper"].items() if k != name}
    a = model.collapse()
    try:
        v = a.critical_points(name, covariance=S, **others)[0].value
    except statvae.AnalysisError:
        return
    lo, hi = v / 3, v * 3
    d = statvae.track(model, covariance=S, parameter=name, start=hi, stop=lo, values=others, depth=0,
                      switching=False)
    located = sorted(s.parameter for s in d.special_points("branch point", branch=0))
    expected = [c.value for c in a.crossings(name, covariance=S, **others) if lo * 1.001 < c.value < hi * 0.999]
    assert len(located) >= len(expected)
    for c in expected:
        assert min(abs(p - c) for p in located) <= 1e-8 * c, (c, located)


test_random_graphs_track_locates_the_same_points_pool = full_strength(
    test_random_graphs_track_locates_the_same_points, graphs.descriptions(skeletons=POOL, max_dim=2),
    max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
