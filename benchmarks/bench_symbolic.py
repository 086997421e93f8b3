"""Cost of the symbolic layer: per-mode derivation vs explicit-entry Hessians.

Run:  python benchmarks/bench_symbolic.py [--max-entries 24] [--quick]

Measures, in one run and side by side:
* the per-mode collapse analysis (cold cache) of each preset: flat in N and n by construction;
* the explicit-entry collapse Hessian (objective at full size, differentiated entry by entry,
  stationary equations solved) of the plain linear VAE for growing N*n, with the sympy and
  (if installed) symengine backends;
and prints a Markdown table of CPU times (``process_time``: the work is single-threaded Python, so CPU time is
what a loaded machine does not inflate) and of the ratio explicit / per-mode.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import summary

import statvae
from statvae.symbolic import modes
from statvae.symbolic.derivatives import have_symengine


def per_mode(factory) -> float:
    """Seconds of ``model.collapse().blocks`` (the per-mode derivation, which ``collapse()`` defers until asked)
    from a cold cache: neither in memory nor on disk (a fresh directory)."""
    modes._CACHE.clear()
    old = os.environ.get("STATVAE_CACHE_DIR")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["STATVAE_CACHE_DIR"] = tmp
        try:
            t = time.process_time()
            blocks = factory().collapse().blocks
            assert blocks, "no Hessian blocks"
            return time.process_time() - t
        finally:
            if old is None:
                del os.environ["STATVAE_CACHE_DIR"]
            else:
                os.environ["STATVAE_CACHE_DIR"] = old


def explicit(N, n, backend) -> float:
    a = statvae.LinearVAE(N, n).collapse()
    t = time.process_time()
    a.explicit_hessian(force=True, backend=backend)
    return time.process_time() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-entries", type=int, default=24)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("STATVAE_CACHE_DIR", tempfile.mkdtemp())
    per_mode(lambda: statvae.LinearVAE(3, 2, beta=None))  # warm-up: imports, sympy's own caches
    print("| model | per-mode analysis (s) |")
    print("|---|---|")
    for label, f in [
        ("LinearVAE(64, 8)", lambda: statvae.LinearVAE(64, 8)),
        ("LinearVAE(784, 16, encoder='full', learned variance)",
         lambda: statvae.LinearVAE(784, 16, encoder="full", decoder_variance="learned")),
        ("ConditionalVAE(32, 32, 8)", lambda: statvae.ConditionalVAE(32, 32, 8)),
        ("HierarchicalVAE(64, (8, 4))", lambda: statvae.HierarchicalVAE(64, (8, 4))),
    ]:
        print(f"| {label} | {per_mode(f):.2f} |")
    base = per_mode(lambda: statvae.LinearVAE(2, 1))
    sizes = [(1, 1), (2, 1), (2, 2), (4, 2), (6, 2), (4, 4), (6, 4), (8, 3)]
    sizes = [s for s in sizes if s[0] * s[1] <= args.max_entries]
    if args.quick:
        sizes = sizes[:4]
    backends = ["sympy"] + (["symengine"] if have_symengine() else [])
    print()
    print("| N | n | parameters | " + " | ".join(f"explicit, {b} (s)" for b in backends)
          + " | explicit / per-mode (sympy) |")
    print("|---|---|---|" + "---|" * len(backends) + "---|")
    for N, n in sizes:
        times = [explicit(N, n, b) for b in backends]
        print(f"| {N} | {n} | {2 * N * n + n} | " + " | ".join(f"{t:.2f}" for t in times)
              + f" | {times[0] / base:.1f}x |", flush=True)
    summary(f"symbolic: explicit-entry Hessian at {N} x {n} / per-mode analysis {times[0] / base:.1f}")
    print(f"\nPer-mode analysis of the same model family (cold cache): {base:.2f} s; the ratio column is "
          f"explicit (sympy) / per-mode.  CPU time (process_time), one run each.")


if __name__ == "__main__":
    main()
