"""Compiled numerics against a hand-written numpy implementation and JAX, side by side.

Run:  python benchmarks/bench_numeric.py [--quick] [--no-jax]

Model: the plain linear VAE (diagonal encoder, fixed sigma'^2, beta, weight
decays), data covariance of a random 1/sqrt(N)-scaled Gaussian matrix.  For
each size (N, n) the script measures, in one run and interleaved:

* value + gradient: statvae (matrix path, bound data) / hand-written numpy / JAX jit(value_and_grad);
* Hessian-vector product: statvae HVP / statvae gradient, and JAX jvp(grad);
* compile time: statvae (derivation + code generation + verification, cold cache) versus plain
  ``sympy.lambdify`` of the explicit-entry Hessian without cse, at growing sizes until it takes a minute;
* dense Hessian assembly at (64, 8).

The value + gradient and HVP figures are CPU-time ratios measured interleaved (``timing.ratio``: alternating
batches, median of the per-round ratios) with one BLAS thread and JAX on one thread (``timing`` sets
``OPENBLAS_NUM_THREADS=1`` and ``XLA_FLAGS`` unless given).  JAX is optional: without it the JAX columns are
skipped with a message.  The output is Markdown with ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import ratio, summary

import numpy as np

import statvae
from statvae.numeric import random_parameters


# --------------------------------------------------------------------------- hand-written reference
def handwritten(W, V, d, S, s, beta, p, eta_e, eta_d, trS):
    """Value and gradient of the plain linear VAE, every product O(N^2 n) or cheaper.

    L = -N/2 log(2 pi s) - [tr S - 2 tr(W V S) + tr(W C W^T)]/(2s)
        + beta [n/2 + 1/2 sum log d - n/2 log p - (tr(V S V^T) + sum d)/(2p)] - eta_e/2|V|^2 - eta_d/2|W|^2,
    C = V S V^T + diag(d).
    """
    N, n = W.shape
    VS = V @ S                      # n x N, the only N^2 n product of the value
    VSVt = VS @ V.T                 # n x n
    C = VSVt.copy()
    C[np.diag_indices(n)] += d
    WtW = W.T @ W                   # n x n
    trWVS = np.sum(W.T * VS)
    trWCWt = np.sum(WtW * C)
    val = (-N / 2 * np.log(2 * np.pi * s) - (trS - 2 * trWVS + trWCWt) / (2 * s)
           + beta * (n / 2 + 0.5 * np.sum(np.log(d)) - n / 2 * np.log(p) - (np.trace(VSVt) + d.sum()) / (2 * p))
           - eta_e / 2 * np.sum(V * V) - eta_d / 2 * np.sum(W * W))
    gW = (VS.T - W @ C) / s - eta_d * W
    gV = ((W.T - WtW @ V) / s - beta / p * V) @ S - eta_e * V   # the second N^2 n product
    gd = -np.diag(WtW) / (2 * s) + beta * (0.5 / d - 0.5 / p)
    return val, np.concatenate([gW.ravel(), gV.ravel(), gd])


def median_time(fn, min_time=0.2, repeat=7):
    fn()
    n = 1
    while True:
        t = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t
        if dt > min_time / repeat or n > 1e6:
            break
        n *= 2
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - t) / n)
    return statistics.median(times)


def jax_functions(N, n, hyper):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    s, beta, p, eta_e, eta_d = hyper

    def f(theta, S):
        W = theta[: N * n].reshape(N, n)
        V = theta[N * n: 2 * N * n].reshape(n, N)
        d = theta[2 * N * n:]
        VS = V @ S
        C = VS @ V.T + jnp.diag(d)
        val = (-N / 2 * jnp.log(2 * jnp.pi * s)
               - (jnp.trace(S) - 2 * jnp.sum(W.T * VS) + jnp.sum((W.T @ W) * C)) / (2 * s)
               + beta * (n / 2 + 0.5 * jnp.sum(jnp.log(d)) - n / 2 * jnp.log(p) - jnp.trace(C) / (2 * p))
               - eta_e / 2 * jnp.sum(V * V) - eta_d / 2 * jnp.sum(W * W))
        return val

    vg = jax.jit(jax.value_and_grad(f))
    g = jax.grad(f)
    hvp = jax.jit(lambda th, v, S: jax.jvp(lambda t: g(t, S), (th,), (v,))[1])
    return vg, hvp, jnp


def bench_sizes(sizes, use_jax, rounds=9, target=0.05):
    hyper = (0.9, 1.2, 1.0, 0.05, 0.02)
    rows = []
    for N, n in sizes:
        model = statvae.LinearVAE(N, n, sigma2=hyper[0], beta=hyper[1], weight_decay_enc=hyper[3],
                                  weight_decay_dec=hyper[4])
        f = model.compile()
        rng = np.random.default_rng(0)
        theta = random_parameters(f.layout, rng, scale=0.05)
        a = rng.standard_normal((N, N)) / np.sqrt(N)
        S = a @ a.T
        b = f.bind(covariance=S)
        blocks = f.unpack(theta)
        W, V, d = blocks["W"], blocks["V"], np.diag(blocks["D"]).copy()
        trS = np.trace(S)
        v0, g0 = b.value_and_gradient(theta)
        v1, g1 = handwritten(W, V, d, S, hyper[0], hyper[1], hyper[2], hyper[3], hyper[4], trS)
        assert abs(v0 - v1) <= 1e-9 * abs(v1) and np.allclose(g0, g1, rtol=1e-9, atol=1e-9), "mismatch"
        vdir = rng.standard_normal(theta.size)
        sv = lambda: b.value_and_gradient(theta)
        r_hand, t_sv, t_hw = ratio(sv, lambda: handwritten(W, V, d, S, hyper[0], hyper[1], hyper[2], hyper[3],
                                                            hyper[4], trS), rounds, target)
        r_hg, t_h, t_g = ratio(lambda: b.hvp(theta, vdir), lambda: b.gradient(theta), rounds, target)
        row = {"N": N, "n": n, "P": theta.size, "statvae_vg": t_sv, "hand_vg": t_hw, "grad": t_g, "hvp": t_h,
               "r_hand": r_hand, "r_hvp_grad": r_hg}
        jf = jax_functions(N, n, hyper) if use_jax else None
        if jf is not None:
            vg, hvp, jnp = jf
            th, Sj, vj = jnp.asarray(theta), jnp.asarray(S), jnp.asarray(vdir)
            jv, jg = vg(th, Sj)
            assert abs(float(jv) - v0) <= 1e-8 * abs(v0) and np.allclose(np.asarray(jg), g0, rtol=1e-8, atol=1e-8)
            assert np.allclose(np.asarray(hvp(th, vj, Sj)), b.hvp(theta, vdir), rtol=1e-8, atol=1e-8)
            row["r_jax"], _, row["jax_vg"] = ratio(sv, lambda: [x.block_until_ready() for x in vg(th, Sj)], rounds,
                                                   target)
            row["r_jax_hvp"], _, row["jax_hvp"] = ratio(lambda: b.hvp(theta, vdir),
                                                        lambda: hvp(th, vj, Sj).block_until_ready(), rounds, target)
        rows.append(row)
    return rows


def bench_compile(max_seconds, quick):
    from statvae.symbolic.objective import build_objective
    import sympy as sp

    rows = []
    sizes = [(2, 1), (3, 2), (4, 2), (4, 3), (6, 3), (6, 4), (8, 4)]
    if quick:
        sizes = sizes[:3]
    plain_done = False
    for N, n in sizes:
        model = statvae.LinearVAE(N, n)
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["STATVAE_CACHE_DIR"] = tmp
            from statvae.numeric import bundle

            bundle._VERIFIED.clear()
            t = time.perf_counter()
            model.compile(cache=True)
            t_sv = time.perf_counter() - t
            t = time.perf_counter()
            model.compile(cache=True)
            t_hit = time.perf_counter() - t
        t_plain = None
        if not plain_done:
            t = time.perf_counter()
            obj = build_objective(model, "explicit", substitute=False)
            h = sp.hessian(obj.total, obj.symbols)
            sp.lambdify(obj.symbols + obj.data_symbols, h, "numpy", cse=False)
            t_plain = time.perf_counter() - t
            plain_done = t_plain > max_seconds
        rows.append({"N": N, "n": n, "P": 2 * N * n + n, "statvae": t_sv, "hit": t_hit, "plain": t_plain})
    for N, n in [(64, 8), (784, 16), (784, 64)]:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["STATVAE_CACHE_DIR"] = tmp
            from statvae.numeric import bundle

            bundle._VERIFIED.clear()
            t = time.perf_counter()
            statvae.LinearVAE(N, n).compile()
            rows.append({"N": N, "n": n, "P": 2 * N * n + n, "statvae": time.perf_counter() - t, "hit": None,
                         "plain": None})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-jax", action="store_true")
    ap.add_argument("--max-seconds", type=float, default=60.0)
    args = ap.parse_args()
    os.environ.setdefault("STATVAE_CACHE_DIR", tempfile.mkdtemp())
    sizes = [(8, 2), (64, 8), (784, 16), (784, 64)]
    if args.quick:
        sizes = sizes[:3]
    rows = bench_sizes(sizes, not args.no_jax, rounds=5 if args.quick else 9, target=0.02 if args.quick else 0.05)
    have_jax = any("jax_vg" in r for r in rows)
    if not have_jax and not args.no_jax:
        print("JAX is not installed: JAX columns skipped (pip install jax to include them; it is not a "
              "dependency).\n")
        summary("numeric: JAX not installed, JAX ratios skipped")
    print("### value + gradient, and HVP\n")
    head = "| N | n | parameters | statvae v+g (ms) | hand-written (ms) | statvae / hand |"
    if have_jax:
        head += " JAX v+g (ms) | statvae / JAX |"
    head += " HVP / gradient |"
    if have_jax:
        head += " statvae HVP / JAX HVP |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for r in rows:
        line = (f"| {r['N']} | {r['n']} | {r['P']} | {r['statvae_vg'] * 1e3:.3f} | {r['hand_vg'] * 1e3:.3f} | "
                f"{r['r_hand']:.2f} |")
        if have_jax:
            line += f" {r['jax_vg'] * 1e3:.3f} | {r['r_jax']:.2f} |"
        line += f" {r['r_hvp_grad']:.2f} |"
        if have_jax:
            line += f" {r['r_jax_hvp']:.2f} |"
        print(line)
        jax_part = f", / JAX {r['r_jax']:.2f}, HVP / JAX HVP {r['r_jax_hvp']:.2f}" if have_jax else ""
        summary(f"numeric {r['N']} x {r['n']}: value+gradient / hand-written numpy {r['r_hand']:.2f}{jax_part}")
    print(f"\nCPU time (process_time), ratios are medians of {5 if args.quick else 9} interleaved rounds; "
          f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}"
          + (f", JAX {__import__('jax').__version__} on one thread (XLA_FLAGS={os.environ['XLA_FLAGS']})"
             if have_jax else "") + ".")

    print("\n### dense Hessian assembly at (64, 8)\n")
    model = statvae.LinearVAE(64, 8, sigma2=0.9)
    f = model.compile()
    rng = np.random.default_rng(1)
    theta = random_parameters(f.layout, rng, scale=0.05)
    a = rng.standard_normal((64, 64)) / 8
    b = f.bind(covariance=a @ a.T)
    r_hg, t_h, _ = ratio(lambda: b.hessian(theta), lambda: b.gradient(theta), 5, 0.1)
    print(f"{theta.size} x {theta.size} Hessian (stacked HVPs): {t_h * 1e3:.1f} ms CPU = {r_hg:.0f} gradients")

    print("\n### compile time (cold cache) versus plain sympy.lambdify of the explicit Hessian (no cse)\n")
    print("| N | n | parameters | statvae compile (s) | cache hit (s) | plain lambdify Hessian (s) | plain / statvae |")
    print("|---|---|---|---|---|---|---|")
    for r in bench_compile(args.max_seconds, args.quick):
        plain = f"{r['plain']:.2f}" if r["plain"] is not None else "-"
        rel = f"{r['plain'] / r['statvae']:.1f}" if r["plain"] is not None else "-"
        hit = f"{r['hit']:.3f}" if r["hit"] is not None else "-"
        print(f"| {r['N']} | {r['n']} | {r['P']} | {r['statvae']:.2f} | {hit} | {plain} | {rel} |")


if __name__ == "__main__":
    main()
