"""Paper-ready LaTeX: the printer's notation (powers, traces, signs), line breaking, solved conditions, and
standalone documents that pdflatex compiles without errors, undefined references or overfull lines (> 1 pt).

The compilation tests skip, with a message, where pdflatex is absent (Debian: texlive-latex-base and
texlive-latex-recommended; .ci/run installs them).
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import statvae
from statvae.api import model_from_dict
from statvae.latex import break_lines, display_latex, document, expr_latex, latex_width, solved_condition
from statvae.model.hyper import symbol
from statvae.symbolic.printing import paper_form
from statvae.symbolic.stability import MaxOver, MinOver

ROOT = Path(__file__).resolve().parents[1]
PDFLATEX = shutil.which("pdflatex")
needs_tex = pytest.mark.skipif(PDFLATEX is None, reason="pdflatex not found: the LaTeX compilation tests need it "
                               "(Debian: apt-get install texlive-latex-base texlive-latex-recommended)")

TWO_GROUPS = {  # a custom graph with two latent groups, both decoding into x
    "variables": {"x": {"dim": 3, "observed": True, "variance": "sigma2"}, "z1": {"dim": 1}, "z2": {"dim": 2}},
    "maps": [{"name": "W1", "source": "z1", "target": "x", "role": "generative"},
             {"name": "W2", "source": "z2", "target": "x", "role": "generative"},
             {"name": "V1", "source": "x", "target": "z1", "role": "inference"},
             {"name": "V2", "source": "x", "target": "z2", "role": "inference"}],
}


# -- compiling -----------------------------------------------------------------------------------------------------
def compile_tex(tex: str, tmp_path: Path, name: str = "doc") -> tuple[str, list[float]]:
    """Compile twice (references); return the log and the widths of every overfull box (pt)."""
    (tmp_path / f"{name}.tex").write_text(tex)
    for _ in range(2):
        r = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    log = (tmp_path / f"{name}.log").read_text(errors="replace")
    assert r.returncode == 0, "\n".join(line for line in log.splitlines() if line.startswith("!"))[:2000]
    return log, [float(x) for x in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]


def assert_clean(log: str, overfull: list[float]) -> None:
    errors = [line for line in log.splitlines() if line.startswith("!")]
    assert not errors, errors
    assert "Overfull \\vbox" not in log, "a display taller than the page"
    assert not re.search(r"undefined|multiply defined|Rerun to get", log), \
        re.findall(r"LaTeX Warning: .*(?:undefined|multiply defined|Rerun).*", log)
    assert max(overfull, default=0.0) <= 1.0, overfull


def derive_standalone(args: list[str]) -> str:
    r = subprocess.run([sys.executable, "-m", "statvae", "derive", "--format", "latex", "--standalone", *args],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return r.stdout


@needs_tex
@pytest.mark.parametrize("args", [[], ["--model", "hierarchical", "--latent-dim", "2,1"],
                                  ["--model-file", "docs/examples/twoview.toml"],
                                  ["--set", "weight_decay_enc=1", "--set", "weight_decay_dec=0.5"]],
                         ids=["linear", "hierarchical", "twoview", "weight-decay"])
def test_statvae_derive_standalone_compiles_cleanly(args, tmp_path):
    tex = derive_standalone(args)
    assert tex.startswith(r"\documentclass") and r"\usepackage{amsmath,amssymb}" in tex
    assert tex.count(r"\label{") == len(set(re.findall(r"\\eqref\{([^}]+)\}", tex))) == 2
    # nothing numbered but what the text refers to: two numbered environments, each with one number
    assert tex.count(r"\begin{equation}") + tex.count(r"\begin{align}") == 2
    for body in re.findall(r"\\begin\{align\}(.*?)\\end\{align\}", tex, flags=re.S):
        assert body.count(r"\notag") == body.count(r"\\") and r"\label" in body
    assert_clean(*compile_tex(tex, tmp_path))


@needs_tex
def test_a_fixed_level_one_encoder_variance_compiles(tmp_path):
    """d_0 at level 1 prints d_1 (it printed d_{0}_{1}, a double subscript pdflatex refuses)."""
    tex = document(statvae.HierarchicalVAE(3, (2, 1), encoders=(0.7, "diagonal")))
    assert "d_{0}_{1}" not in tex and "d_{1} = " in tex
    assert_clean(*compile_tex(tex, tmp_path))


@needs_tex
@pytest.mark.slow
def test_every_catalogue_model_compiles(tmp_path):
    """document() of every option of the presets (tests/catalogue.py) compiles cleanly (about 20 s)."""
    from catalogue import all_models

    for k, (label, model) in enumerate(all_models(small=False)):
        (tmp_path / str(k)).mkdir()
        try:
            assert_clean(*compile_tex(document(model), tmp_path / str(k)))
        except AssertionError as exc:
            raise AssertionError(f"{label}: {exc}") from None


@needs_tex
@pytest.mark.parametrize("args", [["--model", "hierarchical", "--latent-dim", "2,1"],
                                  ["--model-file", "docs/examples/twoview.toml"]], ids=["hierarchical", "twoview"])
def test_statvae_derive_latex_pasted_into_a_paper_fits(args, tmp_path):
    """The displays of `derive --format latex`, pasted into an article with amsmath and amssymb: no overfull
    line (the objective of the hierarchical model once ran 970 pt off the page) and nothing numbered."""
    r = subprocess.run([sys.executable, "-m", "statvae", "derive", "--format", "latex", *args], capture_output=True,
                       text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r"\begin{align}" not in r.stdout and r"\label" not in r.stdout and r"\begin{align*}" in r.stdout
    tex = "\n".join([r"\documentclass{article}", r"\usepackage{amsmath,amssymb}", r"\begin{document}", r.stdout,
                     r"\end{document}"])
    assert_clean(*compile_tex(tex, tmp_path))


@needs_tex
@pytest.mark.parametrize("width", [345.0, 250.0])
def test_a_two_latent_group_graph_fits_the_page(width, tmp_path):
    m = model_from_dict(TWO_GROUPS)
    one_line = latex_width(r"\mathcal{L} = " + expr_latex(m.objective(form="matrix").total))
    assert one_line > 2 * width  # the objective needs several lines
    tex = document(m, width=width)
    assert r"\begin{align*}" in tex and r"\begin{longtable}" in tex
    assert_clean(*compile_tex(tex, tmp_path))


@needs_tex
def test_the_assembled_derivations_document_compiles_cleanly(tmp_path):
    sys.path.insert(0, str(ROOT / "derivations"))
    try:
        import document as assembled
    finally:
        sys.path.remove(str(ROOT / "derivations"))
    tex = assembled.assemble(ROOT / "derivations" / "out")
    assert r"\section*{Table of symbols}" in tex and r"\tableofcontents" in tex
    (tmp_path / "statvae-derivations.tex").write_text(tex)
    pdf, log = assembled.compile_pdf(tmp_path / "statvae-derivations.tex")
    assert pdf is not None and assembled.problems(log) == [], assembled.problems(log)


@needs_tex
def test_the_width_estimate_is_close_to_what_pdflatex_sets(tmp_path):
    """latex_width against the widths TeX measures (\\wd of a box) for the terms statvae prints."""
    exprs = []
    for m in (statvae.LinearVAE(3, 2), statvae.HierarchicalVAE(3, (2, 1)), model_from_dict(TWO_GROUPS),
              statvae.LinearVAE(3, 2, beta=None, weight_decay_enc=None, weight_decay_dec=None)):
        total = paper_form(m.objective(form="matrix").total)
        exprs += [expr_latex(t) for t in total.args]
        a = m.collapse()
        exprs += [expr_latex(b.matrix) for b in a.blocks] + [expr_latex(a.criterion)]
    exprs = list(dict.fromkeys(exprs))
    lines = [r"\documentclass{article}", r"\usepackage{amsmath,amssymb}", r"\begin{document}"]
    lines += [rf"\sbox0{{$\displaystyle {e}$}}\typeout{{W{k}=\the\wd0}}" for k, e in enumerate(exprs)]
    lines.append(r"\end{document}")
    log, _ = compile_tex("\n".join(lines), tmp_path, "widths")
    measured = {int(k): float(w) for k, w in re.findall(r"W(\d+)=([\d.]+)pt", log)}
    assert len(measured) == len(exprs)
    ratios = np.array([latex_width(e) / measured[k] for k, e in enumerate(exprs)])
    assert 0.9 <= ratios.min() and ratios.max() <= 1.25, (ratios.min(), ratios.max())
    assert np.median(ratios) >= 1.0  # on the wide side


# -- powers ----------------------------------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 6), name=st.sampled_from(["sigma2", "sigma2_x"]))
def test_a_power_of_a_squared_symbol_is_one_power(k, name):
    if name == "sigma2_x":
        statvae.load_model(str(ROOT / "docs" / "examples" / "twoview.toml"))  # declares sigma2_x
    s = symbol(name)
    xi = statvae.LinearVAE(3, 2).collapse().critical_expression().args[0]  # xi_i^2
    stem = expr_latex(s)[:-4]
    assert expr_latex(s ** k) == (f"{stem}^{{{2 * k}}}" if k > 1 else expr_latex(s))
    assert expr_latex(xi ** k) == (rf"\xi_{{i}}^{{{2 * k}}}" if k > 1 else r"\xi_{i}^{2}")
    assert expr_latex(sp.sqrt(xi)) == r"\xi_{i}"
    frac = expr_latex(xi ** k / (s ** (k + 1) * symbol("beta")))
    assert r"\right)^{" not in frac and f"{stem}^{{{2 * k + 2}}}" in frac


def test_no_parenthesised_powers_in_the_weight_decay_condition():
    a = statvae.LinearVAE(3, 2, beta=None, weight_decay_enc=None, weight_decay_dec=None).collapse()
    tex = expr_latex(a.criterion)
    assert r"\left(\sigma'^{2}\right)^{2}" not in tex and r"\sigma'^{4}" in tex and r"\xi_{i}^{4}" in tex
    assert r"\max_{i} -" not in tex and r"\max_{i} \frac{\xi_{i}^{4} - " in tex  # the leading minus taken in


# -- traces ----------------------------------------------------------------------------------------------------------
def _evaluate(expr, mats):
    """Value of a scalar expression with traces, each matrix symbol replaced by a random numeric matrix."""
    return complex(expr.xreplace({m: sp.ImmutableMatrix(v) for m, v in mats.items()}).doit().evalf())


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_a_trace_and_its_transpose_or_cycle_print_once(data):
    n = 3
    names = ["A", "B", "C", "S"]
    M = {x: sp.MatrixSymbol(x, n, n) for x in names}
    length = data.draw(st.integers(1, 4))
    factors = [M[data.draw(st.sampled_from(names))] for _ in range(length)]
    factors = [f.T if data.draw(st.booleans()) else f for f in factors]
    P = factors[0] if length == 1 else sp.MatMul(*factors)
    shift = data.draw(st.integers(0, length - 1))
    rotated = factors[shift:] + factors[:shift]
    R = rotated[0] if length == 1 else sp.MatMul(*rotated)
    c = [sp.Rational(data.draw(st.integers(1, 5)), data.draw(st.integers(1, 3))) for _ in range(3)]
    expr = c[0] * sp.Trace(P) + c[1] * sp.Trace(P.T) + c[2] * sp.Trace(R)
    out = paper_form(expr)
    traces = [t for t in sp.preorder_traversal(out) if isinstance(t, sp.Trace)]
    assert len(set(traces)) == 1, out  # one trace, the summed coefficient
    assert sp.simplify(out / traces[0] - sum(c)) == 0
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 31)))
    vals = {m: rng.standard_normal((n, n)) for m in M.values()}
    assert abs(_evaluate(out, vals) - _evaluate(expr, vals)) < 1e-9 * max(1.0, abs(_evaluate(expr, vals)))
    assert expr_latex(expr).count(r"\operatorname{tr}") == 1


def test_traces_merge_in_the_objectives_print():
    m = model_from_dict(TWO_GROUPS)
    obj = m.objective(form="matrix")
    tex = expr_latex(obj.total)
    # the cross term tr(W1 V1 Sigma V2^T W2^T) and its transpose appear once, with twice the coefficient
    assert tex.count(r"\operatorname{tr}\left(W_{1} V_{1} \Sigma V_{2}^{T} W_{2}^{T} \right)") == 1
    assert r"W_{2} V_{2} \Sigma V_{1}^{T} W_{1}^{T}" not in tex
    twoview = statvae.load_model(str(ROOT / "docs" / "examples" / "twoview.toml")).objective(form="matrix")
    tv = expr_latex(twoview.total)
    assert r"\Sigma_{xy}^{T} V_{x}^{T}" not in tv and r"V_{x} \Sigma_{xy} V_{y}^{T}" in tv
    # the print is of the same value: every matrix replaced by numbers, before and after
    rng = np.random.default_rng(0)
    for o in (obj, twoview):
        sizes = {s: 3 for s in o.total.free_symbols if isinstance(s, sp.Symbol) and s.is_integer}
        total = o.total.xreplace(sizes)
        mats = {x: rng.standard_normal((int(x.shape[0]), int(x.shape[1])))
                for x in total.atoms(sp.MatrixSymbol)}
        scal = {s: sp.Rational(rng.integers(2, 9), 3) for s in total.free_symbols if not isinstance(s, sp.MatrixSymbol)}
        a = _evaluate(total.xreplace(scal), mats)
        b = _evaluate(paper_form(total).xreplace(scal), mats)
        assert abs(a - b) < 1e-9 * abs(a)


# -- line breaking -----------------------------------------------------------------------------------------------
_TOTALS: dict[str, sp.Expr] = {}


def _total(which: str) -> sp.Expr:
    if which not in _TOTALS:
        model = {"linear": lambda: statvae.LinearVAE(3, 2), "hierarchical": lambda: statvae.HierarchicalVAE(3, (2, 1)),
                 "two": lambda: model_from_dict(TWO_GROUPS)}[which]()
        _TOTALS[which] = model.objective(form="matrix").total
    return _TOTALS[which]


@settings(max_examples=12, deadline=None)
@given(width=st.floats(130, 500), which=st.sampled_from(["linear", "hierarchical", "two"]))
def test_every_line_is_under_the_budget_and_the_lines_are_the_expression(width, which):
    """Above the widest term (about 130 pt here) every line fits; a single wider term would stay whole."""
    total = _total(which)
    widest = max(latex_width("{} - " + expr_latex(t)) for t in paper_form(total).args)
    assume(width >= widest)
    lines = break_lines(total, width)
    assert all(latex_width(line if line[:1] not in "+-" else "{} " + line) <= width for line in lines)
    assert " ".join(lines) == expr_latex(total)  # cut between terms only, nothing rewritten
    one = latex_width(expr_latex(total))
    assert len(lines) >= one / width  # and not more lines than needed: each full up to one term
    widths = [latex_width(line) for line in lines]
    assert all(w + widest > width for w in widths[:-1])  # the next term did not fit


def test_break_lines_of_scalar_sums_reads_back():
    x = sp.symbols("x0:15", positive=True)
    expr = sp.Add(*[(-1) ** k * (k + 1) * s ** 2 / (k + 2) for k, s in enumerate(x)])
    lines = break_lines(expr, 90)
    assert len(lines) > 2
    back = sp.sympify(0)
    for line in lines:  # each line is a sum of terms c x_k^{2} / d
        for sign, num, k, den in re.findall(r"(-|\+)?\s*\\frac\{(\d*)\s*x_\{(\d+)\}\^\{2\}\}\{(\d+)\}", line):
            back += (-1 if sign == "-" else 1) * int(num or 1) * x[int(k)] ** 2 / int(den)
    assert sp.simplify(back - expr) == 0


def test_display_latex_chooses_the_environment():
    crit = statvae.LinearVAE(3, 2).collapse().critical_expression()
    assert display_latex("x", crit).startswith(r"\[")
    assert display_latex("x", crit, label="eq:x").startswith(r"\begin{equation}\label{eq:x}")
    total = statvae.HierarchicalVAE(3, (2, 1)).objective(form="matrix").total
    broken = display_latex(r"\mathcal{L}", total)
    assert broken.startswith(r"\begin{align*}") and r"\mathcal{L} &= " in broken and r"\label" not in broken
    numbered = display_latex(r"\mathcal{L}", total, label="eq:L")
    rows = numbered.split(r"\\")
    assert numbered.startswith(r"\begin{align}") and all(r"\notag" in r for r in rows[:-1])
    assert r"\label{eq:L}" in rows[-1] and r"\notag" not in rows[-1]
    long_lhs = display_latex(r"\text{a rather long left-hand side of the relation}", total, relation=r"\iff")
    assert long_lhs.startswith(r"\begin{align*}") and long_lhs.splitlines()[1].startswith(r"&\text{a rather")
    wide = sp.Matrix(3, 3, lambda a, b: sp.Add(*[sp.Symbol(f"x_{{{k}}}") ** (a + b + 1) for k in range(8)]))
    entries = display_latex("H", wide)
    assert entries.count("H_{") == 6 and r"\begin{matrix}" not in entries  # symmetric: the upper triangle


# -- solved conditions -----------------------------------------------------------------------------------------------
MODELS = {
    "weight decay": lambda: statvae.LinearVAE(3, 2, beta=None, weight_decay_enc=None, weight_decay_dec=None),
    "decoder decay": lambda: statvae.LinearVAE(3, 2, beta=None, weight_decay_dec=None),
    "beta": lambda: statvae.LinearVAE(3, 2, beta=None),
    "fixed encoder": lambda: statvae.LinearVAE(3, 2, encoder="fixed", beta=None),
    "numeric decays": lambda: statvae.LinearVAE(3, 1, weight_decay_enc=1, weight_decay_dec=0.5),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_a_condition_solved_for_sigma2_is_the_critical_expression(name):
    a = MODELS[name]().collapse()
    p = symbol("sigma2")
    solved = solved_condition(a, "sigma2")
    assert isinstance(solved, sp.StrictGreaterThan) and solved.lhs == p, solved
    crit = a.critical_expression("sigma2")
    assert type(solved.rhs) is type(crit) and type(crit) in (MaxOver, MinOver)
    # the bound is the critical expression, and the relation solved from the condition alone is the same
    alone = solved_condition(a.criterion_for("sigma2"), "sigma2")
    rng = random.Random(3)
    free = sorted(crit.free_symbols | a.criterion_for("sigma2").free_symbols, key=str)
    for _ in range(5):
        pt = {s: sp.Rational(rng.randint(2, 50), 9) for s in free if s != p}
        c = float(crit.args[0].xreplace(pt))
        assert float(solved.rhs.args[0].xreplace(pt)) == pytest.approx(c, rel=1e-12)
        assert float(alone.rhs.args[0].xreplace(pt)) == pytest.approx(c, rel=1e-12)
        # equivalence with the original condition on both sides of the bound (one mode)
        original = a.condition.args[0] if type(a.condition).__name__ == "Given" else a.condition
        for f, holds in ((1.1, True), (0.9, False)):
            assert bool(original.xreplace({**pt, p: sp.Float(c * f, 30)})) is holds
    assert r"\sigma'^{2} > \max_{i}" in expr_latex(solved)


def test_a_condition_without_the_parameter_is_kept():
    a = statvae.HierarchicalVAE(3, (2, 1), betas=(None, None)).collapse()
    solved = solved_condition(a, "sigma2")
    assert sp.Lt(symbol("beta1"), symbol("beta2")) in solved.args
    assert [r.lhs for r in solved.args if r.lhs == symbol("sigma2")]


# -- the command line -------------------------------------------------------------------------------------------------
def test_standalone_needs_the_latex_format():
    r = subprocess.run([sys.executable, "-m", "statvae", "derive", "--standalone"], capture_output=True, text=True,
                       timeout=120, cwd=ROOT)
    assert r.returncode != 0 and r.stderr.strip().count("\n") == 0 and "--format latex" in r.stderr


@settings(max_examples=20, deadline=None)
@given(a=st.integers(1, 9), b=st.integers(0, 9), c=st.integers(1, 9), flip=st.booleans(), data=st.data())
def test_solving_a_relation_quadratic_in_the_parameter(a, b, c, flip, data):
    """a s^2 + b s - c x > 0 (s, x positive) is s > the positive root; flipped, s < it; checked at random s."""
    s, x = symbol("sigma2"), sp.Symbol("x_eig_i", positive=True)
    g = a * s ** 2 + b * s - c * x
    rel = sp.Lt(-g, 0) if not flip else sp.Lt(g, 0)
    solved = solved_condition(rel, "sigma2")
    assert solved.lhs == s and isinstance(solved.rhs, MaxOver if not flip else MinOver)
    for _ in range(5):
        xv = sp.Rational(data.draw(st.integers(1, 50)), 7)
        sv = sp.Rational(data.draw(st.integers(1, 400)), 37)
        bound = solved.rhs.args[0].xreplace({x: xv})
        assert bool(rel.xreplace({x: xv, s: sv})) == bool(solved.func(sv, bound))


def _random_graph(seed: int):
    from graphs import skeleton, solvable, to_statvae

    desc = skeleton(seed)  # round values (random floats make 15-digit roots: not what a paper shows)
    desc["hyper"] = {k: (0 if k.startswith("eta_") else 1 if k == "prior_variance" else 2) for k in desc["hyper"]}
    return to_statvae(desc, free=solvable(desc)[:1])


@needs_tex
@pytest.mark.parametrize("seed", [3, 11, 19])
def test_random_custom_graphs_compile(seed, tmp_path):
    """Custom graphs with several observed and latent groups (tests/graphs.py), long auto-generated names."""
    assert_clean(*compile_tex(document(_random_graph(seed)), tmp_path))


@needs_tex
@pytest.mark.slow
def test_many_random_custom_graphs_compile(tmp_path):
    for seed in range(60):
        (tmp_path / str(seed)).mkdir()
        try:
            assert_clean(*compile_tex(document(_random_graph(seed)), tmp_path / str(seed)))
        except AssertionError as exc:
            raise AssertionError(f"seed {seed}: {exc}") from None
