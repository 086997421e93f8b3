"""LaTeX output parses back (sympy's ANTLR LaTeX parser) to an equivalent expression.

Each registered symbol name (e.g. ``\\sigma'^{2}``, ``U^{(1)}_{12}``) is first
replaced by a unique placeholder the parser reads as one symbol, so the test
checks the *structure* of the LaTeX (fractions, powers, logs, brackets,
relations); the names themselves are checked against a fixed table.
"""

import random
import re

import pytest
import sympy as sp

import statvae
from statvae.symbolic.stability import Given
from catalogue import all_models
from statvae.latex import expr_latex
from statvae.symbolic.names import latex_names
from statvae.symbolic.stability import MaxOver

def _antlr_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("antlr4-python3-runtime")
    except PackageNotFoundError:
        return None


pytest.importorskip("antlr4", reason="the LaTeX round-trip tests need antlr4-python3-runtime 4.11 "
                                     "(pip install 'statvae[test]')")
if not (_antlr_version() or "").startswith("4.11"):
    # sympy's generated LaTeX parser only runs on the 4.11 runtime; any other version fails on every input
    pytest.skip(f"sympy's LaTeX parser needs antlr4-python3-runtime 4.11.x, found {_antlr_version()}",
                allow_module_level=True)
parse_latex = pytest.importorskip("sympy.parsing.latex").parse_latex


#: (expression, LaTeX) pairs that already round-tripped in this process: the check is a deterministic function of
#: the pair, and many options of a model share terms (a free or fixed beta leaves the reconstruction alone).
_ROUNDTRIPPED = set()


def roundtrip(expr) -> None:
    text = expr_latex(expr)
    key = (expr, text)
    if key in _ROUNDTRIPPED:
        return
    names = latex_names(expr)
    placeholders = {}
    for k, (sym, tex) in enumerate(sorted(names.items(), key=lambda kv: -len(kv[1]))):
        ph = f"q_{{{k}}}"
        text = text.replace(tex, ph)
        if tex.endswith("^{2}"):  # the paper's powers: \xi_{i}^{4} is (\xi_{i}^{2})^{2}, \xi_{i} its square root
            stem = re.escape(tex[:-4])
            text = re.sub(stem + r"\^\{(\d+)\}", lambda m: f"{ph}^{{\\frac{{{m.group(1)}}}{{2}}}}", text)
            text = re.sub(stem + r"(?![\^_'])", lambda m: f"\\sqrt{{{ph}}}", text)
        placeholders[sp.Symbol(f"q_{{{k}}}")] = sym
    # the ANTLR parser reads "a \left(b\right)" as a function call: make the product explicit
    text = re.sub(r"(q_\{\d+\})\s*\\left\(", r"\1 \\cdot \\left(", text)
    parsed = parse_latex(text)
    back = parsed.xreplace({**placeholders, sp.Symbol("pi"): sp.pi})
    if isinstance(expr, sp.core.relational.Relational):
        assert type(back) is type(expr), (text, back)
        back, expr = back.lhs - back.rhs, expr.lhs - expr.rhs
    rng = random.Random(0)
    free = expr.free_symbols | back.free_symbols
    for _ in range(3):
        point = {s: sp.Rational(rng.randint(3, 40), 11) for s in free}
        a, b = complex(expr.xreplace(point).evalf(30)), complex(back.xreplace(point).evalf(30))
        assert abs(a - b) <= 1e-20 * max(1, abs(a)), (text, expr, back)
    _ROUNDTRIPPED.add(key)


def _strip_max(e):
    return e.replace(lambda x: isinstance(x, MaxOver), lambda x: x.args[0])


#: Options whose objective changes structure with the latent dimension (a full or isotropic encoder covariance).
_ENCODER_OPTIONS = ("{'encoder': 'full'}", "{'encoder': 'isotropic'}", "{'encoders': ('full', 'isotropic'), 'betas': (1, 2)}")


def _objective_cases():
    """Every option at the smallest dimensions; at the larger ones the base model and the full and isotropic
    encoders.  The other options at the larger dimensions (long texts, slow to parse) run with ``-m slow``."""
    for label, model in all_models():
        small = "(1, 1)" in label or "(1, 1, 1)" in label
        fast = small or label.endswith("){}") or (label.endswith(_ENCODER_OPTIONS) and "(3, 1)" not in label)
        yield pytest.param(label, model, id=label, marks=() if fast else pytest.mark.slow)


@pytest.mark.parametrize("label,model", list(_objective_cases()))
def test_objective_terms_roundtrip(label, model):
    obj = model.objective(form="eigen")
    roundtrip(obj.total)
    for t in obj.terms.values():
        roundtrip(t)


@pytest.mark.parametrize("label,model", all_models(), ids=[m[0] for m in all_models()])
def test_blocks_conditions_critical_roundtrip(label, model):
    a = model.collapse()
    for b in a.blocks:
        for e in b.matrix:
            roundtrip(e)
        roundtrip(b.determinant)
        for rel in b.condition.relations:
            if rel not in (sp.true, sp.false):
                roundtrip(rel)
    crit = a.criterion
    if isinstance(crit, Given):  # "... for Σ_xy = 0": the formula round-trips, the assumption is text
        assert r"\text{for }" in statvae.latex(crit)
        crit = crit.args[0]
    for rel in sp.And.make_args(crit):
        if rel not in (sp.true, sp.false):
            roundtrip(_strip_max(rel))
    try:
        crit = a.critical_expression()
    except statvae.AnalysisError:
        return
    roundtrip(_strip_max(crit))


def test_paper_notation():
    a = statvae.LinearVAE(3, 2).collapse()
    assert statvae.latex(a.criterion) == r"\sigma'^{2} > \max_{i} \xi_{i}^{2}"
    tex = statvae.latex(a.blocks[0])
    assert r"W_{ij}, V_{ji}" in tex and r"\frac{\xi_{i}^{2}}{\sigma'^{2}}" in tex
    obj = statvae.LinearVAE(3, 2).objective(form="matrix")
    assert r"\frac{N \log{\left(\sigma'^{2} \right)}}{2}" in statvae.latex(obj)


def test_align_environment():
    s = statvae.latex(statvae.LinearVAE(2, 1).collapse(), align=True)
    assert s.startswith("\\begin{align}") and s.endswith("\\end{align}")
    assert s.count("\\\\") >= 4
    s = statvae.latex(statvae.LinearVAE(2, 1).objective(), align=True)
    assert "&=" in s and s.startswith("\\begin{align}")


def test_latex_rejects_unknown_objects():
    with pytest.raises(statvae.StatvaeError):
        statvae.latex(object())
