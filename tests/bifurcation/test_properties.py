"""Properties of tracker results over random spectra, dimensions and hyper-parameters."""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import statvae
from statvae.bifurcation import BifurcationDiagram
from statvae.bifurcation.continuation import ContinuationOptions, continue_branch
from statvae.bifurcation.problem import ContinuationProblem
from strength import full_strength

spectra = st.lists(st.floats(0.3, 4.0), min_size=2, max_size=4).map(lambda v: sorted(v, reverse=True))


def _problem(model, spectrum):
    from statvae.bifurcation.api import resolve_spectra

    return ContinuationProblem(model, resolve_spectra(model, spectrum=spectrum), "sigma2")


@settings(max_examples=4, deadline=None)
@given(spectra, st.integers(1, 3), st.floats(0.5, 2.0), st.sampled_from(["diagonal", "full", "isotropic"]))
# eigenvalues 0.16 % apart: the branch of two latents slid onto the second latent's branch and reported a spurious
# point with |H v| = 0.63 (tests/bifurcation/test_near_degenerate.py)
@example([1.658203125, 1.6556183436458363], 3, 2.0, "full")
def test_located_points_are_stationary_singular_and_index_jumps_by_kernel(spec, n, beta, encoder):
    model = statvae.LinearVAE(len(spec), n, beta=beta, encoder=encoder)
    hi = 1.2 * max(spec) / beta
    lo = 0.2 * min(spec) / beta
    d = statvae.track(model, spectrum=spec, start=hi, stop=lo, depth=1)
    prob = _problem(model, spec)
    for s in d.special_points("branch point"):
        if s.status == "detected":
            continue
        g = prob.gradient(s.theta, s.parameter)
        assert np.linalg.norm(g) <= 1e-8 * (1 + np.linalg.norm(s.theta))
        for vec in s.info.get("kernel_vectors", []):
            hv = prob.hvp(s.theta, vec, s.parameter)
            assert np.linalg.norm(hv) <= 1e-7 * max(1.0, np.abs(prob.hvp(s.theta, np.eye(len(vec))[0],
                                                                          s.parameter)).max())
        if s.branch == 0:
            assert abs(s.index_change) == s.kernel_dim
    crossings = [(c.value, c.kernel_dim) for c in model.collapse().crossings("sigma2", spectrum=spec)]
    got = d.special_points("branch point", branch=0)
    assert [k for _, k in crossings] == [s.kernel_dim for s in got]
    np.testing.assert_allclose([s.parameter for s in got], [v for v, _ in crossings], rtol=1e-10)


test_located_points_are_stationary_singular_and_index_jumps_by_kernel_full = full_strength(
    test_located_points_are_stationary_singular_and_index_jumps_by_kernel,
    spectra, st.integers(1, 3), st.floats(0.5, 2.0), st.sampled_from(["diagonal", "full", "isotropic"]),
    max_examples=8, deadline=None)


@settings(max_examples=3, deadline=None)
@given(spectra, st.floats(0.6, 1.5))
def test_forward_then_backward_returns_to_start(spec, beta):
    model = statvae.LinearVAE(len(spec), 2, beta=beta)
    d = statvae.track(model, spectrum=spec, start=1.2 * max(spec) / beta, stop=0.1, depth=1, store_parameters=True)
    child = d.branches[1]
    prob = _problem(model, spec)
    span = prob.characters.span_of(child.theta[-1])
    k0 = len(child.parameter) // 2
    p0, th0 = child.parameter[k0], child.theta[k0]
    p1 = child.parameter[-1]
    opts = ContinuationOptions(p_min=min(p0, p1), p_max=max(p0, p1))
    fwd = continue_branch(prob, th0, p0, span, np.sign(p1 - p0), opts)
    last = fwd.points[-1]
    back = continue_branch(prob, last.theta, last.p, span, np.sign(p0 - p1), opts)
    end = back.points[-1]
    assert end.p == pytest.approx(p0, rel=1e-12)
    np.testing.assert_allclose(end.theta, th0, rtol=1e-8, atol=1e-10)


test_forward_then_backward_returns_to_start_full = full_strength(
    test_forward_then_backward_returns_to_start, spectra, st.floats(0.6, 1.5), max_examples=6, deadline=None)


