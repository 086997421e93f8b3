"""statvae.optimum against closed forms from the literature and an independent optimiser."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import reference as ref
import statvae
from statvae.analysis.optimum import OptimumResult, optimum
from statvae.errors import DataError, ModelError, StatvaeError


def spectra(n_min: int = 2, n_max: int = 5):
    return st.lists(st.floats(0.1, 10.0), min_size=n_min, max_size=n_max).map(
        lambda xs: np.array(sorted(xs, reverse=True)))


def separated(spec: np.ndarray, beta_s2: float, gap: float = 0.05) -> bool:
    """Eigenvalues distinct and away from the threshold (the closed form is then a strict maximum)."""
    rel = np.abs(np.diff(spec)) / spec[0]
    return bool(np.all(rel > gap) and np.all(np.abs(spec - beta_s2) > gap * spec[0]))


@settings(max_examples=20, deadline=None)
@given(spec=spectra(), n=st.integers(1, 3), s2=st.floats(0.2, 6.0), beta=st.floats(0.5, 2.0))
def test_plain_linear_vae_matches_the_closed_form(spec, n, s2, beta):
    """Fixed sigma'^2, diagonal encoder: ||w||^2 = xi^2 - beta s2, posterior variance beta s2 / xi^2,
    KL = log(xi^2 / (beta s2)) / 2 on the top min(n, #above) directions (THEORY.md, section 3)."""
    assume(separated(spec, beta * s2))
    N = spec.size
    r = optimum(statvae.LinearVAE(N, n), spectrum=spec, sigma2=s2, beta=beta)
    assert r.success
    above = spec[spec > beta * s2][:n]
    assert r.active_latents == above.size
    kl = np.sort(np.array(r.kl_per_latent["z"]))[::-1]
    expect = np.zeros(n)
    expect[:above.size] = 0.5 * np.log(above / (beta * s2))
    np.testing.assert_allclose(kl, expect, rtol=1e-9, atol=1e-11)
    W = r.parameters["W"]
    sv = np.sort(np.linalg.svd(W, compute_uv=False))[::-1]  # W up to rotations and signs of the latents
    expect_sv = np.zeros(min(N, n))
    expect_sv[:above.size] = np.sqrt(above - beta * s2)
    np.testing.assert_allclose(sv, expect_sv, rtol=1e-8, atol=1e-8 * math.sqrt(spec[0]))
    d = np.sort(np.diag(r.parameters["D"]))
    expect_d = np.sort(np.concatenate([beta * s2 / above, np.ones(n - above.size)]))
    np.testing.assert_allclose(d, expect_d, rtol=1e-9)
    # the ELBO of the closed form, evaluated by the independent reference
    pr = ref.Problem("linear", (N, n), "diagonal", "fixed", {"sigma2": s2, "beta": beta}, np.diag(spec))
    assert pr.f(pr.pack(r.parameters)) == pytest.approx(r.elbo, rel=1e-12, abs=1e-12)


@settings(max_examples=15, deadline=None)
@given(spec=spectra(3, 6), n=st.integers(1, 3))
def test_learned_variance_at_beta_one_is_probabilistic_pca(spec, n):
    """Tipping & Bishop: sigma^2 = mean of the discarded eigenvalues; the ELBO equals the pPCA log-likelihood."""
    N = spec.size
    assume(n < N and (spec[n - 1] - spec[n]) > 0.05 * spec[0])
    r = optimum(statvae.LinearVAE(N, n, decoder_variance="learned"), spectrum=spec)
    assert r.success
    s2 = spec[n:].mean()
    assert r.variances["x"] == pytest.approx(s2, rel=1e-10)
    U = np.eye(N)[:, :n]
    C = U @ np.diag(spec[:n] - s2) @ U.T + s2 * np.eye(N)
    S = np.diag(spec)
    ll = -0.5 * (N * math.log(2 * math.pi) + np.linalg.slogdet(C)[1] + np.trace(np.linalg.solve(C, S)))
    assert r.elbo == pytest.approx(ll, rel=1e-11)


def test_probabilistic_pca_matches_scikit_learn():
    """``PCA(k).score`` (mean log-likelihood; covariance from ddof=1, average over samples ddof=0) equals the
    optimum's ELBO on the ddof=1 covariance plus N / (2 M) (at the pPCA optimum tr(C^-1 S) = N)."""
    decomposition = pytest.importorskip("sklearn.decomposition", reason="scikit-learn is not installed")
    rng = np.random.default_rng(7)
    M, N, k = 400, 6, 2
    X = rng.standard_normal((M, N)) @ np.diag([3.0, 2.0, 1.0, 0.7, 0.5, 0.3])
    r = optimum(statvae.LinearVAE(N, k, decoder_variance="learned"), samples=X)
    score = decomposition.PCA(k).fit(X).score(X)
    assert score == pytest.approx(r.elbo + N / (2 * M), rel=1e-10)


KINDS = [
    ("linear", (3, 2), dict(encoder="full")),
    ("linear", (3, 2), dict(encoder="isotropic")),
    ("linear", (3, 2), dict(decoder_variance="learned", beta=1.6)),
    ("linear", (3, 2), dict(weight_decay_enc=0.3, weight_decay_dec=0.2)),
    ("hierarchical", (3, 2, 1), {}),
    ("conditional", (2, 2, 1), {}),
]


def _model(kind, dims, kw, s2):
    kw = dict(kw)
    if kw.get("decoder_variance") != "learned":
        kw["sigma2"] = s2
    if kind == "linear":
        return statvae.LinearVAE(*dims, **kw)
    if kind == "hierarchical":
        return statvae.HierarchicalVAE(dims[0], dims[1:], **kw)
    return statvae.ConditionalVAE(*dims, **kw)


@pytest.mark.parametrize("kind,dims,kw", KINDS)
def test_optimum_beats_an_independent_optimiser(kind, dims, kw):
    """The reference objective (plain numpy, written without statvae) at statvae's optimum: same value,
    zero finite-difference gradient, and no reference L-BFGS run from random starts gets higher."""
    rng = np.random.default_rng(1)
    k = dims[0] if kind != "conditional" else dims[0] + dims[1]
    a = rng.standard_normal((k, k))
    Sigma = a @ a.T / k + 0.2 * np.eye(k)
    m = _model(kind, dims, kw, 0.3)
    r = optimum(m, covariance=Sigma, starts=4)
    assert r.success, r.status
    enc = kw.get("encoder", "diagonal")
    hyper = {h: float(v) for h, v in m.values.items()}
    pr = ref.Problem(kind, dims, enc, kw.get("decoder_variance", "fixed"), hyper, Sigma)
    params = dict(r.parameters)
    if "sigma2" in params:
        params["sigma2"] = r.variances["x"]
    for name, _, _, n, _ in pr._cov:
        if np.ndim(params.get(name, 0.0)) == 0:  # isotropic scale or fixed encoder: the matrix the reference reads
            params[name] = float(params.get(f"{name}_scale", params.get("d", 1.0))) * np.eye(n)
    theta = pr.pack(params)
    assert pr.f(theta) == pytest.approx(r.elbo, rel=1e-10)
    g = ref.fd_gradient(pr.f_batch, theta, scale=pr.fd_scale(theta), vectorized=True)
    assert np.abs(g).max() <= 1e-6 * max(1.0, abs(r.elbo))
    for seed in range(3):
        t0 = pr.pack(params) + 0.3 * np.random.default_rng(seed).standard_normal(pr.size) * (pr.fd_scale(theta) > 0)
        if not np.isfinite(pr.f(t0)):
            continue
        _, v = ref.maximize_objective(pr, t0, maxiter=3000)
        assert v <= r.elbo + 1e-7 * max(1.0, abs(r.elbo))


@settings(max_examples=10, deadline=None)
@given(spec=spectra(2, 4), n=st.integers(1, 2), s2=st.floats(0.2, 4.0), scale=st.sampled_from([1e-6, 1e-3, 1e3, 1e6]))
def test_units_do_not_matter(spec, n, s2, scale):
    """Data and sigma'^2 in other units: the same KL and active set, W scaled by sqrt(scale), V by 1/sqrt(scale)."""
    assume(separated(spec, s2))
    m = statvae.LinearVAE(spec.size, n)
    a = optimum(m, spectrum=spec, sigma2=s2)
    b = optimum(m, spectrum=spec * scale, sigma2=s2 * scale)
    assert {k: len(v) for k, v in a.active.items()} == {k: len(v) for k, v in b.active.items()}
    np.testing.assert_allclose(np.sort(b.kl_per_latent["z"]), np.sort(a.kl_per_latent["z"]), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(np.sort(np.abs(b.parameters["W"]).ravel()),
                               np.sort(np.abs(a.parameters["W"]).ravel()) * math.sqrt(scale),
                               rtol=1e-7, atol=1e-9 * math.sqrt(scale * spec[0]))


def test_rotated_data_give_rotated_weights():
    """A covariance with the same spectrum in another basis: the same observables, W rotated with the data."""
    rng = np.random.default_rng(3)
    spec = np.array([5.0, 3.0, 2.0, 0.5])
    Q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    m = statvae.LinearVAE(4, 2, sigma2=1.0)
    a = optimum(m, spectrum=spec)
    b = optimum(m, covariance=Q @ np.diag(spec) @ Q.T)
    assert b.elbo == pytest.approx(a.elbo, rel=1e-12)
    Wa, Wb = a.parameters["W"], b.parameters["W"]
    np.testing.assert_allclose(Wb @ Wb.T, Q @ (Wa @ Wa.T) @ Q.T, atol=1e-10)


@settings(max_examples=10, deadline=None)
@given(spec=spectra(2, 4), s2=st.floats(0.2, 4.0))
def test_save_load_is_lossless(tmp_path_factory, spec, s2):
    r = optimum(statvae.LinearVAE(spec.size, 2), spectrum=spec, sigma2=s2, starts=2)
    path = tmp_path_factory.mktemp("opt") / "r.json"
    r.save(str(path))
    back = OptimumResult.load(str(path))
    assert back.to_dict() == r.to_dict()
    for k, v in r.parameters.items():
        assert np.array_equal(back.parameters[k], v)


def test_collapsed_side_is_the_collapsed_point():
    """Above the threshold the optimum is the collapsed point: W = V = 0, D = I, KL = 0."""
    r = optimum(statvae.LinearVAE(3, 2), spectrum=[3.0, 2.0, 1.0], sigma2=3.5)
    assert r.success and r.active_latents == 0
    assert np.abs(r.parameters["W"]).max() < 1e-10 and r.kl_total < 1e-18
    np.testing.assert_allclose(np.diag(r.parameters["D"]), 1.0, rtol=1e-12)


@pytest.mark.parametrize("call,kind", [
    (lambda m: optimum(m, spectrum=[3.0, 2.0]), ModelError),  # sigma2 has no value
    (lambda m: optimum(m, spectrum=[3.0, 2.0], sigma2=1.0, gamma=2.0), ModelError),  # names nothing
    (lambda m: optimum(m, spectrum=[3.0, np.nan], sigma2=1.0), DataError),
    (lambda m: optimum(m, spectrum=[3.0, 2.0, 1.0], sigma2=1.0), DataError),  # wrong dimension
    (lambda m: optimum(m, covariance=[[1.0, 2.0], [0.0, 1.0]], sigma2=1.0), DataError),  # not symmetric
    (lambda m: optimum(m, spectrum=[3.0, 2.0], sigma2=-1.0), ModelError),
    (lambda m: optimum(m, spectrum=[3.0, 2.0], sigma2=1.0, starts=0), ModelError),
    (lambda m: optimum(m, sigma2=1.0), DataError),
])
def test_bad_input_gets_a_one_line_error(call, kind):
    with pytest.raises(kind) as e:
        call(statvae.LinearVAE(2, 1))
    assert isinstance(e.value, StatvaeError) and "\n" not in str(e.value)


@settings(max_examples=12, deadline=None)
@given(spec=spectra(2, 5), n=st.integers(1, 3), s2=st.floats(0.2, 6.0), beta=st.floats(0.5, 2.0),
       pv=st.floats(0.5, 2.0), encoder=st.sampled_from(["diagonal", "full"]))
def test_closed_form_and_trust_region_agree(spec, n, s2, beta, pv, encoder):
    """The per-mode closed form (sympy's solution of the one-mode model) and the trust-region solver from
    random starts reach the same optimum."""
    assume(separated(spec, beta * s2))
    m = statvae.LinearVAE(spec.size, n, encoder=encoder, prior_variance=pv)
    a = optimum(m, spectrum=spec, sigma2=s2, beta=beta, method="closed-form", starts=1)
    b = optimum(m, spectrum=spec, sigma2=s2, beta=beta, method="numeric", starts=3)
    assert a.method.startswith("per-mode") and b.method.startswith("trust-krylov")
    assert a.success and b.success
    assert a.elbo == pytest.approx(b.elbo, rel=1e-12, abs=1e-12)
    assert a.kl_total == pytest.approx(b.kl_total, rel=1e-8, abs=1e-10)
    if encoder == "diagonal":  # a full encoder's optimum is defined up to rotations of latent space
        np.testing.assert_allclose(np.sort(a.kl_per_latent["z"]), np.sort(b.kl_per_latent["z"]), rtol=1e-8,
                                   atol=1e-10)


def test_closed_form_is_refused_where_there_is_none():
    with pytest.raises(ModelError, match="no per-mode closed form"):
        optimum(statvae.LinearVAE(3, 2, decoder_variance="learned"), spectrum=[3.0, 2.0, 1.0], method="closed-form")
    with pytest.raises(ModelError, match="method must be"):
        optimum(statvae.LinearVAE(3, 2), spectrum=[3.0, 2.0, 1.0], sigma2=1.0, method="newton")


def test_custom_graph_two_views():
    """A custom graph (two correlated views, no canonical form): statvae's optimum against the independent
    graph reference (value equal, no random perturbation or reference L-BFGS run from it gets higher)."""
    import graph_reference as gr
    from statvae.model.graph import Map, ModelGraph, Variable

    g = ModelGraph()
    g.add_variable(Variable("x", 3, True, variance="sigma2_x"))
    g.add_variable(Variable("y", 2, True, variance="sigma2_y"))
    g.add_variable(Variable("z", 1, False))
    g.add_map(Map("Wx", "z", "x", "generative"))
    g.add_map(Map("Wy", "z", "y", "generative"))
    g.add_map(Map("Vx", "x", "z", "inference"))
    g.add_map(Map("Vy", "y", "z", "inference"))
    m = statvae.VAEModel(g)
    a = np.random.default_rng(4).standard_normal((5, 6))
    C = a @ a.T / 6
    r = optimum(m, covariance=C, sigma2_x=0.2, sigma2_y=0.3)
    assert r.success and r.active_latents == 1
    spec = {"hyper": {"sx": 0.2, "sy": 0.3},
            "variables": [{"name": "x", "dim": 3, "observed": True, "variance": "sx"},
                          {"name": "y", "dim": 2, "observed": True, "variance": "sy"},
                          {"name": "z", "dim": 1, "observed": False, "variance": 1.0, "encoder": "diagonal"}],
            "maps": [{"name": n, "source": s, "target": t, "role": role} for n, s, t, role in
                     (("Wx", "z", "x", "generative"), ("Wy", "z", "y", "generative"),
                      ("Vx", "x", "z", "inference"), ("Vy", "y", "z", "inference"))]}
    pr = gr.GraphProblem(spec, C)
    params = {"Wx": r.parameters["Wx"], "Wy": r.parameters["Wy"], "Vx": r.parameters["Vx"],
              "Vy": r.parameters["Vy"], gr._cov_key("z"): r.parameters["D"]}
    theta = pr.pack(params)
    assert pr.f(theta) == pytest.approx(r.elbo, rel=1e-11)
    rng = np.random.default_rng(0)
    for _ in range(200):
        t = theta + 1e-3 * rng.standard_normal(theta.size)
        assert not pr.f(t) > r.elbo + 1e-12 * abs(r.elbo)
    _, v = ref.maximize_objective(pr, theta + 0.2 * rng.standard_normal(theta.size), maxiter=3000)
    assert v <= r.elbo + 1e-7 * abs(r.elbo)


@settings(max_examples=12, deadline=None)
@given(top=st.lists(st.floats(4.0, 10.0), min_size=1, max_size=2),
       rest=st.lists(st.floats(0.1, 1.0), min_size=2, max_size=4), beta=st.floats(0.4, 2.0))
def test_learned_variance_with_beta(top, rest, beta):
    """Learned sigma'^2 with beta != 1: with k latents active, the profile of the fixed-sigma'^2 closed form
    (residual beta sigma'^2 per active direction, KL log(xi^2 / (beta sigma'^2)) / 2) is stationary at
    sigma'^2 = (sum of the discarded eigenvalues) / (N - beta k), self-consistent when the k top
    eigenvalues exceed beta sigma'^2 and the others do not."""
    spec = np.array(sorted(top, reverse=True) + sorted(rest, reverse=True))
    N, n = spec.size, len(top)
    k = n
    assume(N - beta * k > 0.5)
    s2 = spec[k:].sum() / (N - beta * k)
    assume(spec[k - 1] > 1.05 * beta * s2 and (k == N or spec[k] < 0.95 * beta * s2))
    r = optimum(statvae.LinearVAE(N, n, decoder_variance="learned", beta=beta), spectrum=spec)
    assert r.success and r.active_latents == k
    assert r.variances["x"] == pytest.approx(s2, rel=1e-9)
    np.testing.assert_allclose(np.sort(r.kl_per_latent["z"])[::-1],
                               0.5 * np.log(spec[:k] / (beta * s2)), rtol=1e-8)
