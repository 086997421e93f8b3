"""Small tracked diagrams and phase diagrams for the figure tests (computed once per process)."""

import functools

import statvae

#: The toy spectrum: thresholds of the collapsed branch at sigma2 = 3, 2, 1 (beta = 1).
TOY = [3.0, 2.0, 1.0]
#: Six directions, three latents, sigma2 from 12 down to 0.15 (1.9 decades: a log axis by default).
WIDE = [8.0, 4.0, 2.0, 1.0, 0.5, 0.25]


@functools.cache
def toy():
    return statvae.track(statvae.LinearVAE(3, 3), spectrum=TOY, start=4.0, stop=0.3)


@functools.cache
def wide():
    return statvae.track(statvae.LinearVAE(6, 3), spectrum=WIDE, start=12.0, stop=0.15)


@functools.cache
def phase(loci=3, steps=16):
    from statvae.bifurcation import branch_point_loci

    return branch_point_loci(statvae.LinearVAE(3, 3), spectrum=TOY, parameter="sigma2", along="beta", start=10.0,
                             stop=0.2, along_start=0.5, along_stop=3.0, loci=loci, steps=steps)
