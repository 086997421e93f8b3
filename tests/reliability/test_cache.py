"""The on-disk cache of generated code: entries are checked (SHA-256) before anything in them runs, any bad
entry is a miss that is rewritten, a read-only cache is reported honestly, and concurrent compiles agree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import statvae
from statvae.cli.main import main
from statvae.errors import CacheWarning, StatvaeError
from statvae.numeric import cache as C
from statvae.numeric import random_parameters

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
SPEC = [3.0, 2.0, 1.0]


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("STATVAE_CACHE_DIR", str(d))
    return d


def _value(f) -> float:
    theta = random_parameters(f.layout, np.random.default_rng(7))
    return float(f.value(theta, spectrum=SPEC, sigma2=0.8))


def _entry_file(cache: Path, f) -> Path:
    """The cache file holding the code of compiled objective ``f``."""
    for p in cache.glob("*.json"):
        if json.loads(p.read_text())["source"] == f.source:
            return p
    raise AssertionError("no cache entry holds this code")


# -- integrity ------------------------------------------------------------------------------------------------------
def test_entries_carry_a_digest_that_load_checks(cache):
    f = statvae.LinearVAE(3, 2).compile()
    p = _entry_file(cache, f)
    record = json.loads(p.read_text())
    assert record["format"] == C.ENTRY_FORMAT and C.CODEGEN_VERSION in C.ENTRY_FORMAT
    payload = {k: record[k] for k in ("source", "meta", "verified")}
    assert record["sha256"] == C.entry_digest(p.stem, payload) and len(record["sha256"]) == 64
    assert C.load(p.stem) == payload


@pytest.mark.parametrize("how", ["edit the source, keep the digest", "edit the raw text"])
def test_tampered_entry_is_never_executed_and_is_rewritten(cache, how):
    model = statvae.LinearVAE(3, 2)
    f = model.compile()
    expected = _value(f)
    p = _entry_file(cache, f)
    if how == "edit the raw text":
        text = p.read_text()
        assert "log(2)" in text
        p.write_text(text.replace("log(2)", "log(3)", 1))
    else:
        record = json.loads(p.read_text())
        record["source"] = record["source"].replace("log(2)", "log(3)")
        p.write_text(json.dumps(record))
    assert C.load(p.stem) is None
    g = model.compile()
    assert not g.cache_hit and g.source == f.source
    assert _value(g) == expected
    # the entry was rewritten by the normal store path: valid again, and a hit next time
    assert C.load(p.stem)["source"] == f.source
    h = model.compile()
    assert h.cache_hit and _value(h) == expected


def test_tampered_entry_is_never_executed_in_a_fresh_process(cache):
    model = statvae.LinearVAE(3, 2)
    f = model.compile()
    expected = _value(f)
    p = _entry_file(cache, f)
    p.write_text(p.read_text().replace("log(2)", "log(3)"))
    script = textwrap.dedent(f"""
        import numpy as np, statvae
        from statvae.numeric import random_parameters
        f = statvae.LinearVAE(3, 2).compile()
        theta = random_parameters(f.layout, np.random.default_rng(7))
        print(repr(float(f.value(theta, spectrum={SPEC!r}, sigma2=0.8))), f.cache_hit)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "STATVAE_CACHE_DIR": str(cache)}, check=True).stdout.split()
    assert float(out[0]) == expected and out[1] == "False"


def _mangle(kind: str):
    def edit_record(fn):
        def run(p: Path):
            record = json.loads(p.read_text())
            p.write_text(json.dumps(fn(record)))
        return run

    return {
        "truncated": lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
        "empty": lambda p: p.write_bytes(b""),
        "not UTF-8": lambda p: p.write_bytes(b"\xff\xfe" + p.read_bytes()),
        "a JSON list": lambda p: p.write_text(json.dumps([json.loads(p.read_text())])),
        "a JSON string": lambda p: p.write_text('"def value(*a): return 0"'),
        "deeply nested": lambda p: p.write_text("[" * 100000 + "]" * 100000),
        "no digest": edit_record(lambda r: {k: v for k, v in r.items() if k != "sha256"}),
        "no source": edit_record(lambda r: {k: v for k, v in r.items() if k != "source"}),
        "no meta": edit_record(lambda r: {k: v for k, v in r.items() if k != "meta"}),
        "source not a string": edit_record(lambda r: {**r, "source": ["def value(): pass"]}),
        "meta not an object": edit_record(lambda r: {**r, "meta": None}),
        "verified not a bool": edit_record(lambda r: {**r, "verified": 1}),
        "digest not a string": edit_record(lambda r: {**r, "sha256": 5}),
        "wrong digest": edit_record(lambda r: {**r, "sha256": "0" * 64}),
        "meta edited": edit_record(lambda r: {**r, "meta": {**r["meta"], "args": list(reversed(r["meta"]["args"]))}}),
        "previous format": edit_record(lambda r: {k: r[k] for k in ("source", "meta", "verified")}),
        "another key": edit_record(lambda r: {**r, "key": "0" * 32}),
        "a directory": lambda p: (p.unlink(), p.mkdir()),
    }[kind]


