"""Finite samples: bootstrap intervals, the noise report, and the large-size predictions in alpha.

Independent checks: the bootstrap replicates are recomputed here from the same index draws with
numpy alone (the plain threshold is the top eigenvalue over beta); the active directions against the
2x2 block at collapse written out by hand; the predictions of the Ichikawa-Hukushima setting against a
direct minimisation of their training loss (written from their model, with its own gradient) on seeded
samples.  Tolerances are stated per test.
"""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import statvae
from statvae.analysis.asymptotics import finite_data_prediction, mode_optimum
from statvae.analysis.finite import bootstrap_critical
from statvae.analysis.results import BootstrapResult, FiniteDataPrediction, NoiseReport, ResultStatus
from statvae.data import synthetic
from statvae.data.rmt import bbp_outlier, bbp_overlap, mp_edges
from statvae.errors import AnalysisError, DataError, ModelError


def _samples(m=120, seed=2, spectrum=(4.0, 1.0, 0.5)):
    return synthetic(list(spectrum), samples=m, seed=seed)


# -- bootstrap ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("beta", [1.0, 2.0])
def test_bootstrap_replicates_are_the_thresholds_of_the_resamples(beta):
    """Each replicate = top eigenvalue of numpy.cov of the resample / beta (the plain closed form), to 1e-10."""
    x = _samples()
    r = statvae.LinearVAE(3, 2, beta=beta).collapse().bootstrap_critical("sigma2", samples=x, bootstrap=30, seed=5)
    rng = np.random.default_rng(5)
    ref = [np.linalg.eigvalsh(np.cov(x[rng.integers(0, 120, 120)], rowvar=False))[-1] / beta for _ in range(30)]
    assert np.allclose(r.replicates, ref, rtol=1e-10)
    assert r.value == pytest.approx(np.linalg.eigvalsh(np.cov(x, rowvar=False))[-1] / beta, rel=1e-12)
    assert np.allclose(r.interval, np.quantile(ref, [0.025, 0.975]), rtol=1e-12)
    assert r.standard_error == pytest.approx(np.std(ref, ddof=1), rel=1e-9)
    assert r.status is ResultStatus.CONFIRMED and r.stable_side == "above" and r.resamples == 30


def test_bootstrap_is_seeded_and_the_basic_interval_is_the_reflection():
    a = statvae.LinearVAE(3, 1).collapse()
    x = _samples()
    r1 = a.bootstrap_critical("sigma2", samples=x, bootstrap=20, seed=11, confidence=0.8)
    r2 = bootstrap_critical(a, "sigma2", data=x, bootstrap=20, seed=11, confidence=0.8)
    r3 = a.bootstrap_critical("sigma2", samples=x, bootstrap=20, seed=12, confidence=0.8)
    assert r1 == r2 and r1.replicates != r3.replicates
    b = a.bootstrap_critical("sigma2", samples=x, bootstrap=20, seed=11, confidence=0.8, method="basic")
    lo, hi = np.quantile(r1.replicates, [0.1, 0.9])
    assert b.interval == pytest.approx((2 * r1.value - hi, 2 * r1.value - lo), rel=1e-12)
    back = BootstrapResult.from_dict(json.loads(json.dumps(r1.to_dict())))
    assert back == r1 and "80% bootstrap interval" in str(r1)


def test_standardized_bootstrap_does_not_depend_on_the_units_of_a_feature():
    x = _samples()
    y = x * np.array([1e-3, 1.0, 5e3])
    a = statvae.LinearVAE(3, 1).collapse()
    rx = a.bootstrap_critical("sigma2", samples=x, bootstrap=15, seed=1, standardize=True)
    ry = a.bootstrap_critical("sigma2", samples=y, bootstrap=15, seed=1, standardize=True)
    assert np.allclose(rx.replicates, ry.replicates, rtol=1e-9) and rx.preprocessing["standardize"]
    raw = a.bootstrap_critical("sigma2", samples=y, bootstrap=15, seed=1)
    assert raw.value > 1e5 * rx.value  # raw units: the 5e3-scaled feature dominates


def test_bootstrap_bad_input_is_one_line():
    a = statvae.LinearVAE(3, 1).collapse()
    x = _samples()
    for kw, msg in [({"data": [3.0, 2.0, 1.0]}, "recognised as a spectrum"),
                    ({"samples": x, "bootstrap": 1}, "bootstrap must be"),
                    ({"samples": x, "confidence": 1.0}, "confidence must be between 0 and 1"),
                    ({"samples": x, "method": "bca"}, "bootstrap method must be one of"),
                    ({"samples": x, "seed": -1}, "seed must be"),
                    ({"samples": x, "center": "yes"}, "center must be True or False")]:
        with pytest.raises(DataError, match=msg) as e:
            a.bootstrap_critical("sigma2", **kw)
        assert "\n" not in str(e.value)


