"""Products by low-rank-plus-diagonal data against dense products, side by side (issue 10).

Run:  python benchmarks/bench_lowrank.py [--quick]

``LinearVAE(N, n)`` (diagonal encoder, beta and weight decays as benchmarks/bench_numeric.py) bound to the
covariance ``diag(d) + U U^T`` with ``U`` of rank ``r`` (``statvae.data.LowRankPlusDiagonal``): once with
``structure="lowrank"`` (products by the factor, O((r + 1) N n)) and once with ``structure="dense"`` (the
materialised N x N matrix, O(N^2 n)).  Both bindings agree to 1e-10 relative before they are timed.

BLAS runs single-threaded (``OPENBLAS_NUM_THREADS=1`` unless set).  Every figure is a ratio of CPU times
(``time.process_time``) measured interleaved (benchmarks/bench_binding.py's ``ratio``: alternating batches,
median of the per-round ratios).  Columns: one HVP along a full random direction, one gradient; the last
column times ``bind`` itself from samples (few samples: the factor, no N x N matrix) against ``bind`` of the
same samples' covariance with dense products (``numpy.cov``, validation by an eigen-solve).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy: spinning BLAS threads would inflate CPU time on a loaded machine

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import statvae  # noqa: E402
from bench_binding import HYPER, ratio  # noqa: E402
from statvae.data import LowRankPlusDiagonal  # noqa: E402
from statvae.numeric import random_parameters  # noqa: E402
from statvae.numeric.codegen import LOWRANK_MAX_FRACTION, LOWRANK_MIN_DIM  # noqa: E402


def _check(a: np.ndarray, b: np.ndarray, what: str) -> None:
    err = float(np.abs(np.asarray(a) - np.asarray(b)).max())
    assert err <= 1e-10 * float(np.abs(b).max()), f"{what}: low-rank and dense disagree ({err:.3g})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer, shorter rounds and sizes")
    args = ap.parse_args()
    os.environ.setdefault("STATVAE_CACHE_DIR", tempfile.mkdtemp())
    rounds, target = (5, 0.02) if args.quick else (11, 0.05)
    cases = [(784, 16, r) for r in (10, 50, 200, 400)]
    if not args.quick:
        cases = [(128, 8, 16), (256, 16, 64)] + cases
    rng = np.random.default_rng(0)
    print("| N x n | rank r | r / N | HVP dense (ms) | HVP low-rank (ms) | dense / low-rank | "
          "gradient dense (ms) | gradient low-rank (ms) | dense / low-rank | bind from r samples: dense / low-rank |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    models: dict[tuple[int, int], tuple[statvae.VAEModel, object]] = {}
    for N, n, r in cases:
        if (N, n) not in models:
            m = statvae.LinearVAE(N, n, sigma2=HYPER[0], beta=HYPER[1], weight_decay_enc=HYPER[3],
                                  weight_decay_dec=HYPER[4])
            models[(N, n)] = (m, m.compile())
        _, f = models[(N, n)]
        c = LowRankPlusDiagonal(rng.standard_normal((N, r)) / np.sqrt(r), rng.uniform(0.05, 0.2, N))
        low = f.bind(covariance=c, structure="lowrank")
        dense = f.bind(covariance=c, structure="dense")
        assert low.structure == "lowrank" and dense.structure == "dense"
        theta = random_parameters(f.layout, rng, scale=0.05)
        v = rng.standard_normal(f.layout.size)
        _check(low.hvp(theta, v), dense.hvp(theta, v), "HVP")
        _check(low.gradient(theta), dense.gradient(theta), "gradient")
        rh, th_d, th_l = ratio(lambda: dense.hvp(theta, v, check=False), lambda: low.hvp(theta, v, check=False),
                               rounds, target)
        rg, tg_d, tg_l = ratio(lambda: dense.gradient(theta, check=False), lambda: low.gradient(theta, check=False),
                               rounds, target)
        x = rng.standard_normal((r, N))
        rb, _, _ = ratio(lambda: f.bind(samples=x, structure="dense"), lambda: f.bind(samples=x, structure="lowrank"),
                         max(3, rounds // 2), target)
        print(f"| {N} x {n} | {r} | {r / N:.2f} | {th_d * 1e3:.3f} | {th_l * 1e3:.3f} | {rh:.2f} | "
              f"{tg_d * 1e3:.3f} | {tg_l * 1e3:.3f} | {rg:.2f} | {rb:.1f} |")
    print(f"\n`structure=\"auto\"` uses the low-rank products when r <= {LOWRANK_MAX_FRACTION} N and "
          f"N >= {LOWRANK_MIN_DIM}.  Median of {rounds} interleaved rounds per ratio; CPU time (process_time), "
          f"{os.cpu_count()} cores, numpy {np.__version__}, "
          f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}.")


if __name__ == "__main__":
    main()
