"""Custom models on the command line (--model-file, --set) and output that says what it computed."""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq

import statvae
from statvae.cli.main import main
from statvae.api import load_model, model_from_dict, save_model
from statvae.model.files import model_to_dict

ROOT = Path(__file__).resolve().parents[2]
TWOVIEW = str(ROOT / "docs" / "examples" / "twoview.toml")


def run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def _cov(tmp_path, seed=3):
    a = np.random.default_rng(seed).standard_normal((5, 6))
    c = a @ a.T / 6
    p = tmp_path / "C.npy"
    np.save(p, c)
    return c, str(p)


def test_critical_with_a_model_file_is_the_whitened_root(tmp_path, capsys):
    c, path = _cov(tmp_path)
    code, out, err = run(["critical", "--model-file", TWOVIEW, "--covariance", path, "--json"], capsys)
    assert code == 0, err
    d = json.loads(out)
    assert d["parameter"] == "sigma2_x"
    sy = 2.0  # from the file's [hyper] table

    def top(s):
        w = np.diag(1 / np.sqrt([s] * 3 + [sy] * 2))
        return np.linalg.eigvalsh(w @ c @ w).max() - 1.0

    assert d["critical"] == pytest.approx(brentq(top, 1e-6, 1e6, xtol=1e-300, rtol=1e-15), rel=1e-10)
    assert d["condition_applies"] is False and "correlated" in d["reason"]
    assert "for Σ_xy = 0" in d["condition_text"]


def test_critical_text_explains_a_fallback(tmp_path, capsys):
    _, path = _cov(tmp_path)
    code, out, err = run(["critical", "--model-file", TWOVIEW, "--covariance", path], capsys)
    assert code == 0, err
    assert "from " + TWOVIEW in out
    assert "note:      these data have no canonical form" in out
    assert "compiled Hessian" in out


def test_set_and_parameter_a_custom_name(tmp_path, capsys):
    c = np.zeros((5, 5))
    c[:3, :3] = np.diag([3.0, 2.0, 1.0])
    c[3:, 3:] = np.diag([0.5, 0.2])
    p = tmp_path / "C.npy"
    np.save(p, c)
    code, out, err = run(["critical", "--model-file", TWOVIEW, "--covariance", str(p), "--parameter", "sigma2_y",
                          "--set", "sigma2_x=4", "--json"], capsys)
    assert code == 0, err
    d = json.loads(out)
    assert d["critical"] == pytest.approx(0.5, rel=1e-12) and d["condition_applies"] is True


def test_derive_and_track_read_a_model_file(tmp_path, capsys):
    code, out, err = run(["derive", "--model-file", TWOVIEW, "--format", "latex"], capsys)
    assert code == 0, err
    assert r"\sigma_{x}^{2}" in out and "None" not in out and r"\mathrm{W" not in out and r"W_{x}" in out
    _, path = _cov(tmp_path)
    code, out, err = run(["track", "--model-file", TWOVIEW, "--covariance", path, "--parameter", "sigma2_x",
                          "--range", "20:0.05", "--depth", "0", "--json"], capsys)
    assert code == 0, err
    pts = [p["parameter"] for p in json.loads(out)["special_points"] if p["branch"] == 0]
    cr = load_model(TWOVIEW).collapse().crossings("sigma2_x", covariance=np.load(path))
    assert np.allclose(sorted(pts), [c.value for c in cr if 0.05 < c.value < 20], rtol=1e-9)


@pytest.mark.parametrize("args,needle", [
    (["--model-file", "missing.toml", "--spectrum", "1,2,3,4,5"], "not found"),
    (["--model-file", TWOVIEW, "--spectrum", "1,2,3"], "observes 5"),
    (["--model-file", TWOVIEW, "--spectrum", "1,2,3,4,5", "--latent-dim", "2"], "--latent-dim describes a preset"),
    (["--model-file", TWOVIEW, "--spectrum", "1,2,3,4,5", "--sigma2", "2"], "does not use"),
    (["--model-file", TWOVIEW, "--spectrum", "1,2,3,4,5", "--set", "gamma=2"], "not a hyper-parameter"),
    (["--model-file", TWOVIEW, "--spectrum", "1,2,3,4,5", "--set", "sigma2_y"], "NAME=VALUE"),
    (["--spectrum", "1,2,3", "--set", "sigma2=-1"], "must be > 0"),
])
def test_model_file_errors_are_one_line(args, needle, capsys):
    code, out, err = run(["critical"] + args, capsys)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err


