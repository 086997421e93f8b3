"""statvae.probe: the collapsed configuration, HVPs against finite differences, eigenvalues and thresholds against
closed forms and statvae's symbolic threshold.

Independent checks: statvae's ``critical()`` (the linear threshold), the 2x2 Hessian blocks of the paper (the
linear eigenvalues), a plain-numpy computation of a ReLU network's threshold at its collapsed configuration (the
top eigenvalue of the covariance of the linear regression of x on the encoder's features, projected on the range of
the decoder's Jacobian, over beta: derived in docs/validation.md), finite differences of the torch gradient, and the
dense Hessian of every parameter.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch", reason="PyTorch is not installed (optional: pip install torch==2.13.0)")

import statvae  # noqa: E402
from statvae.errors import DataError, ModelError  # noqa: E402
from statvae.training.probe import (  # noqa: E402
    CollapsedProblem,
    ProbeResult,
    ProbeStatus,
    ProbeThreshold,
    collapsed_pair,
    probe,
    probe_threshold,
)
from statvae.training.torch_trainer import MLPTrainer, build_network  # noqa: E402


def _samples(M, spectrum, seed, center=True):
    rng = np.random.default_rng(seed)
    N = len(spectrum)
    Q = np.linalg.qr(rng.normal(size=(N, N)))[0]
    X = rng.normal(size=(M, N)) * np.sqrt(spectrum) @ Q.T
    return X - X.mean(axis=0) if center else X + rng.normal(size=N)


def _moment(X):
    Xc = X - X.mean(axis=0)
    return Xc.T @ Xc / len(X)


def _relu_threshold(net, X, beta):
    """Plain numpy, from the weights: lambda_max(P_J C G^+ C^T P_J) / beta for a ReLU MLP of build_network."""
    relu = lambda a: np.maximum(a, 0.0)
    lin = [m for m in net.encoder.features if isinstance(m, torch.nn.Linear)]
    h = X
    for m in lin:
        h = relu(h @ m.weight.detach().double().numpy().T + m.bias.detach().double().numpy())
    F = np.hstack([h, np.ones((len(X), 1))])
    Xc = X - X.mean(axis=0)
    C, G = Xc.T @ F / len(X), F.T @ F / len(X)
    reg = C @ np.linalg.pinv(G) @ C.T
    # decoder Jacobian at u = first.bias: relu mask, then the linear layers with their masks
    u = net.decoder.first.bias.detach().double().numpy()
    J = np.diag((u > 0).astype(float))
    a = relu(u)
    layers = [m for m in net.decoder.rest if isinstance(m, torch.nn.Linear)]
    for i, m in enumerate(layers):
        Wm, bm = m.weight.detach().double().numpy(), m.bias.detach().double().numpy()
        pre = Wm @ a + bm
        J = Wm @ J
        if i < len(layers) - 1:
            J = np.diag((pre > 0).astype(float)) @ J
            a = relu(pre)
    U, s, _ = np.linalg.svd(J, full_matrices=False)
    U = U[:, s > s[0] * max(J.shape) * np.finfo(float).eps]
    P = U @ U.T
    return np.linalg.eigvalsh(P @ reg @ P)[-1] / beta


def _fd_hvp(prob, v, sigma2, beta, h=1e-5):
    y0 = np.zeros(prob.dimension)
    return (prob.gradient(y0 + h * v, sigma2, beta) - prob.gradient(y0 - h * v, sigma2, beta)) / (2 * h)


# -- the collapsed configuration --------------------------------------------------------------------------------
@pytest.mark.parametrize("hidden", [(), (5,), (6, 4)])
def test_collapsed_network_ignores_its_input_and_its_latent_and_the_original_is_untouched(hidden):
    X = _samples(50, [2.0, 1.0, 0.5, 0.2], seed=0, center=False)
    net = build_network(4, 2, hidden, seed=1)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    enc, dec, offset = collapsed_pair(net, X)
    x = torch.as_tensor(np.random.default_rng(1).normal(size=(7, 4)))
    h = enc.features(x)
    assert torch.equal(enc.mean(h), torch.zeros(7, 2)) and torch.equal(enc.logvar(h), torch.zeros(7, 2))
    out = dec.rest(dec.first(torch.as_tensor(np.random.default_rng(2).normal(size=(9, 2))))) + offset
    np.testing.assert_allclose(out.numpy(), np.tile(X.mean(axis=0), (9, 1)), atol=1e-12)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


@pytest.mark.parametrize("parameters", ["collapse", "all"])
def test_collapsed_configuration_is_stationary(parameters):
    X = _samples(60, [2.0, 1.0, 0.5], seed=1)
    r = probe(build_network(3, 2, (5,), seed=0), X, sigma2=0.7, parameters=parameters)
    assert r.gradient_norm < 1e-12 * max(1.0, r.scale)


# -- Hessian-vector products --------------------------------------------------------------------------------------
@pytest.mark.parametrize("parameters,coordinates", [("collapse", "parameters"), ("collapse", "whitened"),
                                                    ("all", "parameters")])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_hvp_is_the_finite_difference_of_the_torch_gradient(parameters, coordinates, activation):
    X = _samples(40, [2.0, 1.0, 0.5, 0.3], seed=2)
    net = build_network(4, 2, (6,), activation, seed=3)
    prob = CollapsedProblem(net, X, samples=6, seed=1, parameters=parameters, coordinates=coordinates)
    rng = np.random.default_rng(5)
    for sigma2, beta in [(0.5, 1.0), (2.0, 0.3)]:
        v = rng.normal(size=prob.dimension)
        hv = prob.hvp(v, sigma2, beta)
        fd = _fd_hvp(prob, v, sigma2, beta)
        assert np.linalg.norm(hv - fd) <= 1e-6 * np.linalg.norm(hv)


def test_hvp_is_symmetric_and_linear():
    X = _samples(30, [2.0, 1.0, 0.5], seed=3)
    prob = CollapsedProblem(build_network(3, 2, (4, 4), seed=0), X)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, prob.dimension))
    Ha, Hb = prob.hvp(a, 0.8, 1.2), prob.hvp(b, 0.8, 1.2)
    assert b @ Ha == pytest.approx(a @ Hb, rel=1e-10)
    np.testing.assert_allclose(prob.hvp(2 * a - b, 0.8, 1.2), 2 * Ha - Hb, rtol=1e-10, atol=1e-12)


# -- eigenvalues --------------------------------------------------------------------------------------------------
def _block_top(xi2, sigma2, beta):
    """The top eigenvalue of the paper's 2x2 block [[-1/s, x/s], [x/s, -beta x]] (W_ij, V_ji)."""
    return max(np.linalg.eigvalsh(np.array([[-1 / sigma2, x / sigma2], [x / sigma2, -beta * x]]))[-1] for x in xi2)


