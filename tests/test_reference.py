"""Tests of the independent numpy reference (tests/reference.py) against
closed forms that the reference does not use internally.

Nothing here imports ``statvae``: these tests validate the reference itself,
so that it can in turn be used to check the package.
"""

import math
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats

try:
    import reference as ref
except ImportError:  # tests/ turned into a package
    from tests import reference as ref

# The number of examples follows the active hypothesis profile (tests/conftest.py);
# REFERENCE_EXAMPLES=N overrides it for these property tests only.
_N_EXAMPLES = os.environ.get("REFERENCE_EXAMPLES")
HSET = settings(deadline=None, database=None, **({"max_examples": int(_N_EXAMPLES)} if _N_EXAMPLES else {}))
ENCODERS = ref.ENCODER_KINDS
DECODERS = ("fixed", "learned")


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def rotation(N, seed):
    rng = np.random.default_rng(seed)
    Q, R = np.linalg.qr(rng.normal(size=(N, N)))
    return Q * np.sign(np.diag(R))


def cov_with_spectrum(lam, seed):
    lam = np.asarray(lam, dtype=float)
    Q = rotation(lam.size, seed)
    S = Q @ np.diag(lam) @ Q.T
    return 0.5 * (S + S.T)


def random_cov(N, seed, ridge=0.1):
    rng = np.random.default_rng(seed)
    G = rng.normal(size=(N, N))
    return G @ G.T / N + ridge * np.eye(N)


def random_spd(n, rng, base=0.5):
    G = rng.normal(size=(n, n)) * 0.3
    return G @ G.T + base * np.eye(n)


def random_params(kind, dims, rng, learned):
    if kind == "linear":
        N, n = dims
        P = dict(W=rng.normal(size=(N, n)), V=rng.normal(size=(n, N)), D=random_spd(n, rng))
    elif kind == "conditional":
        Nx, Ny, n = dims
        P = dict(
            A=rng.normal(size=(n, Nx)), B=rng.normal(size=(n, Ny)), W=rng.normal(size=(Ny, n)),
            C=rng.normal(size=(Ny, Nx)), D=random_spd(n, rng),
        )
    else:
        N, n1, n2 = dims
        P = dict(
            U1=rng.normal(size=(N, n1)), U2=rng.normal(size=(n1, n2)), W1=rng.normal(size=(n1, N)) * 0.5,
            W2=rng.normal(size=(n2, n1)) * 0.5, D1=random_spd(n1, rng), D2=random_spd(n2, rng),
        )
    if learned:
        P["sigma2"] = 0.8
    return P


def data_dim(kind, dims):
    return dims[0] + dims[1] if kind == "conditional" else dims[0]


HYPER = {
    "linear": dict(sigma2=0.6, beta=1.7, prior_variance=0.4, weight_decay_enc=0.3, weight_decay_dec=0.2),
    "conditional": dict(sigma2=0.6, beta=0.7, prior_variance=1.4, weight_decay_enc=0.3, weight_decay_dec=0.2),
    "hierarchical": dict(sigma2=0.6, beta1=0.7, beta2=1.9, tau2=0.45, prior_variance=1.4,
                         weight_decay_enc=0.3, weight_decay_dec=0.2),
}
DIMS = {"linear": (4, 2), "conditional": (2, 3, 2), "hierarchical": (4, 3, 2)}


def expected_log_gauss_joint(R, K, d, var):
    """E log N(R xi; 0, var I_d) for xi ~ N(0, K)."""
    return -0.5 * d * math.log(2 * math.pi * var) - np.trace(R @ K @ R.T) / (2 * var)


def entropy(D):
    return stats.multivariate_normal(mean=np.zeros(D.shape[0]), cov=D).entropy()


def blockdiag(*Ms):
    n = sum(M.shape[0] for M in Ms)
    out = np.zeros((n, n))
    i = 0
    for M in Ms:
        k = M.shape[0]
        out[i:i + k, i:i + k] = M
        i += k
    return out


