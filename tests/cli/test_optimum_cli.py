"""``statvae optimum``: the certified optimum and its diagnostics from the command line (text, JSON, errors)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import statvae
from statvae.analysis.optimum import OptimumResult
from statvae.cli.main import main


def run(args, capsys):
    try:
        code = main(args)
    except SystemExit as exc:  # argparse errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_json_equals_the_api(capsys):
    code, out, err = run(["optimum", "--spectrum", "4,2,1", "--latent-dim", "2", "--sigma2", "1.5", "--json"], capsys)
    assert code == 0, err
    d = json.loads(out)
    api = statvae.optimum(statvae.LinearVAE(3, 2), spectrum=[4.0, 2.0, 1.0], sigma2=1.5)
    assert d["optimum"]["elbo"] == api.elbo
    assert d["optimum"]["kl_per_latent"] == api.kl_per_latent
    diag = statvae.diagnose(statvae.LinearVAE(3, 2), api, spectrum=[4.0, 2.0, 1.0])
    assert d["diagnostics"] == json.loads(json.dumps(diag.to_dict()))
    assert d["diagnostics"]["active_units"] == 2


def test_text_and_saved_result(tmp_path, capsys):
    path = tmp_path / "opt.json"
    code, out, err = run(["optimum", "--spectrum", "4,2,1", "--latent-dim", "2", "--sigma2", "1.5",
                          "--output", str(path)], capsys)
    assert code == 0, err
    assert "per-mode closed form" in out and "local maximum" in out and "I(x; z)" in out
    back = OptimumResult.load(str(path))
    assert back.success and back.active_latents == 2


def test_learned_variance_on_samples(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 4)) @ np.diag([3.0, 2.0, 0.5, 0.4])
    f = tmp_path / "x.npy"
    np.save(f, X)
    code, out, err = run(["optimum", "--samples", str(f), "--latent-dim", "2", "--decoder-variance", "learned",
                          "--json"], capsys)
    assert code == 0, err
    d = json.loads(out)
    lam = np.sort(np.linalg.eigvalsh(np.cov(X, rowvar=False)))[::-1]
    assert d["optimum"]["variances"]["x"] == pytest.approx(lam[2:].mean(), rel=1e-10)


@pytest.mark.parametrize("args,needle", [
    (["optimum", "--spectrum", "4,2,1", "--latent-dim", "2"], "sigma2"),  # no value for sigma2
    (["optimum", "--spectrum", "4,nan,1", "--sigma2", "1"], "NaN"),
    (["optimum", "--spectrum", "4,2,1", "--sigma2", "-1"], "sigma2"),
    (["optimum", "--spectrum", "4,2,1", "--sigma2", "1", "--starts", "0"], "--starts"),
    (["optimum", "--spectrum", "4,2,1", "--sigma2", "1", "--epsilon", "-1"], "epsilon"),
    (["optimum", "--spectrum", "4,2,1", "--decoder-variance", "learned", "--method", "closed-form"],
     "closed form"),
])
def test_bad_input_is_one_line(args, needle, capsys):
    code, out, err = run(args, capsys)
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and err.startswith("statvae") and "Traceback" not in err, err
    assert needle.lower() in err.lower(), err


def test_critical_diagnostics_on_the_unstable_side(capsys):
    """critical --diagnostics: the optimum 5% below sigma'^2_c = 3 activates the top direction only, with the
    closed-form KL log(3 / 2.85) / 2."""
    code, out, err = run(["critical", "--spectrum", "3,2,1", "--latent-dim", "2", "--diagnostics", "--json"], capsys)
    assert code == 0, err
    d = json.loads(out)
    assert d["critical"] == 3.0
    x = d["diagnostics"]
    assert x["value"] == pytest.approx(2.85)
    assert x["diagnostics"]["active_units"] == 1
    assert x["optimum"]["kl_total"] == pytest.approx(0.5 * np.log(3 / 2.85), rel=1e-10)
    code, out, err = run(["critical", "--spectrum", "3,2,1", "--latent-dim", "2", "--diagnostics"], capsys)
    assert code == 0 and "unstable side" in out