@pytest.mark.slow
def test_bootstrap_percentile_interval_covers_a_separated_threshold():
    """Coverage of the 90% percentile interval of sigma2_c = 4 (spectrum 4, 1, 0.5; M = 300) over 60 data
    sets: between 0.75 and 0.99 (binomial 3-sigma band around 0.9 is about 0.78-1.0; the percentile bootstrap
    of a top eigenvalue is first-order accurate, so some under-coverage is expected)."""
    a = statvae.LinearVAE(3, 1).collapse()
    hits = 0
    for k in range(60):
        r = a.bootstrap_critical("sigma2", samples=_samples(300, seed=100 + k), bootstrap=200, seed=k,
                                 confidence=0.9)
        hits += r.interval[0] <= 4.0 <= r.interval[1]
    assert 0.75 <= hits / 60 <= 0.99


# -- the noise report -----------------------------------------------------------------------------------------
def _spiked(n, m, spikes, eta, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, n)) * np.sqrt(eta)
    x[:, :len(spikes)] *= np.sqrt(1 + np.asarray(spikes) / eta)
    return x


@settings(max_examples=8, deadline=None)
@given(st.floats(0.3, 3.0), st.floats(0.3, 3.0), st.floats(0.0, 0.5), st.floats(0.0, 0.5))
def test_active_directions_are_those_whose_block_at_collapse_is_unstable(beta, sigma2, wd_enc, wd_dec):
    """Against the 2x2 block [[-1/s - eta_d, l/s], [l/s, -beta l - eta_e]] written out by hand: unstable iff
    l^2 / s^2 > (1/s + eta_d)(beta l + eta_e)."""
    x = _spiked(20, 80, [3.0, 1.0], 1.0, 4)
    model = statvae.LinearVAE(20, 2, beta=beta, weight_decay_enc=wd_enc, weight_decay_dec=wd_dec)
    r = model.collapse().noise_report(samples=x, sigma2=sigma2)
    eig = np.linalg.eigvalsh(np.cov(x, rowvar=False))[::-1]
    assert np.allclose(r.eigenvalues, eig, rtol=1e-10, atol=1e-12)
    want = [i for i, v in enumerate(eig) if v ** 2 / sigma2 ** 2 > (1 / sigma2 + wd_dec) * (beta * v + wd_enc)]
    assert list(r.active) == want
    assert r.ascent_directions == 2 * len(want)  # one positive eigenvalue per (direction, latent)
    assert r.edge == pytest.approx(r.noise_variance * (1 + math.sqrt(20 / 79)) ** 2, rel=1e-12)


def test_noise_report_finds_the_planted_spikes_and_the_noise_it_would_learn():
    """N = 200, M = 800, eta = 1.5, spikes 6, 3, 2 (all above rho_c = 0.75; outliers 8.1, 5.1, 4.2): the outliers are exactly the three
    planted directions, eta within 3%, each spike within 15% of the truth; at sigma2 = 1.5 (below the edge
    1.5 (1 + 1/2)^2 = 3.375) the bulk above sigma2 is active and below the edge."""
    x = _spiked(200, 801, [6.0, 3.0, 2.0], 1.5, 0)
    a = statvae.LinearVAE(200, 3).collapse()
    r = a.noise_report(samples=x, sigma2=1.5)
    assert r.outliers == (0, 1, 2) and r.noise_variance == pytest.approx(1.5, rel=0.03)
    assert np.allclose(r.spikes, [6.0, 3.0, 2.0], rtol=0.15)
    assert np.allclose(r.overlaps, bbp_overlap(np.array(r.spikes), 4.0, r.noise_variance), rtol=1e-12)
    assert r.above == (0, 1, 2) and len(r.below) > 20 and r.alpha == 4.0
    quiet = a.noise_report(samples=x, sigma2=3.5, noise_variance=1.5)
    assert quiet.above == (0, 1, 2) and quiet.below == () and quiet.noise_method == "given"
    assert quiet.edge == pytest.approx(mp_edges(4.0, 1.5)[1], rel=1e-12)
    assert NoiseReport.from_dict(json.loads(json.dumps(r.to_dict()))) == r


