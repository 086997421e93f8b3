"""Notebook display: every expression-bearing result has a ``_repr_latex_`` that is valid math in statvae's notation.

Each display is checked three ways:

* structure: ``$...$`` or ``$$...$$``, no stray dollar inside, braces, ``\\left``/``\\right`` and
  ``\\begin``/``\\end`` balanced;
* parsing: every fragment (each cell of an ``aligned``/``array``/``matrix`` environment, then the rest)
  through matplotlib's mathtext parser, which rejects unknown commands and double sub/superscripts
  (skipped with a message without matplotlib);
* meaning: numbers read back to the result's fields, and block matrices read back (sympy's LaTeX
  parser, skipped without antlr4 4.11) to the block's own entries; the same formula appears as
  ``statvae.latex`` prints it (one notation).
"""

from __future__ import annotations

import doctest
import math
import os
import random
import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

import statvae
from statvae.analysis.collapse import Assumption, CollapseAnalysis, HessianBlock
from statvae.analysis.optimum import OptimumResult
from statvae.analysis.results import (BootstrapResult, CriticalResult, CrossingResult, FiniteDataPrediction,
                                      NoiseReport)
from statvae.latex import block_latex, latex_math
from statvae.symbolic import printing as P
from statvae.symbolic.names import latex_names
from statvae.symbolic.objective import Objective
from statvae.symbolic.stability import BlockCondition

ROOT = Path(__file__).resolve().parents[1]

try:
    from matplotlib.mathtext import MathTextParser

    _MATHTEXT = MathTextParser("path")
except ImportError:  # pragma: no cover - matplotlib is in the test extra
    _MATHTEXT = None


def _antlr_ok() -> bool:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("antlr4-python3-runtime").startswith("4.11")
    except PackageNotFoundError:
        return False


_ENV = re.compile(r"\\begin\{(\w+)\}(\{[^{}]*\})?((?:(?!\\begin\{).)*?)\\end\{\1\}", re.S)


def _balanced(body: str) -> None:
    plain = body.replace(r"\{", "").replace(r"\}", "")
    depth = 0
    for c in plain:
        depth += (c == "{") - (c == "}")
        assert depth >= 0, f"unbalanced braces: {body}"
    assert depth == 0, f"unbalanced braces: {body}"
    assert len(re.findall(r"\\left\b", body)) == len(re.findall(r"\\right\b", body)), body
    stack = []
    for kind, env in re.findall(r"\\(begin|end)\{(\w+\*?)\}", body):
        if kind == "begin":
            stack.append(env)
        else:
            assert stack and stack.pop() == env, f"\\end{{{env}}} without its \\begin: {body}"
    assert not stack, f"unclosed environments {stack}: {body}"


def _parse(fragment: str) -> None:
    if _MATHTEXT is None or not fragment.strip():
        return
    # mathtext lacks \iff and \& (both standard in LaTeX and MathJax) and reads no line break; the rest as written
    fragment = fragment.replace(r"\iff", r"\Longleftrightarrow").replace(r"\&", "+").replace("\n", " ")
    try:
        _MATHTEXT.parse(f"${fragment}$")
    except Exception as e:  # pyparsing's exceptions carry the position
        raise AssertionError(f"mathtext cannot parse {fragment!r}: {str(e).splitlines()[-1]}") from None


def check_math(s) -> str:
    """Assert ``s`` is a notebook math string; return its body (without the dollar signs)."""
    assert isinstance(s, str), type(s)
    if s.startswith("$$"):
        assert s.endswith("$$") and len(s) > 4, s
        body = s[2:-2]
    else:
        assert s.startswith("$") and s.endswith("$") and len(s) > 2, s
        body = s[1:-1]
    assert not re.search(r"(?<!\\)\$", body), f"a dollar sign inside: {s}"
    _balanced(body)
    rest = body
    while True:
        m = _ENV.search(rest)
        if not m:
            break
        for row in re.split(r"\\\\", m.group(3).replace(r"\&", "+")):
            for cell in row.split("&"):
                _parse(cell.replace(r"\hline", ""))
        rest = rest[:m.start()] + " X " + rest[m.end():]
    _parse(rest)
    return body


