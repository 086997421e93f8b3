"""Run the benchmark suite with one command and regenerate the tables of docs/performance.md.

    python benchmarks/run.py                 # every benchmark, full size
    python benchmarks/run.py --quick         # the benchmarks that have a quick mode, small sizes
    python benchmarks/run.py --only certify startup
    python benchmarks/run.py --update-docs   # also rewrite the tables in docs/performance.md

Each benchmark is a script of this directory that prints markdown (its tables, ratios measured side by
side in one run).  Its output is kept in ``benchmarks/results/<name>.md`` with the exact command, the
date and the machine; with ``--update-docs`` it replaces the text between the markers
``<!-- bench:<name> -->`` and ``<!-- /bench:<name> -->`` of docs/performance.md (sections without
markers are left alone, and a benchmark that fails leaves its section unchanged).

What the suite reports, side by side in one run: compiled numerics against the hand-written numpy reference
and JAX (``numeric``, ``binding``; JAX is optional and skipped with a message when absent), statvae's
thresholds against the closed-form list ``lambda_i / beta`` (``thresholds``), the tracker at several N and n
with the fitted exponents of its time in N and in n (``scaling``), products by structured data (``tracker``,
``lowrank``), certification, the self-check and start-up.  Headline figures (lines a benchmark writes to
stderr as ``SUMMARY ...``, see ``timing.summary``) are repeated at the end.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DOCS = ROOT / "docs" / "performance.md"

#: Environment of benchmarks that time BLAS-heavy code in CPU seconds: one BLAS thread (spinning threads of a
#: loaded machine otherwise count as CPU time).
SINGLE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
#: (numeric, binding, thresholds, scaling and lowrank set it themselves, through ``timing``, unless given.)
ENV: dict[str, dict[str, str]] = {"tracker": SINGLE_THREAD, "selfcheck": SINGLE_THREAD}

#: name -> (script, arguments for the full run, arguments for --quick or None when it has no quick mode)
BENCHMARKS: dict[str, tuple[str, list[str], list[str] | None]] = {
    "symbolic": ("bench_symbolic.py", [], ["--quick"]),
    "numeric": ("bench_numeric.py", [], ["--quick"]),
    "binding": ("bench_binding.py", [], ["--quick"]),
    "thresholds": ("bench_thresholds.py", [], ["--quick"]),
    "scaling": ("bench_scaling.py", [], ["--quick"]),
    "lowrank": ("bench_lowrank.py", [], ["--quick"]),
    "tracker": ("bench_tracker.py", [], ["--quick"]),
    "certify": ("bench_certify.py", [], None),
    "selfcheck": ("bench_selfcheck.py", [], ["--quick"]),
    "startup": ("bench_startup.py", [], ["--repeats", "3"]),
}


def command(name: str, quick: bool) -> list[str]:
    """The command line of one benchmark."""
    script, full, fast = BENCHMARKS[name]
    return [sys.executable, str(HERE / script)] + (fast if quick and fast is not None else full)


SUMMARY_PREFIX = "SUMMARY "


def run(name: str, quick: bool) -> tuple[bool, str, float, list[str]]:
    """``(ok, markdown output, seconds, summary lines)`` of one benchmark."""
    cmd = command(name, quick)
    if not Path(cmd[1]).exists():
        return False, f"(no {Path(cmd[1]).name} in benchmarks/)", 0.0, []
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **ENV.get(name, {})})
    seconds = time.perf_counter() - t0
    err = res.stderr.strip().splitlines()
    summaries = [line[len(SUMMARY_PREFIX):] for line in err if line.startswith(SUMMARY_PREFIX)]
    if res.returncode != 0:
        other = [line for line in err if not line.startswith(SUMMARY_PREFIX)]
        return False, (other or ["failed"])[-1], seconds, summaries
    return True, res.stdout.strip(), seconds, summaries


def replace_section(text: str, name: str, body: str) -> tuple[str, bool]:
    """``text`` with the lines between the markers of ``name`` replaced by ``body``."""
    pattern = re.compile(rf"(<!-- bench:{re.escape(name)} -->\n)(?:.*?\n)?(<!-- /bench:{re.escape(name)} -->)", re.S)
    if not pattern.search(text):
        return text, False
    return pattern.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(2), text), True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes where a benchmark has a quick mode")
    ap.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run only these")
    ap.add_argument("--update-docs", action="store_true", help="rewrite the marked tables of docs/performance.md")
    args = ap.parse_args(argv)
    names = args.only or list(BENCHMARKS)
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = f"{datetime.date.today()} on {platform.node() or 'this machine'} ({os.cpu_count()} cores)"
    failed = []
    headlines: list[str] = []
    t_all = time.perf_counter()
    for name in names:
        env = " ".join(f"{k}={v}" for k, v in ENV.get(name, {}).items())
        cmd = " ".join(([env] if env else []) + ["python"]
                       + [str(Path(c).relative_to(ROOT)) if c.startswith(str(ROOT)) else c
                          for c in command(name, args.quick)[1:]])
        print(f"== {name}: {cmd}", flush=True)
        ok, body, seconds, summaries = run(name, args.quick)
        headlines += summaries
        print(body if ok else f"FAILED: {body}", flush=True)
        print(f"({seconds:.0f} s)\n", flush=True)
        if not ok:
            failed.append(name)
            continue
        (out_dir / f"{name}.md").write_text(f"Command: `{cmd}` ({stamp})\n\n{body}\n")
        if args.update_docs:  # read and written at once per section: others may edit the file meanwhile
            docs, found = replace_section(DOCS.read_text(), name, f"Command: `{cmd}` ({stamp}).\n\n{body}")
            if found:
                DOCS.write_text(docs)
            else:
                print(f"(docs/performance.md has no bench:{name} markers: not updated)")
    if headlines:
        print("== summary")
        for line in headlines:
            print(f"* {line}")
    print(f"({time.perf_counter() - t_all:.0f} s in all)")
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
