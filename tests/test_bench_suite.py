"""The benchmark suite's own machinery: docs sections rewritten between their markers, log-log exponents.

The benchmarks themselves are timed runs (``python benchmarks/run.py``), not tests; what they compute
from their timings, and how they rewrite docs/performance.md, is tested here.
"""

from __future__ import annotations

import importlib.util
import math
import re
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}_module", BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(BENCH))
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(BENCH))
    return mod


run = _load("run")
timing = _load("timing")


def test_replace_section_fills_only_its_markers():
    text = ("intro\n<!-- bench:a -->\nold a\nmore\n<!-- /bench:a -->\nkept\n"
            "<!-- bench:b -->\n<!-- /bench:b -->\n<!-- bench:ab -->\nx\n<!-- /bench:ab -->\nend")
    out, found = run.replace_section(text, "a", "new a")
    assert found and "old a" not in out and "new a" in out and "kept" in out and "\nx\n" in out
    out, found = run.replace_section(out, "b", "new b\n")  # an empty pair is filled too
    assert found and "<!-- bench:b -->\nnew b\n<!-- /bench:b -->" in out
    again, _ = run.replace_section(out, "b", "newer b")  # and rewritten again
    assert "new b" not in again and "newer b" in again
    same, found = run.replace_section(out, "missing", "body")
    assert not found and same == out
    assert out.startswith("intro\n") and out.endswith("end")


def test_every_marked_docs_section_has_a_benchmark():
    docs = (BENCH.parent / "docs" / "performance.md").read_text()
    opened = re.findall(r"^<!-- bench:(\w+) -->$", docs, re.M)
    closed = re.findall(r"^<!-- /bench:(\w+) -->$", docs, re.M)
    assert sorted(opened) == sorted(closed) and len(set(opened)) == len(opened)
    assert set(opened) <= set(run.BENCHMARKS)
    for name, (script, _, _) in run.BENCHMARKS.items():
        assert (BENCH / script).exists(), name


@settings(max_examples=30, deadline=None)
@given(p=st.floats(-3, 3), c=st.floats(1e-3, 1e3), xs=st.lists(st.floats(0.5, 1e4), min_size=2, max_size=8,
                                                                  unique=True))
def test_loglog_slope_recovers_a_power_law(p, c, xs):
    if max(xs) / min(xs) < 1.5:
        return
    assert timing.loglog_slope(xs, [c * x ** p for x in xs]) == pytest.approx(p, abs=1e-9)


def test_loglog_slope_is_least_squares():
    x, y = [1.0, 2.0, 4.0], [1.0, 3.0, 5.0]
    lx, ly = [math.log(v) for v in x], [math.log(v) for v in y]
    mx, my = sum(lx) / 3, sum(ly) / 3
    expected = sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)
    assert timing.loglog_slope(x, y) == pytest.approx(expected, rel=1e-14)


def test_summary_lines_go_to_stderr(capsys):
    timing.summary("numeric 8 x 2: 1.5")
    out, err = capsys.readouterr()
    assert out == "" and err == f"{run.SUMMARY_PREFIX}numeric 8 x 2: 1.5\n"