def _matrices(body: str) -> list[list[list[str]]]:
    """Entries of every ``matrix`` environment, row by row."""
    out = []
    for m in re.finditer(r"\\begin\{matrix\}(.*?)\\end\{matrix\}", body, re.S):
        out.append([[c.strip() for c in row.split("&")] for row in re.split(r"\\\\", m.group(1))])
    return out


def _read_back(tex: str, expected: sp.Expr) -> None:
    """sympy's LaTeX parser reads ``tex`` (statvae's names replaced by placeholders) as ``expected``."""
    from sympy.parsing.latex import parse_latex

    names = latex_names(expected)
    placeholders = {}
    for k, (sym, name) in enumerate(sorted(names.items(), key=lambda kv: -len(kv[1]))):
        tex = tex.replace(name, f"q_{{{k}}}")
        placeholders[sp.Symbol(f"q_{{{k}}}")] = sym
    tex = re.sub(r"(q_\{\d+\})\s*\\left\(", r"\1 \\cdot \\left(", tex)
    back = parse_latex(tex).xreplace({**placeholders, sp.Symbol("pi"): sp.pi})
    rng = random.Random(0)
    free = expected.free_symbols | back.free_symbols
    for _ in range(3):
        point = {s: sp.Rational(rng.randint(3, 40), 11) for s in free}
        a, b = complex(expected.xreplace(point).evalf(30)), complex(back.xreplace(point).evalf(30))
        assert abs(a - b) <= 1e-20 * max(1, abs(a)), (tex, expected, back)


def _number_back(tex: str) -> float:
    """Inverse of :func:`statvae.symbolic.printing.number`."""
    tex = tex.strip()
    special = {r"\infty": math.inf, r"-\infty": -math.inf, r"\mathrm{NaN}": math.nan}
    if tex in special:
        return special[tex]
    m = re.fullmatch(r"(-?[\d.]+) \\cdot 10\^\{(-?\d+)\}", tex)
    return float(f"{m.group(1)}e{m.group(2)}") if m else float(tex)


MODELS = {
    "linear": lambda: statvae.LinearVAE(3, 2),
    "linear free beta": lambda: statvae.LinearVAE(3, 2, beta=None),
    "full encoder": lambda: statvae.LinearVAE(2, 2, encoder="full"),
    "learned variance": lambda: statvae.LinearVAE(3, 1, decoder_variance="learned"),
    "conditional": lambda: statvae.ConditionalVAE(1, 2, 1, weight_decay_enc=None),
    "hierarchical": lambda: statvae.HierarchicalVAE(3, (2, 1)),
    "custom graph": lambda: statvae.load_model(str(ROOT / "docs" / "examples" / "twoview.toml")),
}


def test_every_result_type_renders():
    for cls in (Objective, CollapseAnalysis, HessianBlock, BlockCondition, Assumption, CriticalResult, CrossingResult,
                BootstrapResult, NoiseReport, FiniteDataPrediction, OptimumResult, P.LaTeXMath):
        assert callable(getattr(cls, "_repr_latex_", None)), cls.__name__


def test_the_validator_rejects_broken_math():
    """The checks above can fail: each of these is refused."""
    bad = ["x > 1", "$x > 1", "$$x$", "${x$", r"$\left( x$", r"$$\begin{aligned} x \end{align}$$", "$a $ b$"]
    if _MATHTEXT is not None:
        bad += [r"$\sigma_{x}^{2}_{c} = 1$", r"$\notacommand x$", r"$$\begin{aligned} x &= \frac{1}{ \end{aligned}$$"]
    for s in bad:
        with pytest.raises(AssertionError):
            check_math(s)