def test_noise_report_bad_input():
    x = _spiked(4, 50, [2.0], 1.0, 1)
    with pytest.raises(AnalysisError, match="sigma2 has no value"):
        statvae.LinearVAE(4, 1).collapse().noise_report(samples=x)
    with pytest.raises(DataError, match="recognised as a covariance"):
        statvae.LinearVAE(4, 1).collapse().noise_report(data=np.eye(4), sigma2=1.0)
    with pytest.raises(ModelError, match="one observed variable"):
        statvae.ConditionalVAE(2, 2, 1).collapse().noise_report(samples=x, sigma2=1.0, sigma2_y=1.0)
    with pytest.raises(DataError, match="noise_variance must be a finite number > 0"):
        statvae.LinearVAE(4, 1).collapse().noise_report(samples=x, sigma2=1.0, noise_variance=-1.0)


# -- the setting of Ichikawa and Hukushima ---------------------------------------------------------------------
def _scalar_mode_optimum(lam, beta, eta, s):
    """Independent: maximise the one-mode objective over (w, v, log d) numerically, from several starts."""
    from scipy.optimize import minimize

    def neg(p):
        w, v, d = p[0], p[1], math.exp(p[2])
        return ((1 - w * v) ** 2 * lam + w * w * d) / (2 * s) + beta / 2 * (d + v * v * lam - 1 - p[2]) \
            + eta / 2 * (v * v + w * w)

    best = (neg([0.0, 0.0, 0.0]), 0.0)
    for w0 in (0.3, 1.0, 3.0):
        r = minimize(neg, [w0, w0 / max(lam, 1e-3), 0.0], method="BFGS", options={"gtol": 1e-12})
        if r.fun < best[0] - 1e-12:
            best = (r.fun, r.x[0] ** 2)
    return best[1]


@settings(max_examples=25, deadline=None)
@given(st.floats(0.2, 10.0), st.floats(0.2, 3.0), st.one_of(st.just(0.0), st.floats(1e-6, 2.0)), st.floats(0.3, 3.0))
def test_mode_optimum_is_the_maximum_of_the_one_mode_objective(lam, beta, eta, s):
    q = mode_optimum(lam, beta, eta, s)
    ref = _scalar_mode_optimum(lam, beta, eta, s)
    assert q == pytest.approx(ref, abs=2e-5 * max(1.0, ref))
    if eta == 0:
        assert q == pytest.approx(max(0.0, lam - beta * s), abs=1e-12)


@settings(max_examples=10, deadline=None)
@given(st.floats(0.3, 50.0), st.floats(0.2, 3.0), st.one_of(st.just(0.0), st.floats(1e-6, 3.0)), st.floats(0.3, 3.0))
def test_predicted_beta_threshold_is_the_closed_form_of_the_block(alpha, rho, lam, s):
    """statvae's critical beta at the predicted top eigenvalue = (l^2 / (s (1 + eta s)) - eta) / l, eta = lambda/alpha."""
    p = finite_data_prediction(alpha, 1.0, rho, 1.0, lam, s)[0]
    eta = lam / alpha
    ref = (p.top_eigenvalue ** 2 / (s * (1 + eta * s)) - eta) / p.top_eigenvalue
    if ref > 0:
        assert p.beta_critical == pytest.approx(ref, rel=1e-9)
    else:
        assert math.isnan(p.beta_critical)
    assert p.collapsed == (p.q == 0.0) and p.effective_weight_decay == pytest.approx(eta)


def test_reference_values_and_inevitable_collapse():
    ps = finite_data_prediction([10.0, 4.0, 2.0], beta=1.0, rho=1.0, eta=1.0)
    assert [round(p.top_eigenvalue, 12) for p in ps] == [2.2, 2.5, 3.0]
    assert [round(p.overlap2, 3) for p in ps] == [0.818, 0.6, 0.333]
    # without weight decay beta_c is the top eigenvalue (sigma2 = 1); with it, beta_c -> rho + eta from below
    assert [p.beta_critical for p in ps] == pytest.approx([2.2, 2.5, 3.0], rel=1e-12)
    bc = [p.beta_critical for p in finite_data_prediction([1.0, 10.0, 100.0, 1e6], weight_decay=1.0)]
    assert all(b < 2.0 for b in bc) and bc == sorted(bc) and bc[-1] == pytest.approx(2.0, abs=1e-5)
    p = finite_data_prediction(4.0, beta=2.5, weight_decay=1.0)[0]
    assert p.collapsed and p.q == 0.0 and p.m == 0.0 and p.generalization_error == 1.0
    assert FiniteDataPrediction.from_dict(json.loads(json.dumps(p.to_dict()))) == p


