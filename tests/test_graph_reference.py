"""Tests of the independent graph reference (tests/graph_reference.py).

Nothing here imports ``statvae``.  The graph reference is checked against
the three fixed models of tests/reference.py, against Monte-Carlo sampling
(scipy log densities), and against hand-derived stability conditions.
"""

import math

import numpy as np
import pytest
from scipy import linalg, optimize, stats

try:
    import graph_reference as gr
    import reference as ref
except ImportError:  # tests/ turned into a package
    from tests import graph_reference as gr
    from tests import reference as ref


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def random_cov(N, seed, ridge=0.1):
    rng = np.random.default_rng(seed)
    G = rng.normal(size=(N, N))
    return G @ G.T / N + ridge * np.eye(N)


def random_spd(n, rng, base=0.5):
    G = rng.normal(size=(n, n)) * 0.3
    return G @ G.T + base * np.eye(n)


def obs(name, dim, variance):
    return {"name": name, "dim": dim, "observed": True, "variance": variance}


def lat(name, dim, variance, encoder, beta, encoder_variance=None):
    v = {"name": name, "dim": dim, "observed": False, "variance": variance, "encoder": encoder, "beta": beta}
    if encoder_variance is not None:
        v["encoder_variance"] = encoder_variance
    return v


def gen(name, s, t, wd=None):
    return {"name": name, "source": s, "target": t, "role": "generative", "weight_decay": wd}


def inf(name, s, t, wd=None):
    return {"name": name, "source": s, "target": t, "role": "inference", "weight_decay": wd}


# --------------------------------------------------------------------------
# 1. equivalence with the three fixed models of reference.py
# --------------------------------------------------------------------------
HYPER = {
    "linear": dict(sigma2=0.6, beta=1.7, prior_variance=0.4, weight_decay_enc=0.3, weight_decay_dec=0.2,
                   encoder_variance=0.3),
    "conditional": dict(sigma2=0.6, beta=0.7, prior_variance=1.4, weight_decay_enc=0.3, weight_decay_dec=0.2,
                        encoder_variance=0.45),
    "hierarchical": dict(sigma2=0.6, beta1=0.7, beta2=1.9, tau2=0.45, prior_variance=1.4, weight_decay_enc=0.3,
                         weight_decay_dec=0.2, encoder_variance1=0.3, encoder_variance2=0.7),
}
DIMS = {"linear": (4, 2), "conditional": (2, 3, 2), "hierarchical": (4, 3, 2)}


def reference_spec(kind, dims, encoders, learned):
    """The spec equivalent to reference.Problem(kind, ...), with maps and
    variables ordered so that the free-parameter layouts coincide.
    Returns (spec, name map graph-key -> reference-key)."""
    h = dict(HYPER[kind])
    var = "learned" if learned else "sigma2"
    if kind == "linear":
        N, n = dims
        spec = {"hyper": h, "variables": [
            obs("x", N, var),
            lat("z", n, "prior_variance", encoders[0], "beta", "encoder_variance"),
        ], "maps": [
            gen("W", "z", "x", "weight_decay_dec"),
            inf("V", "x", "z", "weight_decay_enc"),
        ]}
        names = {"W": "W", "V": "V", "D:z": "D", "sigma2:x": "sigma2"}
    elif kind == "conditional":
        Nx, Ny, n = dims
        spec = {"hyper": h, "variables": [
            obs("x", Nx, None),
            obs("y", Ny, var),
            lat("z", n, "prior_variance", encoders[0], "beta", "encoder_variance"),
        ], "maps": [
            inf("A", "x", "z", "weight_decay_enc"),
            inf("B", "y", "z", "weight_decay_enc"),
            gen("W", "z", "y", "weight_decay_dec"),
            gen("C", "x", "y"),  # not decayed
        ]}
        names = {"A": "A", "B": "B", "W": "W", "C": "C", "D:z": "D", "sigma2:y": "sigma2"}
    else:
        N, n1, n2 = dims
        spec = {"hyper": h, "variables": [
            obs("x", N, var),
            lat("z1", n1, "tau2", encoders[0], "beta1", "encoder_variance1"),
            lat("z2", n2, "prior_variance", encoders[1], "beta2", "encoder_variance2"),
        ], "maps": [
            gen("U1", "z1", "x", "weight_decay_dec"),
            gen("U2", "z2", "z1", "weight_decay_dec"),
            inf("W1", "x", "z1", "weight_decay_enc"),
            inf("W2", "z1", "z2", "weight_decay_enc"),
        ]}
        names = {"U1": "U1", "U2": "U2", "W1": "W1", "W2": "W2", "D:z1": "D1", "D:z2": "D2", "sigma2:x": "sigma2"}
    return spec, names


