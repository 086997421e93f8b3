"""Sweeps: threshold estimation, predictions against eigenvalues, save/load/plot, executors agree."""

from __future__ import annotations

import json

import numpy as np
import pytest

from statvae.data import synthetic
from statvae.errors import DataError, ModelError
from statvae.training import sweep as S
from statvae.training.base import Fitted, measure_linear
from statvae.training.linear import LinearTrainer
from statvae.training.sweep import (SweepResult, estimate_threshold, measure_thresholds, predicted_thresholds,
                                    sweep)

SPEC = [4.0, 2.0, 1.0, 0.3, 0.2]


@pytest.fixture(scope="module")
def X():
    x = synthetic(SPEC, samples=300, seed=1)
    return x - x.mean(axis=0)


def _strip(result):
    return [{k: v for k, v in p.items() if k != "cpu_seconds"} for p in result.points]


@pytest.fixture(scope="module")
def small(X):
    tr = LinearTrainer(2, epochs=40, batch_size=64, lr=1e-2)
    return sweep(tr, X, grid=np.linspace(0.8, 5.0, 8), seeds=2, population=SPEC, executor="serial",
                 data_name="synthetic", transform="centred", progress=False)


def test_estimate_threshold_by_hand():
    g = [1.0, 2.0, 3.0, 4.0]
    r = estimate_threshold(g, [0.5, 0.3, 0.05, 0.0], 0.1)
    assert r["bracket"] == [2.0, 3.0] and r["status"] == "measured"
    assert r["value"] == pytest.approx(2.0 + (0.3 - 0.1) / (0.3 - 0.05))
    # a blip above delta after the drop moves the threshold: "for good" means the last crossing
    assert estimate_threshold(g, [0.5, 0.05, 0.2, 0.0], 0.1)["bracket"] == [3.0, 4.0]
    assert estimate_threshold(g, [0.5, 0.4, 0.3, 0.2], 0.1) == {"value": None, "bracket": [4.0, None],
                                                                "status": "above grid"}
    assert estimate_threshold(g, [0.01] * 4, 0.1) == {"value": None, "bracket": [None, 1.0], "status": "below grid"}


def _fake_points(thresholds_by_seed, grid):
    """Records whose activity is 1 - v / t (the plain optimum's form), clipped at 0."""
    pts = []
    for seed, ts in thresholds_by_seed.items():
        for i, v in enumerate(grid):
            act = [max(0.0, 1 - v / t) for t in ts]
            m = {"activity": act, "kl_per_latent": [0.0] * len(ts)}
            pts.append({"trainer": "fake", "seed": seed, "index": i, "value": v, "measures": m})
    return pts


def test_measure_thresholds_combines_seeds():
    grid = list(np.linspace(0.5, 5.0, 10))[::-1]   # spacing 0.5, swept downwards: the order does not matter
    pts = _fake_points({0: [4.0, 2.0], 1: [4.2, 2.1], 2: [3.9, 1.95]}, grid)
    m = measure_thresholds(pts, grid, 2, 0.01)["fake"]
    first, second = m["latents"]
    assert first["bracket"] == [3.5, 4.5] and second["bracket"] == [1.5, 2.5]
    # interpolated per seed, median over seeds: within the grid spacing of the true median
    assert abs(first["value"] - 4.0) < 0.1 and abs(second["value"] - 2.0) < 0.1
    per = [p["value"] for p in first["per_seed"]]
    assert first["spread"]["std"] == pytest.approx(np.std(per, ddof=1))
    assert first["spread"]["min"] == min(per) and first["value"] == pytest.approx(np.median(per))
    # full collapse: the total activity, here the first latent's
    assert m["full_collapse"]["value"] == pytest.approx(first["value"], rel=0.05)