@pytest.mark.parametrize("label", list(MODELS))
def test_collapse_analysis_and_blocks(label):
    analysis = MODELS[label]().collapse()
    body = check_math(analysis._repr_latex_())
    assert body.startswith("\\begin{aligned}")
    # one notation: the criterion as statvae.latex prints it, every collapsed block, every Hessian block
    assert rf"\text{{stable}} &\iff {statvae.latex(analysis.criterion)}" in body
    for name, value in analysis.collapsed_point.items():
        assert f"{block_latex(name)} &= {statvae.latex(value)} \\\\" in body
    for block in analysis.blocks:
        assert statvae.latex(block).replace(" = ", " &= ", 1) in body
        bbody = check_math(block._repr_latex_())
        assert statvae.latex(block).replace(" = ", " &= ", 1) in bbody
        assert (r"\preceq 0" if block.condition.degenerate else r"\prec 0") in bbody
        cond = check_math(block.condition._repr_latex_())
        boolean = block.condition.as_boolean()
        assert cond == (r"\text{always}" if boolean is sp.true else
                        r"\text{never}" if boolean is sp.false else statvae.latex(block.condition))
    if label != "learned variance":  # a learned decoder variance has no hyper-parameter to solve for
        t = analysis.default_parameter()
        assert f"{P.critical_latex(t)} &= {statvae.latex(analysis.critical_expression(t))}" in body


@pytest.mark.parametrize("label", ["linear", "conditional", "hierarchical", "custom graph"])
def test_block_matrices_read_back_to_the_blocks(label):
    """The matrix a block displays is the block: each entry parses (sympy's LaTeX parser) to the entry itself."""
    if not _antlr_ok():
        pytest.skip("sympy's LaTeX parser needs antlr4-python3-runtime 4.11 (pip install 'statvae[test]')")
    for block in MODELS[label]().collapse().blocks:
        (entries,) = _matrices(check_math(block._repr_latex_()))
        assert len(entries) == block.matrix.rows and all(len(r) == block.matrix.cols for r in entries)
        for i, row in enumerate(entries):
            for j, tex in enumerate(row):
                _read_back(tex, block.matrix[i, j])


def test_assumptions_render():
    (a,) = statvae.ConditionalVAE(1, 2, 1, weight_decay_enc=None).collapse().assumptions
    body = check_math(a._repr_latex_())
    assert body.startswith(r"\Sigma_{xy} = 0") and r"\eta_{e} = 0" in body


def test_critical_result_states_its_value():
    analysis = statvae.LinearVAE(3, 2).collapse()
    for spectrum in ([3.0, 1.7, 0.9], [2.718281828459045, 1.0, 0.5], [1.234567e-7, 1e-8, 1e-9]):
        r = analysis.critical("sigma2", spectrum=spectrum)
        body = check_math(r._repr_latex_())
        assert body.startswith(statvae.latex(r) + " ")
        shown = _number_back(body.split(" = ", 1)[1].split(r" \quad")[0])
        assert shown == pytest.approx(r.value, rel=1e-11) and shown == pytest.approx(spectrum[0], rel=1e-11)
        assert "collapse stable above" in body and r"H_{(W_{ij}, V_{ji})}" in body and "confirmed" in body


def test_critical_value_of_a_subscripted_symbol_is_valid_latex():
    """twoview's sigma2_x prints \\sigma_{x}^{2}: the critical value is braced before its c (mathtext refuses
    a double subscript, so check_math would fail without the braces)."""
    m = statvae.load_model(str(ROOT / "docs" / "examples" / "twoview.toml"))
    a = m.collapse()
    r = a.critical("sigma2_x", spectrum={"x": [3.0, 1.0, 0.2], "y": [1.5, 0.5]})
    body = check_math(r._repr_latex_())
    assert body.startswith(r"{\sigma_{x}^{2}}_{c} = 3 ")
    assert statvae.latex(r) == r"{\sigma_{x}^{2}}_{c} = 3"
    check_math("$" + statvae.latex(r) + "$")
    check_math(latex_math(a, align=True)._repr_latex_())


