"""One vocabulary across the API and the CLI (issue 9): the new names, and the old spellings kept as aliases.

``critical`` (alias ``threshold``), ``--parameter`` (alias ``--solve-for``), ``--start``/``--stop`` and
``--along-start``/``--along-stop`` (shorthand ``--range``/``--along-range``), ``--samples FILE``,
``--data FILE`` recognised by shape as the API's ``data=``, and ``--synthetic-samples M``.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

import statvae
from statvae.cli.main import build_parser, join_number_values, main


def run(args, capsys):
    try:
        code = main(args)
    except SystemExit as exc:  # argparse errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, needle):
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("statvae"), err
    assert "Traceback" not in err
    assert needle in err, err


# -- the command: critical, alias threshold ---------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["--spectrum", "3,1.7,0.9", "--latent-dim", "2", "--json"],
    ["--spectrum", "3,1.7,0.9", "--latent-dim", "2"],
    ["--spectrum", "3,1", "--sigma2", "2", "--parameter", "beta"],
])
def test_threshold_alias_gives_the_same_output(args, capsys):
    new = run(["critical", *args], capsys)
    old = run(["threshold", *args], capsys)
    assert new[0] == 0, new[2]
    assert new == old


def test_threshold_alias_gives_the_same_errors(capsys):
    new = run(["critical", "--spectrum", "3,-1"], capsys)
    old = run(["threshold", "--spectrum", "3,-1"], capsys)
    assert new == old and new[0] == 2


def test_help_lists_critical_and_its_alias():
    r = subprocess.run([sys.executable, "-m", "statvae", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "critical (threshold)" in r.stdout
    r = subprocess.run([sys.executable, "-m", "statvae", "threshold", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("usage: statvae critical")
    for flag in ("--parameter PARAM, --solve-for PARAM", "--samples FILE", "--data FILE", "--synthetic-samples M"):
        assert flag in r.stdout


def test_critical_json_has_the_result_fields(capsys):
    code, out, err = run(["critical", "--spectrum", "3,1.7,0.9", "--latent-dim", "2", "--json"], capsys)
    assert code == 0, err
    d = json.loads(out)
    r = statvae.LinearVAE(3, 2).collapse().critical("sigma2", spectrum=[3.0, 1.7, 0.9])
    assert d["critical"] == r.value and d["parameter"] == r.parameter
    assert d["stable_side"] == r.stable_side and d["method"] == r.method and d["block"] == r.block
    assert d["bracket"] == list(r.bracket) and d["assumptions"] == list(r.assumptions)
    assert d["status"] == r.status.value


# -- --parameter, alias --solve-for -----------------------------------------------------------------------------
@pytest.mark.parametrize("command,extra", [
    ("critical", ["--spectrum", "3,1", "--sigma2", "2", "--json"]),
    ("threshold", ["--spectrum", "3,1", "--sigma2", "2", "--json"]),
    ("derive", ["--sigma2", "2", "--format", "json"]),
])
def test_solve_for_is_parameter(command, extra, capsys):
    new = run([command, *extra, "--parameter", "beta"], capsys)
    old = run([command, *extra, "--solve-for", "beta"], capsys)
    assert new[0] == 0, new[2]
    assert new == old
    d = json.loads(new[1])
    assert (d["parameter"] if command != "derive" else d["critical"]["parameter"]) == "beta"


def test_parameter_and_solve_for_are_one_option():
    args = build_parser().parse_args(["critical", "--spectrum", "1", "--solve-for", "beta", "--parameter", "tau2"])
    assert args.parameter == "tau2" and args.parameter_flag == "--parameter"
    args = build_parser().parse_args(["derive", "--solve-for", "beta"])
    assert args.parameter == "beta" and args.parameter_flag == "--solve-for"
    assert build_parser().parse_args(["derive"]).parameter is None


def test_derive_frees_the_parameter_asked_for(capsys):
    """``derive --parameter beta`` solves the condition for beta (beta has the value 1 by default)."""
    code, out, err = run(["derive", "--parameter", "beta", "--format", "json"], capsys)
    assert code == 0, err
    assert json.loads(out)["critical"]["parameter"] == "beta"


@pytest.mark.parametrize("flag", ["--parameter", "--solve-for"])
def test_an_empty_parameter_names_the_spelling_used(flag, capsys):
    code, out, err = run(["critical", "--spectrum", "3,1", flag, ""], capsys)
    assert_one_line_error(code, err, f"{flag} needs a hyper-parameter name")


# -- ranges: --start/--stop as the API, --range as shorthand ----------------------------------------------------
def test_range_shorthand_is_start_stop(capsys):
    base = ["track", "--spectrum", "3,2,1", "--latent-dim", "2", "--json", "--quiet"]
    a = run([*base, "--range", "4:0.5"], capsys)
    b = run([*base, "--start", "4", "--stop", "0.5"], capsys)
    assert a[0] == b[0] == 0, a[2] + b[2]
    da, db = json.loads(a[1]), json.loads(b[1])
    da.pop("seconds"), db.pop("seconds")
    assert da == db
    assert [round(s["parameter"], 12) for s in da["special_points"] if s["branch"] == 0] == [1.0, 2.0, 3.0]


def test_phase_diagram_range_forms_agree(capsys):
    base = ["phase-diagram", "--spectrum", "3,2,1", "--latent-dim", "2", "--along", "beta", "--steps", "4", "--json"]
    a = run([*base, "--range", "6.5:0.5", "--along-range", "0.5:2"], capsys)
    b = run([*base, "--start", "6.5", "--stop", "0.5", "--along-start", "0.5", "--along-stop", "2"], capsys)
    c = run([*base, "--start", "6.5", "--stop", "0.5", "--along-range", "0.5:2"], capsys)
    assert a[0] == b[0] == c[0] == 0, a[2] + b[2] + c[2]
    da, db, dc = (json.loads(x[1]) for x in (a, b, c))
    for d in (da, db, dc):
        d.get("meta", {}).pop("seconds", None)
    assert da["loci"] == db["loci"] == dc["loci"]
    loc = da["loci"][0]
    np.testing.assert_allclose(np.array(loc["parameter"]) * np.array(loc["along"]), 3.0, rtol=1e-10)


BAD_RANGES = [
    (["track", "--spectrum", "3,2,1", "--start", "4", "--stop", "1", "--range", "4:1"], "give the range once"),
    (["track", "--spectrum", "3,2,1", "--stop", "1", "--range", "4:1"], "give the range once"),
    (["track", "--spectrum", "3,2,1", "--start", "4"], "--start needs --stop"),
    (["track", "--spectrum", "3,2,1", "--stop", "4"], "--stop needs --start"),
    (["track", "--spectrum", "3,2,1"], "a range is required"),
    (["track", "--spectrum", "3,2,1", "--start", "-1", "--stop", "2"], "sigma2 must be > 0"),
    (["track", "--spectrum", "3,2,1", "--start", "-1e-3", "--stop", "2"], "sigma2 must be > 0"),
    (["track", "--spectrum", "3,2,1", "--start", "2", "--stop", "-inf"], "--stop must be a finite number"),
    (["track", "--spectrum", "3,2,1", "--start", "2", "--stop", "2.0"], "must differ"),
    (["track", "--spectrum", "3,2,1", "--range", "-1:2"], "sigma2 must be > 0"),
    (["phase-diagram", "--spectrum", "3,2,1", "--start", "4", "--stop", "1", "--along", "beta", "--along-stop", "2"],
     "--along-stop needs --along-start"),
    (["phase-diagram", "--spectrum", "3,2,1", "--range", "4:1", "--along", "beta", "--along-range", "1:2",
      "--along-start", "1"], "give the range once"),
    (["phase-diagram", "--spectrum", "3,2,1", "--range", "4:1", "--along", "beta", "--along-start", "-1",
      "--along-stop", "2"], "beta must be > 0"),
]


@pytest.mark.parametrize("args,needle", BAD_RANGES, ids=[" ".join(a) for a, _ in BAD_RANGES])
def test_bad_ranges_are_one_line_exit_2(args, needle, capsys):
    code, out, err = run(args, capsys)
    assert_one_line_error(code, err, needle)


def test_a_negative_start_is_a_value_where_the_domain_allows_it(capsys):
    code, out, err = run(["track", "--spectrum", "3,2,1", "--parameter", "weight_decay_dec", "--sigma2", "0.5",
                          "--start", "-0", "--stop", "2", "--max-steps", "5", "--json", "--quiet"], capsys)
    assert code == 0, err
    code, out, err = run(["track", "--spectrum", "3,2,1", "--parameter", "weight_decay_dec", "--sigma2", "0.5",
                          "--start", "-1", "--stop", "2"], capsys)
    assert_one_line_error(code, err, "weight_decay_dec must be >= 0")


def test_join_number_values():
    assert join_number_values(["--start", "-1e-3", "--stop", "-inf"]) == ["--start=-1e-3", "--stop=-inf"]
    assert join_number_values(["--along-range", "-1:2", "--sigma2", "-1"]) == ["--along-range=-1:2", "--sigma2", "-1"]
    assert join_number_values(["--start", "--stop", "1"]) == ["--start", "--stop", "1"]
    assert join_number_values(["--", "--start", "-1"]) == ["--", "--start", "-1"]


# -- data: --samples FILE, --data FILE by shape, --synthetic-samples M ------------------------------------------
@pytest.fixture
def data_files(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((300, 3)) @ rng.standard_normal((3, 3))
    c = np.cov(x, rowvar=False)
    spec = np.linalg.eigvalsh(c)[::-1]
    np.save(tmp_path / "x.npy", x)
    np.savetxt(tmp_path / "x.csv", x, delimiter=",")
    np.save(tmp_path / "c.npy", c)
    np.savetxt(tmp_path / "c.csv", c, delimiter=",")
    np.save(tmp_path / "s.npy", spec)
    (tmp_path / "s.csv").write_text(",".join(repr(float(v)) for v in spec) + "\n")
    return tmp_path, x, c, spec


def _critical(args, capsys):
    code, out, err = run(["critical", "--latent-dim", "2", *args, "--json"], capsys)
    assert code == 0, err
    return json.loads(out)


def test_data_is_recognised_by_shape_as_the_api(data_files, capsys):
    d, x, c, spec = data_files
    by_spectrum = _critical(["--spectrum", ",".join(repr(float(v)) for v in spec)], capsys)["critical"]
    by_covariance = _critical(["--covariance", str(d / "c.npy")], capsys)["critical"]
    by_samples = _critical(["--samples", str(d / "x.npy")], capsys)["critical"]
    api = statvae.LinearVAE(3, 2).collapse().critical(data=x).value
    assert by_spectrum == pytest.approx(by_covariance, rel=1e-12)
    assert by_samples == pytest.approx(api, rel=1e-12) and by_samples == pytest.approx(by_covariance, rel=1e-12)
    for name, expect, described in [("s.npy", by_spectrum, "spectrum from"), ("s.csv", by_spectrum, "spectrum from"),
                                    ("c.npy", by_covariance, "covariance"), ("c.csv", by_covariance, "covariance"),
                                    ("x.npy", by_samples, "300 samples from"),
                                    ("x.csv", by_samples, "300 samples from")]:
        got = _critical(["--data", str(d / name)], capsys)
        assert got["critical"] == pytest.approx(expect, rel=1e-12), name
        assert got["data"].startswith(described), got["data"]


def test_data_gives_the_same_output_as_the_specific_option(data_files, capsys):
    d = data_files[0]
    for specific, name in (("--covariance", "c.npy"), ("--samples", "x.npy"), ("--samples", "x.csv")):
        assert run(["critical", specific, str(d / name)], capsys) == run(["critical", "--data", str(d / name)], capsys)


def test_data_and_samples_honour_ddof(data_files, capsys):
    d, x = data_files[0], data_files[1]
    ml = statvae.LinearVAE(3, 1).collapse().critical(samples=x, ddof=0).value
    for flag in ("--samples", "--data"):
        code, out, err = run(["critical", flag, str(d / "x.npy"), "--ddof", "0", "--json"], capsys)
        assert code == 0, err
        assert json.loads(out)["critical"] == pytest.approx(ml, rel=1e-12)


def test_data_works_for_track(data_files, capsys):
    d = data_files[0]
    base = ["track", "--latent-dim", "2", "--start", "20", "--stop", "0.05", "--depth", "0", "--json", "--quiet"]
    a = json.loads(run([*base, "--data", str(d / "x.npy")], capsys)[1])
    b = json.loads(run([*base, "--samples", str(d / "x.npy")], capsys)[1])
    pa = [s["parameter"] for s in a["special_points"] if s["branch"] == 0]
    assert pa and pa == pytest.approx([s["parameter"] for s in b["special_points"] if s["branch"] == 0], rel=1e-12)


@pytest.mark.parametrize("args", [
    ["--dataset", "synthetic", "--samples", "2000"],
    ["--samples", "2000", "--dataset", "synthetic"],
    ["--samples", "2000"],
])
def test_old_samples_count_gives_the_hint(args, capsys):
    for command in ("critical", "threshold"):
        code, out, err = run([command, *args], capsys)
        assert_one_line_error(code, err, "the number of synthetic samples is --synthetic-samples 2000")
        assert out == ""


def test_old_samples_count_in_a_process():
    r = subprocess.run([sys.executable, "-m", "statvae", "threshold", "--dataset", "synthetic", "--samples", "500"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "--synthetic-samples 500" in r.stderr and "Traceback" not in r.stderr


def test_a_file_named_like_a_number_is_a_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    np.savetxt(tmp_path / "2000", np.random.default_rng(0).standard_normal((50, 2)), delimiter=",")
    code, out, err = run(["critical", "--samples", "2000"], capsys)
    # read as a file: its suffix is refused, not taken for a count
    assert_one_line_error(code, err, "2000")
    assert "--synthetic-samples" not in err


def test_synthetic_samples(capsys):
    a = run(["critical", "--dataset", "synthetic", "--synthetic-samples", "500", "--json"], capsys)
    b = run(["critical", "--dataset", "synthetic", "--synthetic-samples", "500", "--json"], capsys)
    c = run(["critical", "--dataset", "synthetic", "--json"], capsys)
    assert a[0] == c[0] == 0 and a == b
    assert "500 samples" in json.loads(a[1])["data"] and "2000 samples" in json.loads(c[1])["data"]
    assert json.loads(a[1])["critical"] != json.loads(c[1])["critical"]


def test_one_data_source(data_files, capsys):
    d = data_files[0]
    code, out, err = run(["critical", "--data", str(d / "x.npy"), "--samples", str(d / "x.npy")], capsys)
    assert_one_line_error(code, err, "not allowed with")
    code, out, err = run(["critical"], capsys)
    assert_one_line_error(code, err, "required")
