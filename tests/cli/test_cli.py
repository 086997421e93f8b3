"""The command line: outputs, JSON schema, and one-line errors with exit status 2."""

import json
import subprocess
import sys

import numpy as np
import pytest

from statvae.cli.main import main


def run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_critical_json_plain(capsys):
    code, out, err = run(["critical", "--spectrum", "3,1.7,0.9", "--latent-dim", "2", "--json"], capsys)
    assert code == 0, err
    d = json.loads(out)
    assert d["parameter"] == "sigma2"
    assert d["critical"] == 3.0
    assert d["spectrum"] == [3.0, 1.7, 0.9]
    assert d["condition_latex"] == r"\sigma'^{2} > \max_{i} \xi_{i}^{2}"


def test_critical_beta_divides(capsys):
    code, out, _ = run(["critical", "--spectrum", "0.5,3,1", "--beta", "2", "--json"], capsys)
    assert json.loads(out)["critical"] == 1.5


def test_critical_parameter_beta(capsys):
    code, out, err = run(["critical", "--spectrum", "3,1", "--sigma2", "2", "--parameter", "beta", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["critical"] == pytest.approx(1.5, rel=1e-15)


def test_critical_covariance_and_data_files(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 4)) @ rng.standard_normal((4, 4))
    np.save(tmp_path / "x.npy", x)
    np.savetxt(tmp_path / "x.csv", x, delimiter=",")
    c1 = np.cov(x, rowvar=False)
    np.save(tmp_path / "c.npy", c1)
    expect = np.linalg.eigvalsh(c1).max()
    for args in (["--samples", str(tmp_path / "x.npy")], ["--samples", str(tmp_path / "x.csv")],
                 ["--data", str(tmp_path / "x.npy")], ["--data", str(tmp_path / "x.csv")],
                 ["--covariance", str(tmp_path / "c.npy")], ["--data", str(tmp_path / "c.npy")]):
        code, out, err = run(["critical", *args, "--json"], capsys)
        assert code == 0, err
        assert json.loads(out)["critical"] == pytest.approx(expect, rel=1e-12)
    ml = np.linalg.eigvalsh(np.cov(x, rowvar=False, ddof=0)).max()
    for flag in ("--samples", "--data"):
        code, out, _ = run(["critical", flag, str(tmp_path / "x.npy"), "--ddof", "0", "--json"], capsys)
        assert json.loads(out)["critical"] == pytest.approx(ml)


def test_critical_synthetic_is_seeded(capsys):
    a = run(["critical", "--dataset", "synthetic", "--seed", "3", "--json"], capsys)[1]
    b = run(["critical", "--dataset", "synthetic", "--seed", "3", "--json"], capsys)[1]
    c = run(["critical", "--dataset", "synthetic", "--seed", "4", "--json"], capsys)[1]
    assert json.loads(a)["critical"] == json.loads(b)["critical"] != json.loads(c)["critical"]


def test_critical_digits(capsys):
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits

    code, out, err = run(["critical", "--dataset", "digits", "--latent-dim", "8", "--json"], capsys)
    assert code == 0, err
    x = load_digits().data / 16.0
    assert json.loads(out)["critical"] == pytest.approx(np.linalg.eigvalsh(np.cov(x, rowvar=False)).max(), rel=1e-12)
    assert len(json.loads(out)["spectrum"]) == 64


def test_critical_conditional_uses_residual_spectrum(tmp_path, capsys):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((5, 5))
    cov = a @ a.T
    np.save(tmp_path / "c.npy", cov)
    code, out, err = run(["critical", "--model", "conditional", "--x-dim", "2", "--covariance",
                          str(tmp_path / "c.npy"), "--json"], capsys)
    assert code == 0, err
    resid = cov[2:, 2:] - cov[2:, :2] @ np.linalg.solve(cov[:2, :2], cov[:2, 2:])
    assert json.loads(out)["critical"] == pytest.approx(np.linalg.eigvalsh(resid).max(), rel=1e-10)


def test_critical_hierarchical(capsys):
    code, out, err = run(["critical", "--model", "hierarchical", "--latent-dim", "2,1", "--beta", "2,3",
                          "--spectrum", "4,1", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["critical"] == pytest.approx(2.0)


def test_derive_text_latex_json(capsys):
    code, out, _ = run(["derive"], capsys)
    assert code == 0 and "σ'² > max_i(ξ_i²)" in out
    code, out, _ = run(["derive", "--format", "latex"], capsys)
    assert code == 0
    assert r"\sigma'^{2} > \max_{i} \xi_{i}^{2}" in out
    assert r"H_{(W_{ij}, V_{ji})} = \left[\begin{matrix}- \frac{1}{\sigma'^{2}} & \frac{\xi_{i}^{2}}{\sigma'^{2}}" in out
    code, out, _ = run(["derive", "--format", "json", "--model", "conditional", "--x-dim", "1", "--data-dim", "3"],
                       capsys)
    d = json.loads(out)
    assert {"objective", "blocks", "condition", "critical"} <= set(d)


def test_derive_large_model_is_fast():
    import time

    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "statvae", "derive", "--data-dim", "64", "--latent-dim", "8"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert time.perf_counter() - t < 30


BAD = [
    (["critical", "--spectrum", "3,-1"], "negative"),
    (["critical", "--spectrum", "3,nan"], "NaN"),
    (["critical", "--spectrum", ""], "list of numbers"),
    (["critical", "--spectrum", "a,b"], "list of numbers"),
    (["critical", "--covariance", "/nonexistent/c.npy"], "not found"),
    (["critical", "--data", "/nonexistent/x.csv"], "not found"),
    (["critical", "--samples", "/nonexistent/x.csv"], "not found"),
    (["critical", "--spectrum", "3,1", "--bogus"], "unrecognized"),
    (["critical"], "required"),
    (["critical", "--spectrum", "3,1", "--latent-dim", "0"], "positive integer"),
    (["critical", "--spectrum", "3,1", "--latent-dim", "-2"], "positive integer"),
    (["critical", "--spectrum", "3,1", "--sigma2", "-1", "--parameter", "beta"], "sigma2 must be > 0"),
    (["critical", "--spectrum", "3,1", "--weight-decay-enc", "-0.1"], "weight_decay_enc must be >= 0"),
    (["critical", "--spectrum", "3,1", "--solve-for", "gamma"], "not a hyper-parameter"),
    (["critical", "--spectrum", "3,1", "--parameter", "beta"], "sigma2 has no value"),
    (["critical", "--spectrum", "3,1", "--encoder", "banana"], "encoder"),
    (["critical", "--spectrum", "3,1", "--data-dim", "5"], "does not match"),
    (["critical", "--spectrum", "3,1", "--model", "conditional"], "--x-dim"),
    (["critical", "--spectrum", "3,1", "--prior-variance", "0"], "prior_variance must be > 0"),
    (["derive", "--model", "hierarchical", "--latent-dim", "1,2,3"], "two values"),
    (["derive", "--solve-for", "tau2"], "not a hyper-parameter"),
    (["derive", "--parameter", "tau2"], "not a hyper-parameter"),
]


@pytest.mark.parametrize("args,needle", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_one_line_exit_2(args, needle, capsys):
    with pytest.raises(SystemExit) as e:
        sys.exit(main(args))
    assert e.value.code == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("statvae"), err
    assert needle.lower() in err.lower(), err
    assert "Traceback" not in err


def test_bad_covariance_files(tmp_path, capsys):
    np.save(tmp_path / "ns.npy", np.array([[1.0, 2.0], [0.0, 1.0]]))
    np.save(tmp_path / "ind.npy", np.array([[1.0, 2.0], [2.0, 1.0]]))
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan], [np.nan, 1.0]]))
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "x.bin").write_bytes(b"\x00\x01")
    for f, needle in [("ns.npy", "not symmetric"), ("ind.npy", "not positive semi-definite"),
                      ("nan.npy", "NaN"), ("empty.csv", "empty"), ("x.bin", "unsupported")]:
        code, out, err = run(["critical", "--covariance", str(tmp_path / f)], capsys)
        assert code == 2 and needle in err and err.count("\n") == 1, (f, err)
    x = np.ones((10, 3))
    x[4, 1] = np.nan
    np.save(tmp_path / "xnan.npy", x)
    code, out, err = run(["critical", "--samples", str(tmp_path / "xnan.npy")], capsys)
    assert code == 2 and "NaN" in err


