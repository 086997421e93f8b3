"""``statvae track``, ``phase-diagram`` and ``plot`` from the command line."""

import json

import numpy as np
import pytest

from statvae.cli.main import main


def run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_track_json_schema_and_values(capsys):
    code, out, err = run(["track", "--spectrum", "3,2,1", "--latent-dim", "2", "--start", "4", "--stop", "0.5", "--json"],
                         capsys)
    assert code == 0, err
    d = json.loads(out)
    sp0 = [s for s in d["special_points"] if s["branch"] == 0]
    assert [round(s["parameter"], 12) for s in sp0] == [1.0, 2.0, 3.0]
    for s in d["special_points"]:
        assert {"kind", "parameter", "interval", "precision", "kernel_dim"} <= set(s)
    for s in sp0:
        assert s["kernel_dim"] == 2 and s["interval"][0] <= s["parameter"] <= s["interval"][1]
    for b in d["branches"]:
        assert {"id", "parent", "points", "stable_points"} <= set(b)


def test_track_save_plot_and_replot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out_json, fig = tmp_path / "d.json", tmp_path / "d.png"
    code, out, err = run(["track", "--spectrum", "2,1", "--latent-dim", "1", "--range", "3:0.5", "--out",
                          str(out_json), "--plot", str(fig)], capsys)
    assert code == 0, err and fig.exists() and fig.stat().st_size > 1000
    code, out, err = run(["plot", str(out_json), "--out", str(tmp_path / "again.pdf")], capsys)
    assert code == 0 and (tmp_path / "again.pdf").exists()
    npz = tmp_path / "d.npz"
    run(["track", "--spectrum", "2,1", "--range", "3:0.5", "--out", str(npz)], capsys)
    code, _, _ = run(["plot", str(npz), "--out", str(tmp_path / "n.png"), "--observable", "elbo"], capsys)
    assert code == 0


def test_phase_diagram_cli(tmp_path, capsys):
    code, out, err = run(["phase-diagram", "--spectrum", "3,2,1", "--latent-dim", "2", "--start", "6.5", "--stop", "0.5",
                          "--along", "beta", "--along-start", "0.5", "--along-stop", "2", "--steps", "6", "--json", "--out",
                          str(tmp_path / "p.json")], capsys)
    assert code == 0, err
    d = json.loads(out)
    loc = d["loci"][0]
    np.testing.assert_allclose(np.array(loc["parameter"]) * np.array(loc["along"]), 3.0, rtol=1e-10)


BAD = [
    (["track", "--spectrum", "3,2,1", "--range", "4"], "START:STOP"),
    (["track", "--spectrum", "3,2,1", "--range", "4:4"], "differ"),
    (["track", "--spectrum", "3,2,1", "--range", "4:-1"], "> 0"),
    (["track", "--spectrum", "3,2,1", "--start", "4", "--stop", "-1"], "> 0"),
    (["track", "--spectrum", "3,2,1", "--start", "4"], "--start needs --stop"),
    (["track", "--spectrum", "3,2,1", "--start", "4", "--stop", "1", "--range", "4:1"], "give the range once"),
    (["track", "--spectrum", "3,2,1", "--range", "4:1", "--parameter", "gamma"], "not a hyper-parameter"),
    (["track", "--spectrum", "3,2,1", "--range", "4:1", "--parameter", "beta"], "sigma2 has no value"),
    (["track", "--spectrum", "3,-2,1", "--range", "4:1"], "negative"),
    (["track", "--spectrum", "3,2,1", "--range", "4:1", "--out", "/tmp/x.txt"], ".json or .npz"),
    (["plot", "/nonexistent.json", "--out", "x.png"], "not found"),
    (["phase-diagram", "--spectrum", "3,2,1", "--range", "4:1", "--along", "gamma", "--along-range", "1:2"],
     "not a hyper-parameter"),
]


@pytest.mark.parametrize("args,needle", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_track_input(args, needle, capsys):
    code, out, err = run(args, capsys)
    assert code == 2 and needle in err and err.count("\n") == 1, err