def joint_route_objective(kind, P, Sigma, h):
    """Same objective assembled from the joint Gaussian of all noise sources
    xi = (data, e1[, e2]) ~ N(0, blockdiag(Sigma, D1[, D2])) and scipy entropies."""
    s = P.get("sigma2", h["sigma2"])
    p = h["prior_variance"]
    ee, ed = h.get("weight_decay_enc", 0.0), h.get("weight_decay_dec", 0.0)
    if kind == "linear":
        W, V, D = P["W"], P["V"], P["D"]
        N, n = W.shape
        K = blockdiag(Sigma, D)
        Z = np.hstack([V, np.eye(n)])  # z = V x + e
        X = np.hstack([np.eye(N), np.zeros((N, n))])
        rec = expected_log_gauss_joint(X - W @ Z, K, N, s)
        prior = expected_log_gauss_joint(Z, K, n, p)
        return rec + h["beta"] * (prior + entropy(D)) - ee / 2 * np.sum(V**2) - ed / 2 * np.sum(W**2)
    if kind == "conditional":
        A, B, W, C, D = P["A"], P["B"], P["W"], P["C"], P["D"]
        n, Nx = A.shape
        Ny = B.shape[1]
        K = blockdiag(Sigma, D)
        Z = np.hstack([A, B, np.eye(n)])
        X = np.hstack([np.eye(Nx), np.zeros((Nx, Ny + n))])
        Y = np.hstack([np.zeros((Ny, Nx)), np.eye(Ny), np.zeros((Ny, n))])
        rec = expected_log_gauss_joint(Y - W @ Z - C @ X, K, Ny, s)
        prior = expected_log_gauss_joint(Z, K, n, p)
        return (rec + h["beta"] * (prior + entropy(D))
                - ee / 2 * (np.sum(A**2) + np.sum(B**2)) - ed / 2 * np.sum(W**2))
    U1, U2, W1, W2, D1, D2 = (P[k] for k in ("U1", "U2", "W1", "W2", "D1", "D2"))
    N, n1 = U1.shape
    n2 = U2.shape[1]
    K = blockdiag(Sigma, D1, D2)
    X = np.hstack([np.eye(N), np.zeros((N, n1 + n2))])
    Z1 = np.hstack([W1, np.eye(n1), np.zeros((n1, n2))])
    Z2 = W2 @ Z1 + np.hstack([np.zeros((n2, N + n1)), np.eye(n2)])
    rec = expected_log_gauss_joint(X - U1 @ Z1, K, N, s)
    l1 = expected_log_gauss_joint(Z1 - U2 @ Z2, K, n1, h["tau2"])
    l2 = expected_log_gauss_joint(Z2, K, n2, p)
    return (rec + h["beta1"] * (l1 + entropy(D1)) + h["beta2"] * (l2 + entropy(D2))
            - ee / 2 * (np.sum(W1**2) + np.sum(W2**2)) - ed / 2 * (np.sum(U1**2) + np.sum(U2**2)))


# --------------------------------------------------------------------------
# the objective itself
# --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ref.KINDS)
@pytest.mark.parametrize("learned", [False, True])
def test_objective_matches_joint_gaussian_route(kind, learned):
    rng = np.random.default_rng(11)
    dims = DIMS[kind]
    Sigma = random_cov(data_dim(kind, dims), 5)
    P = random_params(kind, dims, rng, learned)
    h = HYPER[kind]
    got = ref.objective(kind, P, Sigma, h)
    want = joint_route_objective(kind, P, Sigma, dict(ref.DEFAULT_HYPER[kind], **h))
    assert got == pytest.approx(want, rel=1e-12, abs=1e-11)


@pytest.mark.parametrize("kind", ref.KINDS)
def test_terms_decomposition(kind):
    rng = np.random.default_rng(2)
    dims = DIMS[kind]
    Sigma = random_cov(data_dim(kind, dims), 3)
    P = random_params(kind, dims, rng, False)
    h = dict(ref.DEFAULT_HYPER[kind], **HYPER[kind])
    T = ref.terms(kind, P, Sigma, h)
    if kind == "hierarchical":
        recomposed = T["reconstruction"] - h["beta1"] * T["kl1"] - h["beta2"] * T["kl2"] - T["weight_decay"]
        assert T["kl2"] >= -1e-12  # E[KL(q(z2|z1) || p(z2))] >= 0
    else:
        recomposed = T["reconstruction"] - h["beta"] * T["kl"] - T["weight_decay"]
        assert T["kl"] >= -1e-12
    assert T["total"] == pytest.approx(recomposed, rel=1e-13, abs=1e-12)
    assert T["weight_decay"] > 0


