"""The documentation site builds with every warning an error, its tutorials run, and it points only inside the repository.

The build (``sphinx-build -W -b html docs <tmp>``, about 20 s) skips with a message where Sphinx, MyST or
numpydoc is not installed (``pip install '.[docs]'``).  The tutorials run as doctests without Sphinx.
"""

from __future__ import annotations

import doctest
import importlib.util
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

#: Tutorials that run as doctests here (docs/tutorials/notebook.md runs in tests/test_repr_latex.py).
TUTORIALS = ["quickstart", "derive-threshold", "export-latex"]


def _pages() -> list[Path]:
    return [p for p in sorted(DOCS.rglob("*")) if p.suffix in (".md", ".rst") and "_build" not in p.parts]


def test_sphinx_build_without_warnings(tmp_path):
    for module, package in (("sphinx", "sphinx"), ("myst_parser", "myst-parser"), ("numpydoc", "numpydoc")):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{package} is not installed: the documentation site is not built "
                        f"(pip install '.[docs]')")
    out = tmp_path / "html"
    res = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-d",
                          str(tmp_path / "doctrees"), str(DOCS), str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert res.returncode == 0, f"sphinx-build -W failed:\n{res.stderr[-5000:]}"
    assert "WARNING" not in res.stderr, res.stderr
    # the pages the site promises, each with what makes it that page
    expect = {
        "index.html": ["Getting started", "Tutorials", "Citing statvae", "cff-version"],
        "tutorials/quickstart.html": ["Quick start", "What the VAE learns"],
        "tutorials/derive-threshold.html": ["Derive a threshold", "Check it independently"],
        "tutorials/export-latex.html": ["Export LaTeX", "Into a document"],
        "tutorials/notebook.html": ["Formulas in a notebook", "The optimum"],
        "theory.html": ["per-mode"],
        "custom-models.html": ["twoview"],
        "tracking.html": ["branch"],
        "optimum.html": ["diagnose"],
        "derivations.html": ["re-derived by statvae", "regenerate.py"],
        "derivations/landau.html": ["Landau"], "derivations/dang2024.html": ["Schur"],
        "performance.html": ["CPU"],
        "api/analysis.html": ["CollapseAnalysis", "CriticalResult", "OptimumResult"],
        "api/statvae.html": ["LinearVAE", "load_model"],
        "api/latex.html": ["latex_math"],
    }
    expect["validation.html" if (DOCS / "validation.md").exists() else "tutorials/validation-coming.html"] = \
        ["validate"]
    for page, words in expect.items():
        html = (out / page).read_text(encoding="utf-8")
        for w in words:
            assert w in html, f"{page} lacks {w!r}"
    assert "mathjax" in (out / "tutorials" / "notebook.html").read_text(encoding="utf-8").lower()


def test_validation_page_or_its_stub(tmp_path):
    """The index links docs/validation.md when it exists and the stub that says it is coming otherwise."""
    spec = importlib.util.spec_from_file_location("statvae_docs_conf", DOCS / "conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    assert "\nvalidation\n" in index and (DOCS / "tutorials" / "validation-coming.md").exists()
    for exists in (True, False):
        conf.DOCS = tmp_path / str(exists)
        conf.DOCS.mkdir()
        if exists:
            (conf.DOCS / "validation.md").write_text("# Validate\n")
        source = [index]
        conf._validation_page(types.SimpleNamespace(), "index", source)
        assert ("\nvalidation\n" in source[0]) is exists
        assert ("\ntutorials/validation-coming\n" in source[0]) is not exists


@pytest.mark.parametrize("name", TUTORIALS)
def test_tutorial_runs(name):
    here = os.getcwd()
    os.chdir(ROOT)  # the tutorials read docs/examples/... as a user in a checkout would
    try:
        res = doctest.testfile(str(DOCS / "tutorials" / f"{name}.md"), module_relative=False,
                               optionflags=doctest.NORMALIZE_WHITESPACE)
    finally:
        os.chdir(here)
    assert res.failed == 0 and res.attempted >= 8


def test_docs_refer_only_to_the_repository():
    """Links, includes and repository paths in docs/ resolve to files of the repository."""
    path = re.compile(r"`((?:docs|tests|statvae|benchmarks|derivations|\.ci)/[^`\s*{<]*)`")
    link = re.compile(r"\]\(([^)#\s]+)")
    include = re.compile(r"```\{(?:include|literalinclude)\}\s+(\S+)|^\.\. (?:include|literalinclude)::\s+(\S+)", re.M)
    bad = []
    for page in _pages():
        text = page.read_text(encoding="utf-8")
        for word in ("../shared", "THEORY.md", "/work/", "seed/000_"):
            if word in text:
                bad.append(f"{page.relative_to(ROOT)}: mentions {word}")
        for m in path.finditer(text):
            target = m.group(1).rstrip(".,;:").split("::")[0]
            if not (ROOT / target).exists():
                bad.append(f"{page.relative_to(ROOT)}: `{target}` is not in the repository")
        targets = [m.group(1) for m in link.finditer(text) if not m.group(1).startswith(("http://", "https://"))]
        targets += [m.group(1) or m.group(2) for m in include.finditer(text)]
        for t in targets:
            resolved = (page.parent / t).resolve()
            if not resolved.exists() or ROOT not in resolved.parents:
                bad.append(f"{page.relative_to(ROOT)}: {t} does not resolve inside the repository")
    assert not bad, "\n".join(bad)


def test_docs_extra_installs_the_site():
    cfg = (ROOT / "setup.cfg").read_text()
    docs = re.search(r"^docs =\n((?:    .+\n)+)", cfg, re.M)
    assert docs, "setup.cfg has no docs extra"
    names = {re.split(r"[<>=\[ ]", line.strip())[0] for line in docs.group(1).splitlines()}
    assert {"sphinx", "pydata-sphinx-theme", "numpydoc", "myst-parser"} <= names
    readme = (ROOT / "README.md").read_text()
    assert "pip install '.[docs]' && sphinx-build docs docs/_build/html" in readme
    assert "CITATION.cff" in readme
