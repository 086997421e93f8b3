"""Lucas, Tucker, Grosse, Norouzi (2019), "Don't blame the ELBO!", re-derived with statvae.

Run:  python derivations/lucas2019.py [--out derivations/out]

1. With a learned decoder variance and beta = 1 the linear VAE's stationary point on the top n directions is
   probabilistic PCA: sympy solves the model's own stationary equations (per latent, then the variance), and
   the ELBO there is the pPCA log-likelihood (Tipping and Bishop 1999, typed in as the reference).
   statvae.optimum on a random covariance agrees with the Tipping-Bishop closed form.
2. With a fixed decoder variance, every stationary point (latent j on eigen-direction a_j, the other latents
   collapsed) has a block-diagonal Hessian; statvae's symbolic Hessian at each point gives its stability
   conditions: stable iff it uses the top directions and, when a latent is collapsed, sigma'^2 exceeds every
   unused eigenvalue.  So stationary points with collapsed latents become stable as sigma'^2 grows.  The
   compiled Hessian's eigenvalues confirm each condition on numbers.
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy as sp
from _common import Derivation, Formula, Section, check, main

import statvae
from statvae.latex import expr_latex
from statvae.model import hyper as H

SPECTRUM = [3.0, 2.0, 1.0]


def _m(e: object) -> str:
    """Inline math of a sympy object, in statvae's notation."""
    return f"${expr_latex(e)}$"


def _named(obj) -> dict[str, sp.Symbol]:
    return {str(x): x for x in obj.symbols}


def _per_latent(grad: dict, point: dict, P: dict, j: int, a: int) -> dict:
    """Solve the stationary equations of latent ``j`` on direction ``a`` (others held at ``point``); ``w > 0``."""
    u = [P[f"W_{a}_{j}"], P[f"V_{j}_{a}"], P[f"D_{j}_{j}"]]
    held = {x: v for x, v in point.items() if x not in u}
    eqs = [sp.numer(sp.together(grad[x].xreplace(held))) for x in u]
    sols = [s for s in sp.solve(eqs, u, dict=True) if s[u[0]] != 0 and not s[u[0]].could_extract_minus_sign()]
    if len(sols) != 1:
        raise RuntimeError(f"expected one solution with w > 0 for latent {j} on direction {a}, got {sols}")
    return sols[0]


def ppca_point(N: int, n: int):
    """The stationary point of the learned-variance model on the top n directions, solved by sympy."""
    model = statvae.LinearVAE(N, n, decoder_variance="learned")
    obj = model.objective(form="eigen")
    P = _named(obj)
    grad = dict(zip(obj.symbols, obj.gradient()))
    point = {x: sp.Integer(0) for x in obj.symbols}
    for j in range(1, n + 1):
        point[P[f"D_{j}_{j}"]] = 1
    point.pop(P["sigma2"])
    for j in range(1, n + 1):
        point.update(_per_latent(grad, point, P, j, j))
    s2 = P["sigma2"]
    eq = sp.numer(sp.together(sp.simplify(grad[s2].xreplace(point))))
    roots = sp.solve(eq, s2)
    if len(roots) != 1:
        raise RuntimeError(f"the variance equation has roots {roots}")
    point = {k: sp.simplify(sp.sympify(v).xreplace({s2: roots[0]})) for k, v in point.items()}
    point[s2] = roots[0]
    residual = [sp.simplify(g.xreplace(point)) for g in grad.values()]
    return model, obj, P, point, residual


def fixed_variance_points(N: int, n: int):
    """Every stationary point of the fixed-variance model with latents on distinct eigen-directions (up to latent
    permutations and signs), its Hessian blocks and the stability conditions of each block."""
    model = statvae.LinearVAE(N, n)
    obj = model.objective(form="eigen")
    P = _named(obj)
    grad = dict(zip(obj.symbols, obj.gradient()))
    hess = obj.hessian()
    out = []
    for k in range(n + 1):
        for dirs in itertools.combinations(range(1, N + 1), k):
            point = {x: sp.Integer(0) for x in obj.symbols}
            for j in range(1, n + 1):
                point[P[f"D_{j}_{j}"]] = 1
            for j, a in enumerate(dirs, start=1):
                point.update(_per_latent(grad, point, P, j, a))
            stationary = all(sp.simplify(g.xreplace(point)) == 0 for g in grad.values())
            h = hess.xreplace(point).applyfunc(sp.simplify)
            conds: set = set()
            blocks = _components(h)
            existence = {sp.expand(obj.data_symbols[a - 1] - H.symbol("sigma2")) for a in dirs}
            for b in blocks:
                conds |= _negative_definite(h.extract(b, b), existence)
            # drop what the existence of the point implies: with xi_a^2 = sigma'^2 + u_a, u_a > 0, it is positive
            lift = {obj.data_symbols[a - 1]: H.symbol("sigma2") + sp.Symbol(f"u_{a}", positive=True) for a in dirs}
            conds = {c for c in conds if not sp.expand(c.xreplace(lift)).is_positive}
            out.append({"dirs": dirs, "point": point, "stationary": stationary, "blocks": blocks, "hessian": h,
                        "conditions": conds})
    return model, obj, P, out


