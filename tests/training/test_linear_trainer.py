"""LinearTrainer: gradients against finite differences and the compiled objective; training against the closed form."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statvae.errors import DataError, ModelError
from statvae.model.presets import LinearVAE
from statvae.numeric.bundle import compile_model
from statvae.training.base import Fitted, Trainer, measure_linear
from statvae.training.linear import LinearTrainer, exact_loss_and_gradient, initial_state, sampled_loss_and_gradient


def _state(rng, N, n, scale=1.0):
    s = initial_state(N, n, rng, scale=scale * math.sqrt(N))
    s["log_d"] = rng.normal(0.0, 0.4, n)
    return s


def _fd(fun, state, h=1e-6):
    out = {}
    for k, v in state.items():
        g = np.zeros_like(v)
        for idx in np.ndindex(v.shape):
            p = {kk: vv.copy() for kk, vv in state.items()}
            p[k][idx] += h
            up = fun(p)
            p[k][idx] -= 2 * h
            g[idx] = (up - fun(p)) / (2 * h)
        out[k] = g
    return out


def _exact_loss(state, Xb, sigma2, beta):
    """Independent plain-numpy negative objective, exact in q (written from the model's definition)."""
    W, V, d = state["W"], state["V"], np.exp(state["log_d"])
    B, N = Xb.shape
    mu = Xb @ V.T
    r = Xb - mu @ W.T
    recon = -0.5 * N * np.log(2 * np.pi * sigma2) - (np.sum(r * r) / B + np.sum(W * W * d)) / (2 * sigma2)
    kl = 0.5 * np.sum(d + np.mean(mu * mu, axis=0) - 1 - np.log(d))
    return -(recon - beta * kl)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), N=st.integers(1, 5), n=st.integers(1, 3), B=st.integers(1, 6),
       S=st.integers(1, 3), sigma2=st.floats(0.1, 5.0), beta=st.floats(0.1, 4.0))
def test_sampled_gradient_is_the_gradient_of_the_sampled_loss(seed, N, n, B, S, sigma2, beta):
    rng = np.random.default_rng(seed)
    state = _state(rng, N, n)
    X = rng.normal(size=(B, N))
    eps = rng.normal(size=(S, B, n))
    loss, grad = sampled_loss_and_gradient(state, X, eps, sigma2=sigma2, beta=beta)
    fd = _fd(lambda p: sampled_loss_and_gradient(p, X, eps, sigma2=sigma2, beta=beta)[0], state)
    for k in grad:
        np.testing.assert_allclose(grad[k], fd[k], rtol=1e-5, atol=1e-5 * (1 + abs(loss)))


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), N=st.integers(1, 4), n=st.integers(1, 3), sigma2=st.floats(0.2, 3.0),
       beta=st.floats(0.2, 3.0))
def test_exact_gradient_against_an_independent_objective(seed, N, n, sigma2, beta):
    """The compiled route (statvae's objective bound to the minibatch moment) == plain numpy value and FD."""
    rng = np.random.default_rng(seed)
    state = _state(rng, N, n)
    X = rng.normal(size=(5, N))
    C = X.T @ X / 5
    bound = compile_model(LinearVAE(N, n, beta=None)).bind(covariance=0.5 * (C + C.T), sigma2=sigma2, beta=beta)
    loss, grad = exact_loss_and_gradient(state, bound)
    assert loss == pytest.approx(_exact_loss(state, X, sigma2, beta), rel=1e-10, abs=1e-10)
    fd = _fd(lambda p: _exact_loss(p, X, sigma2, beta), state)
    for k in grad:
        np.testing.assert_allclose(grad[k], fd[k], rtol=1e-5, atol=1e-6 * (1 + abs(loss)))
    m = measure_linear(state["W"], state["V"], np.exp(state["log_d"]), X, sigma2=sigma2, beta=beta)
    assert -m["elbo"] == pytest.approx(loss, rel=1e-10, abs=1e-10)


def test_sampled_gradient_is_unbiased_for_the_exact_one():
    rng = np.random.default_rng(3)
    N, n, B = 4, 2, 6
    state = _state(rng, N, n, 0.5)
    X = rng.normal(size=(B, N))
    C = X.T @ X / B
    bound = compile_model(LinearVAE(N, n, beta=None)).bind(covariance=0.5 * (C + C.T), sigma2=0.8, beta=1.5)
    _, exact = exact_loss_and_gradient(state, bound)
    draws = [sampled_loss_and_gradient(state, X, rng.normal(size=(500, B, n)), sigma2=0.8, beta=1.5)[1]
             for _ in range(80)]
    for k in exact:
        g = np.array([d[k] for d in draws])
        se = g.std(axis=0, ddof=1) / np.sqrt(len(g))  # Monte-Carlo standard error of the mean
        assert np.all(np.abs(g.mean(axis=0) - exact[k]) <= 5 * se + 1e-12), k
        assert np.all(se < 0.02 * (1 + np.abs(exact[k]))), k  # the test has power


