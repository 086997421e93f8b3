"""Shared timing helpers of the benchmark scripts: CPU time, interleaved ratios, log-log fits, summary lines.

Import this module before numpy (it sets one BLAS thread unless the environment says otherwise): every
figure is a ratio of CPU times (``time.process_time``, all threads of the process counted) measured
interleaved, so load from other processes on the machine cancels out of the ratios.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy: spinning BLAS threads would inflate CPU time on a loaded machine
# JAX (optional) on one thread too, so that statvae, numpy and JAX are compared on equal terms
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")


def batch_size(fn: Callable[[], object], target: float) -> int:
    """Calls per batch so that one batch takes about ``target`` seconds of CPU time (after one warm call)."""
    fn()
    n = 1
    while True:
        t = time.process_time()
        for _ in range(n):
            fn()
        if time.process_time() - t > target or n > 1e6:
            return n
        n *= 2


def ratio(a: Callable[[], object], b: Callable[[], object], rounds: int, target: float) -> tuple[float, float, float]:
    """``(median ratio a/b, median CPU seconds per call of a, of b)``, measured interleaved.

    Each round times a batch of ``a`` and a batch of ``b`` (the order alternating between rounds); the ratio is
    the median over rounds of the per-round ratios.
    """
    na, nb = batch_size(a, target), batch_size(b, target)
    ratios: list[float] = []
    ta_all: list[float] = []
    tb_all: list[float] = []
    for r in range(rounds):
        pair = [(a, na, ta_all), (b, nb, tb_all)]
        for fn, n, acc in (pair if r % 2 == 0 else pair[::-1]):
            t = time.process_time()
            for _ in range(n):
                fn()
            acc.append((time.process_time() - t) / n)
        ratios.append(ta_all[-1] / max(tb_all[-1], 1e-12))
    return statistics.median(ratios), statistics.median(ta_all), statistics.median(tb_all)


def cpu_seconds(fn: Callable[[], object]) -> float:
    """CPU seconds of one call of ``fn``."""
    t = time.process_time()
    fn()
    return time.process_time() - t


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of ``log y`` against ``log x``: the exponent ``p`` of ``y ~ c x^p``.

    >>> round(loglog_slope([1, 2, 4, 8], [3, 12, 48, 192]), 12)
    2.0
    """
    lx = [math.log(v) for v in x]
    ly = [math.log(v) for v in y]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    sxx = sum((a - mx) ** 2 for a in lx)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sxx


def summary(line: str) -> None:
    """A headline figure for the summary ``benchmarks/run.py`` prints at the end (on stderr, not in the tables)."""
    print(f"SUMMARY {line}", file=sys.stderr, flush=True)
