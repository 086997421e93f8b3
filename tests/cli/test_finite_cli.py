"""The command line of issue 11 parts 3-4: --standardize / --center, critical --bootstrap, statvae finite, statvae rmt.

Each output is compared with the API on the same data (the API itself is checked against independent numerics
in tests/analysis/test_finite.py, tests/analysis/test_data_options.py and tests/data/).
"""

import json

import numpy as np
import pytest

import statvae
from statvae.cli.main import main


def run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def units_file(tmp_path):
    """Samples with features in wildly different units, as .npy, and the same data with one feature rescaled."""
    from statvae.data import synthetic

    x = synthetic([4.0, 1.5, 0.5], samples=300, seed=3) * np.array([1e-3, 1.0, 1e4])
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", x * np.array([1.0, 1e3, 1e-4]))
    return tmp_path, x


def test_standardize_is_stated_and_units_do_not_matter(units_file, capsys):
    d, x = units_file
    outs = []
    for f in ("x.npy", "y.npy"):
        code, out, err = run(["critical", "--samples", str(d / f), "--standardize", "--json"], capsys)
        assert code == 0, err
        outs.append(json.loads(out))
    assert outs[0]["critical"] == pytest.approx(outs[1]["critical"], rel=1e-10)
    assert outs[0]["critical"] == pytest.approx(np.linalg.eigvalsh(np.corrcoef(x, rowvar=False))[-1], rel=1e-12)
    assert outs[0]["preprocessing"]["standardize"] is True and "standardized" in outs[0]["data"]
    raw = [json.loads(run(["critical", "--samples", str(d / f), "--json"], capsys)[1])["critical"]
           for f in ("x.npy", "y.npy")]
    assert abs(np.log10(raw[0] / raw[1])) > 1 and "preprocessing" in json.loads(
        run(["critical", "--samples", str(d / "x.npy"), "--json"], capsys)[1])
    code, out, _ = run(["critical", "--samples", str(d / "x.npy"), "--standardize"], capsys)
    assert code == 0 and "standardized: each feature divided by its standard deviation" in out


def test_no_center_uses_the_second_moment(units_file, capsys):
    d, x = units_file
    code, out, err = run(["critical", "--samples", str(d / "x.npy"), "--no-center", "--ddof", "0", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["critical"] == pytest.approx(np.linalg.eigvalsh(x.T @ x / len(x))[-1], rel=1e-12)
    assert "not centred" in json.loads(out)["data"]


def test_track_states_the_data_options(units_file, capsys):
    d, x = units_file
    code, out, err = run(["track", "--samples", str(d / "y.npy"), "--standardize", "--start", "3", "--stop", "0.2",
                          "--json"], capsys)
    assert code == 0, err
    assert "standardized" in out


def test_critical_bootstrap_matches_the_api(units_file, capsys):
    d, x = units_file
    code, out, err = run(["critical", "--samples", str(d / "x.npy"), "--standardize", "--bootstrap", "20",
                          "--seed", "4", "--confidence", "0.9", "--json"], capsys)
    assert code == 0, err
    got = json.loads(out)["bootstrap"]
    api = statvae.LinearVAE(3, 1).collapse().bootstrap_critical("sigma2", samples=x, bootstrap=20, seed=4,
                                                                 confidence=0.9, standardize=True)
    assert got == json.loads(json.dumps(api.to_dict()))
    code, out, _ = run(["critical", "--samples", str(d / "x.npy"), "--bootstrap", "20", "--seed", "4"], capsys)
    assert code == 0 and "bootstrap: 95% interval [" in out and "20 resamples, seed 4" in out


@pytest.mark.parametrize("args, msg", [
    (["critical", "--spectrum", "3,2,1", "--bootstrap", "10"], "--bootstrap needs samples"),
    (["critical", "--spectrum", "3,2,1", "--standardize"], "--standardize needs samples or a covariance"),
    (["critical", "--spectrum", "3,2,1", "--no-center"], "--no-center applies to samples only"),
    (["critical", "--dataset", "synthetic", "--bootstrap", "1"], "--bootstrap must be an integer >= 2"),
    (["critical", "--dataset", "synthetic", "--bootstrap", "5", "--confidence", "1.5"],
     "confidence must be between 0 and 1"),
    (["finite", "--spectrum", "3,2,1", "--sigma2", "1"], "statvae finite needs samples"),
    (["finite", "--dataset", "synthetic"], "sigma2 has no value"),
    (["finite", "--dataset", "synthetic", "--sigma2", "1", "--noise-variance", "-2"],
     "--noise-variance must be a finite number > 0"),
    (["rmt", "--alpha", "0"], "alpha must be"),
    (["rmt", "--alpha", "4", "--eta", "0"], "eta must be"),
    (["rmt", "--alpha", "4", "--beta", "-1"], "beta must be"),
])
def test_bad_input_is_one_line(args, msg, capsys):
    code, out, err = run(args, capsys)
    assert code == 2 and out == "" and msg in err and err.count("\n") == 1


def test_constant_feature_under_standardize(tmp_path, capsys):
    x = np.random.default_rng(0).standard_normal((50, 3))
    x[:, 2] = 5.0
    np.save(tmp_path / "c.npy", x)
    code, out, err = run(["critical", "--samples", str(tmp_path / "c.npy"), "--standardize"], capsys)
    assert code == 2 and "feature 2 (0-based) is constant" in err and err.count("\n") == 1


def test_finite_report_matches_the_api(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((801, 100)) * np.sqrt(1.5)
    x[:, :2] *= np.sqrt(1 + np.array([6.0, 3.0]) / 1.5)
    np.save(tmp_path / "s.npy", x)
    code, out, err = run(["finite", "--samples", str(tmp_path / "s.npy"), "--sigma2", "1.6", "--latent-dim", "3",
                          "--json"], capsys)
    assert code == 0, err
    got = json.loads(out)
    api = statvae.LinearVAE(100, 3, sigma2=1.6).collapse().noise_report(samples=x)
    for k, v in api.to_dict().items():
        assert got[k] == v, k
    assert got["outliers"] == [0, 1] and got["above"] == [0, 1] and len(got["below"]) > 0
    code, out, err = run(["finite", "--samples", str(tmp_path / "s.npy"), "--sigma2", "1.6", "--noise-variance",
                          "1.5", "--noise-estimator", "bulk"], capsys)
    assert code == 0, err
    assert "given (--noise-variance)" in out and "learning noise" in out and "spike" in out


def test_rmt_reference_values(capsys):
    code, out, err = run(["rmt", "--alpha", "10,4,2", "--json"], capsys)
    assert code == 0, err
    d = json.loads(out)
    assert [round(p["top_eigenvalue"], 12) for p in d["predictions"]] == [2.2, 2.5, 3.0]
    assert [round(p["overlap2"], 3) for p in d["predictions"]] == [0.818, 0.6, 0.333]
    assert d["bbp_critical_alpha"] == 1.0
    assert [p["mp_edge"] for p in d["predictions"]] == pytest.approx([(1 + 10 ** -0.5) ** 2, 2.25, (1 + 0.5 ** 0.5) ** 2])
    code, out, err = run(["rmt", "--alpha", "4", "--weight-decay", "1", "--beta", "2.5"], capsys)
    assert code == 0 and "collapsed" in out and "BBP transition at alpha_c" in out