HELP_ARGS = (["--help"], ["derive", "--help"], ["critical", "--help"], ["threshold", "--help"],
             ["track", "--help"], ["phase-diagram", "--help"], ["plot", "--help"], ["cache", "--help"])


def test_help_for_every_command(capsys):
    """Every command's --help in process, the top level's in a real process too (every one: -m slow)."""
    for args in HELP_ARGS:
        try:
            code = main(args)
        except SystemExit as exc:
            code = exc.code
        out = capsys.readouterr().out
        assert code in (0, None) and "usage" in out.lower(), (args, code)
    r = subprocess.run([sys.executable, "-m", "statvae", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "usage" in r.stdout.lower()


@pytest.mark.slow
def test_help_for_every_command_in_a_real_process():
    for args in HELP_ARGS:
        r = subprocess.run([sys.executable, "-m", "statvae", *args], capture_output=True, text=True)
        assert r.returncode == 0 and "usage" in r.stdout.lower()


def test_digits_without_scikit_learn_says_how_to_install(monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("sklearn"):
            raise ImportError("no sklearn")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    code, out, err = run(["critical", "--dataset", "digits"], capsys)
    assert code == 2 and "pip install 'statvae[data]'" in err and err.count("\n") == 1


def test_cache_command(tmp_path, monkeypatch, capsys):
    import statvae

    monkeypatch.setenv("STATVAE_CACHE_DIR", str(tmp_path))
    statvae.LinearVAE(2, 1).compile()
    code, out, _ = run(["cache"], capsys)
    assert code == 0 and str(tmp_path) in out and "0 entries" not in out
    code, out, _ = run(["cache", "--clear"], capsys)
    assert code == 0 and "removed" in out
    code, out, _ = run(["cache"], capsys)
    assert "0 entries" in out


# -- the warm path of `statvae critical` (collapse plans): the same output as the full path ------------------------------
import contextlib  # noqa: E402
import io  # noqa: E402
import os  # noqa: E402

from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from statvae.cli import fastpath  # noqa: E402
from strength import full_strength  # noqa: E402


def run_path(argv, plans):
    """``(exit status, stdout, stderr, answered by a plan)`` of one in-process run, plans allowed or not."""
    old = os.environ.pop("STATVAE_NO_PLAN", None)
    if not plans:
        os.environ["STATVAE_NO_PLAN"] = "1"
    out, err = io.StringIO(), io.StringIO()
    before = fastpath.ANSWERED[0]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as e:  # argparse errors
                code = e.code
    finally:
        os.environ.pop("STATVAE_NO_PLAN", None)
        if old is not None:
            os.environ["STATVAE_NO_PLAN"] = old
    return code, out.getvalue(), err.getvalue(), fastpath.ANSWERED[0] > before


def _numbers(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False).map(lambda v: f"{v:.6g}")


@st.composite
def critical_options(draw):
    """Model options the plans cover, with drawn hyper-parameter values (the parameter left free)."""
    n = draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["plain", "beta", "encoder", "learned", "learned isotropic", "solve beta",
                                 "solve decay", "decays", "set", "conditional", "hierarchical"]))
    opts = ["--latent-dim", str(n)]
    if kind == "beta":
        opts += ["--beta", draw(_numbers(0.2, 5))]
    elif kind == "encoder":
        opts += ["--encoder", draw(st.sampled_from(["full", "isotropic", "fixed:0.5", "fixed:2"]))]
    elif kind == "learned":
        opts += ["--decoder-variance", "learned"]
    elif kind == "learned isotropic":
        opts += ["--decoder-variance", "learned", "--encoder", "isotropic"]
    elif kind == "solve beta":
        opts += ["--parameter", "beta", "--sigma2", draw(_numbers(0.05, 3))]
    elif kind == "solve decay":
        opts += ["--parameter", draw(st.sampled_from(["weight_decay_enc", "weight_decay_dec"])),
                 "--sigma2", draw(_numbers(0.05, 3))]
    elif kind == "decays":
        opts += ["--weight-decay-enc", draw(_numbers(0, 1)), "--weight-decay-dec", draw(_numbers(0, 1)),
                 "--prior-variance", draw(_numbers(0.2, 4))]
    elif kind == "set":
        opts += ["--set", f"beta={draw(_numbers(0.2, 5))}"]
    elif kind == "conditional":
        opts = ["--model", "conditional", "--x-dim", "1", "--latent-dim", str(n)]
    elif kind == "hierarchical":
        opts = ["--model", "hierarchical", "--latent-dim", f"{n},{draw(st.integers(1, 2))}"]
    if draw(st.booleans()):
        opts.append("--json")
    return kind, opts


def _spectrum(size):
    return st.lists(st.sampled_from([0.1, 0.5, 1.0, 2.0, 3.0]) | st.floats(0.01, 50.0), min_size=size,
                    max_size=size).map(lambda xs: ",".join(repr(float(x)) for x in xs))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(critical_options(), st.data())
def test_warm_critical_prints_what_the_full_path_prints(case, data):
    """A plan written on one spectrum answers another exactly as the full analysis does (text, JSON, errors)."""
    kind, opts = case
    size = data.draw(st.integers(2 if kind == "conditional" else 1, 5), label="data dimension")
    first = run_path(["critical", "--spectrum", data.draw(_spectrum(size), label="first"), *opts], plans=True)
    argv = ["critical", "--spectrum", data.draw(_spectrum(size), label="second"), *opts]
    warm = run_path(argv, plans=True)
    full = run_path(argv, plans=False)
    assert warm[:3] == full[:3]
    assert not full[3]
    if first[0] == 0 and full[0] == 0:  # the plan was written by the first run, and it answered the second
        assert warm[3], f"the plan did not answer: {' '.join(argv)}"
    assume(warm[3])


test_warm_critical_prints_what_the_full_path_prints_full = full_strength(
    test_warm_critical_prints_what_the_full_path_prints, critical_options(), st.data(), max_examples=150,
    deadline=None, suppress_health_check=[HealthCheck.too_slow])


#: Bad input for `statvae critical`, each with a valid spectrum of the same length: a plan for the same options
#: (when they are valid) is written first, so that the warm path has its chance on every case.
CRITICAL_ERRORS = [(args, good) for args, _ in BAD if args[0] == "critical" for good in ["3,1"]] + [
    (["critical", "--spectrum", "3,inf"], "3,1"),
    (["critical", "--spectrum", "3,-1", "--latent-dim", "2", "--json"], "3,1"),
    (["critical", "--spectrum", "0,0"], "3,1"),
    (["critical", "--spectrum", "3,,1"], "3,2,1"),
    (["critical", "--spectrum", "3,1", "--parameter", "weight_decay_enc", "--sigma2", "5"], "0.5,0.2"),
    (["critical", "--spectrum", "3,1", "--seed", "-1"], "3,1"),
    (["critical", "--spectrum", "3,1", "--synthetic-samples", "1"], "3,1"),
    (["critical", "--spectrum", "3,1", "--synthetic-spectrum", "1,-2"], "3,1"),
    (["critical", "--spectrum", "3,1", "--model", "hierarchical", "--latent-dim", "1,1", "--beta", "1,nan"], "3,1"),
    (["critical", "--spectrum", "3,1", "--tau2", "2"], "3,1"),
    (["threshold", "--spectrum", "3,-1"], "3,1"),
    (["critical", "--spectrum", "3,1", "--bootstrap", "5"], "3,1"),
    (["critical", "--spectrum", "3,1", "--bootstrap", "1"], "3,1"),
    (["critical", "--spectrum", "3,1", "--standardize"], "3,1"),
    (["critical", "--spectrum", "3,1", "--no-center"], "3,1"),
]


@pytest.mark.parametrize("args,good", CRITICAL_ERRORS, ids=[" ".join(a) for a, _ in CRITICAL_ERRORS])
def test_critical_errors_are_the_same_on_both_paths(args, good):
    """Every bad input gives the full path's one line and exit status 2, whether a plan exists or not."""
    spectrum_at = args.index("--spectrum") + 1 if "--spectrum" in args else None
    if spectrum_at is not None:  # a plan for these options (if they are valid) on good data of the same length
        ok = run_path([*args[:spectrum_at], good, *args[spectrum_at + 1:]], plans=True)[0] == 0
        if ok and args[spectrum_at] in ("3,-1", "3,nan", "3,inf", "0,0", "3,1") and len(good.split(",")) == 2:
            from statvae.cli.main import build_parser
            from statvae.collapse_plan import load_plan, plan_key

            ns = build_parser().parse_args(args)
            spec = fastpath.plan_spec(ns, 2)
            assert spec is None or load_plan(plan_key(spec)) is not None  # the warm path had its chance
    warm = run_path(args, plans=True)
    full = run_path(args, plans=False)
    assert warm[:3] == full[:3]
    assert not warm[3] and full[0] == 2 and full[1] == ""
    assert full[2].count("\n") == 1 and full[2].startswith("statvae") and "Traceback" not in full[2]


def test_a_plan_answers_after_one_full_run(tmp_path, monkeypatch):
    """The first run writes the plan, the second answers from it: same output, no model built."""
    monkeypatch.setenv("STATVAE_CACHE_DIR", str(tmp_path))
    argv = ["critical", "--spectrum", "3,1.7,0.9", "--latent-dim", "2", "--json"]
    first = run_path(argv, plans=True)
    assert first[0] == 0 and not first[3]
    import statvae.cli.main as M

    monkeypatch.setattr(M, "build_model", lambda *a, **k: (_ for _ in ()).throw(AssertionError("model built")))
    second = run_path(argv, plans=True)
    assert second[3] and second[:3] == first[:3]
    assert json.loads(second[1])["critical"] == 3.0


def test_a_model_file_plan_follows_the_file(tmp_path):
    """A plan of a --model-file is keyed by the file's bytes: an edited file is another specification."""
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "docs" / "examples" / "twoview.toml"
    f = tmp_path / "twoview.toml"
    f.write_text(src.read_text())
    opts = ["--model-file", str(f), "--json"]
    assert run_path(["critical", "--spectrum", "3,2,1,0.5,0.2", *opts], plans=True)[0] == 0
    argv = ["critical", "--spectrum", "1,5,2,0.3,0.25", *opts]
    warm, full = run_path(argv, plans=True), run_path(argv, plans=False)
    assert warm[3] and warm[:3] == full[:3] and json.loads(warm[1])["critical"] == 5.0
    text = f.read_text()
    assert "sigma2_y = 2.0" in text
    f.write_text(text.replace("sigma2_y = 2.0", "sigma2_y = 1.5"))
    edited, edited_full = run_path(argv, plans=True), run_path(argv, plans=False)
    assert not edited[3] and edited[:3] == edited_full[:3] and edited[1] != warm[1]
