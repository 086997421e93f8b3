"""Cost of the finite-sample analyses relative to one ``critical()`` on the same samples, side by side.

Run:  python benchmarks/bench_finite.py [--quick]

BLAS runs single-threaded (``OPENBLAS_NUM_THREADS=1`` unless set).  Every figure is a ratio of CPU times
(``time.process_time``) measured interleaved: each round times one workload then the other (the order
alternating between rounds), and the ratio reported is the median over the rounds, so load on the machine
cancels out.  The caches are warm (one call of each before the rounds).

* ``bootstrap_critical(B)`` / ``critical()``: the bootstrap runs B full ``critical()`` calls (each with its
  self-check) plus the resampling, so the ratio per replicate should be close to 1;
* ``noise_report`` / ``critical()``: the per-mode count, the compiled Morse index and the edge;
* ``critical(standardize=True)`` / ``critical()``: the price of the data option.

Workloads: 300 samples in 3 dimensions (one latent) and scikit-learn's digits (1797 x 64, 8 latents) when
scikit-learn is installed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import statvae  # noqa: E402
from statvae.data import synthetic  # noqa: E402


def cpu(fn: Callable[[], object]) -> float:
    t = time.process_time()
    fn()
    return time.process_time() - t


def side_by_side(a: Callable[[], object], b: Callable[[], object], rounds: int) -> tuple[float, float, float]:
    """Median CPU seconds of ``a`` and ``b`` and the median of the per-round ratios a / b (interleaved)."""
    a(), b()
    ta, tb, ratios = [], [], []
    for k in range(rounds):
        if k % 2:
            y, x = cpu(b), cpu(a)
        else:
            x, y = cpu(a), cpu(b)
        ta.append(x)
        tb.append(y)
        ratios.append(x / y)
    return statistics.median(ta), statistics.median(tb), statistics.median(ratios)


def workloads() -> list[tuple[str, object, np.ndarray, dict]]:
    out = [("300 x 3, 1 latent", statvae.LinearVAE(3, 1).collapse(),
            synthetic([4.0, 1.5, 0.5], samples=300, seed=3), {"sigma2": 1.0})]
    try:
        from statvae.data import digits

        out.append(("digits 1797 x 64, 8 latents", statvae.LinearVAE(64, 8).collapse(), digits(), {"sigma2": 0.05}))
    except Exception:  # scikit-learn not installed
        pass
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer rounds and resamples")
    args = p.parse_args()
    rounds, b = (3, 10) if args.quick else (7, 40)
    print(f"| workload | comparison | A (s, median) | B (s, median) | ratio A/B (median of {rounds}) |")
    print("|---|---|---|---|---|")
    for name, a, x, vals in workloads():
        def crit() -> object:
            return a.critical("sigma2", samples=x)

        rows = [
            (f"bootstrap_critical(B={b}) / critical()",
             lambda: a.bootstrap_critical("sigma2", samples=x, bootstrap=b, seed=0), crit),
            ("noise_report / critical()", lambda: a.noise_report(samples=x, **vals), crit),
        ]
        keep = np.ptp(x, axis=0) > 0  # digits has constant pixels, which standardize refuses: drop them for this row
        xs, as_ = (x, a) if keep.all() else (x[:, keep], statvae.LinearVAE(int(keep.sum()), 8).collapse())
        rows.append((f"critical(standardize=True) / critical(){'' if keep.all() else f' ({keep.sum()} pixels)'}",
                     lambda: as_.critical("sigma2", samples=xs, standardize=True),
                     lambda: as_.critical("sigma2", samples=xs)))
        for label, fa, fb in rows:
            ta, tb, r = side_by_side(fa, fb, rounds)
            extra = f" ({r / b:.2f} per replicate)" if label.startswith("bootstrap") else ""
            print(f"| {name} | {label} | {ta:.3f} | {tb:.4f} | {r:.2f}{extra} |")


if __name__ == "__main__":
    main()
