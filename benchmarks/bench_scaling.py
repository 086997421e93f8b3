"""How the tracker's time grows with N and with n: timings at several sizes and fitted exponents (issue 10).

Run:  python benchmarks/bench_scaling.py [--quick] [--repeats 3]

``statvae.track(LinearVAE(N, n), spectrum=s, parameter="sigma2", start=6, stop=1)`` on the spectrum
``s = (4, 3, 2, 1.5, then N - 4 values from 0.6 down to 0.1)``: four thresholds in range whatever N, so every size
does the same continuation work (four branch points of kernel n on the collapsed branch).  Two workloads:

* the full diagram (the default options: branch switching at every branch point);
* the collapsed branch alone (``switching=False``).

Sizes: N in 32, 64, 128, 256 (and 512 without ``--quick``) at n = 4, and n in 2, 4, 8, 16 at N = 64.  Every run
checks that the collapsed branch's branch points are the closed-form thresholds 4, 3, 2, 1.5 (to 1e-10 relative).
CPU time (``process_time``), one BLAS thread, compiled code cached before timing; the sizes are run in turn
within each round and the median over rounds is reported.  The exponent p of ``time ~ c N^p`` (and of n) is the
least-squares slope on log-log axes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import cpu_seconds, loglog_slope, summary

import numpy as np

import statvae

TOP = [4.0, 3.0, 2.0, 1.5]


def spectrum(N: int) -> np.ndarray:
    """Four eigenvalues above ``stop`` (the thresholds), the rest below it."""
    return np.concatenate([TOP, np.linspace(0.6, 0.1, N - len(TOP))])


def track(model, N: int, switching: bool):
    return statvae.track(model, spectrum=spectrum(N), parameter="sigma2", start=6.0, stop=1.0, switching=switching)


def check(diagram, n: int) -> None:
    pts = diagram.special_points("branch point", branch=0)
    got = sorted(p.parameter for p in pts)
    assert len(got) == len(TOP), f"{len(got)} branch points on the collapsed branch, expected {len(TOP)}"
    assert all(abs(g - t) <= 1e-10 * t for g, t in zip(got, sorted(TOP))), f"branch points {got} != {TOP}"
    assert all(p.kernel_dim == n for p in pts), "kernel dimensions are not n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N up to 256 and 3 rounds")
    ap.add_argument("--repeats", type=int, default=None)
    args = ap.parse_args()
    os.environ.setdefault("STATVAE_CACHE_DIR", tempfile.mkdtemp())
    repeats = args.repeats or (3 if args.quick else 5)
    n_fixed, N_fixed = 4, 64
    Ns = [32, 64, 128, 256] + ([] if args.quick else [512])
    ns = [2, 4, 8, 16]
    sizes = sorted({(N, n_fixed) for N in Ns} | {(N_fixed, n) for n in ns})
    models = {}
    branches = {}
    for N, n in sizes:  # compile, and check every size once (warm-up, not timed)
        m = statvae.LinearVAE(N, n)
        m.compile()
        d = track(m, N, True)
        check(d, n)
        check(track(m, N, False), n)
        models[(N, n)] = m
        branches[(N, n)] = len(d.branches)
    times: dict[tuple[int, int, bool], list[float]] = {(N, n, sw): [] for N, n in sizes for sw in (True, False)}
    for r in range(repeats):
        order = sizes if r % 2 == 0 else sizes[::-1]
        for N, n in order:
            for sw in (True, False):
                times[(N, n, sw)].append(cpu_seconds(lambda: track(models[(N, n)], N, sw)))
    med = {k: statistics.median(v) for k, v in times.items()}

    print("| N | n | parameters | branches | full diagram (s CPU) | collapsed branch only (s CPU) |")
    print("|---|---|---|---|---|---|")
    for N, n in sizes:
        print(f"| {N} | {n} | {2 * N * n + n} | {branches[(N, n)]} | {med[(N, n, True)]:.3f} | "
              f"{med[(N, n, False)]:.3f} |")
    fits = {}
    for sw, what in ((True, "full diagram"), (False, "collapsed branch")):
        pN = loglog_slope(Ns, [med[(N, n_fixed, sw)] for N in Ns])
        pn = loglog_slope(ns, [med[(N_fixed, n, sw)] for n in ns])
        fits[what] = (pN, pn)
        summary(f"tracker scaling ({what}): time ~ N^{pN:.2f} (n = {n_fixed}), ~ n^{pn:.2f} (N = {N_fixed})")
    print("\n| workload | exponent in N (n = 4) | exponent in n (N = 64) |")
    print("|---|---|---|")
    for what, (pN, pn) in fits.items():
        print(f"| {what} | {pN:.2f} | {pn:.2f} |")
    print(f"\nMedians of {repeats} rounds, CPU time (process_time), OPENBLAS_NUM_THREADS="
          f"{os.environ['OPENBLAS_NUM_THREADS']}; exponents: least-squares slopes of log time against log N "
          f"(N = {', '.join(map(str, Ns))}) and log n (n = {', '.join(map(str, ns))}).  Every run found the "
          f"branch points 4, 3, 2, 1.5 (kernel n) to 1e-10.")


if __name__ == "__main__":
    main()