@pytest.mark.parametrize("parameter,values", [("sigma2", {"beta": 1.5}), ("beta", {"sigma2": 0.5})])
def test_predictions_are_the_eigenvalues(X, parameter, values):
    ev = np.sort(np.linalg.eigvalsh(X.T @ X / len(X)))[::-1]       # the moment the trainers see
    p = predicted_thresholds(3, parameter=parameter, values=values, samples=X)
    scale = 1 / values["beta"] if parameter == "sigma2" else 1 / values["sigma2"]
    np.testing.assert_allclose(p["latents"], ev[:3] * scale, rtol=1e-8)
    assert p["full_collapse"] == pytest.approx(ev[0] * scale, rel=1e-8)
    assert len(p["crossings"]) == len(ev)
    q = predicted_thresholds(3, parameter=parameter, values=values, spectrum=SPEC)
    np.testing.assert_allclose(q["latents"], np.array(SPEC[:3]) * scale, rtol=1e-8)


def test_more_latents_than_crossings():
    p = predicted_thresholds(3, parameter="sigma2", values={"beta": 1.0}, spectrum=[2.0, 1.0])
    assert p["latents"] == [2.0, 1.0, None]


def test_sweep_records_and_saves_exactly(small, tmp_path):
    r = small
    assert len(r.points) == 2 * 8 and r.seeds == [0, 1] and r.parameter == "sigma2"
    assert r.trainers["linear"]["epochs"] == 40 and r.trainers["linear"]["lr"] == 0.01
    assert r.data["transform"] == "centred" and r.data["population"] == SPEC
    p0 = r.points[0]
    assert {"elbo", "kl_per_latent", "posterior_variance", "activity", "epochs", "stopped"} <= set(p0["measures"])
    assert p0["fit_seed"] == S.derived_seed(0, 0) and "state" not in p0
    assert p0["diagnostics"]["active_units"] == p0["active_units"]
    f = tmp_path / "sweep.json"
    r.save(f)
    back = SweepResult.load(f)
    assert back == r and json.loads(f.read_text()) == r.to_dict()
    assert r.predicted["population"]["latents"] == pytest.approx([4.0, 2.0])
    assert len(r.theory["sample"]) == len(r.theory["population"]) == 8
    c = r.comparison()
    assert set(c["measured"]["linear"]["full_collapse"]["error"]) == {"sample", "population"}
    assert any("full collapse" in line for line in r.summary())


def test_diagnostics_agree_with_the_measures(small, X):
    """statvae.diagnose of the fitted weights == measure_linear (same moment X^T X / M)."""
    for p in small.points:
        assert p["diagnostics"]["active_units"] == p["active_units"]
        assert p["diagnostics"]["mutual_information"] >= 0


def test_theory_curves_are_the_closed_form(small):
    ev = np.array(small.data["population"])
    for t in small.theory["population"]:
        s2 = t["value"]
        want = sorted((0.5 * np.log(e / s2) for e in ev[:2] if e > s2), reverse=True)
        np.testing.assert_allclose(t["kl_per_latent"][:len(want)], want, rtol=1e-6, atol=1e-9)
        assert t["active"] == len(want)


def test_optimum_and_crossings_agree_on_the_active_count(small):
    """Two statvae routes: the optimum's active latents == the number of predicted thresholds above the value."""
    for src in ("sample", "population"):
        lat = [v for v in small.predicted[src]["latents"] if v is not None]
        for t in small.theory[src]:
            assert t["active"] == sum(v > t["value"] for v in lat), (src, t["value"])


