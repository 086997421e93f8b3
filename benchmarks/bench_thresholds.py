"""statvae's thresholds against the closed-form threshold list, side by side (issue 10).

Run:  python benchmarks/bench_thresholds.py [--quick]

For the plain linear VAE (fixed sigma'^2 varied, diagonal encoder, ``beta``) the collapse thresholds are known in
closed form (``docs/theory.md``, THEORY section 3): collapse is stable iff ``beta sigma'^2 > xi_max^2``, and the
branch points of the collapsed branch sit at ``sigma'^2 = lambda_i / beta`` for every eigenvalue ``lambda_i`` of the
covariance, each with kernel dimension ``n`` times its multiplicity.  The closed-form reference is exactly that:
``numpy.linalg.eigvalsh(C) / beta`` (one eigen-decomposition, nothing else).  statvae answers the same questions
from the model alone: ``model.collapse().critical(covariance=C)`` (the largest threshold, derived per mode and
confirmed by the compiled Hessian below and above it) and ``.crossings(covariance=C)`` (every threshold, each
confirmed).

Both give the same numbers (asserted to 1e-12 relative before timing: the values, the count and the kernel
dimensions); the ratio is what statvae's derivation-free, self-checked answer costs over the bare formula.
Warm runs (compiled code and per-mode structures cached in a temporary directory before timing), CPU time,
interleaved (``timing.ratio``), one BLAS thread.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import ratio, summary

import numpy as np

import statvae

BETA = 1.3


def covariance(N: int, seed: int = 0) -> np.ndarray:
    """A random covariance of full rank with distinct eigenvalues."""
    a = np.random.default_rng(seed).standard_normal((N, N + 5))
    return a @ a.T / (N + 5)


def closed_form(C: np.ndarray) -> np.ndarray:
    """The closed-form threshold list: every ``lambda_i / beta``, descending."""
    return np.linalg.eigvalsh(C)[::-1] / BETA


def check(analysis, C: np.ndarray, n: int) -> None:
    """statvae's critical value and crossings equal the closed-form list (values, count, kernel dimensions)."""
    ref = closed_form(C)
    crit = float(analysis.critical(covariance=C, parameter="sigma2"))
    assert abs(crit - ref[0]) <= 1e-12 * ref[0], f"critical {crit!r} != lambda_max / beta {ref[0]!r}"
    xs = sorted(analysis.crossings(covariance=C, parameter="sigma2"), key=lambda x: -x.value)
    got = np.array([x.value for x in xs])
    assert got.shape == ref.shape, f"{got.size} crossings, {ref.size} eigenvalues"
    rel = np.abs(got - ref) / ref
    assert rel.max() <= 1e-12, f"crossings differ from lambda_i / beta by {rel.max():.2g} relative"
    assert all(x.kernel_dim == n for x in xs), "kernel dimensions are not n (distinct eigenvalues)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer sizes and rounds")
    args = ap.parse_args()
    os.environ.setdefault("STATVAE_CACHE_DIR", tempfile.mkdtemp())
    sizes = [16, 64, 256] if args.quick else [16, 64, 256, 784]
    rounds, target = (3, 0.05) if args.quick else (7, 0.1)
    n = 4
    print("| N | statvae critical() (ms) | closed form (ms) | critical / closed form | statvae crossings() (ms) | "
          "crossings / closed form | thresholds | max relative difference |")
    print("|---|---|---|---|---|---|---|---|")
    for N in sizes:
        C = covariance(N)
        analysis = statvae.LinearVAE(N, n, beta=BETA).collapse()
        check(analysis, C, n)  # also warms every cache
        r_crit, t_crit, t_ref = ratio(lambda: analysis.critical(covariance=C, parameter="sigma2"),
                                      lambda: closed_form(C), rounds, target)
        r_cross, t_cross, _ = ratio(lambda: analysis.crossings(covariance=C, parameter="sigma2"),
                                    lambda: closed_form(C), rounds, target)
        got = np.array(sorted((x.value for x in analysis.crossings(covariance=C, parameter="sigma2")), reverse=True))
        ref = closed_form(C)
        print(f"| {N} | {t_crit * 1e3:.2f} | {t_ref * 1e3:.3f} | {r_crit:.0f} | {t_cross * 1e3:.2f} | {r_cross:.0f} | "
              f"{ref.size} | {float(np.max(np.abs(got - ref) / ref)):.1e} |", flush=True)
        summary(f"thresholds N = {N}: critical() / closed form {r_crit:.0f}, crossings() / closed form {r_cross:.0f}")
    print(f"\n`LinearVAE(N, {n}, beta={BETA})`, sigma2 varied, covariance of a random Gaussian matrix; closed form = "
          f"`numpy.linalg.eigvalsh(C) / beta`.  CPU time, medians of {rounds} interleaved rounds, "
          f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}; every value asserted equal to the closed form "
          f"to 1e-12 relative.")


if __name__ == "__main__":
    main()