def test_crossings_state_value_and_kernel():
    cs = statvae.LinearVAE(3, 2).collapse().crossings(spectrum=[3.0, 1.7, 0.9])
    for c in cs:
        body = check_math(c._repr_latex_())
        m = re.match(r"\\sigma'\^\{2\} = (.+?), \\quad \\dim \\ker H = (\d+) ", body)
        assert m and _number_back(m.group(1)) == pytest.approx(c.value, rel=1e-11) and int(m.group(2)) == c.kernel_dim
    assert [c.kernel_dim for c in cs] == [2, 2, 2]
    compiled = CrossingResult("beta", 0.25, 1, "A, B (1 coordinate of z_1)", "scan (compiled Hessian)",
                              (0.24, 0.26), "confirmed")
    body = check_math(compiled._repr_latex_())
    assert r"\beta = 0.25" in body and r"A, B (1 coordinate of z}\_\text{1)" in body


def test_bootstrap_noise_and_finite_data_render():
    from statvae.data import synthetic

    x = synthetic([4.0, 1.0, 0.5], samples=300, seed=1)
    analysis = statvae.LinearVAE(3, 1).collapse()
    b = analysis.bootstrap_critical("sigma2", samples=x, bootstrap=20, seed=0)
    body = check_math(b._repr_latex_())
    nums = re.match(r"\\sigma'\^\{2\}_\{c\} = (.+?), \\quad \\left\[(.+?),\\ (.+?)\\right\]", body)
    assert nums, body
    assert [_number_back(g) for g in nums.groups()] == pytest.approx([b.value, *b.interval], rel=1e-7)
    assert r"\text{95}\%\text{ bootstrap interval (percentile, 20 resamples, seed 0" in body

    noise = np.random.default_rng(0).standard_normal((600, 12))
    noise[:, 0] *= 2.0
    report = statvae.LinearVAE(12, 12).collapse().noise_report(samples=noise, sigma2=1.2)
    body = check_math(report._repr_latex_())
    assert re.search(r"\\lambda_\{\+\} = ([^\\]+?)\\text", body)
    edge = _number_back(re.search(r"\\lambda_\{\+\} = ([^\\]+?)\\text", body).group(1))
    assert edge == pytest.approx(report.edge, rel=1e-5)

    from statvae.analysis.asymptotics import finite_data_prediction

    for pred in finite_data_prediction([0.5, 4.0], beta=1.0, rho=2.0):
        body = check_math(pred._repr_latex_())
        row = re.search(r"\\beta_\{c\} &= (.+?) \\\\", body).group(1)
        assert _number_back(row) == pytest.approx(pred.beta_critical, rel=1e-5, nan_ok=True)


def test_optimum_summary():
    model = statvae.LinearVAE(3, 2)
    r = statvae.optimum(model, spectrum=[3.0, 1.7, 0.9], sigma2=2.0)
    body = check_math(r._repr_latex_())
    rows = dict(re.findall(r"^(.+?) &[=:] (.+?)(?: \\\\)?$", body, re.M))
    assert _number_back(rows[r"\mathcal{L}"]) == pytest.approx(r.elbo, rel=1e-9)
    assert _number_back(rows[r"\mathcal{L}_{\mathrm{rec}}"]) == pytest.approx(r.reconstruction, rel=1e-9)
    # closed form (docs/theory.md): one active latent along xi_1^2 = 3, KL = 1/2 log(3 / 2)
    assert _number_back(rows[r"\mathrm{KL}"]) == pytest.approx(0.5 * math.log(1.5), rel=1e-5)
    assert r"\mathcal{A} = \left\{z_{1}\right\}\text{ (1 of 2)}" in body
    assert r"\sigma'^{2} = 2" in rows[r"\text{at}"] and r"\beta = 1" in rows[r"\text{at}"]
    assert rows[r"\text{certified}"].startswith(r"\text{local maximum")

    h = statvae.optimum(statvae.HierarchicalVAE(3, (2, 1)), spectrum=[3.0, 1.7, 0.9], sigma2=0.5)
    body = check_math(h._repr_latex_())
    for z, active in h.active.items():
        zl = {"z1": "z_{1", "z2": "z_{2"}[z]
        coords = ", ".join(f"{zl},{j + 1}}}" for j in active)
        assert rf"\mathcal{{A}} = \left\{{{coords}\right\}}\text{{ ({len(active)} of {len(h.kl_per_latent[z])})}}" in body

    learned = statvae.optimum(statvae.LinearVAE(3, 2, decoder_variance="learned"), spectrum=[3.0, 1.7, 0.9])
    body = check_math(learned._repr_latex_())
    var = re.search(r"\\text\{variance of \}x &= (.+?) \\\\", body).group(1)
    assert _number_back(var) == pytest.approx(0.9, rel=1e-8)  # pPCA: the mean of the discarded eigenvalues