MANGLED = ["truncated", "empty", "not UTF-8", "a JSON list", "a JSON string", "deeply nested", "no digest",
           "no source", "no meta", "source not a string", "meta not an object", "verified not a bool",
           "digest not a string", "wrong digest", "meta edited", "previous format", "another key", "a directory"]


@pytest.mark.parametrize("kind", MANGLED)
def test_malformed_entries_are_misses_and_are_rewritten(cache, kind):
    model = statvae.LinearVAE(3, 2)
    f = model.compile()
    expected = _value(f)
    p = _entry_file(cache, f)
    _mangle(kind)(p)
    assert C.load(p.stem) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)  # a directory in the way is a failed write ...
        if kind == "a directory":
            warnings.simplefilter("ignore", CacheWarning)  # ... that warns once
        g = model.compile()
    assert not g.cache_hit and _value(g) == expected
    if kind != "a directory":
        assert C.load(p.stem)["source"] == f.source


def test_an_entry_copied_under_another_key_is_a_miss(cache):
    a, b = statvae.LinearVAE(3, 2).compile(), statvae.LinearVAE(4, 2).compile()
    pa, pb = _entry_file(cache, a), _entry_file(cache, b)
    pb.write_bytes(pa.read_bytes())
    assert C.load(pb.stem) is None
    c = statvae.LinearVAE(4, 2).compile()
    assert not c.cache_hit and c.source == b.source


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_damaged_byte_gives_the_exact_entry_or_a_miss(tmp_path, monkeypatch, data):
    monkeypatch.setenv("STATVAE_CACHE_DIR", str(tmp_path / "h"))
    key = C.cache_key("hypothesis test entry")
    entry = {"source": "def value(x):\n    return 1.25 * x - 3e-2\n", "meta": {"args": ["x"], "n": [1, 2.5]},
             "verified": False}
    if C.load(key) is None:
        assert C.store(key, entry)
    p = tmp_path / "h" / f"{key}.json"
    raw = bytearray(p.read_bytes())
    original = bytes(raw)
    pos = data.draw(st.integers(0, len(raw) - 1))
    raw[pos] = data.draw(st.integers(0, 255).filter(lambda b: b != raw[pos]))
    p.write_bytes(bytes(raw))
    try:
        assert C.load(key) in (None, entry)
    finally:
        p.write_bytes(original)


# -- a cache that cannot be written -----------------------------------------------------------------------------------
@pytest.fixture
def readonly(cache, monkeypatch):
    """Make the (populated) cache directory read-only: chmod, or as root (where chmod does not stop writes) refuse
    every write and removal in it."""
    statvae.LinearVAE(3, 2).compile()
    assert C.count_entries() >= 1
    if ROOT:
        real_unlink, real_mkstemp = Path.unlink, tempfile.mkstemp

        def unlink(self, *a, **k):
            if Path(self).parent == cache:
                raise PermissionError(13, "Permission denied", str(self))
            return real_unlink(self, *a, **k)

        def mkstemp(*a, dir=None, **k):
            if dir is not None and Path(dir) == cache:
                raise PermissionError(13, "Permission denied", str(dir))
            return real_mkstemp(*a, dir=dir, **k)

        monkeypatch.setattr(Path, "unlink", unlink)
        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
        yield cache
    else:
        cache.chmod(0o500)
        try:
            yield cache
        finally:
            cache.chmod(0o700)


def test_clear_cache_raises_when_entries_cannot_be_removed(readonly):
    n = C.count_entries()
    with pytest.raises(StatvaeError) as info:
        C.clear_cache()
    msg = str(info.value)
    assert "\n" not in msg and str(readonly) in msg and f"{n} of {n}" in msg
    assert C.count_entries() == n


