"""Wang and Ziyin (2022), posterior collapse of a linear latent variable model, re-derived with statvae.

Run:  python derivations/wang_ziyin2022.py [--out derivations/out]

1. beta and the decoder variance enter the stationary points and their stability only through beta sigma'^2.
2. A learned encoder variance (diagonal, full or isotropic) gives the threshold xi^2 / beta; a fixed one, d_0,
   gives xi^2 / (beta d_0); the non-collapsed branch with d_0 fixed (solved by sympy) meets collapse there.
3. With a learned encoder variance the threshold does not depend on the prior variance; with a fixed one it
   depends on d_0 / prior variance only (rescaling z).
4. Weight decay on the encoder and the decoder moves the threshold; with weight decay alone (beta = 0) the
   latent still collapses below a threshold.
Every threshold is checked against an independent computation: a finite-difference Hessian of a plain numpy
ELBO (typed from the model's definition) and bisection on its largest eigenvalue; and against statvae.optimum.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from _common import Derivation, Formula, Section, check, main

import statvae
from statvae.latex import expr_latex
from statvae.model import hyper as H
from statvae.symbolic.names import spectral_symbol

SPECTRUM = [3.0, 2.0, 1.0]


def _m(e: object) -> str:
    """Inline math of a sympy object, in statvae's notation."""
    return f"${expr_latex(e)}$"


def _same(a: sp.Expr, b: sp.Expr) -> bool:
    return sp.simplify(a - b) == 0


# -- an independent ELBO: plain numpy, typed from the model's definition (THEORY.md, section 2) ---------------
def numpy_elbo(W, V, d, cov, s2, beta=1.0, eta_e=0.0, eta_d=0.0, prior=1.0):
    """The objective of the linear VAE with encoder covariance ``diag(d)`` and prior ``N(0, prior I)``."""
    N, n = W.shape
    E = np.eye(N) - W @ V
    D = np.diag(d)
    rec = -N / 2 * np.log(2 * np.pi * s2) - (np.trace(E @ cov @ E.T) + np.trace(W @ D @ W.T)) / (2 * s2)
    kl = 0.5 * (np.trace(D) / prior + np.trace(V @ cov @ V.T) / prior - n + n * np.log(prior) - np.sum(np.log(d)))
    return rec - beta * kl - eta_e / 2 * np.sum(V ** 2) - eta_d / 2 * np.sum(W ** 2)


def fd_top_eigenvalue(cov, n, s2, d, h=1e-4, **kw):
    """Largest eigenvalue of the central-difference Hessian in (W, V) of :func:`numpy_elbo` at W = V = 0."""
    N = cov.shape[0]
    k = 2 * N * n

    def f(x):
        return numpy_elbo(x[:N * n].reshape(N, n), x[N * n:].reshape(n, N), d, cov, s2, **kw)

    Hm = np.zeros((k, k))
    e = np.eye(k) * h
    for i in range(k):
        for j in range(i, k):
            Hm[i, j] = Hm[j, i] = (f(e[i] + e[j]) - f(e[i] - e[j]) - f(-e[i] + e[j]) + f(-e[i] - e[j])) / (4 * h * h)
    return float(np.max(np.linalg.eigvalsh(Hm)))


