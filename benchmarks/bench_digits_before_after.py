"""The full digits diagram (LinearVAE(64, 8), sigma2 from 1 to 0.05) in two source trees, side by side.

    git worktree add /tmp/wt 0e49035   # the tree to compare against
    python benchmarks/bench_digits_before_after.py

Process CPU time (imports included, compiled code cached, one BLAS thread), median of two interleaved runs.
"""
import os
import resource
import subprocess
import sys
import statistics
def cpu(cmd, env):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, env=env, capture_output=True, check=True)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
code = ("import statvae;from statvae.data import digits, covariance_from_samples;"
        "m=statvae.LinearVAE(64,8);C=covariance_from_samples(digits());"
        "d=statvae.track(m,covariance=C,parameter='sigma2',start=1.0,stop=0.05);"
        "print(len(d.branches), len(d.special_points('branch point')))")
base = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "STATVAE_CACHE_DIR": "/tmp/digits-cache"}
trees = {"before (0e49035)": "/tmp/wt", "now": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}
for t in trees.values():  # warm the compile caches
    subprocess.run([sys.executable, "-c", code], env={**base, "PYTHONPATH": t}, check=True, capture_output=True)
res = {k: [] for k in trees}
for _ in range(2):
    for k, t in trees.items():
        res[k].append(cpu([sys.executable, "-c", code], {**base, "PYTHONPATH": t}))
for k, v in res.items():
    print(k, f"{statistics.median(v):.2f} s CPU")
print("ratio", statistics.median(res["before (0e49035)"]) / statistics.median(res["now"]))
