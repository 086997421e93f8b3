"""Ichikawa and Hukushima: the collapse threshold of a linear VAE trained on finitely many samples.

Run:  python derivations/ichikawa_hukushima.py [--out derivations/out]

Their setting (as in their public code; their replica formulas could not be read here): one latent, decoder
variance 1, no biases, ridge weight ``lambda`` on the summed training loss, ``M`` samples of a spiked covariance
in ``N`` dimensions.  statvae maps it onto ``LinearVAE(N, 1, sigma2=1, weight_decay_enc=weight_decay_dec=
lambda gamma)`` on the uncentred second moment (``statvae/analysis/asymptotics.py``), with ``gamma = N / M``.
The threshold is statvae's per-mode block at the top sample eigenvalue; that eigenvalue is the BBP outlier
(``statvae.data.rmt``).  Checked against the published BBP law (typed in as the reference) and against
Monte-Carlo samples.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from _common import Derivation, Formula, Section, check, main

import statvae
from statvae.analysis.asymptotics import finite_data_prediction
from statvae.data import rmt

SEED = 2309_07663


def below(x: float) -> str:
    """A bound on a small difference that does not depend on the last bits (outputs are compared verbatim)."""
    return "0" if x == 0 else f"below $10^{{{int(np.floor(np.log10(x))) + 1}}}$"


def bbp_published(ell: float, gamma: float) -> float:
    """Reference (typed in): Baik, Ben Arous and Peche (2005), unit noise: the top sample eigenvalue."""
    return (1 + ell) * (1 + gamma / ell) if ell > np.sqrt(gamma) else (1 + np.sqrt(gamma)) ** 2


def spiked_samples(rng: np.random.Generator, N: int, M: int, ell: float) -> np.ndarray:
    """M samples of x = sqrt(ell) s u + nu (u the normalised all-ones vector, s and nu standard normal)."""
    u = np.ones(N) / np.sqrt(N)
    return np.sqrt(ell) * rng.standard_normal((M, 1)) * u + rng.standard_normal((M, N))


def derive() -> Derivation:
    rng = np.random.default_rng(SEED)
    checks = []
    sections = []

    # ------------------------------------------------------------------ the per-mode threshold, symbolic
    model = statvae.LinearVAE(4, 1, beta=None, sigma2=None, weight_decay_enc=None, weight_decay_dec=None)
    an = model.collapse()
    (block,) = an.latent_blocks
    syms = {s.name: s for s in block.matrix.free_symbols | block.determinant.free_symbols}
    beta, s2, we, wd = syms["beta"], syms["sigma2"], syms["weight_decay_enc"], syms["weight_decay_dec"]
    xi2 = next(s for n, s in syms.items() if n.startswith("x_eig"))
    (beta_c,) = sp.solve(sp.numer(sp.together(block.determinant)), beta)
    lam, gam = sp.symbols("lambda gamma", positive=True)
    top = sp.Symbol(r"\hat{\xi}_{1}^{2}", positive=True)
    beta_c_data = sp.factor(beta_c.subs({we: lam * gam, wd: lam * gam, s2: 1}).subs(xi2, top))
    sections.append(Section(
        "What is from their paper, and what is not",
        "Ichikawa and Hukushima analyse, with the replica method, a linear VAE with one latent trained on "
        "$M$ samples in $N$ dimensions, in the limit $N, M \\to \\infty$ at fixed ratio.  Only their abstract and "
        "their public code (the repository Yuma-Ichikawa/vae-replica on GitHub: model, data generator, training "
        "loop) could "
        "be read here, not their saddle-point equations.  So nothing below is transcribed from the paper: the "
        "setting is taken from their code, the threshold is derived by statvae from that model, and the "
        "random-matrix input is the BBP law of Baik, Ben Arous and Péché (2005; for real data Baik and "
        "Silverstein 2006), a published result independent of their paper.  From their abstract we compare one "
        "qualitative statement: beyond a "
        "certain $\\beta$, collapse is inevitable whatever the size of the data set."))
    sections.append(Section(
        "Their model in statvae's terms",
        "Data $x = \\sqrt{\\ell}\\, s\\, u + \\nu$ ($u$ a unit vector, $s$ and $\\nu$ standard normal: unit noise, a "
        "spike "
        "$\\ell$, so the population eigenvalue along $u$ is $1 + \\ell$); decoder variance $\\sigma'^2 = 1$; no "
        "biases; the training loss summed over the $M$ samples with ridge weight $\\lambda$ on both maps.  "
        "Divided by $M$ (and with the decoder rescaled by $\\sqrt{N}$) it is statvae's LinearVAE with one latent "
        "on the "
        "uncentred second moment $X^T X / M$ with weight decays $\\eta_e = \\eta_d = \\lambda \\gamma$, "
        "$\\gamma = N / M$ (statvae's finite-data module, tested against direct minimisation of their "
        "loss on seeded samples).  Its objective is invariant under rotations of data space, "
        "so with one latent only the top sample eigenvalue $\\hat\\xi_1^2$ matters.  statvae's block at "
        "collapse for one eigen-direction, its determinant, and the $\\beta$ where it vanishes:",
        [Formula(r"H_{(W_{i}, V_{i})}", block.matrix),
         Formula(r"\sigma'^{4} \det H", sp.factor(sp.numer(sp.together(block.determinant)))),
         Formula(r"\beta_c", sp.factor(beta_c), label="ih-block"),
         Formula(r"\beta_c(\gamma)", beta_c_data, note=" (their setting)", label="ih-betac")],
        "Collapse is stable for $\\beta > \\beta_c$ (the block's upper-left entry is negative, so the sign of "
        "the determinant decides).  Without weight decay [[ih-betac]] is $\\beta_c = \\hat\\xi_1^2$: the "
        "finite-data threshold is the top eigenvalue of the sample second moment, not of the population."))

    # ------------------------------------------------------------------ the sample top eigenvalue (BBP)
    grid_ell = [0.2, 0.5, 1.0, 2.0, 4.0]
    grid_gam = [0.01, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0]
    worst = max(abs(float(rmt.bbp_outlier(e, 1 / g)) - bbp_published(e, g)) / bbp_published(e, g)
                for e in grid_ell for g in grid_gam if abs(e - np.sqrt(g)) > 1e-12)
    checks.append(check("statvae's BBP outlier (random-matrix module, $\\alpha = 1/\\gamma$) equals the published BBP "
                        "law, $(1 + \\ell)(1 + \\gamma/\\ell)$ above $\\ell = \\sqrt{\\gamma}$ and "
                        f"$(1 + \\sqrt{{\\gamma}})^2$ below, on a {len(grid_ell)} by {len(grid_gam)} grid of "
                        "$(\\ell, \\gamma)$", worst < 1e-12, f"largest relative difference {below(worst)}"))
    crit_ok = all(abs(float(rmt.bbp_critical_spike(1 / g)) - np.sqrt(g)) < 1e-12 for g in grid_gam)
    checks.append(check("statvae's BBP transition is at $\\ell = \\sqrt{\\gamma}$", crit_ok))

    # Monte Carlo: the sample top eigenvalue (many seeds, numpy only), and statvae's critical beta on samples
    N, ell, lam_v, seeds = 300, 1.0, 1.0, 16
    rows = []
    mc_eig_ok = own_ok = True
    worst_own = 0.0
    detail = []
    for g in (0.1, 0.25, 0.5, 2.0):
        M = int(round(N / g))
        pred = finite_data_prediction(1 / g, beta=1.0, rho=ell, eta=1.0, weight_decay=lam_v)[0]
        sym_val = float(beta_c_data.subs({top: pred.top_eigenvalue, lam: lam_v, gam: g}))
        checks.append(check(f"$\\gamma = {g:g}$: statvae's finite-data prediction of $\\beta_c$ equals "
                            "the formula for $\\beta_c(\\gamma)$ at the package's BBP eigenvalue",
                            abs(sym_val - pred.beta_critical) < 1e-9 * sym_val,
                            f"{pred.beta_critical:.8g} and {sym_val:.8g}"))
        eigs, betas = [], []
        for k in range(seeds):
            X = spiked_samples(rng, N, M, ell)
            eigs.append(np.linalg.eigvalsh(X.T @ X / M)[-1])
            if k < 2:   # statvae on the samples themselves: the threshold is the formula at their own eigenvalue
                mdl = statvae.LinearVAE(N, 1, beta=None, sigma2=1, weight_decay_enc=lam_v * g,
                                        weight_decay_dec=lam_v * g)
                with np.errstate(divide="ignore"):   # rank-deficient X^T X (M < N): zero eigenvalues
                    bc = mdl.collapse().critical("beta", samples=X, center=False, ddof=0).value
                own = float(beta_c_data.subs({top: eigs[-1], lam: lam_v, gam: g}))
                worst_own = max(worst_own, abs(bc - own) / own)
                betas.append(bc)
        eigs_a = np.array(eigs)
        e_mc, se = float(eigs_a.mean()), float(eigs_a.std(ddof=1) / np.sqrt(seeds))
        rel = (e_mc - pred.top_eigenvalue) / pred.top_eigenvalue
        if ell > np.sqrt(g):     # outlier: Gaussian fluctuations of order M^{-1/2}, bias O(1/N)
            ok = abs(e_mc - pred.top_eigenvalue) < 4 * se + 0.005 * pred.top_eigenvalue
        else:                    # edge: Tracy-Widom, mean below the edge by O(N^{-2/3})
            ok = abs(rel) < 0.05
        mc_eig_ok &= ok
        detail.append(f"$\\gamma = {g:g}$: {100 * rel:+.1f} per cent, standard error "
                      f"{100 * se / pred.top_eigenvalue:.1f}")
        rows.append((g, M, pred.top_eigenvalue, bbp_published(ell, g), e_mc, pred.beta_critical,
                     float(np.mean(betas))))
    own_ok = worst_own < 1e-8
    checks.append(check(f"Monte Carlo ($N = {N}$, $\\ell = 1$, {seeds} samples per $\\gamma$): the mean top "
                        "eigenvalue of $X^T X / M$ matches the BBP law, within 4 standard errors plus 0.5 per cent "
                        "above the transition and within 5 per cent at the edge (Tracy-Widom shift)", mc_eig_ok,
                        "; ".join(detail)))
    checks.append(check("statvae's critical $\\beta$ computed from the samples themselves (uncentred second moment, "
                        "weight decays $\\lambda\\gamma$) equals that formula at each sample's own top eigenvalue "
                        "(2 samples per $\\gamma$)", own_ok, f"largest relative difference {below(worst_own)}"))
    table = ["\\begin{array}{rrrrrr}",
             "\\gamma & M & \\hat\\xi_1^2 \\text{ (BBP)} & \\hat\\xi_1^2 \\text{ (MC)} & "
             "\\beta_c \\text{ (BBP)} & \\beta_c \\text{ (MC)} \\\\ \\hline"]
    table += [f"{g:g} & {M} & {a:.4f} & {c:.4f} & {d:.4f} & {e:.4f} \\\\" for g, M, a, _, c, d, e in rows]
    table.append("\\end{array}")
    sections.append(Section(
        "The sample top eigenvalue and the threshold at finite data",
        "The top eigenvalue of the sample second moment, from statvae's random-matrix module, is the BBP law, "
        "typed in here only as the reference of the check:",
        [Formula(r"\hat{\xi}_{1}^{2}",
                 r"\begin{cases} (1 + \ell)\left(1 + \frac{\gamma}{\ell}\right) & \ell > \sqrt{\gamma} \\ "
                 r"(1 + \sqrt{\gamma})^{2} & \ell \le \sqrt{\gamma} \end{cases}", label="ih-bbp"),
         Formula(r"\text{Monte Carlo}", "\n".join(table), relation=":")],
        f"Monte Carlo: $N = {N}$, $\\ell = 1$, $\\lambda = 1$; the sample eigenvalue is a mean over {seeds} "
        "samples, statvae's threshold computed on the samples themselves ($\\beta_c$ (MC)) a mean over 2 of "
        "them.  "
        "Below the transition $\\ell < \\sqrt{\\gamma}$ the spike is invisible and the threshold is set by the "
        "edge of the noise bulk: the directions a VAE learns there are noise."))

    # ------------------------------------------------------------------ thresholds in gamma, and inevitable collapse
    b_grid = [2.2, 3.0, 4.0]
    worst_gc = 0.0
    from scipy.optimize import brentq

    for b in b_grid:   # no weight decay: the gamma above which collapse is unstable at this beta
        gc = brentq(lambda g, b=b: finite_data_prediction(1 / g, beta=b, rho=ell, eta=1.0)[0].beta_critical - b,
                    1e-6, 50.0, xtol=1e-14, rtol=1e-13)
        ref = ell * (b / (1 + ell) - 1) if b < (1 + ell) ** 2 else (np.sqrt(b) - 1) ** 2   # reference
        worst_gc = max(worst_gc, abs(gc - ref) / ref)
    checks.append(check("without weight decay, the $\\gamma$ at which statvae's threshold reaches $\\beta$ (Brent's "
                        "method on the package's numbers) equals the closed form from the BBP law (the $\\gamma_c$ "
                        "above; $\\ell = 1$, $\\beta = 2.2, 3, 4$)", worst_gc < 1e-9,
                        f"largest relative difference {below(worst_gc)}"))
    gs = np.geomspace(1e-4, 10.0, 15)
    bcs = np.array([finite_data_prediction(1 / g, beta=1.0, rho=ell, eta=1.0, weight_decay=lam_v)[0].beta_critical
                    for g in gs])
    inev = bool(np.all(bcs < 1 + ell)) and abs(bcs[0] - (1 + ell)) < 1e-3
    checks.append(check("with weight decay ($\\lambda = 1$, $\\ell = 1$) statvae's $\\beta_c(\\gamma)$ stays below "
                        "$1 + \\ell$ for 15 values of $\\gamma$ from $10^{-4}$ to 10 and tends to $1 + \\ell$ as "
                        "$\\gamma \\to 0$: collapse is stable for $\\beta > 1 + \\ell$ whatever the data size "
                        "(their abstract's inevitable posterior collapse)",
                        inev, f"$\\beta_c(10^{{-4}})$ = {bcs[0]:.6f}, largest {bcs.max():.6f}"))
    sections.append(Section(
        "Where collapse becomes inevitable",
        "Without weight decay, [[ih-betac]] and [[ih-bbp]] give the threshold as an increasing function of "
        "$\\gamma$: fewer samples inflate the top eigenvalue and delay collapse (the VAE then fits the "
        "fluctuations of the sample).  At fixed $\\beta$ collapse is unstable for $\\gamma > \\gamma_c$ with",
        [Formula(r"\gamma_c", r"\ell \left(\frac{\beta}{1 + \ell} - 1\right) \quad (\ell > \sqrt{\gamma_c}), "
                 r"\qquad \gamma_c = (\sqrt{\beta} - 1)^{2} \quad (\ell \le \sqrt{\gamma_c})")],
        "(closed forms from the BBP law, compared with Brent's method on statvae's numbers).  With a weight "
        "decay the effective decay $\\lambda\\gamma$ grows as data become scarce and pulls $\\beta_c$ down "
        "instead; as $\\gamma \\to 0$ it rises to the population value $1 + \\ell$ and never exceeds it, so for "
        "$\\beta > 1 + \\ell$ collapse is stable at every data size, the 'inevitable posterior collapse' of "
        "their abstract.  That value is derived here from their model; whether it is exactly the threshold of "
        "their replica analysis could not be compared."))
    return Derivation(
        key="ichikawa_hukushima",
        title="The finite-data threshold (Ichikawa and Hukushima)",
        reference=("Y. Ichikawa, K. Hukushima, High-dimensional asymptotics of VAEs: threshold of posterior "
                   "collapse and dataset-size dependence of rate-distortion curve, arXiv:2309.07663; "
                   "J. Baik, G. Ben Arous, S. Péché, Ann. Probab. 33 (2005) 1643"),
        summary=("With $M$ samples in $N$ dimensions ($\\gamma = N / M$) the collapse threshold is statvae's "
                 "per-mode threshold at the top eigenvalue of the sample second moment, which the BBP law "
                 "places at $(1 + \\ell)(1 + \\gamma / \\ell)$ above the transition $\\ell > \\sqrt{\\gamma}$ and "
                 "at the noise edge $(1 + \\sqrt{\\gamma})^2$ below.  Derived from the model of Ichikawa and "
                 "Hukushima as coded (their formulas were not available), checked against the BBP law and "
                 "Monte-Carlo samples."),
        sections=sections,
        checks=checks,
        symbols={
            r"\ell": "spike: population eigenvalue $1 + \\ell$ along $u$ above unit noise",
            r"u, s, \nu": "unit spike direction; standard normal signal coefficient and noise vector",
            r"\hat{\xi}_{1}^{2}": "top eigenvalue of the sample second moment",
            r"\lambda": "ridge weight of a summed training loss; per sample $\\eta_e = \\eta_d = \\lambda\\gamma$",
            r"\gamma_c": "aspect ratio where collapse changes stability at fixed $\\beta$",
            r"\alpha = 1 / \gamma": "samples per dimension (statvae's random-matrix module)",
        },
    )


if __name__ == "__main__":
    raise SystemExit(main(derive))
