"""The full digits diagram (LinearVAE(64, 8), sigma2 from 1 to 0.05) in two source trees, side by side.

    git worktree add --detach /tmp/wt 0e49035   # the tree to compare against (made here when missing)
    python benchmarks/bench_digits_before_after.py [--before DIR] [--repeat K]

Fresh processes of each tree, interleaved, ``--repeat`` times each (after one warm-up run each that fills the
compile caches), one BLAS thread.  Two figures per run: the CPU time of the whole process (interpreter,
imports, loading the digits through scikit-learn, the track) and the CPU time of the ``statvae.track`` call
alone (the diagram).  Every branch point of both diagrams must agree to 1e-12 relative.  Output is Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys

import timing
from bench_tracker import NOW, WORKLOAD, agreement, ensure_tree

BEFORE_COMMIT = "0e49035"


def run(tree: str) -> tuple[float, dict]:
    """Process CPU seconds (children's rusage) and the workload's own report, for one fresh process."""
    env = {**os.environ, "PYTHONPATH": tree, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "STATVAE_CACHE_DIR": os.environ.get("STATVAE_CACHE_DIR", "/tmp/digits-cache")}
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, "-c", WORKLOAD, "digits"], cwd=tree, env=env, capture_output=True, text=True)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode:
        raise RuntimeError(f"the digits diagram failed in {tree}:\n{out.stderr[-2000:]}")
    return (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default="/tmp/wt", help="checkout of the code before (default %(default)s)")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved runs per tree (default %(default)s)")
    args = ap.parse_args()
    if not ensure_tree(args.before, BEFORE_COMMIT):
        sys.exit(f"the tree before is missing: git worktree add --detach {args.before} {BEFORE_COMMIT}")
    trees = {f"before ({BEFORE_COMMIT})": args.before, "now": str(NOW)}
    for t in trees.values():  # warm the compile caches
        run(t)
    res: dict[str, list[tuple[float, dict]]] = {k: [] for k in trees}
    for r in range(args.repeat):
        for k in (list(trees) if r % 2 == 0 else list(trees)[::-1]):
            res[k].append(run(trees[k]))
    rel = agreement(res[f"before ({BEFORE_COMMIT})"][0][1]["points"], res["now"][0][1]["points"])
    print("| code | process CPU (s), median | `track` CPU (s), median | track runs (s) | branches | branch points |")
    print("|---|---|---|---|---|---|")
    proc, track = {}, {}
    for k, rs in res.items():
        proc[k] = statistics.median(p for p, _ in rs)
        track[k] = statistics.median(d["cpu"] for _, d in rs)
        runs = ", ".join(f"{d['cpu']:.2f}" for _, d in rs)
        print(f"| {k} | {proc[k]:.2f} | {track[k]:.2f} | {runs} | {rs[0][1]['branches']} | {len(rs[0][1]['points'])} |")
    b = f"before ({BEFORE_COMMIT})"
    print(f"\nBefore / now: process CPU {proc[b] / proc['now']:.2f}, `track` CPU {track[b] / track['now']:.2f}.  "
          f"Branch points agree: {'yes' if rel <= 1e-12 else 'NO'} (max relative difference {rel:.1e}).")
    timing.summary(f"digits diagram: track {track[b]:.2f} s -> {track['now']:.2f} s CPU "
                   f"({track[b] / track['now']:.2f}x; process {proc[b] / proc['now']:.2f}x)")
    assert rel <= 1e-12, "the branch points differ from the code before"


if __name__ == "__main__":
    main()
