"""The type checker passes: `mypy` with the configuration in pyproject.toml (strict on the public API).

Skipped with a message when mypy is not installed (it is in the ``test`` extra).
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_passes():
    pytest.importorskip("mypy", reason="mypy is not installed (pip install -e .[test])")
    cache = Path(tempfile.gettempdir()) / "statvae-mypy-cache"
    res = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(cache), "--no-error-summary"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    errors = [line for line in res.stdout.splitlines() if ": error:" in line]
    assert res.returncode == 0, "mypy found errors:\n" + "\n".join(errors or [res.stdout, res.stderr])


def test_strict_modules_are_configured():
    """The strict block of pyproject.toml names modules that exist (a typo would silently check nothing)."""
    import importlib.util

    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11")

    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    strict = [o for o in conf.get("overrides", []) if o.get("disallow_untyped_defs")]
    assert strict, "no strict block in [tool.mypy.overrides]"
    for mod in strict[0]["module"]:
        assert importlib.util.find_spec(mod) is not None, f"{mod} in the strict block is not a module"