def test_plot_from_a_loaded_sweep_recomputes_nothing(small, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    f = tmp_path / "s.json"
    small.save(f)
    back = SweepResult.load(f)

    def boom(*a, **k):
        raise AssertionError("recomputed")

    for name in ("fit_point", "theory_point", "predicted_thresholds", "measure_thresholds", "sweep"):
        monkeypatch.setattr(S, name, boom)
    fig = back.plot(tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 10_000
    assert len(fig.axes) == 4


def test_processes_give_the_serial_numbers(small, X):
    tr = LinearTrainer(2, epochs=40, batch_size=64, lr=1e-2)
    r = sweep(tr, X, grid=np.linspace(0.8, 5.0, 8), seeds=2, population=SPEC, executor="processes", workers=2,
              data_name="synthetic", transform="centred", progress=False)
    assert _strip(r) == _strip(small)
    assert r.theory == small.theory and r.measured == small.measured and r.execution["kind"] == "processes"


def test_beta_sweep_and_two_trainers(X):
    a = LinearTrainer(1, epochs=15, batch_size=100, lr=2e-2)
    b = LinearTrainer(1, epochs=15, batch_size=100, lr=2e-2, exact=True)
    r = sweep([a, b], X, grid=[0.5, 1.0, 3.0, 6.0], parameter="beta", values={"sigma2": 1.0}, seeds=[5],
              executor="serial", theory=False, progress=False)
    assert set(r.measured) == {"linear", "linear-exact"} and r.theory["sample"] is None
    assert {p["beta"] for p in r.points} == {0.5, 1.0, 3.0, 6.0} and {p["sigma2"] for p in r.points} == {1.0}
    assert r.predicted["sample"]["full_collapse"] == pytest.approx(np.linalg.eigvalsh(X.T @ X / len(X))[-1])


def test_progress_line_without_tqdm(X, capsys, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_tqdm(name, *a, **k):
        if name == "tqdm":
            raise ImportError("no tqdm")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    sweep(LinearTrainer(1, epochs=2), X, grid=[1.0, 2.0], seeds=1, executor="serial", theory=False,
          diagnostics=False, progress=True)
    err = capsys.readouterr().err
    assert "sweep sigma2: 2/2 fits" in err


def test_other_trainers_need_only_the_interface(X):
    """A trainer with only the protocol (no linear_parameters): no diagnostics, activities used as given."""

    class Frozen:
        name = "frozen"

        def config(self):
            return {"latent_dim": 1}

        def fit(self, X, *, sigma2, beta, seed, init=None, progress=None):
            w = np.zeros((X.shape[1], 1))
            v = np.zeros((1, X.shape[1]))
            m = measure_linear(w, v, np.ones(1), X, sigma2=sigma2, beta=beta)
            m.pop("activity_spectrum")
            return Fitted(state=None, measures={**m, "epochs": 0, "stopped": "epochs"})

    r = sweep(Frozen(), X, grid=[1.0, 2.0, 3.0], seeds=1, executor="serial", theory=False, progress=False)
    assert r.points[0]["diagnostics"] is None
    assert r.measured["frozen"]["full_collapse"]["status"] == "below grid"


def test_bad_sweeps_are_one_line(X):
    tr = LinearTrainer(1, epochs=1)
    with pytest.raises(ModelError):
        sweep(tr, X, grid=[1.0], progress=False)
    with pytest.raises(ModelError):
        sweep(tr, X, grid=[1.0, -2.0], progress=False)
    with pytest.raises(ModelError):
        sweep(tr, X, grid=[1.0, 2.0], parameter="gamma", progress=False)
    with pytest.raises(ModelError):
        sweep(tr, X, grid=[1.0, 2.0], parameter="beta", progress=False)       # needs sigma2
    with pytest.raises(ModelError):
        sweep([tr, tr], X, grid=[1.0, 2.0], progress=False)                 # same name twice
    with pytest.raises(ModelError):
        sweep(tr, X, grid=[1.0, 2.0], seeds=[1, 1], progress=False)
    with pytest.raises(DataError):
        sweep(tr, X, grid=[1.0, 2.0], population=[1.0, 2.0], progress=False)
    with pytest.raises(DataError):
        SweepResult.from_dict({"format": "something else"})


@pytest.mark.parametrize("center,standardize", [(True, False), (True, True), (False, True), (False, False)])
def test_prepare_samples_is_statvaes_preprocessing(center, standardize):
    from statvae.data.preprocess import sample_moment

    raw = synthetic([3.0, 1.0, 0.5], samples=50, seed=2) * [1.0, 10.0, 0.1] + [5.0, -1.0, 2.0]
    x, prep = S.prepare_samples(raw, center=center, standardize=standardize)
    want, wprep = sample_moment(raw, center=center, standardize=standardize)
    np.testing.assert_allclose(x.T @ x / (len(x) - 1), want, rtol=1e-12, atol=1e-14)
    assert prep == wprep
    with pytest.raises(DataError, match="constant"):
        S.prepare_samples(np.c_[raw, np.ones(50)], standardize=True)
