"""Saved diagrams and phase diagrams: every field round-trips exactly, files are strict JSON, and anything
wrong with a file is one one-line :class:`statvae.errors.DataError` naming it (never another exception)."""

from __future__ import annotations

import copy
import importlib
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import statvae
from statvae.errors import DataError
from statvae.bifurcation import BifurcationDiagram, PhaseDiagram
from statvae.bifurcation.certify import certify_point
from statvae.bifurcation.diagram import Branch, encode_json
from statvae.bifurcation.locate import SpecialPoint

SUFFIXES = [".json", ".npz"]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("STATVAE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "statvae-cache"))


@pytest.fixture(scope="module")
def tracked():
    """A small tracked diagram (not certified) and its model."""
    model = statvae.LinearVAE(3, 2)
    return model, statvae.track(model, spectrum=[3, 2, 1], start=4, stop=0.5)


def _bits(a) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, dtype=np.float64)).view(np.uint64)


def _assert_bitwise(a, b):
    assert a is None and b is None or np.array_equal(_bits(a), _bits(b))


def _exact(x) -> str:
    """Text that differs whenever two values differ in any bit (NaN payloads and signs of zero included)."""
    return json.dumps(encode_json(x), sort_keys=True)


def _assert_same_diagram(d, e):
    assert e == d
    assert list(e.branches) == list(d.branches) and list(e.points) == list(d.points)
    for k, b in d.branches.items():
        c = e.branches[k]
        assert c == b
        _assert_bitwise(c.parameter, b.parameter)
        _assert_bitwise(c.theta, b.theta)
        np.testing.assert_array_equal(c.index, b.index)
        for name, v in b.data.items():
            _assert_bitwise(c.data[name], v)
    for k, s in d.points.items():
        t = e.points[k]
        assert _bits(t.parameter) == _bits(s.parameter) and _bits(t.interval).tolist() == _bits(s.interval).tolist()
        assert _exact(t.kernel) == _exact(s.kernel) and t.characters == s.characters and t.status == s.status
        _assert_bitwise(t.theta, s.theta)
        assert set(t.info) == set(s.info)
        assert t.info.get("coset_keys") == s.info.get("coset_keys")
        for u, v in zip(t.info.get("kernel_vectors", []), s.info.get("kernel_vectors", []), strict=True):
            _assert_bitwise(u, v)


def _one_line_naming(exc: DataError, path) -> str:
    msg = str(exc)
    assert "\n" not in msg and str(path) in msg, msg
    return msg


# -- every field, and certification after reloading ---------------------------------------------------------------
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_reloaded_diagram_is_equal_and_certifies_like_the_original(tracked, tmp_path, suffix):
    model, d = tracked
    d = copy.deepcopy(d)
    path = d.save(tmp_path / f"d{suffix}")
    e = BifurcationDiagram.load(path)
    _assert_same_diagram(d, e)
    located = [s for s in d.special_points("branch point", branch=0) if s.status == "located"]
    assert located and all(e.points[s.id].info.get("coset_keys") for s in located)
    for s in located:
        assert certify_point(model, e, s.id) == certify_point(model, d, s.id)
        assert e.points[s.id].status == "certified"
    # a certified diagram round-trips too
    _assert_same_diagram(e, BifurcationDiagram.load(e.save(tmp_path / f"c{suffix}")))


def test_saved_json_is_strict_and_keeps_nan_and_infinities_exactly(tracked, tmp_path):
    _, d = tracked
    d = copy.deepcopy(d)
    b = d.branches[0]
    b.data["elbo"][[0, 3]] = [np.nan, -np.inf]
    b.data["posterior_variance_z"][1, 1] = np.inf
    b.data["kl_total"][2] = -0.0
    b.theta[4, 2] = np.nan
    negative_nan = struct.unpack("<d", struct.pack("<Q", 0xFFF8000000000000))[0]
    b.parameter[-1] = negative_nan  # a NaN with its sign bit set keeps its bits
    s = d.points[0]
    s.precision = np.nan
    s.info["exponents"]["kl"] = np.inf
    s.info["__float__"] = "a key that looks like a marker"
    s.info["tricky"] = {"__float__": "nan"}  # a dict that looks like a marker stays a dict
    d.meta["odd"] = [np.nan, {"__array__": "a0"}, -np.inf]
    for suffix in SUFFIXES:
        path = d.save(tmp_path / f"d{suffix}")
        if suffix == ".json":
            text = path.read_text()
            strict = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
            json.dumps(strict, allow_nan=False)
        e = BifurcationDiagram.load(path)
        _assert_same_diagram(d, e)
        assert np.signbit(e.branches[0].data["kl_total"][2])
        assert e.points[0].info["tricky"] == {"__float__": "nan"}
        assert e.points[0].info["__float__"] == "a key that looks like a marker"
        assert e.meta["odd"][1] == {"__array__": "a0"} and np.isnan(e.meta["odd"][0])
    json.dumps(d.to_dict(), allow_nan=False)