def reference_problem(kind, dims, encoders, learned, Sigma):
    h = dict(HYPER[kind])
    if learned:
        del h["sigma2"]
    enc = encoders if kind == "hierarchical" else encoders[0]
    return ref.Problem(kind, dims, enc, "learned" if learned else "fixed", h, Sigma)


def data_dim(kind, dims):
    return dims[0] + dims[1] if kind == "conditional" else dims[0]


EQUIV_CASES = [
    ("linear", ("diagonal",), True),
    ("linear", ("full",), False),
    ("linear", ("fixed",), True),
    ("conditional", ("full",), True),
    ("conditional", ("isotropic",), False),
    ("hierarchical", ("full", "isotropic"), True),
    ("hierarchical", ("fixed", "diagonal"), False),
]


@pytest.mark.parametrize("kind,encoders,learned", EQUIV_CASES)
def test_matches_reference_problem(kind, encoders, learned):
    dims = DIMS[kind]
    Sigma = random_cov(data_dim(kind, dims), 5)
    spec, names = reference_spec(kind, dims, encoders, learned)
    gp = gr.GraphProblem(spec, Sigma)
    pr = reference_problem(kind, dims, encoders, learned, Sigma)

    # same layout and roles
    assert gp.size == pr.size == len(gp.labels)
    assert [(names[n], r, s, shp) for (n, r, s, shp) in gp.blocks] == pr.blocks
    np.testing.assert_array_equal(gp.latent_index, pr.latent_index)
    np.testing.assert_array_equal(gp.free_index, pr.free_index)

    # a random valid point given by name, packed by each
    rng = np.random.default_rng(11)
    P_ref = {nm: rng.normal(size=shp) * 0.7 for (nm, role, _, shp) in pr.blocks if role.endswith("map")}
    for nm, role, _, shp in pr.blocks:
        if role.startswith("cov:"):
            P_ref[nm] = random_spd(shp[0], rng)
    if learned:
        P_ref["sigma2"] = 0.8
    P_graph = {g: P_ref[r] for g, r in names.items() if r in P_ref}
    theta = pr.pack(P_ref)
    np.testing.assert_array_equal(gp.pack(P_graph), theta)

    assert gp.f(theta) == pytest.approx(pr.f(theta), rel=1e-12, abs=1e-12)
    assert gr.graph_objective(spec, gp.unpack(theta), Sigma) == pytest.approx(pr.f(theta), rel=1e-12, abs=1e-12)
    Tg, Tr = gp.terms(theta), pr.terms(theta)
    assert Tg["reconstruction"] == pytest.approx(Tr["reconstruction"], rel=1e-12)
    assert Tg["weight_decay"] == pytest.approx(Tr["weight_decay"], rel=1e-12)
    if kind == "hierarchical":
        assert Tg["kl:z1"] == pytest.approx(Tr["kl1"], rel=1e-12, abs=1e-12)
        assert Tg["kl:z2"] == pytest.approx(Tr["kl2"], rel=1e-12, abs=1e-12)
    else:
        assert Tg["kl:z"] == pytest.approx(Tr["kl"], rel=1e-12, abs=1e-12)
    assert gp.magnitude(theta) == pytest.approx(pr.magnitude(theta), rel=1e-12)
    np.testing.assert_allclose(gp.fd_scale(theta), pr.fd_scale(theta), rtol=1e-14)

    # batch of random points, including invalid ones (-inf for both)
    Theta = theta + 0.3 * rng.normal(size=(50, pr.size))
    cov_free = [sl.start for (_, role, sl, _) in pr.blocks if role.startswith("cov:") and sl.stop > sl.start]
    if cov_free:
        Theta[0, cov_free[0]] = -1.0  # first diagonal entry of a covariance (D not positive definite)
    if learned:
        Theta[1, -1] = -0.5  # negative learned variance
    fg, fr = gp.f_batch(Theta), pr.f_batch(Theta)
    assert (fg[0] == -np.inf or not cov_free) and (fg[1] == -np.inf or not learned)
    np.testing.assert_array_equal(np.isfinite(fg), np.isfinite(fr))
    ok = np.isfinite(fr)
    np.testing.assert_allclose(fg[ok], fr[ok], rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("kind,encoders,learned", [EQUIV_CASES[0], EQUIV_CASES[3], EQUIV_CASES[5]])
def test_collapsed_spectrum_matches_reference_problem(kind, encoders, learned):
    """The reference.py machinery gives the same collapsed point and Hessian spectrum."""
    dims = DIMS[kind]
    Sigma = random_cov(data_dim(kind, dims), 7)
    spec, _ = reference_spec(kind, dims, encoders, learned)
    sg = ref.collapsed_spectrum(gr.GraphProblem(spec, Sigma))
    sr = ref.collapsed_spectrum(reference_problem(kind, dims, encoders, learned, Sigma))
    np.testing.assert_allclose(sg["theta"], sr["theta"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(sg["eigenvalues"], sr["eigenvalues"], rtol=1e-7, atol=1e-8)


# --------------------------------------------------------------------------
# 2. Monte Carlo on a two-view graph with a constant input
# --------------------------------------------------------------------------
MC_SPEC = {
    "hyper": {"sigma2": 0.8, "p": 1.3, "beta": 0.9, "d0": 0.4, "eta": 0.15},
    "variables": [
        obs("c", 1, None),  # constant input
        obs("x", 2, "sigma2"),
        obs("y", 2, "learned"),
        lat("z", 2, "p", "full", "beta"),
        lat("u", 1, 0.7, "fixed", 0.5, encoder_variance="d0"),
    ],
    "maps": [
        inf("Vx", "x", "z", "eta"),
        inf("Vy", "y", "z"),
        inf("Vc", "c", "z"),
        inf("Vu", "z", "u"),      # u inferred from the latent z ...
        inf("Vuy", "y", "u"),     # ... and from y
        gen("Wx", "z", "x", "eta"),
        gen("Wy", "z", "y"),
        gen("bx", "c", "x"),      # decoder bias
        gen("Cxy", "x", "y", 0.1),  # observed -> observed
        gen("Uz", "u", "z"),      # hierarchical prior p(z | u, c)
        gen("bz", "c", "z"),
    ],
}


def mc_data(n_data, seed):
    """A finite data set (rows (c, x, y), c = 1) and its exact second moment."""
    rng = np.random.default_rng(seed)
    mean = np.array([0.7, -0.4, 0.3, 1.1])
    xy = mean + rng.normal(size=(n_data, 4)) @ np.linalg.cholesky(random_cov(4, seed + 1)).T
    O = np.hstack([np.ones((n_data, 1)), xy])
    return O, O.T @ O / n_data


def mc_params(gp, rng):
    P = {}
    for name, role, sl, shp in gp.blocks:
        if role.endswith("map"):
            P[name] = 0.5 * rng.normal(size=shp)
    P["D:z"] = random_spd(2, rng)
    P["sigma2:y"] = 0.9
    return P


def test_objective_monte_carlo_two_views_with_input():
    O, S = mc_data(400, 3)
    gp = gr.GraphProblem(MC_SPEC, S)
    rng = np.random.default_rng(5)
    P = mc_params(gp, rng)
    T = gr.graph_terms(MC_SPEC, P, S)
    assert gp.terms(gp.pack(P)) == pytest.approx(T, rel=1e-13)

    reps = 500  # encoder draws per data point; the data average is exact
    U = np.repeat(O, reps, axis=0)
    M = U.shape[0]
    c, x, y = U[:, :1], U[:, 1:3], U[:, 3:5]
    D_u = 0.4 * np.eye(1)
    m_z = x @ P["Vx"].T + y @ P["Vy"].T + c @ P["Vc"].T
    z = m_z + rng.multivariate_normal(np.zeros(2), P["D:z"], size=M)
    m_u = z @ P["Vu"].T + y @ P["Vuy"].T
    u = m_u + rng.multivariate_normal(np.zeros(1), D_u, size=M)

    def logn(v, mean, var):
        return stats.norm.logpdf(v, loc=mean, scale=math.sqrt(var)).sum(axis=1)

    def logq(v, mean, D):
        return stats.multivariate_normal(mean=np.zeros(D.shape[0]), cov=D).logpdf(v - mean).reshape(-1)

    samples = {
        "reconstruction:x": logn(x, z @ P["Wx"].T + c @ P["bx"].T, 0.8),
        "reconstruction:y": logn(y, z @ P["Wy"].T + x @ P["Cxy"].T, P["sigma2:y"]),
        "kl:z": logq(z, m_z, P["D:z"]) - logn(z, u @ P["Uz"].T + c @ P["bz"].T, 1.3),
        "kl:u": logq(u, m_u, D_u) - logn(u, 0.0, 0.7),
    }
    samples["reconstruction"] = samples["reconstruction:x"] + samples["reconstruction:y"]
    wd = 0.5 * 0.15 * (np.sum(P["Vx"] ** 2) + np.sum(P["Wx"] ** 2)) + 0.5 * 0.1 * np.sum(P["Cxy"] ** 2)
    assert T["weight_decay"] == pytest.approx(wd, rel=1e-14)
    samples["total"] = samples["reconstruction"] - 0.9 * samples["kl:z"] - 0.5 * samples["kl:u"] - wd
    assert set(samples) | {"weight_decay"} == set(T)
    for key, v in samples.items():
        # the naive standard error is conservative here (data points are stratified)
        se = v.std() / math.sqrt(M)
        assert se < 0.01 * max(1.0, abs(T[key]))
        assert abs(v.mean() - T[key]) < 5 * se, (key, v.mean(), T[key], se)


def test_terms_decomposition_and_invalid_points():
    _, S = mc_data(50, 1)
    gp = gr.GraphProblem(MC_SPEC, S)
    P = mc_params(gp, np.random.default_rng(2))
    T = gr.graph_terms(MC_SPEC, P, S)
    assert T["total"] == pytest.approx(
        T["reconstruction:x"] + T["reconstruction:y"] - 0.9 * T["kl:z"] - 0.5 * T["kl:u"] - T["weight_decay"], rel=1e-13)
    theta = gp.pack(P)
    assert np.isfinite(gp.f(theta))
    bad = theta.copy()
    bad[gp.labels.index("sigma2:y")] = -0.5
    assert gp.f(bad) == -np.inf
    bad = theta.copy()
    bad[gp.labels.index("D:z[0,0]")] = -1.0
    assert gp.f(bad) == -np.inf
    assert gr.graph_objective(MC_SPEC, dict(P, **{"D:z": np.diag([1.0, -1.0])}), S) == -np.inf
    # fixed encoder: D defaults to d0 I, an explicit D is used as given
    assert gr.graph_objective(MC_SPEC, dict(P, **{"D:u": 0.4 * np.eye(1)}), S) == pytest.approx(T["total"], rel=1e-14)
    assert gr.graph_objective(MC_SPEC, dict(P, **{"D:u": 0.5 * np.eye(1)}), S) != pytest.approx(T["total"])


# --------------------------------------------------------------------------
# free-parameter layer
# --------------------------------------------------------------------------
def test_layout_pack_unpack():
    _, S = mc_data(50, 1)
    gp = gr.GraphProblem(MC_SPEC, S)
    rng = np.random.default_rng(4)
    theta = rng.normal(size=gp.size)
    P = gp.unpack(theta)
    np.testing.assert_array_equal(gp.pack(P), theta)
    pos = 0
    for m in MC_SPEC["maps"]:  # maps first, row-major, in spec order
        size = P[m["name"]].size
        np.testing.assert_array_equal(theta[pos:pos + size], P[m["name"]].ravel())
        assert gp.labels[pos] == f"{m['name']}[0,0]"
        pos += size
    iu = np.triu_indices(2)  # then D:z (full), nothing for the fixed u
    np.testing.assert_array_equal(P["D:z"][iu], theta[pos:pos + 3])
    np.testing.assert_array_equal(P["D:z"], P["D:z"].T)
    np.testing.assert_array_equal(P["D:u"], 0.4 * np.eye(1))
    pos += 3
    assert gp.labels[pos:] == ["sigma2:y"] and P["sigma2:y"] == theta[pos] and pos + 1 == gp.size
    roles = {n: r for (n, r, _, _) in gp.blocks}
    assert roles["bx"] == roles["Cxy"] == "direct_map"
    assert all(roles[n] == "latent_map" for n in ("Vx", "Vy", "Vc", "Vu", "Vuy", "Wx", "Wy", "Uz", "bz"))
    assert roles["D:z"] == "cov:full" and roles["D:u"] == "cov:fixed" and roles["sigma2:y"] == "sigma2"
    # an off-diagonal entry of a full encoder sets both entries
    t = np.zeros(gp.size)
    t[gp.labels.index("D:z[0,1]")] = 0.25
    D = gp.unpack(t)["D:z"]
    assert D[0, 1] == D[1, 0] == 0.25


def test_isotropic_and_diagonal_and_several_learned_variances():
    spec = {"hyper": {}, "variables": [
        obs("a", 2, "learned"), lat("z", 3, 1.0, "isotropic", 1.0), obs("b", 1, "learned"),
        lat("w", 2, 2.0, "diagonal", 1.0),
    ], "maps": [inf("Va", "a", "z"), inf("Vb", "b", "w"), gen("Wa", "z", "a"), gen("Wb", "w", "b")]}
    gp = gr.GraphProblem(spec, random_cov(3, 0))
    assert gp.labels[-5:] == ["D:z:d", "D:w[0,0]", "D:w[1,1]", "sigma2:a", "sigma2:b"]
    theta = np.arange(1.0, gp.size + 1)
    P = gp.unpack(theta)
    np.testing.assert_array_equal(P["D:z"], theta[-5] * np.eye(3))
    np.testing.assert_array_equal(P["D:w"], np.diag(theta[-4:-2]))
    assert (P["sigma2:a"], P["sigma2:b"]) == (theta[-2], theta[-1])
    np.testing.assert_array_equal(gp.pack(P), theta)


def test_with_hyper():
    _, S = mc_data(50, 1)
    gp = gr.GraphProblem(MC_SPEC, S)
    g2 = gp.with_hyper(sigma2=2.5, beta=0.3)
    assert g2.hyper["sigma2"] == 2.5 and g2.hyper["beta"] == 0.3
    assert gp.hyper["sigma2"] == 0.8 and MC_SPEC["hyper"]["sigma2"] == 0.8  # nothing mutated
    theta = gp.pack(mc_params(gp, np.random.default_rng(0)))
    assert g2.f(theta) != gp.f(theta)
    with pytest.raises(KeyError):
        gp.with_hyper(sigma=1.0)


def test_collapsed_point_direct_maps_are_regressions_and_variances_residuals():
    """At collapse every observed factor is a least-squares regression on its
    observed parents (second moments, nothing centred), every learned variance
    is the mean residual second moment, and D_z = v_z I."""
    spec = {"hyper": {"p": 0.6}, "variables": [
        obs("c", 1, None), obs("x", 2, "learned"), obs("y", 2, "learned"),
        lat("z", 2, "p", "diagonal", 1.4),
    ], "maps": [
        gen("Wx", "z", "x"), gen("Wy", "z", "y"), gen("bx", "c", "x"), gen("by", "c", "y"), gen("Cxy", "x", "y"),
        inf("Vx", "x", "z"), inf("Vy", "y", "z"),
    ]}
    _, S = mc_data(200, 8)
    gp = gr.GraphProblem(spec, S)
    P = gp.unpack(ref.collapsed_point(gp))
    np.testing.assert_allclose(P["bx"], S[1:3, :1], rtol=1e-8)
    pa = [0, 1, 2]  # (c, x) are the observed parents of y
    B = np.linalg.solve(S[np.ix_(pa, pa)], S[np.ix_(pa, [3, 4])]).T
    np.testing.assert_allclose(np.hstack([P["by"], P["Cxy"]]), B, rtol=1e-8)
    assert P["sigma2:x"] == pytest.approx(np.trace(S[1:3, 1:3] - S[1:3, :1] @ S[:1, 1:3]) / 2, rel=1e-9)
    res_y = S[3:, 3:] - B @ S[np.ix_(pa, [3, 4])]
    assert P["sigma2:y"] == pytest.approx(np.trace(res_y) / 2, rel=1e-9)
    np.testing.assert_allclose(P["D:z"], 0.6 * np.eye(2), rtol=1e-9)


# --------------------------------------------------------------------------
# 3. hand-derived stability conditions
# --------------------------------------------------------------------------
@pytest.mark.parametrize("seed,beta", [(3, 0.8), (9, 1.6)])
def test_two_views_shared_latent_critical_sigma2(seed, beta):
    """Collapse is stable iff lambda_max(L^-1/2 S L^-1/2) < beta, L = diag(sigma2 I3, tau2 I2)."""
    S = random_cov(5, seed, ridge=0.2)
    tau2 = 2.0 * np.linalg.eigvalsh(S[3:, 3:])[-1] / beta  # the y-only limit is stable

    def lam(s):
        d = np.r_[np.full(3, s), np.full(2, tau2)] ** -0.5
        return np.linalg.eigvalsh(d[:, None] * S * d[None, :])[-1]

    crit = optimize.brentq(lambda s: lam(s) - beta, 1e-8, 1e8, xtol=1e-300, rtol=1e-15)
    spec = {"hyper": {"sigma2": 1.0, "tau2": tau2, "beta": beta}, "variables": [
        obs("x", 3, "sigma2"), obs("y", 2, "tau2"), lat("z", 1, 1.0, "diagonal", "beta"),
    ], "maps": [gen("Wx", "z", "x"), gen("Wy", "z", "y"), inf("Vx", "x", "z"), inf("Vy", "y", "z")]}
    gp = gr.GraphProblem(spec, S)
    got, info = ref.critical_by_bisection(lambda s: gp.with_hyper(sigma2=s), 0.5 * crit, 2.0 * crit, full_output=True)
    assert info["zero_modes"] == 0 and info["unstable_end"] == "lo"
    assert abs(got / crit - 1) < 1e-9


@pytest.mark.parametrize("encoder,n,d0", [("full", 2, None), ("isotropic", 1, None), ("fixed", 2, 1.0), ("fixed", 2, 0.5)])
def test_decoder_bias_critical_variance(encoder, n, d0):
    """q(z|y) = N(V y, D) (not reading c), p(y|z,c) = N(W z + b c, s I), S_yy = C + m m^T:
    collapse stable iff s beta > lambda_max of the pencil C^2 v = lambda S_yy v.

    That closed form has D = p I (its optimum at collapse, prior variance p = 1).
    For a fixed encoder D = d0 I the (W, V) block per latent is
    [[-d0/s I, C/s], [C/s, -beta/p S_yy]], so the threshold becomes s beta d0 / p."""
    Ny, beta = 3, 1.3
    rng = np.random.default_rng(21)
    m = rng.normal(size=Ny)
    C = random_cov(Ny, 22)
    Syy = C + np.outer(m, m)
    S = np.block([[np.ones((1, 1)), m[None, :]], [m[:, None], Syy]])
    crit = linalg.eigh(C @ C, Syy, eigvals_only=True)[-1] / beta
    assert crit < np.linalg.eigvalsh(C)[-1] / beta  # differs from the centred answer
    if d0 is not None:
        crit /= d0  # p = 1
    spec = {"hyper": {"s": 1.0, "beta": beta, "d0": d0 or 1.0}, "variables": [
        obs("c", 1, None), obs("y", Ny, "s"), lat("z", n, 1.0, encoder, "beta", "d0"),
    ], "maps": [gen("W", "z", "y"), gen("b", "c", "y"), inf("V", "y", "z")]}
    gp = gr.GraphProblem(spec, S)
    got = ref.critical_by_bisection(lambda s: gp.with_hyper(s=s), 0.5 * crit, 2.0 * crit)
    assert abs(got / crit - 1) < 1e-9


# --------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------
def _base():
    return {"hyper": {"s": 1.0}, "variables": [obs("x", 2, "s"), lat("z", 1, 1.0, "diagonal", 1.0)],
            "maps": [gen("W", "z", "x"), inf("V", "x", "z")]}


def _mod(fn):
    spec = _base()
    fn(spec)
    return spec


BAD_SPECS = {
    "unknown variable in map": lambda s: s["maps"].append(gen("U", "q", "x")),
    "latent without inference": lambda s: s["maps"].pop(1),
    "inference cycle": lambda s: (s["variables"].append(lat("w", 1, 1.0, "diagonal", 1.0)),
                                  s["maps"].extend([inf("A", "z", "w"), inf("B", "w", "z")])),
    "generative cycle": lambda s: (s["variables"].append(obs("y", 1, 1.0)),
                                   s["maps"].extend([gen("A", "x", "y"), gen("B", "y", "x")])),
    "self map": lambda s: s["maps"].append(gen("A", "x", "x")),
    "inference into observed": lambda s: s["maps"].append(inf("A", "z", "x")),
    "generative into input": lambda s: (s["variables"].append(obs("c", 1, None)), s["maps"].append(gen("A", "z", "c"))),
    "unknown hyper": lambda s: s["variables"][0].update(variance="tau"),
    "bad dim": lambda s: s["variables"][0].update(dim=0),
    "float dim": lambda s: s["variables"][0].update(dim=2.0),
    "bad encoder": lambda s: s["variables"][1].update(encoder="banana"),
    "fixed without d0": lambda s: s["variables"][1].update(encoder="fixed"),
    "latent learned variance": lambda s: s["variables"][1].update(variance="learned"),
    "non-positive variance": lambda s: s["variables"][0].update(variance=0.0),
    "negative weight decay": lambda s: s["maps"][0].update(weight_decay=-1.0),
    "bad role": lambda s: s["maps"][0].update(role="decoder"),
    "duplicate variable": lambda s: s["variables"].append(obs("x", 1, 1.0)),
    "duplicate map": lambda s: s["maps"].append(gen("W", "z", "x")),
    "map named like a variable": lambda s: s["maps"].append(gen("x", "z", "x")),
    "unknown key": lambda s: s["variables"][0].update(var=1.0),
    "no observed": lambda s: s["variables"].pop(0),
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_spec_validation(case):
    spec = _mod(BAD_SPECS[case])
    with pytest.raises(ValueError):
        gr.GraphProblem(spec, np.eye(int(sum(v["dim"] for v in spec["variables"] if v["observed"])) or 1))


def test_data_and_params_validation():
    spec = _base()
    gr.GraphProblem(spec, np.eye(2))
    with pytest.raises(ValueError):
        gr.GraphProblem(spec, np.eye(3))
    with pytest.raises(ValueError):
        gr.GraphProblem(spec, np.diag([1.0, -1.0]))
    good = {"W": np.ones((2, 1)), "V": np.ones((1, 2)), "D:z": np.eye(1)}
    assert np.isfinite(gr.graph_objective(spec, good, np.eye(2)))
    with pytest.raises(ValueError):  # wrong shape
        gr.graph_objective(spec, dict(good, W=np.ones((1, 2))), np.eye(2))
    with pytest.raises(ValueError):  # missing covariance of a non-fixed encoder
        gr.graph_objective(spec, {"W": good["W"], "V": good["V"]}, np.eye(2))
    with pytest.raises(ValueError):  # unknown key
        gr.graph_objective(spec, dict(good, sigma2=1.0), np.eye(2))