@pytest.mark.parametrize("kind", ref.KINDS)
def test_objective_monte_carlo(kind):
    """Sampling check of every expectation, including the 2 pi constants,
    with scipy's log densities (independent of the closed forms)."""
    rng = np.random.default_rng(7)
    dims = DIMS[kind]
    nd = data_dim(kind, dims)
    Sigma = random_cov(nd, 9)
    P = random_params(kind, dims, rng, True)
    h = dict(ref.DEFAULT_HYPER[kind], **HYPER[kind])
    h.update(weight_decay_enc=0.0, weight_decay_dec=0.0)
    T = ref.terms(kind, P, Sigma, h)
    M = 200_000
    u = rng.multivariate_normal(np.zeros(nd), Sigma, size=M)
    s, p = P["sigma2"], h["prior_variance"]

    def logn(v, var):  # sum of independent N(0, var) log-densities
        return stats.norm.logpdf(v, scale=math.sqrt(var)).sum(axis=1)

    def logq(z, mean, D):
        return stats.multivariate_normal(mean=np.zeros(D.shape[0]), cov=D).logpdf(z - mean)

    if kind == "linear":
        mean = u @ P["V"].T
        z = mean + rng.multivariate_normal(np.zeros(dims[1]), P["D"], size=M)
        samples = {"reconstruction": logn(u - z @ P["W"].T, s), "kl": logq(z, mean, P["D"]) - logn(z, p)}
    elif kind == "conditional":
        Nx = dims[0]
        x, y = u[:, :Nx], u[:, Nx:]
        mean = x @ P["A"].T + y @ P["B"].T
        z = mean + rng.multivariate_normal(np.zeros(dims[2]), P["D"], size=M)
        samples = {"reconstruction": logn(y - z @ P["W"].T - x @ P["C"].T, s),
                   "kl": logq(z, mean, P["D"]) - logn(z, p)}
    else:
        m1 = u @ P["W1"].T
        z1 = m1 + rng.multivariate_normal(np.zeros(dims[1]), P["D1"], size=M)
        m2 = z1 @ P["W2"].T
        z2 = m2 + rng.multivariate_normal(np.zeros(dims[2]), P["D2"], size=M)
        samples = {"reconstruction": logn(u - z1 @ P["U1"].T, s),
                   "kl1": logq(z1, m1, P["D1"]) - logn(z1 - z2 @ P["U2"].T, h["tau2"]),
                   "kl2": logq(z2, m2, P["D2"]) - logn(z2, p)}
    for key, v in samples.items():
        se = v.std() / math.sqrt(M)
        assert abs(v.mean() - T[key]) < 5 * se + 1e-12, (key, v.mean(), T[key], se)


@pytest.mark.parametrize("kind", ref.KINDS)
def test_invalid_points_are_minus_inf(kind):
    dims = DIMS[kind]
    Sigma = random_cov(data_dim(kind, dims), 1)
    P = random_params(kind, dims, np.random.default_rng(0), True)
    P["sigma2"] = -1.0
    assert ref.objective(kind, P, Sigma, {}) == -np.inf
    P["sigma2"] = 1.0
    key = "D" if kind != "hierarchical" else "D2"
    P[key] = -P[key]
    assert ref.objective(kind, P, Sigma, {}) == -np.inf


def test_unknown_hyper_rejected():
    with pytest.raises(KeyError):
        ref.objective("linear", {"W": np.zeros((1, 1)), "V": np.zeros((1, 1)), "D": np.eye(1)},
                      np.eye(1), {"sigma": 1.0})


# --------------------------------------------------------------------------
# free-parameter layer
# --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ref.KINDS)
@pytest.mark.parametrize("encoder", ENCODERS)
@pytest.mark.parametrize("decoder", DECODERS)
def test_pack_unpack_roundtrip_and_order(kind, encoder, decoder):
    dims = DIMS[kind]
    Sigma = random_cov(data_dim(kind, dims), 0)
    h = {"encoder_variance1": 0.3, "encoder_variance2": 0.2} if kind == "hierarchical" else {"encoder_variance": 0.3}
    pr = ref.Problem(kind, dims, encoder, decoder, h, Sigma)
    rng = np.random.default_rng(4)
    theta = rng.normal(size=pr.size)
    P = pr.unpack(theta)
    np.testing.assert_array_equal(pr.pack(P), theta)
    assert ("sigma2" in P) == (decoder == "learned")
    if decoder == "learned":
        assert P["sigma2"] == theta[-1] and pr.labels[-1] == "sigma2"
    # order: maps row-major first, in the documented order
    names = {"linear": ["W", "V"], "conditional": ["A", "B", "W", "C"], "hierarchical": ["U1", "U2", "W1", "W2"]}[kind]
    pos = 0
    for nm in names:
        size = P[nm].size
        np.testing.assert_array_equal(theta[pos:pos + size], P[nm].ravel())
        pos += size
    for nm in (["D"] if kind != "hierarchical" else ["D1", "D2"]):
        D = P[nm]
        n = D.shape[0]
        np.testing.assert_array_equal(D, D.T)
        if encoder == "diagonal":
            np.testing.assert_array_equal(D, np.diag(theta[pos:pos + n]))
            pos += n
        elif encoder == "full":
            iu = np.triu_indices(n)
            np.testing.assert_array_equal(D[iu], theta[pos:pos + len(iu[0])])
            pos += len(iu[0])
        elif encoder == "isotropic":
            np.testing.assert_array_equal(D, theta[pos] * np.eye(n))
            pos += 1
        else:
            d0 = {"D": 0.3, "D1": 0.3, "D2": 0.2}[nm]
            np.testing.assert_array_equal(D, d0 * np.eye(n))
    assert pos + (decoder == "learned") == pr.size == len(pr.labels)
    assert pr.f(theta) == pytest.approx(ref.objective(kind, P, Sigma, h), rel=1e-14) or not np.isfinite(pr.f(theta))