def _components(h: sp.Matrix) -> list[list[int]]:
    """Index sets of the diagonal blocks of a symmetric matrix (connected components of its non-zeros)."""
    seen: set[int] = set()
    out = []
    for i in range(h.shape[0]):
        if i in seen:
            continue
        comp, stack = {i}, [i]
        while stack:
            r = stack.pop()
            for c in range(h.shape[0]):
                if c not in comp and h[r, c] != 0:
                    comp.add(c)
                    stack.append(c)
        seen |= comp
        out.append(sorted(comp))
    return out


def _negative_definite(m: sp.Matrix, existence: set) -> set:
    """Sign factors ``f`` such that ``m`` is negative definite iff every ``f > 0`` (Sylvester on ``-m``).

    Each leading principal minor of ``-m`` is factored (numerator and denominator); factors positive for every
    positive value of the symbols, even powers, and the existence conditions of the point
    (``xi_a^2 - sigma'^2 > 0`` for each used direction ``a``) are dropped; each factor left must be positive
    (a minor with two such factors is returned whole, as one condition).
    """
    out = set()
    for k in range(1, m.shape[0] + 1):
        minor = sp.factor(sp.simplify((-m[:k, :k]).det()))
        if minor == 0:
            out.add(sp.Integer(0))
            continue
        sign, odd = 1, []
        for part, power in ((sp.numer(minor), 1), (sp.denom(minor), -1)):
            coeff, factors = sp.factor_list(part)
            sign *= 1 if coeff > 0 else -1
            for f, e in factors:
                if e % 2 == 0 or f.is_positive:
                    continue
                f = sp.expand(f)
                if f in existence:
                    continue
                if -f in existence:
                    sign = -sign
                    continue
                odd.append(f)
        if not odd:
            if sign < 0:
                out.add(sp.Integer(0))  # never
            continue
        if sign < 0:
            odd[0] = -odd[0]
        if len(odd) == 1:
            out.add(sp.expand(odd[0]))
        else:
            out.add(sp.Mul(*odd))
    return out