def _tiny_diagram(parameter, index, elbo, theta, kernel_vector) -> BifurcationDiagram:
    n = len(parameter)
    d = BifurcationDiagram("sigma2", meta={"spectra": {"x": [2.0, 1.0]}, "values": {"beta": 1.0}})
    d.branches[0] = Branch(0, None, None, "collapsed", [], parameter, index, {"elbo": elbo, "w": theta[:, :2]},
                           theta, "end of range")
    d.branches[1] = Branch(1, 0, 0, "x1+z1", [3], parameter[:1], index[:1], {"elbo": elbo[:1]}, None, "done")
    sp = SpecialPoint(0, "branch point", 0, float(parameter[0]), (float(parameter[0]), float(parameter[-1])),
                      float(elbo[0]), "located", 1, [{0: float(kernel_vector[0])}], 1, ["x1+z1"],
                      theta[0].copy(), {"kernel_vectors": [kernel_vector], "coset_keys": [5], "note": float(elbo[-1])})
    d.points[0] = sp
    assert n >= 1
    return d


any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    hnp.arrays(np.float64, n, elements=any_float), hnp.arrays(np.int64, n, elements=st.integers(-3, 9)),
    hnp.arrays(np.float64, n, elements=any_float), hnp.arrays(np.float64, (n, 4), elements=any_float),
    hnp.arrays(np.float64, 4, elements=any_float))), st.sampled_from(SUFFIXES))
def test_random_nan_and_infinity_masks_round_trip_bitwise(tmp_path, arrays, suffix):
    d = _tiny_diagram(*arrays)
    path = d.save(tmp_path / f"h{suffix}")
    if suffix == ".json":
        json.dumps(json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(c)), allow_nan=False)
    _assert_same_diagram(d, BifurcationDiagram.load(path))
    _assert_same_diagram(d, BifurcationDiagram.from_dict(json.loads(json.dumps(d.to_dict(), allow_nan=False))))


def test_format_1_files_still_load(tracked, tmp_path):
    _, d = tracked
    tree = d.to_dict()
    tree["format"] = "statvae-diagram-1"
    for s in tree["points"]:
        del s["kernel_vectors"], s["coset_keys"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(tree))
    e = BifurcationDiagram.load(path)
    assert len(e.points) == len(d.points) and "coset_keys" not in e.points[0].info


# -- files that are not diagrams ------------------------------------------------------------------------------------
def _small_tree(tracked) -> dict:
    """Branch 0, one child branch and its origin (first point: kernel vectors, coset keys), one more point."""
    _, d = tracked
    child = next(b for b in d.branches.values() if b.parent == 0 and b.origin is not None)
    origin = d.points[child.origin]
    assert origin.branch == 0 and len(origin.info["coset_keys"]) >= 1
    other = copy.deepcopy(next(s for s in d.points.values() if s.id != origin.id))
    other.branch = 0
    small = BifurcationDiagram(d.parameter, meta=d.meta)
    small.branches = {0: d.branches[0], child.id: child}
    small.points = {origin.id: origin, other.id: other}
    return small.to_dict()


def _set(tree, path, value):
    node = tree
    for k in path[:-1]:
        node = node[k]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value


