"""Done-when of issue 12 (linear part): on digits, trained thresholds within 5% of the sample-covariance prediction.

Slow (about two minutes on two cores): ``python -m pytest -m slow tests/training/test_validate_digits.py``.
The same run as ``docs/validation.md`` (its figure: ``statvae validate --dataset digits --latent-dim 4 --sigma2
0.3:0.9:25 --epochs 400 --seeds 3``).
"""

from __future__ import annotations

import numpy as np
import pytest

from statvae.data import digits, synthetic
from statvae.training.linear import LinearTrainer
from statvae.training.sweep import prepare_samples, sweep

pytestmark = pytest.mark.slow


def _check(result, k_latents, rtol):
    pred = result.predicted["sample"]
    meas = result.measured[next(iter(result.measured))]
    for k in range(k_latents):
        m, p = meas["latents"][k]["value"], pred["latents"][k]
        assert m is not None and abs(m - p) <= rtol * p, (k + 1, m, p)
    m, p = meas["full_collapse"]["value"], pred["full_collapse"]
    assert abs(m - p) <= rtol * p, ("full collapse", m, p)
    # the prediction is the eigenvalue of the moment the trainer sees (beta = 1), computed independently
    X = np.asarray(result_samples[result.data["name"]])
    ev = np.sort(np.linalg.eigvalsh(X.T @ X / len(X)))[::-1]
    np.testing.assert_allclose(pred["latents"], ev[:result.latent_dim], rtol=1e-9)


result_samples: dict[str, np.ndarray] = {}


@pytest.mark.parametrize("exact", [False, True])
def test_digits_thresholds_within_five_percent(exact):
    X, _ = prepare_samples(digits())             # pixels / 16, centred
    result_samples["digits"] = X
    tr = LinearTrainer(4, epochs=400 if not exact else 200, lr=2e-3, exact=exact)
    r = sweep(tr, X, grid=np.linspace(0.3, 0.9, 25), seeds=3, data_name="digits", theory=False, progress=False)
    _check(r, 3, 0.05)


def test_synthetic_thresholds_against_population_and_sample():
    spec = [4.0, 2.0, 1.0, 0.3, 0.2]
    X, _ = prepare_samples(synthetic(spec, samples=400, seed=1))
    result_samples["synthetic"] = X
    r = sweep(LinearTrainer(2, epochs=60, batch_size=100, lr=1e-2, exact=True), X, grid=np.linspace(1.0, 5.0, 21),
              seeds=2, population=spec, data_name="synthetic", theory=False, progress=False)
    _check(r, 2, 0.05)
