"""MLPTrainer (PyTorch): measures against closed forms and measure_linear, seeds, warm starts, training, no torch.

The tests that need PyTorch skip with a message when it is absent; the ones about its absence run either way.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statvae.errors import DataError, ModelError, StatvaeError
from statvae.training.base import Fitted, Trainer, measure_linear
from statvae.training.torch_trainer import common_draws


# -- without torch ----------------------------------------------------------------------------------------------
def test_without_torch_the_trainer_and_the_probe_say_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)          # import torch now raises ImportError
    from statvae.training.probe import probe
    from statvae.training.torch_trainer import MLPTrainer

    with pytest.raises(StatvaeError) as err:
        MLPTrainer(latent_dim=2)
    msg = str(err.value)
    assert "pip install torch==2.13.0" in msg and "\n" not in msg
    with pytest.raises(StatvaeError, match="pip install torch==2.13.0"):
        probe(object(), np.eye(3), sigma2=1.0)


def test_import_statvae_and_its_training_layer_never_import_torch():
    code = ("import sys, statvae, statvae.training, statvae.training.torch_trainer, statvae.training.probe\n"
            "statvae.probe\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_common_draws_have_zero_mean_and_identity_second_moment():
    for S, n in [(2, 1), (8, 4), (20, 3)]:
        e = common_draws(S, n, seed=S)
        assert e.shape == (S, n)
        assert np.abs(e.mean(axis=0)).max() < 1e-15
        assert np.allclose(e.T @ e / S, np.eye(n), atol=1e-13)
        assert np.array_equal(e[: S // 2], -e[S // 2:])
    with pytest.raises(ModelError):
        common_draws(3, 1)
    with pytest.raises(ModelError):
        common_draws(4, 3)


# -- with torch -------------------------------------------------------------------------------------------------
torch = pytest.importorskip("torch", reason="PyTorch is not installed (optional: pip install torch==2.13.0)")

from statvae.training.torch_trainer import MLPTrainer, build_network, network_measures  # noqa: E402


def _set_linear(net, W, b, V, c, A, d):
    """Weights of a hidden=() network: decoder W z + b, encoder mean V x + c, log-variance A x + d."""
    with torch.no_grad():
        for mod, w, bias in ((net.decoder.first, W, b), (net.encoder.mean, V, c), (net.encoder.logvar, A, d)):
            mod.weight.copy_(torch.as_tensor(w))
            mod.bias.copy_(torch.as_tensor(bias))


def _closed_form(X, W, b, V, c, A, d, sigma2, beta):
    """The measures of a linear VAE with input-dependent log-variance, exact (written from the definitions)."""
    M, N = X.shape
    mu = X @ V.T + c
    s = X @ A.T + d
    r = X - b - mu @ W.T
    sq = np.sum(r * r) / M + np.sum(np.mean(np.exp(s), axis=0) * np.sum(W * W, axis=0))
    recon = -0.5 * N * np.log(2 * np.pi * sigma2) - sq / (2 * sigma2)
    kl = 0.5 * np.mean(mu ** 2 + np.exp(s) - 1 - s, axis=0)
    return {"elbo": recon - beta * kl.sum(), "reconstruction": recon, "kl_per_latent": kl,
            "posterior_variance": np.mean(np.exp(s), axis=0), "activity": np.var(mu, axis=0)}


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), N=st.integers(1, 5), n=st.integers(1, 3), M=st.integers(2, 30),
       sigma2=st.floats(0.05, 5.0), beta=st.floats(0.1, 4.0), samples=st.sampled_from([0, 2, 10]))
def test_linear_network_measures_are_the_closed_form(seed, N, n, M, sigma2, beta, samples):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(M, N)) * rng.uniform(0.2, 2.0, N)
    W, b = rng.normal(size=(N, n)), rng.normal(size=N)
    V, c = rng.normal(size=(n, N)), rng.normal(size=n)
    A, d = 0.3 * rng.normal(size=(n, N)), rng.normal(0, 0.5, n)
    net = build_network(N, n, (), seed=0, dtype="float64")
    _set_linear(net, W, b, V, c, A, d)
    got = network_measures(net, X, sigma2=sigma2, beta=beta, samples=2 * n + samples, seed=seed % 1000)
    want = _closed_form(X, W, b, V, c, A, d, sigma2, beta)
    for key in ("elbo", "reconstruction"):
        assert got[key] == pytest.approx(want[key], rel=1e-10, abs=1e-10)
    for key in ("kl_per_latent", "posterior_variance", "activity"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-10, atol=1e-12)


def test_linear_network_measures_equal_measure_linear():
    """With a constant encoder variance and no biases the network is measure_linear's model (another's code)."""
    rng = np.random.default_rng(3)
    N, n, M = 6, 3, 50
    X = rng.normal(size=(M, N)) @ rng.normal(size=(N, N))
    X -= X.mean(axis=0)
    W, V, dvar = rng.normal(size=(N, n)), rng.normal(size=(n, N)), rng.uniform(0.2, 2.0, n)
    net = build_network(N, n, (), seed=0)
    _set_linear(net, W, np.zeros(N), V, np.zeros(n), np.zeros((n, N)), np.log(dvar))
    got = network_measures(net, X, sigma2=0.7, beta=1.3)
    want = measure_linear(W, V, dvar, X, sigma2=0.7, beta=1.3)
    # the network is float32: its weights are W, V, log d rounded to float32
    for key in ("elbo", "reconstruction", "kl_total"):
        assert got[key] == pytest.approx(want[key], rel=1e-5)
    for key in ("kl_per_latent", "posterior_variance", "activity"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5)


def test_network_shapes_widths_and_protocol():
    for hidden, first_out in [((), 7), ((64,), 64), ((128, 128), 128), ((16, 8), 8)]:
        net = build_network(7, 3, hidden, seed=0)
        assert net.encoder.mean.out_features == 3 and net.encoder.logvar.out_features == 3
        assert net.decoder.first.in_features == 3 and net.decoder.first.out_features == first_out
        x = torch.zeros(5, 7)
        mu = net.encoder.mean(net.encoder.features(x))
        assert mu.shape == (5, 3)
        assert net.decoder.rest(net.decoder.first(torch.zeros(5, 3))).shape == (5, 7)
    assert MLPTrainer(2, hidden=(128, 128)).name == "mlp-128x128"
    assert MLPTrainer(2, hidden=(64,)).name == "mlp-64"
    assert MLPTrainer(2, hidden=()).name == "mlp-linear"


def test_the_trainer_follows_the_interface_and_is_seeded():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    t = MLPTrainer(latent_dim=2, hidden=(8,), epochs=3, batch_size=16)
    assert isinstance(t, Trainer)
    json.dumps(t.config())
    seen = []
    a = t.fit(X, sigma2=0.5, beta=1.0, seed=4, progress=lambda e, loss: seen.append((e, loss)))
    b = t.fit(X, sigma2=0.5, beta=1.0, seed=4)
    c = t.fit(X, sigma2=0.5, beta=1.0, seed=5)
    assert isinstance(a, Fitted) and [e for e, _ in seen] == [1, 2, 3]
    assert all(np.array_equal(a.state[k], b.state[k]) for k in a.state)
    assert a.measures["kl_per_latent"] == b.measures["kl_per_latent"]
    assert not all(np.array_equal(a.state[k], c.state[k]) for k in a.state)
    assert a.measures["epochs"] == 3 and a.measures["stopped"] == "epochs"
    assert seen[-1][1] == pytest.approx(a.measures["loss"])
    json.dumps({k: v for k, v in a.measures.items()})
    # the global torch generator is left alone
    torch.manual_seed(123)
    x1 = torch.rand(1)
    torch.manual_seed(123)
    t.fit(X, sigma2=0.5, beta=1.0, seed=4)
    assert torch.rand(1) == x1


def test_warm_start_continues_from_the_state_and_bad_states_are_refused():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 4))
    t = MLPTrainer(latent_dim=2, hidden=(6,), epochs=2, batch_size=8)
    first = t.fit(X, sigma2=0.4, beta=1.0, seed=0)
    zero = MLPTrainer(latent_dim=2, hidden=(6,), epochs=0)
    same = zero.fit(X, sigma2=0.4, beta=1.0, seed=0, init=first.state)
    assert all(np.array_equal(first.state[k], same.state[k]) for k in first.state)
    assert same.measures["elbo"] == pytest.approx(first.measures["elbo"], rel=1e-12)
    other = zero.fit(X, sigma2=0.4, beta=1.0, seed=9, init=first.state)   # other draws: the KL is exact
    assert other.measures["kl_per_latent"] == pytest.approx(first.measures["kl_per_latent"], rel=1e-12)
    with pytest.raises(ModelError, match="init"):
        MLPTrainer(latent_dim=3, hidden=(6,), epochs=1).fit(X, sigma2=0.4, beta=1.0, seed=0, init=first.state)
    with pytest.raises(ModelError, match="init"):
        t.fit(X[:, :3], sigma2=0.4, beta=1.0, seed=0, init=first.state)
    with pytest.raises(ModelError, match="init"):
        t.fit(X, sigma2=0.4, beta=1.0, seed=0, init={"W": np.zeros(2)})


def test_bad_arguments_raise_one_line_statvae_errors():
    X = np.zeros((10, 3))
    for kwargs in [{"latent_dim": 0}, {"hidden": "128"}, {"hidden": (0,)}, {"activation": "gelu"}, {"lr": -1.0},
                   {"epochs": -1}, {"batch_size": 0}, {"dtype": "float16"}, {"eval_samples": 3},
                   {"schedule": "step"}, {"threads": 0}]:
        with pytest.raises(ModelError):
            MLPTrainer(**{"latent_dim": 2, **kwargs})
    t = MLPTrainer(2, hidden=(4,), epochs=1)
    for kwargs in [{"sigma2": 0.0}, {"sigma2": float("nan")}, {"beta": -1.0}, {"seed": -1}]:
        with pytest.raises(DataError):
            t.fit(X, **{"sigma2": 1.0, "beta": 1.0, "seed": 0, **kwargs})
    with pytest.raises(DataError):
        t.fit(np.zeros(3), sigma2=1.0, beta=1.0, seed=0)


def _synthetic(M, spectrum, seed):
    rng = np.random.default_rng(seed)
    N = len(spectrum)
    Q = np.linalg.qr(rng.normal(size=(N, N)))[0]
    X = rng.normal(size=(M, N)) * np.sqrt(spectrum) @ Q.T
    return X - X.mean(axis=0)


def test_linear_network_training_reaches_the_closed_form_optimum():
    """hidden=() trained as VAEs are: total KL near sum_i 1/2 log(xi_i^2 / sigma2) over the active directions."""
    X = _synthetic(600, [3.0, 1.5, 0.2, 0.1, 0.05], seed=0)
    xi2 = np.linalg.eigvalsh(X.T @ X / len(X))[::-1]
    t = MLPTrainer(latent_dim=2, hidden=(), epochs=150, batch_size=64, lr=1e-2)
    sigma2 = 0.5
    fit = t.fit(X, sigma2=sigma2, beta=1.0, seed=0)
    want = sum(0.5 * math.log(x / sigma2) for x in xi2[:2])
    assert fit.measures["kl_total"] == pytest.approx(want, rel=0.05)
    collapsed = t.fit(X, sigma2=1.3 * xi2[0], beta=1.0, seed=0)
    assert collapsed.measures["kl_total"] < 0.02


def test_mlp_collapses_above_the_top_eigenvalue_and_not_far_below_it():
    X = _synthetic(400, [2.0, 1.0, 0.1, 0.1], seed=1)
    xi2 = np.linalg.eigvalsh(X.T @ X / len(X))[-1]
    t = MLPTrainer(latent_dim=2, hidden=(16,), epochs=60, batch_size=50, lr=5e-3)
    active = t.fit(X, sigma2=0.2 * xi2, beta=1.0, seed=0)
    collapsed = t.fit(X, sigma2=2.0 * xi2, beta=1.0, seed=0)
    assert active.measures["kl_total"] > 0.5
    assert collapsed.measures["kl_total"] < 0.02 and max(collapsed.measures["activity"]) < 0.01


def test_plateau_stop():
    X = _synthetic(200, [2.0, 1.0, 0.5], seed=2)
    t = MLPTrainer(latent_dim=1, hidden=(4,), epochs=400, batch_size=50, lr=1e-2, plateau=0.5, plateau_window=2)
    fit = t.fit(X, sigma2=10.0, beta=1.0, seed=0)
    assert fit.measures["stopped"] == "kl plateau" and fit.measures["epochs"] < 400
    assert fit.measures["epochs"] % 2 == 0


def test_an_mlp_sweep_runs_with_warm_starts():
    from statvae.training.sweep import sweep

    X = _synthetic(120, [2.0, 1.0, 0.3], seed=3)
    t = MLPTrainer(latent_dim=1, hidden=(6,), epochs=5, batch_size=40)
    res = sweep(t, X, grid=[0.5, 1.0, 4.0], seeds=1, executor="serial", theory=False, diagnostics=False,
                progress=False)
    assert len(res.points) == 3 and res.trainers["mlp-6"]["hidden"] == [6]
    assert [p["sigma2"] for p in res.points] == [0.5, 1.0, 4.0]
    assert all(len(p["measures"]["kl_per_latent"]) == 1 for p in res.points)
    json.dumps(res.to_dict())