def _ih_minimise(x, beta, lam, seed):
    """Their training loss (summed over samples, decoder variance 1, no biases, one latent), minimised
    directly with its own gradient; returns (q, m) = (||W||^2 / N, <W, 1> / N) in their scaling."""
    from scipy.optimize import minimize

    p, n = x.shape
    s = x.T @ x

    def f(theta):
        w, wt, t = theta[:n], theta[n:2 * n], theta[-1]
        v = math.exp(t)
        sw, swt = s @ w, s @ wt
        a, b, q = wt @ swt / n, w @ swt / n, w @ w
        loss = 0.5 * np.trace(s) - b + 0.5 * (a + p * v) * q / n + beta / 2 * (-p * t + a + p * v) \
            + lam / 2 * (q + wt @ wt)
        gw = -swt / n + (a + p * v) / n * w + lam * w
        gwt = -sw / n + (q / n + beta) * swt / n + lam * wt
        gt = (0.5 * p * q / n + beta / 2 * (-p / v + p)) * v
        return loss, np.concatenate([gw, gwt, [gt]])

    rng = np.random.default_rng(seed)
    best = None
    for _ in range(2):
        r = minimize(f, np.concatenate([rng.standard_normal(2 * n), [0.0]]), jac=True, method="L-BFGS-B",
                     options={"maxiter": 20000, "gtol": 1e-11, "ftol": 1e-15})
        if best is None or r.fun < best.fun:
            best = r
    w = best.x[:n]
    return w @ w / n, abs(w.sum()) / n


@pytest.mark.parametrize("alpha", [4.0, 10.0])
def test_ichikawa_hukushima_predictions_match_direct_training(alpha):
    """N = 100, rho = eta = beta = lambda = 1.  The plug-in (top eigenvalue and eigenvector of the sample) gives
    their minimiser's q and m to 1e-4; the large-size prediction gives them within 0.08 (finite-size
    fluctuations of the outlier and the overlap at N = 100); statvae's critical beta on the same samples
    (center=False, ddof=0, weight decays lambda / alpha) is within 0.12 of the prediction."""
    n = 100
    m = int(alpha * n)
    rng = np.random.default_rng(3)
    u = np.ones(n) / np.sqrt(n)
    x = rng.standard_normal((m, 1)) * u + rng.standard_normal((m, n))
    q, mm = _ih_minimise(x, 1.0, 1.0, seed=1)
    w_eig, v_eig = np.linalg.eigh(x.T @ x / m)
    q_plug = mode_optimum(w_eig[-1], 1.0, 1.0 / alpha)
    assert q == pytest.approx(q_plug, abs=1e-4)
    assert mm == pytest.approx(math.sqrt(q_plug * (v_eig[:, -1] @ u) ** 2), abs=1e-4)
    pred = finite_data_prediction(alpha, beta=1.0, rho=1.0, eta=1.0, weight_decay=1.0)[0]
    assert q == pytest.approx(pred.q, abs=0.08) and mm == pytest.approx(pred.m, abs=0.08)
    model = statvae.LinearVAE(n, 1, sigma2=1.0, beta=None, weight_decay_enc=1.0 / alpha,
                              weight_decay_dec=1.0 / alpha)
    bc = model.collapse().critical("beta", samples=x, center=False, ddof=0)
    assert bc.value == pytest.approx(pred.beta_critical, abs=0.12)
    assert pred.top_eigenvalue == pytest.approx(bbp_outlier(1.0, alpha))


def test_prediction_bad_input():
    for call, err, msg in [(lambda: finite_data_prediction(0.0), DataError, "alpha must be"),
                           (lambda: finite_data_prediction("4"), DataError, "alpha must be a number"),
                           (lambda: finite_data_prediction(4.0, beta=-1.0), ModelError, "beta must be"),
                           (lambda: finite_data_prediction(4.0, eta=0.0), DataError, "eta must be"),
                           (lambda: mode_optimum(-1.0, 1.0), DataError, "eigenvalue must be")]:
        with pytest.raises(err, match=msg):
            call()


def test_the_finite_samples_page_runs_as_written():
    """docs/finite-samples.md: every example prints what the code prints."""
    import doctest
    from pathlib import Path

    page = Path(__file__).resolve().parents[2] / "docs" / "finite-samples.md"
    res = doctest.testfile(str(page), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted >= 15
