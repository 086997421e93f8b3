"""Start-up cost of statvae, side by side: process CPU time of short commands against ``import numpy``.

Run from the repository root, with the package's virtual environment active::

    python benchmarks/bench_startup.py [--repeats 7]

Each command runs in a fresh process; its CPU time (user + system) is the
``resource.getrusage(RUSAGE_CHILDREN)`` difference around
``subprocess.run``.  The commands are interleaved, repeated, and the median
is reported with its ratio to ``python -c 'import numpy'``.  The warm
``statvae critical`` runs once first, with ``STATVAE_CACHE_DIR`` pointing at
a temporary directory, so that the measured runs find the compiled code, the
per-mode structure and the collapse plan in the cache.  The same command
with ``STATVAE_NO_PLAN=1`` (the full path with everything else cached: what
a warm run cost before the plans) is measured in the same rounds.  Prints a
markdown table.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile

PY = sys.executable


def _statvae() -> list[str]:
    """The ``statvae`` console script next to this interpreter (else ``python -m statvae``)."""
    exe = os.path.join(os.path.dirname(PY), "statvae")
    return [exe] if os.path.exists(exe) else [PY, "-m", "statvae"]


#: The warm ``statvae critical`` measured (the command of issue 10).
CRITICAL = ["critical", "--spectrum", "3,2,1", "--latent-dim", "2"]


def commands() -> list[tuple[str, list[str], dict[str, str]]]:
    """The measured commands: ``(label, argv, extra environment)``.

    Returns
    -------
    list of tuple
        Label, argument vector and environment variables of each command, the reference first.
    """
    sv = _statvae()
    return [
        ("python -c 'import numpy'", [PY, "-c", "import numpy"], {}),
        ("python -c 'import numpy, sympy, networkx'", [PY, "-c", "import numpy, sympy, networkx"], {}),
        ("python -c 'import statvae'", [PY, "-c", "import statvae"], {}),
        ("statvae --help", [*sv, "--help"], {}),
        ("statvae critical --spectrum 3,2,1 --latent-dim 2 (warm: collapse plan)", [*sv, *CRITICAL], {}),
        ("statvae critical --spectrum 3,2,1 --latent-dim 2 --json (warm: collapse plan)", [*sv, *CRITICAL, "--json"],
         {}),
        ("statvae critical --spectrum 3,2,1 --latent-dim 2 (warm, full path: STATVAE_NO_PLAN=1)", [*sv, *CRITICAL],
         {"STATVAE_NO_PLAN": "1"}),
    ]


def cpu_time(argv: list[str], env: dict[str, str]) -> float:
    """CPU time (user + system, seconds) of one run of ``argv`` in a child process.

    Parameters
    ----------
    argv : list of str
        The command.
    env : dict
        Its environment.

    Returns
    -------
    float
        Seconds of CPU time.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(repeats: int) -> list[tuple[str, float]]:
    """Median CPU time of each command over ``repeats`` interleaved rounds (warm cache).

    Parameters
    ----------
    repeats : int
        Rounds of measurement.

    Returns
    -------
    list of tuple
        ``(label, median seconds)`` per command.
    """
    cache = tempfile.mkdtemp(prefix="statvae-bench-startup-")
    env = {k: v for k, v in os.environ.items() if k not in ("STATVAE_NO_PLAN", "STATVAE_DATA_STRUCTURE")}
    env["STATVAE_CACHE_DIR"] = cache
    try:
        cmds = commands()
        for _, argv, extra in cmds:  # warm: the cache (compiled code, structure, plan) and the OS's file cache
            cpu_time(argv, {**env, **extra})
        times: dict[str, list[float]] = {label: [] for label, _, _ in cmds}
        for _ in range(repeats):
            for label, argv, extra in cmds:
                times[label].append(cpu_time(argv, {**env, **extra}))
        return [(label, statistics.median(times[label])) for label, _, _ in cmds]
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def table(results: list[tuple[str, float]]) -> str:
    """The results as a markdown table, with ratios to the first command.

    Parameters
    ----------
    results : list of tuple
        ``(label, seconds)``, the reference first.

    Returns
    -------
    str
        The table.
    """
    ref = results[0][1]
    lines = ["| command | CPU time (s) | / `import numpy` |", "|---|---|---|"]
    lines += [f"| `{label}` | {t:.3f} | {t / ref:.2f} |" for label, t in results]
    return "\n".join(lines)


def main() -> None:
    """Measure and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7, help="interleaved rounds (default 7); the median is reported")
    args = ap.parse_args()
    print(f"median of {args.repeats} runs, process CPU time (user + system), {os.cpu_count()} CPUs, "
          f"python {sys.version.split()[0]}\n")
    print(table(measure(args.repeats)))


if __name__ == "__main__":
    main()
