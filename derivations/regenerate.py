"""Regenerate every derivation (fragments, pages, the assembled document), or check that nothing changed.

Run from anywhere::

    python derivations/regenerate.py            # run every script's checks, write derivations/out/
    python derivations/regenerate.py --check    # the same into a temporary directory; exit 1 if a check
                                                # fails or an output differs from the committed one
    python derivations/regenerate.py --only landau seed_paper

A derivation script is every ``derivations/*.py`` that defines ``derive()`` (not ``_common``, this file or
``document``).  After the scripts, ``derivations/document.py`` assembles the standalone LaTeX document when
it exists.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOT_SCRIPTS = {"_common", "regenerate", "document"}


def scripts() -> list[str]:
    """The keys of the derivation scripts, in a stable order."""
    return sorted(p.stem for p in HERE.glob("*.py") if p.stem not in NOT_SCRIPTS and not p.stem.startswith("_"))


def load(key: str):
    """Import ``derivations/<key>.py`` and return the module."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    return importlib.import_module(key)


def run(keys: list[str], out: Path) -> list[str]:
    """Derive and write each key into ``out``; return the failures, one line each."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    from _common import write

    failures = []
    for key in keys:
        t0 = time.perf_counter()
        d = load(key).derive()
        bad = [c for c in d.checks if not c.passed]
        for c in bad:
            failures.append(f"{key}: check failed: {c.claim} ({c.detail})")
        if not bad:
            write(d, out)
        print(f"{key:24s} {len(d.checks) - len(bad)}/{len(d.checks)} checks passed  "
              f"{time.perf_counter() - t0:5.1f} s", flush=True)
    return failures


def compare(keys: list[str], new: Path, old: Path) -> list[str]:
    """Differences between the outputs in ``new`` and the committed ones in ``old``."""
    diffs = []
    for key in keys:
        for suffix in (".tex", ".md"):
            a, b = old / f"{key}{suffix}", new / f"{key}{suffix}"
            if not b.exists():
                continue  # its check failed: reported already
            before = a.read_text().splitlines() if a.exists() else []
            after = b.read_text().splitlines()
            if before != after:
                diff = "\n".join(list(difflib.unified_diff(before, after, str(a), "regenerated", lineterm=""))[:40])
                diffs.append(f"{a.name} changed:\n{diff}")
    return diffs


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the committed outputs, write nothing")
    ap.add_argument("--only", nargs="+", metavar="KEY", help="only these scripts")
    ap.add_argument("--out", default=str(HERE / "out"), help="output directory (default: derivations/out)")
    args = ap.parse_args(argv)
    keys = scripts()
    if args.only:
        unknown = sorted(set(args.only) - set(keys))
        if unknown:
            print(f"regenerate: no derivation named {', '.join(unknown)} (have: {', '.join(keys)})", file=sys.stderr)
            return 2
        keys = [k for k in keys if k in args.only]
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            problems = run(keys, Path(tmp)) + compare(keys, Path(tmp), Path(args.out))
    else:
        problems = run(keys, Path(args.out))
        document = HERE / "document.py"
        if not problems and document.exists() and not args.only:
            r = subprocess.run([sys.executable, str(document), "--out", args.out])
            if r.returncode:
                problems.append(f"document.py exited with status {r.returncode}")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return 1
    print("all derivations passed" + (" and match the committed outputs" if args.check else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