def test_symmetry_copies_are_dropped_and_identical():
    """A repeated eigenvalue: branches along either eigen-direction are rotations of each other."""
    model = statvae.LinearVAE(3, 2)
    d = statvae.track(model, spectrum=[2.0, 2.0, 1.0], start=3.0, stop=0.5, depth=1)
    bp = [s for s in d.special_points("branch point", branch=0) if abs(s.parameter - 2.0) < 1e-9][0]
    assert bp.kernel_dim == 4  # 2 latents x 2 directions
    assert bp.info.get("symmetric_copies", 0) >= 1
    assert len(d.children(bp.id)) == 1
    # permuting the two latents maps a stationary point to a stationary point with equal observables
    prob = _problem(model, [2.0, 2.0, 1.0])
    child = d.children(bp.id)[0]
    th = child.theta[-1]
    blocks = prob.layout.unpack(th)
    perm = prob.layout.pack(W=blocks["W"][:, ::-1], V=blocks["V"][::-1], D=np.diag(blocks["D"])[::-1])
    assert np.linalg.norm(prob.gradient(perm, child.parameter[-1])) < 1e-9
    o1, o2 = prob.observables(th, child.parameter[-1]), prob.observables(perm, child.parameter[-1])
    assert o1["elbo"] == pytest.approx(o2["elbo"], rel=1e-13) and o1["kl_total"] == pytest.approx(o2["kl_total"])


@settings(max_examples=5, deadline=None)
@given(spectra, st.integers(1, 2), st.sampled_from([".json", ".npz"]))
def test_save_load_is_lossless(tmp_path_factory, spec, n, suffix):
    d = statvae.track(statvae.LinearVAE(len(spec), n), spectrum=spec, start=1.1 * max(spec), stop=0.3)
    path = tmp_path_factory.mktemp("diagram") / f"d{suffix}"
    d.save(path)
    e = BifurcationDiagram.load(path)
    assert e == d
    for k, b in d.branches.items():
        np.testing.assert_array_equal(e.branches[k].parameter, b.parameter)
        np.testing.assert_array_equal(e.branches[k].theta, b.theta)
    for k, s in d.points.items():
        assert e.points[k].parameter == s.parameter and e.points[k].interval == s.interval


def test_kl_kink_and_square_root_order_parameter():
    """At each threshold of the stable path: KL slope jumps by -1/(2 beta xi^2 ...) and |w| ~ |p - p*|^(1/2)."""
    beta = 1.0
    spec = [3.0, 2.0, 1.0]
    d = statvae.track(statvae.LinearVAE(3, 3, beta=beta), spectrum=spec, start=4.0, stop=0.3)
    path = [s for s in d.special_points("branch point") if s.info.get("stability_change")]
    assert sorted(round(s.parameter, 10) for s in path) == [1.0, 2.0, 3.0]
    for s in path:
        der = s.info["one_sided_derivatives"]["kl_total"]
        # KL of the new latent is 1/2 log(xi^2 / (beta sigma2)): its slope at the threshold is -1/(2 sigma2)
        assert der["jump"] == pytest.approx(-1 / (2 * s.parameter), rel=1e-3)
        assert s.info["exponents"]["order_parameter"] == pytest.approx(0.5, abs=2e-3)
        assert s.info["exponents"]["kl"] == pytest.approx(1.0, abs=2e-2)
        assert abs(s.info["one_sided_derivatives"]["elbo"]["jump"]) < 1e-3   # first derivative continuous


def test_certification_to_30_digits():
    import mpmath

    model = statvae.LinearVAE(3, 2, beta=1.25)
    d = statvae.track(model, spectrum=[3.0, 2.0, 1.0], start=4.0, stop=0.5, depth=0, certify=True)
    for s, exact in zip(d.special_points("branch point", branch=0), ["0.8", "1.6", "2.4"]):
        assert s.status == "certified"
        cert = s.certificate  # the typed view of the saved entry
        with mpmath.workdps(40):  # compare at 40 digits (at the default 15 both sides would round alike)
            assert abs(mpmath.mpf(s.info["certified"]["value"]) - mpmath.mpf(exact)) < mpmath.mpf(10) ** -29
            assert cert.digits == 30 and abs(cert.mpf() - mpmath.mpf(exact)) < mpmath.mpf(10) ** -29
        assert cert.difference < 1e-12 * float(exact)


def test_certify_diagram_in_one_pass_matches_point_by_point():
    """One pass (compiled and bound once) certifies what point-by-point certification does, to 30 digits
    of the binary-float problem (lambda_i / beta with the doubles 3.1, 2.2, 1.3, 0.7 and 1.3)."""
    import mpmath

    from statvae.bifurcation.certify import certify_diagram, certify_point

    spec, beta = [3.1, 2.2, 1.3, 0.7], 1.3
    m = statvae.LinearVAE(4, 2, beta=beta)
    kw = dict(spectrum=spec, start=4.0, stop=0.4, depth=0, switching=False)
    d1, d2 = statvae.track(m, **kw), statvae.track(m, **kw)
    one_pass = certify_diagram(m, d1, branch=0)
    by_point = [certify_point(m, d2, s.id) for s in d2.special_points("branch point", branch=0)]
    assert [c.value for c in one_pass] == [c.value for c in by_point] and len(one_pass) == 4
    with mpmath.workdps(40):
        for c in one_pass:
            exact = min((mpmath.mpf(x) / mpmath.mpf(beta) for x in spec), key=lambda e: abs(e - c.mpf()))
            assert abs(c.mpf() - exact) < mpmath.mpf(10) ** -29 * exact