_DELETE = object()
BAD_TREES = {
    "list at top": lambda t: [t],
    "wrong format": lambda t: {**t, "format": "statvae-phase-1"},
    "no parameter": ("parameter", _DELETE),
    "meta not an object": ("meta", [1, 2]),
    "branches not a list": ("branches", {"0": {}}),
    "no points": ("points", _DELETE),
    "branch not an object": (("branches", 0), "branch"),
    "branch id a string": (("branches", 0, "id"), "0"),
    "branch id a bool": (("branches", 0, "id"), True),
    "duplicate branch id": (("branches", 1, "id"), 0),
    "no index": (("branches", 0, "index"), _DELETE),
    "index too short": lambda t: _shorten(t, ("branches", 0, "index")),
    "index of floats": lambda t: _apply(t, ("branches", 0, "index"), lambda v: [x + 0.5 for x in v]),
    "parameter empty": (("branches", 1, "parameter"), []),
    "parameter 2-D": lambda t: _apply(t, ("branches", 0, "parameter"), lambda v: [v]),
    "parameter holds strings": lambda t: _apply(t, ("branches", 0, "parameter"), lambda v: [str(x) for x in v]),
    "parameter a number": (("branches", 0, "parameter"), 1.5),
    "data row missing": lambda t: _shorten(t, ("branches", 0, "data", "elbo")),
    "data ragged": lambda t: _apply(t, ("branches", 0, "data", "posterior_variance_z"), lambda v: v[:-1] + [[1.0]]),
    "data not an object": (("branches", 0, "data"), [1.0]),
    "theta rows": lambda t: _shorten(t, ("branches", 0, "theta")),
    "theta 1-D": lambda t: _apply(t, ("branches", 0, "theta"), lambda v: v[0]),
    "span of strings": (("branches", 1, "span"), ["x"]),
    "parent unknown": (("branches", 1, "parent"), 99),
    "origin unknown": (("branches", 1, "origin"), 42),
    "label missing": (("branches", 1, "label"), _DELETE),
    "point id missing": (("points", 0, "id"), _DELETE),
    "point on no branch": (("points", 0, "branch"), 7),
    "interval of 3": (("points", 0, "interval"), [1.0, 2.0, 3.0]),
    "interval a number": (("points", 0, "interval"), 2.0),
    "parameter a string": (("points", 0, "parameter"), "3.0"),
    "kernel key not an index": lambda t: _apply(t, ("points", 0, "kernel", 0), lambda v: {"x": 1.0, **v}),
    "kernel key negative": lambda t: _apply(t, ("points", 0, "kernel", 0), lambda v: {"-1": 1.0, **v}),
    "kernel key out of range": lambda t: _apply(t, ("points", 0, "kernel", 0), lambda v: {"14": 1.0, **v}),
    "kernel value a string": lambda t: _apply(t, ("points", 0, "kernel", 0), lambda v: {k: "1" for k in v}),
    "kernel not a list": (("points", 0, "kernel"), {"0": 1.0}),
    "coset keys too few": lambda t: _shorten(t, ("points", 0, "coset_keys")),
    "coset keys without vectors": (("points", 0, "kernel_vectors"), None),
    "coset key a string": lambda t: _apply(t, ("points", 0, "coset_keys"), lambda v: [str(x) for x in v]),
    "kernel vector too short": lambda t: _apply(t, ("points", 0, "kernel_vectors"), lambda v: [v[0][:-1]] + v[1:]),
    "kernel vectors not a list": (("points", 0, "kernel_vectors"), 3),
    "info not an object": (("points", 0, "info"), []),
    "bad float marker": (("points", 0, "precision"), {"__float__": "huge"}),
    "bad nan bits": (("points", 0, "precision"), {"__float__": "nan:0000000000000001"}),
    "characters not strings": (("points", 0, "characters"), [1]),
    "spectra not numbers": (("meta", "spectra"), {"x": ["a"]}),
}


def _apply(tree, path, fn):
    node = tree
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = fn(node[path[-1]])
    return tree


def _shorten(tree, path):
    return _apply(tree, path, lambda v: v[:-1])


@pytest.mark.parametrize("case", list(BAD_TREES))
def test_structural_problems_are_one_data_error_naming_the_file(tracked, tmp_path, case):
    tree = _small_tree(tracked)
    BifurcationDiagram.from_dict(copy.deepcopy(tree))  # the unmodified tree is valid
    bad = BAD_TREES[case]
    if callable(bad):
        tree = bad(tree)
    else:
        where, value = bad
        _set(tree, where if isinstance(where, tuple) else (where,), value)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(tree))
    with pytest.raises(DataError) as info:
        BifurcationDiagram.load(path)
    _one_line_naming(info.value, path)
    with pytest.raises(DataError):
        BifurcationDiagram.from_dict(tree)