def test_full_encoder_offdiagonal_sets_both_entries():
    pr = ref.Problem("linear", (2, 3), "full", "fixed", {}, np.eye(2))
    theta = np.zeros(pr.size)
    k = pr.labels.index("D[0,2]")
    theta[k] = 0.25
    D = pr.unpack(theta)["D"]
    assert D[0, 2] == D[2, 0] == 0.25


def test_problem_validation():
    with pytest.raises(ValueError):
        ref.Problem("linear", (3, 1), "diagonal", "fixed", {}, np.eye(2))
    with pytest.raises(ValueError):
        ref.Problem("linear", (2, 1), "diagonal", "fixed", {}, np.diag([1.0, -1.0]))
    with pytest.raises(ValueError):
        ref.Problem("linear", (2, 1), "banana", "fixed", {}, np.eye(2))
    with pytest.raises(ValueError):
        ref.Problem("spam", (2, 1), "diagonal", "fixed", {}, np.eye(2))
    pr = ref.Problem("hierarchical", {"N": 2, "n1": 1, "n2": 1}, ("full", "fixed"), "fixed", {}, np.eye(2))
    assert pr.encoders == ("full", "fixed")


# --------------------------------------------------------------------------
# collapsed point
# --------------------------------------------------------------------------
ENC_PAIRS = [(e, e) for e in ENCODERS] + [("full", "isotropic"), ("fixed", "diagonal")]


def all_problem_specs():
    for kind in ref.KINDS:
        encs = ENC_PAIRS if kind == "hierarchical" else ENCODERS
        for enc in encs:
            for dec in DECODERS:
                yield kind, enc, dec


@pytest.mark.parametrize("kind,encoder,decoder", list(all_problem_specs()))
def test_fd_gradient_vanishes_at_collapsed_point(kind, encoder, decoder):
    dims = DIMS[kind]
    Sigma = random_cov(data_dim(kind, dims), 8)
    h = dict(HYPER[kind])
    if kind == "hierarchical":
        h.update(encoder_variance1=0.3, encoder_variance2=0.7)
    else:
        h.update(encoder_variance=0.3)
    pr = ref.Problem(kind, dims, encoder, decoder, h, Sigma)
    theta, info = ref.collapsed_point(pr, return_info=True)
    assert np.all(theta[pr.latent_index] == 0)
    g = ref.fd_gradient(pr.f_batch, theta, scale=pr.fd_scale(theta), vectorized=True)
    assert np.max(np.abs(g)) < 1e-10 * max(1.0, abs(pr.f(theta)))
    # the collapsed point is a local maximum over the non-latent parameters
    free = pr.free_index
    if free.size:
        H = ref.fd_hessian(pr.f_batch, theta, scale=pr.fd_scale(theta), vectorized=True)
        assert np.linalg.eigvalsh(H[np.ix_(free, free)])[-1] < 0


@pytest.mark.parametrize("encoder", ENCODERS)
@pytest.mark.parametrize("decoder", DECODERS)
def test_linear_collapsed_closed_form(encoder, decoder):
    N, n = 4, 3
    Sigma = cov_with_spectrum([3.0, 1.5, 0.7, 0.2], 2)
    p, s = 0.35, 0.8
    for d0 in (p, 1.3):  # fixed encoder: KL = 0 only if d0 == prior_variance
        h = dict(sigma2=s, beta=1.4, prior_variance=p, encoder_variance=d0)
        pr = ref.Problem("linear", (N, n), encoder, decoder, h, Sigma)
        theta = ref.collapsed_point(pr)
        T = pr.terms(theta)
        P = pr.unpack(theta)
        s_eff = np.trace(Sigma) / N if decoder == "learned" else s
        if decoder == "learned":
            assert P["sigma2"] == pytest.approx(s_eff, rel=1e-11)
        assert T["reconstruction"] == pytest.approx(
            -N / 2 * math.log(2 * math.pi * s_eff) - np.trace(Sigma) / (2 * s_eff), rel=1e-12)
        if encoder == "fixed":
            r = d0 / p
            assert T["kl"] == pytest.approx(n / 2 * (r - 1 - math.log(r)), abs=1e-13)
        else:
            np.testing.assert_allclose(P["D"], p * np.eye(n), atol=1e-11)
            assert abs(T["kl"]) < 1e-12
            assert T["total"] == pytest.approx(
                -N / 2 * math.log(2 * math.pi * s_eff) - np.trace(Sigma) / (2 * s_eff), rel=1e-12)