@pytest.mark.parametrize("dense_below", [0, 10**6])
def test_linear_top_eigenvalue_is_the_papers_block(dense_below):
    X = _samples(300, [3.0, 2.0, 1.0, 0.5, 0.4, 0.1], seed=4)
    xi2 = np.linalg.eigvalsh(_moment(X))
    prob = CollapsedProblem(MLPTrainer(2, hidden=()), X)
    for sigma2, beta in [(0.5, 1.0), (1.5, 0.7)]:
        w, _, res, method, _ = prob.top_eigenvalues(sigma2, beta, 2, dense_below=dense_below)
        assert method == ("lanczos" if dense_below == 0 else "dense")
        want = _block_top(xi2, sigma2, beta)
        assert w[0] == pytest.approx(want, rel=1e-8) and w[1] == pytest.approx(want, rel=1e-8)  # n copies
        assert max(res) < 1e-8


def test_whitened_coordinates_keep_the_inertia():
    X = _samples(80, [2.0, 1.0, 0.5, 0.01], seed=5)
    net = build_network(4, 2, (6,), seed=2)
    for sigma2 in (0.1, 0.5, 1.5, 3.0):
        Hp = CollapsedProblem(net, X, coordinates="parameters").dense_hessian(sigma2, 1.0)
        Hw = CollapsedProblem(net, X, coordinates="whitened").dense_hessian(sigma2, 1.0)
        wp, ww = np.linalg.eigvalsh(Hp), np.linalg.eigvalsh(Hw)
        tol = 1e-9
        assert (wp > tol * abs(wp).max()).sum() == (ww > tol * abs(ww).max()).sum()
        assert (wp < -tol * abs(wp).max()).sum() == (ww < -tol * abs(ww).max()).sum() == len(wp) - (wp > 0).sum()


