"""``statvae validate``: one JSON object, files written, one-line errors, the torch hint."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from statvae.cli import validate as V
from statvae.cli.main import main
from statvae.errors import ModelError
from statvae.training.sweep import SweepResult

FAST = ["--latent-dim", "2", "--epochs", "8", "--seeds", "2", "--workers", "1", "--quiet", "--lr", "0.01"]


def run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_parse_grid():
    assert V.parse_grid("0.3:0.9:4", "--sigma2") == pytest.approx([0.3, 0.5, 0.7, 0.9])
    assert V.parse_grid("1,2.5", "--sigma2") == [1.0, 2.5]
    for bad in ("0.3:0.9", "a:b:3", "0.3:0.9:1", "0.3:0.9:2.5", "1,-1", "x", "0:1:3"):
        with pytest.raises(ModelError):
            V.parse_grid(bad, "--sigma2")


def test_json_and_files(tmp_path, capsys):
    out_json, out_png = tmp_path / "r.json", tmp_path / "r.png"
    code, out, err = run(["validate", "--dataset", "synthetic", "--synthetic-spectrum", "4,2,1,0.3",
                          "--synthetic-samples", "300", "--sigma2", "0.8:5:5", *FAST, "--out", str(out_json),
                          "--plot", str(out_png), "--json"], capsys)
    assert code == 0, err
    d = json.loads(out)
    assert {"predicted", "measured", "points"} <= set(d)
    assert d["predicted"]["population"]["latents"] == pytest.approx([4.0, 2.0])
    assert d["predicted"]["sample"]["full_collapse"] == pytest.approx(d["predicted"]["sample"]["latents"][0])
    fc = d["measured"]["linear"]["full_collapse"]
    assert {"value", "bracket", "spread", "per_seed", "error"} <= set(fc) and len(fc["per_seed"]) == 2
    assert len(d["points"]) == 2 * 5 and d["data"]["transform"].endswith("centred")
    saved = SweepResult.load(out_json)
    assert saved.points == d["points"] and saved.comparison()["measured"] == d["measured"]
    assert out_png.stat().st_size > 10_000


def test_text_output_and_beta_sweep(tmp_path, capsys):
    x = np.random.default_rng(0).normal(size=(120, 3)) * [2.0, 1.0, 0.3]
    np.save(tmp_path / "x.npy", x)
    code, out, err = run(["validate", "--samples", str(tmp_path / "x.npy"), "--sigma2", "0.5", "--beta",
                          "0.5:8:4", "--standardize", "--no-theory", *FAST], capsys)
    assert code == 0, err
    assert "sweep:     beta over 4 values" in out and "standardized" in out
    assert "measured linear full collapse" in out


@pytest.mark.parametrize("args,words", [
    (["--spectrum", "2,1", "--sigma2", "0.5:1:3"], "trains on samples"),
    (["--dataset", "synthetic", "--sigma2", "1"], "nothing to sweep"),
    (["--dataset", "synthetic", "--sigma2", "1:2:3", "--beta", "1:2:3"], "sweep one"),
    (["--dataset", "synthetic"], "--sigma2 is required"),
    (["--dataset", "synthetic", "--sigma2", "1:2:3", "--hidden", "8"], "--hidden applies"),
    (["--dataset", "synthetic", "--sigma2", "1:2:3", "--out", "r.txt"], "--out"),
    (["--dataset", "synthetic", "--sigma2", "1:2:3", "--delta", "2"], "--delta"),
    (["--dataset", "synthetic", "--sigma2", "1:2:3", "--seeds", "0"], "--seeds"),
])
def test_bad_input_is_one_line(args, words, capsys):
    code, out, err = run(["validate", *args], capsys)
    assert code == 2 and err.count("\n") == 1 and words in err and "Traceback" not in err


def test_mlp_without_torch_says_how_to_install(monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    code, out, err = run(["validate", "--dataset", "synthetic", "--sigma2", "1:2:3", "--trainer", "mlp"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "pip install torch==2.13.0" in err and "statvae[torch]" in err


def test_unreachable_scheduler_is_one_line(capsys, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(V, "SCHEDULER_TIMEOUT", 1.0)
    code, out, err = run(["validate", "--dataset", "synthetic", "--sigma2", "1:2:3", "--scheduler",
                          "tcp://127.0.0.1:9", *FAST], capsys)
    assert code == 2 and err.count("\n") == 1 and "Dask scheduler" in err


def test_scheduler_runs_the_chains_on_dask(capsys):
    distributed = pytest.importorskip("distributed")
    args = ["validate", "--dataset", "synthetic", "--synthetic-samples", "200", "--sigma2", "1:5:3", *FAST,
            "--no-theory", "--json"]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, host="127.0.0.1",
                                  protocol="tcp", dashboard_address=None) as cluster:
        code, out, err = run(args + ["--scheduler", cluster.scheduler_address], capsys)
    assert code == 0, err
    d = json.loads(out)
    assert d["execution"]["kind"] == "dask" and d["execution"]["scheduler"] == cluster.scheduler_address
    code, out2, err = run(args, capsys)
    strip = lambda pts: [{k: v for k, v in p.items() if k != "cpu_seconds"} for p in pts]
    assert strip(json.loads(out2)["points"]) == strip(d["points"])
