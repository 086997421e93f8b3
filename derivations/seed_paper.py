"""Li, Zhang, Zhang, Chen (2025): posterior collapse as a phase transition, re-derived with statvae.

Run:  python derivations/seed_paper.py [--out derivations/out]

Everything shown is produced by statvae from the model description (``statvae.LinearVAE``): the objective,
the Hessian at the collapsed point and its blocks, the criterion, the non-collapsed branch of one mode
(solved by sympy from the model's own stationary equations), the jump of the KL's derivative, and the
threshold on the digits.  The published forms appear only as the references the checks compare against.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from _common import Derivation, Formula, Section, check, main

import statvae
from statvae.latex import expr_latex
from statvae.model import hyper as H
from statvae.symbolic.names import spectral_symbol

SPECTRUM = [3.0, 2.0, 1.0]  # a toy spectrum xi_1^2 > xi_2^2 > xi_3^2 for the numeric checks


def _same(a: sp.Expr, b: sp.Expr) -> bool:
    """Whether ``a - b`` simplifies to zero."""
    return sp.simplify(sp.expand_log(sp.simplify(a - b), force=True)) == 0


def _m(e: object) -> str:
    """Inline math of a sympy object, in statvae's notation."""
    return f"${expr_latex(e)}$"


def _half_log(kl: sp.Expr) -> sp.Expr:
    """``kl`` (a sum of halved logs) written as one half of one log, unevaluated, for display."""
    return sp.Mul(sp.Rational(1, 2), sp.logcombine(sp.expand(2 * kl), force=True), evaluate=False)


def one_mode_branch() -> tuple[dict, statvae.VAEModel]:
    """The stationary point with ``W != 0`` of the one-mode model (N = n = 1), solved by sympy.

    Returns the solution (one sign of ``w``: the other is its image under the latent flip) with the
    decoder norm, posterior variance, KL and objective on it, and the model.
    """
    model = statvae.LinearVAE(1, 1, beta=None)
    obj = model.objective(form="eigen")
    w, v, d = obj.symbols
    eqs = [sp.numer(sp.together(g)) for g in obj.gradient()]
    sols = [s for s in sp.solve(eqs, [w, v, d], dict=True) if s[w] != 0]
    s = sols[0]
    out = {"w": s[w], "v": s[v], "d": sp.simplify(s[d]), "w2": sp.factor(sp.simplify(s[w] ** 2)),
           "kl": sp.simplify(sp.expand_log(obj.terms["kl"].xreplace(s), force=True)),
           "elbo": sp.simplify(obj.total.xreplace(s)),
           "elbo0": sp.simplify(obj.total.xreplace({w: 0, v: 0, d: 1})),
           "kl0": sp.simplify(obj.terms["kl"].xreplace({w: 0, v: 0, d: 1})),
           "count": len(sols), "symbols": (w, v, d), "xi2": obj.data_symbols[0], "obj": obj}
    return out, model


