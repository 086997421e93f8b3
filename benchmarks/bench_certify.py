"""Certification cost against the float location, side by side in one run (issue 10).

For each model: the float track of the collapsed branch (CPU time per located branch point) and the
certification of every located point in one pass (:func:`statvae.bifurcation.certify.certify_diagram`,
30 digits; CPU time per point); the ratio is the figure of merit (target <= 2).  The certified values
are checked against the closed form ``lambda_i / beta`` of the binary-float inputs at 30 digits.

    python benchmarks/bench_certify.py
"""

from __future__ import annotations

import statistics
import time

import mpmath

import statvae
from statvae.bifurcation.certify import certify_diagram

CASES = [
    ("LinearVAE(3, 2), beta 1.25", lambda: statvae.LinearVAE(3, 2, beta=1.25), [3.0, 2.0, 1.0], 1.25),
    ("LinearVAE(4, 2), beta 1.3", lambda: statvae.LinearVAE(4, 2, beta=1.3), [3.1, 2.2, 1.3, 0.7], 1.3),
    ("LinearVAE(4, 2, full encoder)", lambda: statvae.LinearVAE(4, 2, encoder="full"), [2.9, 1.7, 1.1, 0.4], 1.0),
    ("LinearVAE(3, 2, weight decays 0.1)",
     lambda: statvae.LinearVAE(3, 2, weight_decay_enc=0.1, weight_decay_dec=0.1), [3.0, 2.0, 1.0], None),
]


def main(repeats: int = 3) -> None:
    print("| model | located points | float track per point (ms) | certification per point (ms) | "
          "certification / float | worst error vs closed form |")
    print("|---|---|---|---|---|---|")
    for name, make, spec, beta in CASES:
        m = make()
        top = max(spec) / (beta or 1.0)
        kw = dict(spectrum=spec, start=1.5 * top, stop=0.3 * min(spec) / (beta or 1.0), depth=0, switching=False)
        certify_diagram(m, statvae.track(m, **kw), branch=0)  # warm: compile the mpmath code once
        t_track, t_cert = [], []
        for _ in range(repeats):
            t0 = time.process_time()
            d = statvae.track(m, **kw)
            t1 = time.process_time()
            certs = certify_diagram(m, d, branch=0)
            t2 = time.process_time()
            t_track.append((t1 - t0) / len(certs))
            t_cert.append((t2 - t1) / len(certs))
        worst = "n/a (no closed form)"
        if beta is not None:
            with mpmath.workdps(40):
                errs = []
                for c in certs:
                    exact = min((mpmath.mpf(x) / mpmath.mpf(beta) for x in spec), key=lambda e: abs(e - c.mpf()))
                    errs.append(abs(c.mpf() - exact) / exact)
                worst = mpmath.nstr(max(errs), 2)
        a, b = statistics.median(t_track), statistics.median(t_cert)
        print(f"| {name} | {len(certs)} | {1e3 * a:.1f} | {1e3 * b:.1f} | {b / a:.2f} | {worst} |")


if __name__ == "__main__":
    main()