def test_the_collapse_parameters_carry_every_positive_eigenvalue_of_all_parameters():
    """Dense Hessians of a tiny network: the positive eigenvalues of 'all' are those of 'collapse'; where collapse is
    stable, 'collapse' is negative definite and 'all' only has zeros on top."""
    X = _samples(40, [2.0, 1.0, 0.5, 0.3], seed=6)
    net = build_network(4, 2, (3,), seed=4)
    full = CollapsedProblem(net, X, parameters="all")
    red = CollapsedProblem(net, X, parameters="collapse")
    for sigma2 in (0.3, 0.8):
        wa = np.linalg.eigvalsh(full.dense_hessian(sigma2, 1.0))
        wr = np.linalg.eigvalsh(red.dense_hessian(sigma2, 1.0))
        scale = abs(wa).max()
        pa, pr = wa[wa > 1e-9 * scale], wr[wr > 1e-9 * scale]
        assert len(pr) > 0
        np.testing.assert_allclose(np.sort(pa), np.sort(pr), rtol=1e-8)
    s_stable = 1.5 * _relu_threshold(net, X, 1.0)
    wa = np.linalg.eigvalsh(full.dense_hessian(s_stable, 1.0))
    wr = np.linalg.eigvalsh(red.dense_hessian(s_stable, 1.0))
    assert wr[-1] < 0 and abs(wa[-1]) < 1e-10 * abs(wa).max()


def test_common_draws_make_the_collapsed_hessian_exact():
    """At the collapsed point the Hessian depends on the draws only through their mean and second moment."""
    X = _samples(50, [2.0, 1.0, 0.5], seed=7)
    net = build_network(3, 2, (5, 5), "tanh", seed=0)
    a = probe(net, X, sigma2=0.4, k=3, samples=4, seed=0).eigenvalues
    b = probe(net, X, sigma2=0.4, k=3, samples=24, seed=11).eigenvalues
    np.testing.assert_allclose(a, b, rtol=1e-9)


# -- thresholds ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("beta", [1.0, 0.6])
def test_linear_probe_threshold_is_statvaes_symbolic_threshold(beta):
    X = _samples(400, [3.0, 2.0, 1.0, 0.5, 0.2], seed=8)
    S = _moment(X)
    want = statvae.LinearVAE(5, 2, beta=beta).collapse().critical("sigma2", covariance=S).value
    got = probe_threshold(MLPTrainer(2, hidden=()), X, beta=beta)
    assert got.status is ProbeStatus.LOCATED
    assert got.value == pytest.approx(want, rel=1e-4)
    assert got.value == pytest.approx(want, rel=1e-8)       # what it actually reaches
    assert got.bracket[0] <= got.value <= got.bracket[1] and got.precision < 1e-8
    signs = {np.sign(v) for s, v in got.evaluations if s < got.bracket[0]} | {
        -np.sign(v) for s, v in got.evaluations if s > got.bracket[1]}
    assert signs == {1.0}


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), N=st.integers(2, 5), n=st.integers(1, 3), beta=st.floats(0.3, 3.0))
def test_linear_probe_threshold_property(seed, N, n, beta):
    rng = np.random.default_rng(seed)
    X = _samples(60, rng.uniform(0.05, 3.0, N), seed=seed % 1000, center=bool(seed % 2))
    want = np.linalg.eigvalsh(_moment(X))[-1] / beta
    got = probe_threshold(build_network(N, n, (), seed=seed % 7), X, beta=beta)
    assert got.value == pytest.approx(want, rel=1e-7)


@pytest.mark.parametrize("hidden,activation", [((8,), "relu"), ((6, 5), "relu"), ((12,), "relu")])
def test_relu_probe_threshold_is_the_regression_closed_form(hidden, activation):
    X = _samples(120, [2.0, 1.5, 0.7, 0.3, 0.1], seed=9)
    for seed in (0, 1):
        net = build_network(5, 2, hidden, activation, seed=seed)
        got = probe_threshold(net, X, beta=0.8, seed=seed)
        want = _relu_threshold(net, X, 0.8)
        assert got.value == pytest.approx(want, rel=1e-7)
        assert got.value <= np.linalg.eigvalsh(_moment(X))[-1] / 0.8 * (1 + 1e-9)   # never above the linear one


def test_probe_sign_agrees_with_the_threshold():
    X = _samples(100, [2.0, 1.0, 0.5, 0.2], seed=10)
    net = build_network(4, 2, (10,), seed=0)
    t = probe_threshold(net, X)
    below = probe(net, X, sigma2=0.9 * t.value)
    above = probe(net, X, sigma2=1.1 * t.value)
    assert not below.stable and below.top > 0
    assert above.stable and above.top < 0


