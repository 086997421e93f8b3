"""ruff (configured in pyproject.toml) passes on the package, the tests, the benchmarks and the derivations."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean():
    exe = shutil.which("ruff")
    if exe is None:
        try:
            import ruff  # noqa: F401
        except ImportError:
            pytest.skip("ruff is not installed (pip install 'statvae[test]')")
        cmd = [sys.executable, "-m", "ruff"]
    else:
        cmd = [exe]
    r = subprocess.run([*cmd, "check", "statvae", "tests", "benchmarks", "derivations"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
