"""Nearly coincident crossings: two eigenvalues of the data a fraction of a percent apart.

Checked against computations that do not go through the tracker's location: the closed-form
thresholds ``xi_i^2 / beta`` of the collapsed branch and of the branch with one latent active, the
closed-form KL of the optimum ``sum_a 1/2 log(xi_a^2 / (beta sigma2))``, and the eigenvalues of the
compiled Hessian (dense, from Hessian-vector products along the unit vectors) at the collapsed point
on both sides of each threshold.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import statvae
from problems import DiagonalOperator, Pitchfork
from statvae.bifurcation.api import resolve_spectra, run_tracker
from statvae.bifurcation.continuation import ContinuationOptions
from statvae.bifurcation.locate import ContradictionError, verify_branch_point
from statvae.bifurcation.problem import ContinuationProblem
from strength import full_strength

#: The example hypothesis found (test_properties): eigenvalues 0.16 % apart, three latents, full encoder.
EXAMPLE = ([1.658203125, 1.6556183436458363], 3, 2.0, "full")


def _problem(model, spectrum):
    return ContinuationProblem(model, resolve_spectra(model, spectrum=spectrum), "sigma2")


def _dense_hessian(prob, theta, p):
    h = prob.hvp(theta, np.eye(len(theta)), p)
    return (h + h.T) / 2


def _collapsed(model):
    lay = ContinuationProblem(model, resolve_spectra(model, spectrum=[1.0] * model.dims["x"]), "sigma2").layout
    blocks = {b.name: (np.zeros(b.shape) if b.kind == "map" else np.eye(b.shape[0]) if b.kind == "full"
                       else np.ones(b.shape[0]) if b.kind == "diagonal" else 1.0) for b in lay.blocks}
    return lay.pack(**blocks)


def check_near_degenerate(spec, n, beta, encoder):
    """The tracker's diagram against closed forms and the compiled Hessian; returns the diagram."""
    model = statvae.LinearVAE(len(spec), n, beta=beta, encoder=encoder)
    hi, lo = 1.2 * max(spec) / beta, 0.2 * min(spec) / beta
    d = statvae.track(model, spectrum=spec, start=hi, stop=lo, depth=1)
    prob = _problem(model, spec)
    thresholds = sorted(x / beta for x in spec)
    # the collapsed branch: one point per eigenvalue, at xi_i^2 / beta, kernel n, index up by n
    got = d.special_points("branch point", branch=0)
    np.testing.assert_allclose([s.parameter for s in got], thresholds, rtol=1e-10)
    assert [s.kernel_dim for s in got] == [n] * len(spec)
    assert [abs(s.index_change) for s in got] == [n] * len(spec)
    # ... and the eigenvalues of the compiled Hessian at the collapsed point bracket each of them: n more
    # positive eigenvalues just below the threshold than just above (the gap between them is >= 1e-4)
    theta_c = _collapsed(model)
    for t in thresholds:
        counts = []
        for p in (t * (1 + 1e-6), t * (1 - 1e-6)):
            ev = np.linalg.eigvalsh(_dense_hessian(prob, theta_c, p))
            counts.append(int((ev > 1e-9 * np.abs(ev).max()).sum()))
        assert counts[1] - counts[0] == n
    # every located point: stationary, and each kernel vector a null vector of the compiled Hessian
    for s in d.special_points("branch point"):
        if s.status == "detected":
            continue
        g = prob.gradient(s.theta, s.parameter)
        assert np.linalg.norm(g) <= 1e-8 * (1 + np.linalg.norm(s.theta))
        h = _dense_hessian(prob, s.theta, s.parameter)
        for vec in s.info["kernel_vectors"]:
            assert np.linalg.norm(h @ vec) <= 1e-7 * max(1.0, np.abs(h).max()) * np.linalg.norm(vec)
        assert s.kernel_dim == len(s.info["kernel_vectors"]) and abs(s.index_change) <= s.kernel_dim
    # the branch of the first latent (on the top eigenvalue) loses stability where the second eigenvalue
    # switches on: again at xi_2^2 / beta (the residual spectrum of orthogonal directions is unchanged),
    # kernel n - 1 (every other latent)
    if n >= 2 and encoder in ("diagonal", "full"):
        first = d.children(got[-1].id)
        stable = [b for b in first if b.index[1:].min() == 0]
        assert len(stable) == 1
        sec = [s for s in d.special_points("branch point", branch=stable[0].id) if s.status != "detected"]
        top = max(sec, key=lambda s: s.parameter)
        assert top.parameter == pytest.approx(thresholds[-2], rel=1e-10)
        assert top.kernel_dim == n - 1 and top.stability_change
    # the stable path reaches the end of the range (a last step may land a little past it) at the optimum:
    # min(n, N) latents on the top eigenvalues
    ends = [b for b in d.branches.values() if b.index[-1] == 0 and b.parameter[-1] <= lo * (1 + 1e-9)]
    assert ends, "no stable branch reaches the end of the range"
    k = min(n, len(spec))
    best = max(ends, key=lambda b: b.data["active_latents"][-1])
    assert best.data["active_latents"][-1] == k
    if encoder in ("diagonal", "full"):
        kl = sum(0.5 * np.log(x / (beta * best.parameter[-1])) for x in sorted(spec, reverse=True)[:k])
        assert best.data["kl_total"][-1] == pytest.approx(kl, rel=1e-9)
    return d


