"""Fast start-up: what ``import statvae`` and ``statvae --help`` load, and the on-disk cache of mode structures.

* ``import statvae`` loads its public names on first use: neither scipy.optimize nor matplotlib (nor sympy) is
  imported by it, and every name of ``statvae.__all__`` still resolves;
* ``statvae --help`` builds its parser without sympy or scipy;
* the per-mode structure (:func:`statvae.symbolic.modes.mode_structure`) is cached on disk: a structure read
  back from its entry equals a freshly derived one (presets and a custom graph), and a damaged or edited entry
  is a miss that is rewritten, never parsed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import statvae
from statvae import storage
from statvae.model import Map, ModelGraph, Variable
from statvae.symbolic import modes as M

pytestmark = pytest.mark.filterwarnings("error::statvae.errors.CacheWarning")


def _modules_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    """The modules loaded after running ``code`` in a fresh interpreter."""
    script = code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         env={**os.environ, **(env or {})}, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def _loaded(mods: set[str], package: str) -> bool:
    return package in mods or any(m.startswith(package + ".") for m in mods)


def test_import_statvae_loads_neither_scipy_optimize_nor_matplotlib():
    mods = _modules_after("import statvae")
    for heavy in ("scipy.optimize", "scipy", "matplotlib", "sympy", "networkx"):
        assert not _loaded(mods, heavy), f"import statvae imports {heavy}"


def test_help_imports_neither_sympy_nor_scipy():
    code = ("import sys\nfrom statvae.cli.main import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "for cmd in ('critical', 'derive', 'track', 'phase-diagram', 'plot', 'cache'):\n"
            "    try:\n        main([cmd, '--help'])\n    except SystemExit:\n        pass\n")
    mods = _modules_after(code)
    for heavy in ("sympy", "scipy", "matplotlib", "networkx", "statvae.model", "statvae.symbolic"):
        assert not _loaded(mods, heavy), f"statvae --help imports {heavy}"


def test_every_public_name_resolves():
    code = ("import statvae\nnames = [n for n in statvae.__all__ if getattr(statvae, n) is None]\n"
            "assert not names, names\nassert set(statvae.__all__) <= set(dir(statvae))\n"
            "import statvae.latex\nassert callable(statvae.latex) and statvae.latex.__module__ == 'statvae.latex'\n")
    _modules_after(code)
    for name in statvae.__all__:
        obj = getattr(statvae, name)
        assert obj is not None
        if name != "__version__":
            assert getattr(obj, "__name__", name) == name
    from statvae import BifurcationDiagram, LinearVAE, latex, track  # noqa: F401 - `from statvae import X` works
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        statvae.no_such_name  # noqa: B018


def test_bifurcation_names_resolve():
    import statvae.bifurcation as B

    for name in B.__all__:
        assert getattr(B, name).__name__ == name
    with pytest.raises(AttributeError):
        B.no_such_name  # noqa: B018


# -- the cached structure ------------------------------------------------------------------------------------------
def _custom() -> statvae.VAEModel:
    g = ModelGraph()
    g.add_variable(Variable("x", 3, True, variance="sigma2_x"))
    g.add_variable(Variable("y", 2, True, variance="sigma2_y"))
    g.add_variable(Variable("z", 1, False))
    g.add_map(Map("Wx", "z", "x", "generative"))
    g.add_map(Map("Wy", "z", "y", "generative"))
    g.add_map(Map("Vx", "x", "z", "inference"))
    g.add_map(Map("Vy", "y", "z", "inference"))
    return statvae.VAEModel(g)


MODELS = {
    "linear": lambda: statvae.LinearVAE(3, 2),
    "linear learned isotropic": lambda: statvae.LinearVAE(3, 2, encoder="isotropic", decoder_variance="learned"),
    "conditional": lambda: statvae.ConditionalVAE(2, 3, 2),
    "hierarchical": lambda: statvae.HierarchicalVAE(3, (2, 1)),
    "custom two views": _custom,
}


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("STATVAE_CACHE_DIR", str(d))
    monkeypatch.setattr(M, "_CACHE", {})  # nothing from memory: every structure comes from disk or a derivation
    return d


def _entry(cache: Path, model) -> Path:
    return cache / f"{M.structure_cache_key(model)}.json"


@pytest.mark.parametrize("name", list(MODELS))
def test_the_cached_structure_equals_the_derived_one(cache, name, monkeypatch):
    model = MODELS[name]()
    derived = M.mode_structure(model)
    p = _entry(cache, model)
    record = json.loads(p.read_text())
    assert record["format"] == M.STRUCTURE_FORMAT and record["key"] == p.stem and len(record["sha256"]) == 64
    monkeypatch.setattr(M, "_CACHE", {})

    def no_derivation(*a, **k):
        raise AssertionError("a warm cache derives nothing")

    monkeypatch.setattr(M, "_derive", no_derivation)
    loaded = M.mode_structure(model)
    assert loaded is not derived and M.same_structure(loaded, derived)
    assert [b.name() for b in loaded.blocks] == [b.name() for b in derived.blocks]
    for a, b in zip(loaded.blocks, derived.blocks):
        assert a == b and a.determinant() == b.determinant()
    assert loaded.collapsed == derived.collapsed and loaded.global_values == derived.global_values
    assert (loaded.diagonal_values, loaded.dims, loaded.traces) == (derived.diagonal_values, derived.dims,
                                                                     derived.traces)


def test_a_fresh_process_reads_the_structure_and_derives_nothing(cache):
    model = statvae.LinearVAE(3, 2)
    M.mode_structure(model)
    code = ("import statvae\nfrom statvae.symbolic import modes as M\n"
            "M._derive = lambda *a, **k: (_ for _ in ()).throw(AssertionError('derived'))\n"
            "print(statvae.LinearVAE(4, 1).collapse().critical('sigma2', spectrum=[3.0, 2.0, 1.0, 0.5]).value)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "STATVAE_CACHE_DIR": str(cache)})
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.split()[-1]) == 3.0


def _mangle(kind: str, p: Path) -> None:
    text = p.read_text()
    record = json.loads(text)
    if kind == "truncated":
        p.write_text(text[: len(text) // 2])
    elif kind == "edited matrix, digest kept":
        s = record["structure"]
        s["blocks"][0]["matrix"] = s["blocks"][0]["matrix"].replace("Integer(-1)", "Integer(-2)", 1)
        p.write_text(json.dumps(record))
    elif kind == "edited raw text":
        assert "Integer(-1)" in text
        p.write_text(text.replace("Integer(-1)", "Integer(-2)", 1))
    elif kind == "code instead of an expression":
        record["structure"]["blocks"][0]["matrix"] = "__import__('os').system('exit 1')"
        p.write_text(json.dumps(record))
    elif kind == "wrong digest":
        p.write_text(json.dumps({**record, "sha256": "0" * 64}))
    elif kind == "another key":
        p.write_text(json.dumps({**record, "key": "0" * 32}))
    elif kind == "another format":
        p.write_text(json.dumps({**record, "format": "statvae-structure-0"}))
    elif kind == "structure not an object":
        p.write_text(json.dumps({**record, "structure": [record["structure"]]}))
    else:
        raise AssertionError(kind)


def _strings(obj) -> set[str]:
    if isinstance(obj, str):
        return {obj}
    items = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, list) else []
    return set().union(*(_strings(x) for x in items)) if items else set()


@pytest.mark.parametrize("kind", ["truncated", "edited matrix, digest kept", "edited raw text",
                                  "code instead of an expression", "wrong digest", "another key", "another format",
                                  "structure not an object"])
def test_a_damaged_entry_is_ignored_and_rewritten(cache, kind, monkeypatch):
    model = statvae.LinearVAE(3, 2)
    derived = M.mode_structure(model)
    p = _entry(cache, model)
    good = p.read_bytes()
    _mangle(kind, p)
    assert storage.read_entry(p.stem, M.STRUCTURE_FORMAT, {"structure": dict}) is None
    parsed = []
    real_parse = M._parse
    monkeypatch.setattr(M, "_parse", lambda text: parsed.append(text) or real_parse(text))
    monkeypatch.setattr(M, "_CACHE", {})
    again = M.mode_structure(model)
    assert M.same_structure(again, derived)
    assert set(parsed) <= _strings(json.loads(good))  # nothing of the bad entry was parsed
    assert p.read_bytes() == good  # rewritten by the normal store path
    monkeypatch.setattr(M, "_CACHE", {})
    monkeypatch.setattr(M, "_derive", lambda *a, **k: (_ for _ in ()).throw(AssertionError("derived")))
    assert M.same_structure(M.mode_structure(model), derived)  # and a hit next time


def test_an_entry_that_does_not_rebuild_is_a_miss(cache, monkeypatch):
    """A consistent entry (digest right) whose text is not a sympy object: derived again, the entry rewritten."""
    model = statvae.LinearVAE(3, 2)
    derived = M.mode_structure(model)
    p = _entry(cache, model)
    good = p.read_bytes()
    data = json.loads(p.read_text())["structure"]
    data["blocks"][0]["matrix"] = "Integer(1)"  # parses, but is not a matrix
    storage.write_entry(p.stem, M.STRUCTURE_FORMAT, {"structure": data})
    monkeypatch.setattr(M, "_CACHE", {})
    assert M.same_structure(M.mode_structure(model), derived)
    assert p.read_bytes() == good


def test_the_cli_critical_is_warm_after_one_run(tmp_path):
    env = {**os.environ, "STATVAE_CACHE_DIR": str(tmp_path / "cli-cache")}
    cmd = [sys.executable, "-m", "statvae", "critical", "--spectrum", "3,2,1", "--latent-dim", "2"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, check=True).stdout
    code = ("import sys\nfrom statvae.symbolic import modes as M\n"
            "M._derive = lambda *a, **k: (_ for _ in ()).throw(AssertionError('derived'))\n"
            "from statvae.cli.main import main\nsys.exit(main(sys.argv[1:]))")
    second = subprocess.run([sys.executable, "-c", code, *cmd[3:]], capture_output=True, text=True, timeout=120,
                            env=env)
    assert second.returncode == 0, second.stderr
    assert second.stdout == first


@pytest.mark.parametrize("model_args", [["--latent-dim", "2"], ["--model", "hierarchical", "--latent-dim", "2,1"],
                                        ["--decoder-variance", "learned", "--encoder", "isotropic"]])
def test_derive_prints_the_same_latex_from_a_warm_cache(tmp_path, model_args):
    """The LaTeX names the derivation registers (xi_i^2, tr Sigma, N...) come back with a cached structure."""
    env = {**os.environ, "STATVAE_CACHE_DIR": str(tmp_path / "derive-cache")}
    cmd = [sys.executable, "-m", "statvae", "derive", "--format", "latex", *model_args]
    cold = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, check=True).stdout
    warm = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, check=True).stdout
    assert warm == cold and r"\xi" in cold


# -- the warm `statvae critical`: collapse plans ---------------------------------------------------------------------
WARM = {
    "linear": ["--latent-dim", "2"],
    "learned isotropic, json": ["--latent-dim", "2", "--decoder-variance", "learned", "--encoder", "isotropic",
                                "--json"],
    "hierarchical, beta": ["--model", "hierarchical", "--latent-dim", "2,1", "--beta", "1,2"],
}
HEAVY = ("sympy", "networkx", "scipy", "matplotlib", "statvae.model", "statvae.symbolic", "statvae.analysis",
         "statvae.numeric", "statvae.bifurcation", "statvae.data", "statvae.api")


@pytest.mark.parametrize("name", list(WARM))
def test_a_warm_critical_imports_neither_sympy_nor_networkx(tmp_path, name):
    """After one run, `statvae critical` answers from the plan: same output, none of the heavy modules loaded."""
    env = {**os.environ, "STATVAE_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("STATVAE_NO_PLAN", None)
    cold_argv = ["critical", "--spectrum", "3,2,1,0.5", *WARM[name]]
    warm_argv = ["critical", "--spectrum", "0.7,5,2.5,1", *WARM[name]]
    code = ("import sys, json\nfrom statvae.cli.main import main\nfrom statvae.cli import fastpath\n"
            "code = main(sys.argv[1:])\n"
            "sys.stderr.write(json.dumps([code, fastpath.ANSWERED[0], sorted(sys.modules)]))\n")
    for attempt in range(3):  # a plan is keyed on the package's files: one edited between the runs (a working
        # tree shared with other work) makes the second run miss, so the pair is run again
        subprocess.run([sys.executable, "-m", "statvae", *cold_argv], capture_output=True, text=True, timeout=300,
                       env=env, check=True)
        warm = subprocess.run([sys.executable, "-c", code, *warm_argv], capture_output=True, text=True,
                              timeout=300, env=env)
        status, answered, mods = json.loads(warm.stderr.splitlines()[-1])
        if answered:
            break
    assert status == 0 and answered == 1, warm.stderr[:2000]
    for heavy in HEAVY:
        assert not _loaded(set(mods), heavy), f"a warm statvae critical imports {heavy}"
    full = subprocess.run([sys.executable, "-m", "statvae", *warm_argv], capture_output=True, text=True, timeout=300,
                          env={**env, "STATVAE_NO_PLAN": "1"}, check=True)
    assert warm.stdout == full.stdout and warm.stdout


def _in_process(argv: list[str]) -> tuple[int, str, str, bool]:
    import contextlib
    import io

    from statvae.cli import fastpath
    from statvae.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    before = fastpath.ANSWERED[0]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue(), fastpath.ANSWERED[0] > before


ARGV = ["critical", "--spectrum", "3,2,1", "--latent-dim", "2", "--decoder-variance", "learned", "--json"]


def _plan_file(cache: Path) -> Path:
    from statvae.cli.fastpath import plan_spec
    from statvae.cli.main import build_parser
    from statvae.collapse_plan import plan_key

    return cache / f"{plan_key(plan_spec(build_parser().parse_args(ARGV), 3))}.json"


def _mangle_plan(kind: str, p: Path) -> None:
    text = p.read_text()
    record = json.loads(text)
    plan = record["plan"]
    if kind == "truncated":
        p.write_text(text[: len(text) // 2])
    elif kind == "wrong digest":
        p.write_text(json.dumps({**record, "sha256": "0" * 64}))
    elif kind == "another key":
        p.write_text(json.dumps({**record, "key": "0" * 32}))
    elif kind == "another format":
        p.write_text(json.dumps({**record, "format": "statvae-plan-0"}))
    elif kind == "edited value, digest kept":
        plan["static"]["condition_text"] = "edited"
        p.write_text(json.dumps(record))
    elif kind in ("a consistent entry with code that is not the plan's", "a consistent entry naming os.system",
                  "a consistent entry with the wrong code digest"):
        if kind.endswith("plan's"):
            plan["blocks"][0]["entries"]["source"] = "def _lambdifygenerated(*a):\n    return 1/0\n"
        elif kind.endswith("os.system"):
            plan["blocks"][0]["entries"]["names"] = {"sqrt": "os.system"}
        else:
            plan["compiled"]["code_sha256"] = "0" * 64
        storage.write_entry(p.stem, record["format"], {"plan": plan})
    else:
        raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["truncated", "wrong digest", "another key", "another format",
                                  "edited value, digest kept", "a consistent entry with code that is not the plan's",
                                  "a consistent entry naming os.system", "a consistent entry with the wrong code digest"])
def test_a_damaged_plan_is_a_miss_and_is_rewritten(cache, kind):
    """A damaged plan: the full path answers (the same output), rewrites the plan, and the next run is warm."""
    first = _in_process(ARGV)
    assert first[0] == 0 and not first[3]
    p = _plan_file(cache)
    good = p.read_bytes()
    assert _in_process(ARGV)[:4] == (*first[:3], True)
    _mangle_plan(kind, p)
    again = _in_process(ARGV)
    assert again[:3] == first[:3] and not again[3]
    assert p.read_bytes() == good
    assert _in_process(ARGV)[:4] == (*first[:3], True)


def test_a_damaged_code_entry_makes_the_plan_miss(cache):
    """The self-check runs the cached compiled code: if that entry is damaged, the full path answers."""
    first = _in_process(ARGV)
    plan = json.loads(_plan_file(cache).read_text())["plan"]
    code = cache / f"{plan['compiled']['code_key']}.json"
    record = json.loads(code.read_text())
    code.write_text(json.dumps({**record, "source": record["source"] + "\n# edited"}))
    again = _in_process(ARGV)
    assert again[:3] == first[:3] and not again[3]
    assert _in_process(ARGV)[:4] == (*first[:3], True)  # compile_model rewrote the entry: the plan's code again


def test_no_plan_is_written_unless_it_reproduces_the_answer(cache, monkeypatch):
    from statvae import collapse_plan as CP

    real = CP.critical_record

    def off_by_one_ulp(plan, values):
        out = real(plan, values)
        return {**out, "critical": float(np.nextafter(out["critical"], np.inf))}

    monkeypatch.setattr(CP, "critical_record", off_by_one_ulp)
    assert _in_process(ARGV)[0] == 0
    assert not _plan_file(cache).exists()
    monkeypatch.setattr(CP, "critical_record", real)
    assert _in_process(ARGV)[0] == 0 and _plan_file(cache).exists()


def test_the_plan_key_depends_on_the_sources_and_the_options(monkeypatch):
    from statvae import collapse_plan as CP

    a = CP.plan_key(("critical", (("beta", "2"),), 3))
    assert CP.plan_key(("critical", (("beta", "2.0"),), 3)) != a != CP.plan_key(("critical", (("beta", "2"),), 4))
    monkeypatch.setattr(CP, "_FINGERPRINT", ["another tree"])
    assert CP.plan_key(("critical", (("beta", "2"),), 3)) != a


def test_generated_functions_load_only_from_the_modules_allowed():
    import sympy as sp

    from statvae.collapse_plan import PlanMiss, describe_function, function_from_source

    x, y = sp.symbols("x y")
    f = sp.lambdify([x, y], [sp.sqrt(x) * y + sp.Max(x, y), sp.exp(-x) / y], "numpy")
    d = describe_function(f)
    assert d is not None and set(d["names"].values()) <= {"numpy.sqrt", "numpy.exp", "numpy.maximum",
                                                          "functools.reduce"}
    g = function_from_source(d["source"], d["name"], d["names"])
    args = (np.array([0.3, 2.0, 5.0]), np.array([1.5, -0.25, 3.0]))
    for a, b in zip(f(*args), g(*args)):
        assert np.array_equal(a, b)
    with pytest.raises(PlanMiss):
        function_from_source(d["source"], d["name"], {**d["names"], "sqrt": "os.system"})
    with pytest.raises(PlanMiss):
        function_from_source("def other():\n    return 1\n", d["name"], {})


def test_the_plan_namespace_multiplies_diagonal_data_as_the_code_generator_does():
    """The compiled code runs in the plans' own namespace: the same names, the same numbers on diagonal data."""
    from statvae import collapse_plan as CP
    from statvae.numeric import codegen as CG

    assert set(CP.NUMPY_NAMESPACE) == set(CG.NUMPY_NAMESPACE)
    rng = np.random.default_rng(3)
    for shape in [(3, 3), (3, 2), (2, 4)]:
        d = rng.uniform(0.5, 2.0, min(shape))
        mine, theirs = CP.DiagonalBlock(d, shape), CG.DiagonalBlock(d, shape)
        x = rng.standard_normal((2, shape[1], 3))
        y = rng.standard_normal((3, shape[0]))
        sq = rng.standard_normal((shape[1], shape[0]))
        assert np.array_equal(mine @ x, theirs @ x) and np.array_equal(y @ mine, y @ theirs)
        assert np.array_equal(mine.toarray(), theirs.toarray()) and np.array_equal(mine.T.toarray(), theirs.T.toarray())
        for name in ("tr", "T", "sc"):
            args = {"tr": (mine,), "T": (rng.standard_normal((2, 3, 4)),), "sc": (np.array([1.0, 2.0]), mine)}[name]
            targs = {"tr": (theirs,), "T": args, "sc": (args[0], theirs)}[name]
            assert np.array_equal(np.asarray(CP.NUMPY_NAMESPACE[name](*args)),
                                  np.asarray(CG.NUMPY_NAMESPACE[name](*targs)))
        assert CP.NUMPY_NAMESPACE["trp"](mine, sq) == CG.NUMPY_NAMESPACE["trp"](theirs, sq)
        assert CP.NUMPY_NAMESPACE["trp"](sq, mine) == CG.NUMPY_NAMESPACE["trp"](sq, theirs)
    m = rng.standard_normal((2, 3, 3))
    for name in ("flat", "diag", "sym_upper", "col", "logdet"):
        assert np.array_equal(CP.NUMPY_NAMESPACE[name](m), CG.NUMPY_NAMESPACE[name](m), equal_nan=True)
    assert np.array_equal(CP.NUMPY_NAMESPACE["concat"](m[0, 0], m[0, 1]), CG.NUMPY_NAMESPACE["concat"](m[0, 0], m[0, 1]))
    assert np.array_equal(CP.NUMPY_NAMESPACE["trp"](m[0], m[1]), CG.NUMPY_NAMESPACE["trp"](m[0], m[1]))