def derive() -> Derivation:
    checks = []
    sections = []
    beta, s2 = H.symbol("beta"), H.symbol("sigma2")

    # -- 1. the objective ----------------------------------------------------------------------------------
    model = statvae.LinearVAE(3, 2, beta=None)
    obj = model.objective(form="matrix")
    sections.append(Section(
        "The objective",
        "The linear VAE with decoder $p(x \\mid z) = \\mathcal{N}(W z, \\sigma'^2 \\mathbb{I}_N)$, encoder "
        "$q(z \\mid x) = \\mathcal{N}(V x, D)$ and centred data; statvae writes its exact objective (no "
        "sampling) for symbolic sizes $N$, $n$:",
        [Formula(r"\mathcal{L}", obj.total, label="seed:objective")]))

    # -- 2. the Hessian at collapse ------------------------------------------------------------------------
    a = model.collapse()
    xi2 = spectral_symbol(model.graph.variable("x"), "i")
    blk = a.latent_blocks[0]
    others = [b for b in a.blocks if not b.touches_latent]
    # independent reference: the objective of one (i, j) pair typed from the model's definition, its Hessian
    w, v, d = sp.symbols("w v d")
    per_pair = (-((1 - w * v) ** 2 * xi2 + w ** 2 * d) / (2 * s2)
                - beta / 2 * (d + v ** 2 * xi2 - 1 - sp.log(d)))
    ref_block = sp.hessian(per_pair, (w, v)).subs({w: 0, v: 0, d: 1})
    checks.append(check("the $(W_{ij}, V_{ji})$ block of the Hessian at collapse equals the Hessian of the one-pair "
                        "objective typed from the model's definition",
                        sp.simplify(blk.matrix - ref_block) == sp.zeros(2, 2),
                        f"{_m(blk.multiplicity)} copies"))
    sections.append(Section(
        "The Hessian at the collapsed point",
        "At the collapsed point ($W = 0$, $V = 0$, $D = \\mathbb{I}_n$) the Hessian of [[seed:objective]] "
        "splits into $N n$ blocks of size 2, one per eigen-direction $i$ and latent $j$, coupling the "
        "decoder weight $W_{ij}$ and the encoder weight $V_{ji}$, and blocks of the encoder variances:",
        [Formula(rf"H_{{({blk.name})}}", blk.matrix, label="seed:block")]
        + [Formula(rf"H_{{({b.name})}}", b.matrix) for b in others],
        "The encoder-variance blocks are always negative; the block [[seed:block]] has the determinant "
        f"${expr_latex(blk.determinant)}$."))
    # the splitting, numerically: spectrum of the compiled Hessian = union of the blocks' spectra
    m3 = statvae.LinearVAE(3, 2, beta=0.7)
    f = m3.compile()
    sig = 1.3
    bound = f.bind(spectrum=SPECTRUM, sigma2=sig)
    theta0 = f.pack(W=np.zeros((3, 2)), V=np.zeros((2, 3)), D=np.ones(2))
    h = np.sort(np.linalg.eigvalsh(bound.hessian(theta0)))
    union = []
    for x in SPECTRUM:
        mat = np.array(blk.matrix.subs({xi2: x, beta: 0.7, s2: sig}), dtype=float)
        union += list(np.linalg.eigvalsh(mat)) * 2  # n = 2 copies
    for b in others:
        union += list(np.linalg.eigvalsh(np.array(b.matrix.subs({beta: 0.7, s2: sig}), dtype=float))) * 2
    union = np.sort(union)
    checks.append(check("the compiled Hessian of the $N = 3$, $n = 2$ model at collapse has exactly the eigenvalues "
                        "of its $N n$ $(W_{ij}, V_{ji})$ blocks and $n$ encoder-variance blocks (spectrum 3, 2, 1; "
                        "$\\beta = 0.7$, $\\sigma'^2 = 1.3$)",
                        len(h) == len(union) and np.allclose(h, union, rtol=1e-12, atol=1e-12),
                        "to $10^{-12}$"))

    # -- 3. the criterion ----------------------------------------------------------------------------------
    ce = a.critical_expression("sigma2")
    crit_beta = a.critical_expression("beta")
    published = sp.StrictGreaterThan(beta * s2, xi2)  # Li et al.: sigma'^2 > max_i xi_i^2 (beta = 1)
    cond = a.condition
    checks.append(check("the block's stability condition is the published one, $\\beta\\sigma'^2 > \\xi_i^2$",
                        _same(cond.lhs - cond.rhs, published.lhs - published.rhs),
                        f"derived {_m(cond)}"))
    checks.append(check("the critical decoder variance is $\\max_i \\xi_i^2 / \\beta$ (at $\\beta = 1$ the paper's "
                        "$\\max(\\xi_1^2, \\dots, \\xi_N^2)$)",
                        type(ce).__name__ == "MaxOver" and _same(ce.args[0], xi2 / beta)
                        and _same(a.model.with_values(beta=1).collapse().critical_expression("sigma2").args[0], xi2),
                        f"derived {_m(ce)}"))
    vals = [a.critical("sigma2", spectrum=SPECTRUM, beta=bv).value for bv in (0.5, 1.0, 2.0)]
    checks.append(check("critical() on the spectrum 3, 2, 1 at $\\beta = 0.5, 1, 2$ gives "
                        "$\\max_i \\xi_i^2 / \\beta$", np.allclose(vals, [6.0, 3.0, 1.5], rtol=1e-12),
                        ", ".join(f"{v:g}" for v in vals)))
    # multiplicity n of the zero eigenvalue at the threshold, from the compiled Hessian
    hc = np.linalg.eigvalsh(statvae.LinearVAE(3, 2).compile().bind(spectrum=SPECTRUM, sigma2=3.0).hessian(theta0))
    zeros = int(np.sum(np.abs(hc) < 1e-10 * np.max(np.abs(hc))))
    pos_below = int(np.sum(np.linalg.eigvalsh(statvae.LinearVAE(3, 2).compile().bind(
        spectrum=SPECTRUM, sigma2=2.99).hessian(theta0)) > 0))
    checks.append(check("at $\\sigma'^2 = \\max_i \\xi_i^2$ the compiled Hessian has a zero eigenvalue of "
                        "multiplicity $n = 2$, and $n$ ascent directions just below", zeros == 2 and pos_below == 2,
                        f"{zeros} zero eigenvalues at 3.0, {pos_below} positive at 2.99"))
    sections.append(Section(
        "The criterion",
        "The block [[seed:block]] is negative definite exactly when its determinant is positive (its trace "
        "is negative); statvae solves that condition for each hyper-parameter:",
        [Formula(r"\text{collapse stable}", a.criterion, relation=r"\iff", label="seed:criterion"),
         Formula(r"\sigma'^2_c", ce), Formula(r"\beta_c", crit_beta)],
        "At $\\beta = 1$ this is the paper's criterion $\\sigma'^2 > \\max(\\xi_1^2, \\dots, \\xi_N^2)$; at the "
        "threshold the Hessian has a zero eigenvalue of multiplicity $n$ (times the multiplicity of the top "
        "eigenvalue): all latents lose stability together."))

    # -- 4. the non-collapsed branch of one mode -----------------------------------------------------------
    br, m1 = one_mode_branch()
    x = br["xi2"]
    ref = {"w2": x - beta * s2, "d": beta * s2 / x, "kl": sp.log(x / (beta * s2)) / 2}
    for k, what in (("w2", "$\\|w\\|^2 = \\xi_1^2 - \\beta\\sigma'^2$"),
                    ("d", "posterior variance $d = \\beta\\sigma'^2 / \\xi_1^2$"),
                    ("kl", "$\\mathrm{KL} = \\frac{1}{2} \\log(\\xi_1^2 / (\\beta\\sigma'^2))$")):
        checks.append(check(f"the non-collapsed stationary point of one mode has {what} (published form)",
                            _same(br[k], ref[k]), f"derived {_m(_half_log(br[k]) if k == 'kl' else br[k])}"))
    checks.append(check("sympy finds exactly two non-collapsed stationary points of one mode ($w$ and $-w$, images "
                        "under the latent flip)", br["count"] == 2, f"{br['count']} solutions with w != 0"))
    sections.append(Section(
        "The non-collapsed branch of one mode",
        "Restricted to one latent and one eigen-direction ($N = n = 1$, data variance $\\xi_1^2$) the stationary "
        "equations of the objective are solved by sympy; besides the collapsed point they have one solution "
        "up to the sign of the latent:",
        [Formula(r"\|w\|^2", br["w2"], label="seed:w2"), Formula("d", br["d"]),
         Formula(r"\mathrm{KL}", _half_log(br["kl"]), label="seed:kl")],
        "It exists for $\\beta\\sigma'^2 < \\xi_1^2$, where collapse is unstable; the order parameter "
        "$\\|w\\|$ vanishes like a square root at the threshold [[seed:w2]]."))
    # numerically: the certified optimum of the N = 3, n = 2 model is the top-n branches
    m32 = statvae.LinearVAE(3, 2)
    worst = 0.0
    for sv in (0.5, 1.5, 2.5, 3.5):
        r = statvae.optimum(m32, spectrum=SPECTRUM, sigma2=sv)
        want = sorted((0.5 * np.log(xv / sv) for xv in SPECTRUM[:2] if xv > sv), reverse=True)
        got = sorted((k for k in r.kl_per_latent["z"] if k > 1e-9), reverse=True)
        wn = sorted(np.sum(np.asarray(r.parameters["W"]) ** 2, axis=0), reverse=True)
        wwant = sorted([max(xv - sv, 0.0) for xv in SPECTRUM[:2]], reverse=True)
        ok = r.success and len(got) == len(want) and np.allclose(got, want, rtol=1e-7, atol=1e-9) \
            and np.allclose(wn, wwant, rtol=1e-6, atol=1e-9)
        worst = max(worst, 0.0 if ok else 1.0)
    checks.append(check("statvae.optimum of the $N = 3$, $n = 2$ model (spectrum 3, 2, 1) at "
                        "$\\sigma'^2 = 0.5, 1.5, 2.5, 3.5$: its active latents carry "
                        "$\\mathrm{KL} = \\frac{1}{2} \\log(\\xi_a^2 / \\sigma'^2)$ and "
                        "$\\|w\\|^2 = \\xi_a^2 - \\sigma'^2$ on the top directions", worst == 0.0))

    # -- 5. the jump of the KL's derivative ----------------------------------------------------------------
    thr = sp.solve(sp.Eq(br["w2"], 0), s2)[0]  # where the branch meets collapse
    dkl = sp.simplify(sp.diff(br["kl"], s2).subs(s2, thr) - sp.diff(br["kl0"], s2))
    kl_gap = sp.simplify(br["kl"].subs(s2, thr) - br["kl0"])
    de = [sp.simplify(sp.diff(br["elbo"] - br["elbo0"], s2, k).subs(s2, thr)) for k in range(3)]
    pub_kl = sp.log(x / (beta * s2)) / 2
    ref_jump = sp.diff(pub_kl, s2).subs(s2, x / beta)
    checks.append(check("the branch meets collapse at $\\beta\\sigma'^2 = \\xi_1^2$ with a continuous KL",
                        _same(thr, x / beta) and kl_gap == 0, f"threshold {_m(thr)}, KL gap {_m(kl_gap)}"))
    checks.append(check("the jump of $\\partial \\mathrm{KL} / \\partial \\sigma'^2$ at the threshold (branch minus "
                        "collapsed side) equals the derivative of the published KL there, "
                        "$-\\beta / (2 \\xi_1^2)$", _same(dkl, ref_jump), f"derived {_m(dkl)}"))
    checks.append(check("the objective and its first derivative are continuous there; its second derivative "
                        "jumps", de[0] == 0 and de[1] == 0 and de[2] != 0, f"second-derivative jump {_m(de[2])}"))
    sections.append(Section(
        "The KL is continuous, its derivative jumps",
        "On the collapsed side the KL is zero; on the branch it is [[seed:kl]].  The two meet where "
        "[[seed:w2]] vanishes, and statvae differentiates both sides there:",
        [Formula(r"\beta\sigma'^2_c", sp.simplify(beta * thr)),
         Formula(r"\left.\frac{\partial \mathrm{KL}}{\partial \sigma'^2}\right|_{\text{branch}}"
                 r" - \left.\frac{\partial \mathrm{KL}}{\partial \sigma'^2}\right|_{\text{collapsed}}", dkl,
                 label="seed:jump"),
         Formula(r"\Delta \frac{\partial^2 \mathcal{L}}{\partial (\sigma'^2)^2}", de[2])],
        "The KL is continuous with a jump [[seed:jump]] in its first derivative, and the objective has a jump "
        "in its second derivative: a continuous transition with the mean-field exponents "
        "($\\|w\\| \\propto (\\xi_1^2 - \\beta\\sigma'^2)^{1/2}$, KL linear in the distance to the threshold)."))
    # numerically: the tracker's one-sided derivatives at the first branch point
    dia = statvae.track(m32, spectrum=SPECTRUM, start=4.0, stop=0.5)
    bp = [p for p in dia.special_points("branch point", branch=0)]
    top = max(bp, key=lambda p: p.parameter)
    jump_num = top.info["one_sided_derivatives"]["kl_total"]["jump"]
    jump_ref = float(ref_jump.subs({x: 3.0, beta: 1.0}))
    second_num = top.info["one_sided_derivatives"]["elbo"]["second_jump"]
    second_ref = float(de[2].subs({x: 3.0, beta: 1.0}))
    checks.append(check("statvae.track on the spectrum 3, 2, 1 finds branch points at $\\sigma'^2 = 3, 2, 1$, and "
                        "its measured jump of the KL's derivative at 3 matches $-1/6$ to $10^{-4}$",
                        np.allclose(sorted(p.parameter for p in bp), [1.0, 2.0, 3.0], rtol=1e-10)
                        and abs(jump_num - jump_ref) < 1e-4, f"measured {jump_num:.5f}, closed form {jump_ref:.5f}"))
    checks.append(check("the tracker's measured jump of the objective's second derivative at $\\sigma'^2 = 3$ "
                        "matches the derived $\\beta^3 / (2 \\xi_1^4) = 1/18$ to $10^{-2}$ relative",
                        abs(second_num - second_ref) < 1e-2 * second_ref,
                        f"measured {second_num:.4f}, derived {second_ref:.4f}"))

    # -- 6. digits -----------------------------------------------------------------------------------------
    from statvae.data import digits

    X = digits()  # pixels / 16
    lam = float(np.linalg.eigvalsh(np.cov(X - X.mean(axis=0), rowvar=False))[-1])
    crit = statvae.LinearVAE(64, 8).collapse().critical("sigma2", samples=X)
    checks.append(check("on the digits (pixels / 16, centred) the critical decoder variance of a linear VAE with "
                        "8 latents is the top eigenvalue of the sample covariance (numpy)",
                        abs(crit.value - lam) < 1e-12 * lam, f"critical {crit.value:.10f}, numpy {lam:.10f}"))
    sections.append(Section(
        "The threshold on the digits",
        f"On scikit-learn's handwritten digits (1797 images of 64 pixels, scaled to $[0, 1]$ and centred) "
        f"statvae finds, for a linear VAE with $n = 8$ latents and $\\beta = 1$, the critical decoder variance "
        f"$\\sigma'^2_c = {crit.value:.6f}$: the largest eigenvalue of the sample covariance, as "
        f"[[seed:criterion]] says."))

    return Derivation(
        key="seed_paper",
        title="Posterior collapse as a phase transition",
        reference="Li, Zhang, Zhang, Chen, Posterior Collapse as a Phase Transition in Variational Autoencoders, "
                  "arXiv:2510.01621 (2025)",
        summary="The collapsed point of a linear VAE is a local maximum of the ELBO exactly when "
                "$\\beta\\sigma'^2 > \\max_i \\xi_i^2$; below the threshold a latent switches on continuously, "
                "with a KL that is continuous but has a jump in its first derivative.",
        sections=sections,
        checks=checks,
        symbols={r"W": "decoder weight", r"V": "encoder weight", r"D": "encoder covariance",
                 r"\sigma'^2": "decoder variance", r"\beta": "weight of the KL term",
                 r"\xi_i^2": "eigenvalues of the data covariance", r"\mathrm{KL}": "KL term",
                 r"\|w\|": "norm of a decoder column", r"\sigma'^2_c": "critical decoder variance",
                 r"\beta_c": "critical KL weight", r"\mathcal{L}": "objective"},
    )


if __name__ == "__main__":
    raise SystemExit(main(derive))