@pytest.mark.parametrize("exact", [False, True])
def test_training_reaches_the_closed_form_optimum(exact):
    """Spectrum (3, 1.5, 0.4, 0.2), sigma2 = 1: two latents active, KL_j = log(xi_j^2 / sigma2) / 2 (THEORY.md 3)."""
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    Z = rng.normal(size=(400, 4))
    Z = (Z - Z.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(Z, rowvar=False, ddof=0))).T  # exact moment I
    xi2 = np.array([3.0, 1.5, 0.4, 0.2])
    X = (Z * np.sqrt(xi2)) @ Q.T
    tr = LinearTrainer(3, epochs=400 if exact else 600, batch_size=100, lr=1e-2, exact=exact)
    f = tr.fit(X, sigma2=1.0, beta=1.0, seed=1)
    kl = sorted(f.measures["kl_per_latent"], reverse=True)
    np.testing.assert_allclose(kl[:2], 0.5 * np.log(xi2[:2]), rtol=0.05 if not exact else 0.01)
    assert kl[2] < 1e-3
    var = sorted(f.measures["posterior_variance"])
    np.testing.assert_allclose(var[:2], 1.0 / xi2[:2], rtol=0.05 if not exact else 0.01)


def test_fit_is_seeded_and_warm_starts():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 3)) * [2.0, 1.0, 0.5]
    tr = LinearTrainer(2, epochs=5, batch_size=16)
    a = tr.fit(X, sigma2=0.5, beta=1.0, seed=7)
    b = tr.fit(X, sigma2=0.5, beta=1.0, seed=7)
    c = tr.fit(X, sigma2=0.5, beta=1.0, seed=8)
    assert all(np.array_equal(a.state[k], b.state[k]) for k in a.state)
    assert not np.array_equal(a.state["W"], c.state["W"])
    calls = []
    slow = LinearTrainer(2, epochs=3, lr=1e-9)
    w = slow.fit(X, sigma2=0.5, beta=1.0, seed=0, init=a.state, progress=lambda e, l: calls.append((e, l)))
    np.testing.assert_allclose(w.state["W"], a.state["W"], atol=1e-7)
    assert [e for e, _ in calls] == [1, 2, 3] and all(np.isfinite(l) for _, l in calls)
    assert w.measures["epochs"] == 3 and w.measures["stopped"] == "epochs"
    assert isinstance(tr, Trainer) and isinstance(a, Fitted)
    json.dumps(tr.config())
    assert tr.config()["exact"] is False and tr.name == "linear"


def test_kl_plateau_stops_early():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(64, 3)) * [0.3, 0.2, 0.1]
    tr = LinearTrainer(2, epochs=500, plateau_tol=0.5, plateau_window=5)
    f = tr.fit(X, sigma2=1.0, beta=1.0, seed=0)   # everything collapses: KL flat near 0
    assert f.measures["stopped"] == "kl plateau" and f.measures["epochs"] < 500
    assert f.measures["epochs"] % 5 == 0


def test_bad_input_is_one_line():
    with pytest.raises(ModelError):
        LinearTrainer(0)
    with pytest.raises(ModelError):
        LinearTrainer(2, lr=-1.0)
    with pytest.raises(ModelError):
        LinearTrainer(2, schedule="step")
    tr = LinearTrainer(2, epochs=1)
    X = np.ones((4, 3))
    with pytest.raises(ModelError):
        tr.fit(X, sigma2=0.0, beta=1.0, seed=0)
    with pytest.raises(ModelError):
        tr.fit(X, sigma2=1.0, beta=1.0, seed=-1)
    with pytest.raises(ModelError, match="init does not fit"):
        tr.fit(X, sigma2=1.0, beta=1.0, seed=0, init={"W": np.zeros((2, 2)), "V": np.zeros((2, 3)),
                                                     "log_d": np.zeros(2)})
    with pytest.raises(DataError):
        tr.fit(np.ones(3), sigma2=1.0, beta=1.0, seed=0)
    with pytest.raises(ModelError, match="diverged"):
        LinearTrainer(1, epochs=3, lr=1e3, schedule="constant").fit(np.random.default_rng(0).normal(size=(20, 2)) * 1e3,
                                                                    sigma2=1e-6, beta=1.0, seed=0)