def derive() -> Derivation:
    checks = []
    sections = []
    s2 = H.symbol("sigma2")

    # -- 1. learned variance, beta = 1: pPCA --------------------------------------------------------------------
    N, n = 4, 2
    model, obj, P, point, residual = ppca_point(N, n)
    xi = obj.data_symbols
    sig = point[P["sigma2"]]
    w2 = [sp.simplify(point[P[f"W_{j}_{j}"]] ** 2) for j in (1, 2)]
    d = [point[P[f"D_{j}_{j}"]] for j in (1, 2)]
    elbo = sp.simplify(obj.total.xreplace(point))
    # shown in terms of the learned variance: eliminate the last discarded eigenvalue with the variance equation
    elbo_shown = sp.expand_log(sp.simplify(elbo.xreplace({xi[-1]: (N - n) * P["sigma2"] - sum(xi[n:-1])})),
                               force=True)
    # references: Tipping and Bishop (1999), typed
    ref_sig = sum(xi[n:]) / (N - n)
    ref_ll = -sp.Rational(N, 2) * sp.log(2 * sp.pi) - (sum(sp.log(x) for x in xi[:n])
                                                       + (N - n) * sp.log(ref_sig) + N) / 2
    Wm = sp.zeros(N, n)
    for j in range(n):
        Wm[j, j] = point[P[f"W_{j + 1}_{j + 1}"]]
    C = Wm * Wm.T + sig * sp.eye(N)
    Sig = sp.diag(*xi)
    ll_generic = -(N * sp.log(2 * sp.pi) + sp.log(C.det()) + (C.inv() * Sig).trace()) / 2
    checks.append(check("every stationary equation of the learned-variance model ($N = 4$, $n = 2$, "
                        "$\\beta = 1$) holds at the solved point", all(r == 0 for r in residual)))
    checks.append(check("the learned decoder variance is the mean of the discarded eigenvalues (Tipping and Bishop)",
                        sp.simplify(sig - ref_sig) == 0, f"derived {_m(sig)}"))
    checks.append(check("the decoder columns are $W = U_n (\\Lambda_n - \\sigma'^2 \\mathbb{I})^{1/2} R$: "
                        "$\\|w_j\\|^2 = \\xi_j^2 - \\sigma'^2$ on the top directions",
                        all(sp.simplify(w2[j] - (xi[j] - ref_sig)) == 0 for j in range(n)),
                        f"derived {_m(w2[0])}, {_m(w2[1])}"))
    checks.append(check("the ELBO at that point equals the maximised pPCA log-likelihood (Tipping and Bishop's "
                        "closed form, and "
                        "$-\\frac{1}{2}(N \\log 2\\pi + \\log|C| + \\mathrm{tr}\\, C^{-1}\\Sigma)$ with "
                        "$C = W W^T + \\sigma'^2 \\mathbb{I}$)",
                        sp.simplify(sp.expand_log(elbo - ref_ll, force=True)) == 0
                        and sp.simplify(sp.expand_log(elbo - ll_generic, force=True)) == 0))
    sections.append(Section(
        "Learned decoder variance: probabilistic PCA",
        "With the decoder variance a parameter and $\\beta = 1$, take $N = 4$, $n = 2$ and latent $j$ on "
        "eigen-direction $j$.  sympy solves the model's stationary equations for each latent at fixed "
        "$\\sigma'^2$, then the equation of $\\sigma'^2$; the ELBO there is written with the variance:",
        [Formula(r"\sigma'^2", sig, label="lucas:sigma"),
         Formula(r"\|w_1\|^2", w2[0]), Formula(r"\|w_2\|^2", w2[1]),
         Formula(r"d_1", d[0]), Formula(r"d_2", d[1]),
         Formula(r"\mathcal{L}", elbo_shown, label="lucas:elbo")],
        "This is probabilistic PCA: [[lucas:sigma]] is the mean of the discarded eigenvalues, the decoder is "
        "$W = U_n (\\Lambda_n - \\sigma'^2 \\mathbb{I})^{1/2} R$, and [[lucas:elbo]] is the maximised pPCA "
        "log-likelihood: the ELBO is tight there because the encoder is the exact posterior."))

    # numeric: optimum on a random covariance vs Tipping-Bishop
    rng = np.random.default_rng(7)
    A = rng.normal(size=(6, 6))
    cov = A @ A.T / 6 + np.diag(np.linspace(0.5, 0.1, 6))
    lam, U = np.linalg.eigh(cov)
    lam, U = lam[::-1], U[:, ::-1]
    r = statvae.optimum(statvae.LinearVAE(6, 2, decoder_variance="learned"), covariance=cov)
    tb_s2 = float(np.mean(lam[2:]))
    Wt = np.asarray(r.parameters["W"])
    Ct = Wt @ Wt.T + float(r.variances["x"]) * np.eye(6)
    tb_C = U[:, :2] @ np.diag(lam[:2] - tb_s2) @ U[:, :2].T + tb_s2 * np.eye(6)
    tb_ll = -0.5 * (6 * np.log(2 * np.pi) + np.sum(np.log(lam[:2])) + 4 * np.log(tb_s2) + 6)
    ok = (r.success and abs(r.variances["x"] - tb_s2) < 1e-8 * tb_s2 and np.allclose(Ct, tb_C, atol=1e-7)
          and abs(r.elbo - tb_ll) < 1e-9 * abs(tb_ll))
    checks.append(check("statvae.optimum of the learned-variance model ($N = 6$, $n = 2$) on a random full "
                        "covariance: $\\sigma'^2$, $W W^T + \\sigma'^2 \\mathbb{I}$ and the ELBO equal the "
                        "Tipping-Bishop maximum-likelihood solution (numpy eigendecomposition)", ok,
                        f"ELBO {r.elbo:.9f}, pPCA {tb_ll:.9f}"))
    la = statvae.LinearVAE(3, 2, decoder_variance="learned", beta=None).collapse()
    lvar = la.collapsed_point["sigma2"]
    crit = la.critical_expression("beta")
    checks.append(check("with a learned decoder variance the collapsed point has "
                        "$\\sigma'^2 = \\mathrm{tr}\\,\\Sigma / N$ and is stable iff "
                        "$\\beta > N \\max_i \\xi_i^2 / \\mathrm{tr}\\,\\Sigma$: at $\\beta = 1$ never, "
                        "unless the spectrum is flat (the pPCA collapsed solution is a saddle)",
                        la.critical("beta", spectrum=SPECTRUM).value == 1.5
                        and la.critical("beta", spectrum=[2.0, 2.0, 2.0]).value == 1.0,
                        f"{_m(lvar)}; $\\beta_c = $ {_m(crit)}"))
    sections.append(Section(
        "Learned decoder variance: the collapsed point",
        "At the collapsed point the learned variance takes the whole data variance, and statvae's criterion "
        "for $\\beta$ is",
        [Formula(r"\sigma'^2", lvar), Formula(r"\text{collapse stable}", la.criterion, relation=r"\iff")],
        "Since $N \\max_i \\xi_i^2 \\ge \\mathrm{tr}\\,\\Sigma$, at $\\beta = 1$ the collapsed point is never a "
        "strict local maximum unless all eigenvalues are equal."))

    # -- 2. fixed variance: stability of every stationary point -----------------------------------------------
    N, n = 3, 2
    fmodel, fobj, FP, points = fixed_variance_points(N, n)
    xs = fobj.data_symbols
    formulas = []
    all_stationary = all(p["stationary"] for p in points)
    mismatches = []
    for p in points:
        used = p["dirs"]
        unused = [b for b in range(1, N + 1) if b not in used]
        ref = {sp.expand(xs[a - 1] - xs[b - 1]) for a in used for b in unused}
        if len(used) < n:
            ref |= {sp.expand(s2 - xs[b - 1]) for b in unused}
        if p["conditions"] != ref:
            mismatches.append((used, p["conditions"], ref))
        rel = sp.And(*[sp.StrictGreaterThan(f, 0) for f in sorted(p["conditions"], key=sp.default_sort_key)])
        rel = _tidy(rel)
        label = "\\{" + ", ".join(str(a) for a in used) + "\\}" if used else "\\emptyset"
        formulas.append(Formula(rf"\mathcal{{A}} = {label}", rel if p["conditions"] else r"\text{always}",
                                relation=r"\text{ stable} \iff",
                                label="lucas:stable1" if used == (1,) else None))
    checks.append(check("each of the 7 candidate points ($N = 3$, $n = 2$; latent $j$ on direction $a_j$, the others "
                        "collapsed) solves every stationary equation", all_stationary))
    checks.append(check("the stability conditions statvae's Hessian gives at each point are the published rule: "
                        "stable iff the used directions are the top ones and, if a latent is collapsed, "
                        "$\\sigma'^2$ exceeds every unused eigenvalue",
                        not mismatches, "; ".join(f"{u}: derived {sorted(map(str, c))}, rule {sorted(map(str, r))}"
                                                  for u, c, r in mismatches)))
    # representative blocks of the point with one latent on the top direction
    rep = next(p for p in points if p["dirs"] == (1,))
    names = [str(x) for x in fobj.symbols]
    rep_blocks = []
    for b in rep["blocks"]:
        labels = ", ".join(_param_latex(names[i]) for i in b)
        rep_blocks.append(Formula(rf"H_{{({labels})}}", rep["hessian"].extract(b, b)))
    sections.append(Section(
        "Fixed decoder variance: which stationary points are stable",
        "With $\\sigma'^2$ fixed and $\\beta = 1$, a stationary point puts latent $j$ on an eigen-direction $a_j$ "
        "(decoder column as in the one-mode branch, $\\|w_j\\|^2 = \\xi_{a_j}^2 - \\sigma'^2$) and leaves the "
        "others collapsed.  For $N = 3$, $n = 2$ statvae's symbolic Hessian at the point with latent 1 on the "
        "top direction and latent 2 collapsed is block diagonal:",
        rep_blocks,
        "Each block is negative definite iff the leading principal minors of its negative are positive; "
        "dropping the factors that are positive whenever the point exists ($\\xi_a^2 > \\sigma'^2$ for every used "
        "direction $a$) leaves these conditions, for the set $\\mathcal{A}$ of used directions:"))
    sections.append(Section("Stability of each stationary point", "", formulas,
                            "So the point [[lucas:stable1]] with one latent on the top direction and the other "
                            "collapsed is a saddle for $\\sigma'^2 < \\xi_2^2$ and becomes stable above: as "
                            "$\\sigma'^2$ grows, stationary points with more collapsed latents become the stable "
                            "ones, and at every $\\sigma'^2$ the only stable point (up to symmetry) is the global "
                            "maximum on the top directions: the ELBO adds no spurious local maximum."))

    # numeric: compiled Hessian eigenvalues at each point on the spectrum 3, 2, 1
    f = fmodel.compile()
    bad = []
    tested = 0
    for sv in (0.5, 1.5, 2.5, 3.5):
        bound = f.bind(spectrum=SPECTRUM, sigma2=sv)
        subs = {xs[i]: SPECTRUM[i] for i in range(N)} | {s2: sv}
        for p in points:
            if any(SPECTRUM[a - 1] <= sv for a in p["dirs"]):
                continue  # the point does not exist
            theta = np.array([float(sp.sympify(p["point"][x]).xreplace(subs)) for x in fobj.symbols])
            g = np.max(np.abs(bound.gradient(theta)))
            top = float(np.max(np.linalg.eigvalsh(bound.hessian(theta))))
            predicted = all(float(c.xreplace(subs)) > 0 for c in p["conditions"])
            tested += 1
            if g > 1e-12 or (top < -1e-12) != predicted or (not predicted and top < 1e-12):
                bad.append(f"{p['dirs']} at {sv}: gradient {g:.1e}, top eigenvalue {top:.2e}, predicted {predicted}")
    checks.append(check(f"the compiled Hessian's largest eigenvalue is negative exactly where the derived conditions "
                        f"hold ({tested} point and $\\sigma'^2$ pairs on the spectrum 3, 2, 1; "
                        f"$\\sigma'^2 = 0.5, 1.5, 2.5, 3.5$)", not bad, "; ".join(bad)))
    # the tracker: the branch with one active latent changes stability at xi_2^2
    dia = statvae.track(fmodel, spectrum=SPECTRUM, start=4.0, stop=0.5)
    one = [b for b in dia.branches.values() if b.label == "x1+z1"]
    ok_track = False
    if one:
        b = one[0]
        par, idx = np.asarray(b.parameter), np.asarray(b.index)
        ok_track = bool(np.all(idx[par > 2.0 + 1e-6] == 0) and np.all(idx[par < 2.0 - 1e-6] > 0))
    checks.append(check("statvae.track on the spectrum 3, 2, 1: the branch with latent 1 on direction 1 has no ascent "
                        "direction for $\\sigma'^2 > 2 = \\xi_2^2$ and one below", ok_track))

    return Derivation(
        key="lucas2019",
        title="The linear VAE and probabilistic PCA",
        reference="Lucas, Tucker, Grosse, Norouzi, Don't Blame the ELBO! A Linear VAE Perspective on Posterior "
                  "Collapse, NeurIPS 2019; Tipping and Bishop, Probabilistic Principal Component Analysis, "
                  "J. R. Stat. Soc. B 61 (1999)",
        summary="With a learned decoder variance and $\\beta = 1$ the optimum of the linear VAE is probabilistic "
                "PCA and its ELBO is the pPCA log-likelihood; with a fixed decoder variance, stationary points "
                "with collapsed latents become stable as $\\sigma'^2$ grows past the unused eigenvalues, and the "
                "ELBO has no spurious local maxima.",
        sections=sections,
        checks=checks,
        symbols={r"W": "decoder weight", r"V": "encoder weight", r"D": "encoder covariance", r"d_j": "its entries",
                 r"\sigma'^2": "decoder variance", r"\beta": "weight of the KL term",
                 r"\xi_i^2": "eigenvalues of the data covariance", r"\Sigma": "data covariance",
                 r"\mathcal{L}": "objective", r"\mathcal{A}": "set of eigen-directions used by the latents",
                 r"C": r"model covariance of pPCA, $W W^T + \sigma'^2 \mathbb{I}$",
                 r"U_n, \Lambda_n, R": r"top eigenvectors and eigenvalues of $\Sigma$, a rotation"},
    )


def _param_latex(name: str) -> str:
    """``W_1_2`` -> ``W_{12}``."""
    base, *idx = name.split("_")
    return f"{base}_{{{''.join(idx)}}}"


def _tidy(rel: sp.Basic) -> sp.Basic:
    """Each ``a - b > 0`` written ``a > b`` (positive terms on the left)."""
    def one(r):
        e = r.lhs - r.rhs
        pos = sp.Add(*[t for t in sp.Add.make_args(e) if not t.could_extract_minus_sign()])
        return sp.StrictGreaterThan(pos, pos - e)
    if isinstance(rel, sp.And):
        return sp.And(*[one(r) for r in rel.args], evaluate=False)
    return one(rel) if isinstance(rel, sp.StrictGreaterThan) else rel


if __name__ == "__main__":
    raise SystemExit(main(derive))