def test_conditional_collapsed_direct_map_is_regression():
    Nx, Ny, n = 3, 2, 2
    Sigma = random_cov(Nx + Ny, 21)
    pr = ref.Problem("conditional", (Nx, Ny, n), "full", "learned", {"prior_variance": 0.6}, Sigma)
    P = pr.unpack(ref.collapsed_point(pr))
    Sxx, Sxy, Syy = Sigma[:Nx, :Nx], Sigma[:Nx, Nx:], Sigma[Nx:, Nx:]
    C = np.linalg.solve(Sxx, Sxy).T
    np.testing.assert_allclose(P["C"], C, atol=1e-11)
    resid = Syy - Sxy.T @ np.linalg.solve(Sxx, Sxy)
    assert P["sigma2"] == pytest.approx(np.trace(resid) / Ny, rel=1e-11)
    np.testing.assert_allclose(P["D"], 0.6 * np.eye(n), atol=1e-11)


# --------------------------------------------------------------------------
# finite differences
# --------------------------------------------------------------------------
def test_fd_hessian_and_gradient_analytic_function():
    def f(x):
        return math.log(x[0]) + x[0] * x[1] ** 2 + math.exp(0.3 * x[2]) + math.sin(x[1] * x[2])

    x = np.array([1.3, 0.7, -0.4])
    a, b, c = x
    g = np.array([1 / a + b**2, 2 * a * b + c * math.cos(b * c), 0.3 * math.exp(0.3 * c) + b * math.cos(b * c)])
    sbc, cbc = math.sin(b * c), math.cos(b * c)
    H = np.array([
        [-1 / a**2, 2 * b, 0.0],
        [2 * b, 2 * a - c * c * sbc, cbc - b * c * sbc],
        [0.0, cbc - b * c * sbc, 0.09 * math.exp(0.3 * c) - b * b * sbc],
    ])
    np.testing.assert_allclose(ref.fd_gradient(f, x), g, rtol=1e-10, atol=1e-11)
    Hfd = ref.fd_hessian(f, x)
    np.testing.assert_array_equal(Hfd, Hfd.T)
    np.testing.assert_allclose(Hfd, H, rtol=1e-8, atol=1e-9)


def test_fd_vectorized_equals_loop_and_hessian_is_jacobian_of_gradient():
    dims = (3, 2, 1)
    Sigma = random_cov(3, 4)
    pr = ref.Problem("hierarchical", dims, ("full", "diagonal"), "learned", HYPER["hierarchical"], Sigma)
    rng = np.random.default_rng(5)
    theta = pr.pack(random_params("hierarchical", dims, rng, True))
    sc = pr.fd_scale(theta)
    Hv = ref.fd_hessian(pr.f_batch, theta, scale=sc, vectorized=True)
    Hl = ref.fd_hessian(pr.f, theta, scale=sc)
    np.testing.assert_allclose(Hv, Hl, rtol=1e-9, atol=1e-9)
    gv = ref.fd_gradient(pr.f_batch, theta, scale=sc, vectorized=True)
    np.testing.assert_allclose(gv, ref.fd_gradient(pr.f, theta, scale=sc), rtol=1e-9, atol=1e-10)
    # an un-symmetrised estimate: Jacobian of the FD gradient
    J = np.empty((pr.size, pr.size))
    for j in range(pr.size):
        J[:, j] = _fd_column(pr, theta, sc, j)
    np.testing.assert_allclose(J, J.T, rtol=1e-6, atol=1e-6 * np.abs(J).max())
    np.testing.assert_allclose(Hv, J, rtol=1e-6, atol=1e-6 * np.abs(J).max())


def _fd_column(pr, theta, sc, j, h=1e-2):
    """d grad / d theta_j by Richardson central differences of fd_gradient."""
    est = []
    for lvl in range(3):
        d = h * sc[j] / 2.0**lvl
        tp, tm = theta.copy(), theta.copy()
        tp[j] += d
        tm[j] -= d
        gp = ref.fd_gradient(pr.f_batch, tp, scale=sc, vectorized=True)
        gm = ref.fd_gradient(pr.f_batch, tm, scale=sc, vectorized=True)
        est.append((gp - gm) / (2 * d))
    return ref._richardson(est)


