"""The Landau expansion of one mode and the mean-field exponents of posterior collapse.

Run:  python derivations/landau.py [--out derivations/out]

statvae's one-mode objective (``LinearVAE(1, 1).objective(form="eigen")``) is maximised over the encoder weight
and the encoder variance for a fixed decoder weight ``w``; what is left, minus the collapsed value, is the
Landau function ``F(w) = a2 w^2 + a4 w^4 + ...``.  Its coefficients, the order parameter, the KL, the jump of
the ELBO's second derivative and the susceptibility follow, with their exponents.  Checked against the exact
non-collapsed branch (sympy on statvae's gradient), against statvae.optimum (a log-log fit of the exponents and
finite differences of the jumps), and against the mean-field values (1/2, 1, a finite jump, gamma = 1 with
amplitude ratio 2).
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from _common import Derivation, Formula, Section, check, main

import statvae
from statvae.latex import expr_latex

XI2, BETA = 1.5, 0.8          # the numeric mode used for statvae.optimum: sigma'^2_c = XI2 / BETA


def exponent(expr: sp.Expr, t: sp.Symbol) -> tuple[sp.Expr, sp.Expr]:
    """(amplitude, exponent) of the leading term of ``expr`` as ``t -> 0+``."""
    lead = sp.simplify(expr).as_leading_term(t)
    c, p = lead.as_coeff_exponent(t)
    return sp.simplify(c), sp.simplify(p)


def slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of log y against log x."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def derive() -> Derivation:
    checks = []
    sections = []

    model = statvae.LinearVAE(1, 1, beta=None)
    obj = model.objective(form="eigen")
    w, v, d = obj.symbols
    xi2 = obj.data_symbols[0]
    hs = {s.name: s for s in obj.total.free_symbols}
    s2, beta = hs["sigma2"], hs["beta"]
    grad = obj.gradient()
    collapsed = {w: 0, v: 0, d: 1}
    L0 = obj.total.subs(collapsed)

    # ---------------------------------------------------------------- the Landau function
    (inner,) = sp.solve([grad[1], grad[2]], [v, d], dict=True)      # v*(w), d*(w): the encoder at fixed w
    show = {w: sp.Symbol("w", real=True), v: sp.Symbol("v", real=True), d: sp.Symbol("d", positive=True)}
    F = sp.simplify(obj.total.xreplace(inner) - L0)
    ser = sp.expand(sp.series(F, w, 0, 6).removeO())
    a2, a4 = sp.factor(ser.coeff(w, 2)), sp.factor(ser.coeff(w, 4))
    odd_ok = all(ser.coeff(w, k) == 0 for k in (0, 1, 3, 5))
    (s2c,) = sp.solve(a2, s2)
    a4c = sp.factor(a4.subs(s2, s2c))
    checks.append(check("the Landau function is even in $w$ and starts at order $w^2$ (no constant, odd or "
                        "linear term: collapse is stationary and the latent flip is a symmetry)", odd_ok))
    checks.append(check("the quadratic coefficient $a_2$ changes sign exactly at $\\beta\\sigma'^2 = \\xi_1^2$, "
                        "positive below (collapse unstable)",
                        sp.simplify(s2c - xi2 / beta) == 0 and sp.simplify(a2.subs(s2, xi2 / beta / 2)).is_positive
                        and sp.simplify(a2.subs(s2, 2 * xi2 / beta)).is_negative,
                        f"root $\\sigma'^2 = {expr_latex(s2c)}$"))
    checks.append(check("the quartic coefficient is negative at the threshold, so the transition is continuous "
                        "(a maximisation: a negative quartic bounds the Landau function)", bool(a4c.is_negative),
                        f"$a_4 = {expr_latex(a4c)}$ there"))

    sections.append(Section(
        "The Landau function of one mode",
        "Take statvae's objective of one latent on one eigen-direction of variance $\\xi_1^2$ (the eigen form of "
        "LinearVAE with $N = n = 1$): decoder weight $w$, encoder weight $v$, encoder variance $d$.  For a fixed "
        "$w$, sympy solves statvae's stationary equations in $v$ and $d$:",
        [Formula(r"v^{*}(w)", inner[v].xreplace(show)), Formula(r"d^{*}(w)", inner[d].xreplace(show)),
         Formula(r"\mathcal{F}(w)", r"\mathcal{L}(w, v^{*}(w), d^{*}(w)) - \mathcal{L}(0, 0, 1)",
                 relation=r"\equiv"),
         Formula(r"\mathcal{F}(w)", r"a_{2} w^{2} + a_{4} w^{4} + O(w^{6})"),
         Formula(r"a_{2}", a2, label="landau-a2"), Formula(r"a_{4}", a4),
         Formula(r"a_{4}\big|_{\beta\sigma'^{2} = \xi^{2}}", a4c)],
        "The quadratic coefficient [[landau-a2]] changes sign at $\\beta\\sigma'^2 = \\xi_1^2$, the seed paper's "
        "threshold; the quartic is negative there, so the collapsed point gives way continuously to a branch "
        "with $w \\neq 0$: a second-order transition in Landau's sense, with $w$ the order parameter.  Write "
        "$\\epsilon = 1 - \\beta\\sigma'^2 / \\xi_1^2$ for the reduced distance to the threshold ($\\epsilon > 0$: "
        "collapse "
        "unstable)."))

    # ---------------------------------------------------------------- the order parameter and the exponents
    t = sp.Symbol("epsilon", positive=True)
    at_t = {s2: xi2 * (1 - t) / beta}
    m_landau = sp.simplify(-a2 / (2 * a4))                       # w*^2 of the truncated expansion
    nontrivial = [s for s in sp.solve(list(grad), [w, v, d], dict=True) if s[w] != 0]
    m_exact = sp.factor(sp.simplify(nontrivial[0][w] ** 2))
    ok_branch = all(sp.simplify(s[w] ** 2 - m_exact) == 0 for s in nontrivial)
    amp_l, p_l = exponent(sp.sqrt(m_landau.subs(at_t)), t)
    amp_e, p_e = exponent(sp.sqrt(m_exact.subs(at_t)), t)
    diff_m = sp.simplify((m_landau - m_exact).subs(at_t))
    _, p_diff = exponent(diff_m, t)
    checks.append(check("order parameter: $|w^*| \\propto \\epsilon^{1/2}$ from the Landau expansion and from "
                        "statvae's "
                        "exact branch (both signs of $w$, one branch up to the latent flip), with the same amplitude "
                        "(mean-field exponent 1/2)",
                        ok_branch and p_l == sp.Rational(1, 2) and p_e == sp.Rational(1, 2)
                        and sp.simplify(amp_l - amp_e) == 0,
                        f"amplitude ${expr_latex(amp_l)}$"))
    checks.append(check("the truncated expansion's $w^{*2}$ differs from the exact $\\|w\\|^2$ only at order "
                        "$\\epsilon^2$",
                        bool(p_diff >= 2), f"difference of order $\\epsilon^{{{expr_latex(p_diff)}}}$"))

    kl = obj.terms["kl"]
    KL_F = sp.simplify(kl.xreplace(inner))                       # KL at fixed w, encoder optimal
    kl_ser = sp.expand(sp.series(KL_F, w, 0, 4).removeO())
    c_kl = sp.factor(kl_ser.coeff(w, 2))
    KL_landau = c_kl * m_landau
    KL_exact = sp.simplify(kl.xreplace(nontrivial[0]))
    amp_kl, p_kl = exponent(KL_landau.subs(at_t), t)
    amp_kle, p_kle = exponent(KL_exact.subs(at_t), t)
    checks.append(check("KL: linear in $\\epsilon$ from the Landau expansion and from the exact branch, same amplitude "
                        "(exponent 1: a kink, a jump of the first derivative)",
                        p_kl == 1 and p_kle == 1 and sp.simplify(amp_kl - amp_kle) == 0,
                        f"amplitude ${expr_latex(amp_kl)}$"))
    dkl_jump = sp.simplify(sp.diff(KL_landau, s2).subs(s2, s2c))  # left-hand derivative; the collapsed side has 0
    dkl_exact = sp.simplify(sp.limit(sp.diff(KL_exact, s2).subs(at_t), t, 0, "+"))
    checks.append(check("jump of $d\\mathrm{KL}/d\\sigma'^2$ at the threshold: Landau equals the exact branch",
                        sp.simplify(dkl_jump - dkl_exact) == 0, f"${expr_latex(dkl_jump)}$"))

    F_landau = sp.simplify(-a2 ** 2 / (4 * a4))                   # F at w*: the ELBO gained over collapse
    jump2 = sp.simplify(sp.diff(F_landau, s2, 2).subs(s2, s2c))
    F_exact = sp.simplify(obj.total.xreplace(nontrivial[0]) - L0)
    jump2_exact = sp.simplify(sp.limit(sp.diff(F_exact, s2, 2).subs(at_t), t, 0, "+"))
    amp_F, p_F = exponent(F_exact.subs(at_t), t)
    checks.append(check("ELBO: the gain over collapse grows as $\\epsilon^2$ (so the ELBO and its first derivative are "
                        "continuous) and its second derivative in $\\sigma'^2$ jumps by the same amount in the Landau "
                        "expansion and on the exact branch",
                        p_F == 2 and sp.simplify(jump2 - jump2_exact) == 0, f"jump ${expr_latex(jump2)}$"))

    # susceptibility: a formal field h coupled to w, chi = d w* / d h = -(H^{-1})_{ww}
    H = obj.hessian()
    chi_coll = sp.simplify(-(H.subs(collapsed).inv())[0, 0])
    chi_ord = sp.simplify(-(H.xreplace(nontrivial[0]).inv())[0, 0])
    tt = sp.Symbol("tau", positive=True)                         # tau = -epsilon > 0 on the collapsed side
    amp_cc, p_cc = exponent(chi_coll.subs(s2, xi2 * (1 + tt) / beta), tt)
    amp_co, p_co = exponent(chi_ord.subs(at_t), t)
    amp_lc, _ = exponent((-1 / (2 * a2)).subs(s2, xi2 * (1 + tt) / beta), tt)
    amp_lo, _ = exponent((1 / (4 * a2)).subs(at_t), t)
    ratio = sp.simplify(amp_cc / amp_co)
    checks.append(check("susceptibility $\\chi = \\partial w^* / \\partial h$ from statvae's Hessian: "
                        "$\\chi \\propto |\\epsilon|^{-1}$ on both sides (mean-field susceptibility exponent 1), "
                        "amplitude ratio 2, "
                        "and the amplitudes equal Landau's $-1/(2 a_2)$ and $1/(4 a_2)$",
                        p_cc == -1 and p_co == -1 and ratio == 2 and sp.simplify(amp_cc - amp_lc) == 0
                        and sp.simplify(amp_co - amp_lo) == 0,
                        f"amplitudes ${expr_latex(amp_cc)}$ and ${expr_latex(amp_co)}$"))

    sections.append(Section(
        "Order parameter, KL, ELBO and susceptibility",
        "Maximising the truncated expansion gives $w^{*2} = -a_2 / (2 a_4)$ and the ELBO gained over collapse "
        "$\\mathcal{F}^{*} = -a_2^2 / (4 a_4)$; at fixed $w$ the KL is $\\kappa\\, w^2 + O(w^4)$.  Near the threshold, "
        "as $\\epsilon \\to 0^+$ (each leading term checked against statvae's exact branch, below; $\\Delta$ is the "
        "value on "
        "the side where collapse is unstable minus the value on the collapsed side, at the threshold):",
        [Formula(r"|w^{*}|", sp.simplify(amp_l) * sp.sqrt(t), relation=r"\simeq", note=" (exponent 1/2)"),
         Formula(r"\kappa", c_kl),
         Formula(r"\mathrm{KL}^{*}", amp_kl * t, relation=r"\simeq", note=" (exponent 1)"),
         Formula(r"\Delta \frac{d\mathrm{KL}}{d\sigma'^{2}}", dkl_jump, label="landau-dkl"),
         Formula(r"\mathcal{F}^{*}", amp_F * t ** 2, relation=r"\simeq", note=" (exponent 2)"),
         Formula(r"\Delta \frac{d^{2}\mathcal{L}}{d(\sigma'^{2})^{2}}", jump2, label="landau-jump"),
         Formula(r"\chi", r"-\frac{1}{2 a_{2}} \simeq " + expr_latex(amp_cc) + r" \, |\\epsilon|^{-1}",
                 note=" (collapsed side)"),
         Formula(r"\chi", r"\frac{1}{4 a_{2}} \simeq " + expr_latex(amp_co) + r" \, \epsilon^{-1}",
                 note=" (ordered side)")],
        "These are the mean-field exponents: the order parameter vanishes as $\\epsilon^{1/2}$, the KL (the rate) "
        "vanishes linearly, so its first derivative jumps by [[landau-dkl]] (zero on the collapsed side); the "
        "ELBO and its first derivative are continuous and its second derivative, the analogue of the specific "
        "heat, jumps by [[landau-jump]] (specific-heat exponent 0: a finite jump).  A formal field $h$ coupled to "
        "the order parameter (a term $h w$ in the objective) has the response $\\chi = -(H^{-1})_{ww}$, "
        "computed here from statvae's exact Hessian on both sides: it diverges as $|\\epsilon|^{-1}$ with the "
        "mean-field "
        "amplitude ratio 2.  All three sides agree: the truncated expansion, the exact branch, and the "
        "numeric optimum below."))

    # ---------------------------------------------------------------- numeric: statvae.optimum on the exact problem
    s2c_v = XI2 / BETA
    ts = np.geomspace(2e-3, 2e-2, 5)
    wn, kls, gains = [], [], []
    for tv in ts:
        s2v = s2c_v * (1 - tv)
        r = statvae.optimum(statvae.LinearVAE(1, 1, beta=BETA, sigma2=s2v), spectrum=[XI2], rtol=1e-12)
        wn.append(abs(float(r.parameters["W"][0, 0])))
        kls.append(r.kl_total)
        gains.append(r.elbo - float(L0.subs({xi2: XI2, s2: s2v})))
    fit = (slope(ts, np.array(wn)), slope(ts, np.array(kls)), slope(ts, np.array(gains)))
    checks.append(check("log-log fits on statvae.optimum ($\\xi_1^2 = 1.5$, $\\beta = 0.8$, five values of $\\epsilon$ "
                        "from "
                        "0.002 to 0.02): exponents of $|w|$, KL and the ELBO gain are 1/2, 1 and 2",
                        abs(fit[0] - 0.5) < 0.01 and abs(fit[1] - 1) < 0.01 and abs(fit[2] - 2) < 0.02,
                        f"fitted {fit[0]:.3f}, {fit[1]:.3f}, {fit[2]:.3f}"))
    # jumps by one-sided finite differences of statvae.optimum's KL and ELBO
    hstep = 1e-3 * s2c_v

    def opt(s2v):
        r = statvae.optimum(statvae.LinearVAE(1, 1, beta=BETA, sigma2=s2v), spectrum=[XI2], rtol=1e-12)
        return r.kl_total, r.elbo

    kl_c, e_c = opt(s2c_v)
    below_pts = [opt(s2c_v - k * hstep) for k in (1, 2)]
    above_pts = [opt(s2c_v + k * hstep) for k in (1, 2)]
    dkl_left = (3 * kl_c - 4 * below_pts[0][0] + below_pts[1][0]) / (2 * hstep)    # one-sided, second order
    d2_below = (e_c - 2 * below_pts[0][1] + below_pts[1][1]) / hstep ** 2
    d2_above = (e_c - 2 * above_pts[0][1] + above_pts[1][1]) / hstep ** 2
    jump_num = d2_below - d2_above
    dkl_ref = float(dkl_jump.subs({xi2: XI2, beta: BETA}))
    jump_ref = float(jump2.subs({xi2: XI2, beta: BETA}))
    checks.append(check("statvae.optimum's KL: its one-sided slope just below the threshold equals the Landau value "
                        "of the jump, and the KL vanishes above (finite differences, step $10^{-3}\\sigma'^2_c$)",
                        abs(dkl_left - dkl_ref) < 0.01 * abs(dkl_ref)
                        and max(abs(kl_c), *(abs(a[0]) for a in above_pts)) < 1e-9,
                        f"{dkl_left:.4f} against {dkl_ref:.4f}"))
    checks.append(check("statvae.optimum's ELBO: the jump of the second derivative at the threshold matches "
                        "the Landau jump above (one-sided second differences)",
                        abs(jump_num - jump_ref) < 0.02 * abs(jump_ref),
                        f"{jump_num:.4f} against {jump_ref:.4f}"))

    return Derivation(
        key="landau",
        title="The Landau expansion and the mean-field exponents",
        reference=("L. D. Landau, On the theory of phase transitions, Zh. Eksp. Teor. Fiz. 7 (1937) 19; the "
                   "threshold and the kink of the KL as in Li, Zhang, Zhang, Chen, Posterior Collapse as a Phase "
                   "Transition in Variational Autoencoders, arXiv:2510.01621"),
        summary=("Maximising statvae's one-mode objective over the encoder at fixed decoder weight $w$ gives a "
                 "Landau function $a_2 w^2 + a_4 w^4 + \\dots$ whose quadratic coefficient changes sign at "
                 "$\\beta\\sigma'^2 = \\xi_1^2$ and whose quartic is negative there: a continuous transition with "
                 "mean-field exponents.  The order parameter vanishes as $\\epsilon^{1/2}$, the KL linearly (its first "
                 "derivative jumps), the ELBO's second derivative jumps by a finite amount, and the "
                 "susceptibility diverges as $|\\epsilon|^{-1}$ with amplitude ratio 2; each checked against statvae's "
                 "exact branch and its numeric optimum."),
        sections=sections,
        checks=checks,
        symbols={
            r"w, v, d": "one mode: decoder weight, encoder weight, encoder variance",
            r"\mathcal{F}(w)": "Landau function: the objective maximised over the encoder at fixed $w$, minus its "
                               "collapsed value",
            r"a_2, a_4": "Landau coefficients of $w^2$ and $w^4$",
            r"\kappa": "KL per unit $w^2$ at fixed $w$, near collapse",
            r"\epsilon": "reduced distance to the threshold, $1 - \\beta\\sigma'^2 / \\xi_1^2$ ($> 0$: collapse "
                         "unstable)",
            r"h, \chi": "formal field coupled to $w$; the susceptibility $\\partial w^* / \\partial h$",
            r"\Delta": "jump at the threshold: the unstable-collapse side minus the collapsed side",
        },
    )


if __name__ == "__main__":
    raise SystemExit(main(derive))
