"""The record every derivation script returns, and the writers that turn it into a LaTeX fragment and a page.

A derivation script ``derivations/<key>.py`` defines ``derive() -> Derivation``: it derives the published
result with statvae's public API (no formula of the result typed in) and checks it against the published form
(the published form may be typed in *as the reference of a check*, never as the result).  Its ``__main__``
calls :func:`main`, which runs the derivation, fails (exit 1) if a check fails, and writes
``out/<key>.tex`` (a fragment: one ``\\section`` for the whole document) and ``out/<key>.md`` (the docs page).

Text may refer to a formula by ``[[label]]``: the LaTeX writer prints ``\\eqref{label}``, the Markdown
writer ``(label-number)``.  Only formulas that are referred to are numbered.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"


@dataclass
class Formula:
    """One displayed relation ``lhs relation rhs``.

    ``rhs`` is a sympy object (printed by statvae's LaTeX printer) or a LaTeX string.  ``label`` is set only if
    some text refers to the formula with ``[[label]]``; only those are numbered.  ``parameter`` names the
    hyper-parameter a condition should be solved for when printed (e.g. ``"sigma2"``).
    """

    lhs: str
    rhs: Any
    relation: str = "="
    label: str | None = None
    note: str = ""
    parameter: str | None = None


@dataclass
class Check:
    """A comparison of the derived result with the published form (or an independent computation)."""

    claim: str
    passed: bool
    detail: str


@dataclass
class Section:
    """A subsection: prose, then formulas, then more prose."""

    title: str
    text: str = ""
    formulas: list[Formula] = field(default_factory=list)
    after: str = ""


@dataclass
class Derivation:
    """Everything one script derives, in document order.

    ``symbols`` maps a LaTeX symbol to its meaning in words, for the document's table of symbols (the same
    symbol must mean the same thing in every derivation: see derivations/NOTATION.md).
    """

    key: str
    title: str
    reference: str
    summary: str
    sections: list[Section]
    checks: list[Check]
    symbols: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


def check(claim: str, passed: bool, detail: str = "") -> Check:
    """Build a :class:`Check`, coercing numpy booleans."""
    return Check(claim, bool(passed), detail)


# -- writers -------------------------------------------------------------------------------------------------------
#: Line width of the displays (points): ``\textwidth`` of the article class at 10 pt, the document's class.
TEXTWIDTH = 345.0


def _rhs_expr(f: Formula) -> Any:
    """The right-hand side to print: a condition solved for ``f.parameter`` where a closed form exists."""
    if isinstance(f.rhs, str) or not f.parameter:
        return f.rhs
    import sympy as sp

    from statvae.latex import solved_condition

    if isinstance(f.rhs, (sp.core.relational.Relational, sp.And)) or type(f.rhs).__name__ == "Given":
        return solved_condition(f.rhs, f.parameter)
    return f.rhs


def _rhs_latex(f: Formula) -> str:
    """LaTeX of ``f.rhs`` on one line (solved for ``f.parameter`` when it is a condition)."""
    rhs = _rhs_expr(f)
    if isinstance(rhs, str):
        return rhs
    from statvae.latex import expr_latex

    return expr_latex(rhs)


def _math_split(s: str) -> list[tuple[bool, str]]:
    """``s`` cut into ``(is_math, text)`` runs at ``$...$`` (and ``$$...$$``)."""
    import re

    out: list[tuple[bool, str]] = []
    pos = 0
    for m in re.finditer(r"\$\$.+?\$\$|\$(?:[^$\\]|\\.)+\$", s, flags=re.S):
        if m.start() > pos:
            out.append((False, s[pos:m.start()]))
        out.append((True, m.group(0)))
        pos = m.end()
    if pos < len(s):
        out.append((False, s[pos:]))
    return out


def tex_prose(s: str) -> str:
    r"""Prose written for both outputs (Markdown inline markup, ``$math$``, ``[[label]]``) as LaTeX text.

    Outside math: ``[[label]]`` -> ``\eqref{label}``, ```code``` -> ``\texttt{code}``, ``**b**`` ->
    ``\textbf{b}``, ``*e*`` -> ``\emph{e}``, and the characters special to LaTeX text (``_ % & #``) escaped;
    LaTeX commands written in the prose (``\emph{...}``, ``\,``) are kept.  Math is kept as written.
    """
    import re

    out = []
    for is_math, run in _math_split(s):
        if is_math:
            out.append(run)
            continue
        parts = re.split(r"(`[^`]+`)", run)
        for k, part in enumerate(parts):
            if k % 2:
                code = part[1:-1]
                for c in "\\{}":
                    code = code.replace(c, {"\\": "\x00", "{": "\x01", "}": "\x02"}[c])
                for c in "_%&#$^~":
                    code = code.replace(c, {"^": r"\^{}", "~": r"\~{}"}.get(c, "\\" + c))
                code = code.replace("\x00", r"\textbackslash{}").replace("\x01", r"\{").replace("\x02", r"\}")
                out.append(r"\texttt{" + code + "}")
                continue
            for j, t in enumerate(re.split(r"(\[\[[^\]]+\]\])", part)):
                if j % 2:
                    out.append(r"\eqref{" + t[2:-2] + "}")
                    continue
                t = re.sub(r"\S{24,}", lambda m: re.sub(r"([/_.\-])(?=\w)", "\\1\x05", m.group(0)), t)
                t = re.sub(r"(?<!\\)([_%&#])", r"\\\1", t)
                t = t.replace("\x05", r"\allowbreak{}")  # a long word (a path, an address) may break after / _ . -
                t = re.sub(r"(?<!\\)\^", r"\\^{}", t)
                t = re.sub(r"\*\*([^*]+)\*\*", r"\\textbf{\1}", t)
                t = re.sub(r"(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])", r"\\emph{\1}", t)
                out.append(t)
    return "".join(out)


def referenced(d: Derivation) -> set[str]:
    """The labels some text of ``d`` refers to with ``[[label]]``: the formulas that are numbered."""
    import re

    texts = [d.summary] + [t for s in d.sections for t in (s.text, s.after)]
    texts += [t for c in d.checks for t in (c.claim, c.detail)]
    return {m for t in texts for m in re.findall(r"\[\[([^\]]+)\]\]", t)}


def _display_tex(f: Formula, refs: set[str]) -> str:
    from statvae.latex import display_latex

    return display_latex(f.lhs, _rhs_expr(f), f.relation, width=TEXTWIDTH,
                         label=f.label if f.label in refs else None, note=f.note.strip())


def render_tex(d: Derivation) -> str:
    """The LaTeX fragment of ``d``: one ``\\section``, its subsections, prose and displayed formulas.

    Formulas are broken to the document's line width (:func:`statvae.latex.display_latex`), conditions with a
    ``parameter`` are solved for it, and only formulas the text refers to (``[[label]]``) are numbered.
    The first lines are comments ``%% symbol: <LaTeX> :: <meaning>`` for the document's table of symbols.
    """
    refs = referenced(d)
    out = [f"%% symbol: {k} :: {v}" for k, v in d.symbols.items()]
    out += [f"\\section{{{tex_prose(d.title)}}}\\label{{sec:{d.key}}}", "", tex_prose(d.summary), "",
            f"\\emph{{Reference:}} {tex_prose(d.reference)}.", ""]
    for s in d.sections:
        out += [f"\\subsection{{{tex_prose(s.title)}}}", ""]
        if s.text:
            out += [tex_prose(s.text), ""]
        for f in s.formulas:
            out += [_display_tex(f, refs)]
        if s.after:
            out += ["", tex_prose(s.after)]
        out.append("")
    out += ["\\paragraph{Checks.}", "\\begin{itemize}"]
    out += [f"\\item {'passed' if c.passed else 'FAILED'}: {tex_prose(c.claim)}"
            + (f" ({tex_prose(c.detail)})" if c.detail else "") for c in d.checks]
    out += ["\\end{itemize}", ""]
    return "\n".join(out)


def _display_md(f: Formula, tag: str) -> str:
    """A ``$$`` display for MathJax: one line, or ``aligned`` lines broken like the LaTeX ones."""
    from statvae.latex import break_lines, latex_width

    rhs = _rhs_expr(f)
    note = f"\\quad\\text{{{f.note.strip()}}}" if f.note else ""
    one = f"{f.lhs} {f.relation} {_rhs_latex(f)}{note}"
    if isinstance(rhs, str) or latex_width(one) <= TEXTWIDTH * 1.6:  # a docs page is wider than a paper column
        return "\n".join(["$$", one + tag, "$$"])
    budget = TEXTWIDTH * 1.6 - latex_width(f"{f.lhs} {f.relation}") - 10.0
    lines = break_lines(rhs, budget)
    rows = [f"{f.lhs} &{f.relation} {lines[0]}"] + [f"&\\quad {{}} {ln}" if ln[:1] in "+-" else f"&\\quad {ln}"
                                                     for ln in lines[1:]]
    return "\n".join(["$$", "\\begin{aligned}", " \\\\\n".join(rows) + note, "\\end{aligned}" + tag, "$$"])


def render_md(d: Derivation) -> str:
    """The Markdown page of ``d`` (MyST: ``$$`` display math), with its checks."""
    import re

    numbers: dict[str, int] = {}
    refs = referenced(d)
    for s in d.sections:
        for f in s.formulas:
            if f.label and f.label in refs:
                numbers[f.label] = len(numbers) + 1

    def prose(s: str) -> str:
        return re.sub(r"\[\[([^\]]+)\]\]", lambda m: f"({numbers.get(m.group(1), '?')})", s)

    out = [f"# {d.title}", "", prose(d.summary), "", f"*Reference:* {d.reference}.", ""]
    for s in d.sections:
        out += [f"## {s.title}", ""]
        if s.text:
            out += [prose(s.text), ""]
        for f in s.formulas:
            tag = f" \\tag{{{numbers[f.label]}}}" if f.label in numbers else ""
            out += [_display_md(f, tag), ""]
        if s.after:
            out += [prose(s.after), ""]
    out += ["## Checks", ""]
    out += [f"- {'passed' if c.passed else '**FAILED**'}: {c.claim}" + (f" ({c.detail})" if c.detail else "")
            for c in d.checks]
    out.append("")
    return "\n".join(out)


def write(d: Derivation, out: Path = OUT) -> list[Path]:
    """Write ``out/<key>.tex`` and ``out/<key>.md``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{d.key}.tex", out / f"{d.key}.md"]
    paths[0].write_text(render_tex(d))
    paths[1].write_text(render_md(d))
    return paths


def main(derive: Callable[[], Derivation], argv: list[str] | None = None) -> int:
    """Command line of one script: derive, report every check, write the outputs; exit 1 if a check fails."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(OUT), help="output directory (default: derivations/out)")
    args = ap.parse_args(argv)
    d = derive()
    for c in d.checks:
        print(f"{'ok  ' if c.passed else 'FAIL'} {c.claim}" + (f": {c.detail}" if c.detail else ""))
    if not d.passed:
        print(f"{d.key}: a check failed; nothing written", file=sys.stderr)
        return 1
    for p in write(d, Path(args.out)):
        print(f"wrote {p}")
    return 0
