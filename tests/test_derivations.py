"""Every derivation script passes its checks, and its outputs are the committed ones.

A changed output fails here with a diff: if the change is intended, regenerate with
``python derivations/regenerate.py`` and commit derivations/out/.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "derivations"
sys.path.insert(0, str(HERE))

import regenerate  # noqa: E402
from _common import Check, Derivation, Formula, Section, render_md, render_tex  # noqa: E402

KEYS = regenerate.scripts()


def test_there_is_a_script_per_published_result():
    assert {"seed_paper"} <= set(KEYS)


@pytest.mark.parametrize("key", KEYS)
def test_derivation_passes_its_checks_and_matches_its_committed_output(key):
    d = regenerate.load(key).derive()
    assert isinstance(d, Derivation) and d.key == key
    assert d.checks, f"{key} checks nothing"
    failed = [f"{c.claim} ({c.detail})" for c in d.checks if not c.passed]
    assert not failed, f"{key}: " + "; ".join(failed)
    for suffix, text in ((".tex", render_tex(d)), (".md", render_md(d))):
        path = HERE / "out" / f"{key}{suffix}"
        assert path.exists(), f"{path} missing: run python derivations/regenerate.py"
        old = path.read_text().splitlines()
        new = text.splitlines()
        diff = "\n".join(list(difflib.unified_diff(old, new, str(path), "regenerated", lineterm=""))[:30])
        assert old == new, f"{path.name} changed (regenerate if intended):\n{diff}"


def test_a_failed_check_fails_the_command_and_writes_nothing(tmp_path, capsys):
    from _common import main

    bad = Derivation("bad", "Bad", "nobody", "x", [Section("s", formulas=[Formula("a", "b")])],
                     [Check("one equals two", False, "1 != 2")])
    assert main(lambda: bad, ["--out", str(tmp_path)]) == 1
    assert not list(tmp_path.iterdir())
    assert "FAIL one equals two" in capsys.readouterr().out


def test_only_referenced_formulas_are_numbered():
    d = Derivation("k", "T", "R", "see [[eq:a]]", [Section("s", "", [Formula("a", "1", label="eq:a"), Formula("b", "2")])],
                   [Check("c", True, "")])
    tex, md = render_tex(d), render_md(d)
    assert r"\eqref{eq:a}" in tex and tex.count(r"\label{eq:") == 1
    assert "see (1)" in md and md.count(r"\tag{") == 1


def test_unknown_script_is_one_line(capsys):
    assert regenerate.main(["--check", "--only", "no_such_paper"]) == 2
    assert "no derivation named no_such_paper" in capsys.readouterr().err


def test_the_committed_document_is_assembled_from_the_committed_fragments():
    import document

    path = HERE / "out" / f"{document.NAME}.tex"
    assert path.exists(), f"{path} missing: run python derivations/regenerate.py"
    assert document.assemble(HERE / "out") == path.read_text(), \
        f"{path.name} is stale: run python derivations/regenerate.py"
