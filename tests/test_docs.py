"""The README's worked example and the docstring examples print what the code prints."""

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import statvae

ROOT = Path(__file__).resolve().parents[1]


def test_readme_examples():
    res = doctest.testfile(str(ROOT / "README.md"), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0


def test_custom_models_tutorial():
    """docs/custom-models.md runs as written (from the repository root, where its paths point)."""
    import os

    here = os.getcwd()
    os.chdir(ROOT)
    try:
        res = doctest.testfile(str(ROOT / "docs" / "custom-models.md"), module_relative=False,
                               optionflags=doctest.NORMALIZE_WHITESPACE)
    finally:
        os.chdir(here)
    assert res.failed == 0 and res.attempted > 30


MODULES = [m.name for m in pkgutil.walk_packages(statvae.__path__, "statvae.") if not m.name.endswith("__main__")]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0


def test_readme_has_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_cmd = ("python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 && "
                "pip install '.[test]' && python -m pytest")
    assert test_cmd in readme and test_cmd in ci
    assert "pip install '.[data]' && statvae critical --dataset digits" in readme
