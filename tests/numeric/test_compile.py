"""Compiled objectives: both paths and both backends agree with each other and with independent numerics."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import reference as ref
import statvae
from catalogue import all_models
from statvae.numeric import ParameterError, random_parameters
from statvae.model.layout import Layout
from statvae.symbolic.parameters import build_parameters

MODELS = all_models()
IDS = [m[0] for m in MODELS]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("STATVAE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "statvae-cache"))


def _setup(model, seed):
    rng = np.random.default_rng(seed)
    f = model.compile()
    theta = random_parameters(f.layout, rng)
    k = sum(v.dim for v in model.graph.observed())
    a = rng.standard_normal((k, k))
    cov = a @ a.T + 0.3 * np.eye(k)
    hyper = {n: float(rng.uniform(0.3, 2.0)) for n in model.values}
    return f, theta, cov, hyper, rng


def _ref_problem(model, cov, hyper):
    kind = model.kind
    d = model.dims
    dims = {"linear": lambda: (d["x"], d["z"]), "conditional": lambda: (d["x"], d["y"], d["z"]),
            "hierarchical": lambda: (d["x"], d["z1"], d["z2"])}[kind]()
    encs = tuple(v.encoder for v in model.graph.latents())
    dv = "learned" if any(v.variance == "learned" for v in model.graph.variables()) else "fixed"
    return ref.Problem(kind, dims, encoder=encs if len(encs) > 1 else encs[0], decoder_variance=dv, hyper=hyper,
                       Sigma=cov)


def test_layout_matches_symbolic_parameter_order():
    for _, model in MODELS:
        lay = Layout(model)
        names = [e.symbol.name for e in build_parameters(model).entries]
        assert lay.size == len(names)
        for b in lay.blocks:
            assert all(n.startswith(b.name) or b.is_scalar for n in names[b.slice])


@pytest.mark.parametrize("label,model", MODELS, ids=IDS)
def test_matrix_path_matches_reference_and_explicit(label, model):
    f, theta, cov, hyper, rng = _setup(model, 1)
    e = model.compile(path="explicit")
    prob = _ref_problem(model, cov, hyper)
    bound = f.bind(covariance=cov, **hyper)
    assert bound.value(theta) == pytest.approx(prob.f(theta), rel=1e-12, abs=1e-12)
    g = bound.gradient(theta)
    np.testing.assert_allclose(g, e.gradient(theta, covariance=cov, **hyper), rtol=1e-11, atol=1e-12)
    g_fd = ref.fd_gradient(prob.f, theta, scale=np.ones(theta.size))
    np.testing.assert_allclose(g, g_fd, rtol=1e-7, atol=1e-8 * max(1, np.abs(g_fd).max()))
    h = bound.hessian(theta)
    np.testing.assert_allclose(h, e.hessian(theta, covariance=cov, **hyper), rtol=1e-11, atol=1e-12)
    v = rng.standard_normal(theta.size)
    np.testing.assert_allclose(bound.hvp(theta, v), h @ v, rtol=1e-11, atol=1e-11)
    for name in model.values:
        dg = bound.gradient_hyper(theta, name)
        np.testing.assert_allclose(dg, e.gradient_hyper(theta, name, covariance=cov, **hyper), rtol=1e-10,
                                   atol=1e-11)
        step = 1e-5 * hyper[name]
        up = f.gradient(theta, covariance=cov, **{**hyper, name: hyper[name] + step})
        dn = f.gradient(theta, covariance=cov, **{**hyper, name: hyper[name] - step})
        np.testing.assert_allclose(dg, (up - dn) / (2 * step), rtol=1e-5, atol=1e-6)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, len(MODELS) - 1), st.integers(0, 10**6))
def test_random_points_agree_across_paths_and_backends(idx, seed):
    _, model = MODELS[idx]
    f, theta, cov, hyper, rng = _setup(model, seed)
    e = model.compile(path="explicit")
    mp = model.compile(backend="mpmath", dps=30)
    vals = [x.value(theta, covariance=cov, **hyper) for x in (f, e)]
    vm = mp.value(theta, covariance=cov, **hyper)
    assert vals[0] == pytest.approx(vals[1], rel=1e-12, abs=1e-12)
    assert float(vm) == pytest.approx(vals[0], rel=1e-12, abs=1e-12)
    gm = np.array(mp.gradient(theta, covariance=cov, **hyper), dtype=float)
    np.testing.assert_allclose(gm, f.gradient(theta, covariance=cov, **hyper), rtol=1e-11, atol=1e-12)


def test_mpmath_backend_reaches_high_precision():
    model = statvae.LinearVAE(2, 1, encoder="full", decoder_variance="learned")
    f = model.compile(backend="mpmath", dps=50)
    theta = np.array([0.25, -0.5, 0.75, 0.125, 1.5, 0.5])
    cov = np.array([[2.0, 0.5], [0.5, 1.0]])
    got = f.value(theta, covariance=cov)
    obj = model.objective(covariance=cov)  # sympy's own evaluation of the exact expression
    exact = obj.total.xreplace({s: sp.Rational(str(t)) for s, t in zip(obj.symbols, theta)})
    exact = exact.xreplace({x: sp.nsimplify(x) for x in exact.atoms(sp.Float)})
    assert abs(got - sp.N(exact, 60)) < sp.Float("1e-45")
    assert abs(float(got) - model.compile().value(theta, covariance=cov)) < 1e-13


def test_batch_over_hyper_values_equals_loop():
    model = statvae.LinearVAE(4, 2, beta=None, weight_decay_enc=0.1)
    f, theta, cov, hyper, rng = _setup(model, 3)
    sig = np.linspace(0.3, 3, 7)
    beta = np.linspace(0.5, 2, 7)
    vb = f.value_batch(theta, covariance=cov, sigma2=sig, beta=beta)
    gb = f.gradient_batch(theta, covariance=cov, sigma2=sig, beta=beta)
    for k in range(7):
        assert vb[k] == pytest.approx(f.value(theta, covariance=cov, sigma2=sig[k], beta=beta[k]), rel=1e-13)
        np.testing.assert_allclose(gb[k], f.gradient(theta, covariance=cov, sigma2=sig[k], beta=beta[k]),
                                   rtol=1e-12, atol=1e-13)


def test_stacked_hvp_directions():
    model = statvae.HierarchicalVAE(3, (2, 2), encoders=("full", "diagonal"))
    f, theta, cov, hyper, rng = _setup(model, 4)
    vs = rng.standard_normal((5, theta.size))
    out = f.hvp(theta, vs, covariance=cov, **hyper)
    for k in range(5):
        np.testing.assert_allclose(out[k], f.hvp(theta, vs[k], covariance=cov, **hyper), rtol=1e-12, atol=1e-12)


def test_spectrum_equals_diagonal_covariance():
    model = statvae.LinearVAE(3, 2, sigma2=1.5)
    f = model.compile()
    theta = random_parameters(f.layout, np.random.default_rng(0))
    assert f.value(theta, spectrum=[3, 2, 1]) == f.value(theta, covariance=np.diag([3.0, 2.0, 1.0]))


def test_cache_hit_is_identical_and_can_be_disabled(tmp_path, monkeypatch):
    monkeypatch.setenv("STATVAE_CACHE_DIR", str(tmp_path))
    from statvae.numeric import clear_cache

    model = statvae.ConditionalVAE(2, 3, 2, sigma2=0.7)
    a = model.compile()
    b = model.compile()
    assert not a.cache_hit and b.cache_hit
    assert b.source == a.source
    theta = random_parameters(a.layout, np.random.default_rng(1))
    cov = np.eye(5) + 0.1
    assert a.value(theta, covariance=cov) == b.value(theta, covariance=cov)
    np.testing.assert_array_equal(a.gradient(theta, covariance=cov), b.gradient(theta, covariance=cov))
    c = model.compile(cache=False)
    assert not c.cache_hit
    assert clear_cache() >= 1
    assert not model.compile().cache_hit


def test_generated_functions_document_argument_order():
    f = statvae.LinearVAE(3, 2).compile()
    assert f.argument_order[:4] == ["W", "V", "D", "S__x__x"]
    assert "Arguments: W, V, D, S__x__x, sigma2" in f.source
    assert "W" in f.layout.describe()


@pytest.mark.parametrize("bad,needle", [
    (np.zeros(5), "length 14"),
    (np.full(14, np.nan), "NaN"),
    ("abc", "vector of numbers"),
])
def test_bad_theta(bad, needle):
    f = statvae.LinearVAE(3, 2, sigma2=1).compile()
    with pytest.raises(ParameterError, match=needle):
        f.value(bad, spectrum=[1, 2, 3])


def test_non_positive_variance_blocks():
    f = statvae.LinearVAE(2, 2, sigma2=1, encoder="full").compile()
    theta = f.pack(W=np.zeros((2, 2)), V=np.zeros((2, 2)), D=np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ParameterError, match="not positive definite"):
        f.gradient(theta, spectrum=[1, 2])
    g = statvae.LinearVAE(2, 1, decoder_variance="learned", encoder="isotropic").compile()
    theta = g.pack(W=np.zeros((2, 1)), V=np.zeros((1, 2)), d=1.0, sigma2=-1.0)
    with pytest.raises(ParameterError, match="sigma2 must be > 0"):
        g.value(theta, spectrum=[1, 2])


@pytest.mark.parametrize("kw,err,needle", [
    (dict(spectrum=[1, 2, 3]), statvae.ModelError, "sigma2 has no value"),
    (dict(spectrum=[1, 2, 3], sigma2=-1), statvae.ModelError, "sigma2 must be > 0"),
    (dict(spectrum=[1, 2, 3], sigma2=1, gamma=1), statvae.ModelError, "not a hyper-parameter"),
    (dict(spectrum=[1, 2], sigma2=1), statvae.DataError, "3-dimensional"),
    (dict(spectrum=[1, np.nan, 2], sigma2=1), statvae.DataError, "finite"),
    (dict(covariance=np.array([[1, 2, 0], [0, 1, 0], [0, 0, 1.0]]), sigma2=1), statvae.DataError, "symmetric"),
    (dict(sigma2=1), statvae.DataError, "exactly one"),
])
def test_bad_data_and_hyper(kw, err, needle):
    f = statvae.LinearVAE(3, 2).compile()
    theta = f.pack(W=np.zeros((3, 2)), V=np.zeros((2, 3)), D=[1.0, 1.0])
    with pytest.raises(err, match=needle):
        f.value(theta, **kw)


def test_bad_compile_options():
    m = statvae.LinearVAE(30, 10)
    with pytest.raises(statvae.ModelError, match="backend"):
        m.compile(backend="jax")
    with pytest.raises(statvae.ModelError, match="explicit path is for small models"):
        m.compile(path="explicit")


def test_large_model_compiles_fast_and_matches_reference():
    import time

    model = statvae.LinearVAE(200, 12, sigma2=0.8, beta=1.3)
    t = time.perf_counter()
    f = model.compile(cache=False)
    assert time.perf_counter() - t < 10
    rng = np.random.default_rng(5)
    theta = random_parameters(f.layout, rng, scale=0.1)
    a = rng.standard_normal((200, 200)) / 15
    cov = a @ a.T
    prob = _ref_problem(model, cov, {"sigma2": 0.8, "beta": 1.3})
    assert f.value(theta, covariance=cov) == pytest.approx(prob.f(theta), rel=1e-11)


@pytest.mark.parametrize("path", ["matrix", "explicit"])
def test_value_and_gradient_together(path):
    model = statvae.HierarchicalVAE(2, (2, 1), decoder_variance="learned")
    f = model.compile(path=path)
    theta = random_parameters(f.layout, np.random.default_rng(2))
    cov = np.array([[2.0, 0.3], [0.3, 1.0]])
    v, g = f.value_and_gradient(theta, covariance=cov)
    assert v == pytest.approx(f.value(theta, covariance=cov), rel=1e-14)
    # the shared program may associate products differently: equal to round-off
    np.testing.assert_allclose(g, f.gradient(theta, covariance=cov), rtol=1e-13, atol=1e-14)


def test_verification_rejects_a_wrong_matrix_derivative(monkeypatch, tmp_path):
    """A derivative rule that drops a contribution must be caught before the code is trusted."""
    monkeypatch.setenv("STATVAE_CACHE_DIR", str(tmp_path))
    from statvae.numeric import VerificationError, bundle
    from statvae.numeric.tracepoly import TracePolynomial

    good = TracePolynomial.matrix_gradient
    monkeypatch.setattr(TracePolynomial, "matrix_gradient", lambda self, name: good(self, name)[1:])
    monkeypatch.setattr(bundle, "_VERIFIED", set())
    with pytest.raises(VerificationError, match="disagrees with the explicit-entry path"):
        statvae.LinearVAE(5, 3, encoder="full").compile(cache=False)