def test_results_round_trip_and_print():
    X = _samples(60, [2.0, 1.0, 0.5], seed=11)
    r = probe(MLPTrainer(2, hidden=(4,)), X, sigma2=0.3, k=2)
    assert ProbeResult.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    assert "probe at sigma2=0.3" in str(r) and r.status is ProbeStatus.CONVERGED
    assert r.architecture["latent_dim"] == 2 and r.dimension > 0
    t = probe_threshold(MLPTrainer(2, hidden=(4,)), X)
    back = ProbeThreshold.from_dict(json.loads(json.dumps(t.to_dict())))
    assert back == t and float(back) == t.value and "located" in str(t)


def test_no_sign_change_is_reported_not_invented():
    X = _samples(60, [2.0, 1.0, 0.5], seed=12)
    top = np.linalg.eigvalsh(_moment(X))[-1]
    t = probe_threshold(MLPTrainer(2, hidden=()), X, bracket=(2 * top, 3 * top), expand=0)
    assert t.status is ProbeStatus.NO_SIGN_CHANGE and math.isnan(t.value)
    assert "no sign change" in str(t)


def test_a_network_whose_decoder_ignores_z_near_collapse_is_stable_at_every_sigma2():
    X = _samples(30, [1.0, 0.5], seed=13)
    net = build_network(2, 1, (3,), seed=0)
    with torch.no_grad():
        net.decoder.first.bias.fill_(-1.0)          # every first-layer ReLU dead at the collapsed point
    r = probe(net, X, sigma2=1e-3)
    assert r.stable and r.top < 0 and r.flat_directions == 3     # the first layer's weights drop out
    t = probe_threshold(net, X, expand=12)
    assert t.status is ProbeStatus.NO_SIGN_CHANGE


def test_a_network_that_ignores_everything_has_no_directions():
    X = _samples(30, [1.0, 0.5], seed=13)
    net = build_network(2, 1, (3,), seed=0)
    with torch.no_grad():
        net.decoder.first.bias.fill_(-1.0)
        net.encoder.features[0].bias.fill_(-100.0)  # every encoder feature dead: only the heads' biases act
    prob = CollapsedProblem(net, X)
    assert prob.dimension == 2                    # the mean and log-variance biases
    assert probe(net, X, sigma2=1.0).top == pytest.approx(-0.5)      # KL curvature of the log-variance bias


def test_bad_input():
    X = _samples(30, [1.0, 0.5, 0.2], seed=14)
    net = build_network(3, 1, (3,), seed=0)
    with pytest.raises(ModelError, match="protocol|encoder"):
        probe(object(), X, sigma2=1.0)
    with pytest.raises(ModelError, match="protocol"):
        probe((torch.nn.Linear(3, 1), torch.nn.Linear(1, 3)), X, sigma2=1.0)
    with pytest.raises(ModelError, match="shape|columns"):
        probe(net, X[:, :2], sigma2=1.0)
    with pytest.raises(DataError):
        probe(net, X, sigma2=-1.0)
    with pytest.raises(DataError):
        probe(net, X[:1], sigma2=1.0)
    with pytest.raises(ModelError):
        probe(net, X, sigma2=1.0, parameters="some")
    with pytest.raises(ModelError):
        probe(net, X, sigma2=1.0, parameters="all", coordinates="whitened")
    with pytest.raises(ModelError):
        probe(net, X, sigma2=1.0, samples=3)


def test_pair_protocol_and_lazy_export():
    X = _samples(40, [1.0, 0.5, 0.2], seed=15)
    net = build_network(3, 1, (4,), seed=0)
    a = statvae.probe((net.encoder, net.decoder), X, sigma2=0.3, k=1)
    b = statvae.probe(net, X, sigma2=0.3, k=1)
    assert a.eigenvalues == pytest.approx(b.eigenvalues, rel=1e-12)


@pytest.mark.slow
def test_digits_linear_probe_threshold_is_statvaes():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits

    X = load_digits().data / 16.0
    X = X - X.mean(axis=0)
    want = statvae.LinearVAE(64, 4).collapse().critical("sigma2", covariance=_moment(X)).value
    got = probe_threshold(MLPTrainer(4, hidden=()), X)
    assert got.value == pytest.approx(want, rel=1e-4)