def fd_threshold(cov, n, d, lo, hi, **kw):
    """sigma'^2 where the finite-difference Hessian's largest eigenvalue changes sign (bisection, 40 steps)."""
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if fd_top_eigenvalue(cov, n, mid, d, **kw) > 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def derive() -> Derivation:
    checks = []
    sections = []
    beta, s2 = H.symbol("beta"), H.symbol("sigma2")
    d0, p = H.symbol("encoder_variance"), H.symbol("prior_variance")
    eta_e, eta_d = H.symbol("weight_decay_enc"), H.symbol("weight_decay_dec")
    cov = np.diag(SPECTRUM)
    t = sp.Symbol("t", positive=True)  # stands for beta sigma'^2

    # -- 1. the product beta sigma'^2 ----------------------------------------------------------------------
    m1 = statvae.LinearVAE(2, 1, beta=None)
    obj = m1.objective(form="eigen")
    N1 = 2
    scaled = sp.expand(s2 * (obj.total + sp.Rational(N1, 2) * sp.log(2 * sp.pi * s2)))
    in_t = sp.simplify(scaled.xreplace({beta: t / s2}))
    a1 = statvae.LinearVAE(3, 2, beta=None).collapse()
    cond_t = sp.simplify((a1.condition.lhs - a1.condition.rhs).xreplace({beta: t / s2}))
    checks.append(check("$\\sigma'^2 (\\mathcal{L} + \\frac{N}{2} \\log 2\\pi\\sigma'^2)$, written with "
                        "$\\beta = (\\beta\\sigma'^2) / \\sigma'^2$, no longer contains $\\sigma'^2$: the stationary "
                        "points and their Hessian's signs depend on $\\beta\\sigma'^2$ only",
                        s2 not in in_t.free_symbols and beta not in in_t.free_symbols))
    checks.append(check("the collapse condition, written the same way, contains neither $\\beta$ nor "
                        "$\\sigma'^2$ alone",
                        s2 not in cond_t.free_symbols and beta not in cond_t.free_symbols, f"{_m(cond_t)} > 0"))
    crit = [a1.critical("sigma2", spectrum=SPECTRUM, beta=b).value * b for b in (0.25, 1.0, 4.0)]
    kls = [statvae.optimum(statvae.LinearVAE(3, 2), spectrum=SPECTRUM, beta=b, sigma2=1.2 / b).kl_total
           for b in (0.5, 1.0, 2.0)]
    checks.append(check("numerically: $\\beta\\sigma'^2_c = 3$ at $\\beta = 0.25, 1, 4$, and statvae.optimum's "
                        "KL is the "
                        "same at $(\\beta, \\sigma'^2) = (0.5, 2.4), (1, 1.2), (2, 0.6)$",
                        np.allclose(crit, 3.0, rtol=1e-12) and np.allclose(kls, kls[1], rtol=1e-8),
                        f"KL {kls[1]:.8f}"))
    sections.append(Section(
        "Only the product $\\beta\\sigma'^2$ matters",
        "Multiply the objective by $\\sigma'^2$ and drop the constant $-\\frac{N}{2}\\log 2\\pi\\sigma'^2$; with "
        "$t = \\beta\\sigma'^2$ the objective statvae derives for $N = 2$, $n = 1$ becomes",
        [Formula(r"\sigma'^2 \left(\mathcal{L} + \tfrac{N}{2}\log 2\pi\sigma'^2\right)", in_t),
         Formula(r"\text{collapse stable}", sp.StrictGreaterThan(t, sp.expand(t - cond_t)), relation=r"\iff")],
        "where $t = \\beta\\sigma'^2$: the maximisers, their stability and the KL depend on $\\beta$ and "
        "$\\sigma'^2$ only through their product."))

    # -- 2. learned vs fixed encoder variance ---------------------------------------------------------------
    xi2 = spectral_symbol(statvae.LinearVAE(3, 2).graph.variable("x"), "i")
    learned = {}
    for kind in ("diagonal", "full", "isotropic"):
        learned[kind] = statvae.LinearVAE(3, 2, beta=None, encoder=kind).collapse().critical_expression("sigma2")
    fixed_a = statvae.LinearVAE(3, 2, beta=None, encoder="fixed").collapse()
    fixed = fixed_a.critical_expression("sigma2")
    fixed_block = fixed_a.latent_blocks[0].matrix
    checks.append(check("with a learned encoder variance (diagonal, full or isotropic) the threshold is "
                        "$\\sigma'^2_c = \\max_i \\xi_i^2 / \\beta$",
                        all(type(e).__name__ == "MaxOver" and _same(e.args[0], xi2 / beta) for e in learned.values()),
                        ", ".join(f"{k}: {_m(v)}" for k, v in learned.items())))
    checks.append(check("with a fixed encoder variance $d_0$ it is $\\sigma'^2_c = \\max_i \\xi_i^2 / (\\beta d_0)$, "
                        "i.e. collapse is stable iff $\\beta d_0 \\sigma'^2 > \\max_i \\xi_i^2$",
                        type(fixed).__name__ == "MaxOver" and _same(fixed.args[0], xi2 / (beta * d0)),
                        f"derived {_m(fixed)}"))
    # the fixed-d0 one-mode branch
    mf = statvae.LinearVAE(1, 1, beta=None, encoder="fixed")
    of = mf.objective(form="eigen")
    w, v = of.symbols
    x1 = of.data_symbols[0]
    sols = [s for s in sp.solve([sp.numer(sp.together(g)) for g in of.gradient()], [w, v], dict=True)
            if s[w] != 0]
    w2 = sp.simplify(sols[0][w] ** 2)
    kl_f = sp.simplify(of.terms["kl"].xreplace(sols[0]))
    meets = sp.solve(sp.Eq(sp.simplify(sols[0][v] ** 2), 0), s2)
    kl_c = sp.simplify(of.terms["kl"].xreplace({w: 0, v: 0}))
    kl_gap = sp.simplify(kl_f.xreplace({s2: meets[0]}) - kl_c) if len(meets) == 1 else sp.nan
    checks.append(check("the non-collapsed stationary point with $d_0$ fixed (sympy, one mode) exists exactly for "
                        "$\\beta d_0 \\sigma'^2 < \\xi_1^2$ and meets collapse at $\\beta d_0 \\sigma'^2 = \\xi_1^2$ "
                        "with the collapsed point's KL there (continuous)",
                        len(sols) == 2 and len(meets) == 1 and _same(meets[0], x1 / (beta * d0)) and kl_gap == 0,
                        f"meets at {_m(meets[0]) if meets else 'nowhere'}"))
    # independent numerics: finite-difference Hessian of the numpy ELBO with D = d0 I, and statvae's critical()
    fd = fd_threshold(cov, 2, np.full(2, 0.5), 1.0, 20.0)
    sv = statvae.LinearVAE(3, 2, encoder=0.5).collapse().critical("sigma2", spectrum=SPECTRUM).value
    checks.append(check("$d_0 = 0.5$, $\\beta = 1$, spectrum 3, 2, 1: statvae's critical() and bisection on a "
                        "finite-difference Hessian of a plain numpy ELBO agree on $\\sigma'^2_c = 6$",
                        abs(sv - 6.0) < 1e-12 and abs(fd - 6.0) < 1e-6, f"statvae {sv:.10f}, numpy {fd:.7f}"))
    opt = [statvae.optimum(statvae.LinearVAE(3, 2, encoder=0.5), spectrum=SPECTRUM, sigma2=sv).active_latents
           for sv in (5.5, 6.5)]
    checks.append(check("statvae.optimum with $d_0 = 0.5$: latents active at $\\sigma'^2 = 5.5$, none at 6.5",
                        opt[0] > 0 and opt[1] == 0, f"active latents {opt[0]} and {opt[1]}"))
    sections.append(Section(
        "A learned or a fixed encoder variance",
        "With the encoder covariance learned (diagonal, full or isotropic) the collapsed point has "
        "$D = \\mathbb{I}_n$ and the threshold is the seed paper's.  With $D = d_0 \\mathbb{I}_n$ fixed, the "
        "decoder's curvature at collapse is scaled by $d_0$:",
        [Formula(r"H_{(W_{ij}, V_{ji})}", fixed_block),
         Formula(r"\sigma'^2_c", learned["diagonal"], note=" (learned)"),
         Formula(r"\sigma'^2_c", fixed, note=" (fixed)", label="wz:fixed")],
        ""))
    sections.append(Section(
        "The branch with a fixed encoder variance",
        "The non-collapsed stationary point of one mode ($N = n = 1$) with $d_0$ fixed, solved by sympy from the "
        "model's stationary equations:",
        [Formula(r"\|w\|^2", w2), Formula(r"\mathrm{KL}", kl_f)],
        "It meets collapse at the threshold [[wz:fixed]], where its KL equals that of the collapsed point, "
        "$\\frac{1}{2}(d_0 - 1 - \\log d_0)$: the transition stays continuous."))

    # -- 3. the prior variance ------------------------------------------------------------------------------
    ap = statvae.LinearVAE(3, 2, beta=None, prior_variance=None).collapse()
    cp = ap.critical_expression("sigma2")
    afp = statvae.LinearVAE(3, 2, beta=None, prior_variance=None, encoder="fixed").collapse()
    cfp = afp.critical_expression("sigma2")
    checks.append(check("with a learned encoder variance and prior $\\mathcal{N}(0, \\sigma_0^2\\,\\mathbb{I})$ "
                        "the collapsed "
                        "point has $D = \\sigma_0^2\\,\\mathbb{I}$ and the threshold does not contain $\\sigma_0^2$",
                        p not in cp.free_symbols and _same(cp.args[0], xi2 / beta)
                        and sp.simplify(ap.collapsed_point["D"] - p * sp.Identity(2)) is not None, f"{_m(cp)}"))
    crit_p = [statvae.LinearVAE(3, 2, prior_variance=pv).collapse().critical("sigma2", spectrum=SPECTRUM).value
              for pv in (0.2, 1.0, 5.0)]
    fd_p = fd_threshold(cov, 2, np.full(2, 5.0), 1.0, 10.0, prior=5.0)
    checks.append(check("numerically: $\\sigma'^2_c = 3$ at $\\sigma_0^2 = 0.2, 1, 5$ (statvae), and the "
                        "finite-difference "
                        "numpy Hessian at $\\sigma_0^2 = 5$ (with $D = \\sigma_0^2\\,\\mathbb{I}$) agrees",
                        np.allclose(crit_p, 3.0, rtol=1e-12) and abs(fd_p - 3.0) < 1e-6, f"numpy {fd_p:.7f}"))
    checks.append(check("with $d_0$ fixed the threshold depends on $d_0 / \\sigma_0^2$ only (rescaling "
                        "$z \\to z / \\sigma_0$)",
                        _same(cfp.args[0], p * xi2 / (beta * d0))
                        and abs(statvae.LinearVAE(3, 2, encoder=0.5).collapse().critical("sigma2", spectrum=SPECTRUM)
                                .value - statvae.LinearVAE(3, 2, encoder=1.0, prior_variance=2.0).collapse()
                                .critical("sigma2", spectrum=SPECTRUM).value) < 1e-12, f"derived {_m(cfp)}"))
    sections.append(Section(
        "Independence from the prior variance",
        "statvae's linear VAE takes the prior variance $\\sigma_0^2$ as a hyper-parameter.  With a learned encoder "
        "variance the collapsed point follows the prior ($D = \\sigma_0^2\\,\\mathbb{I}_n$) and the threshold does not "
        "depend on $\\sigma_0^2$:",
        [Formula(r"\sigma'^2_c", cp, note=" (learned encoder variance)"),
         Formula(r"\sigma'^2_c", cfp, note=" (fixed encoder variance)")],
        "Rescaling the latent, $z \\to z / \\sigma_0$ ($W \\to \\sigma_0 W$, $V \\to V / \\sigma_0$, "
        "$D \\to D / \\sigma_0^2$), maps the model with prior variance $\\sigma_0^2$ onto the one "
        "with prior variance 1: a learned "
        "$D$ absorbs the scale, a fixed $d_0$ becomes $d_0 / \\sigma_0^2$."))

    # -- 4. weight decay ------------------------------------------------------------------------------------
    aw = statvae.LinearVAE(3, 2, beta=None, weight_decay_enc=None, weight_decay_dec=None).collapse()
    cw = aw.condition
    wv, vv, dd = sp.symbols("w v d")
    per_pair = (-((1 - wv * vv) ** 2 * xi2 + wv ** 2 * dd) / (2 * s2) - beta / 2 * (dd + vv ** 2 * xi2 - 1 - sp.log(dd))
                - eta_e / 2 * vv ** 2 - eta_d / 2 * wv ** 2)
    ref = sp.hessian(per_pair, (wv, vv)).subs({wv: 0, vv: 0, dd: 1})
    checks.append(check("with weight decay $\\eta_e$, $\\eta_d$ the block's determinant condition equals that of the "
                        "Hessian of the one-pair objective typed from the model's definition",
                        _same(cw.lhs - cw.rhs, sp.expand(ref.det() * s2 ** 2)), f"derived {_m(cw)}"))
    # beta = 0 is no valid value of statvae's beta (it must be > 0): take the limit of the derived condition
    lim = sp.simplify((cw.lhs - cw.rhs).xreplace({beta: 0}))
    cond0 = sp.StrictGreaterThan(lim, 0)
    ref0 = sp.StrictGreaterThan(s2 * eta_e * (1 + eta_d * s2), xi2 ** 2)
    checks.append(check("as $\\beta \\to 0$ (no KL term) weight decay alone keeps collapse stable iff "
                        "$\\eta_e \\sigma'^2 (1 + \\eta_d \\sigma'^2) > \\xi_i^4$",
                        _same(lim, ref0.lhs - ref0.rhs), f"derived {_m(cond0)}"))
    root0 = float(max(np.roots([0.3 * 0.2, 0.3, -9.0]).real))
    fd0 = fd_threshold(cov, 2, np.ones(2), 0.5, 20.0, beta=0.0, eta_e=0.3, eta_d=0.2)
    small = statvae.LinearVAE(3, 2, beta=1e-9, weight_decay_enc=0.3, weight_decay_dec=0.2).collapse().critical(
        "sigma2", spectrum=SPECTRUM).value
    checks.append(check("$\\eta_e = 0.3$, $\\eta_d = 0.2$, spectrum 3, 2, 1: the root of the limit condition, the "
                        "finite-difference numpy Hessian at $\\beta = 0$ and statvae's critical() at "
                        "$\\beta = 10^{-9}$ agree",
                        abs(fd0 - root0) < 1e-6 * root0 and abs(small - root0) < 1e-6 * root0,
                        f"root {root0:.8f}, numpy {fd0:.8f}, statvae {small:.8f}"))
    mw = statvae.LinearVAE(3, 2, weight_decay_enc=0.3, weight_decay_dec=0.2)
    cwv = mw.collapse().critical("sigma2", spectrum=SPECTRUM).value
    fdw = fd_threshold(cov, 2, np.ones(2), 0.5, 5.0, eta_e=0.3, eta_d=0.2)
    ow = [statvae.optimum(mw, spectrum=SPECTRUM, sigma2=x).active_latents for x in (0.95 * cwv, 1.05 * cwv)]
    checks.append(check("$\\eta_e = 0.3$, $\\eta_d = 0.2$, $\\beta = 1$, spectrum 3, 2, 1: statvae's critical(), the "
                        "finite-difference numpy Hessian and statvae.optimum (latents active 5 per cent below, "
                        "none 5 per cent above) agree", abs(fdw - cwv) < 1e-6 * cwv and ow[0] > 0 and ow[1] == 0,
                        f"statvae {cwv:.10f}, numpy {fdw:.7f}"))
    sections.append(Section(
        "Weight decay",
        "With weight decay $\\eta_e$ on the encoder and $\\eta_d$ on the decoder the block at collapse and the "
        "solved thresholds are",
        [Formula(r"H_{(W_{ij}, V_{ji})}", aw.latent_blocks[0].matrix),
         Formula(r"\text{collapse stable}", cw, relation=r"\iff", label="wz:decay"),
         Formula(r"\sigma'^2_c", aw.critical_expression("sigma2")),
         Formula(r"\text{collapse stable}", cond0, relation=r"\iff", note=r" as $\beta \to 0$")],
        "Weight decay on either map stabilises collapse; at $\\beta = 0$, with no KL term at all, the latent "
        "still collapses when $\\eta_e \\sigma'^2 (1 + \\eta_d \\sigma'^2)$ exceeds $\\max_i \\xi_i^4$: the "
        "regularisation of the encoder's mean plays the role of the prior."))

    return Derivation(
        key="wang_ziyin2022",
        title="Posterior collapse of a linear latent variable model",
        reference="Wang and Ziyin, Posterior Collapse of a Linear Latent Variable Model, NeurIPS 2022 "
                  "(arXiv:2205.04009)",
        summary="The collapse threshold depends on $\\beta$ and $\\sigma'^2$ only through $\\beta\\sigma'^2$; it "
                "changes when the encoder variance is fixed instead of learned, does not depend on the prior "
                "variance when the encoder variance is learned, and moves with weight decay, which alone can "
                "cause collapse.",
        sections=sections,
        checks=checks,
        symbols={r"W": "decoder weight", r"V": "encoder weight", r"D": "encoder covariance",
                 r"d_0": "fixed encoder variance", r"\sigma_0^2": "prior variance",
                 r"t": r"the product $\beta\sigma'^2$",
                 r"\sigma'^2": "decoder variance", r"\beta": "weight of the KL term",
                 r"\eta_e, \eta_d": "weight decay on $V$ and on $W$",
                 r"\xi_i^2": "eigenvalues of the data covariance", r"\mathcal{L}": "objective"},
    )


if __name__ == "__main__":
    raise SystemExit(main(derive))