@pytest.mark.parametrize("encoder", ["diagonal", "full", "isotropic"])
def test_fd_derivatives_of_collapsed_objective_by_hand(encoder):
    """L(s, D) at W = V = 0 is -N/2 log(2 pi s) - tr(Sigma)/(2 s)
    + beta (-n/2 log(2 pi p) - tr D/(2p) + n/2 log(2 pi e) + 1/2 log det D)."""
    N, n = 3, 2
    Sigma = random_cov(N, 13)
    p, beta, s = 0.7, 1.6, 0.9
    pr = ref.Problem("linear", (N, n), encoder, "learned", dict(prior_variance=p, beta=beta), Sigma)
    P = dict(W=np.zeros((N, n)), V=np.zeros((n, N)), D=p * np.eye(n), sigma2=s)
    theta = pr.pack(P)
    tr = np.trace(Sigma)
    L = (-N / 2 * math.log(2 * math.pi * s) - tr / (2 * s)
         + beta * (-n / 2 * math.log(2 * math.pi * p) - n * p / (2 * p) + n / 2 * math.log(2 * math.pi * math.e)
                   + n / 2 * math.log(p)))
    assert pr.f(theta) == pytest.approx(L, rel=1e-13)
    g = ref.fd_gradient(pr.f_batch, theta, scale=pr.fd_scale(theta), vectorized=True)
    want = np.zeros(pr.size)
    want[-1] = -N / (2 * s) + tr / (2 * s * s)
    np.testing.assert_allclose(g, want, atol=1e-11)
    H = ref.fd_hessian(pr.f_batch, theta, scale=pr.fd_scale(theta), vectorized=True)
    assert H[-1, -1] == pytest.approx(N / (2 * s * s) - tr / s**3, rel=1e-9)
    sl = [b[2] for b in pr.blocks if b[0] == "D"][0]
    HD = H[sl, sl]
    if encoder == "diagonal":
        want_D = -beta / (2 * p * p) * np.eye(n)
    elif encoder == "isotropic":
        want_D = np.array([[-beta * n / (2 * p * p)]])
    else:  # d^2/de^2 (1/2) log det(pI + e (E_jk + E_kj)) = -1/p^2 for j != k
        iu = list(zip(*np.triu_indices(n)))
        want_D = np.diag([-beta / (2 * p * p) if j == k else -beta / (p * p) for j, k in iu])
    np.testing.assert_allclose(HD, want_D, rtol=1e-9, atol=1e-9)
    # the (W, V) block at collapse: [[-p/s I, Sigma/s], [Sigma/s, -beta/p Sigma]] per latent
    w0 = pr.blocks[0][2].start  # W[0,0]
    v0 = pr.blocks[1][2].start  # V[0,0]
    assert H[w0, w0] == pytest.approx(-p / s, rel=1e-9)
    assert H[v0, v0] == pytest.approx(-beta / p * Sigma[0, 0], rel=1e-9)
    assert H[w0, v0] == pytest.approx(Sigma[0, 0] / s, rel=1e-9)


# --------------------------------------------------------------------------
# critical values against closed forms
# --------------------------------------------------------------------------
spectra = st.integers(1, 5).flatmap(
    lambda N: st.lists(st.floats(0.05, 10.0), min_size=N, max_size=N))


@HSET
@given(lam=spectra, n=st.integers(1, 3), beta=st.floats(0.25, 4.0), seed=st.integers(0, 2**31 - 1))
def test_linear_critical_sigma2_is_max_eigenvalue_over_beta(lam, n, beta, seed):
    Sigma = cov_with_spectrum(lam, seed)
    crit = max(lam) / beta

    def factory(s):
        return ref.Problem("linear", (len(lam), n), "diagonal", "fixed", dict(sigma2=s, beta=beta), Sigma)

    got = ref.critical_by_bisection(factory, 0.5 * crit, 2.0 * crit)
    assert abs(got / crit - 1) < 1e-9


@HSET
@given(lam=spectra, n=st.integers(1, 3), s=st.floats(0.25, 4.0), seed=st.integers(0, 2**31 - 1))
def test_linear_critical_beta_is_max_eigenvalue_over_sigma2(lam, n, s, seed):
    Sigma = cov_with_spectrum(lam, seed)
    crit = max(lam) / s

    def factory(b):
        return ref.Problem("linear", (len(lam), n), "diagonal", "fixed", dict(sigma2=s, beta=b), Sigma)

    got = ref.critical_by_bisection(factory, 2.0 * crit, 0.5 * crit)  # either end may be the unstable one
    assert abs(got / crit - 1) < 1e-9


@pytest.mark.parametrize("scale,p", [(1e-3, 50.0), (1e3, 0.01), (1e3, 1.0)])
def test_linear_critical_sigma2_badly_scaled(scale, p):
    """Curvatures spanning many decades (Sigma/p far from 1): the balanced FD
    steps and the noise-based zero-mode test must still give the closed form."""
    lam = scale * np.array([3.0, 2.0, 1.0, 0.1])
    Sigma = cov_with_spectrum(lam, 8)
    beta = 1.3
    crit = lam.max() / beta

    def factory(s):
        return ref.Problem("linear", (4, 2), "full", "fixed", dict(sigma2=s, beta=beta, prior_variance=p), Sigma)

    got, info = ref.critical_by_bisection(factory, 0.5 * crit, 2 * crit, full_output=True)
    assert info["zero_modes"] == 0
    assert abs(got / crit - 1) < 1e-9


