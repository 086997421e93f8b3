"""Cost of the self-check and of the compiled-Hessian route, side by side with the per-mode answers.

Run:  python benchmarks/bench_selfcheck.py [--quick]

For a linear VAE (n = 8 latents) at growing N on a random covariance, in one run:
* ``critical()``  and ``crossings()`` as shipped (per-mode closed form + self-check);
* the per-mode part alone (the self-check patched out) -> ratio = cost of the check;
* the same model on correlated two-view data (no canonical form): the compiled route alone.
Each figure is the median of ``--repeats`` warm runs (compiled code cached); ratios, not absolute
times, are what carry over to other machines.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import summary

import numpy as np

import statvae
from statvae.model.graph import Map, ModelGraph, Variable


def timed(fn, repeats):
    """Median CPU seconds of ``repeats`` calls."""
    out = []
    for _ in range(repeats):
        t = time.process_time()
        fn()
        out.append(time.process_time() - t)
    return statistics.median(out)


def cov(N, seed=0):
    a = np.random.default_rng(seed).standard_normal((N, N + 5))
    return a @ a.T / (N + 5)


def two_views(nx, ny):
    g = ModelGraph()
    g.add_variable(Variable("x", nx, True, variance="sigma2_x"))
    g.add_variable(Variable("y", ny, True, variance="sigma2_y"))
    g.add_variable(Variable("z", 8, False))
    for name, s, t, role in [("Wx", "z", "x", "generative"), ("Wy", "z", "y", "generative"),
                             ("Vx", "x", "z", "inference"), ("Vy", "y", "z", "inference")]:
        g.add_map(Map(name, s, t, role))
    return statvae.VAEModel(g)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    os.environ.setdefault("STATVAE_CACHE_DIR", tempfile.mkdtemp())
    sizes = [16, 64] if args.quick else [16, 64, 256]
    print("| N | critical() | per-mode only | check / per-mode | crossings() | per-mode only | ratio | "
          "two views (compiled route) critical() |")
    print("|---|---|---|---|---|---|---|---|")
    for N in sizes:
        C = cov(N)
        a = statvae.LinearVAE(N, 8).collapse()
        a.critical(covariance=C)  # warm: compile, derive
        a.crossings(covariance=C)
        full_crit = timed(lambda: a.critical(covariance=C).value, args.repeats)
        full_cross = timed(lambda: a.crossings(covariance=C), args.repeats)
        def no_check(cc, name, points, nonnegative=False):
            return [() for _ in points]  # no bracket: the check skipped

        with mock.patch("statvae.analysis.selfcheck.confirm_boundaries", side_effect=no_check), \
                mock.patch("statvae.analysis.selfcheck.confirm_crossings", side_effect=no_check):
            bare_crit = timed(lambda: a.critical(covariance=C).value, args.repeats)
            bare_cross = timed(lambda: a.crossings(covariance=C), args.repeats)
        m = two_views(N // 2, N - N // 2)
        b = m.collapse()
        sy = 2 * float(np.linalg.eigvalsh(C).max())
        b.critical("sigma2_x", covariance=C, sigma2_y=sy)
        views = timed(lambda: b.critical("sigma2_x", covariance=C, sigma2_y=sy).value, args.repeats)
        print(f"| {N} | {full_crit * 1e3:.0f} ms | {bare_crit * 1e3:.0f} ms | {full_crit / bare_crit:.2f} | "
              f"{full_cross * 1e3:.0f} ms | {bare_cross * 1e3:.0f} ms | {full_cross / bare_cross:.2f} | "
              f"{views * 1e3:.0f} ms |", flush=True)
        summary(f"selfcheck N = {N}: critical() with check / per-mode only {full_crit / bare_crit:.2f}, "
                f"crossings() {full_cross / bare_cross:.2f}")
    print(f"\nCPU time (process_time), median of {args.repeats} warm runs, one BLAS thread.")


if __name__ == "__main__":
    main()
