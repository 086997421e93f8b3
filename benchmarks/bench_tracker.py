"""The tracker at 784 x 16: its Hessian blocks and the whole track, before and after, side by side in one run.

Run:  python benchmarks/bench_tracker.py [--quick] [--before DIR] [--repeat K]

``--before`` is a checkout of the code before the tracker work of issue 10 (default ``/tmp/wt-tracker``,
made with ``git worktree add --detach /tmp/wt-tracker e38f9b1`` when missing).  The script measures:

* one Hessian-vector product (a full direction) of ``LinearVAE(N, n)`` bound to a spectrum, dense versus
  diagonal-aware products by the data (``structure="dense"`` / the default), at 64 x 8, 256 x 16, 784 x 16;
* the Hessian blocks the tracker needs at a point of a branch with one active latent: ``H_SS`` on its
  fixed-point subspace and every block of the inertia, by the old route (stacked unit directions through
  :meth:`BoundObjective.hvp`, full-width rows, gathered) and by :meth:`BoundObjective.hessian_blocks`
  (only the requested entries), interleaved in one process; the two must be equal bit for bit;
* ``statvae.track(LinearVAE(784, 16), spectrum=5/k, parameter="sigma2", start=6, stop=0.47)`` (10 thresholds,
  kernel 16 each) in fresh processes of the code before (``--before``) and now, interleaved, ``--repeat``
  times each (CPU seconds of the ``track`` call, compiled code cached), asserting that every branch point of
  the diagram agrees to 1e-12 relative.

Times are CPU seconds (``time.process_time``, one BLAS thread).  The output is Markdown.  ``--quick`` tracks
64 x 8 and skips 784 x 16 in the block table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import timing  # one BLAS thread, before numpy

import numpy as np

import statvae
from statvae.bifurcation.symmetry import Characters
from statvae.numeric import random_parameters

HERE = Path(__file__).resolve().parent
NOW = HERE.parent
#: The code before the tracker work (the parent of its first commit).
BEFORE_COMMIT = "e38f9b1"

#: Printed by a fresh process: the CPU time of one track and every branch point of its diagram.
WORKLOAD = """
import json, sys, time
import numpy as np
import statvae
which = sys.argv[1]
if which == "digits":
    from statvae.data import covariance_from_samples, digits
    model = statvae.LinearVAE(64, 8)
    kw = dict(covariance=covariance_from_samples(digits()), parameter="sigma2", start=1.0, stop=0.05)
else:
    N, n = map(int, which.split("x"))
    model = statvae.LinearVAE(N, n)
    kw = dict(spectrum=5.0 / np.arange(1, N + 1), parameter="sigma2", start=6.0, stop=0.47)
model.compile()
c, w = time.process_time(), time.perf_counter()
d = statvae.track(model, **kw)
c, w = time.process_time() - c, time.perf_counter() - w
points = sorted((s.branch, s.parameter, s.kernel_dim) for s in d.points.values() if str(s.kind) == "branch point")
print(json.dumps({"cpu": c, "wall": w, "branches": len(d.branches), "points": points}))
"""


def cpu_median(fn, min_time: float = 0.3, repeat: int = 5) -> float:
    """Median CPU seconds of one call of ``fn`` (calls batched to at least ``min_time`` / ``repeat``)."""
    n = timing.batch_size(fn, min_time / repeat)
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


def stacked_route(bound, theta, groups):
    """The route before ``hessian_blocks``: compressed unit directions as full vectors, one stacked HVP, gathered."""
    width = max(groups)
    dirs = np.zeros((width, bound.owner.layout.size))
    for s, idx in groups.items():
        dirs[np.broadcast_to(np.arange(s), idx.shape), idx] = 1.0
    cols = np.atleast_2d(bound.hvp(theta, dirs, check=False))
    return {s: cols[np.arange(s)[None, None, :], idx[:, :, None]] for s, idx in groups.items()}


def block_rows(sizes: list[tuple[int, int]]) -> list[str]:
    """Markdown rows: the tracker's Hessian blocks by stacked HVPs and by ``hessian_blocks`` (bit for bit equal)."""
    rows = []
    for N, n in sizes:
        f = statvae.LinearVAE(N, n).compile()
        b = f.bind(spectrum=5.0 / np.arange(1, N + 1), sigma2=0.3)
        chars = Characters(f.model)
        span = chars.span_of(np.zeros(f.layout.size))
        span.add(chars.chars[0])  # one active latent along the first data direction: x1 + z1
        S = span.fixed_subspace()
        theta = random_parameters(f.layout, np.random.default_rng(1))
        keep = np.zeros(f.layout.size, dtype=bool)
        keep[S] = True
        theta = np.where(keep, theta, 0.0)  # a point of that branch's fixed-point subspace
        cases = {"H_SS": {len(S): S[None, :]},
                 "inertia": {s: idx for s, (_, idx) in span.groups().items()}}
        for what, groups in cases.items():
            plan = f.block_plan(groups)
            old, new = stacked_route(b, theta, groups), b.hessian_blocks(theta, plan, check=False)
            assert all(np.array_equal(old[s], new[s]) for s in groups), f"{what}: hessian_blocks differs"
            t_old, t_new = [], []
            for _ in range(3):  # interleaved
                t_old.append(cpu_median(lambda: stacked_route(b, theta, groups)))
                t_new.append(cpu_median(lambda: b.hessian_blocks(theta, plan, check=False)))
            o, w = min(t_old), min(t_new)
            blocks = sum(len(idx) for idx in groups.values())
            rows.append(f"| {N} x {n} | {what} ({blocks} block{'s' if blocks > 1 else ''}, largest {max(groups)}) | "
                        f"{o * 1e3:.3f} | {w * 1e3:.3f} | {o / w:.1f} |")
    return rows