def test_example_that_mixed_two_crossings():
    """The example of test_properties: the branch of both latents (x1+z1 + x2+z2) used to slide onto the
    branch of the second alone (Newton from the first latent's amplitude at p*, 1 % away), whose collapsed
    latents then carried 1e-32 remnants; those made spurious rotation zero modes and a 'branch point' that
    was a jump of the projected block, with |H v| = 0.63."""
    spec, n, beta, encoder = EXAMPLE
    d = check_near_degenerate(spec, n, beta, encoder)
    both = [b for b in d.branches.values() if b.label == "x1+z1 + x2+z2"]
    assert len(both) == 1 and (both[0].index[1:] == 0).all()  # the optimum: stable all along
    assert (both[0].data["active_latents"][1:] == 2).all()


def near_degenerate_spectra():
    """Two eigenvalues with relative gap 1e-4 ... 1e-2, optionally a third well below."""
    return st.tuples(st.floats(0.5, 4.0), st.floats(-4.0, -2.0), st.one_of(st.none(), st.floats(0.1, 0.7))).map(
        lambda t: [t[0], t[0] * (1 - 10 ** t[1])] + ([] if t[2] is None else [t[0] * t[2]]))


@settings(max_examples=4, deadline=None)
@given(near_degenerate_spectra(), st.integers(1, 3), st.floats(0.5, 2.0),
       st.sampled_from(["diagonal", "full", "isotropic"]))
def test_nearly_coincident_crossings_are_located_apart(spec, n, beta, encoder):
    check_near_degenerate(spec, n, beta, encoder)


test_nearly_coincident_crossings_are_located_apart_full = full_strength(
    test_nearly_coincident_crossings_are_located_apart, near_degenerate_spectra(), st.integers(1, 3),
    st.floats(0.5, 2.0), st.sampled_from(["diagonal", "full", "isotropic"]), max_examples=25, deadline=None)


class Operator(DiagonalOperator):
    """``V = sum_i (mu - m_i) x_i^2 / 2 - (sum_i x_i^2)^2 / 4`` with any (distinct) ``m``."""

    def __init__(self, m):
        super().__init__((1,) * len(m))
        self.m = np.asarray(m, dtype=float)


def _run(problem, theta0, start, stop):
    opts = ContinuationOptions(p_min=min(start, stop), p_max=max(start, stop))
    return run_tracker(problem, np.asarray(theta0, float), start, stop, opts)


@pytest.mark.parametrize("gap", [1e-2, 1e-4, 1e-6, 1e-8])
def test_normal_form_crossings_a_relative_gap_apart(gap):
    """Independent of the VAE code: crossings at mu = 1 and 1 + gap are two points of kernel 1 each."""
    d = _run(Operator([1.0, 1.0 + gap, 3.0]), np.zeros(3), 0.0, 3.5)
    got = d.special_points("branch point", branch=0)
    np.testing.assert_allclose([s.parameter for s in got], [1.0, 1.0 + gap, 3.0], rtol=1e-13)
    assert [s.kernel_dim for s in got] == [1, 1, 1] and all(s.status == "located" for s in got)


def test_normal_form_crossings_closer_than_resolution_are_one_degenerate_point():
    """Crossings 1e-11 apart are one point of kernel 2 whose kernel vectors are both null vectors."""
    prob = Operator([1.0, 1.0 + 1e-11])
    d = _run(prob, np.zeros(2), 0.0, 2.0)
    (s,) = d.special_points("branch point", branch=0)
    assert s.kernel_dim == 2 and s.index_change == 2 and s.parameter == pytest.approx(1.0, rel=1e-10)
    for v in s.info["kernel_vectors"]:
        assert np.linalg.norm(prob.hess(s.theta, s.parameter) @ v) <= 1e-8


class Jump(Pitchfork):
    """A Hessian whose eigenvalue jumps from -1 to +1 at mu = 0.3 without crossing zero (as a block did when a
    round-off rotation generator was projected out of it)."""

    def grad(self, x, mu):
        return np.array([(1.0 if mu >= 0.3 else -1.0) * x[0] - x[0] ** 3])

    def hess(self, x, mu):
        return np.array([[(1.0 if mu >= 0.3 else -1.0) - 3 * x[0] ** 2]])


def test_a_count_change_without_a_zero_raises():
    with pytest.raises(ContradictionError, match="not singular"):
        _run(Jump(), [0.0], 0.0, 1.0)


def test_verify_branch_point_raises_on_each_contradiction():
    prob = Pitchfork()
    d = _run(prob, [0.0], -1.0, 1.0)
    (s,) = d.special_points("branch point", branch=0)
    span = prob.characters.span_of(s.theta)
    kr = (s.info["coset_keys"][0], 0)
    ok = dict(bracket={kr: (-1e-16, 1e-16)}, step={kr: (-0.02, 0.03)}, newton_tol=1e-11, scales={kr[0]: 0.03})
    verify_branch_point(prob, s, span, [(kr, 1)], **ok)  # the point as located: consistent
    with pytest.raises(ContradictionError, match="between the points of the step"):  # the index falls instead
        verify_branch_point(prob, s, span, [(kr, -1)], **ok)
    with pytest.raises(ContradictionError, match="does not change sign in the bracket"):
        verify_branch_point(prob, s, span, [(kr, 1)], **{**ok, "bracket": {kr: (1e-16, 2e-16)}})
    s.parameter = 0.5  # H = 0.5 there
    with pytest.raises(ContradictionError, match="not singular"):
        verify_branch_point(prob, s, span, [(kr, 1)], **ok)
    s.parameter, s.theta = 0.0, np.array([0.1])  # gradient -1e-3
    with pytest.raises(ContradictionError, match="not stationary"):
        verify_branch_point(prob, s, span, [(kr, 1)], **ok)
