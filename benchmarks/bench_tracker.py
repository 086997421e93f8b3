"""The tracker's products by the data: dense versus diagonal-aware, side by side in one run.

Run:  python benchmarks/bench_tracker.py [--quick]

In the canonical basis the data covariance is diagonal.  The compiled code
multiplies it either as a dense matrix (``structure="dense"``, O(N^2 n) per
product) or as a diagonal (``structure="diagonal"``, O(N n); the default for
diagonal data, see ``CompiledObjective.bind``).  The script measures, in one
process and interleaved:

* one Hessian-vector product (a full direction) of ``LinearVAE(N, n)`` bound to a
  spectrum, dense versus diagonal-aware, at 64 x 8, 256 x 16 and 784 x 16;
* a full ``statvae.track`` of the collapsed branch of ``LinearVAE(784, 16)`` on the
  spectrum ``5 / k`` over sigma2 from 6 to 0.47 (10 thresholds, 5/1 ... 5/10),
  once with dense products (``STATVAE_DATA_STRUCTURE=dense``) and once
  diagonal-aware, and checks that the branch points agree to 1e-12 relative.

Times are CPU seconds of the process (``time.process_time``: every thread counted);
HVP times are medians of repeated calls.  The output is Markdown.
``--quick`` tracks 64 x 8 instead of 784 x 16.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import statvae
from statvae.numeric import random_parameters


def cpu_median(fn, min_time: float = 0.3, repeat: int = 5) -> float:
    """Median CPU seconds of one call of ``fn`` (calls batched to at least ``min_time`` / ``repeat``)."""
    fn()
    n = 1
    while True:
        t = time.process_time()
        for _ in range(n):
            fn()
        dt = time.process_time() - t
        if dt > min_time / repeat or n > 10000:
            break
        n *= 4
    runs = []
    for _ in range(repeat):
        t = time.process_time()
        for _ in range(n):
            fn()
        runs.append((time.process_time() - t) / n)
    return statistics.median(runs)


def hvp_rows(sizes: list[tuple[int, int]]) -> list[str]:
    """Markdown rows: HVP CPU time with dense and diagonal-aware products, and their ratio."""
    rows = []
    for N, n in sizes:
        f = statvae.LinearVAE(N, n).compile()
        rng = np.random.default_rng(0)
        theta = random_parameters(f.layout, rng)
        spectrum = 5.0 / np.arange(1, N + 1)
        v = rng.standard_normal(f.layout.size)
        dense = f.bind(spectrum=spectrum, structure="dense", sigma2=1.0)
        diag = f.bind(spectrum=spectrum, sigma2=1.0)
        assert diag.structure == "diagonal"
        a, b = dense.hvp(theta, v), diag.hvp(theta, v)
        assert np.abs(a - b).max() <= 1e-12 * np.abs(a).max(), "diagonal-aware HVP differs from the dense one"
        td, tg = [], []
        for _ in range(3):  # interleaved
            td.append(cpu_median(lambda: dense.hvp(theta, v)))
            tg.append(cpu_median(lambda: diag.hvp(theta, v)))
        t_dense, t_diag = min(td), min(tg)
        rows.append(f"| {N} x {n} | {f.layout.size} | {t_dense * 1e3:.3f} | {t_diag * 1e3:.3f} | "
                    f"{t_dense / t_diag:.1f} |")
    return rows


def track_once(N: int, n: int, structure: str) -> tuple[float, float, list[tuple[float, int]]]:
    """CPU and wall seconds of one track with ``structure``, and the collapsed branch's branch points."""
    os.environ["STATVAE_DATA_STRUCTURE"] = structure
    try:
        model = statvae.LinearVAE(N, n)
        model.compile()  # compiled code cached before timing (both runs alike)
        spectrum = 5.0 / np.arange(1, N + 1)
        c, w = time.process_time(), time.perf_counter()
        d = statvae.track(model, spectrum=spectrum, parameter="sigma2", start=6.0, stop=0.47)
        c, w = time.process_time() - c, time.perf_counter() - w
    finally:
        del os.environ["STATVAE_DATA_STRUCTURE"]
    pts = [(s.parameter, s.kernel_dim) for s in d.special_points("branch point", branch=0)]
    return c, w, pts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="track 64 x 8 instead of 784 x 16")
    args = ap.parse_args()
    print("### HVP: dense versus diagonal-aware products by the data (CPU ms per HVP, full direction)\n")
    print("| N x n | parameters | dense (ms) | diagonal-aware (ms) | dense / diagonal |")
    print("|---|---|---|---|---|")
    for row in hvp_rows([(64, 8), (256, 16), (784, 16)]):
        print(row, flush=True)
    N, n = (64, 8) if args.quick else (784, 16)
    runs = {s: track_once(N, n, s) for s in ("dense", "diagonal")}
    a = np.array([p for p, _ in runs["dense"][2]])
    b = np.array([p for p, _ in runs["diagonal"][2]])
    same_kinds = [k for _, k in runs["dense"][2]] == [k for _, k in runs["diagonal"][2]]
    agree = same_kinds and a.shape == b.shape and a.size > 0
    rel = float(np.max(np.abs(a - b) / np.abs(a))) if agree else float("nan")
    print(f"\n### statvae.track, LinearVAE({N}, {n}), spectrum 5/k, sigma2 from 6 to 0.47\n")
    print("| products | CPU (s) | wall (s) | branch points (collapsed branch) | kernel dims |")
    print("|---|---|---|---|---|")
    for s in ("dense", "diagonal"):
        c, w, pts = runs[s]
        print(f"| {s} | {c:.1f} | {w:.1f} | {len(pts)} | {sorted({k for _, k in pts})} |")
    print(f"\nCPU dense / diagonal-aware: {runs['dense'][0] / runs['diagonal'][0]:.2f}.  "
          f"Branch points agree: {'yes' if agree and rel <= 1e-12 else 'NO'} "
          f"(max relative difference {rel:.1e}).")
    print("Branch points: " + ", ".join(f"{p:.15g}" for p in b))


if __name__ == "__main__":
    main()
