"""Keyword-call binding cache and per-call overhead of the compiled objective, side by side.

Run:  python benchmarks/bench_binding.py [--quick]

Model and data as benchmarks/bench_numeric.py (plain linear VAE, diagonal encoder, beta and weight decays,
covariance of a random 1/sqrt(N)-scaled Gaussian matrix); the hand-written numpy reference is its
``handwritten`` (value and gradient together, every product O(N^2 n) or cheaper).

BLAS runs single-threaded (``OPENBLAS_NUM_THREADS=1`` unless set).  Every figure is a ratio of CPU
times (``time.process_time``) measured interleaved: each round times a batch of one workload then a
batch of the other (the order alternating between rounds), and the ratio reported is the median over
the rounds of the per-round ratios, so load on the machine cancels out.

* keyword sweep: ``f.gradient(theta, covariance=S, sigma2=s)`` with a new ``s`` on every call (the
  data binding is reused, only the hyper-parameters are redone) against the bound ``b.gradient(theta)``;
  for context also ``b.with_hyper(sigma2=s).gradient(theta)`` and a full re-bind per call (what every
  keyword call with new hyper-parameters cost before the cache);
* per-call overhead: the bound gradient (checked, and ``check=False``) and value + gradient against the
  hand-written value + gradient.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy: spinning BLAS threads would inflate CPU time on a loaded machine

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import statvae  # noqa: E402
from bench_numeric import handwritten  # noqa: E402
from statvae.numeric import random_parameters  # noqa: E402

HYPER = (0.9, 1.2, 1.0, 0.05, 0.02)  # sigma2, beta, prior variance, weight decay enc, dec (as bench_numeric)


def batch_size(fn: Callable[[], object], target: float) -> int:
    """Calls per batch so that one batch takes about ``target`` seconds of CPU time."""
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
    """``(median ratio a/b, CPU seconds per call of a, of b)``, measured interleaved."""
    na, nb = batch_size(a, target), batch_size(b, target)
    ratios, ta_all, tb_all = [], [], []
    for r in range(rounds):
        pair = [(a, na, ta_all), (b, nb, tb_all)]
        for fn, n, acc in (pair if r % 2 == 0 else pair[::-1]):
            t = time.process_time()
            for _ in range(n):
                fn()
            acc.append((time.process_time() - t) / n)
        ratios.append(ta_all[-1] / tb_all[-1])
    return statistics.median(ratios), statistics.median(ta_all), statistics.median(tb_all)


def setup(N: int, n: int):
    model = statvae.LinearVAE(N, n, sigma2=HYPER[0], beta=HYPER[1], weight_decay_enc=HYPER[3],
                              weight_decay_dec=HYPER[4])
    f = model.compile()
    rng = np.random.default_rng(0)
    theta = random_parameters(f.layout, rng, scale=0.05)
    a = rng.standard_normal((N, N)) / np.sqrt(N)
    S = a @ a.T
    b = f.bind(covariance=S)
    blocks = f.unpack(theta)
    W, V, d = blocks["W"], blocks["V"], np.diag(blocks["D"]).copy()
    trS = np.trace(S)

    def hand():
        return handwritten(W, V, d, S, *HYPER, trS)

    v0, g0 = b.value_and_gradient(theta)
    v1, g1 = hand()
    assert abs(v0 - v1) <= 1e-9 * abs(v1) and np.allclose(g0, g1, rtol=1e-9, atol=1e-9), "statvae != hand-written"
    return f, b, theta, S, hand


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    ap.add_argument("--rounds", type=int, default=None)
    args = ap.parse_args()
    os.environ.setdefault("STATVAE_CACHE_DIR", tempfile.mkdtemp())
    rounds = args.rounds or (5 if args.quick else 15)
    target = 0.02 if args.quick else 0.05
    rows = []

    # --- keyword sweep at 784 x 16
    big = setup(784, 16)
    f, b, theta, S, hand = big
    sweep = itertools.count()
    # a new sigma'^2 on every call: no two calls share hyper-parameters, so only the data binding can be reused
    sigma = lambda: 0.5 + 1e-9 * next(sweep)
    g_ref = b.with_hyper(sigma2=0.7).gradient(theta)
    assert np.array_equal(f.gradient(theta, covariance=S, sigma2=0.7), g_ref), "keyword call != bound call"
    kw = lambda: f.gradient(theta, covariance=S, sigma2=sigma())
    bound = lambda: b.gradient(theta)
    r, t_kw, t_b = ratio(kw, bound, rounds, target)
    rows.append(("keyword sweep per gradient / bound gradient", "784 x 16", r, t_kw, t_b, "<= 1.2"))
    r, t_w, t_b = ratio(lambda: b.with_hyper(sigma2=sigma()).gradient(theta), bound, rounds, target)
    rows.append(("bound `with_hyper` sweep per gradient / bound gradient", "784 x 16", r, t_w, t_b, "-"))
    r, t_rb, t_b = ratio(lambda: f.bind(covariance=S, sigma2=sigma()).gradient(theta), bound, max(3, rounds // 3),
                         target)
    rows.append(("full re-bind per gradient (the keyword path before the cache) / bound gradient", "784 x 16", r,
                 t_rb, t_b, "-"))

    # --- per-call overhead against the hand-written reference
    for N, n, target_ratio in ((64, 8, "<= 1.5"), (784, 16, "<= 1.1")):
        f, b, theta, S, hand = big if (N, n) == (784, 16) else setup(N, n)
        size = f"{N} x {n}"
        r, t_g, t_h = ratio(lambda: b.gradient(theta), hand, rounds, target)
        rows.append(("gradient / hand-written numpy (value + gradient)", size, r, t_g, t_h, target_ratio))
        r, t_u, t_h = ratio(lambda: b.gradient(theta, check=False), hand, rounds, target)
        rows.append(("gradient, `check=False` / hand-written numpy", size, r, t_u, t_h, "-"))
        r, t_vg, t_h = ratio(lambda: b.value_and_gradient(theta), hand, rounds, target)
        rows.append(("value + gradient / hand-written numpy", size, r, t_vg, t_h, "-"))

    print("| figure | size | ratio | target | statvae (ms CPU) | reference (ms CPU) |")
    print("|---|---|---|---|---|---|")
    for what, size, r, ta, tb, tgt in rows:
        print(f"| {what} | {size} | {r:.2f} | {tgt} | {ta * 1e3:.3f} | {tb * 1e3:.3f} |")
    print(f"\nMedian of {rounds} interleaved rounds per ratio; CPU time (process_time), "
          f"{os.cpu_count()} cores, numpy {np.__version__}, OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}.")


if __name__ == "__main__":
    main()
