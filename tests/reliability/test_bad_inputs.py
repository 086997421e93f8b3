"""The bad-input catalogue (issue 8): every bad input is one line and a statvae error, never a traceback.

* CLI cases run in-process through :func:`statvae.cli.main.main` (exit status 2, exactly one non-empty
  line on stderr, starting ``statvae``, naming what is wrong, no ``Traceback`` anywhere); a representative
  set also runs in real subprocesses (``python -m statvae``, concurrently, with a timeout: nothing hangs).
* API cases raise :class:`statvae.errors.StatvaeError` with a one-line message.
* The last-resort handler of ``main()``: an unexpected exception is exit status 3 and one line
  (``--debug`` shows the traceback), Ctrl-C is 130; a full disk on ``--out``/``--plot`` is one line.
* Output paths and every option are checked before any computation.

Cases marked ``xfail(strict=True)`` are real bugs outside the command line and the argument checks
(their reasons say where); they turn into failures the day they are fixed, so the mark gets removed.
"""

from __future__ import annotations

import errno
import importlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import statvae
from statvae.cli.main import main
from statvae.errors import StatvaeError

TIMEOUT = 120  # seconds per subprocess; a hang fails the case instead of the suite


# -- files the cases point at -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A directory of good and bad inputs; cases name them as ``{d}/NAME``."""
    d = tmp_path_factory.mktemp("bad-inputs")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 3)) @ np.diag([2.0, 1.0, 0.5])
    np.save(d / "cov.npy", np.cov(x, rowvar=False))
    np.save(d / "x.npy", x)
    # bad covariances
    np.save(d / "nonsym.npy", np.array([[1.0, 2.0], [0.0, 1.0]]))
    np.save(d / "indefinite.npy", np.array([[1.0, 2.0], [2.0, 1.0]]))
    np.save(d / "nan.npy", np.array([[1.0, np.nan], [np.nan, 1.0]]))
    np.save(d / "inf.npy", np.array([[np.inf, 0.0], [0.0, 1.0]]))
    np.save(d / "complex.npy", np.eye(3) * (1 + 1j))
    np.save(d / "cube.npy", np.ones((3, 3, 3)))
    np.save(d / "strings.npy", np.array([["a", "b"], ["c", "d"]]))
    np.save(d / "rect.npy", np.ones((2, 3)))
    np.save(d / "scalar.npy", np.array(3.0))
    (d / "empty.csv").write_text("")
    (d / "header.csv").write_text("a,b,c\n")
    (d / "words.csv").write_text("a,b\nc,d\n")
    (d / "ragged.csv").write_text("1,2,3\n4,5\n")
    (d / "binary.csv").write_bytes(b"\x00\xff\xfe\x01" * 10)
    (d / "data.bin").write_bytes(b"\x00\x01")
    (d / "noext").write_text("1,0\n0,1\n")
    (d / "fake.npy").write_text("not an npy file")
    # bad samples
    np.save(d / "one_row.npy", np.ones((1, 3)))
    np.save(d / "complex_x.npy", rng.standard_normal((20, 3)) * 1j)
    (d / "nan_rows.csv").write_text("1,2,3\nnan,1,2\n3,4,5\n")
    # model files
    good = {"variables": {"x": {"dim": 3, "observed": True, "variance": "sigma2"}, "z": {"dim": 1}},
            "maps": [{"name": "W", "source": "z", "target": "x", "role": "generative"},
                     {"name": "V", "source": "x", "target": "z", "role": "inference"}]}
    (d / "model.json").write_text(json.dumps(good))

    def var(field, value, name="x"):
        m = json.loads(json.dumps(good))
        m["variables"][name][field] = value
        return m

    models = {
        "m_list": [1, 2], "m_null": None, "m_novars": {"maps": []},
        "m_vars_str": dict(good, variables="x"), "m_vars_noname": dict(good, variables=[{"dim": 3}]),
        "m_dim_str": var("dim", "abc"), "m_dim_bool": var("dim", True), "m_dim_float": var("dim", 1.5),
        "m_dim_neg": var("dim", -1), "m_dim_list": var("dim", [1]), "m_dim_null": var("dim", None),
        "m_observed_str": var("observed", "yes"), "m_encoder": var("encoder", "banana", "z"),
        "m_unknown_field": var("colour", "red"), "m_maps_dict": dict(good, maps={"W": 1}),
        "m_map_unknown_var": dict(good, maps=[dict(good["maps"][0], source="q"), good["maps"][1]]),
        "m_map_role": dict(good, maps=[dict(good["maps"][0], role="both"), good["maps"][1]]),
        "m_map_missing": dict(good, maps=[{"name": "W"}, good["maps"][1]]),
        "m_no_maps": dict(good, maps=[]), "m_hyper_list": dict(good, hyper=[1]),
        "m_hyper_str": dict(good, hyper={"sigma2": "abc"}), "m_hyper_neg": dict(good, hyper={"sigma2": -1}),
        "m_hyper_nan": dict(good, hyper={"sigma2": float("nan")}), "m_hyper_unused": dict(good, hyper={"gamma": 1}),
        "m_hyper_domain": dict(good, hyper={"sigma2": {"domain": "complex"}}),
        "m_section": dict(good, extra=1),
        "m_cycle": dict(good, maps=good["maps"] + [{"name": "U", "source": "x", "target": "x",
                                                     "role": "generative"}]),
    }
    for name, m in models.items():
        (d / f"{name}.json").write_text(json.dumps(m))
    (d / "m_empty.json").write_text("")
    (d / "m_garbage.json").write_bytes(b"\xff\xfe\x00garbage")
    (d / "m_deep.json").write_text("[" * 100000 + "]" * 100000)
    (d / "m_bad.toml").write_text("[variables\nx = ")
    (d / "m.yaml").write_text("a: 1")
    # saved results
    diagram = statvae.track(statvae.LinearVAE(3, 2), spectrum=[3, 2, 1], start=4, stop=0.5)
    diagram.save(d / "diagram.json")
    phase = statvae.branch_point_loci(statvae.LinearVAE(3, 2), spectrum=[3, 2, 1], start=4, stop=0.5,
                                      along_start=1, along_stop=2, steps=5)
    phase.save(d / "phase.json")
    text = (d / "diagram.json").read_text()
    (d / "truncated.json").write_text(text[: len(text) // 2])
    (d / "r_list.json").write_text("[1, 2]")
    (d / "r_nokeys.json").write_text('{"format": "statvae-diagram-1"}')
    (d / "r_phase_nokeys.json").write_text('{"format": "statvae-phase-1"}')
    (d / "r_other.json").write_text('{"format": "something-else", "x": 1}')
    (d / "r_garbage.npz").write_bytes(b"garbage")
    (d / "r_notjson.json").write_text("not json")
    (d / "r_empty.json").write_text("")
    (d / "r.txt").write_text("hello")
    (d / "adir.json").mkdir()
    (d / "adir.png").mkdir()
    return d


def _argv(args, d) -> list[str]:
    return [a.replace("{d}", str(d)) for a in args]


SPEC = ["--spectrum", "3,2,1"]
TRACK = ["track", *SPEC, "--range", "4:0.5"]
PHASE = ["phase-diagram", *SPEC, "--range", "4:0.5", "--along", "beta", "--along-range", "1:2"]

# (argv, text the one line must contain (case-insensitive))
CLI_CASES = [
    # -- model options, any command ------------------------------------------------------------------------
    (["critical", *SPEC, "--latent-dim", "1,2"], "--latent-dim takes one"),
    (["critical", *SPEC, "--latent-dim", "[1]"], "--latent-dim"),
    (["critical", *SPEC, "--latent-dim", "0"], "positive integer"),
    (["critical", *SPEC, "--latent-dim", "-1"], "positive integer"),
    (["critical", *SPEC, "--latent-dim", "1.5"], "integers"),
    (["critical", *SPEC, "--latent-dim", "nan"], "integers"),
    (["critical", *SPEC, "--latent-dim", "inf"], "integers"),
    (["critical", *SPEC, "--latent-dim", ""], "--latent-dim"),
    (["critical", *SPEC, "--latent-dim", "two"], "--latent-dim"),
    (["critical", *SPEC, "--data-dim", "2,3"], "--data-dim takes one"),
    (["critical", *SPEC, "--data-dim", "0"], "--data-dim"),
    (["critical", *SPEC, "--data-dim", "-3"], "--data-dim"),
    (["critical", *SPEC, "--data-dim", "5"], "does not match"),
    (["derive", "--data-dim", "nan"], "--data-dim"),
    (["critical", *SPEC, "--model", "conditional", "--x-dim", "1,2"], "--x-dim takes one"),
    (["critical", *SPEC, "--model", "conditional", "--x-dim", "[1]"], "--x-dim"),
    (["critical", *SPEC, "--model", "conditional", "--x-dim", "0"], "--x-dim"),
    (["critical", *SPEC, "--model", "conditional", "--x-dim", "3"], "--x-dim must be between"),
    (["critical", *SPEC, "--model", "conditional", "--x-dim", "nan"], "--x-dim"),
    (["critical", *SPEC, "--model", "conditional"], "--x-dim"),
    (["critical", *SPEC, "--x-dim", "1"], "--x-dim applies"),
    (["critical", *SPEC, "--model", "banana"], "invalid choice"),
    (["critical", *SPEC, "--sigma2", "nan", "--parameter", "beta"], "--sigma2 must be a finite"),
    (["critical", *SPEC, "--sigma2", "inf", "--parameter", "beta"], "--sigma2 must be a finite"),
    (["critical", *SPEC, "--sigma2", "-1", "--parameter", "beta"], "sigma2 must be > 0"),
    (["critical", *SPEC, "--sigma2", "0", "--parameter", "beta"], "sigma2 must be > 0"),
    (["critical", *SPEC, "--sigma2", "abc", "--parameter", "beta"], "--sigma2"),
    (["critical", *SPEC, "--sigma2", "1,2", "--parameter", "beta"], "takes one number"),
    (["critical", *SPEC, "--sigma2", "1+2j", "--parameter", "beta"], "--sigma2"),
    (["critical", *SPEC, "--beta", "0"], "beta must be > 0"),
    (["critical", *SPEC, "--beta", "-2"], "beta must be > 0"),
    (["critical", *SPEC, "--beta", "1,2"], "takes one number"),
    (["critical", *SPEC, "--beta", "nan"], "--beta"),
    (["critical", *SPEC, "--weight-decay-enc", "-0.1"], "weight_decay_enc must be >= 0"),
    (["critical", *SPEC, "--weight-decay-dec", "inf"], "--weight-decay-dec"),
    (["critical", *SPEC, "--prior-variance", "0"], "prior_variance must be > 0"),
    (["critical", *SPEC, "--tau2", "1"], "--tau2 applies"),
    (["critical", *SPEC, "--model", "hierarchical", "--tau2", "0"], "tau2 must be > 0"),
    (["critical", *SPEC, "--model", "hierarchical", "--latent-dim", "1"], "two values"),
    (["critical", *SPEC, "--model", "hierarchical", "--latent-dim", "1,2,3"], "two values"),
    (["critical", *SPEC, "--model", "hierarchical", "--beta", "1"], "two values"),
    (["critical", *SPEC, "--model", "hierarchical", "--beta", "1,nan"], "--beta"),
    (["critical", *SPEC, "--encoder", "banana"], "encoder"),
    (["critical", *SPEC, "--encoder", "fixed:-1"], "fixed encoder variance"),
    (["critical", *SPEC, "--encoder", "fixed:nan"], "fixed encoder variance"),
    (["critical", *SPEC, "--encoder", "fixed:inf"], "fixed encoder variance"),
    (["critical", *SPEC, "--encoder", "fixed:"], "fixed encoder variance"),
    (["critical", *SPEC, "--encoder", "full,full"], "--encoder takes one"),
    (["critical", *SPEC, "--decoder-variance", "learned", "--sigma2", "1"], "--sigma2 cannot"),
    (["critical", *SPEC, "--decoder-variance", "maybe"], "invalid choice"),
    (["critical", *SPEC, "--set", "sigma2"], "NAME=VALUE"),
    (["critical", *SPEC, "--set", "=3"], "NAME=VALUE"),
    (["critical", *SPEC, "--set", "foo=3"], "not a hyper-parameter"),
    (["critical", *SPEC, "--set", "beta=nan"], "--set beta"),
    (["critical", *SPEC, "--set", "beta="], "--set beta"),
    (["critical", *SPEC, "--set", "beta=-1"], "beta must be > 0"),
    # -- data options ------------------------------------------------------------------------------------
    (["critical", "--spectrum", "3,nan,1"], "NaN"),
    (["critical", "--spectrum", "3,inf,1"], "infinite"),
    (["critical", "--spectrum", "3,-1,1"], "negative"),
    (["critical", "--spectrum", ""], "list of numbers"),
    (["critical", "--spectrum", ","], "list of numbers"),
    (["critical", "--spectrum", "3,,1"], "list of numbers"),
    (["critical", "--spectrum", "3+1j,1"], "list of numbers"),
    (["critical", "--spectrum", "abc"], "list of numbers"),
    (["critical", "--spectrum", "3,2,1", "--covariance", "{d}/cov.npy"], "not allowed with"),
    (["critical"], "required"),
    (["critical", "--covariance", "{d}/missing.npy"], "not found"),
    (["critical", "--covariance", "{d}"], "directory"),
    (["critical", "--covariance", "{d}/nonsym.npy"], "not symmetric"),
    (["critical", "--covariance", "{d}/indefinite.npy"], "positive semi-definite"),
    (["critical", "--covariance", "{d}/nan.npy"], "NaN"),
    (["critical", "--covariance", "{d}/inf.npy"], "infinite"),
    (["critical", "--covariance", "{d}/complex.npy"], "complex"),
    (["critical", "--covariance", "{d}/cube.npy"], "square"),
    (["critical", "--covariance", "{d}/rect.npy"], "square"),
    (["critical", "--covariance", "{d}/scalar.npy"], "square"),
    (["critical", "--covariance", "{d}/strings.npy"], "numbers"),
    (["critical", "--covariance", "{d}/empty.csv"], "empty"),
    (["critical", "--covariance", "{d}/header.csv"], "header line and no numbers"),
    (["critical", "--covariance", "{d}/words.csv"], "not a table of numbers"),
    (["critical", "--covariance", "{d}/ragged.csv"], "not a table of numbers"),
    (["critical", "--covariance", "{d}/binary.csv"], "binary.csv"),
    (["critical", "--covariance", "{d}/data.bin"], "unsupported"),
    (["critical", "--covariance", "{d}/noext"], "unsupported"),
    (["critical", "--covariance", "{d}/fake.npy"], "could not read"),
    (["critical", "--covariance", "{d}/cov.npy", "--latent-dim", "1", "--data-dim", "4"], "does not match"),
    (["critical", "--data", "{d}/missing.csv"], "not found"),
    (["critical", "--data", "{d}"], "directory"),
    (["critical", "--data", "{d}/one_row.npy"], "at least 2 samples"),
    (["critical", "--data", "{d}/complex_x.npy"], "complex"),
    (["critical", "--data", "{d}/nan_rows.csv"], "NaN"),
    (["critical", "--data", "{d}/cube.npy"], "2-D"),
    (["critical", "--data", "{d}/x.npy", "--ddof", "2"], "invalid choice"),
    (["critical", "--samples", "{d}/missing.csv"], "not found"),
    (["critical", "--samples", "{d}/one_row.npy"], "at least 2 samples"),
    (["critical", "--samples", "{d}/cube.npy"], "2-D"),
    (["critical", "--samples", "{d}/nan_rows.csv"], "NaN"),
    (["critical", "--data", "{d}/scalar.npy"], "2-D"),
    (["critical", "--data", "{d}/inf.npy"], "infinite"),
    (["critical", "--data", "{d}/empty.csv"], "empty"),
    # the old count (--samples 2000) names the new option
    (["critical", "--dataset", "synthetic", "--samples", "2000"], "--synthetic-samples 2000"),
    (["critical", "--samples", "2000", "--dataset", "synthetic"], "--synthetic-samples 2000"),
    (["critical", "--samples", "-5"], "--synthetic-samples"),
    (["critical", "--dataset", "synthetic", "--synthetic-samples", "-5"], "--synthetic-samples must be an integer >= 2"),
    (["critical", "--dataset", "synthetic", "--synthetic-samples", "0"], "--synthetic-samples"),
    (["critical", "--dataset", "synthetic", "--synthetic-samples", "1"], "--synthetic-samples"),
    (["critical", "--dataset", "synthetic", "--synthetic-samples", "abc"], "invalid int"),
    (["critical", "--dataset", "synthetic", "--synthetic-samples", "1e3"], "invalid int"),
    (["critical", "--dataset", "synthetic", "--synthetic-samples", "100000000000"], "memory"),
    (["critical", "--dataset", "synthetic", "--synthetic-samples", "2000000000000000000"], "memory"),
    (["critical", "--dataset", "synthetic", "--seed", "-1"], "--seed must be an integer >= 0"),
    (["critical", "--dataset", "synthetic", "--seed", "x"], "invalid int"),
    (["critical", "--dataset", "synthetic", "--synthetic-spectrum", "1,nan"], "NaN"),
    (["critical", "--dataset", "synthetic", "--synthetic-spectrum", "1,-2"], "negative"),
    (["critical", "--dataset", "synthetic", "--synthetic-spectrum", ""], "list of numbers"),
    (["critical", "--dataset", "mnist"], "invalid choice"),
    (["critical", *SPEC, "--seed", "-3"], "--seed"),
    (["critical", *SPEC, "--synthetic-samples", "0"], "--synthetic-samples"),
    (["critical", *SPEC, "--samples", "{d}/x.npy"], "not allowed with"),
    (["critical", "--data", "{d}/x.npy", "--samples", "{d}/x.npy"], "not allowed with"),
    # -- critical (alias threshold) -----------------------------------------------------------------------
    (["threshold", *SPEC, "--solve-for"], "expected one argument"),
    (["threshold", *SPEC, "--solve-for", ""], "--solve-for needs"),
    (["threshold", *SPEC, "--solve-for", "gamma"], "not a hyper-parameter"),
    (["threshold", "--spectrum", "3,-1,1"], "negative"),
    (["threshold", "--dataset", "synthetic", "--samples", "2000"], "--synthetic-samples"),
    (["critical", *SPEC, "--parameter"], "expected one argument"),
    (["critical", *SPEC, "--parameter", ""], "--parameter needs"),
    (["critical", *SPEC, "--parameter", "  "], "--parameter needs"),
    (["critical", *SPEC, "--parameter", "gamma"], "not a hyper-parameter"),
    (["critical", *SPEC, "--parameter", "beta"], "sigma2 has no value"),
    (["critical", *SPEC, "--bogus"], "unrecognized"),
    (["critical", "--spectrum", "0,0,0"], "no critical value"),
    # -- model files -------------------------------------------------------------------------------------
    (["critical", *SPEC, "--model-file", "{d}/missing.json"], "not found"),
    (["critical", *SPEC, "--model-file", "{d}"], "directory"),
    (["critical", *SPEC, "--model-file", "{d}/m.yaml"], ".toml or .json"),
    (["critical", *SPEC, "--model-file", "{d}/cov.npy"], ".toml or .json"),
    (["critical", *SPEC, "--model-file", "{d}/m_empty.json"], "empty"),
    (["critical", *SPEC, "--model-file", "{d}/m_garbage.json"], "not a text file"),
    (["critical", *SPEC, "--model-file", "{d}/m_deep.json"], "not valid JSON"),
    (["critical", *SPEC, "--model-file", "{d}/m_bad.toml"], "not valid TOML"),
    (["critical", *SPEC, "--model-file", "{d}/m_list.json"], "expected a table"),
    (["critical", *SPEC, "--model-file", "{d}/m_null.json"], "expected a table"),
    (["critical", *SPEC, "--model-file", "{d}/m_novars.json"], "needs 'variables'"),
    (["critical", *SPEC, "--model-file", "{d}/m_vars_str.json"], "'variables' must be"),
    (["critical", *SPEC, "--model-file", "{d}/m_vars_noname.json"], "no name"),
    (["critical", *SPEC, "--model-file", "{d}/m_dim_str.json"], "positive integer"),
    (["critical", *SPEC, "--model-file", "{d}/m_dim_bool.json"], "positive integer"),
    (["critical", *SPEC, "--model-file", "{d}/m_dim_float.json"], "positive integer"),
    (["critical", *SPEC, "--model-file", "{d}/m_dim_neg.json"], "positive integer"),
    (["critical", *SPEC, "--model-file", "{d}/m_dim_list.json"], "positive integer"),
    (["critical", *SPEC, "--model-file", "{d}/m_dim_null.json"], "positive integer"),
    (["critical", *SPEC, "--model-file", "{d}/m_observed_str.json"], "observed must be"),
    (["critical", *SPEC, "--model-file", "{d}/m_encoder.json"], "encoder"),
    (["critical", *SPEC, "--model-file", "{d}/m_unknown_field.json"], "unknown field"),
    (["critical", *SPEC, "--model-file", "{d}/m_maps_dict.json"], "'maps' must be"),
    (["critical", *SPEC, "--model-file", "{d}/m_map_unknown_var.json"], "unknown variable"),
    (["critical", *SPEC, "--model-file", "{d}/m_map_role.json"], "role must be"),
    (["critical", *SPEC, "--model-file", "{d}/m_map_missing.json"], "needs source"),
    (["critical", *SPEC, "--model-file", "{d}/m_no_maps.json"], "no generative parents"),
    (["critical", *SPEC, "--model-file", "{d}/m_hyper_list.json"], "'hyper' must be"),
    (["critical", *SPEC, "--model-file", "{d}/m_hyper_str.json"], "sigma2 must be a number"),
    (["critical", *SPEC, "--model-file", "{d}/m_hyper_neg.json"], "sigma2 must be > 0"),
    (["critical", *SPEC, "--model-file", "{d}/m_hyper_nan.json"], "sigma2 must be finite"),
    (["critical", *SPEC, "--model-file", "{d}/m_hyper_unused.json"], "not used by the graph"),
    (["critical", *SPEC, "--model-file", "{d}/m_hyper_domain.json"], "domain"),
    (["critical", *SPEC, "--model-file", "{d}/m_section.json"], "unknown section"),
    (["critical", *SPEC, "--model-file", "{d}/m_cycle.json"], "cycle"),
    (["critical", *SPEC, "--model-file", "{d}/model.json", "--latent-dim", "2"], "--latent-dim describes a preset"),
    (["critical", *SPEC, "--model-file", "{d}/model.json", "--tau2", "1"], "does not use"),
    (["critical", "--spectrum", "3,2", "--model-file", "{d}/model.json"], "observes 3"),
    # -- derive ------------------------------------------------------------------------------------------
    (["derive", "--parameter", ""], "--parameter needs"),
    (["derive", "--parameter", "tau2"], "not a hyper-parameter"),
    (["derive", "--format", "yaml"], "invalid choice"),
    (["derive", "--explicit", "--data-dim", "50", "--latent-dim", "40"], "limit of 262,144"),
    (["derive", "--explicit", "--data-dim", "1000000000", "--latent-dim", "1000000000"], "--explicit"),
    (["derive", "--explicit", "--model", "hierarchical", "--data-dim", "100", "--latent-dim", "20,10"], "--explicit"),
    (["derive", "--latent-dim", "1,2"], "--latent-dim takes one"),
    (["derive", "--model-file", "{d}/m_dim_neg.json"], "positive integer"),
    (["derive", "--spectrum", "3,2,1"], "unrecognized"),
    # -- track -------------------------------------------------------------------------------------------
    ([*TRACK, "--max-steps", "0"], "--max-steps must be an integer >= 1"),
    ([*TRACK, "--max-steps", "-3"], "--max-steps"),
    ([*TRACK, "--max-steps", "2.5"], "invalid int"),
    ([*TRACK, "--depth", "-1"], "--depth must be an integer >= 0"),
    ([*TRACK, "--depth", "x"], "invalid int"),
    (["track", *SPEC, "--range", "4:4"], "differ"),
    (["track", *SPEC, "--range", "4:-1"], "> 0"),
    (["track", *SPEC, "--range", "0:4"], "> 0"),
    (["track", *SPEC, "--range", "4"], "START:STOP"),
    (["track", *SPEC, "--range", "4:1:2"], "START:STOP"),
    (["track", *SPEC, "--range", "a:b"], "START:STOP"),
    (["track", *SPEC, "--range", ""], "START:STOP"),
    (["track", *SPEC, "--range", "4:nan"], "finite"),
    (["track", *SPEC, "--range", "inf:1"], "finite"),
    (["track", *SPEC], "required"),
    # -- ranges: --start/--stop (as the API) or the shorthand --range, exactly one form
    (["track", *SPEC, "--start", "4"], "--start needs --stop"),
    (["track", *SPEC, "--stop", "4"], "--stop needs --start"),
    (["track", *SPEC, "--start", "4", "--stop", "1", "--range", "4:1"], "give the range once"),
    (["track", *SPEC, "--start", "4", "--range", "4:1"], "give the range once"),
    (["track", *SPEC, "--start", "4", "--stop", "4"], "differ"),
    (["track", *SPEC, "--start", "4", "--stop", "nan"], "--stop must be a finite number"),
    (["track", *SPEC, "--start", "x", "--stop", "1"], "--start must be a number"),
    (["track", *SPEC, "--start", "-1", "--stop", "2"], "sigma2 must be > 0"),
    (["track", *SPEC, "--start", "-1e-3", "--stop", "2"], "sigma2 must be > 0"),
    (["track", *SPEC, "--start", "-inf", "--stop", "2"], "finite"),
    (["track", *SPEC, "--start", "4", "--stop", "0"], "> 0"),
    (["track", *SPEC, "--start", "-1", "--stop", "2", "--parameter", "weight_decay_dec", "--sigma2", "1"],
     "weight_decay_dec must be >= 0"),
    (["track", *SPEC, "--start"], "expected one argument"),
    (["track", *SPEC, "--range", "-1:2", "--parameter", "weight_decay_dec", "--sigma2", "1"], "--range '-1:2'"),
    (["track", *SPEC, "--range=-1:2", "--parameter", "weight_decay_dec", "--sigma2", "1"], ">= 0"),
    ([*TRACK, "--parameter", "gamma"], "not a hyper-parameter"),
    ([*TRACK, "--parameter", ""], "not a hyper-parameter"),
    ([*TRACK, "--parameter", "beta"], "sigma2 has no value"),
    ([*TRACK, "--out", "{d}/missing-dir/x.json"], "does not exist"),
    ([*TRACK, "--out", "{d}"], "directory"),
    ([*TRACK, "--out", "{d}/adir.json"], "directory"),
    ([*TRACK, "--out", "{d}/x.txt"], ".json or .npz"),
    ([*TRACK, "--out", "{d}/x.JSON"], ".json or .npz"),
    ([*TRACK, "--out", "{d}/x"], "no suffix"),
    ([*TRACK, "--out", ""], "file name"),
    ([*TRACK, "--out", "{d}/cov.npy/x.json"], "not a directory"),
    ([*TRACK, "--out", "/proc/statvae-test/x.json"], "does not exist"),
    ([*TRACK, "--plot", "{d}/x.txt"], ".png, .pdf or .svg"),
    ([*TRACK, "--plot", "{d}/missing-dir/x.png"], "does not exist"),
    ([*TRACK, "--plot", "{d}/adir.png"], "directory"),
    ([*TRACK, "--certify", "--latent-dim", "40", "--model", "linear"], "--certify"),
    (["track", "--spectrum", ",".join(["1"] * 3), "--latent-dim", "1000000000", "--range", "4:0.5"], "200,000"),
    (["track", "--spectrum", "3,2,1", "--range", "1e300:1e-300"], "floating-point range"),
    (["track", "--spectrum", "3,2,1", "--range", "1e-300:1e-299"], "floating-point range"),
    # -- phase-diagram -----------------------------------------------------------------------------------
    ([*PHASE, "--steps", "1"], "--steps must be an integer between 2"),
    ([*PHASE, "--steps", "0"], "--steps"),
    ([*PHASE, "--steps", "100000000"], "10,000"),
    ([*PHASE, "--loci", "0"], "--loci must be an integer >= 1"),
    ([*PHASE, "--loci", "-1"], "--loci"),
    (["phase-diagram", *SPEC, "--range", "4:0.5", "--along", "beta", "--along-range", "1:1"], "differ"),
    (["phase-diagram", *SPEC, "--range", "4:0.5", "--along", "beta", "--along-range", "1:-1"], "> 0"),
    (["phase-diagram", *SPEC, "--range", "4:0.5", "--along", "beta", "--along-range", "1:nan"], "finite"),
    (["phase-diagram", *SPEC, "--range", "4:0.5", "--along", "beta", "--along-range", "2"], "START:STOP"),
    (["phase-diagram", *SPEC, "--range", "4:4", "--along", "beta", "--along-range", "1:2"], "differ"),
    (["phase-diagram", *SPEC, "--range", "4:0.5", "--along", "sigma2", "--along-range", "1:2"], "must differ"),
    (["phase-diagram", *SPEC, "--range", "4:0.5", "--along", "gamma", "--along-range", "1:2"],
     "not a hyper-parameter"),
    (["phase-diagram", *SPEC, "--range", "4:0.5", "--along", "beta"], "required"),
    (["phase-diagram", *SPEC, "--along", "beta", "--along-range", "1:2"], "required"),
    (["phase-diagram", *SPEC, "--start", "4", "--stop", "0.5", "--along", "beta", "--along-start", "1"],
     "--along-start needs --along-stop"),
    (["phase-diagram", *SPEC, "--start", "4", "--stop", "0.5", "--along", "beta", "--along-range", "1:2",
      "--along-stop", "2"], "give the range once"),
    (["phase-diagram", *SPEC, "--start", "4", "--stop", "0.5", "--along", "beta", "--along-start", "1",
      "--along-stop", "-2"], "> 0"),
    (["phase-diagram", *SPEC, "--start", "4", "--stop", "0.5", "--range", "4:0.5", "--along", "beta",
      "--along-range", "1:2"], "give the range once"),
    (["phase-diagram", *SPEC, "--range", "0.1:0.2", "--along", "beta", "--along-range", "1:2"], "no branch point"),
    ([*PHASE, "--out", "{d}/x.npz"], ".json"),
    ([*PHASE, "--out", "{d}/missing-dir/x.json"], "does not exist"),
    ([*PHASE, "--plot", "{d}/x.gif"], ".png, .pdf or .svg"),
    # -- plot --------------------------------------------------------------------------------------------
    (["plot", "{d}/missing.json", "--out", "{d}/f.png"], "not found"),
    (["plot", "{d}", "--out", "{d}/f.png"], "directory"),
    (["plot", "{d}/r.txt", "--out", "{d}/f.png"], "not a saved statvae result"),
    (["plot", "{d}/r_list.json", "--out", "{d}/f.png"], "not a statvae result"),
    (["plot", "{d}/r_nokeys.json", "--out", "{d}/f.png"], "r_nokeys.json"),
    (["plot", "{d}/r_phase_nokeys.json", "--out", "{d}/f.png"], "r_phase_nokeys.json"),
    (["plot", "{d}/r_other.json", "--out", "{d}/f.png"], "r_other.json"),
    (["plot", "{d}/r_garbage.npz", "--out", "{d}/f.png"], "r_garbage.npz"),
    (["plot", "{d}/r_notjson.json", "--out", "{d}/f.png"], "r_notjson.json"),
    (["plot", "{d}/r_empty.json", "--out", "{d}/f.png"], "r_empty.json"),
    (["plot", "{d}/truncated.json", "--out", "{d}/f.png"], "truncated.json"),
    (["plot", "{d}/diagram.json", "--out", "{d}/f.txt"], ".png, .pdf or .svg"),
    (["plot", "{d}/diagram.json", "--out", "{d}/missing-dir/f.png"], "does not exist"),
    (["plot", "{d}/diagram.json", "--out", "{d}/adir.png"], "directory"),
    (["plot", "{d}/diagram.json", "--out", "{d}/f.png", "--observable", "banana"], "no observable"),
    (["plot", "{d}/diagram.json"], "required"),
    (["plot", "--out", "{d}/f.png"], "required"),
    # -- the command itself ------------------------------------------------------------------------------
    ([], "required"),
    (["banana"], "invalid choice"),
    (["cache", "--bogus"], "unrecognized"),
    (["--bogus", "derive"], "unrecognized"),
]


def _cases():
    for args, needle in CLI_CASES:
        yield pytest.param(args, needle, id=" ".join(args)[:90] or "(nothing)")


def run_inprocess(argv, capfd):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: usage errors and --help
        code = exc.code
    out, err = capfd.readouterr()
    return code, out, err


def assert_one_line_error(code, out, err, needle=None, d=None):
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and "Traceback" not in out, err
    assert code == 2, f"exit status {code}; stderr: {err!r}"
    assert len(lines) == 1, f"{len(lines)} lines on stderr: {err!r}"
    assert lines[0].startswith("statvae"), lines[0]
    if needle:
        needle = needle.replace("{d}", str(d)) if d is not None else needle
        assert needle.lower() in lines[0].lower(), f"{needle!r} not in {lines[0]!r}"


@pytest.mark.parametrize("args,needle", list(_cases()))
def test_cli_bad_input(args, needle, files, capfd):
    code, out, err = run_inprocess(_argv(args, files), capfd)
    assert_one_line_error(code, out, err, needle, files)


# -- the same kind of cases in real processes (a representative set, run concurrently) ------------------------
SUBPROCESS_CASES = [
    (["critical", "--spectrum", "3,nan,1"], "NaN"),
    (["critical", "--covariance", "{d}/complex.npy"], "complex"),
    (["critical", "--dataset", "synthetic", "--synthetic-samples", "100000000000"], "memory"),
    (["threshold", "--spectrum", "3,2,1", "--solve-for", "gamma"], "not a hyper-parameter"),
    (["derive", "--explicit", "--data-dim", "50", "--latent-dim", "40"], "limit"),
    (["track", "--spectrum", "3,2,1", "--range", "4:0.5", "--out", "{d}/missing-dir/x.json"], "does not exist"),
    (["track", "--spectrum", "1,1,1", "--latent-dim", "1000000000", "--range", "4:0.5"], "200,000"),
    (["phase-diagram", "--spectrum", "3,2,1", "--range", "4:0.5", "--along", "beta", "--along-range", "1:2",
      "--steps", "1"], "--steps"),
    (["plot", "{d}/truncated.json", "--out", "{d}/f.png"], "truncated.json"),
    (["banana"], "invalid choice"),
]
#: The other cases in real processes, for the slow profile (``pytest -m slow``); the default run has each
#: of them in process (``CLI_CASES``) and one or two per command here.
SUBPROCESS_CASES_MORE = [
    (["critical", "--spectrum", "3,2,1", "--latent-dim", "1,2"], "--latent-dim"),
    (["critical", "--spectrum", "3,2,1", "--model", "conditional", "--x-dim", "1,2"], "--x-dim"),
    (["critical", "--spectrum", "3,2,1", "--parameter", ""], "--parameter"),
    (["critical", "--covariance", "{d}"], "directory"),
    (["critical", "--data", "{d}/nan_rows.csv"], "NaN"),
    (["critical", "--dataset", "synthetic", "--samples", "2000"], "--synthetic-samples 2000"),
    (["track", "--spectrum", "3,2,1", "--start", "4"], "--start needs --stop"),
    (["critical", "--dataset", "synthetic", "--seed", "-1"], "--seed"),
    (["critical", "--spectrum", "3,2,1", "--model-file", "{d}/m_hyper_list.json"], "'hyper'"),
    (["critical", "--spectrum", "3,2,1", "--model-file", "{d}/m_garbage.json"], "not a text file"),
    (["track", "--spectrum", "3,2,1", "--range", "4:0.5", "--max-steps", "0"], "--max-steps"),
    (["track", "--spectrum", "3,2,1", "--range", "4:4"], "differ"),
    (["track", "--spectrum", "3,2,1", "--range", "4:0.5", "--plot", "{d}/x.txt"], ".png"),
    (["phase-diagram", "--spectrum", "3,2,1", "--range", "4:0.5", "--along", "beta", "--along-range", "1:1"],
     "differ"),
    (["plot", "{d}/r_nokeys.json", "--out", "{d}/f.png"], "r_nokeys.json"),
]


def _run_concurrently(cases, files):
    """Run the cases at once (each a fresh interpreter), with a timeout."""
    procs = [subprocess.Popen([sys.executable, "-m", "statvae", *_argv(args, files)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=os.environ.copy())
             for args, _ in cases]
    results = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=TIMEOUT)
            results.append((p.returncode, out, err))
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            results.append((f"timeout after {TIMEOUT} s", out, err))
    return results


@pytest.fixture(scope="module")
def subprocess_results(files):
    return _run_concurrently(SUBPROCESS_CASES, files)


@pytest.fixture(scope="module")
def subprocess_results_more(files):
    return _run_concurrently(SUBPROCESS_CASES_MORE, files)


@pytest.mark.parametrize("k", range(len(SUBPROCESS_CASES)),
                         ids=[" ".join(a)[:90] for a, _ in SUBPROCESS_CASES])
def test_cli_bad_input_subprocess(k, files, subprocess_results):
    code, out, err = subprocess_results[k]
    assert_one_line_error(code, out, err, SUBPROCESS_CASES[k][1], files)


@pytest.mark.slow
@pytest.mark.parametrize("k", range(len(SUBPROCESS_CASES_MORE)),
                         ids=[" ".join(a)[:90] for a, _ in SUBPROCESS_CASES_MORE])
def test_cli_bad_input_subprocess_more(k, files, subprocess_results_more):
    code, out, err = subprocess_results_more[k]
    assert_one_line_error(code, out, err, SUBPROCESS_CASES_MORE[k][1], files)


# -- the Python API -------------------------------------------------------------------------------------------
def _m():
    return statvae.LinearVAE(3, 2)


def _c():
    return statvae.ConditionalVAE(1, 2, 1)


def _track(model=None, **kw):
    args = dict(spectrum=[3, 2, 1], start=4, stop=0.5)
    args.update(kw)
    return statvae.track(_m() if model is None else model, **args)


def _loci(**kw):
    args = dict(spectrum=[3, 2, 1], start=4, stop=0.5, along_start=1, along_stop=2)
    args.update(kw)
    return statvae.branch_point_loci(_m(), **args)


def _crit(**kw):
    return _m().collapse().critical(**kw).value


SPEC3 = [3.0, 2.0, 1.0]

API_CASES = [
    # model constructors
    ("LinearVAE str dim", lambda: statvae.LinearVAE("3", 2)),
    ("LinearVAE list dim", lambda: statvae.LinearVAE([3], 2)),
    ("LinearVAE bool dim", lambda: statvae.LinearVAE(True, 2)),
    ("LinearVAE None dim", lambda: statvae.LinearVAE(None, 2)),
    ("LinearVAE float dim", lambda: statvae.LinearVAE(2.5, 2)),
    ("LinearVAE nan dim", lambda: statvae.LinearVAE(float("nan"), 2)),
    ("LinearVAE zero latent", lambda: statvae.LinearVAE(3, 0)),
    ("LinearVAE beta str", lambda: statvae.LinearVAE(3, 2, beta="2")),
    ("LinearVAE beta list", lambda: statvae.LinearVAE(3, 2, beta=[2])),
    ("LinearVAE beta complex", lambda: statvae.LinearVAE(3, 2, beta=1j)),
    ("LinearVAE beta nan", lambda: statvae.LinearVAE(3, 2, beta=float("nan"))),
    ("LinearVAE sigma2 negative", lambda: statvae.LinearVAE(3, 2, sigma2=-1)),
    ("LinearVAE decoder None", lambda: statvae.LinearVAE(3, 2, decoder_variance=None)),
    ("LinearVAE encoder None", lambda: statvae.LinearVAE(3, 2, encoder=None)),
    ("LinearVAE encoder list", lambda: statvae.LinearVAE(3, 2, encoder=["full"])),
    ("LinearVAE encoder inf", lambda: statvae.LinearVAE(3, 2, encoder=float("inf"))),
    ("HierarchicalVAE dims dict", lambda: statvae.HierarchicalVAE(3, {1: 1, 2: 2})),
    ("HierarchicalVAE dims str", lambda: statvae.HierarchicalVAE(3, "ab")),
    ("HierarchicalVAE dims None", lambda: statvae.HierarchicalVAE(3, None)),
    ("HierarchicalVAE dims set", lambda: statvae.HierarchicalVAE(3, {1, 2})),
    ("ConditionalVAE str dim", lambda: statvae.ConditionalVAE("1", 2, 1)),
    ("VAEModel None graph", lambda: statvae.VAEModel(None)),
    ("VAEModel str graph", lambda: statvae.VAEModel("graph")),
    ("VAEModel list values", lambda: statvae.VAEModel(_m().graph, [1, 2])),
    ("VAEModel int key", lambda: statvae.VAEModel(_m().graph, {1: 2})),
    ("VAEModel unknown value", lambda: statvae.VAEModel(_m().graph, {"gamma": 2})),
    ("with_values str", lambda: _m().with_values(beta="x")),
    ("with_values unknown", lambda: _m().with_values(gamma=1)),
    ("objective eigen huge", lambda: statvae.LinearVAE(10 ** 6, 10 ** 5).objective(form="eigen")),
    ("load_model None", lambda: statvae.load_model(None)),
    ("load_model int", lambda: statvae.load_model(3)),
    ("load_model missing", lambda: statvae.load_model("/nonexistent/m.json")),
    # analyses: data
    ("critical spectrum str", lambda: _crit(spectrum="abc")),
    ("critical spectrum complex", lambda: _crit(spectrum=[3 + 1j, 2, 1])),
    ("critical spectrum 2-D", lambda: _crit(spectrum=[[3, 2, 1]])),
    ("critical spectrum scalar", lambda: _crit(spectrum=3.0)),
    ("critical spectrum bool", lambda: _crit(spectrum=[True, False, True])),
    ("critical spectrum ragged", lambda: _crit(spectrum=[[3, 2], [1]])),
    ("critical spectrum set", lambda: _crit(spectrum={3, 2, 1})),
    ("critical spectrum None", lambda: _crit(spectrum=None)),
    ("critical spectrum nan", lambda: _crit(spectrum=[3, float("nan"), 1])),
    ("critical spectrum negative", lambda: _crit(spectrum=[3, -2, 1])),
    ("critical spectrum empty", lambda: _crit(spectrum=[])),
    ("critical spectrum too long", lambda: _crit(spectrum=[4, 3, 2, 1])),
    ("critical dict missing variable", lambda: _c().collapse().critical(spectrum={"x": [1.0]}).value),
    ("critical dict int key", lambda: _c().collapse().critical(spectrum={1: [1.0], "x": [1], "y": [1, 2]}).value),
    ("critical dict extra key", lambda: _c().collapse().critical(spectrum={"x": [1], "y": [2, 1], "q": [1]}).value),
    ("critical dict str value", lambda: _c().collapse().critical(spectrum={"x": "a", "y": [1, 2]}).value),
    ("critical dict complex value", lambda: _c().collapse().critical(spectrum={"x": [1j], "y": [1, 2]}).value),
    ("critical covariance 3-D", lambda: _crit(covariance=np.ones((3, 3, 3)))),
    ("critical covariance complex", lambda: _crit(covariance=np.eye(3) * (1 + 1j))),
    ("critical covariance str", lambda: _crit(covariance="eye")),
    ("critical covariance nan", lambda: _crit(covariance=np.full((3, 3), np.nan))),
    ("critical covariance wrong size", lambda: _crit(covariance=np.eye(4))),
    ("critical covariance not square", lambda: _crit(covariance=np.ones((3, 2)))),
    ("critical covariance indefinite", lambda: _crit(covariance=np.diag([1.0, -1.0, 1.0]))),
    ("critical samples 3-D", lambda: _crit(samples=np.ones((3, 3, 3)))),
    ("critical samples complex", lambda: _crit(samples=np.ones((10, 3)) * 1j)),
    ("critical samples wrong dim", lambda: _crit(samples=np.random.default_rng(0).random((10, 4)))),
    ("critical samples one row", lambda: _crit(samples=np.ones((1, 3)))),
    ("critical samples huge dim", lambda: _crit(samples=np.zeros((2, 2_000_000)))),
    ("critical two data", lambda: _crit(spectrum=SPEC3, covariance=np.eye(3))),
    ("critical no data", lambda: _crit()),
    # analyses: parameters
    ("critical parameter int", lambda: _crit(parameter=5, spectrum=SPEC3)),
    ("critical parameter list", lambda: _crit(parameter=["sigma2"], spectrum=SPEC3)),
    ("critical parameter empty", lambda: _crit(parameter="", spectrum=SPEC3)),
    ("critical parameter unknown", lambda: _crit(parameter="gamma", spectrum=SPEC3)),
    ("critical value str", lambda: _crit(parameter="beta", spectrum=SPEC3, sigma2="x")),
    ("critical value list", lambda: _crit(parameter="beta", spectrum=SPEC3, sigma2=[1])),
    ("critical value None", lambda: _crit(parameter="beta", spectrum=SPEC3, sigma2=None)),
    ("critical value negative", lambda: _crit(parameter="beta", spectrum=SPEC3, sigma2=-1)),
    ("critical value unknown", lambda: _crit(parameter="beta", spectrum=SPEC3, sigma2=1, gamma=2)),
    ("critical values not a dict", lambda: _crit(parameter="beta", spectrum=SPEC3, values=[("sigma2", 1)])),
    ("critical value given twice", lambda: _crit(parameter="beta", spectrum=SPEC3, values={"sigma2": 1}, sigma2=1)),
    ("critical unknown in values", lambda: _crit(parameter="beta", spectrum=SPEC3, values={"sigma2": 1, "gamma": 2})),
    ("critical_expression empty", lambda: _m().collapse().critical_expression("")),
    ("critical_expression list", lambda: _m().collapse().critical_expression(["beta"])),
    pytest.param("critical huge spectrum", lambda: _crit(spectrum=[1e308, 1e308, 1]), id="critical huge spectrum",
                 marks=pytest.mark.filterwarnings("ignore::RuntimeWarning")),
    ("stable no sigma2", lambda: _m().collapse().stable(spectrum=SPEC3)),
    ("stable sigma2 str", lambda: _m().collapse().stable(spectrum=SPEC3, sigma2="2")),
    ("stable sigma2 complex", lambda: _m().collapse().stable(spectrum=SPEC3, sigma2=2j)),
    ("stable spectrum complex", lambda: _m().collapse().stable(spectrum=[3j, 2, 1], sigma2=2)),
    ("crossings column spectrum", lambda: _m().collapse().crossings(spectrum=[[3], [2], [1]])),
    ("crossings parameter dict", lambda: _m().collapse().crossings({"a": 1}, spectrum=SPEC3)),
    # track
    ("track model None", lambda: statvae.track(None, spectrum=SPEC3, start=4, stop=0.5)),
    ("track model str", lambda: _track(model="linear")),
    ("track start str", lambda: _track(start="4")),
    ("track start None", lambda: _track(start=None)),
    ("track start complex", lambda: _track(start=4j)),
    ("track start list", lambda: _track(start=[4])),
    ("track start bool", lambda: _track(start=True)),
    ("track stop nan", lambda: _track(stop=float("nan"))),
    ("track stop negative", lambda: _track(stop=-1)),
    ("track stop zero", lambda: _track(stop=0)),
    ("track start == stop", lambda: _track(start=2, stop=2)),
    ("track parameter int", lambda: _track(parameter=3)),
    ("track parameter list", lambda: _track(parameter=["sigma2"])),
    ("track parameter unknown", lambda: _track(parameter="gamma")),
    ("track max_steps 0", lambda: _track(max_steps=0)),
    ("track max_steps str", lambda: _track(max_steps="10")),
    ("track max_steps float", lambda: _track(max_steps=10.5)),
    ("track max_newton 0", lambda: _track(max_newton=0)),
    ("track max_branches 0", lambda: _track(max_branches=0)),
    ("track depth -1", lambda: _track(depth=-1)),
    ("track depth bool", lambda: _track(depth=True)),
    ("track ds negative", lambda: _track(ds=-0.1)),
    ("track ds_max nan", lambda: _track(ds_max=float("nan"))),
    ("track ds_min > ds_max", lambda: _track(ds_min=1, ds_max=0.1)),
    ("track ds > ds_max", lambda: _track(ds=1, ds_max=0.1)),
    ("track ds_min beyond range", lambda: _track(ds_min=10)),
    ("track newton_tol 0", lambda: _track(newton_tol=0)),
    ("track locate_tol inf", lambda: _track(locate_tol=float("inf"))),
    ("track angle_max 0", lambda: _track(angle_max=0)),
    ("track angle_max 10", lambda: _track(angle_max=10)),
    ("track algorithm unknown", lambda: _track(algorithm="newton")),
    ("track p_min", lambda: _track(p_min=0.1)),
    ("track unknown option", lambda: _track(tolerance=1)),
    ("track certify str", lambda: _track(certify="yes")),
    ("track values str", lambda: _track(values={"beta": "x"})),
    ("track values list", lambda: _track(values=[1])),
    ("track values None entry", lambda: _track(values={"beta": None})),
    ("track values unknown", lambda: _track(values={"gamma": 1})),
    ("track values negative", lambda: _track(values={"beta": -1})),
    ("track no value", lambda: _track(parameter="beta")),
    ("track ddof 2", lambda: _track(spectrum=None, samples=np.random.default_rng(0).random((10, 3)), ddof=2)),
    ("track ddof bool", lambda: _track(spectrum=None, samples=np.random.default_rng(0).random((10, 3)), ddof=True)),
    ("track progress int", lambda: _track(progress=3)),
    ("track spectrum complex", lambda: _track(spectrum=[3j, 2, 1])),
    ("track spectrum dict missing", lambda: statvae.track(_c(), spectrum={"y": [1, 2]}, start=4, stop=0.5)),
    ("track spectrum dict extra", lambda: _track(spectrum={"x": SPEC3, "q": [1]})),
    ("track covariance 3-D", lambda: _track(spectrum=None, covariance=np.ones((3, 3, 3)))),
    ("track data 3-D", lambda: _track(spectrum=None, data=np.ones((3, 3, 3)))),
    ("track data str", lambda: _track(spectrum=None, data="abc")),
    ("track no data", lambda: _track(spectrum=None)),
    ("track two data", lambda: _track(covariance=np.eye(3))),
    ("track huge model", lambda: statvae.track(statvae.LinearVAE(3, 10 ** 9), spectrum=SPEC3, start=4, stop=0.5)),
    pytest.param("track range 1e300:1e-300", lambda: _track(start=1e300, stop=1e-300),
                 id="track range 1e300:1e-300"),
    pytest.param("track range 1e-300:1e-299", lambda: _track(start=1e-300, stop=1e-299),
                 id="track range 1e-300:1e-299"),
    # phase diagrams
    ("loci steps 1", lambda: _loci(steps=1)),
    ("loci steps str", lambda: _loci(steps="3")),
    ("loci steps huge", lambda: _loci(steps=10 ** 9)),
    ("loci loci 0", lambda: _loci(loci=0)),
    ("loci along == parameter", lambda: _loci(along="sigma2")),
    ("loci along unknown", lambda: _loci(along="gamma")),
    ("loci along range zero width", lambda: _loci(along_stop=1)),
    ("loci along range negative", lambda: _loci(along_stop=-1)),
    ("loci along range nan", lambda: _loci(along_stop=float("nan"))),
    ("loci start str", lambda: _loci(start="4")),
    ("loci values list", lambda: _loci(values=[1])),
    # data loaders
    ("synthetic seed negative", lambda: statvae.data.synthetic([1, 2], seed=-1)),
    ("synthetic seed str", lambda: statvae.data.synthetic([1, 2], seed="a")),
    ("synthetic samples huge", lambda: statvae.data.synthetic([1, 2], samples=10 ** 12)),
    ("synthetic samples float", lambda: statvae.data.synthetic([1, 2], samples=100.5)),
    ("synthetic spectrum complex", lambda: statvae.data.synthetic([1j, 2])),
    ("synthetic rotate str", lambda: statvae.data.synthetic([1, 2], rotate="a")),
    ("load_array None", lambda: statvae.data.load_array(None)),
    ("load_array int", lambda: statvae.data.load_array(3)),
    ("load_array missing", lambda: statvae.data.load_array("/nonexistent/x.npy")),
    ("covariance_from_samples complex", lambda: statvae.data.covariance_from_samples(np.ones((5, 2)) * 1j)),
    ("covariance_from_samples ddof str", lambda: statvae.data.covariance_from_samples(np.ones((5, 2)), "1")),
    ("validate_spectrum complex", lambda: statvae.data.validate_spectrum([1j])),
    ("validate_covariance complex", lambda: statvae.data.validate_covariance(np.eye(2) * 1j)),
    ("validate_covariance object", lambda: statvae.data.validate_covariance([[1, "a"], [2, 3]])),
]


def _api_params():
    for case in API_CASES:
        yield case if hasattr(case, "marks") else pytest.param(case[0], case[1], id=case[0])


@pytest.mark.parametrize("name,call", list(_api_params()))
def test_api_bad_input(name, call):
    with pytest.raises(StatvaeError) as info:
        call()
    msg = str(info.value)
    assert msg.strip() and "\n" not in msg, msg


def test_api_file_cases(files):
    """API loaders on the files of the CLI cases."""
    for name in ("complex.npy", "cube.npy", "strings.npy", "fake.npy", "binary.csv", "data.bin", "noext"):
        with pytest.raises(StatvaeError):
            statvae.data.load_covariance(files / name)
    for name in ("one_row.npy", "complex_x.npy", "nan_rows.csv"):
        with pytest.raises(StatvaeError):
            statvae.data.load_samples(files / name)
    for name in ("m_hyper_list.json", "m_garbage.json", "m_deep.json", "m_empty.json", "m_vars_noname.json", "m.yaml"):
        with pytest.raises(StatvaeError):
            statvae.load_model(files / name)
    with pytest.raises(StatvaeError):
        statvae.load_model(files)


# -- the last-resort handler ----------------------------------------------------------------------------------
def test_internal_error_is_one_line_and_exit_3(monkeypatch, capfd):
    import statvae.cli.derive as derive

    def boom(args):
        raise RuntimeError("kaboom\nwith a second line")

    monkeypatch.setattr(derive, "run_derive", boom)
    code, out, err = run_inprocess(["derive"], capfd)
    assert code == 3
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == [("statvae: internal error: RuntimeError: kaboom with a second line (run with --debug for the "
                      "traceback; please report it)")]
    assert "Traceback" not in err


@pytest.mark.parametrize("where", [["--debug", "derive"], ["derive", "--debug"]])
def test_debug_shows_the_traceback(where, monkeypatch, capfd):
    import statvae.cli.derive as derive

    def boom(args):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(derive, "run_derive", boom)
    code, out, err = run_inprocess(where, capfd)
    assert code == 3
    assert "Traceback (most recent call last)" in err and "RuntimeError: kaboom" in err
    assert err.rstrip().splitlines()[-1].startswith("statvae: internal error: RuntimeError: kaboom")


def test_debug_keeps_exit_2_for_bad_input(capfd):
    code, out, err = run_inprocess(["--debug", "threshold", "--spectrum", "3,-1"], capfd)
    assert code == 2 and "Traceback" in err and err.rstrip().splitlines()[-1].startswith("statvae: error:")


def test_interrupt_is_one_line_and_exit_130(monkeypatch, capfd):
    import statvae.cli.derive as derive

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(derive, "run_derive", interrupted)
    code, out, err = run_inprocess(["derive"], capfd)
    assert code == 130 and err == "statvae: interrupted\n"


def test_statvae_error_keeps_exit_2(monkeypatch, capfd):
    import statvae.cli.derive as derive

    def bad(args):
        raise statvae.AnalysisError("no critical value\n(second line)")

    monkeypatch.setattr(derive, "run_derive", bad)
    code, out, err = run_inprocess(["derive"], capfd)
    assert code == 2 and err == "statvae: error: no critical value (second line)\n"


def test_warnings_before_an_error_are_dropped(monkeypatch, capfd):
    import warnings

    import statvae.cli.derive as derive

    def warn_then_fail(args):
        warnings.warn("overflow encountered", RuntimeWarning)
        raise statvae.DataError("bad data")

    monkeypatch.setattr(derive, "run_derive", warn_then_fail)
    code, out, err = run_inprocess(["derive"], capfd)
    assert code == 2 and err == "statvae: error: bad data\n"


def test_warnings_after_a_success_are_one_line_each(monkeypatch, capfd):
    import warnings

    import statvae.cli.derive as derive

    def warn(args):
        warnings.warn("first\nwarning", UserWarning)
        warnings.warn("first\nwarning", UserWarning)
        warnings.warn("second", RuntimeWarning)
        return 0

    monkeypatch.setattr(derive, "run_derive", warn)
    code, out, err = run_inprocess(["derive"], capfd)
    assert code == 0 and err == "statvae: warning: first warning\nstatvae: warning: second\n"


def test_internal_error_in_a_subprocess(files):
    """A real process: a bug (here a patched subcommand) is exit 3 and one line; --debug prints the traceback."""
    script = ("import sys, statvae.cli.derive as d\n"
              "def boom(args): raise ZeroDivisionError('division by zero')\n"
              "d.run_derive = boom\n"
              "from statvae.cli.main import main\n"
              "sys.exit(main(sys.argv[1:]))\n")
    r = subprocess.run([sys.executable, "-c", script, "derive"], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 3 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("statvae: internal error: ZeroDivisionError: division by zero")
    r = subprocess.run([sys.executable, "-c", script, "--debug", "derive"], capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode == 3 and "Traceback (most recent call last)" in r.stderr


# -- writing: a full disk, and paths checked before any work ----------------------------------------------------
def _full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _half_written_then_full(self, target, *args, **kwargs):
    with open(target, "w") as fh:
        fh.write("{")
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_full_disk_on_track_out(suffix, files, monkeypatch, capfd):
    from statvae.bifurcation import BifurcationDiagram

    monkeypatch.setattr(BifurcationDiagram, "save", _half_written_then_full)
    out = files / f"full{suffix}"
    code, _, err = run_inprocess([*TRACK, "--out", str(out)], capfd)
    assert_one_line_error(code, "", err, "No space left on device")
    assert "--out" in err and not out.exists()  # the half-written file is removed


def test_full_disk_on_track_plot(files, monkeypatch, capfd):
    import statvae.plot

    monkeypatch.setattr(statvae.plot, "save_figure", _full_disk)
    code, _, err = run_inprocess([*TRACK, "--plot", str(files / "full.png")], capfd)
    assert_one_line_error(code, "", err, "--plot")
    assert "No space left on device" in err


def test_full_disk_on_phase_out_and_plot(files, monkeypatch, capfd):
    import statvae.plot
    from statvae.bifurcation import PhaseDiagram

    monkeypatch.setattr(PhaseDiagram, "save", _full_disk)
    code, _, err = run_inprocess([*PHASE, "--steps", "3", "--out", str(files / "full-phase.json")], capfd)
    assert_one_line_error(code, "", err, "No space left on device")
    monkeypatch.setattr(statvae.plot, "save_figure", _full_disk)
    code, _, err = run_inprocess([*PHASE, "--steps", "3", "--plot", str(files / "full-phase.png")], capfd)
    assert_one_line_error(code, "", err, "No space left on device")


def test_full_disk_on_plot_command(files, monkeypatch, capfd):
    import statvae.plot

    monkeypatch.setattr(statvae.plot, "save_figure", _full_disk)
    for source in ("diagram.json", "phase.json"):
        code, _, err = run_inprocess(["plot", str(files / source), "--out", str(files / "full.pdf")], capfd)
        assert_one_line_error(code, "", err, "No space left on device")


def test_permission_denied_on_write_is_one_line(files, monkeypatch, capfd):
    from statvae.bifurcation import BifurcationDiagram

    def denied(self, path):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(BifurcationDiagram, "save", denied)
    code, _, err = run_inprocess([*TRACK, "--out", str(files / "denied.json")], capfd)
    assert_one_line_error(code, "", err, "Permission denied")


@pytest.mark.parametrize("args", [
    [*TRACK, "--out", "{d}/missing-dir/x.json"],
    [*TRACK, "--out", "{d}/x.txt"],
    [*TRACK, "--plot", "{d}/x.bmp"],
    [*TRACK, "--max-steps", "0"],
    [*TRACK, "--depth", "-2"],
    ["track", *SPEC, "--range", "4:-1"],
    ["track", *SPEC, "--range", "4:0.5", "--parameter", "gamma"],
    [*TRACK, "--certify", "--latent-dim", "30"],
], ids=lambda a: " ".join(a[5:]))
def test_track_options_are_checked_before_any_work(args, files, monkeypatch, capfd):
    def sentinel(*a, **k):
        raise AssertionError("the tracker ran before the options were checked")

    monkeypatch.setattr(importlib.import_module("statvae.analysis.tracking"), "track", sentinel)
    code, out, err = run_inprocess(_argv(args, files), capfd)
    assert_one_line_error(code, out, err)


@pytest.mark.parametrize("args", [
    [*PHASE, "--out", "{d}/x.npz"],
    [*PHASE, "--plot", "{d}/missing-dir/x.png"],
    [*PHASE, "--steps", "1"],
    [*PHASE, "--loci", "0"],
    ["phase-diagram", *SPEC, "--range", "4:0.5", "--along", "beta", "--along-range", "2:-2"],
], ids=lambda a: " ".join(a[5:]))
def test_phase_options_are_checked_before_any_work(args, files, monkeypatch, capfd):
    def sentinel(*a, **k):
        raise AssertionError("the phase diagram ran before the options were checked")

    monkeypatch.setattr(importlib.import_module("statvae.bifurcation"), "branch_point_loci", sentinel)
    code, out, err = run_inprocess(_argv(args, files), capfd)
    assert_one_line_error(code, out, err)


def test_derive_explicit_size_is_checked_before_any_work(monkeypatch, capfd):
    import statvae.cli.derive as derive

    def sentinel(*a, **k):
        raise AssertionError("the derivation ran before the size was checked")

    monkeypatch.setattr(derive, "derivation", sentinel)
    code, out, err = run_inprocess(["derive", "--explicit", "--data-dim", "30", "--latent-dim", "10"], capfd)
    assert_one_line_error(code, out, err, "--explicit")


def test_api_checks_before_any_work(monkeypatch):
    """track() and branch_point_loci() refuse bad arguments before resolving any data."""
    api = importlib.import_module("statvae.bifurcation.api")

    def sentinel(*a, **k):
        raise AssertionError("data were resolved before the arguments were checked")

    monkeypatch.setattr(api, "resolve_data", sentinel)
    monkeypatch.setattr(importlib.import_module("statvae.bifurcation.phase"), "resolve_data", sentinel)
    with pytest.raises(StatvaeError, match="max_steps"):
        statvae.track(_m(), spectrum=SPEC3, start=4, stop=0.5, max_steps=0)
    with pytest.raises(StatvaeError, match="steps"):
        statvae.branch_point_loci(_m(), spectrum=SPEC3, start=4, stop=0.5, along_start=1, along_stop=2, steps=1)


def test_good_inputs_still_work(files, capfd):
    """The checks refuse nothing valid: the files and options next to the bad ones give answers."""
    for args in (["critical", "--covariance", str(files / "cov.npy"), "--json"],
                 ["critical", "--samples", str(files / "x.npy"), "--json"],
                 ["critical", "--data", str(files / "x.npy"), "--json"],
                 ["critical", "--data", str(files / "cov.npy"), "--json"],
                 ["threshold", "--data", str(files / "x.npy"), "--json"],
                 ["critical", *SPEC, "--model-file", str(files / "model.json"), "--json"],
                 [*TRACK, "--max-steps", "1", "--depth", "0", "--json"],
                 ["track", *SPEC, "--range", "0:2", "--parameter", "weight_decay_dec", "--sigma2", "0.5", "--json"],
                 ["track", *SPEC, "--start", "0", "--stop", "2", "--parameter", "weight_decay_dec", "--sigma2", "0.5",
                  "--max-steps", "5", "--json"],
                 [*PHASE, "--steps", "2", "--json"]):
        code, out, err = run_inprocess(args, capfd)
        assert code == 0, err
        json.loads(out)


def test_huge_steps_do_not_leave_the_domain():
    """Steps larger than the range used to push the corrector to sigma2 < 0 ("sigma2 must be > 0")."""
    d = statvae.track(statvae.LinearVAE(3, 2), spectrum=SPEC3, start=4.0, stop=0.5, ds=1e6, ds_max=1e7)
    got = [s.parameter for s in d.special_points("branch point", branch=0)]
    np.testing.assert_allclose(got, [1.0, 2.0, 3.0], rtol=1e-12)


def test_certify_on_a_large_model_is_refused_before_the_run():
    import time

    t = time.perf_counter()
    with pytest.raises(statvae.errors.ModelError, match="certify=True is for small models"):
        statvae.track(statvae.LinearVAE(40, 4), spectrum=np.linspace(3, 1, 40), start=4.0, stop=0.5, certify=True)
    assert time.perf_counter() - t < 5