def test_cli_cache_clear_on_a_read_only_cache_exits_2_with_one_line(readonly, capsys):
    code = main(["cache", "--clear"])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and err.startswith("statvae: error:") and str(readonly) in err
    assert "removed" not in out and "Traceback" not in err


def test_cli_cache_show_and_clear(cache, capsys):
    statvae.LinearVAE(3, 2).compile()
    n = C.count_entries()
    assert main(["cache"]) == 0 and f"{n} entries" in capsys.readouterr().out
    assert main(["cache", "--clear"]) == 0 and f"removed {n} entries" in capsys.readouterr().out
    assert C.count_entries() == 0 and main(["cache", "--clear"]) == 0


def test_cache_path_that_is_a_file(tmp_path, monkeypatch, capsys):
    f = tmp_path / "not-a-dir"
    f.write_text("x")
    monkeypatch.setenv("STATVAE_CACHE_DIR", str(f))
    with pytest.raises(StatvaeError, match="not a directory"):
        C.clear_cache()
    assert main(["cache", "--clear"]) == 2 and capsys.readouterr().err.count("\n") == 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g = statvae.LinearVAE(3, 2).compile()
    assert [w.category for w in caught] == [CacheWarning] and not g.cache_hit
    assert f.read_text() == "x"


def test_compile_with_an_unwritable_cache_warns_once_and_is_correct(readonly):
    expected = _value(statvae.LinearVAE(3, 2).compile())
    model = statvae.ConditionalVAE(2, 3, 2)  # not cached yet: generation, verification and several writes
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f = model.compile()
        model.compile()
        statvae.LinearVAE(5, 2).compile()
    ours = [w for w in caught if issubclass(w.category, CacheWarning)]
    assert len(ours) == 1, [str(w.message) for w in caught]
    msg = str(ours[0].message)
    assert str(readonly) in msg and "not writable" in msg and "regenerated each run" in msg and "\n" not in msg
    assert ours[0].filename == __file__  # points at the caller, not at statvae's internals
    assert not f.cache_hit
    assert _value(statvae.LinearVAE(3, 2).compile()) == expected  # entries already there are still read
    assert not list(readonly.glob(".*.tmp"))


# -- concurrent compiles --------------------------------------------------------------------------------------------
CHILD = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    import numpy as np, statvae
    from statvae.numeric import random_parameters
    ready = Path(sys.argv[1])
    (ready / f"ready-{os.getpid()}").touch()
    while len(list(ready.glob("ready-*"))) < int(sys.argv[2]):  # start together
        time.sleep(0.005)
    f = statvae.LinearVAE(3, 2).compile()
    theta = random_parameters(f.layout, np.random.default_rng(3))
    print(repr(float(f.value(theta, spectrum=[3.0, 2.0, 1.0], sigma2=0.5))), f.cache_hit)
""")


def test_concurrent_compiles_into_one_empty_cache(tmp_path):
    cache, ready = tmp_path / "cache", tmp_path / "ready"
    ready.mkdir()
    n = 2
    env = {**os.environ, "STATVAE_CACHE_DIR": str(cache)}
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(ready), str(n)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(n)]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    values = {out.split()[0] for out, _ in results}
    assert len(values) == 1
    assert not [err for _, err in results if err.strip()]
    entries = sorted(cache.glob("*.json"))
    assert entries and not list(cache.glob(".*"))
    for p in entries:
        assert C._checked(json.loads(p.read_text()), p.stem) is not None
    assert time.perf_counter() - t0 < 60
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STATVAE_CACHE_DIR", str(cache))
        f = statvae.LinearVAE(3, 2).compile()
        theta = random_parameters(f.layout, np.random.default_rng(3))
        assert f.cache_hit and repr(float(f.value(theta, spectrum=[3.0, 2.0, 1.0], sigma2=0.5))) in values


def test_concurrent_compiles_in_threads(cache):
    from concurrent.futures import ThreadPoolExecutor

    model = statvae.LinearVAE(4, 2)
    with ThreadPoolExecutor(4) as pool:
        objs = list(pool.map(lambda _: model.compile(), range(4)))
    assert len({o.source for o in objs}) == 1
    assert all(C.load(p.stem) is not None for p in cache.glob("*.json")) and not list(cache.glob(".*"))