def test_bad_model_files(tmp_path, capsys):
    cases = {
        "bad.toml": "[variables.x\n",
        "cycle.json": json.dumps({"variables": {"x": {"dim": 1, "observed": True, "variance": "s"}, "z": {"dim": 1}},
                                  "maps": [{"name": "W", "source": "z", "target": "x", "role": "generative"}]}),
        "unknown.json": json.dumps({"variables": {"x": {"dim": 1, "colour": "red"}}, "maps": []}),
        "model.yaml": "x: 1",
    }
    needles = {"bad.toml": "not valid TOML", "cycle.json": "no inference map", "unknown.json": "unknown field",
               "model.yaml": ".toml or .json"}
    for name, body in cases.items():
        p = tmp_path / name
        p.write_text(body)
        code, _, err = run(["derive", "--model-file", str(p)], capsys)
        assert code == 2 and needles[name] in err, (name, err)


def test_model_files_round_trip(tmp_path):
    m = load_model(TWOVIEW)
    p = save_model(m, tmp_path / "m.json")
    back = load_model(p)
    assert back.key() == m.key()
    assert model_to_dict(back) == model_to_dict(m)
    preset = statvae.HierarchicalVAE(3, (2, 1), betas=(1, None), encoders=("full", 0.5))
    again = model_from_dict(model_to_dict(preset))
    assert again.graph.structure_key() == preset.graph.structure_key() and again.values == preset.values


def test_critical_prints_the_condition_solved_for_the_parameter_asked(capsys):
    code, out, err = run(["critical", "--spectrum", "3,2,1", "--solve-for", "beta", "--sigma2", "100"], capsys)
    assert code == 0, err
    line = next(ln for ln in out.splitlines() if ln.startswith("condition:"))
    assert "β >" in line and "100" in line


def test_latent_dim_beyond_the_data_is_explained(capsys):
    code, out, err = run(["critical", "--spectrum", "3,2,1", "--latent-dim", "5"], capsys)
    assert code == 0, err
    assert "at most 3 of them can leave collapse" in out


def test_track_explains_latents_beyond_the_data(capsys):
    code, out, _ = run(["track", "--spectrum", "3,2", "--latent-dim", "3", "--range", "4:0.5", "--quiet"], capsys)
    assert code == 0 and "z has 3 coordinates but the modelled data only 2 dimensions" in out
    code, out, _ = run(["track", "--spectrum", "3,2", "--latent-dim", "3", "--range", "4:0.5", "--quiet", "--json"],
                       capsys)
    d = json.loads(out)
    assert len(d["notes"]) == 1 and "1 stay collapsed" in d["notes"][0]
    # the collapsed branch has one branch point per eigenvalue, each with a kernel of one data mode
    # times the 3 latent coordinates it may pair with (the count the analysis gives independently)
    want = [(c.value, c.kernel_dim) for c in statvae.LinearVAE(2, 3).collapse().crossings(spectrum=[3, 2])]
    got = sorted((s["parameter"], s["kernel_dim"]) for s in d["special_points"]
                 if s["kind"] == "branch point" and s["branch"] == 0)
    assert [k for _, k in got] == [k for _, k in want]
    assert np.allclose([v for v, _ in got], [v for v, _ in want], rtol=1e-9)


def test_detected_points_print_only_supported_digits():
    d = statvae.track(statvae.LinearVAE(3, 2), spectrum=[3.0, 2.0, 1.0], start=4.0, stop=0.5, depth=2)
    detected = [s for s in d.special_points() if s.status == "detected"]
    assert detected, "this run is expected to bracket some points only"
    text = d.summary()
    for s in detected:
        assert f"{s.parameter:.12g}" not in text or s.precision < 1e-11
    assert "detected, precision" in text and " in sigma2 = [" in text


def test_conditional_with_encoder_decay_condition_and_value_agree(tmp_path, capsys):
    c = np.zeros((5, 5))
    c[:2, :2] = [[2.0, 1.0], [1.0, 3.0]]
    c[2:, 2:] = np.diag([3.0, 2.0, 1.0])
    p = tmp_path / "C.npy"
    np.save(p, c)  # x and y uncorrelated: the per-mode condition applies and gives the printed value
    code, out, err = run(["critical", "--model", "conditional", "--x-dim", "2", "--covariance", str(p),
                          "--weight-decay-enc", "0.1", "--json"], capsys)
    assert code == 0, err
    d = json.loads(out)
    xi = np.array([3.0, 2.0, 1.0])
    assert d["condition_applies"] is True
    assert d["critical"] == pytest.approx(max(xi ** 2 / (xi + 0.1)), rel=1e-12)
    c[0, 2] = c[2, 0] = 0.5  # correlated: the condition does not apply, and the output says so
    np.save(p, c)
    code, out, err = run(["critical", "--model", "conditional", "--x-dim", "2", "--covariance", str(p),
                          "--weight-decay-enc", "0.1"], capsys)
    assert code == 0, err
    assert "(for Σ_xy = 0)" in out and "note:      these data have no canonical form" in out
