"""A catalogue of model configurations shared by the tests.

Each entry builds a model with every hyper-parameter of interest left free
(``None``) or set; tests draw from it so every option is exercised.
"""

from __future__ import annotations

import statvae

# (name, factory(dims...) -> model, observed dims signature)
LINEAR_OPTIONS = [
    dict(),
    dict(beta=None),
    dict(encoder="full"),
    dict(encoder="isotropic"),
    dict(encoder=0.5),
    dict(encoder="fixed"),
    dict(decoder_variance="learned"),
    dict(decoder_variance="learned", beta=None),
    dict(prior_variance=None),
    dict(weight_decay_enc=None, weight_decay_dec=None),
    dict(encoder="full", weight_decay_dec=0.3, beta=None),
]

CONDITIONAL_OPTIONS = [
    dict(),
    dict(encoder="full"),
    dict(decoder_variance="learned"),
    dict(weight_decay_enc=None, weight_decay_dec=None, beta=None),
]

HIERARCHICAL_OPTIONS = [
    dict(),
    dict(betas=(None, None)),
    dict(encoders=("full", "isotropic"), betas=(1, 2)),
    dict(decoder_variance="learned", betas=(1, 3)),
    dict(tau2=None, weight_decay_enc=None, weight_decay_dec=None),
    dict(encoders=(0.7, "diagonal")),
]


def linear(N, n, **kw):
    return statvae.LinearVAE(N, n, **kw)


def conditional(Nx, Ny, n, **kw):
    return statvae.ConditionalVAE(Nx, Ny, n, **kw)


def hierarchical(N, n1, n2, **kw):
    return statvae.HierarchicalVAE(N, (n1, n2), **kw)


def all_models(small=True):
    """(label, model) pairs over every option, at small explicit sizes."""
    out = []
    for o in LINEAR_OPTIONS:
        for dims in [(1, 1), (2, 2), (3, 1)] if small else [(3, 2)]:
            out.append((f"linear{dims}{o}", linear(*dims, **o)))
    for o in CONDITIONAL_OPTIONS:
        for dims in [(1, 1, 1), (1, 2, 2)]:
            out.append((f"conditional{dims}{o}", conditional(*dims, **o)))
    for o in HIERARCHICAL_OPTIONS:
        for dims in [(1, 1, 1), (2, 2, 1)]:
            out.append((f"hierarchical{dims}{o}", hierarchical(*dims, **o)))
    return out