_WRONG = [None, True, -1, 2.5, "x", [], {}, [1, "a"], {"__float__": 1}]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_single_damage_loads_or_is_one_data_error(tracked, tmp_path, data):
    """Delete or replace any one node of a saved tree: a diagram or a DataError, never another exception."""
    tree = _small_tree(tracked)
    paths = []

    def walk(node, path):
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, path + (k,))
        elif isinstance(node, list):
            for k, v in enumerate(node[:3]):
                walk(v, path + (k,))

    walk(tree, ())
    where = data.draw(st.sampled_from(paths[1:]))
    value = data.draw(st.sampled_from([_DELETE] + _WRONG))
    if value is _DELETE and isinstance(where[-1], int):
        value = None
    _set(tree, where, value)
    path = tmp_path / "damaged.json"
    path.write_text(json.dumps(tree))
    try:
        BifurcationDiagram.load(path)
    except DataError as exc:
        _one_line_naming(exc, path)


def test_file_problems_are_one_data_error(tracked, tmp_path):
    _, d = tracked
    good_json, good_npz = d.save(tmp_path / "good.json"), d.save(tmp_path / "good.npz")
    (tmp_path / "dir.json").mkdir()
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "garbage.json").write_text("{'not': json}")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00\x01")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "deep.json").write_text("[" * 100000 + "]" * 100000)
    (tmp_path / "truncated.json").write_text(good_json.read_text()[:500])
    (tmp_path / "json.npz").write_text(good_json.read_text())
    np.save(tmp_path / "array.npy", np.arange(3.0))
    os.replace(tmp_path / "array.npy", tmp_path / "array.npz")
    np.savez(tmp_path / "nometa.npz", a0=np.arange(3.0))
    np.savez(tmp_path / "missing.npz", __meta__=np.array(json.dumps({"format": "statvae-diagram-2",
                                                                       "x": {"__array__": "a7"}})))
    np.savez(tmp_path / "metalist.npz", __meta__=np.array("[1]"))
    (tmp_path / "d.txt").write_text(good_json.read_text())
    cases = {"missing.json": "not found", "dir.json": "directory", "empty.json": "not valid JSON",
             "garbage.json": "not valid JSON", "binary.json": "UTF-8", "list.json": "JSON object",
             "deep.json": "not", "truncated.json": "not valid JSON", "json.npz": "not an npz archive",
             "array.npz": "not an npz archive", "nometa.npz": "__meta__", "missing.npz": "missing",
             "metalist.npz": "object", "d.txt": ".json or .npz"}
    for name, needle in cases.items():
        with pytest.raises(DataError) as info:
            BifurcationDiagram.load(tmp_path / name)
        assert needle in _one_line_naming(info.value, tmp_path / name), name
    for bad in (3, None, ["a.json"]):
        with pytest.raises(DataError):
            BifurcationDiagram.load(bad)
    assert BifurcationDiagram.load(good_npz) == d