def test_optimum_table_is_cut_for_many_coordinates():
    kl = list(np.linspace(2.0, 0.1, 18))
    r = OptimumResult(parameters={}, elbo=-3.0, reconstruction=-1.0, kl_total=sum(kl), kl_per_latent={"z": kl},
                      variances={}, active={"z": list(range(18))}, values={"sigma2": 0.05}, success=False,
                      status="not a maximum: 1 ascent direction", method="hand-made", inertia=(1, 0, 100),
                      largest_eigenvalue=0.1, gradient_norm=0.0)
    body = check_math(r._repr_latex_())
    assert r"\text{not certified} &: \text{not a maximum: 1 ascent direction}" in body
    assert r"\ldots" in body and "(18 coordinates)" in body
    assert body.count(r"z_{") == 16


def test_objective():
    m = statvae.LinearVAE(3, 2)
    for obj in (m.objective(form="matrix"), m.objective(), statvae.HierarchicalVAE(2, (1, 1)).objective(form="matrix")):
        body = check_math(obj._repr_latex_())
        assert body.splitlines()[1] == r"\mathcal{L} &= " + statvae.latex(obj.total) + r" \\"
        assert statvae.latex(obj, align=True).replace(r"\begin{align}", "").replace(r"\end{align}", "").strip() \
            == body.replace(r"\begin{aligned}", "").replace(r"\end{aligned}", "").strip()


def test_objective_too_long_for_a_notebook_falls_back(monkeypatch):
    obj = statvae.LinearVAE(3, 2).objective(form="matrix")
    assert obj._repr_latex_() is not None
    monkeypatch.setattr(P, "DISPLAY_LIMIT", 100)
    assert obj._repr_latex_() is None


def test_latex_math_renders_what_latex_prints():
    a = statvae.LinearVAE(3, 2).collapse()
    for obj, align in ((a.criterion, False), (a.condition, False), (a, True), (a.blocks[0], True)):
        m = latex_math(obj, align=align)
        assert m == statvae.latex(obj, align=align) and isinstance(m, str)
        body = check_math(m._repr_latex_())
        assert r"\begin{align}" not in body


@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**20, 10**20)))
def test_number_reads_back(x):
    tex = P.number(x)
    check_math(f"${tex}$")
    back = _number_back(tex)
    want = float(format(float(x), ".12g"))
    assert (math.isnan(back) and math.isnan(want)) or back == want


_PRINTABLE = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


@given(_PRINTABLE)
def test_text_escapes_every_special_character(words):
    tex = P.text(words)
    check_math(f"${tex}$")
    # read back: the text runs, and each escape as its character
    inverse = {v: k for k, v in P._MATH_ESCAPES.items()}
    back = "".join(m.group(1) if m.group(1) is not None else inverse[m.group(2)]
                   for m in re.finditer(r"\\text\{([^{}\\$%&#_^~]*)\}|(" + "|".join(
                       re.escape(v) for v in sorted(inverse, key=len, reverse=True)) + ")", tex))
    assert back == words


def test_notebook_tutorial_runs():
    """docs/tutorials/notebook.md runs as written (what it shows is what the code prints)."""
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        res = doctest.testfile(str(ROOT / "docs" / "tutorials" / "notebook.md"), module_relative=False,
                               optionflags=doctest.NORMALIZE_WHITESPACE)
    finally:
        os.chdir(here)
    assert res.failed == 0 and res.attempted >= 15