def test_critical_bisect_method_and_max_eigenvalue_sign():
    Sigma = cov_with_spectrum([2.0, 0.5, 0.1], 1)

    def factory(s):
        return ref.Problem("linear", (3, 2), "full", "fixed", dict(sigma2=s, beta=0.5, prior_variance=3.0), Sigma)

    assert ref.max_hessian_eigenvalue(factory, 3.9) > 0
    assert ref.max_hessian_eigenvalue(factory, 4.1) < 0
    got = ref.critical_by_bisection(factory, 2.0, 8.0, method="bisect")
    assert abs(got / 4.0 - 1) < 1e-9
    with pytest.raises(ValueError):  # both ends stable
        ref.critical_by_bisection(factory, 5.0, 8.0)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_linear_learned_sigma2_critical_beta(encoder):
    """Collapsed sigma2 = tr(Sigma)/N, hence beta_c = N lambda_max / tr(Sigma)."""
    lam = np.array([3.0, 1.0, 0.5])
    Sigma = cov_with_spectrum(lam, 6)
    crit = 3 * lam.max() / lam.sum()

    def factory(b):
        return ref.Problem("linear", (3, 2), encoder, "learned", dict(beta=b, prior_variance=0.2, encoder_variance=0.2), Sigma)

    assert abs(ref.critical_by_bisection(factory, 0.5 * crit, 2 * crit) / crit - 1) < 1e-9


def test_linear_weight_decay_critical_sigma2():
    """Per eigen-direction lambda the (w, v) Hessian block is
    [[-(p/s + eta_d), lambda/s], [lambda/s, -(beta lambda/p + eta_e)]];
    instability iff lambda^2 = s (p + eta_d s)(beta lambda/p + eta_e) is crossed."""
    lam = np.array([2.5, 1.0, 0.3])
    Sigma = cov_with_spectrum(lam, 3)
    p, beta, ee, ed = 0.5, 0.8, 0.3, 0.2
    c = beta * lam.max() / p + ee
    crit = (-p * c + math.sqrt(p * p * c * c + 4 * ed * c * lam.max() ** 2)) / (2 * ed * c)

    def factory(s):
        return ref.Problem("linear", (3, 2), "isotropic", "fixed",
                           dict(sigma2=s, beta=beta, prior_variance=p, weight_decay_enc=ee, weight_decay_dec=ed), Sigma)

    assert abs(ref.critical_by_bisection(factory, 0.5 * crit, 2 * crit) / crit - 1) < 1e-9


@pytest.mark.parametrize("encoder", ["diagonal", "full"])
def test_conditional_critical_sigma2_uses_conditional_covariance(encoder):
    """Eliminating A at collapse leaves the linear problem for Sigma_{y|x}."""
    Nx, Ny, n = 2, 3, 2
    Sigma = random_cov(Nx + Ny, 17)
    Sc = Sigma[Nx:, Nx:] - Sigma[Nx:, :Nx] @ np.linalg.solve(Sigma[:Nx, :Nx], Sigma[:Nx, Nx:])
    beta = 0.8
    crit = np.linalg.eigvalsh(Sc)[-1] / beta

    def factory(s):
        return ref.Problem("conditional", (Nx, Ny, n), encoder, "fixed", dict(sigma2=s, beta=beta, prior_variance=2.0), Sigma)

    assert abs(ref.critical_by_bisection(factory, 0.5 * crit, 2 * crit) / crit - 1) < 1e-9


def test_hierarchical_critical_sigma2_without_zero_modes():
    """(U1, W1) block at collapse: linear problem with p -> tau2, beta -> beta1,
    so sigma2_c = lambda_max / beta1 (the (U2, W2) block is stable for beta1 < beta2)."""
    lam = [4.0, 2.0, 1.0, 0.5]
    Sigma = cov_with_spectrum(lam, 12)
    b1, b2 = 0.7, 1.5
    crit = 4.0 / b1

    def factory(s):
        return ref.Problem("hierarchical", (4, 2, 2), "diagonal", "fixed",
                           dict(sigma2=s, beta1=b1, beta2=b2, tau2=0.5, prior_variance=2.0), Sigma)

    got, info = ref.critical_by_bisection(factory, 0.5 * crit, 2 * crit, full_output=True)
    assert info["zero_modes"] == 0
    assert abs(got / crit - 1) < 1e-9


