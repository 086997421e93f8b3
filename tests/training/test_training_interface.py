"""The trainer interface (statvae.training.base): Fitted's contract, measure_linear against Monte Carlo."""

from __future__ import annotations

import importlib.util
import pkgutil
import sys
from pathlib import Path

import numpy as np
import pytest

from statvae.errors import DataError
from statvae.training.base import Fitted, Trainer, check_samples, measure_linear

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_docstrings import problems_in


def _training_modules() -> list[str]:
    import statvae.training as pkg

    names = ["statvae.training"]
    for info in pkgutil.iter_modules(pkg.__path__, "statvae.training."):
        short = info.name.rsplit(".", 1)[1]
        if short.startswith("_"):
            continue
        if short in ("torch_trainer", "probe") and importlib.util.find_spec("torch") is None:
            continue
        names.append(info.name)
    return names


@pytest.mark.parametrize("module_name", _training_modules())
def test_training_modules_have_numpydoc_docstrings(module_name):
    problems = problems_in(module_name)
    assert not problems, "\n".join(problems)


def _measures(**over):
    m = {"elbo": 0.0, "kl_per_latent": [0.0], "posterior_variance": [1.0], "activity": [0.0], "epochs": 1,
         "stopped": "epochs"}
    m.update(over)
    return m


def test_fitted_requires_every_measure():
    Fitted(state=None, measures=_measures())
    m = _measures()
    del m["activity"]
    with pytest.raises(ValueError, match="activity"):
        Fitted(state=None, measures=m)
    with pytest.raises(ValueError, match="stopped"):
        Fitted(state=None, measures=_measures(stopped="converged"))


def test_check_samples():
    assert check_samples([[1, 2], [3, 4]]).dtype == float
    with pytest.raises(DataError):
        check_samples([1.0, 2.0])
    with pytest.raises(DataError):
        check_samples([[1.0, np.nan], [0.0, 1.0]])


def test_measure_linear_against_monte_carlo():
    """Exact-in-q measures equal a Monte-Carlo average over q (2e5 draws per sample set)."""
    rng = np.random.default_rng(0)
    M, N, n = 50, 4, 2
    X = rng.normal(size=(M, N)) * np.array([2.0, 1.0, 0.5, 0.3])
    W = rng.normal(size=(N, n))
    V = rng.normal(size=(n, N)) * 0.3
    d = np.array([0.4, 0.9])
    sigma2, beta = 0.7, 1.3
    got = measure_linear(W, V, d, X, sigma2=sigma2, beta=beta)
    S = 4000
    eps = rng.normal(size=(S, M, n))
    z = (X @ V.T)[None] + np.sqrt(d) * eps                     # (S, M, n)
    logp = (-0.5 * N * np.log(2 * np.pi * sigma2)
            - 0.5 * np.sum((X[None] - z @ W.T) ** 2, axis=-1) / sigma2)
    recon_mc = logp.mean()
    # KL(q || p) per coordinate = E_q[log q - log p]
    logq = -0.5 * np.log(2 * np.pi * d) - 0.5 * eps ** 2
    logp0 = -0.5 * np.log(2 * np.pi) - 0.5 * z ** 2
    kl_mc = (logq - logp0).mean(axis=(0, 1))
    assert got["reconstruction"] == pytest.approx(recon_mc, rel=5e-3)
    np.testing.assert_allclose(got["kl_per_latent"], kl_mc, rtol=2e-2, atol=2e-3)
    assert got["elbo"] == pytest.approx(got["reconstruction"] - beta * sum(got["kl_per_latent"]), rel=1e-12)
    np.testing.assert_allclose(got["activity"], np.var(X @ V.T, axis=0), rtol=1e-12)
    np.testing.assert_allclose(got["posterior_variance"], d)


def test_protocol_is_runtime_checkable():
    class Dummy:
        name = "dummy"

        def config(self):
            return {}

        def fit(self, X, *, sigma2, beta, seed, init=None, progress=None):
            return Fitted(None, _measures())

    assert isinstance(Dummy(), Trainer)