def test_truncated_or_damaged_npz_is_one_data_error(tracked, tmp_path):
    _, d = tracked
    raw = d.save(tmp_path / "good.npz").read_bytes()
    cuts = sorted({0, 1, 3, 4, 30, 100, len(raw) // 2, len(raw) - 100, len(raw) - 22, len(raw) - 1}
                  | set(range(0, len(raw), max(1, len(raw) // 40))))
    for n in cuts:
        path = tmp_path / f"cut{n}.npz"
        path.write_bytes(raw[:n])
        with pytest.raises(DataError) as info:
            BifurcationDiagram.load(path)
        _one_line_naming(info.value, path)
    rng = np.random.default_rng(0)
    for k in range(30):  # damaged bytes: a diagram identical to the saved one, or one DataError
        b = bytearray(raw)
        b[int(rng.integers(len(b)))] ^= 0xFF
        path = tmp_path / f"flip{k}.npz"
        path.write_bytes(bytes(b))
        try:
            BifurcationDiagram.load(path)
        except DataError as exc:
            _one_line_naming(exc, path)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_is_one_data_error(tracked, tmp_path):
    path = tracked[1].save(tmp_path / "secret.json")
    path.chmod(0)
    try:
        with pytest.raises(DataError) as info:
            BifurcationDiagram.load(path)
        _one_line_naming(info.value, path)
    finally:
        path.chmod(0o600)


def test_unreadable_file_simulated(tracked, tmp_path, monkeypatch):
    path = tracked[1].save(tmp_path / "secret.json")

    def refuse(self, *a, **k):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(DataError) as info:
        BifurcationDiagram.load(path)
    assert "Permission denied" in _one_line_naming(info.value, path)


def test_save_problems_are_one_data_error_and_leave_no_partial_file(tracked, tmp_path, monkeypatch):
    _, d = tracked
    (tmp_path / "dir.json").mkdir()
    for bad, needle in ((tmp_path / "d.txt", ".json or .npz"), (tmp_path / "no" / "d.json", "does not exist"),
                        (tmp_path / "dir.json", "directory"), (3, "file path")):
        with pytest.raises(DataError) as info:
            d.save(bad)
        assert needle in str(info.value) and "\n" not in str(info.value)
    path = d.save(tmp_path / "keep.json")
    before = path.read_bytes()
    D = importlib.import_module("statvae.bifurcation.diagram")  # statvae.track is also the name of a function
    real_replace = os.replace

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(D.os, "replace", full_disk)
    with pytest.raises(DataError) as info:
        d.save(path)
    assert "No space left" in _one_line_naming(info.value, path)
    monkeypatch.setattr(D.os, "replace", real_replace)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["dir.json", "keep.json"]


# -- phase diagrams -------------------------------------------------------------------------------------------------
def _phase() -> PhaseDiagram:
    return PhaseDiagram("sigma2", "beta", [
        {"along": np.array([0.5, 1.0, 1.5]), "parameter": np.array([6.0, np.nan, -np.inf]), "kernel_dim": 2,
         "label": "branch point 1 (x1+z1...)"},
        {"along": np.array([0.5]), "parameter": np.array([4.0]), "kernel_dim": 1, "label": "branch point 2"}],
        {"model": "m", "spectra": {"x": [3.0, 2.0, 1.0]}, "values": {}, "odd": np.inf})


def test_phase_diagram_round_trip_is_strict_and_exact(tmp_path):
    ph = _phase()
    path = ph.save(tmp_path / "p.json")
    json.dumps(json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(c)), allow_nan=False)
    q = PhaseDiagram.load(path)
    assert q == ph
    for a, b in zip(q.loci, ph.loci):
        _assert_bitwise(a["along"], b["along"])
        _assert_bitwise(a["parameter"], b["parameter"])
        assert a["kernel_dim"] == b["kernel_dim"] and a["label"] == b["label"]
    json.dumps(ph.to_dict(), allow_nan=False)


@pytest.mark.parametrize("damage,needle", [
    (lambda t: [t], "JSON object"),
    (lambda t: {k: v for k, v in t.items() if k != "loci"}, "'loci'"),
    (lambda t: {**t, "loci": {"a": 1}}, "'loci'"),
    (lambda t: {**t, "loci": [1]}, "locus 1"),
    (lambda t: _apply(t, ("loci", 0, "parameter"), lambda v: v[:-1]), "2 entries, expected 3"),
    (lambda t: _apply(t, ("loci", 0, "along"), lambda v: "x"), "'along'"),
    (lambda t: _apply(t, ("loci", 1, "kernel_dim"), lambda v: "2"), "kernel_dim"),
    (lambda t: _apply(t, ("loci", 1, "label"), lambda v: None), "label"),
    (lambda t: {**t, "meta": None}, "meta"),
    (lambda t: {**t, "along": 3}, "along"),
    (lambda t: {**t, "format": "statvae-diagram-2"}, "format"),
])
def test_phase_diagram_problems_are_one_data_error(tmp_path, damage, needle):
    tree = damage(_phase().to_dict())
    path = tmp_path / "p.json"
    path.write_text(json.dumps(tree))
    with pytest.raises(DataError) as info:
        PhaseDiagram.load(path)
    assert needle in _one_line_naming(info.value, path)


def test_phase_diagram_file_problems(tmp_path):
    (tmp_path / "dir.json").mkdir()
    (tmp_path / "bad.json").write_text("{")
    _phase().save(tmp_path / "p.json")
    os.replace(tmp_path / "p.json", tmp_path / "p.npz")
    for name, needle in (("missing.json", "not found"), ("dir.json", "directory"), ("bad.json", "not valid JSON"),
                         ("p.npz", ".json")):
        with pytest.raises(DataError) as info:
            PhaseDiagram.load(tmp_path / name)
        assert needle in _one_line_naming(info.value, tmp_path / name)
    with pytest.raises(DataError, match=".json"):
        _phase().save(tmp_path / "p.npz")