def test_hierarchical_equal_betas_zero_modes_are_removed():
    """For beta1 == beta2 the (U2, W2) block [[-beta p/tau2, beta], [beta, -beta tau2/p]]
    is singular: n1*n2 exact zero modes at every sigma2.  'auto' removes them."""
    lam = [4.0, 2.0, 1.0, 0.5]
    Sigma = cov_with_spectrum(lam, 12)
    n1, n2 = 2, 2
    crit = 4.0

    def factory(s):
        return ref.Problem("hierarchical", (4, n1, n2), "diagonal", "fixed",
                           dict(sigma2=s, beta1=1.0, beta2=1.0, tau2=0.5, prior_variance=2.0), Sigma)

    ev = ref.hessian_eigenvalues(factory, 8.0)
    assert np.sum(np.abs(ev) < 1e-9) == n1 * n2
    assert ref.max_hessian_eigenvalue(factory, 8.0) > -1e-9  # zero modes dominate the raw maximum
    nonzero_max = ev[np.abs(ev) > 1e-9].max()
    assert nonzero_max < 0
    for k in (n1 * n2, "auto"):  # projection leaves the non-zero eigenvalues unchanged
        assert ref.max_hessian_eigenvalue(factory, 8.0, zero_modes=k) == pytest.approx(nonzero_max, rel=1e-8)
    got, info = ref.critical_by_bisection(factory, 2.0, 8.0, full_output=True)
    assert info["zero_modes"] == n1 * n2
    assert abs(got / crit - 1) < 1e-9
    with pytest.raises(ValueError):  # without removal the stable end is not < 0
        ref.critical_by_bisection(factory, 2.0, 8.0, zero_modes=0)


def test_hierarchical_critical_beta1_equals_beta2():
    """With lambda_max/sigma2 < beta2 the first instability in beta1 is the (U2, W2) block at beta1 = beta2."""
    lam = [4.0, 2.0, 1.0, 0.5]
    Sigma = cov_with_spectrum(lam, 12)
    b2 = 3.0  # learned sigma2 = 7.5/4, lambda_max/sigma2 = 2.13 < b2

    def factory(b1):
        return ref.Problem("hierarchical", (4, 2, 2), ("full", "isotropic"), "learned",
                           dict(beta1=b1, beta2=b2, tau2=0.5, prior_variance=2.0), Sigma)

    assert abs(ref.critical_by_bisection(factory, 2.5, 4.0) / b2 - 1) < 1e-9


def test_linear_singular_covariance_zero_modes():
    """A zero eigenvalue of Sigma gives n exact zero modes (V along the null direction)."""
    Sigma = cov_with_spectrum([2.0, 1.0, 0.0], 4)
    n, beta = 2, 1.25

    def factory(s):
        return ref.Problem("linear", (3, n), "diagonal", "fixed", dict(sigma2=s, beta=beta), Sigma)

    got, info = ref.critical_by_bisection(factory, 0.8, 3.2, full_output=True)
    assert info["zero_modes"] == n
    assert abs(got / (2.0 / beta) - 1) < 1e-9


# --------------------------------------------------------------------------
# probabilistic PCA (Tipping & Bishop 1999)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("prior_variance", [1.0, 0.3])
def test_linear_beta1_learned_sigma2_optimum_is_ppca_likelihood(prior_variance):
    N, n = 4, 2
    lam = np.array([5.0, 3.0, 1.0, 0.5])
    Q = rotation(N, 3)
    Sigma = 0.5 * (Q @ np.diag(lam) @ Q.T + (Q @ np.diag(lam) @ Q.T).T)
    s_ml = lam[n:].mean()
    W_ml = Q[:, :n] @ np.diag(np.sqrt(lam[:n] - s_ml))
    C = W_ml @ W_ml.T + s_ml * np.eye(N)
    ll = -0.5 * (N * math.log(2 * math.pi) + np.linalg.slogdet(C)[1] + np.trace(np.linalg.solve(C, Sigma)))
    ll_tb = -N / 2 * (math.log(2 * math.pi) + np.log(lam[:n]).sum() / N + (N - n) / N * math.log(s_ml) + 1)
    assert ll == pytest.approx(ll_tb, rel=1e-13)

    pr = ref.Problem("linear", (N, n), "diagonal", "learned", dict(beta=1.0, prior_variance=prior_variance), Sigma)
    rng = np.random.default_rng(42)
    theta0 = pr.pack(dict(W=rng.normal(size=(N, n)) * 0.5, V=rng.normal(size=(n, N)) * 0.5, D=np.eye(n), sigma2=1.0))
    theta, val = ref.maximize_objective(pr, theta0)
    assert val == pytest.approx(ll, abs=1e-6)
    assert pr.unpack(theta)["sigma2"] == pytest.approx(s_ml, rel=1e-5)