def ensure_tree(path: str, commit: str) -> bool:
    """Whether ``path`` holds a checkout of statvae (made with ``git worktree add`` when missing)."""
    if (Path(path) / "statvae" / "__init__.py").exists():
        return True
    print(f"(making the tree to compare against: git worktree add --detach {path} {commit})", file=sys.stderr)
    r = subprocess.run(["git", "-C", str(NOW), "worktree", "add", "--detach", path, commit],
                       capture_output=True, text=True)
    return r.returncode == 0 and (Path(path) / "statvae" / "__init__.py").exists()


def run_workload(tree: str, which: str) -> dict:
    """One fresh process of the workload on the code in ``tree`` (its own directory, so that tree is imported)."""
    env = {**os.environ, "PYTHONPATH": tree, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", WORKLOAD, which], cwd=tree, env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"the workload failed in {tree}:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def side_by_side(trees: dict[str, str], which: str, repeat: int) -> dict[str, list[dict]]:
    """``repeat`` interleaved runs of the workload per tree (after one warm-up run each, which fills the caches)."""
    for tree in trees.values():
        run_workload(tree, which)
    runs: dict[str, list[dict]] = {k: [] for k in trees}
    for r in range(repeat):
        for k in (list(trees) if r % 2 == 0 else list(trees)[::-1]):
            runs[k].append(run_workload(trees[k], which))
    return runs


def agreement(a: list, b: list) -> float:
    """Largest relative difference of two lists of ``(branch, parameter, kernel)`` branch points (inf if unlike)."""
    if len(a) != len(b) or any(x[0] != y[0] or x[2] != y[2] for x, y in zip(a, b)):
        return float("inf")
    return max((abs(x[1] - y[1]) / abs(x[1]) for x, y in zip(a, b)), default=0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="track 64 x 8 instead of 784 x 16")
    ap.add_argument("--before", default="/tmp/wt-tracker", help="checkout of the code before (default %(default)s)")
    ap.add_argument("--repeat", type=int, default=2, help="interleaved track runs per tree (default %(default)s)")
    args = ap.parse_args()
    print("### HVP: dense versus diagonal-aware products by the data (CPU ms per HVP, full direction)\n")
    print("| N x n | parameters | dense (ms) | diagonal-aware (ms) | dense / diagonal |")
    print("|---|---|---|---|---|")
    for row in hvp_rows([(64, 8), (256, 16), (784, 16)]):
        print(row, flush=True)
    sizes = [(64, 8), (256, 16)] + ([] if args.quick else [(784, 16)])
    print("\n### Hessian blocks at a point of a branch with one active latent (CPU ms per evaluation)\n")
    print("| N x n | blocks | stacked HVPs, gathered (ms) | `hessian_blocks` (ms) | ratio |")
    print("|---|---|---|---|---|")
    for row in block_rows(sizes):
        print(row, flush=True)
    N, n = (64, 8) if args.quick else (784, 16)
    which = f"{N}x{n}"
    print(f"\n### statvae.track, LinearVAE({N}, {n}), spectrum 5/k, sigma2 from 6 to 0.47\n")
    if not ensure_tree(args.before, BEFORE_COMMIT):
        print(f"The tree before ({args.before}, commit {BEFORE_COMMIT}) is missing and could not be made: "
              f"`git worktree add --detach {args.before} {BEFORE_COMMIT}`, then run again.")
        sys.exit(1)
    trees = {f"before ({BEFORE_COMMIT})": args.before, "now": str(NOW)}
    runs = side_by_side(trees, which, args.repeat)
    first = {k: v[0]["points"] for k, v in runs.items()}
    rel = agreement(*first.values())
    print("| code | track CPU (s), median | runs (s) | wall (s), median | branches | branch points |")
    print("|---|---|---|---|---|---|")
    med = {}
    for k, rs in runs.items():
        med[k] = statistics.median(r["cpu"] for r in rs)
        cpus = ", ".join(f"{r['cpu']:.1f}" for r in rs)
        print(f"| {k} | {med[k]:.1f} | {cpus} | {statistics.median(r['wall'] for r in rs):.1f} | "
              f"{rs[0]['branches']} | {len(rs[0]['points'])} |")
    before, now = med[f"before ({BEFORE_COMMIT})"], med["now"]
    print(f"\nTrack CPU before / now: {before / now:.2f} ({before:.1f} s -> {now:.1f} s).  "
          f"Branch points agree: {'yes' if rel <= 1e-12 else 'NO'} (max relative difference {rel:.1e}, "
          f"{len(first['now'])} branch points).")
    collapsed = sorted(p for b, p, _ in first["now"] if b == 0)
    print("Branch points of the collapsed branch: " + ", ".join(f"{p:.15g}" for p in collapsed))
    timing.summary(f"tracker: LinearVAE({N}, {n}) track {before:.1f} s -> {now:.1f} s CPU ({before / now:.2f}x)")
    assert rel <= 1e-12, "the branch points differ from the code before"


if __name__ == "__main__":
    main()
